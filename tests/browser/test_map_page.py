"""The resident map in a browser: city view, zoom, filters in the URL, list, search, location,
mobile layout, the basemap being optional."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.conftest import ARTIFACTS, loads, scalar, wait_for_map

pytestmark = pytest.mark.browser

VISIBLE = "NOT hidden AND withdrawn_at IS NULL"


def url_params(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def cluster_counts(page) -> list[int]:
    return page.eval_on_selector_all(".marker-cluster", "els => els.map(e => Number(e.dataset.count))")


def test_city_view_shows_clusters_outlines_legend_and_credits(page):
    page.goto("/?status=all")  # everything: the default view is tested in test_map_journey.py
    wait_for_map(page)
    total = scalar(f"SELECT count(*) FROM contributions WHERE {VISIBLE}")
    assert total > 30_000  # the DansMaRue extract is loaded

    # the whole of Paris is in view: clusters and lone symbols add up to every contribution,
    # with a few dozen DOM markers instead of 40k
    counts = cluster_counts(page)
    singles = page.locator(".marker-point").count()  # no shapes at city zoom: all points
    assert sum(counts) + singles == total
    assert 10 <= len(counts) + singles <= 200
    assert page.locator("#map").get_attribute("data-total") == str(total)
    count_text = page.locator("#results-count").inner_text()
    assert re.sub(r"\D", "", count_text) == str(total), count_text
    assert count_text.endswith("contributions dans cette zone")

    # 20 arrondissements and 80 quartiers drawn under the data
    assert page.locator("path.outline-arrondissement").count() == 20
    assert page.locator("path.outline-quartier").count() == 80

    # the legend names the symbols and the ten DansMaRue report categories
    legend = page.locator("#legend")
    legend.get_by_text("Légende").click()
    assert legend.locator(".legend-categories").first.locator("li").count() == 10
    assert "Graffitis, tags, affiches et autocollants" in legend.inner_text()

    attribution = page.locator(".leaflet-control-attribution").inner_text()
    for credit in ("OpenStreetMap", "Ville de Paris – opendata.paris.fr (ODbL)",
                   "Base Adresse Nationale (Licence Ouverte 2.0)"):
        assert credit in attribution
    assert page.watch.tiles, "the basemap tiles were requested"

    # the list beside the map: 20 newest first, with links to their pages
    items = page.locator("#results-list > li")
    assert items.count() == 20
    first_id = int(items.first.get_attribute("data-id"))
    newest = scalar(f"SELECT id FROM contributions WHERE {VISIBLE} ORDER BY created_at DESC, id DESC LIMIT 1")
    assert first_id == newest
    assert items.first.locator("h3 a").get_attribute("href") == f"/c/{newest}"
    page.screenshot(path=str(ARTIFACTS / "map-desktop.png"))


def map_total_becomes(page, expected: int) -> None:
    """The map's count reaches `expected` (a history step may draw twice: the view, then the
    filters); fails after the default timeout with the count it shows instead."""
    try:
        page.wait_for_function(f"() => document.getElementById('map').dataset.total === '{expected}'")
    except Exception:
        assert int(page.locator("#map").get_attribute("data-total")) == expected
        raise


def test_zoom_filters_and_back_button_keep_the_url(page):
    page.goto("/?lat=48.85660&lon=2.35220&z=14")
    wait_for_map(page)
    assert url_params(page)["z"] == "14"
    before = loads(page)
    page.get_by_role("button", name="Zoom avant", exact=True).click()
    wait_for_map(page, before)
    assert url_params(page)["z"] == "15"
    all_total = int(page.locator("#map").get_attribute("data-total"))

    # filter by category: the URL, the map and the list follow
    before = loads(page)
    page.get_by_label("Catégorie", exact=True).select_option("graffitis")
    wait_for_map(page, before)
    assert url_params(page)["category"] == "graffitis"
    graffiti_total = int(page.locator("#map").get_attribute("data-total"))
    assert 0 < graffiti_total < all_total
    kickers = page.locator("#results-list .item-kicker").all_inner_texts()
    assert kickers and all("Graffitis" in k for k in kickers)

    # status and arrondissement as well
    before = loads(page)
    page.get_by_label("Arrondissement", exact=True).select_option("4")
    wait_for_map(page, before)
    params = url_params(page)
    assert params["arrondissement"] == "4" and params["category"] == "graffitis"
    in_4th = int(page.locator("#map").get_attribute("data-total"))
    assert in_4th <= graffiti_total
    metas = page.locator("#results-list .item").count()
    assert metas == min(in_4th, 20)

    # back: the arrondissement filter is undone, then the category
    before = loads(page)
    page.go_back()
    wait_for_map(page, before)
    assert "arrondissement" not in url_params(page)
    assert page.get_by_label("Arrondissement", exact=True).input_value() == ""
    map_total_becomes(page, graffiti_total)
    before = loads(page)
    page.go_back()
    wait_for_map(page, before)
    assert "category" not in url_params(page)
    map_total_becomes(page, all_total)

    # a shared link opens with its filters applied
    page.goto("/?lat=48.85660&lon=2.35220&z=15&kind=report&status=open&since=2024-01-01&until=2024-06-30")
    wait_for_map(page)
    assert page.locator("#filter-status").input_value() == "open"
    assert page.locator("#filter-since").input_value() == "2024-01-01"
    assert page.locator("input[name=kind][value=report]").is_checked()
    dates = page.locator("#results-list time").evaluate_all("els => els.map(e => e.dateTime)")
    assert dates and all("2024-01-01" <= d[:10] <= "2024-06-30" for d in dates)


def test_zooming_in_turns_clusters_into_points(page):
    page.goto("/?lat=48.86000&lon=2.34700&z=13")
    wait_for_map(page)
    assert page.locator(".marker-cluster").count() > 5
    page.goto("/?lat=48.86000&lon=2.34700&z=19")
    wait_for_map(page)
    points = page.locator(".marker-point")
    assert points.count() > 0
    total = int(page.locator("#map").get_attribute("data-total"))
    shapes = page.locator("path.shape").count()  # lines and areas drawn as themselves
    assert sum(cluster_counts(page)) + points.count() + shapes == total
    # a point opens a popup with its title and a link to its page
    points.first.click()
    popup = page.locator(".leaflet-popup")
    link = popup.locator(".popup-title a")
    assert re.fullmatch(r"/c/\d+", link.get_attribute("href"))
    assert link.inner_text().strip()
    # the symbols are named images, not tab stops: the list is the keyboard's way to them
    # (test_map_journey.py: "show on the map" takes the focus into the popup)
    second = points.nth(1)
    assert second.get_attribute("role") == "img" and second.get_attribute("tabindex") is None
    assert second.get_attribute("aria-label").startswith(("Signalement : ", "Proposition : "))


def test_list_is_a_complete_alternative_to_the_map(page):
    page.goto("/?lat=48.85660&lon=2.35220&z=16")
    wait_for_map(page)
    total = int(page.locator("#map").get_attribute("data-total"))
    assert total > 20
    items = page.locator("#results-list > li")
    assert items.count() == 20
    # "show more" from the keyboard appends the next page and moves the focus to it
    more = page.get_by_role("button", name="Afficher plus")
    more.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('#results-list > li').length > 20")
    assert items.count() == min(40, total)
    focused = page.evaluate("() => document.activeElement.closest('li')?.dataset.id")
    assert focused == items.nth(20).get_attribute("data-id")
    assert "affichées sur" in page.locator("#results-shown").inner_text()

    # "show on the map" from the keyboard zooms there and opens the item's popup
    item = items.nth(3)
    item_id = item.get_attribute("data-id")
    title = item.locator("h3").inner_text()
    item.get_by_role("button", name="Voir sur la carte").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(".leaflet-popup .popup-title a")
    assert page.locator(".leaflet-popup .popup-title a").get_attribute("href") == f"/c/{item_id}"
    assert page.locator(".leaflet-popup .popup-title").inner_text().strip() == title.strip()
    assert int(url_params(page)["z"]) >= 18


def test_address_search_jumps_there(page):
    page.goto("/")
    wait_for_map(page)
    expected = scalar("SELECT ST_X(geom) || ',' || ST_Y(geom) FROM addresses "
                      "WHERE label = '10 Rue de Rivoli 75004 Paris'")
    assert expected
    box = page.get_by_role("combobox", name="Rechercher une adresse à Paris")
    box.fill("10 rue de rivoli")
    page.wait_for_selector("#search-results [role=option]")
    assert page.locator("#search-results [role=option]").first.inner_text() == "10 Rue de Rivoli 75004 Paris"
    before = loads(page)
    box.press("ArrowDown")
    assert box.get_attribute("aria-activedescendant") == "search-option-0"
    box.press("Enter")
    wait_for_map(page, before)
    lon, lat = (float(v) for v in expected.split(","))
    params = url_params(page)
    assert params["z"] == "18"
    assert abs(float(params["lat"]) - lat) < 1e-4 and abs(float(params["lon"]) - lon) < 1e-4
    assert "Carte centrée sur 10 Rue de Rivoli" in page.locator("#search-status").inner_text()


def test_use_my_location(open_context):
    context, _watch = open_context(geolocation={"latitude": 48.8462, "longitude": 2.3371},
                                   permissions=["geolocation"])
    page = context.new_page()
    page.goto("/")
    wait_for_map(page)
    before = loads(page)
    page.get_by_role("button", name="Utiliser ma position").click()
    wait_for_map(page, before)
    params = url_params(page)
    assert params["z"] == "18"
    assert abs(float(params["lat"]) - 48.8462) < 1e-4 and abs(float(params["lon"]) - 2.3371) < 1e-4
    assert page.locator("path.you-are-here").count() == 1


def test_map_works_without_the_basemap(page):
    page.watch.tiles_down = True
    page.watch.allow(r"net::ERR_CONNECTION_REFUSED")
    page.goto("/?lat=48.85660&lon=2.35220&z=13")
    wait_for_map(page)
    assert page.watch.tiles  # they were asked for, and failed
    assert page.locator(".marker-cluster").count() > 0
    assert page.locator("path.outline-arrondissement").count() == 20
    assert page.locator("#map-status").inner_text() == ""  # nothing shown to the resident
    assert page.locator("#results-list > li").count() == 20
    broken = page.eval_on_selector_all(
        "img.leaflet-tile", "imgs => imgs.filter(i => i.complete && i.naturalWidth === 0).length")
    assert broken == 0  # failed tiles are replaced by a blank one, no broken-image icons


def test_mobile_layout_and_touch_targets(open_context):
    context, _watch = open_context(width=360, height=640, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto("/")
    wait_for_map(page)
    page.screenshot(path=str(ARTIFACTS / "map-mobile.png"))
    # the map fills the screen; list and filters are one tap away in the bottom bar
    assert page.locator("#panel").is_hidden()
    small = page.evaluate("""() => Array.from(document.querySelectorAll(
        'button, a, summary, input, select, [role=button]')).filter(el => {
          const r = el.getBoundingClientRect();
          if (!r.width || !r.height || getComputedStyle(el).visibility === 'hidden') return false;
          if (el.closest('.leaflet-control-attribution, .leaflet-marker-pane')) return false;
          if (el.matches('input[type=radio], input[type=checkbox]')) return false;
          return r.width < 44 || r.height < 44;
        }).map(el => el.outerHTML.slice(0, 80))""")
    assert small == []
    page.get_by_role("button", name="Liste").tap()
    assert page.locator("#results-list > li").first.is_visible()
    assert page.locator("#filters").is_hidden()
    page.get_by_role("button", name="Filtres").tap()
    assert page.get_by_label("Catégorie", exact=True).is_visible()
    page.get_by_role("button", name="Carte").tap()
    assert page.locator("#panel").is_hidden()
    # the contribute button sits in the thumb's reach (bottom right quarter)
    box = page.get_by_role("button", name="Contribuer").bounding_box()
    assert box["y"] > 640 / 2 and box["x"] + box["width"] > 360 / 2


def test_show_on_the_map_opens_the_popup_of_a_report_sharing_its_spot(page, api_user, live_server):
    """Reports filed on one spot stay one cluster at the deepest zoom: "show on the map" opens
    the chosen one's popup at that spot all the same."""
    from sqlalchemy import text

    from app.db import db
    from tests.browser.conftest import unique

    author = api_user("Voisine du kiosque")
    spot = [2.3269, 48.8357]  # the parc Montsouris's kiosk (14e): nothing else there
    ids = []
    try:
        for n in range(3):
            r = author.post(f"{live_server}/api/v1/reports", json={
                "type": "Feature", "geometry": {"type": "Point", "coordinates": spot},
                "properties": {"title": unique(f"Banc cassé {n}"), "category": "graffitis"}}, timeout=10)
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        page.goto(f"/?lat={spot[1]}&lon={spot[0]}&z=19")
        wait_for_map(page)
        assert page.locator(".marker-cluster").count() >= 1  # one spot, one cluster
        item = page.locator(f'#results-list > li[data-id="{ids[1]}"]')
        title = item.locator("h3").inner_text()
        item.get_by_role("button", name="Voir sur la carte").click()
        page.wait_for_selector(".leaflet-popup .popup-title a")
        assert page.locator(".leaflet-popup .popup-title a").get_attribute("href") == f"/c/{ids[1]}"
        assert page.locator(".leaflet-popup .popup-title").inner_text().strip() == title.strip()
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM contributions WHERE id = ANY(:ids)"), {"ids": ids})
