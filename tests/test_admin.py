"""Administration: categories (rename, move, flags, routing), services, roles, API keys; the
agent-only and sensitive categories as residents, staff and the public meet them."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import text

from app.admin.services import authenticate_api_key
from app.areas.services import reset_category_index
from tests.conftest import browser, feature

EXACT = (2.35012, 48.85291)  # on the parvis of Notre-Dame, 4e
AGENT_ONLY = "proprete.reserve-agents-haropa-port-hors-champ-de-competence-haropa-p"


@pytest.fixture(autouse=True)
def fresh_tree():
    """Each test's changes to the tree are rolled back: no process may keep them."""
    reset_category_index()
    yield
    reset_category_index()


@pytest.fixture
def admin(make_user):
    return make_user(("admin",), name="Admin")


def cell_centre(session, lon: float, lat: float) -> list[float]:
    """The centre of the 100 m Lambert-93 cell holding the point: the cell computed here, the
    projection by PostGIS (the app's snapping is what is under test, not PROJ)."""
    x, y = session.execute(text("SELECT ST_X(p), ST_Y(p) FROM ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), "
                                "4326), 2154) p"), {"x": lon, "y": lat}).one()
    cx, cy = math.floor(x / 100) * 100 + 50, math.floor(y / 100) * 100 + 50
    back = session.execute(text("SELECT ST_X(p), ST_Y(p) FROM ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), "
                                "2154), 4326) p"), {"x": cx, "y": cy}).one()
    return [round(v, 6) for v in back]


def audit(session, action: str) -> list[dict]:
    return [dict(r) for r in session.execute(text(
        "SELECT subject_id, reason, details FROM audit_log WHERE action = :a ORDER BY id"), {"a": action}).mappings()]


# ---- agent-only and disabled categories --------------------------------------------------

def agent_only_codes(client) -> list[str]:
    tree = client.get("/api/v1/categories?kind=report").json["categories"]
    return [c["code"] for top in tree for c in [top, *top["children"]] if c["agent_only"]]


def test_the_twenty_agent_only_sub_types_are_flagged_and_refused_to_residents(client, resident, make_user):
    codes = agent_only_codes(client)
    assert len(codes) == 20
    assert AGENT_ONLY in codes
    r = resident.post("/api/v1/reports", json=feature(category=AGENT_ONLY))
    assert r.status_code == 422
    assert [(e["field"], e["code"]) for e in r.json["errors"]] == [("properties.category", "category_agent_only")]
    assert "agents" in r.json["errors"][0]["detail"]
    agent = make_user(("agent",))
    made = agent.post("/api/v1/reports", json=feature(category=AGENT_ONLY))
    assert made.status_code == 201 and made.json["properties"]["category"]["code"] == AGENT_ONLY
    # nor may a resident move their report into one
    own = resident.post("/api/v1/reports", json=feature()).json
    r = resident.patch(f"/api/v1/reports/{own['id']}", json={"type": "Feature", "properties": {"category": AGENT_ONLY}})
    assert r.status_code == 422 and r.json["errors"][0]["code"] == "category_agent_only"


def test_a_disabled_category_takes_no_new_contribution_and_keeps_its_old_ones(client, admin, resident, make_report):
    old = make_report(category="graffitis.abribus")
    r = admin.patch("/api/v1/admin/categories/graffitis.abribus", json={"active": False})
    assert r.status_code == 200 and r.json["active"] is False
    r = resident.post("/api/v1/reports", json=feature(category="graffitis.abribus"))
    assert r.status_code == 422 and r.json["errors"][0]["code"] == "category_disabled"
    kept = client.get(f"/api/v1/reports/{old['id']}").json
    assert kept["properties"]["category"]["code"] == "graffitis.abribus"
    tree = client.get("/api/v1/categories?kind=report").json["categories"]
    graffitis = next(t for t in tree if t["code"] == "graffitis")
    assert [c["active"] for c in graffitis["children"]
            if c["code"] == "graffitis.abribus"] == [False]


# ---- renaming, moving, routing -----------------------------------------------------------

def test_a_rename_shows_at_once_in_both_languages_and_is_audited(client, admin, make_report, session):
    report = make_report()
    version = session.scalar(text("SELECT version FROM catalogue_version"))
    r = admin.patch("/api/v1/admin/categories/graffitis",
                    json={"label_fr": "Tags et graffitis", "label_en": "Tags and graffiti"})
    assert r.status_code == 200, r.json
    assert r.json["label"] == {"fr": "Tags et graffitis", "en": "Tags and graffiti"}
    session.expire_all()
    assert session.scalar(text("SELECT version FROM catalogue_version")) > version  # other workers follow
    fr = client.get(f"/api/v1/reports/{report['id']}").json["properties"]["category"]
    en = client.get(f"/api/v1/reports/{report['id']}?lang=en").json["properties"]["category"]
    assert (fr["label"], en["label"]) == ("Tags et graffitis", "Tags and graffiti")
    listed = client.get("/api/v1/reports?category=graffitis&limit=1000").json["features"]
    assert {f["properties"]["category"]["label"] for f in listed if f["id"] == report["id"]} == {"Tags et graffitis"}
    entry = audit(session, "category.update")[-1]
    assert entry["subject_id"] == "graffitis"
    assert entry["details"]["original"]["label_fr"] == "Graffitis, tags, affiches et autocollants"
    assert entry["details"]["changes"]["label_en"] == "Tags and graffiti"


def test_moving_a_category_keeps_the_tree_two_levels_deep(admin, client):
    r = admin.patch("/api/v1/admin/categories/graffitis", json={"parent": "proprete"})
    assert r.status_code == 422 and r.json["errors"][0]["code"] == "has_children"
    leaf = "graffitis.abribus"
    for parent in ("mobilite", "proprete.chantier-chantier-sale-voirie", leaf):  # a theme, a leaf, itself
        r = admin.patch(f"/api/v1/admin/categories/{leaf}", json={"parent": parent})
        assert r.status_code == 422 and r.json["errors"][0]["code"] == "invalid_parent", parent
    r = admin.patch(f"/api/v1/admin/categories/{leaf}", json={"parent": "proprete"})
    assert r.status_code == 200 and r.json["parent"] == "proprete"
    tree = client.get("/api/v1/categories?kind=report").json["categories"]
    moved = {t["code"]: [c["code"] for c in t["children"]] for t in tree}
    assert leaf in moved["proprete"] and leaf not in moved["graffitis"]


def test_a_new_service_takes_the_open_reports_and_leaves_the_closed_ones(admin, make_user, make_report, session):
    open_report, closed = make_report(), make_report()
    supervisor = make_user(("supervisor",))
    assert supervisor.post(f"/api/v1/reports/{closed['id']}/transitions",
                           json={"to": "resolved", "resolution": "fixed"}).status_code == 201
    r = admin.post("/api/v1/admin/services", json={"code": "tags-brigade", "name_fr": "Brigade anti-tags",
                                                   "name_en": "Anti-tag squad"})
    assert r.status_code == 201
    r = admin.patch("/api/v1/admin/categories/graffitis", json={"service": "tags-brigade"})
    assert r.status_code == 200 and r.json["service"] == "tags-brigade"
    assert r.json["rerouted"] >= 1
    services = dict(session.execute(text("""
        SELECT c.id, s.code FROM contributions c JOIN services s ON s.id = c.service_id
        WHERE c.id = ANY(:ids)"""), {"ids": [open_report["id"], closed["id"]]}).all())
    assert services == {open_report["id"]: "tags-brigade", closed["id"]: "graffitis"}
    # a new report of the category goes to the new team
    new = make_report()
    assert session.scalar(text("SELECT s.code FROM contributions c JOIN services s ON s.id = c.service_id "
                               "WHERE c.id = :i"), {"i": new["id"]}) == "tags-brigade"


def test_the_list_counts_each_categorys_public_contributions(admin, make_report, session):
    def listed() -> dict[str, int]:
        return {c["code"]: c["contributions"] for c in admin.get("/api/v1/admin/categories?kind=report").json["categories"]}

    before = listed()
    report = make_report(category="graffitis.abribus")
    make_report(category="graffitis.abribus")
    session.execute(text("UPDATE contributions SET hidden = true WHERE id = :i"), {"i": report["id"]})
    session.commit()
    after = listed()
    assert after["graffitis.abribus"] == before["graffitis.abribus"] + 1  # the hidden one is not public
    assert after["graffitis"] == before["graffitis"]
    assert sum(after.values()) == session.scalar(text(
        "SELECT count(*) FROM contributions WHERE kind = 'report' AND NOT hidden AND withdrawn_at IS NULL"))


def test_adding_a_category_and_a_service(admin, resident, client):
    r = admin.post("/api/v1/admin/categories", json={
        "kind": "report", "code": "graffitis.fresque-abimee", "parent": "graffitis",
        "label_fr": "Fresque abîmée", "label_en": "Damaged mural"})
    assert r.status_code == 201, r.json
    assert r.json["service"] == "graffitis"  # the parent's
    again = admin.post("/api/v1/admin/categories", json={
        "kind": "report", "code": "graffitis.fresque-abimee", "label_fr": "Autre", "label_en": "Other"})
    assert again.status_code == 422 and again.json["errors"][0] == {
        "field": "code", "code": "already_exists", "detail": again.json["errors"][0]["detail"]}
    made = resident.post("/api/v1/reports", json=feature(category="graffitis.fresque-abimee"))
    assert made.status_code == 201
    assert made.json["properties"]["category"]["label"] == "Fresque abîmée"
    bad = admin.post("/api/v1/admin/categories", json={"kind": "report", "code": "X Y", "label_fr": "  ",
                                                       "label_en": "", "service": "nope"})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json["errors"]} == {"code", "label_fr", "label_en", "service"}


# ---- sensitive categories ----------------------------------------------------------------

def test_a_sensitive_category_shows_the_public_a_100_m_cell_and_staff_the_exact_place(
        client, admin, resident, make_user, session):
    report = resident.post("/api/v1/reports", json=feature(*EXACT, address="6 Parvis Notre-Dame")).json
    assert report["geometry"]["coordinates"] == list(EXACT)
    r = admin.patch("/api/v1/admin/categories/graffitis", json={"sensitive": True})
    assert r.status_code == 200 and r.json["sensitive"] is True
    coarse = cell_centre(session, *EXACT)
    public = client.get(f"/api/v1/reports/{report['id']}").json
    assert public["geometry"]["coordinates"] == coarse != list(EXACT)
    assert public["properties"]["address"] is None
    assert public["properties"]["arrondissement"] == 4  # located from the exact point
    # a bounding box around the exact point alone does not find it; the list and the map
    # carry the coarse point only
    tiny = f"{EXACT[0] - 0.00005},{EXACT[1] - 0.00005},{EXACT[0] + 0.00005},{EXACT[1] + 0.00005}"
    assert report["id"] not in [f["id"] for f in client.get(f"/api/v1/reports?bbox={tiny}").json["features"]]
    listed = client.get("/api/v1/reports?category=graffitis&limit=1000").json["features"]
    assert [f["geometry"]["coordinates"] for f in listed if f["id"] == report["id"]] == [coarse]
    # staff whose scope covers it see the exact place
    supervisor = make_user(("supervisor",))
    staff = supervisor.get(f"/api/v1/reports/{report['id']}").json
    assert staff["geometry"]["coordinates"] == list(EXACT)
    assert staff["properties"]["address"] == "6 Parvis Notre-Dame"
    queue = supervisor.get("/api/v1/agent/queue", query_string={
        "category": "graffitis", "sort": "nearest", "lon": EXACT[0], "lat": EXACT[1], "limit": 20}).json
    assert [(f["geometry"]["coordinates"], f["properties"]["address"])
            for f in queue["features"] if f["id"] == report["id"]] == [(list(EXACT), "6 Parvis Notre-Dame")]
    # a new report in it is coarse from the start; its author sees the public place too
    new = resident.post("/api/v1/reports", json=feature(*EXACT)).json
    assert new["geometry"]["coordinates"] == coarse
    # back to normal: the exact places return
    assert admin.patch("/api/v1/admin/categories/graffitis", json={"sensitive": False}).status_code == 200
    assert client.get(f"/api/v1/reports/{report['id']}").json["geometry"]["coordinates"] == list(EXACT)
    assert session.scalar(text("SELECT count(*) FROM contributions WHERE exact_geom IS NOT NULL")) == 0


# ---- users, roles, keys ------------------------------------------------------------------

def test_roles_are_set_by_admins_audited_and_an_admin_keeps_their_own(admin, make_user, session):
    person = make_user()
    r = admin.put(f"/api/v1/admin/users/{person.user_id}/roles", json={"roles": ["planner"]})
    assert r.status_code == 200 and r.json["roles"] == ["resident", "planner"]
    found = admin.get("/api/v1/admin/users", query_string={"q": person.email}).json["users"]
    assert [u["roles"] for u in found] == [["resident", "planner"]]
    r = admin.put(f"/api/v1/admin/users/{admin.user_id}/roles", json={"roles": ["moderator"]})
    assert r.status_code == 409 and r.json["code"] == "cannot_demote_self"
    entry = audit(session, "user.roles")[-1]
    assert entry["subject_id"] == str(person.user_id)
    assert entry["details"] == {"original": {"roles": ["resident"]}, "changes": {"roles": ["resident", "planner"]}}


def test_scopes_set_by_an_admin_are_audited(admin, make_user, session):
    agent = make_user(("agent",))
    r = admin.put(f"/api/v1/agents/{agent.user_id}/scopes", json={"scopes": [{"service": "graffitis",
                                                                            "arrondissement": 11}]})
    assert r.status_code == 200
    listed = admin.get("/api/v1/admin/users", query_string={"q": agent.email}).json["users"][0]
    assert listed["scopes"] == [{"service": "graffitis", "arrondissement": 11}]
    entry = audit(session, "agent.scopes")[-1]
    assert entry["subject_id"] == str(agent.user_id) and entry["details"]["original"] == {"scopes": []}


def test_an_api_key_is_shown_once_stored_hashed_and_revocable(admin, session):
    r = admin.post("/api/v1/admin/api-keys", json={"name": "FixMyStreet Paris", "services": ["graffitis"]})
    assert r.status_code == 201
    key = r.json["key"]
    assert key.startswith("cg_") and len(key) > 40 and r.json["prefix"] == key[:10]
    listed = admin.get("/api/v1/admin/api-keys").json["keys"]
    assert listed[0]["name"] == "FixMyStreet Paris" and "key" not in listed[0]
    assert listed[0]["services"] == ["graffitis"]
    stored = session.execute(text("SELECT key_hash FROM api_keys WHERE id = :i"), {"i": r.json["id"]}).scalar()
    assert key.encode() not in bytes(stored) and len(bytes(stored)) == 32
    found = authenticate_api_key(session, key)
    assert found is not None and found.id == r.json["id"]
    assert authenticate_api_key(session, key + "x") is None
    assert admin.delete(f"/api/v1/admin/api-keys/{r.json['id']}").status_code == 204
    assert admin.delete(f"/api/v1/admin/api-keys/{r.json['id']}").status_code == 204  # idempotent
    session.expire_all()
    assert authenticate_api_key(session, key) is None
    assert [e["details"]["name"] for e in audit(session, "api_key.revoke")] == ["FixMyStreet Paris"]
    bad = admin.post("/api/v1/admin/api-keys", json={"name": " ", "services": ["nope"]})
    assert bad.status_code == 422 and {e["field"] for e in bad.json["errors"]} == {"name", "services[0]"}


# ---- pages -------------------------------------------------------------------------------

@pytest.mark.parametrize("path,shows", [
    ("/admin/categories", "Abribus"), ("/admin/categories?kind=proposal", "Mobilité"),
    ("/admin/categories/graffitis", 'value="Graffitis, tags, affiches et autocollants"'),
    ("/admin/services", "Effacement des graffitis (DPE)"), ("/admin/users", "Admin"),
    ("/admin/api-keys", "Émettre la clé")])
def test_admin_pages_are_for_admins(client, session, admin, make_user, path, shows):
    page = browser(client, session, admin).get(path)
    assert page.status_code == 200 and shows in page.get_data(as_text=True)
    resident = browser(client, session, make_user())
    assert resident.get(path).status_code == 403


def test_renaming_a_category_on_the_page(session, admin, client, make_report):
    report = make_report()
    web = browser(client, session, admin)
    form = web.get("/admin/categories/graffitis").get_data(as_text=True)
    token = form.split('name="csrf_token" value="')[1].split('"')[0]
    r = web.post("/admin/categories/graffitis", data={
        "csrf_token": token, "label_fr": "Tags", "label_en": "Tags (en)", "active": "on", "position": "3",
        "service": "graffitis"})
    assert r.status_code == 302, r.get_data(as_text=True)[:800]
    assert client.get(f"/api/v1/reports/{report['id']}").json["properties"]["category"]["label"] == "Tags"
    listing = web.get(r.headers["Location"]).get_data(as_text=True)
    assert "Catégorie enregistrée" in listing or "Category saved" in listing
