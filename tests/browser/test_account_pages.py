"""The account pages in Chromium: enrol an authenticator app from the QR code page, sign in
again with a code, download my data, ask for and use a reset link, delete the account. Each
page is checked by axe-core (no serious or critical violation), on a desktop and a phone."""

from __future__ import annotations

import json
import re
import time

import pyotp
import pytest

from tests.browser.conftest import PASSWORD, scalar, sign_in, sign_up
from tests.browser.test_accessibility import violations

pytestmark = pytest.mark.browser


def sign_out(page):
    page.locator(".account-menu summary").click()
    page.get_by_role("button", name="Se déconnecter", exact=True).click()


def test_two_factor_enrolment_and_sign_in(page):
    email = sign_up(page, name="Prudence")
    page.goto("/account")
    assert "non confirmée" in page.locator(".facts").inner_text()
    assert violations(page) == []
    # the welcome e-mail's link: a page with a button, which confirms the address
    body = scalar("SELECT body FROM outbox WHERE recipient = :e ORDER BY id LIMIT 1", e=email)
    page.goto(re.search(r"http://[^/]+(/verify-email/[A-Za-z0-9_-]+)", body).group(1))
    assert violations(page) == []
    page.get_by_role("button", name="Confirmer mon adresse").click()
    assert page.locator(".form-notice").inner_text() == "Votre adresse e-mail est confirmée."
    page.goto("/account")
    assert "confirmée" in page.locator(".facts").inner_text() and "non confirmée" not in \
        page.locator(".facts").inner_text()
    page.get_by_role("link", name="Activer la connexion en deux étapes").click()
    page.wait_for_url(re.compile(r"/account/two-factor"))
    assert page.locator(".qr svg").is_visible()
    assert violations(page) == []
    page.screenshot(path="tests/artifacts/two-factor-enrolment.png", full_page=True)
    secret = page.locator(".qr figcaption code").inner_text()
    totp = pyotp.TOTP(secret)

    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Activer").click()
    assert page.get_by_text("Code erroné ou déjà utilisé.").is_visible()
    assert page.locator(".qr figcaption code").inner_text() == secret  # the same secret kept
    page.get_by_label("Code").fill(totp.now())
    page.get_by_role("button", name="Activer").click()
    codes = page.locator(".recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    assert violations(page) == []

    sign_out(page)
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(re.compile(r"/login/code"))
    assert violations(page) == []
    page.get_by_label("Code").fill(totp.at(time.time() + 30))  # the next step: not used yet
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(re.compile(r"/(\?.*)?$"))
    page.goto("/account")
    assert "activée (10 codes de secours restants)" in page.locator(".facts").inner_text()

    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger mes données").click()
    data = json.loads(download.value.path().read_text(encoding="utf-8"))
    assert data["account"]["email"] == email and data["account"]["two_factor_enabled_at"]
    assert len(data["sessions"]) == 2  # the first sign-in (signed out since) and this one


def test_forgotten_password_then_reset_link_then_delete(open_context):
    context, _ = open_context(width=360, height=740)
    page = context.new_page()
    email = sign_up(page, name="Oublieuse")
    sign_out(page)
    page.goto("/login")
    page.get_by_role("link", name="Mot de passe oublié ?").click()
    assert violations(page) == []
    page.get_by_label("E-mail").fill(email)
    page.get_by_role("button", name="M'envoyer un lien").click()
    assert page.locator(".form-notice").inner_text().startswith("Si un compte a cette adresse")
    body = scalar("SELECT body FROM outbox WHERE recipient = :e ORDER BY id DESC LIMIT 1", e=email)
    link = re.search(r"http://[^/]+(/reset-password/[A-Za-z0-9_-]+)", body).group(1)
    page.goto(link)
    assert violations(page) == []
    page.screenshot(path="tests/artifacts/reset-password-phone.png", full_page=True)
    page.get_by_label("Nouveau mot de passe").fill("un tout nouveau mot de passe")
    page.get_by_role("button", name="Changer mon mot de passe").click()
    page.wait_for_url(re.compile(r"/login"))
    assert page.locator(".form-notice").inner_text() == "Votre mot de passe est changé ; connectez-vous avec lui."
    sign_in(page, email, "un tout nouveau mot de passe")
    page.wait_for_url(re.compile(r"/(\?.*)?$"))

    page.goto("/account?lang=en")
    page.goto("/lang/en?next=/account")
    assert page.get_by_role("heading", name="Delete my account").is_visible()
    assert violations(page) == []
    page.screenshot(path="tests/artifacts/account-phone-en.png", full_page=True)
    page.locator("#f-password").fill("un tout nouveau mot de passe")
    page.get_by_role("button", name="Delete my account").click()
    page.wait_for_url(re.compile(r"/login"))
    assert "Your account is deleted" in page.locator(".form-notice").inner_text()
    assert scalar("SELECT count(*) FROM users WHERE email = :e", e=email) == 0
