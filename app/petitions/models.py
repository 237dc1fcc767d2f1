"""Petitions, their signatures, their history and the city's settings (migration
d9e0f1a00016 holds the constraints and the counting trigger)."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    ARRAY,
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    SmallInteger,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.db import Base

STATUSES = ("draft", "awaiting_moderation", "open", "closed", "referred", "answered", "refused")
# what anyone may read (and find in the list); the others only their author and moderators
PUBLIC_STATUSES = ("open", "closed", "referred", "answered")
# signatures are taken (and withdrawn) in these states, until closes_at
COLLECTING = ("open", "referred")
# the city may answer from these states
ANSWERABLE = ("open", "closed", "referred")
# arrondissement_counts' index of the signatures that declared no arrondissement
UNDECLARED = 21


class Petition(Base):
    __tablename__ = "petitions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    addressee: Mapped[str] = mapped_column(Text)
    geom: Mapped[WKBElement | None] = mapped_column(Geometry("GEOMETRY", 4326, spatial_index=False))
    arrondissement_id: Mapped[int | None] = mapped_column(SmallInteger, ForeignKey("arrondissements.id"))
    status: Mapped[str] = mapped_column(Text, default="draft")
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closes_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    referred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answer_threshold: Mapped[int | None]
    referral_threshold: Mapped[int | None]
    answer_threshold_reached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # kept by the petition_signatures_count trigger: never written by the app
    signatures_count: Mapped[int] = mapped_column(Integer, server_default="0")
    arrondissement_counts: Mapped[list[int]] = mapped_column(
        ARRAY(Integer), server_default=text(f"array_fill(0, ARRAY[{UNDECLARED}])"))
    hidden: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    author: Mapped[User] = relationship(foreign_keys=[author_id], lazy="joined")


class PetitionSignature(Base):
    """One per verified account and petition (the primary key)."""

    __tablename__ = "petition_signatures"

    petition_id: Mapped[int] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    # orders the public names and makes their cursor (never the user id)
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    public_name: Mapped[bool] = mapped_column(default=False)
    arrondissement: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PetitionEvent(Base):
    """One step of a petition's public history; append-only (a trigger refuses updates)."""

    __tablename__ = "petition_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    from_status: Mapped[str | None] = mapped_column(Text)
    to_status: Mapped[str] = mapped_column(Text)
    threshold: Mapped[int | None]
    public_note: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class PetitionSettings(Base):
    """The one row of the city's settings (admins)."""

    __tablename__ = "petition_settings"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    signing_days: Mapped[int]
    answer_threshold: Mapped[int | None]
    referral_threshold: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
