"""Reports and proposals through the API: create, locate, list, filter, edit, withdraw."""

import json
from datetime import datetime

import pytest
from sqlalchemy import text

from tests.conftest import feature

LOUVRE = (2.3376, 48.8606)  # 1er, quartier Saint-Germain-l'Auxerrois (1)
BUTTES_CHAUMONT = (2.3828, 48.8809)  # 19e


def test_create_report_at_notre_dame(resident, make_report):
    report = make_report(description="Sur la grille du square Jean-XXIII")
    p = report["properties"]
    assert report["geometry"] == {"type": "Point", "coordinates": [2.3499, 48.853]}
    assert (p["kind"], p["status"], p["arrondissement"]) == ("report", "new", 4)
    assert p["quartier"] == {"code": 16, "name": "Notre-Dame"}
    assert p["category"]["code"] == "graffitis"
    assert p["author"] == "Alice"
    assert p["votes"] == {"up": 0, "down": 0} and p["comments_count"] == 0
    assert resident.email not in json.dumps(report)  # identity never public


def test_location_header_and_read(resident, make_report, client):
    r = resident.post("/api/v1/reports", json=feature(*LOUVRE, title="Lampadaire éteint",
                                                       category="eclairage"))
    assert r.status_code == 201
    assert r.headers["Location"].endswith(f"/api/v1/reports/{r.json['id']}")
    got = client.get(r.headers["Location"])
    assert got.content_type == "application/geo+json"
    assert got.json["properties"]["arrondissement"] == 1
    assert got.json["properties"]["quartier"]["name"] == "Saint-Germain-l'Auxerrois"


def test_proposal_polygon_is_located_by_point_on_surface(resident):
    # a square straddling nothing: entirely in the 19e, inside the Buttes-Chaumont park
    x, y = BUTTES_CHAUMONT
    ring = [[x, y], [x + 0.002, y], [x + 0.002, y + 0.001], [x, y + 0.001], [x, y]]
    r = resident.post("/api/v1/proposals", json=feature(
        title="Plus de bancs", category="espace-public.mobilier",
        geometry={"type": "Polygon", "coordinates": [ring]}))
    assert r.status_code == 201, r.json
    assert r.json["properties"]["arrondissement"] == 19
    assert r.json["properties"]["status"] == "published"
    assert r.json["geometry"]["type"] == "Polygon"


def test_line_crossing_arrondissements_takes_its_point_on_surface(resident, session):
    # along the Seine's right bank from the 4e into the 1er
    line = {"type": "LineString", "coordinates": [[2.3530, 48.8570], [2.3400, 48.8590]]}
    r = resident.post("/api/v1/proposals", json=feature(title="Piste cyclable",
                                                        category="mobilite.velo", geometry=line))
    assert r.status_code == 201
    expected = session.execute(text("""
        SELECT q.arrondissement_id FROM quartiers q
        WHERE ST_Intersects(q.geom, ST_PointOnSurface(ST_GeomFromGeoJSON(:g))) ORDER BY q.id LIMIT 1
    """), {"g": json.dumps(line)}).scalar()
    assert r.json["properties"]["arrondissement"] == expected


def test_moving_a_report_recomputes_its_areas(resident, make_report):
    report = make_report()
    r = resident.patch(f"/api/v1/reports/{report['id']}",
                       json={"type": "Feature", "geometry": {"type": "Point", "coordinates": list(BUTTES_CHAUMONT)},
                             "properties": {}})
    assert r.status_code == 200, r.json
    assert r.json["properties"]["arrondissement"] == 19
    assert r.json["properties"]["quartier"]["code"] in range(73, 77)
    assert r.json["properties"]["title"] == "Tags sur le parvis"  # untouched


def test_edit_rights(make_user, make_report):
    """The author and a supervisor edit; a moderator or a planner edits nobody's (the whole
    matrix is tests/test_policy.py)."""
    author, other = make_user(name="Author"), make_user(name="Other")
    moderator, planner = make_user(roles=("moderator",)), make_user(roles=("planner",))
    supervisor = make_user(roles=("supervisor",))
    report = make_report(api=author)
    url = f"/api/v1/reports/{report['id']}"
    body = {"type": "Feature", "properties": {"title": "Tags effacés ?"}}
    assert other.patch(url, json=body).json["code"] == "forbidden"
    assert moderator.patch(url, json=body).json["code"] == "forbidden"
    assert planner.patch(url, json=body).json["code"] == "forbidden"
    assert author.patch(url, json=body).json["properties"]["title"] == "Tags effacés ?"
    body["properties"]["title"] = "Titre corrigé"
    assert supervisor.patch(url, json=body).json["properties"]["title"] == "Titre corrigé"


def test_withdraw(make_user, make_report, client):
    author, other = make_user(), make_user()
    report = make_report(api=author, title="Retrait test unique")
    url = f"/api/v1/reports/{report['id']}"
    assert other.delete(url).status_code == 403
    assert author.delete(url).status_code == 204
    assert client.get(url).status_code == 404
    listing = client.get("/api/v1/reports?q=Retrait test unique")
    assert listing.json["features"] == []
    assert author.delete(url).status_code == 204  # idempotent


def ids(response):
    return [f["id"] for f in response.json["features"]]


def test_list_filters(resident, client):
    made = {}
    for name, (lon, lat), cat in [("ndA", (2.3499, 48.8530), "graffitis"),
                                  ("ndB", (2.3502, 48.8532), "eclairage"),
                                  ("louvre", LOUVRE, "graffitis")]:
        r = resident.post("/api/v1/reports", json=feature(lon, lat, title=f"zzfilter {name}", category=cat))
        made[name] = r.json["id"]
    base = "/api/v1/reports?q=zzfilter"
    assert set(ids(client.get(base))) == set(made.values())
    assert set(ids(client.get(base + "&bbox=2.349,48.852,2.351,48.854"))) == {made["ndA"], made["ndB"]}
    assert set(ids(client.get(base + "&category=graffitis"))) == {made["ndA"], made["louvre"]}
    assert set(ids(client.get(base + "&arrondissement=1"))) == {made["louvre"]}
    assert set(ids(client.get(base + "&arrondissement=1,4"))) == set(made.values())
    assert set(ids(client.get(base + "&quartier=16"))) == {made["ndA"], made["ndB"]}
    assert set(ids(client.get(base + "&status=open"))) == set(made.values())
    assert ids(client.get(base + "&status=resolved")) == []
    assert set(ids(client.get(base + "&since=2026-01-01"))) == set(made.values())
    assert ids(client.get(base + "&until=2020-01-01")) == []


def test_category_filter_includes_sub_types(client):
    # imported reports carry sub-types; the type code selects them all
    total = client.get("/api/v1/reports?category=eclairage&limit=1000")
    subtypes = {f["properties"]["category"]["code"] for f in total.json["features"]}
    assert len(total.json["features"]) == 385  # the extract's Éclairage / Électricité rows
    assert all(code.startswith("eclairage.") for code in subtypes) and len(subtypes) > 3


def test_pagination_is_stable_and_complete(client):
    seen, url, pages = [], "/api/v1/reports?arrondissement=3&since=2024-01-01&until=2024-03-31&limit=250", 0
    expected = client.get("/api/v1/reports?arrondissement=3&since=2024-01-01&until=2024-03-31&limit=1000")
    assert expected.json["numberReturned"] < 1000
    while url:
        page = client.get(url)
        assert page.status_code == 200
        seen += ids(page)
        pages += 1
        nxt = [link["href"] for link in page.json["links"] if link["rel"] == "next"]
        url = nxt[0] if nxt else None
    assert pages > 1
    assert seen == ids(expected)  # same order, no gap, no repeat
    keys = [(datetime.fromisoformat(f["properties"]["created_at"]), f["id"]) for f in expected.json["features"]]
    assert keys == sorted(keys, reverse=True) and len(set(keys)) == len(keys)  # newest first, ties by id
    assert len({at for at, _ in keys}) < len(keys)  # the extract has equal timestamps: ties are tested


def test_source_id_filter(client):
    r = client.get("/api/v1/reports?source_id=A2023G041622")
    assert len(r.json["features"]) == 1
    p = r.json["features"][0]["properties"]
    assert p["source_id"] == "A2023G041622"
    assert p["arrondissement"] == 2 and p["category"]["code"].startswith("objets-abandonnes.")
    assert r.json["features"][0]["geometry"]["coordinates"] == [2.349339, 48.86993]


def test_limit_bounds(client):
    assert len(client.get("/api/v1/reports?limit=1000").json["features"]) == 1000
    r = client.get("/api/v1/reports?limit=1001")
    assert r.status_code == 422 and r.json["errors"][0]["field"] == "limit"


def test_nearby_duplicates(resident, make_report, client):
    here = make_report(title="Tag ici", category="graffitis")
    close = make_report(lon=2.3502, lat=48.8531, title="Tag à 25 m", category="graffitis")
    make_report(lon=2.3502, lat=48.8531, title="Lampe", category="eclairage")
    far = make_report(lon=2.3530, lat=48.8530, title="Tag à 230 m", category="graffitis")
    r = client.get("/api/v1/reports/nearby?lon=2.3499&lat=48.8530&category=graffitis")
    found = [(f["id"], f["properties"]["distance_m"]) for f in r.json["features"]]
    assert [i for i, _ in found][:2] == [here["id"], close["id"]]
    assert found[0][1] == 0
    assert 20 < found[1][1] < 30  # metres, not degrees
    assert far["id"] not in [i for i, _ in found]
    assert all(d <= 50 for _, d in found)
    wide = client.get("/api/v1/reports/nearby?lon=2.3499&lat=48.8530&category=graffitis&radius_m=300")
    assert far["id"] in ids(wide)


@pytest.mark.parametrize("lang,expected", [("fr", "hors de Paris"), ("en", "outside Paris")])
def test_outside_paris_message_in_the_users_language(resident, lang, expected):
    r = resident.post("/api/v1/reports", json=feature(2.2386, 48.8919),
                      headers={"Accept-Language": lang})
    assert r.status_code == 422
    assert r.json["code"] == "outside_paris"
    assert expected in r.json["detail"]
    assert r.json["errors"] == [{"field": "geometry", "code": "outside_paris", "detail": r.json["detail"]}]


# ---------------------------------------------------------------- the stored Feature text

STALE_FEATURES = """
SELECT count(*) FROM contributions c
WHERE c.feature_json IS DISTINCT FROM contribution_feature_json(
    c.id, (SELECT category_feature_member(code, label_fr) FROM categories WHERE id = c.category_id),
    c.kind, c.title, c.description, c.status, c.arrondissement_id, c.quartier_id,
    (SELECT name FROM quartiers WHERE id = c.quartier_id), c.address, c.created_at, c.updated_at,
    c.votes_up, c.votes_down, c.comments_count, c.photos_count,
    (SELECT display_name FROM users WHERE id = c.author_id), c.source_id, c.geom)
"""


def test_stored_features_match_their_rows_after_import_and_writes(session, resident, make_report,
                                                                   make_user):
    """The importer computes feature_json set-based, the trigger row by row: same text."""
    report = make_report()
    rid = report["id"]
    for voter in (resident, make_user()):
        assert voter.put(f"/api/v1/reports/{rid}/vote", json={"value": 1}).status_code == 200
    resident.post(f"/api/v1/reports/{rid}/comments", json={"body": "Toujours là"})
    resident.patch(f"/api/v1/reports/{rid}", json={"properties": {"title": "Tags « énormes »"}})
    session.execute(text("UPDATE contributions SET status = 'scheduled' WHERE id = :id"), {"id": rid})
    total = session.scalar(text("SELECT count(*) FROM contributions"))
    assert total > 39_000  # the imported extract is part of the check
    assert session.scalar(text(STALE_FEATURES)) == 0
    listed = resident.get("/api/v1/reports?limit=1").json["features"][0]
    p = listed["properties"]
    assert (p["id"], p["title"], p["status"], p["votes"], p["comments_count"]) == (
        rid, "Tags « énormes »", "scheduled", {"up": 2, "down": 0}, 1)


GRAFFITIS = {"fr": "Graffitis, tags, affiches et autocollants", "en": "Graffiti, tags, posters and stickers"}


def test_category_label_is_in_the_readers_language_on_every_read_path(client, make_report):
    """The stored text carries the French label; English readers get theirs, and nothing else
    of the Feature changes."""
    rid = make_report()["id"]
    reads = {
        "list": "/api/v1/reports?limit=1",
        "read": f"/api/v1/reports/{rid}",
        "nearby": "/api/v1/reports/nearby?lon=2.3499&lat=48.8530&category=graffitis",
    }
    for name, url in reads.items():
        fr = client.get(url).json
        fr = fr["features"][0] if "features" in fr else fr
        en = client.get(url, headers={"Accept-Language": "en-GB,en;q=0.9"}).json
        en = en["features"][0] if "features" in en else en
        assert fr["id"] == en["id"] == rid, name
        assert fr["properties"].pop("category") == {"code": "graffitis", "label": GRAFFITIS["fr"]}, name
        assert en["properties"].pop("category") == {"code": "graffitis", "label": GRAFFITIS["en"]}, name
        assert fr == en, name
    assert client.get(reads["nearby"] + "&lang=en").json["features"][0]["properties"]["distance_m"] < 50


def test_a_page_of_imported_reports_in_english(client):
    """A 1000-feature page of the extract (many categories) through the bytes path."""
    labels = {}
    for top in client.get("/api/v1/categories?kind=report").json["categories"]:
        for c in [top, *top["children"]]:
            labels[c["code"]] = c["label"]
    page = {lang: client.get(f"/api/v1/reports?limit=1000&lang={lang}").json["features"] for lang in ("fr", "en")}
    assert len(page["en"]) == len(page["fr"]) == 1000
    codes = {f["properties"]["category"]["code"] for f in page["en"]}
    assert len(codes) > 20
    for fr, en in zip(page["fr"], page["en"], strict=True):
        code = en["properties"]["category"]["code"]
        assert fr["properties"].pop("category") == {"code": code, "label": labels[code]["fr"]}
        assert en["properties"].pop("category") == {"code": code, "label": labels[code]["en"]}
        assert fr == en


def test_a_renamed_category_reaches_stored_features(session, client, make_report):
    rid = make_report()["id"]
    session.execute(text("UPDATE categories SET label_fr = 'Tags et graffitis' WHERE code = 'graffitis'"))
    assert session.scalar(text(STALE_FEATURES)) == 0
    fr = client.get(f"/api/v1/reports/{rid}").json["properties"]["category"]
    en = client.get(f"/api/v1/reports/{rid}?lang=en").json["properties"]["category"]
    assert (fr["label"], en["label"]) == ("Tags et graffitis", GRAFFITIS["en"])


def test_display_and_quartier_names_reach_stored_features(session, resident, make_report):
    rid = make_report()["id"]
    session.execute(text("UPDATE users SET display_name = 'Alice B.' WHERE email = :e"),
                    {"e": resident.email})
    session.execute(text("UPDATE quartiers SET name = 'Notre-Dame (île de la Cité)' WHERE id = 16"))
    p = resident.get(f"/api/v1/reports/{rid}").json["properties"]
    assert p["author"] == "Alice B."
    assert p["quartier"] == {"code": 16, "name": "Notre-Dame (île de la Cité)"}
    assert session.scalar(text(STALE_FEATURES)) == 0


def test_stored_timestamps_are_utc_whatever_the_session_time_zone(session, make_report):
    rid = make_report()["id"]
    session.execute(text("SET LOCAL timezone = 'America/New_York'"))
    session.execute(text("UPDATE contributions SET updated_at = '2025-07-14 10:00:00+02' WHERE id = :id"),
                    {"id": rid})
    stored = session.scalar(text("SELECT feature_json FROM contributions WHERE id = :id"), {"id": rid})
    assert '"updated_at":"2025-07-14T08:00:00+00:00"' in stored


# ---------------------------------------------------------------- the declared bodies

def test_a_3d_position_is_accepted_and_stored_2d(resident, session):
    r = resident.post("/api/v1/reports", json=feature(geometry={
        "type": "Point", "coordinates": [2.3499, 48.853, 35]}))
    assert r.status_code == 201, r.json
    assert r.json["geometry"] == {"type": "Point", "coordinates": [2.3499, 48.853]}
    dims = session.scalar(text("SELECT ST_NDims(geom) FROM contributions WHERE id = :id"),
                          {"id": r.json["id"]})
    assert dims == 2


def test_a_patch_changes_only_what_it_names(resident, make_report):
    report = make_report(description="Sur la grille", address="Parvis Notre-Dame")
    url = f"/api/v1/reports/{report['id']}"
    r = resident.patch(url, json={"properties": {"description": "Sur le banc"}})
    assert r.status_code == 200, r.json
    before, after = report["properties"], r.json["properties"]
    assert after["description"] == "Sur le banc"
    assert (after["title"], after["category"], after["address"]) == (
        before["title"], before["category"], before["address"])
    assert r.json["geometry"] == report["geometry"]
    cleared = resident.patch(url, json={"properties": {"address": None, "description": None}})
    assert cleared.json["properties"]["address"] is None
    assert cleared.json["properties"]["description"] == ""
    recategorised = resident.patch(url, json={"properties": {"category": "eclairage"}})
    assert recategorised.json["properties"]["category"]["code"] == "eclairage"
    nothing = resident.patch(url, json={})
    assert nothing.status_code == 200 and nothing.json["properties"]["title"] == before["title"]


@pytest.mark.parametrize(("body", "field", "code"), [
    ({"properties": {"title": None}}, "properties.title", "required"),
    ({"properties": {"title": "ab"}}, "properties.title", "too_short"),
    ({"properties": {"category": "mobilite"}}, "properties.category", "unknown_category"),
    ({"properties": {"colour": "red"}}, "properties.colour", "unknown_field"),
    ({"geometry": None}, "geometry", "geometry_missing"),
])
def test_a_patch_checks_what_it_names(resident, make_report, body, field, code):
    r = resident.patch(f"/api/v1/reports/{make_report()['id']}", json=body)
    assert r.status_code == 422
    assert [(e["field"], e["code"]) for e in r.json["errors"]] == [(field, code)]


def test_proposal_categories_are_themes(resident):
    r = resident.post("/api/v1/proposals", json=feature(category="graffitis"))
    assert r.status_code == 422
    assert [(e["field"], e["code"]) for e in r.json["errors"]] == [
        ("properties.category", "unknown_category")]
    assert resident.post("/api/v1/proposals", json=feature(category="mobilite")).status_code == 201


def test_filters_of_each_kind(client, resident):
    made = resident.post("/api/v1/proposals", json=feature(title="zzkind idée", category="mobilite"))
    assert made.status_code == 201
    base = "/api/v1/proposals?q=zzkind"
    assert ids(client.get(base + "&status=published&category=mobilite")) == [made.json["id"]]
    assert ids(client.get(base + "&status=accepted")) == []
    assert client.get(base + "&status=open").status_code == 422  # a group of reports only
    assert client.get(base + "&category=graffitis").status_code == 422


def test_a_text_filter_is_matched_literally(client, resident):
    made = resident.post("/api/v1/reports", json=feature(title="zz_pct 100% tagué"))
    assert ids(client.get("/api/v1/reports?q=zz_pct 100%25")) == [made.json["id"]]
    assert ids(client.get("/api/v1/reports?q=zz%25pct")) == []


def test_until_a_bare_date_includes_that_day(client):
    day = client.get("/api/v1/reports?since=2024-03-04&until=2024-03-04&limit=1000").json
    stamps = {f["properties"]["created_at"][:10] for f in day["features"]}
    assert day["numberReturned"] > 0 and stamps == {"2024-03-04"}


def test_next_link_keeps_the_filters(client):
    page = client.get("/api/v1/reports?arrondissement=4&limit=2&lang=en")
    nxt = page.json["links"][0]["href"]
    assert "arrondissement=4" in nxt and "lang=en" in nxt and "cursor=" in nxt
    second = client.get(nxt)
    assert second.json["numberReturned"] == 2 and set(ids(second)).isdisjoint(ids(page))
    assert {f["properties"]["arrondissement"] for f in second.json["features"]} == {4}


def test_nearby_query_is_checked(client):
    base = "/api/v1/reports/nearby?lon=2.3499&lat=48.8530"
    cases = {
        "": ("category", "required"),
        "&category=": ("category", "required"),
        "&category=mobilite": ("category", "unknown_category"),
        "&category=graffitis&radius_m=501": ("radius_m", "out_of_range"),
        "&category=graffitis&radius_m=nan": ("radius_m", "not_a_number"),
        "&category=graffitis&limit=101": ("limit", "out_of_range"),
        "&category=graffitis&colour=red": ("colour", "unknown_field"),
    }
    for query, expected in cases.items():
        r = client.get(base + query)
        assert r.status_code == 422, query
        assert [(e["field"], e["code"]) for e in r.json["errors"]] == [expected], query
    far = client.get("/api/v1/reports/nearby?lon=-180&lat=-90&category=graffitis")
    assert far.status_code == 200 and far.json["features"] == []  # not a projection error
    r = client.get("/api/v1/reports/nearby?lat=95&category=graffitis")
    assert {e["field"]: e["code"] for e in r.json["errors"]} == {"lon": "required",
                                                                 "lat": "out_of_range"}
