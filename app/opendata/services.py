"""Bulk open data: the nightly exports to a directory, their manifest, and the DCAT-AP catalogue.

What is exported is public only, as every public reader sees it: no hidden or withdrawn
contribution, the public geometry (a sensitive category's coarse point, never `exact_geom`), no
address where the exact place is kept back, no author (name, e-mail or id).

| file | what |
|---|---|
| reports.geojson, proposals.geojson | RFC 7946 FeatureCollections, the API's Feature without author |
| reports.csv | the city's DansMaRue export: its 17 columns in its order, `;`, its value formats |
| reports.gpkg, proposals.gpkg, areas.gpkg | GeoPackage (EPSG:4326), converted by GDAL's ogr2ogr |
| arrondissements.geojson, quartiers.geojson | the reference polygons |
| statistics-arrondissement-month.csv | public contributions per month, arrondissement, type, status |
| manifest.json | per file: dataset, format, bytes, rows, sha256; per dataset: rows, first/last date |

Every file is written under a temporary name in the target directory and renamed into place
(rename is atomic within a filesystem), all of them after all were written, the manifest last:
a reader gets a whole old file or a whole new one. One export at a time (a lock file).

The GeoPackages are made by `ogr2ogr` (GDAL, Debian's gdal-bin, which scripts/install.sh
installs) from the GeoJSON just written, not from PostgreSQL through a `PG:` connection string:
  - the three formats are then one snapshot (same rows, same values), read in one transaction;
  - no database credentials on a command line (visible to every local user in `ps`);
  - the export works on any session, the tests' rolled-back one included.
pyogrio would be the same GDAL through bindings, but its wheels ship a second GDAL build
(≈ 30 MB) beside the system's that `make test` already uses; ogr2ogr is the maintained tool
itself, and its GeoJSON reader streams feature by feature (memory stays flat). At millions of
rows, reading PostgreSQL directly (`ogr2ogr PG: -sql`) would save the GeoJSON parse; the
snapshot argument would then need `pg_export_snapshot`.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.areas.services import areas_geojson
from geo.areas import paris_bbox

MANIFEST = "manifest.json"
ODBL = "https://opendatacommons.org/licenses/odbl/1-0/"
LICENCE_OUVERTE = "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"

# The city's DansMaRue export (opendata.paris.fr, dataset dans-ma-rue): its 17 columns, in the
# order of the portal's API v2.1 and of data/dans-ma-rue_sample_2023-2024.csv.gz
DANSMARUE_COLUMNS = ("numero", "type", "soustype", "adresse", "code_postal", "ville", "arrondissement",
                     "conseilquartier", "datedecl", "anneedecl", "moisdecl", "prefixe", "intervenant",
                     "id_dmr", "geo_shape", "geo_point_2d", "mois_annee_decla")
CSV_DELIMITER = ";"  # the portal's CSV export
STATISTICS_COLUMNS = ("month", "arrondissement", "kind", "type", "type_label_fr", "type_label_en",
                      "status", "count")

GEOJSON, CSV, GPKG = "GeoJSON", "CSV", "GeoPackage"
MEDIA_TYPES = {GEOJSON: "application/geo+json", CSV: "text/csv",
               GPKG: "application/geopackage+sqlite3", "JSON": "application/json"}

PUBLIC = "NOT c.hidden AND c.withdrawn_at IS NULL"

# The Feature of the API (contribution_feature_json, as the stored feature_json) with no
# author, and the address only where the place shown is the exact one.
FEATURES_SQL = f"""
    SELECT contribution_feature_json(c.id, category_feature_member(cat.code, cat.label_fr), c.kind,
        c.title, c.description, c.status, c.arrondissement_id, c.quartier_id, q.name,
        CASE WHEN c.exact_geom IS NULL THEN c.address END, c.created_at, c.updated_at,
        c.votes_up, c.votes_down, c.comments_count, c.photos_count, NULL, c.source_id, c.geom)
    FROM contributions c
    JOIN categories cat ON cat.id = c.category_id
    JOIN quartiers q ON q.id = c.quartier_id
    WHERE c.kind = :kind AND {PUBLIC}
    ORDER BY c.id
"""

# One report as the city's export writes it. id_dmr: the DansMaRue id of an imported report,
# else ours ("CTG" + id); numero: the id's sequence number. Dates are Paris dates. Coordinates
# are PostgreSQL's shortest exact float text, so that a re-import finds the same point;
# geo_point_2d "lat, lon" and geo_shape GeoJSON text, as the portal's CSV export writes them.
# `conseilquartier` carries the quartier administratif (the conseils de quartier's polygons
# are not published as open data); `prefixe` (the channel) is unknown for imported rows.
DANSMARUE_SQL = f"""
    SELECT
        CASE WHEN c.source = 'dansmarue' AND c.source_id ~ '[0-9]+$'
             THEN substring(c.source_id FROM '([0-9]+)$')::bigint ELSE c.id END AS numero,
        COALESCE(p.source_label, p.label_fr, cat.source_label, cat.label_fr) AS type,
        CASE WHEN p.id IS NULL THEN NULL
             WHEN strpos(cat.source_label, E'\\x1f') > 0 THEN split_part(cat.source_label, E'\\x1f', 2)
             ELSE cat.label_fr END AS soustype,
        CASE WHEN c.exact_geom IS NULL THEN c.address END AS adresse,
        COALESCE(substring(CASE WHEN c.exact_geom IS NULL THEN c.address END FROM '\\m(75[0-9]{{3}})\\M'),
                 (75000 + c.arrondissement_id)::text) AS code_postal,
        'Paris ' || lpad(c.arrondissement_id::text, 2, '0') AS ville,
        c.arrondissement_id AS arrondissement,
        q.name AS conseilquartier,
        to_char(d.local, 'YYYY-MM-DD') AS datedecl,
        extract(year FROM d.local)::int AS anneedecl,
        extract(month FROM d.local)::int AS moisdecl,
        CASE WHEN c.source IS NULL THEN 'Cartagora' WHEN c.source = 'dansmarue' THEN NULL
             ELSE c.source END AS prefixe,
        s.name_fr AS intervenant,
        CASE WHEN c.source = 'dansmarue' THEN c.source_id ELSE 'CTG' || c.id END AS id_dmr,
        '{{"coordinates": [' || ST_X(c.geom)::text || ', ' || ST_Y(c.geom)::text
            || '], "type": "Point"}}' AS geo_shape,
        ST_Y(c.geom)::text || ', ' || ST_X(c.geom)::text AS geo_point_2d,
        to_char(d.local, 'YYYY-MM') AS mois_annee_decla
    FROM contributions c
    JOIN categories cat ON cat.id = c.category_id
    LEFT JOIN categories p ON p.id = cat.parent_id
    LEFT JOIN services s ON s.id = c.service_id
    JOIN quartiers q ON q.id = c.quartier_id
    CROSS JOIN LATERAL (SELECT c.created_at AT TIME ZONE 'Europe/Paris' AS local) d
    WHERE c.kind = 'report' AND {PUBLIC}
    ORDER BY c.created_at, c.id
"""

# The planner's month roll-up (kept equal to the raw rows by its triggers, proved by
# app.planner.models.RECOUNT_SQL), per arrondissement: a few thousand rows, read at once.
STATISTICS_SQL = """
    SELECT to_char(m.month, 'YYYY-MM') AS month, q.arrondissement_id AS arrondissement, m.kind,
           t.code AS type, t.label_fr AS type_label_fr, t.label_en AS type_label_en, m.status,
           sum(m.n)::bigint AS count
    FROM planner_month_counts m
    JOIN quartiers q ON q.id = m.quartier_id
    JOIN categories t ON t.id = m.type_id
    WHERE m.n <> 0
    GROUP BY 1, 2, 3, 4, 5, 6, 7
    HAVING sum(m.n) <> 0
    ORDER BY 1, 2, 3, 4, 7
"""

COVERAGE_SQL = f"""
    SELECT c.kind, count(*) AS rows, min(c.created_at) AS first, max(c.created_at) AS last
    FROM contributions c WHERE {PUBLIC} GROUP BY c.kind
"""


@dataclass
class ExportedFile:
    name: str
    dataset: str
    format: str
    media_type: str
    bytes: int = 0
    rows: int = 0
    sha256: str = ""
    seconds: float = 0.0
    layers: list[str] | None = None


@dataclass
class Manifest:
    generated_at: str
    files: list[ExportedFile] = field(default_factory=list)
    # dataset -> {"rows", "first", "last"} (ISO 8601 UTC, None when empty)
    datasets: dict[str, dict] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"generated_at": self.generated_at, "license": ODBL,
                "datasets": self.datasets,
                "files": [{k: v for k, v in asdict(f).items() if v is not None} for f in self.files],
                "skipped": self.skipped}


class ExportError(RuntimeError):
    pass


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


@contextmanager
def _export_lock(out_dir: Path) -> Iterator[None]:
    """One export at a time per directory (a second one fails at once, the first goes on)."""
    with open(out_dir / ".export.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ExportError(f"another export is writing to {out_dir}") from None
        yield


class _Staging:
    """Temporary files in the target directory, renamed into place together by `publish`."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.pending: list[tuple[Path, Path]] = []

    def path(self, name: str) -> Path:
        fd, tmp = tempfile.mkstemp(dir=self.out_dir, prefix=f".{name}.", suffix=".tmp")
        os.close(fd)
        tmp_path = Path(tmp)
        self.pending.append((tmp_path, self.out_dir / name))
        return tmp_path

    def publish(self) -> None:
        for tmp, final in self.pending:
            os.chmod(tmp, 0o644)
            os.replace(tmp, final)
        self.pending.clear()

    def discard(self) -> None:
        for tmp, _ in self.pending:
            tmp.unlink(missing_ok=True)
        self.pending.clear()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _finish(entry: ExportedFile, path: Path, started: float) -> ExportedFile:
    entry.bytes = path.stat().st_size
    entry.sha256 = _sha256(path)
    entry.seconds = round(time.perf_counter() - started, 3)
    return entry


def write_features(session: Session, kind: str, path: Path) -> int:
    """A kind's public contributions as an RFC 7946 FeatureCollection; returns the count.

    Streamed from a server-side cursor: memory does not grow with the table."""
    n = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write('{"type":"FeatureCollection","features":[')
        rows = session.execute(text(FEATURES_SQL), {"kind": kind},
                               execution_options={"yield_per": 2000})
        for (feature,) in rows:
            out.write(",\n" if n else "\n")
            out.write(feature)
            n += 1
        out.write("\n]}\n")
    return n


def write_dansmarue_csv(session: Session, path: Path) -> int:
    """The public reports in the city's DansMaRue export format; returns the row count."""
    n = 0
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=CSV_DELIMITER, lineterminator="\n")
        writer.writerow(DANSMARUE_COLUMNS)
        rows = session.execute(text(DANSMARUE_SQL), execution_options={"yield_per": 5000})
        for row in rows:
            writer.writerow(row)
            n += 1
    return n


def write_statistics_csv(session: Session, path: Path) -> tuple[int, str | None, str | None]:
    """Public contributions per month (Paris time), arrondissement, type and status; returns
    the row count and the first and last months (YYYY-MM)."""
    rows = session.execute(text(STATISTICS_SQL)).all()
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=CSV_DELIMITER, lineterminator="\n")
        writer.writerow(STATISTICS_COLUMNS)
        writer.writerows(rows)
    return len(rows), (rows[0].month if rows else None), (rows[-1].month if rows else None)


def ogr2ogr_available() -> bool:
    return shutil.which("ogr2ogr") is not None


# each layer's geometry type, declared: an empty GeoJSON (no proposal yet) has none to detect
LAYER_GEOMETRY = {"reports": "POINT", "proposals": "GEOMETRY", "arrondissements": "MULTIPOLYGON",
                  "quartiers": "MULTIPOLYGON"}


def geojson_to_gpkg(sources: list[tuple[Path, str]], path: Path) -> None:
    """Convert GeoJSON files into one GeoPackage, a layer each (name given), in EPSG:4326.

    Nested members (category, quartier, votes) become flat columns (category_code, …)."""
    path.unlink(missing_ok=True)  # the staging name exists, empty; GDAL creates the file
    for i, (source, layer) in enumerate(sources):
        command = ["ogr2ogr", "-f", "GPKG", *(["-update"] if i else []), str(path), str(source),
                   "-nln", layer, "-a_srs", "EPSG:4326", "-nlt", LAYER_GEOMETRY[layer],
                   "-oo", "FLATTEN_NESTED_ATTRIBUTES=YES", "-oo", "NESTED_ATTRIBUTE_SEPARATOR=_",
                   "-lco", "SPATIAL_INDEX=YES", "-lco", "FID=fid"]
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              env={**os.environ, "CPL_LOG": os.devnull})
        if done.returncode != 0:
            raise ExportError(f"ogr2ogr failed for {layer}: {done.stderr.strip()[-500:]}")


def export(session: Session, out_dir: Path, gpkg: bool = True,
           progress: Callable[[ExportedFile], None] | None = None) -> Manifest:
    """Write every export and the manifest into `out_dir`; returns the manifest.

    Reads through `session` only (the caller chooses its isolation: the CLI reads one
    REPEATABLE READ snapshot), writes nothing to the database."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with _export_lock(out_dir):
        staging = _Staging(out_dir)
        try:
            manifest = _export(session, staging, gpkg and ogr2ogr_available(), progress)
            if gpkg and not ogr2ogr_available():
                manifest.skipped.append("GeoPackage: ogr2ogr (gdal-bin) not found")
            manifest_path = staging.path(MANIFEST)
            manifest_path.write_text(json.dumps(manifest.to_json(), ensure_ascii=False, indent=1) + "\n")
            staging.publish()  # the manifest last: it was staged last
        finally:
            staging.discard()
    return manifest


def _export(session: Session, staging: _Staging, gpkg: bool,
            progress: Callable[[ExportedFile], None] | None) -> Manifest:
    manifest = Manifest(generated_at=_iso(datetime.now(UTC)))
    coverage = {r.kind: r for r in session.execute(text(COVERAGE_SQL))}

    def done(entry: ExportedFile, path: Path, started: float) -> None:
        manifest.files.append(_finish(entry, path, started))
        if progress:
            progress(entry)

    geojson_paths: dict[str, Path] = {}
    for kind, dataset in (("report", "reports"), ("proposal", "proposals")):
        started = time.perf_counter()
        entry = ExportedFile(f"{dataset}.geojson", dataset, GEOJSON, MEDIA_TYPES[GEOJSON])
        path = geojson_paths[dataset] = staging.path(entry.name)
        entry.rows = write_features(session, kind, path)
        done(entry, path, started)
        row = coverage.get(kind)
        manifest.datasets[dataset] = {"rows": entry.rows, "first": _iso(row.first) if row else None,
                                      "last": _iso(row.last) if row else None}
        if kind == "report":
            started = time.perf_counter()
            entry = ExportedFile("reports.csv", dataset, CSV, MEDIA_TYPES[CSV])
            path = staging.path(entry.name)
            entry.rows = write_dansmarue_csv(session, path)
            done(entry, path, started)

    for level, name in (("arrondissement", "arrondissements"), ("quartier", "quartiers")):
        started = time.perf_counter()
        entry = ExportedFile(f"{name}.geojson", "areas", GEOJSON, MEDIA_TYPES[GEOJSON])
        path = geojson_paths[name] = staging.path(entry.name)
        body = areas_geojson(session, level)
        path.write_text(body + "\n", encoding="utf-8")
        entry.rows = len(json.loads(body)["features"])
        done(entry, path, started)
    manifest.datasets["areas"] = {"rows": sum(f.rows for f in manifest.files if f.dataset == "areas"),
                                  "first": None, "last": None}

    started = time.perf_counter()
    entry = ExportedFile("statistics-arrondissement-month.csv", "statistics", CSV, MEDIA_TYPES[CSV])
    path = staging.path(entry.name)
    entry.rows, first, last = write_statistics_csv(session, path)
    done(entry, path, started)
    manifest.datasets["statistics"] = {"rows": entry.rows, "first": first and f"{first}-01",
                                       "last": last and f"{last}-01"}

    if gpkg:
        for dataset, layers in (("reports", ["reports"]), ("proposals", ["proposals"]),
                                ("areas", ["arrondissements", "quartiers"])):
            started = time.perf_counter()
            entry = ExportedFile(f"{dataset}.gpkg", dataset, GPKG, MEDIA_TYPES[GPKG], layers=layers)
            path = staging.path(entry.name)
            geojson_to_gpkg([(geojson_paths[layer], layer) for layer in layers], path)
            entry.rows = sum(f.rows for f in manifest.files
                             if f.format == GEOJSON and f.name.removesuffix(".geojson") in layers)
            done(entry, path, started)
    return manifest


def read_manifest(out_dir: Path) -> dict | None:
    """The last export's manifest, or None if there was none."""
    try:
        return json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def published_file(out_dir: Path, manifest: dict | None, name: str) -> tuple[Path, dict | None] | None:
    """(path, manifest entry) of a file the export published, or None: only the names the
    manifest lists (and the manifest itself) are ever served from the directory."""
    if name == MANIFEST and manifest is not None:
        return out_dir / MANIFEST, None
    for entry in (manifest or {}).get("files", []):
        if entry["name"] == name:
            path = out_dir / name
            return (path, entry) if path.is_file() else None
    return None


def listing(manifest: dict | None, index_url: str, catalog_url: str) -> dict:
    """What /open-data/ lists: the manifest with each file's absolute URL."""
    base = index_url.rstrip("/") + "/"
    manifest = manifest or {}
    return {"generated_at": manifest.get("generated_at"), "license": ODBL, "catalog": catalog_url,
            "manifest": base + MANIFEST if manifest else None,
            "datasets": manifest.get("datasets", {}),
            "files": [{**f, "url": base + f["name"]} for f in manifest.get("files", [])]}


# ---- the DCAT-AP 2 catalogue -------------------------------------------------------------

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "locn": "http://www.w3.org/ns/locn#",
    "spdx": "http://spdx.org/rdf/terms#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "gsp": "http://www.opengis.net/ont/geosparql#",
}
EU = "http://publications.europa.eu/resource/authority"
DAILY = f"{EU}/frequency/DAILY"
FILE_TYPES = {GEOJSON: f"{EU}/file-type/GEOJSON", CSV: f"{EU}/file-type/CSV",
              GPKG: f"{EU}/file-type/GPKG", "JSON": f"{EU}/file-type/JSON"}
IANA = "https://www.iana.org/assignments/media-types/"
PARIS_GEONAMES = "https://sws.geonames.org/2988507/"  # Paris (GeoNames)

DATASETS = {
    "reports": ({"fr": "Signalements d'anomalies dans l'espace public à Paris",
                 "en": "Reports of problems in the public space of Paris"},
                {"fr": "Les signalements publics (propreté, voirie, graffitis, mobilier…) : type et "
                       "sous-type DansMaRue, statut, arrondissement et quartier, date ; le point public "
                       "(centre d'une maille de 100 m pour les catégories sensibles). Le CSV reprend "
                       "les 17 colonnes de l'export DansMaRue de la Ville.",
                 "en": "Public reports (cleanliness, roads, graffiti, street furniture…): DansMaRue "
                       "type and sub-type, status, arrondissement and quartier, date; the public point "
                       "(a 100 m cell's centre for sensitive categories). The CSV has the 17 columns of "
                       "the city's DansMaRue export."},
                ["signalement", "DansMaRue", "espace public", "propreté"]),
    "proposals": ({"fr": "Propositions des habitants pour Paris",
                   "en": "Residents' proposals for Paris"},
                  {"fr": "Les propositions publiques (point, ligne ou polygone) : thème, statut, "
                         "votes, arrondissement et quartier.",
                   "en": "Public proposals (point, line or polygon): theme, status, votes, "
                         "arrondissement and quartier."},
                  ["participation", "proposition"]),
    "areas": ({"fr": "Arrondissements et quartiers administratifs de Paris",
               "en": "Arrondissements and quartiers administratifs of Paris"},
              {"fr": "Les 20 arrondissements et 80 quartiers administratifs (polygones, surface).",
               "en": "The 20 arrondissements and 80 quartiers administratifs (polygons, area)."},
              ["arrondissement", "quartier", "limites administratives"]),
    "statistics": ({"fr": "Statistiques mensuelles par arrondissement",
                    "en": "Monthly statistics per arrondissement"},
                   {"fr": "Nombre de contributions publiques par mois, arrondissement, type et statut.",
                    "en": "Public contributions per month, arrondissement, type and status."},
                   ["statistiques", "signalement"]),
}

CATALOGUE_TITLE = {"fr": "Cartagora – données ouvertes de la participation à Paris",
                   "en": "Cartagora – open data of participation in Paris"}
CATALOGUE_DESCRIPTION = {
    "fr": "Signalements, propositions, limites et statistiques de Cartagora, la carte participative "
          "de Paris, en téléchargement (GeoJSON, CSV, GeoPackage) et par API (JSON, Open311, "
          "OGC API – Features). Mise à jour quotidienne.",
    "en": "Reports, proposals, boundaries and statistics of Cartagora, the participatory map of Paris, "
          "as downloads (GeoJSON, CSV, GeoPackage) and through APIs (JSON, Open311, OGC API – "
          "Features). Updated daily."}


def _lang(values: dict[str, str]) -> list[dict]:
    return [{"@value": v, "@language": k} for k, v in values.items()]


def _typed(value, datatype: str) -> dict:
    return {"@value": str(value), "@type": datatype}


def catalogue(manifest: dict | None, public_url: str) -> dict:
    """The DCAT-AP 2 catalogue (JSON-LD) of the exports and the APIs, for a portal to harvest.

    Built from the manifest and the configuration alone (no database read); byte sizes,
    checksums and temporal coverage come from the last export."""
    base = public_url.rstrip("/")
    me = f"{base}/catalog.jsonld"
    publisher = {"@id": f"{me}#publisher", "@type": "foaf:Agent", "foaf:name": "Ville de Paris",
                 "dct:type": {"@id": "http://purl.org/adms/publishertype/LocalAuthority"}}
    contact = {"@type": "vcard:Organization", "vcard:fn": "Ville de Paris – Cartagora",
               "vcard:hasURL": {"@id": f"{base}/"}}
    w, s, e, n = paris_bbox()
    wkt = f"POLYGON(({w} {s},{e} {s},{e} {n},{w} {n},{w} {s}))"
    geojson = json.dumps({"type": "Polygon",
                          "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]})
    paris = {"@id": f"{me}#paris", "@type": "dct:Location", "rdfs:label": "Paris",
             "dcat:bbox": _typed(wkt, "gsp:wktLiteral"),
             "locn:geometry": _typed(geojson, f"{IANA}application/vnd.geo+json")}
    odbl = {"@id": ODBL, "@type": "dct:LicenseDocument"}
    generated = (manifest or {}).get("generated_at")
    files = (manifest or {}).get("files", [])
    coverage = (manifest or {}).get("datasets", {})

    datasets = []
    for key, (title, description, keywords) in DATASETS.items():
        dataset = {
            "@id": f"{me}#dataset-{key}", "@type": "dcat:Dataset",
            "dct:identifier": f"{me}#dataset-{key}",
            "dct:title": _lang(title), "dct:description": _lang(description),
            "dcat:keyword": keywords, "dct:publisher": {"@id": publisher["@id"]},
            "dcat:contactPoint": contact,
            "dct:accrualPeriodicity": {"@id": DAILY},
            "dct:spatial": [{"@id": paris["@id"]}, {"@id": PARIS_GEONAMES}],
            "dct:language": [{"@id": f"{EU}/language/FRA"}],
            "dcat:landingPage": {"@id": f"{base}/open-data/"},
            "dcat:distribution": [],
        }
        if key in ("reports", "proposals"):
            # addresses are the Base Adresse Nationale's when a resident placed the pin
            dataset["dct:rights"] = {
                "@type": "dct:RightsStatement",
                "rdfs:label": _lang({
                    "fr": "Données Ville de Paris sous ODbL ; le champ adresse provient de la Base "
                          "Adresse Nationale (Licence Ouverte 2.0).",
                    "en": "Ville de Paris data under the ODbL; the address field comes from the Base "
                          "Adresse Nationale (Licence Ouverte 2.0)."}),
                "rdfs:seeAlso": [{"@id": ODBL}, {"@id": LICENCE_OUVERTE}]}
        span = coverage.get(key) or {}
        if span.get("first") and span.get("last"):
            dataset["dct:temporal"] = {"@type": "dct:PeriodOfTime",
                                       "dcat:startDate": _typed(span["first"], _date_type(span["first"])),
                                       "dcat:endDate": _typed(span["last"], _date_type(span["last"]))}
        if generated:
            dataset["dct:modified"] = _typed(generated, "xsd:dateTime")
        for f in files:
            if f["dataset"] != key:
                continue
            dataset["dcat:distribution"].append({
                "@id": f"{base}/open-data/{f['name']}", "@type": "dcat:Distribution",
                "dct:title": f["name"],
                "dcat:accessURL": {"@id": f"{base}/open-data/"},
                "dcat:downloadURL": {"@id": f"{base}/open-data/{f['name']}"},
                "dcat:mediaType": {"@id": IANA + f["media_type"]},
                "dct:format": {"@id": FILE_TYPES[f["format"]]},
                "dcat:byteSize": _typed(f["bytes"], "xsd:decimal"),
                "spdx:checksum": {"@type": "spdx:Checksum",
                                  "spdx:algorithm": {"@id": "spdx:checksumAlgorithm_sha256"},
                                  "spdx:checksumValue": _typed(f["sha256"], "xsd:hexBinary")},
                "dct:license": odbl,
                "dct:modified": _typed(generated, "xsd:dateTime"),
                **({"dct:description": _lang({
                    "fr": "Format de l'export DansMaRue de la Ville de Paris (17 colonnes, « ; »).",
                    "en": "The City of Paris's DansMaRue export format (17 columns, ';')."})}
                   if f["name"] == "reports.csv" else {}),
            })
        datasets.append(dataset)

    ids = {key: {"@id": f"{me}#dataset-{key}"} for key in DATASETS}
    services = [
        _service(me, "api", f"{base}/api/v1", f"{base}/api/v1/openapi.json",
                 {"fr": "API JSON de Cartagora", "en": "Cartagora JSON API"},
                 {"fr": "Contributions en GeoJSON (RFC 7946), catégories, zones, statistiques ; "
                        "décrite par un document OpenAPI 3.",
                  "en": "Contributions as GeoJSON (RFC 7946), categories, areas, statistics; "
                        "described by an OpenAPI 3 document."},
                 ["https://spec.openapis.org/oas/v3.1.0", "https://www.rfc-editor.org/rfc/rfc7946"],
                 [ids["reports"], ids["proposals"], ids["areas"], ids["statistics"]]),
        _service(me, "open311", f"{base}/open311/v2", f"{base}/open311/v2/discovery.json",
                 {"fr": "Open311 GeoReport v2", "en": "Open311 GeoReport v2"},
                 {"fr": "Signalements et types de signalement au standard Open311 GeoReport v2.",
                  "en": "Reports and report types in the Open311 GeoReport v2 standard."},
                 ["http://wiki.open311.org/GeoReport_v2/"], [ids["reports"]]),
        _service(me, "ogc", f"{base}/ogc", f"{base}/ogc/api",
                 {"fr": "OGC API – Features", "en": "OGC API – Features"},
                 {"fr": "Signalements, propositions, arrondissements et quartiers (Parties 1 à 3).",
                  "en": "Reports, proposals, arrondissements and quartiers (Parts 1 to 3)."},
                 ["http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
                  "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
                  "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs"],
                 [ids["reports"], ids["proposals"], ids["areas"]]),
    ]
    for service in services:
        service.update({"dct:publisher": {"@id": publisher["@id"]}, "dct:license": odbl,
                        "dcat:contactPoint": contact})

    body = {
        "@context": CONTEXT,
        "@id": me, "@type": "dcat:Catalog",
        "dct:title": _lang(CATALOGUE_TITLE), "dct:description": _lang(CATALOGUE_DESCRIPTION),
        "dct:publisher": publisher,
        "foaf:homepage": {"@id": f"{base}/open-data/"},
        "dct:language": [{"@id": f"{EU}/language/FRA"}, {"@id": f"{EU}/language/ENG"}],
        "dct:license": odbl,
        "dct:spatial": paris,
        "dcat:dataset": datasets,
        "dcat:service": services,
    }
    if generated:
        body["dct:modified"] = _typed(generated, "xsd:dateTime")
    return body


def _date_type(value: str) -> str:
    return "xsd:dateTime" if "T" in value else "xsd:date"


def _service(me: str, key: str, endpoint: str, description_url: str, title: dict, description: dict,
             conforms: list[str], serves: list[dict]) -> dict:
    return {"@id": f"{me}#service-{key}", "@type": "dcat:DataService",
            "dct:title": _lang(title), "dct:description": _lang(description),
            "dcat:endpointURL": {"@id": endpoint},
            "dcat:endpointDescription": {"@id": description_url},
            "dct:conformsTo": [{"@id": uri} for uri in conforms],
            "dcat:servesDataset": serves}
