"""Two-factor sign-in: TOTP (RFC 6238, any authenticator app) and single-use recovery codes.

Enrolment is two steps: `begin` draws a secret (shown as a QR code and as text), `confirm`
switches it on once the person types a code from their app, and returns ten recovery codes,
shown once. A code is accepted once: the last 30-second step used is kept per account (under
a row lock), so a code seen over a shoulder or replayed from a log is refused. Required for
moderators and admins (their rights wait for it: User.active_roles), available to everyone.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime

import pyotp
import segno
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.accounts.models import RecoveryCode, User
from app.errors import Conflict, FieldError, ValidationFailed

ISSUER = "Cartagora"
RECOVERY_CODES = 10
STEP_S = 30
WINDOW = 1  # steps of clock drift accepted either side


def _digest(code: str) -> bytes:
    return hashlib.sha256(code.strip().lower().replace("-", "").replace(" ", "").encode()).digest()


def begin(session: Session, user: User) -> tuple[str, str]:
    """(secret, otpauth URI) of a new pending secret; refused while one is on."""
    if user.totp_enabled_at is not None:
        raise Conflict("totp_already_enabled")
    user.totp_secret = pyotp.random_base32()
    session.flush()
    return user.totp_secret, provisioning_uri(user)


def provisioning_uri(user: User) -> str:
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code (no image request, nothing for the CSP to allow)."""
    return segno.make(uri, error="m").svg_inline(scale=5, dark="#111", light="#fff", title="QR")


def _new_codes(session: Session, user: User) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = secrets.token_hex(5)  # 40 bits each, single use, behind the password
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(RecoveryCode(user_id=user.id, code_hash=_digest(raw)))
    return codes


def _step_of(user: User, code: str | None) -> int | None:
    """The 30-second step whose TOTP is `code`, if within the window and not used yet."""
    code = (code or "").strip().replace(" ", "")
    if not user.totp_secret or len(code) != 6 or not code.isdigit():
        return None
    totp, now = pyotp.TOTP(user.totp_secret), int(time.time()) // STEP_S
    for step in range(now - WINDOW, now + WINDOW + 1):
        if (user.totp_last_step is None or step > user.totp_last_step) and \
                hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def confirm(session: Session, user: User, code: str) -> list[str]:
    """Switch two-factor sign-in on with a first code; the recovery codes, shown once."""
    _lock(session, user)
    if user.totp_enabled_at is not None:
        raise Conflict("totp_already_enabled")
    if user.totp_secret is None:
        raise Conflict("totp_not_started")
    step = _step_of(user, code)
    if step is None:
        raise ValidationFailed([FieldError("code", "invalid_totp")])
    user.totp_enabled_at, user.totp_last_step = datetime.now(UTC), step
    return _new_codes(session, user)


def check(session: Session, user: User, code: str | None, recovery_code: str | None = None) -> bool:
    """A sign-in's second step: a TOTP not used before, or an unused recovery code (used up)."""
    _lock(session, user)
    if code:
        step = _step_of(user, code)
        if step is not None:
            user.totp_last_step = step
            return True
        return False
    if recovery_code:
        row = session.scalar(select(RecoveryCode).where(
            RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _digest(recovery_code),
            RecoveryCode.used_at.is_(None)).with_for_update())
        if row is not None:
            row.used_at = datetime.now(UTC)
            return True
    return False


def _require_code(session: Session, user: User, code: str | None, recovery_code: str | None) -> None:
    if user.totp_enabled_at is None:
        raise Conflict("totp_not_enabled")
    if not check(session, user, code, recovery_code):
        raise ValidationFailed([FieldError("code", "invalid_totp")])


def disable(session: Session, user: User, code: str | None, recovery_code: str | None = None) -> None:
    """Switch it off (a current code or a recovery code confirms). A moderator's or an
    admin's rights then wait until it is on again."""
    _require_code(session, user, code, recovery_code)
    user.totp_secret = user.totp_enabled_at = user.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def regenerate(session: Session, user: User, code: str | None) -> list[str]:
    """Ten new recovery codes (the old ones stop working)."""
    _require_code(session, user, code, None)
    return _new_codes(session, user)


def remaining_codes(session: Session, user: User) -> int:
    return len(session.scalars(select(RecoveryCode.id).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))).all())


def _lock(session: Session, user: User) -> None:
    """Lock the account's row and read it afresh: two sign-ins with one code (or two
    enrolments) at once are serialised, and the second sees the first's step."""
    session.flush()
    session.refresh(user, with_for_update=True)
