"""Area alerts in Chromium: following areas from "my alerts" on a phone (360 px), an address
not found, stopping one; the e-mail's unsubscribe link without signing in; axe-clean pages,
screenshots in both widths."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text

from app.db import db
from tests.browser.conftest import SHOTS, sign_up
from tests.browser.test_accessibility import violations

pytestmark = pytest.mark.browser


def confirm_email(email: str) -> None:
    """What the welcome e-mail's link does."""
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE users SET email_verified_at = now() WHERE email = :e"), {"e": email})


def alerts_of(email: str) -> list[tuple]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT a.area, a.arrondissement_id, a.radius_m, a.label, a.kinds FROM area_alerts a "
            "JOIN users u ON u.id = a.user_id WHERE u.email = :e ORDER BY a.id"), {"e": email})]


def submit(page, button) -> None:
    """Press a form's button and wait for the page it leads to (maybe the same URL)."""
    with page.expect_navigation():
        button.tap() if page.viewport_size["width"] < 500 else button.click()


def shot(page, name: str, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"alerts-{name}.png"), full_page=full_page)


def test_follow_areas_from_my_alerts_on_a_phone(open_context):
    context, watch = open_context(width=360, height=740, is_mobile=True, has_touch=True)
    page = context.new_page()
    watch.allow(r"status of 422")
    email = sign_up(page, name="Inès")
    confirm_email(email)
    # from the account menu, next to "my engagements"
    page.locator(".account-menu summary").tap()
    page.locator(".account-menu a[href='/me/alerts']").tap()
    page.wait_for_url(re.compile(r"/me/alerts$"))
    assert page.locator("#my-alerts .alert-item").count() == 0
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360

    # an address the geocoder does not know: the error beside the field, nothing created
    form = page.locator("#form-radius")
    form.locator("#r-address").fill("Zzqx Wqyk")
    submit(page, form.locator("button[type=submit]"))
    assert page.locator("#r-address").get_attribute("aria-invalid") == "true"
    assert page.locator("#r-address-error").inner_text().strip() != ""
    assert alerts_of(email) == []
    assert violations(page) == []
    page.locator("#r-address").scroll_into_view_if_needed()
    shot(page, "phone-error", full_page=False)

    # around an address, 250 m, reports only
    form = page.locator("#form-radius")
    form.locator("#r-address").fill("12 rue de Rivoli")
    form.locator("#r-radius").select_option("250")
    form.locator("#r-kinds").select_option("reports")
    submit(page, form.locator("button[type=submit]"))
    page.locator("#notice").wait_for()
    [(area, arrondissement, radius, label, kinds)] = alerts_of(email)
    assert (area, arrondissement, radius, kinds) == ("radius", None, 250, "reports")
    assert "Rivoli" in label and "12" in label
    item = page.locator("#my-alerts .alert-item").first
    assert "250" in item.inner_text() and "Rivoli" in item.inner_text()

    # an arrondissement
    form = page.locator("#form-arrondissement")
    form.locator("#arr-arrondissement").select_option("11")
    submit(page, form.locator("button[type=submit]"))
    assert [a[:2] for a in alerts_of(email)] == [("radius", None), ("arrondissement", 11)]
    assert page.locator("#my-alerts .alert-item").count() == 2
    assert "Popincourt" in page.locator("#my-alerts .alert-item").nth(1).inner_text()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    assert violations(page) == []
    shot(page, "phone")

    # "see on the map" opens the map on the arrondissement
    href = page.locator("#my-alerts .alert-item").nth(1).locator("a.button").get_attribute("href")
    assert alerts_of(email)[1][4] == "both", alerts_of(email)
    assert href == "/?arrondissement=11"

    # stop the first one
    submit(page, page.locator("#my-alerts .alert-item").first.locator("button[type=submit]"))
    assert [a[:2] for a in alerts_of(email)] == [("arrondissement", 11)]
    assert page.locator("#my-alerts .alert-item").count() == 1
    assert "Rivoli" in page.locator("#notice").inner_text()  # the one stopped


def test_an_unconfirmed_account_is_told_to_confirm_first(page):
    sign_up(page, name="Noé")
    page.goto("/me/alerts?lang=en")
    assert page.locator("#add .form-notice").inner_text().startswith("Confirm your e-mail address")
    assert page.locator("#add form").count() == 0
    assert violations(page) == []


def test_the_e_mails_link_stops_the_alert_without_signing_in(open_context, app, live_server):
    from app.accounts.models import User
    from app.alerts import services
    from app.alerts.models import AreaAlert

    context, _ = open_context(width=1280, height=800)
    page = context.new_page()
    email = sign_up(page, name="Yasmine")
    confirm_email(email)
    page.goto("/me/alerts?lang=en")
    page.locator("#form-quartier #q-quartier").select_option("16")  # Notre-Dame
    submit(page, page.locator("#form-quartier button[type=submit]"))
    assert violations(page) == []
    shot(page, "desktop")
    with app.app_context():
        alert = db.session.scalar(select(AreaAlert).join(User, User.id == AreaAlert.user_id)
                                  .where(User.email == email))
        token = services.unsubscribe_token(app.config["SECRET_KEY"], alert)

    stranger = open_context(width=360, height=740, is_mobile=True, has_touch=True)[0].new_page()
    stranger.goto(f"/alerts/unsubscribe/{token}?lang=en")
    assert "Quartier Notre-Dame (4th)" in stranger.locator("main").inner_text()
    assert violations(stranger) == []
    shot(stranger, "unsubscribe-phone")
    submit(stranger, stranger.locator("main form button[type=submit]"))
    assert "Quartier Notre-Dame" in stranger.locator("#notice").inner_text()
    assert alerts_of(email) == []
    shot(stranger, "unsubscribed-phone")
