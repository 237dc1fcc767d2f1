"""Consultations (a question on an area for a period) and their phases."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import ARRAY, DateTime, ForeignKey, SmallInteger, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base

# the order phases follow; each is a period [starts_at, ends_at), contiguous with the next
PHASES = ("ideas", "votes", "synthesis", "answers")
# what residents may do in each phase (Decidim's step settings: creation_enabled, votes_enabled)
ALLOWED_IN = {"ideas": ("propose", "vote", "comment"), "votes": ("vote", "comment"),
              "synthesis": (), "answers": ()}
VOTE_RULES = ("for_against", "scale")
# the values a vote takes under each rule: agree/disagree, or Carticipe's −2…+2
VOTE_VALUES = {"for_against": (1, -1), "scale": (-2, -1, 0, 1, 2)}
GEOMETRY_TYPES = ("Point", "LineString", "Polygon")
AREA_KINDS = ("arrondissements", "quartiers", "polygon")
STATUSES = ("draft", "published")
# a consultation's stage for the public: before, in a phase, or after the last one
STAGES = ("draft", "upcoming", *PHASES, "ended")


class Consultation(Base):
    __tablename__ = "consultations"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    question: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    area: Mapped[WKBElement] = mapped_column(Geometry("MULTIPOLYGON", 4326, spatial_index=False))
    area_kind: Mapped[str] = mapped_column(String(20))
    area_ids: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger), default=list)
    themes: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    geometry_types: Mapped[list[str]] = mapped_column(ARRAY(Text))
    vote_rule: Mapped[str] = mapped_column(String(20), default="for_against")
    status: Mapped[str] = mapped_column(String(20), default="draft")
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # the consultation's organiser; AUTHOR in app.policy (subject.author_id)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    phases: Mapped[list[Phase]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="Phase.starts_at")

    @property
    def author_id(self) -> int | None:
        return self.created_by_id

    def phase_at(self, now: datetime) -> str:
        """The stage at `now`: draft, upcoming, a phase, or ended."""
        if self.status == "draft":
            return "draft"
        if not self.phases or now < self.phases[0].starts_at:
            return "upcoming"
        for phase in self.phases:
            if phase.starts_at <= now < phase.ends_at:
                return phase.phase
        return "ended"

    def period(self, phase: str) -> Phase | None:
        return next((p for p in self.phases if p.phase == phase), None)


class Phase(Base):
    __tablename__ = "consultation_phases"

    consultation_id: Mapped[int] = mapped_column(
        ForeignKey("consultations.id", ondelete="CASCADE"), primary_key=True)
    phase: Mapped[str] = mapped_column(String(20), primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ProposalReport(Base):
    """A report that motivated a proposal (a planner's hotspot)."""

    __tablename__ = "proposal_reports"

    proposal_id: Mapped[int] = mapped_column(ForeignKey("contributions.id", ondelete="CASCADE"),
                                             primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("contributions.id", ondelete="CASCADE"),
                                           primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
