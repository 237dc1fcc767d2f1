"""The bad-input catalogue: every write endpoint fed malformed JSON, wrong content types, every
field too long / blank / of the wrong type, NaN and Infinity, swapped or outside coordinates,
invalid and huge geometries, NUL bytes and lone surrogates, deep nesting. Each answer is a 4xx
problem the OpenAPI document lists for that operation, and nothing is half-written: the row
counts of every table a write touches and the photo files on disk are unchanged."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import text

from app.api.document import openapi_document
from tests.conftest import feature

TABLES = ("users", "api_tokens", "contributions", "photos", "votes", "comments",
          "status_events", "follows", "outbox", "agent_scopes")
TOO_LONG = "x" * 100_000
PROPOSAL_THEME = "vegetalisation"
HUGE = "__1e400__"  # replaced by the JSON number 1e400 (valid JSON, infinite as a float)
DEEP = "[" * 50_000 + "]" * 50_000
BOWTIE = {"type": "Polygon", "coordinates": [[[2.349, 48.853], [2.351, 48.854], [2.351, 48.853],
                                              [2.349, 48.854], [2.349, 48.853]]]}
HUGE_LINE = {"type": "LineString",
             "coordinates": [[2.34 + i * 1e-6, 48.85 + (i % 2) * 1e-6] for i in range(6000)]}
# malformed bodies any JSON write endpoint refuses, with the status each gets
RAW_BODIES = [
    ("malformed_json", "application/json", b'{"title": ', 400),
    ("trailing_garbage", "application/json", b'{"a": 1} x', 400),
    ("not_utf8", "application/json", b'{"a": "\xff\xfe"}', 400),
    ("nan", "application/json", b'{"value": NaN}', 400),
    ("infinity", "application/json", b'{"value": Infinity}', 400),
    ("deep_nesting", "application/json", DEEP.encode(), 400),
    ("array_body", "application/json", b"[1, 2]", 400),
    ("string_body", "application/json", b'"hello"', 400),
    ("null_body", "application/json", b"null", 400),
    ("empty_body", "application/json", b"", 400),
    ("text_plain", "text/plain", b'{"a": 1}', 415),
    ("form_urlencoded", "application/x-www-form-urlencoded", b"a=1", 415),
    ("xml", "application/xml", b"<a/>", 415),
]
# values of the wrong JSON type, for any field
OPTIONAL_TEXT = {"public_note"}
# a number no row has as its id (12 may name an agent: the agent_id of an assignment)
WRONG_TYPES = [("number", 987654321), ("list", ["a"]), ("object", {"a": 1}), ("bool", True)]


@pytest.fixture
def world(client, make_user, make_report, session):
    """A resident with a report, a proposal and a resolved report they follow; an admin
    (every staff role) with a scope; the targets of every write endpoint."""
    resident, admin = make_user(name="Bad Input"), make_user(roles=("admin",), name="Admin")
    report = make_report(resident)["id"]
    proposal = resident.post("/api/v1/proposals", json=feature(
        category=client.get("/api/v1/categories?kind=proposal").get_json()["categories"][0]["code"],
        title="Un banc ici")).get_json()["id"]
    return {"resident": resident, "admin": admin, "report": report, "proposal": proposal}


def counts(session) -> dict[str, int]:
    return {t: session.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in TABLES}


def media_files(app) -> int:
    return sum(1 for p in Path(app.config["MEDIA_DIR"]).rglob("*") if p.is_file())


# (operation id, who, method, path template, a valid body to spoil)
def endpoints(w) -> list[tuple[str, str, str, str, dict]]:
    r, p = w["report"], w["proposal"]
    return [
        ("register", "anonymous", "post", "/api/v1/auth/register",
         {"email": "new@example.org", "password": "a long enough password", "display_name": "N"}),
        ("token", "anonymous", "post", "/api/v1/auth/token",
         {"email": "new@example.org", "password": "a long enough password"}),
        ("report_create", "resident", "post", "/api/v1/reports", feature()),
        ("proposal_create", "resident", "post", "/api/v1/proposals",
         feature(category=PROPOSAL_THEME, title="Des arbres")),
        ("report_update", "resident", "patch", f"/api/v1/reports/{r}",
         {"properties": {"title": "Tags partout"}}),
        ("proposal_update", "resident", "patch", f"/api/v1/proposals/{p}",
         {"properties": {"title": "Deux bancs"}}),
        ("report_vote", "resident", "put", f"/api/v1/reports/{r}/vote", {"value": 1}),
        ("proposal_vote", "resident", "put", f"/api/v1/proposals/{p}/vote", {"value": -1}),
        ("report_comment", "resident", "post", f"/api/v1/reports/{r}/comments", {"body": "Vu"}),
        ("proposal_comment", "resident", "post", f"/api/v1/proposals/{p}/comments",
         {"body": "Oui"}),
        ("transition", "admin", "post", f"/api/v1/reports/{r}/transitions",
         {"to": "acknowledged", "public_note": "Vu"}),
        ("priority", "admin", "put", f"/api/v1/reports/{r}/priority", {"priority": "dangerous"}),
        ("assignment", "admin", "put", f"/api/v1/reports/{r}/assignment", {"agent_id": None}),
        ("feedback", "resident", "post", f"/api/v1/reports/{r}/feedback", {"value": "fixed"}),
        ("batch", "admin", "post", "/api/v1/agent/batch", {"ids": [r], "to": "acknowledged"}),
        ("scopes", "admin", "put", f"/api/v1/agents/{w['admin'].user_id}/scopes",
         {"scopes": [{"service": "graffitis", "arrondissement": 4}]}),
    ]


def spoiled_fields(name: str, body: dict) -> list[tuple[str, dict]]:
    """Every top-level (and `properties.`) field of `body` too long, blank, NUL, surrogate,
    1e400 and of each wrong type; a missing required one; an unknown member."""
    out = [("unknown_member", {**body, "surprise": 1})]
    target = body.get("properties", body)
    for field in target:
        def spoil(value, field=field):
            if "properties" in body:
                return {**body, "properties": {**body["properties"], field: value}}
            return {**body, field: value}
        out += [(f"{field}_too_long", spoil(TOO_LONG)), (f"{field}_nul", spoil("a\x00b")),
                (f"{field}_huge_number", spoil(HUGE))]
        if field not in OPTIONAL_TEXT:  # a blank optional note is no note: valid
            out.append((f"{field}_blank", spoil("   ")))
        out += [(f"{field}_{kind}", spoil(value)) for kind, value in WRONG_TYPES
                if not (isinstance(value, list) and field in ("ids", "scopes"))]
    return out


def geometry_cases() -> list[tuple[str, dict]]:
    return [
        ("swapped", {"type": "Point", "coordinates": [48.853, 2.3499]}),
        ("outside_paris", {"type": "Point", "coordinates": [2.5, 48.95]}),
        ("out_of_range", {"type": "Point", "coordinates": [200, 95]}),
        ("one_coordinate", {"type": "Point", "coordinates": [2.35]}),
        ("strings", {"type": "Point", "coordinates": ["2.35", "48.85"]}),
        ("no_coordinates", {"type": "Point"}),
        ("unknown_type", {"type": "Circle", "coordinates": [2.35, 48.85]}),
        ("line_for_report", {"type": "LineString", "coordinates": [[2.349, 48.853], [2.35, 48.853]]}),
        ("bowtie", BOWTIE),
        ("huge", HUGE_LINE),
        ("empty_polygon", {"type": "Polygon", "coordinates": []}),
        ("null", None),
    ]


def catalogue(w) -> list[tuple[str, str, str, str, dict]]:
    """(case id, who, method, path, request kwargs)."""
    cases = []
    for name, who, method, path, body in endpoints(w):
        for case, content_type, raw, _status in RAW_BODIES:
            cases.append((f"{name}-{case}", who, method, path,
                          {"data": raw, "content_type": content_type}))
        for case, spoiled in spoiled_fields(name, body):
            data = json.dumps(spoiled).replace(f'"{HUGE}"', "1e400")
            cases.append((f"{name}-{case}", who, method, path,
                          {"data": data, "content_type": "application/json"}))
        if name in ("report_create", "proposal_create"):
            for case, geometry in geometry_cases():
                if name == "proposal_create" and case == "line_for_report":
                    continue
                spoiled = {**body, "geometry": geometry}
                cases.append((f"{name}-geometry_{case}", who, method, path, {"json": spoiled}))
        text_field = {"report_comment": "body", "proposal_comment": "body",
                      "transition": "public_note"}.get(name)
        if name in ("report_create", "register"):
            text_field = "title" if name == "report_create" else "display_name"
        if text_field:  # a lone surrogate, as JSON text can carry it
            raw = json.dumps(body).replace('"' + str(_first_text(body, text_field)) + '"',
                                           '"a\\ud800b"', 1)
            cases.append((f"{name}-lone_surrogate", who, method, path,
                          {"data": raw, "content_type": "application/json"}))
    return cases


def _first_text(body: dict, field: str) -> str:
    return body.get("properties", body).get(field) or body.get(field)


def test_the_catalogue_is_large_and_every_case_is_refused_cleanly(app, client, world, session):
    doc = openapi_document(app)
    cases = catalogue(world)
    assert len(cases) >= 200, len(cases)
    users = {"resident": world["resident"], "admin": world["admin"]}
    before, files = counts(session), media_files(app)
    failures = []
    for case, who, method, path, kwargs in cases:
        caller = users.get(who, client)
        response = getattr(caller, method)(path, **kwargs)
        template = re.sub(r"/\d+(?=/|$)", lambda m: "/{id}", path)
        documented = next(ops for p, ops in doc["paths"].items()
                          if re.sub(r"{\w+}", "{id}", p) == template)[method]["responses"]
        status = response.status_code
        body = response.get_json(silent=True) or {}
        if not (400 <= status < 500 and str(status) in documented
                and response.mimetype == "application/problem+json"
                and body.get("status") == status and body.get("code") and body.get("detail")):
            failures.append((case, status, response.mimetype, body.get("code")))
        if status == 422 and not body.get("errors"):
            failures.append((case, "422 without field errors", body.get("code")))
        session.expire_all()
    assert not failures, failures[:20]
    assert counts(session) == before
    assert media_files(app) == files


@pytest.mark.parametrize("case", [c[0] for c in RAW_BODIES])
def test_raw_bodies_get_their_own_status(world, case):
    _case, content_type, raw, status = next(c for c in RAW_BODIES if c[0] == case)
    r = world["resident"].post(f"/api/v1/reports/{world['report']}/comments", data=raw,
                               content_type=content_type)
    assert r.status_code == status, r.get_json()
    assert r.get_json()["code"] == {400: "malformed_request", 415: "unsupported_media_type"}[status]


@pytest.mark.parametrize("case, code", [
    ("swapped", "coordinates_swapped"), ("outside_paris", "outside_paris"),
    ("out_of_range", "coordinates_out_of_range"), ("bowtie", "geometry_type_not_allowed"),
    ("huge", "geometry_type_not_allowed"), ("null", "geometry_missing"),
])
def test_report_geometries_get_their_own_code(world, case, code):
    geometry = dict(geometry_cases())[case]
    r = world["resident"].post("/api/v1/reports", json={**feature(), "geometry": geometry})
    assert r.status_code == 422 and r.get_json()["code"] == code, r.get_json()


@pytest.mark.parametrize("case, code", [("bowtie", "geometry_invalid"),
                                        ("huge", "geometry_too_complex")])
def test_proposal_geometries_get_their_own_code(client, world, case, code):
    theme = client.get("/api/v1/categories?kind=proposal").get_json()["categories"][0]["code"]
    geometry = dict(geometry_cases())[case]
    r = world["resident"].post("/api/v1/proposals",
                               json={**feature(category=theme), "geometry": geometry})
    assert r.status_code == 422 and r.get_json()["code"] == code, r.get_json()


def test_a_photo_refused_with_a_valid_feature_leaves_no_file(app, world, session):
    files, before = media_files(app), counts(session)
    r = world["resident"].post("/api/v1/reports", content_type="multipart/form-data", data={
        "feature": json.dumps(feature()),
        "photos": [(io.BytesIO(b"not an image at all"), "x.jpg", "image/jpeg")]})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "photos[0]"
    assert media_files(app) == files and counts(session) == before


def test_a_chunked_body_over_the_limit_is_413(app, world):
    limit = app.config["MAX_CONTENT_LENGTH"]

    def chunks():
        piece = b"x" * 1_048_576
        for _ in range(limit // len(piece) + 2):
            yield piece

    r = world["resident"].post(f"/api/v1/reports/{world['report']}/comments",
                               input_stream=io.BytesIO(b"".join(chunks())),
                               content_type="application/json",
                               headers={"Transfer-Encoding": "chunked"},
                               # what gunicorn and Werkzeug's server say of a chunked body
                               environ_overrides={"wsgi.input_terminated": True})
    assert r.status_code == 413 and r.get_json()["code"] == "payload_too_large"
