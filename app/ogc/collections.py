"""The five collections the OGC API serves, their queryables and their metadata documents.

Each collection names its declared query model (app/ogc/schemas.py) and its queryables: the
whitelist of SQL expressions a CQL2 filter may use (app/ogc/cql.py). Only public columns are
listed: `geom` (for a sensitive category, the coarse public point), never `exact_geom`, never
an author's e-mail; for missions, never a volunteer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

from app.areas.services import category_index
from app.contributions.models import STATUSES
from app.missions.domains import DOMAINS
from app.missions.models import PUBLIC_STATUSES
from app.ogc import schemas
from app.ogc.cql import Queryable


def _subtree(kind: str):
    return lambda code: category_index().subtree_ids(code, kind)


def _contribution_queryables(kind: str) -> dict[str, Queryable]:
    return {q.name: q for q in (
        Queryable("id", "c.id", "integer", "The contribution's id.", minimum=1),
        Queryable("category", "c.category_id", "category",
                  "A category code (`=`, `<>`, `IN`): its sub-categories are included.",
                  subtree=_subtree(kind)),
        Queryable("status", "c.status", "string", "The status.", enum=STATUSES[kind]),
        Queryable("arrondissement", "c.arrondissement_id", "integer", "The arrondissement (1–20).",
                  minimum=1, maximum=20),
        Queryable("quartier", "c.quartier_id", "integer", "The quartier administratif (1–80).",
                  minimum=1, maximum=80),
        Queryable("title", "c.title", "string", "The title."),
        Queryable("created_at", "c.created_at", "timestamp", "When it was published."),
        Queryable("updated_at", "c.updated_at", "timestamp", "When it last changed."),
        Queryable("comments_count", "c.comments_count", "integer", "Public comments.", minimum=0),
        Queryable("photos_count", "c.photos_count", "integer", "Photos.", minimum=0),
        Queryable("geometry", "c.geom", "geometry",
                  "Its place (for a sensitive category, the centre of its 100 m cell)."),
    )}


def _area_queryables(level: str) -> dict[str, Queryable]:
    found = [
        Queryable("code", "a.id", "integer", f"The {level}'s number.", minimum=1),
        Queryable("insee_code", "a.insee_code", "integer", "The INSEE code."),
        Queryable("name", "a.name", "string", "The name."),
        Queryable("geometry", "a.geom", "geometry", "The polygon."),
    ]
    if level == "quartier":
        found.append(Queryable("arrondissement", "a.arrondissement_id", "integer",
                               "Its arrondissement (1–20).", minimum=1, maximum=20))
    return {q.name: q for q in found}


def _mission_queryables() -> dict[str, Queryable]:
    """Over the items query's `m` (app/ogc/services.py): `arrondissement` is `x.arr`, one of
    the mission's places' arrondissements (a filter holds when it holds for one of them)."""
    return {q.name: q for q in (
        Queryable("id", "m.id", "integer", "The mission's id.", minimum=1),
        Queryable("domain", "m.domain", "string", "Its domain (API Engagement's list).", enum=tuple(DOMAINS)),
        Queryable("remote", "m.remote", "string", "On site (`no`), `possible` or `full` remote.",
                  enum=("no", "possible", "full")),
        Queryable("status", "m.status", "string", "Its status.", enum=PUBLIC_STATUSES),
        Queryable("arrondissement", "x.arr", "integer",
                  "The arrondissement of one of its places (1–20).", minimum=1, maximum=20),
        Queryable("title", "m.title", "string", "The title."),
        Queryable("updated_at", "m.updated_at", "timestamp", "When it last changed."),
        Queryable("geometry", "m.geom", "geometry", "Its places (a MultiPoint)."),
    )}


@dataclass(frozen=True)
class Collection:
    id: str
    title: object  # a lazy string: the request's language
    description: object
    query: type[schemas.ItemsQuery]
    queryables: dict[str, Queryable] = field(compare=False)
    kind: str | None = None   # report or proposal: a collection of contributions
    table: str | None = None  # arrondissements, quartiers or missions

    @property
    def temporal(self) -> bool:
        return self.kind is not None


COLLECTIONS = {c.id: c for c in (
    Collection("reports", _l("Reports"), _l("Incident reports by residents (DansMaRue types): "
                                          "public ones only, a sensitive category at the centre "
                                          "of its 100 m cell."),
               schemas.ReportItemsQuery, _contribution_queryables("report"), kind="report"),
    Collection("proposals", _l("Proposals"), _l("Residents' proposals (points, lines, polygons)."),
               schemas.ProposalItemsQuery, _contribution_queryables("proposal"), kind="proposal"),
    Collection("arrondissements", _l("Arrondissements"), _l("The 20 arrondissements of Paris."),
               schemas.ArrondissementItemsQuery, _area_queryables("arrondissement"),
               table="arrondissements"),
    Collection("quartiers", _l("Quartiers"), _l("The 80 quartiers administratifs of Paris."),
               schemas.QuartierItemsQuery, _area_queryables("quartier"), table="quartiers"),
    Collection("missions", _l("Volunteer missions"),
               _l("Volunteer missions of verified organisations, with their places (a MultiPoint; "
                  "none for a remote one), next slot and places left."),
               schemas.MissionItemsQuery, _mission_queryables(), table="missions"),
)}


def queryables_schema(collection: Collection, url: str) -> dict:
    """The collection's queryables as a JSON Schema (Part 3, /req/queryables)."""
    properties = {}
    for q in collection.queryables.values():
        if q.type == "geometry":
            prop = {"format": "geometry-multipoint" if collection.table == "missions"
                    else "geometry-any" if collection.kind == "proposal" or collection.table
                    else "geometry-point"}
        elif q.type == "timestamp":
            prop = {"type": "string", "format": "date-time"}
        elif q.type == "category":
            codes = sorted(c.code for c in category_index().by_code.values() if c.kind == collection.kind)
            prop = {"type": "string", "enum": codes}
        else:
            prop = {"type": q.type}
        if q.enum:
            prop["enum"] = list(q.enum)
        if q.minimum is not None:
            prop["minimum"] = q.minimum
        if q.maximum is not None:
            prop["maximum"] = q.maximum
        properties[q.name] = {"title": q.name, "description": q.description, **prop}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": url,
        "type": "object",
        "title": str(collection.title),
        "properties": properties,
        "additionalProperties": False,
    }
