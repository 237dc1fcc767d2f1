"""The OGC API – Features endpoints' declared queries (app/ogc/views.py).

OGC API – Features is its own standard: its parameter names (`bbox-crs`, `filter-lang`), its
`limit` rule (a value above the maximum is served at the maximum, never an error) and its
OpenAPI 3.0 document (/ogc/api, app/ogc/document.py, which reads these models) are the
standard's. Unknown parameters are a 400 (/rec/core/query-param-unknown), as in the JSON API.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from app.api.types import DATE_MAX, DATE_MIN, Choice, CommaList, Lang, Text, fail
from app.contributions.models import STATUS_GROUPS, STATUSES
from app.missions.domains import DOMAINS

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_2154 = "http://www.opengis.net/def/crs/EPSG/0/2154"
# the CRSs every collection serves, and the SRID PostGIS knows each by
SRIDS = {CRS84: 4326, EPSG_2154: 2154}
STORAGE_CRS = CRS84
LIMIT_DEFAULT = 100
LIMIT_MAX = 10_000
FILTER_MAX = 4000
CURSOR_MAX = 200
FORMATS = ("json", "html")
# where Lambert-93 bounding boxes are accepted (metres; its area of use, France, with a
# margin): a box far outside would only make ST_Transform fail
L93_BOUNDS = (-500_000.0, 5_900_000.0, 1_600_000.0, 7_400_000.0)
CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
)

Crs = Choice(tuple(SRIDS), description="A CRS URI: OGC CRS84 (longitude, latitude; the default) "
                                       "or EPSG:2154 (Lambert-93, metres).")


# ---- bbox -------------------------------------------------------------------------------------

def _bbox(value: Any) -> tuple[float, float, float, float]:
    """Four numbers (or six, with heights, which are dropped): west,south,east,north."""
    parts = value.split(",") if isinstance(value, str) else value
    try:
        numbers = [float(v) for v in parts]
    except (TypeError, ValueError):
        fail("invalid_bbox")
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4 or any(n != n or n in (float("inf"), float("-inf")) for n in numbers):
        fail("invalid_bbox")
    return tuple(numbers)


BBox = Annotated[
    tuple[float, float, float, float], PlainValidator(_bbox),
    WithJsonSchema({"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"},
                    "description": "west,south,east,north (or with heights, six numbers) in "
                                   "`bbox-crs` (CRS84 by default). A feature whose geometry "
                                   "meets the box is selected.",
                    "examples": [[2.33, 48.85, 2.36, 48.86]]}),
]


# ---- datetime ---------------------------------------------------------------------------------

def _moment(value: str, *, end: bool) -> datetime:
    """A bound as a UTC instant: a date is its day (its start, or for an end the next
    midnight); a date-time without offset is UTC; an end is inclusive (one microsecond more,
    since the SQL bound is exclusive)."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day + timedelta(days=1) if end else day, time(), tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(value)
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            day = moment.date()
            moment += timedelta(microseconds=1) if end else timedelta()
    except ValueError:
        fail("invalid_date")
    if not DATE_MIN <= day <= DATE_MAX:
        fail("out_of_range", min=DATE_MIN.isoformat(), max=DATE_MAX.isoformat())
    return moment


def _interval(value: Any) -> tuple[datetime | None, datetime | None]:
    """[since, until) from an instant, a closed interval `a/b`, or a half-open one (`..`)."""
    if not isinstance(value, str) or not value or len(value) > 80:
        fail("invalid_date")
    if "/" not in value:
        return _moment(value, end=False), _moment(value, end=True)
    start, _, stop = value.partition("/")
    since = None if start in ("", "..") else _moment(start, end=False)
    until = None if stop in ("", "..") else _moment(stop, end=True)
    if since is None and until is None and value not in ("../..", "/", "../", "/.."):
        fail("invalid_date")
    if since and until and until <= since:
        fail("empty_period", min=since.isoformat())
    return since, until


Interval = Annotated[
    tuple[datetime | None, datetime | None], PlainValidator(_interval),
    WithJsonSchema({"type": "string", "description":
                    "An instant or a closed interval (RFC 3339 dates or date-times, `..` for an "
                    "open end) on `created_at`: `2024-03-07`, `2024-01-01/2024-06-30`, "
                    "`2024-01-01T08:00:00Z/..`.",
                    "examples": ["2024-01-01/2024-06-30"]}),
]


# ---- limit ------------------------------------------------------------------------------------

def _at_most_max(value: Any) -> Any:
    """The standard: a limit above the maximum is served at the maximum, not refused."""
    if isinstance(value, str) and value.isdigit() and len(value) < 30 and int(value) > LIMIT_MAX:
        return LIMIT_MAX
    return value


Limit = Annotated[int, BeforeValidator(_at_most_max)]


# ---- the queries ------------------------------------------------------------------------------

class OgcQuery(BaseModel):
    """What every OGC API call may send: the format and the language of labels."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    f: Choice(FORMATS, description="`json` or `html`; by default the `Accept` header chooses.") | None = None
    lang: Lang | None = Field(None, description="`fr` (the default) or `en`: labels and pages.")


class ItemQuery(OgcQuery):
    crs: Crs = Field(CRS84, description="The CRS of the geometries in the response (Part 2).")


class ItemsQuery(ItemQuery):
    """The common parameters of `/collections/{id}/items`."""

    bbox_crs: Crs = Field(CRS84, alias="bbox-crs", description="The CRS of `bbox` (Part 2).")
    bbox: BBox | None = None
    limit: Limit = Field(LIMIT_DEFAULT, ge=1, le=LIMIT_MAX, description=
                         f"Features per page (default {LIMIT_DEFAULT}); above {LIMIT_MAX}, {LIMIT_MAX}.")
    cursor: Text(CURSOR_MAX) | None = Field(None, description="Opaque: take it from the `next` link.")
    filter: Text(FILTER_MAX, min_length=1) | None = Field(
        None, description="A CQL2 text expression on the queryables (Part 3), e.g. "
                          "`status = 'new' AND arrondissement IN (3, 4)`.")
    filter_lang: Choice(("cql2-text",)) = Field("cql2-text", alias="filter-lang",
                                                description="The language of `filter`.")

    @field_validator("bbox")
    @classmethod
    def _bbox_in_crs(cls, bbox, info: ValidationInfo):
        if bbox is None:
            return bbox
        w, s, e, n = bbox
        if info.data.get("bbox_crs", CRS84) == CRS84:
            ok = -180 <= w < e <= 180 and -90 <= s < n <= 90
        else:
            x0, y0, x1, y1 = L93_BOUNDS
            ok = x0 <= w < e <= x1 and y0 <= s < n <= y1
        if not ok:
            fail("invalid_bbox")
        return bbox


class ContributionItemsQuery(ItemsQuery):
    """Reports' or proposals' items: the standard's parameters and the queryables' own."""

    KIND: ClassVar[str] = "report"

    datetime: Interval | None = None
    category: Text(80, min_length=1) | None = Field(
        None, description="A category code; its sub-categories are included.")
    arrondissement: CommaList(Annotated[int, Field(ge=1, le=20)], max_items=20) | None = Field(
        None, description="Arrondissement numbers, comma-separated (1–20).")
    quartier: CommaList(Annotated[int, Field(ge=1, le=80)], max_items=80) | None = Field(
        None, description="Quartier numbers, comma-separated (1–80).")

    @field_validator("category")
    @classmethod
    def _known_category(cls, code):
        from app.areas.services import category_index

        if code is not None and category_index().subtree_ids(code, cls.KIND) is None:
            fail("unknown_category")
        return code

    def category_ids(self) -> list[int] | None:
        from app.areas.services import category_index

        return None if self.category is None else category_index().subtree_ids(self.category, self.KIND)

    def statuses(self) -> list[str] | None:
        found: list[str] = []
        for s in getattr(self, "status", None) or ():
            found += STATUS_GROUPS[self.KIND].get(s, (s,))
        return found or None


class ReportItemsQuery(ContributionItemsQuery):
    KIND: ClassVar[str] = "report"
    status: CommaList(Choice(STATUSES["report"] + tuple(STATUS_GROUPS["report"])), max_items=10) | None = \
        Field(None, description="Statuses, comma-separated (`open` and `closed` name groups).")


class ProposalItemsQuery(ContributionItemsQuery):
    KIND: ClassVar[str] = "proposal"
    status: CommaList(Choice(STATUSES["proposal"]), max_items=10) | None = \
        Field(None, description="Statuses, comma-separated.")


class ArrondissementItemsQuery(ItemsQuery):
    pass


class QuartierItemsQuery(ItemsQuery):
    arrondissement: CommaList(Annotated[int, Field(ge=1, le=20)], max_items=20) | None = Field(
        None, description="The quartiers of these arrondissements (1–20), comma-separated.")


class MissionItemsQuery(ItemsQuery):
    """Volunteer missions' items (public ones: a verified organisation's, published, full,
    closed or cancelled): the standard's parameters and the queryables' own."""

    domain: CommaList(Choice(tuple(DOMAINS)), max_items=14) | None = Field(
        None, description="API Engagement domains, comma-separated.")
    remote: CommaList(Choice(("no", "possible", "full")), max_items=3) | None = Field(
        None, description="`no` (on site), `possible`, `full` (remote), comma-separated.")
    status: CommaList(Choice(("published", "full", "closed", "cancelled")), max_items=4) | None = Field(
        None, description="Statuses, comma-separated (by default every public one).")
    arrondissement: CommaList(Annotated[int, Field(ge=1, le=20)], max_items=20) | None = Field(
        None, description="Missions with a place in one of these arrondissements (1–20), comma-separated.")
