"""OGC API – Features at /ogc: Part 1 (core, GeoJSON, HTML, OpenAPI 3.0), Part 2 (CRS), Part 3
(CQL2 text filters, queryables).

Each view parses its declared model (app/ogc/schemas.py), reads through app/ogc/services.py
and answers JSON (GeoJSON for features) or, when `f=html` or the browser prefers it, a page.
Errors are problem documents (app.errors; /ogc/ is a machine path), 400 for a bad parameter.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flask import Blueprint, Response, render_template, request, url_for

from app.api.contract import parse_standard_query
from app.api.types import exists_in_columns
from app.db import db
from app.errors import NotFound
from app.messages import current_language
from app.ogc import schemas, services
from app.ogc.collections import COLLECTIONS, Collection, queryables_schema
from app.ogc.document import GEOJSON, HTML, JSON, OPENAPI_30, SCHEMA_JSON, openapi_document
from geo.areas import paris_bbox

bp = Blueprint("ogc", __name__, url_prefix="/ogc")
TRS = "http://www.opengis.net/def/uri/ISO-8601/0/Gregorian"
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"


parse = parse_standard_query  # a bad parameter is a 400 here


def as_html(query: schemas.OgcQuery) -> bool:
    if query.f:
        return query.f == "html"
    return request.accept_mimetypes.best_match((JSON, GEOJSON, HTML)) == HTML


def here(**changes) -> str:
    """This request's URL with some parameters changed (None removes one)."""
    args = {**request.args.to_dict(), **changes}
    return url_for(request.endpoint, **request.view_args, **{k: v for k, v in args.items() if v is not None},
                   _external=True)


def link(href: str, rel: str, media: str, title: str | None = None) -> dict:
    out = {"href": href, "rel": rel, "type": media}
    if title:
        out["title"] = title
    return out


def self_links(media: str) -> list[dict]:
    return [link(here(f="json"), "self", media, "This document"),
            link(here(f="html"), "alternate", HTML, "This document as HTML")]


def collection_or_404(collection_id: str) -> Collection:
    collection = COLLECTIONS.get(collection_id)
    if collection is None:
        raise NotFound()
    return collection


def answer(body: dict, query: schemas.OgcQuery, template: str, media: str = JSON, **page):
    if as_html(query):
        return render_template(template, doc=body, **page)
    response = Response(json.dumps(body, ensure_ascii=False), mimetype=media)
    return response


@bp.get("/")  # a client given …/ogc/ as the root (registered second: url_for gives /ogc)
@bp.get("")
@db.read_only
def landing():
    """The landing page: what the API serves and where."""
    query = parse(schemas.OgcQuery)
    body = {"title": "Cartagora – OGC API – Features",
            "description": "Public reports, proposals, volunteer missions and the areas of Paris.",
            "links": self_links(JSON) + [
                link(url_for("ogc.api_document", _external=True), "service-desc", OPENAPI_30,
                     "The API definition (OpenAPI 3.0)"),
                link(url_for("ogc.conformance", _external=True), "conformance", JSON, "Conformance classes"),
                link(url_for("ogc.collections", _external=True), "data", JSON, "The collections"),
            ]}
    return answer(body, query, "ogc/landing.html")


@bp.get("/api")
def api_document():
    """The OpenAPI 3.0 document of these endpoints."""
    doc = openapi_document(url_for("ogc.landing", _external=True))
    return Response(json.dumps(doc), mimetype=OPENAPI_30)


@bp.get("/conformance")
def conformance():
    """The conformance classes implemented."""
    query = parse(schemas.OgcQuery)
    return answer({"conformsTo": list(schemas.CONFORMANCE)}, query, "ogc/conformance.html")


def collection_document(collection: Collection) -> dict:
    items = url_for("ogc.items", collection_id=collection.id, _external=True)
    extent = {"spatial": {"bbox": [list(paris_bbox())], "crs": schemas.CRS84}}
    if collection.temporal:
        extent["temporal"] = {"interval": [services.temporal_extent(db.session, collection.kind)], "trs": TRS}
    return {
        "id": collection.id, "title": str(collection.title), "description": str(collection.description),
        "itemType": "feature", "extent": extent,
        "crs": list(schemas.SRIDS), "storageCrs": schemas.STORAGE_CRS,
        "links": [
            link(url_for("ogc.collection", collection_id=collection.id, _external=True), "self", JSON),
            link(items, "items", GEOJSON, "Its features"),
            link(items + "?f=html", "items", HTML, "Its features as HTML"),
            link(url_for("ogc.queryables", collection_id=collection.id, _external=True), QUERYABLES_REL,
                 SCHEMA_JSON, "What a filter may name"),
        ],
    }


@bp.get("/collections")
@db.read_only
def collections():
    """The feature collections."""
    query = parse(schemas.OgcQuery)
    body = {"links": self_links(JSON), "collections": [collection_document(c) for c in COLLECTIONS.values()]}
    return answer(body, query, "ogc/collections.html")


@bp.get("/collections/<collection_id>")
@db.read_only
def collection(collection_id: str):
    """One collection's metadata."""
    c = collection_or_404(collection_id)
    query = parse(schemas.OgcQuery)
    return answer(collection_document(c), query, "ogc/collection.html", collection=c)


@bp.get("/collections/<collection_id>/queryables")
def queryables(collection_id: str):
    """The properties a CQL2 filter may name (a JSON Schema)."""
    c = collection_or_404(collection_id)
    query = parse(schemas.OgcQuery)
    body = queryables_schema(c, here(f=None))
    return answer(body, query, "ogc/queryables.html", SCHEMA_JSON, collection=c)


@bp.get("/collections/<collection_id>/items")
@db.read_only
def items(collection_id: str):
    """A page of a collection's features (bbox, datetime, queryables, CQL2 filter, crs)."""
    c = collection_or_404(collection_id)
    query = parse(c.query)
    page = services.page(c, query, current_language())
    links = self_links(GEOJSON) + [link(url_for("ogc.collection", collection_id=c.id, _external=True),
                                        "collection", JSON, str(c.title))]
    if page.cursor:
        links.append(link(here(cursor=page.cursor, f=None), "next", GEOJSON, "Next page"))
    if as_html(query):
        features = json.loads(b"[" + page.features + b"]")
        return render_template("ogc/items.html", collection=c, features=features, page=page,
                               next_url=page.cursor and here(cursor=page.cursor, f="html"))
    head = {"type": "FeatureCollection", "timeStamp": datetime.now(UTC).isoformat(timespec="seconds")}
    if page.matched is not None:
        head["numberMatched"] = page.matched
    head.update(numberReturned=page.returned, links=links)
    body = json.dumps(head, ensure_ascii=False).encode()[:-1] + b',"features":[' + page.features + b"]}"
    return features_response(body, query.crs)


@bp.get("/collections/<collection_id>/items/<feature_id>")
@db.read_only
def item(collection_id: str, feature_id: str):
    """One feature."""
    c = collection_or_404(collection_id)
    query = parse(schemas.ItemQuery)
    feature = None
    if feature_id.isdigit() and exists_in_columns(int(feature_id)):
        feature = services.item(c, int(feature_id), query.crs, current_language())
    if feature is None:
        raise NotFound()
    if as_html(query):
        return render_template("ogc/item.html", collection=c, feature=json.loads(feature))
    links = self_links(GEOJSON) + [link(url_for("ogc.collection", collection_id=c.id, _external=True),
                                        "collection", JSON, str(c.title))]
    body = b'{"links":' + json.dumps(links).encode() + b"," + feature[1:]
    return features_response(body, query.crs)


def features_response(body: bytes, crs: str) -> Response:
    response = Response(body, mimetype=GEOJSON)
    response.headers["Content-Crs"] = f"<{crs}>"
    return response
