"""An admin (two-factor sign-in) renames a category in Chromium, and the map's list shows the
new label; the administration pages pass axe in French and English."""

from __future__ import annotations

import pytest

from app.admin import services as admin_services
from app.areas.services import reset_category_index
from app.db import db
from tests.browser.conftest import sign_in, two_factor_account, unique, wait_for_map
from tests.browser.test_accessibility import violations

pytestmark = pytest.mark.browser
CATEGORY, LABEL, LABEL_EN = "eau", "Eau", "Water"  # a type: the map's list shows it
SUB_CATEGORY = "eau.accumulation-d-eau-grosse-flaque-d-eau-sur-trottoir"


@pytest.fixture
def admin(app):
    """An admin with two-factor sign-in on (required for the role): (e-mail, TOTP secret)."""
    email, secret, user_id = two_factor_account(app, "admin", "Administratrice")
    yield email, secret
    with app.app_context():  # the label back, for the other tests
        from app.accounts.models import User

        admin_services.update_category(db.session, db.session.get(User, user_id), CATEGORY,
                                       {"label_fr": LABEL, "label_en": LABEL_EN})
        db.session.commit()
        reset_category_index()


def test_an_admin_renames_a_category_and_the_map_shows_it(open_context, api_user, live_server, admin):
    author = api_user("Autrice")
    title = unique("Fuite sur le trottoir")
    r = author.post(f"{live_server}/api/v1/reports", json={
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [2.3499, 48.8530]},
        "properties": {"title": title, "category": SUB_CATEGORY}}, timeout=10)
    assert r.status_code == 201, r.text

    context, _ = open_context()
    page = context.new_page()
    email, secret = admin
    sign_in(page, email, totp_secret=secret, next_path="/admin")
    page.wait_for_url("**/admin/categories")
    assert violations(page) == []
    row = page.locator(f'[id="cat-{CATEGORY}"]')
    assert row.locator("th").inner_text().strip().endswith(LABEL)
    row.get_by_role("link", name=f"Modifier {LABEL}").click()
    page.wait_for_url(f"**/admin/categories/{CATEGORY}")
    assert violations(page) == []
    new_label = unique("Eau et fontaines")
    page.get_by_label("Libellé (français)").fill(new_label)
    page.get_by_label("Libellé (anglais)").fill("Water and fountains")
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_url("**/admin/categories?kind=report")
    assert page.locator(".form-notice").inner_text().startswith("Catégorie enregistrée")
    assert page.locator(f'[id="cat-{CATEGORY}"] th').inner_text().strip().endswith(new_label)

    # the map's list, filtered on the category, names it with the new label
    page.goto(f"/?category={CATEGORY}")
    wait_for_map(page)
    item = page.locator("#results-list > li", has_text=title)
    assert new_label in item.locator(".item-kicker").inner_text()
    # and the page in English reads its English label
    page.goto(f"/?category={CATEGORY}&lang=en")
    wait_for_map(page)
    assert "Water and fountains" in page.locator("#results-list > li", has_text=title).locator(
        ".item-kicker").inner_text()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_administration_pages_pass_axe(open_context, admin, lang):
    context, _ = open_context()
    page = context.new_page()
    email, secret = admin
    sign_in(page, email, totp_secret=secret, next_path="/admin")
    page.wait_for_url("**/admin/categories")
    for path in ("/admin/categories", "/admin/categories?kind=proposal", f"/admin/categories/{CATEGORY}",
                 "/admin/services", "/admin/users", "/admin/api-keys"):
        page.goto(f"{path}{'&' if '?' in path else '?'}lang={lang}")
        assert violations(page) == [], path
    # issuing a key shows it once, on the answer to the form
    page.goto(f"/admin/api-keys?lang={lang}")
    page.locator("#f-name").fill("Open311 test client")
    page.locator("form.admin-form button[type=submit]").click()
    key = page.locator("#new-key").inner_text()
    assert key.startswith("cg_")
    assert violations(page) == []
    page.goto(f"/admin/api-keys?lang={lang}")
    assert page.locator("#new-key").count() == 0 and key not in page.content()
