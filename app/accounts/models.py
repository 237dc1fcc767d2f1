"""Accounts: one account per person, with any number of roles ("compte unique")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ARRAY, CheckConstraint, DateTime, ForeignKey, LargeBinary, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

ROLES = ("resident", "agent", "supervisor", "planner", "moderator", "admin")
STAFF_ROLES = frozenset({"agent", "supervisor", "planner", "moderator", "admin"})


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "roles <@ ARRAY['resident','agent','supervisor','planner','moderator','admin']::text[]",
            name="roles",
        ),
        CheckConstraint("char_length(display_name) BETWEEN 1 AND 60", name="display_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(Text, unique=True)  # stored lower-cased
    display_name: Mapped[str] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(Text)
    roles: Mapped[list[str]] = mapped_column(ARRAY(Text), default=lambda: ["resident"])
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    def has_role(self, *roles: str) -> bool:
        return "admin" in self.roles or any(r in self.roles for r in roles)

    @property
    def is_staff(self) -> bool:
        return bool(STAFF_ROLES.intersection(self.roles))


class ApiToken(Base):
    """A bearer token of the API or the token of a signed-in browser session; only its
    SHA-256 is stored. Revoked or expired, it authenticates nobody."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint("kind IN ('bearer', 'session')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(10), default="bearer", server_default="bearer")
