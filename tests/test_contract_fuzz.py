"""The contract is checked, not trusted: schemathesis generates requests from the served OpenAPI
document for every operation, as anonymous, as a resident and as an admin, and checks each
answer: no server error, a status code, content type and body the document lists, valid data
accepted and invalid data refused.

Bounded: CONTRACT_EXAMPLES examples per operation and generation mode (positive and negative),
each sent as the three callers. `CONTRACT_EXAMPLES=200 pytest tests/test_contract_fuzz.py`
digs deeper. `CONTRACT_SHARD=i/n` runs the i-th of n disjoint shares of the operations (by a
hash of their label): `make test` runs one half in each of its two pytest processes.
"""

from __future__ import annotations

import os
import zlib

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from app.api.contract import top_level_codes

EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "12"))
# What a JSON Schema cannot say, so a schema-valid request may still be refused with a 422 of
# one of these codes: Paris is not a rectangle (outside_paris, coordinates_swapped), a polygon
# may cross itself, a planned date may be past or a day not exist (2024-02-30), a body may
# name a report or an agent that does not exist (or an agent outside the report's scope), a status or a category may belong to the other kind, a bbox's west may
# be east of its east, a cursor is only valid when the server made it, a period may be empty
# or too long for hotspots, the public may not ask for counts under 5, sorting by distance
# needs a position; a link's token or a two-factor code is valid only when the server made it.
DOMAIN_CODES = top_level_codes() | {
    "date_in_past", "invalid_date", "unknown_report", "invalid_status", "invalid_bbox",
    "invalid_cursor", "unknown_category", "unknown_agent", "out_of_scope", "needs_position",
    "empty_period", "period_too_long", "below_public_minimum", "wrong_password", "feedback_given",
    "idempotency_key_reused", "invalid_link", "invalid_totp",
    "nothing_to_change", "not_editable",  # which members an edit takes depends on the item's type
    "photo_unreadable",  # a schema says "a file", not "a readable JPEG"
    "category_disabled", "category_agent_only",  # the category tree says them, not the schema
    "invalid_parent", "has_children", "already_exists",  # the tree as it is, and the codes taken
    "not_below_referral",  # a petition's answer threshold below its referral threshold
    # a consultation's own rules: its period, area, themes and shapes, its phases' calendar
    "consultation_not_found", "consultation_not_taking_ideas", "outside_consultation_area",
    "geometry_type_not_accepted", "theme_not_in_consultation", "ideas_first", "phases_out_of_order",
    "phase_not_contiguous", "phase_started", "frozen_once_published", "planners_only",
    # the participatory budget's: envelopes once each per cycle and their share below their
    # amount, a place in an envelope the cycle has, the proposal, contributions and project a
    # body names (and that it is not the project of the path), what a published or voting
    # cycle keeps
    "duplicate_envelope", "popular_share_above_amount", "no_envelope", "unknown_proposal",
    "not_your_proposal", "unknown_contribution", "unknown_budget_project", "merge_into_itself",
    "merge_other_envelope", "budget_frozen_once_published", "budget_frozen_after_vote",
    "budget_phase_started", "envelope_has_projects",
    # a ballot's: what is on this envelope's ballot, the cycle's method and its limits (N
    # projects, the envelope's money, its grades)
    "ballot_empty", "duplicate_choice", "not_on_ballot", "grade_out_of_range", "too_many_choices",
    "over_budget", "not_this_ballot_method",
}
SHARD, SHARDS = (int(n) for n in os.environ.get("CONTRACT_SHARD", "0/1").split("/"))
CALLERS = ("anonymous", "resident", "admin")
RUN: dict = {"requests": 0, "operations": set(), "statuses": {}}


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def in_shard(label: str) -> bool:
    return zlib.crc32(label.encode()) % SHARDS == SHARD


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def callers(app, make_user):
    """Headers of each caller. Signing out revokes the token it is sent with, so the
    logout operation gets fresh tokens each time (else every later call would be a 401)."""
    from app.accounts.services import issue_token
    from app.db import db

    users = {"resident": make_user().user, "admin": make_user(roles=("admin",)).user}

    def headers(who: str, fresh: bool = False) -> dict:
        if who == "anonymous":
            return {}
        if fresh or who not in tokens:
            with app.app_context():
                token, _ = issue_token(db.session, db.session.merge(users[who]), 1)
                db.session.commit()
            if fresh:  # used once, by a sign-out
                return {"Authorization": f"Bearer {token}"}
            tokens[who] = {"Authorization": f"Bearer {token}"}
        return tokens[who]

    tokens: dict[str, dict] = {}
    headers("resident"), headers("admin")  # before any example's savepoint
    return headers


def accepted_or_domain_refusal(ctx, response, case):
    """Valid data is accepted (positive_data_acceptance), except for the documented refusals
    that no schema can express: a 422 carrying one of DOMAIN_CODES."""
    if response.status_code == 422:
        body = response.json() if response.content else {}
        codes = {body.get("code")} | {e.get("code") for e in body.get("errors") or []}
        if codes & DOMAIN_CODES:
            return None
    return positive_data_acceptance(ctx, response, case)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_its_contract(case, callers, connection):
    if not in_shard(case.operation.label):
        pytest.skip("the other process's share (CONTRACT_SHARD)")
    # each example in a savepoint rolled back after it: its writes and, above all, its locks
    # go (kept, 30,000 requests' locks overflow PostgreSQL's lock table in one transaction)
    example = connection.begin_nested()
    try:
        send_as_everyone(case, callers)
    finally:
        example.rollback()
        # ROLLBACK TO keeps the savepoint open, and the next example's nests inside it: each
        # level would hold its transaction id's lock to the end of the run (PostgreSQL gives a
        # parent savepoint an id when a child writes), ~12,000 of them fill the lock table
        connection.exec_driver_sql(f"RELEASE SAVEPOINT {example._savepoint}")


def send_as_everyone(case, callers) -> None:
    signs_out = case.operation.path.endswith("/auth/logout")
    for who in CALLERS:
        case.headers = {**(case.headers or {}), **callers(who, fresh=signs_out)}
        if who == "anonymous":
            case.headers.pop("Authorization", None)
        response = case.call_and_validate(
            checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                    response_schema_conformance, negative_data_rejection],
            additional_checks=[accepted_or_domain_refusal],
        )
        RUN["requests"] += 1
        RUN["operations"].add(case.operation.label)
        RUN["statuses"][response.status_code] = RUN["statuses"].get(response.status_code, 0) + 1


def test_the_run_covered_every_operation(api_schema):
    """Runs after the fuzzing above: every operation of the document (of this shard) was called."""
    everything = {result.ok().label for result in api_schema.get_all_operations()}
    assert len(everything) >= 45
    operations = {label for label in everything if in_shard(label)}
    assert len(operations) >= len(everything) // SHARDS // 2  # a share, not an empty one
    assert RUN["operations"] == operations, operations ^ RUN["operations"]
    print(f"\nschemathesis (shard {SHARD}/{SHARDS}): {len(operations)} of {len(everything)} operations, "
          f"{RUN['requests']} requests, "
          f"statuses {dict(sorted(RUN['statuses'].items()))}")
    # the three callers really were three: most answers are not "sign in first"
    assert RUN["statuses"].get(401, 0) < RUN["requests"] / 2, RUN["statuses"]
