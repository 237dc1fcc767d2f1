"""The OpenAPI document, generated from the endpoints' declarations: complete against the URL map,
valid OpenAPI 3.1, every $ref resolving, rendered by /api/v1/docs, and true to what the endpoints
actually answer."""

from __future__ import annotations

import copy
import io
import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from PIL import Image

from app.api.document import openapi_document
from geo.aggregations import PARIS
from tests.conftest import feature

PROBLEM_MEDIA = "application/problem+json"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# documented once in components and referred to from the document's description: no
# operation answers 405 itself, every other method on its path does
UNREFERENCED = {"#/components/responses/Problem405"}


@pytest.fixture(scope="module")
def doc(app):
    with app.app_context():
        return openapi_document()


def app_routes(app) -> dict[str, set[str]]:
    """Every URL rule as an OpenAPI path template (`<int:x>` -> `{x}`) with its methods."""
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^<>]*:)?(\w+)>", r"{\1}", rule.rule)
        routes.setdefault(path, set()).update(m.lower() for m in rule.methods - IGNORED_METHODS)
    return routes


def operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield path, method, op


def walk(node):
    """Every dict in a JSON tree."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def resolve(doc, pointer: str):
    assert pointer.startswith("#/"), pointer
    node = doc
    for part in pointer[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{pointer} does not resolve"
        node = node[part]
    return node


def deref(doc, node):
    while "$ref" in node:
        node = resolve(doc, node["$ref"])
    return node


# --- the document itself ---------------------------------------------------------------------


def test_every_api_route_and_method_is_documented(app, doc):
    routes = app_routes(app)
    api = {p: m for p, m in routes.items() if p.startswith(("/api/v1", "/feeds/", "/media/"))}
    assert api
    for path, methods in api.items():
        assert path in doc["paths"], f"{path} is not documented"
        assert set(doc["paths"][path]) == methods, path


def test_every_documented_operation_exists(app, doc):
    routes = app_routes(app)
    for path, method, _op in operations(doc):
        assert path in routes, f"{path} is documented but not routed"
        assert method in routes[path], f"{method.upper()} {path} is documented but not routed"


def test_document_is_valid_openapi_31(doc):
    assert doc["openapi"].startswith("3.1")
    validate_openapi(doc)


def test_operations_have_summary_and_unique_operation_id(doc):
    ids = []
    for path, method, op in operations(doc):
        assert method in HTTP_METHODS, f"{path} has a non-operation key {method!r}"
        assert op.get("summary"), f"{method} {path}"
        ids.append(op["operationId"])
        for name in re.findall(r"{(\w+)}", path):
            params = [deref(doc, p) for p in op.get("parameters", [])]
            assert any(p["in"] == "path" and p["name"] == name for p in params), (path, name)
    assert len(ids) == len(set(ids))


def test_error_responses_are_problems(doc):
    inline = [r for _p, _m, op in operations(doc) for r in op["responses"].values()]
    for status in ("400", "401", "403", "404", "405", "409", "413", "415", "422", "500"):
        matching = [r for r in [*doc["components"]["responses"].values(), *inline]
                    if PROBLEM_MEDIA in r.get("content", {})
                    and r["content"][PROBLEM_MEDIA]["example"]["status"] == int(status)]
        assert matching, status
        for r in matching:
            assert r["content"][PROBLEM_MEDIA]["schema"] == {"$ref": "#/components/schemas/Problem"}
    for path, method, op in operations(doc):
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")) and "$ref" not in response:  # a specific one
                if (path, status) == ("/healthz", "503"):  # the health report, degraded
                    continue
                schema = response["content"][PROBLEM_MEDIA]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path, status)


def test_every_ref_resolves_and_every_component_is_used(doc):
    refs = {node["$ref"] for node in walk(doc) if "$ref" in node}
    for pointer in refs:
        resolve(doc, pointer)
    for section, entries in doc["components"].items():
        if section == "securitySchemes":
            continue
        for name in entries:
            pointer = f"#/components/{section}/{name}"
            assert pointer in refs or pointer in UNREFERENCED, f"{pointer} is never used"


def test_served_document(client, app, doc):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    assert r.mimetype == "application/json"
    assert r.get_json() == json.loads(json.dumps(doc))


def test_docs_page_runs_swagger_ui_from_our_own_static_files(client):
    r = client.get("/api/v1/docs")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert scripts == ["/static/vendor/swagger-ui-dist/swagger-ui-bundle.js", "/static/js/api-docs.js"]
    assert 'data-spec="/api/v1/openapi.json"' in html
    assert "https://" not in html.replace("https://json-schema", "")  # no CDN
    for src in scripts:
        asset = client.get(src)
        assert asset.status_code == 200 and len(asset.get_data()) > 500, src
        asset.close()
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-eval" not in csp


def test_limits_are_read_from_the_code_not_restated(doc):
    """The document's limits are the models' own (a drifted copy cannot exist)."""
    from app.accounts.services import MIN_PASSWORD
    from app.areas.schemas import GEOCODE_LIMIT, GEOCODE_MAX_Q

    geocode = {p["name"]: p["schema"] for p in doc["paths"]["/api/v1/geocode"]["get"]["parameters"]}
    assert geocode["q"]["maxLength"] == GEOCODE_MAX_Q
    assert (geocode["limit"]["minimum"], geocode["limit"]["maximum"]) == GEOCODE_LIMIT[:2]
    register = doc["components"]["schemas"]["RegisterInput"]["properties"]["password"]
    assert str(MIN_PASSWORD) in register["description"]
    assert not (Path(__file__).resolve().parent.parent / "app" / "api" / "openapi.py").exists()


# --- the document against real answers -------------------------------------------------------


@pytest.fixture(scope="module")
def strict_components(doc):
    """The components with every object schema closed, so an undocumented member fails."""
    components = copy.deepcopy(doc["components"])
    for node in walk(components["schemas"]):
        if node.get("type") == "object" and "properties" in node:
            node.setdefault("additionalProperties", False)
    return components


def check(doc, strict_components, response, path: str, method: str):
    """The response's status, media type, headers and body are as documented."""
    documented = doc["paths"][path][method]["responses"]
    status = str(response.status_code)
    assert status in documented, f"{method} {path} answered undocumented {status}"
    check_response(doc, strict_components, response, deref(doc, documented[status]))


def check_response(doc, strict_components, response, spec: dict):
    for header in spec.get("headers", {}):
        assert header in response.headers, header
    if "content" not in spec:
        assert response.get_data() == b""
        return
    assert response.mimetype in spec["content"], response.mimetype
    body_schema = spec["content"][response.mimetype]["schema"]
    if not response.mimetype.endswith("json"):
        return
    errors = schema_errors(strict_components, body_schema, response.get_json(force=True))
    assert not errors, errors


def schema_errors(strict_components, schema: dict, instance) -> list[str]:
    """Where `instance` breaks `schema` (a schema of the document, e.g. a `$ref`)."""
    root = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:cartagora:openapi",
        "components": strict_components,
        "allOf": [schema],
    }
    errors = sorted(Draft202012Validator(root).iter_errors(instance),
                    key=lambda e: list(e.absolute_path))
    return [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def request_schema(doc, path: str, method: str, media: str = "application/json") -> dict:
    body = deref(doc, doc["paths"][path][method]["requestBody"])
    return body["content"][media]["schema"]


def png() -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 30, 30)).save(out, "PNG")
    out.seek(0)
    return out


def test_contribution_answers_match(client, doc, strict_components, resident):
    def ok(response, path, method, status):
        assert response.status_code == status, response.get_json()
        check(doc, strict_components, response, path, method)
        return response.get_json(force=True) if response.data else None

    item = "/api/v1/reports/{contribution_id}"
    created = ok(resident.post("/api/v1/reports", content_type="multipart/form-data", data={
        "feature": json.dumps(feature(address="Parvis Notre-Dame")),
        "photos": [(png(), "tags.png", "image/png")],
    }), "/api/v1/reports", "post", 201)
    rid = created["id"]
    assert created["properties"]["photos"]
    ok(resident.post("/api/v1/reports", json=feature(title="Encore des tags")),
       "/api/v1/reports", "post", 201)

    ok(client.get(f"/api/v1/reports/{rid}?lang=en"), item, "get", 200)
    page = ok(client.get("/api/v1/reports?limit=1&status=open&arrondissement=4"),
              "/api/v1/reports", "get", 200)
    assert page["links"][0]["rel"] == "next"
    ok(resident.patch(f"/api/v1/reports/{rid}", json={"properties": {"title": "Tags partout"}}),
       item, "patch", 200)
    near = ok(client.get("/api/v1/reports/nearby?lon=2.3499&lat=48.853&category=graffitis"),
              "/api/v1/reports/nearby", "get", 200)
    assert "distance_m" in near["features"][0]["properties"]

    with client.get(created["properties"]["photos"][0]["thumbnail_url"]) as photo:
        assert photo.status_code == 200
        check(doc, strict_components, photo, "/media/photos/{name}", "get")

    vote = f"{item}/vote"
    ok(resident.put(f"/api/v1/reports/{rid}/vote", json={"value": 1}), vote, "put", 200)
    ok(resident.delete(f"/api/v1/reports/{rid}/vote"), vote, "delete", 200)

    comments = f"{item}/comments"
    for body in ("Vu aussi", "Toujours là"):
        ok(resident.post(f"/api/v1/reports/{rid}/comments", json={"body": body}),
           comments, "post", 201)
    listed = ok(client.get(f"/api/v1/reports/{rid}/comments?limit=1"), comments, "get", 200)
    assert listed["links"][0]["rel"] == "next"

    ok(resident.delete(f"/api/v1/reports/{rid}"), item, "delete", 204)

    polygon = {"type": "Polygon", "coordinates": [[[2.349, 48.853], [2.351, 48.853],
                                                   [2.351, 48.854], [2.349, 48.853]]]}
    proposals = "/api/v1/proposals"
    code = client.get("/api/v1/categories?kind=proposal").get_json()["categories"][0]["code"]
    pid = ok(resident.post(proposals, json=feature(geometry=polygon, category=code,
                                                   title="Végétaliser le parvis")),
             proposals, "post", 201)["id"]
    ok(client.get(f"{proposals}?status=published&category={code}"), proposals, "get", 200)
    ok(resident.put(f"{proposals}/{pid}/vote", json={"value": -1}),
       "/api/v1/proposals/{contribution_id}/vote", "put", 200)


def test_reference_and_account_answers_match(client, doc, strict_components):
    def ok(response, path, method="get", status=200):
        assert response.status_code == status, response.get_json()
        check(doc, strict_components, response, path, method)
        return response.get_json(force=True) if response.data else None

    for kind in ("report", "proposal"):
        assert ok(client.get(f"/api/v1/categories?kind={kind}"), "/api/v1/categories")["categories"]
    ok(client.get("/api/v1/areas?level=quartier"), "/api/v1/areas")
    ok(client.get("/api/v1/areas"), "/api/v1/areas")
    assert ok(client.get("/api/v1/geocode?q=12 rue de rivoli&limit=3"), "/api/v1/geocode")["features"]
    assert ok(client.get("/api/v1/reverse?lon=2.3499&lat=48.853"), "/api/v1/reverse")["features"]
    ok(client.get("/healthz"), "/healthz")

    account = {"email": "openapi@example.org", "password": "a long enough password",
               "display_name": "Doc"}
    ok(client.post("/api/v1/auth/register", json=account), "/api/v1/auth/register", "post", 202)
    credentials = {"email": account["email"], "password": account["password"]}
    token = ok(client.post("/api/v1/auth/token", json=credentials), "/api/v1/auth/token", "post", 201)
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    ok(client.get("/api/v1/me", headers=auth), "/api/v1/me")
    ok(client.post("/api/v1/auth/logout", headers=auth), "/api/v1/auth/logout", "post", 204)


def test_problem_answers_match(client, doc, strict_components, resident, make_user):
    def problem(response, path, method, status):
        assert response.status_code == status, response.get_json()
        assert response.mimetype == PROBLEM_MEDIA
        check(doc, strict_components, response, path, method)
        return response.get_json()

    reports, item = "/api/v1/reports", "/api/v1/reports/{contribution_id}"
    rid = resident.post(reports, json=feature()).get_json()["id"]

    body = problem(client.get(f"{reports}?bbox=1,2&status=nope&limit=5000"), reports, "get", 422)
    assert {e["field"] for e in body["errors"]} == {"bbox", "status", "limit"}
    body = problem(resident.post(reports, json=feature(lon=2.2, lat=48.6)), reports, "post", 422)
    assert body["code"] == "outside_paris"
    problem(client.post(reports, json=feature()), reports, "post", 401)
    problem(client.get(f"{reports}/999999999"), item, "get", 404)
    problem(resident.post(reports, data="x", content_type="text/plain"), reports, "post", 415)
    problem(resident.post(reports, data="{", content_type="application/json"), reports, "post", 400)
    problem(make_user().patch(f"{reports}/{rid}", json={"properties": {"title": "Pas à moi"}}),
            item, "patch", 403)
    problem(client.post("/api/v1/auth/register", json={
        "email": resident.email, "password": "short", "display_name": "Bis"}),
        "/api/v1/auth/register", "post", 422)
    problem(client.post("/api/v1/auth/token", json={"email": resident.email, "password": "wrong"}),
            "/api/v1/auth/token", "post", 401)
    problem(client.get("/api/v1/me", headers={"Authorization": "Bearer nope"}),
            "/api/v1/me", "get", 401)

    r = client.put(reports)
    assert r.status_code == 405 and r.mimetype == PROBLEM_MEDIA
    check_response(doc, strict_components, r, doc["components"]["responses"]["Problem405"])
    assert set(r.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}

    en = client.get(f"{reports}?bbox=x", headers={"Accept-Language": "en"}).get_json()
    assert en["errors"][0]["detail"].startswith("bbox expects")
    fr = client.get(f"{reports}?bbox=x&lang=fr", headers={"Accept-Language": "en"}).get_json()
    assert fr["errors"][0]["detail"].startswith("bbox attend")



def test_map_answers_match(client, doc, strict_components, make_report):
    def ok(response, path, status=200):
        assert response.status_code == status, response.get_json()
        check(doc, strict_components, response, path, "get")
        return response.get_json(force=True) if response.data else None

    make_report()
    make_report(lon=2.35, lat=48.8531, title="Tags sur le banc")
    crowded = ok(client.get("/api/v1/map/clusters?zoom=12&kind=report&status=open"),
                 "/api/v1/map/clusters")
    assert any(f["properties"].get("cluster") for f in crowded["features"])
    close = ok(client.get("/api/v1/map/clusters?zoom=20&category=graffitis"),
               "/api/v1/map/clusters")
    assert any("id" in f for f in close["features"])
    page = ok(client.get("/api/v1/map/items?limit=1&lang=en"), "/api/v1/map/items")
    assert page["links"][0]["rel"] == "next"
    # /api/v1/map/areas is left out: under the test fixtures the session is bound to a
    # Connection, which has no `.url` for its cache key (app/map/queries.py, outlines())


def test_field_answers_match(client, doc, strict_components, make_user, make_report):
    """The field workflow: scopes, follows, transitions (JSON and multipart), history as the
    public and as staff see it, priority, assignment, the queue, batches, feedback, feeds."""

    def sent(path, method, body):
        """The JSON body sent is one the document accepts (closed schemas)."""
        errors = schema_errors(strict_components, request_schema(doc, path, method), body)
        assert not errors, (method, path, errors)
        return body

    def ok(response, path, method="get", status=200):
        assert response.status_code == status, response.get_json()
        check(doc, strict_components, response, path, method)
        return response.get_json(force=True) if response.mimetype.endswith("json") else None

    def problem(response, path, method, status, code):
        assert response.status_code == status, response.get_json()
        assert response.mimetype == PROBLEM_MEDIA and response.get_json()["code"] == code
        check(doc, strict_components, response, path, method)
        return response.get_json()

    tomorrow = (datetime.now(PARIS).date() + timedelta(days=1)).isoformat()
    item = "/api/v1/reports/{contribution_id}"
    transitions, history = f"{item}/transitions", f"{item}/history"
    supervisor = make_user(roles=("supervisor",), name="Sup")
    admin, agent = make_user(roles=("admin",)), make_user(name="Agent")
    reporter, follower, stranger = make_user(), make_user(), make_user()
    rid = make_report(api=reporter)["id"]  # Notre-Dame: graffiti, 4e
    lamp = make_report(api=reporter, category="eclairage", title="Lampadaire éteint")["id"]

    scopes_path = "/api/v1/agents/{user_id}/scopes"
    body = sent(scopes_path, "put", {"scopes": [{"service": "graffitis", "arrondissement": 4},
                                                {"arrondissement": 11}]})
    scopes = ok(admin.put(f"/api/v1/agents/{agent.user_id}/scopes", json=body), scopes_path, "put")
    assert {"service": None, "arrondissement": 11} in scopes["scopes"]

    follow = f"{item}/follow"
    assert ok(follower.put(f"/api/v1/reports/{rid}/follow"), follow, "put")["following"]
    assert not ok(follower.delete(f"/api/v1/reports/{rid}/follow"), follow, "delete")["following"]
    assert ok(follower.put(f"/api/v1/reports/{rid}/follow"), follow, "put")["followers_count"] == 1
    code = client.get("/api/v1/categories?kind=proposal").get_json()["categories"][0]["code"]
    pid = reporter.post("/api/v1/proposals", json=feature(category=code)).get_json()["id"]
    ok(follower.put(f"/api/v1/proposals/{pid}/follow"),
       "/api/v1/proposals/{contribution_id}/follow", "put")

    body = sent(transitions, "post", {"to": "acknowledged", "public_note": "Vu, merci",
                                      "internal_note": "Équipe du matin"})
    done = ok(agent.post(f"/api/v1/reports/{rid}/transitions", json=body), transitions, "post", 201)
    assert done["status"] == "acknowledged" and done["history"][-1]["actor"] == "Agent"
    ok(agent.put(f"/api/v1/reports/{rid}/priority", json=sent(
        f"{item}/priority", "put", {"priority": "dangerous"})), f"{item}/priority", "put")
    ok(supervisor.put(f"/api/v1/reports/{rid}/assignment", json=sent(
        f"{item}/assignment", "put", {"agent_id": agent.user_id})), f"{item}/assignment", "put")

    queue = "/api/v1/agent/queue"
    mine = ok(agent.get(f"{queue}?assigned=me&lang=en"), queue)
    assert [f["id"] for f in mine["features"]] == [rid] and mine["counts"]["acknowledged"] >= 1
    assert mine["features"][0]["properties"]["priority"] == "dangerous"
    near = ok(supervisor.get(f"{queue}?status=open,resolved&category=graffitis&arrondissement=4"
                             "&priority=dangerous&sort=nearest&lon=2.3499&lat=48.853&limit=5"),
              queue)
    assert near["features"][0]["id"] == rid and "distance_m" in near["features"][0]["properties"]
    problem(agent.get(f"{queue}?sort=nearest"), queue, "get", 422, "validation_failed")
    problem(stranger.get(queue), queue, "get", 403, "forbidden")

    # multipart with a photo of the work, then resolved, then a step the workflow refuses
    scheduled = {"to": "scheduled", "planned_for": tomorrow, "public_note": "Mardi"}
    sent(transitions, "post", scheduled)
    errors = schema_errors(strict_components, request_schema(doc, transitions, "post"),
                           {"to": "scheduled"})
    assert errors, "the document should require planned_for for scheduled"
    done = ok(supervisor.post(f"/api/v1/reports/{rid}/transitions",
                              content_type="multipart/form-data",
                              data={"transition": json.dumps(scheduled),
                                    "photo": (png(), "chantier.png", "image/png")}),
              transitions, "post", 201)
    assert done["history"][-1]["photo_url"]
    problem(supervisor.post(f"/api/v1/reports/{rid}/transitions",
                            json={"to": "scheduled", "planned_for": "2020-01-01"}),
            transitions, "post", 422, "validation_failed")
    resolve = sent(transitions, "post", {"to": "resolved", "resolution": "fixed"})
    ok(supervisor.post(f"/api/v1/reports/{rid}/transitions", json=resolve),
       transitions, "post", 201)
    refused = problem(supervisor.post(f"/api/v1/reports/{rid}/transitions", json=scheduled),
                      transitions, "post", 409, "illegal_transition")
    assert refused["from"] == "resolved" and refused["allowed"] == ["acknowledged"]
    problem(agent.post(f"/api/v1/reports/{lamp}/transitions", json={"to": "acknowledged"}),
            transitions, "post", 403, "out_of_scope")

    feedback = f"{item}/feedback"
    problem(stranger.post(f"/api/v1/reports/{rid}/feedback", json={"value": "fixed"}),
            feedback, "post", 403, "not_reporter_or_follower")
    problem(reporter.post(f"/api/v1/reports/{lamp}/feedback", json={"value": "fixed"}),
            feedback, "post", 409, "not_resolved")
    ok(reporter.post(f"/api/v1/reports/{rid}/feedback",
                     json=sent(feedback, "post", {"value": "fixed"})), feedback, "post", 201)
    reopened = ok(follower.post(f"/api/v1/reports/{rid}/feedback", json={"value": "still_there"}),
                  feedback, "post", 201)
    assert reopened["status"] == "acknowledged" and reopened["reopen_count"] == 1

    public = ok(client.get(f"/api/v1/reports/{rid}/history"), history)["history"]
    assert [e["to"] for e in public] == ["acknowledged", "scheduled", "resolved", "acknowledged"]
    assert not {"internal_note", "actor"} & {k for e in public for k in e}
    assert [e["by"] for e in public] == ["city", "city", "city", "resident"]
    staff = ok(supervisor.get(f"/api/v1/reports/{rid}/history?lang=en"), history)["history"]
    assert staff[0]["internal_note"] == "Équipe du matin" and staff[0]["actor"] == "Agent"

    a, b = (make_report(api=reporter, title=t)["id"] for t in ("Tag un", "Tag deux"))
    batch = "/api/v1/agent/batch"
    body = sent(batch, "post", {"ids": [a, b, a], "to": "scheduled", "planned_for": tomorrow,
                                "internal_note": "Tournée de jeudi"})
    assert [u["id"] for u in ok(agent.post(batch, json=body), batch, "post")["updated"]] == [a, b]
    refused = problem(agent.post(batch, json={"ids": [a], "to": "acknowledged"}),
                      batch, "post", 409, "illegal_transition")
    assert refused["from"] == "scheduled"

    report_feed = "/feeds/reports/{contribution_id}.atom"
    arr_feed = "/feeds/arrondissements/{number}.atom"
    atom = "{http://www.w3.org/2005/Atom}"
    response = client.get(f"/feeds/reports/{rid}.atom")
    ok(response, report_feed)
    assert len(ET.fromstring(response.data).findall(f"{atom}entry")) == 4
    response = client.get("/feeds/arrondissements/4.atom")
    ok(response, arr_feed)
    assert ET.fromstring(response.data).findall(f"{atom}entry")
    problem(client.get("/feeds/arrondissements/21.atom"), arr_feed, "get", 404, "not_found")
    problem(client.get("/feeds/reports/999999999.atom"), report_feed, "get", 404,
            "contribution_not_found")


def test_stats_answers_match(client, doc, strict_components, make_user, make_report):
    """/api/v1/stats/*: JSON (GeoJSON) and CSV, as a planner and as the public (small counts
    left out)."""

    def ok(response, path):
        assert response.status_code == 200, response.get_json()
        check(doc, strict_components, response, path, "get")
        return response.get_json(force=True) if response.mimetype.endswith("json") else None

    planner, supervisor = make_user(roles=("planner",)), make_user(roles=("supervisor",))
    ids = [make_report(lon=2.3499 + i * 0.0002, lat=48.853, title=f"Tags numéro {i}")["id"]
           for i in range(6)]
    make_report(category="eclairage", lon=2.37, lat=48.86, title="Lampadaire éteint")
    supervisor.post(f"/api/v1/reports/{ids[0]}/transitions", json={"to": "acknowledged"})
    today = datetime.now(PARIS).date()
    period = f"since={(today - timedelta(days=7)).isoformat()}&until={today.isoformat()}"

    hexbins = "/api/v1/stats/hexbins"
    mine = ok(planner.get(f"{hexbins}?cell_m=150&kind=report&status=open&{period}"), hexbins)
    assert (mine["cell_m_requested"], mine["cell_m"]) == (150, 200)
    assert not mine["public"] and mine["total"] == 7
    assert mine["filters"]["status"] == ["open"] and mine["freshness"]["lag_seconds"] == 0
    theirs = ok(client.get(f"{hexbins}?cell_m=2000&arrondissement=4&category=graffitis"), hexbins)
    assert theirs["public"] and all(f["properties"]["count"] >= 5 for f in theirs["features"])
    theirs = ok(client.get(f"{hexbins}?cell_m=100&{period}"), hexbins)
    assert theirs["total"] == sum(f["properties"]["count"] for f in theirs["features"])
    response = planner.get(f"{hexbins}?format=csv&bbox=2.30,48.80,2.40,48.90")
    ok(response, hexbins)
    assert response.mimetype == "text/csv"
    assert response.get_data(as_text=True).startswith("cell,i,j,cell_m,count\n")

    areas = "/api/v1/stats/areas"
    mine = ok(planner.get(f"{areas}?{period}&lang=en"), areas)
    assert mine["previous_period"] and mine["total"] == 7
    theirs = ok(client.get(f"{areas}?level=quartier&{period}"), areas)
    assert any(a["suppressed"] and a["count"] is None for a in theirs["areas"])
    response = client.get(f"{areas}?format=csv")
    ok(response, areas)
    assert response.get_data(as_text=True).startswith("code,name,count,")

    series = "/api/v1/stats/timeseries"
    ok(planner.get(f"{series}?interval=day&{period}"), series)
    theirs = ok(client.get(f"{series}?interval=day&category=eclairage&{period}"), series)
    assert theirs["public"] and not any(p["count"] for p in theirs["series"])
    ok(planner.get(f"{series}?kind=proposal&interval=week"), series)

    hotspots = "/api/v1/stats/hotspots"
    mine = ok(planner.get(f"{hotspots}?eps_m=100&min_points=3"), hotspots)
    assert mine["features"] and mine["features"][0]["properties"]["top_categories"]
    ok(client.get(f"{hotspots}?min_points=5&{period}"), hotspots)

    resolution = "/api/v1/stats/resolution"
    for group in ("arrondissement", "category", "service"):
        ok(planner.get(f"{resolution}?group_by={group}&status=open,closed"), resolution)
        ok(client.get(f"{resolution}?group_by={group}"), resolution)

    problem = client.get(f"{hexbins}?cell_m=5")
    assert problem.status_code == 422
    check(doc, strict_components, problem, hexbins, "get")
    problem = client.get(f"{hotspots}?since=2020-01-01&until=2024-01-01&min_points=3")
    assert problem.status_code == 422
    check(doc, strict_components, problem, hotspots, "get")


@pytest.mark.parametrize("value", [" OR ", "abc", " a b ", "ab", "  abc  ", "a\x00c", "\u00a0ab\u00a0", "a  c",
                                   "\t\n", "résumé"])
def test_a_required_texts_pattern_says_what_its_validators_accept(value):
    """The document's pattern for a text with a minimum counts it after stripping, as the
    validators do: schemathesis once sent " OR " for a 3-character title and got a 422."""
    from pydantic import TypeAdapter, ValidationError

    from app.api.types import Text

    adapter = TypeAdapter(Text(140, min_length=3))
    pattern = re.compile(adapter.json_schema()["pattern"])
    try:
        adapter.validate_python(value)
        accepted = True
    except ValidationError:
        accepted = False
    assert bool(pattern.search(value)) == accepted == (value in ("abc", " a b ", "  abc  ", "a  c", "résumé"))
