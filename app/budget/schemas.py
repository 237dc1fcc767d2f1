"""The participatory budget's declared bodies, queries and replies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StrictBool

from app.api.contract import ApiQuery, Body, Model
from app.api.types import (
    BodyId,
    CategoryCode,
    Choice,
    CommaList,
    Cursor,
    Day,
    Geometry,
    Text,
    Whole,
)
from app.budget.models import (
    ALLOWED_IN,
    BALLOT_METHODS,
    CYCLE_STATUSES,
    DELIVERY_STATUSES,
    LOCATED_BY,
    PHASES,
    PROJECT_STATUSES,
    STAGES,
    WINNERS_RULES,
)
from app.budget.services import (
    ADDRESS_MAX,
    COST_MAX,
    DESCRIPTION_MAX,
    LINKS_MAX,
    PLANNERS_IN,
    REASON_MAX,
    TITLE_MAX,
    TITLE_MIN,
    YEAR_MAX,
    YEAR_MIN,
    EnvelopeValues,
    PhaseDays,
)
from app.contributions.schemas import ContributionGeometry, PageLink

LIST_LIMIT = (1, 1000, 100)  # lowest, highest, default page size
ARRONDISSEMENT = (1, 20)


def _absent_by_default(schema: dict) -> None:
    """A member that may be left out but never be null: no `default: null` in the document."""
    schema.pop("default", None)


def _codes(values) -> str:
    return ", ".join(f"`{v}`" for v in values)


Title = Annotated[Text(TITLE_MAX, min_length=TITLE_MIN), Field(description="Its title, as lists show it.")]
Description = Annotated[Text(DESCRIPTION_MAX), Field(description="Plain text.")]
Cents = Whole(0, COST_MAX)
Arrondissement = Whole(*ARRONDISSEMENT)
Year = Whole(YEAR_MIN, YEAR_MAX)
ProjectGeometry = Annotated[Geometry("budget_project"), Field(
    description="Where it is: a point, a line or an area inside Paris. Its envelope is its "
                "arrondissement's, unless `paris_wide`.")]


# ---- cycles -------------------------------------------------------------------------------------

class PhaseInput(Body):
    """A phase from its first to its last day, both included, in Paris's calendar: it opens at
    midnight Paris time and closes at the midnight after its last day."""

    phase: Choice(PHASES) = Field(description=f"One of {_codes(PHASES)}.")
    starts_on: Day
    ends_on: Day


Phases = Annotated[list[PhaseInput], Field(
    min_length=1, max_length=len(PHASES),
    description="Once each, in this order, each starting the day after the previous one ends "
                "(`phases_out_of_order`, `phase_not_contiguous`, `empty_period`); residents "
                "submit in `submission`, support in `submission` and `co_construction`, vote in "
                "`vote`.")]


class EnvelopeInput(Body):
    arrondissement: Arrondissement | None = Field(
        description="1–20, or null for the Paris-wide envelope; once each (`duplicate_envelope`).")
    amount_cents: Cents = Field(description="The money it holds, in euro cents.")
    popular_share_cents: Cents | None = Field(
        None, description="The part reserved for projects in the quartiers populaires, in euro "
                          "cents, at most the amount (`popular_share_above_amount`).")

    def value(self) -> EnvelopeValues:
        return EnvelopeValues(self.arrondissement, self.amount_cents, self.popular_share_cents)


Envelopes = Annotated[list[EnvelopeInput], Field(
    min_length=1, max_length=ARRONDISSEMENT[1] + 1,
    description="Paris-wide (`arrondissement: null`) and per arrondissement.")]
BallotMethod = Annotated[Choice(BALLOT_METHODS), Field(
    description="`approval` (choose up to `max_choices` projects), `knapsack` (projects whose "
                "costs fit in the envelope) or `majority_judgment` (a grade for each, on `grades` "
                "grades).")]
MaxChoices = Annotated[Whole(1, 100), Field(description="Approval: at most this many projects "
                                                        "per envelope (null: no limit); ignored "
                                                        "under another method.")]
Grades = Annotated[Whole(2, 10), Field(description="Majority judgment: how many grades (4 when "
                                                   "left out); ignored under another method.")]
WinnersRule = Annotated[Choice(WINNERS_RULES), Field(
    description="Which rule makes projects `won` at the count: `greedy` (most votes first while "
                "the money lasts, as Paris and CONSUL) or `equal_shares` (the Method of Equal "
                "Shares). Both are published side by side whichever it is.")]


class CycleInput(Body):
    year: Year = Field(description="One cycle per year (`budget_year_taken`, 409).")
    title: Title
    description: Description = ""
    ballot_method: BallotMethod = "approval"
    max_choices: MaxChoices | None = None
    grades: Grades | None = None
    winners_rule: WinnersRule = "greedy"
    phases: Phases
    envelopes: Envelopes

    def values(self) -> dict:
        return self.model_dump(include={"year", "title", "description", "ballot_method", "max_choices",
                                        "grades", "winners_rule"})

    def phase_days(self) -> list[PhaseDays]:
        return [PhaseDays(p.phase, p.starts_on, p.ends_on) for p in self.phases]

    def envelope_values(self) -> list[EnvelopeValues]:
        return [e.value() for e in self.envelopes]


class CyclePatch(Body):
    """Only the members given change. `status: published` publishes a draft (never back).
    Once published, the year stays (`budget_frozen_once_published`); once the vote has
    started, the ballot rule and the envelopes stay (`budget_frozen_after_vote`); a phase that
    has started keeps its start, one that is over its end too (`budget_phase_started`)."""

    year: Year = Field(None, json_schema_extra=_absent_by_default)
    title: Title = Field(None, json_schema_extra=_absent_by_default)
    description: Description = Field(None, json_schema_extra=_absent_by_default)
    ballot_method: BallotMethod = Field(None, json_schema_extra=_absent_by_default)
    max_choices: MaxChoices | None = None
    grades: Grades | None = None
    winners_rule: WinnersRule = Field(None, json_schema_extra=_absent_by_default)
    status: Choice(CYCLE_STATUSES) = Field(None, json_schema_extra=_absent_by_default)
    phases: Phases = Field(None, json_schema_extra=_absent_by_default)
    envelopes: Envelopes = Field(None, json_schema_extra=_absent_by_default)

    def values(self) -> dict:
        named = self.model_fields_set - {"phases", "envelopes"}
        return {k: getattr(self, k) for k in named}

    def phase_days(self) -> list[PhaseDays] | None:
        return None if self.phases is None else [PhaseDays(p.phase, p.starts_on, p.ends_on)
                                                 for p in self.phases]

    def envelope_values(self) -> list[EnvelopeValues] | None:
        return None if self.envelopes is None else [e.value() for e in self.envelopes]


class PhaseOut(Model):
    phase: Literal[PHASES]  # type: ignore[valid-type]
    starts_at: datetime
    ends_at: datetime = Field(description="Exclusive: midnight Paris time after its last day.")
    starts_on: date = Field(description="Its first day (Paris).")
    ends_on: date = Field(description="Its last day (Paris).")


class EnvelopeOut(Model):
    id: int
    arrondissement: int | None = Field(description="null: the Paris-wide envelope.")
    amount_cents: int = Field(ge=0)
    popular_share_cents: int | None
    projects: int = Field(ge=0, description="Its projects (merged ones not counted).")
    won: int = Field(ge=0, description="Its winning projects.")
    won_cents: int = Field(ge=0, description="What its winning projects cost.")


RESIDENT_ACTIONS = tuple(sorted({a for actions in ALLOWED_IN.values() for a in actions}))
PLANNER_ACTIONS = tuple(sorted({a for actions in PLANNERS_IN.values() for a in actions}))


class CycleOut(Model):
    id: int
    year: int
    title: str
    description: str
    status: Literal[CYCLE_STATUSES]  # type: ignore[valid-type]
    imported: bool = Field(description="A past edition read from the city's open data.")
    stage: Literal[STAGES] = Field(  # type: ignore[valid-type]
        description="Now: draft, upcoming, the current phase, or ended.")
    can: list[Literal[RESIDENT_ACTIONS]] = Field(  # type: ignore[valid-type]
        description="What a resident may do now.")
    planners_can: list[Literal[PLANNER_ACTIONS]] = Field(  # type: ignore[valid-type]
        description="What the city's departments (planners) may do now.")
    ballot_method: Literal[BALLOT_METHODS]  # type: ignore[valid-type]
    max_choices: int | None
    grades: int | None
    winners_rule: Literal[WINNERS_RULES]  # type: ignore[valid-type]
    counted: bool = Field(description="The vote is counted: its results are published.")
    phases: list[PhaseOut]
    envelopes: list[EnvelopeOut] = Field(description="Paris-wide first, then by arrondissement.")
    projects_count: int = Field(ge=0)
    published_at: datetime | None


class CycleList(Model):
    budgets: list[CycleOut] = Field(description="Newest year first.")


# ---- projects -----------------------------------------------------------------------------------

# a project needs a title, a theme and a place (or Paris-wide), unless it starts from a proposal
# (which gives them)
ONE_START = {"anyOf": [
    {"required": ["proposal"]},
    {"required": ["title", "theme", "geometry"]},
    {"required": ["title", "theme", "paris_wide"], "properties": {"paris_wide": {"const": True}}},
]}


class ProjectInput(Body):
    """A resident's project during the submission phase (`budget_phase`, 409, otherwise). From
    one of their own proposals (`proposal`): its title, description, place and theme unless
    given here, and the proposal and the reports behind it linked to the project."""

    model_config = ConfigDict(json_schema_extra=ONE_START)

    title: Title = Field(None, json_schema_extra=_absent_by_default)
    description: Description = Field(None, json_schema_extra=_absent_by_default)
    theme: CategoryCode("proposal") = Field(None, json_schema_extra=_absent_by_default)
    geometry: ProjectGeometry = Field(None, json_schema_extra=_absent_by_default)
    paris_wide: StrictBool = Field(False, description="In the Paris-wide envelope (a place is then "
                                                      "optional).")
    estimated_cost_cents: Cents | None = Field(None, description="Its author's estimate, euro cents.")
    address: Text(ADDRESS_MAX) | None = None
    proposal: BodyId = Field(None, json_schema_extra=_absent_by_default,
                             description="One of my proposals it starts from (`unknown_proposal`, "
                                         "`not_your_proposal`).")
    links: list[BodyId] = Field(None, max_length=LINKS_MAX, json_schema_extra=_absent_by_default,
                                description="Other proposals or reports it grew from "
                                            "(`unknown_contribution`).")

    def values(self) -> dict:
        return {k: getattr(self, k) for k in ("title", "description", "theme", "estimated_cost_cents", "address")
                if getattr(self, k) is not None}


class ProjectPatch(Body):
    """Only the members given change. Its authors edit it during the submission phase; planners
    until the vote. A new place (or `paris_wide`) chooses its envelope again."""

    title: Title = Field(None, json_schema_extra=_absent_by_default)
    description: Description = Field(None, json_schema_extra=_absent_by_default)
    theme: CategoryCode("proposal") = Field(None, json_schema_extra=_absent_by_default)
    geometry: ProjectGeometry = Field(None, json_schema_extra=_absent_by_default)
    paris_wide: StrictBool = Field(None, json_schema_extra=_absent_by_default)
    estimated_cost_cents: Cents | None = None
    address: Text(ADDRESS_MAX) | None = None

    def values(self) -> dict:
        return {k: getattr(self, k) for k in self.model_fields_set - {"geometry", "paris_wide"}}


FEASIBILITY_NEEDS = {"allOf": [
    {"if": {"properties": {"feasible": {"const": True}}, "required": ["feasible"]},
     "then": {"required": ["cost_cents"], "properties": {"cost_cents": {"type": "integer"}}}},
    {"if": {"properties": {"feasible": {"const": False}}, "required": ["feasible"]},
     "then": {"required": ["reason"], "properties": {"reason": {"type": "string"}}}},
]}


class FeasibilityInput(Body):
    """The city's study: feasible with its cost estimate, or not feasible with a public reason."""

    model_config = ConfigDict(json_schema_extra=FEASIBILITY_NEEDS)

    feasible: StrictBool
    cost_cents: Cents | None = Field(None, description="Required when feasible: the city's estimate.")
    reason: Text(REASON_MAX, min_length=1) | None = Field(
        None, description="Required when not feasible: why, public on the project.")


class MergeInput(Body):
    into: BodyId = Field(description="The project of the same envelope it merges into "
                                     "(`unknown_budget_project`, `merge_other_envelope`).")


class DeliveryInput(Body):
    """A won project's whole delivery state: a date left out is none."""

    status: Choice(DELIVERY_STATUSES) | None = Field(
        description=f"{_codes(DELIVERY_STATUSES)}, or null: not started.")
    studies_on: Day | None = None
    procedures_on: Day | None = None
    works_on: Day | None = None
    delivery_planned_on: Day | None = Field(None, description="When delivery is planned.")
    opened_on: Day | None = Field(None, description="When it opened to the public.")

    def dates(self) -> dict[str, date | None]:
        return {k: getattr(self, k) for k in ("studies_on", "procedures_on", "works_on",
                                              "delivery_planned_on", "opened_on")}


DELIVERY_FILTER = (*DELIVERY_STATUSES, "none")


class ProjectsQuery(ApiQuery):
    status: CommaList(Choice(PROJECT_STATUSES, code="invalid_status")) | None = Field(
        None, description=f"Statuses: {_codes(PROJECT_STATUSES)}.")
    arrondissement: CommaList(Annotated[int, Field(ge=ARRONDISSEMENT[0], le=ARRONDISSEMENT[1])],
                              max_items=ARRONDISSEMENT[1]) | None = Field(
        None, description="Where they are (a project without a place: its envelope's).")
    theme: CommaList(CategoryCode("proposal"), max_items=20) | None = Field(None, description="Theme codes.")
    delivery_status: CommaList(Choice(DELIVERY_FILTER, code="invalid_status")) | None = Field(
        None, description=f"{_codes(DELIVERY_STATUSES)}; `none`: a winner not started.")
    placed: bool | None = Field(None, description="true: only those on the map; false: only those "
                                                  "without a place.")
    limit: int = Field(LIST_LIMIT[2], ge=LIST_LIMIT[0], le=LIST_LIMIT[1],
                       description=f"Page size (at most {LIST_LIMIT[1]}).")
    cursor: Cursor | None = None


class AllProjectsQuery(ProjectsQuery):
    year: CommaList(Annotated[int, Field(ge=YEAR_MIN, le=YEAR_MAX)], max_items=50) | None = Field(
        None, description="Cycles' years (editions).")


class ProjectProperties(Model):
    title: str
    cycle_id: int
    year: int
    status: Literal[PROJECT_STATUSES]  # type: ignore[valid-type]
    theme: str | None = Field(description="A proposal theme code.")
    theme_label: str | None = Field(description="In the request's language.")
    paris_wide: bool = Field(description="In the Paris-wide envelope.")
    arrondissement: int | None = Field(description="Located from its place, else its envelope's.")
    quartier: int | None
    envelope_arrondissement: int | None = Field(description="null: the Paris-wide envelope.")
    estimated_cost_cents: int | None = Field(description="Its author's estimate.")
    cost_cents: int | None = Field(description="The city's estimate once studied (or the imported "
                                               "winner's budget), else its author's.")
    delivery_status: Literal[DELIVERY_STATUSES] | None  # type: ignore[valid-type]
    studies_on: date | None
    procedures_on: date | None
    works_on: date | None
    delivery_planned_on: date | None
    opened_on: date | None
    located_by: Literal[LOCATED_BY] | None = Field(  # type: ignore[valid-type]
        description="`map` (drawn by its author), `address`, `street` or `arrondissement` (the "
                    "importer's geocoding); null: no place.")
    approximate: bool = Field(description="At its arrondissement's point, not its own place.")
    address: str | None
    popular_quartier: bool = Field(description="In a quartier populaire.")
    department: str | None = Field(description="The city's department leading it.")
    supporters: int = Field(ge=0)
    merged_into: int | None = Field(description="The project it was merged into.")
    url: str = Field(description="Its page.")


class ProjectFeature(Model):
    """A project (RFC 7946 Feature, lon/lat); a project without a place has a null geometry."""

    type: Literal["Feature"]
    id: int
    geometry: ContributionGeometry | None
    properties: ProjectProperties


class Feasibility(Model):
    feasible: bool | None = Field(description="null: not studied yet.")
    cost_cents: int | None
    reason: str | None = Field(description="Why not feasible (public).")
    studied_at: datetime | None


class LinkOut(Model):
    id: int
    kind: Literal["proposal", "report"]
    title: str
    status: str
    url: str


class MergedOut(Model):
    id: int
    title: str


class SourceOut(Model):
    dataset: str
    id: str | None
    url: str | None
    progress: str | None = Field(description="The city's own progress label.")


class PhotoOut(Model):
    url: str
    thumbnail_url: str
    sha256: str
    stage: Literal["project", "delivery"] = Field(description="`project`: its authors' (before the "
                                                              "vote); `delivery`: the city's, of the work.")


class PhotoInput(Body):
    """Nothing but the file (`photo`) for now: the JSON part may be `{}`."""


class Mine(Model):
    author: bool
    supporting: bool


class ProjectDetailProperties(ProjectProperties):
    description: str
    feasibility: Feasibility
    source_theme: str | None = Field(description="The theme as the city's file names it.")
    authors: list[str] = Field(description="Public names only.")
    links: list[LinkOut] = Field(description="The proposals and reports it grew from.")
    merged_from: list[MergedOut]
    photos: list[PhotoOut] = Field(description="Re-encoded from their pixels: no metadata.")
    source: SourceOut | None = Field(description="Imported from the city's open data.")
    mine: Mine = Field(description="The caller's part in it.")
    created_at: datetime
    updated_at: datetime


class ProjectDetail(ProjectFeature):
    properties: ProjectDetailProperties


class ProjectPage(Model):
    """One page, newest first (keyset pagination on creation time and id)."""

    type: Literal["FeatureCollection"]
    numberReturned: int = Field(ge=0)
    links: list[PageLink] = Field(description="A `next` link while more pages remain.")
    features: list[ProjectFeature]


class SupportOut(Model):
    id: int
    supporters: int = Field(ge=0)
    supporting: bool


class MergeOut(Model):
    merged: ProjectDetail
    into: ProjectDetail


# ---- ballots and results -------------------------------------------------------------------------

class GradeInput(Body):
    project: BodyId
    grade: Whole(0, 9) = Field(description="0 is the worst grade, `grades − 1` the best "
                                           "(`grade_out_of_range` above the cycle's).")


class BallotInput(Body):
    """My ballot in one envelope, during the vote (`budget_phase`, 409, otherwise). Under
    approval or knapsack, `projects`; under majority judgment, `grades` (a project left out
    counts as the worst grade). Each project once (`duplicate_choice`) and on this envelope's
    ballot (`not_on_ballot`); approval at most `max_choices` (`too_many_choices`); knapsack
    within the envelope's amount (`over_budget`). Sending it again replaces it."""

    projects: list[BodyId] | None = Field(None, max_length=400, description="Approval, knapsack.")
    grades: list[GradeInput] | None = Field(None, max_length=400, description="Majority judgment.")


class ChoiceOut(Model):
    project: int
    title: str
    grade: int | None = Field(description="Majority judgment only.")
    cost_cents: int | None = None


class BallotOut(Model):
    envelope: int
    arrondissement: int | None = Field(description="null: Paris-wide.")
    receipt: str = Field(description="Find this ballot in the published count and the Pabulib "
                                     "export once counted; only you know it is yours.")
    choices: list[ChoiceOut]
    total_cents: int = Field(ge=0)


class OwnBallots(Model):
    cycle: int
    arrondissement: int | None = Field(description="The arrondissement I vote in this cycle, if any.")
    ballots: list[BallotOut]


class TallyOut(Model):
    winners: int = Field(ge=0)
    spent_euros: int = Field(ge=0)


class EqualSharesOut(TallyOut):
    added_per_voter_euros: int = Field(ge=0, description=(
        "What the completion added to each voter's equal share (raised euro by euro while the "
        "outcome fits): pabutools' `method_of_equal_shares` without completion, on a budget of "
        "the amount + this × the ballots, gives these winners."))


class ResultProject(Model):
    id: int
    title: str
    theme: str | None
    arrondissement: int | None
    cost_euros: int = Field(ge=0, description="Rounded up to the euro, as in the Pabulib file.")
    votes: int = Field(ge=0, description="Approvals; under majority judgment, the voters who graded it.")
    grades: list[int] | None = Field(description="Majority judgment: voters per grade, worst first "
                                                 "(ungraded counts as the worst).")
    rank: int = Field(ge=1, description="Its place in the greedy order.")
    left_before_euros: int = Field(description="The money left when greedy considered it.")
    greedy_won: bool
    equal_shares_won: bool
    majority_grade: int | None
    majority_rank: int | None
    won: bool = Field(description="Won by the cycle's `winners_rule`.")


class EnvelopeResult(Model):
    id: int
    arrondissement: int | None
    amount_euros: int = Field(ge=0)
    ballots: int = Field(ge=0)
    counted_at: datetime | None
    greedy: TallyOut
    equal_shares: EqualSharesOut
    projects: list[ResultProject] = Field(description="In the greedy order.")


class ResultsOut(Model):
    cycle: int
    year: int
    ballot_method: Literal[BALLOT_METHODS]  # type: ignore[valid-type]
    grades: int | None
    winners_rule: Literal[WINNERS_RULES]  # type: ignore[valid-type]
    envelopes: list[EnvelopeResult]


class CountedEnvelope(Model):
    envelope: int
    ballots: int = Field(ge=0)
    greedy: list[int] = Field(description="The winners by greedy.")
    equal_shares: list[int] = Field(description="The winners by the Method of Equal Shares.")


class CountOut(Model):
    envelopes: list[CountedEnvelope]


class ReceiptChoice(Model):
    project: int
    title: str
    grade: int | None


class ReceiptOut(Model):
    receipt: str
    envelope: int
    arrondissement: int | None
    choices: list[ReceiptChoice]
