"""Missions' interoperability: the API Engagement feed and import (a round trip between two
organisations), the OGC API collection read by owslib and GDAL, the vector tiles' layer, and
`flask missions demo`."""

from __future__ import annotations

import json
import math
import subprocess
from datetime import UTC, datetime, timedelta

import mapbox_vector_tile
import pytest
from geoalchemy2.shape import to_shape
from shapely.geometry import Point
from sqlalchemy import func, select, text

from app.accounts.models import User
from app.missions import services
from app.missions.models import Mission, Organisation

NOTRE_DAME = (2.349902, 48.852968)
REPUBLIQUE = (2.363660, 48.867540)
FEED = "/api/v1/missions/api-engagement"


def _day(days: int, hour: int = 10) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


def make_org(session, owner_id: int, name: str, rna: str, status: str = "verified") -> Organisation:
    owner = session.get(User, owner_id)
    org = services.register_organisation(session, owner, {
        "name": name, "rna": rna, "siren": None, "description": "Une association de test.",
        "address": "1 rue de Rivoli, 75004 Paris", "geometry": None, "website": "https://example.org",
        "contact_email": None, "contact_phone": None})
    org.status = status
    session.commit()
    return org


def mission_values(title="Nettoyer le parvis de Notre-Dame", places=(NOTRE_DAME, REPUBLIQUE), capacity=7,
                   starts=None, ends=None, **extra) -> dict:
    values = {
        "title": title, "description": "Ramasser les déchets autour du parvis, gants fournis.",
        "domain": "environnement", "activities": ["ramassage-dechets", "sensibilisation"], "remote": "possible",
        "places": [{"label": f"Lieu {i}", "geometry": Point(*p)} for i, p in enumerate(places)],
        "schedule": "open_period", "slots": None, "recurrence": None,
        "period": {"starts_at": starts or _day(7), "ends_at": ends or _day(30, 12), "capacity": capacity},
        "min_age": 16, "skills": ["Bonne humeur"], "accessibility": "", "reduced_mobility_accessible": True,
        "links": [],
    }
    values.update(extra)
    return values


def make_mission(session, org, owner_id, publish=True, **kwargs) -> Mission:
    owner = session.get(User, owner_id)
    mission = services.create_mission(session, org, owner, mission_values(**kwargs))
    if publish:
        services.change_state(session, mission, owner, "publish", None)
    session.commit()
    return mission


@pytest.fixture
def owners(make_user, verify):
    a, b = make_user(name="Owner A"), make_user(name="Owner B")
    verify(a, b)
    return a, b


@pytest.fixture
def two_orgs(session, owners):
    a, b = owners
    return make_org(session, a.user_id, "Association A", "W751234501"), \
        make_org(session, b.user_id, "Association B", "W751234502")


def feed_item(client, client_id: str) -> dict:
    body = client.get(FEED, query_string={"limit": 500}).get_json()
    return next(i for i in body["data"] if i["clientId"] == client_id)


# ---- the feed and the import ------------------------------------------------------------------

def test_round_trip_to_another_organisation_and_reimport_updates(client, session, owners, two_orgs):
    (a, b), (org_a, org_b) = owners, two_orgs
    mission = make_mission(session, org_a, a.user_id)
    item = feed_item(client, f"cartagora-{mission.id}")
    assert item["statusCode"] == "ACCEPTED" and item["type"] == "benevolat"
    assert item["places"] == 7 and item["openToMinors"] is True and item["reducedMobilityAccessible"] is True
    assert item["requirements"] == ["Bonne humeur", "Âge minimum : 16 ans"]
    assert [ad["postalCode"] for ad in item["addresses"]] == ["75004", "75003"]
    assert item["addresses"][0]["departmentCode"] == "75" and item["addresses"][0]["city"] == "Paris"
    assert item["applicationUrl"].endswith(f"/missions/{mission.id}")
    assert item["organizationName"] == "Association A" and item["organizationRNA"] == "W751234501"
    assert item["organizationPostCode"] == "75004"
    assert item["startAt"].endswith("Z") and item["schedule"].startswith("Du ")

    r = b.post(f"/api/v1/organisations/{org_b.id}/missions/api-engagement", json={"data": [item]})
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"created": 1, "updated": 0, "skipped": []}
    copy = session.scalar(select(Mission).where(Mission.organisation_id == org_b.id))
    session.refresh(copy)
    assert (copy.title, copy.domain, copy.activities, copy.remote) == \
        (mission.title, mission.domain, mission.activities, mission.remote)
    assert (copy.source, copy.external_id, copy.status) == ("api_engagement", f"cartagora-{mission.id}", "published")
    assert (copy.min_age, copy.skills, copy.reduced_mobility_accessible) == (16, ["Bonne humeur"], True)
    for original, imported in zip(mission.places, copy.places, strict=True):
        o, i = to_shape(original.geom), to_shape(imported.geom)
        assert math.isclose(o.x, i.x, abs_tol=1e-6) and math.isclose(o.y, i.y, abs_tol=1e-6)
    assert [p.label for p in copy.places] == ["Lieu 0", "Lieu 1"]
    assert [(s.starts_at, s.ends_at, s.capacity) for s in copy.slots] == \
        [(s.starts_at, s.ends_at, s.capacity) for s in mission.slots]

    # again, with a new title: the same mission is updated
    item["title"] = "Nettoyer le parvis, deuxième édition"
    again = b.post(f"/api/v1/organisations/{org_b.id}/missions/api-engagement", json={"data": [item]})
    assert again.get_json() == {"created": 0, "updated": 1, "skipped": []}
    assert session.scalar(select(func.count()).where(Mission.organisation_id == org_b.id)) == 1
    session.expire_all()
    assert session.get(Mission, copy.id).title == "Nettoyer le parvis, deuxième édition"
    # the copy is in the feed under the publisher's own clientId
    ids = [i["clientId"] for i in client.get(FEED, query_string={"limit": 500}).get_json()["data"]]
    assert ids.count(f"cartagora-{mission.id}") == 2


def test_a_recurring_mission_travels_whole_between_two_instances(client, session, owners, two_orgs):
    (a, b), (org_a, org_b) = owners, two_orgs
    today = datetime.now(UTC).date()
    rule = {"weekdays": [5], "start_time": datetime.strptime("10:00", "%H:%M").time(),
            "end_time": datetime.strptime("12:00", "%H:%M").time(), "from_date": today + timedelta(days=1),
            "until_date": today + timedelta(days=43), "capacity": 6}
    mission = make_mission(session, org_a, a.user_id, title="Le samedi au jardin partagé", schedule="recurring",
                           period=None, recurrence=rule)
    item = feed_item(client, f"cartagora-{mission.id}")
    assert item["schedule"] == "Samedis 10:00–12:00" and item["places"] == 6
    report = b.post(f"/api/v1/organisations/{org_b.id}/missions/api-engagement", json={"data": [item]}).get_json()
    assert report["created"] == 1
    copy = session.scalar(select(Mission).where(Mission.organisation_id == org_b.id))
    assert copy.schedule == "recurring" and copy.recurrence == mission.recurrence
    assert [s.starts_at for s in copy.slots] == [s.starts_at for s in mission.slots] and len(copy.slots) == 6


def test_an_address_outside_paris_is_skipped_and_the_others_land(session, owners, two_orgs):
    (a, _), (org_a, _) = owners, two_orgs
    from app.missions.api_engagement import import_missions

    base = {"title": "Distribution de repas", "domain": "solidarite-insertion", "places": 3,
            "startAt": _day(3).isoformat(), "endAt": _day(40).isoformat()}
    items = [
        {**base, "clientId": "ok-1", "addresses": [{"street": "10 rue Léon", "postalCode": "75018",
                                                   "location": {"lat": 48.88788, "lon": 2.35385}}]},
        {**base, "clientId": "lyon", "addresses": [{"street": "Place Bellecour", "postalCode": "69002",
                                                   "departmentCode": "69", "location": {"lat": 45.7578, "lon": 4.832}}]},
        {**base, "clientId": "versailles", "addresses": [{"street": "Place d'Armes",
                                                         "location": {"lat": 48.8049, "lon": 2.1204}}]},
        {**base, "clientId": "remote", "remote": "full", "addresses": []},
        {**base, "clientId": "no-title", "title": "", "addresses": []},
        {**base, "clientId": "bad-domain", "domain": "cuisine", "remote": "full"},
    ]
    owner = session.get(User, a.user_id)
    report = import_missions(session, org_a, owner, items)
    assert (report["created"], report["updated"]) == (2, 0)
    skipped = {s["clientId"]: s["errors"] for s in report["skipped"]}
    assert set(skipped) == {"lyon", "versailles", "no-title", "bad-domain"}
    assert [(e["field"], e["code"]) for e in skipped["lyon"]] == [("addresses.0", "outside_paris")]
    assert [(e["field"], e["code"]) for e in skipped["versailles"]] == [("addresses.0", "outside_paris")]
    assert ("title", "required") in [(e["field"], e["code"]) for e in skipped["no-title"]]
    assert ("addresses", "place_required") in [(e["field"], e["code"]) for e in skipped["no-title"]]
    assert [e["field"] for e in skipped["bad-domain"]] == ["domain"]
    landed = session.scalars(select(Mission).where(Mission.organisation_id == org_a.id)
                             .order_by(Mission.external_id)).all()
    assert [(m.external_id, m.status, [s.capacity for s in m.slots]) for m in landed] == \
        [("ok-1", "published", [3]), ("remote", "published", [3])]
    assert landed[0].places[0].arrondissement_id == 18 and landed[1].places == []


def test_the_feed_hides_drafts_and_unverified_organisations(client, session, owners, two_orgs, make_user, verify):
    (a, _), (org_a, _) = owners, two_orgs
    shown = make_mission(session, org_a, a.user_id, title="Mission publiée et visible")
    make_mission(session, org_a, a.user_id, title="Mission encore en brouillon", publish=False)
    c = verify(make_user(name="Owner C"))
    pending = make_org(session, c.user_id, "Association en attente", "W751234503", status="pending")
    hidden = make_mission(session, pending, c.user_id, title="Mission d'une association non vérifiée")
    assert hidden.status == "published"
    body = client.get(FEED).get_json()
    ids = [i["clientId"] for i in body["data"]]
    assert f"cartagora-{shown.id}" in ids and f"cartagora-{hidden.id}" not in ids
    assert body["ok"] is True and (body["limit"], body["skip"]) == (50, 0)
    public = session.scalar(select(func.count()).select_from(Mission).where(
        services.public_clause(), Mission.status.in_(("published", "full"))))
    assert body["total"] == public == len(ids)
    assert all(i["statusCode"] == "ACCEPTED" for i in body["data"])
    page = client.get(FEED, query_string={"limit": 1, "skip": body["total"] - 1}).get_json()
    assert len(page["data"]) == 1 and page["data"][0]["clientId"] == ids[-1]
    for bad, field in (({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"skip": -1}, "skip"),
                       ({"status": "draft"}, "status"), ({"nope": 1}, "nope")):
        r = client.get(FEED, query_string=bad)
        assert r.status_code == 422 and r.mimetype == "application/problem+json", (bad, r.status_code)
        assert [e["field"] for e in r.get_json()["errors"]] == [field]


def test_import_needs_a_member_and_a_well_formed_body(client, session, owners, two_orgs):
    (a, b), (org_a, _) = owners, two_orgs
    url = f"/api/v1/organisations/{org_a.id}/missions/api-engagement"
    assert client.post(url, json={"data": []}).status_code == 401
    assert b.post(url, json={"data": []}).status_code == 403
    r = a.post(url, json={"data": "not a list"})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "data"
    too_many = a.post(url, json={"data": [{}] * 501})
    assert too_many.status_code == 422 and too_many.get_json()["errors"][0]["code"] == "too_many_items"
    assert a.post(url, json={"missions": []}).status_code == 422
    r = a.post(url, json={"data": [{"clientId": "x"}, "not an object"]})
    assert r.status_code == 422  # an item that is not an object: the declared body says so
    r = a.post(url, json={"data": [{"clientId": "x", "title": "Court"}]})
    assert r.status_code == 200 and r.get_json()["skipped"][0]["clientId"] == "x"
    assert session.scalar(select(func.count()).where(Mission.organisation_id == org_a.id)) == 0


def test_the_feed_and_the_import_are_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    feed = doc["paths"]["/api/v1/missions/api-engagement"]["get"]
    assert {p["name"] for p in feed["parameters"]} >= {"limit", "skip", "status"}
    assert "200" in feed["responses"]
    post = doc["paths"]["/api/v1/organisations/{organisation_id}/missions/api-engagement"]["post"]
    assert {"200", "401", "403", "404", "422"} <= set(post["responses"])
    assert "requestBody" in post


def test_cli_import_and_close_ended(runner, session, owners, two_orgs, tmp_path):
    _, org_b = two_orgs
    path = tmp_path / "missions.json"
    path.write_text(json.dumps([{"clientId": "cli-1", "title": "Atelier vélo solidaire", "domain": "sport",
                                 "places": 2, "startAt": _day(2).isoformat(), "endAt": _day(9).isoformat(),
                                 "addresses": [{"street": "Place de la République", "postalCode": "75011",
                                                "location": {"lat": REPUBLIQUE[1], "lon": REPUBLIQUE[0]}}]},
                                {"clientId": "cli-2", "title": "Hors de Paris", "addresses": [
                                    {"location": {"lat": 45.76, "lon": 4.83}}]}]))
    out = runner.invoke(args=["missions", "import", str(path), "--organisation", str(org_b.id)])
    assert out.exit_code == 0, out.output
    assert "created: 1, updated: 0, skipped: 1" in out.output and "cli-2: addresses.0: outside_paris" in out.output
    imported = session.scalar(select(Mission).where(Mission.external_id == "cli-1"))
    assert imported.organisation_id == org_b.id and imported.status == "published"
    session.execute(text("UPDATE mission_slots SET starts_at = now() - interval '3 days', "
                         "ends_at = now() - interval '1 day' WHERE mission_id = :m"), {"m": imported.id})
    session.commit()
    out = runner.invoke(args=["missions", "close-ended"])
    assert out.exit_code == 0 and "closed: 1" in out.output
    session.expire_all()
    assert session.get(Mission, imported.id).status == "closed"


def test_demo_twice_gives_the_same_counts(runner, session):
    first = runner.invoke(args=["missions", "demo"])
    assert first.exit_code == 0, first.output
    assert "demo organisations created: 4" in first.output and "created: 12, updated: 0, skipped: 0" in first.output

    def counts():
        return session.execute(text("""
            SELECT (SELECT count(*) FROM organisations WHERE rna LIKE 'W75100000_' AND name LIKE '%(démo)'
                      AND status = 'verified'),
                   (SELECT count(*) FROM missions m JOIN organisations o ON o.id = m.organisation_id
                     WHERE o.rna LIKE 'W75100000_' AND m.status = 'published'),
                   (SELECT count(*) FROM mission_places p JOIN missions m ON m.id = p.mission_id
                     JOIN organisations o ON o.id = m.organisation_id WHERE o.rna LIKE 'W75100000_'),
                   (SELECT count(*) FROM users WHERE email LIKE '%.invalid' AND email LIKE 'demo-missions%')
        """)).one()

    before = counts()
    assert before == (4, 12, 12, 1)
    second = runner.invoke(args=["missions", "demo"])
    assert second.exit_code == 0, second.output
    assert "demo organisations created: 0" in second.output and "created: 0, updated: 12" in second.output
    assert counts() == before
    kinds = dict(session.execute(text("""
        SELECT m.schedule, count(*) FROM missions m JOIN organisations o ON o.id = m.organisation_id
        WHERE o.rna LIKE 'W75100000_' GROUP BY 1""")).all())
    assert kinds == {"open_period": 7, "recurring": 5}
    garden = session.scalar(select(Mission).where(Mission.external_id == "demo-jardin-des-haies-samedi"))
    assert garden.recurrence["weekdays"] == [5] and garden.places[0].arrondissement_id == 20
    remote = session.scalar(select(Mission).where(Mission.external_id == "demo-traduction-a-distance"))
    assert remote.remote == "full" and remote.places == []


# ---- OGC API – Features -----------------------------------------------------------------------

def test_ogc_missions_items_are_multipoints_of_public_missions(client, session, owners, two_orgs, make_user, verify):
    (a, _), (org_a, _) = owners, two_orgs
    shown = make_mission(session, org_a, a.user_id)
    draft = make_mission(session, org_a, a.user_id, title="Un brouillon invisible", publish=False)
    c = verify(make_user(name="Owner C"))
    pending = make_org(session, c.user_id, "Association en attente", "W751234503", status="pending")
    hidden = make_mission(session, pending, c.user_id, title="Mission non vérifiée")
    body = client.get("/ogc/collections/missions/items", query_string={"limit": 1000}).get_json()
    by_id = {f["id"]: f for f in body["features"]}
    assert shown.id in by_id and draft.id not in by_id and hidden.id not in by_id
    assert body["numberMatched"] == session.scalar(select(func.count()).select_from(Mission)
                                                   .where(services.public_clause()))
    f = by_id[shown.id]
    assert f["geometry"]["type"] == "MultiPoint"
    assert f["geometry"]["coordinates"] == [list(NOTRE_DAME), list(REPUBLIQUE)]
    p = f["properties"]
    assert (p["title"], p["domain"], p["remote"], p["status"], p["organisation"]) == \
        (shown.title, "environnement", "possible", "published", "Association A")
    assert p["remaining"] == 7 and p["arrondissements"] == [3, 4] and p["url"].endswith(f"/missions/{shown.id}")
    assert datetime.fromisoformat(p["next_slot"]) == shown.slots[0].starts_at

    def ids(**query):
        r = client.get("/ogc/collections/missions/items", query_string={"limit": 1000, **query})
        assert r.status_code == 200, r.get_json()
        return {f["id"] for f in r.get_json()["features"]}

    assert shown.id in ids(filter="domain = 'environnement' AND arrondissement = 3")
    assert shown.id not in ids(filter="arrondissement = 18")
    assert shown.id in ids(filter="remote IN ('possible', 'full') AND status = 'published'")
    assert shown.id in ids(arrondissement="4") and shown.id not in ids(arrondissement="5")
    assert shown.id in ids(bbox="2.36,48.86,2.37,48.87") and shown.id not in ids(bbox="2.25,48.83,2.27,48.84")
    assert shown.id not in ids(domain="sport")
    one = client.get(f"/ogc/collections/missions/items/{shown.id}").get_json()
    assert one["properties"]["title"] == shown.title
    assert client.get(f"/ogc/collections/missions/items/{draft.id}").status_code == 404
    q = client.get("/ogc/collections/missions/queryables").get_json()["properties"]
    assert {"domain", "remote", "status", "arrondissement", "geometry"} <= set(q)
    assert client.get("/ogc/collections/missions/items", query_string={"filter": "volunteer = 'x'"}).status_code == 400
    html = client.get("/ogc/collections/missions/items", query_string={"f": "html", "lang": "en"}).get_data(as_text=True)
    assert "Places left" in html and shown.title in html and draft.title not in html


def test_owslib_and_gdal_read_the_missions(http_root, session, owners, two_orgs, tmp_path):
    from owslib.ogcapi.features import Features

    (a, _), (org_a, _) = owners, two_orgs
    shown = make_mission(session, org_a, a.user_id)
    server = f"{http_root}/ogc"
    api = Features(server)
    assert "missions" in api.feature_collections()
    page = api.collection_items("missions", bbox=[2.34, 48.85, 2.36, 48.86], limit=100)
    feature = next(f for f in page["features"] if f["id"] == shown.id)
    assert feature["geometry"]["type"] == "MultiPoint" and len(feature["geometry"]["coordinates"]) == 2

    out = tmp_path / "missions.geojson"
    result = subprocess.run(["ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{server}", "missions"],
                            capture_output=True, text=True, timeout=60,
                            env={"GDAL_HTTP_TIMEOUT": "30", "CPL_DEBUG": "OFF", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    features = json.loads(out.read_text())["features"]
    public = session.scalar(select(func.count()).select_from(Mission).where(services.public_clause()))
    assert len(features) == public
    mine = next(f for f in features if f["properties"]["title"] == shown.title)
    assert mine["geometry"]["type"] == "MultiPoint"
    assert [[round(c, 6) for c in pt] for pt in mine["geometry"]["coordinates"]] == [list(NOTRE_DAME), list(REPUBLIQUE)]
    info = subprocess.run(["ogrinfo", "-ro", "-so", f"OAPIF:{server}", "missions"], capture_output=True,
                          text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert info.returncode == 0 and "Multi Point" in info.stdout and f"Feature Count: {public}" in info.stdout


# ---- vector tiles -----------------------------------------------------------------------------

def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    lat_r = math.radians(lat)
    return int((lon + 180.0) / 360.0 * n), int((1.0 - math.log(math.tan(lat_r) + 1.0 / math.cos(lat_r)) / math.pi)
                                               / 2.0 * n)


def test_a_tile_holds_one_point_per_place_of_open_missions(client, session, owners, two_orgs):
    (a, _), (org_a, _) = owners, two_orgs
    shown = make_mission(session, org_a, a.user_id)
    draft = make_mission(session, org_a, a.user_id, title="Un brouillon invisible", publish=False)
    x, y = tile_of(*NOTRE_DAME, 15)
    r = client.get(f"/tiles/missions/15/{x}/{y}.mvt")
    assert r.status_code == 200 and r.content_type == "application/vnd.mapbox-vector-tile"
    layer = mapbox_vector_tile.decode(r.data, default_options={"y_coord_down": True})["missions"]
    props = [f["properties"] for f in layer["features"]]
    mine = [p for p in props if p["id"] == shown.id]
    assert len(mine) == 1 and mine[0]["title"] == shown.title
    assert (mine[0]["domain"], mine[0]["remaining"]) == ("environnement", 7)
    assert all(p["id"] != draft.id for p in props)
    # at zoom 11 both places (Notre-Dame, République) are in one tile: two points
    x, y = tile_of(*NOTRE_DAME, 11)
    layer = mapbox_vector_tile.decode(client.get(f"/tiles/missions/11/{x}/{y}.mvt").data)["missions"]
    assert sum(1 for f in layer["features"] if f["properties"]["id"] == shown.id) == 2
    # once its period is over (before `close-ended` has run), it is no longer drawn
    session.execute(text("UPDATE mission_slots SET starts_at = now() - interval '3 days', "
                         "ends_at = now() - interval '1 day' WHERE mission_id = :m"), {"m": shown.id})
    session.commit()
    layer = mapbox_vector_tile.decode(client.get(f"/tiles/missions/11/{x}/{y}.mvt").data).get("missions", {})
    assert all(f["properties"]["id"] != shown.id for f in layer.get("features", []))
    tilejson = client.get("/tiles/missions.json").get_json()
    assert set(tilejson["vector_layers"][0]["fields"]) == {"id", "title", "domain", "remote", "remaining"}
