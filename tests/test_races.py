"""Race-free state changes, with real concurrent connections that really commit.

These tests do not use the rolled-back `connection` fixture: twenty threads send their
requests at once through the app, each on its own pooled connection, as twenty phones and
agents' tablets would. What they create is deleted afterwards.
"""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from sqlalchemy import text

from app.accounts.services import create_user, issue_token
from app.db import db
from tests.conftest import NOTRE_DAME, at_once, feature

THREADS = 20


@pytest.fixture
def world(app):
    """Committed accounts (a supervisor, a reporter, a voter) and cleanup of everything
    they made."""
    tag = uuid.uuid4().hex[:8]
    people = {}
    with app.app_context():
        for name, roles in (("supervisor", ("supervisor",)), ("reporter", ("resident",)),
                            ("voter", ("resident",))):
            user = create_user(db.session, f"race-{name}-{tag}@example.org", "a long enough password",
                               f"Race {name}", roles)
            token, _ = issue_token(db.session, user, 1)
            people[name] = (user.id, {"Authorization": f"Bearer {token}"})
        db.session.commit()
    yield people
    ids = [uid for uid, _ in people.values()]
    with db.engine.begin() as conn:
        reports = conn.execute(text("SELECT id FROM contributions WHERE author_id = ANY(:u)"),
                               {"u": ids}).scalars().all()
        conn.execute(text("DELETE FROM outbox WHERE event_id IN (SELECT id FROM status_events "
                          "WHERE contribution_id = ANY(:r))"), {"r": reports})
        conn.execute(text("DELETE FROM idempotency_keys WHERE user_id = ANY(:u)"), {"u": ids})
        conn.execute(text("DELETE FROM status_events WHERE contribution_id = ANY(:r)"), {"r": reports})
        conn.execute(text("DELETE FROM contributions WHERE id = ANY(:r)"), {"r": reports})
        conn.execute(text("DELETE FROM users WHERE id = ANY(:u)"), {"u": ids})


def new_report(app, headers, title="Course critique", lon=NOTRE_DAME[0], lat=NOTRE_DAME[1]) -> int:
    r = app.test_client().post("/api/v1/reports", json=feature(lon, lat, title=title), headers=headers)
    assert r.status_code == 201, r.json
    return r.json["id"]


def rows(sql, **params):
    with db.engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def test_twenty_identical_transitions_make_one_event_and_one_email(app, world):
    _, reporter = world["reporter"]
    _, supervisor = world["supervisor"]
    report = new_report(app, reporter)
    answers = at_once(app, [
        lambda c: c.post(f"/api/v1/reports/{report}/transitions", json={"to": "acknowledged"},
                         headers=supervisor)] * THREADS)
    codes = Counter(a.status_code for a in answers)
    assert codes == {201: 1, 409: THREADS - 1}
    losers = [a.json for a in answers if a.status_code == 409]
    assert {(p["code"], p["from"]) for p in losers} == {("illegal_transition", "acknowledged")}
    assert rows("SELECT count(*) FROM status_events WHERE contribution_id = :r", r=report)[0][0] == 1
    assert rows("""SELECT count(*) FROM outbox o JOIN status_events e ON e.id = o.event_id
                   WHERE e.contribution_id = :r""", r=report)[0][0] == 1  # the reporter, once


def test_twenty_conflicting_transitions_leave_one_consistent_record(app, world):
    _, reporter = world["reporter"]
    _, supervisor = world["supervisor"]
    voter_id, voter = world["voter"]
    original = new_report(app, reporter, "L'original")
    report = new_report(app, reporter)
    assert app.test_client().put(f"/api/v1/reports/{report}/vote", json={"value": 1},
                                 headers=voter).status_code == 200
    # from `new`, each is allowed; after any of them, none of the others is
    targets = [
        {"to": "duplicate", "duplicate_of": original},
        {"to": "resolved", "resolution": "fixed"},
        {"to": "rejected", "reason": "made_safe"},
    ]
    answers = at_once(app, [
        (lambda body: lambda c: c.post(f"/api/v1/reports/{report}/transitions", json=body,
                                       headers=supervisor))(targets[i % len(targets)])
        for i in range(THREADS)])
    won = [a for a in answers if a.status_code == 201]
    assert len(won) == 1, Counter(a.status_code for a in answers)
    final = won[0].json["status"]
    assert all(a.status_code == 409 and a.json["from"] == final for a in answers if a not in won)
    (status, duplicate_of, closed_at, resolution, reason, transferred), = rows(
        """SELECT status, duplicate_of_id, closed_at, resolution, rejection_reason, transferred_to
           FROM contributions WHERE id = :r""", r=report)
    events = rows("SELECT to_status FROM status_events WHERE contribution_id = :r", r=report)
    assert [e[0] for e in events] == [status] == [final]
    mails = rows("""SELECT o.recipient FROM outbox o JOIN status_events e ON e.id = o.event_id
                    WHERE e.contribution_id = :r""", r=report)
    assert len(mails) == 1  # the reporter, once (the voter does not follow)
    # one story, told once: only the winner's members are set
    assert (duplicate_of is not None) == (status == "duplicate")
    assert (closed_at is not None) == (status in ("resolved", "rejected", "duplicate"))
    assert (resolution is not None) == (status == "resolved")
    assert (reason is not None) == (status == "rejected")
    assert transferred is None
    # the merge ran at most once: the voter's and the reporter's "me too" on the original
    (up,), = rows("SELECT votes_up FROM contributions WHERE id = :r", r=original)
    assert up == (2 if status == "duplicate" else 0)


def test_concurrent_batches_over_the_same_reports_do_not_deadlock(app, world):
    _, reporter = world["reporter"]
    _, supervisor = world["supervisor"]
    ids = [new_report(app, reporter, f"Lot {i}") for i in range(6)]
    answers = at_once(app, [
        lambda c: c.post("/api/v1/agent/batch", json={"ids": ids, "to": "acknowledged"},
                         headers=supervisor),
        lambda c: c.post("/api/v1/agent/batch", json={"ids": ids[::-1], "to": "acknowledged"},
                         headers=supervisor),
    ] * 3)
    assert Counter(a.status_code for a in answers) == {200: 1, 409: 5}
    assert rows("SELECT count(*) FROM status_events WHERE contribution_id = ANY(:r)", r=ids)[0][0] == 6


def test_a_retried_create_with_an_idempotency_key_makes_one_report(app, world):
    """Five copies of the same report sent at once with one key (a phone retrying after
    timeouts): one report, and the same answer for all."""
    reporter_id, reporter = world["reporter"]
    headers = {**reporter, "Idempotency-Key": f"phone-{uuid.uuid4()}"}
    body = feature(title="Nid de poule rue de Rivoli")
    answers = at_once(app, [lambda c: c.post("/api/v1/reports", json=body, headers=headers)] * 5)
    assert [a.status_code for a in answers] == [201] * 5
    assert len({a.json["id"] for a in answers}) == 1
    assert len({a.headers["Location"] for a in answers}) == 1
    assert sorted(a.headers.get("Idempotent-Replayed", "") for a in answers) == [""] + ["true"] * 4
    made = rows("SELECT count(*) FROM contributions WHERE author_id = :u AND title = :t",
                u=reporter_id, t="Nid de poule rue de Rivoli")
    assert made[0][0] == 1


def test_a_close_and_proposals_at_the_same_moment_leave_no_proposal_after_the_close(app, world):
    """Nineteen residents propose while a planner closes: each proposal is either accepted and
    counted by the synthesis, or refused for the period (the close waits for the proposals
    holding the consultation's share lock; later ones see it closed) — no error, no deadlock."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    planner_id, _ = world["reporter"]  # made a planner for this test
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE users SET roles = '{planner}' WHERE id = :u"), {"u": planner_id})
    _, planner = world["reporter"]
    _, resident = world["voter"]
    today = datetime.now(ZoneInfo("Europe/Paris")).date()
    r = app.test_client().post("/api/v1/consultations", headers=planner, json={
        "title": "Course", "question": "Que faire ?", "area": {"arrondissements": [4]},
        "phases": [{"phase": "ideas", "starts_on": today.isoformat(),
                    "ends_on": (today + timedelta(days=5)).isoformat()}]})
    assert r.status_code == 201, r.json
    cid = r.json["id"]
    try:
        assert app.test_client().post(f"/api/v1/consultations/{cid}/publish", headers=planner).status_code == 200
        calls = [lambda c, i=i: c.post("/api/v1/proposals", headers=resident, json=feature(
            title=f"Idée {i}", category="mobilite", consultation=cid)) for i in range(THREADS - 1)]
        calls.append(lambda c: c.post(f"/api/v1/consultations/{cid}/close", headers=planner))
        answers = at_once(app, calls)
        assert answers[-1].status_code == 200, answers[-1].json
        statuses = Counter(a.status_code for a in answers[:-1])
        assert set(statuses) <= {201, 422}, statuses
        refused = [a.json for a in answers[:-1] if a.status_code == 422]
        assert all(p["errors"][0]["code"] == "consultation_not_taking_ideas" for p in refused)
        landed = rows("SELECT id FROM contributions WHERE consultation_id = :c", c=cid)
        assert len(landed) == statuses[201]
        summary = app.test_client().get(f"/api/v1/consultations/{cid}/synthesis").json
        assert summary["counts"]["proposals"] == statuses[201]
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM idempotency_keys WHERE user_id = :u"), {"u": planner_id})
            conn.execute(text("DELETE FROM contributions WHERE consultation_id = :c"), {"c": cid})
            conn.execute(text("DELETE FROM consultations WHERE id = :c"), {"c": cid})


def test_concurrent_votes_and_reports_of_one_person_keep_their_counts_exact(app, world):
    """"My contributions" counts (my_counts, migration c1d2e3f00027) under concurrency: one
    person votes on ten reports and files five at the same moment; each writer recounts after
    waiting for the others' lock on the person's row, so none is lost."""
    _, reporter = world["reporter"]
    voter_id, voter = world["voter"]
    reports = [new_report(app, reporter, f"Compté {i}") for i in range(10)]
    answers = at_once(app, [
        *(lambda c, r=r: c.put(f"/api/v1/reports/{r}/vote", json={"value": 1}, headers=voter) for r in reports),
        *(lambda c, i=i: c.post("/api/v1/reports", json=feature(title=f"Le mien {i}"), headers=voter)
          for i in range(5))])
    assert Counter(a.status_code for a in answers) == {200: 10, 201: 5}
    assert rows("SELECT published, supported FROM my_counts WHERE user_id = :u", u=voter_id) == [(5, 10)]


def test_first_comments_at_once_count_each_contribution_once(app, world):
    """A comment adds to its author's "commented" only when it is their first visible one on
    that contribution (migration f4a5b6c00030): twenty comments at once, ten on each of two
    reports, count two — each writer decides after waiting for the others' lock on the
    person's row, in a snapshot that sees what they committed."""
    _, reporter = world["reporter"]
    commenter_id, commenter = world["voter"]
    reports = [new_report(app, reporter, f"Commenté {i}") for i in range(2)]
    before = rows("SELECT commented FROM my_counts WHERE user_id = :u", u=commenter_id) or [(0,)]
    answers = at_once(app, [lambda c, i=i: c.post(f"/api/v1/reports/{reports[i % 2]}/comments",
                                                   json={"body": f"Toujours là ({i})"}, headers=commenter)
                            for i in range(THREADS)])
    assert Counter(a.status_code for a in answers) == {201: THREADS}
    assert rows("SELECT commented FROM my_counts WHERE user_id = :u", u=commenter_id) == [(before[0][0] + 2,)]
