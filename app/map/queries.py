"""SQL of the map: clusters on a metric grid, the list page, light outlines. JSON by PostGIS.

Clustering snaps each contribution to a square grid in Lambert-93 (the stored metric copy,
`geom_l93`, so nothing is reprojected per row) whose cell is a fixed number of screen pixels
at the requested zoom. The grid is anchored at the projection's origin, not at the viewport,
so clusters stay put while the map pans. A cell holding one contribution comes back as that
contribution (a point, or its real shape when zoomed in); fuller cells come back as a count
placed at the mean position of their members, with the members' extent for zooming in.
"""

from __future__ import annotations

import math
import re

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.contributions.queries import ListFilters
from geo.areas import paris_bbox, paris_boundary

# Web Mercator metres per 256-px tile pixel at zoom 0, scaled to the ground at Paris' latitude.
MERCATOR_M_PER_PX_Z0 = 156543.03392804097
PARIS_COS_LAT = math.cos(math.radians(48.8566))
CELL_PX = 80  # one cluster per 80x80 screen pixels at most
POINTS_ZOOM = 18  # from here on, only contributions at the very same spot are grouped
POINTS_CELL_M = 1.0
SHAPES_ZOOM = 15  # from here on, lines and polygons are drawn as themselves
OUTLINE_TOLERANCE_M = 3.0  # invisible at city zoom; cuts the outlines from 280 KB to 55 KB


# the largest view drawn (px; a 4K screen is 3840): a bbox larger than it shows at its zoom is
# clustered as the zoom that would show it, so no request sends more than about
# (MAX_VIEW_PX / CELL_PX)² clusters (a whole city at zoom 22 was 34 MB, one point per report)
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


def cell_metres(zoom: int) -> float:
    """Side of a grid cell in metres: CELL_PX screen pixels at `zoom` (1 m at street level)."""
    if zoom >= POINTS_ZOOM:
        return POINTS_CELL_M
    return CELL_PX * MERCATOR_M_PER_PX_Z0 * PARIS_COS_LAT / 2**zoom


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

CLUSTER_FEATURE = """
'{"type":"Feature","geometry":' || ST_AsGeoJSON(ST_Transform(ST_SetSRID(
    ST_MakePoint(g.x, g.y), 2154), 4326), 6)
|| ',"properties":{"cluster"\\:true,"count":' || g.n || ',"proposals":' || g.n_proposals
|| ',"bbox":' || (ST_AsGeoJSON(ST_Transform(ST_SetSRID(
    ST_MakeLine(ST_MakePoint(g.x0, g.y0), ST_MakePoint(g.x1, g.y1)), 2154), 4326), 6, 1)::json
    -> 'bbox')::text
|| '}}'
"""


def clusters(session: Session, filters: list[ListFilters], bbox, zoom: int) -> dict:
    """{total, proposals, clusters, features (JSON text, no brackets), cell_m} for the view."""
    zoom = effective_zoom(zoom, bbox)
    cell = cell_metres(zoom)
    if not filters:
        return {"total": 0, "proposals": 0, "clusters": 0, "features": "", "cell_m": cell}
    where, params = combined_where(filters, bbox)
    params.update({"cell": cell, "shapes": zoom >= SHAPES_ZOOM})
    custom_plans(session)
    row = session.execute(
        text(f"""
        WITH g AS (
            SELECT floor(x / :cell) AS gx, floor(y / :cell) AS gy,
                   count(*) AS n, count(*) FILTER (WHERE kind = 'proposal') AS n_proposals,
                   avg(x) AS x, avg(y) AS y, min(x) AS x0, min(y) AS y0, max(x) AS x1, max(y) AS y1,
                   min(id) AS one_id
            FROM (
                -- one metric position per contribution: reports are points (a CHECK says so),
                -- proposals may be lines or polygons. OFFSET 0 keeps the planner from inlining
                -- the positions into each of the ten aggregates below (3x slower), without the
                -- copy of every row that a MATERIALIZED CTE would make.
                SELECT c.id, c.kind, ST_X(p.g) AS x, ST_Y(p.g) AS y
                FROM contributions c
                CROSS JOIN LATERAL (SELECT CASE WHEN c.kind = 'report' THEN c.geom_l93
                                                ELSE ST_PointOnSurface(c.geom_l93) END AS g) p
                WHERE {where}
                OFFSET 0
            ) pts
            GROUP BY 1, 2
        )
        SELECT coalesce(sum(g.n), 0)::int AS total,
               coalesce(sum(g.n_proposals), 0)::int AS proposals,
               count(*) FILTER (WHERE g.n > 1) AS clusters,
               string_agg(CASE WHEN g.n > 1 THEN {CLUSTER_FEATURE} ELSE (
                   -- a scalar subquery: one primary-key lookup per lone contribution, run only
                   -- for those (a join would let the planner hash the whole table)
                   SELECT {POINT_FEATURE}
                   FROM contributions c
                   JOIN categories cat ON cat.id = c.category_id
                   JOIN categories top ON top.id = coalesce(cat.parent_id, cat.id)
                   WHERE c.id = g.one_id
               ) END, ',' ORDER BY g.n DESC, g.gx, g.gy) AS features
        FROM g
        """),
        params,
    ).one()
    return {"total": row.total, "proposals": row.proposals, "clusters": row.clusters,
            "features": row.features or "", "cell_m": cell}


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
