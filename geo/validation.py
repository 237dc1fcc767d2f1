"""Validation of contribution geometries (GeoJSON in WGS84) with shapely."""

from __future__ import annotations

import math

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from geo.areas import paris_boundary
from geo.errors import GeometryError

# "area": a consultation's drawn area (app.consultations)
ALLOWED_TYPES = {"report": ("Point",), "proposal": ("Point", "LineString", "Polygon"), "area": ("Polygon",)}
# a petition: where it is about, a point or an area (app.petitions)
ALLOWED_TYPES["petition"] = ("Point", "Polygon", "MultiPolygon")
# a participatory budget project: where it is, as a proposal (app.budget)
ALLOWED_TYPES["budget_project"] = ("Point", "LineString", "Polygon")
# a volunteer mission's place, an organisation's address, a hotspot's centre (app.missions)
ALLOWED_TYPES["mission"] = ("Point",)
MAX_VERTICES = 5000


def parse_geometry(obj: object, kind: str) -> BaseGeometry:
    """Turn a GeoJSON geometry object into a shapely geometry, or raise GeometryError.

    Checks, in order: present, an object with `type` and `coordinates`, a type allowed for the
    kind, parseable, finite numbers, WGS84 degree ranges, vertex count, validity (no
    self-intersection), inside Paris. Each failure has its own code.
    """
    if obj is None:
        raise GeometryError("geometry_missing")
    if not isinstance(obj, dict) or "type" not in obj or "coordinates" not in obj:
        raise GeometryError("geometry_malformed", {"reason": "type/coordinates"})
    if not _numbers_only(obj["coordinates"]):
        raise GeometryError("geometry_malformed", {"reason": "coordinates must be numbers"})
    gtype = obj["type"]
    if gtype not in ALLOWED_TYPES[kind]:
        raise GeometryError(
            "geometry_type_not_allowed",
            {"kind": kind, "allowed": ALLOWED_TYPES[kind], "type": str(gtype)[:40]},
        )
    try:
        geom = shape(obj)
    except Exception as exc:  # shapely raises several types for bad coordinate arrays
        raise GeometryError("geometry_malformed", {"reason": type(exc).__name__}) from None
    if geom.is_empty:
        raise GeometryError("geometry_malformed", {"reason": "empty"})
    if geom.has_z:  # a position may carry an altitude (RFC 7946 §3.1.1): we keep the map's 2-D
        geom = shapely.force_2d(geom)
    coords = shapely.get_coordinates(geom, include_z=False)
    if not all(math.isfinite(v) for v in coords.ravel()):
        raise GeometryError("coordinates_not_finite")
    lon, lat = coords[:, 0], coords[:, 1]
    if (abs(lon) > 180).any() or (abs(lat) > 90).any():
        raise GeometryError("coordinates_out_of_range")
    if len(coords) > MAX_VERTICES:
        raise GeometryError("geometry_too_complex", {"count": len(coords), "max": MAX_VERTICES})
    if not geom.is_valid:
        raise GeometryError("geometry_invalid", {"reason": explain_validity(geom)})
    check_inside_paris(geom)
    return geom


def _numbers_only(coords: object) -> bool:
    """Nested lists of JSON numbers, nothing else (shapely would take "2.35" or true)."""
    stack = [coords]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, bool) or not isinstance(node, int | float):
            return False
    return True


def check_inside_paris(geom: BaseGeometry) -> None:
    """Raise outside_paris (or coordinates_swapped, the most common mistake) unless covered."""
    boundary = paris_boundary()
    if boundary.covers(geom):
        return
    swapped = shapely.transform(geom, lambda xy: xy[:, ::-1])
    if boundary.covers(swapped):
        raise GeometryError("coordinates_swapped")
    raise GeometryError("outside_paris")


def inside_paris_mask(lons, lats):
    """Vectorised containment test for bulk imports: a boolean array, True inside Paris."""
    # intersects (not contains): a point exactly on the city limit is inside, as with covers()
    return shapely.intersects_xy(paris_boundary(), lons, lats)
