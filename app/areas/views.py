"""Reference data: areas, categories, address search."""

from flask import Blueprint, Response

from app.api.contract import GEOJSON, Reply, operation
from app.areas import services
from app.areas.schemas import (
    AddressCollection,
    AreaCollection,
    AreasQuery,
    CategoriesQuery,
    CategoryTree,
    GeocodeQuery,
    ReverseQuery,
)
from app.db import db

bp = Blueprint("areas", __name__, url_prefix="/api/v1")
TAGS = ("Reference data",)


@operation(bp, "GET", "/areas", query=AreasQuery, tags=TAGS,
           replies={200: Reply("The polygons, cacheable for a day.", AreaCollection, GEOJSON,
                               ("Cache-Control",))})
@db.read_only
def areas(query: AreasQuery):
    """The arrondissements or quartiers administratifs (Ville de Paris, ODbL)."""
    body = services.areas_geojson(db.session, query.level)
    return Response(body, mimetype=GEOJSON, headers={"Cache-Control": "public, max-age=86400"})


@operation(bp, "GET", "/categories", query=CategoriesQuery, tags=TAGS,
           replies={200: Reply("The category tree.", CategoryTree)})
@db.read_only
def categories(query: CategoriesQuery):
    """The category tree of reports (DansMaRue types and sub-types) or proposals (themes)."""
    counts = services.recent_counts(db.session, query.kind)
    return {"kind": query.kind, "categories": services.category_index(db.session).tree(query.kind, counts)}


@operation(bp, "GET", "/geocode", query=GeocodeQuery, tags=TAGS,
           replies={200: Reply("Streets and addresses, best first.", AddressCollection)})
@db.read_only
def geocode(query: GeocodeQuery):
    """Street and address search in the Base Adresse Nationale (Licence Ouverte)."""
    features = services.geocode(db.session, query.q, query.limit)
    return {"type": "FeatureCollection", "query": query.q, "features": features}


@operation(bp, "GET", "/reverse", query=ReverseQuery, tags=TAGS,
           replies={200: Reply("The nearest address within 100 m, or none.", AddressCollection)})
@db.read_only
def reverse(query: ReverseQuery):
    """The nearest address to a point."""
    feature = services.reverse(db.session, query.lon, query.lat)
    return {"type": "FeatureCollection", "features": [feature] if feature else []}
