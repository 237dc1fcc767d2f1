"""The moderation API's declared bodies, queries and answers."""

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from app.accounts.schemas import DISPLAY_NAME_MAX
from app.api.contract import ApiQuery, Body, Model
from app.api.types import Choice, Id, Text, needs
from app.contributions.services import DESCRIPTION_MAX, TITLE_MAX, TITLE_MIN
from app.engagement.services import COMMENT_MAX
from app.moderation.models import REASONS, SUBJECT_TYPES

NOTE_MAX, REASON_MAX, QUEUE_MAX, AUDIT_MAX = 500, 500, 500, 1000

SubjectType = Annotated[Choice(SUBJECT_TYPES), Field(description="What is flagged or moderated.")]
Reason = Annotated[Text(REASON_MAX, min_length=1), Field(
    description="Why: the author receives it by e-mail, the audit log keeps it.")]


class FlagInput(Body):
    model_config = ConfigDict(json_schema_extra=needs({"other": "note"}, key="reason"))

    subject_type: SubjectType
    subject_id: Id
    reason: Choice(REASONS) = Field(description="spam, offensive, personal data, off-topic, or other "
                                                "(then `note` is required).")
    note: Text(NOTE_MAX, min_length=1) | None = Field(
        None, description="What is wrong, for the moderators; required with `other`.")


class FlagOut(Model):
    flags: int = Field(description="Open flags on the item, this one included.")
    hidden: bool = Field(description="True when this flag hid the item until it is reviewed.")


class DecisionInput(Body):
    subject_type: SubjectType
    subject_id: Id
    action: Choice(("hide", "restore", "dismiss", "ban", "unban")) = Field(
        description="Contributions and comments: hide, restore, dismiss (the flags, keeping it "
                    "visible). Profiles: dismiss, ban, unban (a banned account's new content "
                    "is stored hidden). Another pair is `decision_not_applicable` (409).")
    reason: Reason


class EditInput(Body):
    """Only the members of the item's type (contribution: title, description; comment: body;
    profile: display_name): another is `not_editable`, none at all `nothing_to_change`. The
    replaced values are kept in the audit log."""

    subject_type: SubjectType
    subject_id: Id
    title: Text(TITLE_MAX, min_length=TITLE_MIN) | None = None
    description: Text(DESCRIPTION_MAX) | None = None
    body: Text(COMMENT_MAX, min_length=1) | None = None
    display_name: Text(DISPLAY_NAME_MAX, min_length=1) | None = None
    reason: Reason


class StateOut(Model):
    subject_type: Literal[SUBJECT_TYPES]  # type: ignore[valid-type]
    subject_id: int
    hidden: bool
    banned: bool
    open_flags: int


class QueueQuery(ApiQuery):
    state: Choice(("all", "flagged", "hidden")) = Field(
        "all", description="`flagged`: visible items with open flags; `hidden`: hidden items "
                           "(by flags or by a moderator); `all`: both.")
    subject_type: SubjectType | None = None
    reason: Choice(REASONS) | None = Field(None, description="Only items flagged for this reason.")
    limit: int = Field(100, ge=1, le=QUEUE_MAX)


class QueueItem(Model):
    subject_type: str
    subject_id: int
    kind: str = Field(description="report, proposal, comment or user.")
    contribution_id: int | None = Field(description="The contribution, or the one a comment is on.")
    label: str | None
    text: str | None
    hidden: bool
    flags: int
    reasons: dict[str, int]
    notes: list[dict]
    last_flag_at: str | None
    author: dict | None


class QueueOut(Model):
    items: list[QueueItem]


class DomainInput(Body):
    reason: Reason


class DomainsOut(Model):
    domains: list[dict]


class AuditQuery(ApiQuery):
    subject_type: Text(40) | None = None
    subject_id: Text(100) | None = None
    action: Text(40) | None = None
    before: Id | None = Field(None, description="Only entries older than this id (the next page).")
    limit: int = Field(200, ge=1, le=AUDIT_MAX)


class AuditOut(Model):
    entries: list[dict]


# ---- photo redaction ----------------------------------------------------------------------------

REGIONS_MAX = 10
Sha256 = Annotated[str, Field(pattern="^[0-9a-f]{64}$", min_length=64, max_length=64,
                              description="The SHA-256 of the stored JPEG, in lower-case hex (the "
                                          "name of its file in the photo's `url`).")]


class Region(Body):
    """A rectangle of the photo, from its top-left corner, as fractions of its width (`x`,
    `w`) and height (`y`, `h`). It must lie within the photo (`x + w` and `y + h` at most 1,
    else `out_of_range` on `w` or `h`); it is widened to whole pixels."""

    x: float = Field(ge=0, lt=1, description="Left edge, a fraction of the width.")
    y: float = Field(ge=0, lt=1, description="Top edge, a fraction of the height.")
    w: float = Field(gt=0, le=1, description="Width, a fraction of the photo's width.")
    h: float = Field(gt=0, le=1, description="Height, a fraction of the photo's height.")


class RedactionInput(Body):
    """The blurred copy replaces the photo on the contribution; the original is kept on disk
    for staff (`GET /api/v1/moderation/photos/{sha256}/original`) and stops being public."""

    contribution_id: Id
    sha256: Sha256
    regions: list[Region] = Field(min_length=1, max_length=REGIONS_MAX,
                                  description="The regions to blur (faces, number plates…).")
    reason: Annotated[Text(REASON_MAX, min_length=1), Field(
        description="Why: the audit log keeps it.")]


class RedactionOut(Model):
    url: str = Field(description="The blurred photo.")
    thumbnail_url: str
    sha256: str = Field(description="The blurred photo's SHA-256.")
    original_sha256: str = Field(description="The original's, for staff.")
    width: int
    height: int
