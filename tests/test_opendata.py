"""Bulk open data: the exports (GeoJSON, the city's DansMaRue CSV, GeoPackage, areas,
statistics) hold the public rows only, the CSV goes back through the importer unchanged, the
files are served with conditional GET, and the DCAT-AP catalogue is RDF a portal can harvest."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import sqlite3
import subprocess
from collections import Counter
from datetime import UTC, datetime

import pytest
from rdflib import RDF, Graph, Literal, Namespace, URIRef
from sqlalchemy import text

from app.opendata import services
from tests.conftest import DANSMARUE, NOTRE_DAME, feature

DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
SPDX = Namespace("http://spdx.org/rdf/terms#")
ODBL = URIRef("https://opendatacommons.org/licenses/odbl/1-0/")
DAILY = URIRef("http://publications.europa.eu/resource/authority/frequency/DAILY")
PUBLIC = "NOT hidden AND withdrawn_at IS NULL"
AUTHOR = "Zorglub Quidam"


@pytest.fixture
def out_dir(app, tmp_path, monkeypatch):
    """The app's open-data directory, empty, for this test."""
    target = tmp_path / "open-data"
    monkeypatch.setitem(app.config, "OPEN_DATA_DIR", target)
    return target


def export(runner, *args):
    result = runner.invoke(args=["opendata", "export", *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def world(client, session, make_user, make_report):
    """One of each: a public report, a sensitive one, a hidden and a withdrawn one, a proposal
    (a polygon), all by an author whose name and e-mail must appear nowhere."""
    author = make_user(name=AUTHOR)
    session.execute(text("UPDATE categories SET sensitive = true WHERE code = 'graffitis'"))
    session.commit()
    sensitive = make_report(author, lon=NOTRE_DAME[0] + 0.00037, lat=NOTRE_DAME[1] + 0.00021)
    public = make_report(author, category="proprete", title="Trottoir sale", lon=2.3522, lat=48.8566)
    hidden = make_report(author, category="proprete", title="Hidden one")
    withdrawn = make_report(author, category="proprete", title="Withdrawn one")
    theme = client.get("/api/v1/categories?kind=proposal").get_json()["categories"][0]["code"]
    square = {"type": "Polygon", "coordinates": [[[2.35, 48.86], [2.351, 48.86], [2.351, 48.861],
                                                  [2.35, 48.861], [2.35, 48.86]]]}
    r = author.post("/api/v1/proposals", json=feature(category=theme, title="Un jardin ici",
                                                      geometry=square))
    assert r.status_code == 201, r.get_json()
    session.execute(text("UPDATE contributions SET hidden = true WHERE id = :id"), {"id": hidden["id"]})
    session.execute(text("UPDATE contributions SET withdrawn_at = now() WHERE id = :id"),
                    {"id": withdrawn["id"]})
    session.commit()
    return {"author": author, "sensitive": sensitive["id"], "public": public["id"],
            "hidden": hidden["id"], "withdrawn": withdrawn["id"], "proposal": r.get_json()["id"]}


def public_ids(session, kind: str) -> set[int]:
    return set(session.scalars(text(f"SELECT id FROM contributions WHERE kind = :k AND {PUBLIC}"),
                               {"k": kind}))


def official_header() -> list[str]:
    with gzip.open(DANSMARUE, "rt", encoding="utf-8") as f:
        return next(csv.reader(f))[:17]  # the portal's 17; the extract appends lon, lat, commit


def read_csv(path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


# ---- the files --------------------------------------------------------------------------

def test_geojson_csv_and_statistics_hold_the_public_rows_only(session, runner, out_dir, world):
    export(runner, "--no-gpkg")
    raw = b"".join(p.read_bytes() for p in out_dir.iterdir() if not p.name.startswith("."))
    assert world["author"].email.encode() not in raw and AUTHOR.encode() not in raw

    reports = json.loads((out_dir / "reports.geojson").read_text())
    assert reports["type"] == "FeatureCollection" and "crs" not in reports  # RFC 7946: WGS84 lon/lat
    ids = {f["id"] for f in reports["features"]}
    assert ids == public_ids(session, "report")
    assert world["hidden"] not in ids and world["withdrawn"] not in ids
    for f in reports["features"]:
        lon, lat = f["geometry"]["coordinates"]
        assert f["type"] == "Feature" and f["geometry"]["type"] == "Point"
        assert 2.2 < lon < 2.5 and 48.8 < lat < 48.95
        assert f["properties"]["author"] is None
    by_id = {f["id"]: f for f in reports["features"]}
    exact, public = session.execute(text("""SELECT ARRAY[ST_X(exact_geom), ST_Y(exact_geom)],
        ARRAY[ST_X(geom), ST_Y(geom)] FROM contributions WHERE id = :id"""),
        {"id": world["sensitive"]}).one()
    sensitive = by_id[world["sensitive"]]
    assert sensitive["properties"]["address"] is None
    assert sensitive["geometry"]["coordinates"] == [round(v, 6) for v in public]
    assert sensitive["geometry"]["coordinates"] != [round(v, 6) for v in exact]
    proposals = json.loads((out_dir / "proposals.geojson").read_text())
    assert {f["id"] for f in proposals["features"]} == public_ids(session, "proposal")
    assert world["proposal"] in {f["id"] for f in proposals["features"]}

    # the city's format: its header, `;`, one row per public report
    header = (out_dir / "reports.csv").read_text(encoding="utf-8").split("\n", 1)[0]
    assert header.split(";") == official_header() == list(services.DANSMARUE_COLUMNS)
    rows = read_csv(out_dir / "reports.csv")
    assert len(rows) == len(ids)
    ours = {r["id_dmr"]: r for r in rows if r["id_dmr"].startswith("CTG")}
    assert set(ours) == {f"CTG{world['sensitive']}", f"CTG{world['public']}"}
    s = ours[f"CTG{world['sensitive']}"]
    assert s["adresse"] == "" and s["type"] == "Graffitis, tags, affiches et autocollants"
    assert s["geo_point_2d"] == f"{public[1]!r}, {public[0]!r}"
    assert json.loads(s["geo_shape"]) == {"coordinates": list(public), "type": "Point"}
    assert (s["arrondissement"], s["ville"], s["code_postal"]) == ("4", "Paris 04", "75004")
    today = datetime.now(UTC).astimezone().date()
    assert s["mois_annee_decla"] == f"{s['anneedecl']}-{int(s['moisdecl']):02d}"
    assert abs((datetime.strptime(s["datedecl"], "%Y-%m-%d").date() - today).days) <= 1
    dmr = [r for r in rows if not r["id_dmr"].startswith("CTG")]
    if dmr:  # the extract: the values as the city writes them
        first = dmr[0]
        assert first["numero"] == str(int(first["id_dmr"][-6:]))
        assert first["datedecl"][:7] == first["mois_annee_decla"]

    # statistics: the public contributions per month and arrondissement, as a GROUP BY says
    stats = read_csv(out_dir / "statistics-arrondissement-month.csv")
    assert list(stats[0]) == list(services.STATISTICS_COLUMNS)
    got = Counter()
    for r in stats:
        got[(r["month"], int(r["arrondissement"]), r["kind"])] += int(r["count"])
    expected = Counter({(m, a, k): n for m, a, k, n in session.execute(text(f"""
        SELECT to_char(created_at AT TIME ZONE 'Europe/Paris', 'YYYY-MM'), arrondissement_id, kind,
               count(*) FROM contributions WHERE {PUBLIC} GROUP BY 1, 2, 3"""))})
    assert got == expected

    manifest = json.loads((out_dir / "manifest.json").read_text())
    files = {f["name"]: f for f in manifest["files"]}
    assert set(files) == {"reports.geojson", "reports.csv", "proposals.geojson", "arrondissements.geojson",
                          "quartiers.geojson", "statistics-arrondissement-month.csv"}
    for name, f in files.items():
        data = (out_dir / name).read_bytes()
        assert f["bytes"] == len(data) and f["sha256"] == hashlib.sha256(data).hexdigest()
    assert files["reports.csv"]["rows"] == files["reports.geojson"]["rows"] == len(ids)
    assert (files["arrondissements.geojson"]["rows"], files["quartiers.geojson"]["rows"]) == (20, 80)
    first, last = session.execute(text(
        f"SELECT min(created_at), max(created_at) FROM contributions WHERE kind = 'report' AND {PUBLIC}")).one()
    span = manifest["datasets"]["reports"]
    assert (datetime.fromisoformat(span["first"]), datetime.fromisoformat(span["last"])) == (first, last)
    assert not [p.name for p in out_dir.iterdir() if p.name.endswith(".tmp")]  # renamed into place


def test_the_csv_goes_back_through_the_importer_unchanged(session, runner, out_dir, world):
    """Export, empty the contributions (in the test's transaction), `flask import dansmarue`
    the export: the same reports come back (id, category, address, day, point)."""
    export(runner, "--no-gpkg")

    def reports(id_dmr: str, title: str) -> dict:
        return {r[0]: tuple(r[1:]) for r in session.execute(text(f"""
            SELECT {id_dmr}, category_id, CASE WHEN exact_geom IS NULL THEN address END,
                   (created_at AT TIME ZONE 'Europe/Paris')::date,
                   round(ST_X(geom)::numeric, 7), round(ST_Y(geom)::numeric, 7), {title}
            FROM contributions WHERE kind = 'report' AND {PUBLIC}"""))}

    # the extract's titles are its sub-types, as an import makes them; ours are residents'
    before = reports("CASE WHEN source = 'dansmarue' THEN source_id ELSE 'CTG' || id END",
                     "CASE WHEN source = 'dansmarue' THEN title END")
    session.execute(text("TRUNCATE contributions CASCADE"))  # rolled back after the test
    session.commit()
    result = runner.invoke(args=["import", "dansmarue", str(out_dir / "reports.csv")])
    assert result.exit_code == 0, result.output
    assert f"imported:              {len(before)}" in result.output
    assert "rejected:              0" in result.output
    after = reports("source_id", "CASE WHEN source_id NOT LIKE 'CTG%' THEN title END")
    assert len(after) == len(before) and after == before


def test_geopackages_read_back_with_gdal(session, runner, out_dir, world):
    output = export(runner)
    assert "reports.gpkg" in output
    n_reports = len(public_ids(session, "report"))
    info = subprocess.run(["ogrinfo", "-so", "-al", str(out_dir / "reports.gpkg")], capture_output=True,
                          text=True, check=True).stdout
    assert f"Feature Count: {n_reports}" in info and 'ID["EPSG",4326]' in info
    assert "Geometry: Point" in info and "category_code: String" in info
    for name, layers in (("proposals.gpkg", {"proposals": 1}),
                         ("areas.gpkg", {"arrondissements": 20, "quartiers": 80})):
        with sqlite3.connect(out_dir / name) as db:
            contents = dict(db.execute("SELECT table_name, srs_id FROM gpkg_contents"))
            assert contents == dict.fromkeys(layers, 4326)
            for layer, n in layers.items():
                assert db.execute(f'SELECT count(*) FROM "{layer}"').fetchone()[0] == n
    with sqlite3.connect(out_dir / "reports.gpkg") as db:
        columns = {row[1] for row in db.execute('PRAGMA table_info("reports")')}
        assert "author" in columns  # the API's member, always null
        assert db.execute("SELECT count(*) FROM reports WHERE author IS NOT NULL").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM reports WHERE id = ?", (world["hidden"],)).fetchone()[0] == 0
    manifest = json.loads((out_dir / "manifest.json").read_text())
    gpkg = {f["name"]: f for f in manifest["files"] if f["format"] == "GeoPackage"}
    assert gpkg["reports.gpkg"]["rows"] == n_reports and gpkg["areas.gpkg"]["rows"] == 100


# ---- serving ----------------------------------------------------------------------------

def fetch(client, url, **kwargs):
    """A response read whole and closed (files are streamed from disk)."""
    with client.get(url, **kwargs) as r:
        r.get_data()
        return r


def test_files_are_served_with_etag_last_modified_and_304(client, runner, out_dir, world):
    empty = fetch(client, "/open-data/")
    assert empty.status_code == 200 and 'role="status"' in empty.get_data(as_text=True)
    assert fetch(client, "/open-data/reports.csv").status_code == 404
    export(runner, "--no-gpkg")
    listing = fetch(client, "/open-data/", headers={"Accept": "application/json"})
    assert listing.status_code == 200 and listing.mimetype == "application/json"
    files = {f["name"]: f for f in listing.json["files"]}
    assert files["reports.csv"]["url"] == "http://localhost/open-data/reports.csv"

    r = fetch(client, "/open-data/reports.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.headers["ETag"] == f'"{files["reports.csv"]["sha256"]}"' and r.last_modified
    assert hashlib.sha256(r.data).hexdigest() == files["reports.csv"]["sha256"]
    same = fetch(client, "/open-data/reports.csv", headers={"If-None-Match": r.headers["ETag"]})
    assert same.status_code == 304 and same.data == b""
    since = fetch(client, "/open-data/reports.csv", headers={"If-Modified-Since": r.headers["Last-Modified"]})
    assert since.status_code == 304 and since.data == b""
    assert fetch(client, "/open-data/reports.csv", headers={"If-None-Match": '"other"'}).status_code == 200
    assert fetch(client, "/open-data/reports.geojson").mimetype == "application/geo+json"
    assert fetch(client, "/open-data/manifest.json").json["files"]
    for name in ("secret_key", "..%2Fsecret_key", ".export.lock", "nothing.csv"):
        assert fetch(client, f"/open-data/{name}").status_code == 404

    page = fetch(client, "/open-data/?lang=en")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert 'href="http://localhost/open-data/reports.csv"' in body and '<th scope="col">' in body
    assert "Reports of problems in the public space of Paris" in body
    assert "Signalements d" in fetch(client, "/open-data/?lang=fr").get_data(as_text=True)


# rdflib 7.4's own JSON-LD parser builds a ConjunctiveGraph, which rdflib itself deprecates
@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
def test_the_catalogue_is_dcat_ap_rdf(app, client, session, runner, out_dir, world, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://cartagora.example.org")
    base = "https://cartagora.example.org"
    export(runner)
    r = fetch(client, "/catalog.jsonld")
    assert r.status_code == 200 and r.mimetype == "application/ld+json"
    assert fetch(client, "/catalog.jsonld", headers={"If-None-Match": r.headers["ETag"]}).status_code == 304
    g = Graph().parse(data=r.get_data(as_text=True), format="json-ld")
    catalog = URIRef(f"{base}/catalog.jsonld")
    assert (catalog, RDF.type, DCAT.Catalog) in g
    assert {(t.language, str(t)[:9]) for t in g.objects(catalog, DCT.title)} == {
        ("fr", "Cartagora"), ("en", "Cartagora")}
    assert {t.language for t in g.objects(catalog, DCT.description)} == {"fr", "en"}
    publisher = g.value(catalog, DCT.publisher)
    assert g.value(publisher, FOAF.name) == Literal("Ville de Paris")

    manifest = json.loads((out_dir / "manifest.json").read_text())
    sizes = {f"{base}/open-data/{f['name']}": f["bytes"] for f in manifest["files"]}
    datasets = set(g.objects(catalog, DCAT.dataset))
    assert {str(d).rsplit("#dataset-", 1)[1] for d in datasets} == {"reports", "proposals", "areas",
                                                                    "statistics"}
    downloads = {}
    for d in datasets:
        assert (d, RDF.type, DCAT.Dataset) in g and (d, DCT.accrualPeriodicity, DAILY) in g
        assert g.value(d, DCT.publisher) == publisher
        spatial = list(g.objects(d, DCT.spatial))
        assert any(str(g.value(s, DCAT.bbox) or "").startswith("POLYGON((2.22") for s in spatial)
        for dist in g.objects(d, DCAT.distribution):
            url = str(g.value(dist, DCAT.downloadURL))
            downloads[url] = (str(d).rsplit("-", 1)[1], str(g.value(dist, DCAT.mediaType)))
            assert g.value(dist, DCT.license) == ODBL
            assert int(g.value(dist, DCAT.byteSize)) == sizes[url]
            checksum = g.value(dist, SPDX.checksum)
            assert str(g.value(checksum, SPDX.checksumValue)) == hashlib.sha256(
                (out_dir / url.rsplit("/", 1)[1]).read_bytes()).hexdigest()
    assert set(downloads) == set(sizes) - {f"{base}/open-data/manifest.json"}
    iana = "https://www.iana.org/assignments/media-types/"
    assert {m for ds, m in downloads.values() if ds == "reports"} == {
        iana + "application/geo+json", iana + "text/csv", iana + "application/geopackage+sqlite3"}

    reports = URIRef(f"{base}/catalog.jsonld#dataset-reports")
    period = g.value(reports, DCT.temporal)
    first, last = session.execute(text(
        f"SELECT min(created_at), max(created_at) FROM contributions WHERE kind = 'report' AND {PUBLIC}")).one()
    assert (g.value(period, DCAT.startDate).toPython(), g.value(period, DCAT.endDate).toPython()) == (
        first, last)

    services_ = set(g.subjects(RDF.type, DCAT.DataService))
    assert set(g.objects(catalog, DCAT.service)) == services_
    endpoints = {str(g.value(s, DCAT.endpointURL)): s for s in services_}
    assert set(endpoints) == {f"{base}/api/v1", f"{base}/open311/v2", f"{base}/ogc"}
    for s in services_:
        assert list(g.objects(s, DCT.conformsTo)) and list(g.objects(s, DCAT.servesDataset))
    assert (endpoints[f"{base}/api/v1"], DCAT.endpointDescription,
            URIRef(f"{base}/api/v1/openapi.json")) in g
    # the endpoint descriptions it names are served
    for path in ("/api/v1/openapi.json", "/ogc/api"):
        assert fetch(client, path).status_code == 200
