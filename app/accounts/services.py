"""Accounts: registration, password hashing (argon2), bearer tokens, e-mailed links.

Links sent by e-mail (verify an address, reset a password) are single-use and expire; only
their SHA-256 is stored, with the address they went to. Nothing here tells a caller whether
an address has an account: sign-up and "forgot my password" answer the same either way.
"""

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

from app.accounts.models import ROLES, AccountToken, ApiToken, User
from app.errors import AppError, Conflict, FieldError, ValidationFailed
from app.messages import in_both

_hasher = PasswordHasher()
MIN_PASSWORD = 10


class InvalidCredentials(AppError):
    status, code, title = 401, "invalid_credentials", "Unauthorized"


class TwoFactorRequired(InvalidCredentials):
    """The password is right, the account has two-factor sign-in: send a code too. Counted
    as a failed sign-in like a wrong password, so that it is no free password oracle."""

    code = "totp_required"


class InvalidTwoFactorCode(InvalidCredentials):
    code = "invalid_totp"


class InvalidLink(AppError):
    """An e-mailed link that is unknown, used, expired, or for an address the account no
    longer has: one answer for all (a 422 on `token`)."""

    status, code, title = 422, "validation_failed", "Unprocessable Content"

    def __init__(self) -> None:
        super().__init__(errors=[FieldError("token", "invalid_link")])


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


# the e-mails of accounts (English msgids, French in the catalogue; sent in both)
WELCOME = (_lp("e-mail", "Your account is ready"),
           _lp("e-mail", "Welcome to Cartagora: your account is ready, sign in with this address. "
                         "Confirm that it is yours by opening this link within {hours} hours:"))
ALREADY = (_lp("e-mail", "You already have an account"),
           _lp("e-mail", "Someone (you?) tried to create a Cartagora account with this address, "
                         "which already has one. If it was you, sign in; if you forgot your "
                         "password, choose a new one here:"))
VERIFY = (_lp("e-mail", "Confirm your e-mail address"),
          _lp("e-mail", "Confirm that this address is yours by opening this link within {hours} "
                        "hours. If you did not ask for it, ignore this message."))
RESET = (_lp("e-mail", "Choose a new password"),
         _lp("e-mail", "Someone (you?) asked to reset the password of the Cartagora account of "
                       "this address. Choose a new one with this link within {hours} hours; if "
                       "it was not you, ignore this message: nothing changed."))
PATHS = {"verify_email": "/verify-email/", "reset_password": "/reset-password/"}


def send_mail(session: Session, recipient: str, text: tuple, link: str | None = None, **params) -> None:
    """One e-mail through the outbox, in French then English, the link after each text."""
    from app.field.models import OutboxMessage

    subject, body = (in_both(part) for part in text)
    paragraphs = [b.format(**params) + (f"\n{link}" if link else "") for b in body]
    session.add(OutboxMessage(recipient=recipient, subject="[Cartagora] " + " / ".join(subject),
                              body="\n\n".join(paragraphs) + "\n"))


def register(session: Session, email: str, password: str, display_name: str, public_url: str,
             ttl_hours: int) -> None:
    """A public sign-up that never tells whether the e-mail has an account: same answer,
    same work (one argon2 hash) either way. A new address gets its account and a welcome
    e-mail with a link to confirm the address; the owner of an existing one is told by e-mail
    (the outbox) that someone tried, with a link to choose a new password. Concurrent
    sign-ups with one address make one account (ON CONFLICT), never an error."""
    email = email.strip().lower()
    password_hash = _hasher.hash(password)
    created = session.execute(
        pg_insert(User).values(email=email, display_name=display_name, password_hash=password_hash,
                               roles=["resident"])
        .on_conflict_do_nothing(index_elements=[User.email]).returning(User.id)).scalar()
    if created is not None:
        token = issue_link(session, created, email, "verify_email", ttl_hours)
        send_mail(session, email, WELCOME, f"{public_url}{PATHS['verify_email']}{token}", hours=ttl_hours)
    else:
        send_mail(session, email, ALREADY, f"{public_url}/forgot-password")
    session.flush()


def issue_link(session: Session, user_id: int, email: str, purpose: str, ttl_hours: int) -> str:
    """A new single-use token for an e-mailed link; earlier unused ones of the same purpose
    end (only the latest e-mail works)."""
    session.execute(update(AccountToken).where(
        AccountToken.user_id == user_id, AccountToken.purpose == purpose, AccountToken.used_at.is_(None))
        .values(used_at=func.now()))
    token = secrets.token_urlsafe(32)
    session.add(AccountToken(user_id=user_id, purpose=purpose, token_hash=_digest(token), email=email,
                             expires_at=datetime.now(UTC) + timedelta(hours=ttl_hours)))
    return token


def consume_link(session: Session, token: str, purpose: str) -> User:
    """The account of a live link, which is used up (row locks: a link clicked twice at
    once works once). Unknown, used, expired, or sent to an address the account no longer
    has: InvalidLink."""
    row = session.scalar(select(AccountToken).where(
        AccountToken.token_hash == _digest(token), AccountToken.purpose == purpose).with_for_update())
    if row is None or row.used_at is not None or row.expires_at <= datetime.now(UTC):
        raise InvalidLink()
    user = session.get(User, row.user_id, with_for_update=True)
    if user is None or not user.is_active or user.deleted_at is not None or user.email != row.email:
        raise InvalidLink()
    row.used_at = datetime.now(UTC)
    return user


def send_verification(session: Session, user: User, public_url: str, ttl_hours: int) -> bool:
    """E-mail a link to confirm the account's address; False if it is already confirmed."""
    if user.email_verified_at is not None:
        return False
    token = issue_link(session, user.id, user.email, "verify_email", ttl_hours)
    send_mail(session, user.email, VERIFY, f"{public_url}{PATHS['verify_email']}{token}", hours=ttl_hours)
    return True


def verify_email(session: Session, token: str) -> User:
    user = consume_link(session, token, "verify_email")
    if user.email_verified_at is None:
        user.email_verified_at = datetime.now(UTC)
    return user


def request_password_reset(session: Session, email: str, public_url: str, ttl_hours: int) -> None:
    """E-mail a reset link if an active account has this address; the caller answers the
    same either way."""
    user = session.scalar(select(User).where(
        User.email == email.strip().lower(), User.is_active, User.deleted_at.is_(None)))
    if user is not None:
        token = issue_link(session, user.id, user.email, "reset_password", ttl_hours)
        send_mail(session, user.email, RESET, f"{public_url}{PATHS['reset_password']}{token}", hours=ttl_hours)


def reset_password(session: Session, token: str, new_password: str) -> User:
    """Set the new password and end every session and token of the account (whoever knew
    the old one is out). Following the link proves the address: it counts as verified."""
    user = consume_link(session, token, "reset_password")
    user.password_hash = _hasher.hash(new_password)
    if user.email_verified_at is None:
        user.email_verified_at = datetime.now(UTC)
    revoke_all(session, user)
    return user


def authenticate(session: Session, email: str, password: str, totp_code: str | None = None,
                 recovery_code: str | None = None, second_step: bool = True) -> User:
    """The account of an e-mail and password. With two-factor sign-in on, a code (TOTP or
    recovery) is needed too, unless `second_step` is False (the web pages ask for it on a
    page of its own, app.web.views)."""
    from app.accounts import two_factor

    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.is_active or user.deleted_at is not None or user.password_hash is None:
        _hasher.hash(password)  # same cost whether or not the account exists
        raise InvalidCredentials()
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise InvalidCredentials() from None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    if second_step and user.totp_enabled_at is not None:
        if not totp_code and not recovery_code:
            raise TwoFactorRequired()
        if not two_factor.check(session, user, totp_code, recovery_code):
            raise InvalidTwoFactorCode()
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
            User.deleted_at.is_(None),
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
    """Delete the tokens, sessions and e-mailed links that ended (revoked, used or expired)
    over a day ago."""
    day_ago = func.now() - timedelta(days=1)
    tokens = session.execute(delete(ApiToken).where(or_(
        ApiToken.revoked_at < day_ago, ApiToken.expires_at < day_ago))).rowcount
    links = session.execute(delete(AccountToken).where(or_(
        AccountToken.used_at < day_ago, AccountToken.expires_at < day_ago))).rowcount
    return tokens + links


def check_password(user: User, password: str | None, field: str = "password") -> None:
    """Confirm a sensitive action with the account's password (422 on `field` if wrong).
    An account without one (made through OIDC) confirms with its e-mail address instead."""
    if user.password_hash is None:
        if (password or "").strip().lower() != user.email:
            raise ValidationFailed([FieldError(field, "wrong_password")])
        return
    try:
        _hasher.verify(user.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        raise ValidationFailed([FieldError(field, "wrong_password")]) from None


def change_password(session: Session, user: User, current: str, new: str, keep: str | None) -> int:
    """Check the current password, store the new one, and end the account's other
    sessions and tokens (someone who knew the old password is signed out)."""
    check_password(user, current, "current_password")
    user.password_hash = _hasher.hash(new)
    return revoke_all(session, user, keep=keep)
