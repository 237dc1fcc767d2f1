"""The map endpoints' declared queries and answers; their filters as one `ListFilters` per kind.

The map shows reports and proposals together while categories and statuses belong to one kind,
so a category code or status word applies to the kind it belongs to, and a kind that such a
filter leaves out entirely (only report categories chosen, say) drops out of the result.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Literal

from pydantic import Field

from app.api.contract import Model
from app.api.types import AnyCategoryCode, Choice, CommaList
from app.areas.services import category_index
from app.contributions.models import KINDS, REPORT_OPEN, STATUS_GROUPS, STATUSES
from app.contributions.queries import ListFilters
from app.contributions.schemas import (
    ARRONDISSEMENTS,
    ContributionGeometry,
    FilterQuery,
    PageLink,
    PageQuery,
    PointGeometry,
    Status,
    VoteCounts,
    build_filters,
)
from app.map.queries import PARIS, SHAPES_ZOOM

MAX_ZOOM = 22
DEFAULT_ZOOM = 12
# `current`, the resident map's default view: what a resident cares about, not the years-old
# resolved and rejected reports. Per kind: (statuses always shown, statuses shown while closed
# for less than RECENT_DAYS).
CURRENT = "current"
RECENT_DAYS = 30
CURRENT_STATUSES = {
    "report": (REPORT_OPEN, ("resolved",)),
    "proposal": (("published", "under_review", "accepted"), ("realised",)),
}
# every status word of either kind, the groups (`open`, `closed`) and `current` included
STATUS_WORDS = tuple(dict.fromkeys(
    [s for kind in KINDS for s in (*STATUSES[kind], *STATUS_GROUPS[kind])] + [CURRENT]))


AnyCategory = AnyCategoryCode  # either kind's codes (the enums of both kinds)


class MapFilterQuery(FilterQuery):
    kind: CommaList(Choice(KINDS)) | None = Field(
        None, description="The kinds shown (both by default).")
    category: CommaList(AnyCategory) | None = Field(
        None, description="Category codes of either kind (with their sub-categories); a kind "
                          "none of them belongs to drops out. Others are `unknown_category`.")
    status: CommaList(Choice(STATUS_WORDS, code="invalid_status")) | None = Field(
        None, description="Statuses of either kind, and `open`/`closed` for reports; a kind "
                          "none of them belongs to drops out. `current` (the map page's default) "
                          "stands for the open reports, the reports resolved in the last "
                          f"{RECENT_DAYS} days, the published, under review and accepted "
                          f"proposals and those realised in the last {RECENT_DAYS} days "
                          "(whole days in Paris: closed since midnight, Paris time, "
                          f"{RECENT_DAYS} days ago). Others are `invalid_status`.")


class MapClustersQuery(MapFilterQuery):
    zoom: int = Field(DEFAULT_ZOOM, ge=0, le=MAX_ZOOM,
                      description="The map's zoom level: it sizes the cluster grid.")


class MapItemsQuery(MapFilterQuery, PageQuery):
    pass


@dataclass
class MapFilters:
    filters: list[ListFilters]  # one per kind in play, bbox left out (applied once, outside)
    bbox: tuple[float, float, float, float] | None


def _kinds_of_status(word: str) -> list[str]:
    return [k for k in KINDS if word == CURRENT or word in STATUSES[k] or word in STATUS_GROUPS[k]]


def recent_since(now: datetime | None = None) -> datetime:
    """The oldest closing `current` still shows: the start of the day in Paris RECENT_DAYS
    days ago (whole days: the stored cells of `map_recent_cells` count closings per day)."""
    today = (now or datetime.now(UTC)).astimezone(PARIS).date()
    return datetime.combine(today - timedelta(days=RECENT_DAYS), time(), PARIS)


def map_filters(query: MapFilterQuery) -> MapFilters:
    """The kinds in play, each with the category codes and status words that are its own."""
    index = category_index()
    codes, words = query.category or [], query.status or []
    cursor = getattr(query, "cursor", None)
    filters = []
    for kind in dict.fromkeys(query.kind or KINDS):
        kind_codes = [c for c in codes if index.by_code[c].kind == kind]
        kind_words = [s for s in words if kind in _kinds_of_status(s)]
        if (codes and not kind_codes) or (words and not kind_words):
            continue  # the filters name only the other kind
        plain = [s for s in kind_words if s != CURRENT]
        f = build_filters(kind, query, categories=kind_codes, statuses=plain, cursor=cursor)
        if CURRENT in kind_words:
            always, lately = CURRENT_STATUSES[kind]
            f.statuses = list(dict.fromkeys([*(f.statuses or ()), *always]))
            f.recently_closed = (list(lately), recent_since())
        f.bbox = None
        filters.append(f)
    return MapFilters(filters=filters, bbox=query.bbox)


# ---- answers ---------------------------------------------------------------------------------

Kind = Literal[KINDS]  # type: ignore[valid-type]
Level = Literal["arrondissement", "quartier"]


class MapPointProperties(Model):
    id: int
    kind: Kind
    category: str = Field(description="The top-level category's code.")
    status: Status
    title: str


class MapPoint(Model):
    """A grid cell holding one contribution."""

    type: Literal["Feature"]
    id: int
    geometry: ContributionGeometry = Field(
        description=f"A point on the contribution below zoom {SHAPES_ZOOM}, its real shape "
                    "from there on.")
    properties: MapPointProperties


class MapClusterProperties(Model):
    cluster: Literal[True]
    count: int = Field(ge=2)
    proposals: int = Field(ge=0, description="How many of them are proposals.")
    bbox: list[float] = Field(min_length=4, max_length=4,
                              description="The members' extent: west, south, east, north.")


class MapCluster(Model):
    """A grid cell holding several contributions."""

    type: Literal["Feature"]
    geometry: PointGeometry = Field(description="The mean position of the members.")
    properties: MapClusterProperties


class MapClusters(Model):
    type: Literal["FeatureCollection"]
    zoom: int = Field(ge=0, le=MAX_ZOOM)
    cell_m: float = Field(description="The grid cell's side in metres.")
    total: int = Field(ge=0, description="Contributions in the view.")
    proposals: int = Field(ge=0)
    clusters: int = Field(ge=0, description="Cells holding more than one contribution.")
    features: list[MapCluster | MapPoint] = Field(description="Fullest cells first.")


class MapItemCategory(Model):
    code: str
    label: str
    top: str = Field(description="The top-level category's code.")
    top_label: str


class MapItemProperties(Model):
    id: int
    kind: Kind
    title: str
    category: MapItemCategory
    status: Status
    address: str | None = Field(description="A free-text address given by the author.")
    arrondissement: int = Field(ge=ARRONDISSEMENTS[0], le=ARRONDISSEMENTS[1])
    quartier: str = Field(description="The quartier's name.")
    created_at: datetime
    votes: VoteCounts
    comments_count: int = Field(ge=0)
    photos_count: int = Field(ge=0)
    thumbnail: str | None = Field(description="The first photo's thumbnail URL.")


class MapItem(Model):
    """A contribution in the list beside the map (a point on it)."""

    type: Literal["Feature"]
    id: int
    geometry: PointGeometry
    properties: MapItemProperties


class MapItems(Model):
    """Newest first across the kinds in play."""

    type: Literal["FeatureCollection"]
    numberReturned: int = Field(ge=0)
    links: list[PageLink] = Field(description="A `next` link (relative) while more remain.")
    features: list[MapItem]


class OutlineGeometry(Model):
    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list


class MapOutlineProperties(Model):
    level: Level
    code: int
    name: str
    arrondissement: int | None = Field(None, description="Only for quartiers: their "
                                                         "arrondissement.")


class MapOutline(Model):
    type: Literal["Feature"]
    id: Annotated[str, Field(pattern="^[aq][0-9]+$", description="`a<code>` for an "
                             "arrondissement, `q<code>` for a quartier.")]
    geometry: OutlineGeometry
    properties: MapOutlineProperties


class MapOutlines(Model):
    type: Literal["FeatureCollection"]
    features: list[MapOutline]

