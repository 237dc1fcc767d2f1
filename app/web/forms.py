"""What every page module shares: forms read with the API's declared models, a service's
refusal shown on a form, the way back (`next`), the signed-in person, and signing in (with
the two-factor step). Page modules (views, account, moderation) import from here, never from
each other."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import abort, current_app, redirect, request, session, url_for
from pydantic import ValidationError

from app.accounts import services as accounts
from app.accounts.auth import SESSION_TOKEN_KEY, current_user
from app.api.contract import field_errors as contract_field_errors
from app.db import db
from app.errors import AppError
from app.messages import message
from app.web.i18n import current_lang
from app.web.security import csrf_token

PENDING = "pending_2fa"  # session key: the account that passed its password, awaiting its code
PENDING_S = 300


def signed_in_or_login():
    """The signed-in person, else (abort) a redirect to the sign-in page and back."""
    user = current_user()
    if user is None:
        abort(redirect(url_for("web.login", next=request.full_path.rstrip("?"))))
    return user


def safe_next(default: str = "/") -> str:
    """A local path to go back to (never another site)."""
    target = request.values.get("next") or ""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def field_errors(errors) -> dict[str, str]:
    return {e.field.removeprefix("properties."): e.to_dict()["detail"] for e in errors}


def refusal_errors(exc: AppError) -> dict[str, str]:
    """A service's refusal as a page form's errors: its field errors, else one for the form."""
    return {e.field: e.to_dict()["detail"] for e in exc.errors} or \
        {"form": message(exc.code, exc.params, current_lang())}


def page_form(model, data: dict | None = None):
    """A page's form (or `data`) read with the API's own declared model, its fields only:
    (the model, {}) or (None, errors)."""
    source = request.form if data is None else data
    data = {name: source[name] for name in model.model_fields if name in source}
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        return None, field_errors(contract_field_errors(exc))


def complete_sign_in(user, next_url: str):
    """After the password or the city's provider: the code page if two-factor sign-in is
    on (the session then only remembers who passed the first step, for five minutes)."""
    if user.totp_enabled_at is not None:
        fresh_session()
        session[PENDING] = {"user": user.id, "until": time.time() + PENDING_S, "next": next_url}
        return redirect(url_for("account_pages.second_step"))
    sign_in(user)
    return redirect(next_url)


def sign_in(user) -> None:
    """A fresh session (no fixation) backed by a server-side token, keeping the language."""
    token, _ = accounts.issue_token(db.session, user, current_app.config["TOKEN_TTL_HOURS"],
                                    kind="session")
    fresh_session()
    session[SESSION_TOKEN_KEY] = token
    csrf_token()


def fresh_session() -> None:
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
