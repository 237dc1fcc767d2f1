"""Read-only endpoints on a streaming replica (issue 18, "Beyond one machine"; app/db.py).

A real replica: a small primary cluster of the tests' own (initdb, migrated with `flask db
upgrade`), copied with `pg_basebackup -R` into var/ and started as a hot standby on another
port (tests/servers.py). The proof of where a read went is the data itself: with the standby's
replay paused (`pg_wal_replay_pause()`), a report just written on the primary is missing from
whatever reads the replica and present in whatever reads the primary.
"""

from __future__ import annotations

import secrets
import shutil
import time

import pytest
from sqlalchemy import text

from app.db import WROTE_COOKIE, db
from tests.conftest import Api, browser, feature
from tests.servers import Cluster, base_dir, cli, own_app

BBOX = "2.345,48.850,2.355,48.856"  # around Notre-Dame (feature()'s default point)
MAX_LAG_S, CHECK_S = 5.0, 0.2


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """(primary, standby): the primary migrated, with areas and categories; the standby caught up."""
    base = base_dir("replica")
    primary = standby = None
    try:
        primary = Cluster.primary(base)
        with own_app({"DATABASE_URL": primary.url()}, tmp_path_factory.mktemp("migrate")) as app:
            for args in (("db", "upgrade"), ("geo", "load-areas"), ("geo", "load-categories")):
                cli(app, *args)
        standby = primary.standby(base)
        yield primary, standby
    finally:
        for cluster in (standby, primary):
            if cluster is not None:
                cluster.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def replica_app(pair, tmp_path_factory):
    primary, standby = pair
    with own_app({"DATABASE_URL": primary.url(), "DATABASE_REPLICA_URL": standby.url(),
                  "DATABASE_REPLICA_MAX_LAG_S": MAX_LAG_S, "DATABASE_REPLICA_CHECK_S": CHECK_S},
                 tmp_path_factory.mktemp("replica")) as app:
        yield app


@pytest.fixture(autouse=True)
def fresh_check(replica_app):
    """Each test's first read asks the replica afresh (not the last test's answer)."""
    db.replica.checked_until = 0


@pytest.fixture
def replay_paused(pair):
    """The standby keeps receiving WAL but replays none of it until the test ends."""
    primary, standby = pair
    # a commit replayed just before the pause: the replica's lag (the time since the last
    # commit it replayed, once WAL waits) starts from now, not from an older write
    with primary.connect("cartagora") as conn:
        conn.execute("SELECT txid_current()")
    standby.wait_for(primary)
    with standby.connect() as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
    yield
    with standby.connect() as conn:
        conn.execute("SELECT pg_wal_replay_resume()")
    standby.wait_for(primary)


def author(app) -> Api:
    """A resident with a test client (a cookie jar) of their own."""
    return Api(app.test_client(), name=f"Author {secrets.token_hex(3)}")


def create(api: Api, title: str) -> int:
    r = api.post("/api/v1/reports", json=feature(title=title))
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def seen(client, report_id: int, **kwargs) -> dict[str, bool]:
    """Whether the report is in each public read: its page, the bbox list (the hot path),
    Open311, OGC API Features."""
    read = client.get(f"/api/v1/reports/{report_id}", **kwargs)
    assert read.status_code in (200, 404), read.data[:300]
    listed = client.get(f"/api/v1/reports?bbox={BBOX}&limit=500", **kwargs)
    open311 = client.get("/open311/v2/requests.json", **kwargs)
    ogc = client.get(f"/ogc/collections/reports/items?bbox={BBOX}&limit=1000", **kwargs)
    for r in (listed, open311, ogc):
        assert r.status_code == 200, r.data[:300]
    return {
        "read": read.status_code == 200,
        "list": report_id in [f["id"] for f in listed.get_json()["features"]],
        "open311": str(report_id) in [s["service_request_id"] for s in open311.get_json()],
        "ogc": report_id in [f["id"] for f in ogc.get_json()["features"]],
    }


EVERYWHERE = {"read": True, "list": True, "open311": True, "ogc": True}
NOWHERE = {"read": False, "list": False, "open311": False, "ogc": False}


def test_rows_written_on_the_primary_reach_the_replica_routed_reads(replica_app, pair):
    primary, standby = pair
    resident, anonymous = author(replica_app), replica_app.test_client()
    report_id = create(resident, "Dépôt sauvage, quai de Montebello")
    standby.wait_for(primary)
    assert seen(anonymous, report_id) == EVERYWHERE
    assert db.replica.up and db.replica.lag_s is not None and db.replica.lag_s <= MAX_LAG_S


def test_anonymous_reads_go_to_the_replica_and_the_author_reads_the_primary(replica_app, pair,
                                                                            replay_paused):
    resident, anonymous = author(replica_app), replica_app.test_client()
    report_id = create(resident, "Banc cassé, square Jean-XXIII")
    # not replayed yet: what an anonymous visitor reads comes from the replica
    assert seen(anonymous, report_id) == NOWHERE
    # its author, with their token: the primary, every read
    assert seen(resident.client, report_id, headers=resident.headers) == EVERYWHERE
    # the same browser without the token: its cookie says it has just written
    assert resident.client.get_cookie(WROTE_COOKIE) is not None
    assert seen(resident.client, report_id) == EVERYWHERE
    # a stale cookie (a write long enough ago to be on the replica) is a visitor's
    resident.client.set_cookie(WROTE_COOKIE, str(int(time.time() - MAX_LAG_S - CHECK_S - 1)))
    assert seen(resident.client, report_id) == NOWHERE
    # signed in on the pages (a session cookie, no recent write): the primary
    with replica_app.app_context(), db.sessionmaker() as session:
        page = browser(replica_app.test_client(), session, resident)
    assert seen(page, report_id) == EVERYWHERE


def test_a_replica_too_far_behind_is_not_read_from(replica_app, pair, replay_paused, monkeypatch):
    resident, anonymous = author(replica_app), replica_app.test_client()
    monkeypatch.setattr(db.replica, "max_lag_s", 0.3)
    report_id = create(resident, "Nid-de-poule, rue du Cloître")
    time.sleep(0.3 + CHECK_S + 0.2)  # behind by more than its bound, and checked since
    assert seen(anonymous, report_id) == EVERYWHERE
    assert db.replica.up is False and db.replica.lag_s > 0.3


def test_reads_fall_back_to_the_primary_when_the_replica_is_down(replica_app, pair):
    primary, standby = pair
    resident, anonymous = author(replica_app), replica_app.test_client()
    assert anonymous.get(f"/api/v1/reports?bbox={BBOX}").status_code == 200  # pooled replica connections
    assert db.replica.up
    standby.stop("fast")
    try:
        report_id = create(resident, "Graffiti, pont au Double")
        # as if the replica had answered a moment ago: the reads meet it dead, and read again
        # from the primary
        db.replica.checked_until = time.monotonic() + 60
        assert seen(anonymous, report_id) == EVERYWHERE
        assert db.replica.up is False
        assert seen(anonymous, report_id) == EVERYWHERE  # straight to the primary now
    finally:
        standby.start()
        standby.wait_for(primary)
    db.replica.checked_until = 0  # its retry delay over: asked again, and read from again
    assert db.replica.usable() and db.replica.lag_s is not None


def test_writes_and_commands_use_the_primary(replica_app, pair):
    """The replica is a hot standby, where a write fails: what writes reaches the primary,
    and its effect reaches the replica's readers."""
    primary, standby = pair
    resident, voter, anonymous = author(replica_app), author(replica_app), replica_app.test_client()
    report_id = create(resident, "Trottoir encombré, rue d'Arcole")
    r = voter.put(f"/api/v1/reports/{report_id}/vote", json={"value": 1})
    assert r.status_code == 200 and r.get_json()["votes"] == {"up": 1, "down": 0}, r.get_json()
    standby.wait_for(primary)
    assert anonymous.get(f"/api/v1/reports/{report_id}").get_json()["properties"]["votes"] == {"up": 1, "down": 0}
    with replica_app.app_context():  # a command's session
        assert db.session.execute(text("SELECT pg_is_in_recovery()")).scalar() is False
