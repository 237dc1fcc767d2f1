""""My contributions" on a phone: the four tabs with their counts, editing and withdrawing
from the page, axe-clean."""

from __future__ import annotations

import re

import pytest
import requests

from tests.browser.conftest import PASSWORD, scalar, sign_up, unique
from tests.browser.test_accessibility import violations

pytestmark = pytest.mark.browser


def test_tabs_edit_and_withdraw_on_a_phone(open_context, api_user, live_server):
    context, _ = open_context(width=360, height=740, is_mobile=True, has_touch=True)
    page = context.new_page()
    email = sign_up(page, name="Inès")
    me = requests.Session()
    token = requests.post(f"{live_server}/api/v1/auth/token", json={"email": email, "password": PASSWORD},
                          timeout=10).json()["access_token"]
    me.headers["Authorization"] = f"Bearer {token}"
    neighbour = api_user()

    def post(api, title, lon):
        r = api.post(f"{live_server}/api/v1/reports", json={
            "type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, 48.8530]},
            "properties": {"title": title, "category": "graffitis"}}, timeout=10)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    mine = post(me, unique("Tags rue du Cloître"), 2.3502)
    theirs = post(neighbour, unique("Banc cassé"), 2.3507)
    assert me.put(f"{live_server}/api/v1/reports/{theirs}/vote", json={"value": 1}, timeout=10).ok
    assert me.post(f"{live_server}/api/v1/reports/{theirs}/comments", json={"body": "Vu aussi."}, timeout=10).ok
    assert me.put(f"{live_server}/api/v1/reports/{theirs}/follow", timeout=10).ok

    page.goto("/me/contributions")
    # the header in one row on a phone: the services scroll, the account menu stays in view
    assert page.locator(".site-header").bounding_box()["height"] <= 44 + 16
    account = page.locator(".account-menu summary").bounding_box()
    assert account["x"] + account["width"] <= 360 and page.evaluate("() => document.documentElement.scrollWidth") <= 360
    tabs = page.get_by_role("navigation", name="Mes contributions")
    assert [t.strip() for t in tabs.get_by_role("link").all_inner_texts()] == [
        "Publiées (1)", "Soutenues (1)", "Commentées (1)", "Suivies (1)"]
    assert tabs.get_by_role("link", name="Publiées").get_attribute("aria-current") == "page"
    assert violations(page) == []
    page.screenshot(path="tests/artifacts/my-contributions-360.png", full_page=True)

    tabs.get_by_role("link", name="Soutenues").click()
    page.wait_for_url(re.compile(r"tab=supported"))
    cards = page.locator("ol.cards h3")
    assert cards.count() == 1 and "Banc cassé" in cards.first.inner_text()
    assert page.get_by_role("link", name=re.compile("^Modifier")).count() == 0  # not mine

    tabs.get_by_role("link", name="Publiées").click()
    page.get_by_role("link", name=re.compile("^Modifier")).click()
    page.get_by_label("Titre").fill("Tags effacés à moitié")
    page.get_by_role("button", name="Publier les modifications").click()
    page.wait_for_url(re.compile(rf"/c/{mine}$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Tags effacés à moitié"
    assert page.get_by_role("status").first.inner_text() == "Vos modifications sont publiées."
    assert scalar("SELECT title FROM contributions WHERE id = :i", i=mine) == "Tags effacés à moitié"

    page.get_by_role("link", name="Retirer", exact=True).click()
    assert violations(page) == []
    page.get_by_role("button", name="La retirer").click()
    page.wait_for_url(re.compile(r"/me/contributions$"))
    assert "est retiré" in page.get_by_role("status").first.inner_text()
    assert scalar("SELECT withdrawn_at IS NOT NULL FROM contributions WHERE id = :i", i=mine)
    assert page.get_by_role("navigation", name="Mes contributions").get_by_role("link").first.inner_text().strip() \
        == "Publiées (0)"
