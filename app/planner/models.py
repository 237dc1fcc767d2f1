"""The planner's tables (created by migration c5a7a7500003, maintained by its triggers).

Read with SQL (geo/aggregations.py builds it); no ORM classes are needed since nothing in
Python ever writes them. What is here: the recount queries that prove every rollup equals
the raw count from `contributions`.
"""

from geo.hexgrid import LEVELS

# A contribution as the rollups see it, recomputed from the raw table alone.
_RAW = """
    SELECT c.kind, COALESCE(cat.parent_id, cat.id) AS type_id, c.status, c.quartier_id,
           (c.created_at AT TIME ZONE 'Europe/Paris')::date AS day, p.x, p.y
    FROM contributions c JOIN categories cat ON cat.id = c.category_id
    CROSS JOIN LATERAL (SELECT ST_X(g) AS x, ST_Y(g) AS y FROM (SELECT CASE
        WHEN GeometryType(c.geom_l93) = 'POINT' THEN c.geom_l93
        ELSE ST_PointOnSurface(c.geom_l93) END AS g) t OFFSET 0) p
    WHERE NOT c.hidden AND c.withdrawn_at IS NULL
"""
# A contribution's histogram rows (migration a9b0c1d00025), from the raw table alone.
_DURATIONS = """
    SELECT c.kind::text, k.dim, s.span, s.period, k.key, c.status::text, m.metric, m.value
    FROM contributions c JOIN categories cat ON cat.id = c.category_id
    CROSS JOIN LATERAL (SELECT (c.created_at AT TIME ZONE 'Europe/Paris')::date AS day) t
    CROSS JOIN LATERAL (VALUES ('a', c.arrondissement_id::integer),
                               ('t', COALESCE(cat.parent_id, cat.id)),
                               ('s', coalesce(c.service_id, 0))) k(dim, key)
    CROSS JOIN LATERAL (VALUES ('m', date_trunc('month', t.day)::date),
                               ('y', date_trunc('year', t.day)::date)) s(span, period)
    CROSS JOIN LATERAL (
        SELECT 0 AS metric, (c.closed_at IS NOT NULL OR c.reopen_count > 0)::integer
                            + 2 * (c.reopen_count > 0)::integer AS value
        UNION ALL SELECT 1, planner_duration_bucket(c.acknowledged_at - c.created_at)
        WHERE c.acknowledged_at IS NOT NULL
        UNION ALL SELECT 2, planner_duration_bucket(c.closed_at - c.created_at)
        WHERE c.status = 'resolved' AND c.closed_at IS NOT NULL) m
    WHERE NOT c.hidden AND c.withdrawn_at IS NULL
"""
_DURATION_KEY = "d.kind, d.dim, d.span, d.period, d.key, d.status, d.metric::int, d.value"
_HEX = ", ".join(f"({m}, planner_hex_cell(r.x, r.y, {m}))" for m in LEVELS)


def _symmetric_difference(rollup: str, recount: str) -> str:
    return f"""
    WITH a AS ({rollup}), b AS ({recount})
    SELECT (SELECT count(*) FROM (SELECT * FROM a EXCEPT ALL SELECT * FROM b) x)
         + (SELECT count(*) FROM (SELECT * FROM b EXCEPT ALL SELECT * FROM a) y)"""


RECOUNT_SQL = {
    "planner_facts": _symmetric_difference(
        "SELECT id FROM planner_facts",
        "SELECT id FROM contributions WHERE NOT hidden AND withdrawn_at IS NULL"),
    "planner_hex_counts": _symmetric_difference(
        "SELECT level::int, kind::text, type_id, status::text, cell, n::bigint "
        "FROM planner_hex_counts WHERE n <> 0",
        f"SELECT v.level, r.kind::text, r.type_id, r.status::text, v.cell, count(*) "
        f"FROM ({_RAW}) r CROSS JOIN LATERAL (VALUES {_HEX}) v(level, cell) GROUP BY 1, 2, 3, 4, 5"),
    # against planner_hex_counts summed over types (itself recounted above): the hexagons of
    # the raw rows cost ~15 s on the extract, once is enough
    "planner_hex_totals": _symmetric_difference(
        "SELECT level::int, kind::text, status::text, cell, n::bigint "
        "FROM planner_hex_totals WHERE n <> 0",
        "SELECT level::int, kind::text, status::text, cell, sum(n)::bigint FROM planner_hex_counts "
        "GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0"),
    "planner_day_counts": _symmetric_difference(
        "SELECT day, kind::text, type_id, status::text, n::bigint FROM planner_day_counts WHERE n <> 0",
        f"SELECT r.day, r.kind::text, r.type_id, r.status::text, count(*) FROM ({_RAW}) r "
        "GROUP BY 1, 2, 3, 4"),
    "planner_month_counts": _symmetric_difference(
        "SELECT month, kind::text, type_id, status::text, quartier_id, n::bigint "
        "FROM planner_month_counts WHERE n <> 0",
        f"SELECT date_trunc('month', r.day)::date, r.kind::text, r.type_id, r.status::text, "
        f"r.quartier_id, count(*) FROM ({_RAW}) r GROUP BY 1, 2, 3, 4, 5"),
    "planner_duration_counts": _symmetric_difference(
        "SELECT kind::text, dim::text, span::text, period, key, status::text, metric::int, value, "
        "n::bigint FROM planner_duration_counts WHERE n <> 0",
        f"SELECT {_DURATION_KEY}, count(*) FROM ({_DURATIONS}) d GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"),
}
