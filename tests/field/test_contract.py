"""The field endpoints' declared contract: ids no column can hold, text PostgreSQL cannot store,
unknown members and parameters, the limits read from the workflow, the queue's filters."""

import io
import json

import pytest

from app.api.types import COLUMN_ID_MAX
from app.field import workflow
from app.field.queries import OLDER_THAN_MAX, QUEUE_LIMIT

HUGE_IDS = (17751577819, 10459767879927, 2**63 - 1)


@pytest.fixture
def supervisor(make_user):
    return make_user(roles=("supervisor",), name="Sup")


def errors(response) -> list[tuple[str, str]]:
    assert response.status_code == 422, (response.status_code, response.get_json())
    assert response.mimetype == "application/problem+json"
    return [(e["field"], e["code"]) for e in response.get_json()["errors"]]


def raw_json(api, url: str, text: str, method: str = "post"):
    """Send JSON text as is (escapes such as a lone surrogate survive)."""
    return getattr(api, method)(url, data=text.encode(), content_type="application/json")


# ---- ids ------------------------------------------------------------------------------------

def test_a_huge_id_in_a_path_is_a_404(client, supervisor, make_user):
    for path in ("/api/v1/reports/99999999999/history", f"/api/v1/reports/{2**31}/history",
                 "/feeds/reports/99999999999.atom"):
        r = client.get(path)
        assert r.status_code == 404 and r.mimetype == "application/problem+json", path
    assert supervisor.post("/api/v1/reports/99999999999/transitions",
                           json={"to": "acknowledged"}).status_code == 404
    assert make_user().put("/api/v1/proposals/99999999999/follow").status_code == 404
    admin = make_user(roles=("admin",))
    assert admin.put("/api/v1/agents/99999999999/scopes", json={"scopes": []}).status_code == 404


@pytest.mark.parametrize("huge", HUGE_IDS)
def test_a_huge_duplicate_of_is_an_unknown_report(supervisor, make_report, huge):
    report = make_report()
    url = f"/api/v1/reports/{report['id']}/transitions"
    unknown = supervisor.post(url, json={"to": "duplicate", "duplicate_of": COLUMN_ID_MAX})
    r = supervisor.post(url, json={"to": "duplicate", "duplicate_of": huge})
    assert errors(r) == errors(unknown) == [("duplicate_of", "unknown_report")]


def test_a_member_of_another_target_is_not_kept(supervisor, make_report, huge=HUGE_IDS[0]):
    """Found by schemathesis: a `duplicate_of` sent with `acknowledged` reached the history's
    integer column (a 500 when beyond it). A target keeps its own member only."""
    report = make_report()
    r = supervisor.post(f"/api/v1/reports/{report['id']}/transitions",
                        json={"to": "acknowledged", "duplicate_of": huge, "planned_for": "2100-04-01",
                              "transferred_to": "RATP", "resolution": "fixed"})
    assert r.status_code == 201, r.json
    event = r.json["history"][-1]
    assert event["to"] == "acknowledged"
    assert (event["duplicate_of"], event["planned_for"], event["transferred_to"],
            event["resolution"]) == (None, None, None, None)


def test_ids_out_of_the_contract_are_out_of_range(supervisor, make_report):
    url = f"/api/v1/reports/{make_report()['id']}/transitions"
    for bad in (0, -3, 2**63, 10**30):
        r = supervisor.post(url, json={"to": "duplicate", "duplicate_of": bad})
        assert errors(r) == [("duplicate_of", "out_of_range")], bad
    r = supervisor.post(url, json={"to": "duplicate", "duplicate_of": "douze"})
    assert errors(r) == [("duplicate_of", "not_a_number")]


def test_a_huge_id_in_a_batch_is_an_unknown_report(agent_4, make_report, client):
    a = make_report(category="graffitis")
    unknown = agent_4.post("/api/v1/agent/batch", json={"ids": [COLUMN_ID_MAX], "to": "acknowledged"})
    assert unknown.status_code == 404
    for huge in HUGE_IDS:
        r = agent_4.post("/api/v1/agent/batch", json={"ids": [a["id"], huge], "to": "acknowledged"})
        assert (r.status_code, r.json["code"]) == (unknown.status_code, unknown.json["code"]), huge
        assert r.json["code"] == "contribution_not_found"
    # all or nothing: the first report was not changed either
    assert client.get(f"/api/v1/reports/{a['id']}").json["properties"]["status"] == "new"
    assert errors(agent_4.post("/api/v1/agent/batch", json={"ids": [17751577819]})) == [
        ("to", "required")]
    r = agent_4.post("/api/v1/agent/batch", json={"ids": [17751577819], "to": "acknowledged"})
    assert r.status_code == 404 and r.json["code"] == "contribution_not_found"


def test_a_huge_agent_id_is_an_unknown_agent(supervisor, make_report):
    url = f"/api/v1/reports/{make_report()['id']}/assignment"
    unknown = supervisor.put(url, json={"agent_id": COLUMN_ID_MAX})
    for huge in HUGE_IDS:
        assert errors(supervisor.put(url, json={"agent_id": huge})) == errors(unknown) == [
            ("agent_id", "unknown_agent")]
    assert supervisor.put(url, json={"agent_id": None}).json == {
        "id": int(url.split("/")[4]), "assigned_to": None}


# ---- text ----------------------------------------------------------------------------------

def test_text_postgresql_cannot_store_is_refused(supervisor, make_report):
    url = f"/api/v1/reports/{make_report()['id']}/transitions"
    r = raw_json(supervisor, url, '{"to": "acknowledged", "public_note": "caf\\ud800"}')
    assert errors(r) == [("public_note", "invalid_value")]
    r = raw_json(supervisor, url, '{"to": "acknowledged", "internal_note": "\\udfff"}')
    assert errors(r) == [("internal_note", "invalid_value")]
    r = supervisor.post(url, json={"to": "acknowledged", "public_note": "a\x00b"})
    assert errors(r) == [("public_note", "invalid_value")]
    r = supervisor.post(url, json={"to": "transferred", "transferred_to": "RATP\x00"})
    assert errors(r) == [("transferred_to", "invalid_value")]
    r = raw_json(supervisor, "/api/v1/agent/batch",
                 '{"ids": [1], "to": "acknowledged", "internal_note": "\\ud83d"}')
    assert errors(r) == [("internal_note", "invalid_value")]
    # and nothing was recorded
    history = supervisor.get(url.replace("transitions", "history")).json["history"]
    assert history == []


def test_note_and_transfer_limits_come_from_the_workflow(supervisor, make_report):
    report = make_report()
    url = f"/api/v1/reports/{report['id']}/transitions"
    long_note = "é" * (workflow.NOTE_MAX + 1)
    r = supervisor.post(url, json={"to": "acknowledged", "public_note": long_note})
    assert errors(r) == [("public_note", "too_long")]
    assert str(workflow.NOTE_MAX) in r.json["errors"][0]["detail"]
    r = supervisor.post(url, json={"to": "transferred", "transferred_to": "x" * (workflow.TRANSFER_MAX + 1)})
    assert errors(r) == [("transferred_to", "too_long")]
    target = "Régie " + "x" * (workflow.TRANSFER_MAX - 6)
    r = supervisor.post(url, json={"to": "transferred", "transferred_to": f"  {target}  ",
                                   "internal_note": "n" * workflow.NOTE_MAX})
    assert r.status_code == 201, r.json
    assert r.json["history"][-1]["transferred_to"] == target  # stripped
    r = supervisor.post(url, json={"to": "acknowledged", "public_note": 12})
    assert errors(r) == [("public_note", "not_a_string")]


# ---- members and content types ---------------------------------------------------------------

@pytest.mark.parametrize(("path", "method", "body"), [
    ("transitions", "post", {"to": "acknowledged", "note": "typo"}),
    ("priority", "put", {"priority": "minor", "urgent": True}),
    ("assignment", "put", {"agent": 3}),
    ("feedback", "post", {"value": "fixed", "comment": "merci"}),
])
def test_unknown_members_are_refused(supervisor, make_report, path, method, body):
    url = f"/api/v1/reports/{make_report()['id']}/{path}"
    extra = next(k for k in body if k not in ("to", "priority", "value"))
    r = getattr(supervisor, method)(url, json=body)
    assert (extra, "unknown_field") in errors(r)
    assert r.json["code"] == "validation_failed"


def test_batch_and_queue_refuse_unknown_names(agent_4):
    r = agent_4.post("/api/v1/agent/batch", json={"ids": [1], "to": "acknowledged", "force": True})
    assert errors(r) == [("force", "unknown_field")]
    assert errors(agent_4.get("/api/v1/agent/queue?statut=open")) == [("statut", "unknown_field")]


def test_bodies_must_be_json_objects(supervisor, make_report):
    url = f"/api/v1/reports/{make_report()['id']}/transitions"
    assert supervisor.post(url, data="to=acknowledged",
                           content_type="application/x-www-form-urlencoded").status_code == 415
    assert supervisor.post(url, data=b"{nope", content_type="application/json").status_code == 400
    assert supervisor.post(url, json=["acknowledged"]).status_code == 400
    assert errors(supervisor.post(url, json={})) == [("to", "required")]
    # multipart: the change as JSON text in `transition`
    r = supervisor.post(url, data={"photo": (io.BytesIO(b"x"), "a.jpg")},
                        content_type="multipart/form-data")
    assert errors(r) == [("transition", "required")]
    r = supervisor.post(url, data={"transition": "{nope"}, content_type="multipart/form-data")
    assert r.status_code == 400 and r.json["code"] == "malformed_request"
    r = supervisor.post(url, data={"transition": json.dumps({"to": "acknowledged", "x": 1})},
                        content_type="multipart/form-data")
    assert errors(r) == [("x", "unknown_field")]
    r = supervisor.post(url, data={"transition": json.dumps({"to": "resolved", "resolution": "fixed"}),
                                   "photo": (io.BytesIO(b"not an image"), "a.jpg")},
                        content_type="multipart/form-data")
    assert errors(r) == [("photo", "photo_unreadable")]
    ok = supervisor.post(url, data={"transition": json.dumps({"to": "acknowledged"})},
                         content_type="multipart/form-data")
    assert ok.status_code == 201 and ok.json["history"][-1]["photo_url"] is None


def test_enumerations_and_required_members(supervisor, make_report, agent_4):
    report = make_report()
    base = f"/api/v1/reports/{report['id']}"
    r = supervisor.post(f"{base}/transitions", json={"to": "acknowledged", "resolution": "done"})
    assert errors(r) == [("resolution", "invalid_value")]  # whatever the target
    assert errors(supervisor.put(f"{base}/priority", json={"priority": "urgent"})) == [
        ("priority", "invalid_value")]
    assert supervisor.put(f"{base}/priority", json={}).json == {"id": report["id"], "priority": None}
    assert errors(supervisor.post(f"{base}/feedback", json={})) == [("value", "required")]
    assert errors(supervisor.post(f"{base}/feedback", json={"value": "meh"})) == [
        ("value", "invalid_value")]
    batch = "/api/v1/agent/batch"
    assert errors(agent_4.post(batch, json={"ids": [], "to": "acknowledged"})) == [
        ("ids", "too_few_items")]
    too_many = list(range(1, workflow.BATCH_MAX + 2))
    r = agent_4.post(batch, json={"ids": too_many, "to": "acknowledged"})
    assert errors(r) == [("ids", "too_many_items")] and str(workflow.BATCH_MAX) in r.json["errors"][0]["detail"]
    assert errors(agent_4.post(batch, json={"ids": [1], "to": "resolved"})) == [("to", "invalid_value")]
    assert errors(agent_4.post(batch, json={"ids": ["un"], "to": "acknowledged"})) == [
        ("ids[0]", "not_a_number")]
    r = agent_4.post(batch, json={"ids": [1], "to": "scheduled", "planned_for": "jeudi"})
    assert errors(r) == [("planned_for", "invalid_date")]


# ---- the queue's filters ----------------------------------------------------------------------

@pytest.mark.parametrize(("query", "expected"), [
    ("status=open,flying", [("status", "invalid_status")]),
    ("arrondissement=4,25", [("arrondissement", "out_of_range")]),
    ("arrondissement=quatre", [("arrondissement", "not_a_number")]),
    ("priority=urgent", [("priority", "invalid_value")]),
    ("sort=random", [("sort", "invalid_value")]),
    ("sort=nearest", [("lon", "needs_position"), ("lat", "needs_position")]),
    ("sort=nearest&lon=2.35&lat=95", [("lat", "out_of_range")]),
    # found by schemathesis: a point Lambert-93 cannot project was a 500
    ("sort=nearest&lon=-180&lat=-90", [("lon", "out_of_range"), ("lat", "out_of_range")]),
    ("sort=nearest&lon=east&lat=48.85", [("lon", "not_a_number")]),
    (f"older_than_days={OLDER_THAN_MAX + 1}", [("older_than_days", "out_of_range")]),
    ("older_than_days=-1", [("older_than_days", "out_of_range")]),
    ("assigned=you", [("assigned", "invalid_value")]),
    (f"limit={QUEUE_LIMIT[1] + 1}", [("limit", "out_of_range")]),
    ("limit=0", [("limit", "out_of_range")]),
    ("category=nope", [("category", "unknown_category")]),
    ("status=nope&priority=nope", [("status", "invalid_status"), ("priority", "invalid_value")]),
])
def test_queue_filters_are_checked(agent_4, query, expected):
    assert errors(agent_4.get(f"/api/v1/agent/queue?{query}")) == expected


def test_queue_filters_apply(agent_4, make_report, supervisor):
    tag = make_report(category="graffitis", title="Tag du queue")
    supervisor.post(f"/api/v1/reports/{tag['id']}/transitions",
                    json={"to": "resolved", "resolution": "fixed"})
    queue = "/api/v1/agent/queue"

    def ids(query: str) -> list[int]:
        r = agent_4.get(f"{queue}?sort=newest&{query}")  # imported reports are older
        assert r.status_code == 200, r.json
        return [f["id"] for f in r.json["features"]]

    assert tag["id"] not in ids("")  # open by default
    assert tag["id"] in ids("status=closed") and tag["id"] in ids("status=resolved,new")
    assert tag["id"] not in ids("status=rejected")
    assert tag["id"] in ids("status=closed&arrondissement=3,4&category=graffitis")
    assert tag["id"] not in ids("status=closed&arrondissement=11")
    # a page's form leaves unused filters empty: the same as absent there; the API refuses them
    blanks = "status=closed&category=&arrondissement=&priority=&older_than_days="
    page = agent_4.get(f"/agent?{blanks}")
    assert page.status_code == 200 and f'/agent/reports/{tag["id"]}"' in page.get_data(as_text=True)
    refused = agent_4.get(f"{queue}?{blanks}")
    assert refused.status_code == 422 and {e["field"] for e in refused.json["errors"]} == {
        "category", "arrondissement", "priority", "older_than_days"}
    assert ids("status=closed&lon=2.35&lat=48.85") == ids("status=closed")  # ignored unless nearest
    near = agent_4.get(f"{queue}?status=closed&sort=nearest&lon=2.3499&lat=48.853").json
    assert near["features"][0]["id"] == tag["id"] and near["features"][0]["properties"]["distance_m"] < 1
    assert len(ids("status=open,closed&limit=1")) == 1


# ---- the declared answers are the real ones ----------------------------------------------------

def test_answers_match_their_declared_models(make_user, make_report, supervisor, agent_4, client):
    """Every answer validates against its reply's model (extra="forbid": an undeclared member
    fails), as the public and as staff see it."""
    from datetime import datetime, timedelta

    from app.api.contract import contract_of
    from geo.aggregations import PARIS

    app = client.application

    def reply_model(endpoint: str, status: int):
        return contract_of(app.view_functions[f"field.{endpoint}"]).replies[status].model

    def matches(response, endpoint: str, status: int = 200):
        assert response.status_code == status, response.get_json()
        body = response.get_json(force=True)
        reply_model(endpoint, status).model_validate(body)
        return body

    reporter, follower = make_user(), make_user()
    report = make_report(api=reporter, category="graffitis")
    base = f"/api/v1/reports/{report['id']}"
    tomorrow = (datetime.now(PARIS).date() + timedelta(days=1)).isoformat()
    matches(follower.put(f"{base}/follow"), "report_follow_put")
    matches(follower.delete(f"{base}/follow"), "report_follow_delete")
    matches(follower.put(f"{base}/follow"), "report_follow_put")
    matches(agent_4.post(f"{base}/transitions", json={
        "to": "scheduled", "planned_for": tomorrow, "public_note": "Jeudi", "internal_note": "n"}),
        "post_transition", 201)
    matches(agent_4.put(f"{base}/priority", json={"priority": "dangerous"}), "put_priority")
    matches(supervisor.put(f"{base}/assignment", json={"agent_id": agent_4.user_id}), "put_assignment")
    for query in ("assigned=me", "sort=nearest&lon=2.3499&lat=48.853&lang=en", "sort=me_too"):
        body = matches(agent_4.get(f"/api/v1/agent/queue?{query}"), "agent_queue")
        assert body["features"], query
    matches(supervisor.post(f"{base}/transitions", json={"to": "resolved", "resolution": "fixed"}),
            "post_transition", 201)
    closed = matches(supervisor.get("/api/v1/agent/queue?status=closed"), "agent_queue")
    assert closed["features"][0]["properties"]["author"] is not None
    matches(follower.post(f"{base}/feedback", json={"value": "still_there"}), "post_feedback", 201)
    public = matches(client.get(f"{base}/history"), "get_history")
    assert {"internal_note", "actor"}.isdisjoint(public["history"][0])
    staff = matches(supervisor.get(f"{base}/history"), "get_history")
    assert staff["history"][0]["internal_note"] == "n"
    other = make_report(api=reporter, category="graffitis")
    matches(agent_4.post("/api/v1/agent/batch", json={"ids": [other["id"]], "to": "acknowledged"}),
            "agent_batch")
    admin = make_user(roles=("admin",))
    matches(admin.put(f"/api/v1/agents/{make_user().user_id}/scopes", json={"scopes": [
        {"service": "graffitis"}, {"arrondissement": 4}, {}]}), "put_scopes")
