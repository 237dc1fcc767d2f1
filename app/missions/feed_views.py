"""Missions in API Engagement's format (app/missions/api_engagement.py): the public feed that
other volunteering platforms read, and an organisation's import of its missions published
elsewhere. The list's envelope is API Engagement's own (`{ok, total, limit, skip, data}`),
so that a client written for `GET /v0/mymission` reads it unchanged."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from pydantic import Field

from app import policy
from app.accounts.auth import current_user
from app.api.contract import ApiQuery, Body, Model, Reply, operation
from app.api.types import Choice
from app.db import db
from app.missions import api_engagement, services

bp = Blueprint("missions_feed", __name__)
TAGS = ("Missions",)
LIMIT = (1, 500, 50)


class ApiEngagementQuery(ApiQuery):
    limit: int = Field(LIMIT[2], ge=LIMIT[0], le=LIMIT[1], description="Missions per page (1–500).")
    skip: int = Field(0, ge=0, le=services.OFFSET_MAX, description="Missions to skip (at most 10,000).")
    status: Choice(("open", "all"), description="`open` (published or full, the default) or "
                                                "`all` (closed and cancelled ones too).") = "open"


class ApiEngagementLocation(Model):
    lat: float
    lon: float


class ApiEngagementAddress(Model):
    street: str | None = None
    postalCode: str | None = None  # noqa: N815 (API Engagement's names)
    city: str | None = None
    departmentCode: str | None = None  # noqa: N815
    departmentName: str | None = None  # noqa: N815
    region: str | None = None
    country: str | None = None
    location: ApiEngagementLocation | None = None


class ApiEngagementMission(Model):
    """A mission as API Engagement's `MissionV2` (and the v0 `activity` string)."""

    clientId: str  # noqa: N815
    title: str
    description: str
    domain: str
    activities: list[str]
    activity: str | None
    remote: str = Field(json_schema_extra={"enum": ["no", "possible", "full"]})
    type: str = Field(json_schema_extra={"enum": ["benevolat"]})
    startAt: str | None = Field(description="ISO 8601, UTC: the first slot's start.")  # noqa: N815
    endAt: str | None = Field(description="The last slot's end (none for an open period without one).")  # noqa: N815
    places: int = Field(ge=1, description="Places still free (when none, the capacity).")
    schedule: str | None = Field(description="The rhythm in words (French).")
    addresses: list[ApiEngagementAddress]
    openToMinors: bool  # noqa: N815
    reducedMobilityAccessible: bool  # noqa: N815
    requirements: list[str]
    softSkills: list[str]  # noqa: N815
    applicationUrl: str  # noqa: N815
    metadata: str | None = Field(description="A recurring mission's rule, as JSON text.")
    organizationClientId: str  # noqa: N815
    organizationName: str  # noqa: N815
    organizationRNA: str | None  # noqa: N815
    organizationSiren: str | None  # noqa: N815
    organizationDescription: str | None  # noqa: N815
    organizationUrl: str | None  # noqa: N815
    organizationFullAddress: str | None  # noqa: N815
    organizationPostCode: str | None  # noqa: N815
    organizationCity: str  # noqa: N815
    statusCode: str = Field(json_schema_extra={"enum": ["ACCEPTED", "PENDING"]})  # noqa: N815
    createdAt: str  # noqa: N815
    updatedAt: str  # noqa: N815
    postedAt: str | None  # noqa: N815


class ApiEngagementPage(Model):
    ok: bool
    total: int
    limit: int
    skip: int
    data: list[ApiEngagementMission]


class ApiEngagementImport(Body):
    data: list[dict[str, Any]] = Field(
        max_length=api_engagement.IMPORT_MAX,
        description="API Engagement missions (`clientId`, `title`, `addresses` with their "
                    "`location`, `startAt`, `endAt`, `places`…), at most 500.")


class ApiEngagementItemError(Model):
    field: str
    code: str
    detail: str


class ApiEngagementSkipped(Model):
    index: int
    clientId: str | None  # noqa: N815
    errors: list[ApiEngagementItemError]


class ApiEngagementReport(Model):
    created: int
    updated: int
    skipped: list[ApiEngagementSkipped]


@operation(bp, "GET", "/api/v1/missions/api-engagement", query=ApiEngagementQuery, tags=TAGS,
           replies={200: Reply("A page of missions in API Engagement's format, by id.", ApiEngagementPage)})
def feed_view(query: ApiEngagementQuery):
    """Missions in API Engagement's format

    The public missions (of verified organisations), open ones unless `status=all`, in the
    format of API Engagement (betagouv/api-engagement), for volunteering platforms to list."""
    total, rows = api_engagement.feed_page(db.session, query.status == "open", query.limit, query.skip)
    return {"ok": True, "total": total, "limit": query.limit, "skip": query.skip,
            "data": [api_engagement.to_api_engagement(db.session, m) for m in rows]}


@operation(bp, "POST", "/api/v1/organisations/<id:organisation_id>/missions/api-engagement",
           body=ApiEngagementImport, tags=TAGS, auth=policy.roles("organisation.manage"),
           problems={404: "No such organisation, or not verified and not yours (`organisation_not_found`).",
                     403: "Not a member of the organisation (`forbidden`).",
                     422: "Not a list of at most 500 objects in `data` (`too_many_items`…)."},
           replies={200: Reply("What was created, updated and skipped (with each item's errors).",
                               ApiEngagementReport)})
def import_view(organisation_id: int, body: ApiEngagementImport):
    """Import missions in API Engagement's format

    Members of the organisation. An item whose `clientId` the organisation already holds
    updates that mission (its texts, places and capacity; its slots only while a draft);
    another is created and published when it has a slot open to sign-ups. An invalid item
    (an address outside Paris, no location…) is skipped with its errors; the others land."""
    user = current_user()
    org = services.organisation_readable(db.session, organisation_id, user)
    return api_engagement.import_missions(db.session, org, user, body.data)
