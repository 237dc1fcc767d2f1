"""The missions API's declared bodies, queries and answers."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    WithJsonSchema,
    field_validator,
)

from app.accounts.schemas import Email
from app.api.contract import ApiQuery, Body, Model
from app.api.types import (
    BBox,
    BodyId,
    Choice,
    CommaList,
    Day,
    Geometry,
    Moment,
    Text,
    Whole,
    fail,
    needs,
    utc_bound,
)
from app.missions.domains import ACTIVITIES, DOMAINS
from app.missions.models import (
    LINK_KINDS,
    MISSION_STATUSES,
    ORGANISATION_STATUSES,
    REMOTE,
    SCHEDULES,
    SIGNUP_STATUSES,
)
from app.missions.schedule import MAX_ONE_OFF
from app.missions.services import (
    ADDRESS_MAX,
    CAPACITY,
    DESCRIPTION_MAX,
    ITEM_MAX,
    LABEL_MAX,
    LINKS_MAX,
    LIST_ITEMS_MAX,
    LIST_LIMIT,
    MESSAGE_MAX,
    NAME_MAX,
    OFFSET_MAX,
    ORG_DESCRIPTION_MAX,
    PHONE_MAX,
    PLACES_MAX,
    RADIUS_M,
    REASON_MAX,
    STATE_ACTIONS,
    TITLE_MAX,
    TITLE_MIN,
    URL_MAX,
    VERIFICATIONS,
)

Q_MAX = 100
PointGeometry = Geometry("mission")
Capacity = Annotated[Whole(*CAPACITY), Field(description="How many volunteers the slot takes.")]
Domain = Choice(tuple(DOMAINS), description="API Engagement's domain of action.")
Activity = Choice(ACTIVITIES, description="One of API Engagement's activities.")
Remote = Choice(REMOTE, description="`no`: on site only; `possible`: on site or remote; `full`: remote only.")


def _instant(value):
    """A slot's bounds are instants: a bare date is refused."""
    from datetime import datetime

    if not isinstance(value, datetime):
        fail("invalid_date")
    return value


def _clock(value: Any) -> time:
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or len(value) != 5:
        fail("invalid_time")
    try:
        return time.fromisoformat(value)
    except ValueError:
        fail("invalid_time")


Clock = Annotated[time, BeforeValidator(_clock), Field(
    json_schema_extra={"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "examples": ["10:00"]})]
# a web address in printable ASCII (an internationalised one in its punycode form)
Url = Annotated[str, Field(max_length=URL_MAX, pattern=r"^https?://[!-~]+$", examples=["https://example.org"])]


def _absent_by_default(schema: dict) -> None:
    schema.pop("default", None)


# ---- organisations ----------------------------------------------------------------------------

class OrganisationInput(Body):
    """An association (RNA number) or any body with a SIREN number: at least one of them."""

    name: Text(NAME_MAX, min_length=2) = Field(description="Its name.")
    rna: Annotated[str, Field(pattern=r"^W[0-9A-Z][0-9]{8}$")] | None = Field(
        None, description="Its number in the Répertoire national des associations (W + 9 characters).")
    siren: Annotated[str, Field(pattern=r"^[0-9]{9}$")] | None = Field(
        None, description="Its SIREN number (9 digits, checked by its Luhn key).")
    description: Text(ORG_DESCRIPTION_MAX) = ""
    address: Text(ADDRESS_MAX) = ""
    geometry: PointGeometry | None = Field(None, description="Its address's point, inside Paris, if any.")
    website: Url | None = None
    contact_email: Email | None = Field(None, description="A public contact address of the organisation.")
    contact_phone: Text(PHONE_MAX, min_length=1) | None = None

    def values(self) -> dict:
        return {name: getattr(self, name) for name in type(self).model_fields}


class OrganisationPatch(Body):
    """Only the members sent change. A new RNA or SIREN sends a verified organisation back to
    verification."""

    name: Text(NAME_MAX, min_length=2) = Field(None, json_schema_extra=_absent_by_default)
    rna: Annotated[str, Field(pattern=r"^W[0-9A-Z][0-9]{8}$")] | None = None
    siren: Annotated[str, Field(pattern=r"^[0-9]{9}$")] | None = None
    description: Text(ORG_DESCRIPTION_MAX) = Field(None, json_schema_extra=_absent_by_default)
    address: Text(ADDRESS_MAX) = Field(None, json_schema_extra=_absent_by_default)
    geometry: PointGeometry | None = None
    website: Url | None = None
    contact_email: Email | None = None
    contact_phone: Text(PHONE_MAX, min_length=1) | None = None

    def changes(self) -> dict:
        return {name: getattr(self, name) for name in self.model_fields_set}


class VerificationInput(Body):
    model_config = ConfigDict(json_schema_extra=needs({"refuse": "reason", "suspend": "reason"}, key="decision"))

    decision: Choice(tuple(VERIFICATIONS)) = Field(
        description="`verify` (from pending, refused or suspended), `refuse` (pending) or `suspend` "
                    "(verified); another pair is a 409.")
    reason: Text(REASON_MAX, min_length=1) | None = Field(
        None, description="Required to refuse or suspend: the owners receive it.")


class MemberInput(Body):
    email: Email = Field(description="The e-mail address of an existing account.")
    role: Choice(("owner", "member")) = Field("member", description="Owners add and remove members.")


class OrganisationsQuery(ApiQuery):
    status: Choice(ORGANISATION_STATUSES) | None = Field(
        None, description="Only this status; moderators see every status (their queue: `pending`).")
    mine: bool = Field(False, description="Only the organisations I am a member of, in any status.")
    q: Text(Q_MAX, min_length=1) | None = Field(None, description="Words of the name, or an RNA or SIREN number.")
    limit: int = Field(LIST_LIMIT[2], ge=LIST_LIMIT[0], le=LIST_LIMIT[1])
    offset: int = Field(0, ge=0, le=OFFSET_MAX)


class MemberOut(Model):
    user_id: int
    display_name: str
    email: str
    role: Literal["owner", "member"]
    added_at: str


class OrganisationOut(Model):
    id: int
    name: str
    rna: str | None
    siren: str | None
    description: str
    address: str
    geometry: dict | None
    website: str | None
    contact_email: str | None
    contact_phone: str | None
    status: Literal[ORGANISATION_STATUSES]  # type: ignore[valid-type]
    verified_at: str | None
    missions_count: int = Field(description="Its open missions (published or full).")
    created_at: str
    can_manage: bool = Field(description="Whether the reader is one of its members.")
    status_reason: str | None = Field(None, description="Members and moderators: why refused or suspended.")
    members: list[MemberOut] | None = Field(None, description="Members and moderators only.")


class OrganisationPage(Model):
    total: int
    organisations: list[OrganisationOut]


# ---- missions ---------------------------------------------------------------------------------

class PlaceInput(Body):
    label: Text(LABEL_MAX) = Field("", description="Its address or name, as volunteers should read it.")
    geometry: PointGeometry


class SlotInput(Body):
    starts_at: Moment = Field(description="An instant, with its offset (Paris time: +01:00 or +02:00).")
    ends_at: Moment
    capacity: Capacity

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _instant(cls, value):
        return _instant(value)


class RecurrenceInput(Body):
    """The same hours (Paris time) on some weekdays between two dates."""

    weekdays: list[Whole(0, 6)] = Field(min_length=1, max_length=7, description="0 = Monday … 6 = Sunday.")
    start_time: Clock
    end_time: Clock
    from_date: Day
    until_date: Day
    capacity: Capacity


class PeriodInput(Body):
    """An open period: volunteers come when they can between two instants (no end: ongoing)."""

    starts_at: Moment
    ends_at: Moment | None = None
    capacity: Capacity

    @field_validator("starts_at")
    @classmethod
    def _start(cls, value):
        return _instant(value)

    @field_validator("ends_at")
    @classmethod
    def _end(cls, value):
        return None if value is None else _instant(value)


class LinkInput(Body):
    model_config = ConfigDict(json_schema_extra=needs(
        {"contribution": "id", "consultation": "id", "budget_project": "id", "hotspot": "center"}, key="kind"))

    kind: Choice(LINK_KINDS) = Field(description="What the mission helps with: a proposal or a report "
                                                  "(`contribution`), a consultation, a budget project, or a "
                                                  "hotspot (a point and a radius: \"help clean this street\").")
    id: BodyId | None = Field(None, description="The contribution's, consultation's or budget project's id.")
    center: PointGeometry | None = None
    radius_m: Whole(10, 1000) = Field(100, description="A hotspot's radius in metres.")

    def value(self) -> dict:
        if self.kind == "hotspot":
            if self.center is None:
                fail("required")
            return {"kind": "hotspot", "center": self.center, "radius_m": self.radius_m}
        if self.id is None:
            fail("required")
        return {"kind": self.kind, "id": self.id}


Words = Annotated[list[Text(ITEM_MAX, min_length=1)], Field(max_length=LIST_ITEMS_MAX)]


class MissionInput(Body):
    """A draft mission: its organisation's members publish it. Its schedule is one of:
    `one_off` with `slots`, `recurring` with `recurrence`, `open_period` with `period`."""

    model_config = ConfigDict(json_schema_extra=needs(
        {"one_off": "slots", "recurring": "recurrence", "open_period": "period"}, key="schedule"))

    title: Text(TITLE_MAX, min_length=TITLE_MIN)
    description: Text(DESCRIPTION_MAX, min_length=1)
    domain: Domain
    activities: list[Activity] = Field([], max_length=10)
    remote: Remote = "no"
    places: list[PlaceInput] = Field([], max_length=PLACES_MAX,
                                     description="Where it happens (required unless `remote` is `full`).")
    schedule: Choice(SCHEDULES)
    slots: list[SlotInput] | None = Field(None, max_length=MAX_ONE_OFF)
    recurrence: RecurrenceInput | None = None
    period: PeriodInput | None = None
    min_age: Whole(0, 99) | None = Field(None, description="The minimum age; volunteers confirm it.")
    skills: Words = []
    accessibility: Text(2000) = Field("", description="Accessibility notes (step-free access, seats…).")
    reduced_mobility_accessible: StrictBool = False
    links: list[LinkInput] = Field([], max_length=LINKS_MAX)

    def values(self) -> dict:
        out = {name: getattr(self, name) for name in type(self).model_fields}
        return _plain(out)


def _plain(out: dict) -> dict:
    if "places" in out and out["places"] is not None:
        out["places"] = [{"label": p.label, "geometry": p.geometry} for p in out["places"]]
    if out.get("slots") is not None:
        out["slots"] = [s.model_dump() for s in out["slots"]]
    if out.get("recurrence") is not None:
        out["recurrence"] = out["recurrence"].model_dump()
    if out.get("period") is not None:
        out["period"] = out["period"].model_dump()
    if "links" in out and out["links"] is not None:
        out["links"] = [link.value() for link in out["links"]]
    return out


class MissionPatch(Body):
    """Only the members sent change; the schedule only while a draft (else
    `mission_slots_locked`: change a slot's capacity instead)."""

    title: Text(TITLE_MAX, min_length=TITLE_MIN) = Field(None, json_schema_extra=_absent_by_default)
    description: Text(DESCRIPTION_MAX, min_length=1) = Field(None, json_schema_extra=_absent_by_default)
    domain: Domain = Field(None, json_schema_extra=_absent_by_default)
    activities: list[Activity] = Field(None, max_length=10, json_schema_extra=_absent_by_default)
    remote: Remote = Field(None, json_schema_extra=_absent_by_default)
    places: list[PlaceInput] = Field(None, max_length=PLACES_MAX, json_schema_extra=_absent_by_default)
    schedule: Choice(SCHEDULES) = Field(None, json_schema_extra=_absent_by_default)
    slots: list[SlotInput] | None = Field(None, max_length=MAX_ONE_OFF)
    recurrence: RecurrenceInput | None = None
    period: PeriodInput | None = None
    min_age: Whole(0, 99) | None = None
    skills: Words = Field(None, json_schema_extra=_absent_by_default)
    accessibility: Text(2000) = Field(None, json_schema_extra=_absent_by_default)
    reduced_mobility_accessible: StrictBool = Field(None, json_schema_extra=_absent_by_default)
    links: list[LinkInput] = Field(None, max_length=LINKS_MAX, json_schema_extra=_absent_by_default)

    def changes(self) -> dict:
        return _plain({name: getattr(self, name) for name in self.model_fields_set})


class StateInput(Body):
    model_config = ConfigDict(json_schema_extra=needs({"cancel": "reason"}, key="action"))

    action: Choice(tuple(STATE_ACTIONS)) = Field(
        description="`publish` a draft, `close` or `reopen` it, `cancel` it (with a reason: its volunteers "
                    "are told).")
    reason: Text(REASON_MAX, min_length=1) | None = None


class CapacityInput(Body):
    capacity: Capacity


class SignupInput(Body):
    slot_id: BodyId = Field(description="One of the mission's slots still open to sign-ups.")
    message: Text(MESSAGE_MAX) = Field("", description="A word for the organisation (only its members read it).")
    confirm_age: StrictBool = Field(False, description="I am at least the mission's minimum age.")


class SignupDecisionInput(Body):
    decision: Choice(("accept", "decline"))
    note: Text(REASON_MAX, min_length=1) | None = Field(None, description="Sent to the volunteer.")


def _near(value: Any) -> tuple[float, float]:
    parts = value.split(",") if isinstance(value, str) else value
    try:
        lon, lat = (float(v) for v in parts)
    except (TypeError, ValueError):
        fail("invalid_point")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        fail("invalid_point")
    return lon, lat


Near = Annotated[tuple[float, float], PlainValidator(_near), WithJsonSchema({
    "type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number", "minimum": -90, "maximum": 90},
    "style": "form", "explode": False, "examples": [[2.3372, 48.848]],
    "description": "`lon,lat` in WGS84 degrees: missions near this point, nearest first."})]


class MissionsQuery(ApiQuery):
    near: Near | None = None
    radius_m: int = Field(RADIUS_M[2], ge=RADIUS_M[0], le=RADIUS_M[1],
                          description="Near a point: within this many metres.")
    remote_too: bool = Field(False, description="Near a point: remote missions too.")
    bbox: BBox | None = None
    arrondissement: Annotated[int, Field(ge=1, le=20)] | None = None
    domain: CommaList(Domain, max_items=len(DOMAINS)) | None = None
    remote: CommaList(Remote, max_items=3) | None = None
    from_: Moment | None = Field(None, alias="from", description="With a slot ending on or after this.")
    to: Moment | None = Field(None, description="With a slot starting on or before this.")
    status: CommaList(Choice(MISSION_STATUSES), max_items=5) | None = Field(
        None, description="Published and full by default; drafts only for their organisation's members.")
    organisation: Annotated[int, Field(ge=1)] | None = None
    q: Text(Q_MAX, min_length=1) | None = None
    limit: int = Field(LIST_LIMIT[2], ge=LIST_LIMIT[0], le=LIST_LIMIT[1])
    offset: int = Field(0, ge=0, le=OFFSET_MAX)

    def filters(self) -> dict:
        return {"near": self.near, "radius_m": self.radius_m,
                "remote_too": self.remote_too, "bbox": self.bbox, "arrondissement": self.arrondissement,
                "domain": self.domain, "remote": self.remote, "from": utc_bound(self.from_),
                "to": utc_bound(self.to, end=True), "status": self.status, "organisation": self.organisation,
                "q": self.q, "limit": self.limit, "offset": self.offset}


class SlotOut(Model):
    id: int
    starts_at: str
    ends_at: str | None
    capacity: int
    taken: int = Field(description="Places held (pending and accepted sign-ups).")
    waiting: int
    remaining: int
    open: bool = Field(description="Whether it still takes sign-ups.")


class PlaceOut(Model):
    label: str
    geometry: dict
    arrondissement: int | None


class Volunteers(Model):
    taken: int
    capacity: int
    waiting: int


class OrganisationRef(Model):
    id: int
    name: str
    status: Literal[ORGANISATION_STATUSES]  # type: ignore[valid-type]


class SignupOut(Model):
    id: int
    mission_id: int
    slot_id: int
    starts_at: str | None
    ends_at: str | None
    status: Literal[SIGNUP_STATUSES]  # type: ignore[valid-type]
    message: str
    decision_note: str | None
    created_at: str
    decided_at: str | None
    ical: str = Field(description="The sign-up's iCalendar file.")
    waiting_position: int | None = None
    volunteer: dict | None = Field(None, description="Members only: the volunteer's name and e-mail.")
    mission: dict | None = None


class MissionSummary(Model):
    id: int
    title: str
    domain: str
    activities: list[str]
    remote: Literal[REMOTE]  # type: ignore[valid-type]
    schedule: Literal[SCHEDULES]  # type: ignore[valid-type]
    status: Literal[MISSION_STATUSES]  # type: ignore[valid-type]
    organisation: OrganisationRef
    places: list[PlaceOut]
    arrondissements: list[int]
    next_slot: SlotOut | None
    slots_count: int
    volunteers: Volunteers = Field(description="Counts only: never who.")
    min_age: int | None
    published_at: str | None
    updated_at: str
    distance_m: int | None = Field(None, description="Near a point: to its nearest place.")


class MissionOut(MissionSummary):
    description: str
    skills: list[str]
    accessibility: str
    reduced_mobility_accessible: bool
    recurrence: dict | None
    slots: list[SlotOut]
    status_reason: str | None
    links: list[dict]
    source: Literal["cartagora", "api_engagement"]
    can_manage: bool
    my_signups: list[SignupOut] = Field(description="The reader's own sign-ups.")


class MissionPage(Model):
    total: int
    missions: list[MissionSummary]


class SignupsOut(Model):
    signups: list[SignupOut]


class SignupsQuery(ApiQuery):
    status: Choice(SIGNUP_STATUSES) | None = None


class EngagementsQuery(ApiQuery):
    past: bool = Field(False, description="Past engagements instead of upcoming ones.")
