"""A resident flags a contribution in Chromium; a moderator (two-factor sign-in) reviews the
queue on a desktop, restores an item hidden by three flags, and reads the audit log."""

from __future__ import annotations

import re

import pyotp
import pytest
import requests

from app.db import db
from tests.browser.conftest import EMAIL_DOMAIN, PASSWORD, scalar, sign_in, sign_up, unique
from tests.browser.test_accessibility import violations

pytestmark = pytest.mark.browser
NOTRE_DAME = (2.3499, 48.8530)


@pytest.fixture
def moderator(app):
    """A moderator with two-factor sign-in on (required for the role): (e-mail, TOTP secret)."""
    from app.accounts import two_factor
    from app.accounts.services import create_user

    email = f"{unique('moderator').replace(' ', '-')}@{EMAIL_DOMAIN}"
    with app.app_context():
        user = create_user(db.session, email, PASSWORD, "Modératrice", ["moderator"])
        secret, _ = two_factor.begin(db.session, user)
        two_factor.confirm(db.session, user, pyotp.TOTP(secret).now())
        db.session.commit()
    return email, secret


def report(api, title):
    r = api.post(f"{api.base}/api/v1/reports", json={
        "type": "Feature", "geometry": {"type": "Point", "coordinates": list(NOTRE_DAME)},
        "properties": {"title": title, "category": "graffitis"}}, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_a_moderator_reviews_the_queue_on_a_desktop(open_context, api_user, live_server, moderator):
    author = api_user("Auteur")
    hidden_title, flagged_title = unique("Annonce commerciale"), unique("Tag injurieux")
    hidden_id, flagged_id = report(author, hidden_title), report(author, flagged_title)
    for n in range(3):
        flagger = api_user(f"Voisin {n}")
        r = flagger.post(f"{live_server}/api/v1/flags", json={
            "subject_type": "contribution", "subject_id": hidden_id, "reason": "spam"}, timeout=10)
        assert r.status_code == 201, r.text
    assert requests.get(f"{live_server}/api/v1/reports/{hidden_id}", timeout=10).status_code == 404

    # a resident flags the other one through the page
    context, _ = open_context()
    page = context.new_page()
    sign_up(page, name="Riveraine")
    page.goto(f"/c/{flagged_id}")
    page.get_by_role("link", name="Signaler un problème avec cette contribution").click()
    assert violations(page) == []
    page.get_by_role("radio", name="Autre").check()
    page.get_by_role("button", name="Envoyer le signalement").click()
    assert page.locator(".field-error").filter(has_text="Ce champ est obligatoire.").is_visible()
    page.get_by_role("radio", name="Injurieux ou haineux").check()
    page.get_by_role("button", name="Envoyer le signalement").click()
    page.wait_for_url(re.compile(rf"/c/{flagged_id}$"))
    assert page.locator(".form-notice").inner_text() == "Merci : la modération va l'examiner."

    # the moderator: password, then the code
    email, secret = moderator
    context, _ = open_context(width=1440, height=900)
    page = context.new_page()
    sign_in(page, email, next_path="/moderation", totp_secret=secret)
    page.wait_for_url(re.compile(r"/moderation$"))
    assert page.get_by_role("link", name="Modération").is_visible()
    hidden = page.locator(f"#item-contribution-{hidden_id}")
    assert "masqué" in hidden.inner_text() and "3 signalements ouverts" in hidden.inner_text()
    assert "Spam ou publicité × 3" in hidden.inner_text()
    flagged = page.locator(f"#item-contribution-{flagged_id}")
    assert "1 signalement ouvert" in flagged.inner_text()
    assert violations(page) == []
    page.screenshot(path="tests/artifacts/moderation-queue-desktop.png", full_page=True)

    page.locator(f"#reason-contribution-{hidden_id}").fill("Vérifié : signalement utile")
    hidden.get_by_role("button", name="Rétablir").click()
    page.wait_for_url(re.compile(r"/moderation"))
    assert page.locator(".form-notice").inner_text() == "Décision enregistrée ; l'auteur est prévenu."
    assert page.locator(f"#item-contribution-{hidden_id}").count() == 0  # reviewed: off the queue
    assert requests.get(f"{live_server}/api/v1/reports/{hidden_id}", timeout=10).status_code == 200

    flagged = page.locator(f"#item-contribution-{flagged_id}")
    flagged.get_by_text("Modifier").click()
    flagged.get_by_label("Nouveau texte").fill("Tag sur le mur")
    page.locator(f"#edit-reason-contribution-{flagged_id}").fill("Titre injurieux")
    flagged.get_by_role("button", name="Enregistrer la modification").click()
    page.wait_for_url(re.compile(r"/moderation"))
    shown = requests.get(f"{live_server}/api/v1/reports/{flagged_id}", timeout=10).json()
    assert shown["properties"]["title"] == "Tag sur le mur"

    page.get_by_role("link", name="Journal d'audit").click()
    rows = page.locator("table.audit tbody tr")
    assert "Titre injurieux" in rows.nth(0).inner_text() and flagged_title in rows.nth(0).inner_text()
    assert "Vérifié : signalement utile" in rows.nth(1).inner_text() and "rétabli" in rows.nth(1).inner_text()
    assert "modifié" in rows.nth(0).inner_text()
    assert violations(page) == []
    assert scalar("SELECT count(*) FROM audit_log WHERE subject_id = :s AND action = 'auto_hide'",
                  s=str(hidden_id)) == 1
