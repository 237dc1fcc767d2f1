"""Reference data: areas, categories, addresses (geocode and reverse), health."""

import pytest
from sqlalchemy import text


def test_areas(client):
    arr = client.get("/api/v1/areas?level=arrondissement").json
    assert [f["properties"]["code"] for f in arr["features"]] == list(range(1, 21))
    assert arr["features"][3]["properties"]["name"] == "Hôtel-de-Ville"
    assert sum(f["properties"]["area_km2"] for f in arr["features"]) == pytest.approx(105.4, abs=0.1)
    qu = client.get("/api/v1/areas?level=quartier").json["features"]
    assert len(qu) == 80
    assert {f["properties"]["arrondissement"] for f in qu} == set(range(1, 21))
    assert client.get("/api/v1/areas?level=region").status_code == 422


def test_categories_tree(client):
    tree = client.get("/api/v1/categories?kind=report").json["categories"]
    assert len(tree) == 10
    codes = {c["code"]: c for c in tree}
    assert codes["graffitis"]["label"] == {"fr": "Graffitis, tags, affiches et autocollants",
                                           "en": "Graffiti, tags, posters and stickers"}
    assert codes["graffitis"]["service"]["code"] == "graffitis"
    assert sum(len(c["children"]) for c in tree) == 325
    subs = {s["code"]: s["label"] for c in tree for s in c["children"]}
    assert subs["voirie.escaliers-marche-dangereuse"] == {"fr": "Escaliers : Marche dangereuse",
                                                          "en": "Stairs: dangerous step"}
    # every sub-type speaks English (scripts/category_labels_en.json), brand names aside
    assert sum(label["en"] == label["fr"] for label in subs.values()) <= 10
    themes = client.get("/api/v1/categories?kind=proposal").json["categories"]
    assert {"mobilite", "vegetalisation", "autre"} <= {t["code"] for t in themes}
    assert all(t["service"] is None for t in themes)


@pytest.mark.parametrize("q", ["12 rue de rivoli", "12 RUE DE RIVOLI", "12 rue de rivolli",
                               "12, Rue de Rivoli 75004", "12 r de rivoli"])
def test_geocode_finds_12_rue_de_rivoli(client, q):
    r = client.get("/api/v1/geocode", query_string={"q": q})
    first = r.json["features"][0]
    assert first["properties"]["label"] == "12 Rue de Rivoli 75004 Paris"
    lon, lat = first["geometry"]["coordinates"]
    assert lon == pytest.approx(2.35995, abs=1e-4) and lat == pytest.approx(48.8556, abs=1e-4)


def test_geocode_is_accent_insensitive(client):
    r = client.get("/api/v1/geocode", query_string={"q": "1 place de l hotel de ville"})
    assert r.json["features"][0]["properties"]["label"] == (
        "1 Place de l' Hotel de Ville - Esplanade de la Libération 75004 Paris")
    r = client.get("/api/v1/geocode", query_string={"q": "rue de l'église"})
    assert r.json["features"][0]["properties"]["street"] == "Rue de l'Eglise"  # BAN spells it so


def test_geocode_errors(client):
    assert client.get("/api/v1/geocode").json["errors"][0] == {
        "field": "q", "code": "required", "detail": "Ce champ est obligatoire."}
    assert client.get("/api/v1/geocode?q=" + "a" * 201).status_code == 422


def test_reverse_nearest_address_within_100_m(client):
    r = client.get("/api/v1/reverse?lon=2.3499&lat=48.8530").json["features"]
    assert len(r) == 1
    assert r[0]["properties"]["label"] == "5 Rue du Cloître Notre-Dame 75004 Paris"
    assert 0 < r[0]["properties"]["distance_m"] < 100
    # the middle of the Bois de Boulogne: no address within 100 m
    assert client.get("/api/v1/reverse?lon=2.2500&lat=48.8620").json["features"] == []
    bad = client.get("/api/v1/reverse?lon=abc&lat=48.85")
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "lon"


def test_reverse_is_nearest_in_metres_not_degrees(client):
    # On the Parvis: nearest in degrees is the quay across the Seine, 8 Port de Montebello
    # (75005, 65.5 m, mostly east-west, where a degree is shorter); in metres it is the
    # Parvis itself, 51.0 m away, mostly north.
    r = client.get("/api/v1/reverse?lon=2.3497&lat=48.8526").json["features"]
    assert [(f["properties"]["label"], f["properties"]["distance_m"]) for f in r] == [
        ("6 Parvis Notre-Dame Place Jean-Paul II 75004 Paris", 51.0)]


def test_healthz(client):
    assert client.get("/healthz").json == {"status": "ok", "database": "ok"}


EXACT_RULE = """(SELECT q.quartier_id FROM quartier_parts q WHERE ST_Intersects(q.geom, p.g)
                 ORDER BY q.quartier_id LIMIT 1)"""


def test_grid_locates_like_the_exact_rule_even_on_borders(session):
    """locate_point answers from quartier_cells where it can; it must agree with the polygon
    test everywhere: on a 40 m lattice over Paris and right beside every quartier vertex."""
    points = """
        SELECT ST_SetSRID(ST_MakePoint(x, y), 4326) AS g, true AS lattice
        FROM generate_series(2.224, 2.470, 0.00054) x, generate_series(48.815, 48.903, 0.00036) y
        UNION ALL
        SELECT ST_Translate(d.geom, dx, dy), false FROM quartiers q
        CROSS JOIN LATERAL ST_DumpPoints(q.geom) d
        CROSS JOIN (VALUES (0, 0), (1e-7, 0), (-1e-7, 0), (0, 1e-7), (0, -1e-7), (3e-6, 3e-6)) o(dx, dy)
    """
    row = session.execute(text(f"""
        SELECT count(*) AS n,
               count(*) FILTER (WHERE l.quartier_id IS DISTINCT FROM {EXACT_RULE}) AS differ,
               count(*) FILTER (WHERE l.quartier_id IS NOT NULL) AS inside,
               count(*) FILTER (WHERE p.lattice AND g.cell IS NOT NULL)::float
                   / count(*) FILTER (WHERE p.lattice AND l.quartier_id IS NOT NULL) AS grid_share
        FROM ({points}) p
        LEFT JOIN LATERAL locate_point(p.g) l ON true
        LEFT JOIN quartier_cells g ON g.cell = quartier_cell(ST_X(p.g), ST_Y(p.g))
    """)).one()
    assert row.n > 150_000 and row.inside > 100_000
    assert row.differ == 0
    assert row.grid_share > 0.85  # the grid answers most lattice points inside Paris
    cells = session.scalar(text("SELECT count(*) FROM quartier_cells"))
    assert 40_000 < cells < 60_000, cells
