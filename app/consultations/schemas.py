"""The consultations' and answers' declared bodies, queries and replies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from app.api.contract import ApiQuery, Body, Model
from app.api.types import Choice, Day, Geometry, Text, Whole
from app.consultations import services
from app.consultations.answers import ANSWERS, NOTE_MAX
from app.consultations.models import AREA_KINDS, GEOMETRY_TYPES, PHASES, STAGES, VOTE_RULES
from app.contributions.models import PROPOSAL_STATUSES
from app.contributions.schemas import ARRONDISSEMENTS, QUARTIERS

LIST_MAX = 100
THEMES_MAX = 20

Title = Annotated[Text(services.TITLE_MAX, min_length=services.TITLE_MIN), Field(
    description="Its title, as lists show it.")]
Question = Annotated[Text(services.QUESTION_MAX, min_length=3), Field(
    description="The question residents answer with proposals.")]
Description = Annotated[Text(services.DESCRIPTION_MAX), Field(description="Context, plain text.")]
Themes = Annotated[list[Text(64, min_length=1)] | None, Field(
    max_length=THEMES_MAX, description="Proposal category codes it accepts (each with its "
                                       "sub-categories); null or empty: every theme. An unknown "
                                       "code is `unknown_category` on `themes[i]`.")]
GeometryTypes = Annotated[list[Choice(GEOMETRY_TYPES)], Field(
    min_length=1, max_length=3, description="The geometry types proposals may have.")]
VoteRule = Annotated[Choice(VOTE_RULES), Field(
    description="`for_against`: agree (1) or disagree (−1); `scale`: Carticipe's −2…+2.")]


def _no_default(schema: dict) -> None:
    """A member that may be left out but, when given, is not null."""
    schema.pop("default", None)


class ConsultationPhaseInput(Body):
    """A phase from its first to its last day, both included, in Paris's calendar: it opens at
    midnight Paris time and closes at the midnight after its last day."""

    phase: Choice(PHASES) = Field(description="`ideas` (residents propose, vote, comment), "
                                              "`votes` (vote and comment), `synthesis`, `answers`.")
    starts_on: Day
    ends_on: Day


Phases = Annotated[list[ConsultationPhaseInput], Field(
    min_length=1, max_length=len(PHASES),
    description="In this order, `ideas` first, each starting the day after the previous one "
                "ends (`ideas_first`, `phases_out_of_order`, `phase_not_contiguous`).")]


class ConsultationArea(Body):
    """Exactly one of: arrondissements, quartiers (their numbers), or a drawn polygon inside
    Paris (`area_needs_one`)."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"required": ["arrondissements"]}, {"required": ["quartiers"]}, {"required": ["polygon"]}]})

    arrondissements: list[Whole(*ARRONDISSEMENTS)] = \
        Field(None, min_length=1, max_length=20, json_schema_extra=_no_default)
    quartiers: list[Whole(*QUARTIERS)] = \
        Field(None, min_length=1, max_length=80, json_schema_extra=_no_default)
    polygon: Geometry("area") = Field(None, description="A GeoJSON Polygon inside Paris.",
                                      json_schema_extra=_no_default)

    @model_validator(mode="after")
    def _one(self) -> ConsultationArea:
        given = [k for k in ("arrondissements", "quartiers", "polygon") if getattr(self, k) is not None]
        if len(given) != 1:
            from pydantic_core import PydanticCustomError

            raise PydanticCustomError("area_needs_one", "area_needs_one")
        return self

    def value(self) -> tuple[str, list[int], Any]:
        if self.arrondissements is not None:
            return "arrondissements", self.arrondissements, None
        if self.quartiers is not None:
            return "quartiers", self.quartiers, None
        return "polygon", [], self.polygon


class ConsultationInput(Body):
    title: Title
    question: Question
    description: Description = ""
    area: ConsultationArea
    phases: Phases
    themes: Themes = None
    geometry_types: GeometryTypes = list(GEOMETRY_TYPES)
    vote_rule: VoteRule = "for_against"

    def values(self) -> dict:
        return self.model_dump(include={"title", "question", "description", "themes",
                                        "geometry_types", "vote_rule"})

    def phase_days(self) -> list[services.PhaseDays]:
        return [services.PhaseDays(p.phase, p.starts_on, p.ends_on) for p in self.phases]


class ConsultationPatch(Body):
    """Only the members given change. Once published: the texts, and the phases until the first
    one starts (else `frozen_once_published`, `phase_started`)."""

    title: Title | None = None
    question: Question | None = None
    description: Description | None = None
    area: ConsultationArea | None = None
    phases: Phases | None = None
    themes: Themes = None
    geometry_types: GeometryTypes | None = None
    vote_rule: VoteRule | None = None

    def values(self) -> dict:
        named = self.model_fields_set - {"area", "phases"}
        out = {k: getattr(self, k) for k in named}
        for k in ("title", "question", "geometry_types", "vote_rule"):
            if k in out and out[k] is None:
                out.pop(k)
        if "description" in out and out["description"] is None:
            out["description"] = ""
        return out

    def phase_days(self) -> list[services.PhaseDays] | None:
        if self.phases is None:
            return None
        return [services.PhaseDays(p.phase, p.starts_on, p.ends_on) for p in self.phases]


class ConsultationListQuery(ApiQuery):
    stage: Choice(STAGES) | None = Field(None, description="Only consultations in this stage now.")
    limit: int = Field(50, ge=1, le=LIST_MAX)


class ConsultationPhase(Model):
    phase: Literal[PHASES]  # type: ignore[valid-type]
    starts_at: datetime
    ends_at: datetime = Field(description="Exclusive: midnight Paris time after its last day.")
    starts_on: date = Field(description="Its first day (Paris).")
    ends_on: date = Field(description="Its last day (Paris).")


class ConsultationOut(Model):
    id: int
    title: str
    question: str
    description: str
    status: Literal["draft", "published"]
    stage: Literal[STAGES] = Field(  # type: ignore[valid-type]
        description="Now: draft, upcoming, a phase, or ended.")
    can: list[Literal["propose", "vote", "comment"]] = Field(
        description="What a resident may do now.")
    phases: list[ConsultationPhase]
    area_kind: Literal[AREA_KINDS]  # type: ignore[valid-type]
    area_ids: list[int] = Field(description="The arrondissements' or quartiers' numbers.")
    bbox: list[float] = Field(min_length=4, max_length=4, description="west, south, east, north.")
    themes: list[str] | None
    geometry_types: list[str]
    vote_rule: Literal[VOTE_RULES]  # type: ignore[valid-type]
    proposals_count: int = Field(ge=0)
    closed_at: datetime | None = Field(description="When a planner ended participation early.")
    published_at: datetime | None


class ConsultationDetail(ConsultationOut):
    area: dict = Field(description="The area, a GeoJSON MultiPolygon (WGS84, 6 decimals).")


class ConsultationList(Model):
    consultations: list[ConsultationOut] = Field(description="Newest first.")


class SynthesisProposal(Model):
    id: int
    title: str
    score: int = Field(description="The sum of the votes (±1, or −2…+2 on a scale).")
    votes: int
    for_: int = Field(alias="for", description="Votes above zero.")
    against: int = Field(description="Votes below zero.")
    status: Literal[PROPOSAL_STATUSES]  # type: ignore[valid-type]

    model_config = ConfigDict(populate_by_name=True)


class SynthesisBreakdown(Model):
    key: Any = Field(description="A theme code, an arrondissement or a quartier number.")
    name: str | None = None
    proposals: int
    votes: int
    score: int


class SynthesisCounts(Model):
    proposals: int
    votes: int
    comments: int
    voters: int = Field(description="People who voted at least once.")
    authors: int = Field(description="People who proposed at least once.")


class SynthesisOut(Model):
    id: int
    title: str
    stage: Literal[STAGES]  # type: ignore[valid-type]
    counts: SynthesisCounts
    most_supported: list[SynthesisProposal] = Field(description="Highest score first (at most 5).")
    most_contested: list[SynthesisProposal] = Field(
        description="Proposals with votes on both sides, the most votes on the losing side first.")
    by_theme: list[SynthesisBreakdown]
    by_arrondissement: list[SynthesisBreakdown]
    by_quartier: list[SynthesisBreakdown]
    heat: list[list[float]] = Field(description="[lat, lon, weight] per proposal: weight 1 + its votes.")


class ProposalAnswer(Body):
    status: Choice(ANSWERS) = Field(description="under_review, accepted, realised or rejected.")
    public_note: Text(NOTE_MAX, min_length=1) = Field(
        description="The city's answer, public: on the proposal, in its history and e-mails.")


class ProposalAnswerEvent(Model):
    model_config = ConfigDict(populate_by_name=True)

    at: datetime
    from_: Literal[PROPOSAL_STATUSES] | None = Field(alias="from")  # type: ignore[valid-type]
    to: Literal[PROPOSAL_STATUSES]  # type: ignore[valid-type]
    public_note: str | None
    by: Literal["city", "resident"]


class ProposalHistory(Model):
    id: int
    status: Literal[PROPOSAL_STATUSES]  # type: ignore[valid-type]
    history: list[ProposalAnswerEvent] = Field(description="Oldest first.")


class ProposalAnswerResult(ProposalHistory):
    event_id: int
