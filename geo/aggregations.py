"""SQL builders for the planner's statistics (pure: no Flask, no session, no app models).

Each builder returns a `Query` (SQL text, bind parameters, the source it reads) that `app/`
executes. Sources, cheapest first (tables of migration c5a7a7500003):

* rollups — `planner_hex_counts` (all time, per hexagon level), `planner_day_counts`
  (Paris day), `planner_month_counts` (Paris month × quartier), all keyed by kind, top-level
  type and status. Usable when the filters are no finer than their keys: categories given as
  top-level types, time bounds on Paris midnights (day) or month starts (month), no bbox;
* facts — `planner_facts`, one narrow row per visible contribution (sub-types, any instant,
  arrondissement/quartier filters);
* raw — contributions joined to their fact, for a bbox (the same ST_Intersects test as the
  listing endpoints).

Every source answers the same question exactly; the choice is only about speed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from geo.filters import contributions_where
from geo.hexgrid import LEVELS, edge

PARIS = ZoneInfo("Europe/Paris")
INTERVALS = ("day", "week", "month")
# A series has at most this many periods (points): every month of the dates the API accepts
# (2000–2100, 12 × 101), 3.3 years of days, 23 of weeks; a longer series is refused, or cut to
# this many when a bound is left out. Each period is a generated row and ~35 bytes of JSON:
# 2000–2100 by day would be 36,890 of them, more points than a chart has pixels.
MAX_SERIES_PERIODS = 1212
AREA_LEVELS = ("arrondissement", "quartier")
GROUPS = ("arrondissement", "category", "service")
# Paris in Lambert-93, with a margin: the naive hexagon grid covers it
PARIS_L93_EXTENT = (640000, 6855000, 665000, 6870000)


def paris_midnight(d: date) -> datetime:
    return datetime.combine(d, time(), tzinfo=PARIS)


def paris_day(instant: datetime) -> date | None:
    """The Paris calendar day starting exactly at `instant`, or None if it is not a midnight."""
    local = instant.astimezone(PARIS)
    return local.date() if local.time() == time() else None


@dataclass
class AggFilters:
    kind: str = "report"
    category_ids: list[int] | None = None  # the categories and their sub-categories
    type_ids: list[int] | None = None  # set when every requested category is a top-level type
    statuses: list[str] | None = None
    arrondissements: list[int] | None = None
    quartiers: list[int] | None = None
    bbox: tuple[float, float, float, float] | None = None
    since: datetime | None = None
    until: datetime | None = None

    @property
    def since_day(self) -> date | None:
        return paris_day(self.since) if self.since else None

    @property
    def until_day(self) -> date | None:
        return paris_day(self.until) if self.until else None

    def day_aligned(self) -> bool:
        return (self.since is None or self.since_day is not None) and (
            self.until is None or self.until_day is not None)

    def month_aligned(self) -> bool:
        return self.day_aligned() and all(
            d is None or d.day == 1 for d in (self.since_day, self.until_day))

    def types_only(self) -> bool:
        return self.category_ids is None or self.type_ids is not None

    def has_area(self) -> bool:
        return bool(self.arrondissements or self.quartiers)

    def previous(self) -> AggFilters | None:
        """The period of the same length just before (calendar months when month-aligned)."""
        if self.since is None:
            return None
        until = self.until or datetime.now(UTC)
        if self.month_aligned() and self.until is not None:
            a, b = self.since_day, self.until_day
            months = (b.year - a.year) * 12 + b.month - a.month
            y, m = divmod(a.year * 12 + a.month - 1 - months, 12)
            return replace(self, since=paris_midnight(date(y, m + 1, 1)), until=self.since)
        if self.day_aligned() and self.until is not None:
            days = (self.until_day - self.since_day).days
            return replace(self, since=paris_midnight(self.since_day - timedelta(days=days)),
                           until=self.since)
        return replace(self, since=self.since - (until - self.since), until=self.since)


@dataclass
class Query:
    sql: str
    params: dict = field(default_factory=dict)
    source: str = "facts"


def choose_source(f: AggFilters, key: str) -> str:
    """The cheapest table that answers counts grouped by `key` exactly under filters `f`."""
    if f.bbox:
        return "raw"
    if not f.types_only():
        return "facts"
    if key == "cell":
        return "hex" if f.since is None and f.until is None and not f.has_area() else "facts"
    if key in ("arrondissement", "quartier"):
        return "month" if f.month_aligned() else "facts"
    if key == "total":
        return "month" if f.month_aligned() else ("day" if f.day_aligned() and not f.has_area()
                                                  else "facts")
    if key in ("day", "week"):
        return "day" if f.day_aligned() and not f.has_area() else "facts"
    if key == "month":
        if f.month_aligned():
            return "month"
        return "day" if f.day_aligned() and not f.has_area() else "facts"
    return "facts"


TABLES = {
    "hex": "planner_hex_counts r",
    "day": "planner_day_counts r",
    "month": "planner_month_counts r",
    "facts": "planner_facts f",
    "raw": "contributions c JOIN planner_facts f ON f.id = c.id",
    "durations": "planner_duration_counts r",  # resolution statistics only
}
# the hexagons of every type and status (migration a9b0c1d00025): ~15 % of the rows of
# planner_hex_counts, read when no category is asked for
HEX_TOTALS = "planner_hex_totals r"


def where(f: AggFilters, source: str, p: str = "") -> tuple[str, dict]:
    """WHERE clause (without the keyword) and parameters; `p` prefixes parameter names."""
    a = "r" if source in ("hex", "day", "month") else "f"
    clauses, params = [f"{a}.kind = :{p}kind"], {f"{p}kind": f.kind}
    if source == "raw":
        clauses.append(f"ST_Intersects(c.geom, ST_MakeEnvelope(:{p}w, :{p}s, :{p}e, :{p}n, 4326))"
                       )
        params.update({p + k: v for k, v in zip("wsen", f.bbox, strict=True)})
    if f.category_ids is not None:
        if a == "r":
            clauses.append(f"r.type_id = ANY(:{p}type_ids)")
            params[f"{p}type_ids"] = f.type_ids
        elif f.type_ids is not None:
            # whole types: type_id alone is exact, and the (kind, type_id, day) index serves it
            # (a long `category_id = ANY(…)` of sub-types makes the planner misestimate)
            clauses.append(f"f.type_id = ANY(:{p}type_ids)")
            params[f"{p}type_ids"] = f.type_ids
        else:
            clauses.append(f"f.category_id = ANY(:{p}category_ids)")
            params[f"{p}category_ids"] = f.category_ids
    if f.statuses:
        clauses.append(f"{a}.status = ANY(:{p}statuses)")
        params[f"{p}statuses"] = f.statuses
    if f.arrondissements:
        if source == "month":
            clauses.append(f"r.quartier_id IN (SELECT id FROM quartiers "
                           f"WHERE arrondissement_id = ANY(:{p}arrondissements))")
        else:
            clauses.append(f"f.arrondissement_id = ANY(:{p}arrondissements)")
        params[f"{p}arrondissements"] = f.arrondissements
    if f.quartiers:
        clauses.append(f"{a if source != 'raw' else 'f'}.quartier_id = ANY(:{p}quartiers)")
        params[f"{p}quartiers"] = f.quartiers
    for bound, op in (("since", ">="), ("until", "<")):
        instant = getattr(f, bound)
        if instant is None:
            continue
        day = getattr(f, f"{bound}_day")
        if source == "month":
            clauses.append(f"r.month {op} :{p}{bound}_day")
            params[f"{p}{bound}_day"] = day
        elif source == "day":
            clauses.append(f"r.day {op} :{p}{bound}_day")
            params[f"{p}{bound}_day"] = day
        elif day is not None:
            # a Paris midnight: the Paris day alone decides, exactly (no created_at to read)
            clauses.append(f"f.day {op} :{p}{bound}_day")
            params[f"{p}{bound}_day"] = day
        else:
            # the Paris day bounds the index range; created_at decides exactly
            local = instant.astimezone(PARIS).date()
            clauses.append(f"f.day {op if bound == 'since' else '<='} :{p}{bound}_day")
            params[f"{p}{bound}_day"] = local
            clauses.append(f"f.created_at {op} :{p}{bound}")
            params[f"{p}{bound}"] = instant
    return " AND ".join(clauses), params


def _count(source: str) -> str:
    return "sum(r.n)" if source in ("hex", "day", "month") else "count(*)"


def grouped_counts(f: AggFilters, key: str, *, level: int | None = None, p: str = "") -> Query:
    """SELECT k, n: contributions matching `f` counted per key (cell, area, period, total)."""
    source = choose_source(f, key)
    cond, params = where(f, source, p)
    a = "r" if source in ("hex", "day", "month") else "f"
    joins = ""
    if key == "cell":
        if source == "hex":
            cond += f" AND r.level = :{p}level"
            params[f"{p}level"] = level
            k = "r.cell"
        else:
            k = f"f.c{level}"
    elif key == "arrondissement":
        if source == "month":
            joins, k = " JOIN quartiers q ON q.id = r.quartier_id", "q.arrondissement_id"
        else:
            k = f"{a}.arrondissement_id" if a == "f" else "0"
    elif key == "quartier":
        k = "r.quartier_id" if source == "month" else "f.quartier_id"
    elif key == "total":
        k = "0"
    elif key in ("day", "week", "month"):
        col = "r.month" if source == "month" else f"{a}.day"
        k = col if key == "day" or (key == "month" and source == "month") else \
            f"date_trunc('{key}', {col})::date"
    else:
        raise ValueError(key)
    table = HEX_TOTALS if source == "hex" and f.category_ids is None else TABLES[source]
    sql = (f"SELECT {k} AS k, {_count(source)} AS n FROM {table}{joins} "
           f"WHERE {cond} GROUP BY 1")
    if source in ("hex", "day", "month"):
        sql += " HAVING sum(r.n) > 0"
    return Query(sql, params, source)


def hexbins(f: AggFilters, level: int, min_count: int = 1) -> Query:
    """A FeatureCollection (text) of the non-empty hexagons, in WGS84, plus class breaks."""
    assert level in LEVELS
    counts = grouped_counts(f, "cell", level=level)
    counts.params.update({"size": edge(level), "min_count": min_count, "level": level})
    counts.sql = f"""
    WITH counts AS ({counts.sql}), kept AS (SELECT * FROM counts WHERE n >= :min_count)
    SELECT (SELECT count(*) FROM kept) AS cells,
           (SELECT coalesce(sum(n), 0) FROM kept) AS total,
           (SELECT percentile_disc(ARRAY[0.2, 0.4, 0.6, 0.8, 1.0]) WITHIN GROUP (ORDER BY n)
              FROM kept) AS breaks,
           (SELECT string_agg('{{"type":"Feature","id":' || k || ',"geometry":'
               || coalesce((SELECT s.geojson FROM planner_hex_shapes s
                            WHERE s.level = :level AND s.cell = kept.k),
                           ST_AsGeoJSON(ST_Transform(ST_SetSRID(ST_Hexagon(:size,
                                 (k >> 20)::int, (k & 1048575)::int), 2154), 4326), 6))
               || ',"properties":{{"cell":' || k || ',"count":' || n || '}}}}', ',' ORDER BY k)
              FROM kept) AS features
    """
    return counts


def hexbins_naive(f: AggFilters, level: int) -> Query:
    """The textbook answer from the raw table: ST_HexagonGrid joined by ST_Intersects."""
    cond, params = raw_where(f)
    params["size"] = edge(level)
    x0, y0, x1, y1 = PARIS_L93_EXTENT
    return Query(f"""
    SELECT (h.i::bigint << 20) + h.j AS k, count(*) AS n
    FROM ST_HexagonGrid(:size, ST_MakeEnvelope({x0}, {y0}, {x1}, {y1}, 2154)) h
    JOIN contributions c ON ST_Intersects(h.geom, c.geom_l93)
    WHERE {cond} GROUP BY 1""", params, "naive")


def raw_where(f: AggFilters) -> tuple[str, dict]:
    """The same filters on contributions alone (naive baselines), type from the categories."""
    clauses, params = contributions_where(
        f.kind, bbox=f.bbox, category_ids=f.category_ids, statuses=f.statuses,
        arrondissements=f.arrondissements, quartiers=f.quartiers, since=f.since, until=f.until)
    return " AND ".join(clauses), params


def areas(f: AggFilters, level: str) -> Query:
    """Per area: count, previous-period count, area in m²; zero rows included."""
    table = {"arrondissement": "arrondissements", "quartier": "quartiers"}[level]
    cur = grouped_counts(f, level, p="c_")
    prev_f = f.previous()
    prev = grouped_counts(prev_f, level, p="p_") if prev_f else None
    params = {**cur.params, **(prev.params if prev else {})}
    prev_sql = prev.sql if prev else "SELECT NULL::int AS k, NULL::bigint AS n WHERE false"
    return Query(f"""
    WITH cur AS ({cur.sql}), prev AS ({prev_sql})
    SELECT a.id, a.name, a.area_m2, coalesce(cur.n, 0)::bigint AS n, prev.n AS prev_n
    FROM {table} a LEFT JOIN cur ON cur.k = a.id LEFT JOIN prev ON prev.k = a.id
    ORDER BY a.id""", params, cur.source + ("+" + prev.source if prev else ""))


def areas_naive(f: AggFilters, level: str) -> Query:
    """Counts per area by point-in-polygon on the raw table (current period only)."""
    table = {"arrondissement": "arrondissements", "quartier": "quartiers"}[level]
    cond, params = raw_where(f)
    return Query(f"""
    SELECT a.id AS k, count(c.id) AS n FROM {table} a
    JOIN contributions c ON ST_Intersects(a.geom, c.geom) AND {cond}
    GROUP BY a.id""", params, "naive")


def series_days(f: AggFilters) -> tuple[date | None, date | None]:
    """The Paris days of the first and the last instant of `f`'s period (None: unbounded)."""
    start = f.since.astimezone(PARIS).date() if f.since else None
    end = (f.until - timedelta(microseconds=1)).astimezone(PARIS).date() if f.until else None
    return start, end


def period_start(day: date, interval: str) -> date:
    """The first day of the period holding `day` (a Monday for weeks)."""
    if interval == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1) if interval == "month" else day


def series_length(f: AggFilters, interval: str) -> int | None:
    """How many periods a series of `f` has when both bounds are given (else None: it spans
    the data, bounded in SQL), counted as `timeseries` generates them."""
    start, end = series_days(f)
    if start is None or end is None:
        return None
    a, b = period_start(start, interval), period_start(end, interval)
    if interval == "month":
        return (b.year - a.year) * 12 + b.month - a.month + 1
    return (b - a).days // (7 if interval == "week" else 1) + 1


def timeseries(f: AggFilters, interval: str) -> Query:
    """Counts per Paris day, ISO week (Monday) or month, empty periods filled with 0.

    Without `since` the series starts at the first contribution, without `until` it ends at
    the last: at most MAX_SERIES_PERIODS of them, the latest ones without `since`, else those
    from `since` on (with both, the caller has refused a longer series: `series_length`)."""
    counts = grouped_counts(f, interval)
    start, end = series_days(f)
    counts.params.update({"start": start, "end": end, "step": f"1 {interval}",
                          "span": f"{MAX_SERIES_PERIODS - 1} {interval}",
                          "from_start": start is not None})
    counts.sql = f"""
    WITH counts AS ({counts.sql}),
    bounds AS (SELECT date_trunc(:interval, coalesce(CAST(:start AS date), min(k)))::date AS a,
                      date_trunc(:interval, coalesce(CAST(:end AS date), max(k)))::date AS b
               FROM counts),
    span AS (SELECT CASE WHEN :from_start THEN a
                         ELSE greatest(a, (b - CAST(:span AS interval))::date) END AS a,
                    CASE WHEN :from_start THEN least(b, (a + CAST(:span AS interval))::date)
                         ELSE b END AS b
             FROM bounds)
    SELECT g::date AS period, coalesce(counts.n, 0)::bigint AS n
    FROM span, generate_series(span.a, span.b, CAST(:step AS interval)) g
    LEFT JOIN counts ON counts.k = g::date
    ORDER BY 1"""
    counts.params["interval"] = interval
    return counts


def timeseries_naive(f: AggFilters, interval: str) -> Query:
    cond, params = raw_where(f)
    return Query(f"""
    SELECT date_trunc('{interval}', c.created_at AT TIME ZONE 'Europe/Paris')::date AS k,
           count(*) AS n
    FROM contributions c WHERE {cond} GROUP BY 1""", params, "naive")


def hotspots(f: AggFilters, eps_m: float, min_points: int, limit: int = 50) -> Query:
    """DBSCAN clusters (Lambert-93 metres) with hull polygon, count, top categories, bbox."""
    source = "raw" if f.bbox else "facts"
    cond, params = where(f, source)
    params.update({"eps": eps_m, "minpts": min_points, "limit": limit})
    return Query(f"""
    WITH pts AS MATERIALIZED (
        SELECT f.id, f.category_id, ST_SetSRID(ST_MakePoint(f.x, f.y), 2154) AS g
        FROM {TABLES[source]} WHERE {cond}),
    cl AS MATERIALIZED (
        SELECT pts.*, ST_ClusterDBSCAN(g, eps := :eps, minpoints := :minpts) OVER () AS cid
        FROM pts),
    agg AS (SELECT cid, count(*) AS n,
                   ST_Transform(ST_Buffer(ST_ConvexHull(ST_Collect(g)), :eps / 2, 4), 4326) AS hull
            FROM cl WHERE cid IS NOT NULL GROUP BY cid ORDER BY n DESC, cid LIMIT :limit),
    cats AS (SELECT cid, category_id, count(*) AS n,
                    row_number() OVER (PARTITION BY cid ORDER BY count(*) DESC, category_id) AS rk
             FROM cl WHERE cid IS NOT NULL GROUP BY cid, category_id),
    top AS (SELECT cid, json_agg(json_build_array(category_id, n) ORDER BY rk) AS top
            FROM cats WHERE rk <= 3 GROUP BY cid)
    SELECT agg.cid, agg.n, ST_AsGeoJSON(agg.hull, 6) AS geometry,
           ST_XMin(agg.hull) AS w, ST_YMin(agg.hull) AS s, ST_XMax(agg.hull) AS e,
           ST_YMax(agg.hull) AS nn, top.top
    FROM agg JOIN top ON top.cid = agg.cid ORDER BY agg.n DESC, agg.cid""", params, source)


def hotspots_naive(f: AggFilters, eps_m: float, min_points: int) -> Query:
    """DBSCAN straight on the raw table: cluster sizes, largest first."""
    cond, params = raw_where(f)
    params.update({"eps": eps_m, "minpts": min_points})
    return Query(f"""
    SELECT count(*) AS n FROM (
        SELECT ST_ClusterDBSCAN(c.geom_l93, eps := :eps, minpoints := :minpts) OVER () AS cid
        FROM contributions c WHERE {cond}) t
    WHERE cid IS NOT NULL GROUP BY cid ORDER BY 1 DESC""", params, "naive")


# Durations at the API's precision (planner_duration_bucket, migration a9b0c1d00025): whole
# minutes, then two significant digits. Medians and 90th percentiles are `percentile_disc`
# (the first value whose cumulative share reaches the fraction), in minutes: a histogram at
# that precision (planner_duration_counts) gives exactly what a sort of the rows gives.
ACK = "planner_duration_bucket({a}.acknowledged_at - {a}.created_at)"
RESOLVE = "planner_duration_bucket({a}.closed_at - {a}.created_at)"
RESOLUTION_METRICS = f"""
    count(*) AS n,
    percentile_disc(0.5) WITHIN GROUP (ORDER BY {ACK})
        FILTER (WHERE {{a}}.acknowledged_at IS NOT NULL) AS ack_median,
    percentile_disc(0.9) WITHIN GROUP (ORDER BY {ACK})
        FILTER (WHERE {{a}}.acknowledged_at IS NOT NULL) AS ack_p90,
    percentile_disc(0.5) WITHIN GROUP (ORDER BY {RESOLVE})
        FILTER (WHERE {{a}}.status = 'resolved' AND {{a}}.closed_at IS NOT NULL) AS resolve_median,
    percentile_disc(0.9) WITHIN GROUP (ORDER BY {RESOLVE})
        FILTER (WHERE {{a}}.status = 'resolved' AND {{a}}.closed_at IS NOT NULL) AS resolve_p90,
    count(*) FILTER (WHERE {{a}}.status = 'resolved') AS resolved,
    count(*) FILTER (WHERE {{a}}.closed_at IS NOT NULL OR {{a}}.reopen_count > 0) AS ever_closed,
    count(*) FILTER (WHERE {{a}}.reopen_count > 0) AS reopened
"""
# "all": one group (the kind) for the whole selection (the planner's report); not in GROUPS,
# so the API does not offer it
GROUP_KEYS = {"arrondissement": "arrondissement_id", "category": "type_id", "service": "service_id",
              "all": "kind"}
# planner_duration_counts.dim per group; "all" reads the dimension its filters need
DURATION_DIMS = {"arrondissement": "a", "category": "t", "service": "s"}


def duration_dim(f: AggFilters, group_by: str) -> str | None:
    """The histogram dimension that answers `group_by` under `f` exactly, or None (facts).

    Each dimension is stored alone, not crossed with the others: a filter on a dimension
    other than the grouped one (categories while grouping by arrondissement), a quartier,
    a bbox or bounds that are not Paris month starts are answered from the facts."""
    if f.bbox or f.quartiers or not f.month_aligned() or not f.types_only():
        return None
    filtered = {d for d, on in (("a", f.arrondissements), ("t", f.category_ids)) if on}
    if group_by == "all":
        return "t" if not filtered else (filtered.pop() if len(filtered) == 1 else None)
    dim = DURATION_DIMS[group_by]
    return dim if filtered <= {dim} else None


def duration_spans(since: date | None, until: date | None) -> list[tuple[str, date | None,
                                                                         date | None]]:
    """[since, until) (month starts, None: unbounded) as whole Paris years ('y') and the
    months ('m') around them: (span, first period, end period exclusive)."""
    first_year = since if since is None or (since.month == 1) else date(since.year + 1, 1, 1)
    end_year = until if until is None else until.replace(month=1)
    if first_year is not None and end_year is not None and first_year >= end_year:
        return [("m", since, until)]
    spans = [("y", first_year, end_year)]
    if since is not None and since < first_year:
        spans.append(("m", since, first_year))
    if until is not None and end_year < until:
        spans.append(("m", end_year, until))
    return spans


def resolution_histogram(f: AggFilters, group_by: str, dim: str) -> Query:
    """The resolution metrics from planner_duration_counts: per group and metric, the counts
    per value summed over the periods, then the first value whose running count reaches
    ceil(fraction × total): percentile_disc's own rule (orderedsetaggs.c), in float8 too."""
    params: dict = {"kind": f.kind, "dim": dim}
    ranges = []
    for i, (span, a, b) in enumerate(duration_spans(f.since_day, f.until_day)):
        cond = [f"r.span = '{span}'"]
        if a is not None:
            cond.append(f"r.period >= :a{i}")
            params[f"a{i}"] = a
        if b is not None:
            cond.append(f"r.period < :b{i}")
            params[f"b{i}"] = b
        ranges.append("(" + " AND ".join(cond) + ")")
    clauses = ["r.kind = :kind", "r.dim = :dim", "(" + " OR ".join(ranges) + ")"]
    keys = f.arrondissements if dim == "a" else f.type_ids if dim == "t" else None
    if keys:
        clauses.append("r.key = ANY(:keys)")
        params["keys"] = list(keys)
    if f.statuses:
        clauses.append("r.status = ANY(:statuses)")
        params["statuses"] = f.statuses
    key = {"a": "r.key", "t": "r.key", "s": "NULLIF(r.key, 0)"}[dim] if group_by != "all" \
        else "CAST(:kind AS text)"
    # metric 0: value 1 = ever closed, 2 = reopened, and 4 added here = resolved now
    return Query(f"""
    WITH h AS (
        SELECT {key} AS k, r.metric,
               r.value + CASE WHEN r.metric = 0 AND r.status = 'resolved' THEN 4 ELSE 0 END AS value,
               sum(r.n) AS n
        FROM planner_duration_counts r WHERE {" AND ".join(clauses)}
        GROUP BY 1, 2, 3 HAVING sum(r.n) <> 0),
    c AS (
        SELECT h.*, sum(n) OVER (PARTITION BY k, metric ORDER BY value) AS cum,
               sum(n) OVER (PARTITION BY k, metric) AS total
        FROM h)
    SELECT k, sum(n) FILTER (WHERE metric = 0) AS n,
           min(value) FILTER (WHERE metric = 1 AND cum >= ceil(0.5::float8 * total)) AS ack_median,
           min(value) FILTER (WHERE metric = 1 AND cum >= ceil(0.9::float8 * total)) AS ack_p90,
           min(value) FILTER (WHERE metric = 2 AND cum >= ceil(0.5::float8 * total))
               AS resolve_median,
           min(value) FILTER (WHERE metric = 2 AND cum >= ceil(0.9::float8 * total)) AS resolve_p90,
           coalesce(sum(n) FILTER (WHERE metric = 0 AND value & 4 = 4), 0) AS resolved,
           coalesce(sum(n) FILTER (WHERE metric = 0 AND value & 1 = 1), 0) AS ever_closed,
           coalesce(sum(n) FILTER (WHERE metric = 0 AND value & 2 = 2), 0) AS reopened
    FROM c GROUP BY 1 HAVING sum(n) FILTER (WHERE metric = 0) > 0 ORDER BY 1""", params,
                 "durations")


def resolution(f: AggFilters, group_by: str) -> Query:
    """Time to acknowledge and to resolve (minutes at the API's precision), share resolved,
    reopen rate, per group: from the histograms when they answer `f`, else from the facts."""
    dim = duration_dim(f, group_by)
    if dim is not None:
        return resolution_histogram(f, group_by, dim)
    source = "raw" if f.bbox else "facts"
    cond, params = where(f, source)
    return Query(f"""
    SELECT f.{GROUP_KEYS[group_by]} AS k, {RESOLUTION_METRICS.format(a='f')}
    FROM {TABLES[source]} WHERE {cond} GROUP BY 1 ORDER BY 1""", params, source)


def resolution_naive(f: AggFilters, group_by: str) -> Query:
    """The same metrics sorted from the raw table (`percentile_disc` over every row)."""
    cond, params = raw_where(f)
    key = {"arrondissement": "c.arrondissement_id", "category": "coalesce(cat.parent_id, cat.id)",
           "service": "c.service_id", "all": "c.kind"}[group_by]
    return Query(f"""
    SELECT {key} AS k, {RESOLUTION_METRICS.format(a='c')}
    FROM contributions c JOIN categories cat ON cat.id = c.category_id
    WHERE {cond} GROUP BY 1 ORDER BY 1""", params, "naive")
