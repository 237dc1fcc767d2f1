"""The interactive HTML report, built with leafmap (its folium backend: a standalone page).

Layers: a heatmap of the hexagon counts (200 m), the arrondissement choropleth (count) and
the hotspots of the last month of the period; title, period and filters in the header.
leafmap is an optional, heavy dependency (geopandas, duckdb, Jupyter widgets): it lives in
the `report` extra and is imported only here, so the web server does not need it.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from app.areas.services import areas_geojson
from app.errors import AppError
from app.planner import services


class ReportUnavailable(AppError):
    status, code, title = 503, "service_unavailable", "Service Unavailable"


def build_report(session: Session, req: services.Request,
                 progress: Callable[[str], None] = lambda msg: None) -> str:
    """The report as one HTML document (string)."""
    try:
        import leafmap.foliumap as leafmap
    except ImportError as exc:  # the `report` extra is not installed
        raise ReportUnavailable() from exc

    progress("report: hexagons")
    hexes = json.loads(services.hexbins_for_report(session, req))
    progress("report: areas")
    stats = services.areas(session, req, "arrondissement")
    shapes = json.loads(areas_geojson(session, "arrondissement"))
    by_code = {a["code"]: a for a in stats["areas"]}
    for f in shapes["features"]:
        a = by_code.get(f["properties"]["code"], {})
        f["properties"].update(count=a.get("count") or 0, density_km2=a.get("density_km2") or 0)
    progress("report: hotspots")
    f = req.filters
    if f.since is None or f.until is None or f.until - f.since > timedelta(days=services.MAX_HOTSPOT_DAYS):
        # hotspots are computed on the last month of the period
        hs_req = services.Request(services.agg.AggFilters(**{**f.__dict__, "since": None}),
                                  dict(req.echo), req.staff)
    else:
        hs_req = req
    spots = services.hotspots_for_report(session, hs_req)

    progress("report: map")
    m = leafmap.Map(center=[48.8566, 2.3522], zoom=12, draw_control=False, measure_control=False,
                    fullscreen_control=False, attribution_control=True)
    heat = []
    for feat in hexes["features"]:
        ring = feat["geometry"]["coordinates"][0][:6]
        heat.append([sum(p[1] for p in ring) / 6, sum(p[0] for p in ring) / 6,
                     feat["properties"]["count"]])
    if heat:
        import pandas as pd

        m.add_heatmap(pd.DataFrame(heat, columns=["lat", "lon", "count"]), latitude="lat",
                      longitude="lon", value="count", name="Heatmap (hexagons 200 m)", radius=18)
    _add_choropleth(m, shapes)
    if spots["features"]:
        m.add_geojson(spots, layer_name="Hotspots (DBSCAN)",
                      style={"color": "#c0007a", "weight": 2, "fillOpacity": 0.15, "dashArray": "4 3"},
                      info_mode="on_click")
    period = (f"{req.echo['since'] or 'début'} → {req.echo['until'] or 'aujourd’hui'}")
    filters = ", ".join(f"{k}={v}" for k, v in req.echo.items() if v and k not in ("since", "until"))
    title = (f"<h3 style='margin:4px'>Cartagora — rapport des signalements</h3>"
             f"<p style='margin:4px'>Période : {html.escape(period)} · Filtres : "
             f"{html.escape(filters or 'aucun')} · {stats['total']} contributions · "
             f"{len(spots['features'])} points chauds</p>")
    m.add_title(title, font_size="14px", align="left")
    return self_contained(m.to_html())


VENDOR = Path(__file__).resolve().parent.parent.parent / "static" / "vendor"
# folium's page pulls these from CDNs; Leaflet and leaflet.heat are inlined from our npm copies,
# the rest (jQuery, jQuery UI, Bootstrap, Font Awesome, awesome-markers: used for marker icons
# and a draggable legend, which this report does not need) is dropped.
_INLINE = {
    r"https://cdn\.jsdelivr\.net/npm/leaflet@[\d.]+/dist/leaflet\.js": VENDOR / "leaflet" / "leaflet.js",
    r"https://cdn\.jsdelivr\.net/gh/python-visualization/folium@main/folium/templates/leaflet_heat\.min\.js":
        VENDOR / "leaflet.heat" / "leaflet-heat.js",
}
_INLINE_CSS = {r"https://cdn\.jsdelivr\.net/npm/leaflet@[\d.]+/dist/leaflet\.css": VENDOR / "leaflet" / "leaflet.css"}


def self_contained(page: str) -> str:
    """The report with its libraries inlined: it opens without any CDN (only the OpenStreetMap
    basemap tiles still come from the network; the layers work without them)."""
    for pattern, path in _INLINE.items():
        code = path.read_text(encoding="utf-8").replace("</script", "<\\/script")
        page = re.sub(rf'<script src="{pattern}"></script>', lambda _m, c=code: f"<script>{c}</script>", page)
    for pattern, path in _INLINE_CSS.items():
        css = path.read_text(encoding="utf-8")
        page = re.sub(rf'<link rel="stylesheet" href="{pattern}"\s*/?>', lambda _m, c=css: f"<style>{c}</style>", page)
    page = re.sub(r'<script src="(https:)?//[^"]+"></script>\s*', "", page)
    page = re.sub(r'<link rel="stylesheet" href="(https:)?//[^"]+"\s*/?>\s*', "", page)
    # the legend's drag handler needs jQuery UI: keep the legend, drop the handler
    page = re.sub(r"\$\( function\(\) \{\s*\$\( \"#maplegend\" \)\.draggable\(.*?\}\);\s*\}\);",
                  "", page, flags=re.S)
    return page


def _add_choropleth(m, shapes: dict) -> None:
    """Arrondissements coloured by count in five quantile classes, with a legend."""
    counts = sorted(f["properties"]["count"] for f in shapes["features"])
    breaks = [counts[min(len(counts) - 1, int(q * len(counts)))] for q in (0.2, 0.4, 0.6, 0.8)]
    colors = ["#fff7bc", "#fec44f", "#fe9929", "#d95f0e", "#993404"]

    def color(n):
        return colors[sum(n > b for b in breaks)]

    for f in shapes["features"]:
        f["properties"]["fill"] = color(f["properties"]["count"])
    m.add_geojson(shapes, layer_name="Arrondissements (nombre)",
                  style_callback=lambda feat: {"fillColor": feat["properties"]["fill"],
                                               "color": "#334", "weight": 1, "fillOpacity": 0.55},
                  info_mode="on_hover")
    lows = [0] + breaks
    labels = [f"{lo}–{hi}" for lo, hi in zip(lows, breaks + [counts[-1]], strict=True)]
    m.add_legend(title="Contributions par arrondissement",
                 legend_dict=dict(zip(labels, colors, strict=True)))
