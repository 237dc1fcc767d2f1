"""The contribution form on a phone (360 px): a category found by typing a word, the most used
first, agent-only sub-types for staff only; the field in error brought into view above the
sticky "Publish" bar; the address search's marker where it landed. Screenshots in
tests/artifacts/form-*.png."""

from __future__ import annotations

import re
import unicodedata

import pytest
import requests

from tests.browser.conftest import (
    SHOTS,
    scalar,
    sign_in,
    sign_up,
    two_factor_account,
    unique,
    wait_for_map,
)
from tests.browser.test_accessibility import AXE, violations

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740, "is_mobile": True, "has_touch": True}
LAWN = (48.85585, 2.29830)  # the Champ-de-Mars: few reports, the map centre is free


def fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)).lower()


def phone_page(open_context):
    context, watch = open_context(**PHONE)
    page = context.new_page()
    page.watch = watch
    return page


def open_form(page, z=18):
    page.goto(f"/?lat={LAWN[0]:.5f}&lon={LAWN[1]:.5f}&z={z}")
    wait_for_map(page)
    page.get_by_role("button", name="Contribuer").click()
    return page.locator("#create-form")


def violations_in(page, selector: str) -> list[str]:
    """axe-core's serious and critical violations inside one element (the open list)."""
    page.add_script_tag(url=AXE)
    return page.evaluate("""async (selector) => {
        const result = await axe.run(selector, {
          runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'RGAAv4', 'best-practice']},
          resultTypes: ['violations'],
        });
        return result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
          .map(v => `${v.impact} ${v.id}: ${v.help} -> ` + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
    }""", selector)


def option_texts(form) -> list[str]:
    return form.locator("#f-category-options [role=option]").all_inner_texts()


def test_a_resident_finds_a_category_by_typing_and_publishes(open_context, live_server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = phone_page(open_context)
    sign_up(page, name="Sacha")
    form = open_form(page)
    form.get_by_role("button", name="Placer un point au centre de la carte").click()
    search = form.locator("#f-category-search")
    assert search.get_attribute("role") == "combobox" and form.get_by_label("Find a category").count() + form.get_by_label("Trouver une catégorie").count() == 1

    # before typing: the most used, the most used of all first (counts from the API)
    tree = requests.get(f"{live_server}/api/v1/categories?kind=report", timeout=10).json()["categories"]
    offered = [c for top in tree for c in top["children"] if c["active"] and not c["agent_only"]]
    most_used = sorted(offered, key=lambda c: -c["recent_count"])[:8]
    search.focus()
    listbox = form.get_by_role("listbox")
    assert listbox.is_visible() and search.get_attribute("aria-expanded") == "true"
    labels = form.locator("#f-category-options .category-option-label").all_inner_texts()
    page.screenshot(path=str(SHOTS / "form-picker-most-used.png"))
    # the 8 highest counts, highest first (other tests' reports may tie some: any order among equals)
    count_of = {c["short_label"]["fr"]: c["recent_count"] for c in offered}
    assert [count_of[label] for label in labels] == [c["recent_count"] for c in most_used]
    assert most_used[0]["recent_count"] > most_used[-1]["recent_count"] > 0
    assert form.locator("#f-category-options-caption").inner_text() == "Most used" or \
        form.locator("#f-category-options-caption").inner_text() == "Les plus utilisées"

    # typing a word, accents aside, filters the whole tree; sub-categories show their parent
    search.fill("trottoir")
    page.wait_for_function("() => document.getElementById('f-category-search-status').textContent.length > 0")
    texts = option_texts(form)
    expected = [c for c in offered if "trottoir" in fold(c["description"]["fr"])]
    assert len(texts) == len(expected) >= 8
    assert all("trottoir" in fold(t) for t in texts)
    status = form.locator("#f-category-search-status")
    assert status.get_attribute("role") == "status" and status.inner_text().startswith(f"{len(expected)} ")
    assert form.locator("#f-category-options [role=option]").first.bounding_box()["height"] >= 44
    page.screenshot(path=str(SHOTS / "form-picker-trottoir.png"))
    assert violations_in(page, "#field-category-search") == []

    search.fill("eclairage eteint")  # "Éclairage public éteint la nuit"
    page.wait_for_function("() => document.querySelectorAll('#f-category-options [role=option]').length === 1")
    # keyboard: down arrow, then Enter picks it (and does not publish)
    search.press("ArrowDown")
    assert search.get_attribute("aria-activedescendant") == "category-option-0"
    search.press("Enter")
    assert form.locator("#f-category").input_value() == "eclairage"
    chosen = form.locator("#f-subcategory").input_value()
    assert chosen.startswith("eclairage.") and "eteint" in chosen
    assert listbox.is_hidden() and search.get_attribute("aria-expanded") == "false"
    assert form.locator("#f-title-error").inner_text() == ""  # nothing was sent

    # a tap on an option of the "trottoir" list
    search.fill("trottoir bordure")
    form.locator("#f-category-options [role=option]").first.wait_for()
    form.locator("#f-category-options [role=option]").first.tap()
    assert form.locator("#f-subcategory").input_value() == "voirie.trottoirs-bordure-caniveau-endommage"
    assert search.input_value() == "Bordure / caniveau endommagé (Voirie et espace public)"
    page.screenshot(path=str(SHOTS / "form-picker-chosen.png"))
    assert violations(page) == []

    title = unique("Bordure descellée")
    form.get_by_label("Titre").fill(title)
    form.get_by_role("button", name="Publier").click()
    page.locator("#toast").get_by_text("Merci").wait_for()
    code = scalar("SELECT k.code FROM contributions c JOIN categories k ON k.id = c.category_id "
                  "WHERE c.title = :t", t=title)
    assert code == "voirie.trottoirs-bordure-caniveau-endommage"


def test_the_picker_on_a_desktop(open_context):
    context, watch = open_context(width=1280, height=800)
    page = context.new_page()
    sign_up(page, name="Eden")
    form = open_form(page)
    search = form.locator("#f-category-search")
    search.fill("graffiti")
    form.locator("#f-category-options [role=option]").first.wait_for()
    # the category itself, then its sub-categories, the most used first
    assert form.locator("#f-category-options .category-option-label").first.inner_text() == (
        "Graffitis, tags, affiches et autocollants")
    assert form.locator("#f-category-options").bounding_box()["width"] >= 300
    page.screenshot(path=str(SHOTS / "form-picker-desktop.png"))
    assert violations_in(page, "#field-category-search") == []
    search.press("ArrowDown")
    search.press("ArrowDown")
    search.press("Enter")
    assert form.locator("#f-category").input_value() == "graffitis"
    assert form.locator("#f-subcategory").input_value().startswith("graffitis.")
    assert violations(page) == []


def test_agent_only_sub_types_are_offered_to_agents_only(app, open_context):
    resident = phone_page(open_context)
    sign_up(resident, name="Alix")
    form = open_form(resident)
    search = form.locator("#f-category-search")
    search.fill("affiches non decoupees")
    resident.wait_for_function("() => document.getElementById('f-category-search-status').textContent.length > 0")
    assert option_texts(form) == []
    assert form.locator("#f-category-options").is_hidden()
    search.fill("affiches")
    form.locator("#f-category-options [role=option]").first.wait_for()
    assert form.locator(".category-option-tag").count() == 0
    assert not [t for t in option_texts(form) if "réservé" in t.lower()]

    email, secret, _ = two_factor_account(app, "agent", "Agent Picker")
    agent = phone_page(open_context)
    sign_in(agent, email, totp_secret=secret)
    agent.wait_for_url(re.compile(r"/(agent|\?|$)"))
    form = open_form(agent)
    search = form.locator("#f-category-search")
    search.fill("affiches non decoupees")
    form.locator("#f-category-options [role=option]").first.wait_for()
    texts = option_texts(form)
    assert texts[0].startswith("Affiches non découpées à ramasser")
    # the staff-only mark replaces DansMaRue's "[réservé agents …]"
    tags = form.locator(".category-option-tag").all_inner_texts()
    assert tags and len(set(tags)) == 1
    assert not [t for t in texts if "[" in t]
    agent.screenshot(path=str(SHOTS / "form-picker-agent.png"))
    # in the selects too: 20 agent-only sub-types, none with its bracket
    form.get_by_label("Catégorie", exact=True).select_option("graffitis")
    subs = form.get_by_label("Plus précisément").locator("option").all_inner_texts()[1:]
    assert not [s for s in subs if "[" in s]
    staff_only = [s for s in subs if s.endswith(f"({tags[0]})")]
    assert len(staff_only) == scalar("SELECT count(*) FROM categories c JOIN categories t ON t.id = c.parent_id "
                                     "WHERE t.code = 'graffitis' AND c.agent_only") >= 15


def below_the_bar(page, box_selector: str) -> None:
    """The box is wholly in the viewport, above the sticky "Publish" bar."""
    box = page.locator(box_selector).bounding_box()
    bar = page.locator(".form-actions").bounding_box()
    viewport = page.viewport_size
    assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"]
    assert box["y"] + box["height"] <= bar["y"], (box, bar)


def test_the_field_in_error_is_shown_above_the_sticky_publish_bar(open_context):
    page = phone_page(open_context)
    page.watch.allow(r"status of 422")
    sign_up(page, name="Noa")
    form = open_form(page)

    # everything missing: the place is the first field in error, at the top of the form
    form.locator(".form-actions").scroll_into_view_if_needed()
    form.get_by_role("button", name="Publier").click()
    form.locator("#f-geometry-error").get_by_text("Indiquez un emplacement sur la carte.").wait_for()
    assert page.evaluate("() => document.activeElement.id") == "place-center"
    below_the_bar(page, "#f-geometry")

    # the place and category given, a title too short: the title, whatever the scroll was
    form.get_by_role("button", name="Placer un point au centre de la carte").click()
    # the similar reports nearby are in before publishing (they move the fields down)
    with page.expect_response(lambda r: "/api/v1/reports/nearby" in r.url):
        form.get_by_label("Catégorie", exact=True).select_option("voirie")
    page.wait_for_timeout(100)
    form.get_by_label("Titre").fill("ab")
    page.locator("#panel").evaluate("panel => { panel.scrollTop = panel.scrollHeight; }")
    form.get_by_role("button", name="Publier").click()
    form.locator("#f-title-error").get_by_text("Au moins 3 caractères.").wait_for()
    page.wait_for_function("() => document.activeElement.id === 'f-title'")
    below_the_bar(page, "#field-title")
    page.screenshot(path=str(SHOTS / "form-error-title.png"))
    below_the_bar(page, "#field-title")


def test_the_address_search_marks_where_it_landed(open_context, live_server):
    page = phone_page(open_context)
    page.goto("/")
    wait_for_map(page)
    box = page.get_by_role("combobox", name="Rechercher une adresse à Paris")
    box.fill("place de la republique")
    page.wait_for_selector("#search-results [role=option]")
    first = page.locator("#search-results [role=option]").first
    found = requests.get(f"{live_server}/api/v1/geocode", params={"q": "place de la republique", "limit": 6},
                         timeout=10).json()["features"][0]
    label = found["properties"]["label"]
    assert found["properties"]["type"] == "street" and label.startswith("Place de la République 750")
    assert first.get_attribute("data-type") == "street"
    assert first.inner_text().endswith(label)
    assert first.locator(".search-type").inner_text() in {"Street", "Voie"}
    page.screenshot(path=str(SHOTS / "form-search-results.png"))
    first.tap()

    marker = page.locator(".marker-found")
    marker.wait_for()
    assert page.locator(".search-found-tooltip").inner_text() == label
    # the view: the square's extent, its marker inside the map
    page.wait_for_function("() => /z=\\d+/.test(location.search)")
    params = dict(p.split("=") for p in page.url.split("?")[1].split("&"))
    w, s, e, n = found["bbox"]
    assert 16 <= int(params["z"]) <= 18
    assert w - 0.002 <= float(params["lon"]) <= e + 0.002 and s - 0.002 <= float(params["lat"]) <= n + 0.002
    m, map_box = marker.bounding_box(), page.locator("#map").bounding_box()
    assert map_box["x"] <= m["x"] and m["x"] + m["width"] <= map_box["x"] + map_box["width"]
    assert map_box["y"] <= m["y"] and m["y"] + m["height"] <= map_box["y"] + map_box["height"]
    page.screenshot(path=str(SHOTS / "form-search-marker.png"))
    assert violations(page) == []

    # the next search moves the marker: one at a time, at street zoom for an address
    box.fill("10 rue de rivoli")
    page.wait_for_selector("#search-results [role=option]:has-text('10 Rue de Rivoli')")
    box.press("Enter")
    page.locator(".search-found-tooltip").get_by_text("10 Rue de Rivoli 75004 Paris").wait_for()
    assert page.locator(".marker-found").count() == 1
    page.wait_for_function("() => location.search.includes('z=18')")
    # emptying the box takes it away
    box.fill("")
    page.wait_for_function("() => !document.querySelector('.marker-found')")
