"""/api/v1/stats/* (public, small counts left out for non-staff), the /planner dashboard and
its exports (planners and staff)."""

import json
import time
from functools import wraps

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)

from app.accounts.auth import current_user
from app.api.contract import CSV, GEOJSON, JSON, Reply, describe, operation, parse_query
from app.db import db
from app.errors import Forbidden, NotFound
from app.planner import services
from app.planner.schemas import (
    HOTSPOT_WINDOW,
    STATS_CSV,
    AreasQuery,
    AreaStats,
    HexbinCollection,
    HexbinsQuery,
    HotspotCollection,
    HotspotsQuery,
    ReportQuery,
    ResolutionQuery,
    ResolutionStats,
    StatsQuery,
    Timeseries,
    TimeseriesQuery,
)
from app.web import services as web_services

bp = Blueprint("planner", __name__)
TAGS = ("Statistics",)
HEADERS = ("Cache-Control", "Server-Timing", "Vary")
PUBLIC = (f"Public: for callers who are not planners or staff, counts below "
          f"{services.PUBLIC_MIN_COUNT} are left out (`public` is true); planners and staff see "
          "everything. Every invalid parameter is reported in the same 422; the period "
          "(`empty_period`, and for hotspots and series `period_too_long`) is checked once they are "
          "valid.")


def is_staff() -> bool:
    user = current_user()
    return user is not None and (user.is_staff or user.has_role("planner"))


def requires_planner(view):
    """Planners and staff; a signed-out browser is sent to the sign-in page."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_user() is None and not request.path.startswith("/api/"):
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
        if not is_staff():
            raise Forbidden()
        return view(*args, **kwargs)

    return wrapper


def described(summary: str, description: str):
    """The shared `describe`, with the statistics' public rule in every description."""
    return describe(f"{summary}\n\n{PUBLIC} {description}")


def stats(rule: str, query, model, media: str, what: str, operation_id: str,
          csv_columns: list[str] | None = None):
    """One /api/v1/stats operation: public (the answer depends on who asks), JSON or GeoJSON,
    and CSV with `format=csv` where `csv_columns` says which columns. Aggregates over the
    whole fact table: the `stats` statement timeout (app.db)."""
    description = what
    if csv_columns:
        description += (" With `format=csv`, a CSV attachment instead (columns: "
                        f"{', '.join(csv_columns)}).")
    return operation(bp, "GET", rule, query=query, tags=TAGS, auth="optional",
                     operation_id=operation_id, cost="stats", limit="expensive",
                     replies={200: Reply(description, model, media, HEADERS,
                                         variants=((CSV, STATS_CSV),) if csv_columns else ())})


def _timed(response: Response, started: float) -> Response:
    response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    response.headers["Cache-Control"] = "private, max-age=0" if is_staff() else "public, max-age=60"
    response.vary.add("Authorization")
    response.vary.add("Cookie")
    return response


def _csv(rows: list[dict], columns: list[str], name: str) -> Response:
    return Response(services.to_csv(rows, columns), mimetype=CSV,
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def _json(body: dict, media: str = JSON) -> Response:
    return Response(json.dumps(body), mimetype=media)


@stats("/api/v1/stats/hexbins", HexbinsQuery, HexbinCollection, GEOJSON, "The hexagons.",
       "statsHexbins", services.HEXBIN_COLUMNS)
@described("Counts per hexagon",
           "Hexagons of a Lambert-93 grid (served in WGS84) with the number of matching "
           "contributions; empty ones are not listed.")
def hexbins(query: HexbinsQuery):
    started = time.perf_counter()
    req = services.stats_request(db.session, query, is_staff())
    if query.format == "csv":
        level, rows = services.hexbin_rows(db.session, req, query.cell_m)
        body = [{"cell": k, "i": k >> 20, "j": k & 1048575, "cell_m": level, "count": n} for k, n in rows]
        return _timed(_csv(body, services.HEXBIN_COLUMNS, "hexbins"), started)
    return _timed(Response(services.hexbins(db.session, req, query.cell_m), mimetype=GEOJSON),
                  started)


@stats("/api/v1/stats/areas", AreasQuery, AreaStats, JSON, "The areas.", "statsAreas",
       services.AREA_COLUMNS)
@described("Counts per arrondissement or quartier",
           "Count, density, share of the total and change against the previous period of the "
           "same length, for every area.")
def areas(query: AreasQuery):
    started = time.perf_counter()
    req = services.stats_request(db.session, query, is_staff())
    body = services.areas(db.session, req, query.level)
    if query.format == "csv":
        return _timed(_csv(body["areas"], services.AREA_COLUMNS, f"areas-{query.level}"), started)
    return _timed(_json(body), started)


@stats("/api/v1/stats/timeseries", TimeseriesQuery, Timeseries, JSON, "The series.",
       "statsTimeseries", services.TIMESERIES_COLUMNS)
@described("Counts over time", "Counts per day, ISO week or month of the Europe/Paris calendar.")
def timeseries(query: TimeseriesQuery):
    started = time.perf_counter()
    req = services.stats_request(db.session, query, is_staff())
    body = services.timeseries(db.session, req, query.interval)
    if query.format == "csv":
        return _timed(_csv(body["series"], services.TIMESERIES_COLUMNS,
                           f"timeseries-{query.interval}"), started)
    return _timed(_json(body), started)


@stats("/api/v1/stats/hotspots", HotspotsQuery, HotspotCollection, GEOJSON, "The hotspots.",
       "statsHotspots")
@described("Density hotspots",
           f"Clusters found by DBSCAN (in metres, Lambert-93) {HOTSPOT_WINDOW}. The `filters` "
           "echo gives the period used. No CSV.")
def hotspots(query: HotspotsQuery):
    started = time.perf_counter()
    req = services.stats_request(db.session, query, is_staff())
    body = services.hotspots(db.session, req, query.eps_m, query.min_points, query.limit)
    return _timed(_json(body, GEOJSON), started)


@stats("/api/v1/stats/resolution", ResolutionQuery, ResolutionStats, JSON, "The groups.",
       "statsResolution", services.RESOLUTION_COLUMNS)
@described("Time to acknowledge and to resolve",
           "Per group: median and 90th percentile of the hours to acknowledge and to resolve, "
           "share resolved, reopen rate.")
def resolution(query: ResolutionQuery):
    started = time.perf_counter()
    req = services.stats_request(db.session, query, is_staff())
    body = services.resolution(db.session, req, query.group_by)
    if query.format == "csv":
        return _timed(_csv(body["groups"], services.RESOLUTION_COLUMNS,
                           f"resolution-{query.group_by}"), started)
    return _timed(_json(body), started)


# ---- dashboard and exports ------------------------------------------------------------------

@bp.get("/planner")
@requires_planner
def dashboard():
    """The planner's dashboard (map, filters, charts, exports). Every string its script shows
    comes from here, translated; `{name}` marks a value the script fills in."""
    from flask_babel import gettext as _
    from flask_babel import ngettext

    strings = {
        "count": _("Count"), "density": _("Density per km²"), "share": _("Share of the total"),
        "previous": _("Previous period"), "change": _("Change"), "suppressed": _("fewer than 5"),
        "list": _("List its contributions"), "hexagon": _("Hexagons"), "hotspot": _("Hotspot"),
        "areas": _("Areas"), "hours": _("Hours"), "loading": _("Loading…"),
        # plural forms for the script's Intl.PluralRules: `one` and `other`
        "contributions_one": ngettext("{n} contribution", "{n} contributions", 1),
        "contributions_other": ngettext("{n} contribution", "{n} contributions", 2),
        "exporting": _("Exporting…"), "done": _("Done ({size})"),
        "all": _("{name} — all subcategories"),
        "open_consultation": _("Open a consultation here"),
        "create_proposal": _("Create a proposal from these reports"),
        "legend_hexbins": _("Contributions per hexagon of {size} m"),
        "legend_heat": _("Heat map: density of contributions"),
        "legend_heat_low": _("fewer"), "legend_heat_high": _("more"),
        "legend_areas_count": _("Contributions per area"),
        "legend_areas_density": _("Contributions per km², per area"),
        "legend_hotspots": _("Hotspot: a cluster of nearby contributions"),
        "legend_none": _("No layer shown: tick one under “Layers”."),
        "no_data": _("No data for these filters."),
        "period": _("Period"), "category": _("Category"), "arrondissement": _("Arrondissement"),
        "median_hours": _("Median time to resolve (hours)"),
        "error": _("The statistics could not be loaded. Try again in a moment."),
    }
    config = {**web_services.basemap(), "strings": strings,
              "months": services.data_months(db.session)}
    return render_template("planner/dashboard.html", config=config)


def _sheet_response(chunks, name: str, total: int | None = None) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{name}.csv"'}
    if total is not None:
        headers["X-Total-Count"] = str(total)
    return Response(chunks, mimetype="text/csv", headers=headers)


@bp.get("/planner/export/contributions.<fmt>")
@requires_planner
@db.cost("stats")
def export_contributions(fmt: str):
    """The current view's contributions as CSV or GeoJSON, streamed; X-Total-Count gives the
    number of rows so the page can show progress. The CSV is for French spreadsheets
    (services.to_sheet): `;`, a byte order mark, Paris local times, labels beside codes."""
    from app.messages import current_language as current_lang

    if fmt not in ("csv", "geojson"):
        raise NotFound()
    req = services.stats_request(db.session, parse_query(StatsQuery), True)
    total = services.export_count(db.session, req)
    rows = services.export_rows(db.session, req)
    if fmt == "csv":
        label = services.export_labels(db.session, current_lang())
        columns = services.EXPORT_COLUMNS

        def generate():
            yield services.to_sheet([], columns)
            buf = []
            for row in rows:
                buf.append(label(row))
                if len(buf) == 2000:
                    yield services.to_sheet(buf, columns, header=False)
                    buf.clear()
            if buf:
                yield services.to_sheet(buf, columns, header=False)
        return _sheet_response(stream_with_context(generate()), "contributions", total)

    def features():
        yield '{"type":"FeatureCollection","features":['
        for i, row in enumerate(rows):
            lon, lat = float(row.pop("lon")), float(row.pop("lat"))
            props = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
            yield ("," if i else "") + json.dumps(
                {"type": "Feature", "id": props["id"],
                 "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": props}) + "\n"
        yield "]}"
    return Response(stream_with_context(features()), mimetype=GEOJSON, headers={
        "Content-Disposition": f'attachment; filename="contributions.{fmt}"',
        "X-Total-Count": str(total)})


@bp.get("/planner/export/areas-<level>.csv")
@requires_planner
@db.cost("stats")
def export_areas(level: str):
    """The dashboard's aggregates per arrondissement or quartier, for French spreadsheets
    (the same numbers as /api/v1/stats/areas?format=csv, which keeps its `,` form)."""
    if level not in ("arrondissement", "quartier"):
        raise NotFound()
    req = services.stats_request(db.session, parse_query(StatsQuery), True)
    body = services.areas(db.session, req, level)
    return _sheet_response(services.to_sheet(body["areas"], services.AREA_SHEET_COLUMNS),
                           f"areas-{level}")


@bp.get("/planner/report.html")
@requires_planner
@db.cost("stats")
def report():
    """The report of the current filters, opened in the browser (`download=1`: saved), under a
    CSP allowing its own inline scripts by their hashes and nothing else."""
    from app.planner.report import build_report, report_policy

    query = parse_query(ReportQuery)
    req = services.stats_request(db.session, query, True)
    html = build_report(db.session, req)
    disposition = "attachment" if query.download else "inline"
    return Response(html, mimetype="text/html", headers={
        "Content-Disposition": f'{disposition}; filename="cartagora-report.html"',
        "Content-Security-Policy": report_policy(html, current_app.config["TILE_URL"])})
