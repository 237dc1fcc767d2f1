"""SQL of the map: clusters on the Web-Mercator cell grid, the list page, light outlines.

Clusters are cells of geo/grid.py's grid: 64 screen pixels at the zoom, anchored to the
projection (the XYZ tile pyramid), so clusters stay put while the map pans. A view holding at
most RAW_MAX contributions is clustered from its rows; a fuller one (the city at 5M reports)
is summed from `tile_cells` and `map_recent_cells`, exact counts and coordinate sums kept by
triggers (migration e7f8a9b00023), so its cost follows the number of cells on the screen, not
the table. A cell holding one contribution comes back as that contribution (a point, or its
real shape when zoomed in); fuller cells come back as a count placed at the mean position of
their members, with the members' extent for zooming in.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.contributions.queries import ListFilters
from geo import grid
from geo.areas import paris_bbox, paris_boundary
from geo.filters import cells_where

PARIS = ZoneInfo("Europe/Paris")

# Web Mercator metres per 256-px tile pixel at zoom 0, scaled to the ground at Paris' latitude.
MERCATOR_M_PER_PX_Z0 = 156543.03392804097
PARIS_COS_LAT = grid.PARIS_COS_LAT
POINTS_ZOOM = 18  # from here on, only contributions at (about) the very same spot are grouped
POINTS_LEVEL = 25  # 0.8 m cells on the ground in Paris
SHAPES_ZOOM = 15  # from here on, lines and polygons are drawn as themselves
OUTLINE_TOLERANCE_M = 3.0  # invisible at city zoom; cuts the outlines from 280 KB to 55 KB
# A view whose cells hold at most this many contributions (all of them, before the filters) is
# clustered from its rows, exactly within the bbox, read through the spatial index alone (a
# category index ANDed in scans the category across the city: 0.5 s at 5M); 5,000 rows are
# ~800 heap pages, 10–20 ms. A fuller one is summed from the stored cells (the cells the bbox
# touches, counted whole), whose cost follows the cells on the screen, not the table.
RAW_MAX = 5_000


# the largest view drawn (px; a 4K screen is 3840): a bbox larger than it shows at its zoom is
# clustered as the zoom that would show it, so no request sends more than about
# (MAX_VIEW_PX / 64)² clusters (a whole city at zoom 22 was 34 MB, one point per report)
MAX_VIEW_PX = 16384
METRES_PER_DEGREE = 111_320.0


def effective_zoom(zoom: int, bbox: tuple[float, float, float, float] | None) -> int:
    """`zoom`, or less when the bbox (Paris' without one) spans more than MAX_VIEW_PX at it."""
    w, s, e, n = bbox or paris_bbox()
    extent_m = max((e - w) * METRES_PER_DEGREE * PARIS_COS_LAT, (n - s) * METRES_PER_DEGREE)
    if extent_m <= 0:
        return zoom
    fits = math.floor(math.log2(MAX_VIEW_PX * MERCATOR_M_PER_PX_Z0 * PARIS_COS_LAT / extent_m))
    return max(0, min(zoom, fits))


def cluster_level(zoom: int) -> int:
    """The grid level clustered at `zoom`: 64-px cells, or sub-metre ones at street level."""
    return POINTS_LEVEL if zoom >= POINTS_ZOOM else grid.display_level(zoom)


def cell_metres(zoom: int) -> float:
    """Side of a grid cell on the ground in Paris, metres, at `zoom`."""
    return grid.ground_side(cluster_level(zoom))


def custom_plans(session: Session) -> None:
    """Plan this transaction's statements for their actual parameters.

    psycopg prepares a statement run five times, and PostgreSQL may then switch to a generic
    plan that cannot see the bbox: for the whole city it walks the GiST index and sorts 40k
    rows (50 ms) instead of reading the newest rows from the (created_at, id) index (0.5 ms).
    """
    session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def covers_paris(bbox) -> bool:
    """True when the bbox holds all of Paris: every contribution is inside Paris (the locate
    trigger refuses the others), so such a bbox filters nothing and is left out, which spares
    the city view a test on each of 40k rows."""
    w, s, e, n = bbox
    pw, ps, pe, pn = paris_boundary().bounds
    return w <= pw and s <= ps and e >= pe and n >= pn


def combined_where(filters: list[ListFilters], bbox) -> tuple[str, dict]:
    """One WHERE clause for several kinds: the bbox once, then each kind's filters OR-ed.

    Each kind's bind parameters get a prefix (k0_, k1_…) so that they cannot collide.
    """
    parts, params = [], {}
    for i, f in enumerate(filters):
        where, p = f.where()
        parts.append("(" + re.sub(r"(?<![:\w]):(\w+)", rf":k{i}_\1", where) + ")")
        params.update({f"k{i}_{k}": v for k, v in p.items()})
    clause = "(" + (" OR ".join(parts) or "false") + ")"
    if bbox and not covers_paris(bbox):
        # bounding-box overlap only: exact for points, and a shape whose box touches the (padded)
        # view may as well be fetched; it is several times cheaper than ST_Intersects per row
        clause = "c.geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326) AND " + clause
        params.update(zip("wsen", bbox, strict=True))
    return clause, params


# A contribution as a light map feature: its top-level category colours the symbol.
POINT_FEATURE = """
'{"type":"Feature","id":' || c.id || ',"geometry":'
|| ST_AsGeoJSON(CASE WHEN :shapes THEN c.geom ELSE ST_PointOnSurface(c.geom) END, 6)
|| ',"properties":{"id":' || c.id || ',"kind":"' || c.kind || '","category":'
|| to_json(top.code)::text || ',"status":"' || c.status || '","title":' || to_json(c.title)::text
|| '}}'
"""
POINT_JOINS = """
JOIN categories cat ON cat.id = c.category_id
JOIN categories top ON top.id = coalesce(cat.parent_id, cat.id)
"""
# a contribution's cell at the finest stored level from its stored EPSG:3857 point (map_x,
# map_y), computed as tile_cells' triggers do (migration e7f8a9b00023): both ways agree
BASE_CELL = f"floor((:coord + {grid.HALF}) / (2 * {grid.HALF}) * {2 ** grid.FINEST})::int"


@dataclass
class Cell:
    """A grid cell of the view: its members' count, mean position and extent (degrees)."""

    gx: int
    gy: int
    n: int
    proposals: int
    lon: float
    lat: float
    bbox: tuple[float, float, float, float]
    feature: str | None = None  # a lone member's Feature text


def clusters(session: Session, filters: list[ListFilters], bbox, zoom: int) -> dict:
    """{total, proposals, clusters, features (JSON text, no brackets), cell_m, source}."""
    zoom = effective_zoom(zoom, bbox)
    level = cluster_level(zoom)
    result = {"total": 0, "proposals": 0, "clusters": 0, "features": "",
              "cell_m": grid.ground_side(level), "source": "rows"}
    if not filters:
        return result
    custom_plans(session)
    cells, fenced = None, False
    if all(cellable(f) for f in filters):
        stored = min(level, grid.FINEST)
        if cells_total(session, bbox or paris_bbox(), stored) <= RAW_MAX:
            fenced = True  # few enough: exactly the bbox's rows, at the zoom's own level
        else:
            cells = stored_cells(session, filters, bbox or paris_bbox(), stored)
            result["source"] = "cells"
            result["cell_m"] = grid.ground_side(min(level, grid.FINEST))
            lone_members(session, filters, cells, min(level, grid.FINEST), zoom >= SHAPES_ZOOM)
    if cells is None:
        cells = row_cells(session, filters, bbox, level, zoom >= SHAPES_ZOOM, fenced)
    # a lone member withdrawn between the two statements (each reads its own snapshot) is gone
    cells = [c for c in cells if c.n > 1 or c.feature]
    cells.sort(key=lambda c: (-c.n, c.gx, c.gy))
    result.update(total=sum(c.n for c in cells), proposals=sum(c.proposals for c in cells),
                  clusters=sum(1 for c in cells if c.n > 1),
                  features=",".join(c.feature or cluster_feature(c) for c in cells))
    return result


def cellable(f: ListFilters) -> bool:
    """True when the stored cells can answer `f`: they know kind, category, status, quartier
    and (for 30-odd days) the closing day, not dates, words or consultations."""
    return not (f.since or f.until or f.q or f.source_id or f.consultation_id is not None
                or f.cursor or f.bbox)


def cluster_feature(c: Cell) -> str:
    return ('{"type":"Feature","geometry":{"type":"Point","coordinates":['
            f'{c.lon:.6f},{c.lat:.6f}]}},"properties":{{"cluster":true,"count":{c.n},'
            f'"proposals":{c.proposals},"bbox":[{",".join(f"{v:.6f}" for v in c.bbox)}]}}}}')


def row_cells(session: Session, filters: list[ListFilters], bbox, level: int, shapes: bool,
              fenced: bool = False) -> list[Cell]:
    """The view's rows grouped into the level's cells: exact mean positions and extents.

    `fenced`: the bbox is known to hold few rows; read them by the spatial index alone."""
    where, params = combined_where(filters, bbox)
    source = "contributions c"
    if fenced and bbox and not covers_paris(bbox):
        source = ("(SELECT * FROM contributions c WHERE c.geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326) "
                  "OFFSET 0) c")
    if level <= grid.FINEST:
        gx, gy = (f"({BASE_CELL.replace(':coord', c)} >> {grid.FINEST - level})" for c in ("x", "-y"))
    else:
        gx, gy = (f"floor(({c} + {grid.HALF}) / (2 * {grid.HALF}) * {2 ** level})::bigint"
                  for c in ("x", "-y"))
    params["shapes"] = shapes
    rows = session.execute(text(f"""
        WITH g AS (
            SELECT {gx} AS gx, {gy} AS gy, count(*) AS n,
                   count(*) FILTER (WHERE kind = 'proposal') AS n_proposals,
                   avg(x) AS x, avg(y) AS y, min(x) AS x0, min(y) AS y0, max(x) AS x1, max(y) AS y1,
                   min(id) AS one_id
            FROM (
                -- OFFSET 0: the rows once, not once per aggregate
                SELECT c.id, c.kind, c.map_x AS x, c.map_y AS y
                FROM {source}
                WHERE {where}
                OFFSET 0
            ) pts
            GROUP BY 1, 2
        )
        SELECT g.*, CASE WHEN g.n = 1 THEN (
            -- a scalar subquery: one primary-key lookup per lone contribution
            SELECT {POINT_FEATURE} FROM contributions c {POINT_JOINS} WHERE c.id = g.one_id
        ) END AS feature
        FROM g
    """), params).all()
    return [Cell(r.gx, r.gy, r.n, r.n_proposals, *grid.lonlat(r.x, r.y),
                 (*grid.lonlat(r.x0, r.y0), *grid.lonlat(r.x1, r.y1)), r.feature) for r in rows]


def stored_cells(session: Session, filters: list[ListFilters], bbox, level: int) -> list[Cell]:
    """The level's cells that the bbox touches, summed from the stored cells (`tile_cells`,
    and `map_recent_cells` for what was closed lately; their by-status sums when no filter
    names a category or a place): their counts are exact, their members'
    extent is that of the stored cells holding them."""
    stored = grid.stored_level(level)
    shift = stored - level
    x0, y0, x1, y1 = grid.cell_range(bbox, stored)
    parts, params = [], {"level": stored, "x0": x0, "x1": x1, "y0": y0, "y1": y1}
    # by kind and status only (migration e3f4a5b00029): a few rows per cell instead of one
    # per category, status and quartier
    by_status = not any(f.category_ids is not None or f.arrondissements or f.quartiers for f in filters)
    cells_table, recent_table = (("map_status_cells", "map_status_recent") if by_status
                                 else ("tile_cells", "map_recent_cells"))
    for i, f in enumerate(filters):
        args = dict(category_ids=f.category_ids, arrondissements=f.arrondissements,
                    quartiers=f.quartiers)
        clauses, p = cells_where(f.kind, statuses=f.statuses, prefix=f"k{i}_", **args)
        parts.append((cells_table, "true", " AND ".join(clauses)))
        params.update(p)
        if f.recently_closed and f.statuses is not None:
            closed = [s for s in f.recently_closed[0] if s not in f.statuses]
            if closed:
                clauses, p = cells_where(f.kind, statuses=closed, prefix=f"r{i}_", **args)
                parts.append((recent_table, f"t.closed_on >= :r{i}_day", " AND ".join(clauses)))
                params.update(p)
                params[f"r{i}_day"] = paris_day(f.recently_closed[1])
    union = " UNION ALL ".join(
        f"""SELECT t.x, t.y, t.kind, t.n, t.sx, t.sy FROM {table} t
            WHERE t.level = :level AND t.x BETWEEN :x0 AND :x1 AND t.y BETWEEN :y0 AND :y1
              AND t.n <> 0 AND {extra} AND {where}"""
        for table, extra, where in parts)
    rows = session.execute(text(f"""
        SELECT s.x >> {shift} AS gx, s.y >> {shift} AS gy, sum(s.n)::int AS n,
               coalesce(sum(s.n) FILTER (WHERE s.kind = 'proposal'), 0)::int AS n_proposals,
               sum(s.sx)::float8 / 100 / sum(s.n) AS x, sum(s.sy)::float8 / 100 / sum(s.n) AS y,
               min(s.x) AS x0, max(s.x) AS x1, min(s.y) AS y0, max(s.y) AS y1
        FROM ({union}) s
        GROUP BY 1, 2 HAVING sum(s.n) > 0
    """), params).all()
    cells = []
    for r in rows:
        w, _, _, n = grid.cell_bounds(stored, r.x0, r.y0)
        _, s, e, _ = grid.cell_bounds(stored, r.x1, r.y1)
        cells.append(Cell(r.gx, r.gy, r.n, r.n_proposals, *grid.lonlat(r.x, r.y), (w, s, e, n)))
    return cells


def cells_total(session: Session, bbox, level: int) -> int:
    """Every public contribution in the level's cells that the bbox touches, unfiltered: exact
    up to RAW_MAX, and some number above it otherwise. It reads at most RAW_MAX + 1 stored
    rows (each counts at least one), so a city view does not scan its cells twice."""
    stored = grid.stored_level(level)
    x0, y0, x1, y1 = grid.cell_range(bbox, stored)
    return session.execute(text("""
        SELECT coalesce(sum(n), 0) FROM (
            SELECT n FROM map_status_cells
            WHERE level = :level AND x BETWEEN :x0 AND :x1 AND y BETWEEN :y0 AND :y1 AND n > 0
            LIMIT :cap) s
    """), {"level": stored, "x0": x0, "x1": x1, "y0": y0, "y1": y1, "cap": RAW_MAX + 1}).scalar()


def lone_members(session: Session, filters: list[ListFilters], cells: list[Cell], level: int,
                 shapes: bool) -> None:
    """Fill in the Feature of each cell holding one contribution: the one member of the
    filters in the cell (an index probe on its box each)."""
    lone = [c for c in cells if c.n == 1]
    if not lone:
        return
    where, params = combined_where(filters, None)
    shift = grid.FINEST - level
    params.update(shapes=shapes, gx=[c.gx for c in lone], gy=[c.gy for c in lone], side=grid.cell_side(level))
    rows = session.execute(text(f"""
        SELECT k.gx, k.gy, m.feature
        FROM unnest(CAST(:gx AS int[]), CAST(:gy AS int[])) AS k(gx, gy)
        CROSS JOIN LATERAL (
            SELECT {POINT_FEATURE} AS feature
            FROM contributions c {POINT_JOINS}
            WHERE c.geom && ST_Transform(ST_MakeEnvelope(
                      {-grid.HALF} + k.gx * :side, {grid.HALF} - (k.gy + 1) * :side,
                      {-grid.HALF} + (k.gx + 1) * :side, {grid.HALF} - k.gy * :side, 3857), 4326)
              AND {where}
              AND {BASE_CELL.replace(":coord", "c.map_x")} >> {shift} = k.gx
              AND {BASE_CELL.replace(":coord", "-c.map_y")} >> {shift} = k.gy
            LIMIT 1
        ) m
    """), params).all()
    found = {(r.gx, r.gy): r.feature for r in rows}
    for c in lone:
        c.feature = found.get((c.gx, c.gy))


def paris_day(moment: datetime) -> date:
    """The calendar day in Paris of `moment`."""
    return moment.astimezone(PARIS).date()


ITEM_FEATURE = """
'{"type":"Feature","id":' || c.id || ',"geometry":' || ST_AsGeoJSON(ST_PointOnSurface(c.geom), 6)
|| ',"properties":' || json_build_object(
    'id', c.id, 'kind', c.kind, 'title', c.title,
    'category', json_build_object('code', cat.code, 'label', cat.label_{lang}, 'top', top.code,
                                  'top_label', top.label_{lang}),
    'status', c.status, 'address', CASE WHEN c.exact_geom IS NULL THEN c.address END,
    'arrondissement', c.arrondissement_id,
    'quartier', q.name, 'created_at', c.created_at,
    'votes', json_build_object('up', c.votes_up, 'down', c.votes_down),
    'comments_count', c.comments_count, 'photos_count', c.photos_count,
    'thumbnail', (SELECT :thumb_prefix || ph.sha256 || '.thumb.jpg' FROM photos ph
                  WHERE ph.contribution_id = c.id ORDER BY ph.position LIMIT 1)
)::text || '}'
"""


def items(
    session: Session, filters: list[ListFilters], bbox, limit: int, lang: str, thumb_prefix: str
) -> tuple[str, int, tuple | None]:
    """One page of the list beside the map, newest first across kinds, keyset-paginated.

    Returns (features JSON text without brackets, number returned, (created_at, id) of the
    last one when there is a next page).
    """
    if not filters:
        return "", 0, None
    lang = "en" if lang == "en" else "fr"
    where, params = combined_where(filters, bbox)
    params.update({"limit": limit, "thumb_prefix": thumb_prefix})
    custom_plans(session)
    rows = session.execute(
        text(f"""
        WITH page AS (
            SELECT c.id FROM contributions c WHERE {where}
            ORDER BY c.created_at DESC, c.id DESC LIMIT :limit + 1
        )
        SELECT c.id, c.created_at, {ITEM_FEATURE.replace("{lang}", lang)} AS f
        FROM page JOIN contributions c ON c.id = page.id
        JOIN categories cat ON cat.id = c.category_id
        JOIN categories top ON top.id = coalesce(cat.parent_id, cat.id)
        JOIN quartiers q ON q.id = c.quartier_id
        ORDER BY c.created_at DESC, c.id DESC
        """),
        params,
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    last = (rows[-1].created_at, rows[-1].id) if more else None
    return ",".join(r.f for r in rows), len(rows), last


_outlines: dict[str, str] = {}


def outlines(session: Session) -> str:
    """Arrondissements and quartiers, simplified (3 m) and light: reference data, cached."""
    key = str(session.get_bind().engine.url)
    if key not in _outlines:
        _outlines[key] = session.scalar(
            text("""
            SELECT '{"type":"FeatureCollection","features":[' || string_agg(f, ',' ORDER BY lvl, id)
                   || ']}'
            FROM (
                SELECT 0 AS lvl, id, '{"type":"Feature","id":"a' || id || '","geometry":'
                    || ST_AsGeoJSON(ST_Transform(ST_SimplifyPreserveTopology(
                           ST_Transform(geom, 2154), :tol), 4326), 5)
                    || ',"properties":{"level":"arrondissement","code":' || id
                    || ',"name":' || to_json(name)::text || '}}' AS f
                FROM arrondissements
                UNION ALL
                SELECT 1, id, '{"type":"Feature","id":"q' || id || '","geometry":'
                    || ST_AsGeoJSON(ST_Transform(ST_SimplifyPreserveTopology(
                           ST_Transform(geom, 2154), :tol), 4326), 5)
                    || ',"properties":{"level":"quartier","code":' || id
                    || ',"arrondissement":' || arrondissement_id
                    || ',"name":' || to_json(name)::text || '}}'
                FROM quartiers
            ) s
            """),
            {"tol": OUTLINE_TOLERANCE_M},
        ) or '{"type":"FeatureCollection","features":[]}'
    return _outlines[key]


def reset_outlines() -> None:
    _outlines.clear()
