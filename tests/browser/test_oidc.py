"""Sign-in with the city's OpenID Connect provider, through a real provider: oidc-provider-mock
(Authlib inside) on its own port, its discovery, keys, authorization page and token endpoint
used as Cartagora uses any provider. Nothing of the protocol is mocked."""

from __future__ import annotations

import re

import pytest
import requests
from oidc_provider_mock import run_server_in_thread

from app.accounts.oidc import init_oidc
from tests.browser.conftest import EMAIL_DOMAIN, PASSWORD, scalar, unique
from tests.browser.test_accessibility import violations

pytestmark = pytest.mark.browser


@pytest.fixture
def provider(app):
    """The provider running, and the app configured for it (as CARTAGORA_OIDC_* would)."""
    with run_server_in_thread() as server:
        issuer = f"http://127.0.0.1:{server.server_port}"
        saved = {k: app.config[k] for k in ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET")}
        app.config.update(OIDC_ISSUER=issuer, OIDC_CLIENT_ID="cartagora", OIDC_CLIENT_SECRET="s3cret-of-the-test")
        init_oidc(app)
        try:
            yield issuer
        finally:
            app.config.update(saved)
            app.extensions.pop("oidc", None)


def through_provider(context, watch, issuer):
    """Let the browser reach the provider; its page's stylesheet (a CDN) stays blocked."""
    context.route(re.compile(r"https://cdn\.jsdelivr\.net/.*"), lambda route: route.abort())
    context.route(re.compile(re.escape(issuer) + r"/.*"), lambda route: route.continue_())
    watch.allow(r"cdn\.jsdelivr\.net")


def test_sign_in_with_the_city_account_links_the_verified_address(open_context, live_server, provider):
    # a resident who already has a local account, with a verified address at the provider
    email = f"{unique('oidc').replace(' ', '-')}@{EMAIL_DOMAIN}"
    r = requests.post(f"{live_server}/api/v1/auth/register",
                      json={"email": email, "password": PASSWORD, "display_name": "Oscar"}, timeout=10)
    assert r.status_code == 202
    subject = f"paris-{email}"
    claims = {"email": email, "email_verified": True, "name": "Oscar Parisien"}
    assert requests.put(f"{provider}/users/{subject}", json=claims, timeout=10).status_code == 204

    context, watch = open_context()
    through_provider(context, watch, provider)
    page = context.new_page()
    page.goto("/login?next=/me/contributions")
    assert violations(page) == []  # the sign-in page with the city's button
    page.get_by_role("link", name="Se connecter avec compte Paris").click()
    page.wait_for_url(re.compile(re.escape(provider) + "/oauth2/authorize"))
    page.locator("input[name=sub]").fill(subject)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(re.compile(r"/me/contributions$"))
    page.screenshot(path="tests/artifacts/oidc-signed-in.png")
    assert page.get_by_role("heading", level=1).inner_text() == "Mes contributions"

    # one account: the local one, now linked and verified, its own name kept
    user_id = scalar("SELECT id FROM users WHERE email = :e", e=email)
    assert scalar("SELECT count(*) FROM users WHERE email = :e", e=email) == 1
    assert scalar("SELECT display_name FROM users WHERE id = :u", u=user_id) == "Oscar"
    assert scalar("SELECT email_verified_at IS NOT NULL FROM users WHERE id = :u", u=user_id) is True
    assert scalar("SELECT subject FROM user_identities WHERE user_id = :u AND issuer = :i",
                  u=user_id, i=provider) == subject

    page.goto("/account")
    assert "confirmée" in page.locator(".facts").inner_text()


def test_a_new_person_gets_an_account_without_a_password(open_context, provider):
    email = f"{unique('oidc-new').replace(' ', '-')}@{EMAIL_DOMAIN}"
    subject = f"new-{email}"
    requests.put(f"{provider}/users/{subject}",
                 json={"email": email, "email_verified": True, "given_name": "Inès"}, timeout=10)
    context, watch = open_context()
    through_provider(context, watch, provider)
    page = context.new_page()
    page.goto("/login")
    page.get_by_role("link", name="Se connecter avec compte Paris").click()
    page.locator("input[name=sub]").fill(subject)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(re.compile(r"/(\?.*)?$"))
    page.goto("/account")
    text = page.locator("main").inner_text()
    assert email in text and "Vous vous connectez avec le compte de la Ville" in text
    assert scalar("SELECT password_hash IS NULL FROM users WHERE email = :e", e=email) is True


def test_cancelling_at_the_provider_signs_nobody_in(open_context, provider):
    context, watch = open_context()
    through_provider(context, watch, provider)
    watch.allow(r"403")  # the sign-in page answers 403 with the reason
    page = context.new_page()
    page.goto("/login")
    page.get_by_role("link", name="Se connecter avec compte Paris").click()
    page.get_by_role("button", name="Deny").click()
    page.wait_for_url(re.compile(r"/login/oidc/callback"))
    assert "a échoué ou a été annulée" in page.get_by_role("alert").inner_text()
    assert page.get_by_role("link", name="Se connecter", exact=True).is_visible()
