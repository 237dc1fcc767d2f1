"""The Open311 GeoReport v2 endpoints' declared queries and forms (app/open311/views.py).

GeoReport v2 is its own standard: its parameters, its form-encoded POSTs and its error
format (a list of {code, description}, in XML or JSON) are the spec's, so these endpoints are
not in the JSON API's OpenAPI document; the discovery document names them. The models here
are still the one declaration that validates each request and shapes its errors
(app.open311.formats renders the field errors as the spec's error list). As the spec says,
an optional parameter sent empty is the same as absent.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from app.api.types import Choice, Text, fail
from app.contributions.models import REPORT_CLOSED, REPORT_OPEN
from app.field.workflow import NOTE_MAX

JURISDICTION = "paris.fr"
DESCRIPTION_MAX = 4000  # the spec's limit on a request's description
WINDOW_DAYS = 90        # the spec's default window and longest span of GET requests
REQUESTS_MAX = 1000     # and its cap on results
IDS_MAX = 1000
URL_MAX = 2000
STATUS_GROUPS = {"open": REPORT_OPEN, "closed": REPORT_CLOSED}
# FixMyStreet's update statuses (lower-cased, as its client reads them)
UPDATE_STATUSES = ("open", "investigating", "in_progress", "action_scheduled", "fixed", "closed",
                   "duplicate", "not_councils_responsibility", "internal_referral", "no_further_action")


def _comma(value: Any) -> Any:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


def _moment(value: Any) -> datetime:
    """A W3C datetime with its offset (a date alone: its start in UTC)."""
    if not isinstance(value, str):
        fail("invalid_date")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = datetime.combine(date.fromisoformat(value), time(), tzinfo=None)
        except ValueError:
            fail("invalid_date")
    if moment.tzinfo is None:
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    return moment


Moment = Annotated[datetime, BeforeValidator(_moment)]
Ids = Annotated[list[Annotated[int, Field(ge=1, le=2**63 - 1)]], BeforeValidator(_comma),
                Field(max_length=IDS_MAX)]
Codes = Annotated[list[Text(80, min_length=1)], BeforeValidator(_comma), Field(max_length=500)]
Url = Annotated[str, Field(max_length=URL_MAX, pattern=r"^https?://\S+$")]


class Open311Input(BaseModel):
    """What every Open311 call may send. `api_key` matters on POSTs only; `jurisdiction_id`
    is `paris.fr` (another one names nothing: 404)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    jurisdiction_id: Text(100) | None = None
    api_key: Text(100) | None = None
    lang: Choice(("fr", "en")) | None = None


class RequestsQuery(Open311Input):
    service_request_id: Ids | None = Field(None, description="Comma list; overrides every other filter.")
    service_code: Codes | None = None
    start_date: Moment | None = None
    end_date: Moment | None = None
    status: Annotated[list[Choice(tuple(STATUS_GROUPS))], BeforeValidator(_comma)] | None = None

    def window(self) -> tuple[datetime, datetime]:
        """[start, end) of requested_datetime: the last 90 days by default, 90 at most."""
        from datetime import UTC

        end = self.end_date or datetime.now(UTC)
        start = self.start_date or end - timedelta(days=WINDOW_DAYS)
        if end <= start:
            fail_field("end_date", "empty_period", min=start.isoformat())
        if end - start > timedelta(days=WINDOW_DAYS):
            fail_field("end_date", "period_too_long", max=WINDOW_DAYS)
        return start, end


class UpdatesQuery(Open311Input):
    """FixMyStreet sends both dates or neither (then: the last 24 hours)."""

    start_date: Moment | None = None
    end_date: Moment | None = None


class NewRequestForm(Open311Input):
    service_code: Text(80, min_length=1)
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)] | None = None
    long: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)] | None = None
    address_string: Text(200, min_length=1) | None = None
    address_id: Text(100, min_length=1) | None = None
    description: Text(DESCRIPTION_MAX) | None = None
    media_url: Url | None = None
    attribute: dict[Text(80, min_length=1), Text(1000) | list[Text(1000)]] = Field(
        default_factory=dict, max_length=50)
    # personal fields: accepted, never stored nor shown (the client's users are its own)
    email: Text(200) | None = None
    device_id: Text(200) | None = None
    account_id: Text(200) | None = None
    first_name: Text(200) | None = None
    last_name: Text(200) | None = None
    phone: Text(50) | None = None


class UpdateForm(Open311Input):
    """FixMyStreet's `POST servicerequestupdates`: a contractor's system moves a report."""

    service_request_id: Annotated[int, Field(ge=1, le=2**63 - 1)]
    status: Annotated[str, BeforeValidator(lambda v: v.lower() if isinstance(v, str) else v),
                      Choice(UPDATE_STATUSES)]
    description: Text(NOTE_MAX) | None = None
    updated_datetime: Moment | None = None
    update_id: Text(100) | None = None
    media_url: Url | None = None
    duplicate_of: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = Field(
        None, description="Extension: the report a `duplicate` merges into.")
    planned_for: date | None = Field(None, description="Extension: the day an `action_scheduled` "
                                                       "is planned for.")
    external_status_code: Text(100) | None = None
    email: Text(200) | None = None
    first_name: Text(200) | None = None
    last_name: Text(200) | None = None
    account_id: Text(200) | None = None


def fail_field(field: str, code: str, **params) -> None:
    from app.errors import FieldError, ValidationFailed

    raise ValidationFailed([FieldError(field, code, params)])


def form_data(form) -> dict:
    """A form-encoded body as a dict: `attribute[CODE]=v` and `attribute[CODE][]=v` (repeated
    for a multi-value list) gather under `attribute`; blank values are absent (the spec)."""
    data: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    for key in form:
        values = [v for v in form.getlist(key) if v != ""]
        if not values:
            continue
        if key.startswith("attribute[") and key.endswith("]"):
            name = key[len("attribute["):-1]
            if name.endswith("]["):  # attribute[CODE][]
                attributes[name[:-2]] = values
            else:
                attributes[name] = values[0]
        else:
            data[key] = values[0]
    if attributes:
        data["attribute"] = attributes
    return data
