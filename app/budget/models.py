"""The participatory budget: cycles and their phases, envelopes, projects, their authors and
supporters, and the proposals and reports they grew from (migration e0f1a2b00017 holds the
constraints and the locating trigger)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Computed,
    DateTime,
    FetchedValue,
    ForeignKey,
    Integer,
    SmallInteger,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base

# the order phases follow; each is a period [starts_at, ends_at), contiguous with the next
PHASES = ("submission", "co_construction", "feasibility", "vote", "results", "delivery")
# what a resident may do in each phase (the vote itself comes with the ballots, next part)
ALLOWED_IN = {"submission": ("submit", "support"), "co_construction": ("support",), "feasibility": (),
              "vote": ("vote",), "results": (), "delivery": ()}
# a cycle's stage for the public: before, in a phase, or after the last one
STAGES = ("draft", "upcoming", *PHASES, "ended")
BALLOT_METHODS = ("approval", "knapsack", "majority_judgment")
# which rule makes a project `won`; both are published side by side
WINNERS_RULES = ("greedy", "equal_shares")
CYCLE_STATUSES = ("draft", "published")
PROJECT_STATUSES = ("submitted", "merged", "feasible", "not_feasible", "won", "lost")
# a won project's delivery; `abandoned` is the city's own last state for some (ABANDONNÉ)
DELIVERY_STATUSES = ("studies", "procedures", "works", "delivered", "abandoned")
# its dates, in the order a project goes through them
DELIVERY_DATES = ("studies_on", "procedures_on", "works_on", "delivery_planned_on", "opened_on")
# how a project's place was found: drawn on the map by its author, or by the importer's
# geocoding at the exact address, on the street, or at the arrondissement (approximate)
LOCATED_BY = ("map", "address", "street", "arrondissement")
ROLES = ("author", "supporter")


class Cycle(Base):
    __tablename__ = "budget_cycles"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger, unique=True)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    ballot_method: Mapped[str] = mapped_column(Text, default="approval")
    max_choices: Mapped[int | None] = mapped_column(SmallInteger)
    grades: Mapped[int | None] = mapped_column(SmallInteger)
    winners_rule: Mapped[str] = mapped_column(Text, default="greedy")
    status: Mapped[str] = mapped_column(Text, default="draft")
    imported: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    phases: Mapped[list[CyclePhase]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="CyclePhase.starts_at")
    envelopes: Mapped[list[Envelope]] = relationship(
        lazy="selectin", cascade="all, delete-orphan",
        order_by="Envelope.arrondissement_id.asc().nulls_first()")

    def phase_at(self, now: datetime) -> str:
        """The stage at `now`: draft, upcoming, a phase, or ended (a cycle without phases, as
        the imported past editions, is ended once published)."""
        if self.status == "draft":
            return "draft"
        if not self.phases:
            return "ended"
        if now < self.phases[0].starts_at:
            return "upcoming"
        for phase in self.phases:
            if phase.starts_at <= now < phase.ends_at:
                return phase.phase
        return "ended"

    def period(self, phase: str) -> CyclePhase | None:
        return next((p for p in self.phases if p.phase == phase), None)

    def envelope_for(self, arrondissement_id: int | None) -> Envelope | None:
        return next((e for e in self.envelopes if e.arrondissement_id == arrondissement_id), None)


class CyclePhase(Base):
    __tablename__ = "budget_phases"

    cycle_id: Mapped[int] = mapped_column(ForeignKey("budget_cycles.id", ondelete="CASCADE"),
                                          primary_key=True)
    phase: Mapped[str] = mapped_column(Text, primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Envelope(Base):
    __tablename__ = "budget_envelopes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("budget_cycles.id", ondelete="CASCADE"))
    # None: the Paris-wide envelope
    arrondissement_id: Mapped[int | None] = mapped_column(SmallInteger, ForeignKey("arrondissements.id"))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    popular_share_cents: Mapped[int | None] = mapped_column(BigInteger)
    paris_wide: Mapped[bool] = mapped_column(Computed("arrondissement_id IS NULL"))
    # set by the count (app.budget.ballots.count)
    ballots_counted: Mapped[int | None] = mapped_column(Integer)
    counted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    mes_added_euros: Mapped[int | None] = mapped_column(BigInteger)
    pabulib: Mapped[str | None] = mapped_column(Text, deferred=True)


class Project(Base):
    __tablename__ = "budget_projects"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("budget_cycles.id", ondelete="CASCADE"))
    # with cycle_id, a composite foreign key to budget_envelopes (id, cycle_id)
    envelope_id: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    theme: Mapped[str | None] = mapped_column(Text)
    source_theme: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[WKBElement | None] = mapped_column(Geometry("GEOMETRY", 4326, spatial_index=False))
    located_by: Mapped[str | None] = mapped_column(Text)
    geom_approximate: Mapped[bool] = mapped_column(default=False)
    address: Mapped[str | None] = mapped_column(Text)
    # kept by the budget_projects_locate trigger: read back, never written by the app
    arrondissement_id: Mapped[int | None] = mapped_column(
        SmallInteger, server_default=FetchedValue(), server_onupdate=FetchedValue())
    quartier_id: Mapped[int | None] = mapped_column(
        SmallInteger, server_default=FetchedValue(), server_onupdate=FetchedValue())
    estimated_cost_cents: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(Text, default="submitted")
    feasibility_cost_cents: Mapped[int | None] = mapped_column(BigInteger)
    feasibility_reason: Mapped[str | None] = mapped_column(Text)
    studied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    merged_into_id: Mapped[int | None] = mapped_column(BigInteger)
    delivery_status: Mapped[str | None] = mapped_column(Text)
    studies_on: Mapped[date | None]
    procedures_on: Mapped[date | None]
    works_on: Mapped[date | None]
    delivery_planned_on: Mapped[date | None]
    opened_on: Mapped[date | None]
    department: Mapped[str | None] = mapped_column(Text)
    popular_quartier: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str | None] = mapped_column(Text)
    source_id: Mapped[str | None] = mapped_column(Text)
    source_url: Mapped[str | None] = mapped_column(Text)
    source_progress: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    people: Mapped[list[ProjectPerson]] = relationship(lazy="selectin", viewonly=True)

    @property
    def author_ids(self) -> set[int]:
        """Its authors (a merge keeps every one): AUTHOR in app.policy."""
        return {p.user_id for p in self.people if p.role == "author"}

    @property
    def author_id(self) -> int | None:
        return self.created_by_id

    @property
    def cost_cents(self) -> int | None:
        """What it costs: the city's estimate once studied, else its author's."""
        return self.feasibility_cost_cents if self.feasibility_cost_cents is not None \
            else self.estimated_cost_cents


class ProjectPerson(Base):
    """An author or a supporter of a project."""

    __tablename__ = "budget_project_people"

    project_id: Mapped[int] = mapped_column(ForeignKey("budget_projects.id", ondelete="CASCADE"),
                                            primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(Text, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ProjectLink(Base):
    """A proposal or a report a project grew from."""

    __tablename__ = "budget_project_links"

    project_id: Mapped[int] = mapped_column(ForeignKey("budget_projects.id", ondelete="CASCADE"),
                                            primary_key=True)
    contribution_id: Mapped[int] = mapped_column(ForeignKey("contributions.id", ondelete="CASCADE"),
                                                 primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Voter(Base):
    """Who voted in a cycle, Paris-wide or in one arrondissement: the roll, never the ballot."""

    __tablename__ = "budget_voters"

    cycle_id: Mapped[int] = mapped_column(ForeignKey("budget_cycles.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    paris_wide: Mapped[bool] = mapped_column(primary_key=True)
    arrondissement_id: Mapped[int | None] = mapped_column(SmallInteger, ForeignKey("arrondissements.id"))


class Ballot(Base):
    """A secret ballot: `voter` is a keyed hash only its voter's session can recompute."""

    __tablename__ = "budget_ballots"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid())
    cycle_id: Mapped[int] = mapped_column(BigInteger)
    envelope_id: Mapped[int] = mapped_column(BigInteger)
    paris_wide: Mapped[bool]
    voter: Mapped[str] = mapped_column(Text)
    receipt: Mapped[str] = mapped_column(Text)


class BallotChoice(Base):
    """A project on a ballot, with its grade under majority judgment (0 = the worst)."""

    __tablename__ = "budget_ballot_choices"

    ballot_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    envelope_id: Mapped[int] = mapped_column(BigInteger)
    project_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    grade: Mapped[int | None] = mapped_column(SmallInteger)


class Result(Base):
    """One project's count (app.budget.ballots.count)."""

    __tablename__ = "budget_results"

    project_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    envelope_id: Mapped[int] = mapped_column(ForeignKey("budget_envelopes.id", ondelete="CASCADE"))
    votes: Mapped[int]
    grades: Mapped[list[int] | None] = mapped_column(ARRAY(Integer))
    cost_euros: Mapped[int] = mapped_column(BigInteger)
    greedy_rank: Mapped[int]
    left_before_euros: Mapped[int] = mapped_column(BigInteger)
    greedy_won: Mapped[bool]
    mes_won: Mapped[bool]
    majority_grade: Mapped[int | None] = mapped_column(SmallInteger)
    majority_rank: Mapped[int | None]


class ProjectPhoto(Base):
    """A project's photo (`stage` project) or a winner's delivery photo (`delivery`)."""

    __tablename__ = "budget_project_photos"

    project_id: Mapped[int] = mapped_column(ForeignKey("budget_projects.id", ondelete="CASCADE"), primary_key=True)
    sha256: Mapped[str] = mapped_column(Text, primary_key=True)
    stage: Mapped[str] = mapped_column(Text)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
