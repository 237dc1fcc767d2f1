"""A resident signs a petition from a phone (360 px), after confirming their address; the
petitions' pages pass axe-core in French and English, on a phone and on a desktop."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
import requests
from sqlalchemy import text

from app.db import db
from tests.browser.conftest import (
    ARTIFACTS,
    EMAIL_DOMAIN,
    PASSWORD,
    scalar,
    sign_in,
    sign_up,
    two_factor_account,
    unique,
)
from tests.browser.test_accessibility import violations

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", autouse=True)
def forget_petitions(live_server):
    """The petitions of this module's accounts go before the accounts do (live_server's
    cleanup deletes the accounts of @browser.test, which a petition refers to)."""
    yield
    users = f"SELECT id FROM users WHERE email LIKE '%@{EMAIL_DOMAIN}'"
    with db.engine.begin() as conn:
        conn.execute(text(f"DELETE FROM outbox WHERE recipient IN (SELECT email FROM users WHERE id IN ({users}))"))
        conn.execute(text(f"DELETE FROM petitions WHERE author_id IN ({users})"))
        conn.execute(text(f"DELETE FROM petition_signatures WHERE user_id IN ({users})"))


def confirm_address(email: str) -> None:
    """What opening the link of the welcome e-mail does."""
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE users SET email_verified_at = now() WHERE email = :e"), {"e": email})


def bearer(live_server, email: str, secret: str | None = None) -> dict:
    credentials = {"email": email, "password": PASSWORD}
    if secret:  # a code not used yet (the account's enrolment used the current one)
        credentials["totp_code"] = pyotp.TOTP(secret).at(time.time() + 30)
    r = requests.post(f"{live_server}/api/v1/auth/token", json=credentials, timeout=10)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture(scope="module")
def moderator(app):
    email, secret, _ = two_factor_account(app, "moderator", "Modératrice")
    return email, secret


@pytest.fixture(scope="module")
def moderator_headers(live_server, moderator):
    return bearer(live_server, *moderator)


def open_petition(live_server, moderator_headers, title: str, admit: bool = True, **extra) -> int:
    """A petition by a new verified author, submitted and (unless `admit` is false) found
    admissible."""
    email = f"{unique('author').replace(' ', '-')}@{EMAIL_DOMAIN}"
    r = requests.post(f"{live_server}/api/v1/auth/register", timeout=10,
                      json={"email": email, "password": PASSWORD, "display_name": "Autrice"})
    assert r.status_code == 202, r.text
    confirm_address(email)
    author = bearer(live_server, email)
    r = requests.post(f"{live_server}/api/v1/petitions", headers=author, timeout=10, json={
        "title": title, "addressee": "La maire de Paris", "arrondissement": 11,
        "body": "Nous demandons que la rue de la Roquette soit plantée d'arbres.\nMerci.", **extra})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert requests.post(f"{live_server}/api/v1/petitions/{pid}/submit", headers=author, timeout=10).ok
    if not admit:
        return pid
    r = requests.post(f"{live_server}/api/v1/petitions/{pid}/moderation", headers=moderator_headers,
                      json={"decision": "admissible"}, timeout=10)
    assert r.status_code == 200, r.text
    return pid


def test_a_resident_signs_a_petition_from_a_phone(open_context, live_server, moderator_headers):
    title = unique("Des arbres rue de la Roquette")
    pid = open_petition(live_server, moderator_headers, title)
    context, _ = open_context(width=360, height=740, is_mobile=True, has_touch=True)
    page = context.new_page()
    email = sign_up(page, name="Camille")

    # from the list to the petition
    page.goto("/petitions")
    page.locator(f"#petition-{pid} h2 a").tap()
    page.wait_for_url(re.compile(rf"/petitions/{pid}$"))
    assert page.locator("h1").inner_text() == title
    # not confirmed yet: told why it cannot sign, and no form
    assert page.locator("#unverified").is_visible() and page.locator("#sign-form").count() == 0
    confirm_address(email)
    page.reload()

    progress = page.locator(".petition-side progress")
    assert progress.get_attribute("value") == "0" and progress.get_attribute("max") == "1000"
    page.locator("#f-public-name").tap()
    page.locator("#f-sign-arrondissement").select_option("11")
    with page.expect_navigation():  # a form posted, then redirected back here
        page.locator("#sign-form button[type=submit]").tap()
    assert page.locator(".form-notice[role=status]").is_visible()
    assert page.locator("#signed").is_visible()
    assert page.locator(".petition-side progress").get_attribute("value") == "1"
    assert page.locator(".petition-side .petition-count").get_attribute("data-count") == "1"
    assert "Camille" in page.locator(".signer-names").inner_text()
    # one account, one signature: the form now updates it
    assert page.locator("#f-public-name").is_checked()
    assert page.locator("#f-sign-arrondissement").input_value() == "11"
    with page.expect_navigation():  # a form posted, then redirected back here
        page.locator("#sign-form button[type=submit]").tap()
    assert scalar("SELECT signatures_count FROM petitions WHERE id = :p", p=pid) == 1
    # the public sees the count, not who declared which arrondissement (one signer: hidden)
    public = requests.get(f"{live_server}/api/v1/petitions/{pid}/signatures", timeout=10).json()
    assert {c["count"] for c in public["by_arrondissement"]} == {None}
    assert [n["name"] for n in public["names"]] == ["Camille"]
    # nothing wider than the phone
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    assert violations(page) == []
    page.screenshot(path=str(ARTIFACTS / "petition-signed-phone.png"), full_page=True)

    # withdrawing, on the phone too
    with page.expect_navigation():  # a form posted, then redirected back here
        page.locator("#unsign-form button").tap()
    assert page.locator("#signed").count() == 0
    assert scalar("SELECT signatures_count FROM petitions WHERE id = :p", p=pid) == 0


def test_the_petition_pages_have_no_serious_violation(app, open_context, live_server, moderator_headers):
    pid = open_petition(live_server, moderator_headers, unique("Une fontaine place des Fêtes"),
                        arrondissement=19)
    context, _ = open_context()
    page = context.new_page()
    page.goto("/petitions")
    assert page.locator(f"#petition-{pid}").is_visible()
    assert violations(page) == []
    page.goto(f"/petitions/{pid}")
    assert page.locator("progress").count() == 1
    assert violations(page) == []

    # in English on a phone, signed out
    context, _ = open_context(width=360, height=740, is_mobile=True, has_touch=True)
    phone = context.new_page()
    phone.goto(f"/petitions/{pid}?lang=en")
    assert phone.locator("html").get_attribute("lang") == "en"
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= 360
    assert violations(phone) == []
    phone.goto("/petitions?lang=en")
    assert violations(phone) == []

    # the drafting form, with its errors shown
    sign_up(page, name="Dominique")
    page.goto("/petitions/new")
    assert page.locator("#unverified").is_visible()  # not confirmed yet
    assert violations(page) == []
    confirm_address(scalar(f"SELECT email FROM users WHERE display_name = 'Dominique' "
                           f"AND email LIKE '%@{EMAIL_DOMAIN}' ORDER BY id DESC LIMIT 1"))
    page.reload()
    page.locator("#f-title").fill("Trop court")
    page.locator("#petition-form button[value=save]").click()
    page.wait_for_url(re.compile(r"/petitions/new$"))
    assert page.locator("#f-title[aria-invalid=true]").count() == 0  # 10 characters: long enough
    assert page.locator("#f-body[aria-invalid=true]").count() == 1
    assert violations(page) == []

    # the moderators' queue, on a desktop (another moderator: each code is accepted once)
    waiting = open_petition(live_server, moderator_headers, unique("Une pétition à modérer"), admit=False)
    email, secret, _ = two_factor_account(app, "moderator", "Second modérateur")
    context, _ = open_context(width=1280, height=900)
    mod = context.new_page()
    sign_in(mod, email, next_path="/moderation/petitions", totp_secret=secret)
    mod.wait_for_url(re.compile(r"/moderation/petitions$"))
    assert mod.locator(f"#petition-{waiting}").is_visible()
    assert violations(mod) == []
    mod.locator(f"#petition-{waiting} button[value=admissible]").click()
    mod.wait_for_url(re.compile(r"/moderation/petitions$"))
    assert mod.locator(f"#petition-{waiting}").count() == 0
    assert scalar("SELECT status FROM petitions WHERE id = :p", p=waiting) == "open"
