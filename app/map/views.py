"""/api/v1/map/…: the resident map's own data path (clusters, the list beside it, outlines)."""

import hashlib
import json
import time
from urllib.parse import urlencode

from flask import Blueprint, Response, request, url_for

from app.api.contract import GEOJSON, Reply, operation
from app.api.types import encode_cursor
from app.db import db
from app.map import queries
from app.map.schemas import (
    MapClusters,
    MapClustersQuery,
    MapItems,
    MapItemsQuery,
    MapOutlines,
    map_filters,
)
from app.messages import current_language

bp = Blueprint("map", __name__, url_prefix="/api/v1/map")
TAGS = ("Map",)


def _timed(started: float) -> str:
    return f"db;dur={(time.perf_counter() - started) * 1000:.1f}"


@operation(bp, "GET", "/clusters", query=MapClustersQuery, tags=TAGS,
           replies={200: Reply("The view's clusters.", MapClusters, GEOJSON, ("Server-Timing",))})
@db.read_only
def clusters(query: MapClustersQuery):
    """Map clusters.

    Reports and proposals together, counted on the Web-Mercator grid of 64-px cells at the
    zoom (cells of the XYZ tile pyramid: clusters stay put while the map pans); a cell with
    one contribution is that contribution. A view whose cells hold more than 5,000
    contributions is summed from stored cells (its `Server-Timing` says `cells`): the cells the
    bbox touches are counted whole, and a cluster's `bbox` is that of the stored cells holding
    its members.
    """
    q = map_filters(query)
    started = time.perf_counter()
    result = queries.clusters(db.session, q.filters, q.bbox, query.zoom)
    body = (
        '{"type":"FeatureCollection","zoom":' + str(query.zoom)
        + ',"cell_m":' + json.dumps(round(result["cell_m"], 2))
        + ',"total":' + str(result["total"])
        + ',"proposals":' + str(result["proposals"])
        + ',"clusters":' + str(result["clusters"])
        + ',"features":[' + result["features"] + "]}"
    )
    timing = f'{_timed(started)};desc="{result["source"]}"'
    return Response(body, mimetype=GEOJSON, headers={"Server-Timing": timing})


@operation(bp, "GET", "/items", query=MapItemsQuery, tags=TAGS,
           replies={200: Reply("A page of contributions.", MapItems, GEOJSON, ("Server-Timing",))})
@db.read_only
def items(query: MapItemsQuery):
    """The list beside the map.

    The same filters as the clusters, both kinds, newest first, with a `next` link.
    """
    q = map_filters(query)
    started = time.perf_counter()
    prefix = url_for("contributions.photo", name="x")[:-1]  # photos are <prefix><sha256>.jpg
    features, returned, last = queries.items(
        db.session, q.filters, q.bbox, query.limit, current_language(), prefix
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


@operation(bp, "GET", "/areas", tags=TAGS,
           replies={200: Reply("The outlines, cacheable for a day.", MapOutlines, GEOJSON,
                               ("Cache-Control", "ETag")),
                    304: Reply("Unchanged since the `ETag` sent in `If-None-Match`.")})
@db.read_only
def areas():
    """Area outlines for the map.

    Arrondissements and quartiers, simplified to 3 m for display; send the `ETag` back in
    `If-None-Match` to get a 304 while they are unchanged.
    """
    body = queries.outlines(db.session)
    etag = hashlib.sha256(body.encode()).hexdigest()[:32]
    response = Response(body, mimetype=GEOJSON,
                        headers={"Cache-Control": "public, max-age=86400"})
    response.set_etag(etag)
    return response.make_conditional(request)
