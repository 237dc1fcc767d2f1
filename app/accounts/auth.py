"""Who is calling: bearer tokens for the API, the browser's session cookie, role decorators.

The web pages sign a person in by putting a random session token in Flask's signed session
cookie; the token's row (api_tokens, kind "session") says whether the session still lives, so
signing out ends it on the server and a copy of the cookie is worth nothing. The API
accepts that cookie too, but for unsafe methods only with the session's CSRF token in the
X-CSRF-Token header (or a `csrf_token` form field): a cross-site form cannot read the token,
so it cannot act for the person. Bearer tokens work as before and take precedence.
"""

from __future__ import annotations

import hmac
from functools import wraps

from flask import g, request, session

from app.accounts.models import User
from app.accounts.services import user_for_token
from app.db import db
from app.errors import Forbidden, Unauthorized


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


SESSION_TOKEN_KEY = "sid"
CSRF_SESSION_KEY = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_ok() -> bool:
    """True when the request carries the session's CSRF token (header or form field)."""
    expected = session.get(CSRF_SESSION_KEY)
    sent = request.headers.get(CSRF_HEADER) or request.form.get("csrf_token") or ""
    return bool(expected) and hmac.compare_digest(str(sent).encode(), str(expected).encode())


def session_user() -> User | None:
    """The person signed in through the web pages, or None (never signed in, signed out, or
    the session ended elsewhere); an unsafe request without the CSRF token is refused (403)
    rather than treated as anonymous."""
    token = session.get(SESSION_TOKEN_KEY)
    if token is None:
        return None
    if request.method not in SAFE_METHODS and not csrf_ok():
        raise Forbidden()
    user = user_for_token(db.session, str(token), kind="session")
    if user is None:
        session.pop(SESSION_TOKEN_KEY, None)  # ended on the server: forget it
    return user


def current_user() -> User | None:
    """The authenticated user, or None. A bad or expired token is a 401, not anonymity."""
    if "user" not in g:
        token = bearer_token()
        if token is None:
            g.user = session_user()
        else:
            g.user = user_for_token(db.session, token)
            if g.user is None:
                raise Unauthorized()
    return g.user


def current_credential() -> str | None:
    """The token this request is authenticated with: its bearer token, else its session's."""
    return bearer_token() or session.get(SESSION_TOKEN_KEY)


def requires_auth(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_user() is None:
            raise Unauthorized()
        return view(*args, **kwargs)

    return wrapper


def requires_role(*roles: str):
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            user = current_user()
            if user is None:
                raise Unauthorized()
            if not user.has_role(*roles):
                raise Forbidden()
            return view(*args, **kwargs)

        return wrapper

    return decorator
