"""Import DansMaRue open-data exports as reports, at COPY speed.

Accepts the portal's formats: comma- or semicolon-separated; coordinates from `lon`/`lat`
columns when present, else `geo_point_2d` as JSON, as Python-dict text or as "lat, lon", else
`geo_shape`. Rows keep `id_dmr` as source_id, so importing the same file twice adds nothing.
Validation (finite WGS84, inside Paris) is the API's own (geo.validation); arrondissement and
quartier come from `locate_point`, the function the contributions_locate trigger calls.
"""

from __future__ import annotations

import ast
import csv
import io
import itertools
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.areas.services import category_index
from geo.validation import inside_paris_mask

SOURCE = "dansmarue"
_LAT_LON = re.compile(r"^\s*\(?\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*\)?\s*$")


# What the app's queries filter, join and sort contributions on: the columns a bulk load's
# ANALYZE refreshes at once. The free texts (title, description, address, the Feature text)
# are left to autovacuum, which gets to them within minutes: their statistics cost half of
# a full ANALYZE (0.39 → 0.25 s for the extract).
ANALYZED_COLUMNS = ("kind", "status", "category_id", "service_id", "created_at", "geom", "geom_l93",
                    "arrondissement_id", "quartier_id", "source", "source_id", "hidden",
                    "withdrawn_at", "author_id", "assigned_to_id")


class RowRejected(Exception):
    pass


@dataclass
class ImportSummary:
    read: int = 0
    imported: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (line, id, reason)

    @property
    def rejected_by_reason(self) -> Counter:
        return Counter(reason for _, _, reason in self.rejected)


def sniff_delimiter(first_line: str) -> str:
    return ";" if first_line.count(";") > first_line.count(",") else ","


def parse_point(row: dict) -> tuple[float, float]:
    """(lon, lat) from whichever coordinate fields the export has."""
    lon, lat = row.get("lon"), row.get("lat")
    if lon not in (None, "") and lat not in (None, ""):
        return float(lon), float(lat)
    raw = (row.get("geo_point_2d") or "").strip()
    if raw.startswith("{"):
        try:
            data = json.loads(raw)
        except ValueError:
            data = ast.literal_eval(raw)  # pandas wrote Python dict reprs
        return float(data["lon"]), float(data["lat"])
    match = _LAT_LON.match(raw)
    if match:  # the portal's CSV export: "lat, lon"
        return float(match.group(2)), float(match.group(1))
    shape = (row.get("geo_shape") or "").strip()
    if shape.startswith("{"):
        try:
            data = json.loads(shape)
        except ValueError:
            data = ast.literal_eval(shape)
        geometry = data.get("geometry", data)
        x, y = geometry["coordinates"][:2]
        return float(x), float(y)
    raise RowRejected("missing_coordinates")


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_date(raw: str) -> str:
    """Declaration date as 'YYYY-MM-DD HH:MM:SS' (Paris local time)."""
    raw = (raw or "").strip()
    if _ISO_DATE.match(raw):
        return raw
    for fmt in ("%d/%m/%Y", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(raw[:25], fmt).strftime("%Y-%m-%d %H:%M:%S")
        except ValueError:
            continue
    raise RowRejected("bad_date")


def clean_label(label: str) -> str:
    return " ".join(label.replace("[]", " ").split())


BATCH = 5000


def open_csv(path):
    """A DansMaRue export as text, gzip-compressed (`.gz`, as shipped in data/) or not."""
    import gzip

    if str(path).endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def create_staging(session: Session) -> None:
    """The staging table rows are COPYed into before _load inserts them (also the bench's)."""
    session.execute(text("""
        CREATE TEMP TABLE import_staging (
            source_id text, category_id integer, title text, address text,
            created_at timestamp, lon double precision, lat double precision
        ) ON COMMIT DROP
    """))

def run(session: Session, stream: io.TextIOBase, progress=None) -> ImportSummary:
    """Parse, validate and bulk-load one export. `progress(n)` is called as rows are read.

    Rows stream into a staging table by COPY while the file is read, in batches whose
    inside-Paris test is vectorised; one set-based INSERT then assigns areas and skips
    rows already imported.
    """
    summary = ImportSummary()
    first = stream.readline()
    reader = csv.DictReader(itertools.chain([first], stream), delimiter=sniff_delimiter(first))
    cats = category_index(session)
    titles: dict[tuple[str, str], tuple[int, str]] = {}  # (type, soustype) -> (category, title)
    seen: set[str] = set()
    batch: list[tuple] = []

    create_staging(session)
    conn = session.connection().connection.driver_connection
    with conn.cursor() as cur, cur.copy("COPY import_staging FROM STDIN") as copy:

        def flush() -> None:
            lons = np.fromiter((r[5] for r in batch), float, len(batch))
            lats = np.fromiter((r[6] for r in batch), float, len(batch))
            for row, ok in zip(batch, inside_paris_mask(lons, lats), strict=True):
                if ok:
                    copy.write_row(row[:7])
                else:
                    summary.rejected.append((row[7], row[0], "outside_paris"))
            if progress:
                progress(len(batch))
            batch.clear()

        for line, row in enumerate(reader, start=2):
            summary.read += 1
            source_id = (row.get("id_dmr") or "").strip()
            try:
                if not source_id:
                    raise RowRejected("missing_id")
                if source_id in seen:
                    raise RowRejected("duplicate_in_file")
                lon, lat = parse_point(row)
                if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lon) > 180 or abs(lat) > 90:
                    raise RowRejected("bad_coordinates")
                key = ((row.get("type") or "").strip(), row.get("soustype") or "")
                if key not in titles:
                    cat = cats.by_source.get(("report", f"{key[0]}\x1f{key[1]}")) or cats.by_source.get(
                        ("report", key[0])
                    )
                    if cat is None:
                        raise RowRejected("unknown_category")
                    title = clean_label(key[1])
                    titles[key] = (cat.id, (title if len(title) >= 3 else cat.label_fr)[:140])
                category_id, title = titles[key]
                created = parse_date(row.get("datedecl", ""))
            except RowRejected as exc:
                summary.rejected.append((line, source_id, str(exc)))
                continue
            except (ValueError, SyntaxError, KeyError, TypeError, IndexError):
                summary.rejected.append((line, source_id, "bad_coordinates"))
                continue
            seen.add(source_id)
            address = (row.get("adresse") or "")[:200]
            batch.append((source_id, category_id, title, address, created, lon, lat, line))
            if len(batch) >= BATCH:
                flush()
        if batch:
            flush()
    _load(session, len(seen) - len([r for r in summary.rejected if r[2] == "outside_paris"]), summary)
    summary.rejected.sort()
    return summary


def _load(session: Session, staged: int, summary: ImportSummary) -> None:
    """Insert the staged rows into contributions, in the caller's transaction.

    The live table keeps its indexes and foreign keys. The INSERT takes ROW EXCLUSIVE on
    contributions and, through the planner_insert trigger, on planner_facts and the roll-ups;
    ANALYZE takes SHARE UPDATE EXCLUSIVE. Readers (ACCESS SHARE) wait for neither; writers
    wait only for the roll-up rows the import has changed (a new report in a hexagon the
    file touches), until its commit. Dropping the secondary indexes and foreign keys for the
    load and restoring them (one sorted build, one checking join) was faster (3.7 instead of
    4.3 s for `flask import dansmarue` of the extract, 2026-11-25), but DROP INDEX and DROP
    CONSTRAINT hold ACCESS EXCLUSIVE until commit, on contributions and on each referenced
    table: every map page waited for the whole import (6 s in tests/test_import.py). One
    statement in one transaction keeps an import all-or-nothing.
    """
    summary.duplicates = session.scalar(text("""
        SELECT count(*) FROM import_staging s
        JOIN contributions c ON c.source = :source AND c.source_id = s.source_id
    """), {"source": SOURCE})
    existing = session.scalar(text("SELECT reltuples::bigint FROM pg_class WHERE oid = 'contributions'::regclass"))
    # The contributions_locate trigger's rule through the same function (locate_point: a grid
    # cell, else the quartier containing the point, lowest id on a border). Passing
    # quartier_id, service_id and feature_json tells the row triggers (coarse, locate, route,
    # serialise) that they are already done (a sensitive category's public point is coarse);
    # the id is drawn here because the Feature text carries it.
    # The foreign-key checks are statements PostgreSQL prepares once and runs per row and
    # key; the app's connections force custom plans (app/db.py, for the bbox page), which
    # would plan each of the extract's 158k checks anew (~1.5 s).
    plan_cache_mode = session.scalar(text("SELECT current_setting('plan_cache_mode')"))
    session.execute(text("SET LOCAL plan_cache_mode = auto"))
    result = session.execute(text("""
        INSERT INTO contributions (id, kind, category_id, service_id, status, title, geom,
            exact_geom, quartier_id, arrondissement_id, address, source, source_id, created_at,
            updated_at, feature_json)
        SELECT r.id, 'report', r.category_id, r.service_id, 'new', r.title, r.public_geom,
            CASE WHEN r.sensitive THEN r.geom END, r.quartier_id,
            r.arrondissement_id, r.address, CAST(:source AS varchar), r.source_id, r.at, r.at,
            contribution_feature_json(r.id, r.category, 'report', r.title, '', 'new',
                r.arrondissement_id, r.quartier_id, r.quartier_name,
                CASE WHEN NOT r.sensitive THEN r.address END, r.at, r.at,
                0, 0, 0, 0, NULL, r.source_id, r.public_geom)
        FROM (
            SELECT nextval('contributions_id_seq') AS id, s.category_id, cat.service_id,
                cat.sensitive, CASE WHEN cat.sensitive THEN coarse_point(p.geom) ELSE p.geom END
                AS public_geom,
                category_feature_member(cat.code, cat.label_fr) AS category, s.title, p.geom,
                q.id AS quartier_id, q.arrondissement_id, q.name AS quartier_name,
                NULLIF(s.address, '') AS address, s.source_id, p.at
            FROM import_staging s
            JOIN categories cat ON cat.id = s.category_id
            CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326) AS geom,
                                       s.created_at AT TIME ZONE 'Europe/Paris' AS at) p
            CROSS JOIN LATERAL locate_point(p.geom) l
            JOIN quartiers q ON q.id = l.quartier_id
            WHERE NOT EXISTS (SELECT 1 FROM contributions c
                              WHERE c.source = CAST(:source AS varchar) AND c.source_id = s.source_id)
            -- along PostGIS' Hilbert curve: a map page's rows then share heap pages (the bbox
            -- bench: 1.75 instead of 2.7 ms of PostgreSQL CPU per 500-feature page)
            ORDER BY p.geom, s.created_at, s.source_id
        ) r
    """), {"source": SOURCE})
    summary.imported = result.rowcount
    session.execute(text("SELECT set_config('plan_cache_mode', :mode, true)"), {"mode": plan_cache_mode})
    unlocated = staged - summary.duplicates - summary.imported
    if unlocated > 0:  # inside the shapely union but in no quartier polygon (slivers)
        for (sid,) in session.execute(text("""
            SELECT s.source_id FROM import_staging s
            WHERE NOT EXISTS (SELECT 1 FROM contributions c
                              WHERE c.source = CAST(:source AS varchar) AND c.source_id = s.source_id)
        """), {"source": SOURCE}):
            summary.rejected.append((0, sid, "outside_paris"))
    session.execute(text("DROP TABLE import_staging"))
    if summary.imported > max(existing, 0) / 4:
        session.execute(text(f"ANALYZE contributions ({', '.join(ANALYZED_COLUMNS)})"))
