"""Geometry validation (pure shapely, no database)."""

import math

import pytest

from geo.errors import GeometryError
from geo.validation import MAX_VERTICES, parse_geometry

NOTRE_DAME = [2.3499, 48.8530]


def code_of(geometry, kind="report"):
    with pytest.raises(GeometryError) as exc:
        parse_geometry(geometry, kind)
    return exc.value.code


def test_point_inside_paris_is_accepted():
    geom = parse_geometry({"type": "Point", "coordinates": NOTRE_DAME}, "report")
    assert (geom.x, geom.y) == (2.3499, 48.8530)


def test_proposal_line_and_polygon_are_accepted():
    line = parse_geometry(
        {"type": "LineString", "coordinates": [[2.35, 48.85], [2.36, 48.86]]}, "proposal")
    assert line.length == pytest.approx(math.hypot(0.01, 0.01))
    square = [[2.35, 48.85], [2.351, 48.85], [2.351, 48.851], [2.35, 48.851], [2.35, 48.85]]
    poly = parse_geometry({"type": "Polygon", "coordinates": [square]}, "proposal")
    assert poly.area == pytest.approx(1e-6)


@pytest.mark.parametrize(
    ("geometry", "kind", "code"),
    [
        (None, "report", "geometry_missing"),
        ({"type": "Point"}, "report", "geometry_malformed"),
        ("POINT(2 48)", "report", "geometry_malformed"),
        ({"type": "Point", "coordinates": ["a", "b"]}, "report", "geometry_malformed"),
        ({"type": "Point", "coordinates": []}, "report", "geometry_malformed"),
        ({"type": "LineString", "coordinates": [[2.35, 48.85], [2.36, 48.86]]}, "report",
         "geometry_type_not_allowed"),
        ({"type": "MultiPoint", "coordinates": [NOTRE_DAME]}, "proposal", "geometry_type_not_allowed"),
        ({"type": "Point", "coordinates": [float("nan"), 48.85]}, "report", "coordinates_not_finite"),
        ({"type": "Point", "coordinates": [float("inf"), 48.85]}, "report", "coordinates_not_finite"),
        ({"type": "Point", "coordinates": [200, 48.85]}, "report", "coordinates_out_of_range"),
        ({"type": "Point", "coordinates": [48.8530, 2.3499]}, "report", "coordinates_swapped"),
        ({"type": "Point", "coordinates": [2.2950, 48.7]}, "report", "outside_paris"),
        # Boulogne-Billancourt: inside the Paris bounding box's longitude band, outside Paris
        ({"type": "Point", "coordinates": [2.2400, 48.8350]}, "report", "outside_paris"),
    ],
)
def test_each_failure_has_its_own_code(geometry, kind, code):
    assert code_of(geometry, kind) == code


def test_self_intersecting_polygon_is_refused_with_the_reason():
    bowtie = [[2.35, 48.85], [2.36, 48.86], [2.36, 48.85], [2.35, 48.86], [2.35, 48.85]]
    with pytest.raises(GeometryError) as exc:
        parse_geometry({"type": "Polygon", "coordinates": [bowtie]}, "proposal")
    assert exc.value.code == "geometry_invalid"
    assert "Self-intersection" in exc.value.params["reason"]


def test_too_many_vertices():
    n = MAX_VERTICES + 1
    coords = [[2.30 + 0.08 * i / n, 48.85 + 0.0001 * (i % 2)] for i in range(n)]
    assert code_of({"type": "LineString", "coordinates": coords}, "proposal") == "geometry_too_complex"


def test_line_leaving_paris_is_refused():
    # from the Louvre to La Défense
    line = {"type": "LineString", "coordinates": [[2.3376, 48.8606], [2.2386, 48.8919]]}
    assert code_of(line, "proposal") == "outside_paris"


def test_three_dimensional_positions_lose_their_altitude():
    point = parse_geometry({"type": "Point", "coordinates": [2.3499, 48.853, 35]}, "report")
    assert not point.has_z and (point.x, point.y) == (2.3499, 48.853)
    line = parse_geometry({"type": "LineString",
                           "coordinates": [[2.349, 48.853, 1.5], [2.351, 48.854, 2]]}, "proposal")
    assert not line.has_z and line.coords[1] == (2.351, 48.854)
