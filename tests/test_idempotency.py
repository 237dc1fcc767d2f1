"""Idempotency-Key on creates (reports, proposals, comments, transitions): a retry gets the
first answer and creates nothing more (the concurrent case is in tests/test_races.py)."""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import feature


def count(session, sql, **params) -> int:
    return session.execute(text(sql), params).scalar()


def test_a_repeated_report_is_created_once(resident, session):
    key = {"Idempotency-Key": "3f2b8c1e-report-1"}
    first = resident.post("/api/v1/reports", json=feature(title="Encombrant unique"), headers=key)
    again = resident.post("/api/v1/reports", json=feature(title="Encombrant unique"), headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert count(session, "SELECT count(*) FROM contributions WHERE title = 'Encombrant unique'") == 1
    # without a key, a second post is a second report
    resident.post("/api/v1/reports", json=feature(title="Encombrant unique"))
    assert count(session, "SELECT count(*) FROM contributions WHERE title = 'Encombrant unique'") == 2


def test_the_same_key_with_another_request_is_refused(resident, session):
    key = {"Idempotency-Key": "k-42"}
    assert resident.post("/api/v1/reports", json=feature(title="Premier"), headers=key).status_code == 201
    r = resident.post("/api/v1/reports", json=feature(title="Second"), headers=key)
    assert r.status_code == 422 and r.json["code"] == "idempotency_key_reused"
    assert count(session, "SELECT count(*) FROM contributions WHERE title = 'Second'") == 0


def test_keys_belong_to_their_account(make_user, session):
    alice, bob = make_user(name="Alice"), make_user(name="Bob")
    key = {"Idempotency-Key": "same-key"}
    a = alice.post("/api/v1/reports", json=feature(title="Chez Alice"), headers=key)
    b = bob.post("/api/v1/reports", json=feature(title="Chez Alice"), headers=key)
    assert a.json["id"] != b.json["id"] and "Idempotent-Replayed" not in b.headers


def test_an_error_is_not_kept_so_the_fixed_request_goes_through(resident, session):
    key = {"Idempotency-Key": "fix-and-retry"}
    bad = resident.post("/api/v1/reports", json=feature(title="x"), headers=key)
    assert bad.status_code == 422
    good = resident.post("/api/v1/reports", json=feature(title="Corrigé"), headers=key)
    assert good.status_code == 201 and "Idempotent-Replayed" not in good.headers


def test_comments_and_transitions_replay_too(resident, make_report, make_user, session):
    report = make_report(title="Tag à commenter")
    url = f"/api/v1/reports/{report['id']}"
    key = {"Idempotency-Key": "comment-1"}
    c1 = resident.post(f"{url}/comments", json={"body": "Toujours là"}, headers=key)
    c2 = resident.post(f"{url}/comments", json={"body": "Toujours là"}, headers=key)
    assert c1.json == c2.json
    assert count(session, "SELECT count(*) FROM comments WHERE contribution_id = :c", c=report["id"]) == 1
    supervisor = make_user(roles=("supervisor",))
    key = {"Idempotency-Key": "ack-1"}
    t1 = supervisor.post(f"{url}/transitions", json={"to": "acknowledged"}, headers=key)
    t2 = supervisor.post(f"{url}/transitions", json={"to": "acknowledged"}, headers=key)
    assert t1.status_code == t2.status_code == 201 and t1.json == t2.json  # not a 409
    assert count(session, "SELECT count(*) FROM status_events WHERE contribution_id = :c", c=report["id"]) == 1


def test_a_malformed_key_is_a_400(resident):
    r = resident.post("/api/v1/reports", json=feature(), headers={"Idempotency-Key": "é" * 3})
    assert r.status_code == 400 and r.json["code"] == "malformed_request"
    r = resident.post("/api/v1/reports", json=feature(), headers={"Idempotency-Key": "x" * 256})
    assert r.status_code == 400


def test_the_daily_purge_forgets_old_keys_and_ended_tokens(resident, runner, session):
    resident.post("/api/v1/reports", json=feature(title="Gardé"), headers={"Idempotency-Key": "fresh"})
    resident.post("/api/v1/reports", json=feature(title="Oublié"), headers={"Idempotency-Key": "old"})
    session.execute(text("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' "
                         "WHERE key = 'old'"))
    session.execute(text("""UPDATE api_tokens SET revoked_at = now() - interval '2 days'
                            WHERE user_id = :u"""), {"u": resident.user_id})
    session.commit()
    result = runner.invoke(args=["maintenance", "purge"])
    assert result.exit_code == 0 and "1 idempotency key(s), 1 ended token(s)" in result.output
    assert session.execute(text("SELECT key FROM idempotency_keys WHERE user_id = :u"),
                           {"u": resident.user_id}).scalars().all() == ["fresh"]
