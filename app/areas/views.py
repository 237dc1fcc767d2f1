"""Reference data: areas, categories, address search."""

from flask import Blueprint, Response, request

from app.areas import services
from app.db import db
from app.errors import FieldError, ValidationFailed
from app.schemas import query_float, query_int

bp = Blueprint("areas", __name__, url_prefix="/api/v1")

GEOJSON = "application/geo+json"


@bp.get("/areas")
@db.read_only
def areas():
    level = request.args.get("level", "arrondissement")
    if level not in ("arrondissement", "quartier"):
        raise ValidationFailed([FieldError("level", "invalid_value")])
    body = services.areas_geojson(db.session, level)
    return Response(body, mimetype=GEOJSON, headers={"Cache-Control": "public, max-age=86400"})


@bp.get("/categories")
@db.read_only
def categories():
    kind = request.args.get("kind", "report")
    if kind not in ("report", "proposal"):
        raise ValidationFailed([FieldError("kind", "invalid_value")])
    return {"kind": kind, "categories": services.category_index(db.session).tree(kind)}


@bp.get("/geocode")
@db.read_only
def geocode():
    q = request.args.get("q", "").strip()
    if not q:
        raise ValidationFailed([FieldError("q", "required")])
    if len(q) > 200:
        raise ValidationFailed([FieldError("q", "too_long", {"max": 200})])
    limit = query_int("limit", default=10, lo=1, hi=50)
    features = services.geocode(db.session, q, limit)
    return {"type": "FeatureCollection", "query": q, "features": features}


@bp.get("/reverse")
@db.read_only
def reverse():
    lon = query_float("lon", lo=-180, hi=180)
    lat = query_float("lat", lo=-90, hi=90)
    feature = services.reverse(db.session, lon, lat)
    return {"type": "FeatureCollection", "features": [feature] if feature else []}
