"""A resident answers a consultation from a phone; a planner closes it and reads its synthesis;
the pages pass axe-core."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from app.db import db
from tests.browser.conftest import (
    ARTIFACTS,
    EMAIL_DOMAIN,
    PASSWORD,
    scalar,
    sign_in,
    sign_up,
    unique,
)
from tests.browser.test_accessibility import violations

pytestmark = pytest.mark.browser

# a square around the parvis of Notre-Dame: the map's centre is inside it
SQUARE = [[2.3480, 48.8522], [2.3520, 48.8522], [2.3520, 48.8540], [2.3480, 48.8540], [2.3480, 48.8522]]


def planner_account(app, name="Urbaniste") -> str:
    from app.accounts.services import create_user

    email = f"{unique('planner').replace(' ', '-')}@{EMAIL_DOMAIN}"
    with app.app_context():
        create_user(db.session, email, PASSWORD, name, ["planner"])
        db.session.commit()
    return email


def open_consultation(live_server, email: str, title: str) -> int:
    token = requests.post(f"{live_server}/api/v1/auth/token", json={"email": email, "password": PASSWORD},
                          timeout=10).json()["access_token"]
    today = datetime.now(ZoneInfo("Europe/Paris")).date()
    headers = {"Authorization": f"Bearer {token}"}
    r = requests.post(f"{live_server}/api/v1/consultations", headers=headers, timeout=10, json={
        "title": title, "question": "Comment rendre le parvis plus agréable ?",
        "area": {"polygon": {"type": "Polygon", "coordinates": [SQUARE]}},
        "phases": [{"phase": "ideas", "starts_on": today.isoformat(),
                    "ends_on": (today + timedelta(days=14)).isoformat()}],
        "themes": ["vegetalisation", "espace-public"], "geometry_types": ["Point"]})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert requests.post(f"{live_server}/api/v1/consultations/{cid}/publish", headers=headers,
                         timeout=10).status_code == 200
    return cid


def test_a_resident_answers_from_a_phone_and_a_planner_closes_and_reads_the_synthesis(app, live_server,
                                                                                     open_context):
    planner = planner_account(app)
    title = unique("Le parvis en vert")
    cid = open_consultation(live_server, planner, title)
    try:
        context, _watch = open_context(width=360, height=740, is_mobile=True, has_touch=True)
        phone = context.new_page()
        sign_up(phone, name="Inès")
        phone.goto(f"/consultations/{cid}")
        phone.get_by_role("heading", name=title).wait_for()
        assert phone.locator("#stage").inner_text() == "Idées"
        assert violations(phone) == []
        phone.get_by_role("button", name="Proposer une idée").click()
        form = phone.locator("#create-form")
        assert form.locator("#f-kind").is_hidden()  # a consultation takes proposals only
        options = form.get_by_label("Catégorie", exact=True).locator("option")
        options.nth(1).wait_for(state="attached")  # the tree arrives from the API
        assert sorted(options.all_inner_texts()[1:]) == ["Espace public", "Végétalisation"]  # its themes only
        form.get_by_role("button", name="Placer un point au centre de la carte").click()
        form.get_by_label("Catégorie", exact=True).select_option("vegetalisation")
        idea = unique("Des bacs à fleurs")
        form.get_by_label("Titre").fill(idea)
        form.get_by_role("button", name="Publier").click()
        phone.locator("#proposals").get_by_role("link", name=idea).wait_for()
        phone.screenshot(path=str(ARTIFACTS / "consultation-phone.png"), full_page=True)
        assert scalar("SELECT count(*) FROM contributions WHERE consultation_id = :c AND title = :t",
                      c=cid, t=idea) == 1
        assert phone.evaluate("() => document.documentElement.scrollWidth") <= 360

        desk = open_context()[0].new_page()
        sign_in(desk, planner, next_path=f"/consultations/{cid}")
        desk.wait_for_url(re.compile(rf"/consultations/{cid}$"))
        desk.get_by_role("button", name="Clore maintenant").click()
        desk.wait_for_url(re.compile(rf"/consultations/{cid}/synthesis$"))
        assert desk.locator("#counts li").first.inner_text().split()[0] == "1"
        rows = desk.locator("#by-theme tbody tr").all_inner_texts()
        assert [r.split("\t") for r in rows] == [["Végétalisation", "1", "0", "0"]]
        desk.locator("#map .leaflet-heatmap-layer").wait_for()
        assert violations(desk) == []
        desk.screenshot(path=str(ARTIFACTS / "consultation-synthesis.png"), full_page=True)
        # the resident's page now says what happened, and takes no more ideas
        phone.reload()
        assert phone.locator("#stage").inner_text() == "Synthèse"
        assert phone.get_by_role("button", name="Proposer une idée").count() == 0
    finally:
        with db.engine.begin() as conn:
            from sqlalchemy import text

            conn.execute(text("DELETE FROM votes WHERE contribution_id IN "
                              "(SELECT id FROM contributions WHERE consultation_id = :c)"), {"c": cid})
            conn.execute(text("DELETE FROM contributions WHERE consultation_id = :c"), {"c": cid})
            conn.execute(text("DELETE FROM consultations WHERE id = :c"), {"c": cid})


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_consultation_pages_pass_axe_in_both_languages(app, live_server, open_context, lang):
    planner = planner_account(app)
    cid = open_consultation(live_server, planner, unique("Place des Vosges"))
    try:
        context, _watch = open_context(width=360, height=740, is_mobile=True, has_touch=True)
        page = context.new_page()
        sign_in(page, planner, next_path=f"/lang/{lang}?next=/consultations")
        page.wait_for_url(re.compile(r"/consultations$"))
        found = {}
        for path in ("/consultations", f"/consultations/{cid}", f"/consultations/{cid}/synthesis",
                     "/consultations/new", "/proposals/new?reports=1"):
            page.goto(path)
            found[path] = violations(page)
            assert page.evaluate("() => document.documentElement.scrollWidth") <= 360, path
        assert found == {path: [] for path in found}
        assert page.locator("html").get_attribute("lang") == lang
    finally:
        with db.engine.begin() as conn:
            from sqlalchemy import text

            conn.execute(text("DELETE FROM consultations WHERE id = :c"), {"c": cid})
