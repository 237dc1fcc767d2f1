"""POST /api/v1/auth/register, /auth/token, /auth/logout; GET /api/v1/me."""

from flask import Blueprint, current_app, request

from app.accounts import services
from app.accounts.auth import bearer_token, current_user, requires_auth
from app.db import db
from app.schemas import Fields, json_body

bp = Blueprint("accounts", __name__, url_prefix="/api/v1")


@bp.before_app_request
def check_bearer_token():
    """A bad or expired token is refused everywhere under /api, public endpoints included,
    so that clients notice instead of silently becoming anonymous."""
    if request.path.startswith("/api/") and bearer_token() is not None:
        current_user()


def user_json(user) -> dict:
    return {"id": user.id, "email": user.email, "display_name": user.display_name, "roles": user.roles}


@bp.post("/auth/register")
def register():
    """Create a resident account."""
    fields = Fields(json_body())
    email = fields.email()
    password = fields.string("password", strip=False, max_len=256)
    if password is not None and len(password) < services.MIN_PASSWORD:
        fields.error("password", "weak_password", {"min": services.MIN_PASSWORD})
    name = fields.string("display_name", min_len=1, max_len=60)
    fields.done()
    user = services.create_user(db.session, email, password, name)
    return user_json(user), 201


@bp.post("/auth/token")
def token():
    """Exchange e-mail + password for a bearer token."""
    fields = Fields(json_body())
    email, password = fields.string("email", max_len=254), fields.string("password", strip=False)
    fields.done()
    user = services.authenticate(db.session, email, password)
    value, expires = services.issue_token(db.session, user, current_app.config["TOKEN_TTL_DAYS"])
    return {"access_token": value, "token_type": "Bearer", "expires_at": expires.isoformat(),
            "user": user_json(user)}, 201


@bp.post("/auth/logout")
@requires_auth
def logout():
    """Revoke the bearer token used for this request (cookie sessions sign out on the web)."""
    token = bearer_token()
    if token is not None:
        services.revoke_token(db.session, token)
    return "", 204


@bp.get("/me")
@requires_auth
def me():
    return user_json(current_user())
