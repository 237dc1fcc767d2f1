"""The statistics' declared queries and answers (/api/v1/stats/*, app/planner/views.py).

One filter model (`StatsQuery`) shared by the five endpoints and by the dashboard's exports,
extended per endpoint. Every limit and enum is read from the domain: geo.aggregations (levels,
intervals, groups, sources), geo.hexgrid (cell sizes), app.planner.services (hotspot bounds,
the public's smallest count), app.contributions.models (kinds, statuses).

The answers are serialised by the services (text, GeoJSON built in SQL): these models
document them, they do not validate them at run time.
"""

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from app.api.contract import ApiQuery, Model
from app.api.types import DATE_MAX, DATE_MIN, AnyCategoryCode, BBox, Choice, CommaList, Moment, fail
from app.areas.schemas import LocalizedText
from app.contributions.models import KINDS, STATUS_GROUPS, STATUSES
from app.planner.services import (
    DEFAULT_CELL_M,
    EPS_M,
    FRESHNESS,
    HOTSPOT_DEFAULT_DAYS,
    HOTSPOT_LIMIT,
    MAX_HOTSPOT_DAYS,
    MIN_POINTS,
    PUBLIC_MIN_COUNT,
)
from geo.aggregations import AREA_LEVELS, GROUPS, INTERVALS, MAX_SERIES_PERIODS, TABLES
from geo.hexgrid import LEVELS, MAX_CELL_M, MIN_CELL_M

ARRONDISSEMENTS, QUARTIERS = 20, 80  # numbered from 1
# which table answered (geo.aggregations.TABLES): the choice is only about speed
SOURCES = tuple(TABLES)
CSV_FORMATS = ("csv",)


def _codes(values) -> str:
    return ", ".join(f"`{v}`" for v in values)


STATUS_VALUES = sorted({s for kind in KINDS for s in (*STATUSES[kind], *STATUS_GROUPS[kind])})
GROUP_HELP = "; ".join(f"for {kind}s " + " and ".join(f"`{group}` stands for {_codes(members)}"
                                                   for group, members in STATUS_GROUPS[kind].items())
                       for kind in KINDS if STATUS_GROUPS[kind])


# ---- queries --------------------------------------------------------------------------------

class StatsQuery(ApiQuery):
    """The filters every statistic shares (and the dashboard's exports)."""

    kind: Literal[KINDS] = Field("report", description="Which contributions are counted.")
    category: CommaList(AnyCategoryCode) | None = Field(
        None, description="Category codes of the `kind` (with their sub-categories); others are "
                          "`unknown_category`.")
    status: CommaList(Choice(STATUS_VALUES, code="invalid_status")) | None = Field(
        None, description=f"Statuses of the `kind` ({GROUP_HELP}); others are `invalid_status`.")
    since: Moment | None = Field(
        None, description="Created at or after: an ISO 8601 date-time (UTC when no offset), or "
                          "a date, which starts at midnight in Paris.")
    until: Moment | None = Field(
        None, description="Created before: an ISO 8601 date-time, or a date, which includes "
                          "that whole day in Paris. Must be after `since` (else `empty_period`).")
    arrondissement: CommaList(Annotated[int, Field(ge=1, le=ARRONDISSEMENTS)]) | None = Field(
        None, description="Arrondissement numbers.")
    quartier: CommaList(Annotated[int, Field(ge=1, le=QUARTIERS)]) | None = Field(
        None, description="Quartier administratif numbers.")
    bbox: BBox | None = None

    @field_validator("category")
    @classmethod
    def _known_categories(cls, codes: list[str] | None, info: ValidationInfo):
        kind = info.data.get("kind")
        if codes and kind is not None:
            from app.areas.services import category_index

            index = category_index()  # read once per process
            if any(index.subtree_ids(code, kind) is None for code in codes):
                fail("unknown_category")
        return codes

    @field_validator("status")
    @classmethod
    def _statuses_of_kind(cls, statuses: list[str] | None, info: ValidationInfo):
        kind = info.data.get("kind")
        if statuses and kind is not None:
            if any(s not in STATUSES[kind] and s not in STATUS_GROUPS[kind] for s in statuses):
                fail("invalid_status")
        return statuses


class ReportQuery(StatsQuery):
    """The planner's report (/planner/report.html): the statistics' filters, and whether to
    download it (an attachment) rather than open it in the browser."""

    download: bool = Field(False, description="True: `Content-Disposition: attachment`.")


Format = Choice(CSV_FORMATS, description="`csv`: the items as `text/csv` (an attachment) "
                                         "instead of JSON.")


class HexbinsQuery(StatsQuery):
    cell_m: int = Field(
        DEFAULT_CELL_M, ge=MIN_CELL_M, le=MAX_CELL_M,
        description="The distance between neighbouring hexagon centres, in metres, snapped to "
                    f"the nearest stored level ({', '.join(map(str, LEVELS))}); the answer gives "
                    "the `cell_m_requested` and the `cell_m` used.")
    format: Format | None = None


class AreasQuery(StatsQuery):
    level: Literal[AREA_LEVELS] = Field("arrondissement", description="Arrondissements or quartiers.")
    format: Format | None = None


SERIES_CAP = (
    f"A series has at most {MAX_SERIES_PERIODS:,} periods (every month from {DATE_MIN.year} to "
    f"{DATE_MAX.year}, 3.3 years of days, 23 of weeks): a longer one between `since` and `until` is refused "
    "(`period_too_long` on `since`); without `since` it is the latest ones up to `until` (or "
    "the last contribution), without `until` those from `since`.")


class TimeseriesQuery(StatsQuery):
    interval: Literal[INTERVALS] = Field(
        "week", description="Days, ISO weeks (from Monday) or months of the Europe/Paris "
                            f"calendar. {SERIES_CAP}")
    format: Format | None = None


class HotspotsQuery(StatsQuery):
    eps_m: int = Field(EPS_M[2], ge=EPS_M[0], le=EPS_M[1],
                       description="DBSCAN's neighbourhood radius in metres.")
    min_points: int = Field(
        MIN_POINTS[2], ge=MIN_POINTS[0], le=MIN_POINTS[1],
        description="DBSCAN's minimum number of contributions around a core one; at least "
                    f"{PUBLIC_MIN_COUNT} for the public (else `below_public_minimum`).")
    limit: int = Field(HOTSPOT_LIMIT[2], ge=HOTSPOT_LIMIT[0], le=HOTSPOT_LIMIT[1],
                       description="At most this many hotspots, largest first.")


class ResolutionQuery(StatsQuery):
    group_by: Literal[GROUPS] = Field(
        "arrondissement",
        description="One group per arrondissement, category (top level) or service.")
    format: Format | None = None


# ---- answers: the envelope ----------------------------------------------------------------

SMALL = f"null when left out for the public (fewer than {PUBLIC_MIN_COUNT})"


class StatsFilters(Model):
    """The filters as understood (an echo of the query)."""

    kind: Literal[KINDS]
    category: list[str] | None = Field(description="The category codes asked for; null: not "
                                                   "filtered.")
    status: list[str] | None = Field(description="The statuses as asked for (groups such as "
                                                 "`open` not expanded); null: not filtered.")
    since: datetime | None = Field(description="The start used (a bare date is Paris midnight).")
    until: datetime | None = Field(description="The end used, excluded (a bare date is the next "
                                               "Paris midnight).")
    arrondissement: list[Annotated[int, Field(ge=1, le=ARRONDISSEMENTS)]] | None = Field(
        description="Arrondissements; null: not filtered.")
    quartier: list[Annotated[int, Field(ge=1, le=QUARTIERS)]] | None = Field(
        description="Quartiers; null: not filtered.")
    bbox: Annotated[list[float], Field(min_length=4, max_length=4)] | None = Field(
        description="west, south, east, north; null: not filtered.")


StatsSource = Annotated[str, Field(
    pattern="^({0})(\\+({0}))?$".format("|".join(SOURCES)), examples=["hex", "month+month"],
    description=f"Which table answered: {_codes(SOURCES)} (the rollups by hexagon, day or "
                "month, the resolution statistics' duration histograms, the facts table, or the contributions themselves when `bbox` is given); "
                "`areas` gives the current and the previous period's joined by `+`. Every source "
                "answers exactly; the choice is only about speed.")]


class StatsFreshness(Model):
    """The rollups are updated by database triggers in the same transaction as every write:
    no lag."""

    mode: Literal[FRESHNESS["mode"]]
    lag_seconds: int = Field(ge=0, examples=[FRESHNESS["lag_seconds"]])


class StatsEnvelope(Model):
    """The members every statistic shares (app/planner/services.py, _envelope())."""

    filters: StatsFilters
    source: StatsSource
    freshness: StatsFreshness
    public: bool = Field(description="True unless the caller is a planner or staff: then counts "
                                     f"below {PUBLIC_MIN_COUNT} are left out.")


Position = Annotated[list[float], Field(min_length=2, max_length=2,
                                        description="[longitude, latitude], WGS84 degrees.")]
Ring = Annotated[list[Position], Field(min_length=4, description="A closed ring.")]


class StatsPolygon(Model):
    """A GeoJSON Polygon (WGS84)."""

    type: Literal["Polygon"]
    coordinates: list[Ring] = Field(min_length=1)


# ---- hexbins ----------------------------------------------------------------------------------

class HexbinProperties(Model):
    cell: int = Field(description="`(i << 20) + j`: the hexagon's column and row on the "
                                  "Lambert-93 grid.")
    count: int = Field(ge=1)


class Hexbin(Model):
    model_config = ConfigDict(json_schema_extra={"description": (
        "A hexagon (WGS84) holding at least one matching contribution (for the public, at "
        f"least {PUBLIC_MIN_COUNT}).")})

    type: Literal["Feature"]
    id: int = Field(description="The cell's id (same as `properties.cell`).")
    geometry: StatsPolygon
    properties: HexbinProperties


class HexbinCollection(StatsEnvelope):
    type: Literal["FeatureCollection"]
    cell_m: Literal[LEVELS] = Field(description="The level used: the distance between "
                                                "neighbouring hexagon centres, in metres.")
    cell_m_requested: int = Field(ge=MIN_CELL_M, le=MAX_CELL_M, description="The `cell_m` asked for.")
    total: int = Field(ge=0, description="Contributions in the hexagons returned.")
    cells: int = Field(ge=0, description="Hexagons returned.")
    breaks: list[Annotated[int, Field(ge=1)]] = Field(
        description="Class breaks: the distinct 20th, 40th, 60th, 80th and 100th percentiles "
                    "of the counts.")
    features: list[Hexbin] = Field(description="By cell id.")


# ---- areas ----------------------------------------------------------------------------------

class AreaStat(Model):
    code: int = Field(description="The arrondissement or quartier number.")
    name: str
    count: int | None = Field(description=f"Matching contributions; {SMALL}.")
    suppressed: bool = Field(description="Left out for the public.")
    density_km2: float | None = Field(description=f"Per km²; {SMALL}.")
    share: float | None = Field(description=f"Of the total, 0 to 1; {SMALL} or when the total "
                                            "is 0.")
    previous_count: int | None = Field(description="In the previous period; null without "
                                                    "`since` or when small for the public.")
    change: int | None = Field(description="`count` − `previous_count`.")
    change_pct: float | None = Field(description="The change in percent; null when the previous "
                                                 "count is 0 or null.")


class StatsPeriod(Model):
    since: datetime
    until: datetime


class AreaStats(StatsEnvelope):
    level: Literal[AREA_LEVELS]
    total: int = Field(ge=0)
    previous_period: StatsPeriod | None = Field(
        description="The period of the same length just before (calendar months when "
                    "month-aligned); null without `since`.")
    areas: list[AreaStat] = Field(description="Every area, with zeros, by code.")


# ---- timeseries -----------------------------------------------------------------------------

class TimeseriesPoint(Model):
    period: date = Field(description="The period's first day (a Monday for weeks).")
    count: int | None = Field(description=f"Matching contributions; {SMALL} (0 is shown).")


class Timeseries(StatsEnvelope):
    interval: Literal[INTERVALS]
    timezone: Literal["Europe/Paris"]
    total: int = Field(ge=0)
    series: list[TimeseriesPoint] = Field(
        max_length=MAX_SERIES_PERIODS,
        description="Every period from `since` (or the first contribution) to `until` (or the "
                    f"last), empty ones with 0, oldest first; at most {MAX_SERIES_PERIODS:,}.")


# ---- hotspots -------------------------------------------------------------------------------

class HotspotCategory(Model):
    code: str
    label: LocalizedText
    count: int = Field(ge=1)


class HotspotProperties(Model):
    rank: int = Field(ge=1, description="1 for the largest.")
    count: int = Field(ge=1)
    top_categories: list[HotspotCategory] = Field(
        max_length=3, description="The three largest categories (for the public, those with at "
                                  f"least {PUBLIC_MIN_COUNT} contributions).")
    reports_url: str = Field(
        json_schema_extra={"format": "uri-reference"},
        description="The list of the contributions in the hotspot's box, period, categories "
                    "and statuses.")


class Hotspot(Model):
    type: Literal["Feature"]
    id: int = Field(description="The rank.")
    geometry: StatsPolygon = Field(description="The members' convex hull, buffered by half of "
                                               "`eps_m`.")
    properties: HotspotProperties


class HotspotCollection(StatsEnvelope):
    type: Literal["FeatureCollection"]
    method: Literal["ST_ClusterDBSCAN"]
    eps_m: int = Field(ge=EPS_M[0], le=EPS_M[1])
    min_points: int = Field(ge=MIN_POINTS[0], le=MIN_POINTS[1])
    features: list[Hotspot] = Field(description="Largest first.")


# ---- resolution -----------------------------------------------------------------------------

DURATIONS = ("Durations are measured at a fixed precision, then ranked: whole minutes "
             "(nearest), then two significant digits (nearest; 7, 59, 130, 2900 minutes). The "
             "median and the 90th percentile are the first of those values whose cumulative "
             "share reaches 50 % or 90 % (PostgreSQL's `percentile_disc`: the lower median), "
             "in hours with two decimals")


class ResolutionGroup(Model):
    """Every metric is null when left out for the public, or when nothing was there to
    measure. The durations' precision: DURATIONS."""

    code: int | str | None = Field(description="The arrondissement number, or the category's or "
                                               "service's code (null: no service).")
    label: str | None = Field(description="Its name (French).")
    count: int | None = Field(description=f"Matching reports; {SMALL}.")
    suppressed: bool = Field(description="Left out for the public.")
    ack_median_h: float | None = Field(description=f"Median hours to acknowledge. {DURATIONS}.")
    ack_p90_h: float | None = Field(description="90th percentile of the hours to acknowledge.")
    resolve_median_h: float | None = Field(description="Median hours to resolve (resolved ones).")
    resolve_p90_h: float | None = Field(description="90th percentile of the hours to resolve.")
    share_resolved: float | None = Field(description="Share now `resolved`, 0 to 1.")
    reopen_rate: float | None = Field(description="Share reopened among those ever closed, 0 "
                                                  "to 1.")


class ResolutionStats(StatsEnvelope):
    group_by: Literal[GROUPS]
    groups: list[ResolutionGroup]


# ---- CSV ------------------------------------------------------------------------------------

STATS_CSV = {"type": "string", "contentMediaType": "text/csv",
             "description": "A header row, then one row per item; left-out values are empty."}

HOTSPOT_WINDOW = (
    f"over at most {MAX_HOTSPOT_DAYS} days (else `period_too_long` on `since`); without `until`, up "
    "to the end of the day of the latest contribution of the kind, and without `since`, the "
    f"{HOTSPOT_DEFAULT_DAYS} days before `until`")
