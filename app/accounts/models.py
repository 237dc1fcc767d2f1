"""Accounts: one account per person, with any number of roles ("compte unique")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    LargeBinary,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

ROLES = ("resident", "agent", "supervisor", "planner", "moderator", "admin")
STAFF_ROLES = frozenset({"agent", "supervisor", "planner", "moderator", "admin"})
TWO_FACTOR_ROLES = frozenset({"moderator", "admin"})  # usable only with two-factor sign-in on


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
    password_hash: Mapped[str | None] = mapped_column(Text)  # None: signs in through OIDC only
    roles: Mapped[list[str]] = mapped_column(ARRAY(Text), default=lambda: ["resident"])
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    totp_secret: Mapped[str | None] = mapped_column(Text)  # pending until totp_enabled_at
    totp_enabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    banned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # moderation

    @property
    def active_roles(self) -> list[str]:
        """The roles this account may use now: an admin's or a moderator's rights wait until
        two-factor sign-in is on (it is required of them)."""
        if self.totp_enabled_at is not None:
            return self.roles
        return [r for r in self.roles if r not in TWO_FACTOR_ROLES]

    @property
    def needs_two_factor(self) -> bool:
        """Holds a role that it cannot use before enabling two-factor sign-in."""
        return self.totp_enabled_at is None and bool(TWO_FACTOR_ROLES.intersection(self.roles))

    def has_role(self, *roles: str) -> bool:
        active = self.active_roles
        return "admin" in active or any(r in active for r in roles)

    @property
    def is_staff(self) -> bool:
        return bool(STAFF_ROLES.intersection(self.active_roles))


class AccountToken(Base):
    """A single-use link sent by e-mail: verify an address, or reset a password."""

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    email: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RecoveryCode(Base):
    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[bytes] = mapped_column(LargeBinary)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class UserIdentity(Base):
    """An account's identity at an OpenID Connect provider: its issuer and subject."""

    __tablename__ = "user_identities"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    issuer: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


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
