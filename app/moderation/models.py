"""Moderation's tables (migration d3e4f5a00010): flags, banned e-mail domains, the audit log;
photo redactions (e4f5a6b00011)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

SUBJECT_TYPES = ("contribution", "comment", "user")
REASONS = ("spam", "offensive", "personal_data", "off_topic", "other")


class Flag(Base):
    __tablename__ = "flags"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    subject_type: Mapped[str] = mapped_column(Text)
    subject_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BannedDomain(Base):
    __tablename__ = "banned_domains"

    domain: Mapped[str] = mapped_column(Text, primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AuditEntry(Base):
    """One moderation or administration action. Append-only (a trigger refuses changes)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(Text)
    subject_type: Mapped[str] = mapped_column(Text)
    subject_id: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict] = mapped_column(JSONB, default=dict)


class PhotoRedaction(Base):
    """A moderator's blurred copy replaced a contribution's photo; the original stays on disk
    (named by its hash), for staff only (app.moderation.redaction)."""

    __tablename__ = "photo_redactions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contribution_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("contributions.id", ondelete="CASCADE"))
    original_sha256: Mapped[str] = mapped_column(String(64))  # indexed (the migration)
    redacted_sha256: Mapped[str] = mapped_column(String(64))
    regions: Mapped[list[dict]] = mapped_column(JSONB)
    moderator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
