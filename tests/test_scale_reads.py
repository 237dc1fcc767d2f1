"""The 5M read-path changes of issue 18 give the same answers as before: the agent's scope as
plain predicates (the same rows as the EXISTS over agent_scopes), the queue's counts per
status from the queue_counts roll-up (kept exact through every kind of write, and equal to a
count of the rows for every filter), the OGC first page's count read from tile_area_counts
(the same number as count(*)), "my contributions" page by page."""

from __future__ import annotations

import random
import re

from sqlalchemy import text

from app.field.queries import QueueFilters, agent_scopes
from tests.conftest import browser

POINTS = [(2.3499, 48.8530), (2.3376, 48.8606), (2.3828, 48.8809), (2.2950, 48.8738),
          (2.3601, 48.8421), (2.4011, 48.8510), (2.3200, 48.8300), (2.3700, 48.8900)]
CATEGORIES = ["graffitis", "proprete", "objets-abandonnes", "voirie"]


def _reports(session, n: int = 120, seed: int = 3) -> None:
    """n reports spread over categories (services), places (arrondissements) and statuses."""
    rng = random.Random(seed)
    for i in range(n):
        lon, lat = rng.choice(POINTS)
        session.execute(text("""
            INSERT INTO contributions (kind, category_id, status, title, geom, priority)
            SELECT 'report', id, :status, :title, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :priority
            FROM categories WHERE code = :code"""),
            {"status": rng.choice(["new", "acknowledged", "resolved", "rejected", "scheduled"]),
             "title": f"Scale {i}", "lon": lon + rng.uniform(-1e-3, 1e-3), "lat": lat,
             "code": rng.choice(CATEGORIES), "priority": rng.choice([None, None, "dangerous", "minor"])})


def _matching(session, where: str, params: dict) -> list[int]:
    return list(session.scalars(text(f"SELECT c.id FROM contributions c WHERE {where} ORDER BY c.id"), params))


def test_scope_predicates_match_the_exists(session, make_user):
    _reports(session)
    agent = make_user(roles=("agent",))
    services = dict(session.execute(text("SELECT code, service_id FROM categories WHERE code = ANY(:c)"),
                                    {"c": CATEGORIES}).all())
    arrondissements = list(session.scalars(text(
        "SELECT DISTINCT arrondissement_id FROM contributions WHERE title LIKE 'Scale %' ORDER BY 1")))
    assert len(set(services.values())) >= 2 and len(arrondissements) >= 4
    scopes_tried = [
        [],  # no scope: nothing
        [(services["graffitis"], None)],  # a service, everywhere
        [(None, arrondissements[0])],  # every service of an arrondissement
        [(services["proprete"], arrondissements[1]), (services["proprete"], arrondissements[2]),
         (services["graffitis"], arrondissements[3]), (None, arrondissements[0])],
        [(None, None)],  # everything
    ]
    for scopes in scopes_tried:
        session.execute(text("DELETE FROM agent_scopes WHERE user_id = :u"), {"u": agent.user_id})
        for service_id, arrondissement_id in scopes:
            session.execute(text("INSERT INTO agent_scopes (user_id, service_id, arrondissement_id) "
                                 "VALUES (:u, :s, :a)"), {"u": agent.user_id, "s": service_id, "a": arrondissement_id})
        for filters in (QueueFilters(agent.user_id, False, ["new"]),
                        QueueFilters(agent.user_id, False, ["new"], priority="dangerous",
                                     arrondissements=arrondissements[:2])):
            naive = _matching(session, *filters.where())  # the EXISTS over agent_scopes
            fast = _matching(session, *filters.where(agent_scopes(session, agent.user_id)))
            assert fast == naive, scopes
        if scopes == [(None, None)]:
            assert len(naive) == session.scalar(text(
                "SELECT count(*) FROM contributions WHERE kind = 'report' AND priority = 'dangerous' "
                "AND arrondissement_id = ANY(:a)"), {"a": arrondissements[:2]})


def test_queue_answer_unchanged_by_the_scope_predicates(session, make_user, client):
    _reports(session)
    agent = make_user(roles=("agent",))
    graffitis = session.scalar(text("SELECT service_id FROM categories WHERE code = 'graffitis'"))
    session.execute(text("INSERT INTO agent_scopes (user_id, service_id, arrondissement_id) VALUES (:u, :s, NULL)"),
                    {"u": agent.user_id, "s": graffitis})
    session.commit()
    body = agent.get("/api/v1/agent/queue?status=open,closed&sort=oldest&limit=1000").get_json()
    naive = session.execute(text("""
        SELECT c.status, count(*) FROM contributions c WHERE c.kind = 'report' AND NOT c.hidden
          AND c.withdrawn_at IS NULL AND c.service_id = :s GROUP BY 1"""), {"s": graffitis}).all()
    assert body["counts"] == dict(naive)
    assert [f["id"] for f in body["features"]] == list(session.scalars(text("""
        SELECT id FROM contributions WHERE kind = 'report' AND NOT hidden AND withdrawn_at IS NULL
          AND service_id = :s ORDER BY created_at, id LIMIT 1000"""),
        {"s": graffitis}))


def test_ogc_number_matched_from_the_rollup_equals_count(session, client, make_report):
    _reports(session)
    session.execute(text("UPDATE contributions SET hidden = true WHERE title = 'Scale 7'"))
    session.commit()
    cases = {"": "TRUE", "&status=open": "status IN ('new', 'acknowledged', 'scheduled', 'monitoring', "
                                         "'transferred')",
             "&category=graffitis": "category_id IN (SELECT id FROM categories WHERE code = 'graffitis' "
                                    "OR parent_id = (SELECT id FROM categories WHERE code = 'graffitis'))"}
    arrondissement = session.scalar(text("SELECT min(arrondissement_id) FROM contributions WHERE title LIKE 'Scale %'"))
    cases[f"&arrondissement={arrondissement}"] = f"arrondissement_id = {arrondissement}"
    for query, where in cases.items():
        body = client.get(f"/ogc/collections/reports/items?f=json{query}").get_json()
        naive = session.scalar(text(f"SELECT count(*) FROM contributions WHERE kind = 'report' AND NOT hidden "
                                    f"AND withdrawn_at IS NULL AND {where}"))
        assert body["numberMatched"] == naive > 0, query


def test_my_contributions_page_by_page(client, session, make_user):
    from app.web.services import MY_LIMIT

    alice = make_user(name="Alice")
    n = MY_LIMIT + 7
    for i in reversed(range(n)):  # the newest last: the order by date and by id agree
        session.execute(text("""
            INSERT INTO contributions (kind, category_id, status, title, geom, author_id, created_at)
            SELECT 'report', id, 'new', :title, ST_SetSRID(ST_MakePoint(2.35, 48.853), 4326), :a,
                   now() - make_interval(mins => :i)
            FROM categories WHERE code = 'graffitis'"""), {"title": f"Le mien {i}", "a": alice.user_id, "i": i})
    session.commit()
    page = browser(client, session, alice)
    html = page.get("/me/contributions").get_data(as_text=True)
    first = re.findall(r'<h3 class="card-title"><a href="/c/\d+">([^<]+)</a>', html)
    assert first == [f"Le mien {i}" for i in range(MY_LIMIT)]
    assert f'<span class="tab-count">({n})</span>' in html
    link = re.search(r'<a rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    html = page.get(link).get_data(as_text=True)
    second = re.findall(r'<h3 class="card-title"><a href="/c/\d+">([^<]+)</a>', html)
    assert second == [f"Le mien {i}" for i in range(MY_LIMIT, n)]
    assert 'rel="next"' not in html
    # a cursor that is not ours is the first page
    assert "Le mien 0<" in page.get("/me/contributions?before=nonsense").get_data(as_text=True)


NAIVE_QUEUE_COUNTS = """
    WITH naive AS (
        SELECT coalesce(service_id, 0) AS service_id, arrondissement_id, category_id, status,
               coalesce(priority, '') AS priority, count(*)::int AS n
        FROM contributions WHERE kind = 'report' AND NOT hidden AND withdrawn_at IS NULL
        GROUP BY 1, 2, 3, 4, 5),
    kept AS (SELECT service_id, arrondissement_id, category_id, status, priority, n
             FROM queue_counts WHERE n <> 0)
    SELECT (SELECT count(*) FROM (SELECT * FROM naive EXCEPT ALL SELECT * FROM kept) a)
         + (SELECT count(*) FROM (SELECT * FROM kept EXCEPT ALL SELECT * FROM naive) b)
"""


def test_queue_counts_stay_exact_through_every_kind_of_write(session):
    def exact():
        assert session.scalar(text(NAIVE_QUEUE_COUNTS)) == 0
        assert session.scalar(text("SELECT count(*) FROM queue_counts WHERE n < 0")) == 0

    exact()  # the migration's count
    _reports(session)
    assert session.scalar(text("SELECT sum(n) FROM queue_counts")) >= 120
    exact()
    ids = list(session.scalars(text("SELECT id FROM contributions WHERE title LIKE 'Scale %' ORDER BY id")))
    other_service = session.scalar(text("SELECT service_id FROM categories WHERE code = 'voirie'"))
    steps = [
        ("UPDATE contributions SET status = 'resolved', closed_at = now() WHERE id = ANY(:ids)", {"ids": ids[:20]}),
        ("UPDATE contributions SET service_id = :s WHERE id = ANY(:ids)", {"s": other_service, "ids": ids[20:30]}),
        ("UPDATE contributions SET service_id = NULL WHERE id = :a", {"a": ids[30]}),  # unrouted
        ("UPDATE contributions SET priority = 'annoying' WHERE id = ANY(:ids)", {"ids": ids[30:40]}),
        ("UPDATE contributions SET priority = NULL WHERE id = ANY(:ids)", {"ids": ids[35:45]}),
        ("UPDATE contributions SET hidden = true WHERE id = ANY(:ids)", {"ids": ids[40:50]}),
        ("UPDATE contributions SET withdrawn_at = now() WHERE id = :a", {"a": ids[50]}),
        ("UPDATE contributions SET hidden = false WHERE id = ANY(:ids)", {"ids": ids[40:45]}),
        ("UPDATE contributions SET geom = ST_SetSRID(ST_MakePoint(2.3900, 48.8300), 4326) "
         "WHERE id = ANY(:ids)", {"ids": ids[60:65]}),  # another arrondissement
        ("UPDATE contributions SET category_id = (SELECT id FROM categories WHERE code = 'proprete') "
         "WHERE id = ANY(:ids)", {"ids": ids[65:70]}),
        ("UPDATE contributions SET votes_up = votes_up + 1 WHERE id = ANY(:ids)", {"ids": ids}),  # no change
        ("DELETE FROM contributions WHERE id = ANY(:ids)", {"ids": ids[100:]}),
    ]
    for statement, params in steps:
        session.execute(text(statement), params)
        exact()
    assert session.scalar(text("SELECT queue_counts_rebuild()")) == session.scalar(text(
        "SELECT count(*) FROM contributions WHERE kind = 'report' AND NOT hidden AND withdrawn_at IS NULL"))
    exact()


def test_queue_counts_from_the_rollup_match_the_rows(session, make_user):
    """Every filter of the queue: the counts per status (roll-up, minus the reports created
    since for older_than_days) equal a count of the rows under the queue's own WHERE."""
    from app.field.queries import queue

    _reports(session)
    # some of them old: 10, 40 and 400 days
    session.execute(text("""UPDATE contributions SET created_at = now() - make_interval(days => ((id % 3) * 195 + 10)::int)
                            WHERE title LIKE 'Scale %' AND id % 2 = 0"""))
    agent = make_user(roles=("agent",))
    services = dict(session.execute(text("SELECT code, service_id FROM categories WHERE code = ANY(:c)"),
                                    {"c": CATEGORIES}).all())
    arrondissements = list(session.scalars(text(
        "SELECT DISTINCT arrondissement_id FROM contributions WHERE title LIKE 'Scale %' ORDER BY 1")))
    for service_id, arrondissement_id in [(services["proprete"], arrondissements[0]),
                                          (services["proprete"], arrondissements[1]),
                                          (services["graffitis"], None), (None, arrondissements[2])]:
        session.execute(text("INSERT INTO agent_scopes (user_id, service_id, arrondissement_id) VALUES (:u, :s, :a)"),
                        {"u": agent.user_id, "s": service_id, "a": arrondissement_id})
    graffitis = session.scalar(text("SELECT id FROM categories WHERE code = 'graffitis'"))
    tried = 0
    for supervisor in (False, True):
        for extra in ({}, {"priority": "dangerous"}, {"older_than_days": 30}, {"older_than_days": 200},
                      {"arrondissements": arrondissements[:3], "older_than_days": 5},
                      {"category_ids": [graffitis]}, {"category_ids": []}, {"assigned_to_me": True}):
            f = QueueFilters(agent.user_id, supervisor, ["new"], **extra)
            where, params = f.where(None if supervisor else agent_scopes(session, agent.user_id))
            naive = dict(session.execute(text(
                f"SELECT c.status, count(*) FROM contributions c WHERE {where} GROUP BY 1"), params).all())
            assert queue(session, f, "fr")[1] == naive, (supervisor, extra)
            tried += bool(naive)
    assert tried >= 10  # the cases counted something
