"""Faults under load, through gunicorn and a real PostgreSQL: workers SIGKILLed mid-write, the
database restarted and crashed. bench/faults.py with small parameters (about 45 s): it runs
its own throw-away cluster, never the shared one. `python -m bench faults` is the full run."""

from __future__ import annotations

import pytest

from bench import faults

RECOVERY_S = 15.0


@pytest.fixture(scope="module")
def run() -> dict:
    return faults.run(threads=4, kill_phase_s=8.0, kill_every_s=2.5, db_phase_s=14.0, down_s=2.0)


def test_workers_were_killed_and_came_back(run):
    assert run["worker_kills"]["kills"] >= 2
    assert run["worker_kills"]["respawned_and_healthy_after"]


def test_every_acknowledged_write_is_in_the_database(run):
    creates, votes = run["creates"], run["votes"]
    assert creates["acknowledged"] > 0 and votes["acknowledged"] > 0
    assert creates["acknowledged_missing"] == creates["acknowledged_wrong_title"] == 0
    assert votes["acknowledged_missing"] == 0
    assert votes["counter_mismatch"] == 0


def test_retries_with_an_idempotency_key_create_nothing_twice(run):
    assert run["creates"]["retried"] > 0  # the faults did make clients retry
    assert run["creates"]["duplicates"] == 0
    assert run["creates"]["never_acknowledged"] == 0  # every create got through in the end


def test_the_database_outage_is_a_503_with_retry_after_and_the_app_recovers(run):
    for outage in run["outages"]:
        assert outage["answers_503"] >= 1, outage
        assert outage["503_with_retry_after"] == outage["503_problem_service_unavailable"] == \
            outage["answers_503"], outage
        assert outage["recovery_s"] is not None and outage["recovery_s"] < RECOVERY_S, outage


def test_no_500_outside_the_database_outage(run):
    assert run["errors_500"]["other"] == 0, run["gunicorn_log"]


def test_no_500_at_all(run):
    assert run["errors_500"]["total"] == 0, run["gunicorn_log"]["exceptions"]
