"""A resident on a phone (360×740): "still there" on their resolved report, following a
neighbour's report, voting without losing the focus; axe-core on the contribution page and the
sign-in page, in French and in English."""

from __future__ import annotations

import re

import pytest
import requests
from sqlalchemy import text

from tests.browser.conftest import EMAIL_DOMAIN, PASSWORD, SHOTS, scalar, sign_in, unique
from tests.browser.test_accessibility import violations

pytestmark = pytest.mark.browser

NOTRE_DAME = (2.3499, 48.8530)
PHONE = {"width": 360, "height": 740, "is_mobile": True, "has_touch": True}


def fr(app, msgid: str) -> str:
    """The French the pages show for `msgid` (the catalogue's; English until translated)."""
    from flask_babel import force_locale, gettext

    with app.test_request_context(), force_locale("fr"):
        return gettext(msgid)


def account(app, live_server, name: str, roles: tuple[str, ...] = ()) -> tuple[str, requests.Session]:
    """A committed account (e-mail @browser.test: deleted after the browser tests) and a
    bearer-token session on the live server's API."""
    from app.accounts.services import create_user
    from app.db import db

    email = f"{unique(name.lower()).replace(' ', '-')}@{EMAIL_DOMAIN}"
    with app.app_context():
        create_user(db.session, email, PASSWORD, name, list(roles or ("resident",)))
        db.session.commit()
    r = requests.post(f"{live_server}/api/v1/auth/token", json={"email": email, "password": PASSWORD},
                      timeout=10)
    assert r.status_code == 201, r.text
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return email, api


@pytest.fixture
def accounts(app, live_server):
    return lambda name, roles=(): account(app, live_server, name, roles)


def report(live_server, api, title: str) -> int:
    r = api.post(f"{live_server}/api/v1/reports", json={
        "type": "Feature", "geometry": {"type": "Point", "coordinates": list(NOTRE_DAME)},
        "properties": {"title": title, "category": "graffitis"}}, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def focused(page) -> str:
    return page.evaluate("() => document.activeElement.id || document.activeElement.className "
                         "|| document.activeElement.tagName")


def test_resident_says_still_there_follows_and_votes_on_a_phone(app, open_context, accounts, live_server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    email, resident = accounts("Riveraine")
    _, neighbour = accounts("Voisin")
    _, supervisor = accounts("Service", ("supervisor",))
    mine = report(live_server, resident, unique("Tags sur la porte"))
    r = supervisor.post(f"{live_server}/api/v1/reports/{mine}/transitions",
                        json={"to": "resolved", "resolution": "fixed", "public_note": "Nettoyé."}, timeout=10)
    assert r.status_code == 201, r.text
    theirs = report(live_server, neighbour, unique("Tag sur le banc"))

    context, _watch = open_context(**PHONE)
    page = context.new_page()
    page.goto("/login")
    page.screenshot(path=str(SHOTS / "resident-login.png"), full_page=True)
    forgot = page.get_by_role("link", name="Mot de passe oublié ?")
    assert forgot.get_attribute("href") == "/forgot-password"
    sign_in(page, email, next_path=f"/c/{mine}")
    page.wait_for_url(f"**/c/{mine}")

    # my resolved report asks me whether it is fixed, near the top of the page
    box = page.locator("#feedback")
    assert box.get_by_role("heading", name=fr(app, "Is the problem fixed?")).is_visible()
    still = box.get_by_role("button", name=fr(app, "Still there"), exact=True)
    assert still.is_visible() and box.get_by_role("button", name=fr(app, "Fixed"), exact=True).is_visible()
    assert still.bounding_box()["height"] >= 44
    page.screenshot(path=str(SHOTS / "resident-feedback.png"), full_page=True)
    with page.expect_navigation():
        still.tap()
    result = page.locator("#feedback-result")
    assert result.inner_text() == fr(app, "Thank you: the report is reopened and goes back to the city's services.")
    assert result.is_visible() and result.get_attribute("role") == "status"
    assert page.locator(".contribution-head .status").inner_text() == "Pris en compte"
    assert box.get_by_role("button").count() == 0
    last = page.locator("#history li").last.inner_text()
    assert fr(app, "Still there") in last and "still_there" not in page.content()
    assert scalar("SELECT status FROM contributions WHERE id = :id", id=mine) == "acknowledged"
    page.screenshot(path=str(SHOTS / "resident-feedback-done.png"), full_page=True)
    assert violations(page) == []

    # a step of the demo history: its badge on a line of its own, apart from the status
    from app.db import db

    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO status_events (contribution_id, created_at, from_status, to_status, "
                          "is_demo) VALUES (:c, now(), 'acknowledged', 'acknowledged', true)"), {"c": mine})
    page.reload()
    last = page.locator("#history li").last
    badge = last.locator(".badge-demo")
    assert badge.inner_text() == fr(app, "Demo data")
    assert badge.bounding_box()["y"] > last.locator("time").bounding_box()["y"] + 10  # its own line
    last.screenshot(path=str(SHOTS / "resident-demo-history.png"))

    # a neighbour's report: follow it, its button says so; vote, the focus stays on the button
    page.goto(f"/c/{theirs}")
    follow = page.locator("#follow-button")
    assert follow.inner_text().strip() == "Suivre" and follow.get_attribute("aria-pressed") == "false"
    assert page.locator("#followers-count").inner_text() == "0"
    follow.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('follow-button').ariaPressed === 'true'")
    assert follow.inner_text().strip() == fr(app, "Following ✓ (unfollow)")
    assert page.get_by_role("button", name=fr(app, "Following ✓ (unfollow)")).count() == 1
    assert page.locator("#followers-count").inner_text() == "1"
    status = page.locator("#follow-status")
    assert status.inner_text() == "Vous suivez cette contribution." and status.is_visible()
    assert focused(page) == "follow-button"

    me_too = page.locator(".vote").first
    me_too.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('.vote').getAttribute('aria-pressed') === 'true'")
    page.wait_for_function("() => !document.querySelector('.vote').hasAttribute('aria-disabled')")
    assert page.evaluate("() => document.activeElement === document.querySelector('.vote')")
    assert page.locator("#votes-status").inner_text() == "Votre vote est enregistré."
    page.keyboard.press("Enter")  # still there: Enter again withdraws it
    page.wait_for_function("() => document.querySelector('.vote').getAttribute('aria-pressed') === 'false'")
    assert page.evaluate("() => document.activeElement === document.querySelector('.vote')")
    me_too.tap()
    page.wait_for_function("() => document.querySelector('.vote').getAttribute('aria-pressed') === 'true'")
    assert page.evaluate("() => document.activeElement !== document.body")

    # share: the system's sheet where there is one, else the copy button alone
    has_share = page.evaluate("() => typeof navigator.share === 'function'")
    assert page.locator("#share-native").is_visible() == has_share
    assert page.locator("#share-copy").is_visible()

    page.locator("#follow-button").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "resident-followed.png"), full_page=True)
    assert violations(page) == []

    follow.tap()  # unfollow
    page.wait_for_function("() => document.getElementById('follow-button').ariaPressed === 'false'")
    assert follow.inner_text().strip() == "Suivre"
    assert status.inner_text() == "Vous ne suivez plus cette contribution."
    assert page.locator("#followers-count").inner_text() == "0"

    # the same page in English
    page.goto(f"/c/{theirs}?lang=en")
    assert page.locator("#follow-button").inner_text().strip() == "Follow"
    assert page.locator(".followers").inner_text() == "Followers: 0"
    assert violations(page) == []


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_sign_in_page_has_no_serious_violation_and_a_way_to_a_new_password(open_context, lang):
    context, _watch = open_context(**PHONE)
    page = context.new_page()
    page.goto(f"/login?lang={lang}")
    name = "Mot de passe oublié ?" if lang == "fr" else "Forgotten password?"
    page.get_by_role("link", name=name).tap()
    page.wait_for_url(re.compile(r"/forgot-password"))
    assert page.locator("#f-email").is_visible()
    page.go_back()
    if lang == "en":
        page.screenshot(path=str(SHOTS / "resident-login-en.png"), full_page=True)
    assert violations(page) == []
