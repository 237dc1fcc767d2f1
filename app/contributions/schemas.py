"""Reports and proposals: the declared list filters, Feature bodies and answers.

Per kind, because categories and statuses differ: `LIST_QUERIES[kind]` (the list filters),
`FEATURE_INPUTS[kind]` / `FEATURE_PATCHES[kind]` (the GeoJSON Feature bodies). A parsed query
becomes `ListFilters` through `filters_of` (the map builds its own per kind with
`build_filters`); a parsed body becomes column values through `.values()`.
"""

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from geoalchemy2.shape import from_shape
from pydantic import (
    BeforeValidator,
    Field,
    create_model,
    model_validator,
)

from app.api.contract import ApiQuery, Body, Model
from app.api.types import (
    BBox,
    BodyId,
    CategoryCode,
    Choice,
    CommaList,
    Cursor,
    Geometry,
    Id,
    Latitude,
    Longitude,
    Moment,
    Text,
    utc_bound,
)
from app.areas.services import category_index
from app.contributions.models import (
    INITIAL_STATUS,
    KINDS,
    PROPOSAL_STATUSES,
    REPORT_CLOSED,
    REPORT_OPEN,
    REPORT_STATUSES,
    STATUS_GROUPS,
    STATUSES,
)
from app.contributions.queries import ListFilters
from app.contributions.services import ADDRESS_MAX, DESCRIPTION_MAX, TITLE_MAX, TITLE_MIN
from geo.validation import ALLOWED_TYPES, MAX_VERTICES

PLURAL = {"report": "reports", "proposal": "proposals"}
TAGS = {"report": ("Reports",), "proposal": ("Proposals",)}  # their tags in the document
LIST_LIMIT = (1, 1000, 100)  # lowest, highest, default page size
MAX_LIMIT = LIST_LIMIT[1]
Q_MAX, SOURCE_ID_MAX = 200, 100
ARRONDISSEMENTS, QUARTIERS = (1, 20), (1, 80)
REPORTS_MAX = 200  # reports a proposal may name as its motivation
NEARBY_RADIUS_M, NEARBY_LIMIT = (1, 500, 50.0), (1, 100, 20)  # lowest, highest, default


def _codes(values) -> str:
    return ", ".join(f"`{v}`" for v in values)


# ---- query-string filters ----------------------------------------------------------------------

def Category(kind: str):
    """A category code of `kind` (else `unknown_category`; a blank one is `required`)."""
    return CategoryCode(kind)


class FilterQuery(ApiQuery):
    """The filters every listing of contributions shares (the lists and the map)."""

    bbox: BBox | None = Field(None, description="west,south,east,north in WGS84 degrees: "
                                                "contributions whose geometry intersects the box.")
    arrondissement: CommaList(Annotated[int, Field(ge=ARRONDISSEMENTS[0], le=ARRONDISSEMENTS[1])],
                              max_items=ARRONDISSEMENTS[1]) | None = Field(
        None, description="Arrondissement numbers.")
    quartier: CommaList(Annotated[int, Field(ge=QUARTIERS[0], le=QUARTIERS[1])],
                        max_items=QUARTIERS[1]) | None = Field(
        None, description="Quartier administratif numbers.")
    since: Moment | None = Field(None, description="Created at or after: a date (its start, UTC) "
                                                   "or a date-time (UTC when no offset).")
    until: Moment | None = Field(None, description="Created before: a date-time, or a date, "
                                                   "which includes that whole day (UTC).")
    q: Text(Q_MAX) | None = Field(None, description="Words in the title or description "
                                                    "(case-insensitive substring).")
    source_id: Text(SOURCE_ID_MAX) | None = Field(
        None, description="The id in an imported dataset (e.g. DansMaRue), exactly.")


class PageQuery(ApiQuery):
    limit: int = Field(LIST_LIMIT[2], ge=LIST_LIMIT[0], le=LIST_LIMIT[1],
                       description=f"Page size (at most {LIST_LIMIT[1]}).")
    cursor: Cursor | None = None


def _status_filter(kind: str):
    groups = STATUS_GROUPS[kind]
    words = (*STATUSES[kind], *groups)
    about = "Statuses" + ("; " + "; ".join(f"`{g}` stands for {_codes(s)}" for g, s in groups.items())
                          if groups else "") + ". Others are `invalid_status`."
    return CommaList(Choice(words, code="invalid_status")) | None, Field(None, description=about)


def _list_query(kind: str) -> type[ApiQuery]:
    status_type, status_field = _status_filter(kind)
    return create_model(
        f"{kind.capitalize()}ListQuery",
        __base__=(FilterQuery, PageQuery),
        __doc__=f"The filters of GET /api/v1/{PLURAL[kind]}; every invalid one is reported.",
        category=(CommaList(Category(kind)) | None, Field(
            None, description=f"Category codes of kind `{kind}`; a code includes its "
                              "sub-categories. Others are `unknown_category`.")),
        status=(status_type, status_field),
        **({"consultation": (Id | None, Field(
            None, description="Only the proposals answering this consultation."))}
           if kind == "proposal" else {}),
    )


LIST_QUERIES: dict[str, type[ApiQuery]] = {kind: _list_query(kind) for kind in KINDS}
ReportListQuery, ProposalListQuery = LIST_QUERIES["report"], LIST_QUERIES["proposal"]


def expand_statuses(kind: str, words: list[str] | None) -> list[str] | None:
    """Status words of `kind` as statuses (`open` → the open ones), or None for no filter."""
    if not words:
        return None
    statuses: list[str] = []
    for word in words:
        statuses.extend(STATUS_GROUPS[kind].get(word, (word,)))
    return statuses


def category_ids(kind: str, codes: list[str] | None) -> list[int] | None:
    """The ids of the categories `codes` name, with their sub-categories; None: no filter."""
    if not codes:
        return None
    index, ids = category_index(), []
    for code in codes:
        ids.extend(index.subtree_ids(code, kind) or ())
    return ids


def build_filters(kind: str, query: FilterQuery, *, categories: list[str] | None,
                  statuses: list[str] | None, limit: int = LIST_LIMIT[2],
                  cursor: tuple[datetime, int] | None = None) -> ListFilters:
    """`ListFilters` of one kind from parsed filters; `categories` and `statuses` are that
    kind's codes and status words (None: no filter)."""
    return ListFilters(
        kind=kind,
        bbox=query.bbox,
        category_ids=category_ids(kind, categories),
        statuses=expand_statuses(kind, statuses),
        arrondissements=query.arrondissement or None,
        quartiers=query.quartier or None,
        since=utc_bound(query.since),
        until=utc_bound(query.until, end=True),
        q=query.q or None,
        source_id=query.source_id or None,
        limit=limit,
        cursor=cursor,
    )


def filters_of(kind: str, query) -> ListFilters:
    """The `ListFilters` of GET /reports or /proposals from its parsed query."""
    f = build_filters(kind, query, categories=query.category, statuses=query.status,
                      limit=query.limit, cursor=query.cursor)
    f.consultation_id = getattr(query, "consultation", None)
    return f


class NearbyQuery(ApiQuery):
    lon: Longitude = Field(description="Longitude, WGS84 degrees.")
    lat: Latitude = Field(description="Latitude, WGS84 degrees.")
    category: Category("report") = Field(
        description="A report category code (with its sub-categories).")
    radius_m: float = Field(NEARBY_RADIUS_M[2], ge=NEARBY_RADIUS_M[0], le=NEARBY_RADIUS_M[1],
                            allow_inf_nan=False, description="Search radius in metres.")
    limit: int = Field(NEARBY_LIMIT[2], ge=NEARBY_LIMIT[0], le=NEARBY_LIMIT[1],
                       description="At most this many reports.")


# ---- GeoJSON Feature bodies ----------------------------------------------------------------------

def _none_as_blank(value: Any) -> Any:
    return "" if value is None else value  # a null required text is `required`, as a blank one


Title = Annotated[Text(TITLE_MAX, min_length=TITLE_MIN), BeforeValidator(_none_as_blank)]
Description = Text(DESCRIPTION_MAX) | None
Address = Annotated[Text(ADDRESS_MAX) | None, Field(description="A free-text address.")]


def _without_default(schema: dict) -> None:
    schema.pop("default", None)


def absent():
    """A PATCH member left out: None, and not changed (a `null` sent is checked as a value)."""
    return Field(None, json_schema_extra=_without_default)


class FeatureBody(Body):
    """A GeoJSON Feature of a contribution; `.values()` gives the columns it sets."""

    partial: ClassVar[bool] = False

    @model_validator(mode="before")
    @classmethod
    def _geometry_is_checked_when_absent(cls, data: Any) -> Any:
        # a Feature without geometry is `geometry_missing`, as one with `"geometry": null`
        if not cls.partial and isinstance(data, dict) and "geometry" not in data:
            return {**data, "geometry": None}
        return data

    def values(self) -> dict:
        """Column values: on creation all of them, on a PATCH only the members it names."""
        out: dict = {}
        if "geometry" in self.model_fields_set:
            out["geom"] = from_shape(self.geometry, srid=4326)
        props = self.properties
        if props is None:
            return out
        named = props.model_fields_set if self.partial else set(type(props).model_fields)
        if "title" in named:
            out["title"] = props.title
        if "description" in named:
            out["description"] = props.description or ""
        if "category" in named:
            out["category_id"] = category_index().by_code[props.category].id
        if "address" in named:
            out["address"] = props.address or None
        if getattr(props, "consultation", None) is not None:
            out["consultation_id"] = props.consultation
        return out

    def report_ids(self) -> list[int]:
        """The reports a new proposal names as its motivation (a planner's hotspot)."""
        return list(dict.fromkeys(getattr(self.properties, "reports", None) or []))


class FeaturePatchBody(FeatureBody):
    partial: ClassVar[bool] = True


def _feature_bodies(kind: str) -> tuple[type[FeatureBody], type[FeatureBody]]:
    name = kind.capitalize()
    category = Annotated[Category(kind), Field(
        description=f"A category code of kind `{kind}` (see `GET /api/v1/categories?kind={kind}`).")]
    geometry = Annotated[Geometry(kind), Field(
        description=f"{' or '.join(ALLOWED_TYPES[kind])}, inside Paris, at most {MAX_VERTICES} "
                    "vertices, without self-intersection.")]
    fields = {"title": Title, "description": Description, "category": category,
              "address": Address}
    links = {} if kind != "proposal" else {
        "consultation": (BodyId | None, Field(None, description=(
            "The consultation this proposal answers: it must be in its ideas phase, the "
            "geometry inside its area and of a type it accepts, the category one of its themes "
            "(else `consultation_not_taking_ideas`, `outside_consultation_area`, "
            "`geometry_type_not_accepted`, `theme_not_in_consultation`)."))),
        "reports": (list[BodyId] | None, Field(None, max_length=REPORTS_MAX, description=(
            f"Planners: up to {REPORTS_MAX} reports that motivated the proposal (a hotspot); "
            "each then shows the proposal. Unknown or hidden ones are `unknown_report` on "
            "`reports[i]`; from anyone but a planner, `planners_only`.")))}
    created = create_model(f"{name}InputProperties", __base__=Body, title=(Title, ...),
                           description=(Description, ""), category=(category, ...),
                           address=(Address, None), **links)
    patched = create_model(f"{name}PatchProperties", __base__=Body,
                           **{k: (t, absent()) for k, t in fields.items()})
    feature_type = (Literal["Feature"], Field("Feature", description="`Feature` (may be left out)."))
    created_body = create_model(
        f"{name}Input", __base__=FeatureBody,
        __doc__=f"A new {kind}: a GeoJSON Feature. The author is the caller; the status starts "
                f"as `{INITIAL_STATUS[kind]}`.",
        type=feature_type, geometry=(geometry, ...), properties=(created, ...))
    patch_body = create_model(
        f"{name}Patch", __base__=FeaturePatchBody,
        __doc__="Only the members present are changed: a `geometry` moves the contribution (its "
                "arrondissement and quartier follow); each property given is checked as on "
                "creation. Photos sent with multipart are added to the existing ones.",
        type=feature_type, geometry=(geometry, absent()), properties=(patched | None, None))
    return created_body, patch_body


FEATURE_INPUTS: dict[str, type[FeatureBody]] = {}
FEATURE_PATCHES: dict[str, type[FeatureBody]] = {}
for _kind in KINDS:
    FEATURE_INPUTS[_kind], FEATURE_PATCHES[_kind] = _feature_bodies(_kind)
ReportInput, ReportPatch = FEATURE_INPUTS["report"], FEATURE_PATCHES["report"]
ProposalInput, ProposalPatch = FEATURE_INPUTS["proposal"], FEATURE_PATCHES["proposal"]


# ---- answers ---------------------------------------------------------------------------------

ALL_STATUSES = (*REPORT_STATUSES, *(s for s in PROPOSAL_STATUSES if s not in REPORT_STATUSES))
Status = Annotated[Literal[ALL_STATUSES], Field(  # type: ignore[valid-type]
    description=f"Reports: {_codes(REPORT_STATUSES)} (open: {_codes(REPORT_OPEN)}; closed: "
                f"{_codes(REPORT_CLOSED)}). Proposals: {_codes(PROPOSAL_STATUSES)}.")]
Position = Annotated[list[float], Field(min_length=2, max_length=2,
                                        description="[longitude, latitude], WGS84 degrees.")]


class PointGeometry(Model):
    type: Literal["Point"]
    coordinates: Position


class LineStringGeometry(Model):
    type: Literal["LineString"]
    coordinates: list[Position] = Field(min_length=2)


class PolygonGeometry(Model):
    type: Literal["Polygon"]
    coordinates: list[list[Position]] = Field(min_length=1, description="Closed rings.")


ContributionGeometry = Annotated[PointGeometry | LineStringGeometry | PolygonGeometry,
                                 Field(discriminator="type", description="A report is a Point; "
                                       "a proposal a Point, a LineString or a Polygon.")]


class VoteCounts(Model):
    """Exact counters: agree (or "me too") and disagree."""

    up: int = Field(ge=0)
    down: int = Field(ge=0)


class CategoryLabel(Model):
    code: str
    label: str = Field(description="In the request's language.")


class QuartierRef(Model):
    """The quartier administratif, computed from the geometry."""

    code: int = Field(ge=QUARTIERS[0], le=QUARTIERS[1])
    name: str


class ContributionPhoto(Model):
    url: str = Field(description="The photo, re-encoded as JPEG without metadata.")
    thumbnail_url: str
    width: int = Field(ge=1)
    height: int = Field(ge=1)


class ContributionProperties(Model):
    id: int
    category: CategoryLabel
    kind: Literal[KINDS]  # type: ignore[valid-type]
    title: str
    description: str
    status: Status
    arrondissement: int = Field(ge=ARRONDISSEMENTS[0], le=ARRONDISSEMENTS[1],
                                description="Computed from the geometry.")
    quartier: QuartierRef
    address: str | None = Field(description="A free-text address given by the author.")
    created_at: datetime
    updated_at: datetime
    votes: VoteCounts
    comments_count: int = Field(ge=0)
    photos_count: int = Field(ge=0)
    author: str | None = Field(description="The author's display name; null for imported records.")
    source_id: str | None = Field(description="The record's id in the dataset it was imported from.")


class LinkedContribution(Model):
    id: int
    title: str
    status: Status


class ConsultationRef(Model):
    id: int
    title: str


class ContributionDetailProperties(ContributionProperties):
    photos: list[ContributionPhoto]
    consultation: ConsultationRef | None = Field(
        None, description="Proposals: the consultation it answers, if any.")
    reports: list[LinkedContribution] | None = Field(
        None, description="Proposals: the reports that motivated it (a planner's hotspot).")
    proposals: list[LinkedContribution] | None = Field(
        None, description="Reports: the proposals born of it.")
    hidden: bool | None = Field(None, description="Only to moderators, on a contribution hidden "
                                                  "by moderation (everyone else gets a 404).")


class NearbyProperties(ContributionProperties):
    distance_m: float = Field(ge=0, description="Metres from the given point.")


class ContributionFeature(Model):
    """A report or a proposal (RFC 7946 Feature, lon/lat)."""

    type: Literal["Feature"]
    id: int
    properties: ContributionProperties
    geometry: ContributionGeometry


class ContributionDetail(ContributionFeature):
    """One contribution, with its photos."""

    properties: ContributionDetailProperties


class NearbyFeature(ContributionFeature):
    properties: NearbyProperties


class PageLink(Model):
    rel: Literal["next"]
    type: str = Field(examples=["application/geo+json"])
    href: str = Field(description="The next page: the same query with a `cursor`.")


class ContributionPage(Model):
    """One page, newest first (keyset pagination on creation time and id)."""

    type: Literal["FeatureCollection"]
    numberReturned: int = Field(ge=0)
    links: list[PageLink] = Field(description="A `next` link while more pages remain.")
    features: list[ContributionFeature]


class NearbyCollection(Model):
    type: Literal["FeatureCollection"]
    radius_m: float
    features: list[NearbyFeature] = Field(description="Nearest first.")

