"""The planner's statistics: filters from the parsed query (app/planner/schemas.py),
aggregates from the rollups. No Flask request here: the views parse, these compute.

Reads only. The SQL comes from geo/aggregations.py; rollups are kept exact by the database
triggers of migration c5a7a7500003 (same transaction as every write, so the lag is zero).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.areas.services import category_index
from app.contributions.models import STATUS_GROUPS
from app.errors import FieldError, ValidationFailed
from geo import aggregations as agg
from geo.hexgrid import snap_level

if TYPE_CHECKING:
    from app.planner.schemas import StatsQuery

PUBLIC_MIN_COUNT = 5  # the public never sees a count below this in a cell, area or group
FRESHNESS = {"mode": "transactional", "lag_seconds": 0}
MAX_HOTSPOT_DAYS = 92
HOTSPOT_DEFAULT_DAYS = 30  # without `since`, the hotspots' window is this many days
DEFAULT_CELL_M = 200
# hotspots' query parameters: (lowest, highest, default); the public's min_points is at
# least PUBLIC_MIN_COUNT
EPS_M, MIN_POINTS, HOTSPOT_LIMIT = (20, 500, 100), (3, 1000, 10), (1, 200, 50)
# the columns of the `format=csv` answers
HEXBIN_COLUMNS = ["cell", "i", "j", "cell_m", "count"]
AREA_COLUMNS = ["code", "name", "count", "density_km2", "share", "previous_count", "change",
                "change_pct"]
TIMESERIES_COLUMNS = ["period", "count"]
RESOLUTION_COLUMNS = ["code", "label", "count", "ack_median_h", "ack_p90_h", "resolve_median_h",
                      "resolve_p90_h", "share_resolved", "reopen_rate"]


@dataclass
class Request:
    filters: agg.AggFilters
    echo: dict
    staff: bool

    @property
    def min_count(self) -> int:
        return 1 if self.staff else PUBLIC_MIN_COUNT


def paris_bound(value: datetime | date | None, *, end: bool = False) -> datetime | None:
    """A filter bound as an instant: a bare date means Paris midnight for statistics (the
    calendar planners use), the next one for `until` so that the day is included; a date-time
    is itself (UTC when it had no offset)."""
    if value is None or isinstance(value, datetime):
        return value
    return agg.paris_midnight(value + timedelta(days=1) if end else value)


def stats_request(session: Session, query: StatsQuery, staff: bool) -> Request:
    """The shared filters of every /stats endpoint, from their parsed query (app/planner/
    schemas.py: codes, statuses and bounds are already checked there)."""
    kind = query.kind
    index = category_index(session)
    codes = query.category or None
    category_ids = type_ids = None
    if codes:
        category_ids = [i for c in codes for i in index.subtree_ids(c, kind)]
        if all(index.by_code[c].parent_id is None for c in codes):
            type_ids = [index.by_code[c].id for c in codes]
    statuses = None
    if query.status:
        groups = STATUS_GROUPS[kind]
        statuses = [s for asked in query.status for s in groups.get(asked, (asked,))]
    f = agg.AggFilters(
        kind=kind, category_ids=category_ids, type_ids=type_ids, statuses=statuses,
        arrondissements=query.arrondissement or None, quartiers=query.quartier or None,
        bbox=query.bbox, since=paris_bound(query.since), until=paris_bound(query.until, end=True),
    )
    if f.since and f.until and f.since >= f.until:
        raise ValidationFailed([FieldError("until", "empty_period", {"min": f.since.isoformat()})])
    echo = {
        "kind": kind,
        "category": codes,
        "status": list(query.status) if query.status else None,
        "since": f.since.isoformat() if f.since else None,
        "until": f.until.isoformat() if f.until else None,
        "arrondissement": f.arrondissements,
        "quartier": f.quartiers,
        "bbox": list(f.bbox) if f.bbox else None,
    }
    return Request(f, echo, staff)


def _envelope(req: Request, source: str, **extra) -> dict:
    return {"filters": req.echo, "source": source, "freshness": FRESHNESS,
            "public": not req.staff, **extra}


def public_total(req: Request, total: int, suppressed: bool) -> int:
    """The public's total: rounded down to a multiple of 10 when small counts were left out,
    so that total minus the visible counts cannot reveal a hidden one."""
    return total if req.staff or not suppressed else total - total % 10


# ---- hexbins --------------------------------------------------------------------------------

def hexbins(session: Session, req: Request, requested: int = DEFAULT_CELL_M) -> str:
    """A GeoJSON FeatureCollection (text) of hexagons with their count; `requested` is the
    cell size asked for, snapped to the nearest stored level."""
    level = snap_level(requested)
    q = agg.hexbins(req.filters, level, req.min_count)
    row = session.execute(text(q.sql), q.params).one()
    head = _envelope(req, q.source, cell_m=level, cell_m_requested=requested,
                     total=int(row.total),  # for the public: the visible cells only
                     cells=row.cells, breaks=sorted(set(row.breaks or [])))
    return ('{"type":"FeatureCollection",' + json.dumps(head)[1:-1]
            + ',"features":[' + (row.features or "") + "]}")


def hexbin_rows(session: Session, req: Request,
                requested: int = DEFAULT_CELL_M) -> tuple[int, list[tuple[int, int]]]:
    level = snap_level(requested)
    q = agg.grouped_counts(req.filters, "cell", level=level)
    rows = session.execute(text(q.sql), q.params).all()
    return level, sorted((k, n) for k, n in rows if n >= req.min_count)


# ---- areas ----------------------------------------------------------------------------------

def areas(session: Session, req: Request, level: str) -> dict:
    q = agg.areas(req.filters, level)
    rows = session.execute(text(q.sql), q.params).all()
    total = sum(r.n for r in rows)
    has_prev = req.filters.previous() is not None
    out = []
    for r in rows:
        small = not req.staff and r.n < req.min_count
        prev_small = not req.staff and r.prev_n is not None and r.prev_n < req.min_count
        prev = None if not has_prev or prev_small else int(r.prev_n or 0)
        out.append({
            "code": r.id, "name": r.name,
            "count": None if small else int(r.n),
            "suppressed": small,
            "density_km2": None if small else round(r.n / (r.area_m2 / 1e6), 2),
            "share": None if small or not total else round(r.n / total, 5),
            "previous_count": prev,
            "change": None if small or prev is None else int(r.n) - prev,
            "change_pct": None if small or not prev else round(100 * (r.n - prev) / prev, 1),
        })
    previous = req.filters.previous()
    suppressed = any(a["suppressed"] for a in out)
    return _envelope(req, q.source, level=level, total=public_total(req, total, suppressed),
                     previous_period=None if previous is None else {
                         "since": previous.since.isoformat(), "until": previous.until.isoformat()},
                     areas=out)


# ---- timeseries -----------------------------------------------------------------------------

def timeseries(session: Session, req: Request, interval: str) -> dict:
    """Counts per period; a series of more than MAX_SERIES_PERIODS is refused before anything
    is counted (`period_too_long` on `since`)."""
    length = agg.series_length(req.filters, interval)
    if length is not None and length > agg.MAX_SERIES_PERIODS:
        raise ValidationFailed([FieldError("since", "period_too_long", {"max": agg.MAX_SERIES_PERIODS},
                                           message_key="series_too_long")])
    q = agg.timeseries(req.filters, interval)
    rows = session.execute(text(q.sql), q.params).all()
    series = [{"period": r.period.isoformat(),
               "count": int(r.n) if req.staff or r.n == 0 or r.n >= req.min_count else None}
              for r in rows]
    suppressed = any(p["count"] is None for p in series)
    return _envelope(req, q.source, interval=interval, timezone="Europe/Paris",
                     total=public_total(req, sum(int(r.n) for r in rows), suppressed), series=series)


# ---- hotspots -------------------------------------------------------------------------------

def window_too_long(f: agg.AggFilters) -> bool:
    """More than MAX_HOTSPOT_DAYS between `since` and `until`: counted in Paris calendar days
    when both are Paris midnights (a window across a clock change is not an hour too long or
    short), else in elapsed time."""
    since_day, until_day = f.since_day, f.until_day
    if since_day is not None and until_day is not None:
        return (until_day - since_day).days > MAX_HOTSPOT_DAYS
    return f.until - f.since > timedelta(days=MAX_HOTSPOT_DAYS)


def hotspots(session: Session, req: Request, eps_m: int = EPS_M[2],
             min_points: int = MIN_POINTS[2], limit: int = HOTSPOT_LIMIT[2]) -> dict:
    """DBSCAN clusters over at most MAX_HOTSPOT_DAYS (default: the last
    HOTSPOT_DEFAULT_DAYS days of data). The public's `min_points` is at least
    PUBLIC_MIN_COUNT, so that no cluster is smaller than a count it may see."""
    f, errors = req.filters, []
    if min_points < req.min_count:
        errors.append(FieldError("min_points", "below_public_minimum", {"min": req.min_count}))
    if f.until is None:
        last = session.scalar(text("SELECT max(created_at) FROM planner_facts WHERE kind = :k"),
                              {"k": f.kind}) or datetime.now(UTC)
        f.until = agg.paris_midnight(last.astimezone(agg.PARIS).date() + timedelta(days=1))
    if f.since is None:
        f.since = f.until - timedelta(days=HOTSPOT_DEFAULT_DAYS)
    if window_too_long(f):
        errors.append(FieldError("since", "period_too_long", {"max": MAX_HOTSPOT_DAYS}))
    if errors:
        raise ValidationFailed(errors)
    req.echo.update(since=f.since.isoformat(), until=f.until.isoformat())
    q = agg.hotspots(f, eps_m, min_points, limit)
    index = category_index(session)
    features = []
    for rank, r in enumerate(session.execute(text(q.sql), q.params), start=1):
        top = [{"code": index.by_id[c].code, "label": {"fr": index.by_id[c].label_fr,
                                                        "en": index.by_id[c].label_en},
                "count": n} for c, n in (r.top or []) if req.staff or n >= req.min_count]
        link = {"bbox": f"{r.w:.6f},{r.s:.6f},{r.e:.6f},{r.nn:.6f}",
                "since": f.since.isoformat(), "until": f.until.isoformat()}
        if req.echo["category"]:
            link["category"] = ",".join(req.echo["category"])
        if f.statuses:
            link["status"] = ",".join(f.statuses)
        features.append({
            "type": "Feature", "id": rank, "geometry": json.loads(r.geometry),
            "properties": {"rank": rank, "count": r.n, "top_categories": top,
                           "reports_url": f"/api/v1/{f.kind}s?{urlencode(link)}"},
        })
    return {"type": "FeatureCollection",
            **_envelope(req, q.source, method="ST_ClusterDBSCAN", eps_m=eps_m,
                        min_points=min_points),
            "features": features}


# ---- resolution -----------------------------------------------------------------------------

def hours(minutes: int | None) -> float | None:
    """A duration at the statistics' precision (whole minutes, two significant digits: see
    geo/aggregations.py), in hours with two decimals, as the API reports it."""
    return None if minutes is None else round(int(minutes) / 60, 2)


def resolution(session: Session, req: Request, group_by: str) -> dict:
    """Medians and 90th percentiles of the times to acknowledge and to resolve per group:
    from the duration histograms when the filters allow it (`source` "durations"), else
    from the facts; both give the same numbers (`percentile_disc` of bucketed minutes)."""
    q = agg.resolution(req.filters, group_by)
    labels = _labels(session, group_by)
    groups = []
    for r in session.execute(text(q.sql), q.params):
        small = not req.staff and r.n < req.min_count

        def h(v, small=small):
            return None if small else hours(v)

        code, label = labels.get(r.k, (r.k, None))
        groups.append({
            "code": code, "label": label, "count": None if small else int(r.n),
            "suppressed": small,
            "ack_median_h": h(r.ack_median), "ack_p90_h": h(r.ack_p90),
            "resolve_median_h": h(r.resolve_median), "resolve_p90_h": h(r.resolve_p90),
            "share_resolved": None if small else round(int(r.resolved) / int(r.n), 4),
            "reopen_rate": None if small or not r.ever_closed
            else round(int(r.reopened) / int(r.ever_closed), 4),
        })
    return _envelope(req, q.source, group_by=group_by, groups=groups)


def _labels(session: Session, group_by: str) -> dict:
    if group_by == "arrondissement":
        return {i: (i, name) for i, name in session.execute(text("SELECT id, name FROM arrondissements"))}
    if group_by == "service":
        return {i: (code, name) for i, code, name in
                session.execute(text("SELECT id, code, name_fr FROM services"))}
    return {c.id: (c.code, c.label_fr) for c in category_index(session).by_id.values()}


# ---- months with data -----------------------------------------------------------------------

def data_months(session: Session) -> dict[str, dict[str, str] | None]:
    """Per kind, the first and the latest month (Europe/Paris calendar, first day as
    YYYY-MM-DD) holding a contribution, from the database: the dashboard's time slider starts
    at the latest one (the demo data ends long before today)."""
    rows = session.execute(text(
        "SELECT kind, min(created_at), max(created_at) FROM planner_facts GROUP BY kind")).all()
    out: dict[str, dict[str, str] | None] = {"report": None, "proposal": None}
    for kind, first, last in rows:
        out[kind] = {"first": first.astimezone(agg.PARIS).date().replace(day=1).isoformat(),
                     "last": last.astimezone(agg.PARIS).date().replace(day=1).isoformat()}
    return out


# ---- CSV ------------------------------------------------------------------------------------

def to_csv(rows: list[dict], columns: list[str], delimiter: str = ",") -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n",
                            delimiter=delimiter)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return out.getvalue()


# The planner's own downloads (/planner/export/*.csv) are for spreadsheets set up in French:
# `;` between fields (`,` is the decimal mark), a UTF-8 byte order mark so that accents are
# read right, local Paris times, and a human label beside every code. The API's `format=csv`
# answers keep their documented form (`,`, no BOM).
SHEET_BOM = "\ufeff"
SHEET_DELIMITER = ";"


def sheet_value(value):
    """A value as a French spreadsheet reads it: a time in Paris (no offset, to the second),
    a decimal with a comma."""
    if isinstance(value, datetime):
        return value.astimezone(agg.PARIS).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):  # never in exponent form (1e-05), which spreadsheets misread
        text_ = repr(value) if "e" not in repr(value) else f"{value:.12f}".rstrip("0").rstrip(".")
        return text_.replace(".", ",")
    if isinstance(value, Decimal):
        return str(value).replace(".", ",")
    return value


def to_sheet(rows: list[dict], columns: list[str], header: bool = True) -> str:
    """Rows as CSV for a French spreadsheet (see SHEET_DELIMITER); the header row (with the
    byte order mark) only when `header`."""
    text_ = to_csv([{k: sheet_value(v) for k, v in row.items()} for row in rows], columns,
                   SHEET_DELIMITER)
    if not header:
        return text_.split("\n", 1)[1]
    return SHEET_BOM + text_


# ---- contribution exports (no personal data) -----------------------------------------------

EXPORT_COLUMNS = ["id", "kind", "kind_label", "type", "type_label", "category", "category_label",
                  "status", "status_label", "arrondissement", "arrondissement_name", "quartier",
                  "quartier_name", "created_at", "acknowledged_at", "closed_at", "lon", "lat"]
# the aggregates download of the dashboard: the API's areas columns, French-spreadsheet style
AREA_SHEET_COLUMNS = ["code", "name", "count", "density_km2", "share", "previous_count",
                      "change", "change_pct"]


def export_labels(session: Session, lang: str):
    """A function adding the human labels (in `lang`) beside the codes of an export row."""
    from app.field import workflow

    index = category_index(session)
    by_code = {c.code: (c.label_en if lang == "en" else c.label_fr) for c in index.by_id.values()}
    arrondissements = dict(session.execute(text("SELECT id, name FROM arrondissements")).all())
    quartiers = dict(session.execute(text("SELECT id, name FROM quartiers")).all())
    kinds = {k: workflow.label(workflow.KIND_LABELS, k, lang) for k in workflow.KIND_LABELS}
    statuses = {"report": workflow.LABELS, "proposal": workflow.PROPOSAL_LABELS}

    def label(row: dict) -> dict:
        row["kind_label"] = kinds.get(row["kind"], row["kind"])
        row["type_label"] = by_code.get(row["type"], row["type"])
        row["category_label"] = by_code.get(row["category"], row["category"])
        row["status_label"] = workflow.label(statuses.get(row["kind"], {}), row["status"], lang)
        row["arrondissement_name"] = arrondissements.get(row["arrondissement"])
        row["quartier_name"] = quartiers.get(row["quartier"])
        return row

    return label


def export_rows(session: Session, req: Request, batch: int = 5000):
    """Matching contributions as dicts, in id order, fetched by keyset pages of `batch` rows
    (constant memory for millions of rows). No title, description, address or author: free
    text may name people. Proposals are exported at their point on surface."""
    source = "raw" if req.filters.bbox else "facts"
    cond, params = agg.where(req.filters, source)
    sql = text(f"""
        SELECT f.id, f.kind, t.code AS type, cat.code AS category, f.status,
               f.arrondissement_id AS arrondissement, f.quartier_id AS quartier,
               f.created_at, f.acknowledged_at, f.closed_at,
               round(ST_X(p)::numeric, 6) AS lon, round(ST_Y(p)::numeric, 6) AS lat
        FROM {agg.TABLES[source]}
        JOIN categories cat ON cat.id = f.category_id JOIN categories t ON t.id = f.type_id
        CROSS JOIN LATERAL ST_Transform(ST_SetSRID(ST_MakePoint(f.x, f.y), 2154), 4326) p
        WHERE {cond} AND f.id > :after ORDER BY f.id LIMIT :batch""")
    after = 0
    while True:
        rows = session.execute(sql, {**params, "after": after, "batch": batch}).mappings().all()
        for row in rows:
            yield dict(row)
        if len(rows) < batch:
            return
        after = rows[-1]["id"]


def export_count(session: Session, req: Request) -> int:
    q = agg.grouped_counts(req.filters, "total")
    return int(sum(n for _, n in session.execute(text(q.sql), q.params)))


def hexbins_for_report(session: Session, req: Request) -> str:
    """The hexagons of the report (DEFAULT_CELL_M: the report's heatmap layer says 200 m)."""
    return hexbins(session, req, DEFAULT_CELL_M)


def hotspots_for_report(session: Session, req: Request) -> dict:
    return hotspots(session, req)
