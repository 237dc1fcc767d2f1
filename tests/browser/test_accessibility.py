"""axe-core (from npm, served by the app itself) on the map, the form and a contribution page:
no serious or critical violation, in both languages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.browser.conftest import PASSWORD, sign_up, unique, wait_for_map

pytestmark = pytest.mark.browser

AXE = "/static/vendor/axe-core/axe.min.js"


def violations(page) -> list[str]:
    page.add_script_tag(url=AXE)
    found = page.evaluate("""async () => {
        const result = await axe.run(document, {
          runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'RGAAv4', 'best-practice']},
          resultTypes: ['violations'],
        });
        return result.violations
          .filter(v => v.impact === 'serious' || v.impact === 'critical')
          .map(v => `${v.impact} ${v.id}: ${v.help} -> ` + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
    }""")
    return found


def test_map_page_has_no_serious_violation(page):
    page.goto("/?lat=48.85660&lon=2.35220&z=17")
    wait_for_map(page)
    page.locator("#legend summary").click()
    assert violations(page) == []


def test_map_page_on_a_phone_in_english(open_context):
    context, _watch = open_context(width=360, height=640, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto("/?lang=en")
    wait_for_map(page)
    page.get_by_role("button", name="List").tap()
    assert violations(page) == []


def test_form_has_no_serious_violation(page, api_user, live_server):
    neighbour = api_user()
    spot = (48.86111, 2.33583)
    r = neighbour.post(f"{live_server}/api/v1/reports", json={
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [spot[1], spot[0]]},
        "properties": {"title": unique("Trottoir défoncé"), "category": "voirie"}})
    assert r.status_code == 201, r.text
    page.watch.allow(r"status of 422")
    sign_up(page)
    page.goto(f"/?lat={spot[0]:.5f}&lon={spot[1]:.5f}&z=18")
    wait_for_map(page)
    page.get_by_role("button", name="Contribuer").click()
    form = page.locator("#create-form")
    form.get_by_role("button", name="Placer un point au centre de la carte").click()
    form.get_by_label("Catégorie", exact=True).select_option("voirie")
    form.locator("#duplicates li").first.wait_for()
    form.get_by_role("button", name="Publier").click()  # no title: errors shown in the form
    form.locator("#f-title-error").get_by_text("Ce champ est obligatoire.").wait_for()
    assert violations(page) == []


def test_contribution_and_account_pages_have_no_serious_violation(page, api_user, live_server):
    author = api_user("Léa")
    r = author.post(f"{live_server}/api/v1/proposals", json={
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[2.3470, 48.8590], [2.3490, 48.8600]]},
        "properties": {"title": unique("Une piste cyclable"), "category": "mobilite",
                       "description": "Le long du quai."}})
    assert r.status_code == 201, r.text
    proposal = r.json()["id"]
    author.post(f"{live_server}/api/v1/proposals/{proposal}/comments", json={"body": "Bonne idée !"})
    page.goto(f"/c/{proposal}")
    assert page.locator(".comment").count() == 1
    assert violations(page) == []
    # the sign-up leads to the sign-in page and its notice (the same whether or not the
    # address had an account)
    page.goto("/signup?next=/me/contributions")
    page.get_by_label("Nom public").fill("Axe")
    page.get_by_label("E-mail").fill(f"{unique('axe').replace(' ', '-')}@example.org")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Créer mon compte").click()
    page.wait_for_url(re.compile(r"/login"))
    assert page.get_by_role("status").filter(has_text="elle en a un maintenant").count() == 1
    assert violations(page) == []
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(re.compile(r"/me/contributions"))
    page.locator(".account-menu summary").click()  # the menu open: both ways to sign out
    assert page.get_by_role("button", name="Se déconnecter partout").is_visible()
    assert violations(page) == []
    page.goto(f"/c/{proposal}?lang=en")
    assert violations(page) == []
    page.goto("/me/contributions")
    assert violations(page) == []
    page.goto("/login")
    assert violations(page) == []
    page.goto("/signup")
    assert violations(page) == []


def test_api_docs_render_every_operation_without_serious_violation(page, live_server):
    """/api/v1/docs: Swagger UI from static/vendor renders the generated document (no CDN: the
    page's watcher fails on any blocked or failed request)."""
    import requests

    doc = requests.get(f"{live_server}/api/v1/openapi.json", timeout=30).json()
    count = sum(len(item) for item in doc["paths"].values())
    page.goto("/api/v1/docs")
    page.locator(".opblock").first.wait_for()
    # from 150 tags and operations on, Swagger UI renders only those near the viewport
    # (`operations-virtual`): scroll through the page and collect every one it draws
    seen: set[str] = set()
    for _ in range(400):
        seen.update(page.eval_on_selector_all(".opblock", "els => els.map(e => e.id)"))
        at_bottom = page.evaluate("window.scrollY + window.innerHeight >= document.body.scrollHeight - 2")
        if at_bottom and len(seen) >= count:
            break
        page.mouse.wheel(0, 600)
        page.wait_for_timeout(30)
    assert len(seen) == count
    page.evaluate("window.scrollTo(0, 0)")
    assert violations(page) == []
    # one operation opened: its parameters, body and answers
    page.locator(".opblock-post .opblock-summary-control").first.click()
    page.locator(".opblock-body .responses-wrapper").first.wait_for()
    page.screenshot(path="tests/artifacts/api-docs.png", full_page=False)
    found = violations(page)
    print("\n".join(found))
    assert found == []


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_ogc_api_pages_have_no_serious_violation(page, lang):
    """The OGC API – Features resources as pages (`f=html`), for people browsing the open data."""
    report = None
    for path in ("/ogc", "/ogc/conformance", "/ogc/collections", "/ogc/collections/reports",
                 "/ogc/collections/reports/queryables", "/ogc/collections/reports/items?limit=20",
                 "/ogc/collections/quartiers/items?limit=10"):
        page.goto(f"{path}{'&' if '?' in path else '?'}f=html&lang={lang}")
        assert violations(page) == [], path
        if path.startswith("/ogc/collections/reports/items"):
            report = page.locator("table a[href^='/ogc/collections/reports/items/']").first.get_attribute("href")
    assert report
    page.goto(f"{report.split('?')[0]}?f=html&lang={lang}")
    assert violations(page) == [], report


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_accessibility_statement_is_one_click_from_every_page(page, lang):
    """The law asks for the conformity status on every page and a statement page: from a
    page's footer (the map's panel on the map) to the statement, which passes axe itself."""
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"/lang/{lang}?next=/petitions")  # the language chosen, as its switch does
    status = {"fr": "Accessibilité : partiellement conforme", "en": "Accessibility: partially conformant"}[lang]
    page.locator("footer.site-footer").get_by_role("link", name=status).click()
    page.wait_for_url(re.compile(r"/accessibilite"))
    heading = {"fr": "Déclaration d'accessibilité", "en": "Accessibility statement"}[lang]
    assert page.get_by_role("heading", level=1).inner_text() == heading
    assert page.get_by_text("RGAA").count() >= 1
    axe = json.loads((Path(__file__).parents[2] / "package.json").read_text())["dependencies"]["axe-core"]
    assert axe == page.evaluate("() => fetch('/static/vendor/axe-core/axe.min.js').then(r => r.text())"
                                ".then(t => t.match(/axe v([0-9.]+)/)[1])")  # the statement names what ran
    assert f"axe-core {axe}" in page.locator("main").inner_text()
    assert violations(page) == []
    page.goto("/")
    assert page.locator("footer.site-footer").count() == 0  # the map fills the window
    assert page.locator(".panel-footer a").inner_text() == status  # in the list's panel
