"""Accounts: registration, password hashing (argon2), bearer tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import ROLES, ApiToken, User
from app.errors import AppError, Conflict

_hasher = PasswordHasher()
MIN_PASSWORD = 10


class InvalidCredentials(AppError):
    status, code, title = 401, "invalid_credentials", "Unauthorized"


def create_user(
    session: Session, email: str, password: str, display_name: str, roles=("resident",)
) -> User:
    email = email.strip().lower()
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("email_taken")
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")
    user = User(
        email=email,
        display_name=display_name,
        password_hash=_hasher.hash(password),
        roles=sorted(set(roles) | {"resident"}),
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.is_active:
        _hasher.hash(password)  # same cost whether or not the account exists
        raise InvalidCredentials()
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise InvalidCredentials() from None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def issue_token(session: Session, user: User, ttl_days: int) -> tuple[str, datetime]:
    token = secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(days=ttl_days)
    session.add(ApiToken(user_id=user.id, token_hash=_digest(token), expires_at=expires))
    session.flush()
    return token, expires


def user_for_token(session: Session, token: str) -> User | None:
    return session.scalar(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == _digest(token),
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > datetime.now(UTC),
            User.is_active,
        )
    )


def revoke_token(session: Session, token: str) -> None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
