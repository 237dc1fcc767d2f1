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
    "planner_day_counts": _symmetric_difference(
        "SELECT day, kind::text, type_id, status::text, n::bigint FROM planner_day_counts WHERE n <> 0",
        f"SELECT r.day, r.kind::text, r.type_id, r.status::text, count(*) FROM ({_RAW}) r "
        "GROUP BY 1, 2, 3, 4"),
    "planner_month_counts": _symmetric_difference(
        "SELECT month, kind::text, type_id, status::text, quartier_id, n::bigint "
        "FROM planner_month_counts WHERE n <> 0",
        f"SELECT date_trunc('month', r.day)::date, r.kind::text, r.type_id, r.status::text, "
        f"r.quartier_id, count(*) FROM ({_RAW}) r GROUP BY 1, 2, 3, 4, 5"),
}
