"""The participatory budget, part 2: the vote (approval, knapsack, majority judgment) at its
limits, one ballot per person per envelope and one arrondissement per cycle (the database's
keys), changing a ballot, secrecy, exact counts under concurrency, the count by greedy and by
the Method of Equal Shares on elections worked out by hand, the results, the receipt and the
Pabulib round trip."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from app.budget.ballots import ballot_key
from app.budget.rules import equal_shares, from_pabulib, greedy_by_votes
from app.db import db
from tests.conftest import at_once
from tests.test_budget import codes, cycle_body, move_to

pytest.importorskip("pabutools")


@pytest.fixture
def admin(make_user):
    return make_user(("admin",), name="Administratrice")


@pytest.fixture
def planner(make_user):
    return make_user(("planner",), name="Direction des finances")


@pytest.fixture
def voters(make_user, verify):
    def make(n: int):
        return [verify(make_user(name=f"Électrice {i}")) for i in range(n)]

    return make


YEARS = iter(range(2060, 2100))


@pytest.fixture
def ballot_cycle(admin, planner, make_user, verify, session):
    """ballot_cycle(projects, method=…, amount=…): a published cycle in its vote, with feasible
    projects {name: (envelope arrondissement or None, cost in euros)}; returns the cycle's
    JSON, its envelopes by arrondissement and the projects' ids by name."""

    def make(projects: dict[str, tuple[int | None, int]], amounts: dict | None = None, **rule):
        amounts = amounts or {None: 12, 11: 100, 4: 100}
        body = cycle_body(next(YEARS), "submission", **rule)
        body["envelopes"] = [{"arrondissement": a, "amount_cents": euros * 100} for a, euros in amounts.items()]
        r = admin.post("/api/v1/budgets", json=body)
        assert r.status_code == 201, r.json
        cid = r.json["id"]
        assert admin.patch(f"/api/v1/budgets/{cid}", json={"status": "published"}).status_code == 200
        author = verify(make_user(name="Porteuse de projets"))
        ids = {}
        for name, (arrondissement, _) in projects.items():
            place = ({"paris_wide": True} if arrondissement is None else
                     {"geometry": {"type": "Point", "coordinates": {11: [2.3795, 48.8635], 4: [2.3499, 48.8530]}[
                         arrondissement]}})
            made = author.post(f"/api/v1/budgets/{cid}/projects", json={
                "title": f"Projet {name}", "theme": "vegetalisation", **place})
            assert made.status_code == 201, made.json
            ids[name] = made.json["id"]
        move_to(session, cid, "feasibility")
        for name, (_, euros) in projects.items():
            studied = planner.post(f"/api/v1/budget-projects/{ids[name]}/feasibility",
                                   json={"feasible": True, "cost_cents": euros * 100})
            assert studied.status_code == 200, studied.json
        move_to(session, cid, "vote")
        cycle = admin.get(f"/api/v1/budgets/{cid}").json
        assert cycle["stage"] == "vote" and cycle["can"] == ["vote"]
        envelopes = {e["arrondissement"]: e["id"] for e in cycle["envelopes"]}
        return cycle, envelopes, ids

    return make


def ballot_url(cycle, envelope) -> str:
    return f"/api/v1/budgets/{cycle['id']}/envelopes/{envelope}/ballot"


def test_a_resident_votes_paris_wide_and_in_one_arrondissement_and_changes_a_ballot(app, ballot_cycle, voters,
                                                                                    session):
    cycle, env, ids = ballot_cycle({"A": (None, 8), "B": (None, 4), "C": (None, 4), "D": (11, 30), "E": (4, 30)},
                                   ballot_method="approval", max_choices=2)
    alice, = voters(1)
    r = alice.put(ballot_url(cycle, env[None]), json={"projects": [ids["A"], ids["C"]]})
    assert r.status_code == 200, r.json
    (paris,) = r.json["ballots"]
    assert paris["arrondissement"] is None and paris["total_cents"] == 1200
    assert [c["project"] for c in paris["choices"]] == [ids["A"], ids["C"]]
    receipt = paris["receipt"]
    assert len(receipt) == 12 and receipt.isalnum()
    r = alice.put(ballot_url(cycle, env[11]), json={"projects": [ids["D"]]})
    assert r.status_code == 200 and r.json["arrondissement"] == 11
    assert [b["arrondissement"] for b in r.json["ballots"]] == [None, 11]
    # a second arrondissement: refused while the first stands; withdrawn, it is accepted
    r = alice.put(ballot_url(cycle, env[4]), json={"projects": [ids["E"]]})
    assert r.status_code == 409 and r.json["code"] == "ballot_other_arrondissement"
    assert r.json["arrondissement"] == 11
    r = alice.delete(ballot_url(cycle, env[11]))
    assert r.status_code == 200 and r.json["arrondissement"] is None and len(r.json["ballots"]) == 1
    assert alice.put(ballot_url(cycle, env[4]), json={"projects": [ids["E"]]}).status_code == 200
    # changing the Paris-wide ballot keeps its receipt and replaces its choices
    r = alice.put(ballot_url(cycle, env[None]), json={"projects": [ids["B"]]})
    mine = alice.get(f"/api/v1/budgets/{cycle['id']}/ballot").json
    assert mine == r.json and mine["arrondissement"] == 4
    assert [(b["arrondissement"], b["receipt"] == receipt, [c["project"] for c in b["choices"]])
            for b in mine["ballots"]] == [(None, True, [ids["B"]]), (4, False, [ids["E"]])]
    # in the database: two lines on the roll, two ballots, three choices; no ballot names anyone
    cid = cycle["id"]
    assert session.execute(text("SELECT paris_wide, arrondissement_id FROM budget_voters WHERE cycle_id = :c "
                                "ORDER BY 1"), {"c": cid}).all() == [(False, 4), (True, None)]
    rows = session.execute(text("SELECT * FROM budget_ballots WHERE cycle_id = :c"), {"c": cid}).mappings().all()
    assert len(rows) == 2 and set(rows[0]) == {"id", "cycle_id", "envelope_id", "paris_wide", "voter", "receipt"}
    # the ballots' `voter` is keyed: an unkeyed hash of the cycle and the account is not it, the
    # HMAC under the key only the running app derives from SECRET_KEY is
    plain = hashlib.sha256(f"{cid}:{alice.user_id}".encode()).hexdigest()
    keyed = hmac.new(ballot_key(app.config["SECRET_KEY"]), f"{cid}:{alice.user_id}".encode(),
                     hashlib.sha256).hexdigest()
    assert {r["voter"] for r in rows} == {keyed} != {plain}
    # my data: where I voted (the roll), not how
    assert alice.get("/api/v1/me/export").json["budget_votes"] == [
        {"year": cycle["year"], "paris_wide": True, "arrondissement": None},
        {"year": cycle["year"], "paris_wide": False, "arrondissement": 4}]
    assert session.scalar(text("SELECT count(*) FROM budget_ballot_choices c JOIN budget_ballots b "
                               "ON b.id = c.ballot_id WHERE b.cycle_id = :c"), {"c": cid}) == 2


def test_the_ballot_rules_at_their_limits(ballot_cycle, voters):
    # approval: at most 2; each project once, on this envelope's ballot; not empty
    cycle, env, ids = ballot_cycle({"A": (None, 8), "B": (None, 4), "C": (None, 4), "D": (11, 30)},
                                   ballot_method="approval", max_choices=2)
    bob, = voters(1)
    url = ballot_url(cycle, env[None])
    assert codes(bob.put(url, json={"projects": [ids["A"], ids["B"], ids["C"]]})) == [("projects", "too_many_choices")]
    assert codes(bob.put(url, json={"projects": [ids["A"], ids["A"]]})) == [("projects[1]", "duplicate_choice")]
    assert codes(bob.put(url, json={"projects": [ids["A"], ids["D"]]})) == [("projects[1]", "not_on_ballot")]
    assert codes(bob.put(url, json={"projects": []})) == [("projects", "ballot_empty")]
    assert codes(bob.put(url, json={"grades": [{"project": ids["A"], "grade": 1}]})) == [
        ("grades", "not_this_ballot_method")]
    assert bob.put(url, json={"projects": [ids["A"], ids["B"]]}).status_code == 200  # exactly N
    # a refused ballot changed nothing: still A and B
    assert [c["project"] for c in bob.get(f"/api/v1/budgets/{cycle['id']}/ballot").json["ballots"][0]["choices"]] \
        == [ids["A"], ids["B"]]


def test_a_knapsack_ballot_fits_in_the_envelope_to_the_euro(ballot_cycle, voters):
    cycle, env, ids = ballot_cycle({"A": (None, 8), "B": (None, 4), "C": (None, 1)}, ballot_method="knapsack")
    carol, = voters(1)
    url = ballot_url(cycle, env[None])
    r = carol.put(url, json={"projects": [ids["A"], ids["B"], ids["C"]]})  # 13 € of 12 €
    assert r.status_code == 422 and codes(r) == [("projects", "over_budget")]
    assert "13 €" in r.json["errors"][0]["detail"] and "12 €" in r.json["errors"][0]["detail"]
    r = carol.put(url, json={"projects": [ids["A"], ids["B"]]})  # 12 € of 12 €: fits
    assert r.status_code == 200 and r.json["ballots"][0]["total_cents"] == 1200


def test_a_majority_judgment_ballot_grades_within_the_cycles_grades(ballot_cycle, voters):
    cycle, env, ids = ballot_cycle({"A": (None, 8), "B": (None, 4)}, ballot_method="majority_judgment", grades=4)
    dan, = voters(1)
    url = ballot_url(cycle, env[None])
    r = dan.put(url, json={"grades": [{"project": ids["A"], "grade": 4}]})
    assert codes(r) == [("grades[0].grade", "grade_out_of_range")]
    assert codes(dan.put(url, json={"projects": [ids["A"]]})) == [("projects", "not_this_ballot_method")]
    r = dan.put(url, json={"grades": [{"project": ids["A"], "grade": 3}, {"project": ids["B"], "grade": 0}]})
    assert r.status_code == 200
    assert [(c["project"], c["grade"]) for c in r.json["ballots"][0]["choices"]] == [(ids["A"], 3), (ids["B"], 0)]


def test_only_verified_residents_vote_and_only_during_the_vote(ballot_cycle, voters, make_user, client, session):
    cycle, env, ids = ballot_cycle({"A": (None, 8)})
    url = ballot_url(cycle, env[None])
    assert client.put(url, json={"projects": [ids["A"]]}).status_code == 401
    r = make_user(name="Pas encore confirmée").put(url, json={"projects": [ids["A"]]})
    assert r.status_code == 403 and r.json["code"] == "email_unverified"
    eve, = voters(1)
    assert eve.put(f"/api/v1/budgets/{cycle['id']}/envelopes/999999/ballot",
                   json={"projects": [ids["A"]]}).json["code"] == "budget_envelope_not_found"
    assert eve.put(url, json={"projects": [ids["A"]]}).status_code == 200
    move_to(session, cycle["id"], "results")
    for r in (eve.put(url, json={"projects": [ids["A"]]}), eve.delete(url)):
        assert r.status_code == 409 and r.json["code"] == "budget_phase" and r.json["phase"] == "results"
    move_to(session, cycle["id"], "feasibility")
    assert eve.put(url, json={"projects": [ids["A"]]}).json["code"] == "budget_phase"


def counted(admin, session, cycle) -> dict:
    move_to(session, cycle["id"], "results")
    r = admin.post(f"/api/v1/budgets/{cycle['id']}/count")
    assert r.status_code == 200, r.json
    return r.json


def test_greedy_and_equal_shares_side_by_side_on_an_election_worked_out_by_hand(ballot_cycle, voters, admin,
                                                                                 client, session):
    # 12 €: A (8 €) and C (4 €) chosen by 7 voters, B (4 €) by 5 (tests/test_budget_rules.py works it
    # out by hand): greedy gives A and C, Equal Shares C and B
    cycle, env, ids = ballot_cycle({"A": (None, 8), "B": (None, 4), "C": (None, 4)})
    crowd = voters(12)
    for i, v in enumerate(crowd):
        chosen = [ids["A"], ids["C"]] if i < 7 else [ids["B"]]
        assert v.put(ballot_url(cycle, env[None]), json={"projects": chosen}).status_code == 200
    results_url = f"/api/v1/budgets/{cycle['id']}/results"
    assert client.get(results_url).json["code"] == "budget_not_counted"
    done = counted(admin, session, cycle)
    paris = next(e for e in done["envelopes"] if e["envelope"] == env[None])
    assert paris == {"envelope": env[None], "ballots": 12, "greedy": sorted([ids["A"], ids["C"]]),
                     "equal_shares": sorted([ids["B"], ids["C"]])}
    results = client.get(results_url).json
    assert results["winners_rule"] == "greedy"
    (envelope,) = [e for e in results["envelopes"] if e["arrondissement"] is None]
    assert envelope["ballots"] == 12 and envelope["amount_euros"] == 12
    assert envelope["greedy"] == {"winners": 2, "spent_euros": 12}
    assert envelope["equal_shares"] == {"winners": 2, "spent_euros": 8, "added_per_voter_euros": 0}
    by_name = {p["title"][-1]: p for p in envelope["projects"]}
    # greedy order: C (7 votes, cheaper) with 12 € left, A (7) with 4… no: with 8 € left, B (5) with 0 €
    assert [(p["title"][-1], p["rank"], p["votes"], p["cost_euros"], p["left_before_euros"], p["greedy_won"],
             p["equal_shares_won"], p["won"]) for p in envelope["projects"]] == [
        ("C", 1, 7, 4, 12, True, True, True), ("A", 2, 7, 8, 8, True, False, True),
        ("B", 3, 5, 4, 0, False, True, False)]
    assert by_name["B"]["majority_grade"] is None
    # the projects' statuses follow the cycle's rule; counting again gives the same
    statuses = dict(session.execute(text("SELECT title, status FROM budget_projects WHERE cycle_id = :c"),
                                    {"c": cycle["id"]}).all())
    assert statuses == {"Projet A": "won", "Projet B": "lost", "Projet C": "won"}
    assert counted(admin, session, cycle) == done
    # nothing in the results names a voter
    body = client.get(results_url).get_data(as_text=True)
    assert not any(v.email in body or f'"{v.user_id}"' in body for v in crowd)


def test_the_pabulib_export_reproduces_the_published_winners_and_a_voter_finds_their_ballot(
        ballot_cycle, voters, admin, client, session):
    import random

    rng = random.Random(11)
    projects = {f"P{i:02}": (None, rng.randint(5, 40)) for i in range(12)}
    cycle, env, ids = ballot_cycle(projects, amounts={None: 100})
    crowd = voters(30)
    weights = [rng.random() ** 2 for _ in projects]
    cast = []
    for v in crowd:
        chosen = sorted({ids[n] for n in rng.choices(list(projects), weights=weights, k=rng.randint(1, 4))})
        r = v.put(ballot_url(cycle, env[None]), json={"projects": chosen})
        assert r.status_code == 200
        cast.append((r.json["ballots"][0]["receipt"], frozenset(chosen)))
    counted(admin, session, cycle)
    published = next(e for e in client.get(f"/api/v1/budgets/{cycle['id']}/results").json["envelopes"]
                     if e["arrondissement"] is None)
    r = client.get(f"/api/v1/budgets/{cycle['id']}/envelopes/{env[None]}/ballots.pb")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    pb = r.get_data(as_text=True)
    assert "vote_type;approval" in pb and "num_votes;30" in pb and "budget;100" in pb
    items, budget, ballots = from_pabulib(pb)
    assert budget == 100 and sorted(ballots, key=sorted) == sorted((b for _, b in cast), key=sorted)
    votes = Counter(p for b in ballots for p in b)
    assert {d.id for d in greedy_by_votes(items, budget, votes) if d.won} == \
        {p["id"] for p in published["projects"] if p["greedy_won"]}
    mes_winners = {p["id"] for p in published["projects"] if p["equal_shares_won"]}
    assert equal_shares(items, budget, ballots) == mes_winners
    # pabutools itself on the file: its MES without completion, on the budget plus what the
    # completion added to each voter's share (in the file's meta and the results)
    from pabutools.election import Cost_Sat, Instance
    from pabutools.election.pabulib import parse_pabulib_from_string
    from pabutools.rules import method_of_equal_shares

    instance, profile = parse_pabulib_from_string(pb)
    added = int(instance.meta["equal_shares_added_per_voter"])
    assert added == published["equal_shares"]["added_per_voter_euros"]
    widened = Instance(instance, budget_limit=instance.budget_limit + added * profile.num_ballots())
    assert {int(p.name) for p in method_of_equal_shares(widened, profile, sat_class=Cost_Sat)} == mes_winners
    # and its euro-by-euro completion too
    assert {int(p.name) for p in method_of_equal_shares(instance, profile, sat_class=Cost_Sat,
                                                         voter_budget_increment=1)} == mes_winners
    # each ballot appears under its receipt, and no line of the file names a voter
    lines = dict(line.split(";", 1) for line in pb.split("VOTES\n", 1)[1].splitlines()[1:])
    assert set(lines) == {code for code, _ in cast}
    assert not any(v.email in pb or v.name in pb for v in crowd if hasattr(v, "name"))
    code, chosen = cast[0]
    r = client.get(f"/api/v1/budgets/{cycle['id']}/receipts/{code.lower()}")
    assert r.status_code == 200 and {c["project"] for c in r.json["choices"]} == chosen
    assert client.get(f"/api/v1/budgets/{cycle['id']}/receipts/AAAAAAAAAAAA").json["code"] == "ballot_not_found"


def test_majority_judgment_is_counted_with_the_majority_gauge_and_ungraded_as_the_worst(
        ballot_cycle, voters, admin, client, session):
    cycle, env, ids = ballot_cycle({"A": (None, 6), "B": (None, 5), "C": (None, 4)},
                                   ballot_method="majority_judgment", grades=4, amounts={None: 10})
    # 5 voters. A: 3,3,3,0,(none) → median 3… lower median of [0,0,3,3,3] is 3; B: 2,2,2,2,2 → 2;
    # C: 3,3,(none),(none),(none) → [0,0,0,3,3] → 0
    grades = [{"A": 3, "B": 2, "C": 3}, {"A": 3, "B": 2, "C": 3}, {"A": 3, "B": 2}, {"A": 0, "B": 2}, {"B": 2}]
    for v, g in zip(voters(5), grades, strict=True):
        r = v.put(ballot_url(cycle, env[None]), json={"grades": [{"project": ids[n], "grade": x} for n, x in g.items()]})
        assert r.status_code == 200, r.json
    counted(admin, session, cycle)
    (envelope,) = client.get(f"/api/v1/budgets/{cycle['id']}/results").json["envelopes"][:1]
    rows = [(p["title"][-1], p["majority_grade"], p["majority_rank"], p["grades"], p["left_before_euros"], p["greedy_won"])
            for p in envelope["projects"]]
    # A (grade 3) first: 6 € of 10; B (grade 2) does not fit in 4 €; C (grade 0) fits
    assert rows == [("A", 3, 1, [2, 0, 0, 3], 10, True), ("B", 2, 2, [0, 0, 5, 0], 4, False),
                    ("C", 0, 3, [3, 0, 0, 2], 4, True)]
    pb = client.get(f"/api/v1/budgets/{cycle['id']}/envelopes/{env[None]}/ballots.pb").get_data(as_text=True)
    items, budget, ballots = from_pabulib(pb)
    assert "vote_type;scoring" in pb and len(ballots) == 5
    assert sorted(sorted(b.items()) for b in ballots) == sorted(
        sorted((ids[n], x) for n, x in g.items()) for g in grades)


CROWD_YEARS = iter(range(2001, 2014))  # years no other test takes (the city's editions start in 2014)


@pytest.fixture
def crowd(app):
    """crowd(n): n verified residents with tokens, committed (for requests on their own
    connections), and a cycle in its vote with a Paris-wide project; cleaned up after."""
    from app.accounts.services import create_user, issue_token

    made = {"users": [], "cycles": []}

    def make(n: int):
        tag = uuid.uuid4().hex[:8]
        headers = []
        with app.app_context():
            for i in range(n):
                user = create_user(db.session, f"voter-{i}-{tag}@example.org", "a long enough password", f"V{i}")
                user.email_verified_at = datetime.now(UTC)
                token, _ = issue_token(db.session, user, 1)
                headers.append({"Authorization": f"Bearer {token}"})
                made["users"].append(user.id)
            cid = db.session.execute(text("""
                INSERT INTO budget_cycles (year, title, status, ballot_method) VALUES (:y, 'Budget de la foule',
                'published', 'approval') RETURNING id"""), {"y": next(CROWD_YEARS)}).scalar()
            made["cycles"].append(cid)
            envelopes = [db.session.execute(text("""
                INSERT INTO budget_envelopes (cycle_id, arrondissement_id, amount_cents) VALUES (:c, :a, 100000)
                RETURNING id"""), {"c": cid, "a": a}).scalar() for a in (None, 11, 12)]
            projects = [db.session.execute(text("""
                INSERT INTO budget_projects (cycle_id, envelope_id, title, status, feasibility_cost_cents)
                VALUES (:c, :e, :t, 'feasible', 100) RETURNING id"""), {"c": cid, "e": e, "t": f"Projet {e}"}).scalar()
                for e in envelopes]
            db.session.commit()
            move_to(db.session, cid, "vote")
        return cid, envelopes, projects, headers

    yield make
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM budget_cycles WHERE id = ANY(:c)"), {"c": made["cycles"]})
        conn.execute(text("DELETE FROM users WHERE id = ANY(:u)"), {"u": made["users"]})


def committed(sql: str, **params):
    with db.engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def test_concurrent_ballots_are_counted_exactly(app, crowd):
    n = 24
    cid, (paris, eleventh, twelfth), (p_paris, p_11, p_12), headers = crowd(n)

    def put(envelope, project, h):
        return lambda c: c.put(f"/api/v1/budgets/{cid}/envelopes/{envelope}/ballot", json={"projects": [project]},
                               headers=h)

    # everyone at once: a Paris-wide ballot, and half of them the 11e
    answers = at_once(app, [put(paris, p_paris, h) for h in headers] +
                      [put(eleventh, p_11, h) for h in headers[: n // 2]])
    assert Counter(a.status_code for a in answers) == {200: n + n // 2}, [a.json for a in answers if a.status_code != 200]
    assert committed("SELECT envelope_id, count(*) FROM budget_ballots WHERE cycle_id = :c GROUP BY 1 ORDER BY 1",
                     c=cid) == sorted([(paris, n), (eleventh, n // 2)])
    assert committed("SELECT count(*) FROM budget_voters WHERE cycle_id = :c", c=cid) == [(n + n // 2,)]
    assert committed("SELECT count(*) FROM budget_ballot_choices WHERE envelope_id = :e", e=paris) == [(n,)]
    # one voter sends the 11e and the 12e ten times at once: one arrondissement wins, once
    h = headers[-1]
    answers = at_once(app, [put(eleventh, p_11, h), put(twelfth, p_12, h)] * 5)
    statuses = Counter(a.status_code for a in answers)
    assert statuses[200] == 5 and statuses[409] == 5 and len(statuses) == 2
    assert {a.json["code"] for a in answers if a.status_code == 409} == {"ballot_other_arrondissement"}
    (kept,) = {a.json["arrondissement"] for a in answers if a.status_code == 200}
    rows = committed("""SELECT e.arrondissement_id, count(*) FROM budget_ballots b JOIN budget_envelopes e
                        ON e.id = b.envelope_id WHERE b.cycle_id = :c AND NOT b.paris_wide GROUP BY 1""", c=cid)
    expected = {11: n // 2 + (kept == 11), 12: int(kept == 12)}
    assert dict(rows) == {k: v for k, v in expected.items() if v}
