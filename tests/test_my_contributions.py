""""My contributions": what I published (edit, withdraw), supported, commented on and follow,
one tab each, with their counts; only what is public in the tabs about others' contributions."""

from __future__ import annotations

import re

from sqlalchemy import text

from tests.conftest import browser, feature
from tests.test_web import META_CSRF

TAB_COUNT = re.compile(r'href="/me/contributions(?:\?tab=(\w+))?"[^>]*>[^<]*<span class="tab-count">\((\d+)\)')
TITLES = re.compile(r'<h3 class="card-title"><a href="/c/(\d+)">([^<]+)</a>')


def tab(page, name=None):
    html = page.get("/me/contributions" + (f"?tab={name}" if name else "")).get_data(as_text=True)
    counts = {(t or "published"): int(n) for t, n in TAB_COUNT.findall(html)}
    return counts, [(int(i), title) for i, title in TITLES.findall(html)], html


def test_four_tabs_with_their_counts(client, session, make_user):
    alice, bob = make_user(name="Alice"), make_user(name="Bob")
    mine = [alice.post("/api/v1/reports", json=feature(title=f"Mon signalement {i}")).get_json()["id"]
            for i in range(2)]
    gone = alice.post("/api/v1/reports", json=feature(title="Retiré")).get_json()["id"]
    assert alice.delete(f"/api/v1/reports/{gone}").status_code == 204
    theirs = [bob.post("/api/v1/reports", json=feature(title=f"Celui de Bob {i}")).get_json()["id"]
              for i in range(3)]
    assert alice.put(f"/api/v1/reports/{theirs[0]}/vote", json={"value": 1}).status_code == 200
    for body in ("Premier", "Second"):  # two comments, one row in the tab
        assert alice.post(f"/api/v1/reports/{theirs[1]}/comments", json={"body": body}).status_code == 201
    for cid in theirs[1:]:
        assert alice.put(f"/api/v1/reports/{cid}/follow").status_code in (200, 204)
    # hidden by moderation: gone from the tabs about others' contributions
    session.execute(text("UPDATE contributions SET hidden = true WHERE id = :id"), {"id": theirs[2]})
    session.commit()

    page = browser(client, session, alice)
    counts, items, html = tab(page)
    assert counts == {"published": 2, "supported": 1, "commented": 1, "followed": 1}
    assert [i for i, _ in items] == mine[::-1]  # newest first, the withdrawn one left out
    assert html.count(f'href="/c/{mine[0]}/edit"') == 1 and f'href="/c/{mine[0]}/withdraw"' in html
    _, items, html = tab(page, "supported")
    assert items == [(theirs[0], "Celui de Bob 0")] and "/edit" not in html
    _, items, _ = tab(page, "commented")
    assert items == [(theirs[1], "Celui de Bob 1")]
    _, items, _ = tab(page, "followed")
    assert items == [(theirs[1], "Celui de Bob 1")]
    _, items, _ = tab(page, "nonsense")  # an unknown tab is the first one
    assert [i for i, _ in items] == mine[::-1]


def test_edit_from_the_page_with_the_apis_rules(client, session, make_user):
    alice, bob = make_user(name="Alice"), make_user(name="Bob")
    cid = alice.post("/api/v1/reports", json=feature(title="Tags sur le parvis")).get_json()["id"]
    page = browser(client, session, alice)
    html = page.get(f"/c/{cid}").get_data(as_text=True)
    assert f'href="/c/{cid}/edit"' in html and f'href="/c/{cid}/withdraw"' in html
    form = page.get(f"/c/{cid}/edit").get_data(as_text=True)
    assert 'value="Tags sur le parvis"' in form
    token = META_CSRF.search(form).group(1)

    # an empty title: the API's error, nothing written
    r = page.post(f"/c/{cid}/edit", data={"csrf_token": token, "title": "  ", "description": "x"})
    assert r.status_code == 200 and 'aria-invalid="true"' in r.get_data(as_text=True)
    assert session.scalar(text("SELECT title FROM contributions WHERE id = :i"), {"i": cid}) == "Tags sur le parvis"
    r = page.post(f"/c/{cid}/edit", data={"csrf_token": token, "title": "T" * 500, "description": ""})
    assert r.status_code == 200 and 'id="f-title-error">' in r.get_data(as_text=True)
    assert session.scalar(text("SELECT title FROM contributions WHERE id = :i"), {"i": cid}) == "Tags sur le parvis"

    r = page.post(f"/c/{cid}/edit", data={"csrf_token": token, "title": "Tags effacés à moitié",
                                          "description": "Il reste le mur nord."})
    assert r.status_code == 302 and r.headers["Location"] == f"/c/{cid}"
    row = session.execute(text("SELECT title, description FROM contributions WHERE id = :i"), {"i": cid}).one()
    assert tuple(row) == ("Tags effacés à moitié", "Il reste le mur nord.")
    assert "Tags effacés à moitié" in page.get(f"/c/{cid}").get_data(as_text=True)

    # someone else: no links, and the pages are 404 (as if it did not exist)
    other = browser(client, session, bob)
    assert f"/c/{cid}/edit" not in other.get(f"/c/{cid}").get_data(as_text=True)
    assert other.get(f"/c/{cid}/edit").status_code == 404
    assert other.get(f"/c/{cid}/withdraw").status_code == 404
    # without the form's token: refused, nothing written
    assert page.post(f"/c/{cid}/edit", data={"title": "Sans jeton"}).status_code == 400
    assert session.scalar(text("SELECT title FROM contributions WHERE id = :i"), {"i": cid}) == "Tags effacés à moitié"


def test_withdraw_asks_then_takes_it_off_the_map(client, session, make_user):
    alice = make_user(name="Alice")
    cid = alice.post("/api/v1/proposals", json=feature(title="Un banc ici", category="vegetalisation")).get_json()["id"]
    page = browser(client, session, alice)
    html = page.get(f"/c/{cid}/withdraw").get_data(as_text=True)
    assert "Un banc ici" in html
    assert session.scalar(text("SELECT withdrawn_at FROM contributions WHERE id = :i"), {"i": cid}) is None
    token = META_CSRF.search(html).group(1)
    r = page.post(f"/c/{cid}/withdraw", data={"csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"] == "/me/contributions"
    assert session.scalar(text("SELECT withdrawn_at IS NOT NULL FROM contributions WHERE id = :i"), {"i": cid})
    counts, items, html = tab(page)
    assert counts["published"] == 0 and items == [] and "Un banc ici" in html  # the notice names it
    assert page.get(f"/c/{cid}").status_code == 404
    assert page.get(f"/c/{cid}/withdraw").status_code == 404


NAIVE_MY_COUNTS = """
    SELECT (SELECT count(*) FROM contributions c WHERE c.author_id = :u AND c.withdrawn_at IS NULL),
           (SELECT count(*) FROM votes v JOIN contributions c ON c.id = v.contribution_id
            WHERE v.user_id = :u AND v.value = 1 AND NOT c.hidden AND c.withdrawn_at IS NULL),
           (SELECT count(DISTINCT k.contribution_id) FROM comments k JOIN contributions c ON c.id = k.contribution_id
            WHERE k.author_id = :u AND NOT k.hidden AND NOT c.hidden AND c.withdrawn_at IS NULL),
           (SELECT count(*) FROM follows f JOIN contributions c ON c.id = f.contribution_id
            WHERE f.user_id = :u AND NOT c.hidden AND c.withdrawn_at IS NULL)
"""


VOTE = "INSERT INTO votes (contribution_id, user_id, value) VALUES"
AGAIN = " ON CONFLICT (contribution_id, user_id) DO UPDATE SET value = EXCLUDED.value"  # as the API votes


def test_the_counts_stay_exact_through_every_kind_of_write(session, make_user):
    """The four numbers kept per person (my_counts) equal a count of the rows after each kind
    of write, on every side: votes, comments, follows, and the contributions themselves
    (hidden, withdrawn, shown again, another author, deleted with their votes by cascade)."""
    alice, bob = make_user(name="Alice"), make_user(name="Bob")
    people = {alice.user_id, bob.user_id}

    def exact():
        for u in people:
            kept = session.execute(text("SELECT published, supported, commented, followed FROM my_counts "
                                        "WHERE user_id = :u"), {"u": u}).one_or_none() or (0, 0, 0, 0)
            assert tuple(kept) == tuple(session.execute(text(NAIVE_MY_COUNTS), {"u": u}).one()), u

    ids = [bob.post("/api/v1/reports", json=feature(title=f"Celui de Bob {i}")).get_json()["id"] for i in range(6)]
    mine = [alice.post("/api/v1/reports", json=feature(title=f"Le mien {i}")).get_json()["id"] for i in range(3)]
    exact()
    assert session.scalar(text("SELECT published FROM my_counts WHERE user_id = :u"), {"u": bob.user_id}) == 6
    u = alice.user_id
    steps = [
        ("INSERT INTO votes (contribution_id, user_id, value) SELECT unnest(CAST(:ids AS bigint[])), :u, 1",
         {"ids": ids[:4]}),
        ("UPDATE votes SET value = -1 WHERE user_id = :u AND contribution_id = :a", {"a": ids[0]}),
        ("INSERT INTO comments (contribution_id, author_id, body) VALUES (:a, :u, 'un'), (:a, :u, 'deux'), "
         "(:b, :u, 'trois')", {"a": ids[1], "b": ids[2]}),
        ("UPDATE comments SET hidden = true WHERE author_id = :u AND body = 'un'", {}),  # 'deux' still counts
        ("UPDATE comments SET hidden = true WHERE author_id = :u AND body = 'trois'", {}),
        ("INSERT INTO follows (contribution_id, user_id) SELECT unnest(CAST(:ids AS bigint[])), :u",
         {"ids": ids[1:5]}),
        ("UPDATE contributions SET hidden = true WHERE id = ANY(:ids)", {"ids": ids[1:3]}),
        ("UPDATE contributions SET withdrawn_at = now() WHERE id = ANY(:ids)", {"ids": [ids[3], mine[0]]}),
        ("UPDATE contributions SET hidden = false WHERE id = :a", {"a": ids[1]}),
        ("UPDATE contributions SET author_id = :u WHERE id = :a", {"a": ids[5]}),
        ("UPDATE contributions SET votes_up = votes_up + 1 WHERE id = ANY(:ids)", {"ids": ids}),  # no change
        ("DELETE FROM follows WHERE user_id = :u AND contribution_id = :a", {"a": ids[4]}),
        ("DELETE FROM contributions WHERE id = ANY(:ids)", {"ids": ids[1:3]}),  # votes etc. by cascade
        # the inserts' deltas (migration f4a5b6c00030): a value changed, voted again, on a
        # withdrawn contribution, a second comment on the same one, a follow of a withdrawn one
        ("UPDATE votes SET value = 1 WHERE user_id = :u AND contribution_id = :a", {"a": ids[0]}),
        (VOTE + " (:a, :u, -1), (:b, :u, 1)" + AGAIN, {"a": ids[0], "b": ids[4]}),
        (VOTE + " (:a, :u, 1)" + AGAIN, {"a": mine[0]}),
        ("INSERT INTO comments (contribution_id, author_id, body) VALUES (:a, :u, 'cinq')", {"a": ids[4]}),
        ("INSERT INTO comments (contribution_id, author_id, body) VALUES (:a, :u, 'six'), (:b, :u, 'sept')",
         {"a": ids[4], "b": ids[3]}),
        ("INSERT INTO follows (contribution_id, user_id) VALUES (:a, :u), (:b, :u)", {"a": ids[0], "b": mine[0]}),
        ("UPDATE contributions SET withdrawn_at = NULL WHERE id = :a", {"a": ids[3]}),  # its vote, comment, follow
    ]
    for statement, params in steps:
        session.execute(text(statement), {"u": u, **params})
        exact()
    assert session.execute(text("SELECT published, supported, commented, followed FROM my_counts "
                                "WHERE user_id = :u"), {"u": u}).one() == (3, 2, 2, 2)
    session.execute(text("SELECT my_counts_rebuild()"))
    exact()


def test_commented_tab_lists_by_my_last_comment(client, session, make_user):
    """Newest last comment first, one card per contribution, hidden comments ignored."""
    alice, bob = make_user(name="Alice"), make_user(name="Bob")
    ids = [bob.post("/api/v1/reports", json=feature(title=f"Report {name}")).get_json()["id"] for name in "ABC"]
    for i, cid in enumerate([ids[0], ids[1], ids[2], ids[0], ids[1]]):
        session.execute(text("INSERT INTO comments (contribution_id, author_id, body, created_at, hidden) "
                             "VALUES (:c, :u, 'Vu', now() - make_interval(mins => :m), :h)"),
                        {"c": cid, "u": alice.user_id, "m": 10 - i, "h": i == 4})  # B's last one hidden
    session.commit()
    counts, items, _ = tab(browser(client, session, alice), "commented")
    assert [title for _, title in items] == ["Report A", "Report C", "Report B"]
    assert counts["commented"] == 3
