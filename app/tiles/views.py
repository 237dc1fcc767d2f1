"""Vector tiles at /tiles/{layer}/{z}/{x}/{y}.mvt and their TileJSON 3.0 at /tiles/{layer}.json.

Public data for any map client (MapLibre, QGIS, GDAL): errors are problem documents (/tiles/ is
a machine path in app.errors), CORS is open (no credentials are ever read here).

Caching: `Cache-Control: public, max-age=60`. A tile changes with every new report in it, but
a minute of staleness is harmless on a map, and it lets the browser (and any shared cache)
reuse a tile while the user pans back and forth. After that minute the client revalidates with
the ETag, a hash of the tile's bytes, and gets a 304 without the body (the query still runs:
the hash is of what it returns, so the answer can never be stale beyond the minute).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request

from app.api.contract import parse_standard_query
from app.areas.services import category_index
from app.db import db
from app.errors import NotFound
from app.tiles import services
from app.tiles.schemas import TileQuery, kind_filters
from geo.areas import paris_bbox

bp = Blueprint("tiles", __name__, url_prefix="/tiles")
CACHE_CONTROL = "public, max-age=60"
ATTRIBUTION = "Ville de Paris – opendata.paris.fr (ODbL)"
# the deepest zoom a TileJSON announces: with 4096 units a tile, a unit is ~4 cm at zoom 18;
# clients overzoom beyond it (tiles up to MAX_ZOOM are still served)
TILEJSON_MAXZOOM = 18
GZIP_MIN_BYTES = 256


parse = parse_standard_query  # a bad parameter is a 400 here


def layer_or_404(layer: str) -> str:
    if layer not in services.LAYERS:
        raise NotFound()
    return layer


def open_cors(response: Response) -> Response:
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/<layer>/<int:z>/<int:x>/<int:y>.mvt")
@db.read_only
def tile(layer: str, z: int, x: int, y: int):
    """One tile, gzip-compressed when the client accepts it."""
    layer_or_404(layer)
    if not services.in_matrix(z, x, y):
        raise NotFound()
    query = parse(TileQuery)
    data = services.tile(db.session, layer, z, x, y, kind_filters(query))
    return tile_response(data)


def tile_response(data: bytes) -> Response:
    etag = hashlib.blake2b(data, digest_size=16).hexdigest()
    zipped = request.accept_encodings["gzip"] > 0 and len(data) >= GZIP_MIN_BYTES
    # one ETag per representation (RFC 9110 §8.8.3): the gzip bytes are not the identity's
    tag = f"{etag}-gz" if zipped else etag
    if etag in request.if_none_match or f"{etag}-gz" in request.if_none_match:
        response = Response(status=304)
    else:
        body = gzip.compress(data, compresslevel=6, mtime=0) if zipped else data
        response = Response(body, mimetype=services.MEDIA_TYPE)
        if zipped:
            response.headers["Content-Encoding"] = "gzip"
    response.set_etag(tag)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["Vary"] = "Accept-Encoding"
    return open_cors(response)


@bp.get("/<layer>.json")
@db.read_only
def tilejson(layer: str):
    """The layer's TileJSON 3.0: its URL template (with the request's filters), zooms, fields."""
    layer_or_404(layer)
    query = parse(TileQuery)
    filters = {k: ",".join(v) for k, v in query.model_dump(exclude_none=True).items()
               if k in ("kind", "category", "status")}
    base = current_app.config["PUBLIC_URL"]
    template = f"{base}/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt"
    if filters:
        template += "?" + urlencode(filters, safe=",")
    w, s, e, n = paris_bbox()
    body = {
        "tilejson": "3.0.0",
        "name": f"Cartagora – {layer}",
        "description": DESCRIPTIONS[layer],
        "version": "1.0.0",
        "attribution": ATTRIBUTION,
        "scheme": "xyz",
        "tiles": [template],
        "minzoom": 0,
        "maxzoom": TILEJSON_MAXZOOM,
        "bounds": [w, s, e, n],
        "center": [round((w + e) / 2, 4), round((s + n) / 2, 4), 12],
        "vector_layers": [vector_layer(layer)],
    }
    response = Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")
    response.headers["Cache-Control"] = CACHE_CONTROL
    return open_cors(response)


DESCRIPTIONS = {
    "contributions": "Public reports and proposals of Paris: below zoom "
                     f"{services.SHAPES_ZOOM}, one point per cell of a 16 × 16 grid over each "
                     "tile with its counts; from there on, each contribution as itself (its "
                     "id is the feature id), unless the tile holds more than "
                     f"{services.FEATURES_MAX:,}: then cells again, of about 150 m.",
    "areas": "The 20 arrondissements, and the 80 quartiers administratifs from zoom "
             f"{services.QUARTIERS_ZOOM}, with their count of public contributions.",
    "missions": "Open volunteer missions of verified organisations: one point per place, "
                "at every zoom.",
}


def vector_layer(layer: str) -> dict:
    if layer == "missions":
        fields = {"id": "Number: the mission's id (a mission with several places has several points)",
                  "title": "String", "domain": "String: API Engagement's domain",
                  "remote": "String: no, possible or full",
                  "remaining": "Number: places left on its next slot open to sign-ups"}
    elif layer == "areas":
        fields = {"level": "String: arrondissement or quartier",
                  "number": "Number: the arrondissement (1–20) or quartier (1–80) number",
                  "code": "String: the INSEE code", "name": "String",
                  "count": "Number: public contributions under the filters"}
    else:
        tops = sorted(c.code for c in category_index().by_code.values() if c.parent_id is None)
        fields = {
            "count": f"Number (cells, below zoom {services.SHAPES_ZOOM}): contributions in the cell",
            "reports": "Number (cells): reports in the cell",
            "proposals": "Number (cells): proposals in the cell",
            "top": "String: the top-level category code (cells: the most frequent one)",
            "top_count": "Number (cells): contributions of that top-level category",
            **{f"n_{code}": f"Number (cells): contributions of top-level category {code}"
               for code in tops},
            "kind": f"String (from zoom {services.SHAPES_ZOOM}): report or proposal",
            "category": "String (from zoom 15): the category code",
            "status": "String (from zoom 15): the status code",
            "title": "String (from zoom 15)",
        }
    return {"id": layer, "description": DESCRIPTIONS[layer], "minzoom": 0,
            "maxzoom": TILEJSON_MAXZOOM, "fields": fields}

