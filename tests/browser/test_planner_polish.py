"""The planner dashboard as a planner at a desk expects it, in Chromium and in French: no
English left, the time slider on the latest month with data, a message instead of empty
charts, the filters in the URL (reloading restores them), a list link to a page a human
reads, a legend that follows the layers; axe-core at 360 px and on a desktop. Screenshots go
to tests/artifacts (or CARTAGORA_SHOTS)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from babel.dates import format_date
from babel.support import Translations
from sqlalchemy import text

from app.db import db
from tests.browser.conftest import EMAIL_DOMAIN, PASSWORD, SHOTS, scalar, unique
from tests.browser.test_accessibility import violations

pytestmark = pytest.mark.browser

CATALOG = Translations.load(str(Path(__file__).resolve().parents[2] / "translations"), ["fr"])
# English the French dashboard showed before (in the panel, the info box, the status line)
ENGLISH = ["(all)", "Count", "Density per km²", "Share of the total", "Previous period",
           "Change", "Hexagons", "Heat map", "Hotspot:", "No data for these filters",
           "1 contributions"]


def fr(msgid: str) -> str:
    """The French of `msgid` once the catalog has it (it is compiled apart from this code)."""
    return CATALOG.gettext(msgid)


def english_left(text: str) -> list[str]:
    return [e for e in ENGLISH if e in text and fr(e) != e or re.search(r"\b1 contributions\b", text)]


@pytest.fixture
def planner_login(app):
    from app.accounts.services import create_user

    email = f"{unique('planner').replace(' ', '-')}@{EMAIL_DOMAIN}"
    with app.app_context():
        create_user(db.session, email, PASSWORD, "Urbaniste", ["planner"])
        db.session.commit()

    def login(page, path="/planner"):
        page.goto(f"/login?next={quote(path, safe='/')}")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_url(re.compile(r"/planner"))
        ready(page)

    return login


def ready(page, before: str | None = None):
    """Until the dashboard has drawn (again, when `before` is the previous query)."""
    page.wait_for_function("() => document.getElementById('planner').dataset.query !== undefined")
    if before is not None:
        page.wait_for_function(
            f"() => document.getElementById('planner').dataset.query !== {before!r}")
    page.wait_for_function("() => !/…/.test(document.getElementById('planner-status').textContent)")


def query(page) -> str:
    return page.evaluate("() => document.getElementById('planner').dataset.query")


def slow_scalar(sql: str):
    """A test-only query over the whole fact table: the app's short statement timeout lifted."""
    with db.engine.connect() as conn, conn.begin():
        conn.execute(text("SET LOCAL statement_timeout = '60s'"))
        return conn.execute(text(sql)).scalar()


def latest_month():
    return scalar("SELECT (max(created_at) AT TIME ZONE 'Europe/Paris')::date FROM planner_facts "
                  "WHERE kind = 'report'").replace(day=1)


def test_french_dashboard_slider_url_and_list_link(open_context, planner_login):  # noqa: F811
    context, _watch = open_context()
    page = context.new_page()
    planner_login(page)

    # the slider: on the latest month with data, as the database says (not today's month)
    month = latest_month()
    label = page.locator("#slider-label").text_content()
    assert label == format_date(month, "MMMM y", locale="fr")
    page.select_option("select[name=window]", "3")
    ready(page)
    since, until = parse_qs(query(page))["since"][0], parse_qs(query(page))["until"][0]
    assert until[:7] == month.isoformat()[:7] and since < until

    # no English in the panel, the legend, the status line, the category list
    body = page.locator("body").inner_text()
    options = " ".join(page.locator("select[name=category] option").all_text_contents())
    assert english_left(body + options) == []
    assert re.match(r"^[\d\u00a0\u202f ]+ contributions? · \d+ ms$", page.locator("#planner-status").text_content())

    # an area's numbers in French, and its list link opens the public list page
    page.check("input[value=arrondissement]")
    page.uncheck("input[value=hexbins]")
    page.wait_for_function("() => document.querySelectorAll('#planner-map path.area').length >= 20")
    ready(page)
    page.locator("#planner-map path.area").nth(10).click(force=True)
    page.wait_for_function("() => document.querySelector('#info dl') !== null")
    terms = page.locator("#info dt").all_text_contents()
    assert terms == ["Nombre", "Densité par km²", "Part du total", "Période précédente", "Évolution"]
    legend = page.locator("#legend").inner_text()
    assert fr("Contributions per area") in legend and "hexag" not in legend.lower()

    # the heat layer alone: the legend describes the heat, not hexagons
    page.uncheck("input[value=arrondissement]")
    page.check("input[value=heat]")
    ready(page)
    page.wait_for_function("() => document.querySelector('#legend .heat-ramp') !== null")
    assert page.locator("#legend li").count() == 0 and "hexag" not in page.locator("#legend").inner_text().lower()
    assert fr("Heat map: density of contributions") in page.locator("#legend").inner_text()

    # the URL carries the filters; reloading restores them
    before = query(page)
    page.select_option("select[name=category]", "graffitis")
    ready(page, before)
    url = urlsplit(page.url)
    params = parse_qs(url.query)
    assert params["category"] == ["graffitis"] and params["window"] == ["3"]
    assert params["end"] == [month.isoformat()[:7]] and params["layers"] == ["heat,hotspots"]
    shared = query(page)
    page.reload()
    ready(page)
    assert query(page) == shared
    assert page.locator("select[name=category]").input_value() == "graffitis"
    assert page.locator("select[name=window]").input_value() == "3"
    assert page.locator("input[value=heat]").is_checked()
    assert not page.locator("input[value=hexbins]").is_checked()

    # a hotspot's list link: the same filters and the hotspot's window, on the list page
    hotspots = page.locator("#planner-map path.hotspot")
    if hotspots.count():
        hotspots.first.click(force=True)
        page.wait_for_function("() => /#\\d/.test(document.querySelector('#info h2')?.textContent ?? '')")
        listed = parse_qs(urlsplit(page.locator("#info a.list-link").get_attribute("href")).query)
        assert listed["category"] == ["graffitis"] and listed["until"] == [until]
        assert listed["since"][0] <= listed["until"][0]

    # a hexagon's list link: the public list page with the same filters, not JSON
    page.check("input[value=hexbins]")
    ready(page)
    page.locator("#planner-map path.hex").first.click(force=True)  # the data may hold few in the window
    link = page.locator("#info a.list-link")
    href = link.get_attribute("href")
    assert href.startswith("/?") and "/api/" not in href
    listed = parse_qs(urlsplit(href).query)
    assert listed["category"] == ["graffitis"] and listed["since"] == [since]
    assert listed["status"] == ["all"]  # the planner's every status, not the list's default (open and recent)
    assert {"lat", "lon", "z"} <= listed.keys()
    link.click()
    page.wait_for_url(re.compile(r"/\?"))
    page.wait_for_selector("#results-list")
    assert "application/json" not in page.evaluate("() => document.contentType")
    assert page.locator("#filter-category").input_value() == "graffitis"
    assert page.locator("#filter-status").input_value() == "all"


def test_empty_filters_show_a_message_instead_of_empty_charts(open_context, planner_login):  # noqa: F811
    # a subcategory and a month of the data's span in which it has no report
    found = slow_scalar("""
        WITH span AS (SELECT date_trunc('month', min(created_at AT TIME ZONE 'Europe/Paris')) a,
                             date_trunc('month', max(created_at AT TIME ZONE 'Europe/Paris')) b
                      FROM planner_facts WHERE kind = 'report'),
             months AS (SELECT generate_series(a, b, interval '1 month') m FROM span),
             seen AS MATERIALIZED (
                 SELECT DISTINCT category_id, date_trunc('month', created_at AT TIME ZONE 'Europe/Paris') m
                 FROM planner_facts WHERE kind = 'report')
        SELECT c.code || '|' || to_char(months.m, 'YYYY-MM') FROM categories c CROSS JOIN months
        LEFT JOIN seen ON seen.category_id = c.id AND seen.m = months.m
        WHERE c.kind = 'report' AND c.parent_id IS NOT NULL AND seen.m IS NULL
        ORDER BY months.m DESC, 1 LIMIT 1""")
    assert found
    code, month = found.split("|")
    context, _watch = open_context()
    page = context.new_page()
    planner_login(page, f"/planner?category={code}&window=1&end={month}")
    assert parse_qs(query(page))["since"] == [f"{month}-01"]
    assert page.locator("select[name=category]").input_value() == code
    for chart in ("chart-trend", "chart-categories", "chart-resolution"):
        figure = page.locator(f"#{chart}-figure")
        assert figure.locator(".chart-empty").is_visible()
        assert figure.locator(".chart-empty").text_content() == fr("No data for these filters.")
        assert not figure.locator("canvas").is_visible()
        assert figure.locator("button[data-download]").first.is_disabled()
    assert re.match(r"^0 contribution · ", page.locator("#planner-status").text_content())
    page.screenshot(path=str(SHOTS / "planner-empty-desktop.png"), full_page=True)


def test_chart_downloads(open_context, planner_login):  # noqa: F811
    context, _watch = open_context(accept_downloads=True)
    page = context.new_page()
    planner_login(page)
    figure = page.locator("#chart-categories-figure")
    name = figure.locator("button[data-download=png]").get_attribute("aria-label")
    assert fr("Top categories") in name
    with page.expect_download() as png:
        figure.locator("button[data-download=png]").click()
    assert png.value.suggested_filename == "cartagora-categories.png"
    assert Path(png.value.path()).read_bytes()[:4] == b"\x89PNG"
    with page.expect_download() as sheet:
        figure.locator("button[data-download=csv]").click()
    text = Path(sheet.value.path()).read_text(encoding="utf-8")
    assert text.startswith("\ufeff") and ";" in text.splitlines()[1]


@pytest.mark.parametrize("width,height", [(1280, 800), (360, 740)])
def test_axe_and_screenshots(open_context, planner_login, width, height):  # noqa: F811
    phone = width < 500
    options = {"is_mobile": True, "has_touch": True} if phone else {}
    context, _watch = open_context(width=width, height=height, **options)
    page = context.new_page()
    planner_login(page)
    page.wait_for_function("() => document.querySelectorAll('#planner-map path.hex').length > 10")
    SHOTS.mkdir(parents=True, exist_ok=True)
    name = "phone" if phone else "desktop"
    page.screenshot(path=str(SHOTS / f"planner-{name}.png"), full_page=True)
    page.check("input[value=arrondissement]")
    ready(page)
    page.locator("#planner-map path.area").nth(4).click(force=True)
    page.wait_for_function("() => document.querySelector('#info dl') !== null")
    page.screenshot(path=str(SHOTS / f"planner-{name}-area.png"), full_page=True)
    assert violations(page) == []
