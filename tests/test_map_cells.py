"""The map's clusters summed from the stored cells equal those clustered from the rows.

A view holding more than RAW_MAX contributions is answered from `tile_cells` and
`map_recent_cells` (migration e7f8a9b00023), or from their sums by status (`map_status_cells`,
`map_status_recent`, e3f4a5b00029) when no filter names a category or a place; here RAW_MAX
is set to 0 so that every view is,
and each answer is compared with the rows' own (RAW_MAX very large) and with SQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.map import queries
from geo import grid
from tests.conftest import feature

PARIS = "2.22,48.81,2.47,48.91"
VISIBLE = "NOT c.hidden AND c.withdrawn_at IS NULL"
# Parc des Buttes-Chaumont's east end (other tests favour Notre-Dame and Montsouris)
BOTZARIS = (2.38920, 48.87960)


def get(client, monkeypatch, source: str, **params) -> tuple[dict, str]:
    monkeypatch.setattr(queries, "RAW_MAX", 0 if source == "cells" else 10**9)
    r = client.get("/api/v1/map/clusters", query_string={"bbox": PARIS, "zoom": 12, **params})
    assert r.status_code == 200, r.get_json()
    return r.get_json(), r.headers["Server-Timing"]


def by_place(data) -> dict:
    """Each feature keyed by its grid cell at the answer's level (the same in both answers)."""
    level = queries.cluster_level(data["zoom"])
    return {grid.cell_of(*f["geometry"]["coordinates"], level): f for f in data["features"]}


@pytest.mark.parametrize("params", [
    {},
    {"status": "current"},
    {"kind": "report", "category": "graffitis"},
    {"status": "new,acknowledged", "arrondissement": "11"},
    {"kind": "proposal"},
    {"zoom": 15, "bbox": "2.3700,48.8600,2.3900,48.8700"},
], ids=["everything", "current", "category", "status-arrondissement", "proposals", "zoom-15"])
def test_cells_and_rows_give_the_same_clusters(client, monkeypatch, make_report, resident, params):
    make_report(lon=BOTZARIS[0], lat=BOTZARIS[1], title="Seul ici")
    resident.post("/api/v1/proposals", json=feature(*BOTZARIS, title="Un banc", category="vegetalisation"))
    cells, timing = get(client, monkeypatch, "cells", **params)
    rows, row_timing = get(client, monkeypatch, "rows", **params)
    assert 'desc="cells"' in timing and 'desc="rows"' in row_timing
    if "bbox" not in params:  # the whole city: the cells the bbox touches hold no one else
        assert (cells["total"], cells["proposals"], cells["clusters"]) == \
            (rows["total"], rows["proposals"], rows["clusters"])
        a, b = by_place(cells), by_place(rows)
        assert a.keys() == b.keys() and len(a) == len(cells["features"]) > 0
        for key, f in a.items():
            g = b[key]
            if f["properties"].get("cluster"):
                assert f["properties"]["count"] == g["properties"]["count"]
                assert f["properties"]["proposals"] == g["properties"]["proposals"]
                # the mean position, from coordinate sums in centimetres
                assert f["geometry"]["coordinates"] == pytest.approx(g["geometry"]["coordinates"], abs=2e-6)
                # the extent: the stored cells' around the members' own
                w, s, e, n = f["properties"]["bbox"]
                w2, s2, e2, n2 = g["properties"]["bbox"]
                assert w <= w2 + 1e-6 and s <= s2 + 1e-6 and e >= e2 - 1e-6 and n >= n2 - 1e-6
            else:
                assert f == g  # a lone contribution is itself, found in its cell
    else:  # the cells the bbox touches, counted whole: never fewer than the bbox holds
        assert cells["total"] >= rows["total"] > 0


def test_cell_totals_equal_sql_over_the_touched_cells(client, session, monkeypatch):
    """The stored cells' answer counts what lies in the cells the bbox touches, exactly."""
    bbox = (2.3700, 48.8600, 2.3900, 48.8700)
    data, _ = get(client, monkeypatch, "cells", zoom=15, bbox=",".join(map(str, bbox)))
    level = grid.stored_level(queries.cluster_level(15))
    x0, y0, x1, y1 = grid.cell_range(bbox, level)
    w, _, _, n = grid.cell_bounds(level, x0, y0)
    _, s, e, _ = grid.cell_bounds(level, x1, y1)
    expected = session.execute(text(f"""
        SELECT count(*) FROM contributions c
        CROSS JOIN LATERAL (SELECT ST_Transform(ST_PointOnSurface(c.geom), 3857) AS g) p
        WHERE {VISIBLE}
          AND floor((ST_X(p.g) + {grid.HALF}) / (2 * {grid.HALF}) * 2 ^ :level) BETWEEN :x0 AND :x1
          AND floor(({grid.HALF} - ST_Y(p.g)) / (2 * {grid.HALF}) * 2 ^ :level) BETWEEN :y0 AND :y1
    """), {"level": level, "x0": x0, "x1": x1, "y0": y0, "y1": y1}).scalar()
    assert data["total"] == expected > 100
    inside = session.execute(text(f"SELECT count(*) FROM contributions c WHERE {VISIBLE} "
                                  "AND c.geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)"),
                             dict(zip("wsen", bbox, strict=True))).scalar()
    assert inside <= expected  # and the touched cells' envelope holds them all
    assert w <= bbox[0] and s <= bbox[1] and e >= bbox[2] and n >= bbox[3]


@pytest.mark.parametrize("params", [{"since": "2024-01-01"}, {"q": "trottoir"}])
def test_filters_the_cells_do_not_know_read_the_rows(client, session, monkeypatch, params):
    data, timing = get(client, monkeypatch, "cells", **params)
    assert 'desc="rows"' in timing
    where = ("c.created_at >= '2024-01-01 00:00+00'" if "since" in params  # a date's start, UTC
             else "(c.title ILIKE '%trottoir%' OR c.description ILIKE '%trottoir%')")
    assert data["total"] == session.execute(
        text(f"SELECT count(*) FROM contributions c WHERE {VISIBLE} AND {where}")).scalar() > 0


def test_the_grid_maths_match_the_triggers(session):
    """geo/grid.py places a point in the same cell as the triggers' SQL, at every level."""
    rows = session.execute(text("""
        SELECT ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, t.level, t.x, t.y
        FROM (SELECT * FROM contributions WHERE kind = 'report' ORDER BY id LIMIT 200) c
        CROSS JOIN LATERAL (SELECT ST_Transform(c.geom, 3857) AS g) p
        CROSS JOIN LATERAL (
            SELECT l AS level,
                   floor((ST_X(p.g) + 20037508.342789244) / (2 * 20037508.342789244) * 2 ^ l)::int AS x,
                   floor((20037508.342789244 - ST_Y(p.g)) / (2 * 20037508.342789244) * 2 ^ l)::int AS y
            FROM unnest(ARRAY[6, 10, 14, 18, 25]) l) t
    """)).all()
    assert len(rows) == 1000
    assert [grid.cell_of(r.lon, r.lat, r.level) for r in rows] == [(r.x, r.y) for r in rows]
    w, s, e, n = grid.cell_bounds(18, *grid.cell_of(2.3499, 48.8530, 18))
    assert w <= 2.3499 < e and s < 48.8530 <= n and 90 < grid.ground_side(18) < 110
