"""Loading and reading the reference data (areas, categories, addresses)."""

from __future__ import annotations

import csv
import gzip
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.areas.models import Category, Service
from geo.areas import ARRONDISSEMENTS_FILE, DATA_DIR, QUARTIERS_FILE, read_features
from geo.text import fold

CATEGORIES_FILE = DATA_DIR / "categories.json"
ADDRESSES_FILE = DATA_DIR / "adresses-75.csv.gz"
# the language of the category labels in the stored Feature text (migration a0b1c2d00007)
STORED_LANGUAGE = "fr"


def load_areas(session: Session) -> tuple[int, int]:
    """Upsert the 20 arrondissements and 80 quartiers from the shipped GeoJSON files."""
    upsert = """
        INSERT INTO {table} (id, insee_code, name, area_m2, geom{extra_cols})
        VALUES (:id, :insee, :name, :area, ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(:geom), 4326)){extra_vals})
        ON CONFLICT (id) DO UPDATE SET insee_code = EXCLUDED.insee_code, name = EXCLUDED.name,
            area_m2 = EXCLUDED.area_m2, geom = EXCLUDED.geom{extra_set}
    """
    arr = read_features(ARRONDISSEMENTS_FILE)
    session.execute(
        text(upsert.format(table="arrondissements", extra_cols="", extra_vals="", extra_set="")),
        [
            {
                "id": f["properties"]["c_ar"],
                "insee": f["properties"]["c_arinsee"],
                "name": f["properties"]["l_aroff"],
                "area": f["properties"]["surface"],
                "geom": json.dumps(f["geometry"]),
            }
            for f in arr
        ],
    )
    qu = read_features(QUARTIERS_FILE)
    session.execute(
        text(
            upsert.format(
                table="quartiers",
                extra_cols=", arrondissement_id",
                extra_vals=", :arr",
                extra_set=", arrondissement_id = EXCLUDED.arrondissement_id",
            )
        ),
        [
            {
                "id": f["properties"]["c_qu"],
                "insee": f["properties"]["c_quinsee"],
                "name": f["properties"]["l_qu"],
                "area": f["properties"]["surface"],
                "arr": f["properties"]["c_ar"],
                "geom": json.dumps(f["geometry"]),
            }
            for f in qu
        ],
    )
    session.execute(text("""
        DELETE FROM quartier_parts;
        INSERT INTO quartier_parts (quartier_id, arrondissement_id, geom)
        SELECT id, arrondissement_id, ST_Subdivide(geom, 64) FROM quartiers;
        ANALYZE quartier_parts;
        SELECT quartier_cells_rebuild();  -- the grid that locates most points without geometry
    """))
    session.flush()
    return len(arr), len(qu)


AGENT_ONLY = re.compile(r"\[réservé ", re.IGNORECASE)  # as the administration migration


def load_categories(session: Session, path: Path = CATEGORIES_FILE) -> int:
    """Add the services and categories of the reference file that are missing (by code).
    Returns the number of categories added. What exists is the admins' (/admin: labels,
    tree, services, flags) and is left as it is; so `make run` can load the file each time.
    A sub-type DansMaRue labels "[réservé agents …]" starts agent-only."""
    data = json.loads(path.read_text(encoding="utf-8"))
    services = {s.code: s for s in session.scalars(select(Service))}
    for s in data["services"]:
        if s["code"] not in services:
            services[s["code"]] = Service(code=s["code"], name_fr=s["name_fr"], name_en=s["name_en"])
            session.add(services[s["code"]])
    session.flush()
    existing = {c.code: c for c in session.scalars(select(Category))}
    count = 0

    def upsert(node: dict, kind: str, parent: Category | None, service: Service | None) -> Category:
        nonlocal count
        if node["code"] in existing:
            return existing[node["code"]]
        cat = Category(
            code=node["code"], kind=kind, parent_id=parent.id if parent else None,
            label_fr=node["label_fr"], label_en=node.get("label_en") or node["label_fr"],
            source_label=node.get("source_label"), position=node.get("position", 0),
            service_id=service.id if service else None,
            agent_only=bool(AGENT_ONLY.search(node["label_fr"])),
        )
        session.add(cat)
        count += 1
        return cat

    for kind in ("report", "proposal"):
        for top in data[kind]:
            service = services.get(top.get("service"))
            parent = upsert(top, kind, None, service)
            session.flush()
            for child in top.get("children", []):
                upsert(child, kind, parent, service)
    session.flush()
    reset_category_index()
    return count


@dataclass(frozen=True)
class Cat:
    id: int
    code: str
    kind: str
    parent_id: int | None
    label_fr: str
    label_en: str
    source_label: str | None
    position: int
    service: dict | None
    agent_only: bool = False
    sensitive: bool = False
    active: bool = True


class CategoryIndex:
    """The category tree in memory (a few hundred rows, read on every filter)."""

    def __init__(self, rows: list[Cat], members: dict[str, dict[int, str]] | None = None):
        self.by_code = {c.code: c for c in rows}
        self.by_id = {c.id: c for c in rows}
        self.by_source = {(c.kind, c.source_label): c for c in rows if c.source_label}
        self.children: dict[int, list[Cat]] = {}
        # lang -> id -> the `"category":{…}` member of a Feature, as category_feature_member()
        # writes it in the stored Feature text (in STORED_LANGUAGE)
        self.members = members or {}
        self._encoded: dict[str, dict[int, bytes]] = {}
        for c in sorted(rows, key=lambda c: (c.position, c.code)):
            if c.parent_id:
                self.children.setdefault(c.parent_id, []).append(c)

    def members_in(self, lang: str, raw: bool = False) -> dict[int, str | bytes] | None:
        """id -> the `"category":{…}` member in `lang` (bytes when `raw`), or None when the
        stored Feature text is already in `lang`."""
        if lang == STORED_LANGUAGE:
            return None
        members = self._encoded.get(lang) if raw else self.members[lang]
        if members is None:
            members = self._encoded[lang] = {id_: m.encode() for id_, m in self.members[lang].items()}
        return members

    def subtree_ids(self, code: str, kind: str | None = None) -> list[int] | None:
        """Ids of a category and its sub-categories, or None if the code is unknown."""
        cat = self.by_code.get(code)
        if cat is None or (kind and cat.kind != kind):
            return None
        return [cat.id] + [c.id for c in self.children.get(cat.id, [])]

    def tree(self, kind: str, counts: dict[int, int] | None = None) -> list[dict]:
        """The tree of a kind, with each category's `recent_count` from `counts` (id ->
        contributions; a top category adds its sub-categories')."""
        counts = counts or {}

        def node(c: Cat) -> dict:
            children = [node(k) for k in self.children.get(c.id, [])]
            labels = {"fr": c.label_fr, "en": c.label_en}
            return {
                "code": c.code,
                "label": labels,
                "short_label": {lang: short_label(text) for lang, text in labels.items()},
                "description": {lang: unbracketed(text) for lang, text in labels.items()},
                "service": c.service,
                "agent_only": c.agent_only,
                "sensitive": c.sensitive,
                "active": c.active,
                "recent_count": counts.get(c.id, 0) + sum(k["recent_count"] for k in children),
                "children": children,
            }

        tops = [c for c in self.by_id.values() if c.kind == kind and c.parent_id is None]
        return [node(c) for c in sorted(tops, key=lambda c: (c.position, c.code))]


# DansMaRue's agent-only marks, in both languages: "[réservé agents DPE-STPP] ",
# "[Réservé DPE-STPP-DT] ", "[DPE-STPP staff only] ", "[DPE-STPP only] " (the agent_only
# flag says it, without the service's acronym)
AGENT_MARK = re.compile(r"\[(?:r[ée]serv[ée][^\]]*|[^\]]*\bonly)\]\s*", re.IGNORECASE)
# "Escaliers : Marche dangereuse", "Stairs: dangerous step": a group, then the sub-type
GROUP_SEPARATOR = re.compile(r"\s*:\s+")


def unbracketed(label: str) -> str:
    """The label without its agent-only mark."""
    return AGENT_MARK.sub("", label).strip()


def short_label(label: str) -> str:
    """What a person scans a list for: without the agent-only mark nor the group that
    precedes a colon (which the description keeps), with a capital."""
    short = GROUP_SEPARATOR.split(unbracketed(label), maxsplit=1)[-1]
    return short[:1].upper() + short[1:]


# contributions per category, per kind: (when read, id -> count); a count that is minutes
# old orders a list as well as a fresh one
_counts: dict[str, tuple[float, dict[int, int]]] = {}
COUNTS_SECONDS = 600.0


RANKING_MIN = 1000  # fewer contributions than this in the last 12 months: rank on all of them


def recent_counts(session: Session, kind: str) -> dict[int, int]:
    """Contributions per category in the last 12 months, or over all time when the year holds
    fewer than RANKING_MIN (a demo's extract that ends earlier, and a few new ones since,
    still ranks by what residents report), read at most every COUNTS_SECONDS per process (one
    pass over a year of the kind: ~70 ms for 40,000 reports)."""
    read = _counts.get(kind)
    if read and time.monotonic() - read[0] < COUNTS_SECONDS:
        return read[1]
    query = """
        SELECT category_id, count(*) FROM contributions
        WHERE kind = :kind AND NOT hidden AND withdrawn_at IS NULL {since}
        GROUP BY category_id
    """
    counts = dict(session.execute(text(query.format(since="AND created_at > now() - interval '12 months'")),
                                  {"kind": kind}).all())
    if sum(counts.values()) < RANKING_MIN:
        counts = dict(session.execute(text(query.format(since="")), {"kind": kind}).all())
    _counts[kind] = (time.monotonic(), counts)
    return counts


_index: CategoryIndex | None = None
_services: frozenset[str] | None = None
_version: int | None = None
_checked_at = 0.0
# how long a process trusts its tree before it reads catalogue_version again (one primary-key
# read): an admin's change reaches every gunicorn worker within this time
RECHECK_SECONDS = 1.0


def _current(session: Session | None) -> Session | None:
    """Drop this process's tree and services when catalogue_version moved (every change to
    categories or services bumps it, in its transaction). Returns the session used, if any."""
    global _index, _services, _version, _checked_at
    now = time.monotonic()
    if _index is not None and now - _checked_at < RECHECK_SECONDS:
        return session
    if session is None:
        from app.db import db

        session = db.session
    version = session.scalar(text("SELECT version FROM catalogue_version"))
    _checked_at = now
    if version != _version:
        _index = _services = None
        _version = version
    return session


def category_index(session: Session | None = None) -> CategoryIndex:
    """The tree, read once per process and again when an admin changed it (catalogue_version,
    checked at most every RECHECK_SECONDS); without a session it is read through the
    request's (a hot path that found it fresh creates none)."""
    global _index
    session = _current(session)
    if _index is None:
        if session is None:
            from app.db import db

            session = db.session
        rows, members = [], {"fr": {}, "en": {}}
        for c, member_fr, member_en in session.execute(select(
            Category,
            func.category_feature_member(Category.code, Category.label_fr),
            func.category_feature_member(Category.code, Category.label_en),
        )):
            rows.append(Cat(
                c.id, c.code, c.kind, c.parent_id, c.label_fr, c.label_en, c.source_label,
                c.position,
                {"code": c.service.code, "name": {"fr": c.service.name_fr, "en": c.service.name_en}}
                if c.service else None,
                c.agent_only, c.sensitive, c.disabled_at is None,
            ))
            members["fr"][c.id], members["en"][c.id] = member_fr, member_en
        _index = CategoryIndex(rows, members)
    return _index


def service_codes(session: Session | None = None) -> frozenset[str]:
    """Every service's code, read as the tree is."""
    global _services
    session = _current(session)
    if _services is None:
        if session is None:
            from app.db import db

            session = db.session
        _services = frozenset(session.scalars(select(Service.code)))
    return _services


def reset_category_index() -> None:
    """Read the tree (and the counts) again at the next use (this process; others follow
    catalogue_version)."""
    global _index, _services, _checked_at
    _index = _services = None
    _checked_at = 0.0
    _counts.clear()


# BAN's repetition indices, written out as the BAN and the post write them ("1 bis")
REPETITIONS = {"b": "bis", "t": "ter", "q": "quater"}
# a single letter is an address too ("12 a"); any other suffix in the Paris file ("v",
# "bv", "w", "z", "p1", "s2"…: 9,262 points, 70 % beside a plain number of the same street)
# is the city's technical subdivision of a parcel, never written on a door
LETTER = re.compile(r"[a-h]")


def house_number(numero: str, rep: str) -> str | None:
    """The number as written on the door, or None for a technical suffix."""
    rep = rep.strip().lower()
    if not rep:
        return numero
    if rep in REPETITIONS:
        return f"{numero} {REPETITIONS[rep]}"
    return f"{numero} {rep}" if LETTER.fullmatch(rep) else None


def _address_rows(path: Path):
    """(row, number, secondary) for each BAN row: suffixes spelled out; a point with a
    technical suffix as the plain number, secondary when its street has a door of that
    number (it still answers "what is the nearest address here")."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    doors = set()
    technical = []
    for row in rows:
        number = house_number(row["numero"], row["rep"])
        if number is None:
            technical.append(row)
            continue
        doors.add((row["nom_voie"], row["code_postal"], row["numero"]))
        yield row, number, False
    for row in technical:
        key = (row["nom_voie"], row["code_postal"], row["numero"])
        yield row, row["numero"], key in doors
        doors.add(key)


def load_addresses(session: Session, path: Path = ADDRESSES_FILE) -> int:
    """(Re)load the BAN file with COPY, then the streets. Returns the number of addresses."""
    conn = session.connection().connection.driver_connection
    session.execute(text("TRUNCATE addresses"))
    with conn.cursor() as cur, cur.copy(
        "COPY addresses (id, number, street, postcode, insee_code, label, search, geom, secondary) "
        "FROM STDIN"
    ) as copy:
        n = 0
        for row, number, secondary in _address_rows(path):
            label = f"{number} {row['nom_voie']} {row['code_postal']} Paris"
            copy.write_row(
                (
                    row["id"],
                    number,
                    row["nom_voie"],
                    row["code_postal"],
                    int(row["code_insee"]),
                    label,
                    fold(label),
                    f"SRID=4326;POINT({row['lon']} {row['lat']})",
                    secondary,
                )
            )
            n += 1
    session.execute(text("ANALYZE addresses"))
    load_streets(session)
    return n


def load_streets(session: Session) -> int:
    """(Re)build the streets from the addresses: one per name and postcode, at the number
    nearest the centroid of its numbers (on the street, where a curved quai's centroid is in
    the Seine), with the extent of its numbers. Returns the number of streets."""
    names = list(session.scalars(text("SELECT DISTINCT street FROM addresses")))
    session.execute(text("TRUNCATE streets"))
    session.execute(
        text("""
        INSERT INTO streets (id, name, postcode, label, search, numbers, geom, extent)
        SELECT DISTINCT ON (a.street, a.postcode)
               -- the BAN street key (the address id without its number: "75103_8083_00012_b")
               -- and the postcode: the 16th's key spans 75016 and 75116
               split_part(a.id, '_', 1) || '_' || split_part(a.id, '_', 2) || '_' || a.postcode,
               a.street, a.postcode, a.street || ' ' || a.postcode || ' Paris', f.folded,
               g.numbers, a.geom, g.extent
        FROM addresses a
        JOIN (SELECT street, postcode, count(*) AS numbers, ST_Centroid(ST_Collect(geom)) AS centre,
                     ST_Envelope(ST_Collect(geom)) AS extent
              FROM addresses WHERE NOT secondary GROUP BY street, postcode) g USING (street, postcode)
        JOIN unnest(CAST(:names AS text[]), CAST(:folded AS text[])) AS f(street, folded)
          ON f.street = a.street
        WHERE NOT a.secondary
        ORDER BY a.street, a.postcode, a.geom <-> g.centre, a.id
        """),
        {"names": names, "folded": [fold(name) for name in names]},
    )
    session.execute(text("ANALYZE streets"))
    return session.scalar(text("SELECT count(*) FROM streets"))


# candidates taken from each table's trigram index before ranking
STREET_CANDIDATES, ADDRESS_CANDIDATES = 20, 50
# a street whose word-similarity distance is this close to the best street's is offered
# before the house numbers; a farther one after them ("rue de rivoli": Rue de Rivoli at 0,
# Rue de Richelieu at 0.38 comes after 10 Rue de Rivoli)
CLOSE_STREET = 0.15


def geocode(session: Session, q: str, limit: int = 10) -> list[dict]:
    """Streets, squares and addresses best matching free text, accent/case-insensitive and
    typo-tolerant (pg_trgm), best first.

    Without a house number in front, the streets that match about as well as the best one
    come first: the one named exactly as asked (folded; "place de la republique" is the
    square, not "… Dominicaine"), then by word similarity, the shorter name first (the one
    the words describe best), then the longer street; house numbers follow, then the
    streets that match worse. With a number in front ("12 rue de rivoli"), the addresses of
    that number win (12 before 112), then the streets, then the other numbers.
    """
    folded = fold(q)
    if not folded:
        return []
    words = folded.split()
    number = words[0] if words[0].isdigit() else None
    name = " ".join(words[1:]) if number and len(words) > 1 else folded
    # KNN on each trigram GiST index by word-similarity distance (the query against the best
    # matching stretch of each label, so long official names are not penalised)
    rows = session.execute(
        text("""
        WITH s AS (
            SELECT 'street' AS type, id, label, NULL AS number, name AS street, postcode,
                   ST_X(geom) AS lon, ST_Y(geom) AS lat, ST_XMin(extent) AS west,
                   ST_YMin(extent) AS south, ST_XMax(extent) AS east, ST_YMax(extent) AS north,
                   :name <<-> search AS d,
                   (search = :name OR search || ' ' || postcode = :name) AS exact,
                   length(search) AS length, numbers
            FROM streets ORDER BY :name <<-> search LIMIT :streets
        )
        SELECT *, CASE WHEN d <= min(d) OVER () + :close THEN 1 ELSE 3 END AS rank FROM s
        UNION ALL
        SELECT *, CASE WHEN split_part(number, ' ', 1) = :number THEN 0 ELSE 2 END
        FROM (SELECT 'address', id, label, number, street, postcode, ST_X(geom), ST_Y(geom),
                     NULL::float8, NULL::float8, NULL::float8, NULL::float8,
                     :q <<-> search, false, length(search), 1
              FROM addresses WHERE NOT secondary ORDER BY :q <<-> search LIMIT :addresses) a
        ORDER BY rank, exact DESC, d, length, numbers DESC, label, id
        LIMIT :limit
        """),
        {"q": folded, "name": name, "number": number or "", "limit": limit,
         "streets": STREET_CANDIDATES, "addresses": ADDRESS_CANDIDATES, "close": CLOSE_STREET},
    ).mappings()
    return [_street(r) if r["type"] == "street" else _address(r) for r in rows]


def reverse(session: Session, lon: float, lat: float, max_m: float = 100) -> dict | None:
    """The nearest address within max_m metres, nearest in metres (on the spheroid).

    The GiST index on addresses.geom is in degrees, and a degree of longitude is only ~73 km
    in Paris against ~111 km for latitude: ordering by `geom <-> p` picks an address to the
    east or west over a nearer one to the north or south (one pin in seven of the DansMaRue
    extract got another address). So the index only finds the candidates, inside a circle
    of max_m expressed in degrees of longitude (the shorter degree, so the circle covers
    max_m in every direction; 111 km per degree at the equator, a little under the
    spheroid's 111.3, errs wider), and the metric distance chooses.
    """
    row = session.execute(
        text("""
        SELECT a.id, a.label, a.number, a.street, a.postcode, ST_X(a.geom) AS lon,
               ST_Y(a.geom) AS lat, ST_Distance(a.geom::geography, p::geography) AS distance_m
        FROM ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS p
        JOIN addresses a
          ON ST_DWithin(a.geom, p, :max_m / (111000 * cos(radians(:lat))))
         AND ST_DWithin(a.geom::geography, p::geography, :max_m)
        ORDER BY distance_m, a.id
        LIMIT 1
        """),
        {"lon": lon, "lat": lat, "max_m": max_m},
    ).mappings().first()
    if row is None:
        return None
    out = _address(row)
    out["properties"]["distance_m"] = round(row["distance_m"], 1)
    return out


def _address(r) -> dict:
    return {
        "type": "Feature",
        "id": r["id"],
        "geometry": {"type": "Point", "coordinates": [round(r["lon"], 6), round(r["lat"], 6)]},
        "properties": {
            "type": "address",
            "label": r["label"],
            "housenumber": r["number"],
            "street": r["street"],
            "postcode": r["postcode"],
        },
    }


def _street(r) -> dict:
    return {
        "type": "Feature",
        "id": r["id"],
        "bbox": [round(r[k], 6) for k in ("west", "south", "east", "north")],
        "geometry": {"type": "Point", "coordinates": [round(r["lon"], 6), round(r["lat"], 6)]},
        "properties": {
            "type": "street",
            "label": r["label"],
            "housenumber": None,
            "street": r["street"],
            "postcode": r["postcode"],
        },
    }


def areas_geojson(session: Session, level: str) -> str:
    """The arrondissements or quartiers as a FeatureCollection, built by PostGIS."""
    table = {"arrondissement": "arrondissements", "quartier": "quartiers"}[level]
    extra = ", 'arrondissement', arrondissement_id" if level == "quartier" else ""
    return session.scalar(
        text(f"""
        SELECT json_build_object('type', 'FeatureCollection', 'features', json_agg(json_build_object(
            'type', 'Feature', 'id', id,
            'geometry', ST_AsGeoJSON(geom, 6)::json,
            'properties', json_build_object('level', CAST(:level AS text), 'code', id, 'insee_code', insee_code,
                'name', name, 'area_km2', round((area_m2 / 1e6)::numeric, 3){extra})
        ) ORDER BY id))::text FROM {table}
        """),
        {"level": level},
    )
