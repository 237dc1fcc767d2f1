"""Volunteer missions: organisations and their members, missions, their places, slots,
sign-ups and links (migration a2b3c4d00019 holds the constraints and the counting trigger)."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import ARRAY, BigInteger, DateTime, ForeignKey, Integer, SmallInteger, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base

ORGANISATION_STATUSES = ("pending", "verified", "refused", "suspended")
MISSION_STATUSES = ("draft", "published", "full", "closed", "cancelled")
# what anyone may read (a verified organisation's); the list shows the first two by default
PUBLIC_STATUSES = ("published", "full", "closed", "cancelled")
OPEN_STATUSES = ("published", "full")
SCHEDULES = ("one_off", "recurring", "open_period")
REMOTE = ("no", "possible", "full")
SIGNUP_STATUSES = ("pending", "accepted", "declined", "waiting", "cancelled")
# a sign-up that holds a place on its slot (mission_slots.taken counts them)
HOLDING = ("pending", "accepted")
ACTIVE = ("pending", "accepted", "waiting")
LINK_KINDS = ("contribution", "consultation", "budget_project", "hotspot")


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    rna: Mapped[str | None] = mapped_column(Text)
    siren: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(Text, default="")
    geom: Mapped[WKBElement | None] = mapped_column(Geometry("POINT", 4326, spatial_index=False))
    website: Mapped[str | None] = mapped_column(Text)
    contact_email: Mapped[str | None] = mapped_column(Text)
    contact_phone: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, default="pending")
    status_reason: Mapped[str | None] = mapped_column(Text)
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    members: Mapped[list[OrganisationMember]] = relationship(lazy="selectin", order_by="OrganisationMember.created_at")

    @property
    def member_ids(self) -> set[int]:
        """The policy's MEMBER relation (app.policy)."""
        return {m.user_id for m in self.members}

    @property
    def owner_ids(self) -> set[int]:
        return {m.user_id for m in self.members if m.role == "owner"}


class OrganisationMember(Base):
    __tablename__ = "organisation_members"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                                 primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(Text, default="member")
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Mission(Base):
    __tablename__ = "missions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    domain: Mapped[str] = mapped_column(Text)
    activities: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    remote: Mapped[str] = mapped_column(Text, default="no")
    schedule: Mapped[str] = mapped_column(Text)
    recurrence: Mapped[dict | None] = mapped_column(JSONB)
    min_age: Mapped[int | None] = mapped_column(SmallInteger)
    skills: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    accessibility: Mapped[str] = mapped_column(Text, default="")
    reduced_mobility_accessible: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(Text, default="draft")
    status_reason: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(Text, default="cartagora")
    external_id: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    organisation: Mapped[Organisation] = relationship(lazy="joined")
    places: Mapped[list[MissionPlace]] = relationship(lazy="selectin", order_by="MissionPlace.seq",
                                                      cascade="all, delete-orphan")
    slots: Mapped[list[MissionSlot]] = relationship(lazy="selectin", order_by="MissionSlot.starts_at",
                                                    cascade="all, delete-orphan")
    links: Mapped[list[MissionLink]] = relationship(lazy="selectin", order_by="MissionLink.id",
                                                    cascade="all, delete-orphan")

    @property
    def member_ids(self) -> set[int]:
        return self.organisation.member_ids


class MissionPlace(Base):
    __tablename__ = "mission_places"

    mission_id: Mapped[int] = mapped_column(ForeignKey("missions.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    label: Mapped[str] = mapped_column(Text, default="")
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", 4326, spatial_index=False))
    # located by the mission_places_locate trigger
    arrondissement_id: Mapped[int | None] = mapped_column(SmallInteger, ForeignKey("arrondissements.id"))


class MissionSlot(Base):
    __tablename__ = "mission_slots"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    mission_id: Mapped[int] = mapped_column(ForeignKey("missions.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    capacity: Mapped[int] = mapped_column(Integer)
    # kept by the mission_signups_count trigger: never written by the app
    taken: Mapped[int] = mapped_column(Integer, server_default="0")
    waiting: Mapped[int] = mapped_column(Integer, server_default="0")


class MissionSignup(Base):
    __tablename__ = "mission_signups"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    mission_id: Mapped[int] = mapped_column(ForeignKey("missions.id", ondelete="CASCADE"))
    slot_id: Mapped[int] = mapped_column(ForeignKey("mission_slots.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text, default="")
    decision_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def author_id(self) -> int:
        """The policy's AUTHOR of a sign-up: its volunteer."""
        return self.user_id


class MissionLink(Base):
    __tablename__ = "mission_links"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    mission_id: Mapped[int] = mapped_column(ForeignKey("missions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(Text)
    contribution_id: Mapped[int | None] = mapped_column(ForeignKey("contributions.id", ondelete="CASCADE"))
    consultation_id: Mapped[int | None] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"))
    budget_project_id: Mapped[int | None] = mapped_column(ForeignKey("budget_projects.id", ondelete="CASCADE"))
    center: Mapped[WKBElement | None] = mapped_column(Geometry("POINT", 4326, spatial_index=False))
    radius_m: Mapped[int | None] = mapped_column(Integer)
