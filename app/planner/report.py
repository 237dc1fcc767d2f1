"""The planner's report: one HTML document a planner can send to an elected official.

Its title and period in words, the filters as labels, the key figures, tables per area and per
category, charts, and a leafmap map (its folium backend) with one choropleth and its legend,
the hotspots outlined and an optional heat layer. Every number comes from the planner's
services (app/planner/services.py), so the report and the dashboard cannot disagree.

The charts are inline SVG drawn here: no script, they print, and each has its numbers in a
table beside it (RGAA). Every asset is inlined (Leaflet from our npm copy, its control icons as
data: URIs): the file opens offline, and served it runs under a CSP listing its scripts'
hashes. leafmap is an optional, heavy dependency (geopandas, duckdb, Jupyter widgets): it lives
in the `report` extra and is imported only here, so the web server does not need it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from flask import current_app
from flask_babel import (
    force_locale,
    format_date,
    format_decimal,
    format_percent,
    format_time,
    get_locale,
)
from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from app.areas.services import areas_geojson, category_index
from app.contributions.models import STATUS_GROUPS, STATUSES
from app.errors import AppError
from app.labels import KIND_PLURALS, STATUS_GROUP_LABELS, ordinal, status_label
from app.planner import services
from geo.aggregations import PARIS

TOP_CATEGORIES = 10  # rows of the categories' table and chart
TOP_HOTSPOTS = 10  # hotspots outlined and listed (the largest)
SHORT_PERIOD_DAYS = 92  # up to this, the trend is per week; beyond, per month
PALETTE = ("#fff3c4", "#fdc561", "#f68f32", "#d24e14", "#8c2d04")  # YlOrBr, 5 classes
ZERO_COLOUR = "#f2f2f2"
HOTSPOT_COLOUR = "#6a1b9a"
PARIS_BOUNDS = ((48.8156, 2.2242), (48.9022, 2.4699))  # south-west, north-east
# The data's sources and licences (README, "Data and licences").
ATTRIBUTION = (
    ("Ville de Paris — DansMaRue, arrondissements, quartiers", "ODbL",
     "https://opendata.paris.fr/"),
    ("Base Adresse Nationale", "Licence Ouverte 2.0", "https://adresse.data.gouv.fr/"),
)


class ReportUnavailable(AppError):
    status, code, title = 503, "service_unavailable", "Service Unavailable"


# ---- the numbers ----------------------------------------------------------------------------

def map_level(req: services.Request) -> str:
    """Quartiers when the report is about some arrondissements or quartiers (20 arrondissements
    with one coloured would say little), else arrondissements."""
    return "quartier" if req.filters.has_area() else "arrondissement"


def status_counts(session: Session, req: services.Request) -> dict[str, int]:
    """Matching contributions per status (those the filters allow), by the exports' count."""
    f = req.filters
    asked = f.statuses or STATUSES[f.kind]
    return {s: services.export_count(session, services.Request(replace(f, statuses=[s]),
                                                               dict(req.echo), True))
            for s in STATUSES[f.kind] if s in asked}


def _copy(req: services.Request) -> services.Request:
    """A request the services may change (hotspots() fills in its window) without changing
    the report's."""
    return services.Request(replace(req.filters), dict(req.echo), req.staff)


def hotspot_request(req: services.Request) -> services.Request:
    """The hotspots of the report's period, or of its last HOTSPOT_DEFAULT_DAYS days when the
    period is longer than the hotspots allow (services.MAX_HOTSPOT_DAYS) or open-ended."""
    hs = _copy(req)
    f = hs.filters
    if f.since is None or f.until is None or services.window_too_long(f):
        f.since = None  # the service counts back from `until` (or the latest contribution)
    return hs


def gather(session: Session, req: services.Request,
           progress: Callable[[str], None] = lambda msg: None) -> dict:
    """Every number of the report, from the planner's services, with no wording."""
    f = req.filters
    level = map_level(req)
    progress("report: areas")
    areas = services.areas(session, _copy(req), level)
    progress("report: resolution")
    overall = services.resolution(session, _copy(req), "all")["groups"]
    by_category = services.resolution(session, _copy(req), "category")["groups"]
    by_arrondissement = services.resolution(session, _copy(req), "arrondissement")["groups"]
    progress("report: statuses")
    statuses = status_counts(session, req)
    progress("report: series")
    span = (f.until or datetime.now(UTC)) - f.since if f.since else None
    interval = "week" if span is not None and span <= timedelta(days=SHORT_PERIOD_DAYS) else "month"
    series = services.timeseries(session, _copy(req), interval)
    progress("report: hotspots")
    hs_req = hotspot_request(req)
    spots = services.hotspots(session, hs_req, limit=TOP_HOTSPOTS)
    progress("report: hexagons")
    hexes = json.loads(services.hexbins_for_report(session, _copy(req)))
    previous = areas["previous_period"]
    previous_total = (sum(a["previous_count"] or 0 for a in areas["areas"])
                      if previous is not None else None)
    whole = overall[0] if overall else {}
    groups = STATUS_GROUPS[f.kind]
    return {
        "level": level, "areas": areas, "statuses": statuses,
        "groups": {g: sum(n for s, n in statuses.items() if s in members)
                   for g, members in groups.items()},
        "total": areas["total"], "previous_total": previous_total, "previous_period": previous,
        "resolved_share": whole.get("share_resolved"),
        "resolve_median_h": whole.get("resolve_median_h"),
        "by_category": sorted((g for g in by_category if g["count"]),
                              key=lambda g: -g["count"])[:TOP_CATEGORIES],
        "by_arrondissement": by_arrondissement,
        "series": series, "hotspots": spots, "hotspot_window": hs_req.echo,
        "hexagons": hexes, "months": services.data_months(session)[f.kind],
    }


# ---- the words ------------------------------------------------------------------------------

def number(n) -> str:
    return "—" if n is None else format_decimal(n)


def days(hours: float | None) -> str:
    if hours is None:
        return "—"
    return _("%(n)s days", n=format_decimal(round(hours / 24, 1), format="#,##0.0"))


def _percent_pattern() -> str:
    """The language's percent pattern ("#,##0 %", "#,##0%") with one decimal."""
    return get_locale().percent_formats[None].pattern.replace("#,##0", "#,##0.0", 1)


def percent(share: float | None) -> str:
    return "—" if share is None else format_percent(share, format=_percent_pattern())


def change(pct: float | None) -> str:
    """A signed percentage ("+12.5 %", "−3 %")."""
    if pct is None:
        return "—"
    text = format_percent(abs(pct) / 100, format=_percent_pattern())
    return ("+" if pct > 0 else "−" if pct < 0 else "±") + text


def _local_day(instant: datetime) -> date:
    return instant.astimezone(PARIS).date()


def period_words(since: datetime | None, until: datetime | None,
                 months: dict | None = None) -> str:
    """"June 2024 to November 2024", "June 2024", "from 3 June 2024 to 15 July 2024", "since
    June 2024"…; `until` is excluded (its day before is the last one). Without bounds, the
    months holding data (`months`, services.data_months)."""
    if since is None and until is None and months:
        since = datetime.combine(date.fromisoformat(months["first"]), datetime.min.time(), PARIS)
        last = date.fromisoformat(months["last"])
        until = datetime.combine(date(last.year + last.month // 12, last.month % 12 + 1, 1),
                                 datetime.min.time(), PARIS)
    first = _local_day(since) if since else None
    last = _local_day(until - timedelta(microseconds=1)) if until else None
    by_month = all(d is None or (_local_day(d).day == 1 and d == _paris_midnight(d))
                   for d in (since, until))

    def word(d: date) -> str:
        return format_date(d, "MMMM y") if by_month else format_date(d, "long")

    if first and last:
        if by_month and (first.year, first.month) == (last.year, last.month):
            return word(first)
        if by_month:
            return _("%(start)s to %(end)s", start=word(first), end=word(last))
        return _("from %(start)s to %(end)s", start=word(first), end=word(last))
    if first:
        return _("since %(start)s", start=word(first))
    if last:
        return _("up to %(end)s", end=word(last))
    return _("all the data")


def _paris_midnight(instant: datetime) -> datetime:
    local = instant.astimezone(PARIS)
    return datetime.combine(local.date(), datetime.min.time(), PARIS)


def area_words(session: Session, req: services.Request) -> str:
    """"Paris", "Paris 11e", "Paris 3e, 11e", "Paris — Halles, Palais-Royal"."""
    f = req.filters
    if f.quartiers:
        names = dict(_area_names(session, "quartier"))
        return "Paris — " + ", ".join(names.get(q, str(q)) for q in sorted(f.quartiers))
    if f.arrondissements:
        return "Paris " + ", ".join(ordinal(a) for a in sorted(f.arrondissements))
    if f.bbox:
        return _("Paris, a chosen area")
    return "Paris"


def _area_names(session: Session, level: str) -> list[tuple[int, str]]:
    shapes = json.loads(areas_geojson(session, level))
    return [(s["properties"]["code"], s["properties"]["name"]) for s in shapes["features"]]


def category_words(session: Session, codes: list[str] | None, lang: str) -> list[str]:
    index = category_index(session)
    return [(index.by_code[c].label_en if lang == "en" else index.by_code[c].label_fr)
            if c in index.by_code else c for c in codes or []]


def status_words(kind: str, statuses: list[str] | None) -> list[str]:
    return [str(STATUS_GROUP_LABELS[s]) if s in STATUS_GROUPS[kind] else status_label(kind, s)
            for s in statuses or []]


def filter_words(session: Session, req: services.Request, lang: str) -> list[str]:
    """The filters as a reader says them: "Reports · Cleanliness · Open · Paris 11e"."""
    echo = req.echo
    words = [str(KIND_PLURALS[echo["kind"]])]
    words += category_words(session, echo["category"], lang) or [_("all categories")]
    words += status_words(echo["kind"], echo["status"]) or [_("all statuses")]
    words.append(area_words(session, req))
    return words


def area_label(level: str, code: int, name: str) -> str:
    return f"{ordinal(code)} — {name}" if level == "arrondissement" else name


# ---- charts (inline SVG) --------------------------------------------------------------------

def _nice_ceiling(value: float) -> float:
    """1, 2 or 5 × 10^k at or above `value` (the top of a chart's axis)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= value)


def _svg_open(ident: str, title: str, summary: str, width: int, height: int) -> list[str]:
    return [f'<svg class="chart" id="{ident}" viewBox="0 0 {width} {height}" '
            f'role="img" aria-labelledby="{ident}-title {ident}-desc" '
            f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
            f'<title id="{ident}-title">{escape(title)}</title>',
            f'<desc id="{ident}-desc">{escape(summary)}</desc>']


def bar_chart(ident: str, title: str, summary: str, rows: list[tuple[str, float, str]],
              width: int = 640) -> Markup:
    """Horizontal bars: one row per (label, value, value as text), labels on the left (cut
    with "…" beyond 38 characters, whole in the bar's tooltip)."""
    row_h, cut = 26, 38
    labels = [label if len(label) <= cut else label[:cut - 1] + "…" for label, _v, _t in rows]
    label_w = min(300, 12 + 7 * max((len(x) for x in labels), default=4))
    bar_max = width - label_w - 80
    top = max((v for _l, v, _t in rows), default=0) or 1
    height = row_h * max(1, len(rows)) + 8
    out = _svg_open(ident, title, summary, width, height)
    for i, ((label, value, text), short) in enumerate(zip(rows, labels, strict=True)):
        y = 4 + i * row_h
        w = bar_max * (value or 0) / top
        out.append(
            f'<g><title>{escape(label)} : {escape(text)}</title>'
            f'<text class="chart-label" x="{label_w - 8}" y="{y + 17}" text-anchor="end">'
            f'{escape(short)}</text>'
            f'<rect class="chart-bar" x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}"/>'
            f'<text class="chart-value" x="{label_w + w + 6:.1f}" y="{y + 17}">{escape(text)}</text></g>')
    out.append("</svg>")
    return Markup("".join(out))


def column_chart(ident: str, title: str, summary: str, rows: list[tuple[str, float]],
                 width: int = 640, height: int = 240) -> Markup:
    """Vertical bars over time with a value axis; at most about twelve period labels."""
    left, right, bottom, top_pad = 56, 36, 44, 12  # room for the labels at both ends
    highest = max((v or 0 for _l, v in rows), default=0)
    step = _nice_ceiling(highest / 5)  # a round step, at most five of them
    ticks = max(1, math.ceil(highest / step))
    top = step * ticks
    plot_w, plot_h = width - left - right, height - bottom - top_pad
    out = _svg_open(ident, title, summary, width, height)
    for k in range(ticks + 1):
        y = top_pad + plot_h * (1 - k / ticks)
        out.append(f'<line class="chart-grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>'
                   f'<text class="chart-axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
                   f'{escape(format_decimal(step * k))}</text>')
    n = max(1, len(rows))
    step = plot_w / n
    every = max(1, math.ceil(n / 12))
    for i, (label, value) in enumerate(rows):
        h = plot_h * (value or 0) / top
        x = left + i * step
        out.append(f'<rect class="chart-bar" x="{x + step * 0.12:.1f}" y="{top_pad + plot_h - h:.1f}" '
                   f'width="{step * 0.76:.1f}" height="{h:.1f}"><title>{escape(label)} : '
                   f'{escape(number(value))}</title></rect>')
        if i % every == 0:
            out.append(f'<text class="chart-axis" x="{x + step / 2:.1f}" y="{height - bottom + 18}" '
                       f'text-anchor="middle">{escape(label)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


# ---- the map ----------------------------------------------------------------------------------

def class_breaks(values: list[float]) -> list[float]:
    """Upper bounds of at most five quantile classes of the non-zero values (distinct)."""
    positive = sorted(v for v in values if v)
    if not positive:
        return []
    q = [positive[min(len(positive) - 1, math.ceil(p * len(positive)) - 1)]
         for p in (0.2, 0.4, 0.6, 0.8, 1.0)]
    return sorted(set(q))


def colour_of(value: float | None, breaks: list[float]) -> str:
    if not value:
        return ZERO_COLOUR
    k = next((i for i, b in enumerate(breaks) if value <= b), len(breaks) - 1)
    return PALETTE[k + len(PALETTE) - len(breaks)]  # few classes: the darker colours


def legend_classes(breaks: list[float], values: list[float]) -> list[tuple[str, str]]:
    """(colour, "0"), (colour, "1.2 – 3.4"), … for the legend, lowest first."""
    out = [(ZERO_COLOUR, "0")]
    low = min((v for v in values if v), default=0.0)
    for i, b in enumerate(breaks):
        colour = PALETTE[i + len(PALETTE) - len(breaks)]
        out.append((colour, f"{format_decimal(low, format='#,##0.#')} – {format_decimal(b, format='#,##0.#')}"))
        low = b
    return out


def data_bounds(hexes: dict) -> tuple[tuple[float, float], tuple[float, float]]:
    """South-west and north-east corners of the hexagons holding data (Paris when none)."""
    lons, lats = [], []
    for feature in hexes["features"]:
        for lon, lat in feature["geometry"]["coordinates"][0]:
            lons.append(lon)
            lats.append(lat)
    if not lons:
        return PARIS_BOUNDS
    return (min(lats), min(lons)), (max(lats), max(lons))


def heat_points(hexes: dict) -> list[list[float]]:
    """[lat, lon, weight] at each hexagon's centre, weights scaled to 0–1 at the 95th
    percentile: leaflet.heat saturates at 1, so raw counts (tens to hundreds) drew every cell as
    the same full blob, which is what made the honeycomb."""
    counts = sorted(f["properties"]["count"] for f in hexes["features"])
    if not counts:
        return []
    p95 = counts[min(len(counts) - 1, int(0.95 * len(counts)))] or 1
    out = []
    for feat in hexes["features"]:
        ring = feat["geometry"]["coordinates"][0][:6]
        out.append([round(sum(p[1] for p in ring) / 6, 6), round(sum(p[0] for p in ring) / 6, 6),
                    round(min(1.0, feat["properties"]["count"] / p95), 3)])
    return out


# leaflet.heat draws with a radius in pixels and scales intensities by 2^(zoom − maxZoom): at
# every zoom the script keeps the radius at about 1.6 hexagon spacings on the ground (the spots
# blend instead of showing the grid) and `max` at the same scale (the colours mean the same).
HEAT_SCRIPT = """
(function () {
  var map = %(map)s, heat = %(heat)s, cell = %(cell)d, maxZoom = %(max_zoom)d;
  function fit() {
    var zoom = map.getZoom();
    var metres = 40075016.686 * Math.cos(map.getCenter().lat * Math.PI / 180) / (256 * Math.pow(2, zoom));
    var r = Math.max(10, Math.min(80, 1.6 * cell / metres));
    var scale = 1 / Math.pow(2, Math.max(0, Math.min(maxZoom - zoom, 12)));
    heat.setOptions({radius: r, blur: r * 0.9, max: 2.5 * scale});
  }
  map.on('zoomend', fit);
  fit();
  var box = map.getContainer();
  box.setAttribute('role', 'region');
  box.setAttribute('aria-label', %(label)s);
})();
"""


def build_map(data: dict, shapes: dict, breaks: list[float], words: dict, basemap: dict):
    """The leafmap map: the basemap, the choropleth (on), the hotspots (on), the heat (off),
    an open layer control, fitted to the data."""
    import folium
    import leafmap.foliumap as leafmap
    from branca.element import MacroElement
    from folium.plugins import HeatMap
    from jinja2 import Template

    m = leafmap.Map(center=[48.8566, 2.3522], zoom=12, tiles=None, draw_control=False,
                    measure_control=False, fullscreen_control=False, attribution_control=True,
                    toolbar_control=False, search_control=False, layers_control=False,
                    scale_control=True, scroll_wheel_zoom=False)
    folium.TileLayer(tiles=basemap["tileUrl"], attr=basemap["tileAttribution"],
                     max_zoom=basemap["tileMaxZoom"], name=words["basemap"], control=False).add_to(m)
    folium.GeoJson(
        shapes, name=words["choropleth"],
        style_function=lambda feat: {"fillColor": feat["properties"]["fill"], "color": "#3a3a4a",
                                     "weight": 1, "fillOpacity": 0.72},
        highlight_function=lambda feat: {"weight": 3, "color": "#161616"},
        tooltip=folium.GeoJsonTooltip(fields=["label", "count_text", "density_text"],
                                      aliases=[words["area"], words["count"], words["density"]]),
    ).add_to(m)
    heat = HeatMap(heat_points(data["hexagons"]), name=words["heat"], show=False,
                   min_opacity=0.2, radius=20, blur=18, max_zoom=basemap["tileMaxZoom"])
    heat.add_to(m)
    # outlined, numbered as in the table; the numbers are inert markers of the same group (a
    # permanent tooltip would stay on the map when the layer is switched off), just above the
    # middle so that a small hotspot's outline stays visible
    spots = folium.FeatureGroup(name=words["hotspots"], show=True)
    for feat in data["hotspots"]["features"]:
        folium.GeoJson(
            feat, style_function=lambda _f: {"color": HOTSPOT_COLOUR, "weight": 3, "fillOpacity": 0.08,
                                             "fillColor": HOTSPOT_COLOUR},
        ).add_to(spots)
        ring = feat["geometry"]["coordinates"][0][:-1]
        folium.Marker(
            [sum(p[1] for p in ring) / len(ring), sum(p[0] for p in ring) / len(ring)],
            icon=folium.DivIcon(html=f"<span>{feat['properties']['rank']}</span>",
                                icon_size=(28, 20), icon_anchor=(14, 26), class_name="hotspot-rank"),
            interactive=False, keyboard=False,
        ).add_to(spots)
    spots.add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    (south, west), (north, east) = data_bounds(data["hexagons"])
    m.fit_bounds([[south, west], [north, east]], padding=(8, 8))

    script = MacroElement()
    script._template = Template("{% macro script(this, kwargs) %}" + HEAT_SCRIPT % {
        "map": m.get_name(), "heat": heat.get_name(), "cell": services.DEFAULT_CELL_M,
        "max_zoom": basemap["tileMaxZoom"],
        "label": json.dumps(words["map_label"])} + "{% endmacro %}")
    m.add_child(script)
    return m


def map_parts(m) -> dict[str, Markup]:
    """folium's page cut into what goes into the report's <head> (its styles and scripts,
    inlined), the map's <div> and its script; its page-wide styles (html and body at 100 %
    height, a full-page #map) and its viewport that forbids zooming (an RGAA failure) are left
    out."""
    page = self_contained(m.get_root().render())
    head = page.split("<head>", 1)[1].split("</head>", 1)[0]
    head = re.sub(r"<meta [^>]*>\s*", "", head)
    head = re.sub(r"<style>\s*html, body \{.*?\}\s*</style>", "", head, flags=re.S)
    head = re.sub(r"<style>\s*#map \{.*?\}\s*</style>", "", head, flags=re.S)
    body = page.split("<body>", 1)[1].split("</body>", 1)[0]
    script = page.split("</body>", 1)[1].rsplit("</html>", 1)[0]
    return {"head": Markup(head), "body": Markup(body), "script": Markup(script)}


# ---- the document ---------------------------------------------------------------------------

def build_report(session: Session, req: services.Request,
                 progress: Callable[[str], None] = lambda msg: None, *,
                 lang: str | None = None, basemap: dict | None = None) -> str:
    """The report as one HTML document (string), in `lang` (the current one by default)."""
    try:
        import leafmap.foliumap  # noqa: F401
    except ImportError as exc:  # the `report` extra is not installed
        raise ReportUnavailable() from exc
    from app.messages import current_language

    lang = lang or current_language()
    data = gather(session, req, progress)
    with force_locale(lang):
        progress("report: map")
        return render_report(session, req, data, lang, basemap or _basemap())


def _basemap() -> dict:
    cfg = current_app.config
    return {"tileUrl": cfg["TILE_URL"], "tileAttribution": cfg["TILE_ATTRIBUTION"],
            "tileMaxZoom": cfg["TILE_MAX_ZOOM"]}


def render_report(session: Session, req: services.Request, data: dict, lang: str,
                  basemap: dict) -> str:
    f = req.filters
    level = data["level"]
    kind_words = str(KIND_PLURALS[f.kind])
    period = period_words(f.since, f.until, data["months"])
    area = area_words(session, req)
    title = f"{kind_words} — {area} — {period}"
    unit = _("per km²")

    rows = [a for a in data["areas"]["areas"]
            if level == "arrondissement" or a["count"] or a["previous_count"]]
    medians = {g["code"]: g["resolve_median_h"] for g in data["by_arrondissement"]}
    table = [{**a, "label": area_label(level, a["code"], a["name"]),
              "resolve": days(medians.get(a["code"])) if level == "arrondissement" else None}
             for a in rows]
    densities = [a["density_km2"] or 0 for a in data["areas"]["areas"]]
    breaks = class_breaks(densities)
    shapes = json.loads(areas_geojson(session, level))
    by_code = {a["code"]: a for a in data["areas"]["areas"]}
    shown = {a["code"] for a in rows}
    shapes["features"] = [s for s in shapes["features"] if s["properties"]["code"] in shown]
    for s in shapes["features"]:
        a = by_code[s["properties"]["code"]]
        s["properties"].update(
            label=area_label(level, a["code"], a["name"]), count_text=number(a["count"]),
            density_text=f"{format_decimal(a['density_km2'] or 0, format='#,##0.#')} {unit}",
            fill=colour_of(a["density_km2"], breaks))

    index = category_index(session)

    def category_label(code: str) -> str:
        c = index.by_code.get(code)
        return (c.label_en if lang == "en" else c.label_fr) if c else str(code)

    categories = [{**g, "name": category_label(g["code"]),
                   "share": g["count"] / data["total"] if data["total"] else None}
                  for g in data["by_category"]]
    series = data["series"]
    monthly = series["interval"] == "month"
    points = [(format_date(date.fromisoformat(p["period"]), "MMM y" if monthly else "d MMM"),
               p["count"] or 0) for p in series["series"]]
    peak = max(points, key=lambda p: p[1], default=None)
    spots = data["hotspots"]["features"]
    hs = data["hotspot_window"]
    hotspot_period = period_words(datetime.fromisoformat(hs["since"]), datetime.fromisoformat(hs["until"]))

    words = {
        "basemap": _("Basemap"), "choropleth": _("Reports per km², by area")
        if f.kind == "report" else _("Proposals per km², by area"),
        "heat": _("Heat map (optional)"), "hotspots": _("Hotspots (outlined)"),
        "area": _("Area"), "count": _("Count"), "density": _("Density per km²"),
        "map_label": _("Map: %(title)s", title=title),
    }
    m = build_map(data, shapes, breaks, words, basemap)
    total, prev = data["total"], data["previous_total"]
    figures = [
        {"key": "total", "label": _("Total"), "value": data["total"], "text": number(total)},
    ]
    for group, n in data["groups"].items():
        figures.append({"key": group, "label": str(STATUS_GROUP_LABELS[group]), "value": n,
                        "text": number(n)})
    if f.kind == "report":
        figures += [
            {"key": "resolved_share", "label": _("Resolved"), "value": data["resolved_share"],
             "text": percent(data["resolved_share"])},
            {"key": "resolve_median", "label": _("Median time to resolve"),
             "value": data["resolve_median_h"], "text": days(data["resolve_median_h"])},
        ]
    if prev is not None:
        pct = round(100 * (total - prev) / prev, 1) if prev else None
        figures.append({"key": "change", "label": _("Change against the previous period"),
                        "value": pct, "text": change(pct),
                        "note": _("%(n)s in %(period)s", n=number(prev), period=period_words(
                            datetime.fromisoformat(data["previous_period"]["since"]),
                            datetime.fromisoformat(data["previous_period"]["until"])))})
    figures.append({"key": "hotspots", "label": _("Hotspots"), "value": len(spots),
                    "text": number(len(spots)), "note": hotspot_period})

    resolution_rows = [
        (area_label("arrondissement", int(g["code"]), g["label"] or ""), g["resolve_median_h"] / 24,
         days(g["resolve_median_h"]))
        for g in sorted(data["by_arrondissement"], key=lambda g: int(g["code"]))
        if g["resolve_median_h"] is not None]
    # a chart with nothing to draw is not drawn: the page says "no data" instead
    charts = {
        "trend": any(n for _p, n in points) and column_chart(
            "chart-trend", _("Per month") if monthly else _("Per week"),
            _("%(n)s in all; the most: %(peak)s (%(count)s).", n=number(series["total"]),
              peak=peak[0], count=number(peak[1])) if peak else _("No data for these filters."),
            points),
        "categories": categories and bar_chart(
            "chart-categories", _("Top categories"),
            _("The numbers are in the table “Top categories”."),
            [(c["name"], c["count"], number(c["count"])) for c in categories]),
        "resolution": resolution_rows and bar_chart(
            "chart-resolution", _("Median time to resolve, per arrondissement"),
            _("The numbers are in the table “Per area” (arrondissements)."), resolution_rows),
    }
    now = datetime.now(UTC)
    css = (Path(current_app.static_folder) / "css" / "planner-report.css").read_text(encoding="utf-8")
    # the template alone: no page context (the report has no link to the app, and the command
    # line has no request)
    return current_app.jinja_env.get_template("planner/report.html").render(
        lang=lang, title=title, kind_words=kind_words, period=period,
        area=area, filters=filter_words(session, req, lang),
        generated=_("Generated on %(date)s at %(time)s (Paris time)",
                    date=format_date(now, "long"), time=format_time(now, "short")),
        figures=figures, charts=charts, is_report=f.kind == "report", trend=[(label, number(n)) for label, n in points],
        table=table, level=level, categories=categories, spots=spots,
        hotspot_period=hotspot_period, legend=legend_classes(breaks, densities), unit=unit,
        words=words, map=map_parts(m), css=Markup(css), attribution=ATTRIBUTION,
        tile_attribution=Markup(basemap["tileAttribution"]), number=number, percent=percent,
        change=change, days=days, format_decimal=format_decimal, category_label=category_label,
    )


# ---- self-contained, and its CSP -------------------------------------------------------------

VENDOR = Path(__file__).resolve().parent.parent.parent / "static" / "vendor"
# folium's page pulls these from CDNs; Leaflet and leaflet.heat are inlined from our npm copies,
# the rest (jQuery, jQuery UI, Bootstrap, Font Awesome, awesome-markers: used for marker icons
# and a draggable legend, which the reports do not need) is dropped.
_INLINE = {
    r"https://cdn\.jsdelivr\.net/npm/leaflet@[\d.]+/dist/leaflet\.js": VENDOR / "leaflet" / "leaflet.js",
    r"https://cdn\.jsdelivr\.net/gh/python-visualization/folium@main/folium/templates/leaflet_heat\.min\.js":
        VENDOR / "leaflet.heat" / "leaflet-heat.js",
}
_INLINE_CSS = {r"https://cdn\.jsdelivr\.net/npm/leaflet@[\d.]+/dist/leaflet\.css": VENDOR / "leaflet" / "leaflet.css"}


def _leaflet_css() -> str:
    """leaflet.css with its images (the layer control's icon, the markers) as data: URIs: a
    relative url(images/…) means nothing in a single file, and the control was a blank square."""
    css = (VENDOR / "leaflet" / "leaflet.css").read_text(encoding="utf-8")

    def data_uri(match: re.Match) -> str:
        image = VENDOR / "leaflet" / "images" / match.group(1)
        if not image.is_file():
            return match.group(0)
        return f"url(data:image/png;base64,{base64.b64encode(image.read_bytes()).decode('ascii')})"

    return re.sub(r"url\(images/([\w.-]+\.png)\)", data_uri, css)


def self_contained(page: str) -> str:
    """The folium page with its libraries inlined: it opens without any CDN (only the basemap
    tiles still come from the network; the layers work without them)."""
    for pattern, path in _INLINE.items():
        code = path.read_text(encoding="utf-8").replace("</script", "<\\/script")
        page = re.sub(rf'<script src="{pattern}"></script>', lambda _m, c=code: f"<script>{c}</script>", page)
    for pattern in _INLINE_CSS:
        css = _leaflet_css()
        page = re.sub(rf'<link rel="stylesheet" href="{pattern}"\s*/?>', lambda _m, c=css: f"<style>{c}</style>", page)
    page = re.sub(r'<script src="(https:)?//[^"]+"></script>\s*', "", page)
    page = re.sub(r'<link rel="stylesheet" href="(https:)?//[^"]+"\s*/?>\s*', "", page)
    # the legend's drag handler needs jQuery UI: keep the legend, drop the handler
    page = re.sub(r"\$\( function\(\) \{\s*\$\( \"#maplegend\" \)\.draggable\(.*?\}\);\s*\}\);",
                  "", page, flags=re.S)
    # zooming must stay possible (RGAA 10.4): folium's viewport forbids it
    return page.replace("maximum-scale=1.0, user-scalable=no", "")


def script_hashes(page: str) -> list[str]:
    """CSP sources ('sha256-…') of the page's inline scripts, so that served, the report runs
    under a policy that allows those and nothing else."""
    found = re.findall(r"<script(?![^>]*\bsrc=)(?:\s[^>]*)?>(.*?)</script>", page, flags=re.S)
    return [f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
            for s in dict.fromkeys(found)]


def report_policy(page: str, tile_url: str) -> str:
    """The app's CSP for the served report: its own inline scripts by hash (no other inline
    script), its inline styles, the basemap's tiles."""
    # the pages' policy builder (app.web.security), which the app keeps for the domains
    policy = current_app.extensions["content_security_policy"](tile_url, inline_styles=True)
    return policy.replace("script-src 'self'", "script-src 'self' " + " ".join(script_hashes(page)))
