"""Volunteer missions through the API: organisations and their verification, members,
missions and their schedules, sign-ups with capacity and a waiting list (under concurrency
too), decisions, reminders, iCalendar, privacy of volunteers, "my engagements"."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import text

from app.accounts.services import create_user, issue_token
from app.db import db
from app.missions import services
from app.missions.services import siren_valid
from tests.conftest import at_once

PARIS = ZoneInfo("Europe/Paris")
# the Jardin du Luxembourg's gate on rue de Vaugirard (6e) and the place de la République (3e)
LUXEMBOURG = [2.3372, 48.8480]
REPUBLIQUE = [2.3636, 48.8674]


def point(lonlat):
    return {"type": "Point", "coordinates": list(lonlat)}


def organisation_body(**changes) -> dict:
    return {"name": "Les Amis du Luxembourg", "rna": "W751234567", "description": "Jardinage solidaire.",
            "address": "Rue de Vaugirard, 75006 Paris", "geometry": point(LUXEMBOURG),
            "website": "https://amis-luxembourg.example.org", "contact_email": "contact@amis.example.org",
            **changes}


def soon(days: int, hour: int = 10) -> str:
    """An instant `days` from now at `hour` Paris time, with its offset."""
    day = datetime.now(PARIS).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, tzinfo=PARIS).isoformat()


def mission_body(capacity: int = 2, **changes) -> dict:
    return {"title": "Désherber les massifs du jardin", "description": "Deux heures au grand air.",
            "domain": "environnement", "activities": ["jardinage"], "remote": "no",
            "places": [{"label": "Jardin du Luxembourg, porte Vaugirard", "geometry": point(LUXEMBOURG)}],
            "schedule": "one_off",
            "slots": [{"starts_at": soon(7), "ends_at": soon(7, 12), "capacity": capacity}],
            **changes}


@pytest.fixture
def owner(make_user, verify):
    return verify(make_user(name="Odile Présidente"))


@pytest.fixture
def moderator(make_user):
    return make_user(roles=("moderator",), name="Modo")


@pytest.fixture
def volunteers(make_user, verify):
    def make(n: int):
        return [verify(make_user(name=f"Bénévole {i}")) for i in range(n)]

    return make


@pytest.fixture
def org(owner, moderator):
    """A verified organisation owned by `owner`."""
    r = owner.post("/api/v1/organisations", json=organisation_body())
    assert r.status_code == 201, r.json
    oid = r.json["id"]
    r = moderator.post(f"/api/v1/organisations/{oid}/verification", json={"decision": "verify"})
    assert r.status_code == 200 and r.json["status"] == "verified", r.json
    return oid


@pytest.fixture
def published(owner, org):
    def make(**changes) -> dict:
        r = owner.post(f"/api/v1/organisations/{org}/missions", json=mission_body(**changes))
        assert r.status_code == 201, r.json
        r = owner.post(f"/api/v1/missions/{r.json['id']}/state", json={"action": "publish"})
        assert r.status_code == 200 and r.json["status"] == "published", r.json
        return r.json

    return make


def outbox(session, email: str) -> list[tuple]:
    return session.execute(text("SELECT subject, body, next_attempt_at, mission_signup_id FROM outbox "
                                "WHERE recipient = :e ORDER BY id"), {"e": email}).all()


# ---- organisations ----------------------------------------------------------------------------

def test_siren_key():
    assert siren_valid("732829320")  # a real SIREN (the Ville de Paris's former number's form)
    assert siren_valid("552100554")
    assert not siren_valid("552100555")


def test_register_needs_a_verified_account_and_a_valid_number(make_user, owner, session):
    unverified = make_user(name="Pas confirmé")
    r = unverified.post("/api/v1/organisations", json=organisation_body())
    assert r.status_code == 403 and r.json["code"] == "email_unverified"
    r = owner.post("/api/v1/organisations", json=organisation_body(rna=None))
    assert r.status_code == 422 and r.json["errors"][0]["field"] == "rna"
    assert r.json["errors"][0]["code"] == "rna_or_siren_required"
    r = owner.post("/api/v1/organisations", json=organisation_body(rna=None, siren="552100555"))
    assert r.status_code == 422 and [e["code"] for e in r.json["errors"]] == ["siren_checksum"]
    r = owner.post("/api/v1/organisations", json=organisation_body(geometry=point([2.45, 48.90])))
    assert r.status_code == 422 and r.json["errors"][0]["code"] == "outside_paris"
    assert session.scalar(text("SELECT count(*) FROM organisations WHERE name = 'Les Amis du Luxembourg'")) == 0
    r = owner.post("/api/v1/organisations", json=organisation_body(siren="552100554"))
    assert r.status_code == 201 and r.json["status"] == "pending" and r.json["can_manage"] is True
    assert [(m["display_name"], m["role"]) for m in r.json["members"]] == [("Odile Présidente", "owner")]
    again = owner.post("/api/v1/organisations", json=organisation_body(name="Autre nom", siren=None))
    assert again.status_code == 409 and again.json["code"] == "organisation_exists"
    assert again.json["errors"][0]["field"] == "rna"


def test_unverified_organisations_missions_are_not_public(owner, moderator, resident, client, session):
    oid = owner.post("/api/v1/organisations", json=organisation_body()).json["id"]
    # the public does not see a pending organisation, nor learns that it exists
    assert client.get(f"/api/v1/organisations/{oid}").status_code == 404
    mid = owner.post(f"/api/v1/organisations/{oid}/missions", json=mission_body()).json["id"]
    assert owner.post(f"/api/v1/missions/{mid}/state", json={"action": "publish"}).json["status"] == "published"
    assert client.get(f"/api/v1/missions/{mid}").status_code == 404
    assert mid not in [m["id"] for m in client.get("/api/v1/missions?limit=100").json["missions"]]
    assert resident.post(f"/api/v1/missions/{mid}/signups", json={"slot_id": 1}).status_code == 404
    # moderators see the queue, and verify
    queue = moderator.get("/api/v1/organisations?status=pending&limit=100").json
    assert oid in [o["id"] for o in queue["organisations"]]
    r = moderator.post(f"/api/v1/organisations/{oid}/verification", json={"decision": "refuse"})
    assert r.status_code == 422 and r.json["errors"][0]["field"] == "reason"
    r = owner.post(f"/api/v1/organisations/{oid}/verification", json={"decision": "verify"})
    assert r.status_code == 403 and r.json["code"] == "forbidden"
    r = moderator.post(f"/api/v1/organisations/{oid}/verification", json={"decision": "verify"})
    assert r.json["status"] == "verified" and r.json["verified_at"]
    assert client.get(f"/api/v1/missions/{mid}").json["title"] == "Désherber les massifs du jardin"
    found = client.get("/api/v1/missions?arrondissement=6&domain=environnement").json
    assert mid in [m["id"] for m in found["missions"]]
    assert {m["arrondissements"][0] for m in found["missions"]} == {6}
    # suspended: hidden again; the owner is told with the reason, and it is audited
    r = moderator.post(f"/api/v1/organisations/{oid}/verification",
                       json={"decision": "suspend", "reason": "Numéro RNA d'une autre association"})
    assert r.json["status"] == "suspended"
    assert client.get(f"/api/v1/missions/{mid}").status_code == 404
    subjects = [row[0] for row in outbox(session, owner.email)]
    assert any("Your organisation is verified" in s for s in subjects)
    assert any("suspended" in s for s in subjects)
    actions = session.execute(text("SELECT action FROM audit_log WHERE subject_type = 'organisation' "
                                   "AND subject_id = :o ORDER BY id"), {"o": str(oid)}).scalars().all()
    assert actions == ["organisation.verify", "organisation.suspend"]
    # a second verification of a suspended one is allowed; refusing it is not (409)
    r = moderator.post(f"/api/v1/organisations/{oid}/verification", json={"decision": "refuse", "reason": "x"})
    assert r.status_code == 409 and r.json["code"] == "organisation_status"


def test_members_owners_and_the_last_owner(owner, org, make_user, verify, client):
    colleague = verify(make_user(name="Collègue"))
    r = owner.post(f"/api/v1/organisations/{org}/members", json={"email": "nobody@example.org"})
    assert r.status_code == 422 and r.json["errors"][0]["code"] == "no_such_account"
    r = owner.post(f"/api/v1/organisations/{org}/members", json={"email": colleague.email.upper()})
    assert r.status_code == 200
    assert sorted((m["display_name"], m["role"]) for m in r.json["members"]) == [
        ("Collègue", "member"), ("Odile Présidente", "owner")]
    # a member manages missions but not members
    assert colleague.post(f"/api/v1/organisations/{org}/missions", json=mission_body()).status_code == 201
    r = colleague.post(f"/api/v1/organisations/{org}/members", json={"email": owner.email, "role": "member"})
    assert r.status_code == 403 and r.json["code"] == "owner_only"
    # the last owner cannot leave nor step down
    r = owner.delete(f"/api/v1/organisations/{org}/members/{owner.user_id}")
    assert r.status_code == 409 and r.json["code"] == "last_owner"
    # the public card has no members
    public = client.get(f"/api/v1/organisations/{org}").json
    assert public.get("members") is None and public["can_manage"] is False
    assert colleague.delete(f"/api/v1/organisations/{org}/members/{colleague.user_id}").status_code == 200
    assert colleague.post(f"/api/v1/organisations/{org}/missions", json=mission_body()).status_code == 403


def test_changing_the_rna_sends_it_back_to_verification(owner, org, client):
    r = owner.patch(f"/api/v1/organisations/{org}", json={"description": "Nouveau texte"})
    assert r.json["status"] == "verified" and r.json["description"] == "Nouveau texte"
    r = owner.patch(f"/api/v1/organisations/{org}", json={"rna": "W751234568"})
    assert r.json["status"] == "pending" and r.json["rna"] == "W751234568"
    assert client.get(f"/api/v1/organisations/{org}").status_code == 404


# ---- missions and their schedules -------------------------------------------------------------

def test_mission_input_errors_name_their_field(owner, org, session):
    r = owner.post(f"/api/v1/organisations/{org}/missions", json=mission_body(places=[]))
    assert r.status_code == 422 and r.json["errors"][0] == {
        "field": "places", "code": "place_required", "detail": r.json["errors"][0]["detail"]}
    body = mission_body()
    body["slots"][0]["ends_at"] = soon(7, 9)
    r = owner.post(f"/api/v1/organisations/{org}/missions", json=body)
    assert r.status_code == 422 and r.json["errors"][0]["field"] == "slots.0.ends_at"
    assert r.json["errors"][0]["code"] == "ends_before_start"
    r = owner.post(f"/api/v1/organisations/{org}/missions", json=mission_body(domain="jardinage"))
    assert r.status_code == 422 and r.json["errors"][0]["field"] == "domain"
    r = owner.post(f"/api/v1/organisations/{org}/missions", json=mission_body(schedule="recurring", slots=None))
    assert r.status_code == 422 and r.json["errors"][0]["field"] == "recurrence"
    assert session.scalar(text("SELECT count(*) FROM missions WHERE organisation_id = :o"), {"o": org}) == 0
    # a fully remote mission needs no place
    r = owner.post(f"/api/v1/organisations/{org}/missions", json=mission_body(places=[], remote="full"))
    assert r.status_code == 201 and r.json["places"] == [] and r.json["status"] == "draft"


def test_recurring_slots_keep_paris_time_across_the_clock_change(owner, org):
    # Saturdays 10:00–12:00 from 14 March to 4 April 2099: the clocks change on 29 March
    rule = {"weekdays": [5], "start_time": "10:00", "end_time": "12:00", "from_date": "2099-03-14",
            "until_date": "2099-04-04", "capacity": 8}
    r = owner.post(f"/api/v1/organisations/{org}/missions",
                   json=mission_body(schedule="recurring", slots=None, recurrence=rule))
    assert r.status_code == 201, r.json
    starts = [s["starts_at"] for s in r.json["slots"]]
    assert starts == ["2099-03-14T09:00:00+00:00", "2099-03-21T09:00:00+00:00",
                      "2099-03-28T09:00:00+00:00", "2099-04-04T08:00:00+00:00"]
    assert {s["capacity"] for s in r.json["slots"]} == {8}
    assert r.json["recurrence"]["weekdays"] == [5]
    too_long = {**rule, "until_date": "2100-06-01"}
    r = owner.post(f"/api/v1/organisations/{org}/missions",
                   json=mission_body(schedule="recurring", slots=None, recurrence=too_long))
    assert r.status_code == 422 and r.json["errors"][0]["code"] == "recurrence_too_long"


def test_open_period_without_end(owner, org, resident, verify):
    period = {"starts_at": soon(-30), "ends_at": None, "capacity": 3}
    r = owner.post(f"/api/v1/organisations/{org}/missions",
                   json=mission_body(schedule="open_period", slots=None, period=period))
    assert r.status_code == 201, r.json
    mid = r.json["id"]
    assert owner.post(f"/api/v1/missions/{mid}/state", json={"action": "publish"}).json["status"] == "published"
    slot = r.json["slots"][0]
    assert slot["ends_at"] is None
    # an open period takes sign-ups after its start
    verify(resident)
    r = resident.post(f"/api/v1/missions/{mid}/signups", json={"slot_id": slot["id"]})
    assert r.status_code == 201 and r.json["status"] == "pending"


def test_schedule_is_locked_once_published_but_capacity_moves(owner, published, volunteers, session):
    mission = published(capacity=1)
    mid, slot = mission["id"], mission["slots"][0]["id"]
    r = owner.patch(f"/api/v1/missions/{mid}", json={"slots": mission_body()["slots"]})
    assert r.status_code == 409 and r.json["code"] == "mission_slots_locked"
    a, b, c = volunteers(3)
    for v in (a, b, c):
        assert v.post(f"/api/v1/missions/{mid}/signups", json={"slot_id": slot}).status_code == 201
    r = owner.put(f"/api/v1/missions/{mid}/slots/{slot}/capacity", json={"capacity": 0})
    assert r.status_code == 422 and r.json["errors"][0]["field"] == "capacity"
    # more places: the waiting list moves up in order, and they are told
    r = owner.put(f"/api/v1/missions/{mid}/slots/{slot}/capacity", json={"capacity": 2})
    assert r.status_code == 200 and (r.json["taken"], r.json["waiting"], r.json["remaining"]) == (2, 1, 0)
    statuses = {s["volunteer"]["email"]: s["status"] for s in owner.get(f"/api/v1/missions/{mid}/signups").json["signups"]}
    assert statuses == {a.email: "pending", b.email: "pending", c.email: "waiting"}
    assert any("A place freed up" in s for s, *_ in outbox(session, b.email))
    r = owner.put(f"/api/v1/missions/{mid}/slots/{slot}/capacity", json={"capacity": 1})
    assert r.status_code == 422 and r.json["errors"][0]["code"] == "capacity_below_taken"


# ---- sign-ups ---------------------------------------------------------------------------------

def test_capacity_waiting_list_and_promotion(owner, published, volunteers, client, session):
    mission = published(capacity=2)
    mid, slot = mission["id"], mission["slots"][0]["id"]
    a, b, c, d = volunteers(4)
    assert a.post(f"/api/v1/missions/{mid}/signups", json={"slot_id": slot, "message": "J'ai des gants"}).json["status"] == "pending"
    assert b.post(f"/api/v1/missions/{mid}/signups", json={"slot_id": slot}).json["status"] == "pending"
    r = c.post(f"/api/v1/missions/{mid}/signups", json={"slot_id": slot})
    assert (r.json["status"], r.json["waiting_position"]) == ("waiting", 1)
    assert d.post(f"/api/v1/missions/{mid}/signups", json={"slot_id": slot}).json["waiting_position"] == 2
    # the organisation's list gives the queue in one go: c first, d second
    queue = {s["volunteer"]["email"]: s["waiting_position"]
             for s in owner.get(f"/api/v1/missions/{mid}/signups").json["signups"]}
    assert queue == {a.email: None, b.email: None, c.email: 1, d.email: 2}
    assert d.get("/api/v1/me/engagements").json["signups"][0]["waiting_position"] == 2
    again = a.post(f"/api/v1/missions/{mid}/signups", json={"slot_id": slot})
    assert again.status_code == 409 and again.json["code"] == "already_signed_up"
    public = client.get(f"/api/v1/missions/{mid}").json
    assert public["status"] == "full"
    assert (public["slots"][0]["taken"], public["slots"][0]["waiting"], public["slots"][0]["remaining"]) == (2, 2, 0)
    # a cancels: c (first waiting) gets the place, d moves to first
    a_signup = a.get(f"/api/v1/missions/{mid}").json["my_signups"][0]["id"]
    r = a.delete(f"/api/v1/missions/{mid}/signups/{a_signup}")
    assert r.json["status"] == "cancelled"
    mine = {v.email: v.get(f"/api/v1/missions/{mid}").json["my_signups"][0] for v in (c, d)}
    assert mine[c.email]["status"] == "pending" and mine[d.email]["status"] == "waiting"
    assert d.get(f"/api/v1/missions/{mid}/signups/{mine[d.email]['id']}").json["waiting_position"] == 1
    assert client.get(f"/api/v1/missions/{mid}").json["status"] == "full"
    assert any("A place freed up" in s for s, *_ in outbox(session, c.email))
    # cancelling twice is a conflict; someone else's sign-up is not found
    assert a.delete(f"/api/v1/missions/{mid}/signups/{a_signup}").json["code"] == "signup_status"
    assert b.get(f"/api/v1/missions/{mid}/signups/{a_signup}").status_code == 404
    # the organisation declines b: d gets the place
    b_signup = b.get(f"/api/v1/missions/{mid}").json["my_signups"][0]["id"]
    r = owner.post(f"/api/v1/missions/{mid}/signups/{b_signup}/decision",
                   json={"decision": "decline", "note": "Déjà complet pour les gants"})
    assert r.json["status"] == "declined" and r.json["decision_note"] == "Déjà complet pour les gants"
    assert d.get(f"/api/v1/missions/{mid}").json["my_signups"][0]["status"] == "pending"
    counts = session.execute(text("SELECT taken, waiting FROM mission_slots WHERE id = :s"), {"s": slot}).one()
    assert tuple(counts) == (2, 0)
    assert session.scalar(text("SELECT count(*) FROM mission_signups WHERE slot_id = :s AND status IN "
                               "('pending', 'accepted')"), {"s": slot}) == 2


def test_accepting_queues_a_reminder_the_day_before_and_cancelling_drops_it(owner, published, volunteers, session):
    mission = published(capacity=3)
    mid, slot = mission["id"], mission["slots"][0]
    (v,) = volunteers(1)
    sid = v.post(f"/api/v1/missions/{mid}/signups", json={"slot_id": slot["id"]}).json["id"]
    r = owner.post(f"/api/v1/missions/{mid}/signups/{sid}/decision", json={"decision": "accept"})
    assert r.json["status"] == "accepted" and r.json["decided_at"]
    reminders = [row for row in outbox(session, v.email) if row[3] == sid]
    assert len(reminders) == 1
    subject, body, at, _ = reminders[0]
    assert "Reminder" in subject and "Rappel" in subject
    assert at == datetime.fromisoformat(slot["starts_at"]) - timedelta(days=1)
    assert "Jardin du Luxembourg, porte Vaugirard" in body
    assert owner.post(f"/api/v1/missions/{mid}/signups/{sid}/decision",
                      json={"decision": "accept"}).json["code"] == "signup_status"
    assert v.delete(f"/api/v1/missions/{mid}/signups/{sid}").json["status"] == "cancelled"
    assert [row for row in outbox(session, v.email) if row[3] == sid] == []


def test_ical_of_a_sign_up(published, volunteers, client):
    mission = published()
    mid, slot = mission["id"], mission["slots"][0]
    (v, other) = volunteers(2)
    sid = v.post(f"/api/v1/missions/{mid}/signups", json={"slot_id": slot["id"]}).json["id"]
    r = v.get(f"/api/v1/missions/{mid}/signups/{sid}/calendar.ics")
    assert r.status_code == 200 and r.mimetype == "text/calendar"
    event = Calendar.from_ical(r.data).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == "Désherber les massifs du jardin"
    assert event.decoded("DTSTART") == datetime.fromisoformat(slot["starts_at"])
    assert event.decoded("DTEND") == datetime.fromisoformat(slot["ends_at"])
    assert "Jardin du Luxembourg" in str(event["LOCATION"]) and str(event["STATUS"]) == "CONFIRMED"
    assert other.get(f"/api/v1/missions/{mid}/signups/{sid}/calendar.ics").status_code == 404
    assert client.get(f"/api/v1/missions/{mid}/signups/{sid}/calendar.ics").status_code == 401


def test_volunteers_are_private(owner, published, volunteers, resident, client):
    mission = published(capacity=5)
    mid, slot = mission["id"], mission["slots"][0]["id"]
    a, b = volunteers(2)
    a.post(f"/api/v1/missions/{mid}/signups", json={"slot_id": slot, "message": "Numéro : 06 12 34 56 78"})
    b.post(f"/api/v1/missions/{mid}/signups", json={"slot_id": slot})
    for reader in (client, resident, b):
        raw = reader.get(f"/api/v1/missions/{mid}").get_data(as_text=True)
        assert "Bénévole 0" not in raw and a.email not in raw and "06 12 34 56 78" not in raw
        listed = reader.get("/api/v1/missions?limit=100").get_data(as_text=True)
        assert a.email not in listed and "Bénévole 0" not in listed
    assert client.get(f"/api/v1/missions/{mid}").json["volunteers"] == {"taken": 2, "capacity": 5, "waiting": 0}
    assert resident.get(f"/api/v1/missions/{mid}/signups").status_code == 403
    assert b.get(f"/api/v1/missions/{mid}/signups").status_code == 403
    rows = owner.get(f"/api/v1/missions/{mid}/signups").json["signups"]
    assert [(s["volunteer"]["display_name"], s["volunteer"]["email"], s["message"]) for s in rows] == [
        ("Bénévole 0", a.email, "Numéro : 06 12 34 56 78"), ("Bénévole 1", b.email, "")]


def test_minimum_age_is_confirmed(published, volunteers):
    mission = published(min_age=18)
    (v,) = volunteers(1)
    r = v.post(f"/api/v1/missions/{mission['id']}/signups", json={"slot_id": mission["slots"][0]["id"]})
    assert r.status_code == 422 and r.json["errors"][0]["field"] == "confirm_age"
    r = v.post(f"/api/v1/missions/{mission['id']}/signups",
               json={"slot_id": mission["slots"][0]["id"], "confirm_age": True})
    assert r.status_code == 201


def test_unverified_and_anonymous_cannot_sign_up(published, make_user, client):
    mission = published()
    body = {"slot_id": mission["slots"][0]["id"]}
    assert client.post(f"/api/v1/missions/{mission['id']}/signups", json=body).status_code == 401
    r = make_user(name="Non confirmé").post(f"/api/v1/missions/{mission['id']}/signups", json=body)
    assert r.status_code == 403 and r.json["code"] == "email_unverified"
    r = make_user(name="Autre").post(f"/api/v1/missions/{mission['id']}/signups", json={"slot_id": 999999})
    assert r.status_code == 403 and r.json["code"] == "email_unverified"


def test_cancelling_a_mission_tells_its_volunteers(owner, published, volunteers, session, client):
    mission = published()
    mid, slot = mission["id"], mission["slots"][0]["id"]
    (v,) = volunteers(1)
    sid = v.post(f"/api/v1/missions/{mid}/signups", json={"slot_id": slot}).json["id"]
    owner.post(f"/api/v1/missions/{mid}/signups/{sid}/decision", json={"decision": "accept"})
    r = owner.post(f"/api/v1/missions/{mid}/state", json={"action": "cancel"})
    assert r.status_code == 422 and r.json["errors"][0]["field"] == "reason"
    r = owner.post(f"/api/v1/missions/{mid}/state", json={"action": "cancel", "reason": "Orage annoncé"})
    assert r.json["status"] == "cancelled" and r.json["status_reason"] == "Orage annoncé"
    mails = outbox(session, v.email)
    assert any("cancelled" in s and "Orage annoncé" in b for s, b, *_ in mails)
    assert [row for row in mails if row[3] == sid] == []  # the reminder is gone
    r = v.post(f"/api/v1/missions/{mid}/signups", json={"slot_id": slot})
    assert r.status_code == 409 and r.json["code"] == "mission_not_open"
    ics = Calendar.from_ical(v.get(f"/api/v1/missions/{mid}/signups/{sid}/calendar.ics").data)
    assert str(ics.walk("VEVENT")[0]["STATUS"]) == "CANCELLED"
    assert client.get(f"/api/v1/missions/{mid}").json["status"] == "cancelled"


def test_a_past_slot_takes_no_sign_up_and_the_mission_closes(owner, org, volunteers, session, client):
    body = mission_body()
    body["slots"] = [{"starts_at": soon(-2), "ends_at": soon(-2, 12), "capacity": 2},
                     {"starts_at": soon(3), "ends_at": soon(3, 12), "capacity": 2}]
    mid = owner.post(f"/api/v1/organisations/{org}/missions", json=body).json["id"]
    mission = owner.post(f"/api/v1/missions/{mid}/state", json={"action": "publish"}).json
    past, future = mission["slots"]
    assert (past["open"], future["open"]) == (False, True)
    (v,) = volunteers(1)
    r = v.post(f"/api/v1/missions/{mid}/signups", json={"slot_id": past["id"]})
    assert r.status_code == 409 and r.json["code"] == "slot_closed"
    # once the last slot is past, a read closes it
    session.execute(text("UPDATE mission_slots SET starts_at = now() - interval '1 hour', "
                         "ends_at = now() WHERE id = :s"), {"s": future["id"]})
    session.commit()
    # the list, which never writes, already leaves it out of the open missions
    assert mid not in [m["id"] for m in client.get("/api/v1/missions?limit=100").json["missions"]]
    assert client.get(f"/api/v1/missions/{mid}").json["status"] == "closed"
    assert mid in [m["id"] for m in client.get("/api/v1/missions?limit=100&status=closed").json["missions"]]
    r = owner.post(f"/api/v1/missions/{mid}/state", json={"action": "reopen"})
    assert r.status_code == 409 and r.json["code"] == "mission_no_open_slot"


def test_list_filters(owner, org, published, client, resident):
    garden = published()
    body = mission_body(title="Tri des dons à République", domain="solidarite-insertion",
                        activities=["distribution"],
                        places=[{"label": "Place de la République", "geometry": point(REPUBLIQUE)}])
    solidarity = published(**{k: body[k] for k in ("title", "domain", "activities", "places")})
    remote = published(title="Traduire des fiches pratiques", domain="education", remote="full", places=[])
    ids = {garden["id"], solidarity["id"], remote["id"]}

    def found(qs: str) -> list[int]:
        r = client.get(f"/api/v1/missions?limit=100&{qs}")
        assert r.status_code == 200, r.json
        return [m["id"] for m in r.json["missions"] if m["id"] in ids]

    assert found("arrondissement=6") == [garden["id"]]
    assert set(found("arrondissement=3") + found("arrondissement=10") + found("arrondissement=11")) == {solidarity["id"]}
    assert found("domain=solidarite-insertion,education") == [solidarity["id"], remote["id"]]
    assert found("remote=full") == [remote["id"]]
    # near the Luxembourg within 1 km: the garden; with remote_too, the remote one after it
    near = client.get(f"/api/v1/missions?near={LUXEMBOURG[0]},{LUXEMBOURG[1]}&radius_m=1000&limit=100").json
    mine = [m for m in near["missions"] if m["id"] in ids]
    assert [m["id"] for m in mine] == [garden["id"]] and mine[0]["distance_m"] == 0
    with_remote = found(f"near={LUXEMBOURG[0]},{LUXEMBOURG[1]}&radius_m=1000&remote_too=true")
    assert with_remote == [garden["id"], remote["id"]]
    assert found(f"near={LUXEMBOURG[0]},{LUXEMBOURG[1]}&radius_m=5000") == [garden["id"], solidarity["id"]]
    assert found("bbox=2.36,48.86,2.37,48.87") == [solidarity["id"]]
    far = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    assert found(f"from={far}") == []
    assert set(found(f"to={far}")) == ids
    assert found("q=fiches") == [remote["id"]]
    r = client.get(f"/api/v1/missions?near={LUXEMBOURG[0]}")
    assert r.status_code == 422 and r.json["errors"][0]["field"] == "near"
    # drafts are not listed, not even with status=draft, to the public
    draft = owner.post(f"/api/v1/organisations/{org}/missions", json=mission_body(title="Brouillon secret")).json
    assert draft["id"] not in [m["id"] for m in client.get("/api/v1/missions?status=draft").json["missions"]]
    assert draft["id"] in [m["id"] for m in owner.get(f"/api/v1/missions?status=draft&organisation={org}").json["missions"]]


def test_links_to_a_report_and_a_hotspot(owner, org, make_report, client):
    report = make_report(lon=REPUBLIQUE[0], lat=REPUBLIQUE[1], title="Dépôt sauvage", category="proprete")
    nearby = make_report(lon=REPUBLIQUE[0] + 0.0003, lat=REPUBLIQUE[1], title="Encore un dépôt", category="proprete")
    far = make_report(lon=LUXEMBOURG[0], lat=LUXEMBOURG[1], title="Loin de là", category="proprete")
    links = [{"kind": "contribution", "id": report["id"]},
             {"kind": "hotspot", "center": point(REPUBLIQUE), "radius_m": 100}]
    r = owner.post(f"/api/v1/organisations/{org}/missions", json=mission_body(links=links))
    assert r.status_code == 201, r.json
    contribution, hotspot = r.json["links"]
    assert (contribution["kind"], contribution["id"], contribution["title"]) == ("report", report["id"], "Dépôt sauvage")
    assert hotspot["radius_m"] == 100 and hotspot["open_reports"] >= 2
    # once published, the reports' pages say so: the linked one, and one inside the hotspot
    assert owner.post(f"/api/v1/missions/{r.json['id']}/state", json={"action": "publish"}).status_code == 200
    for c, shown in ((report, True), (nearby, True), (far, False)):
        page = client.get(f"/c/{c['id']}").get_data(as_text=True)
        assert ("Désherber les massifs du jardin" in page) is shown, c["properties"]["title"]
    r = owner.post(f"/api/v1/organisations/{org}/missions",
                   json=mission_body(links=[{"kind": "consultation", "id": 999999}]))
    assert r.status_code == 422 and r.json["errors"][0]["field"] == "links.0.id"


def test_my_engagements(published, volunteers):
    first, second = published(), published(title="Deuxième mission au jardin")
    (v,) = volunteers(1)
    for m in (second, first):
        v.post(f"/api/v1/missions/{m['id']}/signups", json={"slot_id": m["slots"][0]["id"]})
    mine = v.get("/api/v1/me/engagements").json["signups"]
    # same start: in the order of signing up
    assert [s["mission"]["title"] for s in mine] == ["Deuxième mission au jardin", "Désherber les massifs du jardin"]
    assert {s["status"] for s in mine} == {"pending"}
    assert all(s["mission"]["organisation"] == "Les Amis du Luxembourg" for s in mine)
    assert v.get("/api/v1/me/engagements?past=true").json["signups"] == []


# ---- concurrency: real connections that commit ------------------------------------------------

@pytest.fixture
def crowd(app):
    """A committed verified organisation with a published mission of one slot of `capacity`
    places, `n` committed verified volunteers with bearer tokens; all removed afterwards."""
    made: dict = {"users": [], "orgs": []}

    def make(n: int, capacity: int):
        tag = uuid.uuid4().hex[:8]
        headers = []
        with app.app_context():
            owner = create_user(db.session, f"org-{tag}@example.org", "a long enough password", "Owner")
            owner.email_verified_at = datetime.now(UTC)
            made["users"].append(owner.id)
            for i in range(n):
                user = create_user(db.session, f"vol-{i}-{tag}@example.org", "a long enough password", f"V{i}")
                user.email_verified_at = datetime.now(UTC)
                token, _ = issue_token(db.session, user, 1)
                headers.append({"Authorization": f"Bearer {token}"})
                made["users"].append(user.id)
            db.session.flush()
            from shapely.geometry import Point

            org = services.register_organisation(db.session, owner, {
                "name": f"Crowd {tag}", "rna": f"W7{int(tag, 16) % 10**8:08d}", "siren": None, "description": "",
                "address": "", "geometry": None, "website": None, "contact_email": None, "contact_phone": None})
            org.status = "verified"
            made["orgs"].append(org.id)
            start = datetime.now(UTC) + timedelta(days=5)
            mission = services.create_mission(db.session, org, owner, {
                "title": "Mission très demandée", "description": "x", "domain": "sport", "activities": [],
                "remote": "no", "places": [{"label": "", "geometry": Point(*LUXEMBOURG)}], "schedule": "one_off",
                "slots": [{"starts_at": start, "ends_at": start + timedelta(hours=2), "capacity": capacity}],
                "recurrence": None, "period": None, "min_age": None, "skills": [], "accessibility": "",
                "reduced_mobility_accessible": False, "links": []})
            services.change_state(db.session, mission, owner, "publish", None)
            ids = mission.id, mission.slots[0].id
            db.session.commit()
        return ids, headers

    yield make
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM outbox WHERE recipient IN (SELECT email FROM users WHERE id = ANY(:u))"),
                     {"u": made["users"]})
        conn.execute(text("DELETE FROM organisations WHERE id = ANY(:o)"), {"o": made["orgs"]})
        conn.execute(text("DELETE FROM users WHERE id = ANY(:u)"), {"u": made["users"]})


def committed(sql: str, **params):
    with db.engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def test_concurrent_sign_ups_never_overbook(app, crowd):
    n, capacity = 24, 5
    (mid, slot), headers = crowd(n, capacity)
    answers = at_once(app, [
        (lambda h: lambda c: c.post(f"/api/v1/missions/{mid}/signups", json={"slot_id": slot}, headers=h))(h)
        for h in headers])
    assert Counter(a.status_code for a in answers) == {201: n}, [a.json for a in answers if a.status_code != 201]
    assert Counter(a.json["status"] for a in answers) == {"pending": capacity, "waiting": n - capacity}
    # the waiting list is a queue: positions 1…n-capacity, each once
    assert sorted(a.json["waiting_position"] for a in answers if a.json["status"] == "waiting") == \
        list(range(1, n - capacity + 1))
    assert committed("SELECT taken, waiting FROM mission_slots WHERE id = :s", s=slot) == [(capacity, n - capacity)]
    assert committed("SELECT status FROM missions WHERE id = :m", m=mid) == [("full",)]
    # the database itself refuses an overbooking, whatever the application does
    with pytest.raises(Exception, match="ck_mission_slots_taken"), db.engine.begin() as conn:
        conn.execute(text("UPDATE mission_signups SET status = 'pending' WHERE slot_id = :s AND status = 'waiting'"),
                     {"s": slot})


def test_one_person_signing_up_many_times_at_once_counts_once(app, crowd):
    (mid, slot), (headers,) = crowd(1, 3)
    answers = at_once(app, [lambda c: c.post(f"/api/v1/missions/{mid}/signups", json={"slot_id": slot},
                                             headers=headers)] * 8)
    assert Counter(a.status_code for a in answers) == {201: 1, 409: 7}
    assert {a.json["code"] for a in answers if a.status_code == 409} == {"already_signed_up"}
    assert committed("SELECT taken, waiting FROM mission_slots WHERE id = :s", s=slot) == [(1, 0)]


def test_concurrent_cancellations_promote_each_waiting_volunteer_once(app, crowd):
    (mid, slot), headers = crowd(8, 4)
    first = [app.test_client().post(f"/api/v1/missions/{mid}/signups", json={"slot_id": slot}, headers=h).json
             for h in headers]
    holders = [(f, h) for f, h in zip(first, headers, strict=True) if f["status"] == "pending"]
    answers = at_once(app, [
        (lambda f, h: lambda c: c.delete(f"/api/v1/missions/{mid}/signups/{f['id']}", headers=h))(f, h)
        for f, h in holders])
    assert Counter(a.status_code for a in answers) == {200: 4}
    assert committed("SELECT status, count(*) FROM mission_signups WHERE slot_id = :s GROUP BY 1 ORDER BY 1",
                     s=slot) == [("cancelled", 4), ("pending", 4)]
    assert committed("SELECT taken, waiting FROM mission_slots WHERE id = :s", s=slot) == [(4, 0)]



def test_deleting_an_account_frees_its_places_and_exports_its_sign_ups(owner, published, volunteers, session):
    mission = published(capacity=1)
    mid, slot = mission["id"], mission["slots"][0]["id"]
    leaving, waiting = volunteers(2)
    leaving.post(f"/api/v1/missions/{mid}/signups", json={"slot_id": slot, "message": "À samedi"})
    assert waiting.post(f"/api/v1/missions/{mid}/signups", json={"slot_id": slot}).json["status"] == "waiting"
    exported = leaving.get("/api/v1/me/export").json["mission_signups"]
    assert [(s["mission_id"], s["status"], s["message"]) for s in exported] == [(mid, "pending", "À samedi")]
    assert owner.get("/api/v1/me/export").json["organisations"][0]["role"] == "owner"
    r = leaving.post("/api/v1/me/delete", json={"password": leaving.password})
    assert r.status_code == 204, r.get_json()
    assert waiting.get(f"/api/v1/missions/{mid}").json["my_signups"][0]["status"] == "pending"
    rows = session.execute(text("SELECT status FROM mission_signups WHERE slot_id = :s ORDER BY id"),
                           {"s": slot}).scalars().all()
    assert rows == ["cancelled", "pending"]


def test_a_budget_projects_page_lists_the_missions_that_help_it(owner, org, make_user, client):
    from tests.test_budget import cycle_body, submitted

    admin = make_user(("admin",), name="Administratrice")
    made = admin.post("/api/v1/budgets", json=cycle_body(2031, "submission"))
    assert admin.patch(f"/api/v1/budgets/{made.json['id']}", json={"status": "published"}).status_code == 200
    project = submitted(owner, made.json["id"])
    r = owner.post(f"/api/v1/organisations/{org}/missions",
                   json=mission_body(links=[{"kind": "budget_project", "id": project["id"]}]))
    assert r.status_code == 201 and r.json["links"][0]["title"] == "Des arbres rue Oberkampf"
    page = client.get(f"/budget/projects/{project['id']}").get_data(as_text=True)
    assert "Désherber les massifs du jardin" not in page  # a draft helps nobody yet
    owner.post(f"/api/v1/missions/{r.json['id']}/state", json={"action": "publish"})
    page = client.get(f"/budget/projects/{project['id']}").get_data(as_text=True)
    assert 'id="missions"' in page and "Désherber les massifs du jardin" in page
