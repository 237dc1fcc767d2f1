"""E-petitions through the API and the pages: drafts, moderation, signatures (one per verified
account, exact counts, thresholds crossed once, under concurrency too), the deadline at
midnight in Paris, the city's answer and its e-mails, privacy, the Atom feed, the settings."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from lxml import etree
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.accounts.services import create_user, issue_token
from app.db import db
from app.petitions.services import PUBLIC_MIN_COUNT, closing_time, suppress
from tests.conftest import at_once, browser

PARIS = ZoneInfo("Europe/Paris")
ATOM = "{http://www.w3.org/2005/Atom}"
NOTRE_DAME = [2.3499, 48.8530]
# a square on the place de la République (3e/10e/11e)
SQUARE = {"type": "Polygon", "coordinates": [[[2.3625, 48.8670], [2.3645, 48.8670], [2.3645, 48.8680],
                                              [2.3625, 48.8680], [2.3625, 48.8670]]]}


def petition_body(**changes) -> dict:
    return {"title": "Des bancs sur le parvis de Notre-Dame", "addressee": "Le maire du 4e arrondissement",
            "body": "Nous demandons des bancs à l'ombre.\nMerci.", **changes}


@pytest.fixture
def author(make_user, verify):
    return verify(make_user(name="Autrice"))


@pytest.fixture
def moderator(make_user):
    return make_user(roles=("moderator",), name="Modo")


@pytest.fixture
def planner(make_user):
    return make_user(roles=("planner",), name="Urbaniste")


@pytest.fixture
def signers(make_user, verify):
    def make(n: int, prefix="Signataire"):
        return [verify(make_user(name=f"{prefix} {i}")) for i in range(n)]

    return make


@pytest.fixture
def thresholds(session):
    def set_(answer: int | None, referral: int, days: int = 120):
        session.execute(text("UPDATE petition_settings SET answer_threshold = :a, referral_threshold = :r, "
                             "signing_days = :d"), {"a": answer, "r": referral, "d": days})
        session.commit()

    return set_


def draft(author, **changes) -> dict:
    r = author.post("/api/v1/petitions", json=petition_body(**changes))
    assert r.status_code == 201, r.json
    return r.json


@pytest.fixture
def opened(author, moderator):
    """A petition drafted, submitted and found admissible: its JSON."""

    def make(**changes) -> dict:
        pid = draft(author, **changes)["id"]
        assert author.post(f"/api/v1/petitions/{pid}/submit").status_code == 200
        r = moderator.post(f"/api/v1/petitions/{pid}/moderation", json={"decision": "admissible"})
        assert r.status_code == 200, r.json
        return r.json

    return make


def outbox(session, email: str) -> list:
    return session.execute(text("SELECT subject, body FROM outbox WHERE recipient = :e ORDER BY id"),
                           {"e": email}).all()


def events(session, pid: int) -> list[tuple]:
    return [tuple(r) for r in session.execute(text(
        "SELECT from_status, to_status, threshold FROM petition_events WHERE petition_id = :p ORDER BY at, id"),
        {"p": pid})]


# ---- drafts and moderation -----------------------------------------------------------------------

def test_a_draft_is_private_until_a_moderator_opens_it(client, author, moderator, make_user, session):
    r = author.post("/api/v1/petitions", json=petition_body(geometry={"type": "Point", "coordinates": NOTRE_DAME}))
    assert r.status_code == 201 and r.headers["Location"].endswith(f"/api/v1/petitions/{r.json['id']}")
    pid = r.json["id"]
    assert r.json["status"] == "draft" and r.json["arrondissement"] == 4 and r.json["author"] == "Autrice"
    assert r.json["geometry"] == {"type": "Point", "coordinates": NOTRE_DAME}
    # nobody else reads it, nor finds it in the list
    assert client.get(f"/api/v1/petitions/{pid}").status_code == 401
    other = make_user()
    assert other.get(f"/api/v1/petitions/{pid}").json["code"] == "forbidden"
    assert pid not in [p["id"] for p in client.get("/api/v1/petitions?limit=100").json["petitions"]]
    assert pid in [p["id"] for p in author.get("/api/v1/petitions?mine=true").json["petitions"]]
    assert client.get("/api/v1/petitions?mine=true").status_code == 401
    # the author edits it, then submits it; a moderator reads it before deciding
    r = author.patch(f"/api/v1/petitions/{pid}", json={"title": "Des bancs ombragés sur le parvis"})
    assert r.status_code == 200 and r.json["title"] == "Des bancs ombragés sur le parvis"
    assert other.patch(f"/api/v1/petitions/{pid}", json={"title": "Pas la mienne du tout"}).status_code == 403
    assert author.post(f"/api/v1/petitions/{pid}/submit").json["status"] == "awaiting_moderation"
    r = author.patch(f"/api/v1/petitions/{pid}", json={"title": "Trop tard pour changer"})
    assert r.status_code == 409 and r.json["code"] == "petition_not_draft"
    assert moderator.get(f"/api/v1/petitions/{pid}").status_code == 200
    # admissible: open until midnight (Paris) at the end of the 120th day, today's thresholds
    before = datetime.now(UTC)
    r = moderator.post(f"/api/v1/petitions/{pid}/moderation", json={"decision": "admissible"})
    assert r.status_code == 200, r.json
    p = r.json
    assert p["status"] == "open" and p["thresholds"] == {"answer": 1000, "referral": 5000}
    assert p["next_threshold"] == {"kind": "answer", "count": 1000, "remaining": 1000}
    closes = datetime.fromisoformat(p["closes_at"]).astimezone(PARIS)
    assert closes.time() == time(0, 0)
    assert closes.date() == before.astimezone(PARIS).date() + timedelta(days=121)
    assert [(e["from"], e["to"], e["by"]) for e in p["history"]] == [
        (None, "draft", "author"), ("draft", "awaiting_moderation", "author"),
        ("awaiting_moderation", "open", "moderation")]
    assert client.get(f"/api/v1/petitions/{pid}").status_code == 200  # public now
    assert "refusal_reason" not in client.get(f"/api/v1/petitions/{pid}").json
    [(subject, body)] = outbox(session, author.email)
    assert "signatures" in subject and f"/petitions/{pid}" in body
    # a decision is taken once
    again = moderator.post(f"/api/v1/petitions/{pid}/moderation", json={"decision": "refused", "reason": "Non"})
    assert again.status_code == 409 and again.json["code"] == "petition_not_awaiting_moderation"


def test_a_refusal_needs_a_reason_that_the_author_receives(client, author, moderator, session):
    pid = draft(author)["id"]
    author.post(f"/api/v1/petitions/{pid}/submit")
    r = moderator.post(f"/api/v1/petitions/{pid}/moderation", json={"decision": "refused"})
    assert r.status_code == 422 and [e["field"] for e in r.json["errors"]] == ["reason"]
    r = moderator.post(f"/api/v1/petitions/{pid}/moderation",
                       json={"decision": "refused", "reason": "Hors des compétences de la Ville"})
    assert r.status_code == 200 and r.json["status"] == "refused"
    assert author.get(f"/api/v1/petitions/{pid}").json["refusal_reason"] == "Hors des compétences de la Ville"
    assert client.get(f"/api/v1/petitions/{pid}").status_code == 401  # never published
    [(_, body)] = outbox(session, author.email)
    assert "Hors des compétences de la Ville" in body
    r = author.put(f"/api/v1/petitions/{pid}/signature", json={})
    assert r.status_code == 409 and r.json["code"] == "petition_not_open"


def test_only_verified_accounts_draft_and_sign(client, make_user, opened):
    unverified = make_user()
    r = unverified.post("/api/v1/petitions", json=petition_body())
    assert r.status_code == 403 and r.json["code"] == "email_unverified"
    pid = opened()["id"]
    r = unverified.put(f"/api/v1/petitions/{pid}/signature", json={})
    assert r.status_code == 403 and r.json["code"] == "email_unverified"
    assert client.put(f"/api/v1/petitions/{pid}/signature", json={}).status_code == 401


@pytest.mark.parametrize("changes, field, code", [
    ({"title": "Court"}, "title", "too_short"),
    ({"title": "x" * 151}, "title", "too_long"),
    ({"body": "x" * 6001}, "body", "too_long"),
    ({"addressee": "  "}, "addressee", "required"),
    ({"geometry": {"type": "Point", "coordinates": [2.25, 48.95]}}, "geometry", "outside_paris"),
    ({"geometry": {"type": "LineString", "coordinates": [NOTRE_DAME, [2.35, 48.854]]}}, "geometry",
     "geometry_type_not_allowed"),
    ({"geometry": {"type": "Point", "coordinates": NOTRE_DAME}, "arrondissement": 4}, "arrondissement",
     "not_with_geometry"),
    ({"arrondissement": 21}, "arrondissement", "out_of_range"),
    ({"arrondissement": "4"}, "arrondissement", "not_a_number"),
])
def test_invalid_drafts_are_refused_field_by_field(author, changes, field, code):
    r = author.post("/api/v1/petitions", json=petition_body(**changes))
    assert r.status_code == 422, r.json
    assert (field, code) in [(e["field"], e["code"]) for e in r.json["errors"]]


def test_a_petition_is_placed_by_a_point_an_area_or_an_arrondissement(author):
    assert draft(author, geometry=SQUARE)["arrondissement"] in (3, 10, 11)
    multi = {"type": "MultiPolygon", "coordinates": [SQUARE["coordinates"]]}
    assert draft(author, geometry=multi)["geometry"]["type"] == "MultiPolygon"
    p = draft(author, arrondissement=18)
    assert p["arrondissement"] == 18 and p["geometry"] is None
    # moving a draft onto the map replaces the named arrondissement, and back
    r = author.patch(f"/api/v1/petitions/{p['id']}", json={"geometry": {"type": "Point", "coordinates": NOTRE_DAME}})
    assert r.json["arrondissement"] == 4
    r = author.patch(f"/api/v1/petitions/{p['id']}", json={"arrondissement": 12})
    assert r.json["arrondissement"] == 12 and r.json["geometry"] is None


# ---- signatures ---------------------------------------------------------------------------------

def test_one_signature_per_account_and_exact_counts(client, opened, signers, session):
    pid = opened()["id"]
    alice, bob = signers(2)
    r = alice.put(f"/api/v1/petitions/{pid}/signature", json={"public_name": True, "arrondissement": 11})
    assert r.status_code == 200 and r.json["signatures_count"] == 1 and r.json["signed"]
    # again: the choices change, not the count
    r = alice.put(f"/api/v1/petitions/{pid}/signature", json={"public_name": False, "arrondissement": 12})
    assert r.json["signatures_count"] == 1
    assert r.json["my_signature"]["public_name"] is False and r.json["my_signature"]["arrondissement"] == 12
    assert bob.put(f"/api/v1/petitions/{pid}/signature", json={}).json["signatures_count"] == 2
    counts = session.execute(text("SELECT signatures_count, arrondissement_counts FROM petitions WHERE id = :p"),
                             {"p": pid}).one()
    assert counts[0] == 2 and counts[1][11] == 1 and counts[1][10] == 0 and counts[1][20] == 1
    assert session.scalar(text("SELECT count(*) FROM petition_signatures WHERE petition_id = :p"), {"p": pid}) == 2
    # the database refuses a second row for one account, whatever the code does
    with pytest.raises(IntegrityError, match="pk_petition_signatures"):
        with session.begin_nested():
            session.execute(text("INSERT INTO petition_signatures (petition_id, user_id) VALUES (:p, :u)"),
                            {"p": pid, "u": alice.user_id})
    assert alice.get(f"/api/v1/petitions/{pid}").json["my_signature"]["arrondissement"] == 12
    assert client.get(f"/api/v1/petitions/{pid}").json["my_signature"] is None
    # withdrawing is idempotent too
    assert alice.delete(f"/api/v1/petitions/{pid}/signature").json["signatures_count"] == 1
    r = alice.delete(f"/api/v1/petitions/{pid}/signature")
    assert r.status_code == 200 and r.json == {**r.json, "signed": False, "signatures_count": 1}
    counts = session.execute(text("SELECT arrondissement_counts FROM petitions WHERE id = :p"), {"p": pid}).scalar()
    assert counts[11] == 0 and counts[20] == 1


def test_thresholds_are_crossed_once(client, opened, signers, thresholds, session, author):
    thresholds(answer=2, referral=3)
    pid = opened()["id"]
    people = signers(5)
    answers = [a.put(f"/api/v1/petitions/{pid}/signature", json={}).json for a in people[:3]]
    assert [a["signatures_count"] for a in answers] == [1, 2, 3]
    assert [a["status"] for a in answers] == ["open", "open", "referred"]
    assert answers[0]["next_threshold"] == {"kind": "answer", "count": 2, "remaining": 1}
    assert answers[1]["next_threshold"] == {"kind": "referral", "count": 3, "remaining": 1}
    assert answers[2]["next_threshold"] is None
    # below the threshold and back above it: nothing happens twice
    people[0].delete(f"/api/v1/petitions/{pid}/signature")
    people[1].delete(f"/api/v1/petitions/{pid}/signature")
    for a in (people[0], people[1], people[3], people[4]):
        assert a.put(f"/api/v1/petitions/{pid}/signature", json={}).status_code == 200
    p = client.get(f"/api/v1/petitions/{pid}").json
    assert p["status"] == "referred" and p["signatures_count"] == 5
    assert events(session, pid)[3:] == [("open", "open", 2), ("open", "referred", 3)]
    assert [(h["to"], h["threshold"], h["by"]) for h in p["history"][3:]] == [("open", 2, None), ("referred", 3, None)]
    # the author is told of each threshold; the signers of the referral, once each
    subjects = [s for s, _ in outbox(session, author.email)]
    assert len(subjects) == 3 and "Conseil de Paris" in subjects[2]
    for a in people[:3]:
        assert len(outbox(session, a.email)) == 1
    assert outbox(session, people[3].email) == []  # signed after the referral


def test_no_signature_after_the_deadline_and_the_petition_closes_at_it(client, opened, signers, session,
                                                                        runner):
    pid, late = opened()["id"], opened()["id"]
    alice, = signers(1)
    # the deadline passes (now() is the test's transaction's start: an hour before it)
    session.execute(text("UPDATE petitions SET opened_at = now() - interval '5 days', "
                         "closes_at = now() - interval '1 hour' WHERE id = ANY(:p)"), {"p": [pid, late]})
    session.commit()
    r = alice.put(f"/api/v1/petitions/{pid}/signature", json={})
    assert r.status_code == 409 and r.json["code"] == "petition_closed"
    # the database refuses it too, should a service forget to check
    with pytest.raises(IntegrityError) as refused:
        with session.begin_nested():
            session.execute(text("INSERT INTO petition_signatures (petition_id, user_id) VALUES (:p, :u)"),
                            {"p": pid, "u": alice.user_id})
    assert refused.value.orig.diag.constraint_name == "ck_petition_signatures_collecting"
    # read: closed at its deadline, once
    for _ in range(2):
        p = client.get(f"/api/v1/petitions/{pid}").json
        assert p["status"] == "closed" and p["closed_at"] == p["closes_at"]
    # (its event is dated at the deadline, which this test moved before the others)
    assert [e for e in events(session, pid) if e[1] == "closed"] == [("open", "closed", None)]
    # the other one by the command (from a timer)
    result = runner.invoke(args=["petitions", "close-expired"])
    assert result.exit_code == 0 and "1 closed" in result.output
    assert session.scalar(text("SELECT status FROM petitions WHERE id = :p"), {"p": late}) == "closed"
    assert runner.invoke(args=["petitions", "close-expired"]).output.strip() == "petitions: 0 closed"
    assert alice.delete(f"/api/v1/petitions/{pid}/signature").json["code"] == "petition_closed"


def test_a_referred_petition_stops_collecting_at_its_deadline_and_stays_referred(client, opened, signers,
                                                                                 thresholds, session):
    thresholds(answer=None, referral=1)
    pid = opened()["id"]
    alice, bob = signers(2)
    assert alice.put(f"/api/v1/petitions/{pid}/signature", json={}).json["status"] == "referred"
    assert bob.put(f"/api/v1/petitions/{pid}/signature", json={}).json["signatures_count"] == 2  # still signed
    session.execute(text("UPDATE petitions SET opened_at = now() - interval '1 day', "
                         "closes_at = now() - interval '1 minute' WHERE id = :p"), {"p": pid})
    session.commit()
    p = client.get(f"/api/v1/petitions/{pid}").json
    assert p["status"] == "referred" and p["closed_at"] == p["closes_at"]
    assert bob.delete(f"/api/v1/petitions/{pid}/signature").json["code"] == "petition_closed"


@pytest.mark.parametrize("opened_utc, days, closes_paris", [
    # winter time → summer time (29 March 2026): the midnight ending 30 March is 22:00 UTC
    ("2026-03-20T10:00:00+00:00", 10, "2026-03-31T00:00:00+02:00"),
    # summer → winter (25 October 2026)
    ("2026-10-20T10:00:00+00:00", 10, "2026-10-31T00:00:00+01:00"),
    # 23:30 UTC is already the next day in Paris
    ("2026-01-31T23:30:00+00:00", 120, "2026-06-02T00:00:00+02:00"),
    ("2026-01-31T22:30:00+00:00", 120, "2026-06-01T00:00:00+02:00"),
])
def test_the_deadline_is_midnight_in_paris(opened_utc, days, closes_paris):
    closes = closing_time(datetime.fromisoformat(opened_utc), days)
    assert closes == datetime.fromisoformat(closes_paris)
    assert closes.astimezone(PARIS).time() == time(0, 0)


# ---- the city's answer --------------------------------------------------------------------------

def test_the_city_answers_and_every_signer_is_told(client, opened, signers, planner, make_user, session,
                                                   author, verify):
    pid = opened()["id"]
    people = signers(3)
    for a in people:
        a.put(f"/api/v1/petitions/{pid}/signature", json={})
    # an application's account (RFC 2606 .invalid) signs too: it gets no e-mail
    robot = verify(make_user())
    session.execute(text("UPDATE users SET email = :e WHERE id = :u"),
                    {"e": f"robot-{uuid.uuid4().hex[:6]}@app.invalid", "u": robot.user_id})
    session.commit()
    robot.put(f"/api/v1/petitions/{pid}/signature", json={})
    resident = people[0]
    r = resident.post(f"/api/v1/petitions/{pid}/answer", json={"answer": "Non."})
    assert r.status_code == 403
    answer = "La Ville installera six bancs au printemps."
    r = planner.post(f"/api/v1/petitions/{pid}/answer", json={"answer": answer})
    assert r.status_code == 200, r.json
    assert r.json["status"] == "answered" and r.json["answer"]["text"] == answer
    assert r.json["closed_at"] is not None and r.json["history"][-1]["by"] == "city"
    for who in (*people, author):
        [(subject, body)] = [m for m in outbox(session, who.email) if answer in m.body]
        assert "répondu" in subject or "answered" in subject
    assert session.scalar(text("SELECT count(*) FROM outbox WHERE recipient LIKE '%.invalid'")) == 0
    r = signers(1)[0].put(f"/api/v1/petitions/{pid}/signature", json={})
    assert r.status_code == 409 and r.json["code"] == "petition_closed"
    again = planner.post(f"/api/v1/petitions/{pid}/answer", json={"answer": "Encore"})
    assert again.status_code == 409 and again.json["code"] == "petition_not_answerable"
    page = client.get(f"/petitions/{pid}")
    assert answer in page.get_data(as_text=True)


# ---- privacy and aggregation --------------------------------------------------------------------

def test_nothing_public_names_a_signer_who_did_not_choose_it(client, opened, signers, session, author):
    pid = opened()["id"]
    shown, hidden = signers(1, "Montrée")[0], signers(1, "Discrète")[0]
    shown.put(f"/api/v1/petitions/{pid}/signature", json={"public_name": True, "arrondissement": 3})
    hidden.put(f"/api/v1/petitions/{pid}/signature", json={"public_name": False, "arrondissement": 3})
    public = [
        client.get(f"/api/v1/petitions/{pid}").get_data(as_text=True),
        client.get(f"/api/v1/petitions/{pid}/signatures").get_data(as_text=True),
        client.get("/api/v1/petitions?limit=100").get_data(as_text=True),
        client.get(f"/petitions/{pid}").get_data(as_text=True),
        client.get("/petitions").get_data(as_text=True),
        client.get("/petitions/feed.atom").get_data(as_text=True),
    ]
    for body in public:
        for who in (shown, hidden, author):
            assert who.email not in body
        assert "Discrète" not in body
        assert not re.search(r'"(user_id|author_id|email|actor_id|answered_by_id)"', body)
    names = client.get(f"/api/v1/petitions/{pid}/signatures").json["names"]
    assert [n["name"] for n in names] == ["Montrée 0"]
    assert "Montrée 0" in public[3]  # the page lists it too
    assert "Autrice" in public[0]  # the author, by public name


def test_counts_per_arrondissement_hide_small_ones_from_the_public(client, opened, make_user, planner, session):
    pid = opened()["id"]
    # 7 signers in the 11e, 3 in the 4e, 1 declared none: inserted as the service would, the
    # counting trigger keeping the petition's counters
    declared = [11] * 7 + [4] * 3 + [None]
    ids = [create_user(session, f"s{i}-{uuid.uuid4().hex[:6]}@example.org", "a long enough password",
                       f"S {i}").id for i in range(len(declared))]
    for uid, arrondissement in zip(ids, declared, strict=True):
        session.execute(text("INSERT INTO petition_signatures (petition_id, user_id, arrondissement) "
                             "VALUES (:p, :u, :a)"), {"p": pid, "u": uid, "a": arrondissement})
    session.commit()
    public = client.get(f"/api/v1/petitions/{pid}/signatures").json
    cells = {c["arrondissement"]: c["count"] for c in public["by_arrondissement"]}
    assert public["signatures_count"] == 11 and public["min_count"] == PUBLIC_MIN_COUNT
    assert cells[11] == 7 and cells[4] is None and cells[None] is None
    assert all(v is None for k, v in cells.items() if k != 11)
    exact = planner.get(f"/api/v1/petitions/{pid}/signatures").json
    cells = {c["arrondissement"]: c["count"] for c in exact["by_arrondissement"]}
    assert exact["min_count"] == 1 and cells[11] == 7 and cells[4] == 3 and cells[None] == 1 and cells[1] == 0
    page = client.get(f"/petitions/{pid}").get_data(as_text=True)
    assert "fewer than 5" in page or "moins de 5" in page


def test_a_lone_hidden_count_takes_a_second_one_with_it():
    # the total minus the shown counts would give a lone hidden one away
    counts = [9] * 19 + [2, 6]
    shown = suppress(counts, 5)
    assert shown[19] is None and shown[20] is None and shown[:19] == [9] * 19
    assert suppress([9] * 19 + [2, 1], 5)[:19] == [9] * 19  # two hidden already: no more
    assert suppress([0, 3, 1], 1) == [0, 3, 1]  # planners: exact


# ---- concurrency: real connections that commit ------------------------------------------------

@pytest.fixture
def crowd(app):
    """`n` committed verified accounts with bearer tokens, a committed open petition (answer
    threshold and referral threshold given), and cleanup of all of it."""
    made: dict = {"users": [], "petitions": []}

    def make(n: int, answer_at: int, referral_at: int):
        tag = uuid.uuid4().hex[:8]
        headers = []
        with app.app_context():
            author = create_user(db.session, f"crowd-author-{tag}@example.org", "a long enough password", "Auteur")
            made["users"].append(author.id)
            for i in range(n):
                user = create_user(db.session, f"crowd-{i}-{tag}@example.org", "a long enough password", f"S{i}")
                user.email_verified_at = datetime.now(UTC)
                token, _ = issue_token(db.session, user, 1)
                headers.append({"Authorization": f"Bearer {token}"})
                made["users"].append(user.id)
            pid = db.session.execute(text("""
                INSERT INTO petitions (author_id, title, body, addressee, status, opened_at, closes_at,
                                       answer_threshold, referral_threshold)
                VALUES (:a, 'Une pétition très signée', 'Texte', 'La Ville', 'open', now(),
                        now() + interval '2 days', :answer, :referral) RETURNING id
            """), {"a": author.id, "answer": answer_at, "referral": referral_at}).scalar()
            made["petitions"].append(pid)
            db.session.commit()
        return pid, headers

    yield make
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM outbox WHERE recipient IN (SELECT email FROM users WHERE id = ANY(:u))"),
                     {"u": made["users"]})
        conn.execute(text("DELETE FROM petitions WHERE id = ANY(:p)"), {"p": made["petitions"]})
        conn.execute(text("DELETE FROM users WHERE id = ANY(:u)"), {"u": made["users"]})


def committed(sql: str, **params):
    with db.engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def test_concurrent_signers_are_counted_exactly_and_cross_each_threshold_once(app, crowd):
    n = 40
    pid, headers = crowd(n, answer_at=10, referral_at=25)
    answers = at_once(app, [
        (lambda h: lambda c: c.put(f"/api/v1/petitions/{pid}/signature", json={"arrondissement": 11},
                                   headers=h))(h) for h in headers])
    assert Counter(a.status_code for a in answers) == {200: n}, [a.json for a in answers if a.status_code != 200]
    # each signer saw the count its own signature made: 1…n, each once (they queued on the row)
    assert sorted(a.json["signatures_count"] for a in answers) == list(range(1, n + 1))
    (count, per_area, status), = committed(
        "SELECT signatures_count, arrondissement_counts, status FROM petitions WHERE id = :p", p=pid)
    assert count == n == committed("SELECT count(*) FROM petition_signatures WHERE petition_id = :p", p=pid)[0][0]
    assert per_area[10] == n and status == "referred"
    assert committed("SELECT from_status, to_status, threshold FROM petition_events WHERE petition_id = :p "
                     "ORDER BY id", p=pid) == [("open", "open", 10), ("open", "referred", 25)]
    # the referral's e-mail went to the 25 who had signed by then, once each
    mails = committed("""SELECT count(*), count(DISTINCT recipient) FROM outbox
                         WHERE recipient LIKE 'crowd-%' AND subject LIKE '%Conseil de Paris%'
                           AND body LIKE '%/petitions/' || :p || '\n%'""", p=str(pid))
    assert mails == [(26, 26)]  # and its author


def test_one_account_signing_many_times_at_once_counts_once(app, crowd):
    pid, (headers,) = crowd(1, answer_at=1, referral_at=2)
    answers = at_once(app, [lambda c: c.put(f"/api/v1/petitions/{pid}/signature", json={},
                                            headers=headers)] * 10)
    assert Counter(a.status_code for a in answers) == {200: 10}
    assert {a.json["signatures_count"] for a in answers} == {1}
    assert committed("SELECT signatures_count FROM petitions WHERE id = :p", p=pid) == [(1,)]
    assert committed("SELECT count(*) FROM petition_events WHERE petition_id = :p", p=pid) == [(1,)]


def test_concurrent_readers_close_an_expired_petition_once(app, crowd):
    pid, _ = crowd(0, answer_at=1, referral_at=2)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE petitions SET opened_at = now() - interval '3 days', "
                          "closes_at = now() - interval '1 second' WHERE id = :p"), {"p": pid})
    answers = at_once(app, [lambda c: c.get(f"/api/v1/petitions/{pid}")] * 10)
    assert {a.json["status"] for a in answers} == {"closed"}
    assert committed("SELECT to_status FROM petition_events WHERE petition_id = :p", p=pid) == [("closed",)]


# ---- lists, feed, settings, moderation of published petitions ---------------------------------

def test_the_list_filters_and_pages(client, opened, author):
    mine = [opened(title=f"Pétition numéro {i} du test", arrondissement=20)["id"] for i in range(3)]
    r = client.get("/api/v1/petitions?arrondissement=20&status=open&limit=2")
    assert r.status_code == 200 and r.json["numberReturned"] == 2
    assert [p["id"] for p in r.json["petitions"]] == mine[:0:-1]
    nxt = r.json["links"][0]["href"]
    r2 = client.get(nxt[nxt.index("/api/"):])
    assert [p["id"] for p in r2.json["petitions"]][:1] == [mine[0]]
    assert [p["id"] for p in client.get("/api/v1/petitions?q=num%C3%A9ro+1+du").json["petitions"]] == [mine[1]]
    assert client.get("/api/v1/petitions?q=100%25").json["petitions"] == []  # % is a character
    assert client.get("/api/v1/petitions?status=nope").status_code == 422
    assert client.get("/api/v1/petitions?status=draft").json["petitions"] == []


def test_the_atom_feed_lists_new_petitions_and_answers(client, opened, planner, author):
    first, second = opened(title="Un premier sujet de pétition"), opened(title="Un second sujet de pétition")
    planner.post(f"/api/v1/petitions/{first['id']}/answer", json={"answer": "Réponse officielle de la Ville."})
    draft(author, title="Un brouillon que personne ne voit")
    r = client.get("/petitions/feed.atom")
    assert r.status_code == 200 and r.mimetype == "application/atom+xml"
    feed = etree.fromstring(r.data)
    assert feed.tag == f"{ATOM}feed"
    entries = feed.findall(f"{ATOM}entry")
    titles = [e.findtext(f"{ATOM}title") for e in entries]
    # newest first: the answer, then the two openings (French / English)
    assert [(t.endswith(": Un premier sujet de pétition"), "The city answered:" in t, "New petition:" in t)
            for t in titles[:3]] == [(True, True, False), (False, False, True), (True, False, True)]
    assert "Un second sujet de pétition" in titles[1]
    assert not any("brouillon" in t for t in titles)
    answered = entries[0]
    assert answered.findtext(f"{ATOM}summary") == "Réponse officielle de la Ville."
    assert answered.find(f"{ATOM}link").get("href").endswith(f"/petitions/{first['id']}")
    assert datetime.fromisoformat(answered.findtext(f"{ATOM}updated")) >= \
        datetime.fromisoformat(entries[1].findtext(f"{ATOM}updated"))
    assert len({e.findtext(f"{ATOM}id") for e in entries}) == len(entries)
    assert second["body"] in entries[1].findtext(f"{ATOM}summary")


def test_admins_set_the_thresholds_of_petitions_opened_from_then_on(client, make_user, opened, session):
    admin = make_user(roles=("admin",))
    r = admin.put("/api/v1/admin/petition-settings",
                  json={"signing_days": 30, "answer_threshold": 10000, "referral_threshold": 100000})
    assert r.status_code == 200 and r.json["referral_threshold"] == 100000
    assert admin.get("/api/v1/admin/petition-settings").json["signing_days"] == 30
    r = admin.put("/api/v1/admin/petition-settings",
                  json={"signing_days": 30, "answer_threshold": 5000, "referral_threshold": 5000})
    assert r.status_code == 422 and r.json["errors"][0]["code"] == "not_below_referral"
    assert make_user().get("/api/v1/admin/petition-settings").status_code == 403
    p = opened()
    assert p["thresholds"] == {"answer": 10000, "referral": 100000}
    closes = datetime.fromisoformat(p["closes_at"]).astimezone(PARIS)
    assert closes.date() == datetime.fromisoformat(p["opened_at"]).astimezone(PARIS).date() + timedelta(days=31)
    audit = session.execute(text("SELECT action, details FROM audit_log WHERE subject_type = 'petition_settings' "
                                 "ORDER BY id DESC LIMIT 1")).one()
    assert audit.action == "petition_settings.update" and audit.details["original"]["referral_threshold"] == 5000


def test_a_moderator_hides_and_restores_a_published_petition(client, opened, moderator, signers, author):
    pid = opened()["id"]
    r = moderator.post(f"/api/v1/petitions/{pid}/moderation", json={"decision": "hide"})
    assert r.status_code == 422
    r = moderator.post(f"/api/v1/petitions/{pid}/moderation", json={"decision": "hide", "reason": "Propos injurieux"})
    assert r.status_code == 200 and r.json["hidden"] is True
    assert client.get(f"/api/v1/petitions/{pid}").status_code == 401
    assert pid not in [p["id"] for p in client.get("/api/v1/petitions?limit=100").json["petitions"]]
    assert author.get(f"/api/v1/petitions/{pid}").json["hidden"] is True
    assert signers(1)[0].put(f"/api/v1/petitions/{pid}/signature", json={}).status_code == 403
    moderator.post(f"/api/v1/petitions/{pid}/moderation", json={"decision": "restore", "reason": "Vérifié"})
    assert client.get(f"/api/v1/petitions/{pid}").status_code == 200


def test_the_counters_command_agrees_with_a_recount(opened, signers, runner, session):
    pid = opened()["id"]
    for i, a in enumerate(signers(3)):
        a.put(f"/api/v1/petitions/{pid}/signature", json={"arrondissement": 5 + i})
    assert runner.invoke(args=["petitions", "check"]).exit_code == 0
    # a counter put wrong by hand is found
    session.execute(text("UPDATE petitions SET signatures_count = signatures_count + 1 WHERE id = :p"), {"p": pid})
    session.commit()
    result = runner.invoke(args=["petitions", "check"])
    assert result.exit_code == 1 and str(pid) in result.output


def test_history_is_append_only(opened, session):
    pid = opened()["id"]
    with pytest.raises(Exception, match="petition_events is append-only"):
        with session.begin_nested():
            session.execute(text("UPDATE petition_events SET public_note = 'x' WHERE petition_id = :p"), {"p": pid})


# ---- pages --------------------------------------------------------------------------------------

def csrf(page, path: str) -> str:
    html = page.get(path).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def test_a_resident_signs_on_the_page(client, session, opened, signers):
    p = opened(title="Plus d'arbres rue de la Roquette")
    who = signers(1, "Camille")[0]
    page = browser(client, session, who)
    html = page.get(f"/petitions/{p['id']}").get_data(as_text=True)
    assert "<progress" in html and 'id="sign-form"' in html
    token = csrf(page, f"/petitions/{p['id']}")
    r = page.post(f"/petitions/{p['id']}/sign", data={"csrf_token": token, "public_name": "on", "arrondissement": "11"})
    assert r.status_code == 302
    assert page.post(f"/petitions/{p['id']}/sign", data={"public_name": "on"}).status_code == 400  # no CSRF
    html = page.get(f"/petitions/{p['id']}").get_data(as_text=True)
    assert 'id="signed"' in html and 'id="unsign-form"' in html and "Camille 0" in html
    assert 'data-count="1"' in html
    assert client.get(f"/api/v1/petitions/{p['id']}").json["signatures_count"] == 1


def test_the_pages_of_petitions(client, session, author, moderator, make_user, opened):
    listed = opened(title="Une pétition sur la liste publique")
    assert "Une pétition sur la liste publique" in client.get("/petitions").get_data(as_text=True)
    # an unverified account is told why it cannot start one
    unverified = browser(client, session, make_user())
    assert 'id="unverified"' in unverified.get("/petitions/new").get_data(as_text=True)
    assert client.get("/petitions/new").status_code == 302  # sign in first
    # a verified one drafts and submits through the form
    page = browser(client, session, author)
    token = csrf(page, "/petitions/new")
    r = page.post("/petitions/new", data={"csrf_token": token, "title": "Court", "body": "x", "addressee": "Ville",
                                          "arrondissement": ""})
    assert r.status_code == 200 and 'aria-invalid="true"' in r.get_data(as_text=True)
    r = page.post("/petitions/new", data={"csrf_token": token, "title": "Une fontaine place des Fêtes",
                                          "body": "Une fontaine à boire.", "addressee": "La maire du 19e",
                                          "arrondissement": "19", "action": "submit"})
    assert r.status_code == 302
    pid = int(r.headers["Location"].rsplit("/", 1)[1])
    assert client.get(f"/petitions/{pid}").status_code == 302  # not public: sign in
    # the moderator admits it from the queue
    mod = browser(client, session, moderator)
    queue = mod.get("/moderation/petitions").get_data(as_text=True)
    assert f'id="petition-{pid}"' in queue
    r = mod.post(f"/moderation/petitions/{pid}", data={"csrf_token": csrf(mod, "/moderation/petitions"),
                                                        "decision": "admissible"})
    assert r.status_code == 302
    html = client.get(f"/petitions/{pid}").get_data(as_text=True)
    assert "Une fontaine place des Fêtes" in html and "<progress" in html
    assert client.get(f"/api/v1/petitions/{pid}").json["arrondissement"] == 19
    assert client.get("/petitions/999999").status_code == 404
    assert client.get(f"/petitions/{listed['id']}").status_code == 200
    assert make_user().get("/moderation/petitions").status_code in (302, 403)
    # admins' settings page
    admin = browser(client, session, make_user(roles=("admin",)))
    html = admin.get("/admin/petitions").get_data(as_text=True)
    assert 'id="settings-form"' in html and 'value="5000"' in html
    r = admin.post("/admin/petitions", data={"csrf_token": csrf(admin, "/admin/petitions"), "signing_days": "90",
                                             "answer_threshold": "", "referral_threshold": "5000"})
    assert r.status_code == 302
    assert session.execute(text("SELECT signing_days, answer_threshold FROM petition_settings")).one() == (90, None)


def test_the_author_edits_and_a_planner_answers_on_the_pages(client, session, author, planner, opened):
    page = browser(client, session, author)
    token = csrf(page, "/petitions/new")
    r = page.post("/petitions/new", data={"csrf_token": token, "title": "Un abri pour les vélos rue Oberkampf",
                                          "body": "Un abri.", "addressee": "La maire du 11e",
                                          "arrondissement": "11", "action": "save"})
    pid = int(r.headers["Location"].rsplit("/", 1)[1])
    html = page.get(f"/petitions/{pid}").get_data(as_text=True)
    assert f'/petitions/{pid}/edit' in html and f'/petitions/{pid}/submit' in html
    r = page.post(f"/petitions/{pid}/edit", data={"csrf_token": token, "title": "Un abri à vélos rue Oberkampf",
                                                  "body": "Un abri couvert.", "addressee": "La maire du 11e",
                                                  "arrondissement": "", "action": "submit"})
    assert r.status_code == 302
    p = author.get(f"/api/v1/petitions/{pid}").json
    assert (p["title"], p["body"], p["arrondissement"], p["status"]) == (
        "Un abri à vélos rue Oberkampf", "Un abri couvert.", None, "awaiting_moderation")
    assert page.get(f"/petitions/{pid}/edit").status_code == 403  # submitted: no longer editable
    # a planner answers an open petition from its page
    open_id = opened()["id"]
    city = browser(client, session, planner)
    html = city.get(f"/petitions/{open_id}").get_data(as_text=True)
    assert 'id="f-answer"' in html
    r = city.post(f"/petitions/{open_id}/answer", data={"csrf_token": csrf(city, f"/petitions/{open_id}"),
                                                        "answer": "La Ville étudie la demande."})
    assert r.status_code == 302
    assert client.get(f"/api/v1/petitions/{open_id}").json["answer"]["text"] == "La Ville étudie la demande."
    # an empty answer is refused on the page, nothing changes
    other = opened()["id"]
    r = city.post(f"/petitions/{other}/answer", data={"csrf_token": csrf(city, f"/petitions/{other}"), "answer": " "})
    assert r.status_code == 302 and 'id="petition-error"' in city.get(f"/petitions/{other}").get_data(as_text=True)
    assert client.get(f"/api/v1/petitions/{other}").json["status"] == "open"


def test_my_data_holds_my_signatures_and_deleting_my_account_hides_my_name(client, opened, signers):
    pid = opened()["id"]
    signer = signers(1, "Montrée")[0]
    signer.put(f"/api/v1/petitions/{pid}/signature", json={"public_name": True, "arrondissement": 5})
    mine = signer.get("/api/v1/me/export").json
    assert mine["signatures"] == [{"petition_id": pid, "public_name": True, "arrondissement": 5,
                                   "created_at": mine["signatures"][0]["created_at"]}]
    r = signer.post("/api/v1/me/delete", json={"password": signer.password})
    assert r.status_code in (200, 204), r.json
    after = client.get(f"/api/v1/petitions/{pid}").json
    assert after["signatures_count"] == 1  # still counted
    assert client.get(f"/api/v1/petitions/{pid}/signatures").json["names"] == []
