"""Votes (exact counters, one per person, also under concurrency) and comments."""

import threading

from sqlalchemy import create_engine, text

from tests.conftest import feature


def test_proposal_votes_agree_disagree_toggle(make_user):
    author, a, b = make_user(), make_user(), make_user()
    prop = author.post("/api/v1/proposals", json=feature(title="Rue aux écoles", category="mobilite"))
    url = f"/api/v1/proposals/{prop.json['id']}/vote"
    assert a.put(url, json={"value": 1}).json == {"votes": {"up": 1, "down": 0}, "my_vote": 1}
    assert a.put(url, json={"value": 1}).json["votes"] == {"up": 1, "down": 0}  # idempotent
    assert b.put(url, json={"value": -1}).json["votes"] == {"up": 1, "down": 1}
    assert a.put(url, json={"value": -1}).json["votes"] == {"up": 0, "down": 2}  # change of mind
    assert a.delete(url).json == {"votes": {"up": 0, "down": 1}, "my_vote": None}
    assert a.delete(url).json["votes"] == {"up": 0, "down": 1}  # idempotent
    read = author.get(f"/api/v1/proposals/{prop.json['id']}")
    assert read.json["properties"]["votes"] == {"up": 0, "down": 1}


def test_report_me_too_is_plus_one_only(make_user, make_report):
    report = make_report()
    voter = make_user()
    url = f"/api/v1/reports/{report['id']}/vote"
    r = voter.put(url, json={"value": -1})
    assert r.status_code == 422 and r.json["code"] == "invalid_vote"
    for bad in ({"value": True}, {"value": "1"}, {"value": 2}, {}):
        assert voter.put(url, json=bad).status_code == 422
    assert voter.put(url, json={"value": 1}).json["votes"]["up"] == 1


def test_vote_needs_an_account(client, make_report):
    report = make_report()
    assert client.put(f"/api/v1/reports/{report['id']}/vote", json={"value": 1}).status_code == 401


def test_one_vote_per_person_is_a_database_constraint(session, make_user, make_report):
    report, voter = make_report(), make_user()
    voter.put(f"/api/v1/reports/{report['id']}/vote", json={"value": 1})
    sp = session.begin_nested()
    try:
        session.execute(text("INSERT INTO votes (contribution_id, user_id, value) VALUES (:c, :u, 1)"),
                        {"c": report["id"], "u": voter.user_id})
        raise AssertionError("a second vote row was accepted")
    except Exception as exc:  # IntegrityError from the primary key
        assert "pk_votes" in str(exc)
    finally:
        sp.rollback()


def test_comments_plain_text_oldest_first(make_user, make_report, client):
    report = make_report()
    a, b = make_user(name="Anne"), make_user(name="Bob")
    url = f"/api/v1/reports/{report['id']}/comments"
    first = a.post(url, json={"body": "<script>alert(1)</script> toujours là"})
    assert first.status_code == 201
    assert first.json["body"] == "<script>alert(1)</script> toujours là"  # stored as text
    b.post(url, json={"body": "  Moi aussi  "})
    listing = client.get(url)
    assert [(c["author"], c["body"]) for c in listing.json["comments"]] == [
        ("Anne", "<script>alert(1)</script> toujours là"), ("Bob", "Moi aussi")]
    assert client.get(f"/api/v1/reports/{report['id']}").json["properties"]["comments_count"] == 2
    assert listing.content_type == "application/json"


def test_comment_limits_and_pagination(make_user, make_report, client):
    report, a = make_report(), make_user()
    url = f"/api/v1/reports/{report['id']}/comments"
    assert a.post(url, json={"body": "x" * 2001}).json["errors"][0]["code"] == "too_long"
    assert a.post(url, json={"body": "   "}).json["errors"][0]["code"] == "required"
    assert client.post(url, json={"body": "anonyme"}).status_code == 401
    for i in range(5):
        a.post(url, json={"body": f"commentaire {i}"})
    page1 = client.get(url + "?limit=3").json
    assert [c["body"] for c in page1["comments"]] == ["commentaire 0", "commentaire 1", "commentaire 2"]
    page2 = client.get(page1["links"][0]["href"]).json
    assert [c["body"] for c in page2["comments"]] == ["commentaire 3", "commentaire 4"]
    assert page2["links"] == []


def test_concurrent_votes_keep_exact_counts(app, database_url):
    """Many people voting at once through the real app (real commits, separate connections):
    the counters equal the rows."""
    from app.accounts.services import create_user, issue_token
    from app.db import db

    engine = create_engine(database_url)
    n = 24
    with app.app_context():
        s = db.sessionmaker()
        users = [create_user(s, f"concurrent{i}@example.org", "password password", f"V{i}") for i in range(n)]
        tokens = [issue_token(s, u, 1)[0] for u in users]
        s.commit()
        user_ids = [u.id for u in users]
        s.close()
    author = tokens[0]
    client = app.test_client()
    hdr = {"Authorization": f"Bearer {author}"}
    prop = client.post("/api/v1/proposals", headers=hdr, json=feature(title="Concurrence", category="sport"))
    pid = prop.json["id"]
    try:
        def vote(i):
            c = app.test_client()
            h = {"Authorization": f"Bearer {tokens[i]}"}
            for value in (1, -1, 1, -1 if i % 3 == 0 else 1):
                c.put(f"/api/v1/proposals/{pid}/vote", headers=h, json={"value": value})
            if i % 4 == 0:
                c.delete(f"/api/v1/proposals/{pid}/vote", headers=h)

        threads = [threading.Thread(target=vote, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with engine.connect() as conn:
            up, down = conn.execute(text("SELECT votes_up, votes_down FROM contributions WHERE id = :id"),
                                    {"id": pid}).one()
            rows = dict(conn.execute(text(
                "SELECT value, count(*) FROM votes WHERE contribution_id = :id GROUP BY value"), {"id": pid}).all())
        expected_up = sum(1 for i in range(n) if i % 4 and i % 3)
        expected_down = sum(1 for i in range(n) if i % 4 and i % 3 == 0)
        assert (up, down) == (rows.get(1, 0), rows.get(-1, 0)) == (expected_up, expected_down)
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM contributions WHERE id = :id"), {"id": pid})
            conn.execute(text("DELETE FROM users WHERE id = ANY(:ids)"), {"ids": user_ids})
        engine.dispose()


def test_comment_bodies_are_checked(make_user, make_report):
    a = make_user()
    url = f"/api/v1/reports/{make_report()['id']}/comments"
    cases = {
        '{"body": "a\\ud800b"}': "invalid_value",  # a lone surrogate, as JSON text can carry it
        '{"body": "\\ud800"}': "invalid_value",
        '{"body": "a\\u0000b"}': "invalid_value",
        '{"body": null}': "not_a_string",
        '{"body": 12}': "not_a_string",
        '{}': "required",
        '{"body": "ok", "extra": 1}': "unknown_field",
    }
    for raw, code in cases.items():
        r = a.post(url, data=raw, content_type="application/json")
        assert r.status_code == 422, raw
        assert code in [e["code"] for e in r.json["errors"]], (raw, r.json)
    assert a.post(url, json={"body": "  Bien vu  "}).json["body"] == "Bien vu"


def test_comment_pages_refuse_what_names_nothing(client, make_report):
    url = f"/api/v1/reports/{make_report()['id']}/comments"
    for query, field in [("after=2199023255553", "after"), ("after=-1", "after"),
                         ("limit=0", "limit"), ("limit=x", "limit"), ("page=2", "page")]:
        r = client.get(f"{url}?{query}")
        assert r.status_code == 422 and r.json["errors"][0]["field"] == field, query
    assert client.get(f"{url}?after=2147483647").json == {"comments": [], "links": []}
    assert client.get("/api/v1/reports/2199023255553/comments").status_code == 404


def test_votes_are_per_kind(make_user, make_report):
    voter = make_user()
    report_url = f"/api/v1/reports/{make_report()['id']}/vote"
    for raw in ('{"value": -1}', '{"value": 1.0}', '{"value": true}', '{"value": "1"}',
                '{"value": null}'):
        r = voter.put(report_url, data=raw, content_type="application/json")
        assert r.status_code == 422 and r.json["code"] == "invalid_vote", raw
    r = voter.put(report_url, json={"value": 1, "extra": 1})
    assert r.status_code == 422 and r.json["errors"][0]["code"] == "unknown_field"
    assert voter.put(report_url, data="[1]", content_type="application/json").status_code == 400
    assert voter.put(report_url, data="value=1", content_type="text/plain").status_code == 415
