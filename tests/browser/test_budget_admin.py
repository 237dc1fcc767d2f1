"""An admin opens a participatory budget cycle from a phone (360 px) in Chromium: the list,
the form, its errors, the edit page and publishing pass axe-core in French and English."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from app.db import db
from tests.browser.conftest import SHOTS, scalar, sign_in, two_factor_account
from tests.browser.test_accessibility import violations

pytestmark = pytest.mark.browser

ORDER = ("submission", "co_construction", "feasibility", "vote", "results", "delivery")
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def year(app, live_server):
    """A year without a cycle; its cycle deleted afterwards."""
    chosen = next(y for y in range(2075, 2090) if not scalar("SELECT 1 FROM budget_cycles WHERE year = :y", y=y))
    yield chosen
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM budget_cycles WHERE year = :y"), {"y": chosen})


def fill_phases(page, first: date, lengths=(30, 30, 60, 21, 14, 400)) -> None:
    start = first
    for name, length in zip(ORDER, lengths, strict=True):
        page.locator(f"#f-{name}_starts_on").fill(start.isoformat())
        page.locator(f"#f-{name}_ends_on").fill((start + timedelta(days=length - 1)).isoformat())
        start += timedelta(days=length)


def checked(page, lang: str, name: str) -> None:
    """axe finds nothing serious, nothing is wider than the phone; a screenshot to look at."""
    assert violations(page) == [], name
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360, name
    assert page.locator("html").get_attribute("lang") == lang
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"admin-{name}-{lang}.png"), full_page=True)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_an_admin_opens_a_cycle_from_a_phone(app, open_context, year, lang):
    email, secret, _admin_id = two_factor_account(app, "admin", "Administratrice")
    context, watch = open_context(width=360, height=740, is_mobile=True, has_touch=True)
    watch.allow(r"status of 422")  # the form sent back with its errors
    page = context.new_page()
    sign_in(page, email, totp_secret=secret, next_path=f"/lang/{lang}?next=/admin/budgets")
    page.wait_for_url(re.compile(r"/admin/budgets$"))
    checked(page, lang, "budgets")

    page.locator("#new-cycle").click()
    page.wait_for_url(re.compile(r"/admin/budgets/new$"))
    checked(page, lang, "budget-form")
    title = f"Budget participatif {year}"
    page.locator("#f-year").fill(str(year))
    page.locator("#f-title").fill(title)
    page.locator("#f-description").fill("Vos projets pour Paris et votre arrondissement.")
    page.locator("#f-ballot-majority_judgment").check()
    page.locator("#f-rule-equal_shares").check()
    fill_phases(page, date(year, 1, 10))
    page.locator("#f-co_construction_starts_on").fill(date(year, 2, 20).isoformat())  # a gap
    page.locator("#f-env_paris_amount").fill("30 000 000")
    page.locator("#f-env_11_amount").fill("4 000 000")
    page.locator("#f-env_11_share").fill("5 000 000")  # more than the envelope
    page.locator("#save").click()
    page.locator("#form-errors").wait_for()
    assert page.locator("#f-co_construction_starts_on-error").inner_text().strip()
    assert page.locator("#f-env_11_share-error").inner_text().strip()
    assert page.locator("#f-env_11_share").get_attribute("aria-invalid") == "true"
    assert page.locator("#f-title").input_value() == title  # what was typed is kept
    assert scalar("SELECT count(*) FROM budget_cycles WHERE year = :y", y=year) == 0
    checked(page, lang, "budget-form-errors")

    fill_phases(page, date(year, 1, 10))
    page.locator("#f-env_11_share").fill("1 500 000")
    page.locator("#save").click()
    page.wait_for_url(re.compile(r"/admin/budgets$"))
    assert str(year) in page.locator(".form-notice").inner_text()
    card = page.locator(f"#cycle-{scalar('SELECT id FROM budget_cycles WHERE year = :y', y=year)}")
    assert title in card.inner_text()
    assert scalar("SELECT count(*) FROM budget_envelopes e JOIN budget_cycles c ON c.id = e.cycle_id "
                  "WHERE c.year = :y", y=year) == 2
    assert scalar("SELECT popular_share_cents FROM budget_envelopes e JOIN budget_cycles c ON c.id = e.cycle_id "
                  "WHERE c.year = :y AND e.arrondissement_id = 11", y=year) == 150_000_000
    checked(page, lang, "budgets-created")

    card.locator("a").first.click()
    page.wait_for_url(re.compile(r"/admin/budgets/\d+$"))
    checked(page, lang, "budget-edit")
    page.locator("#publish").click()
    page.wait_for_url(re.compile(r"/admin/budgets$"))
    assert scalar("SELECT status FROM budget_cycles WHERE year = :y", y=year) == "published"

    # time passes: the vote is open; what can no longer change is shown as such
    cycle_id = scalar("SELECT id FROM budget_cycles WHERE year = :y", y=year)
    start = datetime.now(PARIS).date() - timedelta(days=32)
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM budget_phases WHERE cycle_id = :c"), {"c": cycle_id})
        for name in ORDER:
            conn.execute(text("INSERT INTO budget_phases VALUES (:c, :p, :s, :e)"), {
                "c": cycle_id, "p": name, "s": datetime.combine(start, datetime.min.time(), PARIS),
                "e": datetime.combine(start + timedelta(days=10), datetime.min.time(), PARIS)})
            start += timedelta(days=10)
    page.goto(f"/admin/budgets/{cycle_id}")
    assert page.locator("#f-env_paris_amount").count() == 0 and page.locator("#publish").count() == 0
    assert page.locator("#f-submission_ends_on").get_attribute("readonly") is not None
    assert page.locator("#f-vote_starts_on").get_attribute("readonly") is not None
    assert page.locator("#f-vote_ends_on").get_attribute("readonly") is None
    checked(page, lang, "budget-edit-vote")
