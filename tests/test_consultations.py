"""Consultations: area and period enforced on borders and at midnight Paris time, the phase
rules, vote rules, closing and the synthesis, exports; the city's answers to proposals (history,
audit, e-mails); proposals born of reports."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from app.consultations import services as consultation_services
from tests.conftest import feature

PARIS = ZoneInfo("Europe/Paris")
TODAY = datetime.now(PARIS).date()


def days(first: date, *lengths: int, names=("ideas", "votes", "synthesis", "answers")) -> list[dict]:
    """Contiguous phases starting on `first`, each `lengths[i]` days long."""
    out, start = [], first
    for name, n in zip(names, lengths, strict=False):
        out.append({"phase": name, "starts_on": start.isoformat(),
                    "ends_on": (start + timedelta(days=n - 1)).isoformat()})
        start += timedelta(days=n)
    return out


def body(**changes) -> dict:
    return {"title": "Embellir le quartier Notre-Dame", "question": "Que changer autour du parvis ?",
            "description": "Vos idées pour l'île de la Cité.", "area": {"arrondissements": [4]},
            "phases": days(TODAY - timedelta(days=2), 10, 10, 10, 30), **changes}


@pytest.fixture
def planner(make_user):
    return make_user(("planner",), name="Urbaniste")


@pytest.fixture
def open_consultation(planner):
    def make(**changes) -> dict:
        r = planner.post("/api/v1/consultations", json=body(**changes))
        assert r.status_code == 201, r.json
        published = planner.post(f"/api/v1/consultations/{r.json['id']}/publish")
        assert published.status_code == 200, published.json
        return published.json

    return make


def propose(api, consultation_id, lon=2.3499, lat=48.8530, category="vegetalisation", geometry=None,
            title="Des arbres sur le parvis"):
    return api.post("/api/v1/proposals", json=feature(lon, lat, title=title, category=category,
                                                       geometry=geometry, consultation=consultation_id))


def codes(r) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in r.json.get("errors", [])]


def test_a_planner_opens_a_draft_that_only_planners_see_until_published(planner, resident, client):
    r = planner.post("/api/v1/consultations", json=body())
    assert r.status_code == 201, r.json
    c = r.json
    assert (c["status"], c["stage"], c["area_kind"], c["area_ids"]) == ("draft", "draft", "arrondissements", [4])
    # the area is the 4e itself: its bounding box is the arrondissement's
    assert c["area"]["type"] == "MultiPolygon"
    w, s, e, n = c["bbox"]
    assert 2.34 < w < 2.35 and 48.84 < s < 48.85 and 2.36 < e < 2.37 and 48.86 < n < 48.87
    url = f"/api/v1/consultations/{c['id']}"
    assert client.get(url).status_code == 404 and resident.get(url).status_code == 404
    assert c["id"] not in [x["id"] for x in client.get("/api/v1/consultations").json["consultations"]]
    assert resident.post(f"{url}/publish").status_code == 403
    published = planner.post(f"{url}/publish")
    assert (published.json["status"], published.json["stage"], published.json["can"]) == (
        "published", "ideas", ["propose", "vote", "comment"])
    assert planner.post(f"{url}/publish").json["code"] == "already_published"
    listed = client.get("/api/v1/consultations?stage=ideas").json["consultations"]
    assert [x["id"] for x in listed if x["id"] == c["id"]] == [c["id"]]
    assert c["id"] not in [x["id"] for x in client.get("/api/v1/consultations?stage=votes").json["consultations"]]
    assert all(x["stage"] == "ideas" for x in listed)


def test_phases_are_paris_days_from_midnight_to_midnight_across_summer_time(planner):
    # 28 March 2027 is the day clocks go forward: the ideas end at midnight +02:00
    phases = [{"phase": "ideas", "starts_on": "2027-03-01", "ends_on": "2027-03-28"},
              {"phase": "votes", "starts_on": "2027-03-29", "ends_on": "2027-04-04"}]
    r = planner.post("/api/v1/consultations", json=body(phases=phases))
    assert r.status_code == 201, r.json
    ideas, votes = r.json["phases"]
    assert datetime.fromisoformat(ideas["starts_at"]) == datetime(2027, 2, 28, 23, 0, tzinfo=UTC)
    assert datetime.fromisoformat(ideas["ends_at"]) == datetime(2027, 3, 28, 22, 0, tzinfo=UTC)
    assert (ideas["starts_on"], ideas["ends_on"]) == ("2027-03-01", "2027-03-28")
    assert votes["starts_at"] == ideas["ends_at"]
    assert r.json["stage"] == "draft"


@pytest.mark.parametrize(("phases", "expected"), [
    (days(TODAY, 5, 5, names=("votes", "ideas")), {("phases[0].phase", "ideas_first"),
                                                   ("phases", "phases_out_of_order")}),
    ([{"phase": "ideas", "starts_on": "2027-01-10", "ends_on": "2027-01-05"}],
     {("phases[0].ends_on", "empty_period")}),
    ([{"phase": "ideas", "starts_on": "2027-01-01", "ends_on": "2027-01-10"},
      {"phase": "votes", "starts_on": "2027-01-12", "ends_on": "2027-01-20"}],
     {("phases[1].starts_on", "phase_not_contiguous")}),
])
def test_phases_must_follow_each_other_without_gaps(planner, phases, expected):
    r = planner.post("/api/v1/consultations", json=body(phases=phases))
    assert r.status_code == 422
    assert set(codes(r)) == expected


def test_the_area_takes_one_of_arrondissements_quartiers_or_a_polygon(planner):
    both = planner.post("/api/v1/consultations", json=body(area={"arrondissements": [4], "quartiers": [13]}))
    assert both.status_code == 422 and codes(both) == [("area", "area_needs_one")]
    quartier = planner.post("/api/v1/consultations", json=body(area={"quartiers": [14, 15]}))
    assert quartier.status_code == 201 and quartier.json["area_ids"] == [14, 15]
    square = [[2.345, 48.852], [2.352, 48.852], [2.352, 48.856], [2.345, 48.856], [2.345, 48.852]]
    drawn = planner.post("/api/v1/consultations", json=body(area={"polygon": {"type": "Polygon", "coordinates": [square]}}))
    assert drawn.status_code == 201 and drawn.json["bbox"] == [2.345, 48.852, 2.352, 48.856]
    outside = [[c[0] + 1, c[1]] for c in square]
    r = planner.post("/api/v1/consultations", json=body(area={"polygon": {"type": "Polygon", "coordinates": [outside]}}))
    assert r.status_code == 422 and codes(r) == [("area.polygon", "outside_paris")]


def border_points(session) -> tuple[list[float], list[float]]:
    """A vertex of the 4e's boundary that is also on the 3e's (on the border, in both), and a
    point 5 m from it inside the 3e only."""
    row = session.execute(text("""
        WITH v AS (
            SELECT (ST_DumpPoints(a.geom)).geom AS p FROM arrondissements a WHERE a.id = 4)
        SELECT ST_X(v.p) AS x, ST_Y(v.p) AS y,
               ST_X(o.p) AS ox, ST_Y(o.p) AS oy
        FROM v, arrondissements three, arrondissements four,
             LATERAL (SELECT ST_Transform(ST_Translate(ST_Transform(v.p, 2154), dx, dy), 4326) AS p
                      FROM (VALUES (5, 0), (-5, 0), (0, 5), (0, -5)) d(dx, dy)) o
        WHERE three.id = 3 AND four.id = 4 AND ST_Intersects(three.geom, v.p)
          AND ST_Covers(three.geom, o.p) AND NOT ST_Intersects(four.geom, o.p)
        ORDER BY ST_Y(v.p) DESC LIMIT 1""")).one()
    return [row.x, row.y], [row.ox, row.oy]


def test_proposals_inside_the_area_only_a_border_point_counts_as_inside(open_consultation, resident,
                                                                        session):
    c = open_consultation()
    on_border, outside = border_points(session)
    inside = propose(resident, c["id"])
    assert inside.status_code == 201, inside.json
    assert inside.json["properties"]["consultation"] == {"id": c["id"], "title": c["title"]}
    border = propose(resident, c["id"], *on_border)
    assert border.status_code == 201, border.json
    out = propose(resident, c["id"], *outside)
    assert out.status_code == 422 and codes(out) == [("geometry", "outside_consultation_area")]
    assert out.json["errors"][0]["detail"] == "Ce lieu est en dehors du périmètre de la consultation."
    english = resident.post("/api/v1/proposals", json=feature(*outside, category="vegetalisation",
                                                              consultation=c["id"]),
                            headers={"Accept-Language": "en"})
    assert english.json["errors"][0]["detail"] == "This place is outside the consultation's area."
    # a line from inside to the 3e is not inside
    line = {"type": "LineString", "coordinates": [[2.3499, 48.8530], outside]}
    assert codes(propose(resident, c["id"], geometry=line)) == [("geometry", "outside_consultation_area")]
    # nothing was written by the refusals
    assert session.scalar(text("SELECT count(*) FROM contributions WHERE consultation_id = :c"),
                          {"c": c["id"]}) == 2
    # moving an accepted proposal out of the area is refused too
    moved = resident.patch(f"/api/v1/proposals/{inside.json['id']}", json={
        "type": "Feature", "geometry": {"type": "Point", "coordinates": outside}})
    assert codes(moved) == [("geometry", "outside_consultation_area")]
    assert resident.get(f"/api/v1/proposals/{inside.json['id']}").json["geometry"]["coordinates"] == [2.3499, 48.853]


def test_the_ideas_phase_opens_and_closes_at_midnight_paris_time(open_consultation, resident, monkeypatch):
    start = TODAY + timedelta(days=1)
    c = open_consultation(phases=days(start, 3, 3))
    assert c["stage"] == "upcoming"
    first = datetime.combine(start, datetime.min.time(), tzinfo=PARIS)
    last = first + timedelta(days=3)  # midnight after the third day
    for instant, accepted in ((first - timedelta(microseconds=1), False), (first, True),
                              (last - timedelta(microseconds=1), True), (last, False)):
        monkeypatch.setattr(consultation_services, "now", lambda i=instant: i.astimezone(UTC))
        r = propose(resident, c["id"], title=f"Idée à {instant.isoformat()}")
        assert (r.status_code == 201) is accepted, (instant, r.json)
        if not accepted:
            assert codes(r) == [("properties.consultation", "consultation_not_taking_ideas")]
            end = (start + timedelta(days=2)).isoformat()
            assert r.json["errors"][0]["detail"] == (
                f"Cette consultation reçoit des idées du {start.isoformat()} au {end} (heure de Paris), "
                "pas maintenant.")


def test_each_phase_allows_what_it_says(open_consultation, resident, make_user, monkeypatch):
    c = open_consultation(phases=days(TODAY, 2, 2, 2, 2))
    idea = propose(resident, c["id"])
    assert idea.status_code == 201
    url = f"/api/v1/proposals/{idea.json['id']}"
    voter = make_user()
    base = datetime.combine(TODAY, datetime.min.time(), tzinfo=PARIS).astimezone(UTC) + timedelta(hours=12)
    expected = {0: ("ideas", 201, 200, 201), 2: ("votes", 422, 200, 201), 4: ("synthesis", 422, 409, 409),
                6: ("answers", 422, 409, 409), 8: ("ended", 422, 409, 409)}
    for offset, (stage, create, vote, comment) in expected.items():
        monkeypatch.setattr(consultation_services, "now", lambda o=offset: base + timedelta(days=o))
        assert resident.get(f"/api/v1/consultations/{c['id']}").json["stage"] == stage
        assert propose(resident, c["id"]).status_code == create, stage
        v = voter.put(f"{url}/vote", json={"value": 1})
        assert v.status_code == vote, (stage, v.json)
        if vote == 409:
            assert (v.json["code"], v.json["phase"]) == ("consultation_phase", stage)
        assert voter.post(f"{url}/comments", json={"body": f"En phase {stage}"}).status_code == comment
    assert resident.get(url).json["properties"]["votes"] == {"up": 1, "down": 0}


def test_votes_follow_the_consultations_rule(open_consultation, resident, make_user):
    scale = open_consultation(vote_rule="scale")
    plain = open_consultation()
    on_scale = propose(resident, scale["id"]).json["id"]
    for_against = propose(resident, plain["id"]).json["id"]
    outside = resident.post("/api/v1/proposals", json=feature(category="mobilite")).json["id"]
    voters = [make_user() for _ in range(5)]
    for voter, value in zip(voters, (2, 1, 0, -1, -2), strict=True):
        r = voter.put(f"/api/v1/proposals/{on_scale}/vote", json={"value": value})
        assert r.status_code == 200 and r.json["my_vote"] == value
    assert voters[0].get(f"/api/v1/proposals/{on_scale}").json["properties"]["votes"] == {"up": 2, "down": 2}
    for pid in (for_against, outside):
        r = voters[0].put(f"/api/v1/proposals/{pid}/vote", json={"value": 2})
        assert r.status_code == 422 and r.json["code"] == "invalid_vote"
    r = voters[0].put(f"/api/v1/proposals/{on_scale}/vote", json={"value": 3})
    assert r.status_code == 422


def test_themes_and_geometry_types_are_the_consultations(open_consultation, resident):
    c = open_consultation(themes=["vegetalisation"], geometry_types=["Point"])
    assert propose(resident, c["id"], category="vegetalisation.arbres").status_code == 201
    r = propose(resident, c["id"], category="mobilite")
    assert codes(r) == [("properties.category", "theme_not_in_consultation")]
    square = [[2.349, 48.852], [2.350, 48.852], [2.350, 48.853], [2.349, 48.852]]
    r = propose(resident, c["id"], geometry={"type": "Polygon", "coordinates": [square]})
    assert codes(r) == [("geometry", "geometry_type_not_accepted")]
    unknown = resident.post("/api/v1/proposals", json=feature(category="mobilite", consultation=2**31 - 2))
    assert codes(unknown) == [("properties.consultation", "consultation_not_found")]


def test_closing_ends_participation_and_opens_the_synthesis(open_consultation, planner, resident, make_user,
                                                            client):
    c = open_consultation(phases=days(TODAY - timedelta(days=1), 10, 10))
    url = f"/api/v1/consultations/{c['id']}"
    ids = [propose(resident, c["id"], lon=2.3499 + i / 2000, title=f"Idée {i}", category=theme).json["id"]
           for i, theme in enumerate(("vegetalisation", "vegetalisation.arbres", "mobilite.velo", "culture"))]
    voters = [make_user() for _ in range(6)]
    # idea 0: 5 for; idea 1: 3 for 3 against (contested); idea 2: 2 against; idea 3: nothing
    plan = {ids[0]: [1] * 5, ids[1]: [1, 1, 1, -1, -1, -1], ids[2]: [-1, -1]}
    for pid, values in plan.items():
        for voter, value in zip(voters, values, strict=False):
            assert voter.put(f"/api/v1/proposals/{pid}/vote", json={"value": value}).status_code == 200
    voters[0].post(f"/api/v1/proposals/{ids[1]}/comments", json={"body": "Pourquoi pas"})
    assert client.get(f"{url}/synthesis").json["code"] == "synthesis_not_yet"
    assert resident.post(f"{url}/close").status_code == 403
    closed = planner.post(f"{url}/close")
    assert closed.status_code == 200, closed.json
    assert closed.json["stage"] == "synthesis" and closed.json["can"] == []
    phases = {p["phase"]: p for p in closed.json["phases"]}
    assert set(phases) == {"ideas", "synthesis"}  # the votes phase had not started
    assert phases["ideas"]["ends_at"] == phases["synthesis"]["starts_at"] == closed.json["closed_at"]
    assert propose(resident, c["id"]).status_code == 422
    assert voters[5].put(f"/api/v1/proposals/{ids[3]}/vote", json={"value": 1}).status_code == 409
    assert planner.post(f"{url}/close").json["code"] == "consultation_not_open"

    s = client.get(f"{url}/synthesis").json
    assert s["counts"] == {"proposals": 4, "votes": 13, "comments": 1, "voters": 6, "authors": 1}
    assert [(p["id"], p["score"], p["for"], p["against"]) for p in s["most_supported"]] == [
        (ids[0], 5, 5, 0), (ids[1], 0, 3, 3), (ids[2], -2, 0, 2)]
    assert [p["id"] for p in s["most_contested"]] == [ids[1]]
    themes = {b["key"]: (b["proposals"], b["votes"], b["score"]) for b in s["by_theme"]}
    assert themes == {"vegetalisation": (2, 11, 5), "mobilite": (1, 2, -2), "culture": (1, 0, 0)}
    assert [(b["key"], b["proposals"]) for b in s["by_arrondissement"]] == [(4, 4)]
    assert sum(b["proposals"] for b in s["by_quartier"]) == 4 and all(b["name"] for b in s["by_quartier"])
    assert sorted(h[2] for h in s["heat"]) == [1, 3, 6, 7]

    rows = list(csv.DictReader(io.StringIO(client.get(f"{url}/proposals.csv").get_data(as_text=True))))
    assert [(int(r["id"]), int(r["score"]), r["theme"], r["arrondissement"]) for r in rows] == [
        (ids[0], 5, "vegetalisation", "4"), (ids[1], 0, "vegetalisation", "4"),
        (ids[2], -2, "mobilite", "4"), (ids[3], 0, "culture", "4")]
    geo = json.loads(client.get(f"{url}/proposals.geojson").data)
    assert [f["properties"]["for"] for f in geo["features"]] == [5, 3, 0, 0]
    assert geo["features"][0]["geometry"]["coordinates"] == [2.3499, 48.853]
    # the proposals list filters by consultation
    listed = client.get(f"/api/v1/proposals?consultation={c['id']}").json
    assert sorted(f["id"] for f in listed["features"]) == sorted(ids)


def test_the_leafmap_report_of_a_closed_consultation(open_consultation, planner, resident, client):
    pytest.importorskip("leafmap")
    c = open_consultation()
    propose(resident, c["id"], title="Un banc à l'ombre")
    planner.post(f"/api/v1/consultations/{c['id']}/close")
    r = client.get(f"/api/v1/consultations/{c['id']}/report.html")
    assert r.status_code == 200, r.data[:300]
    page = r.get_data(as_text=True)
    assert "Embellir le quartier Notre-Dame" in page and "Un banc " in page  # the title; the feature's JSON
    assert "cdn.jsdelivr" not in page and "1 propositions" in page


def test_published_consultations_keep_their_rules(open_consultation, planner):
    c = open_consultation()
    url = f"/api/v1/consultations/{c['id']}"
    r = planner.patch(url, json={"vote_rule": "scale", "area": {"arrondissements": [5]}})
    assert r.status_code == 422 and set(codes(r)) == {("vote_rule", "frozen_once_published"),
                                                      ("area", "frozen_once_published")}
    r = planner.patch(url, json={"phases": days(TODAY, 30)})
    assert codes(r) == [("phases", "phase_started")]
    r = planner.patch(url, json={"question": "Quels arbres planter ?"})
    assert r.status_code == 200 and r.json["question"] == "Quels arbres planter ?"


def test_the_city_answers_a_proposal_with_a_public_history(make_user, planner, resident, session):
    follower = make_user()
    proposal = resident.post("/api/v1/proposals", json=feature(title="Piétonniser la rue", category="mobilite"))
    url = f"/api/v1/proposals/{proposal.json['id']}"
    follower.put(f"{url}/follow")
    assert resident.post(f"{url}/answers", json={"status": "accepted", "public_note": "Oui"}).status_code == 403
    first = planner.post(f"{url}/answers", json={"status": "under_review", "public_note": "À l'étude par la voirie."})
    assert first.status_code == 201, first.json
    second = planner.post(f"{url}/answers", json={"status": "accepted", "public_note": "Travaux en mars."})
    assert second.json["status"] == "accepted"
    assert [(e["from"], e["to"], e["public_note"], e["by"]) for e in second.json["history"]] == [
        ("published", "under_review", "À l'étude par la voirie.", "city"),
        ("under_review", "accepted", "Travaux en mars.", "city")]
    assert resident.get(f"{url}/history").json["history"] == second.json["history"]
    assert resident.get(url).json["properties"]["status"] == "accepted"
    illegal = planner.post(f"{url}/answers", json={"status": "published", "public_note": "x"})
    assert illegal.status_code == 422  # not an answer at all
    planner.post(f"{url}/answers", json={"status": "realised", "public_note": "Fait."})
    again = planner.post(f"{url}/answers", json={"status": "rejected", "public_note": "Non."})
    assert again.status_code == 409 and again.json["code"] == "illegal_answer"
    assert again.json["allowed"] == ["realised"]
    mails = session.execute(text("SELECT recipient, subject FROM outbox WHERE event_id IN "
                                 "(SELECT id FROM status_events WHERE contribution_id = :c) ORDER BY id"),
                            {"c": proposal.json["id"]}).all()
    assert sorted({m.recipient for m in mails}) == sorted({resident.email, follower.email})
    assert len(mails) == 6  # three answers × author and follower; never the planner
    assert "Acceptée / Accepted" in mails[2].subject
    audited = session.execute(text("SELECT details->'changes'->>'status' FROM audit_log "
                                   "WHERE action = 'proposal.answer' AND subject_id = :c ORDER BY id"),
                              {"c": str(proposal.json["id"])}).scalars().all()
    assert audited == ["under_review", "accepted", "realised"]


def test_a_status_reads_the_same_on_the_page_and_in_the_mail(client, planner, resident, session):
    """One wording per status (app.labels): the contribution page said "Rejetée" where the
    e-mail said "Non retenue"."""
    proposal = resident.post("/api/v1/proposals", json=feature(title="Un kiosque à livres", category="mobilite"))
    cid = proposal.json["id"]
    r = planner.post(f"/api/v1/proposals/{cid}/answers", json={"status": "rejected", "public_note": "Hors budget."})
    assert r.status_code == 201, r.json
    subject = session.execute(text("SELECT subject FROM outbox WHERE event_id IN (SELECT id FROM status_events "
                                   "WHERE contribution_id = :c)"), {"c": cid}).scalar_one()
    assert "Non retenue / Not retained" in subject
    html = client.get(f"/c/{cid}?lang=fr").get_data(as_text=True)
    history = html[html.index('id="history"'):html.index("</ol>", html.index('id="history"'))]
    assert "Non retenue" in history and "Rejet" not in history
    english = client.get(f"/c/{cid}?lang=en").get_data(as_text=True)
    assert "Not retained" in english[english.index('id="history"'):]


def test_a_planner_turns_a_hotspot_into_a_proposal_linked_to_its_reports(make_report, planner, resident):
    reports = [make_report(lon=2.3499 + i / 5000, title=f"Dépôt sauvage {i}") for i in range(3)]
    ids = [r["id"] for r in reports]
    square = [[2.3495, 48.8525], [2.3510, 48.8525], [2.3510, 48.8535], [2.3495, 48.8535], [2.3495, 48.8525]]
    r = planner.post("/api/v1/proposals", json=feature(
        title="Une ressourcerie de quartier", category="proprete-cadre-de-vie",
        geometry={"type": "Polygon", "coordinates": [square]}, reports=ids))
    assert r.status_code == 201, r.json
    assert [x["id"] for x in r.json["properties"]["reports"]] == ids
    shown = resident.get(f"/api/v1/reports/{ids[0]}").json["properties"]["proposals"]
    assert shown == [{"id": r.json["id"], "title": "Une ressourcerie de quartier", "status": "published"}]
    refused = resident.post("/api/v1/proposals", json=feature(category="mobilite", reports=ids))
    assert codes(refused) == [("properties.reports", "planners_only")]
    unknown = planner.post("/api/v1/proposals", json=feature(category="mobilite", reports=[ids[0], 2**31 - 3]))
    assert codes(unknown) == [("properties.reports[1]", "unknown_report")]


def test_the_pages_a_resident_and_a_planner_use(client, session, planner, resident, open_consultation):
    from tests.conftest import browser

    c = open_consultation(title="Végétaliser la rue de Rivoli")
    idea = propose(resident, c["id"], title="Des jardinières").json["id"]
    listing = client.get("/consultations").get_data(as_text=True)
    assert "Végétaliser la rue de Rivoli" in listing
    page = client.get(f"/consultations/{c['id']}").get_data(as_text=True)
    assert "Que changer autour du parvis ?" in page and "Des jardinières" in page
    assert 'id="create-button"' in page and "Idées" in page
    assert "Clore maintenant" not in page  # planners only
    before = client.get(f"/consultations/{c['id']}/synthesis").get_data(as_text=True)
    assert "La synthèse est publiée" in before and 'id="most-supported"' not in before
    desk = browser(client, session, planner)
    token = desk.get(f"/consultations/{c['id']}").get_data(as_text=True).split('name="csrf-token" content="')[1].split('"')[0]
    closed = desk.post(f"/consultations/{c['id']}/close", data={"csrf_token": token})
    assert closed.status_code == 302 and closed.headers["Location"].endswith(f"/consultations/{c['id']}/synthesis")
    after = client.get(f"/consultations/{c['id']}/synthesis").get_data(as_text=True)
    assert 'id="most-supported"' in after and "<th scope=\"row\">Végétalisation</th><td>1</td>" in after
    # the planner's form opens another one, on two arrondissements, published at once
    start = TODAY.isoformat()
    made = desk.post("/consultations/new", data={
        "csrf_token": token, "title": "Places du 11e", "question": "Quelles places rénover ?",
        "arrondissements": ["11", "12"], "ideas_start": start,
        "ideas_end": (TODAY + timedelta(days=20)).isoformat(),
        "votes_end": (TODAY + timedelta(days=30)).isoformat(), "geometry_types": ["Point"],
        "vote_rule": "scale", "publish": "1"})
    assert made.status_code == 302, made.get_data(as_text=True)[:2000]
    new_id = int(made.headers["Location"].rsplit("/", 1)[1])
    created = client.get(f"/api/v1/consultations/{new_id}").json
    assert (created["area_ids"], created["vote_rule"], created["stage"], [p["phase"] for p in created["phases"]]) == (
        [11, 12], "scale", "ideas", ["ideas", "votes"])
    assert created["phases"][1]["starts_on"] == (TODAY + timedelta(days=21)).isoformat()
    bad = desk.post("/consultations/new", data={"csrf_token": token, "title": "x", "question": "Quoi ?",
                                                 "ideas_start": start, "ideas_end": start})
    assert bad.status_code == 200 and "Au moins 3 caractères" in bad.get_data(as_text=True)
    # the planner answers the proposal from its page
    answered = desk.post(f"/c/{idea}/answer", data={"csrf_token": token, "status": "accepted",
                                                     "public_note": "Retenue pour 2027."})
    assert answered.status_code == 302
    shown = client.get(f"/c/{idea}").get_data(as_text=True)
    assert "Retenue pour 2027." in shown and "Végétaliser la rue de Rivoli" in shown


def test_a_planner_goes_from_a_hotspot_to_a_consultation_or_a_proposal(client, session, planner, make_report):
    from tests.conftest import browser

    ids = [make_report(lon=2.3499 + i / 5000, title=f"Encombrants {i}")["id"] for i in range(3)]
    square = [[2.3495, 48.8525], [2.3510, 48.8525], [2.3510, 48.8535], [2.3495, 48.8535], [2.3495, 48.8525]]
    polygon = json.dumps({"type": "Polygon", "coordinates": [square]})
    desk = browser(client, session, planner)
    form = desk.get("/proposals/new", query_string={"polygon": polygon, "reports": ",".join(map(str, ids))})
    page = form.get_data(as_text=True)
    assert "les 3 signalements à son origine" in page
    token = page.split('name="csrf-token" content="')[1].split('"')[0]
    made = desk.post("/proposals/new", data={"csrf_token": token, "polygon": polygon,
                                             "reports": ",".join(map(str, ids)), "title": "Une ressourcerie",
                                             "category": "proprete-cadre-de-vie"})
    assert made.status_code == 302, made.get_data(as_text=True)[:1500]
    pid = int(made.headers["Location"].rsplit("/", 1)[1])
    feature_ = client.get(f"/api/v1/proposals/{pid}").json
    assert [r["id"] for r in feature_["properties"]["reports"]] == ids
    assert feature_["geometry"]["type"] == "Polygon"
    shown = client.get(f"/c/{ids[1]}").get_data(as_text=True)
    assert "Une ressourcerie" in shown
    # the consultation form keeps the hotspot's outline as its area
    opened = desk.post("/consultations/new", data={
        "csrf_token": token, "polygon": polygon, "title": "Autour du parvis", "question": "Que faire ici ?",
        "ideas_start": TODAY.isoformat(), "ideas_end": (TODAY + timedelta(days=9)).isoformat()})
    assert opened.status_code == 302, opened.get_data(as_text=True)[:1500]
    cid = int(opened.headers["Location"].rsplit("/", 1)[1])
    area = session.execute(text("SELECT area_kind, ST_AsText(ST_Envelope(area)) FROM consultations WHERE id = :c"),
                           {"c": cid}).one()
    assert area[0] == "polygon" and area[1].startswith("POLYGON((2.3495 48.8525")


def test_bad_bodies_are_field_errors_never_a_500(planner):
    made = planner.post("/api/v1/consultations", json=body(area={"arrondissements": [3.0]}))
    assert made.status_code == 201 and made.json["area_ids"] == [3]  # 3.0 is 3
    url = f"/api/v1/consultations/{made.json['id']}"
    r = planner.patch(url, json={
        "area": {"arrondissements": [1], "polygon": {"type": {}, "coordinates": [[[2.224, 48.8155]] * 4]}},
        "description": None, "geometry_types": None, "phases": None, "question": None, "themes": None,
        "title": None, "vote_rule": None})
    assert r.status_code == 422, r.json
    assert codes(r) == [("area.polygon", "geometry_type_not_allowed")]
    for area in ({"arrondissements": [True]}, {"quartiers": None}, {}):
        assert planner.post("/api/v1/consultations", json=body(area=area)).status_code == 422
