"""The app behind PgBouncer in transaction pooling (issue 18, "Beyond one machine"; app/db.py).

A real PgBouncer (Debian's package, 1.18) in front of a database of the development cluster,
with two server connections that every client connection shares, transaction by transaction
(tests/servers.py). The app runs with `DATABASE_POOLER=pgbouncer`: no startup options (PgBouncer
refuses them), no prepared statements (another client would find ours, or not find its own),
its connection defaults from PgBouncer's connect_query, and timeouts only ever `SET LOCAL`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil

import psycopg
import pytest
from sqlalchemy import text

from app.db import WROTE_COOKIE, connect_query, db, server_defaults
from tests.conftest import Api, at_once, feature, fresh_database
from tests.servers import PgBouncer, base_dir, cli, own_app
from tests.test_bounded_cost import assert_timed_out
from tests.test_photos import jpeg_with_gps

BBOX = "2.345,48.850,2.355,48.856"
POOL_SIZE = 2
# the `read` class's timeout, lowered so that the timeout test waits 1 s
TIMEOUTS = {"read": 1000, "write": 5000, "stats": 10000, "cli": 0}


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    """A database of its own on the development cluster: migrated, areas and categories."""
    url = fresh_database(os.environ.get("CARTAGORA_TEST_DB", "cartagora_test") + "_pgbouncer")
    with own_app({"DATABASE_URL": url}, tmp_path_factory.mktemp("migrate")) as app:
        for args in (("db", "upgrade"), ("geo", "load-areas"), ("geo", "load-categories")):
            cli(app, *args)
    return url


@pytest.fixture(scope="module")
def bouncer(database):
    from sqlalchemy.engine import make_url

    url = make_url(database)
    base = base_dir("pgbouncer")
    pgbouncer = PgBouncer(base, url.port, url.database, connect_query(server_defaults(TIMEOUTS["read"])),
                          pool_size=POOL_SIZE)
    try:
        yield pgbouncer
    finally:
        pgbouncer.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def pooled_app(bouncer, database, tmp_path_factory):
    from sqlalchemy.engine import make_url

    with own_app({"DATABASE_URL": bouncer.url(make_url(database).database), "DATABASE_POOLER": "pgbouncer",
                  "STATEMENT_TIMEOUT_MS": TIMEOUTS}, tmp_path_factory.mktemp("pooled")) as app:
        yield app


def raw(bouncer: PgBouncer, database: str, **kwargs) -> psycopg.Connection:
    return psycopg.connect(f"host=127.0.0.1 port={bouncer.port} user=cartagora dbname={database}", **kwargs)


def server_timeouts(bouncer: PgBouncer, database: str) -> list[str]:
    """statement_timeout on each of PgBouncer's server connections: as many clients each in a
    transaction of its own at once, so that each holds a different one."""
    with contextlib.ExitStack() as stack:
        conns = [stack.enter_context(raw(bouncer, database)) for _ in range(POOL_SIZE)]
        values = [c.execute("SELECT setting FROM pg_settings WHERE name = 'statement_timeout'").fetchone()[0]
                  for c in conns]
        pids = {c.execute("SELECT pg_backend_pid()").fetchone()[0] for c in conns}
    assert len(pids) == POOL_SIZE  # every server connection seen
    return values


def test_reads_and_writes_work_through_pgbouncer(pooled_app):
    resident, voter = Api(pooled_app.test_client()), Api(pooled_app.test_client())
    data = {"feature": json.dumps(feature(title="Affichage sauvage, rue de la Cité")),
            "photos": [(io.BytesIO(jpeg_with_gps(size=(400, 300))), "IMG_0002.jpg")]}
    r = resident.post("/api/v1/reports", data=data, content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    report = r.get_json()
    assert report["properties"]["photos_count"] == 1
    assert resident.client.get_cookie(WROTE_COOKIE) is None  # no replica: no routing cookie
    r = voter.put(f"/api/v1/reports/{report['id']}/vote", json={"value": 1})
    assert r.status_code == 200 and r.get_json()["votes"] == {"up": 1, "down": 0}
    # the same statements, far more often than psycopg's prepare threshold (5), from
    # concurrent clients on two shared server connections
    lists = at_once(pooled_app, [lambda c: [c.get(f"/api/v1/reports?bbox={BBOX}&limit=500")
                                            for _ in range(8)] for _ in range(4)])
    for r in (r for answers in lists for r in answers):
        assert r.status_code == 200, r.data[:300]
        assert [f["id"] for f in r.get_json()["features"]] == [report["id"]]
    anonymous = pooled_app.test_client()
    for _ in range(8):
        read = anonymous.get(f"/api/v1/reports/{report['id']}")
        assert read.status_code == 200 and read.get_json()["properties"]["votes"] == {"up": 1, "down": 0}
    with anonymous.get(report["properties"]["photos"][0]["url"]) as photo:
        assert photo.status_code == 200 and photo.data[:2] == b"\xff\xd8"
    clusters = anonymous.get("/api/v1/map/clusters?zoom=12")
    assert clusters.status_code == 200
    assert sum(f["properties"].get("count", 1) for f in clusters.get_json()["features"]) == 1


def test_prepared_statements_are_off_because_pgbouncer_would_mix_them(pooled_app, bouncer, database):
    name = database.rsplit("/", 1)[1]
    # psycopg's default: the 6th run of a statement is prepared, on the server connection of
    # the moment, which another client gets next
    a, b = raw(bouncer, name, autocommit=True), raw(bouncer, name, autocommit=True)
    with a, b, pytest.raises(psycopg.errors.DuplicatePreparedStatement):
        for i in range(10):
            for conn in (a, b):
                conn.execute("SELECT %s::int", [i])
    fairy = db.engine.raw_connection()
    try:
        assert fairy.driver_connection.prepare_threshold is None
    finally:
        fairy.close()


@contextlib.contextmanager
def locked(url: str, table: str):
    """`table` locked (even reads wait) by a connection straight to PostgreSQL meanwhile."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield


def test_timeouts_are_per_transaction_and_leave_no_state(pooled_app, bouncer, database, monkeypatch):
    name = database.rsplit("/", 1)[1]
    read_default = str(TIMEOUTS["read"])
    client = pooled_app.test_client()
    assert server_timeouts(bouncer, name) == [read_default] * POOL_SIZE
    # each class's SET LOCAL ends with its transaction: the stats, the bbox path under another
    # class (its own rolled-back transaction, never a session SET), a write
    assert client.get("/api/v1/stats/areas").status_code == 200
    view = pooled_app.view_functions["contributions.report_list"]
    monkeypatch.setattr(view, "__cost__", "stats", raising=False)
    assert client.get(f"/api/v1/reports?bbox={BBOX}").status_code == 200
    monkeypatch.undo()
    Api(pooled_app.test_client())
    assert server_timeouts(bouncer, name) == [read_default] * POOL_SIZE
    # the `read` default (PgBouncer's connect_query) cancels a statement past it: a 503, and
    # the next request works
    with locked(database, "contributions"):
        assert_timed_out(client.get(f"/api/v1/reports?bbox={BBOX}"))
    assert client.get(f"/api/v1/reports?bbox={BBOX}").status_code == 200
    # another class's SET LOCAL too, on the bbox path
    monkeypatch.setattr(view, "__cost__", "stats", raising=False)
    monkeypatch.setitem(pooled_app.config["STATEMENT_TIMEOUT_MS"], "stats", 200)
    with locked(database, "contributions"):
        assert_timed_out(client.get(f"/api/v1/reports?bbox={BBOX}"))
    monkeypatch.undo()
    assert server_timeouts(bouncer, name) == [read_default] * POOL_SIZE


def test_a_pooler_without_the_connection_defaults_is_refused(pooled_app, database, tmp_path):
    """Straight to PostgreSQL (no connect_query): the app says what the pooler lacks rather than
    run without a statement timeout."""
    with own_app({"DATABASE_URL": database, "DATABASE_POOLER": "pgbouncer"}, tmp_path) as app, app.app_context():
        with pytest.raises(RuntimeError, match="connect_query='SET TimeZone = UTC; SET plan_cache_mode"):
            db.session.execute(text("SELECT 1"))
