"""The OGC API's reads: pages of a collection's items, one item, a collection's extent.

Contributions in CRS84 are the stored Feature text (`contributions.feature_json`, the JSON
API's own fast path, app/contributions/queries.py); in EPSG:2154 the same text with its
geometry swapped for `geom_l93` (the persisted ST_Transform(geom, 2154)). The areas and the
volunteer missions (public ones only: a verified organisation's; each mission's places as one
MultiPoint) are encoded by PostGIS. Every page is keyset-paginated (never OFFSET), at most
LIMIT_MAX rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.api.types import encode_cursor
from app.areas.services import STORED_LANGUAGE, category_index
from app.contributions.queries import with_category
from app.db import db
from app.errors import FieldError, ValidationFailed
from app.ogc import schemas
from app.ogc.collections import Collection
from app.ogc.cql import CqlError, to_sql
from app.ogc.schemas import CRS84, EPSG_2154, SRIDS
from geo.filters import contributions_where

# decimals of the coordinates: CRS84 as the stored Features (6: ~10 cm), Lambert-93 to the mm
DECIMALS = {4326: 6, 2154: 3}
GEOMETRY = b',"geometry":'


class InvalidParameter(ValidationFailed):
    """A parameter the standard says is a 400 (not the JSON API's 422)."""

    status, title = 400, "Bad Request"


def invalid(field: str, code: str, detail: str | None = None, **params) -> InvalidParameter:
    return InvalidParameter([FieldError(field, code, params, detail)])


@dataclass
class Page:
    features: bytes  # the Features, comma-separated, without brackets
    returned: int
    matched: int | None  # on the first page only (a count per page would cost O(n²) to page through)
    cursor: str | None


def _filter(collection: Collection, query: schemas.ItemsQuery) -> tuple[str, dict] | None:
    if not query.filter:
        return None
    try:
        return to_sql(query.filter, collection.queryables, 4326)
    except CqlError as exc:
        raise invalid("filter", "invalid_value", f"CQL2: {exc}.") from None


def _l93_box(column: str, column_l93: str | None) -> str:
    """A Lambert-93 bbox test. The box's edges, straight in metres, are curves in degrees: the
    index's prefilter uses the box densified then transformed, the exact test is metric."""
    box = "ST_MakeEnvelope(:bw, :bs, :be, :bn, 2154)"
    prefilter = f"{column} && ST_Transform(ST_Segmentize({box}, GREATEST(:be - :bw, :bn - :bs) / 64), 4326)"
    exact = f"ST_Intersects({column_l93 or f'ST_Transform({column}, 2154)'}, {box})"
    return f"{prefilter} AND {exact}"


# ---- contributions ----------------------------------------------------------------------------

def _decode_contribution_cursor(value: str) -> tuple[datetime, int]:
    from pydantic import TypeAdapter, ValidationError

    from app.api.types import Cursor

    try:
        return TypeAdapter(Cursor).validate_python(value)
    except ValidationError:
        raise invalid("cursor", "invalid_cursor") from None


def contribution_where(collection: Collection, query: schemas.ContributionItemsQuery) -> tuple[list[str], dict]:
    since, until = query.datetime or (None, None)
    bbox = query.bbox if query.bbox and query.bbox_crs == CRS84 else None
    clauses, params = contributions_where(
        collection.kind, bbox=bbox, category_ids=query.category_ids(), statuses=query.statuses(),
        arrondissements=query.arrondissement, quartiers=query.quartier, since=since, until=until)
    if query.bbox and query.bbox_crs == EPSG_2154:
        clauses.append(_l93_box("c.geom", "c.geom_l93"))
        params.update(zip(("bw", "bs", "be", "bn"), query.bbox, strict=True))
    cql = _filter(collection, query)
    if cql:
        clauses.append(cql[0])
        params.update(cql[1])
    return clauses, params


def _public_feature(row, members: dict | None, l93: bool) -> bytes:
    """A row (feature_json[, category_id][, Lambert-93 geometry]) as the Feature's bytes."""
    feature = row[0] if members is None else with_category(row[0], members[row[1]])
    if l93:  # the geometry is the stored Feature's last member
        feature = feature[:feature.rindex(GEOMETRY)] + GEOMETRY + row[-1] + b"}"
    return feature


def _columns(translated: bool, srid: int) -> str:
    return ("c.feature_json" + (", c.category_id" if translated else "")
            + (f", ST_AsGeoJSON(c.geom_l93, {DECIMALS[2154]})" if srid == 2154 else ""))


def _rollup_count(collection: Collection, query: schemas.ContributionItemsQuery) -> int | None:
    """The exact count of the visible contributions matched, read from `tile_area_counts`
    (kept exact by triggers, keyed by arrondissement, quartier, kind, category and status) when
    no filter needs the rows (no bbox, datetime or CQL2 filter); else None. Counting the rows
    is a scan of every match: 5M reports took ~0.5 s (bench/results/reads.json)."""
    if query.bbox or query.datetime or _filter(collection, query):
        return None
    clauses, params = ["t.kind = :kind"], {"kind": collection.kind}
    for column, values in (("category_id", query.category_ids()), ("status", query.statuses()),
                           ("arrondissement_id", query.arrondissement), ("quartier_id", query.quartier)):
        if values is not None and (values or column == "category_id"):  # an empty category list matches nothing
            clauses.append(f"t.{column} = ANY(:{column})")
            params[column] = list(values)
    return db.rows_as_bytes(f"SELECT coalesce(sum(t.n), 0)::bigint FROM tile_area_counts t "
                            f"WHERE {' AND '.join(clauses)}", params)[0][0]


def contribution_page(collection: Collection, query: schemas.ContributionItemsQuery, lang: str) -> Page:
    """Newest first on (created_at, id), like the JSON API's lists."""
    clauses, params = contribution_where(collection, query)
    matched = None
    if query.cursor is None:
        matched = _rollup_count(collection, query)
        if matched is None:
            # an exact count under the same filters: an index or bitmap scan of the matching rows
            # (~10 ms for every report of the 40k-row extract), bounded by the statement timeout
            matched = db.rows_as_bytes(f"SELECT count(*) FROM contributions c WHERE {' AND '.join(clauses)}",
                                       params)[0][0]
    else:
        clauses.append("(c.created_at, c.id) < (:cursor_at, :cursor_id)")
        params["cursor_at"], params["cursor_id"] = _decode_contribution_cursor(query.cursor)
    srid = SRIDS[query.crs]
    translated = lang != STORED_LANGUAGE
    params["limit"] = query.limit + 1
    # as list_features: the page is chosen on narrow rows, then its Features fetched by ctid
    rows = db.rows_as_bytes(f"""
        SELECT {_columns(translated, srid)} FROM contributions c
        WHERE c.ctid = ANY(ARRAY(
            SELECT c.ctid FROM contributions c WHERE {' AND '.join(clauses)}
            ORDER BY c.created_at DESC, c.id DESC LIMIT :limit))
        ORDER BY c.created_at DESC, c.id DESC
    """, params)
    page = rows[: query.limit]
    cursor = None
    if len(rows) > query.limit:
        last = json.loads(page[-1][0])
        cursor = encode_cursor(datetime.fromisoformat(last["properties"]["created_at"]), last["id"])
    members = category_index().members_in(lang, raw=True) if translated else None
    features = b",".join([_public_feature(r, members, srid == 2154) for r in page])
    return Page(features, len(page), matched, cursor)


def contribution_item(collection: Collection, item_id: int, crs: str, lang: str) -> bytes | None:
    srid = SRIDS[crs]
    translated = lang != STORED_LANGUAGE
    rows = db.rows_as_bytes(f"""
        SELECT {_columns(translated, srid)} FROM contributions c
        WHERE c.id = :id AND c.kind = :kind AND NOT c.hidden AND c.withdrawn_at IS NULL
    """, {"id": item_id, "kind": collection.kind})
    if not rows:
        return None
    members = category_index().members_in(lang, raw=True) if translated else None
    return _public_feature(rows[0], members, srid == 2154)


def temporal_extent(session: Session, kind: str) -> list[str | None]:
    """[first, last] publication of the collection's public contributions (two index reads)."""
    visible = "kind = :kind AND NOT hidden AND withdrawn_at IS NULL"
    first, last = session.execute(text(f"""
        SELECT (SELECT created_at FROM contributions WHERE {visible} ORDER BY created_at LIMIT 1),
               (SELECT created_at FROM contributions WHERE {visible} ORDER BY created_at DESC LIMIT 1)
    """), {"kind": kind}).one()
    return [first.isoformat() if first else None, last.isoformat() if last else None]


# ---- arrondissements and quartiers ------------------------------------------------------------

AREA_ID_MAX = 1000


def _area_feature_sql(collection: Collection, srid: int) -> str:
    geom = "a.geom" if srid == 4326 else f"ST_Transform(a.geom, {srid})"
    level = collection.table[:-1]
    extra = ", 'arrondissement', a.arrondissement_id" if level == "quartier" else ""
    return f"""json_build_object(
        'type', 'Feature', 'id', a.id,
        'properties', json_build_object('level', '{level}'::text, 'code', a.id, 'insee_code', a.insee_code,
            'name', a.name, 'area_km2', round((a.area_m2 / 1e6)::numeric, 3){extra}),
        'geometry', ST_AsGeoJSON({geom}, {DECIMALS[srid]})::json)::text"""


def area_page(collection: Collection, query: schemas.ItemsQuery) -> Page:
    """By number (code), in pages; 100 polygons at most exist, so every filter is cheap."""
    clauses, params = ["TRUE"], {}
    if query.bbox and query.bbox_crs == CRS84:
        clauses.append("ST_Intersects(a.geom, ST_MakeEnvelope(:bw, :bs, :be, :bn, 4326))")
    elif query.bbox:
        clauses.append(_l93_box("a.geom", None))
    if query.bbox:
        params.update(zip(("bw", "bs", "be", "bn"), query.bbox, strict=True))
    if getattr(query, "arrondissement", None):
        clauses.append("a.arrondissement_id = ANY(:arrondissements)")
        params["arrondissements"] = list(query.arrondissement)
    cql = _filter(collection, query)
    if cql:
        clauses.append(cql[0])
        params.update(cql[1])
    table = collection.table
    matched = None
    if query.cursor is None:
        matched = db.rows_as_bytes(f"SELECT count(*) FROM {table} a WHERE {' AND '.join(clauses)}", params)[0][0]
    else:
        if not query.cursor.isdigit() or not 0 < int(query.cursor) <= AREA_ID_MAX:
            raise invalid("cursor", "invalid_cursor")
        clauses.append("a.id > :after")
        params["after"] = int(query.cursor)
    params["limit"] = query.limit + 1
    rows = db.rows_as_bytes(f"""
        SELECT a.id, {_area_feature_sql(collection, SRIDS[query.crs])} FROM {table} a
        WHERE {' AND '.join(clauses)} ORDER BY a.id LIMIT :limit
    """, params)
    page = rows[: query.limit]
    cursor = str(page[-1][0]) if len(rows) > query.limit else None
    return Page(b",".join(r[1] for r in page), len(page), matched, cursor)


def area_item(collection: Collection, item_id: int, crs: str) -> bytes | None:
    rows = db.rows_as_bytes(f"SELECT {_area_feature_sql(collection, SRIDS[crs])} FROM {collection.table} a "
                            "WHERE a.id = :id", {"id": item_id})
    return rows[0][0] if rows else None


# ---- volunteer missions -----------------------------------------------------------------------

# the public missions (app.missions.services.public_clause), each with its places as one
# MultiPoint (NULL for a remote mission without any), the arrondissements of its places and
# its next slot open to sign-ups (a dated slot not started, an open period not ended)
MISSIONS_SQL = """
    SELECT m.id, m.title, m.domain, m.remote, m.status, m.updated_at, o.id AS organisation_id,
           o.name AS organisation,
           (SELECT ST_Multi(ST_Collect(p.geom ORDER BY p.seq)) FROM mission_places p
            WHERE p.mission_id = m.id) AS geom,
           ARRAY(SELECT DISTINCT p.arrondissement_id::int FROM mission_places p
                 WHERE p.mission_id = m.id AND p.arrondissement_id IS NOT NULL ORDER BY 1) AS arrs,
           ns.starts_at AS next_slot, coalesce(ns.remaining, 0) AS remaining
    FROM missions m JOIN organisations o ON o.id = m.organisation_id
    LEFT JOIN LATERAL (
        SELECT s.starts_at, s.capacity - s.taken AS remaining FROM mission_slots s
        WHERE s.mission_id = m.id AND m.status IN ('published', 'full')
          AND CASE WHEN m.schedule = 'open_period' THEN s.ends_at IS NULL OR s.ends_at > now()
                   ELSE s.starts_at > now() END
        ORDER BY s.starts_at LIMIT 1) ns ON true
    WHERE o.status = 'verified' AND m.status IN ('published', 'full', 'closed', 'cancelled')
"""


def _mission_feature_sql(srid: int) -> str:
    geom = "m.geom" if srid == 4326 else f"ST_Transform(m.geom, {srid})"
    return f"""json_build_object(
        'type', 'Feature', 'id', m.id,
        'properties', json_build_object('title', m.title, 'domain', m.domain, 'remote', m.remote,
            'status', m.status, 'organisation', m.organisation, 'organisation_id', m.organisation_id,
            'next_slot', m.next_slot, 'remaining', m.remaining, 'arrondissements', m.arrs,
            'updated_at', m.updated_at, 'url', CAST(:base AS text) || '/missions/' || m.id),
        'geometry', ST_AsGeoJSON({geom}, {DECIMALS[srid]})::json)::text"""


def _base() -> str:
    from flask import current_app

    return current_app.config["PUBLIC_URL"]


def mission_page(collection: Collection, query: schemas.MissionItemsQuery) -> Page:
    """By id, in pages (keyset on id)."""
    clauses, params = ["TRUE"], {"base": _base()}
    if query.bbox:
        box = ("ST_Intersects(p.geom, ST_MakeEnvelope(:bw, :bs, :be, :bn, 4326))" if query.bbox_crs == CRS84
               else _l93_box("p.geom", None))
        clauses.append(f"EXISTS (SELECT 1 FROM mission_places p WHERE p.mission_id = m.id AND {box})")
        params.update(zip(("bw", "bs", "be", "bn"), query.bbox, strict=True))
    for name in ("domain", "remote", "status"):
        if getattr(query, name):
            clauses.append(f"m.{name} = ANY(:{name})")
            params[name] = list(getattr(query, name))
    if query.arrondissement:
        clauses.append("m.arrs && CAST(:arrondissements AS int[])")
        params["arrondissements"] = list(query.arrondissement)
    cql = _filter(collection, query)
    if cql:
        # `arrondissement` is each of the places' (x.arr): the filter holds for one of them
        clauses.append("EXISTS (SELECT 1 FROM unnest(CASE WHEN cardinality(m.arrs) = 0 THEN ARRAY[NULL::int] "
                       f"ELSE m.arrs END) x(arr) WHERE {cql[0]})")
        params.update(cql[1])
    matched = None
    if query.cursor is None:
        matched = db.rows_as_bytes(f"SELECT count(*) FROM ({MISSIONS_SQL}) m WHERE {' AND '.join(clauses)}",
                                   params)[0][0]
    else:
        if not query.cursor.isdigit() or len(query.cursor) > 18:
            raise invalid("cursor", "invalid_cursor")
        clauses.append("m.id > :after")
        params["after"] = int(query.cursor)
    params["limit"] = query.limit + 1
    rows = db.rows_as_bytes(f"""
        SELECT m.id, {_mission_feature_sql(SRIDS[query.crs])} FROM ({MISSIONS_SQL}) m
        WHERE {' AND '.join(clauses)} ORDER BY m.id LIMIT :limit
    """, params)
    page = rows[: query.limit]
    cursor = str(page[-1][0]) if len(rows) > query.limit else None
    return Page(b",".join(r[1] for r in page), len(page), matched, cursor)


def mission_item(item_id: int, crs: str) -> bytes | None:
    rows = db.rows_as_bytes(f"SELECT {_mission_feature_sql(SRIDS[crs])} FROM ({MISSIONS_SQL}) m WHERE m.id = :id",
                            {"id": item_id, "base": _base()})
    return rows[0][0] if rows else None


def page(collection: Collection, query: schemas.ItemsQuery, lang: str) -> Page:
    if collection.kind:
        return contribution_page(collection, query, lang)
    if collection.table == "missions":
        return mission_page(collection, query)
    return area_page(collection, query)


def item(collection: Collection, item_id: int, crs: str, lang: str) -> bytes | None:
    if collection.kind:
        return contribution_item(collection, item_id, crs, lang)
    if collection.table == "missions":
        return mission_item(item_id, crs)
    return area_item(collection, item_id, crs)
