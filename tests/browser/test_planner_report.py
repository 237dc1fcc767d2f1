"""The planner's report in Chromium, as a planner opens it from the dashboard: a new tab with
the dashboard's filters, a proper title, a map fitted to the data whose layer control switches
layers (the heat off at first), no request but the stubbed basemap tiles, nothing refused by its
CSP, axe-core clean on a desktop and at 360 px, and a print stylesheet (A4, no map controls).
A screenshot at 1280 px and the PDF Chromium prints go to tests/artifacts (or CARTAGORA_SHOTS)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.conftest import SHOTS
from tests.browser.test_accessibility import violations
from tests.browser.test_planner_polish import planner_login  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser

PATHS = "() => document.querySelectorAll('.leaflet-overlay-pane path').length"


def overlay(report, name: str):
    return report.locator(".leaflet-control-layers-overlays label").filter(has_text=name).locator("input")


def test_the_report_opens_from_the_dashboard_and_its_layer_control_works(open_context, planner_login):  # noqa: F811
    SHOTS.mkdir(parents=True, exist_ok=True)
    context, watch = open_context(1280, 900)
    page = context.new_page()
    planner_login(page, "/planner?window=3&end=2024-08")  # June to August 2024

    link = page.locator("#report-open")
    assert link.get_attribute("target") == "_blank"
    assert link.inner_text().strip().startswith(("Ouvrir le rapport", "Open the report"))
    page.locator(".exports").screenshot(path=str(SHOTS / "report-dashboard-links.png"))
    query = parse_qs(urlsplit(link.get_attribute("href")).query)
    assert query["since"] == ["2024-06-01"] and query["until"] == ["2024-08-31"]
    download = parse_qs(urlsplit(page.locator("#report-download").get_attribute("href")).query)
    assert download["download"] == ["1"] and download["since"] == ["2024-06-01"]
    with context.expect_page() as opened:
        link.click()
    report = opened.value
    report.wait_for_load_state()
    report.wait_for_function(f"() => ({PATHS})() >= 20")

    # a title a reader understands, in the page's language (French)
    title = report.title()
    assert title.startswith("Signalements — Paris — juin 2024") and title.endswith("août 2024"), title
    assert report.locator("h1").inner_text() == title
    assert report.locator("html").get_attribute("lang") == "fr"
    assert report.locator("[data-figure]").count() >= 6
    assert report.locator("#areas-table tbody tr").count() == 20

    # fitted to the data: the whole of Paris in view, not a crop of its centre
    bounds = report.evaluate("""() => {
        const map = Object.keys(window).filter(k => k.startsWith('map_')).map(k => window[k])
            .find(v => v && v.getBounds);
        const b = map.getBounds();
        return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];
    }""")
    assert bounds[0] < 2.26 and bounds[2] > 2.41 and bounds[1] < 48.83 and bounds[3] > 48.89, bounds
    assert watch.tiles, "the basemap's tiles are asked of the configured (stubbed) server"

    # the layer control: open, with three overlays; the heat is off at first
    labels = report.locator(".leaflet-control-layers-overlays label")
    assert labels.count() == 3
    assert report.locator("canvas.leaflet-heatmap-layer").count() == 0
    choropleth, heat, hotspots = (overlay(report, name) for name in ("km²", "Carte de chaleur", "Points chauds"))
    assert choropleth.is_checked() and not heat.is_checked() and hotspots.is_checked()
    areas_and_spots = report.evaluate(PATHS)
    spots = report.locator(".leaflet-marker-pane .hotspot-rank").count()
    assert spots >= 1 and areas_and_spots == 20 + spots
    choropleth.uncheck()
    assert report.evaluate(PATHS) == spots
    heat.check()
    report.wait_for_selector("canvas.leaflet-heatmap-layer")
    hotspots.uncheck()
    assert report.evaluate(PATHS) == 0 and report.locator(".leaflet-marker-pane .hotspot-rank").count() == 0
    # the control's icon is inlined (it was a blank square): its background is a data: URI
    icon = report.evaluate("""() => {
        const a = document.createElement('a'); a.className = 'leaflet-control-layers-toggle';
        document.querySelector('.leaflet-control-layers').append(a);
        const image = getComputedStyle(a).backgroundImage; a.remove(); return image;
    }""")
    assert icon.startswith('url("data:image/png;base64,'), icon[:60]
    choropleth.check()
    hotspots.check()
    heat.uncheck()

    assert violations(report) == []
    report.screenshot(path=str(SHOTS / "report-report-1280.png"), full_page=True)

    # printed: A4, the map without its controls, the tables whole
    report.emulate_media(media="print")
    assert report.locator(".leaflet-control-layers").is_hidden()
    assert report.locator(".leaflet-control-zoom").is_hidden()
    pdf = report.pdf(path=str(SHOTS / "report-report.pdf"), format="A4", print_background=True,
                     prefer_css_page_size=True)
    pages = len(re.findall(rb"/Type\s*/Page\b", pdf))
    assert pdf.startswith(b"%PDF") and 2 <= pages <= 8, pages
    report.emulate_media(media="screen")

    # on a phone
    report.set_viewport_size({"width": 360, "height": 780})
    report.wait_for_timeout(200)
    assert report.evaluate("() => document.documentElement.scrollWidth") <= 360
    assert violations(report) == []
    report.screenshot(path=str(SHOTS / "report-report-360.png"), full_page=True)


def test_the_report_in_english_and_downloaded(open_context, planner_login, live_server):  # noqa: F811
    context, _watch = open_context()
    page = context.new_page()
    planner_login(page)
    page.goto("/planner/report.html?since=2024-06-01&until=2024-08-31&category=graffitis"
              "&status=open&arrondissement=11&lang=en")
    page.wait_for_function(f"() => ({PATHS})() >= 1")
    assert page.title() == "Reports — Paris 11th — June 2024 to August 2024"
    assert page.locator(".report-filters li").all_inner_texts() == [
        "Reports", "Graffiti, tags, posters and stickers", "Open (not fixed yet)", "Paris 11th"]
    # about one arrondissement, the map and the table are per quartier (the 11e has four)
    assert page.locator("#areas-table tbody tr").count() == 4
    assert violations(page) == []
    with page.expect_download() as got:
        page.evaluate("""() => { const a = document.createElement('a');
            a.href = location.href + '&download=1'; document.body.append(a); a.click(); }""")
    assert got.value.suggested_filename == "cartagora-report.html"
