"""The participatory budget's vote and results in Chromium, on a phone (360 × 740): a resident
votes for all of Paris and in an arrondissement, changes a ballot, and moves to another
arrondissement by withdrawing the first ballot; a knapsack ballot adds its projects up as they
are ticked; an admin counts a small election worked out by hand and the results page shows
where greedy and the Method of Equal Shares differ, with the receipt check; the vote and
results pages pass axe-core at 360 px in French and English."""

from __future__ import annotations

import re
import time
from datetime import date, datetime

import pyotp
import pytest
import requests
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
from tests.test_budget import PARIS, move_to, phases_around

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740, "is_mobile": True, "has_touch": True}
PLACES = {11: (2.3795, 48.8635), 4: (2.3499, 48.8530)}  # rue Oberkampf (11e), Notre-Dame (4e)
# the small election worked out by hand (12 € for all of Paris): A (8 €) and C (4 €) chosen by
# 7 voters, B (4 €) by 5. Greedy: C and A (7 votes each, the cheaper first), then nothing is
# left for B. Equal Shares: 1 € per voter; A's 7 voters hold 7 € < 8 €, so C (4/7 € each)
# then B (4/5 € each); raising the shares to afford A would overspend (16 €).
ELECTION = {"A": ("Des arbres le long du canal", None, 8), "B": ("Une fontaine à boire", None, 4),
            "C": ("Des bancs au square", None, 4), "D": ("Une rue aux écoles rue Oberkampf", 11, 30)}


def account(app, name: str, roles=("resident",), verified: bool = True) -> tuple[str, int]:
    """A committed account (with a confirmed e-mail address unless `verified` is false)."""
    from app.accounts.services import create_user

    email = f"{unique(roles[0]).replace(' ', '-')}@{EMAIL_DOMAIN}"
    with app.app_context():
        user = create_user(db.session, email, PASSWORD, name, list(roles))
        if verified:
            user.email_verified_at = datetime.now(PARIS)
        db.session.commit()
        return email, user.id


def bearer(live_server, email: str, secret: str) -> dict:
    r = requests.post(f"{live_server}/api/v1/auth/token", timeout=10, json={
        "email": email, "password": PASSWORD, "totp_code": pyotp.TOTP(secret).at(time.time() + 30)})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture(scope="module")
def people(app, live_server):
    """An admin (two-factor sign-in on), a planner and a projects' author; the cycles made
    with them are deleted afterwards."""
    admin_email, admin_secret, admin_id = two_factor_account(app, "admin", "Administratrice")
    _, planner_id = account(app, "Direction des finances", ("planner",))
    _, author_id = account(app, "Porteuse de projets")
    made = {"admin": admin_id, "admin_email": admin_email, "admin_secret": admin_secret,
            "planner": planner_id, "author": author_id, "years": []}
    yield made
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM budget_cycles WHERE year = ANY(:y)"), {"y": made["years"]})


@pytest.fixture(scope="module")
def admin_api(app, live_server):
    """Another admin's bearer token, for the count through the API."""
    email, secret, _ = two_factor_account(app, "admin", "Administrateur")
    return bearer(live_server, email, secret)


def make_cycle(app, people, projects: dict, amounts: dict, **rule) -> dict:
    """A published cycle in its vote, with feasible projects {name: (title, arrondissement or
    None, cost in euros)} and envelopes {arrondissement or None: euros}: its year, id, envelope
    ids by arrondissement and the projects' ids by name."""
    from shapely.geometry import Point

    from app.accounts.models import User
    from app.budget import services
    from app.phases import PhaseDays

    year = next(y for y in range(2070, 2090)
                if y not in people["years"] and not scalar("SELECT 1 FROM budget_cycles WHERE year = :y", y=y))
    people["years"].append(year)
    days = [PhaseDays(p["phase"], date.fromisoformat(p["starts_on"]), date.fromisoformat(p["ends_on"]))
            for p in phases_around("submission")]
    with app.app_context():
        admin, author, planner = (db.session.get(User, people[k]) for k in ("admin", "author", "planner"))
        cycle = services.create_cycle(
            db.session, admin, {"year": year, "title": f"Budget participatif {year}",
                                "description": "Vos projets pour Paris et votre arrondissement.", **rule},
            days, [services.EnvelopeValues(a, euros * 100) for a, euros in amounts.items()])
        services.update_cycle(db.session, admin, cycle, {"status": "published"}, None, None)
        ids = {}
        for name, (title, arrondissement, _) in projects.items():
            place = Point(*PLACES[arrondissement]) if arrondissement else None
            project = services.submit(db.session, author, cycle, {
                "title": title, "theme": "vegetalisation", "description": "Pour le quartier."},
                place, arrondissement is None)
            ids[name] = project.id
        db.session.commit()
        cid = cycle.id
        move_to(db.session, cid, "feasibility")
        db.session.expire_all()
        for name, (_, _, euros) in projects.items():
            project = services.get_project(db.session, ids[name], planner, lock=True)
            services.study(db.session, planner, project, True, euros * 100, None)
        db.session.commit()
        move_to(db.session, cid, "vote")
        db.session.expire_all()
        envelopes = {e.arrondissement_id: e.id for e in services.get_cycle(db.session, cid, admin).envelopes}
        assert services.get_cycle(db.session, cid, admin).phase_at(services.now()) == "vote"
    return {"year": year, "id": cid, "envelopes": envelopes, "ids": ids}


def cast(app, cycle: dict, user_id: int, arrondissement: int | None, choices: list) -> str:
    """A ballot through the service (projects, or (project, grade) pairs): its receipt."""
    from app.accounts.models import User
    from app.budget import ballots

    with app.app_context():
        key = ballots.ballot_key(app.config["SECRET_KEY"])
        made = [ballots.Choice(*c) if isinstance(c, tuple) else ballots.Choice(c) for c in choices]
        mine = ballots.cast(db.session, key, db.session.get(User, user_id), cycle["id"],
                            cycle["envelopes"][arrondissement], made)
        db.session.commit()
    return next(b["receipt"] for b in mine["ballots"] if b["arrondissement"] == arrondissement)


def move(app, cycle: dict, stage: str) -> None:
    with app.app_context():
        move_to(db.session, cycle["id"], stage)


def ballots_of(cycle_id: int) -> dict:
    """The cycle's ballots in the database: {envelope's arrondissement: (receipt, [projects])}."""
    with db.engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT e.arrondissement_id, b.receipt, array_agg(c.project_id ORDER BY c.project_id) AS projects
            FROM budget_ballots b JOIN budget_envelopes e ON e.id = b.envelope_id
            JOIN budget_ballot_choices c ON c.ballot_id = b.id
            WHERE b.cycle_id = :c GROUP BY 1, 2"""), {"c": cycle_id}).all()
    return {r.arrondissement_id: (r.receipt, list(r.projects)) for r in rows}


def roll(cycle_id: int, user_id: int) -> list:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT paris_wide, arrondissement_id FROM budget_voters WHERE cycle_id = :c AND user_id = :u ORDER BY 1"),
            {"c": cycle_id, "u": user_id})]


def phone(open_context):
    """A page on a phone; a refused ballot's page (422, 409) is expected, not a console error."""
    context, watch = open_context(**PHONE)
    watch.allow(r"status of (422|409) ")
    return context.new_page()


def submit(page, form: str) -> None:
    page.locator(f"{form} button[type=submit]").click()


@pytest.fixture(scope="module")
def approval(app, people):
    """All of Paris (12 €: A 8 €, B and C 4 €), the 11e (D, F) and the 4e (E); at most 2 projects."""
    return make_cycle(app, people, {
        "A": ("Des arbres le long du canal", None, 8), "B": ("Une fontaine à boire", None, 4),
        "C": ("Des bancs au square", None, 4), "D": ("Une rue aux écoles rue Oberkampf", 11, 30),
        "F": ("Un jardin partagé rue Saint-Maur", 11, 20), "E": ("Des toilettes publiques sur le parvis", 4, 30)},
        {None: 12, 11: 100, 4: 100}, ballot_method="approval", max_choices=2)


def test_a_resident_votes_changes_and_moves_their_ballots_from_a_phone(app, approval, open_context):
    year, ids, cid = approval["year"], approval["ids"], approval["id"]
    email, uid = account(app, "Inès")
    page = phone(open_context)
    page.goto(f"/budget/{year}/vote")
    page.wait_for_url(re.compile(r"/login\?next="))  # signed out: sign in first, and come back
    sign_in(page, email, next_path=f"/budget/{year}")
    page.wait_for_url(re.compile(rf"/budget/{year}$"))
    page.locator("#vote-link").click()
    page.wait_for_url(re.compile(rf"/budget/{year}/vote$"))
    assert page.locator("#choose-arrondissement").is_visible()

    # all of Paris: A and C
    page.check(f"#choice-{ids['A']}")
    page.check(f"#choice-{ids['C']}")
    submit(page, "#ballot-paris")
    page.wait_for_url(re.compile(r"/vote#paris$"))
    page.locator("#notice-paris").wait_for()
    paris_receipt = page.locator("#receipt-paris .receipt-code").inner_text()
    assert ballots_of(cid) == {None: (paris_receipt, sorted([ids["A"], ids["C"]]))}
    assert roll(cid, uid) == [(True, None)]
    assert page.locator(f"#choice-{ids['A']}").is_checked() and page.locator(f"#choice-{ids['C']}").is_checked()
    assert not page.locator(f"#choice-{ids['B']}").is_checked()

    # a third project is one too many: refused, said at the top and on the ballot, nothing changes
    page.check(f"#choice-{ids['B']}")
    submit(page, "#ballot-paris")
    page.locator("#error-summary").wait_for()
    page.wait_for_function("() => document.activeElement.id === 'error-summary'")  # (budget-vote.js)
    assert page.locator("#ballot-paris-error").inner_text().strip() != ""
    assert page.locator(f"#choice-{ids['B']}").is_checked()  # as posted, to correct it
    assert ballots_of(cid) == {None: (paris_receipt, sorted([ids["A"], ids["C"]]))}

    # the 11e: D
    page.select_option("#f-arrondissement", "11")
    submit(page, "#arrondissement-form")
    page.wait_for_url(re.compile(r"arrondissement=11#local$"))
    assert page.locator(f"#choice-{ids['B']}").is_checked() is False  # the recorded ballot again
    page.check(f"#choice-{ids['D']}")
    submit(page, "#ballot-local")
    page.wait_for_url(re.compile(r"arrondissement=11#local$"))
    page.locator("#notice-local").wait_for()
    local_receipt = page.locator("#receipt-local .receipt-code").inner_text()
    assert local_receipt != paris_receipt

    # changing the Paris ballot: B instead of A, under the same receipt
    page.uncheck(f"#choice-{ids['A']}")
    page.check(f"#choice-{ids['B']}")
    submit(page, "#ballot-paris")
    page.wait_for_url(re.compile(r"arrondissement=11#paris$"))
    page.locator("#notice-paris").wait_for()
    assert page.locator("#receipt-paris .receipt-code").inner_text() == paris_receipt
    assert ballots_of(cid) == {None: (paris_receipt, sorted([ids["B"], ids["C"]])),
                               11: (local_receipt, [ids["D"]])}

    # the 4e instead: refused while the 11e ballot stands, withdrawn right there, then cast
    page.select_option("#f-arrondissement", "4")
    submit(page, "#arrondissement-form")
    page.wait_for_url(re.compile(r"arrondissement=4#local$"))
    assert page.locator("#other-arrondissement").is_visible()
    page.check(f"#choice-{ids['E']}")
    submit(page, "#ballot-local")
    page.locator("#error-summary").wait_for()
    assert page.locator("#error-summary a[href='#other-arrondissement']").count() == 1
    assert roll(cid, uid) == [(False, 11), (True, None)]
    page.locator("#withdraw-other button").click()
    page.wait_for_url(re.compile(r"arrondissement=4#local$"))
    page.locator("#notice-local").wait_for()
    assert page.locator("#other-arrondissement").count() == 0
    assert roll(cid, uid) == [(True, None)]
    page.check(f"#choice-{ids['E']}")
    submit(page, "#ballot-local")
    page.wait_for_url(re.compile(r"arrondissement=4#local$"))
    page.locator("#notice-local").wait_for()
    new_local = page.locator("#receipt-local .receipt-code").inner_text()

    # the database: two lines on the roll, two ballots with their choices; the page agrees
    assert roll(cid, uid) == [(False, 4), (True, None)]
    assert ballots_of(cid) == {None: (paris_receipt, sorted([ids["B"], ids["C"]])), 4: (new_local, [ids["E"]])}
    page.goto(f"/budget/{year}/vote")  # the arrondissement it votes in, by default
    assert page.locator("#f-arrondissement").input_value() == "4"
    assert page.locator("#receipt-paris").inner_text().count(paris_receipt) == 1
    assert page.locator("#receipt-local").inner_text().count(new_local) == 1
    checked = page.locator("input[name=project]:checked").evaluate_all("els => els.map(e => Number(e.value))")
    assert sorted(checked) == sorted([ids["B"], ids["C"], ids["E"]])
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360


def test_an_unverified_account_is_told_why_it_cannot_vote(app, approval, open_context):
    email, _ = account(app, "Nouvelle", verified=False)
    page = phone(open_context)
    sign_in(page, email, next_path=f"/budget/{approval['year']}/vote")
    page.wait_for_url(re.compile(r"/vote$"))
    assert page.locator("#unverified").is_visible()
    assert page.locator("form.ballot-form").count() == 0


def test_a_knapsack_ballot_adds_its_projects_up(app, people, open_context):
    c = make_cycle(app, people, ELECTION, {None: 12, 11: 100}, ballot_method="knapsack")
    ids = c["ids"]
    email, _ = account(app, "Zoé")
    page = phone(open_context)
    sign_in(page, email, next_path=f"/budget/{c['year']}/vote")
    page.wait_for_url(re.compile(r"/vote$"))
    total = page.locator("#total-paris")
    assert total.get_attribute("aria-live") == "polite"
    page.check(f"#choice-{ids['A']}")
    assert total.locator(".total-value").inner_text() == "8\xa0€"
    page.check(f"#choice-{ids['B']}")
    assert total.locator(".total-value").inner_text() == "12\xa0€"
    assert total.locator("[data-over]").is_hidden()
    page.check(f"#choice-{ids['C']}")
    assert total.locator(".total-value").inner_text() == "16\xa0€"
    assert total.locator("[data-over]").is_visible()
    submit(page, "#ballot-paris")  # the server refuses it anyway
    page.locator("#error-summary").wait_for()
    assert ballots_of(c["id"]) == {}
    page.uncheck(f"#choice-{ids['A']}")
    submit(page, "#ballot-paris")
    page.locator("#notice-paris").wait_for()
    assert list(ballots_of(c["id"])) == [None]
    assert total.locator(".total-value").inner_text() == "8\xa0€"


@pytest.fixture(scope="module")
def election(app, people):
    """ELECTION's 12 voters (7: A and C; 5: B; some in the 11e for D), the vote now over."""
    c = make_cycle(app, people, ELECTION, {None: 12, 11: 100}, ballot_method="approval")
    ids, receipts = c["ids"], {}
    for n in range(12):
        _, uid = account(app, f"Électrice {n}")
        receipts.setdefault("AC" if n < 7 else "B", []).append(
            cast(app, c, uid, None, [ids["A"], ids["C"]] if n < 7 else [ids["B"]]))
        if n % 3 == 0:
            cast(app, c, uid, 11, [ids["D"]])
    move(app, c, "results")
    return {**c, "receipts": receipts}


def outcomes(page, ids: dict) -> dict:
    """{name: (greedy, equal shares, marked as differing)} from the Paris-wide table."""
    out = {}
    for name, pid in ids.items():
        row = page.locator(f"#results-paris tr[data-project='{pid}']")
        if row.count():
            out[name] = ("outcome-won" in row.locator("td.greedy .outcome").get_attribute("class"),
                         "outcome-won" in row.locator("td.equal-shares .outcome").get_attribute("class"),
                         "rules-differ" in (row.get_attribute("class") or ""))
    return out


def test_an_admin_counts_and_the_results_show_both_rules(app, people, election, open_context, live_server):
    year, ids = election["year"], election["ids"]
    page = phone(open_context)
    page.goto(f"/budget/{year}/results")
    assert page.locator("#not-counted").is_visible()
    sign_in(page, people["admin_email"], totp_secret=people["admin_secret"], next_path=f"/budget/{year}")
    page.wait_for_url(re.compile(rf"/budget/{year}$"))
    page.locator("#count-button").click()
    page.wait_for_url(re.compile(rf"/budget/{year}/results$"))
    page.locator("#notice").wait_for()
    assert outcomes(page, ids) == {"A": (True, False, True), "B": (False, True, True), "C": (True, True, False)}
    # the greedy order: C and A (7 votes, the cheaper first), then B with nothing left
    rows = page.locator("#results-paris tbody tr").evaluate_all("rs => rs.map(r => Number(r.dataset.project))")
    assert rows == [ids["C"], ids["A"], ids["B"]]
    left = page.locator("#results-paris tbody tr td:nth-of-type(3)").all_inner_texts()
    assert [re.sub(r"\D", "", t) for t in left] == ["12", "8", "0"]
    totals = page.locator("#envelope-paris .rule-totals li").all_inner_texts()
    assert "12" in totals[0] and "8" in totals[1]
    assert page.locator("#envelope-paris .meta").first.inner_text().startswith("12")
    assert scalar("SELECT status FROM budget_projects WHERE id = :p", p=ids["A"]) == "won"  # greedy decides
    # anyone can recount: the envelope's Pabulib file
    href = page.locator("#envelope-paris a.pabulib-link").get_attribute("href")
    pb = requests.get(live_server + href, timeout=10)
    assert pb.status_code == 200 and "PROJECTS" in pb.text and election["receipts"]["B"][0] in pb.text
    # a receipt finds its ballot; a wrong one finds none
    page.locator("#f-receipt").fill(election["receipts"]["B"][0].lower())
    submit(page, "#receipt-form")
    page.wait_for_url(re.compile(r"receipt=.*#check$"))
    assert page.locator("#receipt-result li").all_inner_texts() == [ELECTION["B"][0]]
    page.locator("#f-receipt").fill("AAAAAAAAAAAA")
    submit(page, "#receipt-form")
    page.wait_for_url(re.compile(r"receipt=AAAAAAAAAAAA#check$"))
    assert page.locator("#receipt-none").is_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    # the vote is over: its page says so and leads to the results, as the cycle's page does
    page.goto(f"/budget/{year}/vote")
    assert page.locator("#vote-closed a[href$='/results']").count() == 1
    page.goto(f"/budget/{year}")
    assert page.locator("#results-link").count() == 1 and page.locator("#vote-link").count() == 0


@pytest.fixture(scope="module")
def judgment(app, people, live_server, admin_api):
    """Majority judgment (4 grades): one cycle in its vote, one counted through the API."""
    projects = {**ELECTION, "F": ("Un jardin partagé rue Saint-Maur", 11, 20)}
    voting = make_cycle(app, people, projects, {None: 12, 11: 100}, ballot_method="majority_judgment")
    counted = make_cycle(app, people, projects, {None: 12, 11: 100}, ballot_method="majority_judgment",
                         winners_rule="equal_shares")
    ids = counted["ids"]
    for n, grades in enumerate([(3, 1, 2), (3, 0, 3), (2, 3, 1), (1, 3, 3), (0, 2, 2)]):
        _, uid = account(app, f"Juge {n}")
        cast(app, counted, uid, None, [(ids[name], g) for name, g in zip("ABC", grades, strict=True)])
        cast(app, counted, uid, 11, [(ids["D"], n % 4), (ids["F"], 3 - n % 4)])
    move(app, counted, "results")
    r = requests.post(f"{live_server}/api/v1/budgets/{counted['id']}/count", headers=admin_api, timeout=30)
    assert r.status_code == 200, r.text
    return {"voting": voting, "counted": counted}


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_vote_and_results_pages_pass_axe_at_360_px(app, approval, election, judgment, admin_api,
                                                       live_server, open_context, lang):
    r = requests.post(f"{live_server}/api/v1/budgets/{election['id']}/count", headers=admin_api, timeout=30)
    assert r.status_code == 200, r.text  # counted (again: the same) whichever test runs first
    email, uid = account(app, "Aïcha")
    cast(app, approval, uid, None, [approval["ids"]["A"]])
    voting = judgment["voting"]
    cast(app, voting, uid, None, [(voting["ids"]["A"], 3), (voting["ids"]["C"], 1)])
    cast(app, voting, uid, 11, [(voting["ids"]["D"], 2)])
    receipt = election["receipts"]["AC"][0]
    page = phone(open_context)
    sign_in(page, email, next_path=f"/lang/{lang}?next=/budget/{approval['year']}/vote")
    page.wait_for_url(re.compile(r"/vote$"))
    found = {}
    for path, shot in (
        (f"/budget/{approval['year']}/vote?arrondissement=11", "budget-vote-approval"),
        (f"/budget/{voting['year']}/vote", "budget-vote-majority-judgment"),
        (f"/budget/{election['year']}/results?receipt={receipt}", "budget-results"),
        (f"/budget/{judgment['counted']['year']}/results", "budget-results-majority-judgment"),
        (f"/budget/{election['year']}", None),
    ):
        page.goto(path)
        found[path] = violations(page)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 360, path
        assert page.locator("html").get_attribute("lang") == lang
        if shot:
            page.screenshot(path=str(ARTIFACTS / f"{shot}-{lang}.png"), full_page=True)
        if shot and "results" in shot:  # the table scrolled to its last columns, the names still in view
            region = page.locator("#envelope-paris .table-scroll")
            region.evaluate("e => { e.scrollLeft = e.scrollWidth; }")
            region.screenshot(path=str(ARTIFACTS / f"{shot}-table-{lang}.png"))
    # a refused ballot: its error summary and the fields marked
    page.goto(f"/budget/{approval['year']}/vote")
    for name in "ABC":
        page.check(f"#choice-{approval['ids'][name]}")
    submit(page, "#ballot-paris")
    page.locator("#error-summary").wait_for()
    found["refused"] = violations(page)
    page.screenshot(path=str(ARTIFACTS / f"budget-vote-refused-{lang}.png"), full_page=True)
    assert found == {path: [] for path in found}
