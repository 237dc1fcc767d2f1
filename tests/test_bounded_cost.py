"""Bounded cost on every endpoint: a series too long is refused before anything is counted, and
a statement past its request class's timeout is a 503 problem with Retry-After, not a 500.

The timeouts are real: another connection locks the table a real endpoint reads, and the
class's timeout (lowered in the app's config for the test) cancels the waiting statement.
"""

from __future__ import annotations

import contextlib

from sqlalchemy import create_engine, event, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from app.api.contract import contract_of
from app.api.types import DATE_MAX, DATE_MIN
from app.db import db
from app.errors import TIMEOUT_RETRY_AFTER
from geo.aggregations import MAX_SERIES_PERIODS

SERIES = "/api/v1/stats/timeseries"


@contextlib.contextmanager
def statements():
    """The SQL the app runs through SQLAlchemy meanwhile (not rows_as_bytes' raw cursor)."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


@contextlib.contextmanager
def locked(table: str):
    """`table` locked by another connection (ACCESS EXCLUSIVE: even reads wait) until the end."""
    engine = create_engine(db.engine.url, poolclass=NullPool)
    try:
        with engine.connect() as other:
            other.execute(text("SET lock_timeout = '10s'"))
            other.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
            yield
            other.rollback()
    finally:
        engine.dispose()


def timeout_ms(conn) -> int:
    return int(conn.exec_driver_sql(
        "SELECT setting FROM pg_settings WHERE name = 'statement_timeout'").scalar())


def assert_timed_out(r):
    assert r.status_code == 503 and r.content_type == "application/problem+json", r.data[:300]
    assert r.json["code"] == "statement_timeout"
    assert r.headers["Retry-After"] == str(TIMEOUT_RETRY_AFTER)
    assert "psycopg" not in r.text and "canceling" not in r.text


# ---- caps ---------------------------------------------------------------------------------

def test_a_century_by_day_is_a_422_before_anything_is_counted(client):
    with statements() as seen:
        r = client.get(f"{SERIES}?since={DATE_MIN}&until={DATE_MAX}&interval=day&lang=en")
        assert r.status_code == 422 and r.content_type == "application/problem+json"
        assert [(e["field"], e["code"]) for e in r.json["errors"]] == [("since", "period_too_long")]
        assert f"at most {MAX_SERIES_PERIODS} points" in r.json["errors"][0]["detail"]
        # the finding's request: years 1 and 9999 are outside the accepted dates, the same 422
        r = client.get(f"{SERIES}?since=0001-01-01&until=9999-12-30&interval=day")
        assert r.status_code == 422
        assert {e["field"]: e["code"] for e in r.json["errors"]} == {
            "since": "out_of_range", "until": "out_of_range"}
    assert not [s for s in seen if "planner_" in s or "contributions" in s]


def test_every_accepted_date_by_week_is_refused_and_by_month_answered(client):
    period = f"since={DATE_MIN}&until={DATE_MAX}"
    r = client.get(f"{SERIES}?{period}&interval=week")
    assert {e["field"]: e["code"] for e in r.json["errors"]} == {"since": "period_too_long"}
    r = client.get(f"{SERIES}?{period}&interval=month&format=csv")
    months = (DATE_MAX.year - DATE_MIN.year) * 12 + DATE_MAX.month - DATE_MIN.month + 1
    assert r.status_code == 200 and len(r.text.splitlines()) == 1 + months  # a header row


# ---- timeouts -----------------------------------------------------------------------------

def test_each_class_sets_its_timeout_once_per_transaction(app, client, resident):
    timeouts = app.config["STATEMENT_TIMEOUT_MS"]
    set_local = "SET LOCAL statement_timeout"
    with statements() as seen:  # a public read: the connection's own default, nothing set
        assert client.get("/api/v1/map/clusters?zoom=12").status_code == 200
        assert client.get("/api/v1/areas").status_code == 200
    assert not [s for s in seen if "statement_timeout" in s]
    with statements() as seen:
        assert client.get("/api/v1/stats/areas").status_code == 200
    assert [s for s in seen if s.startswith(set_local)] == [f"{set_local} = {timeouts['stats']}"]
    with statements() as seen:
        r = resident.post("/api/v1/reports", json={
            "type": "Feature", "geometry": {"type": "Point", "coordinates": [2.3499, 48.853]},
            "properties": {"title": "Tags sur le parvis", "category": "graffitis"}})
        assert r.status_code == 201
    assert [s for s in seen if s.startswith(set_local)] == [f"{set_local} = {timeouts['write']}"]


def test_every_declared_class_has_a_timeout(app):
    timeouts = app.config["STATEMENT_TIMEOUT_MS"]
    declared = {getattr(view, "__cost__", None) for view in app.view_functions.values()}
    assert declared - {None} <= set(timeouts) and "stats" in declared
    stats = [c for v in app.view_functions.values() if (c := contract_of(v))
             and c.rule.startswith("/api/v1/stats/")]
    assert len(stats) == 5 and {c.cost for c in stats} == {"stats"}


def test_a_stats_statement_past_its_timeout_is_a_503(app, client, connection, monkeypatch):
    default = timeout_ms(connection)
    assert default == app.config["STATEMENT_TIMEOUT_MS"]["read"]
    monkeypatch.setitem(app.config["STATEMENT_TIMEOUT_MS"], "stats", 200)
    with locked("planner_duration_counts"):  # the resolution statistics' roll-up
        assert_timed_out(client.get("/api/v1/stats/resolution?group_by=category"))
    # the request's savepoint was rolled back, and its SET LOCAL with it
    assert timeout_ms(connection) == default
    monkeypatch.undo()
    assert client.get("/api/v1/stats/resolution?group_by=category").status_code == 200


def test_the_bbox_path_under_another_class_times_out_and_puts_the_default_back(app, monkeypatch):
    """On the real pool (not the test's connection): rows_as_bytes' autocommit connection."""
    client = app.test_client()
    view = app.view_functions["contributions.report_list"]
    monkeypatch.setattr(view, "__cost__", "stats", raising=False)
    monkeypatch.setitem(app.config["STATEMENT_TIMEOUT_MS"], "stats", 200)
    with locked("contributions"):
        assert_timed_out(client.get("/api/v1/reports?limit=1&bbox=2.34,48.85,2.36,48.86"))
    monkeypatch.undo()
    assert client.get("/api/v1/reports?limit=1&bbox=2.34,48.85,2.36,48.86").status_code == 200
    pooled = [db.engine.connect() for _ in range(db.engine.pool.checkedin())]
    try:  # every pooled connection is back at the `read` default
        assert {timeout_ms(c) for c in pooled} == {app.config["STATEMENT_TIMEOUT_MS"]["read"]}
    finally:
        for c in pooled:
            c.close()


def test_commands_run_without_a_timeout(app):
    assert app.config["STATEMENT_TIMEOUT_MS"]["cli"] == 0
    with app.app_context():  # a command's db.session
        assert db.session.execute(text("SHOW statement_timeout")).scalar() == "0"
    with Session(db.engine) as session:  # a script's own session, outside any request
        assert session.execute(text("SHOW statement_timeout")).scalar() == "0"
