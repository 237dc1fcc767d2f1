"""Vector tiles encoded by PostGIS (ST_AsMVT): the `contributions`, `areas` and `missions` layers.

Tile coordinates are XYZ on Web Mercator (EPSG:3857), y down, as ST_TileEnvelope numbers
them. Each layer has an extent of 4096 units and a 256-unit buffer (what a renderer needs to
draw a symbol or a line across a tile edge without a seam).

* `contributions` below SHAPES_ZOOM: one point per cell of a 16 × 16 grid over the tile, at the
  cell's centre, read from `tile_cells` (exact counts kept by triggers, migration
  b7c8d9e00014): `count`, `reports`, `proposals`, `top` (the most frequent top-level category
  code, ties by code), `top_count`, and `n_<top code>` for each top-level category present.
  From SHAPES_ZOOM on (unless the tile holds more than FEATURES_MAX: then the cells of the
  finest stored level): every public contribution as itself (points, lines, polygons) with
  `kind`, `category`, `top`, `status`, `title`; its id is the MVT feature id (the spec's own
  field: MapLibre's `feature.id`, GDAL's `mvt_id`), which spares a unique value per feature.
* `areas`: the arrondissements, and the quartiers from QUARTIERS_ZOOM, with `level`,
  `number`, `code` (INSEE), `name` and `count` (public contributions under the filters, from
  `tile_area_counts`).
* `missions`: the open volunteer missions (published or full, of a verified organisation, with
  a slot still open to sign-ups, even before `flask missions close-ended` has run), one
  point per place at every zoom (a few hundred missions, never thousands, in a city), with
  `id` (the mission's: a mission with several places has several features, so it is a
  property rather than the MVT feature id, which should be unique), `title`, `domain`,
  `remote` and `remaining` (places left on its next slot open to sign-ups). The contributions'
  filters do not apply to it.

Only `geom` is read, the public geometry (a sensitive category's coarse point), never
`exact_geom`; hidden and withdrawn contributions are never counted nor drawn.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.map.queries import SHAPES_ZOOM
from app.tiles.schemas import MAX_ZOOM, KindFilter

EXTENT = 4096
BUFFER = 256
CELL_BITS = 4  # 2^4 = 16 cells along a tile's side below SHAPES_ZOOM (16 px on a 256-px tile)
# the grid levels tile_cells stores (migration b7c8d9e00014)
LEVELS = (6, 8, 10, 12, 14, 16, 18)
QUARTIERS_ZOOM = 12
# From SHAPES_ZOOM, a tile holding more contributions than this is still drawn as cells (of the
# finest stored level: 8 × 8 a tile at zoom 15, 4 × 4 at 16…). A point costs ~30 bytes and
# ~7 µs (bench/results/tiles.json): 5,000 is ~150 kB and ~35 ms, within the targets (500 kB,
# 50 ms); a zoom-15 tile of central Paris at 5M reports holds 30,000 or more, which no one can
# read as points anyway.
FEATURES_MAX = 5_000
HALF = 20037508.342789244  # half the Web-Mercator world's side, metres
LAYERS = ("contributions", "areas", "missions")
MEDIA_TYPE = "application/vnd.mapbox-vector-tile"


def in_matrix(z: int, x: int, y: int) -> bool:
    """True for a tile of the XYZ matrix we serve: 0 ≤ z ≤ MAX_ZOOM, 0 ≤ x, y < 2^z."""
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z


def grid_level(z: int) -> tuple[int, int, int]:
    """(level drawn, stored level read, shift from one to the other) for an aggregated tile at
    `z`: level z + CELL_BITS, or the finest stored one for a crowded tile from SHAPES_ZOOM."""
    want = min(z + CELL_BITS, LEVELS[-1])
    stored = min(level for level in LEVELS if level >= want)
    return want, stored, stored - want


def crowded(session: Session, z: int, x: int, y: int, filters: list[KindFilter]) -> bool:
    """More than FEATURES_MAX contributions in the tile (from the finest cells: a range scan)."""
    level = LEVELS[-1]
    span = 2 ** (level - z)
    where, params = filter_clause(filters, "t")
    params.update(level=level, x0=x * span, x1=(x + 1) * span - 1, y0=y * span,
                  y1=(y + 1) * span - 1, limit=FEATURES_MAX)
    return session.execute(text(f"""
        SELECT coalesce(sum(t.n), 0) > :limit FROM tile_cells t
        WHERE t.level = :level AND t.x BETWEEN :x0 AND :x1 AND t.y BETWEEN :y0 AND :y1
          AND t.n <> 0 AND {where}"""), params).scalar()


def filter_clause(filters: list[KindFilter], alias: str) -> tuple[str, dict]:
    """One WHERE clause: each kind's filters AND-ed, the kinds OR-ed (`false` for none)."""
    parts, params = [], {}
    for i, f in enumerate(filters):
        part = [f"{alias}.kind = :k{i}"]
        params[f"k{i}"] = f.kind
        if f.category_ids is not None:
            part.append(f"{alias}.category_id = ANY(:k{i}_categories)")
            params[f"k{i}_categories"] = list(f.category_ids)
        if f.statuses is not None:
            part.append(f"{alias}.status = ANY(:k{i}_statuses)")
            params[f"k{i}_statuses"] = list(f.statuses)
        parts.append("(" + " AND ".join(part) + ")")
    return "(" + (" OR ".join(parts) or "false") + ")", params


def _cells_tile(session: Session, z: int, x: int, y: int, filters: list[KindFilter]) -> bytes:
    want, level, shift = grid_level(z)
    span = 2 ** (level - z)  # stored cells along the tile's side
    where, params = filter_clause(filters, "t")
    params.update(z=z, x=x, y=y, level=level, shift=shift, x0=x * span, x1=(x + 1) * span - 1,
                  y0=y * span, y1=(y + 1) * span - 1, cell=2 * HALF / 2 ** want)
    return session.execute(text(f"""
        WITH t AS (
            SELECT t.x >> :shift AS cx, t.y >> :shift AS cy, t.kind,
                   COALESCE(cat.parent_id, cat.id) AS top_id, sum(t.n)::int AS n
            FROM tile_cells t JOIN categories cat ON cat.id = t.category_id
            WHERE t.level = :level AND t.x BETWEEN :x0 AND :x1 AND t.y BETWEEN :y0 AND :y1
              AND t.n <> 0 AND {where}
            GROUP BY 1, 2, 3, 4
        ), cells AS (
            SELECT t.cx, t.cy, sum(t.n)::int AS count,
                   coalesce(sum(t.n) FILTER (WHERE t.kind = 'report'), 0)::int AS reports,
                   coalesce(sum(t.n) FILTER (WHERE t.kind = 'proposal'), 0)::int AS proposals,
                   (array_agg(top.code ORDER BY t.n DESC, top.code))[1] AS top,
                   max(t.n) AS top_count,
                   jsonb_object_agg('n_' || top.code, t.n) AS per_top
            FROM t JOIN categories top ON top.id = t.top_id
            WHERE t.n > 0
            GROUP BY 1, 2
        )
        SELECT ST_AsMVT(m, 'contributions', {EXTENT}, 'geom') FROM (
            SELECT count, reports, proposals, top, top_count, per_top,
                   ST_AsMVTGeom(ST_SetSRID(ST_MakePoint({-HALF} + (cx + 0.5) * :cell,
                                                        {HALF} - (cy + 0.5) * :cell), 3857),
                                ST_TileEnvelope(:z, :x, :y), {EXTENT}, {BUFFER}) AS geom
            FROM cells
        ) m
    """), params).scalar()


def _features_tile(session: Session, z: int, x: int, y: int, filters: list[KindFilter]) -> bytes:
    where, params = filter_clause(filters, "c")
    params.update(z=z, x=x, y=y, margin=BUFFER / EXTENT)
    # The envelope with its buffer, in WGS84 for the GiST index on geom: Web Mercator's x and y
    # map to longitude and latitude separately, so the transformed box is the exact rectangle.
    return session.execute(text(f"""
        SELECT ST_AsMVT(m, 'contributions', {EXTENT}, 'geom', 'id') FROM (
            SELECT c.id, c.kind, cat.code AS category, top.code AS top, c.status, c.title,
                   ST_AsMVTGeom(ST_Transform(c.geom, 3857), ST_TileEnvelope(:z, :x, :y),
                                {EXTENT}, {BUFFER}) AS geom
            FROM contributions c
            JOIN categories cat ON cat.id = c.category_id
            JOIN categories top ON top.id = COALESCE(cat.parent_id, cat.id)
            WHERE c.geom && ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => :margin), 4326)
              AND NOT c.hidden AND c.withdrawn_at IS NULL AND {where}
        ) m WHERE m.geom IS NOT NULL
    """), params).scalar()


def _areas_tile(session: Session, z: int, x: int, y: int, filters: list[KindFilter]) -> bytes:
    where, params = filter_clause(filters, "t")
    params.update(z=z, x=x, y=y, quartiers=z >= QUARTIERS_ZOOM)
    return session.execute(text(f"""
        WITH counts AS (
            SELECT t.arrondissement_id, t.quartier_id, sum(t.n)::int AS n
            FROM tile_area_counts t WHERE t.n <> 0 AND {where} GROUP BY 1, 2
        ), env AS (
            SELECT ST_TileEnvelope(:z, :x, :y) AS e,
                   ST_Transform(ST_TileEnvelope(:z, :x, :y), 4326) AS box
        )
        SELECT ST_AsMVT(m, 'areas', {EXTENT}, 'geom') FROM (
            SELECT 'arrondissement' AS level, a.id::int AS number, a.insee_code::text AS code,
                   a.name, (SELECT coalesce(sum(n), 0)::int FROM counts
                            WHERE counts.arrondissement_id = a.id) AS count,
                   ST_AsMVTGeom(ST_Transform(a.geom, 3857), env.e, {EXTENT}, {BUFFER}) AS geom
            FROM arrondissements a, env WHERE a.geom && env.box
            UNION ALL
            SELECT 'quartier', q.id::int, q.insee_code::text, q.name,
                   (SELECT coalesce(sum(n), 0)::int FROM counts WHERE counts.quartier_id = q.id),
                   ST_AsMVTGeom(ST_Transform(q.geom, 3857), env.e, {EXTENT}, {BUFFER})
            FROM quartiers q, env WHERE :quartiers AND q.geom && env.box
        ) m WHERE m.geom IS NOT NULL
    """), params).scalar()


def _missions_tile(session: Session, z: int, x: int, y: int) -> bytes:
    return session.execute(text(f"""
        SELECT ST_AsMVT(t, 'missions', {EXTENT}, 'geom') FROM (
            SELECT m.id::int AS id, m.title, m.domain, m.remote,
                   ns.remaining,
                   ST_AsMVTGeom(ST_Transform(p.geom, 3857), ST_TileEnvelope(:z, :x, :y),
                                {EXTENT}, {BUFFER}) AS geom
            FROM mission_places p
            JOIN missions m ON m.id = p.mission_id
            JOIN organisations o ON o.id = m.organisation_id
            JOIN LATERAL (  -- its next slot open to sign-ups: an ended one is not drawn
                SELECT s.capacity - s.taken AS remaining FROM mission_slots s
                WHERE s.mission_id = m.id
                  AND CASE WHEN m.schedule = 'open_period' THEN s.ends_at IS NULL OR s.ends_at > now()
                           ELSE s.starts_at > now() END
                ORDER BY s.starts_at LIMIT 1) ns ON true
            WHERE p.geom && ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => :margin), 4326)
              AND m.status IN ('published', 'full') AND o.status = 'verified'
        ) t WHERE t.geom IS NOT NULL
    """), {"z": z, "x": x, "y": y, "margin": BUFFER / EXTENT}).scalar()


def tile(session: Session, layer: str, z: int, x: int, y: int, filters: list[KindFilter]) -> bytes:
    """The MVT bytes of one tile of `layer` (empty when nothing is in it)."""
    if layer == "missions":
        data = _missions_tile(session, z, x, y)
    elif layer == "areas":
        data = _areas_tile(session, z, x, y, filters)
    elif not filters:
        return b""
    elif z < SHAPES_ZOOM or crowded(session, z, x, y, filters):
        data = _cells_tile(session, z, x, y, filters)
    else:
        data = _features_tile(session, z, x, y, filters)
    return bytes(data or b"")
