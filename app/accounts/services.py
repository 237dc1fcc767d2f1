"""Accounts: registration, password hashing (argon2), bearer tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_pgettext as _lp
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from app.accounts.models import ROLES, ApiToken, User
from app.errors import AppError, Conflict, FieldError, ValidationFailed
from app.messages import in_both

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


# the two e-mails of a sign-up (English msgids, French in the catalogue; sent in both)
WELCOME = (_lp("e-mail", "Your account is ready"),
           _lp("e-mail", "Welcome to Cartagora: your account is ready, sign in with this address."))
ALREADY = (_lp("e-mail", "You already have an account"),
           _lp("e-mail", "Someone (you?) tried to create a Cartagora account with this address, "
                         "which already has one. If it was you, sign in; if not, ignore this "
                         "message: nothing changed."))


def register(session: Session, email: str, password: str, display_name: str) -> None:
    """A public sign-up that never tells whether the e-mail has an account: same answer,
    same work (one argon2 hash) either way. A new address gets its account and a welcome
    e-mail; the owner of an existing one is told by e-mail (the outbox) that someone tried.
    Concurrent sign-ups with one address make one account (ON CONFLICT), never an error."""
    from app.field.models import OutboxMessage

    email = email.strip().lower()
    password_hash = _hasher.hash(password)
    created = session.execute(
        pg_insert(User).values(email=email, display_name=display_name, password_hash=password_hash,
                               roles=["resident"])
        .on_conflict_do_nothing(index_elements=[User.email]).returning(User.id)).scalar()
    subject, body = (in_both(text) for text in (WELCOME if created is not None else ALREADY))
    session.add(OutboxMessage(recipient=email, subject="[Cartagora] " + " / ".join(subject),
                              body="\n".join(body) + "\n"))
    session.flush()


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


def issue_token(session: Session, user: User, ttl_hours: int, kind: str = "bearer") -> tuple[str, datetime]:
    """A new random token for `user` (an API bearer token or a browser session's)."""
    token = secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(hours=ttl_hours)
    session.add(ApiToken(user_id=user.id, token_hash=_digest(token), expires_at=expires, kind=kind))
    session.flush()
    return token, expires


def user_for_token(session: Session, token: str, kind: str = "bearer") -> User | None:
    """The active account of a live (not revoked, not expired) token of that kind, or None."""
    return session.scalar(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == _digest(token),
            ApiToken.kind == kind,
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > datetime.now(UTC),
            User.is_active,
        )
    )


def revoke_token(session: Session, token: str) -> None:
    """End one token or session (signing out)."""
    session.execute(update(ApiToken)
                    .where(ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None))
                    .values(revoked_at=func.now()))


def revoke_all(session: Session, user: User, keep: str | None = None) -> int:
    """End every token and session of the account ("sign out everywhere"), except `keep`
    (the one making the request, after a password change). Returns how many ended."""
    where = [ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)]
    if keep is not None:
        where.append(ApiToken.token_hash != _digest(keep))
    return session.execute(update(ApiToken).where(*where).values(revoked_at=func.now())).rowcount


def purge_tokens(session: Session) -> int:
    """Delete the tokens and sessions that ended (revoked or expired) over a day ago."""
    return session.execute(delete(ApiToken).where(or_(
        ApiToken.revoked_at < func.now() - timedelta(days=1),
        ApiToken.expires_at < func.now() - timedelta(days=1)))).rowcount


def change_password(session: Session, user: User, current: str, new: str, keep: str | None) -> int:
    """Check the current password, store the new one, and end the account's other
    sessions and tokens (someone who knew the old password is signed out)."""
    try:
        _hasher.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise ValidationFailed([FieldError("current_password", "wrong_password")]) from None
    user.password_hash = _hasher.hash(new)
    return revoke_all(session, user, keep=keep)
