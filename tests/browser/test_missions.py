"""Volunteer missions in Chromium: a resident signs up for a slot from a phone (360 px) and sees
it pending; a member of the organisation accepts it on the sign-ups page; the resident's "my
engagements" then says accepted. Every mission page passes axe-core in French and English."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from shapely.geometry import Point
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

PHONE = {"width": 360, "height": 740, "is_mobile": True, "has_touch": True}
ORGANISATIONS: list[int] = []


@pytest.fixture(scope="module", autouse=True)
def forget_organisations(live_server):
    """The organisations made here go (their missions, slots and sign-ups cascade), and the
    e-mails they queued, before live_server's cleanup deletes the accounts."""
    yield
    users = f"SELECT id FROM users WHERE email LIKE '%@{EMAIL_DOMAIN}'"
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM organisations WHERE id = ANY(:ids)"), {"ids": ORGANISATIONS})
        conn.execute(text(f"DELETE FROM outbox WHERE recipient IN (SELECT email FROM users WHERE id IN ({users}))"))


def account(app, name: str) -> tuple[str, int]:
    """A committed resident with a confirmed e-mail address: (e-mail, id)."""
    from app.accounts.services import create_user

    email = f"{unique('member').replace(' ', '-')}@{EMAIL_DOMAIN}"
    with app.app_context():
        user = create_user(db.session, email, PASSWORD, name, ["resident"])
        user.email_verified_at = datetime.now(UTC)
        db.session.commit()
        return email, user.id


@pytest.fixture(scope="module")
def mission(app):
    """A verified organisation (its owner's e-mail) and a published mission with one slot of 3
    places in five days, at the square de la Roquette: (mission id, slot id, owner's e-mail)."""
    from app.accounts.models import User
    from app.missions import services

    owner_email, owner_id = account(app, "Responsable asso")
    _, _, moderator_id = two_factor_account(app, "moderator", "Modératrice missions")
    start = (datetime.now(UTC) + timedelta(days=5)).replace(hour=8, minute=0, second=0, microsecond=0)
    with app.test_request_context():
        owner = db.session.get(User, owner_id)
        org = services.register_organisation(db.session, owner, {
            "name": unique("Les Jardiniers de la Roquette"), "rna": f"W{random.randint(10**8, 10**9 - 1)}",
            "siren": None, "description": "", "address": "", "geometry": None, "website": None,
            "contact_email": None, "contact_phone": None})
        services.verify_organisation(db.session, org, db.session.get(User, moderator_id), "verify", None)
        ORGANISATIONS.append(org.id)
        m = services.create_mission(db.session, org, owner, {
            "title": unique("Nettoyer le square de la Roquette"),
            "description": "Ramasser les déchets du square avec le voisinage.\nGants et pinces fournis.",
            "domain": "environnement", "activities": ["ramassage-dechets"], "remote": "no",
            "places": [{"label": "Square de la Roquette", "geometry": Point(2.3797, 48.8594)}],
            "schedule": "one_off",
            "slots": [{"starts_at": start, "ends_at": start + timedelta(hours=3), "capacity": 3},
                      {"starts_at": start + timedelta(days=7), "ends_at": start + timedelta(days=7, hours=3),
                       "capacity": 3}],
            "recurrence": None, "period": None, "min_age": 16, "skills": [], "links": [],
            "accessibility": "De plain-pied, toilettes accessibles.", "reduced_mobility_accessible": True})
        services.change_state(db.session, m, owner, "publish", None)
        db.session.commit()
        return m.id, m.slots[0].id, owner_email


def test_a_resident_signs_up_from_a_phone_and_the_organisation_accepts(open_context, mission):
    mid, slot, owner_email = mission
    context, _ = open_context(**PHONE)
    phone = context.new_page()
    email = sign_up(phone, name="Camille Volontaire")
    with db.engine.begin() as conn:  # what the link of the welcome e-mail does
        conn.execute(text("UPDATE users SET email_verified_at = now() WHERE email = :e"), {"e": email})

    phone.goto("/missions?arrondissement=11")
    phone.wait_for_function("() => document.getElementById('map')?.dataset.loaded === 'true'")
    assert int(phone.locator("#map").get_attribute("data-markers")) >= 1
    phone.locator(f"#mission-{mid} h3 a").tap()
    phone.wait_for_url(re.compile(rf"/missions/{mid}$"))
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= 360
    phone.locator(f"#signup-slot-{slot} summary").tap()
    phone.locator(f"#f-message-{slot}").fill("J'apporte mes gants.")
    phone.locator(f"#f-age-{slot}").check()
    with phone.expect_navigation():  # a form posted, then redirected back here
        phone.locator(f"#signup-slot-{slot} button[type=submit]").tap()
    assert phone.locator("#notice").is_visible()
    sid = scalar("SELECT s.id FROM mission_signups s JOIN users u ON u.id = s.user_id "
                 "WHERE s.slot_id = :slot AND u.email = :e", slot=slot, e=email)
    assert scalar("SELECT status FROM mission_signups WHERE id = :s", s=sid) == "pending"
    assert phone.locator(f"#signup-{sid} .signup-status-pending").is_visible()
    assert phone.locator(f"#signup-slot-{slot}").count() == 0  # signed up: no second form for it
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= 360
    phone.screenshot(path=str(ARTIFACTS / "missions-signed-up-phone.png"), full_page=True)

    # a member of the organisation, in another browser, accepts
    context, _ = open_context(**PHONE)
    member = context.new_page()
    sign_in(member, owner_email, next_path=f"/missions/{mid}/signups")
    member.wait_for_url(re.compile(rf"/missions/{mid}/signups$"))
    volunteer = member.locator(f"#signup-{sid}")
    assert email in volunteer.inner_text() and "J'apporte mes gants." in volunteer.inner_text()
    assert member.evaluate("() => document.documentElement.scrollWidth") <= 360
    member.screenshot(path=str(ARTIFACTS / "missions-signups-phone.png"), full_page=True)
    with member.expect_navigation():
        volunteer.locator("button[value=accept]").tap()
    assert member.locator(f"#signup-{sid} .signup-status-accepted").is_visible()
    assert scalar("SELECT status FROM mission_signups WHERE id = :s", s=sid) == "accepted"

    # the resident's engagements say so, with the calendar file
    phone.goto("/me/engagements")
    assert phone.locator(f"#upcoming #engagement-{sid} .signup-status-accepted").is_visible()
    ics = phone.request.get(f"/missions/{mid}/signups/{sid}/calendar.ics")
    assert ics.status == 200 and "DTSTART" in ics.text()
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= 360
    phone.screenshot(path=str(ARTIFACTS / "missions-engagements-phone.png"), full_page=True)


def test_the_mission_pages_have_no_serious_violation(open_context, mission):
    mid, slot, owner_email = mission
    context, _ = open_context(**PHONE)
    page = context.new_page()
    sign_in(page, owner_email, next_path=f"/missions/{mid}")
    page.wait_for_url(re.compile(rf"/missions/{mid}$"))
    for lang in ("fr", "en"):
        for path in ("/missions", f"/missions/{mid}", f"/missions/{mid}/signups", "/me/engagements"):
            page.goto(f"{path}?lang={lang}")
            assert page.locator("html").get_attribute("lang") == lang
            if page.locator("#map").count():
                page.wait_for_function("() => document.getElementById('map')?.dataset.loaded === 'true'")
            assert page.evaluate("() => document.documentElement.scrollWidth") <= 360, path
            assert violations(page) == [], (lang, path)
            name = path.strip("/").replace("/", "-").replace(str(mid), "id")
            page.screenshot(path=str(ARTIFACTS / f"missions-{name}-{lang}.png"), full_page=True)

    # signed out, on a desktop, with a popup open from the keyboard
    context, _ = open_context(width=1280, height=900)
    desktop = context.new_page()
    desktop.goto("/missions?lang=en&lon=2.3797&lat=48.8594&radius=1000")
    desktop.wait_for_function("() => document.getElementById('map')?.dataset.loaded === 'true'")
    assert desktop.locator(f"#mission-{mid} .distance").is_visible()
    desktop.locator(".mission-pin").first.focus()
    desktop.keyboard.press("Enter")
    assert desktop.locator(".leaflet-popup a").first.is_visible()
    assert violations(desktop) == []
    desktop.screenshot(path=str(ARTIFACTS / "missions-list-desktop.png"), full_page=True)
    desktop.goto(f"/missions/{mid}?lang=en")
    assert desktop.locator("#login-to-signup").is_visible()
    assert violations(desktop) == []


def test_near_me_uses_the_browsers_position(open_context, mission):
    mid, _, _ = mission
    context, _ = open_context(**PHONE, geolocation={"latitude": 48.8598, "longitude": 2.3801},
                              permissions=["geolocation"])
    page = context.new_page()
    page.goto("/missions?radius=500")
    with page.expect_navigation():
        page.locator("#near-me").tap()
    assert "lon=2.380100" in page.url and "lat=48.859800" in page.url
    assert page.locator(f"#mission-{mid} .distance").is_visible()
    assert page.locator("#f-lon").input_value() == "2.380100"
    # typing an address forgets the position
    page.locator("#f-address").fill("1 rue de la Roquette")
    assert page.locator("#f-lon").input_value() == ""
