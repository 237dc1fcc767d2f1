"""Who is calling: bearer tokens for the API, and role decorators."""

from __future__ import annotations

from functools import wraps

from flask import g, request

from app.accounts.models import User
from app.accounts.services import user_for_token
from app.db import db
from app.errors import Forbidden, Unauthorized


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def current_user() -> User | None:
    """The authenticated user, or None. A bad or expired token is a 401, not anonymity."""
    if "user" not in g:
        token = bearer_token()
        if token is None:
            g.user = None
        else:
            g.user = user_for_token(db.session, token)
            if g.user is None:
                raise Unauthorized()
    return g.user


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
