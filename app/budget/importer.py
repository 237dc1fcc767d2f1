"""The city's winning projects (opendata.paris.fr `bp_projets_gagnants`, ODbL) as past cycles.

One cycle per edition (its year), published, `imported`, without phases (their dates are not
in the file); envelopes from "Echelle du Budget participatif" (Paris-wide or the project's
arrondissement) whose amounts are the sum of their winners' budgets (the file gives no
envelope amounts), and whose share for the quartiers populaires is the sum of the winners
there; every row a project `won`, its delivery status mapped from "Avancement du projet".

The file has addresses, not coordinates. Each is geocoded against our BAN index (the
`addresses` table): the exact address (number and street) within the project's
arrondissement first, then the street (its address nearest the mean of the street's
addresses there), else the project is placed at its arrondissement's point on surface with
`geom_approximate`. Two kinds of address are placeholders rather than places: the Hôtel de
Ville, where the file puts every Paris-wide project (they get no place: listed, not on the
map), and the arrondissement's town hall, where it puts projects about the whole
arrondissement (approximate, unless the title names the town hall itself).

Idempotent: a row already imported (source, source_id) is left as it is (a planner's later
delivery updates survive), and only new rows are geocoded.
"""

from __future__ import annotations

import csv
import difflib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.areas.services import REPETITIONS
from app.budget.services import SOURCE, TITLE_MAX
from geo.text import fold

# the file's columns
ID, URL, EDITION, TITLE, THEME = ("Identifiant du projet lauréat", "Lien URL vers le projet lauréat",
                                  "Edition", "Titre du projet lauréat", "Thématique")
DEPARTMENT, BUDGET, SCALE = ("Direction pilote du projet lauréat", "Budget global du projet lauréat",
                             "Echelle du Budget participatif")
ADDRESS, ARRONDISSEMENT, POPULAR, PROGRESS = ("Adresse du projet lauréat", "Arrondissement du projet lauréat",
                                              "Projet en Quartier populaire", "Avancement du projet")
DATES = {"studies_on": "Date de début des études du projet",
         "procedures_on": "Date de lancement des procédures du projet",
         "works_on": "Date de lancement des travaux du projet",
         "delivery_planned_on": "Date prévisonnelle de livraison du projet",  # sic
         "opened_on": "Date d'ouverture du projet au public"}
PARIS_WIDE = "Budget participatif parisien"

# the file's 11 themes -> our proposal themes (data/categories.json)
THEMES = {"Cadre de vie": "espace-public", "Education et jeunesse": "education",
          "Environnement": "vegetalisation", "Culture et patrimoine": "culture",
          "Solidarités": "solidarite", "Sport": "sport", "Prévention et sécurité": "securite",
          "Mobilités": "mobilite", "Propreté": "proprete-cadre-de-vie",
          "Attractivité et emploi": "autre", "Santé": "autre"}
# "Avancement du projet" -> delivery status. FIN (finished, open to the public: every one has
# its opening date) and LIVRAISON (delivery: every one has its planned delivery date, all before
# the file's export in April 2024) are both delivered; "(non démarré)" is a winner not started: no status.
PROGRESS_MAP = {"ETUDES": "studies", "PROCEDURES": "procedures", "TRAVAUX": "works",
                "LIVRAISON": "delivered", "FIN": "delivered", "ABANDONNÉ": "abandoned",
                "(non démarré)": None}
# the rule of each edition's vote, where the reference says it (participation.md: majority
# judgment with 4 grades in 2021); others are recorded as approval without a known limit
BALLOTS = {2021: ("majority_judgment", 4)}

# the town halls: where the file puts projects about a whole arrondissement ("Paris Centre",
# 75123, is the 3e's town hall since 2020); folded "number street"
TOWN_HALLS = {
    1: ("4 place du louvre",), 2: ("8 rue de la banque",), 3: ("2 rue eugene spuller",),
    4: ("2 place baudoyer",), 5: ("21 place du pantheon",), 6: ("78 rue bonaparte",),
    7: ("116 rue de grenelle",), 8: ("3 rue de lisbonne",), 9: ("6 rue drouot",),
    10: ("72 rue du faubourg saint martin",), 11: ("12 place leon blum",),
    12: ("130 avenue daumesnil",), 13: ("1 place d italie",), 14: ("2 place ferdinand brunot",),
    15: ("31 rue peclet",), 16: ("71 avenue henri martin",),
    17: ("16 20 rue des batignolles", "20 rue des batignolles", "16 rue des batignolles"),
    18: ("1 place jules joffrin",), 19: ("5 7 place armand carrel", "7 place armand carrel",
                                          "5 place armand carrel"),
    20: ("6 place gambetta",)}
HOTEL_DE_VILLE = "place de l hotel de ville"
PARIS_CENTRE = (1, 2, 3, 4)

# words of street types and saints as people abbreviate them
ABBREVIATIONS = {"bd": "boulevard", "bld": "boulevard", "boul": "boulevard", "bvd": "boulevard",
                 "av": "avenue", "ave": "avenue", "pl": "place", "r": "rue", "fg": "faubourg",
                 "fbg": "faubourg", "sq": "square", "imp": "impasse", "pass": "passage", "all": "allee",
                 "st": "saint", "ste": "sainte", "qu": "quai", "crs": "cours", "vla": "villa"}
# a house number's suffix as the BAN writes it (rep): bis -> b, ter -> t…
SUFFIXES = {"bis": "b", "ter": "t", "quater": "q", "quinquies": "c"}
_NUMBER = re.compile(r"^(\d+)(bis|ter|quater|[a-z])?$")
# a street type: where an address starts inside a longer text ("école maternelle 31 rue des
# Renaudes", "bibliothèque Faidherbe, 18 rue Faidherbe")
STREET_TYPES = ("rue", "avenue", "boulevard", "place", "quai", "impasse", "passage", "allee", "square",
                "villa", "cite", "cour", "cours", "chemin", "sentier", "porte", "pont", "port", "route",
                "galerie", "rond point", "parvis", "esplanade", "promenade", "voie", "faubourg")
_EMBEDDED = re.compile(r"\b(\d+\s*(?:bis|ter|[a-z])?\s+(?:bis\s+|ter\s+)?(?:" + "|".join(STREET_TYPES) + r")\b.*)")
# small words people put in or leave out of street names ("rue Épinettes", "rue des Épinettes")
ARTICLES = frozenset({"de", "des", "du", "d", "la", "le", "les", "l", "a", "au", "aux"})
# a street found by similarity: at least this close (difflib's ratio) to a BAN street of the
# arrondissement ("rue de louvre" ~ "rue du louvre" 0.92); lower took another street
STREET_SIMILARITY = 0.9


@dataclass
class Summary:
    rows: int = 0
    new: int = 0
    existing: int = 0
    cycles_new: int = 0
    cycles: dict[int, int] = field(default_factory=dict)  # edition -> projects in the file
    located: Counter = field(default_factory=Counter)  # address/street/arrondissement/none (new rows)
    # why projects have no place of their own: no address, a placeholder (the Hôtel de Ville,
    # a town hall), or an address not found
    unplaced: Counter = field(default_factory=Counter)
    unmapped_progress: Counter = field(default_factory=Counter)
    skipped_editions: list[int] = field(default_factory=list)  # a cycle of that year not imported

    def share(self, kind: str) -> float:
        total = sum(self.located.values())
        return self.located[kind] / total if total else 0.0


def parse_month(value: str) -> date | None:
    """"2018-04" -> the first of the month (the file gives months only)."""
    match = re.fullmatch(r"\s*(\d{4})-(\d{2})\s*", value or "")
    if not match:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    return date(year, month, 1) if 2000 <= year <= 2100 and 1 <= month <= 12 else None


def arrondissements_of(code: str) -> tuple[int, ...]:
    """The file's postal-style code: 75001–75020, 75116 (the 16e's second code), 75123 (Paris
    Centre, the 1er–4e merged in 2020)."""
    code = (code or "").strip()
    if code == "75123":
        return PARIS_CENTRE
    if code == "75116":
        return (16,)
    if re.fullmatch(r"750(0[1-9]|1[0-9]|20)", code):
        return (int(code[3:]),)
    return ()


def address_candidates(address: str) -> list[tuple[str | None, str]]:
    """(house number as the BAN writes it, or None; folded street) readings of a free-text
    address: the whole text first, then each part of "A - B" or "A / B"."""
    out = []
    parts = [address] + re.split(r"\s+[-–/]\s+|;|,", address)
    embedded = _EMBEDDED.search(fold(address))
    if embedded:
        parts.append(embedded.group(1))
    for part in parts:
        words = [ABBREVIATIONS.get(w, w) if i == 0 or w in ("st", "ste") else w
                 for i, w in enumerate(fold(part).split())]
        words = [w for w in words if not re.fullmatch(r"75\d{3}|paris", w)]
        number = None
        if words and _NUMBER.match(words[0]):
            digits, letter = _NUMBER.match(words[0]).groups()
            letter = SUFFIXES.get(letter, letter or "")
            words = words[1:]
            while words and re.fullmatch(r"\d+", words[0]):  # "14-16 rue…": the first number
                words = words[1:]
            if words and words[0] in SUFFIXES:
                letter, words = SUFFIXES[words[0]], words[1:]
            # as the addresses are loaded (app.areas.services.house_number): "12 bis", "12 a"
            number = f"{digits} {REPETITIONS.get(letter, letter)}".strip()
        if words:
            words[0] = ABBREVIATIONS.get(words[0], words[0])
            street = " ".join(words)
            if (number, street) not in out:
                out.append((number, street))
    return out


class Geocoder:
    """The BAN addresses of Paris in memory, by arrondissement and folded street (158,048
    addresses, ~0.5 s to read): the importer geocodes a thousand free-text addresses."""

    def __init__(self, session: Session):
        self.streets: dict[int, dict[str, dict[str, tuple[float, float]]]] = defaultdict(dict)
        # the same without the small words: "rue epinettes" -> "rue des epinettes"
        self.bare: dict[int, dict[str, str]] = defaultdict(dict)
        folded: dict[str, str] = {}
        for number, street, insee, lon, lat in session.execute(text(
                "SELECT number, street, insee_code, ST_X(geom), ST_Y(geom) FROM addresses ORDER BY id")):
            key = folded.get(street)
            if key is None:
                key = folded[street] = fold(street)
            arrondissement = insee - 75100
            self.streets[arrondissement].setdefault(key, {})[fold(number)] = (lon, lat)
            self.bare[arrondissement].setdefault(bare(key), key)

    def locate(self, address: str, arrondissements: tuple[int, ...]) -> tuple[str, float, float, str] | None:
        """('address' or 'street', lon, lat, matched "number street") within the arrondissements,
        or None."""
        candidates = address_candidates(address)
        found_street = None
        for number, street in candidates:
            for name, points in self._streets_named(street, arrondissements):
                if number and number in points:
                    return ("address", *points[number], f"{number} {name}")
                if found_street is None:
                    found_street = (name, points)
        if found_street is None:
            return None
        name, points = found_street
        mean_lon = sum(p[0] for p in points.values()) / len(points)
        mean_lat = sum(p[1] for p in points.values()) / len(points)
        lon, lat = min(points.values(), key=lambda p: (p[0] - mean_lon) ** 2 + (p[1] - mean_lat) ** 2)
        return "street", lon, lat, name

    def _streets_named(self, street: str, arrondissements: tuple[int, ...]):
        """The street's addresses in the arrondissements (merged across them): its exact name,
        else the most similar name there."""
        merged: dict[str, tuple[float, float]] = {}
        for arr in arrondissements:
            merged.update(self.streets[arr].get(street, {}))
        if merged:
            yield street, merged
            return
        same = {self.bare[arr][bare(street)] for arr in arrondissements if bare(street) in self.bare[arr]}
        if len(same) == 1:  # the same name but for its small words, and only one such street
            name = same.pop()
            for arr in arrondissements:
                merged.update(self.streets[arr].get(name, {}))
            yield name, merged
            return
        names = {name for arr in arrondissements for name in self.streets[arr]
                 if name.split(" ", 1)[0] == street.split(" ", 1)[0]}
        close = difflib.get_close_matches(street, sorted(names), n=1, cutoff=STREET_SIMILARITY)
        if close:
            for arr in arrondissements:
                merged.update(self.streets[arr].get(close[0], {}))
            yield close[0], merged


def bare(street: str) -> str:
    return " ".join(w for w in street.split() if w not in ARTICLES)


def is_placeholder(address: str, matched: str, title: str, arrondissements: tuple[int, ...]) -> bool:
    """An address standing for "all of Paris" (the Hôtel de Ville) or for the whole
    arrondissement (its town hall: by name, or its address), unless the project is about the
    town hall itself. `matched`: the "number street" (or street) the geocoder found."""
    about = fold(title)
    street = matched.split(" ", 1)[-1] if matched[:1].isdigit() else matched
    if (street.startswith(HOTEL_DE_VILLE) or HOTEL_DE_VILLE in fold(address)) and "hotel de ville" not in about:
        return True
    if "mairie" in about:
        return False
    halls = {hall for arr in arrondissements for hall in TOWN_HALLS.get(arr, ())}
    return "mairie" in fold(address).split() or matched in halls


def read_rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


def run(session: Session, path: Path) -> Summary:
    """Import the file (see the module's docstring); the caller commits."""
    rows = read_rows(path)
    summary = Summary(rows=len(rows))
    known = set(session.scalars(text("SELECT source_id FROM budget_projects WHERE source = :s"),
                                {"s": SOURCE}))
    by_edition: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        by_edition[int(row[EDITION])].append(row)
    summary.cycles = {year: len(items) for year, items in sorted(by_edition.items())}
    geocoder = Geocoder(session) if any(r[ID] not in known for r in rows) else None
    anchors = _anchors(session)
    for year, items in sorted(by_edition.items()):
        cycle_id = _cycle(session, year, summary)
        if cycle_id is None:
            continue
        for row in items:
            if row[ID] in known:
                summary.existing += 1
                continue
            _insert(session, cycle_id, row, geocoder, anchors, summary)
            summary.new += 1
        _amounts(session, cycle_id)
    session.flush()
    return summary


def _anchors(session: Session) -> dict[tuple[int, ...], tuple[float, float]]:
    """Where an approximate project stands: its arrondissement's point on surface (inside it
    whatever its shape), Paris Centre's for the 1er–4e together."""
    out = {(r.id,): (r.lon, r.lat) for r in session.execute(text(
        "SELECT id, ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat "
        "FROM arrondissements"))}
    centre = session.execute(text(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(ST_Union(geom)) AS p FROM arrondissements "
        "WHERE id = ANY(:ids)) x"), {"ids": list(PARIS_CENTRE)}).one()
    out[PARIS_CENTRE] = (centre[0], centre[1])
    return out


def _cycle(session: Session, year: int, summary: Summary) -> int | None:
    row = session.execute(text("SELECT id, imported FROM budget_cycles WHERE year = :y"), {"y": year}).first()
    if row is not None:
        if not row.imported:  # an admin's own cycle of that year: not ours to fill
            summary.skipped_editions.append(year)
            return None
        return row.id
    method, grades = BALLOTS.get(year, ("approval", None))
    summary.cycles_new += 1
    return session.scalar(text("""
        INSERT INTO budget_cycles (year, title, description, ballot_method, grades, status, imported,
                                   published_at)
        VALUES (:y, :t, :d, :m, :g, 'published', true, now()) RETURNING id"""), {
        "y": year, "t": f"Budget participatif {year}", "m": method, "g": grades,
        "d": "Les projets lauréats de cette édition, importés des données ouvertes de la Ville de "
             "Paris (opendata.paris.fr, jeu « bp_projets_gagnants », ODbL)."})


def _envelope(session: Session, cycle_id: int, arrondissement: int | None) -> int:
    found = session.scalar(text("SELECT id FROM budget_envelopes WHERE cycle_id = :c "
                                "AND arrondissement_id IS NOT DISTINCT FROM :a"),
                           {"c": cycle_id, "a": arrondissement})
    if found is not None:
        return found
    return session.scalar(text("""INSERT INTO budget_envelopes (cycle_id, arrondissement_id, amount_cents)
                                  VALUES (:c, :a, 0) RETURNING id"""), {"c": cycle_id, "a": arrondissement})


def _insert(session: Session, cycle_id: int, row: dict, geocoder: Geocoder, anchors: dict,
            summary: Summary) -> None:
    paris_wide = row[SCALE].strip() == PARIS_WIDE
    # the file names 75004 for every Paris-wide project (the Hôtel de Ville): search all Paris
    arrondissements = tuple(range(1, 21)) if paris_wide else arrondissements_of(row[ARRONDISSEMENT])
    title = row[TITLE].strip() or f"Projet lauréat n° {row[ID]}"
    found = geocoder.locate(row[ADDRESS], arrondissements) if row[ADDRESS].strip() else None
    why = None  # why a project has no place of its own
    if not row[ADDRESS].strip():
        why = "no address"
    elif is_placeholder(row[ADDRESS], found[3] if found else "", title, arrondissements):
        why, found = ("Hôtel de Ville" if paris_wide else "town hall"), None
    elif found is None:
        why = "not found"
    if found is None:
        summary.unplaced[why] += 1
    if found is not None:
        located_by, lon, lat = found[0], found[1], found[2]
    elif paris_wide:
        located_by, lon, lat = None, None, None
    else:
        located_by, (lon, lat) = "arrondissement", anchors[arrondissements if len(arrondissements) > 1
                                                           else arrondissements[:1]]
    summary.located[located_by or "none"] += 1
    envelope_arrondissement = None
    if not paris_wide:
        envelope_arrondissement = arrondissements[0]
        if len(arrondissements) > 1:  # Paris Centre: the arrondissement its place is in
            envelope_arrondissement = session.scalar(text(
                "SELECT arrondissement_id FROM locate_point(ST_SetSRID(ST_MakePoint(:x, :y), 4326))"),
                {"x": lon, "y": lat})
    progress = row[PROGRESS].strip()
    if progress not in PROGRESS_MAP:
        summary.unmapped_progress[progress] += 1
    budget = row[BUDGET].strip()
    session.execute(text("""
        INSERT INTO budget_projects (cycle_id, envelope_id, title, theme, source_theme, geom, located_by,
            geom_approximate, address, status, feasibility_cost_cents, delivery_status, studies_on,
            procedures_on, works_on, delivery_planned_on, opened_on, department, popular_quartier,
            source, source_id, source_url, source_progress)
        VALUES (:cycle, :envelope, :title, :theme, :source_theme,
            CASE WHEN CAST(:lon AS float8) IS NOT NULL THEN ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) END,
            :located_by, :approximate, :address, 'won', :cost, :delivery, :studies_on, :procedures_on,
            :works_on, :delivery_planned_on, :opened_on, :department, :popular, :source, :source_id,
            :url, :progress)
        ON CONFLICT (source, source_id) DO NOTHING"""), {
        "cycle": cycle_id, "envelope": _envelope(session, cycle_id, envelope_arrondissement),
        "title": title[:TITLE_MAX], "theme": THEMES.get(row[THEME].strip()), "source_theme": row[THEME].strip() or None,
        "lon": lon, "lat": lat, "located_by": located_by, "approximate": located_by == "arrondissement",
        "address": row[ADDRESS].strip()[:300] or None,
        "cost": int(budget) * 100 if budget.isdigit() else None,
        "delivery": PROGRESS_MAP.get(progress), **{k: parse_month(row[c]) for k, c in DATES.items()},
        "department": row[DEPARTMENT].strip() or None, "popular": row[POPULAR].strip() == "Oui",
        "source": SOURCE, "source_id": row[ID], "url": row[URL].strip() or None, "progress": progress or None})


def _amounts(session: Session, cycle_id: int) -> None:
    """An imported cycle's envelopes hold what their winners cost (the file has no amounts)."""
    session.execute(text("""
        UPDATE budget_envelopes e SET amount_cents = s.total, popular_share_cents = s.popular
        FROM (SELECT envelope_id, coalesce(sum(feasibility_cost_cents), 0) AS total,
                     coalesce(sum(feasibility_cost_cents) FILTER (WHERE popular_quartier), 0) AS popular
              FROM budget_projects WHERE cycle_id = :c GROUP BY envelope_id) s
        WHERE e.id = s.envelope_id"""), {"c": cycle_id})

