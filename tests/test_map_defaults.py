"""The map's default view, `status=current`: open reports, reports resolved lately, living
proposals — the clusters (from rows and from the stored cells) and the list agree with a direct
SQL count, and "everything" is no status at all."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.map.schemas import RECENT_DAYS
from tests.conftest import feature

PARIS = "2.22,48.81,2.47,48.91"
# Out of the way (other tests favour Notre-Dame and Montsouris): the Buttes-Chaumont.
BUTTES = (2.38290, 48.88090)
AROUND = "2.3800,48.8790,2.3860,48.8830"
VISIBLE = "NOT c.hidden AND c.withdrawn_at IS NULL"
# the definition, restated in SQL on purpose: the test must not read the code's lists. "The last
# 30 days" are whole days in Paris: closed at or after midnight 30 days ago.
DAY_START = (f"((date_trunc('day', now() AT TIME ZONE 'Europe/Paris') - interval '{RECENT_DAYS} days')"
             " AT TIME ZONE 'Europe/Paris')")
CURRENT_SQL = f"""{VISIBLE} AND (
    (c.kind = 'report' AND (c.status IN ('new', 'acknowledged', 'scheduled', 'monitoring',
                                         'transferred')
                            OR (c.status = 'resolved' AND c.closed_at >= {DAY_START})))
 OR (c.kind = 'proposal' AND (c.status IN ('published', 'under_review', 'accepted')
                              OR (c.status = 'realised'
                                  AND c.closed_at >= {DAY_START}))))"""


def count(session, where: str, **params) -> int:
    return session.execute(text(f"SELECT count(*) FROM contributions c WHERE {where}"), params).scalar()


@pytest.fixture(params=["rows", "cells"])
def source(request, monkeypatch):
    """The clusters from the view's rows, then from the stored cells (every view is "full")."""
    if request.param == "cells":
        monkeypatch.setattr("app.map.queries.RAW_MAX", 0)
    return request.param


def total(client, **params) -> int:
    r = client.get("/api/v1/map/clusters", query_string={"bbox": PARIS, "zoom": 12, **params})
    assert r.status_code == 200, r.get_json()
    return r.get_json()["total"]


def listed(client, **params) -> list[int]:
    ids, url, query = [], "/api/v1/map/items", {"bbox": AROUND, "limit": 100, **params}
    while url:
        r = client.get(url, query_string=query)
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        ids += [f["id"] for f in body["features"]]
        url, query = next((link["href"] for link in body["links"] if link["rel"] == "next"), None), None
    return ids


def close(session, contribution_id: int, status: str, days_ago: float) -> None:
    session.execute(text("UPDATE contributions SET status = :status, "
                         "closed_at = now() - make_interval(secs => :secs) WHERE id = :id"),
                    {"status": status, "secs": days_ago * 86400, "id": contribution_id})


@pytest.fixture
def spot(resident, session):
    """At the Buttes-Chaumont: a report of each age and outcome, and proposals."""
    made = {}
    for name in ("open", "fresh", "old", "rejected", "edge_in", "edge_out"):
        r = resident.post("/api/v1/reports", json=feature(*BUTTES, title=f"Banc {name}"))
        assert r.status_code == 201, r.get_json()
        made[name] = r.get_json()["id"]
    for name in ("idea", "done_lately", "done_long_ago"):
        r = resident.post("/api/v1/proposals", json=feature(*BUTTES, title=f"Idée {name}",
                                                            category="vegetalisation"))
        assert r.status_code == 201, r.get_json()
        made[name] = r.get_json()["id"]
    close(session, made["fresh"], "resolved", 3)
    close(session, made["old"], "resolved", 730)
    close(session, made["rejected"], "rejected", 2)  # rejected is never "current"
    for name, edge in (("edge_in", DAY_START), ("edge_out", f"{DAY_START} - interval '1 second'")):
        session.execute(text(f"UPDATE contributions SET status = 'resolved', closed_at = {edge} "
                             "WHERE id = :id"), {"id": made[name]})
    close(session, made["done_lately"], "realised", 5)
    close(session, made["done_long_ago"], "realised", 400)
    session.flush()
    return made


def test_current_is_open_and_lately_resolved(client, spot):
    ids = set(listed(client, status="current"))
    assert {spot[k] for k in ("open", "fresh", "edge_in", "idea", "done_lately")} <= ids
    assert not {spot[k] for k in ("old", "rejected", "edge_out", "done_long_ago")} & ids
    # everything (no status) has them all
    assert set(spot.values()) <= set(listed(client))


def test_current_counts_equal_sql_in_clusters_and_list(client, session, spot, source):
    assert total(client, status="current") == count(session, CURRENT_SQL)
    assert total(client) == count(session, VISIBLE)
    assert total(client, status="current") < total(client)
    bbox = "c.geom && ST_MakeEnvelope(2.3800, 48.8790, 2.3860, 48.8830, 4326)"
    assert len(listed(client, status="current")) == count(session, f"{CURRENT_SQL} AND {bbox}")
    # per kind too: `current` belongs to both
    assert total(client, status="current", kind="report") == count(
        session, f"{CURRENT_SQL} AND c.kind = 'report'")
    assert total(client, status="current", kind="proposal") == count(
        session, f"{CURRENT_SQL} AND c.kind = 'proposal'")


def test_current_combines_with_other_words_and_filters(client, session, spot, source):
    # `current,rejected`: the rejected ones of any age are added to the current ones
    ids = set(listed(client, status="current,rejected"))
    assert spot["rejected"] in ids and spot["fresh"] in ids and spot["old"] not in ids
    expected = count(session, f"({CURRENT_SQL}) OR ({VISIBLE} AND c.kind = 'report' "
                              "AND c.status = 'rejected')")
    assert total(client, status="current,rejected") == expected
    # with a category: only the reports of that category, still current
    graffiti = count(session, f"{CURRENT_SQL} AND c.kind = 'report' AND c.category_id IN ("
                              "SELECT id FROM categories WHERE code = 'graffitis' OR parent_id IN ("
                              "SELECT id FROM categories WHERE code = 'graffitis'))")
    assert total(client, status="current", category="graffitis") == graffiti


def test_a_reopened_report_is_current_again(client, session, spot, source):
    before = total(client, status="current")
    session.execute(text("UPDATE contributions SET status = 'acknowledged', closed_at = NULL "
                         "WHERE id = ANY(:ids)"), {"ids": [spot["old"], spot["fresh"]]})
    session.flush()
    assert spot["old"] in listed(client, status="current")
    assert total(client, status="current") == before + 1 == count(session, CURRENT_SQL)


def test_current_is_declared_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").get_json()
    parameters = document["paths"]["/api/v1/map/clusters"]["get"]["parameters"]
    status = next(p for p in parameters if p["name"] == "status")
    assert "current" in str(status["schema"])
    assert f"last {RECENT_DAYS} days" in status["description"]
