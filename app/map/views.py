"""/api/v1/map/…: the resident map's own data path (clusters, the list beside it, outlines)."""

from __future__ import annotations

import hashlib
import json
import time
from urllib.parse import urlencode

from flask import Blueprint, Response, request, url_for

from app.contributions.queries import encode_cursor
from app.db import db
from app.map import queries
from app.map.schemas import map_query
from app.messages import current_language

bp = Blueprint("map", __name__, url_prefix="/api/v1/map")

GEOJSON = "application/geo+json"


def _timed(started: float) -> str:
    return f"db;dur={(time.perf_counter() - started) * 1000:.1f}"


@bp.get("/clusters")
@db.read_only
def clusters():
    """Counts on a grid sized by zoom (singletons as features), for the bbox and filters."""
    q = map_query(db.session)
    started = time.perf_counter()
    result = queries.clusters(db.session, q.filters, q.bbox, q.zoom)
    body = (
        '{"type":"FeatureCollection","zoom":' + str(q.zoom)
        + ',"cell_m":' + json.dumps(round(result["cell_m"], 2))
        + ',"total":' + str(result["total"])
        + ',"proposals":' + str(result["proposals"])
        + ',"clusters":' + str(result["clusters"])
        + ',"features":[' + result["features"] + "]}"
    )
    return Response(body, mimetype=GEOJSON, headers={"Server-Timing": _timed(started)})


@bp.get("/items")
@db.read_only
def items():
    """The list beside the map: newest first, both kinds, the same filters, a `next` link."""
    q = map_query(db.session)
    started = time.perf_counter()
    prefix = url_for("contributions.photo", name="x")[:-1]  # photos are <prefix><sha256>.jpg
    features, returned, last = queries.items(
        db.session, q.filters, q.bbox, q.limit, current_language(), prefix
    )
    links = []
    if last:
        args = request.args.to_dict()
        args["cursor"] = encode_cursor(*last)
        links.append({"rel": "next", "type": GEOJSON, "href": f"{request.path}?{urlencode(args)}"})
    body = (
        '{"type":"FeatureCollection","numberReturned":' + str(returned)
        + ',"links":' + json.dumps(links) + ',"features":[' + features + "]}"
    )
    return Response(body, mimetype=GEOJSON, headers={"Server-Timing": _timed(started)})


@bp.get("/areas")
@db.read_only
def areas():
    """Arrondissement and quartier outlines, simplified for display; cacheable for a day."""
    body = queries.outlines(db.session)
    etag = hashlib.sha256(body.encode()).hexdigest()[:32]
    response = Response(body, mimetype=GEOJSON,
                        headers={"Cache-Control": "public, max-age=86400"})
    response.set_etag(etag)
    return response.make_conditional(request)
