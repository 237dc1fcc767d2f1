"""The DansMaRue workflow: transitions, permissions, duplicates, reopening, outbox, queue."""

import io
import mailbox
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from app.field import workflow
from app.field.models import FixFeedback, OutboxMessage, StatusEvent
from geo.aggregations import PARIS

TOMORROW = (datetime.now(PARIS).date() + timedelta(days=1)).isoformat()
# what each target needs
REQUIRED = {
    "scheduled": {"planned_for": TOMORROW},
    "rejected": {"reason": "photo_needed"},
    "resolved": {"resolution": "fixed"},
    "transferred": {"transferred_to": "RATP"},
    "duplicate": {},  # filled with a real original in the test
}


@pytest.fixture
def supervisor(make_user):
    return make_user(roles=("supervisor",), name="Sup")


def set_status(session, report_id, status):
    session.execute(text("UPDATE contributions SET status = :s WHERE id = :id"), {"s": status, "id": report_id})
    session.commit()


STATUSES = list(workflow.TRANSITIONS)


@pytest.mark.parametrize("start", STATUSES)
def test_every_transition_rule(start, supervisor, make_report, session):
    """For each starting status, every target is either applied or refused with the list."""
    original = make_report(title="Original")
    for target in STATUSES:
        report = make_report(title=f"{start} to {target}")
        set_status(session, report["id"], start)
        body = {"to": target, **REQUIRED.get(target, {})}
        if target == "duplicate":
            body["duplicate_of"] = original["id"]
        r = supervisor.post(f"/api/v1/reports/{report['id']}/transitions", json=body)
        if target in workflow.TRANSITIONS[start]:
            assert r.status_code == 201, (start, target, r.json)
            assert r.json["status"] == target
            assert r.json["history"][-1]["from"] == start and r.json["history"][-1]["to"] == target
        else:
            assert r.status_code == 409, (start, target, r.json)
            assert r.json["code"] == "illegal_transition"
            assert r.json["allowed"] == list(workflow.TRANSITIONS[start])
            assert r.json["from"] == start


@pytest.mark.parametrize(("body", "field", "code"), [
    ({"to": "scheduled"}, "planned_for", "required"),
    ({"to": "scheduled", "planned_for": "2020-01-01"}, "planned_for", "date_in_past"),
    ({"to": "scheduled", "planned_for": "soon"}, "planned_for", "invalid_date"),
    ({"to": "rejected"}, "reason", "required"),
    ({"to": "rejected", "reason": "boring"}, "reason", "invalid_value"),
    ({"to": "rejected", "reason": "other"}, "public_note", "required"),
    ({"to": "resolved"}, "resolution", "required"),
    ({"to": "duplicate"}, "duplicate_of", "required"),
    ({"to": "duplicate", "duplicate_of": 987654321}, "duplicate_of", "unknown_report"),
    ({"to": "transferred"}, "transferred_to", "required"),
    ({"to": "flying"}, "to", "invalid_status"),
])
def test_required_fields(supervisor, make_report, body, field, code):
    report = make_report()
    r = supervisor.post(f"/api/v1/reports/{report['id']}/transitions", json=body)
    assert r.status_code == 422, r.json
    assert (r.json["errors"][0]["field"], r.json["errors"][0]["code"]) == (field, code)


def test_permission_boundaries(make_user, make_report, agent_4, supervisor, session):
    resident, admin = make_user(), make_user(roles=("admin",))
    agent_other = make_user(roles=("agent",))
    session.execute(text("""INSERT INTO agent_scopes (user_id, service_id, arrondissement_id)
        SELECT :u, id, 11 FROM services WHERE code = 'graffitis'"""), {"u": agent_other.user_id})
    session.commit()
    report = make_report(category="graffitis")  # Notre-Dame: 4e, graffiti service
    lamp = make_report(category="eclairage")    # 4e, lighting service
    url = f"/api/v1/reports/{report['id']}/transitions"
    ack = {"to": "acknowledged"}
    assert resident.post(url, json=ack).json["code"] == "forbidden"
    r = agent_other.post(url, json=ack)
    assert r.status_code == 403 and r.json["code"] == "out_of_scope"
    assert agent_4.post(f"/api/v1/reports/{lamp['id']}/transitions", json=ack).json["code"] == "out_of_scope"
    assert agent_4.post(url, json=ack).status_code == 201
    assert supervisor.post(url, json={"to": "scheduled", "planned_for": TOMORROW}).status_code == 201
    assert admin.post(url, json={"to": "resolved", "resolution": "fixed"}).status_code == 201
    # assignment: supervisors only, and only to an agent whose scope covers the report
    assign = f"/api/v1/reports/{lamp['id']}/assignment"
    assert agent_4.put(assign, json={"agent_id": agent_4.user_id}).status_code == 403
    r = supervisor.put(assign, json={"agent_id": agent_4.user_id})
    assert r.status_code == 422 and r.json["errors"][0]["code"] == "out_of_scope"
    assert supervisor.put(f"/api/v1/reports/{report['id']}/assignment",
                          json={"agent_id": agent_4.user_id}).json["assigned_to"] == agent_4.user_id
    # priority: agents in scope
    assert agent_4.put(f"/api/v1/reports/{report['id']}/priority",
                        json={"priority": "dangerous"}).json["priority"] == "dangerous"
    assert agent_other.put(f"/api/v1/reports/{report['id']}/priority",
                           json={"priority": "minor"}).status_code == 403


def test_admin_sets_scopes(make_user, make_report, client):
    admin, agent = make_user(roles=("admin",)), make_user()
    url = f"/api/v1/agents/{agent.user_id}/scopes"
    assert agent.put(url, json={"scopes": []}).status_code == 403
    r = admin.put(url, json={"scopes": [{"service": "graffitis", "arrondissement": 4}]})
    assert r.json["scopes"] == [{"service": "graffitis", "arrondissement": 4}]
    report = make_report(category="graffitis")
    token = client.post("/api/v1/auth/token", json={"email": agent.email, "password": agent.password}).json
    assert "agent" in token["user"]["roles"]
    r = client.post(f"/api/v1/reports/{report['id']}/transitions", json={"to": "acknowledged"},
                    headers={"Authorization": f"Bearer {token['access_token']}"})
    assert r.status_code == 201
    # every error at once: an unknown service (the document's enum) and an arrondissement
    bad = admin.put(url, json={"scopes": [{"service": "nope", "arrondissement": 25}]})
    assert [(e["field"], e["code"]) for e in bad.json["errors"]] == [
        ("scopes[0].service", "invalid_value"), ("scopes[0].arrondissement", "out_of_range")]
    bad = admin.put(url, json={"scopes": [{"arrondissement": 4}, {"service": "nope"}]})
    assert [(e["field"], e["code"]) for e in bad.json["errors"]] == [
        ("scopes[1].service", "invalid_value")]
    bad = admin.put(url, json={"scopes": [{"service": "graffitis", "team": "B"}]})
    assert [(e["field"], e["code"]) for e in bad.json["errors"]] == [
        ("scopes[0].team", "unknown_field")]
    assert admin.put("/api/v1/agents/99999999999/scopes", json={"scopes": []}).status_code == 404


def test_history_public_and_internal(supervisor, make_report, client):
    report = make_report()
    supervisor.post(f"/api/v1/reports/{report['id']}/transitions", json={
        "to": "rejected", "reason": "location_unclear", "public_note": "Précisez le numéro",
        "internal_note": "Déjà vu trois fois"})
    public = client.get(f"/api/v1/reports/{report['id']}/history").json["history"]
    assert public == [{"at": public[0]["at"], "from": "new", "to": "rejected",
                       "public_note": "Précisez le numéro", "planned_for": None,
                       "reason": "location_unclear", "resolution": None, "duplicate_of": None,
                       "transferred_to": None, "photo_url": None, "by": "city", "demo": False}]
    staff = supervisor.get(f"/api/v1/reports/{report['id']}/history").json["history"]
    assert staff[0]["internal_note"] == "Déjà vu trois fois" and staff[0]["actor"] == "Sup"


def test_history_is_append_only(supervisor, make_report, session):
    report = make_report()
    supervisor.post(f"/api/v1/reports/{report['id']}/transitions", json={"to": "acknowledged"})
    sp = session.begin_nested()
    with pytest.raises(Exception, match="append-only"):
        session.execute(text("UPDATE status_events SET to_status = 'resolved' WHERE contribution_id = :id"),
                        {"id": report["id"]})
    sp.rollback()


def test_duplicate_merge_arithmetic(make_user, make_report, supervisor, client):
    alice, bob, carol, dan, erin = (make_user(name=n) for n in ("Alice", "Bob", "Carol", "Dan", "Erin"))
    original = make_report(api=alice, title="Original")
    dup = make_report(api=dan, title="Doublon")
    for voter in (bob, carol):
        voter.put(f"/api/v1/reports/{original['id']}/vote", json={"value": 1})
    for voter in (bob, erin):  # Bob voted on both: counted once
        voter.put(f"/api/v1/reports/{dup['id']}/vote", json={"value": 1})
    erin.put(f"/api/v1/reports/{dup['id']}/follow")
    r = supervisor.post(f"/api/v1/reports/{dup['id']}/transitions",
                        json={"to": "duplicate", "duplicate_of": original["id"]})
    assert r.status_code == 201
    merged = client.get(f"/api/v1/reports/{original['id']}").json["properties"]
    # Bob, Carol (already there) + Erin (moved) + Dan (the duplicate's reporter)
    assert merged["votes"]["up"] == 4
    after = client.get(f"/api/v1/reports/{dup['id']}").json["properties"]
    assert after["status"] == "duplicate" and after["votes"]["up"] == 0
    follow = erin.put(f"/api/v1/reports/{original['id']}/follow").json
    assert follow["followers_count"] == 2  # Erin (moved) and Dan


def test_reopen_by_still_there(make_user, make_report, supervisor, session):
    reporter, follower, stranger = make_user(), make_user(), make_user()
    report = make_report(api=reporter)
    follower.put(f"/api/v1/reports/{report['id']}/follow")
    url = f"/api/v1/reports/{report['id']}/feedback"
    assert reporter.post(url, json={"value": "still_there"}).json["code"] == "not_resolved"
    supervisor.post(f"/api/v1/reports/{report['id']}/transitions", json={"to": "resolved", "resolution": "fixed"})
    assert stranger.post(url, json={"value": "still_there"}).status_code == 403
    assert reporter.post(url, json={"value": "fixed"}).json["status"] == "resolved"
    r = follower.post(url, json={"value": "still_there"})
    assert r.status_code == 201 and r.json == {"id": report["id"], "status": "acknowledged", "reopen_count": 1}
    rows = session.scalars(select(FixFeedback).where(FixFeedback.contribution_id == report["id"])
                           .order_by(FixFeedback.id)).all()
    assert [(f.value, f.service_id is not None) for f in rows] == [("fixed", True), ("still_there", True)]
    closed_at = session.execute(text("SELECT closed_at FROM contributions WHERE id = :id"),
                                {"id": report["id"]}).scalar()
    assert closed_at is None
    # a second resolution, 31 days ago: too late to reopen
    supervisor.post(f"/api/v1/reports/{report['id']}/transitions", json={"to": "resolved", "resolution": "fixed"})
    session.execute(text("UPDATE contributions SET closed_at = now() - interval '31 days' WHERE id = :id"),
                    {"id": report["id"]})
    session.commit()
    late = reporter.post(url, json={"value": "still_there"})
    assert late.status_code == 409 and late.json["code"] == "reopen_window_over"


def test_times_are_stored_for_planners(make_report, supervisor, session):
    report = make_report()
    base = f"/api/v1/reports/{report['id']}/transitions"
    supervisor.post(base, json={"to": "acknowledged"})
    supervisor.post(base, json={"to": "resolved", "resolution": "fixed"})
    row = session.execute(text("""SELECT acknowledged_at >= created_at AS a, closed_at >= acknowledged_at AS b,
        resolution FROM contributions WHERE id = :id"""), {"id": report["id"]}).one()
    assert (row.a, row.b, row.resolution) == (True, True, "fixed")


def test_outbox_written_with_the_change(make_user, make_report, supervisor, session):
    reporter, follower = make_user(), make_user()
    report = make_report(api=reporter, title="Tag rue X")
    follower.put(f"/api/v1/reports/{report['id']}/follow")
    supervisor.put(f"/api/v1/reports/{report['id']}/follow")  # the actor is not told of its own act
    supervisor.post(f"/api/v1/reports/{report['id']}/transitions",
                    json={"to": "scheduled", "planned_for": TOMORROW, "internal_note": "secret"})
    rows = session.scalars(select(OutboxMessage).join(StatusEvent, StatusEvent.id == OutboxMessage.event_id)
                           .where(StatusEvent.contribution_id == report["id"])).all()
    assert sorted(r.recipient for r in rows) == sorted([reporter.email, follower.email])
    assert all(TOMORROW in r.body and "secret" not in r.body for r in rows)
    assert "Intervention programmée" in rows[0].subject
    # an illegal transition writes nothing
    supervisor.post(f"/api/v1/reports/{report['id']}/transitions", json={"to": "new"})
    assert session.scalar(text("SELECT count(*) FROM outbox o JOIN status_events e ON e.id = o.event_id "
                               "WHERE e.contribution_id = :id"), {"id": report["id"]}) == 2


def test_outbox_delivery_retries_then_delivers(app, session, tmp_path, monkeypatch):
    from app.field import delivery

    session.add(OutboxMessage(recipient="x@example.org", subject="S", body="B"))
    session.commit()
    config = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": 9, "MAILBOX_PATH": tmp_path / "box"}
    sent, failed = delivery.deliver_pending(session, config)  # nothing listens on port 9
    row = session.scalar(select(OutboxMessage).where(OutboxMessage.recipient == "x@example.org"))
    assert (sent, row.status, row.attempts) == (0, "pending", 1)
    assert row.next_attempt_at > datetime.now(UTC) and "Error" in row.last_error
    row.next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)
    session.flush()
    config["MAIL_SERVER"] = None  # development: the mailbox file
    delivery.deliver_pending(session, config)
    assert row.status == "sent" and row.sent_at is not None
    box = mailbox.mbox(tmp_path / "box")
    try:
        messages = [m for m in box if m["To"] == "x@example.org"]
    finally:
        box.close()
    assert len(messages) == 1 and messages[0]["Subject"] == "S"


def test_resolve_with_a_done_photo(supervisor, make_report, client):
    from tests.test_photos import jpeg_with_gps

    report = make_report()
    r = supervisor.post(f"/api/v1/reports/{report['id']}/transitions", data={
        "transition": '{"to": "resolved", "resolution": "fixed", "public_note": "Nettoyé"}',
        "photo": (io.BytesIO(jpeg_with_gps(size=(300, 200))), "done.jpg")},
        content_type="multipart/form-data")
    assert r.status_code == 201, r.json
    photo_url = r.json["history"][-1]["photo_url"]
    with client.get(photo_url) as img:
        assert img.status_code == 200 and b"PhoneMaker" not in img.data


def test_queue_scope_counts_and_sorts(make_user, make_report, agent_4, session):
    old = make_report(title="Vieux tag", category="graffitis")
    danger = make_report(title="Tag dangereux", category="graffitis")
    make_report(title="Lampe", category="eclairage")
    session.execute(text("UPDATE contributions SET created_at = now() - interval '40 days' WHERE id = :id"),
                    {"id": old["id"]})
    session.commit()
    agent_4.put(f"/api/v1/reports/{danger['id']}/priority", json={"priority": "dangerous"})
    q = agent_4.get("/api/v1/agent/queue?limit=1000").json
    ids = [f["id"] for f in q["features"]]
    assert danger["id"] == ids[0]  # dangerous first
    assert all(f["properties"]["arrondissement"] == 4 and f["properties"]["category"]["code"].startswith("graffitis")
               for f in q["features"])
    assert q["counts"]["new"] == len([f for f in q["features"] if f["properties"]["status"] == "new"])
    oldest = agent_4.get("/api/v1/agent/queue?sort=oldest&limit=1000").json["features"]
    assert [f["properties"]["created_at"] for f in oldest] == sorted(f["properties"]["created_at"] for f in oldest)
    aged = agent_4.get("/api/v1/agent/queue?older_than_days=30&sort=newest").json["features"]
    assert old["id"] in [f["id"] for f in aged] and danger["id"] not in [f["id"] for f in aged]
    near = agent_4.get("/api/v1/agent/queue?sort=nearest&lon=2.3499&lat=48.8530").json["features"]
    dists = [f["properties"]["distance_m"] for f in near]
    assert dists == sorted(dists) and dists[0] < 1
    assert agent_4.get("/api/v1/agent/queue?sort=nearest").status_code == 422


def test_batch_acknowledge_is_all_or_nothing(make_report, agent_4, client):
    a, b = make_report(category="graffitis"), make_report(category="graffitis")
    lamp = make_report(category="eclairage")  # out of the agent's scope
    r = agent_4.post("/api/v1/agent/batch", json={"ids": [a["id"], b["id"], lamp["id"]], "to": "acknowledged"})
    assert r.status_code == 403
    assert client.get(f"/api/v1/reports/{a['id']}").json["properties"]["status"] == "new"
    r = agent_4.post("/api/v1/agent/batch", json={"ids": [a["id"], b["id"]], "to": "scheduled",
                                                   "planned_for": TOMORROW})
    assert [u["status"] for u in r.json["updated"]] == ["scheduled", "scheduled"]


def test_atom_feeds(supervisor, make_report, client):
    report = make_report(title="Tag pour le flux")
    supervisor.post(f"/api/v1/reports/{report['id']}/transitions", json={"to": "acknowledged"})
    ns = {"a": "http://www.w3.org/2005/Atom"}
    feed = ET.fromstring(client.get(f"/feeds/reports/{report['id']}.atom").data)
    assert [e.find("a:title", ns).text for e in feed.findall("a:entry", ns)] == [
        f"#{report['id']} Tag pour le flux: Pris en compte"]
    arr = client.get("/feeds/arrondissements/4.atom")
    assert arr.content_type.startswith("application/atom+xml")
    titles = [e.find("a:title", ns).text for e in ET.fromstring(arr.data).findall("a:entry", ns)]
    assert f"#{report['id']} Tag pour le flux" in titles
    assert client.get("/feeds/arrondissements/21.atom").status_code == 404


def test_demo_history_is_marked_and_plausible(runner, session):
    result = runner.invoke(args=["demo", "history"])
    assert result.exit_code == 0, result.output
    rows = dict(session.execute(text("""SELECT status, count(*) FROM contributions
        WHERE source = 'dansmarue' GROUP BY status""")).all())
    total = sum(rows.values())
    assert total == 39515
    assert 0.70 < rows["resolved"] / total < 0.85 and rows.get("new", 0) / total < 0.12
    bad = session.scalar(text("""SELECT count(*) FROM contributions c WHERE c.source = 'dansmarue' AND (
        NOT c.is_demo OR (c.status = 'resolved' AND (c.closed_at <= c.acknowledged_at OR c.acknowledged_at <= c.created_at)))"""))
    assert bad == 0
    assert session.scalar(text("SELECT bool_and(e.is_demo) FROM status_events e JOIN contributions c "
                               "ON c.id = e.contribution_id WHERE c.source = 'dansmarue'"))
    again = runner.invoke(args=["demo", "history"])
    assert "planned 0" in again.output
