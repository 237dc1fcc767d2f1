"""A field agent on a phone: the queue, one report, resolving it with a photo."""

from __future__ import annotations

import re

import pytest

from app.db import db
from tests.browser.conftest import (
    ARTIFACTS,
    EMAIL_DOMAIN,
    PASSWORD,
    photo_bytes,
    scalar,
    sign_in,
    unique,
)

pytestmark = pytest.mark.browser

NOTRE_DAME = (2.3499, 48.8530)  # 4e arrondissement


@pytest.fixture
def agent_email(app):
    """An agent for graffiti in the 4e (scope set with the service, as an admin would)."""
    from app.accounts.services import create_user
    from app.field import services

    email = f"{unique('agent').replace(' ', '-')}@{EMAIL_DOMAIN}"
    with app.app_context():
        agent = create_user(db.session, email, PASSWORD, "Agent Graffiti", ["agent"])
        db.session.flush()
        graffitis = scalar("SELECT id FROM services WHERE code = 'graffitis'")
        services.set_scopes(db.session, agent, [(graffitis, 4)])
        db.session.commit()
    return email


def test_agent_resolves_a_report_with_a_photo_on_a_phone(open_context, api_user, agent_email, tmp_path):
    reporter = api_user("Riverain")
    title = unique("Tag sur le parvis")
    r = reporter.post(f"{reporter.base}/api/v1/reports", json={
        "type": "Feature", "geometry": {"type": "Point", "coordinates": list(NOTRE_DAME)},
        "properties": {"title": title, "category": "graffitis"}}, timeout=10)
    assert r.status_code == 201, r.text
    report_id = r.json()["id"]

    context, watch = open_context(width=360, height=640, is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_in(page, agent_email, next_path="/agent?sort=newest")
    page.wait_for_url(re.compile(r"/agent\?sort=newest$"))
    assert page.get_by_role("link", name="Agent", exact=True).is_visible()
    assert page.locator(".agent-counts").inner_text()
    # the queue on a map too: one marker per listed report
    page.wait_for_selector("#queue-map path.agent-marker")
    assert page.locator("#queue-map path.agent-marker").count() == page.locator(".queue-item").count() > 0

    # nothing wider than the phone, touch targets of 44 px at least
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > 361)
        .map((e) => e.tagName + '.' + e.className + '#' + e.id + ' ' + e.getBoundingClientRect().right)""")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360, wide
    link = page.locator("a.queue-link", has_text=title)  # not its "navigate" links
    assert link.bounding_box()["height"] >= 44
    check = page.locator(f'.queue-check[value="{report_id}"]')
    pick = page.locator(".queue-pick", has=check).bounding_box()
    assert pick["height"] >= 44 and pick["width"] >= 44
    check.check()
    assert page.locator("#batch-count").inner_text() == "1 signalement sélectionné"
    page.screenshot(path=str(ARTIFACTS / "agent-queue-mobile.png"), full_page=False)
    link.click()
    page.wait_for_url(re.compile(rf"/agent/reports/{report_id}$"))
    page.wait_for_function("() => !document.getElementById('duplicates').hasAttribute('aria-busy')")
    assert page.locator(".coords").inner_text() == "48.853000, 2.349900"

    # only the fields of the chosen target show
    planned = page.locator('input[name="planned_for"]')
    assert not planned.is_visible()
    page.get_by_label("Intervention programmée").check()
    assert planned.is_visible()
    watch.allow(r"status of 422 .*/transitions")  # deliberate: no date, the API says so
    page.get_by_role("button", name="Enregistrer le statut").click()
    error = page.locator('[data-error-for="planned_for"]')
    error.wait_for()
    assert error.inner_text()  # in French, next to the field
    assert scalar("SELECT status FROM contributions WHERE id = :id", id=report_id) == "new"

    page.get_by_label("Résolu", exact=True).check()
    assert not planned.is_visible()
    page.get_by_label("Le problème a été résolu.").check()
    photo = tmp_path / "apres.jpg"
    photo.write_bytes(photo_bytes((40, 120, 200)))
    page.locator('input[name="photo"]').set_input_files(str(photo))
    page.get_by_label("Note interne (agents seulement)").fill("Nettoyé au karcher")
    with page.expect_navigation():
        page.get_by_role("button", name="Enregistrer le statut").click()

    history = page.locator("#history")
    last = history.locator("li").last
    assert "Résolu" in last.inner_text()
    assert "Nettoyé au karcher" in last.inner_text()
    img = last.locator("img.history-photo")
    img.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const i = document.querySelector('#history li:last-child img.history-photo');"
        " return i && i.complete && i.naturalWidth > 0; }")
    assert scalar("SELECT status FROM contributions WHERE id = :id", id=report_id) == "resolved"
    page.screenshot(path=str(ARTIFACTS / "agent-mobile.png"), full_page=True)
