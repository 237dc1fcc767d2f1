"""Sign-in with an OpenID Connect provider: the city's "compte unique", or any compliant one.

Authlib does the protocol (discovery, authorization code flow with state and nonce, the ID
token's signature checked against the provider's keys). Here: which account a person
signing in is. An identity (issuer, subject) seen before is its account. Otherwise an account
with the same e-mail is linked, but only if the provider says the address is verified
(`email_verified`): linking on an unverified address would let anyone who can create an
account at the provider take over ours. Otherwise a new account, without a local password.
"""

from __future__ import annotations

from datetime import UTC, datetime

from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from app.accounts.models import User, UserIdentity
from app.errors import AppError

CLIENT = "city"


class OidcRefused(AppError):
    """The provider's answer cannot sign anyone in (shown on the sign-in page)."""

    status, code, title = 403, "oidc_refused", "Forbidden"


def init_oidc(app: Flask) -> None:
    """Register the provider when CARTAGORA_OIDC_ISSUER is set (discovery is read on first use)."""
    if not app.config.get("OIDC_ISSUER"):
        return
    oauth = OAuth(app)
    oauth.register(
        CLIENT,
        client_id=app.config["OIDC_CLIENT_ID"],
        client_secret=app.config["OIDC_CLIENT_SECRET"],
        server_metadata_url=app.config["OIDC_ISSUER"] + "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email profile", "timeout": 10},
    )
    app.extensions["oidc"] = oauth


def client():
    """The registered provider's Authlib client, or None when sign-in with it is off."""
    oauth = current_app.extensions.get("oidc")
    return oauth.create_client(CLIENT) if oauth else None


def _display_name(claims: dict, email: str) -> str:
    for key in ("name", "preferred_username", "given_name", "nickname"):
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:60]
    return email.split("@")[0][:60] or "?"


def account_for(session: Session, issuer: str, claims: dict) -> User:
    """The account of a verified ID token's claims: found, linked, or created."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise OidcRefused()
    email = claims.get("email")
    email = email.strip().lower() if isinstance(email, str) and "@" in email else None
    verified = claims.get("email_verified") is True
    now = datetime.now(UTC)

    identity = session.scalar(select(UserIdentity).where(
        UserIdentity.issuer == issuer, UserIdentity.subject == subject).with_for_update())
    if identity is not None:
        user = session.get(User, identity.user_id)
        identity.last_used_at = now
        if verified and email == user.email and user.email_verified_at is None:
            user.email_verified_at = now
    else:
        if email is None:
            raise OidcRefused("oidc_no_email")
        user = session.scalar(select(User).where(User.email == email).with_for_update())
        if user is None:
            created = session.execute(
                pg_insert(User).values(email=email, display_name=_display_name(claims, email),
                                       password_hash=None, roles=["resident"],
                                       email_verified_at=now if verified else None)
                .on_conflict_do_nothing(index_elements=[User.email]).returning(User.id)).scalar()
            if created is None:  # created by a concurrent sign-in or sign-up: not verified by us
                raise OidcRefused("oidc_email_unverified")
            user = session.get(User, created)
        elif not verified:
            raise OidcRefused("oidc_email_unverified")
        elif user.email_verified_at is None:
            user.email_verified_at = now
        session.execute(pg_insert(UserIdentity).values(
            user_id=user.id, issuer=issuer, subject=subject, email=email, last_used_at=func.now())
            .on_conflict_do_nothing(index_elements=[UserIdentity.issuer, UserIdentity.subject]))
    if not user.is_active or user.deleted_at is not None:
        raise OidcRefused("account_disabled")
    session.flush()
    return user
