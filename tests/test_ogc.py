"""OGC API – Features at /ogc, read by its real clients: GDAL/OGR's OAPIF driver (ogrinfo,
ogr2ogr, as subprocesses) and owslib over real HTTP, plus the test client for the details.
Counts are checked against SQL on the same rows; Lambert-93 output against pyproj."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from openapi_spec_validator import validate as validate_openapi
from pyproj import Transformer
from sqlalchemy import text

from app.ogc.collections import COLLECTIONS
from app.ogc.schemas import CONFORMANCE, CRS84, EPSG_2154, LIMIT_MAX
from tests.conftest import NOTRE_DAME

VISIBLE = "kind = 'report' AND NOT hidden AND withdrawn_at IS NULL"


@pytest.fixture
def server(http_root):
    return f"{http_root}/ogc"


def count(session, where: str = "TRUE", **params) -> int:
    return session.scalar(text(f"SELECT count(*) FROM contributions WHERE {VISIBLE} AND {where}"), params)


def ogr(*args: str) -> str:
    result = subprocess.run(args, capture_output=True, text=True, timeout=60,
                            env={"GDAL_HTTP_TIMEOUT": "30", "CPL_DEBUG": "OFF", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    return result.stdout


def feature_count(output: str) -> int:
    return int(output.split("Feature Count: ")[1].split()[0])


def walk(client, url: str) -> tuple[list[dict], list[dict]]:
    """Every page from `url` following `next` links: (features, pages' heads)."""
    features, heads = [], []
    while url:
        r = client.get(url)
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        features += body["features"]
        heads.append({k: v for k, v in body.items() if k != "features"})
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    return features, heads


# ---- landing, conformance, collections, the API document ----------------------------------

def test_landing_conformance_and_collections(client):
    landing = client.get("/ogc")
    assert landing.status_code == 200 and landing.mimetype == "application/json"
    rels = {link["rel"]: link for link in landing.json["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= set(rels)
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert client.get("/ogc/conformance").json["conformsTo"] == list(CONFORMANCE)
    assert "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2" in CONFORMANCE
    collections = client.get("/ogc/collections").json["collections"]
    assert [c["id"] for c in collections] == ["reports", "proposals", "arrondissements", "quartiers", "missions"]
    for c in collections:
        assert c["itemType"] == "feature" and c["crs"] == [CRS84, EPSG_2154] and c["storageCrs"] == CRS84
        w, s, e, n = c["extent"]["spatial"]["bbox"][0]
        assert 2.2 < w < e < 2.5 and 48.8 < s < n < 48.95
        assert ("temporal" in c["extent"]) == (c["id"] in ("reports", "proposals"))
        assert {link["rel"] for link in c["links"]} >= {"self", "items"}
    first, last = collections[0]["extent"]["temporal"]["interval"][0]
    assert first < last
    assert client.get("/ogc/collections/quartiers").json["id"] == "quartiers"


def test_api_document_is_openapi_30_read_from_the_models(client):
    r = client.get("/ogc/api")
    assert r.headers["Content-Type"] == "application/vnd.oai.openapi+json;version=3.0"
    doc = r.get_json(force=True)
    validate_openapi(doc)
    assert doc["openapi"].startswith("3.0") and doc["servers"][0]["url"].endswith("/ogc")
    for cid, collection in COLLECTIONS.items():
        params = {p["name"] for p in doc["paths"][f"/collections/{cid}/items"]["get"]["parameters"]}
        assert params == set(collection.query.model_json_schema(by_alias=True)["properties"])
    reports = doc["paths"]["/collections/reports/items"]["get"]["parameters"]
    limit = next(p for p in reports if p["name"] == "limit")["schema"]
    assert limit["maximum"] == LIMIT_MAX and limit["minimum"] == 1


# ---- items: paging, bbox, datetime, queryables --------------------------------------------

def test_next_links_walk_every_matching_report_once(client, session):
    bbox = (2.33, 48.85, 2.36, 48.87)
    features, heads = walk(client, "/ogc/collections/reports/items?limit=500&bbox=" + ",".join(map(str, bbox)))
    expected = count(session, "geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)", **dict(zip("wsen", bbox, strict=True)))
    ids = [f["id"] for f in features]
    assert len(ids) == len(set(ids)) == expected > 1000
    assert heads[0]["numberMatched"] == expected and len(heads) == -(-expected // 500)
    assert all(h["numberReturned"] <= 500 for h in heads)
    nexts = [link for h in heads for link in h["links"] if link["rel"] == "next"]
    assert nexts and all(link["type"] == "application/geo+json" for link in nexts)
    assert all(bbox[0] <= f["geometry"]["coordinates"][0] <= bbox[2] for f in features)


def test_an_items_page_of_500_reports_is_fast(client):
    url = "/ogc/collections/reports/items?limit=500&bbox=2.25,48.81,2.42,48.91"
    client.get(url)
    started = time.perf_counter()
    runs = 10
    for _ in range(runs):
        assert client.get(url).status_code == 200
    elapsed_ms = (time.perf_counter() - started) * 1000 / runs
    print(f"items page of 500 reports: {elapsed_ms:.1f} ms")
    assert elapsed_ms < 500


def test_limit_defaults_and_is_capped_at_the_maximum(client):
    assert client.get("/ogc/collections/reports/items").json["numberReturned"] == 100
    over = client.get(f"/ogc/collections/reports/items?limit={LIMIT_MAX * 10}")
    assert over.status_code == 200 and over.json["numberReturned"] == LIMIT_MAX


def test_datetime_instants_and_intervals(client, session):
    cases = {
        "2024-03-07": ("created_at >= '2024-03-07' AND created_at < '2024-03-08'"),
        "2024-03-01/2024-03-07": ("created_at >= '2024-03-01' AND created_at < '2024-03-08'"),
        "2024-06-01T00:00:00Z/..": "created_at >= '2024-06-01T00:00:00Z'",
        "../2023-09-01": "created_at < '2023-09-02'",
    }
    for value, where in cases.items():
        r = client.get("/ogc/collections/reports/items", query_string={"datetime": value, "limit": 1})
        assert r.status_code == 200, r.json
        assert r.json["numberMatched"] == count(session, where) > 0, value


def test_queryable_parameters_include_sub_categories(client, session):
    expected = count(session, """category_id IN (SELECT id FROM categories WHERE code = 'graffitis'
                                  OR parent_id = (SELECT id FROM categories WHERE code = 'graffitis'))
                                  AND status IN ('new', 'acknowledged', 'scheduled', 'monitoring', 'transferred')
                                  AND arrondissement_id IN (3, 4)""")
    r = client.get("/ogc/collections/reports/items?category=graffitis&status=open&arrondissement=3,4&limit=1")
    assert r.json["numberMatched"] == expected > 0
    q = client.get("/ogc/collections/quartiers/items?arrondissement=1").json
    assert q["numberMatched"] == 4 and {f["properties"]["arrondissement"] for f in q["features"]} == {1}


# ---- Part 2: CRS ------------------------------------------------------------------------------

def test_lambert_93_output_agrees_with_pyproj_to_the_centimetre(client, session):
    r = client.get("/ogc/collections/reports/items", query_string={"crs": EPSG_2154, "limit": 50})
    assert r.status_code == 200 and r.headers["Content-Crs"] == f"<{EPSG_2154}>"
    rows = dict(session.execute(text("SELECT id, ARRAY[ST_X(geom), ST_Y(geom)] FROM contributions WHERE id = ANY(:ids)"),
                                {"ids": [f["id"] for f in r.json["features"]]}).all())
    to_l93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
    for f in r.json["features"]:
        x, y = to_l93.transform(*rows[f["id"]])
        got = f["geometry"]["coordinates"]
        assert abs(got[0] - x) < 0.01 and abs(got[1] - y) < 0.01, (f["id"], got, x, y)
    one = r.json["features"][0]
    item = client.get(f"/ogc/collections/reports/items/{one['id']}", query_string={"crs": EPSG_2154})
    assert item.json["geometry"] == one["geometry"] and item.headers["Content-Crs"] == f"<{EPSG_2154}>"
    assert client.get("/ogc/collections/reports/items?limit=1").headers["Content-Crs"] == f"<{CRS84}>"
    quartier = client.get("/ogc/collections/quartiers/items/1", query_string={"crs": EPSG_2154}).json
    assert 640_000 < quartier["geometry"]["coordinates"][0][0][0][0] < 665_000


def test_a_lambert_93_bbox_selects_what_postgis_selects(client, session):
    box = (650_000, 6_860_000, 653_000, 6_863_000)
    r = client.get("/ogc/collections/reports/items", query_string={
        "bbox": ",".join(map(str, box)), "bbox-crs": EPSG_2154, "crs": EPSG_2154, "limit": LIMIT_MAX})
    expected = count(session, "ST_Intersects(geom_l93, ST_MakeEnvelope(:w, :s, :e, :n, 2154))",
                     **dict(zip("wsen", box, strict=True)))
    assert r.json["numberMatched"] == r.json["numberReturned"] == expected > 100
    for f in r.json["features"]:
        x, y = f["geometry"]["coordinates"]
        assert box[0] - 0.001 <= x <= box[2] + 0.001 and box[1] - 0.001 <= y <= box[3] + 0.001


# ---- Part 3: CQL2 ----------------------------------------------------------------------------

CQL_VALID = {
    "status = 'new' AND arrondissement IN (3, 4)": "status = 'new' AND arrondissement_id IN (3, 4)",
    "NOT (status = 'new') OR quartier BETWEEN 1 AND 4":
        "NOT (status = 'new') OR quartier_id BETWEEN 1 AND 4",
    "title LIKE 'Graffiti%' AND arrondissement <> 11": "title LIKE 'Graffiti%' AND arrondissement_id <> 11",
    "category = 'graffitis' AND created_at >= TIMESTAMP('2024-06-01T00:00:00Z')":
        """category_id IN (SELECT id FROM categories WHERE code = 'graffitis' OR parent_id =
           (SELECT id FROM categories WHERE code = 'graffitis')) AND created_at >= '2024-06-01T00:00:00Z'""",
    "S_INTERSECTS(geometry, POLYGON((2.33 48.85, 2.36 48.85, 2.36 48.87, 2.33 48.85)))":
        "ST_Intersects(geom, ST_GeomFromText('POLYGON((2.33 48.85, 2.36 48.85, 2.36 48.87, 2.33 48.85))', 4326))",
    "S_INTERSECTS(geometry, BBOX(2.33, 48.85, 2.36, 48.87)) AND status IN ('resolved', 'new')":
        "ST_Intersects(geom, ST_MakeEnvelope(2.33, 48.85, 2.36, 48.87, 4326)) AND status IN ('resolved', 'new')",
    "comments_count >= 0 AND title IS NOT NULL": "TRUE",
    "id < 30000": "id < 30000",
}


@pytest.mark.parametrize("cql", CQL_VALID)
def test_valid_cql2_filters_select_the_rows_sql_selects(client, session, cql):
    r = client.get("/ogc/collections/reports/items", query_string={"filter": cql, "filter-lang": "cql2-text",
                                                                  "limit": 1})
    assert r.status_code == 200, r.json
    assert r.json["numberMatched"] == count(session, f"({CQL_VALID[cql]})") > 0


CQL_INVALID = [
    "status = ",                                    # not CQL2
    "email = 'a@example.org'",                      # not a queryable
    "exact_geom IS NULL",                           # not a queryable either
    "arrondissement = 'four'",                      # a text for an integer
    "status > 3",                                   # a number for a text
    "title LIKE 3",
    "S_WITHIN(geometry, POINT(2.35 48.85))",        # outside basic CQL2 + S_INTERSECTS
    "S_INTERSECTS(title, POINT(2.35 48.85))",
    "S_INTERSECTS(geometry, POINT(650000 6860000))",  # filter geometries are CRS84
    "CASEI(title) = 'x'",
    "T_AFTER(created_at, TIMESTAMP('2024-01-01T00:00:00Z'))",
    "category < 'graffitis'",
    " OR ".join(["id = 1"] * 150),                  # past the bound on a filter's terms
]


@pytest.mark.parametrize("cql", CQL_INVALID)
def test_invalid_cql2_filters_are_a_400_problem(client, cql):
    r = client.get("/ogc/collections/reports/items", query_string={"filter": cql})
    assert r.status_code == 400 and r.mimetype == "application/problem+json", r.data
    assert r.json["code"] == "validation_failed" and r.json["errors"][0]["field"] == "filter"
    assert r.json["errors"][0]["detail"].startswith("CQL2:")


def test_queryables_are_a_json_schema_of_the_whitelist(client):
    doc = client.get("/ogc/collections/reports/queryables")
    assert doc.mimetype == "application/schema+json"
    props = doc.json["properties"]
    assert set(props) == set(COLLECTIONS["reports"].queryables)
    assert {"category", "status", "arrondissement", "quartier", "geometry"} <= set(props)
    assert "graffitis.abribus" in props["category"]["enum"]
    assert "exact_geom" not in props and "email" not in json.dumps(doc.json)


# ---- public data only ---------------------------------------------------------------------

def test_hidden_withdrawn_and_exact_places_are_never_served(client, session, make_report, resident):
    session.execute(text("UPDATE categories SET sensitive = true WHERE code = 'graffitis'"))
    session.commit()
    sensitive = make_report(lon=NOTRE_DAME[0] + 0.00037, lat=NOTRE_DAME[1] + 0.00021)
    hidden = make_report(title="Hidden one")
    withdrawn = make_report(title="Withdrawn one")
    session.execute(text("UPDATE contributions SET hidden = true WHERE id = :id"), {"id": hidden["id"]})
    session.execute(text("UPDATE contributions SET withdrawn_at = now() WHERE id = :id"), {"id": withdrawn["id"]})
    session.commit()
    page = client.get("/ogc/collections/reports/items?limit=50").json
    ids = [f["id"] for f in page["features"]]
    assert sensitive["id"] in ids and hidden["id"] not in ids and withdrawn["id"] not in ids
    for gone in (hidden, withdrawn):
        assert client.get(f"/ogc/collections/reports/items/{gone['id']}").status_code == 404
    exact, public = session.execute(text("""SELECT ARRAY[ST_X(exact_geom), ST_Y(exact_geom)],
        ARRAY[ST_X(geom_l93), ST_Y(geom_l93)] FROM contributions WHERE id = :id"""), {"id": sensitive["id"]}).one()
    served = client.get(f"/ogc/collections/reports/items/{sensitive['id']}").json
    assert served["properties"]["address"] is None
    assert [round(v, 5) for v in served["geometry"]["coordinates"]] != [round(v, 5) for v in exact]
    l93 = client.get(f"/ogc/collections/reports/items/{sensitive['id']}", query_string={"crs": EPSG_2154}).json
    assert l93["geometry"]["coordinates"] == [round(v, 3) for v in public]
    text_ = client.get("/ogc/collections/reports/items?limit=50&f=json").get_data(as_text=True)
    assert resident.email not in text_


# ---- errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("url, status, field", [
    ("/ogc/collections/nothing", 404, None),
    ("/ogc/collections/nothing/items", 404, None),
    ("/ogc/collections/reports/items/999999999", 404, None),
    ("/ogc/collections/reports/items/abc", 404, None),
    ("/ogc/collections/quartiers/items/81", 404, None),
    ("/ogc/collections/reports/items?bbox=1,2,3", 400, "bbox"),
    ("/ogc/collections/reports/items?bbox=2.4,48.8,2.3,48.9", 400, "bbox"),
    ("/ogc/collections/reports/items?bbox=2.3,48.8,2.4,48.9&bbox-crs=" + EPSG_2154, 400, "bbox"),
    ("/ogc/collections/reports/items?crs=EPSG:4326", 400, "crs"),
    ("/ogc/collections/reports/items?limit=0", 400, "limit"),
    ("/ogc/collections/reports/items?limit=ten", 400, "limit"),
    ("/ogc/collections/reports/items?cursor=nonsense", 400, "cursor"),
    ("/ogc/collections/quartiers/items?cursor=nonsense", 400, "cursor"),
    ("/ogc/collections/reports/items?datetime=yesterday", 400, "datetime"),
    ("/ogc/collections/reports/items?datetime=2024-05-01/2024-04-01", 400, "datetime"),
    ("/ogc/collections/reports/items?filter-lang=cql2-json", 400, "filter-lang"),
    ("/ogc/collections/reports/items?category=nothing", 400, "category"),
    ("/ogc/collections/reports/items?status=realised", 400, "status"),
    ("/ogc/collections/reports/items?sortby=title", 400, "sortby"),
    ("/ogc/collections/quartiers/items?datetime=2024-01-01", 400, "datetime"),
])
def test_bad_requests_are_problems(client, url, status, field):
    r = client.get(url)
    assert r.status_code == status and r.mimetype == "application/problem+json", r.data
    if field:
        assert r.json["code"] == "validation_failed" and r.json["errors"][0]["field"] == field


# ---- HTML --------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/ogc", "/ogc/conformance", "/ogc/collections", "/ogc/collections/reports",
                                 "/ogc/collections/reports/queryables", "/ogc/collections/reports/items?limit=5",
                                 "/ogc/collections/quartiers/items", "/ogc/collections/quartiers/items/1"])
def test_browsers_get_pages(client, url):
    r = client.get(url, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert r.status_code == 200 and r.mimetype == "text/html", url
    assert "<main" in r.get_data(as_text=True)
    assert client.get(url).mimetype != "text/html"  # no Accept: JSON


def test_the_items_page_is_a_table_with_map_links(client, session):
    some = session.scalar(text(f"SELECT id FROM contributions WHERE {VISIBLE} ORDER BY id LIMIT 1"))
    html = client.get("/ogc/collections/reports/items?limit=5&f=html&lang=en").get_data(as_text=True)
    assert "<table" in html and "<caption>" in html and 'scope="col"' in html and 'rel="next"' in html
    assert "lat=" in html and "z=18" in html
    item = client.get(f"/ogc/collections/reports/items/{some}?f=html").get_data(as_text=True)
    assert f"/c/{some}" in item


# ---- real clients: GDAL and owslib -------------------------------------------------------

def test_ogrinfo_lists_the_four_collections(server):
    out = ogr("ogrinfo", "-ro", "-so", f"OAPIF:{server}")
    for n, cid in enumerate(COLLECTIONS, start=1):
        assert f"{n}: {cid} " in out


def test_ogrinfo_filters_on_the_server_across_pages(server, session):
    out = ogr("ogrinfo", "-ro", "-so", "-oo", "PAGE_SIZE=100", f"OAPIF:{server}", "reports",
              "-where", "status = 'new' AND arrondissement = 4")
    assert feature_count(out) == count(session, "status = 'new' AND arrondissement_id = 4") > 300
    spat = ogr("ogrinfo", "-ro", "-so", "-oo", "PAGE_SIZE=250", "-spat", "2.34", "48.85", "2.36", "48.86",
               f"OAPIF:{server}", "reports")
    assert feature_count(spat) == count(session, "geom && ST_MakeEnvelope(2.34, 48.85, 2.36, 48.86, 4326)") > 500


def test_ogr2ogr_pulls_the_quartiers_into_a_geopackage(server, tmp_path):
    out = tmp_path / "quartiers.gpkg"
    started = time.perf_counter()
    ogr("ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{server}", "quartiers")
    print(f"ogr2ogr quartiers: {(time.perf_counter() - started) * 1000:.0f} ms")
    with sqlite3.connect(out) as db:
        assert db.execute("SELECT count(*), count(DISTINCT name) FROM quartiers").fetchone() == (80, 80)


def test_owslib_lists_and_reads_the_collections(server, session):
    from owslib.ogcapi.features import Features

    api = Features(server)
    assert api.feature_collections() == list(COLLECTIONS)
    bbox = [2.34, 48.85, 2.36, 48.86]
    page = api.collection_items("reports", bbox=bbox, limit=20)
    assert page["numberReturned"] == len(page["features"]) == 20
    assert page["numberMatched"] == count(session, "geom && ST_MakeEnvelope(2.34, 48.85, 2.36, 48.86, 4326)")
    cursor = parse_qs(urlsplit(next(li["href"] for li in page["links"] if li["rel"] == "next")).query)["cursor"][0]
    second = api.collection_items("reports", bbox=bbox, limit=20, cursor=cursor)
    assert not {f["id"] for f in page["features"]} & {f["id"] for f in second["features"]}
    l93 = requests.get(f"{server}/collections/quartiers/items/1", params={"crs": EPSG_2154}, timeout=10)
    assert l93.headers["Content-Crs"] == f"<{EPSG_2154}>"
