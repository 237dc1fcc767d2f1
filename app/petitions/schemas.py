"""The petitions API's declared bodies, queries and answers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, ConfigDict, Field, StrictBool

from app.api.contract import ApiQuery, Body, Model
from app.api.types import Choice, Cursor, Geometry, Text, fail, needs
from app.petitions.models import STATUSES
from app.petitions.services import (
    ADDRESSEE_MAX,
    ANSWER_MAX,
    BODY_MAX,
    REASON_MAX,
    SIGNING_DAYS,
    THRESHOLD_MAX,
    TITLE_MAX,
    TITLE_MIN,
)

LIST_LIMIT = (1, 100, 20)   # lowest, highest, default
NAMES_LIMIT = (1, 100, 50)
Q_MAX = 100
DECISIONS = ("admissible", "refused", "hide", "restore")

Title = Annotated[Text(TITLE_MAX, min_length=TITLE_MIN), Field(description="What it asks, in one line.")]
PetitionText = Annotated[Text(BODY_MAX, min_length=1), Field(description="The petition's text.")]
Addressee = Annotated[Text(ADDRESSEE_MAX, min_length=1), Field(
    description="Whom it asks (the Maire de Paris, a maire d'arrondissement, the Conseil de Paris…).")]


def _json_number(value):
    """A JSON number only: not `true` (pydantic would read 1) nor "4" (a string); 4.0 is 4,
    as JSON Schema says."""
    if isinstance(value, bool | str):
        fail("not_a_number")
    return value


def Whole(low: int, high: int):
    """A whole number within [low, high] (the bounds before the validator: else pydantic
    writes them as `ge`/`le` in a nullable member's JSON Schema)."""
    return Annotated[int, Field(ge=low, le=high), BeforeValidator(_json_number)]


Arrondissement = Whole(1, 20)
PetitionGeometry = Annotated[Geometry("petition"), Field(
    description="Where it is about, if anywhere: a point, or an area (polygon) inside Paris. Its "
                "arrondissement is located from it.")]
# a place on the map, or an arrondissement named: not both (the service says
# `not_with_geometry` on `arrondissement`)
ONE_PLACE = {"not": {"required": ["geometry", "arrondissement"],
                     "properties": {"geometry": {"type": "object"}, "arrondissement": {"type": "integer"}}}}
Status = Choice(STATUSES)


class PetitionInput(Body):
    """A new draft: its author edits it, then submits it to moderation."""

    model_config = ConfigDict(json_schema_extra=ONE_PLACE)

    title: Title
    body: PetitionText
    addressee: Addressee
    geometry: PetitionGeometry | None = None
    arrondissement: Arrondissement | None = Field(
        None, description="The arrondissement it concerns, for a petition without a place on the map.")

    def values(self) -> dict:
        return {"title": self.title, "body": self.body, "addressee": self.addressee,
                "geometry": self.geometry, "arrondissement": self.arrondissement}


def _absent_by_default(schema: dict) -> None:
    """A member that may be left out but never be null: no `default: null` in the document."""
    schema.pop("default", None)


class PetitionPatch(Body):
    """Only the members sent change (a draft, by its author). `geometry: null` takes it off the
    map; an arrondissement without a geometry replaces the place."""

    model_config = ConfigDict(json_schema_extra=ONE_PLACE)

    title: Title = Field(None, json_schema_extra=_absent_by_default)
    body: PetitionText = Field(None, json_schema_extra=_absent_by_default)
    addressee: Addressee = Field(None, json_schema_extra=_absent_by_default)
    geometry: PetitionGeometry | None = None
    arrondissement: Arrondissement | None = None

    def changes(self) -> dict:
        return {name: getattr(self, name) for name in self.model_fields_set}


class ModerationInput(Body):
    model_config = ConfigDict(json_schema_extra=needs(
        {"refused": "reason", "hide": "reason", "restore": "reason"}, key="decision"))

    decision: Choice(DECISIONS) = Field(
        description="For a petition awaiting moderation: `admissible` (it opens for signatures, "
                    "with today's period and thresholds) or `refused`. For a published one: "
                    "`hide` or `restore`. Another pair is a 409.")
    reason: Text(REASON_MAX, min_length=1) | None = Field(
        None, description="Required to refuse, hide or restore: the author receives it; a refusal's "
                          "is shown to the author on the petition.")


class SignatureInput(Body):
    public_name: StrictBool = Field(False, description="Show my public name among the signers.")
    arrondissement: Arrondissement | None = Field(
        None, description="The arrondissement I live in, if I want to say: counted per "
                          "arrondissement, never shown with my name.")


class AnswerInput(Body):
    answer: Text(ANSWER_MAX, min_length=1) = Field(description="The city's official answer, public.")


class SettingsInput(Body):
    """Apply to petitions opened from now on (a running petition keeps its own)."""

    signing_days: Whole(*SIGNING_DAYS) = Field(
                              description="How long a petition collects signatures, in days; it "
                                          "closes at midnight (Paris) at the end of the last day.")
    answer_threshold: Whole(1, THRESHOLD_MAX) | None = Field(description=(
        "Signatures that oblige a written answer; null for none. Below the referral threshold "
        "(else `not_below_referral`)."))
    referral_threshold: Whole(2, THRESHOLD_MAX) = Field(description=(
        "Signatures that refer the petition to the Conseil de Paris (5,000 in its rules)."))


class ListQuery(ApiQuery):
    status: Status | None = Field(None, description="Only this status. Drafts, petitions awaiting "
                                                    "moderation and refused ones are listed only "
                                                    "to their author and to moderators.")
    arrondissement: Annotated[int, Field(ge=1, le=20)] | None = None
    q: Text(Q_MAX, min_length=1) | None = Field(None, description="Words in the title or the text.")
    mine: bool = Field(False, description="Only my petitions, drafts included (signed in).")
    limit: int = Field(LIST_LIMIT[2], ge=LIST_LIMIT[0], le=LIST_LIMIT[1])
    cursor: Cursor | None = None


class SignaturesQuery(ApiQuery):
    limit: int = Field(NAMES_LIMIT[2], ge=NAMES_LIMIT[0], le=NAMES_LIMIT[1],
                       description="Public names per page.")
    cursor: Cursor | None = None


# ---- answers ------------------------------------------------------------------------------------

class Thresholds(Model):
    answer: int | None = Field(description="Signatures obliging a written answer (none: null).")
    referral: int = Field(description="Signatures referring it to the Conseil de Paris.")


class NextThreshold(Model):
    kind: Literal["answer", "referral"]
    count: int
    remaining: int = Field(ge=0)


class PetitionSummary(Model):
    id: int
    title: str
    addressee: str
    status: Literal[STATUSES]  # type: ignore[valid-type]
    author: str | None = Field(description="The author's public name (null: a deleted account).")
    arrondissement: int | None
    created_at: str
    opened_at: str | None
    closes_at: str | None = Field(description="Signatures are taken until this instant (midnight, "
                                              "Paris time).")
    answered_at: str | None
    signatures_count: int = Field(ge=0)
    thresholds: Thresholds | None = Field(description="Fixed when it opens.")
    next_threshold: NextThreshold | None = Field(description="While open: the next goal.")


class HistoryItem(Model):
    at: str
    from_: Literal[STATUSES] | None = Field(alias="from")  # type: ignore[valid-type]
    to: Literal[STATUSES]  # type: ignore[valid-type]
    threshold: int | None = Field(description="The signatures reached, for a threshold's event.")
    public_note: str | None
    by: Literal["author", "moderation", "city"] | None


class OfficialAnswer(Model):
    text: str
    at: str


class MySignature(Model):
    public_name: bool
    arrondissement: int | None
    signed_at: str


class PetitionOut(PetitionSummary):
    body: str
    geometry: dict | None = Field(description="GeoJSON (WGS84), or null.")
    submitted_at: str | None
    referred_at: str | None
    closed_at: str | None = Field(description="When signing ended.")
    answer_threshold_reached_at: str | None
    answer: OfficialAnswer | None
    is_author: bool
    my_signature: MySignature | None = Field(description="The caller's own signature.")
    history: list[HistoryItem]
    refusal_reason: str | None = Field(None, description="Only to its author and moderators.")
    hidden: bool | None = Field(None, description="Only to its author and moderators.")


class PageLink(Model):
    rel: Literal["next"]
    href: str


class PetitionPage(Model):
    numberReturned: int = Field(ge=0)
    links: list[PageLink]
    petitions: list[PetitionSummary]


class SignatureOut(Model):
    petition_id: int
    signed: bool
    signatures_count: int = Field(ge=0, description="Exact, this signature included.")
    status: Literal[STATUSES]  # type: ignore[valid-type]
    my_signature: MySignature | None
    next_threshold: NextThreshold | None


class AreaCount(Model):
    arrondissement: int | None = Field(description="null: signers who declared none.")
    count: int | None = Field(description="null below `min_count` (for the public).")


class SignerName(Model):
    name: str
    signed_at: str


class SignaturesOut(Model):
    signatures_count: int
    min_count: int = Field(description="Smaller counts are null (5 for the public, 1 for planners).")
    by_arrondissement: list[AreaCount]
    names: list[SignerName] = Field(description="Signers who chose to show their name, newest first.")
    links: list[PageLink]


class SettingsOut(Model):
    signing_days: int
    answer_threshold: int | None
    referral_threshold: int
    updated_at: str
