"""The /planner dashboard in Chromium: filters change the map and the charts; the leafmap
report opens and shows its layers. Screenshots land in tests/artifacts/."""

import re
from urllib.parse import urlsplit

import pytest

from app.db import db
from tests.browser.conftest import (  # noqa: F401  (fixtures)
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    EMAIL_DOMAIN,
    PASSWORD,
    live_server,
    open_context,
    page,
    unique,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    """Chromium for this module only: imported here, the package-scoped one of tests/browser
    would live to the end of the session, and tests/browser could not start its own."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def planner_page(page, app):  # noqa: F811
    from app.accounts.services import create_user

    email = f"{unique('planner').replace(' ', '-')}@{EMAIL_DOMAIN}"
    with app.app_context():
        create_user(db.session, email, PASSWORD, "Urbaniste", ["planner"])
        db.session.commit()
    page.goto("/login?next=/planner")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(re.compile(r"/planner$"))
    return page


def state(page):  # noqa: F811
    return page.evaluate("""() => ({
        query: document.getElementById('planner').dataset.query ?? null,
        total: Number(document.getElementById('planner').dataset.total ?? -1),
        hexes: document.querySelectorAll('#planner-map path.hex').length,
        status: document.getElementById('planner-status').textContent,
        legend: document.querySelectorAll('#legend li').length,
    })""")


def test_filters_change_the_map_and_the_charts(planner_page):
    page = planner_page  # noqa: F811
    page.wait_for_function("() => document.getElementById('planner').dataset.query !== undefined")
    before = state(page)
    assert before["hexes"] > 100 and before["legend"] >= 3 and before["total"] > 39000
    page.screenshot(path=str(ARTIFACTS / "planner-dashboard.png"), full_page=True)

    page.select_option("select[name=category]", "graffitis")
    page.wait_for_function(f"() => document.getElementById('planner').dataset.query !== {before['query']!r}")
    page.wait_for_function(f"() => Number(document.getElementById('planner').dataset.total) < {before['total']}")
    after = state(page)
    assert "category=graffitis" in after["query"]
    assert after["hexes"] < before["hexes"] and 0 < after["total"] < before["total"]

    page.select_option("select[name=window]", "3")  # last three months of the time slider
    page.wait_for_function("() => /since=/.test(document.getElementById('planner').dataset.query)")
    page.check("input[value=arrondissement]")
    page.uncheck("input[value=hexbins]")
    page.wait_for_function("() => document.querySelectorAll('#planner-map path.area').length >= 20")
    # the area layer may be drawn again once more (a refresh in flight): click what is there then
    page.wait_for_function("() => document.querySelector('#info dl') !== null || "
                           "(document.querySelectorAll('#planner-map path.area')[10]"
                           "?.dispatchEvent(new MouseEvent('click', {bubbles: true})), false)",
                           polling=500)
    assert page.locator("#info a").get_attribute("href").startswith("/?")  # the public list page
    page.screenshot(path=str(ARTIFACTS / "planner-dashboard-filtered.png"), full_page=True)


def test_leafmap_report_opens_offline_with_its_layers(app, browser, tmp_path):  # noqa: F811
    pytest.importorskip("leafmap")
    out = tmp_path / "report.html"
    result = app.test_cli_runner().invoke(args=["planner", "report", "--out", str(out),
                                                "--since", "2024-01-01", "--until", "2024-03-31"])
    assert result.exit_code == 0, result.output
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    external, errors = [], []
    # every request but the file itself is refused: the report must not need a CDN
    context.route(lambda url: not url.startswith("file://"),
                  lambda route: (external.append(route.request.url), route.abort())[1])
    page = context.new_page()  # noqa: F811
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(out.as_uri())
    page.wait_for_function("() => document.querySelectorAll('.leaflet-overlay-pane path').length >= 20")
    layers = page.evaluate("""() => ({
        paths: document.querySelectorAll('.leaflet-overlay-pane path').length,
        heat: document.querySelectorAll('canvas.leaflet-heatmap-layer').length,
        legend: document.querySelector('#report-legend')?.textContent ?? '',
        title: document.title,
        control: [...document.querySelectorAll('.leaflet-control-layers-overlays label')].map(l => l.textContent.trim()),
    })""")
    page.screenshot(path=str(ARTIFACTS / "planner-report.png"))
    context.close()
    assert not errors, errors
    tiles = urlsplit(app.config["TILE_URL"]).netloc  # the configured basemap (a test's stub, or OSM)
    assert external and all(urlsplit(u).netloc == tiles for u in external), external  # basemap only
    # the heat layer is offered but off (tests/browser/test_planner_report.py switches it on)
    assert layers["heat"] == 0 and layers["title"].startswith("Signalements — Paris — janvier 2024")
    assert "km²" in layers["legend"] and len(layers["control"]) == 3
    assert any("Points chauds" in c for c in layers["control"]) and any("chaleur" in c for c in layers["control"])
