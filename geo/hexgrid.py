"""Flat-top hexagons in Lambert-93, identical to PostGIS ST_Hexagon / ST_HexagonGrid.

`cell_m` is the distance between the centres of two neighbouring hexagons (the width across
flats); the hexagon's edge (ST_Hexagon's `size`) is cell_m / sqrt(3). Hexagon (i, j) has its
centre at (1.5·size·i, sqrt(3)·size·(j + (i mod 2)/2)). A cell id packs (i, j) as
i · 2^20 + j (j < 2^20 everywhere in metropolitan France at cell_m ≥ 100 m). The SQL twin is
planner_hex_cell() in migration c5a7a7500003; tests check that both agree.
"""

from __future__ import annotations

import math

# the hexbin levels stored per contribution and rolled up (cell_m, metres)
LEVELS = (100, 200, 300, 500, 1000, 2000)
MIN_CELL_M, MAX_CELL_M = 100, 2000
SQRT3 = math.sqrt(3.0)
J_BITS = 20


def snap_level(cell_m: float) -> int:
    """The stored level nearest to `cell_m` on a logarithmic scale (ties go to the finer)."""
    return min(LEVELS, key=lambda m: (abs(math.log(m / cell_m)), m))


def edge(cell_m: float) -> float:
    return cell_m / SQRT3


def hex_ij(x: float, y: float, cell_m: float) -> tuple[int, int]:
    """(i, j) of the hexagon containing the Lambert-93 point (x, y), by cube rounding.

    Python's round() and PostgreSQL's round(float8) both round half to even, so points on an
    edge fall on the same side in both.
    """
    qf = x / (cell_m * SQRT3 / 2)
    rf = y / cell_m - x / (cell_m * SQRT3)
    sf = -qf - rf
    q, r, s = round(qf), round(rf), round(sf)
    dq, dr, ds = abs(q - qf), abs(r - rf), abs(s - sf)
    if dq > dr and dq > ds:
        q = -r - s
    elif dr > ds:
        r = -q - s
    return int(q), int(r + math.floor(q / 2))


def pack(i: int, j: int) -> int:
    return (i << J_BITS) + j


def unpack(cell: int) -> tuple[int, int]:
    return cell >> J_BITS, cell & ((1 << J_BITS) - 1)


def hex_cell(x: float, y: float, cell_m: float) -> int:
    return pack(*hex_ij(x, y, cell_m))


def centre(i: int, j: int, cell_m: float) -> tuple[float, float]:
    s = edge(cell_m)
    return 1.5 * s * i, SQRT3 * s * (j + (i % 2) / 2)


def hexagon(i: int, j: int, cell_m: float) -> list[tuple[float, float]]:
    """The closed ring of hexagon (i, j), counter-clockwise from its left vertex (as ST_Hexagon)."""
    s = edge(cell_m)
    cx, cy = centre(i, j, cell_m)
    h = SQRT3 * s / 2
    ring = [(cx - s, cy), (cx - s / 2, cy - h), (cx + s / 2, cy - h), (cx + s, cy),
            (cx + s / 2, cy + h), (cx - s / 2, cy + h)]
    return ring + ring[:1]
