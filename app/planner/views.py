"""/api/v1/stats/* (public, small counts left out for non-staff), the /planner dashboard and
its exports (planners and staff)."""

from __future__ import annotations

import json
import time
from functools import wraps

from flask import (
    Blueprint,
    Response,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)

from app.accounts.auth import current_user
from app.db import db
from app.errors import Forbidden, NotFound
from app.planner import services
from app.web import services as web_services
from geo.aggregations import AREA_LEVELS, GROUPS, INTERVALS

bp = Blueprint("planner", __name__)
GEOJSON = "application/geo+json"
CSV = "text/csv; charset=utf-8"


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


def _timed(response: Response, started: float) -> Response:
    response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    response.headers["Cache-Control"] = "private, max-age=0" if is_staff() else "public, max-age=60"
    response.vary.add("Authorization")
    response.vary.add("Cookie")
    return response


def _csv(rows: list[dict], columns: list[str], name: str) -> Response:
    return Response(services.to_csv(rows, columns), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


@bp.get("/api/v1/stats/hexbins")
def hexbins():
    """Hexagons (Lambert-93 grid, WGS84 output) with the count of matching contributions."""
    started = time.perf_counter()
    req = services.parse_filters(db.session, is_staff())
    if request.args.get("format") == "csv":
        level, rows = services.hexbin_rows(db.session, req)
        body = [{"cell": k, "i": k >> 20, "j": k & 1048575, "cell_m": level, "count": n} for k, n in rows]
        return _timed(_csv(body, ["cell", "i", "j", "cell_m", "count"], "hexbins"), started)
    return _timed(Response(services.hexbins(db.session, req), mimetype=GEOJSON), started)


@bp.get("/api/v1/stats/areas")
def areas():
    """Count, density, share and change against the previous period per arrondissement/quartier."""
    started = time.perf_counter()
    level = services._choice("level", AREA_LEVELS, "arrondissement")
    req = services.parse_filters(db.session, is_staff())
    body = services.areas(db.session, req, level)
    if request.args.get("format") == "csv":
        cols = ["code", "name", "count", "density_km2", "share", "previous_count", "change", "change_pct"]
        return _timed(_csv(body["areas"], cols, f"areas-{level}"), started)
    return _timed(Response(json.dumps(body), mimetype="application/json"), started)


@bp.get("/api/v1/stats/timeseries")
def timeseries():
    """Counts per day, ISO week or month of the Europe/Paris calendar."""
    started = time.perf_counter()
    interval = services._choice("interval", INTERVALS, "week")
    req = services.parse_filters(db.session, is_staff())
    body = services.timeseries(db.session, req, interval)
    if request.args.get("format") == "csv":
        return _timed(_csv(body["series"], ["period", "count"], f"timeseries-{interval}"), started)
    return _timed(Response(json.dumps(body), mimetype="application/json"), started)


@bp.get("/api/v1/stats/hotspots")
def hotspots():
    """Density clusters (DBSCAN in metres) with hull, count, top categories, reports link."""
    started = time.perf_counter()
    req = services.parse_filters(db.session, is_staff())
    body = services.hotspots(db.session, req)
    return _timed(Response(json.dumps(body), mimetype=GEOJSON), started)


@bp.get("/api/v1/stats/resolution")
def resolution():
    """Median and p90 time to acknowledge and to resolve, share resolved, reopen rate."""
    started = time.perf_counter()
    group_by = services._choice("group_by", GROUPS, "arrondissement")
    req = services.parse_filters(db.session, is_staff())
    body = services.resolution(db.session, req, group_by)
    if request.args.get("format") == "csv":
        cols = ["code", "label", "count", "ack_median_h", "ack_p90_h", "resolve_median_h",
                "resolve_p90_h", "share_resolved", "reopen_rate"]
        return _timed(_csv(body["groups"], cols, f"resolution-{group_by}"), started)
    return _timed(Response(json.dumps(body), mimetype="application/json"), started)


# ---- dashboard and exports ------------------------------------------------------------------

@bp.get("/planner")
@requires_planner
def dashboard():
    """The planner's dashboard (map, filters, charts, exports)."""
    from flask_babel import gettext as _

    strings = {
        "count": _("Count"), "density": _("Density per km²"), "share": _("Share of the total"),
        "previous": _("Previous period"), "change": _("Change"), "suppressed": _("fewer than 5"),
        "list": _("List its contributions"), "hexagon": _("Hexagons"), "hotspot": _("Hotspot"),
        "areas": _("Areas"), "hours": _("Hours"), "loading": _("Loading…"),
        "contributions": _("contributions"), "exporting": _("Exporting…"), "done": _("Done"),
        "all": _("all"),
    }
    config = {**web_services.basemap(), "strings": strings}
    return render_template("planner/dashboard.html", config=config)


@bp.get("/planner/export/contributions.<fmt>")
@requires_planner
def export_contributions(fmt: str):
    """The current view's contributions as CSV or GeoJSON, streamed; X-Total-Count gives the
    number of rows so the page can show progress."""
    if fmt not in ("csv", "geojson"):
        raise NotFound()
    req = services.parse_filters(db.session, True)
    total = services.export_count(db.session, req)
    rows = services.export_rows(db.session, req)
    if fmt == "csv":
        def generate():
            yield services.to_csv([], services.EXPORT_COLUMNS)
            buf = []
            for row in rows:
                buf.append(row)
                if len(buf) == 2000:
                    yield services.to_csv(buf, services.EXPORT_COLUMNS).split("\n", 1)[1]
                    buf.clear()
            if buf:
                yield services.to_csv(buf, services.EXPORT_COLUMNS).split("\n", 1)[1]
        mimetype = "text/csv"
    else:
        def generate():
            yield '{"type":"FeatureCollection","features":['
            for i, row in enumerate(rows):
                lon, lat = float(row.pop("lon")), float(row.pop("lat"))
                props = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
                yield ("," if i else "") + json.dumps(
                    {"type": "Feature", "id": props["id"],
                     "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": props}) + "\n"
            yield "]}"
        mimetype = GEOJSON
    return Response(stream_with_context(generate()), mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="contributions.{fmt}"',
        "X-Total-Count": str(total)})


@bp.get("/planner/report.html")
@requires_planner
def report():
    """An interactive HTML report of the current filters, built with leafmap."""
    from app.planner.report import build_report

    req = services.parse_filters(db.session, True)
    html = build_report(db.session, req)
    return Response(html, mimetype="text/html", headers={
        "Content-Disposition": 'attachment; filename="cartagora-report.html"'})
