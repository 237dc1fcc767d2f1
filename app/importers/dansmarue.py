"""Import DansMaRue open-data exports as reports, at COPY speed.

Accepts the portal's formats: comma- or semicolon-separated; coordinates from `lon`/`lat`
columns when present, else `geo_point_2d` as JSON, as Python-dict text or as "lat, lon", else
`geo_shape`. Rows keep `id_dmr` as source_id, so importing the same file twice adds nothing,
and a re-published id updates its report. A point is inside Paris when `locate_point`, the
function the contributions_locate trigger calls for every API write, finds its quartier
(and then gives its arrondissement and quartier).
"""

from __future__ import annotations

import ast
import csv
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.areas.services import category_index
from app.importers import rollups

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
    duplicates: int = 0  # already imported, unchanged
    updated: int = 0  # already imported, re-published with other fields
    deleted: int = 0  # absent from a full export
    mode: str = ""  # "triggers" or "bulk"
    rollups: dict = field(default_factory=dict)  # a bulk load's merge: {table: {deleted, updated, inserted}}
    notes: list[str] = field(default_factory=list)
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


def open_csv(path):
    """A DansMaRue export as text, gzip-compressed (`.gz`, as shipped in data/) or not."""
    import gzip

    if str(path).endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


CHUNK = 1 << 20  # characters sent to COPY at a time

# Fields the importer reads; the others are COPYed along and ignored.
FIELDS = ("id_dmr", "type", "soustype", "adresse", "datedecl", "lon", "lat", "geo_point_2d", "geo_shape")
# Coordinates PostgreSQL reads itself: plain decimals in lon/lat, or the portal's "lat, lon"
# (_LAT_LON). Anything else (JSON or dict text, geo_shape, odd numbers) goes through
# parse_point, so that every format keeps one definition.
_DECIMAL = r"^-?\d+(\.\d+)?$"
_WHITESPACE = " \t\n\r\f\v"


def count_rows(path) -> int:
    """Lines after the header (rows, unless a quoted field spans lines): for a progress bar,
    counted on bytes (2 GB in a few seconds; decoding them as text took ~20 s)."""
    import gzip

    with (gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb")) as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(CHUNK), b"")) - 1


def create_staging(session: Session) -> None:
    """The staging table rows are COPYed into before _load inserts them (also the bench's)."""
    session.execute(text("""
        CREATE TEMP TABLE import_staging (
            source_id text, category_id integer, title text, address text,
            created_at timestamp, lon double precision, lat double precision
        ) ON COMMIT DROP
    """))


def run(session: Session, stream: io.TextIOBase, progress=None, full: bool = False,
        bulk: bool | None = None) -> ImportSummary:
    """Parse, validate and load one export. `progress(n)` is called as lines are read.

    The file goes to PostgreSQL as it is, by COPY: 5M rows (2 GB) in ~40 s, where reading
    them with Python's csv module and COPYing the staged rows took 162 s (same busy 2-core
    machine, 2026-11-26). The checks then run set-based (~60 s for 5M rows), with the
    Python rules applied once per distinct value (a category key, a date) or to the rows
    whose coordinates PostgreSQL does not read itself. Set-based
    statements then insert the new ids (areas assigned), update the re-published ones and,
    with `full`, delete the ones the export no longer has (see `_load`).
    """
    summary = ImportSummary()
    # A 5M-row export is minutes of statements; the app's connections carry the readers' timeout.
    session.execute(text("SET LOCAL statement_timeout = 0"))
    first = stream.readline()
    delimiter = sniff_delimiter(first)
    header = next(csv.reader([first], delimiter=delimiter), [])
    columns = [f"f{i}" for i in range(len(header))]
    # DictReader's rule: a repeated header name means its last column
    col = {name: f"r.{columns[i]}" for i, name in enumerate(header)}
    field_sql = {name: col.get(name, "CAST(NULL AS text)") for name in FIELDS}
    session.execute(text(f"""
        CREATE TEMP TABLE import_raw (line bigint GENERATED ALWAYS AS IDENTITY (START 2),
                                      {", ".join(f"{c} text" for c in columns)}) ON COMMIT DROP
    """))
    conn = session.connection().connection.driver_connection
    options = "FORMAT csv" + (", DELIMITER ';'" if delimiter == ";" else "")
    with conn.cursor() as cur, cur.copy(f"COPY import_raw ({', '.join(columns)}) FROM STDIN ({options})") as copy:
        while chunk := stream.read(CHUNK):
            copy.write(chunk)
            if progress:
                progress(chunk.count("\n"))
    summary.read = session.scalar(text("SELECT count(*) FROM import_raw"))
    _parse_points(session, field_sql)
    _map_values(session, field_sql)
    # temporary tables have no statistics: without them the checks sort the whole file to
    # merge-join the few thousand categories and dates (6.1 instead of 4.0 s for 200k rows)
    session.execute(text("ANALYZE import_raw, import_points, import_categories, import_dates"))
    staged = _stage(session, field_sql, summary)
    _load(session, staged, summary, full=full, bulk=bulk)
    _line_numbers(session, summary)
    # ON COMMIT DROP, and now: a caller may import twice in one transaction (tests, a CLI
    # run inside a savepoint)
    session.execute(text("DROP TABLE import_raw, import_points, import_categories, import_dates, import_checked"))
    summary.rejected.sort()
    return summary


def _point_sql(f: dict[str, str]) -> str:
    """How a row's point is read: 'lonlat' or 'latlon' in SQL, else 'python'."""
    gp = f"btrim(coalesce({f['geo_point_2d']}, ''), E'{_WHITESPACE.encode('unicode_escape').decode()}')"
    return f"""CASE
        WHEN coalesce({f['lon']}, '') <> '' AND coalesce({f['lat']}, '') <> '' THEN
            CASE WHEN {f['lon']} ~ '{_DECIMAL}' AND {f['lat']} ~ '{_DECIMAL}' THEN 'lonlat' ELSE 'python' END
        WHEN {gp} LIKE '{{%' THEN 'python'
        WHEN {gp} ~ '{_LAT_LON.pattern}' THEN 'latlon'
        ELSE 'python' END"""


def _parse_points(session: Session, f: dict[str, str]) -> None:
    """parse_point for the rows PostgreSQL cannot read: their (lon, lat) or a reason."""
    session.execute(text("""
        CREATE TEMP TABLE import_points (line bigint PRIMARY KEY, lon double precision,
                                         lat double precision, reason text) ON COMMIT DROP
    """))
    conn = session.connection().connection.driver_connection
    parsed: list[tuple] = []
    # a server-side cursor: an export in JSON form sends every row here (5M rows, GBs)
    with conn.cursor(name="import_points") as cur:
        cur.execute(f"""
            SELECT r.line, {f['lon']}, {f['lat']}, {f['geo_point_2d']}, {f['geo_shape']} FROM import_raw r
            WHERE {_point_sql(f)} = 'python'
        """)
        for line, lon, lat, point, shape in cur:
            try:
                x, y = parse_point({"lon": lon, "lat": lat, "geo_point_2d": point, "geo_shape": shape})
                parsed.append((line, x, y, None))
            except RowRejected as exc:
                parsed.append((line, None, None, str(exc)))
            except (ValueError, SyntaxError, KeyError, TypeError, IndexError):
                parsed.append((line, None, None, "bad_coordinates"))
    if parsed:
        with conn.cursor() as cur, cur.copy("COPY import_points FROM STDIN") as copy:
            for row in parsed:
                copy.write_row(row)


def _map_values(session: Session, f: dict[str, str]) -> None:
    """The category and title of each distinct (type, soustype), the date of each distinct
    datedecl: Python's rules, once per value (a 5M-row export has a few thousand)."""
    cats = category_index(session)
    session.execute(text("""
        CREATE TEMP TABLE import_categories (type text, soustype text, category_id integer,
                                             title text) ON COMMIT DROP;
        CREATE TEMP TABLE import_dates (raw text, day timestamp) ON COMMIT DROP
    """))
    categories = []
    for type_, sub in session.execute(text(
            f"SELECT DISTINCT coalesce({f['type']}, ''), coalesce({f['soustype']}, '') FROM import_raw r")):
        key = (type_.strip(), sub)
        cat = cats.by_source.get(("report", f"{key[0]}\x1f{key[1]}")) or cats.by_source.get(("report", key[0]))
        if cat is not None:
            title = clean_label(sub)
            categories.append((type_, sub, cat.id, (title if len(title) >= 3 else cat.label_fr)[:140]))
    dates = []
    for (raw,) in session.execute(text(f"SELECT DISTINCT coalesce({f['datedecl']}, '') FROM import_raw r")):
        try:
            dates.append((raw, parse_date(raw)))
        except RowRejected:
            pass
    conn = session.connection().connection.driver_connection
    with conn.cursor() as cur:
        with cur.copy("COPY import_categories FROM STDIN") as copy:
            for row in categories:
                copy.write_row(row)
        with cur.copy("COPY import_dates FROM STDIN") as copy:
            for row in dates:
                copy.write_row(row)


def _stage(session: Session, f: dict[str, str], summary: ImportSummary) -> int:
    """Check every row (the reasons in parse order: missing_id, duplicate_in_file, the point,
    the category, the date), stage the good ones, list the others; returns the staged count.

    A duplicate is a row whose id an earlier *accepted* row has (as when the rows were read
    one by one): the first row of an id that passes every other check is the one kept."""
    ws = _WHITESPACE.encode("unicode_escape").decode()
    session.execute(text(f"""
        CREATE TEMP TABLE import_checked ON COMMIT DROP AS
        SELECT r.line, r.source_id,
               CASE WHEN r.source_id = '' THEN 'missing_id'
                    WHEN pt.reason IS NOT NULL THEN pt.reason
                    WHEN NOT (abs(pt.lon) <= 180 AND abs(pt.lat) <= 90) THEN 'bad_coordinates'
                    WHEN cat.category_id IS NULL THEN 'unknown_category'
                    WHEN d.day IS NULL THEN 'bad_date' END AS reason,
               cat.category_id, cat.title, left(r.address, 200) AS address,
               d.day AS created_at, pt.lon, pt.lat
        -- each regular expression once per row (OFFSET 0: the outer references would
        -- otherwise each repeat it: 4.0 instead of 1.9 s for 200k rows)
        FROM (SELECT r.line, btrim(coalesce({f['id_dmr']}, ''), E'{ws}') AS source_id,
                     coalesce({f['type']}, '') AS type, coalesce({f['soustype']}, '') AS soustype,
                     coalesce({f['datedecl']}, '') AS datedecl, coalesce({f['adresse']}, '') AS address,
                     {f['lon']} AS lon, {f['lat']} AS lat, h.how,
                     -- the portal's "lat, lon": _LAT_LON's groups are (lat, lon)
                     CASE WHEN h.how = 'latlon' THEN regexp_match(
                         btrim({f['geo_point_2d']}, E'{ws}'), '{_LAT_LON.pattern}') END AS m
              FROM import_raw r CROSS JOIN LATERAL (SELECT {_point_sql(f)} AS how) h
              OFFSET 0) r
        LEFT JOIN import_points p ON r.how = 'python' AND p.line = r.line
        CROSS JOIN LATERAL (SELECT
            CASE r.how WHEN 'lonlat' THEN CAST(r.lon AS double precision)
                       WHEN 'latlon' THEN CAST(r.m[2] AS double precision) ELSE p.lon END AS lon,
            CASE r.how WHEN 'lonlat' THEN CAST(r.lat AS double precision)
                       WHEN 'latlon' THEN CAST(r.m[1] AS double precision) ELSE p.lat END AS lat,
            CASE WHEN r.how = 'python' THEN p.reason END AS reason) pt
        LEFT JOIN import_categories cat ON cat.type = r.type AND cat.soustype = r.soustype
        LEFT JOIN import_dates d ON d.raw = r.datedecl
    """))
    session.execute(text("""
        UPDATE import_checked c SET reason = 'duplicate_in_file'
        FROM (SELECT source_id, min(line) FILTER (WHERE reason IS NULL) AS first
              FROM import_checked WHERE source_id <> '' GROUP BY source_id HAVING count(*) > 1) d
        WHERE d.source_id = c.source_id AND c.line > d.first
    """))
    summary.rejected.extend(session.execute(text(
        "SELECT line, source_id, reason FROM import_checked WHERE reason IS NOT NULL")).tuples())
    create_staging(session)
    staged = session.execute(text("""
        INSERT INTO import_staging
        SELECT source_id, category_id, title, address, created_at, lon, lat
        FROM import_checked WHERE reason IS NULL
    """)).rowcount
    session.execute(text("ANALYZE import_staging"))  # temp tables have no statistics otherwise
    return staged


def _line_numbers(session: Session, summary: ImportSummary) -> None:
    """The file lines of the rows _load found in no quartier (it knows their ids only)."""
    ids = [sid for line, sid, _ in summary.rejected if line == 0]
    if not ids:
        return
    lines = {sid: line for sid, line in session.execute(text("""
        SELECT source_id, min(line) FROM import_checked
        WHERE reason IS NULL AND source_id = ANY(CAST(:ids AS text[])) GROUP BY source_id
    """), {"ids": ids})}
    summary.rejected = [(lines.get(sid, 0) if line == 0 else line, sid, reason)
                        for line, sid, reason in summary.rejected]


# A bulk insert: at least this many new ids. Below it the row and statement triggers do the
# work, which costs about 60 µs a row at 5M (the tiles bench's 1.25M-row chunks took
# 130–230 s) but needs no recount of the roll-ups (a fixed cost of about a minute at 5M) and
# locks nothing beyond the rows it writes.
BULK_MIN_ROWS = 100_000

# The matched rows: a staged row and the report an earlier import made of the same id_dmr.
_MATCHED = """
    FROM import_staging s
    JOIN contributions c ON c.source = CAST(:source AS varchar) AND c.source_id = s.source_id
"""
# …whose export fields changed since (the portal re-qualifies a report: soustype, place).
# The export carries no status: a report's workflow is the agents' (field/services.py).
_CHANGED = """(c.category_id <> s.category_id OR c.title <> s.title
    OR c.address IS DISTINCT FROM NULLIF(s.address, '')
    OR c.created_at <> (s.created_at AT TIME ZONE 'Europe/Paris')
    OR ST_X(coalesce(c.exact_geom, c.geom)) <> s.lon OR ST_Y(coalesce(c.exact_geom, c.geom)) <> s.lat)"""

# The contributions_locate trigger's rule through the same function (locate_point: a grid
# cell, else the quartier containing the point, lowest id on a border). Passing quartier_id,
# service_id and feature_json tells the row triggers (coarse, locate, route, serialise) that
# they are already done (a sensitive category's public point is coarse); the id is drawn
# here because the Feature text carries it. Rows are inserted along PostGIS' Hilbert curve:
# a map page's rows then share heap pages (the bbox bench: 1.75 instead of 2.7 ms of
# PostgreSQL CPU per 500-feature page).
_INSERT_NEW = """
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
        ORDER BY p.geom, s.created_at, s.source_id
    ) r
"""

# A changed report takes the export's fields; the row triggers then do the rest as for an
# API edit: coarse (a sensitive category's public point), locate (a moved point's areas),
# route (a new category's service), serialise (the Feature text), and the roll-up triggers
# move the report between keys. `exact_geom := NULL` with `geom :=` the exact point is what
# an API move sends (contributions_coarse derives both). A point moved out of every
# quartier keeps its old version (the INSERT's rule: outside_paris).
_UPDATE_CHANGED = f"""
    UPDATE contributions c SET category_id = s.category_id, title = s.title,
        address = NULLIF(s.address, ''), created_at = p.at, geom = p.geom, exact_geom = NULL,
        updated_at = now()
    -- the changed rows first (OFFSET 0): else the quartier test below may run for every
    -- staged row before the join (5M locate_point calls; 2,000 rows took minutes at 5M)
    FROM (SELECT * FROM import_staging WHERE source_id = ANY(CAST(:sids AS text[])) OFFSET 0) s
    CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326) AS geom,
                               s.created_at AT TIME ZONE 'Europe/Paris' AS at) p
    WHERE c.id = ANY(CAST(:ids AS bigint[])) AND c.source_id = s.source_id AND {_CHANGED}
      AND EXISTS (SELECT 1 FROM locate_point(p.geom) l JOIN quartiers q ON q.id = l.quartier_id)
"""


def _load(session: Session, staged: int, summary: ImportSummary, full: bool = False,
          bulk: bool | None = None) -> None:
    """Apply the staged rows to contributions, in the caller's transaction (all or nothing).

    New ids are inserted, ids whose export fields changed are updated, unchanged ids are
    counted as duplicates; with `full` (the file is the whole export) the imported reports
    absent from it are deleted. A full reload of an export mostly loaded already thus writes
    only its differences. `bulk` (default: BULK_MIN_ROWS new ids or more) inserts with the
    roll-up triggers bypassed and recounts the roll-ups set-wise afterwards
    (app/importers/rollups.py); updates and deletions always go through the triggers (the
    deletions' ON DELETE CASCADE are triggers too).

    Locks: the statements take ROW EXCLUSIVE on contributions and the roll-ups, ANALYZE
    SHARE UPDATE EXCLUSIVE; readers (ACCESS SHARE) wait for neither. A bulk load's roll-up
    merge adds SHARE on contributions from the recount to the commit: writers wait for it
    (their triggers would race the recount), readers do not. No DDL on live tables: the
    importer used to drop and rebuild the secondary indexes (ACCESS EXCLUSIVE until commit,
    every map page waited for the whole import, 6 s in tests/test_import.py).
    """
    params = {"source": SOURCE}
    existing = session.scalar(text("SELECT reltuples::bigint FROM pg_class WHERE oid = 'contributions'::regclass"))
    # The foreign-key checks are statements PostgreSQL prepares once and runs per row and
    # key; the app's connections force custom plans (app/db.py, for the bbox page), which
    # would plan each of the extract's 158k checks anew (~1.5 s).
    session.execute(text("SET LOCAL plan_cache_mode = auto"))

    if full:
        if staged == 0:
            raise ValueError("a full import of a file without one valid row would delete every report")
        # ids the file has but rejected keep their report (an unreadable row is no removal)
        kept = [sid for _, sid, _ in summary.rejected if sid]
        summary.deleted = session.execute(text("""
            DELETE FROM contributions c
            WHERE c.source = CAST(:source AS varchar) AND c.kind = 'report'
              AND NOT EXISTS (SELECT 1 FROM import_staging s WHERE s.source_id = c.source_id)
              AND c.source_id <> ALL(CAST(:kept AS text[]))
        """), {**params, "kept": kept}).rowcount

    # one join of the file with contributions (at 5M, each costs tens of seconds): the
    # matched count and the ids to update
    matched, changed_ids, changed_sids = session.execute(text(f"""
        SELECT count(*), coalesce(array_agg(c.id) FILTER (WHERE {_CHANGED}), '{{}}'),
               coalesce(array_agg(s.source_id) FILTER (WHERE {_CHANGED}), '{{}}') {_MATCHED}
    """), params).one()
    changed = len(changed_ids)
    summary.duplicates = matched - changed
    if changed:
        summary.updated = session.execute(text(_UPDATE_CHANGED), {"ids": changed_ids, "sids": changed_sids}).rowcount

    if bulk is None:
        bulk = staged - matched >= BULK_MIN_ROWS
    summary.mode = "bulk" if bulk else "triggers"
    triggers = rollups.discover(session) if bulk else None
    bypass = bulk and triggers.bypassable and session.scalar(
        text("SELECT has_parameter_privilege('session_replication_role', 'SET')"))
    if bulk and not bypass:
        summary.notes.append("roll-up triggers kept: " + (
            f"no rebuild for {', '.join(triggers.unknown)}" if triggers.unknown
            else "this role may not SET session_replication_role"))
    if bypass:
        # No trigger fires for this session's INSERT (other sessions' do): the row triggers'
        # work is in the statement, and its foreign keys are joins (categories, quartiers).
        session.execute(text("SET LOCAL session_replication_role = replica"))
    if staged > matched:
        summary.imported = session.execute(text(_INSERT_NEW), params).rowcount
    if bypass:
        session.execute(text("SET LOCAL session_replication_role = origin"))
        summary.rollups = rollups.merge(session, triggers.rollups)
    elif bulk:
        summary.mode = "triggers"

    unlocated = staged - matched - summary.imported
    if unlocated > 0 or summary.updated < changed:  # in no quartier polygon (slivers)
        for (sid,) in session.execute(text(f"""
            SELECT s.source_id FROM import_staging s
            WHERE NOT EXISTS (SELECT 1 FROM contributions c
                              WHERE c.source = CAST(:source AS varchar) AND c.source_id = s.source_id)
            UNION ALL
            SELECT s.source_id {_MATCHED} WHERE {_CHANGED}
        """), params):
            summary.rejected.append((0, sid, "outside_paris"))
    session.execute(text("DROP TABLE import_staging"))
    if summary.imported + summary.updated + summary.deleted > max(existing, 0) / 4:
        session.execute(text(f"ANALYZE contributions ({', '.join(ANALYZED_COLUMNS)})"))
