"""A resident flags a contribution in Chromium; a moderator (two-factor sign-in) reviews the
queue on a desktop, restores an item hidden by three flags, and reads the audit log."""

from __future__ import annotations

import re

import pytest
import requests

from tests.browser.conftest import scalar, sign_in, sign_up, two_factor_account, unique
from tests.browser.test_accessibility import violations

pytestmark = pytest.mark.browser
NOTRE_DAME = (2.3499, 48.8530)


@pytest.fixture
def moderator(app):
    """A moderator with two-factor sign-in on (required for the role): (e-mail, TOTP secret)."""
    return two_factor_account(app, "moderator", "Modératrice")[:2]


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


def test_a_moderator_blurs_a_region_of_a_photo_by_mouse_and_by_keyboard(open_context, api_user, live_server,
                                                                        moderator):
    import json

    from tests.browser.conftest import photo_bytes

    author = api_user("Automobiliste")
    r = author.post(f"{live_server}/api/v1/reports", data={"feature": json.dumps({
        "type": "Feature", "geometry": {"type": "Point", "coordinates": list(NOTRE_DAME)},
        "properties": {"title": unique("Plaque lisible"), "category": "graffitis"}})},
        files={"photos": ("rue.jpg", photo_bytes((30, 90, 160)), "image/jpeg")}, timeout=10)
    assert r.status_code == 201, r.text
    rid, original_url = r.json()["id"], r.json()["properties"]["photos"][0]["url"]
    flagger = api_user("Passant")
    assert flagger.post(f"{live_server}/api/v1/flags", json={
        "subject_type": "contribution", "subject_id": rid, "reason": "personal_data"}, timeout=10).status_code == 201

    email, secret = moderator
    context, _ = open_context(width=1280, height=900)
    page = context.new_page()
    sign_in(page, email, next_path="/moderation", totp_secret=secret)
    page.wait_for_url(re.compile(r"/moderation$"))
    page.locator(f"#item-contribution-{rid} a[href^='/moderation/photos/{rid}/']").click()
    page.wait_for_url(re.compile(rf"/moderation/photos/{rid}/[0-9a-f]{{64}}$"))
    photo = page.locator("#redact-photo")
    page.wait_for_function("() => document.getElementById('redact-photo').complete")
    assert violations(page) == []

    # a rectangle drawn with the mouse fills the four inputs (percent of the photo)
    box = photo.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.25)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.75, steps=5)
    page.mouse.up()
    drawn = {name: float(page.locator(f"#r-{name}").input_value()) for name in ("x", "y", "width", "height")}
    assert all(abs(drawn[n] - v) < 1 for n, v in (("x", 25), ("y", 25), ("width", 50), ("height", 50))), drawn
    assert page.locator("#redact-box").is_visible()

    # the keyboard alone does the same: typing moves the rectangle
    page.locator("#r-x").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("30")
    assert page.locator("#redact-box").evaluate("b => b.style.left") == "30%"
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("20")
    page.locator("#r-reason").fill("Plaque d'immatriculation")
    page.screenshot(path="tests/artifacts/moderation-redact-desktop.png", full_page=True)
    page.locator("form.redact-form button[type=submit]").click()

    page.wait_for_url(re.compile(r"/moderation$"))
    assert page.locator(".form-notice").is_visible()
    assert requests.get(f"{live_server}{original_url}", timeout=10).status_code == 404
    shown = requests.get(f"{live_server}/api/v1/reports/{rid}", timeout=10).json()["properties"]["photos"]
    assert shown[0]["url"] != original_url
    assert requests.get(f"{live_server}{shown[0]['url']}", timeout=10).status_code == 200
    assert scalar("SELECT regions FROM photo_redactions WHERE contribution_id = :c", c=rid) == [
        {"x": 0.3, "y": 0.2, "w": drawn["width"] / 100, "h": drawn["height"] / 100}]
