"""The field workflow API's declared bodies, queries and answers.

Limits and enumerations are read from where the workflow defines them (app/field/workflow.py,
app/field/queries.py, app/contributions/models.py); what needs the database (a category code,
a service code, the original of a duplicate, an agent's scope) is checked after these models.
"""

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from app.api.contract import ApiQuery, Body, Model
from app.api.types import (
    SOME_TEXT,
    CategoryCode,
    Choice,
    CommaList,
    Day,
    Id,
    NearParisLatitude,
    NearParisLongitude,
    ServiceCode,
    Text,
    fail,
    needs,
)
from app.areas.services import category_index
from app.contributions.models import REPORT_CLOSED, REPORT_OPEN, REPORT_STATUSES, STATUS_GROUPS
from app.contributions.schemas import ARRONDISSEMENTS, ContributionProperties, PointGeometry
from app.field import workflow
from app.field.queries import OLDER_THAN_MAX, QUEUE_LIMIT, SORTS, QueueFilters
from app.field.services import TransitionRequest

Arrondissement = Annotated[int, Field(ge=ARRONDISSEMENTS[0], le=ARRONDISSEMENTS[1])]
ReportStatus = Literal[REPORT_STATUSES]  # type: ignore[valid-type]
Priority = Literal[workflow.PRIORITIES]  # type: ignore[valid-type]
Reason = Literal[workflow.REJECTION_REASONS]  # type: ignore[valid-type]
Resolution = Literal[workflow.RESOLUTIONS]  # type: ignore[valid-type]
Note = Text(workflow.NOTE_MAX)


def _codes(values) -> str:
    return ", ".join(f"`{v}`" for v in values)


def transition_table() -> str:
    return "; ".join(f"`{start}` → " + (_codes(targets) if targets else "nothing")
                     for start, targets in workflow.TRANSITIONS.items())




# ---- bodies ---------------------------------------------------------------------------------

class TransitionInput(Body):
    """A status change. Members a target does not use are ignored (a `duplicate_of` sent with
    `acknowledged` is not kept)."""

    model_config = ConfigDict(json_schema_extra={"allOf": [
        *needs(workflow.REQUIRED_FOR)["allOf"],
        # a rejection for an "other" reason says which in its public note (services.validate)
        {"if": {"properties": {"to": {"const": "rejected"}, "reason": {"const": "other"}},
                "required": ["to", "reason"]},
         "then": {"required": ["public_note"],
                  "properties": {"public_note": {"type": "string", "pattern": SOME_TEXT}}}},
    ]})

    to: Annotated[Choice(REPORT_STATUSES, code="invalid_status"), Field(
        description=f"The new status (else `invalid_status`). Allowed from each status: "
                    f"{transition_table()}; any other is `illegal_transition` (409). A target "
                    f"may need another member (see below).")]
    public_note: Note | None = Field(
        None, description="Shown to everyone: the history, the reporter's and followers' "
                          "e-mails, the feeds. Required when `reason` is `other`.")
    internal_note: Note | None = Field(None, description="Staff only.")
    planned_for: Day | None = Field(
        None, description="Required for `scheduled`: today or later in Paris (else "
                          "`date_in_past`).")
    reason: Reason | None = Field(None, description="Required for `rejected`.")
    resolution: Resolution | None = Field(
        None, description="Required for `resolved`: the closing message.")
    duplicate_of: Id | None = Field(
        None, description="Required for `duplicate`: the original report (not this one, not "
                          "itself a duplicate; else `unknown_report` or `invalid_value`). Its "
                          "votes and followers move there, and the reporter counts as one more "
                          "\"me too\".")
    transferred_to: Text(workflow.TRANSFER_MAX) | None = Field(
        None, description="Required for `transferred`: who takes it over.")

    def request(self, photo_sha256: str | None = None) -> TransitionRequest:
        """The service's plain values (a blank text is an absent one)."""
        return TransitionRequest(
            to=self.to, public_note=self.public_note or None,
            internal_note=self.internal_note or None, planned_for=self.planned_for,
            reason=self.reason, resolution=self.resolution, duplicate_of=self.duplicate_of,
            transferred_to=self.transferred_to or None, photo_sha256=photo_sha256)


class PriorityInput(Body):
    priority: Priority | None = Field(None, description="null (or absent) clears it.")


class AssignmentInput(Body):
    agent_id: Id | None = Field(
        None, description="An agent whose scope covers the report (else `invalid_value` or "
                          "`out_of_scope`); null (or absent) unassigns it.")


class FeedbackInput(Body):
    value: Literal[workflow.FEEDBACK_VALUES] = Field(  # type: ignore[valid-type]
        description="`fixed` confirms the fix; `still_there` reopens the report (back to "
                    "`acknowledged`).")


class BatchInput(Body):
    """The same change for several reports."""

    model_config = ConfigDict(json_schema_extra=needs(
        {t: m for t, m in workflow.REQUIRED_FOR.items() if t in workflow.BATCH_TARGETS}))

    ids: list[Id] = Field(min_length=1, max_length=workflow.BATCH_MAX,
                          description="Report ids; repeats count once.")
    to: Literal[workflow.BATCH_TARGETS]  # type: ignore[valid-type]
    planned_for: Day | None = Field(None, description="Required for `scheduled`: today or later.")
    public_note: Note | None = None
    internal_note: Note | None = None

    def request(self) -> TransitionRequest:
        return TransitionRequest(to=self.to, planned_for=self.planned_for,
                                 public_note=self.public_note or None,
                                 internal_note=self.internal_note or None)


class AgentScope(Body):
    """Reports of this service in this arrondissement."""

    service: ServiceCode | None = Field(
        None, description="A service code (else `invalid_value`); null (or absent): every "
                          "service.")
    arrondissement: Arrondissement | None = Field(
        None, description="null (or absent): every arrondissement.")


class ScopesInput(Body):
    scopes: list[AgentScope] = Field(
        default_factory=list,
        description="Replaces all of the agent's scopes; empty (or absent): none.")


# ---- the queue's filters ----------------------------------------------------------------------

STATUS_FILTERS = (*STATUS_GROUPS["report"], *REPORT_STATUSES)


class QueueQuery(ApiQuery):
    status: CommaList(Choice(STATUS_FILTERS, code="invalid_status"),
                      max_items=len(STATUS_FILTERS)) = Field(
        ["open"], description=f"Statuses (else `invalid_status`); `open` (the default) stands "
                              f"for {_codes(REPORT_OPEN)} and `closed` for "
                              f"{_codes(REPORT_CLOSED)}.")
    category: CategoryCode("report") | None = Field(
        None, description="A report category code, with its sub-categories (else "
                          "`unknown_category`).")
    arrondissement: CommaList(Arrondissement, max_items=ARRONDISSEMENTS[1]) | None = Field(
        None, description="Arrondissement numbers.")
    priority: Priority | None = Field(
        None, description="Only reports of this priority.")
    older_than_days: Annotated[int, Field(ge=0, le=OLDER_THAN_MAX)] | None = Field(
        None, description="Only reports made more than this many days ago.")
    assigned: Literal["me"] | None = Field(
        None, description="`me`: only the reports assigned to me.")
    sort: Choice(SORTS) = Field(
        "priority", description=f"The order: {_codes(SORTS)}. `priority` puts dangerous "
                                "reports first, then the oldest; `me_too` the most \"me too\" "
                                "votes first; `nearest` needs `lon` and `lat`.")
    lon: NearParisLongitude | None = Field(
        None, validate_default=True,
        description="Longitude, WGS84 degrees, within a degree of Paris: required with "
                    "`sort=nearest`, ignored otherwise.")
    lat: NearParisLatitude | None = Field(
        None, validate_default=True,
        description="Latitude, WGS84 degrees, within a degree of Paris: required with "
                    "`sort=nearest`, ignored otherwise.")
    limit: int = Field(QUEUE_LIMIT[2], ge=QUEUE_LIMIT[0], le=QUEUE_LIMIT[1],
                       description="At most this many reports.")

    @field_validator("lon", "lat")
    @classmethod
    def _needed_to_sort_by_distance(cls, value: float | None, info: ValidationInfo):
        if value is None and info.data.get("sort") == "nearest":
            fail("needs_position")
        return value

    def filters_for(self, user) -> QueueFilters:
        """The filters of `user`'s queue (the API and the agents' page share them)."""
        category_ids = (category_index().subtree_ids(self.category, "report")
                        if self.category else None)  # a known code: CategoryCode checked it
        return self.filters(user_id=user.id, supervisor=user.has_role("supervisor"),
                            category_ids=category_ids)

    def filters(self, *, user_id: int, supervisor: bool,
                category_ids: list[int] | None) -> QueueFilters:
        """The query's plain values, `category` resolved to `category_ids`."""
        statuses: list[str] = []
        for s in self.status or ["open"]:
            statuses += STATUS_GROUPS["report"].get(s, (s,))
        nearest = self.sort == "nearest"
        return QueueFilters(
            user_id=user_id, supervisor=supervisor, statuses=list(dict.fromkeys(statuses)),
            category_ids=category_ids, arrondissements=list(self.arrondissement or []) or None,
            priority=self.priority, older_than_days=self.older_than_days,
            assigned_to_me=self.assigned == "me", sort=self.sort, limit=self.limit,
            lon=self.lon if nearest else None, lat=self.lat if nearest else None)


# ---- answers --------------------------------------------------------------------------------

class HistoryEvent(Model):
    """One step of a report's public history."""

    model_config = ConfigDict(populate_by_name=True)

    at: datetime
    from_: ReportStatus | None = Field(alias="from")
    to: ReportStatus
    public_note: str | None = Field(
        description="Shown to everyone (also in e-mails and feeds). `still_there` marks a "
                    "reopening by the reporter or a follower.")
    planned_for: date | None = Field(description="The planned date of a `scheduled` step.")
    reason: Reason | None = Field(description="Why it was `rejected`.")
    resolution: Resolution | None = Field(description="How it was `resolved`.")
    duplicate_of: int | None = Field(description="The original report of a `duplicate`.")
    transferred_to: str | None = Field(description="Who it was `transferred` to.")
    photo_url: str | None = Field(
        json_schema_extra={"format": "uri-reference"},
        description="A photo taken on site (e.g. of the work done).")
    by: Literal["city", "resident"] = Field(
        description="`city` when a staff member (or the city's own systems) acted, else "
                    "`resident`.")
    demo: bool = Field(description="Invented demonstration history for an imported record: "
                                   "never real data.")


class StaffHistoryEvent(HistoryEvent):
    """A history step as staff see it: with the internal note and the actor."""

    internal_note: str | None = Field(description="Staff only.")
    actor: str | None = Field(description="Staff only: who acted (display name).")


class TransitionResult(Model):
    id: int
    status: ReportStatus
    event_id: int = Field(description="The new history event.")
    history: list[StaffHistoryEvent] = Field(description="Oldest first.")


class ReportHistory(Model):
    id: int
    status: ReportStatus
    history: list[StaffHistoryEvent | HistoryEvent] = Field(
        description="Oldest first. Staff callers (agent, supervisor, planner, moderator, admin) "
                    "get `StaffHistoryEvent`s, everyone else `HistoryEvent`s.")


class PriorityResult(Model):
    id: int
    priority: Priority | None


class AssignmentResult(Model):
    id: int
    assigned_to: int | None = Field(description="The agent's user id.")


class FeedbackResult(Model):
    id: int
    status: ReportStatus
    reopen_count: int = Field(ge=0, description="Times residents reopened it.")


class FollowState(Model):
    following: bool
    followers_count: int = Field(ge=0)


class QueueProperties(ContributionProperties):
    """A report's properties plus the field work's."""

    kind: Literal["report"]
    status: ReportStatus
    priority: Priority | None
    assigned_to: int | None = Field(description="The id of the agent it is assigned to.")
    service: str | None = Field(description="The code of the service in charge.")
    planned_for: date | None = Field(description="The planned date, once `scheduled`.")
    followers_count: int = Field(ge=0)
    age_days: int = Field(ge=0, description="Whole days since it was made.")
    distance_m: float | None = Field(
        None, ge=0, description="Only with `sort=nearest`: metres from `lon`/`lat`.")


class QueueFeature(Model):
    """A report in the agents' queue."""

    type: Literal["Feature"]
    id: int
    geometry: PointGeometry
    properties: QueueProperties


class AgentQueue(Model):
    type: Literal["FeatureCollection"]
    counts: dict[ReportStatus, Annotated[int, Field(ge=1)]] = Field(
        description="Reports per status under the other filters (every status, not only those "
                    "asked for); absent: none.")
    features: list[QueueFeature] = Field(description="In the `sort` order.")


class BatchItem(Model):
    id: int
    status: ReportStatus


class BatchResult(Model):
    updated: list[BatchItem]


class AgentScopes(Model):
    user_id: int
    scopes: list[AgentScope]
