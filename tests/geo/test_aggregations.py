"""Hexagon arithmetic, Paris calendar and source choice: no database."""

import math
import random
from datetime import UTC, date, datetime

import pytest

from geo import aggregations as agg
from geo.hexgrid import LEVELS, centre, hex_cell, hex_ij, hexagon, pack, snap_level, unpack


@pytest.mark.parametrize("cell_m", LEVELS)
def test_every_centre_and_near_vertex_point_falls_in_its_hexagon(cell_m):
    rng = random.Random(cell_m)
    for _ in range(300):
        i, j = rng.randrange(3000, 6000), rng.randrange(30000, 70000) // (cell_m // 100)
        x, y = centre(i, j, cell_m)
        assert hex_ij(x, y, cell_m) == (i, j)
        ring = hexagon(i, j, cell_m)
        for vx, vy in ring[:-1]:  # 1 % of the way from each vertex toward the centre
            assert hex_ij(vx + (x - vx) * 0.01, vy + (y - vy) * 0.01, cell_m) == (i, j)


def test_hexagon_ring_matches_st_hexagon():
    # ST_Hexagon(10, 3, 4): POLYGON((35 77.94…, 40 69.28…, 50 69.28…, 55 77.94…, 50 86.60…, 40 86.60…, 35 77.94…))
    ring = hexagon(3, 4, 10 * math.sqrt(3))
    expected = [(35, 77.94228634059948), (40, 69.2820323027551), (50, 69.2820323027551),
                (55, 77.94228634059948), (50, 86.60254037844388), (40, 86.60254037844388)]
    for (x, y), (ex, ey) in zip(ring, expected, strict=False):
        assert x == pytest.approx(ex) and y == pytest.approx(ey)


def test_pack_round_trip_and_levels():
    assert unpack(pack(4321, 68765)) == (4321, 68765)
    assert hex_cell(651234.5, 6862345.5, 200) == pack(*hex_ij(651234.5, 6862345.5, 200))
    assert [snap_level(m) for m in (100, 130, 150, 250, 400, 700, 1500, 2000)] == \
        [100, 100, 200, 300, 500, 500, 2000, 2000]


def test_paris_calendar_around_daylight_saving():
    # 2030-03-31: clocks go from 02:00 CET to 03:00 CEST
    assert agg.paris_day(datetime(2030, 3, 30, 23, 0, tzinfo=UTC)) == date(2030, 3, 31)
    assert agg.paris_day(datetime(2030, 3, 31, 22, 0, tzinfo=UTC)) == date(2030, 4, 1)
    assert agg.paris_day(datetime(2030, 3, 31, 23, 0, tzinfo=UTC)) is None
    assert agg.paris_midnight(date(2030, 10, 27)).utcoffset().total_seconds() == 7200


def test_previous_period():
    f = agg.AggFilters(since=agg.paris_midnight(date(2024, 1, 1)), until=agg.paris_midnight(date(2024, 4, 1)))
    prev = f.previous()
    assert (prev.since_day, prev.until_day) == (date(2023, 10, 1), date(2024, 1, 1))
    f = agg.AggFilters(since=agg.paris_midnight(date(2024, 3, 10)), until=agg.paris_midnight(date(2024, 3, 17)))
    prev = f.previous()
    assert (prev.since_day, prev.until_day) == (date(2024, 3, 3), date(2024, 3, 10))
    assert agg.AggFilters().previous() is None


def test_source_choice():
    paris = agg.paris_midnight
    assert agg.choose_source(agg.AggFilters(), "cell") == "hex"
    assert agg.choose_source(agg.AggFilters(category_ids=[1, 2], type_ids=[1]), "cell") == "hex"
    assert agg.choose_source(agg.AggFilters(category_ids=[2]), "cell") == "facts"  # a sub-type
    assert agg.choose_source(agg.AggFilters(since=paris(date(2024, 1, 1))), "cell") == "facts"
    assert agg.choose_source(agg.AggFilters(since=paris(date(2024, 1, 1))), "quartier") == "month"
    assert agg.choose_source(agg.AggFilters(since=paris(date(2024, 1, 2))), "quartier") == "facts"
    assert agg.choose_source(agg.AggFilters(since=paris(date(2024, 1, 2))), "week") == "day"
    assert agg.choose_source(agg.AggFilters(since=datetime(2024, 1, 2, 5, tzinfo=UTC)), "day") == "facts"
    assert agg.choose_source(agg.AggFilters(bbox=(2.3, 48.8, 2.4, 48.9)), "month") == "raw"
