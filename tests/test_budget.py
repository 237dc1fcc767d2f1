"""The participatory budget, part 1: cycles with Paris-day phases and envelopes, projects and
the envelope their place chooses, the phase rules, the city's feasibility study, merging (every
author and supporter kept), delivery, the chain from proposals and reports, privacy, the pages,
and the import of the city's winning projects (bp_projets_gagnants.csv) with its geocoding."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from tests.conftest import browser, feature

PARIS = ZoneInfo("Europe/Paris")
TODAY = datetime.now(PARIS).date()
ORDER = ("submission", "co_construction", "feasibility", "vote", "results", "delivery")
WINNERS = Path(__file__).resolve().parent.parent / "data" / "bp_projets_gagnants.csv"
IN_11E = (2.3795, 48.8635)      # rue Oberkampf (11e)
IN_4E = (2.3499, 48.8530)       # the parvis of Notre-Dame (4e)
IN_15E = (2.2980, 48.8420)      # rue de Vaugirard (15e)


def phases_around(stage: str, first: date | None = None) -> list[dict]:
    """Contiguous phases, in order, with today in `stage` (10 days each, 400 for delivery)."""
    index = ORDER.index(stage)
    start = (first or TODAY - timedelta(days=2)) - timedelta(days=10 * index)
    out = []
    for name in ORDER:
        days = 400 if name == "delivery" else 10
        out.append({"phase": name, "starts_on": start.isoformat(),
                    "ends_on": (start + timedelta(days=days - 1)).isoformat()})
        start += timedelta(days=days)
    return out


def cycle_body(year=2031, stage="submission", **changes) -> dict:
    return {"year": year, "title": f"Budget participatif {year}", "description": "Vos projets pour Paris.",
            "phases": phases_around(stage),
            "envelopes": [{"arrondissement": None, "amount_cents": 3_000_000_000},
                          {"arrondissement": 11, "amount_cents": 400_000_000, "popular_share_cents": 150_000_000},
                          {"arrondissement": 4, "amount_cents": 100_000_000}], **changes}


def codes(r) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in r.json.get("errors", [])]


@pytest.fixture
def admin(make_user):
    return make_user(("admin",), name="Administratrice")


@pytest.fixture
def planner(make_user):
    return make_user(("planner",), name="Direction de la voirie")


@pytest.fixture
def residents(make_user, verify):
    def make(*names):
        return [verify(make_user(name=n)) for n in names]

    return make


@pytest.fixture
def cycle(admin):
    """cycle(stage, year=…): a published cycle with today in `stage`."""

    def make(stage="submission", year=2031, **changes) -> dict:
        r = admin.post("/api/v1/budgets", json=cycle_body(year, stage, **changes))
        assert r.status_code == 201, r.json
        published = admin.patch(f"/api/v1/budgets/{r.json['id']}", json={"status": "published"})
        assert published.status_code == 200, published.json
        assert published.json["stage"] == stage
        return published.json

    return make


def move_to(session, cycle_id: int, stage: str) -> None:
    """Time passes: the cycle's phases shifted so that today is in `stage`."""
    session.execute(text("DELETE FROM budget_phases WHERE cycle_id = :c"), {"c": cycle_id})
    for p in phases_around(stage):
        starts = datetime.combine(date.fromisoformat(p["starts_on"]), datetime.min.time(), PARIS)
        ends = datetime.combine(date.fromisoformat(p["ends_on"]) + timedelta(days=1), datetime.min.time(), PARIS)
        session.execute(text("INSERT INTO budget_phases (cycle_id, phase, starts_at, ends_at) "
                             "VALUES (:c, :p, :s, :e)"), {"c": cycle_id, "p": p["phase"], "s": starts, "e": ends})
    session.commit()


def project(api, cycle_id, lon_lat=IN_11E, **body):
    data = {"title": "Des arbres rue Oberkampf", "theme": "vegetalisation",
            "description": "Planter des arbres.", **body}
    if "geometry" not in body and not body.get("paris_wide") and "proposal" not in body:
        data["geometry"] = {"type": "Point", "coordinates": list(lon_lat)}
    return api.post(f"/api/v1/budgets/{cycle_id}/projects", json=data)


def submitted(api, cycle_id, **body) -> dict:
    r = project(api, cycle_id, **body)
    assert r.status_code == 201, r.json
    return r.json


def people(session, project_id: int) -> set[tuple[int, str]]:
    return set(session.execute(text("SELECT user_id, role FROM budget_project_people WHERE project_id = :p"),
                               {"p": project_id}).all())


# ---- cycles -----------------------------------------------------------------------------------

def test_an_admin_opens_a_cycle_that_only_admins_see_until_published(admin, planner, residents, client):
    (alice,) = residents("Alice")
    for who in (alice, planner):
        assert who.post("/api/v1/budgets", json=cycle_body()).status_code == 403
    assert client.post("/api/v1/budgets", json=cycle_body()).status_code == 401
    r = admin.post("/api/v1/budgets", json=cycle_body(ballot_method="majority_judgment"))
    assert r.status_code == 201, r.json
    c = r.json
    assert r.headers["Location"] == f"/api/v1/budgets/{c['id']}"
    assert (c["status"], c["stage"], c["can"], c["imported"]) == ("draft", "draft", [], False)
    assert (c["ballot_method"], c["grades"], c["max_choices"]) == ("majority_judgment", 4, None)
    assert [(e["arrondissement"], e["amount_cents"], e["popular_share_cents"]) for e in c["envelopes"]] == [
        (None, 3_000_000_000, None), (4, 100_000_000, None), (11, 400_000_000, 150_000_000)]
    assert [p["phase"] for p in c["phases"]] == list(ORDER)
    url = f"/api/v1/budgets/{c['id']}"
    assert client.get(url).status_code == 404 and alice.get(url).status_code == 404
    assert c["id"] not in [b["id"] for b in client.get("/api/v1/budgets").json["budgets"]]
    assert admin.post("/api/v1/budgets", json=cycle_body()).json["code"] == "budget_year_taken"

    published = admin.patch(url, json={"status": "published"})
    assert (published.json["status"], published.json["stage"], published.json["can"],
            published.json["planners_can"]) == ("published", "submission", ["submit", "support"], ["edit"])
    assert client.get(url).json["id"] == c["id"]
    back = admin.patch(url, json={"status": "draft"})
    assert back.status_code == 409 and back.json["code"] == "budget_published"
    frozen = admin.patch(url, json={"year": 2032})
    assert frozen.status_code == 422 and codes(frozen) == [("year", "budget_frozen_once_published")]


def test_phases_are_paris_days_in_order_and_the_past_does_not_change(admin, session):
    # 28 March 2027: clocks go forward; the submission phase ends at midnight +02:00
    phases = [{"phase": "submission", "starts_on": "2027-03-01", "ends_on": "2027-03-28"},
              {"phase": "co_construction", "starts_on": "2027-03-29", "ends_on": "2027-04-30"}]
    r = admin.post("/api/v1/budgets", json=cycle_body(2027, phases=phases))
    assert r.status_code == 201, r.json
    first, second = r.json["phases"]
    assert datetime.fromisoformat(first["starts_at"]) == datetime(2027, 2, 28, 23, 0, tzinfo=UTC)
    assert datetime.fromisoformat(first["ends_at"]) == datetime(2027, 3, 28, 22, 0, tzinfo=UTC)
    assert (first["starts_on"], first["ends_on"]) == ("2027-03-01", "2027-03-28")
    assert second["starts_at"] == first["ends_at"]

    wrong = admin.post("/api/v1/budgets", json=cycle_body(2028, phases=[
        {"phase": "vote", "starts_on": "2028-01-01", "ends_on": "2028-01-10"},
        {"phase": "submission", "starts_on": "2028-01-11", "ends_on": "2028-01-20"}]))
    assert wrong.status_code == 422 and codes(wrong) == [("phases", "phases_out_of_order")]
    gap = admin.post("/api/v1/budgets", json=cycle_body(2028, phases=[
        {"phase": "submission", "starts_on": "2028-01-01", "ends_on": "2028-01-10"},
        {"phase": "co_construction", "starts_on": "2028-01-12", "ends_on": "2028-01-20"}]))
    assert codes(gap) == [("phases[1].starts_on", "phase_not_contiguous")]
    envelopes = admin.post("/api/v1/budgets", json=cycle_body(2028, envelopes=[
        {"arrondissement": 4, "amount_cents": 10}, {"arrondissement": 4, "amount_cents": 10,
                                                     "popular_share_cents": 11}]))
    assert set(codes(envelopes)) == {("envelopes[1].arrondissement", "duplicate_envelope"),
                                     ("envelopes[1].popular_share_cents", "popular_share_above_amount")}
    # the database says it too: one Paris-wide envelope per cycle (NULLS NOT DISTINCT), no overlap
    cid = r.json["id"]
    with pytest.raises(Exception, match="uq_budget_envelopes_cycle_id_arrondissement_id"):
        with session.begin_nested():
            session.execute(text("INSERT INTO budget_envelopes (cycle_id, arrondissement_id, amount_cents) "
                                 "VALUES (:c, NULL, 1)"), {"c": cid})
    with pytest.raises(Exception, match="ex_budget_phases_overlap"):
        with session.begin_nested():
            session.execute(text("INSERT INTO budget_phases (cycle_id, phase, starts_at, ends_at) "
                                 "VALUES (:c, 'vote', '2027-04-01', '2027-05-01')"), {"c": cid})

    # published and under way: a phase that has started keeps its start
    started = admin.post("/api/v1/budgets", json=cycle_body(2029, stage="co_construction"))
    url = f"/api/v1/budgets/{started.json['id']}"
    admin.patch(url, json={"status": "published"})
    moved = phases_around("co_construction", first=TODAY - timedelta(days=1))
    r = admin.patch(url, json={"phases": moved})
    assert r.status_code == 422 and codes(r) == [("phases", "budget_phase_started")]
    longer = phases_around("co_construction")
    longer[-1]["ends_on"] = (date.fromisoformat(longer[-1]["ends_on"]) + timedelta(days=30)).isoformat()
    assert admin.patch(url, json={"phases": longer}).status_code == 200


# ---- projects and their envelope ----------------------------------------------------------------

def test_the_envelope_follows_the_place_unless_paris_wide(cycle, residents, session):
    c = cycle()
    (alice,) = residents("Alice")
    in_11e = submitted(alice, c["id"])
    props = in_11e["properties"]
    assert in_11e["geometry"] == {"type": "Point", "coordinates": list(IN_11E)}
    assert (props["envelope_arrondissement"], props["arrondissement"], props["paris_wide"]) == (11, 11, False)
    assert (props["status"], props["located_by"], props["approximate"], props["authors"]) == (
        "submitted", "map", False, ["Alice"])
    envelope_11 = next(e["id"] for e in c["envelopes"] if e["arrondissement"] == 11)
    assert session.scalar(text("SELECT envelope_id FROM budget_projects WHERE id = :p"),
                          {"p": in_11e["id"]}) == envelope_11

    wide = submitted(alice, c["id"], paris_wide=True, title="Des fontaines dans tout Paris")
    assert (wide["geometry"], wide["properties"]["paris_wide"], wide["properties"]["envelope_arrondissement"],
            wide["properties"]["arrondissement"]) == (None, True, None, None)
    # Paris-wide with a place: the Paris envelope, located where it is
    both = submitted(alice, c["id"], paris_wide=True, geometry={"type": "Point", "coordinates": list(IN_4E)})
    assert (both["properties"]["envelope_arrondissement"], both["properties"]["arrondissement"]) == (None, 4)
    # a line across the 4e: located by its point on the line
    line = submitted(alice, c["id"], geometry={"type": "LineString", "coordinates": [
        [2.3490, 48.8527], [2.3510, 48.8533]]}, title="Une piste cyclable")
    assert line["properties"]["envelope_arrondissement"] == 4
    # the 15e has no envelope in this cycle
    r = project(alice, c["id"], lon_lat=IN_15E)
    assert r.status_code == 422 and codes(r) == [("geometry", "no_envelope")]
    nowhere = project(alice, c["id"], geometry=None)
    assert nowhere.status_code == 422
    counts = {e["arrondissement"]: e["projects"] for e in alice.get(f"/api/v1/budgets/{c['id']}").json["envelopes"]}
    assert counts == {None: 2, 4: 1, 11: 1}

    # its author moves it into the 4e: the envelope follows
    moved = alice.patch(f"/api/v1/budget-projects/{in_11e['id']}", json={
        "geometry": {"type": "Point", "coordinates": list(IN_4E)}, "title": "Des arbres sur le parvis"})
    assert moved.status_code == 200, moved.json
    assert (moved.json["properties"]["envelope_arrondissement"], moved.json["properties"]["title"]) == (
        4, "Des arbres sur le parvis")


def test_what_each_phase_allows(cycle, residents, planner, make_user, session, client):
    c = cycle("submission")
    alice, bob = residents("Alice", "Bob")
    unverified = make_user(name="Pas confirmé")
    r = project(unverified, c["id"])
    assert r.status_code == 403 and r.json["code"] == "email_unverified"
    p = submitted(alice, c["id"])
    url = f"/api/v1/budget-projects/{p['id']}"
    assert bob.put(f"{url}/support").json == {"id": p["id"], "supporters": 1, "supporting": True}
    assert bob.put(f"{url}/support").json["supporters"] == 1  # again: the same
    # planners study in the feasibility phase only
    early = planner.post(f"{url}/feasibility", json={"feasible": True, "cost_cents": 100})
    assert early.status_code == 409 and (early.json["code"], early.json["phase"]) == ("budget_phase", "submission")
    assert "submission" in early.json["detail"]
    english = planner.post(f"{url}/feasibility", json={"feasible": True, "cost_cents": 100},
                           headers={"Accept-Language": "en"})
    assert english.json["detail"] == "The participatory budget's current phase (submission) does not allow this."

    move_to(session, c["id"], "co_construction")
    late = project(bob, c["id"])
    assert late.status_code == 409 and late.json["phase"] == "co_construction"
    assert alice.patch(url, json={"title": "Trop tard"}).json["code"] == "budget_phase"  # authors: submission only
    assert planner.patch(url, json={"title": "Des arbres et des bancs"}).status_code == 200  # co-construction
    assert bob.delete(f"{url}/support").json["supporters"] == 0  # still supporting in co-construction

    move_to(session, c["id"], "vote")
    assert bob.put(f"{url}/support").json["code"] == "budget_phase"
    assert planner.post(f"{url}/merge", json={"into": p["id"]}).status_code == 422  # itself
    assert planner.put(f"{url}/delivery", json={"status": "works"}).json["code"] == "budget_phase"
    assert client.get(f"/api/v1/budgets/{c['id']}").json["can"] == ["vote"]

    move_to(session, c["id"], "results")
    # a winner only (the results of the ballots come next): a submitted project is refused
    refused = planner.put(f"{url}/delivery", json={"status": "works"})
    assert refused.status_code == 409 and (refused.json["code"], refused.json["project_status"]) == (
        "budget_project_status", "submitted")


def test_the_city_studies_feasibility_in_its_phase(cycle, residents, planner, session, client):
    c = cycle("submission")
    (alice,) = residents("Alice")
    good, bad = submitted(alice, c["id"]), submitted(alice, c["id"], title="Un téléphérique")
    move_to(session, c["id"], "feasibility")
    assert alice.post(f"/api/v1/budget-projects/{good['id']}/feasibility",
                      json={"feasible": True, "cost_cents": 1}).status_code == 403
    missing = planner.post(f"/api/v1/budget-projects/{good['id']}/feasibility", json={"feasible": True})
    assert missing.status_code == 422 and codes(missing) == [("cost_cents", "required")]
    r = planner.post(f"/api/v1/budget-projects/{good['id']}/feasibility",
                     json={"feasible": True, "cost_cents": 25_000_000})
    assert r.status_code == 200, r.json
    assert (r.json["properties"]["status"], r.json["properties"]["cost_cents"],
            r.json["properties"]["feasibility"]["feasible"]) == ("feasible", 25_000_000, True)
    no = planner.post(f"/api/v1/budget-projects/{bad['id']}/feasibility",
                      json={"feasible": False, "reason": "Hors des compétences de la Ville."})
    assert no.status_code == 200
    public = client.get(f"/api/v1/budget-projects/{bad['id']}").json["properties"]
    assert (public["status"], public["feasibility"]["feasible"], public["feasibility"]["reason"]) == (
        "not_feasible", False, "Hors des compétences de la Ville.")
    # decided again within the phase; audited
    again = planner.post(f"/api/v1/budget-projects/{bad['id']}/feasibility",
                         json={"feasible": True, "cost_cents": 9_900})
    assert again.json["properties"]["feasibility"] == {**again.json["properties"]["feasibility"],
                                                       "feasible": True, "reason": None, "cost_cents": 9_900}
    audited = session.execute(text("SELECT action, details->'changes'->>'status' FROM audit_log "
                                   "WHERE subject_type = 'budget_project' AND subject_id = :p ORDER BY id"),
                              {"p": str(bad["id"])}).all()
    assert audited == [("budget.feasibility", "not_feasible"), ("budget.feasibility", "feasible")]
    themed = client.get(f"/api/v1/budgets/{c['id']}/projects?theme=mobilite").json["features"]
    assert themed == []  # both are about greening
    move_to(session, c["id"], "submission")
    submitted(alice, c["id"], theme="mobilite.velo", title="Des arceaux à vélo")
    move_to(session, c["id"], "feasibility")
    themed = client.get(f"/api/v1/budgets/{c['id']}/projects?theme=mobilite").json["features"]
    assert [f["properties"]["theme"] for f in themed] == ["mobilite.velo"]  # a sub-theme is in its theme
    feasible = client.get(f"/api/v1/budgets/{c['id']}/projects?status=feasible").json
    assert sorted(f["id"] for f in feasible["features"]) == sorted([good["id"], bad["id"]])


def test_merging_keeps_every_author_and_supporter(cycle, residents, planner, session, make_report):
    c = cycle("submission")
    alice, bob, carol, dave = residents("Alice", "Bob", "Carol", "Dave")
    report = make_report(api=carol, lon=IN_11E[0], lat=IN_11E[1], title="Trottoir sans ombre")
    a = submitted(alice, c["id"], links=[report["id"]])
    b = submitted(dave, c["id"], title="Plus d'ombre rue Oberkampf")
    other = submitted(dave, c["id"], paris_wide=True, title="Des arbres partout")
    for who, target in ((bob, a), (carol, a), (bob, b), (alice, b)):
        assert who.put(f"/api/v1/budget-projects/{target['id']}/support").status_code == 200
    before_a = people(session, a["id"])
    assert before_a == {(alice.user_id, "author"), (bob.user_id, "supporter"), (carol.user_id, "supporter")}

    url = f"/api/v1/budget-projects/{a['id']}/merge"
    assert planner.post(url, json={"into": b["id"]}).json["code"] == "budget_phase"  # not yet
    move_to(session, c["id"], "co_construction")
    assert alice.post(url, json={"into": b["id"]}).status_code == 403
    assert codes(planner.post(url, json={"into": other["id"]})) == [("into", "merge_other_envelope")]
    assert codes(planner.post(url, json={"into": a["id"]})) == [("into", "merge_into_itself")]
    assert codes(planner.post(url, json={"into": 999_999_999})) == [("into", "unknown_budget_project")]
    r = planner.post(url, json={"into": b["id"]})
    assert r.status_code == 200, r.json
    assert (r.json["merged"]["properties"]["status"], r.json["merged"]["properties"]["merged_into"]) == (
        "merged", b["id"])
    assert people(session, b["id"]) == {
        (dave.user_id, "author"), (alice.user_id, "author"), (bob.user_id, "supporter"),
        (carol.user_id, "supporter"), (alice.user_id, "supporter")}
    assert people(session, a["id"]) == before_a  # the merged project keeps its record
    into = r.json["into"]["properties"]
    assert sorted(into["authors"]) == ["Alice", "Dave"] and into["supporters"] == 3
    assert [link["id"] for link in into["links"]] == [report["id"]]
    assert into["merged_from"] == [{"id": a["id"], "title": a["properties"]["title"]}]
    # a merged project takes no support; its author edits nothing of it now, but is an author
    # of the survivor (planners edit it in co-construction)
    refused = bob.put(f"/api/v1/budget-projects/{a['id']}/support")
    assert refused.status_code == 409 and (refused.json["code"], refused.json["merged_into"]) == (
        "budget_project_merged", b["id"])
    assert planner.post(url, json={"into": b["id"]}).json["code"] == "budget_project_status"
    assert session.scalar(text("SELECT count(*) FROM audit_log WHERE action = 'budget.merge' "
                               "AND subject_id = :p"), {"p": str(a["id"])}) == 1


# ---- the chain ----------------------------------------------------------------------------------

def test_a_project_grows_from_a_proposal_and_the_proposal_shows_it(cycle, residents, client, session,
                                                                  make_report):
    c = cycle("submission")
    alice, bob = residents("Alice", "Bob")
    report = make_report(api=bob, lon=IN_11E[0], lat=IN_11E[1], title="Carrefour dangereux")
    r = alice.post("/api/v1/proposals", json=feature(*IN_11E, title="Un plateau piéton", category="mobilite.marche",
                                                     description="Ralentir les voitures."))
    proposal = r.json
    session.execute(text("INSERT INTO proposal_reports (proposal_id, report_id) VALUES (:p, :r)"),
                    {"p": proposal["id"], "r": report["id"]})
    session.commit()
    assert codes(project(bob, c["id"], proposal=proposal["id"])) == [("proposal", "not_your_proposal")]
    assert codes(project(alice, c["id"], proposal=999_999)) == [("proposal", "unknown_proposal")]
    made = alice.post(f"/api/v1/budgets/{c['id']}/projects", json={"proposal": proposal["id"]})
    assert made.status_code == 201, made.json
    props = made.json["properties"]
    assert (props["title"], props["description"], props["theme"], props["envelope_arrondissement"]) == (
        "Un plateau piéton", "Ralentir les voitures.", "mobilite", 11)
    assert made.json["geometry"] == proposal["geometry"]
    assert [(link["kind"], link["id"]) for link in props["links"]] == [("proposal", proposal["id"]),
                                                                       ("report", report["id"])]
    page = client.get(f"/c/{proposal['id']}").get_data(as_text=True)
    assert f'href="/budget/projects/{made.json["id"]}"' in page and "Un plateau piéton" in page
    project_page = client.get(f"/budget/projects/{made.json['id']}").get_data(as_text=True)
    assert f'href="/c/{proposal["id"]}"' in project_page and f'href="/c/{report["id"]}"' in project_page
    bad = project(alice, c["id"], links=[999_999_999])
    assert codes(bad) == [("links[0]", "unknown_contribution")]


def test_projects_never_carry_an_email_or_an_account_id(cycle, residents, client, session):
    c = cycle("submission")
    alice, bob = residents("Alice", "Bob")
    p = submitted(alice, c["id"])
    bob.put(f"/api/v1/budget-projects/{p['id']}/support")
    session.execute(text("UPDATE users SET deleted_at = now() WHERE id = :u"), {"u": bob.user_id})
    session.commit()
    for who in (client, alice, bob):
        for url in (f"/api/v1/budget-projects/{p['id']}", f"/api/v1/budgets/{c['id']}/projects",
                    "/api/v1/budget-projects", f"/budget/projects/{p['id']}"):
            body = who.get(url).get_data(as_text=True)
            assert alice.email not in body and bob.email not in body
            assert not re.search(r'"(user_id|author_id|created_by_id|created_by|email)"', body)
    detail = client.get(f"/api/v1/budget-projects/{p['id']}").json["properties"]
    assert detail["authors"] == ["Alice"] and detail["mine"] == {"author": False, "supporting": False}
    assert alice.get(f"/api/v1/budget-projects/{p['id']}").json["properties"]["mine"]["author"] is True
    # but one's own part is in one's data
    assert [(b["project_id"], b["role"]) for b in alice.get("/api/v1/me/export").json["budget_projects"]] == [
        (p["id"], "author")]


# ---- the import of the city's winning projects ----------------------------------------------------

def csv_rows() -> list[dict]:
    """The file read here on its own (the oracle), not through the importer."""
    with open(WINNERS, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


@pytest.fixture
def imported(runner, session):
    result = runner.invoke(args=["budget", "import-winners", str(WINNERS)])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_import_of_the_winning_projects(imported, runner, session):
    rows = csv_rows()
    per_edition = Counter(int(r["Edition"]) for r in rows)
    assert per_edition == {2014: 9, 2015: 187, 2016: 219, 2017: 196, 2018: 180, 2019: 194, 2021: 62,
                           2022: 62, 2023: 105}
    stored = dict(session.execute(text("""
        SELECT k.year, count(p.id) FROM budget_cycles k JOIN budget_projects p ON p.cycle_id = k.id
        WHERE k.imported AND k.status = 'published' AND p.status = 'won' GROUP BY k.year""")).all())
    assert stored == per_edition
    assert session.scalar(text("SELECT count(*) FROM budget_phases p JOIN budget_cycles k ON k.id = p.cycle_id "
                               "WHERE k.imported")) == 0
    # the 2016 edition's winners, euro for euro, and its envelopes hold exactly their cost
    cost_2016 = sum(int(r["Budget global du projet lauréat"]) for r in rows if r["Edition"] == "2016")
    assert cost_2016 == 94_057_207
    assert session.scalar(text("""
        SELECT sum(p.feasibility_cost_cents) FROM budget_projects p JOIN budget_cycles k ON k.id = p.cycle_id
        WHERE k.year = 2016""")) == cost_2016 * 100
    assert session.scalar(text("""
        SELECT sum(e.amount_cents) FROM budget_envelopes e JOIN budget_cycles k ON k.id = e.cycle_id
        WHERE k.year = 2016""")) == cost_2016 * 100
    paris_wide = sum(1 for r in rows if r["Echelle du Budget participatif"] == "Budget participatif parisien")
    assert session.scalar(text("""SELECT count(*) FROM budget_projects p JOIN budget_envelopes e
                                  ON e.id = p.envelope_id WHERE e.arrondissement_id IS NULL""")) == paris_wide == 63
    popular = sum(int(r["Budget global du projet lauréat"]) for r in rows if r["Edition"] == "2019"
                  and r["Projet en Quartier populaire"] == "Oui")
    assert session.scalar(text("""SELECT sum(e.popular_share_cents) FROM budget_envelopes e
                                  JOIN budget_cycles k ON k.id = e.cycle_id WHERE k.year = 2019""")) == popular * 100

    # where they are: the three shares, as the command reported them
    located = dict(session.execute(text(
        "SELECT coalesce(located_by, 'none'), count(*) FROM budget_projects GROUP BY 1")).all())
    assert located == {"address": 363, "street": 295, "arrondissement": 493, "none": 63}
    for kind, n in located.items():
        assert f"{n / len(rows):6.1%}" in imported, kind
    assert session.scalar(text("SELECT count(*) FROM budget_projects WHERE geom_approximate")) == 493
    # every placed project lies in the arrondissement the file names (Paris Centre: the 1er–4e)
    wrong = session.execute(text("""
        SELECT p.source_id FROM budget_projects p JOIN budget_envelopes e ON e.id = p.envelope_id
        WHERE p.geom IS NOT NULL AND e.arrondissement_id IS NOT NULL
          AND p.arrondissement_id <> e.arrondissement_id""")).scalars().all()
    assert wrong == []
    centre = session.execute(text("""
        SELECT DISTINCT e.arrondissement_id FROM budget_projects p JOIN budget_envelopes e ON e.id = p.envelope_id
        WHERE p.source_id = ANY(:ids)"""), {"ids": [r["Identifiant du projet lauréat"] for r in rows
                                                  if r["Arrondissement du projet lauréat"] == "75123"]}).scalars()
    assert set(centre) <= {1, 2, 3, 4}
    # a known project at its address: the chapel of Sainte-Clotilde, 23 rue Las-Cases (7e)
    chapel = session.execute(text("""
        SELECT p.arrondissement_id, p.located_by, p.delivery_status,
               ST_Distance(p.geom::geography, a.geom::geography) AS metres
        FROM budget_projects p, addresses a
        WHERE p.title LIKE 'Restauration de la chapelle des baptêmes%' AND a.number = '23'
          AND a.street = 'Rue Las Cases'""")).one()
    assert (chapel.arrondissement_id, chapel.located_by) == (7, "address") and chapel.metres < 0.01
    # the delivery statuses, mapped from "Avancement du projet"
    progress = Counter(r["Avancement du projet"] for r in rows)
    delivery = dict(session.execute(text(
        "SELECT coalesce(delivery_status, 'none'), count(*) FROM budget_projects GROUP BY 1")).all())
    assert delivery == {"delivered": progress["FIN"] + progress["LIVRAISON"], "studies": progress["ETUDES"],
                        "procedures": progress["PROCEDURES"], "works": progress["TRAVAUX"],
                        "abandoned": progress["ABANDONNÉ"], "none": progress["(non démarré)"]}
    first = session.execute(text("SELECT studies_on, procedures_on, works_on, delivery_planned_on, opened_on, "
                                 "title FROM budget_projects WHERE source_id = '2204'")).one()
    assert first[:5] == (date(2017, 7, 1), date(2018, 4, 1), date(2018, 1, 1), date(2018, 6, 1), date(2020, 2, 1))
    assert first.title == "Projet lauréat n° 2204"  # the file gives it no title
    assert "rows read:        1214" in imported and "9 new" in imported
    assert "town hall: 309, not found: 146, Hôtel de Ville: 59, no address: 42" in imported

    again = runner.invoke(args=["budget", "import-winners", str(WINNERS)])
    assert again.exit_code == 0 and "0 new, 1214 already imported" in again.output
    assert session.scalar(text("SELECT count(*) FROM budget_projects")) == 1214
    assert session.scalar(text("SELECT count(*) FROM budget_cycles WHERE imported")) == 9


def test_the_delivery_list_filters_by_year_arrondissement_and_status(imported, client, planner, residents,
                                                                    session):
    url = "/api/v1/budget-projects?status=won&year=2016&arrondissement=11&delivery_status=delivered&limit=1000"
    r = client.get(url)
    assert r.status_code == 200 and r.content_type == "application/geo+json"
    expected = session.scalar(text("""
        SELECT count(*) FROM budget_projects p JOIN budget_cycles k ON k.id = p.cycle_id
        WHERE k.year = 2016 AND p.arrondissement_id = 11 AND p.delivery_status = 'delivered'"""))
    assert expected > 0 and r.json["numberReturned"] == expected
    assert {(f["properties"]["year"], f["properties"]["arrondissement"], f["properties"]["delivery_status"])
            for f in r.json["features"]} == {(2016, 11, "delivered")}
    # pages follow each other with `next`, without repeats
    seen, link = [], "/api/v1/budget-projects?status=won&year=2015&limit=50"
    while link:
        page = client.get(link).json
        seen += [f["id"] for f in page["features"]]
        link = next((x["href"] for x in page["links"] if x["rel"] == "next"), None)
    assert len(seen) == len(set(seen)) == 187
    not_started = client.get("/api/v1/budget-projects?delivery_status=none&limit=1000").json
    assert not_started["numberReturned"] == 51
    wide = client.get("/api/v1/budget-projects?placed=false&limit=1000").json["features"]
    assert len(wide) == 63 and {f["geometry"] is None and f["properties"]["paris_wide"] for f in wide} == {True}
    approx = client.get("/api/v1/budget-projects?year=2023&limit=1000").json["features"]
    assert {f["properties"]["approximate"] for f in approx if f["properties"]["located_by"] == "arrondissement"} == {True}
    assert client.get("/api/v1/budget-projects?delivery_status=finished").status_code == 422

    # the city records a winner's progress on a past edition; residents cannot
    pid = session.scalar(text("SELECT id FROM budget_projects WHERE source_id = '2204'"))
    (alice,) = residents("Alice")
    body = {"status": "works", "studies_on": "2024-01-15", "works_on": "2025-03-01"}
    assert alice.put(f"/api/v1/budget-projects/{pid}/delivery", json=body).status_code == 403
    r = planner.put(f"/api/v1/budget-projects/{pid}/delivery", json=body)
    assert r.status_code == 200, r.json
    assert (r.json["properties"]["delivery_status"], r.json["properties"]["studies_on"],
            r.json["properties"]["opened_on"]) == ("works", "2024-01-15", None)


def test_the_pages_in_both_languages(imported, cycle, residents, client, session, planner):
    c = cycle("submission")
    (alice,) = residents("Alice")
    p = submitted(alice, c["id"])
    for lang in ("fr", "en"):
        for path in ("/budget", f"/budget/{c['year']}", "/budget/2016", f"/budget/projects/{p['id']}",
                     "/budget/delivery?year=2016&arrondissement=11", "/budget/delivery"):
            r = client.get(f"{path}{'&' if '?' in path else '?'}lang={lang}")
            assert r.status_code == 200, path
            assert f'<html lang="{lang}">' in r.get_data(as_text=True)
    index = client.get("/budget").get_data(as_text=True)
    assert 'id="submit-link"' in index and "Des arbres rue Oberkampf" in index and 'href="/budget/2016"' in index
    delivery = client.get("/budget/delivery?year=2016&arrondissement=11&delivery_status=delivered").get_data(
        as_text=True)
    assert "Ville de Paris — opendata.paris.fr (ODbL)" in delivery
    listed = re.findall(r'class="budget-card" data-id="(\d+)"', delivery)
    api = client.get("/api/v1/budget-projects?status=won&year=2016&arrondissement=11&delivery_status=delivered"
                     "&limit=1000").json
    assert listed == [str(f["id"]) for f in api["features"]]
    assert client.get("/budget/1999").status_code == 404 and client.get("/budget/projects/999999").status_code == 404
    assert client.get(f"/budget/{c['year']}/submit").status_code == 302  # sign in first

    # a resident submits through the form; the planner's forms show in their phase
    page = browser(client, session, alice)
    html = page.get(f"/budget/{c['year']}/submit").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    r = page.post(f"/budget/{c['year']}/submit", data={
        "csrf_token": token, "title": "Un jardin partagé", "theme": "vegetalisation", "cost": "12 000",
        "lon": str(IN_4E[0]), "lat": str(IN_4E[1]), "description": "Place Louis-Lépine."})
    assert r.status_code == 302, r.get_data(as_text=True)
    made = session.execute(text("SELECT id, estimated_cost_cents, arrondissement_id FROM budget_projects "
                                "WHERE title = 'Un jardin partagé'")).one()
    assert (made.estimated_cost_cents, made.arrondissement_id) == (1_200_000, 4)
    r = page.post(f"/budget/{c['year']}/submit", data={"csrf_token": token, "title": "Sans lieu",
                                                        "theme": "vegetalisation"})
    assert r.status_code == 422 and 'id="form-errors"' in r.get_data(as_text=True)
    r = page.post(f"/budget/projects/{p['id']}/support", data={"csrf_token": token})
    assert r.status_code == 302 and people(session, p["id"]) >= {(alice.user_id, "supporter")}
    move_to(session, c["id"], "feasibility")
    city = browser(client, session, planner)
    html = city.get(f"/budget/projects/{p['id']}").get_data(as_text=True)
    assert 'id="study-form"' in html
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    r = city.post(f"/budget/projects/{p['id']}/feasibility", data={"csrf_token": token, "feasible": "no",
                                                                     "reason": "Sous-sol occupé."})
    assert r.status_code == 302
    assert session.scalar(text("SELECT status FROM budget_projects WHERE id = :p"), {"p": p["id"]}) == "not_feasible"
    won = session.scalar(text("SELECT id FROM budget_projects WHERE source_id = '2204'"))
    assert 'id="delivery-form"' in city.get(f"/budget/projects/{won}").get_data(as_text=True)
    assert json.loads(re.search(r'id="map-config">(.+?)</script>', client.get(
        f"/budget/projects/{won}").get_data(as_text=True)).group(1))["geometry"] is None  # Paris-wide
