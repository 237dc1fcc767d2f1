"""The participatory budget in Chromium: the delivery map (Leaflet) draws the winning projects
the filters choose, with its list as a complete alternative; a resident submits a project from
a phone; every budget page passes axe-core at 360 px, in French and English."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from app.db import db
from tests.browser.conftest import (
    ARTIFACTS,
    EMAIL_DOMAIN,
    PASSWORD,
    scalar,
    sign_in,
    two_factor_account,
    unique,
)
from tests.browser.test_accessibility import violations

pytestmark = pytest.mark.browser

WINNERS = Path(__file__).resolve().parents[2] / "data" / "bp_projets_gagnants.csv"
PARIS = ZoneInfo("Europe/Paris")
ORDER = ("submission", "co_construction", "feasibility", "vote", "results", "delivery")


def account(app, name: str, roles=("resident",)) -> tuple[str, int]:
    """A committed account with a confirmed e-mail address: (e-mail, id)."""
    from app.accounts.services import create_user

    email = f"{unique(roles[0]).replace(' ', '-')}@{EMAIL_DOMAIN}"
    with app.app_context():
        user = create_user(db.session, email, PASSWORD, name, list(roles))
        user.email_verified_at = datetime.now(PARIS)
        db.session.commit()
        return email, user.id


def phases(stage: str) -> list:
    from app.budget.services import PhaseDays

    today = datetime.now(PARIS).date()
    start, out = today - timedelta(days=2 + 10 * ORDER.index(stage)), []
    for name in ORDER:
        out.append(PhaseDays(name, start, start + timedelta(days=9)))
        start += timedelta(days=10)
    return out


@pytest.fixture(scope="module")
def budget(app, live_server):
    """The city's winning projects imported (unless they already were), and two cycles of our
    own: one taking projects (with a project on the map), one in its feasibility study. All
    of it deleted afterwards."""
    from app.accounts.models import User
    from app.budget import services
    from app.budget.services import EnvelopeValues

    had_winners = scalar("SELECT count(*) FROM budget_cycles WHERE imported")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["budget", "import-winners", str(WINNERS)])
    assert result.exit_code == 0, result.output
    _admin_email, _secret, admin_id = two_factor_account(app, "admin", "Administratrice")
    resident_email, resident_id = account(app, "Inès")
    planner_email, planner_id = account(app, "Direction des espaces verts", ("planner",))
    years = [2090 + n for n in range(10) if not scalar("SELECT 1 FROM budget_cycles WHERE year = :y",
                                                        y=2090 + n)][:2]
    made = {}
    with app.app_context():
        admin = db.session.get(User, admin_id)
        resident = db.session.get(User, resident_id)
        for year, stage in zip(years, ("submission", "feasibility"), strict=True):
            cycle = services.create_cycle(
                db.session, admin, {"year": year, "title": f"Budget participatif {year}",
                                    "description": "Vos projets pour Paris et votre arrondissement."},
                phases("submission"),
                [EnvelopeValues(None, 3_000_000_000)] + [EnvelopeValues(n, 400_000_000, 100_000_000)
                                                         for n in range(1, 21)])
            services.update_cycle(db.session, admin, cycle, {"status": "published"}, None, None)
            from shapely.geometry import Point

            project = services.submit(db.session, resident, cycle, {
                "title": unique("Des arbres rue Oberkampf"), "theme": "vegetalisation",
                "description": "Planter six arbres.", "estimated_cost_cents": 4_500_000},
                Point(2.3795, 48.8635), False)
            made[stage] = {"year": year, "cycle": cycle.id, "project": project.id}
        db.session.commit()
    with db.engine.begin() as conn:  # time passes for the second cycle: its feasibility study
        conn.execute(text("DELETE FROM budget_phases WHERE cycle_id = :c"), {"c": made["feasibility"]["cycle"]})
        for p in phases("feasibility"):
            conn.execute(text("INSERT INTO budget_phases VALUES (:c, :p, :s, :e)"), {
                "c": made["feasibility"]["cycle"], "p": p.phase,
                "s": datetime.combine(p.starts_on, datetime.min.time(), PARIS),
                "e": datetime.combine(p.ends_on + timedelta(days=1), datetime.min.time(), PARIS)})
    won = scalar("SELECT min(id) FROM budget_projects WHERE status = 'won' AND located_by = 'address'")
    yield {**made, "resident": resident_email, "planner": planner_email, "won": won,
           "approximate": scalar("SELECT min(id) FROM budget_projects WHERE geom_approximate"),
           "paris_wide": scalar("SELECT min(id) FROM budget_projects WHERE geom IS NULL")}
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM budget_cycles WHERE year = ANY(:y)"), {"y": years})
        if not had_winners:
            conn.execute(text("DELETE FROM budget_cycles WHERE imported"))


def test_the_delivery_map_and_its_list(budget, open_context):
    context, _watch = open_context(width=360, height=740, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto("/budget/delivery?year=2016&arrondissement=11")
    page.locator("#map[data-loaded='true']").wait_for()
    listed = page.locator("#delivery-list .budget-card").count()
    expected = scalar("""SELECT count(*) FROM budget_projects p JOIN budget_cycles k ON k.id = p.cycle_id
                         WHERE k.year = 2016 AND p.arrondissement_id = 11 AND p.status = 'won'""")
    assert listed == expected > 0
    assert int(page.locator("#map").get_attribute("data-projects")) == expected
    placed = scalar("""SELECT count(*) FROM budget_projects p JOIN budget_cycles k ON k.id = p.cycle_id
                       WHERE k.year = 2016 AND p.arrondissement_id = 11 AND NOT p.geom_approximate
                       AND p.geom IS NOT NULL""")
    assert page.locator("#map path.delivery-dot").count() == placed
    # the projects without a precise place share one dashed ring, whose popup lists them
    assert page.locator("#map path.approximate-ring").count() == 1
    page.locator("#map path.approximate-ring").dispatch_event("click")
    popup = page.locator(".leaflet-popup-content")
    popup.get_by_role("link").first.wait_for()
    assert popup.get_by_role("link").count() == min(10, expected - placed)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    assert violations(page) == []
    page.screenshot(path=str(ARTIFACTS / "budget-delivery-phone.png"), full_page=True)
    # the list alone: its filters work without the map
    page.select_option("#f-delivery", "delivered")
    page.get_by_role("button", name=re.compile("Filtrer|Filter")).click()
    page.wait_for_url(re.compile(r"delivery_status=delivered"))
    statuses = set(page.locator("#delivery-list .delivery-status").all_inner_texts())
    assert len(statuses) == 1


def test_a_resident_submits_a_project_from_a_phone(app, budget, open_context):
    context, _watch = open_context(width=360, height=740, is_mobile=True, has_touch=True)
    page = context.new_page()
    year = budget["submission"]["year"]
    sign_in(page, budget["resident"], next_path=f"/budget/{year}/submit")
    page.wait_for_url(re.compile(rf"/budget/{year}/submit$"))
    title = unique("Un jardin partagé")
    page.locator("#f-title").fill(title)
    page.locator("#f-theme").select_option("vegetalisation")
    page.locator("#f-cost").fill("12 000")
    page.locator("#map.leaflet-container").wait_for()
    # a line along the street: two taps on the map (the form's `geometry` is GeoJSON)
    page.locator("label[for=f-shape-LineString]").click()
    page.locator("#place-centre").click()
    assert json.loads(page.locator("#f-geometry").input_value() or "null") is None  # one point is no line
    box = page.locator("#map").bounding_box()
    page.locator("#map").click(position={"x": box["width"] / 2 + 40, "y": box["height"] / 2 + 10})
    line = json.loads(page.locator("#f-geometry").input_value())
    assert line["type"] == "LineString" and len(line["coordinates"]) == 2
    assert "2 " in page.locator("#place-status").inner_text()
    page.locator("#submit-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/budget/projects/\d+$"))
    assert page.locator("#project-title").inner_text() == title
    page.locator("#map .leaflet-interactive, #map path").first.wait_for(state="attached")
    assert scalar("SELECT estimated_cost_cents FROM budget_projects WHERE title = :t", t=title) == 1_200_000
    assert scalar("SELECT GeometryType(geom) || ST_NPoints(geom) FROM budget_projects WHERE title = :t",
                  t=title) == "LINESTRING2"
    page.locator("#support-button").click()
    page.wait_for_url(re.compile(r"/budget/projects/\d+$"))
    assert page.locator("#supporters").inner_text() == "1"


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_budget_page_passes_axe_at_360_px(budget, open_context, lang):
    context, _watch = open_context(width=360, height=740, is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_in(page, budget["planner"], next_path=f"/lang/{lang}?next=/budget")
    page.wait_for_url(re.compile(r"/budget$"))
    found = {}
    submission, feasibility = budget["submission"], budget["feasibility"]
    for path, ready in (
        ("/budget", None), (f"/budget/{submission['year']}", None), ("/budget/2016", None),
        (f"/budget/projects/{submission['project']}", "#map.leaflet-container"),
        (f"/budget/projects/{feasibility['project']}", "#study-form"),
        (f"/budget/projects/{budget['won']}", "#delivery-form"),
        (f"/budget/projects/{budget['approximate']}", "#map path.approximate-ring"),
        (f"/budget/projects/{budget['paris_wide']}", None),
        ("/budget/delivery", "#map[data-loaded='true']"),
        (f"/budget/{submission['year']}/submit", "#map.leaflet-container"),
    ):
        page.goto(path)
        if ready:
            page.locator(ready).first.wait_for()
        found[path] = violations(page)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 360, path
        assert page.locator("html").get_attribute("lang") == lang
    assert found == {path: [] for path in found}
