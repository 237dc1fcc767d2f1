"""/api/v1/map/…: grid clusters at every zoom, the list beside the map, outlines."""

from __future__ import annotations

import io
import math

import pytest
from PIL import Image
from sqlalchemy import text

from app.map.queries import MAX_VIEW_PX, POINTS_ZOOM, SHAPES_ZOOM, cell_metres, effective_zoom
from tests.conftest import feature

PARIS = "2.22,48.81,2.47,48.91"
# Out-of-the-way spots (other tests favour Notre-Dame), in Parc Montsouris and Parc de Bercy.
MONTSOURIS = (2.33830, 48.82200)
BERCY = (2.38400, 48.83500)
AROUND = "2.3370,48.8210,2.3850,48.8360"  # both, and little else
VISIBLE = "NOT c.hidden AND c.withdrawn_at IS NULL"


def clusters(client, **params):
    params.setdefault("bbox", PARIS)
    r = client.get("/api/v1/map/clusters", query_string=params)
    assert r.status_code == 200, r.get_json()
    assert r.content_type == "application/geo+json"
    return r.get_json(), r


def count(session, where="true", **params) -> int:
    return session.execute(text(f"SELECT count(*) FROM contributions c WHERE {VISIBLE} AND {where}"),
                           params).scalar()


def members(data) -> int:
    return sum(f["properties"]["count"] if f["properties"].get("cluster") else 1
               for f in data["features"])


def near(a, b, metres):
    dx = (a[0] - b[0]) * 111_320 * math.cos(math.radians(48.86))
    dy = (a[1] - b[1]) * 110_540
    return math.hypot(dx, dy) <= metres


@pytest.fixture
def proposals(resident):
    """Three proposals a few metres apart at Montsouris, one at Bercy (the demo data has none)."""
    made = []
    for i, (lon, lat) in enumerate([MONTSOURIS, (MONTSOURIS[0] + 0.0001, MONTSOURIS[1]),
                                    (MONTSOURIS[0], MONTSOURIS[1] + 0.0001), BERCY]):
        r = resident.post("/api/v1/proposals", json=feature(lon, lat, title=f"Idée {i}",
                                                            category="vegetalisation"))
        assert r.status_code == 201, r.get_json()
        made.append(r.get_json()["id"])
    return made


def test_cell_size_follows_the_zoom():
    assert cell_metres(12) == pytest.approx(2 * cell_metres(13))
    assert 1500 < cell_metres(12) < 2500  # 64 px at zoom 12 in Paris: about 1.6 km
    assert 0.5 < cell_metres(POINTS_ZOOM) < 1.0  # the very same spot, give or take the GPS


def test_a_view_larger_than_a_screen_is_clustered_as_the_zoom_that_shows_it(client, session):
    """The whole city asked at zoom 22 (a point per report, 34 MB before) is clustered as the
    zoom at which MAX_VIEW_PX show it; a phone's street view keeps its own zoom."""
    whole_city = "2.22,48.81,2.47,48.91"
    data, r = clusters(client, zoom=22, bbox=whole_city)
    assert data["total"] == count(session)
    assert data["cell_m"] == pytest.approx(cell_metres(16), abs=0.01)
    assert effective_zoom(22, (2.22, 48.81, 2.47, 48.91)) == 16
    assert len(data["features"]) <= (MAX_VIEW_PX / 64) ** 2 and len(r.data) < 2_000_000
    street, _ = clusters(client, zoom=18, bbox="2.3480,48.8520,2.3520,48.8545")
    assert street["cell_m"] == pytest.approx(cell_metres(POINTS_ZOOM), abs=0.01)


def test_city_view_aggregates_every_contribution(client, session):
    data, r = clusters(client, zoom=12)
    total = count(session)
    assert data["total"] == total and members(data) == total
    assert data["zoom"] == 12 and data["cell_m"] == pytest.approx(cell_metres(12), abs=0.01)
    assert data["clusters"] == sum(1 for f in data["features"] if f["properties"].get("cluster"))
    assert len(data["features"]) < 200  # tens of symbols, never the table
    assert len(r.data) < 300_000
    assert "db;dur=" in r.headers["Server-Timing"]
    counts = [f["properties"]["count"] for f in data["features"] if f["properties"].get("cluster")]
    assert counts == sorted(counts, reverse=True)  # fullest cells first


def test_proposals_cluster_then_split_when_zooming_in(client, proposals):
    data, _ = clusters(client, zoom=12, kind="proposal", bbox=AROUND)
    assert data["total"] == 4 and data["proposals"] == 4
    cluster = next(f for f in data["features"] if f["properties"].get("cluster"))
    single = next(f for f in data["features"] if not f["properties"].get("cluster"))
    assert cluster["properties"]["count"] == 3 and cluster["properties"]["proposals"] == 3
    w, s, e, n = cluster["properties"]["bbox"]
    assert w == pytest.approx(MONTSOURIS[0], abs=1e-5) and s == pytest.approx(MONTSOURIS[1], abs=1e-5)
    assert e == pytest.approx(MONTSOURIS[0] + 0.0001, abs=1e-5)
    assert n == pytest.approx(MONTSOURIS[1] + 0.0001, abs=1e-5)
    # placed at the members' mean position
    lon, lat = cluster["geometry"]["coordinates"]
    assert near((lon, lat), (MONTSOURIS[0] + 0.0001 / 3, MONTSOURIS[1] + 0.0001 / 3), 1)
    assert single["id"] == proposals[3]
    assert single["properties"] == {"id": proposals[3], "kind": "proposal", "category": "vegetalisation",
                                    "status": "published", "title": "Idée 3"}
    assert single["geometry"] == {"type": "Point", "coordinates": list(BERCY)}

    data, _ = clusters(client, zoom=POINTS_ZOOM, kind="proposal", bbox=AROUND)
    assert data["clusters"] == 0 and len(data["features"]) == 4
    assert sorted(f["id"] for f in data["features"]) == sorted(proposals)


def test_reports_at_the_very_same_spot_stay_grouped_at_street_level(client, make_report):
    for i in range(3):
        make_report(lon=2.29830, lat=48.85585, title=f"Même endroit {i}", category="eclairage")
    data, _ = clusters(client, zoom=POINTS_ZOOM, bbox="2.2978,48.8556,2.2988,48.8561",
                       category="eclairage")
    same = [f for f in data["features"] if f["properties"].get("cluster")]
    assert same and same[0]["properties"]["count"] >= 3
    w, s, e, n = same[0]["properties"]["bbox"]
    assert (w, s) == (e, n)


def test_shapes_drawn_as_themselves_when_zoomed_in(client, resident):
    ring = [[2.3826, 48.8806], [2.3836, 48.8806], [2.3836, 48.8812], [2.3826, 48.8812], [2.3826, 48.8806]]
    r = resident.post("/api/v1/proposals", json=feature(
        title="Un jardin", category="vegetalisation", geometry={"type": "Polygon", "coordinates": [ring]}))
    assert r.status_code == 201
    bbox = "2.380,48.879,2.386,48.883"
    low, _ = clusters(client, zoom=SHAPES_ZOOM - 1, kind="proposal", bbox=bbox)
    high, _ = clusters(client, zoom=SHAPES_ZOOM, kind="proposal", bbox=bbox)
    assert low["features"][0]["geometry"]["type"] == "Point"
    assert high["features"][0]["geometry"]["type"] == "Polygon"
    assert high["features"][0]["geometry"]["coordinates"][0][0] == ring[0]


@pytest.mark.parametrize(("params", "where"), [
    ({"category": "graffitis"}, "c.category_id IN (SELECT id FROM categories WHERE code = 'graffitis'"
                                " OR parent_id = (SELECT id FROM categories WHERE code = 'graffitis'))"),
    ({"arrondissement": "4,5"}, "c.arrondissement_id IN (4, 5)"),
    ({"status": "open"}, "c.status IN ('new','acknowledged','scheduled','monitoring','transferred')"),
    ({"since": "2024-01-01", "until": "2024-03-31"},
     "c.created_at >= '2024-01-01' AND c.created_at < '2024-04-01'"),
    ({"kind": "report"}, "c.kind = 'report'"),
])
def test_filters_match_the_database(client, session, params, where):
    data, _ = clusters(client, zoom=13, **params)
    expected = count(session, where)
    assert expected > 0
    assert data["total"] == expected == members(data)


def test_category_and_status_are_routed_to_their_kind(client, session, proposals):
    reports_only, _ = clusters(client, zoom=12, category="graffitis")
    assert reports_only["proposals"] == 0 and reports_only["total"] > 0
    proposals_only, _ = clusters(client, zoom=12, category="vegetalisation")
    greening = count(session, "c.kind = 'proposal' AND c.category_id IN (SELECT id FROM categories "
                              "WHERE code LIKE 'vegetalisation%')")
    assert proposals_only["total"] == proposals_only["proposals"] == greening >= 4
    both, _ = clusters(client, zoom=12, category="graffitis,vegetalisation")
    assert both["total"] == reports_only["total"] + greening
    published, _ = clusters(client, zoom=12, status="published")
    assert published["total"] == count(session, "c.status = 'published'") >= 4
    assert published["proposals"] == published["total"]
    nothing, _ = clusters(client, zoom=12, kind="report", category="vegetalisation")
    assert nothing["total"] == 0 and nothing["features"] == []


def test_hidden_and_withdrawn_contributions_are_not_counted(client, session, resident, proposals):
    resident.delete(f"/api/v1/proposals/{proposals[0]}")
    session.execute(text("UPDATE contributions SET hidden = true WHERE id = :id"), {"id": proposals[1]})
    data, _ = clusters(client, zoom=12, kind="proposal", bbox=AROUND)
    assert data["total"] == 2


def test_invalid_parameters_are_one_422_with_every_field(client):
    r = client.get("/api/v1/map/clusters?zoom=40&kind=dogs&category=nope&status=lost&bbox=1,2,3"
                   "&arrondissement=25&since=yesterday", headers={"Accept-Language": "en"})
    assert r.status_code == 422
    assert r.content_type == "application/problem+json"
    fields = {e["field"]: e["code"] for e in r.get_json()["errors"]}
    assert fields == {"zoom": "out_of_range", "kind": "invalid_value", "category": "unknown_category",
                      "status": "invalid_status", "bbox": "invalid_bbox",
                      "arrondissement": "out_of_range", "since": "invalid_date"}
    assert r.get_json()["detail"] == "Some fields are invalid."


def test_items_newest_first_across_kinds_with_pages(client, session, resident, proposals):
    png = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(png, "PNG")
    r = resident.post("/api/v1/reports", content_type="multipart/form-data", data={
        "feature": '{"type":"Feature","geometry":{"type":"Point","coordinates":[2.3384,48.8221]},'
                   '"properties":{"title":"Avec photo","category":"graffitis"}}',
        "photos": [(io.BytesIO(png.getvalue()), "p.png")]})
    assert r.status_code == 201, r.get_json()
    newest = r.get_json()["id"]
    page = client.get(f"/api/v1/map/items?bbox={AROUND}&limit=3",
                      headers={"Accept-Language": "en"}).get_json()
    assert page["numberReturned"] == 3
    first = page["features"][0]
    assert first["id"] == newest
    p = first["properties"]
    assert p["kind"] == "report" and p["title"] == "Avec photo" and p["photos_count"] == 1
    assert p["category"] == {"code": "graffitis", "label": "Graffiti, tags, posters and stickers",
                             "top": "graffitis", "top_label": "Graffiti, tags, posters and stickers"}
    assert p["thumbnail"].startswith("/media/photos/") and p["thumbnail"].endswith(".thumb.jpg")
    thumbnail = client.get(p["thumbnail"])
    assert thumbnail.status_code == 200 and thumbnail.content_type == "image/jpeg"
    thumbnail.close()
    assert [f["id"] for f in page["features"][1:]] == [proposals[3], proposals[2]]
    # the next link continues where the page stopped, without repeats
    nxt = next(link["href"] for link in page["links"] if link["rel"] == "next")
    second = client.get(nxt).get_json()
    assert [f["id"] for f in second["features"]] == [proposals[1], proposals[0],
                                                       second["features"][2]["id"]]
    assert second["features"][2]["properties"]["kind"] == "report"
    # the list and the map agree on the filters
    only = client.get(f"/api/v1/map/items?kind=proposal&bbox={AROUND}&limit=10").get_json()
    assert sorted(f["id"] for f in only["features"]) == sorted(proposals) and not only["links"]


def test_outlines_are_light_and_cacheable(client):
    r = client.get("/api/v1/map/areas")
    data = r.get_json()
    levels = [f["properties"]["level"] for f in data["features"]]
    assert levels.count("arrondissement") == 20 and levels.count("quartier") == 80
    assert len(r.data) < 120_000
    assert "max-age=86400" in r.headers["Cache-Control"]
    again = client.get("/api/v1/map/areas", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize(("path", "query", "field", "code"), [
    ("items", "q=%00", "q", "invalid_value"),
    ("clusters", "q=a%00b", "q", "invalid_value"),
    ("items", "source_id=" + "A" * 500, "source_id", "too_long"),
    ("items", "zoom=12", "zoom", "unknown_field"),  # the list has no zoom
    ("clusters", "limit=10", "limit", "unknown_field"),  # nor the clusters pages
    ("items", "limit=1001", "limit", "out_of_range"),
    ("items", "cursor=abc", "cursor", "invalid_cursor"),
    ("clusters", "lang=AAA", "lang", "invalid_value"),
    ("areas", "level=quartier", "level", "unknown_field"),
])
def test_map_queries_are_declared(client, path, query, field, code):
    r = client.get(f"/api/v1/map/{path}?{query}")
    assert r.status_code == 422 and r.content_type == "application/problem+json"
    assert [(e["field"], e["code"]) for e in r.get_json()["errors"]] == [(field, code)]


def test_map_filters_of_both_kinds_route_to_their_kind(client, session, proposals):
    both = client.get(f"/api/v1/map/items?bbox={AROUND}&status=published,open&limit=1000").get_json()
    kinds = {f["properties"]["kind"] for f in both["features"]}
    assert kinds == {"report", "proposal"}
    assert all(f["properties"]["status"] in ("published", "new", "acknowledged", "scheduled",
                                             "monitoring", "transferred")
               for f in both["features"])
    twice, _ = clusters(client, zoom=12, kind="proposal,proposal", bbox=AROUND)
    assert twice["total"] == 4
    empty = client.get("/api/v1/map/items?kind=&category=&status=&limit=1").get_json()
    assert {e["field"]: e["code"] for e in empty["errors"]} == {
        "kind": "required", "category": "required", "status": "required"}
