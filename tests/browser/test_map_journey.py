"""The resident map, finished (issue 17): what it shows by default, popups and the legend clear
of the controls, filters that fit a phone, the keyboard's way through the page, axe-core at
360 and 1280 px, the new contribution shown after publishing, drawing over clusters."""

from __future__ import annotations

import itertools
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from app.db import db
from app.map.schemas import RECENT_DAYS
from tests.browser.conftest import SHOTS, loads, scalar, sign_up, unique, wait_for_map
from tests.browser.test_accessibility import violations

pytestmark = pytest.mark.browser

# The square of the Temple (3e): a quiet spot for the reports these tests make.
TEMPLE = (48.86440, 2.36060)
# Place de la République: about 150 dots at street zoom in the extract, mostly years-old.
REPUBLIQUE = (48.86750, 2.36330)
PHONE = {"width": 360, "height": 740, "is_mobile": True, "has_touch": True}


def url_params(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


def overlaps(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


def inside(inner: dict, outer: dict, slack: float = 0.5) -> bool:
    return (inner["x"] >= outer["x"] - slack and inner["y"] >= outer["y"] - slack
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack)


def controls(page) -> list[dict]:
    """The boxes over the map: Leaflet's controls but the credits, and "Contribute"."""
    return page.eval_on_selector_all(
        ".leaflet-control:not(.leaflet-control-attribution), #create-button",
        "els => els.filter(e => e.getBoundingClientRect().height).map(e => {"
        "  const r = e.getBoundingClientRect();"
        "  return {x: r.x, y: r.y, width: r.width, height: r.height, id: e.id || e.className}; })")


@pytest.fixture
def three_ages(api_user, live_server):
    """Reports a few metres apart at the Temple: open, resolved 3 days ago, resolved 2 years
    ago; {name: id}. Deleted afterwards."""
    author = api_user("Voisin du square")
    made = {}
    for n, name in enumerate(("open", "fresh", "old")):
        r = author.post(f"{live_server}/api/v1/reports", json={
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [TEMPLE[1] + n * 0.0002, TEMPLE[0]]},
            "properties": {"title": unique(f"Lampadaire {name}"), "category": "graffitis"}},
            timeout=10)
        assert r.status_code == 201, r.text
        made[name] = r.json()["id"]
    with db.engine.begin() as conn:
        for name, days in (("fresh", 3), ("old", 730)):
            conn.execute(text("UPDATE contributions SET status = 'resolved', "
                              "closed_at = now() - make_interval(days => :d) WHERE id = :id"),
                         {"d": days, "id": made[name]})
    yield made
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM contributions WHERE id = ANY(:ids)"),
                     {"ids": list(made.values())})


@pytest.fixture(scope="module")
def years_old_around_republique(live_server):
    """As in the real data (the extract's reports are all `new` here): around République,
    four imported reports in five closed two years ago, resolved or rejected. Put back after."""
    with db.engine.begin() as conn:
        conn.execute(text("SET LOCAL statement_timeout = 0"))  # the rollups' triggers follow
        ids = conn.execute(text("""
            UPDATE contributions SET status = CASE WHEN id % 2 = 0 THEN 'resolved' ELSE 'rejected' END,
                   closed_at = now() - interval '2 years'
            WHERE kind = 'report' AND status = 'new' AND author_id IS NULL AND id % 5 <> 0
              AND geom && ST_MakeEnvelope(2.3500, 48.8600, 2.3770, 48.8750, 4326)
            RETURNING id""")).scalars().all()
    assert len(ids) > 200
    yield ids
    with db.engine.begin() as conn:
        conn.execute(text("SET LOCAL statement_timeout = 0"))
        conn.execute(text("UPDATE contributions SET status = 'new', closed_at = NULL WHERE id = ANY(:ids)"),
                     {"ids": ids})


def listed_ids(page) -> set[int]:
    return {int(i) for i in page.eval_on_selector_all("#results-list > li", "els => els.map(e => e.dataset.id)")}


# ---- 1. what the map shows by default ----------------------------------------------------------

def current_count(where: str = "true") -> int:
    return scalar(f"""SELECT count(*) FROM contributions c WHERE NOT hidden AND withdrawn_at IS NULL
        AND {where} AND (status IN ('new', 'acknowledged', 'scheduled', 'monitoring', 'transferred',
                                    'published', 'under_review', 'accepted')
             OR (status IN ('resolved', 'realised')
                 AND closed_at >= (date_trunc('day', now() AT TIME ZONE 'Europe/Paris')
                                   - make_interval(days => {RECENT_DAYS})) AT TIME ZONE 'Europe/Paris'))""")


def test_default_view_is_open_and_recent_with_everything_one_click_away(page, three_ages):
    page.goto(f"/?lat={TEMPLE[0]:.5f}&lon={TEMPLE[1] + 0.0002:.5f}&z=19")
    wait_for_map(page)
    assert "status" not in url_params(page)
    assert page.locator("#filter-status").input_value() == ""  # the default view
    shown = listed_ids(page)
    assert three_ages["open"] in shown and three_ages["fresh"] in shown
    assert three_ages["old"] not in shown
    assert page.locator(f".marker-point[data-id='{three_ages['old']}']").count() == 0
    assert page.locator(f".marker-point[data-id='{three_ages['fresh']}']").count() == 1
    # the page says what it shows, and how to see everything
    scope = page.locator("#results-scope")
    assert scope.is_visible() and f"{RECENT_DAYS} " in scope.inner_text()
    page.screenshot(path=f"{SHOTS}/map-default-desktop.png")

    # "Show everything": one click; the URL says so; the old one is back on the map and listed
    before = loads(page)
    scope.get_by_role("button").click()
    wait_for_map(page, before)
    assert url_params(page)["status"] == "all"
    assert page.locator("#filter-status").input_value() == "all"
    assert {three_ages["open"], three_ages["fresh"], three_ages["old"]} <= listed_ids(page)
    assert page.locator(f".marker-point[data-id='{three_ages['old']}']").count() == 1
    # the focus is on the way back, now shown in place of the button pressed
    assert page.evaluate("() => document.activeElement.closest('#results-scope-all') !== null")
    assert page.locator("#results-scope").is_hidden()

    # the shared link opens on everything; the back button returns to the default view
    page.goto(page.url)
    wait_for_map(page)
    assert three_ages["old"] in listed_ids(page)
    page.go_back()
    page.wait_for_function("() => !new URLSearchParams(location.search).has('status')")
    wait_for_map(page)
    page.wait_for_function(f"() => !document.querySelector('#results-list > li[data-id=\"{three_ages['old']}\"]')")


def test_default_city_view_counts_what_the_database_says(page, years_old_around_republique):
    page.goto("/")
    wait_for_map(page)
    expected = current_count()
    everything = scalar("SELECT count(*) FROM contributions WHERE NOT hidden AND withdrawn_at IS NULL")
    assert page.locator("#map").get_attribute("data-total") == str(expected)
    assert re.sub(r"\D", "", page.locator("#results-count").inner_text()) == str(expected)
    assert expected == everything - len(years_old_around_republique)


def test_republique_at_street_zoom_drops_the_old_dots(page, years_old_around_republique):
    """The issue's view: about 150 dots around République, mostly closed years ago."""
    page.goto(f"/?lat={REPUBLIQUE[0]:.5f}&lon={REPUBLIQUE[1]:.5f}&z=17&status=all")
    wait_for_map(page)
    everything = int(page.locator("#map").get_attribute("data-total"))
    page.goto(f"/?lat={REPUBLIQUE[0]:.5f}&lon={REPUBLIQUE[1]:.5f}&z=17")
    wait_for_map(page)
    current = int(page.locator("#map").get_attribute("data-total"))
    assert everything > 100 and current < everything / 2, (everything, current)
    page.screenshot(path=f"{SHOTS}/map-republique-default-desktop.png")


# ---- 2. layout: popups clear of the controls, the legend of the button, filters that fit -------

@pytest.mark.parametrize("size", [PHONE, {"width": 1280, "height": 800}], ids=["phone", "desktop"])
def test_popup_opens_whole_and_clear_of_the_controls(open_context, three_ages, size):
    context, _watch = open_context(**size)
    page = context.new_page()
    # the report near the top left corner of the view, under the locate button and legend
    page.goto(f"/?lat={TEMPLE[0] - 0.0009:.5f}&lon={TEMPLE[1] + 0.0005:.5f}&z=18")
    wait_for_map(page)
    marker = page.locator(f".marker-point[data-id='{three_ages['open']}']")
    marker.click()
    popup = page.locator(".leaflet-popup")
    popup.locator(".popup-title a").wait_for()
    page.wait_for_timeout(400)  # the map's pan to show it
    pbox = popup.bounding_box()
    map_box = box(page, "#map")
    assert inside(pbox, map_box), (pbox, map_box)
    hidden_by = [c for c in controls(page) if overlaps(c, pbox)]
    assert hidden_by == [], hidden_by
    # its title and close button are there to be clicked: nothing else is on top of them
    for selector in (".popup-title a", ".leaflet-popup-close-button"):
        b = box(page, f".leaflet-popup {selector}")
        top = page.evaluate("([x, y]) => document.elementFromPoint(x, y)?.closest('.leaflet-popup') !== null",
                            [b["x"] + b["width"] / 2, b["y"] + b["height"] / 2])
        assert top, selector
    name = "phone" if size["width"] < 400 else "desktop"
    page.screenshot(path=f"{SHOTS}/map-popup-{name}.png")

    # the open legend closes the popup and stays clear of "Contribute"
    page.locator("#legend summary").click()
    page.locator(".leaflet-popup").wait_for(state="detached")
    legend = box(page, "#legend")
    assert not overlaps(legend, box(page, "#create-button")), (legend, box(page, "#create-button"))
    assert inside(legend, map_box)
    page.screenshot(path=f"{SHOTS}/map-legend-{name}.png")


def test_filters_fit_a_phone(open_context):
    context, _watch = open_context(**PHONE)
    page = context.new_page()
    page.goto("/")
    wait_for_map(page)
    page.get_by_role("button", name="Filtres").tap()
    panel = page.locator("#panel")
    assert panel.evaluate("p => p.scrollWidth") <= 360
    rights = page.eval_on_selector_all("#filters select, #filters input, #filters button",
                                       "els => els.map(e => e.getBoundingClientRect().right)")
    assert rights and max(rights) <= 360
    page.screenshot(path=f"{SHOTS}/map-filters-phone.png")

    # area alerts, one tap away: for the arrondissement the filters name
    link = page.get_by_role("link", name=re.compile("^Recevoir un e-mail quand du nouveau"))
    assert link.get_attribute("href") == "/me/alerts"
    page.get_by_label("Arrondissement").select_option("11")
    page.wait_for_function("() => document.getElementById('alert-link').search === '?arrondissement=11'")
    link.tap()
    page.wait_for_url(re.compile(r"/login\?next=/me/alerts\?arrondissement%3D11$"))


# ---- 3. keyboard -----------------------------------------------------------------------------

def tabs_to(page, selector: str, limit: int = 60) -> int:
    """How many Tab presses from the top of the page reach `selector` (limit + 1: never)."""
    page.evaluate("() => { document.activeElement?.blur(); window.scrollTo(0, 0); }")
    for n in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => document.activeElement?.matches('{selector}')"):
            return n
    return limit + 1


@pytest.mark.parametrize("size", [PHONE, {"width": 1280, "height": 800}], ids=["phone", "desktop"])
def test_contribute_is_a_few_tab_stops_away_at_street_zoom(open_context, size):
    context, _watch = open_context(**size)
    page = context.new_page()
    page.goto(f"/?lat={REPUBLIQUE[0]:.5f}&lon={REPUBLIQUE[1]:.5f}&z=17&status=all")
    wait_for_map(page)
    markers = page.locator(".leaflet-marker-icon")
    assert markers.count() > 20  # a crowded view
    assert page.locator(".leaflet-marker-icon[tabindex]").count() == 0
    # each symbol is an image with a name; a cluster's name starts with the count it shows
    names = page.eval_on_selector_all(
        ".marker-cluster", "els => els.map(e => [e.getAttribute('role'), e.getAttribute('aria-label'), e.innerText])")
    assert names and all(role == "img" and label.startswith(shown.strip()) for role, label, shown in names)
    assert tabs_to(page, "#create-button") <= 15


def test_show_on_the_map_takes_the_focus_into_the_popup_and_back(page, three_ages):
    page.goto(f"/?lat={TEMPLE[0]:.5f}&lon={TEMPLE[1]:.5f}&z=17")
    wait_for_map(page)
    item = page.locator(f"#results-list > li[data-id='{three_ages['open']}']")
    button = item.get_by_role("button", name="Voir sur la carte")
    button.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement?.closest('.leaflet-popup') !== null")
    assert page.evaluate("() => document.activeElement.getAttribute('href')") == f"/c/{three_ages['open']}"
    # Escape closes it; the focus goes back to the button it came from
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.activeElement?.classList.contains('show-on-map')")
    assert page.evaluate("() => document.activeElement.closest('li').dataset.id") == str(three_ages["open"])


def test_after_a_vote_the_focus_stays_on_the_vote_button(page, three_ages):
    sign_up(page)
    page.goto(f"/c/{three_ages['open']}")
    vote = page.locator(".vote").first
    vote.click()
    page.wait_for_function("() => document.querySelector('.vote').getAttribute('aria-pressed') === 'true'")
    page.wait_for_function("() => !document.querySelector('.vote').hasAttribute('aria-disabled')")
    assert page.evaluate("() => document.activeElement === document.querySelector('.vote')")
    assert page.locator("#votes-status").inner_text() == "Votre vote est enregistré."
    assert scalar("SELECT votes_up FROM contributions WHERE id = :id", id=three_ages["open"]) == 1


# ---- 4. axe-core ---------------------------------------------------------------------------

@pytest.mark.parametrize("size", [PHONE, {"width": 1280, "height": 800}], ids=["phone", "desktop"])
def test_map_page_passes_axe_at_street_zoom(open_context, size):
    context, _watch = open_context(**size)
    page = context.new_page()
    page.goto(f"/?lat={REPUBLIQUE[0]:.5f}&lon={REPUBLIQUE[1]:.5f}&z=17&status=all")
    wait_for_map(page)
    assert page.locator(".marker-cluster").count() > 0 and page.locator(".marker-point").count() > 0
    assert violations(page) == []
    page.locator("#legend summary").click()
    assert violations(page) == []
    page.locator("#legend summary").click()
    # a popup open: of the symbol nearest the map's centre (clear of the controls)
    nearest = page.evaluate("""() => {
        const m = document.querySelector('#map').getBoundingClientRect();
        const d = (e) => { const r = e.getBoundingClientRect();
          return Math.hypot(r.x + r.width / 2 - m.x - m.width / 2, r.y + r.height / 2 - m.y - m.height / 2); };
        return [...document.querySelectorAll('.marker-point')].sort((a, b) => d(a) - d(b))[0].dataset.id; }""")
    page.locator(f".marker-point[data-id='{nearest}']").click()
    page.locator(".leaflet-popup .popup-title a").wait_for()
    assert violations(page) == []
    if size["width"] < 400:
        for view in ("Liste", "Filtres"):
            page.get_by_role("button", name=view).tap()
            assert violations(page) == [], view


# ---- 5. drawing over clusters, then the new contribution shown ------------------------------

def cluster_centres(page) -> list[tuple[float, float]]:
    boxes = page.eval_on_selector_all(".marker-cluster", "els => els.map(e => {"
                                      " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })")
    m = box(page, "#map")
    # away from the controls at the edges
    return [(x, y) for x, y in boxes
            if m["x"] + 120 < x < m["x"] + m["width"] - 120 and m["y"] + 120 < y < m["y"] + m["height"] - 120]


def test_drawing_over_clusters_places_corners_then_the_list_shows_the_new_one(page):
    sign_up(page)
    page.goto(f"/?lat={REPUBLIQUE[0]:.5f}&lon={REPUBLIQUE[1]:.5f}&z=16&status=all")
    wait_for_map(page)
    page.get_by_role("button", name="Contribuer").click()
    f = page.locator("#create-form")
    f.get_by_text("Faire une proposition").click()
    f.get_by_text("Une zone").click()
    centres = cluster_centres(page)
    assert len(centres) >= 3, centres

    def area(a, b, c):
        return abs((b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1])) / 2

    corners = max(itertools.combinations(centres[:12], 3), key=lambda t: area(*t))
    assert area(*corners) > 2000  # a real triangle, tens of pixels a side
    zoom = url_params(page)["z"]
    for x, y in corners:
        # a cluster is right there under the pointer, and yet the click places a corner
        assert page.evaluate("([x, y]) => { const m = document.querySelector('#map');"
                             " return [...m.querySelectorAll('.marker-cluster')].some(e => {"
                             " const r = e.getBoundingClientRect();"
                             " return x >= r.left && x <= r.right && y >= r.top && y <= r.bottom; }); }", [x, y])
        page.mouse.click(x, y)
    assert page.locator(".marker-vertex").count() == 3
    assert url_params(page)["z"] == zoom  # no cluster zoomed the map
    page.screenshot(path=f"{SHOTS}/map-drawing-over-clusters.png")

    f.get_by_label("Catégorie", exact=True).select_option("vegetalisation")
    title = unique("Des arbres sur la place")
    f.get_by_label("Titre").fill(title)
    # the panel scrolled to the bottom of the form, as after filling it in
    page.locator("#panel").evaluate("p => { p.scrollTop = p.scrollHeight; }")
    before = loads(page)
    f.get_by_role("button", name="Publier").click()
    page.locator("#toast").get_by_text("Merci, votre proposition est publiée.").wait_for()
    wait_for_map(page, before)
    created = scalar("SELECT id FROM contributions WHERE title = :t", t=title)
    first = page.locator("#results-list > li").first
    first.and_(page.locator(".item-new")).wait_for()
    assert first.get_attribute("data-id") == str(created)
    assert page.locator(".item-new").count() == 1
    # in view inside the panel, and the focus on its link
    assert inside(first.bounding_box(), box(page, "#panel"))
    page.wait_for_function("() => document.activeElement?.closest('.item-new') !== null")
    assert page.evaluate("() => document.activeElement.getAttribute('href')") == f"/c/{created}"
    page.screenshot(path=f"{SHOTS}/map-after-publishing-desktop.png")


def test_after_publishing_on_a_phone_the_list_opens_on_the_new_report(open_context):
    context, _watch = open_context(**PHONE)
    page = context.new_page()
    sign_up(page)
    page.goto(f"/?lat={TEMPLE[0]:.5f}&lon={TEMPLE[1] - 0.0010:.5f}&z=18")
    wait_for_map(page)
    page.get_by_role("button", name="Contribuer").tap()
    f = page.locator("#create-form")
    f.get_by_role("button", name="Placer un point au centre de la carte").tap()
    f.get_by_label("Catégorie", exact=True).select_option("proprete")
    title = unique("Sacs déposés au pied de l'arbre")
    f.get_by_label("Titre").fill(title)
    before = loads(page)
    f.get_by_role("button", name="Publier").tap()
    page.locator("#toast").get_by_text("Merci, votre signalement est publié.").wait_for()
    wait_for_map(page, before)
    created = scalar("SELECT id FROM contributions WHERE title = :t", t=title)
    item = page.locator(f"#results-list > li[data-id='{created}']")
    item.and_(page.locator(".item-new")).wait_for()
    assert page.locator("#map-layout").get_attribute("data-view") == "list"
    assert page.locator("#results-list > li").first.get_attribute("data-id") == str(created)
    assert inside(item.bounding_box(), {"x": 0, "y": 0, "width": 360, "height": 740 - 56})
    page.wait_for_function("() => document.activeElement?.closest('.item-new') !== null")
    # and its symbol is marked on the map
    assert page.locator(f".marker-point.marker-new[data-id='{created}']").count() == 1
    page.screenshot(path=f"{SHOTS}/map-after-publishing-phone.png")
