"""Vector tiles: decoded with mapbox-vector-tile (y down) and read by GDAL's MVT driver.

Positions are checked against Web-Mercator arithmetic done here, counts against plain SQL over
`contributions`, and the pre-aggregated cells against a naive GROUP BY after every kind of write.
"""

from __future__ import annotations

import gzip
import math
import re
import shutil
import subprocess
import urllib.request

import mapbox_vector_tile
import pytest
from sqlalchemy import text

from app.contributions.models import REPORT_CLOSED, REPORT_OPEN
from tests.conftest import feature

LOUVRE = (2.33762, 48.86057)
EXTENT = 4096


def decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, float, float]:
    """(x, y, px, py): the XYZ tile holding the point and its position in it (0–4096, y down)."""
    n = 2**z
    fx = (lon + 180.0) / 360.0 * n
    lat_r = math.radians(lat)
    fy = (1.0 - math.log(math.tan(lat_r) + 1.0 / math.cos(lat_r)) / math.pi) / 2.0 * n
    x, y = int(fx), int(fy)
    return x, y, (fx - x) * EXTENT, (fy - y) * EXTENT


def get_tile(client, layer: str, z: int, x: int, y: int, **query) -> dict:
    r = client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt", query_string=query)
    assert r.status_code == 200, r.data[:300]
    assert r.content_type == "application/vnd.mapbox-vector-tile"
    return decode(r.data)


def features(tile: dict, layer: str = "contributions") -> list[dict]:
    return tile.get(layer, {}).get("features", [])


def by_id(tile: dict, contribution_id: int) -> dict | None:
    return next((f for f in features(tile) if f.get("id") == contribution_id), None)


# what a filter means, written out in SQL here (not with the app's filter code)
SQL_FILTERS = {
    "all": ("true", {}),
    "reports": ("c.kind = 'report'", {"kind": "report"}),
    "proposals": ("c.kind = 'proposal'", {"kind": "proposal"}),
    "graffitis": ("(cat.code = 'graffitis' OR parent.code = 'graffitis')", {"category": "graffitis"}),
    "one sub-category": ("cat.code = 'proprete.dechets-et-ou-salissures-divers'",
                         {"category": "proprete.dechets-et-ou-salissures-divers"}),
    "open": (f"c.kind = 'report' AND c.status IN {tuple(REPORT_OPEN)}", {"status": "open"}),
    "closed objets": (f"c.kind = 'report' AND c.status IN {tuple(REPORT_CLOSED)} AND "
                      "(cat.code = 'objets-abandonnes' OR parent.code = 'objets-abandonnes')",
                      {"status": "closed", "category": "objets-abandonnes"}),
}


def sql_count(session, z: int, x: int, y: int, where: str) -> int:
    return session.execute(text(f"""
        SELECT count(*) FROM contributions c
        JOIN categories cat ON cat.id = c.category_id
        LEFT JOIN categories parent ON parent.id = cat.parent_id
        WHERE NOT c.hidden AND c.withdrawn_at IS NULL AND {where}
          AND ST_Intersects(ST_Transform(CASE WHEN GeometryType(c.geom) = 'POINT' THEN c.geom
                                         ELSE ST_PointOnSurface(c.geom) END, 3857),
                            ST_TileEnvelope(:z, :x, :y))"""), {"z": z, "x": x, "y": y}).scalar()


# ---- positions -----------------------------------------------------------------------------

def test_a_report_lands_at_its_pixel_at_every_feature_zoom(client, make_report):
    report = make_report(lon=LOUVRE[0], lat=LOUVRE[1], title="Tag au Louvre")
    for z in (15, 16, 18, 22):
        x, y, px, py = tile_of(*LOUVRE, z)
        tile = get_tile(client, "contributions", z, x, y)
        layer = tile["contributions"]
        assert layer["extent"] == EXTENT and layer["version"] == 2
        found = by_id(tile, report["id"])
        assert found, z
        assert found["geometry"]["type"] == "Point"
        gx, gy = found["geometry"]["coordinates"]
        assert abs(gx - px) <= 1 and abs(gy - py) <= 1, (z, (gx, gy), (px, py))
        assert found["properties"] == {"kind": "report", "category": "graffitis", "top": "graffitis",
                                       "status": "new", "title": "Tag au Louvre"}
    # the neighbouring tile does not have it
    x, y, _, _ = tile_of(*LOUVRE, 18)
    assert by_id(get_tile(client, "contributions", 18, x + 3, y), report["id"]) is None


def test_a_proposal_polygon_is_drawn_as_a_polygon(client, resident):
    ring = [[2.3370, 48.8600], [2.3380, 48.8600], [2.3380, 48.8610], [2.3370, 48.8610], [2.3370, 48.8600]]
    r = resident.post("/api/v1/proposals", json=feature(
        title="Une placette plantée", category="vegetalisation",
        geometry={"type": "Polygon", "coordinates": [ring]}))
    assert r.status_code == 201, r.get_json()
    x, y, _, _ = tile_of(2.3375, 48.8605, 16)
    found = by_id(get_tile(client, "contributions", 16, x, y), r.get_json()["id"])
    assert found["geometry"]["type"] == "Polygon"
    assert found["properties"]["kind"] == "proposal" and found["properties"]["top"] == "vegetalisation"
    xs = sorted({round(p[0]) for p in found["geometry"]["coordinates"][0]})
    _, _, west, north = tile_of(2.3370, 48.8610, 16)
    _, _, east, south = tile_of(2.3380, 48.8600, 16)
    assert abs(xs[0] - west) <= 1 and abs(xs[-1] - east) <= 1
    ys = sorted({round(p[1]) for p in found["geometry"]["coordinates"][0]})
    assert abs(ys[0] - north) <= 1 and abs(ys[-1] - south) <= 1  # y down: north is smaller


# ---- aggregated cells ---------------------------------------------------------------------

@pytest.mark.parametrize("name", list(SQL_FILTERS))
def test_cell_counts_sum_to_the_public_contributions_in_the_tile(client, session, resident, name):
    where, query = SQL_FILTERS[name]
    # the extract holds reports only: a polygon and a line proposal (counted at a point on them)
    square = [[2.3470, 48.8520], [2.3480, 48.8520], [2.3480, 48.8528], [2.3470, 48.8528], [2.3470, 48.8520]]
    for category, geometry in (("vegetalisation", {"type": "Polygon", "coordinates": [square]}),
                               ("mobilite", {"type": "LineString", "coordinates": square[:3]})):
        r = resident.post("/api/v1/proposals", json=feature(title="Au parvis", category=category,
                                                            geometry=geometry))
        assert r.status_code == 201, r.get_json()
    # and the extract's reports are all open: close some (every 7th, so cells mix statuses)
    session.execute(text("UPDATE contributions SET status = 'resolved' WHERE kind = 'report' AND id % 7 = 0"))
    session.commit()
    for z in (8, 10, 11, 13, 14):  # levels read as stored, and summed 2 × 2 or 4 × 4
        x, y, _, _ = tile_of(2.3499, 48.8530, z)  # Notre-Dame: the extract is dense around it
        cells = features(get_tile(client, "contributions", z, x, y, **query))
        expected = sql_count(session, z, x, y, where)
        assert expected > 0
        assert sum(f["properties"]["count"] for f in cells) == expected, z
        for f in cells:
            p = f["properties"]
            assert p["count"] == p["reports"] + p["proposals"] > 0
            tops = {k[2:]: v for k, v in p.items() if k.startswith("n_")}
            assert sum(tops.values()) == p["count"]
            assert p["top_count"] == tops[p["top"]] == max(tops.values())
            # at the centre of a 256-unit cell (16 × 16 cells a tile)
            cx, cy = f["geometry"]["coordinates"]
            assert cx % 256 == 128 and cy % 256 == 128 and 0 < cx < EXTENT and 0 < cy < EXTENT
        if name == "reports":
            assert all(f["properties"]["proposals"] == 0 for f in cells)


def test_a_crowded_tile_from_zoom_15_is_drawn_as_cells(client, session, monkeypatch):
    from app.tiles import services

    x, y, _, _ = tile_of(2.3499, 48.8530, 15)
    expected = sql_count(session, 15, x, y, "true")
    inside = [f for f in features(get_tile(client, "contributions", 15, x, y))
              if all(0 <= c <= EXTENT for c in f["geometry"]["coordinates"])]  # (not the buffer's)
    assert len(inside) == expected and all("count" not in f["properties"] for f in inside)
    monkeypatch.setattr(services, "FEATURES_MAX", expected - 1)
    cells = features(get_tile(client, "contributions", 15, x, y))
    assert sum(f["properties"]["count"] for f in cells) == expected
    # the finest stored cells: 8 × 8 a tile at zoom 15, 512 units each
    assert all(c % 512 == 256 for f in cells for c in f["geometry"]["coordinates"])


def test_a_report_is_counted_in_the_cell_under_it(client, make_report):
    x, y, px, py = tile_of(*LOUVRE, 14)
    cell = (int(px // 256), int(py // 256))

    def in_cell() -> int:
        tile = get_tile(client, "contributions", 14, x, y, category="graffitis")
        return sum(f["properties"]["count"] for f in features(tile)
                   if (f["geometry"]["coordinates"][0] // 256, f["geometry"]["coordinates"][1] // 256) == cell)

    before = in_cell()
    make_report(lon=LOUVRE[0], lat=LOUVRE[1])
    assert in_cell() == before + 1


# ---- what is never shown ------------------------------------------------------------------

def test_hidden_and_withdrawn_contributions_never_appear(client, session, make_report):
    x, y, _, _ = tile_of(*LOUVRE, 17)
    zx, zy, _, _ = tile_of(*LOUVRE, 12)

    def total() -> int:
        return sum(f["properties"]["count"] for f in features(get_tile(client, "contributions", 12, zx, zy)))

    start = total()
    hidden, withdrawn = make_report(lon=LOUVRE[0], lat=LOUVRE[1]), make_report(lon=LOUVRE[0], lat=LOUVRE[1])
    assert total() == start + 2
    session.execute(text("UPDATE contributions SET hidden = true WHERE id = :id"), {"id": hidden["id"]})
    session.execute(text("UPDATE contributions SET withdrawn_at = now() WHERE id = :id"),
                    {"id": withdrawn["id"]})
    session.commit()
    tile = get_tile(client, "contributions", 17, x, y)
    assert by_id(tile, hidden["id"]) is None and by_id(tile, withdrawn["id"]) is None
    assert total() == start


def test_a_sensitive_category_shows_its_coarse_point_never_the_exact_one(client, session, make_report):
    code = "graffitis.abribus"
    session.execute(text("UPDATE categories SET sensitive = true WHERE code = :c"), {"c": code})
    session.commit()
    report = make_report(lon=LOUVRE[0], lat=LOUVRE[1], category=code)
    coarse = session.execute(text("SELECT ST_X(geom), ST_Y(geom), ST_Equals(geom, exact_geom) "
                                  "FROM contributions WHERE id = :id"), {"id": report["id"]}).one()
    assert coarse[2] is False  # the trigger moved it
    z = 20
    x, y, px, py = tile_of(coarse[0], coarse[1], z)
    found = by_id(get_tile(client, "contributions", z, x, y), report["id"])
    assert found, "the coarse point's tile has it"
    gx, gy = found["geometry"]["coordinates"]
    assert abs(gx - px) <= 1 and abs(gy - py) <= 1
    ex, ey, _, _ = tile_of(*LOUVRE, z)
    if (ex, ey) == (x, y):
        _, _, epx, epy = tile_of(*LOUVRE, z)
        assert (abs(gx - epx), abs(gy - epy)) != (0, 0)
    else:
        assert by_id(get_tile(client, "contributions", z, ex, ey), report["id"]) is None


# ---- the pre-aggregated tables stay exact --------------------------------------------------

# every cell recounted from the rows: its count and the sums of its members' EPSG:3857
# coordinates in centimetres (the map places a cluster at their mean), per quartier; and the
# closings of the last 35 days per closing day in Paris (map_recent_cells)
NAIVE_CELLS = """
    WITH p AS (
        SELECT c.kind, c.category_id, c.status, c.quartier_id,
               (c.closed_at AT TIME ZONE 'Europe/Paris')::date AS closed_on,
               ST_Transform(CASE WHEN GeometryType(c.geom) = 'POINT'
                            THEN c.geom ELSE ST_PointOnSurface(c.geom) END, 3857) AS g
        FROM contributions c WHERE NOT c.hidden AND c.withdrawn_at IS NULL
    ), keyed AS (
        SELECT l.level, floor((ST_X(p.g) + 20037508.342789244) / (40075016.68557849 / 2 ^ l.level))::int AS x,
               floor((20037508.342789244 - ST_Y(p.g)) / (40075016.68557849 / 2 ^ l.level))::int AS y,
               p.kind::text, p.category_id, p.status::text, p.quartier_id::int, p.closed_on,
               round(ST_X(p.g) * 100)::bigint AS cx, round(ST_Y(p.g) * 100)::bigint AS cy
        FROM p CROSS JOIN unnest(ARRAY[6, 8, 10, 12, 14, 16, 18]) l(level)
    ), naive AS (
        SELECT level, x, y, kind, category_id, status, quartier_id, NULL::date AS closed_on,
               count(*) AS n, sum(cx) AS sx, sum(cy) AS sy
        FROM keyed GROUP BY 1, 2, 3, 4, 5, 6, 7
        UNION ALL
        SELECT level, x, y, kind, category_id, status, quartier_id, closed_on,
               count(*), sum(cx), sum(cy)
        FROM keyed WHERE closed_on >= (now() AT TIME ZONE 'Europe/Paris')::date - 35
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    ), kept AS (
        SELECT level::int, x, y, kind::text, category_id, status::text, quartier_id::int,
               NULL::date, n::bigint, sx::numeric, sy::numeric
        FROM tile_cells WHERE n <> 0
        UNION ALL
        SELECT level::int, x, y, kind::text, category_id, status::text, quartier_id::int,
               closed_on, n::bigint, sx::numeric, sy::numeric
        FROM map_recent_cells
        WHERE n <> 0 AND closed_on >= (now() AT TIME ZONE 'Europe/Paris')::date - 35
    )
    SELECT (SELECT count(*) FROM (SELECT * FROM naive EXCEPT ALL SELECT * FROM kept) a)
         + (SELECT count(*) FROM (SELECT * FROM kept EXCEPT ALL SELECT * FROM naive) b)
"""
NAIVE_AREAS = """
    WITH naive AS (
        SELECT arrondissement_id, quartier_id, kind::text, category_id, status::text, count(*) AS n
        FROM contributions WHERE NOT hidden AND withdrawn_at IS NULL GROUP BY 1, 2, 3, 4, 5
    ), kept AS (
        SELECT arrondissement_id, quartier_id, kind::text, category_id, status::text, n::bigint
        FROM tile_area_counts WHERE n <> 0
    )
    SELECT (SELECT count(*) FROM (SELECT * FROM naive EXCEPT ALL SELECT * FROM kept) a)
         + (SELECT count(*) FROM (SELECT * FROM kept EXCEPT ALL SELECT * FROM naive) b)
"""


# the by-status cells (migration e3f4a5b00029) are the full cells summed over category and
# quartier (those are checked against the rows above)
BY_STATUS = """
    WITH summed AS (SELECT level, x, y, kind, status, {day} sum(n)::int AS n, sum(sx) AS sx, sum(sy) AS sy
                    FROM {full} GROUP BY level, x, y, kind, status {group} HAVING sum(n) <> 0),
    kept AS (SELECT level, x, y, kind, status, {day} n, sx::numeric, sy::numeric FROM {by_status} WHERE n <> 0)
    SELECT (SELECT count(*) FROM (SELECT * FROM summed EXCEPT ALL SELECT * FROM kept) a)
         + (SELECT count(*) FROM (SELECT * FROM kept EXCEPT ALL SELECT * FROM summed) b)
"""


def assert_exact(session) -> None:
    assert session.execute(text(NAIVE_CELLS)).scalar() == 0
    assert session.execute(text(NAIVE_AREAS)).scalar() == 0
    assert session.execute(text(BY_STATUS.format(full="tile_cells", by_status="map_status_cells",
                                                 day="", group=""))).scalar() == 0
    assert session.execute(text(BY_STATUS.format(full="map_recent_cells", by_status="map_status_recent",
                                                 day="closed_on,", group=", closed_on"))).scalar() == 0
    assert session.execute(text("SELECT sum(n) FROM map_status_cells WHERE level = 6")).scalar() == \
        session.execute(text("SELECT count(*) FROM contributions WHERE NOT hidden AND withdrawn_at IS NULL")).scalar()
    assert session.execute(text("SELECT count(*) FROM tile_cells WHERE n < 0")).scalar() == 0
    assert session.execute(text("SELECT count(*) FROM map_recent_cells WHERE n < 0")).scalar() == 0


def test_the_cells_stay_exact_through_every_kind_of_write(session, make_report, resident):
    assert_exact(session)  # the migration's backfill
    ids = [make_report(lon=LOUVRE[0] + i * 0.001, lat=LOUVRE[1])["id"] for i in range(4)]
    r = resident.post("/api/v1/proposals", json=feature(
        title="Une piste", category="mobilite",
        geometry={"type": "LineString", "coordinates": [[2.30, 48.85], [2.31, 48.86]]}))
    ids.append(r.get_json()["id"])
    assert_exact(session)
    steps = [
        ("UPDATE contributions SET status = 'resolved', closed_at = now() WHERE id = :a", {"a": ids[0]}),
        # closed lately, and long ago (the recent cells keep the last 35 days only)
        ("UPDATE contributions SET status = 'resolved', closed_at = now() - interval '3 days' "
         "WHERE id IN (SELECT id FROM contributions WHERE kind = 'report' AND status = 'new' "
         "ORDER BY id LIMIT 40)", {}),
        ("UPDATE contributions SET status = 'rejected', closed_at = now() - interval '90 days' "
         "WHERE id IN (SELECT id FROM contributions WHERE kind = 'report' AND status = 'new' "
         "ORDER BY id LIMIT 10)", {}),
        ("UPDATE contributions SET geom = ST_SetSRID(ST_MakePoint(2.33764, 48.86058), 4326) "
         "WHERE id = :a", {"a": ids[0]}),  # a few metres: the same cells, other sums
        ("UPDATE contributions SET geom = ST_SetSRID(ST_MakePoint(2.3900, 48.8300), 4326) "
         "WHERE id = :a", {"a": ids[1]}),  # another arrondissement, another cell
        ("UPDATE contributions SET hidden = true WHERE id = :a", {"a": ids[2]}),
        ("UPDATE contributions SET withdrawn_at = now() WHERE id = :a", {"a": ids[3]}),
        ("UPDATE contributions SET hidden = false WHERE id = :a", {"a": ids[2]}),
        ("UPDATE contributions SET category_id = (SELECT id FROM categories WHERE code = 'proprete') "
         "WHERE id = ANY(:ids)", {"ids": ids[:3]}),
        ("UPDATE contributions SET votes_up = votes_up + 1 WHERE id = ANY(:ids)", {"ids": ids}),
        # many rows in one statement, some of them changing and some not
        ("UPDATE contributions SET status = CASE WHEN status = 'new' THEN 'acknowledged' ELSE status END "
         "WHERE id IN (SELECT id FROM contributions WHERE kind = 'report' ORDER BY id LIMIT 3000)", {}),
        ("UPDATE contributions SET status = 'acknowledged', closed_at = NULL WHERE status = 'resolved' "
         "AND closed_at > now() - interval '5 days'", {}),  # reopened
        ("DELETE FROM contributions WHERE id = ANY(:ids)", {"ids": ids[3:]}),
    ]
    for statement, params in steps:
        session.execute(text(statement), params)
        assert_exact(session)
    session.execute(text("SELECT tiles_rebuild()"))
    session.execute(text("SELECT map_status_rebuild()"))
    assert_exact(session)


# ---- areas ----------------------------------------------------------------------------------

def test_areas_carry_their_counts_and_quartiers_from_zoom_12(client, session):
    x, y, _, _ = tile_of(2.3499, 48.8530, 11)
    arrondissements = features(get_tile(client, "areas", 11, x, y), "areas")
    assert arrondissements and {f["properties"]["level"] for f in arrondissements} == {"arrondissement"}
    counts = dict(session.execute(text(
        "SELECT insee_code::text, (SELECT count(*) FROM contributions c WHERE c.arrondissement_id = a.id "
        "AND NOT c.hidden AND c.withdrawn_at IS NULL AND c.kind = 'report') FROM arrondissements a")).all())
    reports = features(get_tile(client, "areas", 11, x, y, kind="report"), "areas")
    assert {f["properties"]["code"]: f["properties"]["count"] for f in reports} == \
        {f["properties"]["code"]: counts[f["properties"]["code"]] for f in reports}
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in reports)
    x, y, _, _ = tile_of(2.3499, 48.8530, 13)
    levels = {f["properties"]["level"] for f in features(get_tile(client, "areas", 13, x, y), "areas")}
    assert levels == {"arrondissement", "quartier"}


# ---- HTTP: caching, compression, errors, TileJSON ------------------------------------------

def test_etag_and_304(client):
    x, y, _, _ = tile_of(2.3499, 48.8530, 14)
    url = f"/tiles/contributions/14/{x}/{y}.mvt"
    r = client.get(url)
    assert r.headers["Cache-Control"] == "public, max-age=60"
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    etag = r.headers["ETag"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    other = client.get(url, query_string={"kind": "proposal"}, headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["ETag"] != etag


def test_gzip_when_accepted(client):
    x, y, _, _ = tile_of(2.3499, 48.8530, 14)
    url = f"/tiles/contributions/14/{x}/{y}.mvt"
    plain = client.get(url)
    assert "Content-Encoding" not in plain.headers and plain.headers["Vary"] == "Accept-Encoding"
    zipped = client.get(url, headers={"Accept-Encoding": "gzip, deflate"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(zipped.data) == plain.data
    assert len(zipped.data) < len(plain.data)
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    revalidated = client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]})
    assert revalidated.status_code == 304


@pytest.mark.parametrize("path, status", [
    ("/tiles/contributions/23/0/0.mvt", 404),
    ("/tiles/contributions/3/8/0.mvt", 404),
    ("/tiles/contributions/3/0/8.mvt", 404),
    ("/tiles/contributions/3/-1/0.mvt", 404),
    ("/tiles/contributions/x/0/0.mvt", 404),
    ("/tiles/roads/3/0/0.mvt", 404),
    ("/tiles/roads.json", 404),
    ("/tiles/contributions/3/0/0.mvt?colour=red", 400),
    ("/tiles/contributions/3/0/0.mvt?kind=truck", 400),
    ("/tiles/contributions/3/0/0.mvt?category=nope", 400),
    ("/tiles/contributions/3/0/0.mvt?status=lost", 400),
    ("/tiles/areas.json?zoom=3", 400),
])
def test_bad_tiles_and_parameters_are_problems(client, path, status):
    r = client.get(path)
    assert r.status_code == status
    assert r.content_type == "application/problem+json"
    assert r.get_json()["status"] == status


def test_an_empty_tile_is_empty(client):
    r = client.get("/tiles/contributions/10/0/0.mvt")
    assert r.status_code == 200 and r.data == b""


def test_tilejson(client, app):
    doc = client.get("/tiles/contributions.json", query_string={"kind": "report", "status": "open"}).get_json()
    assert doc["tilejson"] == "3.0.0"
    base = app.config["PUBLIC_URL"]
    assert doc["tiles"] == [f"{base}/tiles/contributions/{{z}}/{{x}}/{{y}}.mvt?kind=report&status=open"]
    assert doc["attribution"] == "Ville de Paris – opendata.paris.fr (ODbL)"
    assert doc["minzoom"] == 0 and 15 <= doc["maxzoom"] <= 22
    w, s, e, n = doc["bounds"]
    assert 2.2 < w < 2.26 and 48.81 < s < 48.82 and 2.41 < e < 2.47 and 48.90 < n < 48.91
    layer, = doc["vector_layers"]
    assert layer["id"] == "contributions"
    assert {"count", "top", "kind", "category", "status", "title", "n_graffitis"} <= set(layer["fields"])
    areas = client.get("/tiles/areas.json").get_json()
    assert areas["tiles"] == [f"{base}/tiles/areas/{{z}}/{{x}}/{{y}}.mvt"]
    assert set(areas["vector_layers"][0]["fields"]) == {"level", "number", "code", "name", "count"}


# ---- GDAL ----------------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL's ogrinfo (gdal-bin) is not installed")
@pytest.mark.parametrize("z", [13, 17])
def test_gdal_reads_a_tile(http_root, tmp_path, z):
    x, y, _, _ = tile_of(2.3499, 48.8530, z)
    with urllib.request.urlopen(f"{http_root}/tiles/contributions/{z}/{x}/{y}.mvt") as r:
        data = r.read()
    expected = len(features(decode(data)))
    assert expected > 0
    path = tmp_path / str(z) / str(x) / f"{y}.pbf"
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    out = subprocess.run(["ogrinfo", "-ro", "-al", "-so", f"MVT:{path}"], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    assert "Layer name: contributions" in out
    assert sum(int(n) for n in re.findall(r"Feature Count: (\d+)", out)) == expected
    fields = "count: Integer" if z < 15 else "title: String"
    assert fields in out
