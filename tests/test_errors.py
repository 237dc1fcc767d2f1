"""Every error under /api/v1 is application/problem+json with a stable code; nothing half-written."""

import pytest
from sqlalchemy import func, select

from app.contributions.models import Contribution
from tests.conftest import feature


def assert_problem(r, status, code):
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.content_type == "application/problem+json"
    body = r.json
    assert body["code"] == code and body["type"] == f"urn:cartagora:problem:{code}"
    assert body["status"] == status and body["detail"] and "Traceback" not in r.get_data(as_text=True)
    return body


def test_400_malformed_json(resident):
    r = resident.post("/api/v1/reports", data="{not json", content_type="application/json")
    assert_problem(r, 400, "malformed_request")


def test_400_json_not_an_object(resident):
    assert_problem(resident.post("/api/v1/reports", json=[1, 2]), 400, "malformed_request")


def test_401_without_token(client):
    assert_problem(client.post("/api/v1/reports", json=feature()), 401, "unauthorized")


def test_403_editing_someone_elses(make_user, make_report):
    report = make_report(api=make_user())
    r = make_user().patch(f"/api/v1/reports/{report['id']}", json={"properties": {"title": "Hack"}})
    assert_problem(r, 403, "forbidden")


def test_404_unknown_and_wrong_kind(client, make_report):
    assert_problem(client.get("/api/v1/reports/999999999"), 404, "contribution_not_found")
    # 64-bit ids in the contract; one no column can hold names nothing (not a database error)
    assert_problem(client.get("/api/v1/reports/99999999999"), 404, "not_found")
    assert_problem(client.get("/api/v1/proposals/9223372036854775807/comments"), 404, "not_found")
    report = make_report()
    assert_problem(client.get(f"/api/v1/proposals/{report['id']}"), 404, "contribution_not_found")
    assert_problem(client.get("/api/v1/nothing-here"), 404, "not_found")


def test_405(client):
    r = client.put("/api/v1/reports")
    body = assert_problem(r, 405, "method_not_allowed")
    assert "POST" in r.headers["Allow"] and body["instance"] == "/api/v1/reports"


def test_withdrawn_is_gone_even_for_staff(make_user, make_report):
    author, moderator = make_user(), make_user(roles=("moderator",))
    report = make_report(api=author)
    assert author.delete(f"/api/v1/reports/{report['id']}").status_code == 204
    r = moderator.get(f"/api/v1/reports/{report['id']}")
    assert_problem(r, 404, "contribution_not_found")


def test_413_request_too_large(app, resident):
    big = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    r = resident.post("/api/v1/reports", data=big,
                      content_type="multipart/form-data; boundary=zzz")
    assert_problem(r, 413, "payload_too_large")


def test_415_not_json(resident):
    r = resident.post("/api/v1/reports", data="title=x", content_type="text/plain")
    assert_problem(r, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("props", "field", "code"),
    [
        ({"title": "ab", "category": "graffitis"}, "properties.title", "too_short"),
        ({"title": "x" * 141, "category": "graffitis"}, "properties.title", "too_long"),
        ({"category": "graffitis"}, "properties.title", "required"),
        ({"title": 12, "category": "graffitis"}, "properties.title", "not_a_string"),
        ({"title": "Valid title", "category": "mobilite"}, "properties.category", "unknown_category"),
        ({"title": "Valid title", "category": "nope"}, "properties.category", "unknown_category"),
        ({"title": "Valid title", "category": "graffitis", "description": "d" * 5001},
         "properties.description", "too_long"),
    ],
)
def test_422_field_errors(resident, session, props, field, code):
    before = session.scalar(select(func.count()).select_from(Contribution))
    body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [2.35, 48.853]},
            "properties": props}
    problem = assert_problem(resident.post("/api/v1/reports", json=body), 422, "validation_failed")
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [(field, code)]
    assert session.scalar(select(func.count()).select_from(Contribution)) == before


@pytest.mark.parametrize(
    ("geometry", "code"),
    [
        (None, "geometry_missing"),
        ({"type": "Point", "coordinates": "2,48"}, "geometry_malformed"),
        ({"type": "LineString", "coordinates": [[2.35, 48.85], [2.36, 48.86]]}, "geometry_type_not_allowed"),
        ("1e400", "coordinates_not_finite"),  # valid JSON, infinite as a float
        ({"type": "Point", "coordinates": [2.35, 95]}, "coordinates_out_of_range"),
        ({"type": "Point", "coordinates": [48.853, 2.35]}, "coordinates_swapped"),
        ({"type": "Point", "coordinates": [4.83, 45.76]}, "outside_paris"),
    ],
)
def test_422_geometry_codes(resident, geometry, code):
    if geometry == "1e400":
        raw = ('{"type": "Feature", "geometry": {"type": "Point", "coordinates": [1e400, 48.85]},'
               ' "properties": {"title": "Valid title", "category": "graffitis"}}')
        r = resident.post("/api/v1/reports", data=raw, content_type="application/json")
    else:
        body = {"type": "Feature", "geometry": geometry,
                "properties": {"title": "Valid title", "category": "graffitis"}}
        r = resident.post("/api/v1/reports", json=body)
    problem = assert_problem(r, 422, code)
    assert problem["errors"][0]["field"] == "geometry" and problem["detail"] == \
        problem["errors"][0]["detail"]


def test_422_self_intersecting_proposal(resident):
    bowtie = [[2.35, 48.85], [2.36, 48.86], [2.36, 48.85], [2.35, 48.86], [2.35, 48.85]]
    body = feature(title="Zone", category="autre", geometry={"type": "Polygon", "coordinates": [bowtie]})
    assert_problem(resident.post("/api/v1/proposals", json=body), 422, "geometry_invalid")


@pytest.mark.parametrize("query,field", [
    ("bbox=1,2,3", "bbox"), ("bbox=2.4,48.8,2.3,48.9", "bbox"), ("category=zzz", "category"),
    ("status=open-ish", "status"), ("arrondissement=21", "arrondissement"),
    ("arrondissement=a", "arrondissement"), ("since=yesterday", "since"), ("limit=0", "limit"),
    ("cursor=%%%", "cursor"), ("quartier=81", "quartier"),
    ("q=a%00b", "q"), ("q=" + "x" * 201, "q"), ("source_id=" + "A" * 500, "source_id"),
    ("lang=AAA", "lang"), ("limit=abc", "limit"), ("since=1999-12-31", "since"),
    ("until=2024-02-30", "until"), ("colour=red", "colour"),
])
def test_422_bad_list_filters(client, query, field):
    problem = assert_problem(client.get(f"/api/v1/reports?{query}"), 422, "validation_failed")
    assert problem["errors"][0]["field"] == field


@pytest.mark.parametrize("query,field,code", [
    ("q=a%00b", "q", "invalid_value"), ("q=" + "x" * 201, "q", "too_long"),
    ("source_id=" + "A" * 500, "source_id", "too_long"), ("lang=AAA", "lang", "invalid_value"),
    ("status=published", "status", "invalid_status"), ("category=mobilite", "category",
                                                       "unknown_category"),
    ("colour=red", "colour", "unknown_field"), ("limit=1001", "limit", "out_of_range"),
])
def test_422_list_filter_codes(client, query, field, code):
    """A text too long is refused, not cut; an unknown parameter is an error, not ignored."""
    problem = assert_problem(client.get(f"/api/v1/reports?{query}"), 422, "validation_failed")
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [(field, code)]


def test_every_invalid_filter_is_reported_at_once(client):
    problem = assert_problem(client.get("/api/v1/proposals?bbox=1,2&status=open&limit=5000"
                                        "&arrondissement=0&q=%00"), 422, "validation_failed")
    assert {e["field"]: e["code"] for e in problem["errors"]} == {
        "bbox": "invalid_bbox", "status": "invalid_status", "limit": "out_of_range",
        "arrondissement": "out_of_range", "q": "invalid_value"}


def test_empty_filters(client):
    """An empty text filter filters nothing; an empty list, date, box or number is invalid
    (`required`: `?status=` could mean no status or one empty one; leave it out)."""
    r = client.get("/api/v1/reports?q=&limit=5")
    assert r.status_code == 200 and r.json["numberReturned"] == 5
    for name, code in [("since", "invalid_date"), ("bbox", "invalid_bbox"),
                       ("limit", "not_a_number"), ("category", "required"),
                       ("status", "required"), ("arrondissement", "required")]:
        problem = assert_problem(client.get(f"/api/v1/reports?{name}="), 422, "validation_failed")
        assert [(e["field"], e["code"]) for e in problem["errors"]] == [(name, code)]


def test_400_json_nested_too_deep(resident, make_report):
    deep = "[" * 50_000 + "]" * 50_000
    assert_problem(resident.post("/api/v1/reports", data=deep, content_type="application/json"),
                   400, "malformed_request")
    url = f"/api/v1/reports/{make_report()['id']}/comments"
    body = '{"body": ' + "[" * 50_000 + "]" * 50_000 + "}"
    assert_problem(resident.post(url, data=body, content_type="application/json"),
                   400, "malformed_request")


@pytest.mark.parametrize("raw,field,code", [
    ('"a\\ud800b"', "properties.title", "invalid_value"),  # a lone surrogate
    ('"a\\u0000b"', "properties.title", "invalid_value"),
    ('null', "properties.title", "required"),
    ('"   "', "properties.title", "required"),
    ('["a"]', "properties.title", "not_a_string"),
])
def test_422_title_text(resident, raw, field, code):
    body = ('{"type": "Feature", "geometry": {"type": "Point", "coordinates": [2.35, 48.853]},'
            ' "properties": {"title": ' + raw + ', "category": "graffitis"}}')
    problem = assert_problem(resident.post("/api/v1/reports", data=body,
                                           content_type="application/json"),
                             422, "validation_failed")
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [(field, code)]


@pytest.mark.parametrize("body,field,code", [
    ({"surprise": 1}, "surprise", "unknown_field"),
    ({"type": "FeatureCollection"}, "type", "invalid_value"),
    ({"properties": {"title": "Valid title", "category": "graffitis", "colour": "red"}},
     "properties.colour", "unknown_field"),
    ({"properties": {"title": "Valid title", "category": " "}}, "properties.category", "required"),
    ({"properties": {"title": "Valid title", "category": "graffitis",
                     "address": "x" * 201}}, "properties.address", "too_long"),
    ({"properties": None}, "properties", "invalid_value"),
])
def test_422_feature_members(resident, body, field, code):
    full = {**feature(), **body}
    problem = assert_problem(resident.post("/api/v1/reports", json=full), 422, "validation_failed")
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [(field, code)]


def test_errors_never_leak_a_stack_trace(app, client, monkeypatch):
    from app.contributions import queries

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(queries, "list_features", boom)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.testing = False
    try:
        r = client.get("/api/v1/reports")
    finally:
        app.testing = True
    body = assert_problem(r, 500, "internal_error")
    assert "secret" not in r.get_data(as_text=True) and "nothing was saved" in body["detail"] or \
        "rien n'a été enregistré" in body["detail"]


def test_503_once_when_postgresql_drops_pooled_connections_then_recovers(app):
    """No ping before checkout: a connection killed under the pool costs one 503, not a 500."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from app.db import db

    client = app.test_client()  # the real pool, not the test's rolled-back connection
    assert client.get("/api/v1/reports?limit=1").status_code == 200
    outside = create_engine(db.engine.url, poolclass=NullPool)
    with outside.connect() as admin:
        killed = admin.scalar(text("""
            SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
              AND backend_type = 'client backend'
        """))
    outside.dispose()
    assert killed >= 1
    r = client.get("/api/v1/reports?limit=1")
    body = assert_problem(r, 503, "service_unavailable")
    assert r.headers["Retry-After"] == "1" and "psycopg" not in str(body)
    r = client.get("/api/v1/reports?limit=1")
    assert r.status_code == 200 and len(r.json["features"]) == 1
