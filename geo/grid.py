"""The Web-Mercator cell grid the map clusters on and `tile_cells` counts in (pure maths).

Level L cuts the Web-Mercator square (EPSG:3857, ±HALF metres) into 2^L × 2^L cells, x to the
east and y down like XYZ tile rows, so a level-(z + 8) cell is one 256-px tile pixel at zoom z.
The map draws one symbol per cell of level zoom + 2 (64 screen pixels). `tile_cells` stores the
even levels 6…18 (migrations b7c8d9e00014, e7f8a9b00023), so a display level is read from the
nearest stored level at least as fine and its cells are merged by a right shift.

The SQL twin of `cell_of` is the `CELL_SELECT` of migration e7f8a9b00023 (ST_Transform to 3857,
then floor); tests check that both agree.
"""

from __future__ import annotations

import math

HALF = 20037508.342789244  # half the Web-Mercator world's side, metres (ST_TileEnvelope's)
EARTH_RADIUS = 6378137.0  # the sphere of EPSG:3857
STORED_LEVELS = (6, 8, 10, 12, 14, 16, 18)
FINEST = STORED_LEVELS[-1]
DISPLAY_CELL_BITS = 2  # 2^(8 - 2) = 64 px cells on 256-px tiles
PARIS_COS_LAT = math.cos(math.radians(48.8566))


def mercator(lon: float, lat: float) -> tuple[float, float]:
    """EPSG:4326 → EPSG:3857 metres (spherical Mercator, as PostGIS and pyproj compute it)."""
    lat = max(min(lat, 85.0511287798066), -85.0511287798066)
    return (math.radians(lon) * EARTH_RADIUS,
            math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * EARTH_RADIUS)


def lonlat(mx: float, my: float) -> tuple[float, float]:
    """EPSG:3857 metres → (longitude, latitude)."""
    return (math.degrees(mx / EARTH_RADIUS),
            math.degrees(2 * math.atan(math.exp(my / EARTH_RADIUS)) - math.pi / 2))


def cell_side(level: int) -> float:
    """A level's cell side in Web-Mercator metres (not ground metres: see ground_side)."""
    return 2 * HALF / 2**level


def ground_side(level: int) -> float:
    """A level's cell side on the ground in Paris, metres (Mercator stretches by 1 / cos φ)."""
    return cell_side(level) * PARIS_COS_LAT


def cell_of(lon: float, lat: float, level: int) -> tuple[int, int]:
    """(x, y) of the level's cell holding the point; y counts down from the north."""
    mx, my = mercator(lon, lat)
    n = 2**level
    x = math.floor((mx + HALF) / (2 * HALF) * n)
    y = math.floor((HALF - my) / (2 * HALF) * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def cell_range(bbox: tuple[float, float, float, float], level: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1), inclusive: the level's cells a (west, south, east, north) box touches."""
    w, s, e, n = bbox
    x0, y1 = cell_of(w, s, level)
    x1, y0 = cell_of(e, n, level)
    return x0, y0, x1, y1


def cell_bounds(level: int, x: int, y: int) -> tuple[float, float, float, float]:
    """A cell's (west, south, east, north) in degrees: exact, since Mercator's x and y map to
    longitude and latitude separately."""
    side = cell_side(level)
    w, n = lonlat(-HALF + x * side, HALF - y * side)
    e, s = lonlat(-HALF + (x + 1) * side, HALF - (y + 1) * side)
    return w, s, e, n


def display_level(zoom: int) -> int:
    """The grid level the map clusters on at `zoom`: one cell per 64 × 64 screen pixels."""
    return zoom + DISPLAY_CELL_BITS


def stored_level(level: int) -> int | None:
    """The coarsest stored level at least as fine as `level`, or None below the finest."""
    return next((stored for stored in STORED_LEVELS if stored >= level), None)
