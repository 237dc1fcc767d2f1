"""Open311 GeoReport v2 at /open311/v2, read as its clients read it: the PyPI client
`georeport` (XML through xmltodict, and JSON) over real HTTP, and FixMyStreet's client, whose
XML reading is reproduced field by field (perllib/Open311.pm reads these elements with
XML::Simple; shared/reference/interop-clients.md lists them).

No PyPI client that runs on Python 3 can POST: `open311` 1.1 and `three` 0.8 are Python 2
code (`from api import API`, `itertools.ifilter`). The POSTs below send exactly the form
FixMyStreet sends (`service_code`, `description`, `first_name`, `last_name`, `email`, `lat`,
`long`, `media_url`, `attribute[x]`, with `jurisdiction_id` and `api_key`), then georeport
reads the request back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

import pytest
import requests
from georeport import GeoReport
from sqlalchemy import text

from tests.conftest import NOTRE_DAME

# what FixMyStreet's client reads from each resource (Open311.pm, and the FMS spec)
FMS_SERVICE_FIELDS = ("service_code", "service_name", "description", "metadata", "type", "keywords", "group")
FMS_REQUEST_FIELDS = ("service_request_id", "status", "service_code", "requested_datetime", "updated_datetime",
                      "lat", "long", "description")
FMS_UPDATE_FIELDS = ("update_id", "service_request_id", "status", "updated_datetime", "description",
                     "media_url", "external_status_code")


@pytest.fixture
def server(http_root):
    return f"{http_root}/open311/v2"


@pytest.fixture
def api_key(make_user):
    """An admin issues a key for graffiti reports, as an admin would on /admin/api-keys."""
    admin = make_user(("admin",))
    r = admin.post("/api/v1/admin/api-keys", json={"name": "FixMyStreet Paris", "services": ["graffitis"]})
    assert r.status_code == 201
    return r.json["key"]


def xml(response) -> ET.Element:
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(response.content)


def fms_post(server, path, api_key, **fields):
    """A POST as FixMyStreet's client makes it: form-encoded, jurisdiction and key included."""
    return requests.post(f"{server}/{path}", data={"jurisdiction_id": "paris.fr", "api_key": api_key, **fields},
                         timeout=10)


# ---- discovery and services --------------------------------------------------------------

def test_discovery_in_xml_and_json(server):
    doc = xml(requests.get(f"{server}/discovery.xml", timeout=10))
    endpoint = doc.find("endpoints/endpoint")
    assert endpoint.findtext("specification") == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint.findtext("url").endswith("/open311/v2")
    assert [f.text for f in endpoint.findall("formats/format")] == ["text/xml", "application/json"]
    assert doc.findtext("changeset") == endpoint.findtext("changeset")
    as_json = requests.get(f"{server}/discovery.json", timeout=10).json()
    assert as_json["endpoints"][0]["type"] == "production" and as_json["key_service"]


def test_every_report_sub_type_is_a_service_read_by_georeport(server, session):
    leaves = session.scalar(text("""
        SELECT count(*) FROM categories c WHERE c.kind = 'report' AND c.disabled_at IS NULL
          AND (c.parent_id IS NOT NULL OR NOT EXISTS (SELECT 1 FROM categories k WHERE k.parent_id = c.id))"""))
    for fmt in ("xml", "json"):
        services = GeoReport(server, jurisdiction="paris.fr", output_format=fmt).get_service_list()
        assert len(services) == leaves > 300
        by_code = {s["service_code"]: s for s in services}
        abribus = by_code["graffitis.abribus"]
        assert abribus["group"] == "Graffitis, tags, affiches et autocollants"
        assert abribus["service_name"] == "Abribus" and "Abribus" in abribus["keywords"]
        assert str(abribus["metadata"]).lower() == "false" and abribus["type"] == "realtime"
    # FixMyStreet's reading: each <service> has every field it reads
    for service in xml(requests.get(f"{server}/services.xml", params={"jurisdiction_id": "paris.fr"},
                                    timeout=10)).findall("service"):
        assert [service.find(f) is not None for f in FMS_SERVICE_FIELDS] == [True] * len(FMS_SERVICE_FIELDS)
    definition = GeoReport(server, output_format="xml").get_service_definition("graffitis.abribus")
    assert definition["service_code"] == "graffitis.abribus"


# ---- requests ----------------------------------------------------------------------------

def test_a_request_posted_as_fixmystreet_does_is_read_back_by_georeport(server, api_key, session):
    r = fms_post(server, "requests.xml", api_key, service_code="graffitis.abribus",
                 description="Tags sur l'abribus\nCôté Seine, à hauteur d'yeux", first_name="Jeanne",
                 last_name="Martin", email="jeanne@example.org", lat=str(NOTRE_DAME[1]), long=str(NOTRE_DAME[0]),
                 media_url="https://fms.example/photo/1.jpeg", **{"attribute[height]": "2 m"})
    assert r.status_code == 201, r.text
    created = xml(r).find("request")
    request_id = created.findtext("service_request_id")
    assert created.findtext("service_notice") == "Transmis à l'équipe chargée : Effacement des graffitis (DPE)."
    assert request_id.isdigit() and created.find("token") is None
    for fmt in ("xml", "json"):
        got = GeoReport(server, jurisdiction="paris.fr", output_format=fmt).get_service_request(request_id)
        assert got["service_code"] == "graffitis.abribus" and got["status"] == "open"
        assert float(got["lat"]) == NOTRE_DAME[1] and float(got["long"]) == NOTRE_DAME[0]
        assert got["description"].startswith("Tags sur l'abribus")
        assert got["media_url"] == "https://fms.example/photo/1.jpeg"
        assert got["zipcode"] == "75004" and got["agency_responsible"]
        requested = datetime.fromisoformat(got["requested_datetime"])
        assert requested.utcoffset() in (timedelta(hours=1), timedelta(hours=2))  # Europe/Paris
    # nothing personal is kept or shown; the report belongs to the application's account
    row = session.execute(text("""
        SELECT c.title, c.source, u.display_name, u.email, o.attributes FROM contributions c
        JOIN users u ON u.id = c.author_id JOIN open311_requests o ON o.contribution_id = c.id
        WHERE c.id = :i"""), {"i": int(request_id)}).one()
    assert row.title == "Tags sur l'abribus" and row.source == "open311"
    assert row.display_name == "FixMyStreet Paris" and row.email.endswith(".invalid")
    assert row.attributes == {"height": "2 m"}
    page = requests.get(f"{server}/requests/{request_id}.xml", timeout=10).text
    assert "jeanne" not in page.lower() and "martin" not in page.lower()


def test_requests_filters_as_the_spec_says(server, api_key, make_report, make_user):
    mine = [fms_post(server, "requests.json", api_key, service_code="graffitis.abribus", description=f"Tag n°{n}",
                     lat=str(NOTRE_DAME[1]), long=str(NOTRE_DAME[0])).json()[0]["service_request_id"]
            for n in range(3)]
    other = make_report(category="voirie")
    supervisor = make_user(("supervisor",))
    closed = mine[0]
    assert supervisor.post(f"/api/v1/reports/{closed}/transitions",
                           json={"to": "resolved", "resolution": "fixed", "public_note": "Nettoyé"}).status_code == 201
    client = GeoReport(server, jurisdiction="paris.fr", output_format="json")
    by_id = client.get_service_requests(service_request_id=",".join(mine))
    assert sorted(r["service_request_id"] for r in by_id) == sorted(mine)
    abribus = client.get_service_requests(service_code="graffitis.abribus")
    assert set(mine) <= {r["service_request_id"] for r in abribus}
    assert str(other["id"]) not in {r["service_request_id"] for r in abribus}
    closed_ones = {r["service_request_id"]: r for r in client.get_service_requests(status="closed")}
    assert closed in closed_ones and mine[1] not in closed_ones
    assert closed_ones[closed]["status_notes"] == "Résolu. Nettoyé"
    assert closed_ones[closed]["extended_attributes"]["cartagora_status"] == "resolved"
    # an empty optional parameter is the same as none; more than 90 days is a 400
    assert requests.get(f"{server}/requests.json?status=&service_code=", timeout=10).status_code == 200
    now = datetime.now(UTC)
    r = requests.get(f"{server}/requests.xml", params={"start_date": (now - timedelta(days=120)).isoformat(),
                                                       "end_date": now.isoformat()}, timeout=10)
    assert r.status_code == 400 and xml(r).find("error").findtext("code") == "period_too_long"
    # FixMyStreet's reading of a request
    request = xml(requests.get(f"{server}/requests/{mine[1]}.xml", timeout=10)).find("request")
    assert [request.find(f) is not None for f in FMS_REQUEST_FIELDS] == [True] * len(FMS_REQUEST_FIELDS)


@pytest.mark.parametrize("fields,status,code", [
    ({"api_key": "cg_wrong"}, 403, "invalid_api_key"),
    ({"api_key": ""}, 403, "invalid_api_key"),
    ({"service_code": "nope"}, 404, "unknown_service"),
    ({"jurisdiction_id": "lyon.fr"}, 404, "unknown_jurisdiction"),
    ({"long": ""}, 400, "required"),
    ({"address_string": "Place de la République"}, 400, "needs_one_location"),
    ({"lat": "48.8566", "long": "2.1"}, 400, "outside_paris"),
    ({"description": "x" * 4001}, 400, "too_long"),
])
def test_bad_posts_answer_in_the_specs_error_format(server, api_key, fields, status, code):
    form = {"service_code": "graffitis.abribus", "lat": str(NOTRE_DAME[1]), "long": str(NOTRE_DAME[0]),
            "api_key": api_key, **fields}
    for fmt in ("xml", "json"):
        r = requests.post(f"{server}/requests.{fmt}", data={"jurisdiction_id": "paris.fr", **form}, timeout=10)
        assert r.status_code == status, r.text
        errors = r.json() if fmt == "json" else [{"code": e.findtext("code"), "description": e.findtext("description")}
                                                 for e in xml(r).findall("error")]
        assert code in [e["code"] for e in errors] and all(e["description"] for e in errors)


def test_an_address_string_is_geocoded_with_the_ban(server, api_key):
    r = fms_post(server, "requests.json", api_key, service_code="graffitis.abribus",
                 address_string="6 parvis notre-dame", description="Tags")
    assert r.status_code == 201, r.text
    got = requests.get(f"{server}/requests/{r.json()[0]['service_request_id']}.json", timeout=10).json()[0]
    assert got["zipcode"] == "75004" and "Parvis Notre-Dame" in got["address"]
    assert abs(float(got["lat"]) - 48.853) < 0.002 and abs(float(got["long"]) - 2.349) < 0.003


# ---- FixMyStreet's updates ---------------------------------------------------------------

def test_a_contractor_closes_a_report_of_its_service_and_updates_list_it(server, api_key, make_report):
    report = make_report()  # graffitis: the key's service
    request_id = str(report["id"])
    r = fms_post(server, "servicerequestupdates.xml", api_key, service_request_id=request_id, status="FIXED",
                 description="Tags effacés", updated_datetime=datetime.now(UTC).isoformat(), update_id="fms-77")
    assert r.status_code == 200, r.text
    update_id = xml(r).find("request_update").findtext("update_id")
    now = datetime.now(UTC)
    listed = xml(requests.get(f"{server}/servicerequestupdates.xml", params={
        "start_date": (now - timedelta(hours=1)).isoformat(), "end_date": (now + timedelta(minutes=1)).isoformat()},
        timeout=10))
    mine = [u for u in listed.findall("request_update") if u.findtext("update_id") == update_id]
    assert len(mine) == 1
    update = mine[0]
    assert [update.find(f) is not None for f in FMS_UPDATE_FIELDS] == [True] * len(FMS_UPDATE_FIELDS)
    assert (update.findtext("service_request_id"), update.findtext("status"), update.findtext("description"),
            update.findtext("external_status_code")) == (request_id, "fixed", "Tags effacés", "resolved")
    got = requests.get(f"{server}/requests/{request_id}.json", timeout=10).json()[0]
    assert got["status"] == "closed" and got["status_notes"] == "Résolu. Tags effacés"
    # only both dates or none
    assert requests.get(f"{server}/servicerequestupdates.xml", params={"start_date": now.isoformat()},
                        timeout=10).status_code == 400


def test_a_key_updates_only_the_reports_of_its_services(server, api_key, make_report):
    other = make_report(category="voirie")
    r = fms_post(server, "servicerequestupdates.json", api_key, service_request_id=str(other["id"]),
                 status="CLOSED", description="Pas chez nous")
    assert r.status_code == 403 and r.json()[0]["code"] == "out_of_scope"


def test_a_revoked_key_no_longer_writes(server, api_key, make_user, session):
    admin = make_user(("admin",))
    key_id = session.scalar(text("SELECT id FROM api_keys WHERE name = 'FixMyStreet Paris' ORDER BY id DESC LIMIT 1"))
    assert admin.delete(f"/api/v1/admin/api-keys/{key_id}").status_code == 204
    r = fms_post(server, "requests.xml", api_key, service_code="graffitis.abribus", lat=str(NOTRE_DAME[1]),
                 long=str(NOTRE_DAME[0]))
    assert r.status_code == 403 and xml(r).find("error").findtext("code") == "invalid_api_key"
