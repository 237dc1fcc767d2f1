"""MapLibre GL JS (npm, served from /static/vendor) draws the vector tiles without a console error.

The page is a bare one (page.set_content) that any other site could write: it loads MapLibre from
the app, its style points at the TileJSON, and the tiles come cross-origin (CORS is open).
"""

from __future__ import annotations

import pytest

NOTRE_DAME = (2.3499, 48.8530)

PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Tuiles</title>
<link rel="stylesheet" href="{root}/static/vendor/maplibre-gl/maplibre-gl.css">
<script src="{root}/static/vendor/maplibre-gl/maplibre-gl.js"></script>
<style>body {{ margin: 0 }} #map {{ width: 900px; height: 600px }}</style>
</head><body><main><div id="map"></div></main>
<script>
window.map = new maplibregl.Map({{
  container: "map", center: [{lon}, {lat}], zoom: 13, attributionControl: {{compact: false}},
  style: {{
    version: 8,
    sources: {{
      contributions: {{type: "vector", url: "{root}/tiles/contributions.json?kind=report"}},
      areas: {{type: "vector", url: "{root}/tiles/areas.json"}}
    }},
    layers: [
      {{id: "background", type: "background", paint: {{"background-color": "#f4f2ec"}}}},
      {{id: "areas", type: "line", source: "areas", "source-layer": "areas",
        paint: {{"line-color": "#555", "line-width": 1}}}},
      {{id: "cells", type: "circle", source: "contributions", "source-layer": "contributions",
        filter: ["has", "count"],
        paint: {{"circle-color": "#c0392b", "circle-opacity": 0.7,
                 "circle-radius": ["interpolate", ["linear"], ["get", "count"], 1, 3, 200, 14]}}}},
      {{id: "points", type: "circle", source: "contributions", "source-layer": "contributions",
        filter: ["!", ["has", "count"]],
        paint: {{"circle-color": "#2c3e50", "circle-radius": 4}}}}
    ]
  }}
}});
window.idle = () => new Promise(resolve => map.once("idle", resolve));
</script></body></html>"""


@pytest.fixture
def tiles_page(open_context, live_server, app, monkeypatch):
    # the TileJSON's tile URLs are absolute, from the public URL: the live server's here
    monkeypatch.setitem(app.config, "PUBLIC_URL", live_server)
    context, watch = open_context()
    page = context.new_page()
    page.set_content(PAGE.format(root=live_server, lon=NOTRE_DAME[0], lat=NOTRE_DAME[1]))
    page.wait_for_function("window.map && window.map.loaded() && window.map.areTilesLoaded()",
                           timeout=30_000)
    return page


def rendered(page, layer: str) -> list[dict]:
    return page.evaluate(f"""() => map.queryRenderedFeatures({{layers: ["{layer}"]}})
        .map(f => ({{id: f.id, properties: f.properties, type: f.geometry.type}}))""")


def test_maplibre_draws_cells_then_contributions(tiles_page):
    page = tiles_page
    cells = rendered(page, "cells")
    assert cells, "no aggregated cell drawn at zoom 13"
    assert all(c["properties"]["count"] >= 1 and c["properties"]["proposals"] == 0 for c in cells)
    assert rendered(page, "areas"), "no arrondissement outline drawn"
    attribution = page.locator(".maplibregl-ctrl-attrib").inner_text()
    assert "opendata.paris.fr" in attribution

    page.evaluate("() => { const done = idle(); map.jumpTo({zoom: 17}); return done; }")
    points = rendered(page, "points")
    assert points, "no contribution drawn at zoom 17"
    assert not rendered(page, "cells")
    assert all(p["type"] == "Point" and p["id"] > 0 and p["properties"]["kind"] == "report"
               for p in points)
    page.screenshot(path="tests/artifacts/tiles_maplibre.png")
