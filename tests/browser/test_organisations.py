"""An association registers its organisation and drafts a mission from a phone (360 px); a
moderator verifies it; the pages pass axe-core in French and English."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from app.db import db
from app.missions.services import siren_valid
from tests.browser.conftest import (
    ARTIFACTS,
    EMAIL_DOMAIN,
    scalar,
    sign_in,
    sign_up,
    two_factor_account,
    unique,
)
from tests.browser.test_accessibility import violations

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", autouse=True)
def forget_organisations(live_server):
    """The organisations (and so their missions) of this module's accounts go before the
    accounts do."""
    yield
    users = f"SELECT id FROM users WHERE email LIKE '%@{EMAIL_DOMAIN}'"
    with db.engine.begin() as conn:
        conn.execute(text(f"DELETE FROM organisations WHERE id IN (SELECT organisation_id FROM organisation_members "
                          f"WHERE user_id IN ({users})) OR created_by_id IN ({users})"))


def fresh_siren() -> str:
    import random

    while True:
        number = f"{random.randrange(10**8, 10**9)}"
        if siren_valid(number) and not scalar("SELECT 1 FROM organisations WHERE siren = :s", s=number):
            return number


def test_an_organisation_registers_and_drafts_a_mission_from_a_phone(app, open_context):
    context, _ = open_context(width=360, height=780)
    page = context.new_page()
    email = sign_up(page, name="Fondatrice")
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE users SET email_verified_at = now() WHERE email = :e"), {"e": email})
    page.goto("/organisations/new")
    assert violations(page) == []
    page.screenshot(path=str(ARTIFACTS / "organisation-new-phone-fr.png"), full_page=True)
    name = unique("Les Jardiniers du canal")
    page.locator("#f-name").fill(name)
    page.locator("#f-siren").fill(fresh_siren())
    page.locator("#f-description").fill("Des jardins partagés le long du canal.")
    page.locator("#organisation-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/organisations/\d+$"))
    org_id = int(page.url.rsplit("/", 1)[1])
    assert page.locator("#status-banner").is_visible()
    assert violations(page) == []
    page.screenshot(path=str(ARTIFACTS / "organisation-page-phone-fr.png"), full_page=True)
    page.goto(f"/organisations/{org_id}?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert violations(page) == []
    page.screenshot(path=str(ARTIFACTS / "organisation-page-phone-en.png"), full_page=True)

    # the mission form, in English then in French; a recurring mission placed by a click
    page.get_by_role("link", name="New mission").click()
    page.wait_for_url(re.compile(r"/missions/new$"))
    assert violations(page) == []
    page.screenshot(path=str(ARTIFACTS / "organisation-mission-form-phone-en.png"), full_page=True)
    page.goto(f"/organisations/{org_id}/missions/new?lang=fr")
    assert violations(page) == []
    page.locator("#m-title").fill("Arroser les jardins du canal")
    page.locator("#m-description").fill("Arroser les bacs le samedi matin.")
    page.locator("#m-domain").select_option("environnement")
    page.locator("#place-label-0").fill("Quai de Valmy")
    page.locator("#mission-map").click(position={"x": 180, "y": 120})
    assert page.locator("input[name=place_lon]").first.input_value() != ""
    page.locator("#add-slot").click()  # one more one-off date row, its label tied to its input
    assert page.locator(".slot-row").count() == 3
    assert page.locator("label[for=slot-date-2]").count() == 1 and page.evaluate("document.activeElement.id") == "slot-date-2"
    page.locator("#schedule-recurring").check()
    assert page.locator(".schedule-part[data-schedule=one_off]").is_hidden()
    page.locator("#rec-day-5").check()
    page.locator("#rec-start").fill("10:00")
    page.locator("#rec-end").fill("12:00")
    page.locator("#rec-from").fill("2027-01-01")
    page.locator("#rec-until").fill("2027-01-28")
    page.locator("#rec-capacity").fill("6")
    # (a full-page screenshot here would leave a stale layout under the next click)
    page.locator("#mission-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/missions/\d+$"))
    mission_id = int(page.url.rsplit("/", 1)[1])
    assert scalar("SELECT count(*) FROM mission_slots WHERE mission_id = :m", m=mission_id) == 4
    page.goto(f"/missions/{mission_id}/edit")
    assert violations(page) == []
    page.screenshot(path=str(ARTIFACTS / "organisation-mission-edit-phone-fr.png"), full_page=True)
    page.reload()
    page.locator("button[name=action][value=publish]").click()
    page.wait_for_url(re.compile(r"/edit"))
    assert scalar("SELECT status FROM missions WHERE id = :m", m=mission_id) == "published"


def test_a_moderator_verifies_an_organisation(app, open_context):
    context, _ = open_context(width=360, height=780)
    page = context.new_page()
    founder = sign_up(page, name="Trésorier")
    name = unique("Le Relais du quartier")
    with db.engine.begin() as conn:
        uid = conn.execute(text("SELECT id FROM users WHERE email = :e"), {"e": founder}).scalar()
        org_id = conn.execute(text("INSERT INTO organisations (name, siren, created_by_id) VALUES (:n, :s, :u) "
                                   "RETURNING id"), {"n": name, "s": fresh_siren(), "u": uid}).scalar()
        conn.execute(text("INSERT INTO organisation_members (organisation_id, user_id, role) VALUES (:o, :u, 'owner')"),
                     {"o": org_id, "u": uid})
    email, secret, _ = two_factor_account(app, "moderator", "Modératrice")
    mod = open_context(width=360, height=780)[0].new_page()
    sign_in(mod, email, next_path="/moderation/organisations", totp_secret=secret)
    mod.wait_for_url(re.compile(r"/moderation/organisations"))
    assert mod.locator(f"#organisation-{org_id}").is_visible()
    assert violations(mod) == []
    mod.screenshot(path=str(ARTIFACTS / "organisation-moderation-phone-fr.png"), full_page=True)
    mod.goto("/moderation/organisations?lang=en")
    assert violations(mod) == []
    mod.screenshot(path=str(ARTIFACTS / "organisation-moderation-phone-en.png"), full_page=True)
    mod.locator(f"#organisation-{org_id}").locator("button[value=verify]").click()
    mod.wait_for_url(re.compile(r"/moderation/organisations"))
    assert scalar("SELECT status FROM organisations WHERE id = :o", o=org_id) == "verified"
