"""POST /api/v1/auth/register, /auth/token, /auth/logout; GET /api/v1/me."""

from flask import Blueprint, current_app, request

from app.accounts import services
from app.accounts.auth import bearer_token, current_user
from app.accounts.schemas import Credentials, RegisterInput, TokenOut, UserOut
from app.api.contract import Reply, operation
from app.db import db

bp = Blueprint("accounts", __name__, url_prefix="/api/v1")
TAGS = ("Accounts",)


@bp.before_app_request
def check_bearer_token():
    """A bad or expired token is refused everywhere under /api, public endpoints included,
    so that clients notice instead of silently becoming anonymous."""
    if request.path.startswith("/api/") and bearer_token() is not None:
        current_user()


def user_json(user) -> dict:
    return {"id": user.id, "email": user.email, "display_name": user.display_name, "roles": user.roles}


@operation(bp, "POST", "/auth/register", body=RegisterInput, tags=TAGS, errors=(409,),
           problems={409: "An account already uses this e-mail (`email_taken`)."},
           replies={201: Reply("The new account.", UserOut)})
def register(body: RegisterInput):
    """Create a resident account."""
    user = services.create_user(db.session, body.email, body.password, body.display_name)
    return user_json(user), 201


@operation(bp, "POST", "/auth/token", body=Credentials, tags=TAGS, errors=(401,),
           problems={401: "Wrong e-mail or password (`invalid_credentials`), or a bad bearer "
                          "token (`unauthorized`)."},
           replies={201: Reply("A bearer token.", TokenOut)})
def token(body: Credentials):
    """Exchange e-mail + password for a bearer token."""
    user = services.authenticate(db.session, body.email, body.password)
    value, expires = services.issue_token(db.session, user, current_app.config["TOKEN_TTL_DAYS"])
    return {"access_token": value, "token_type": "Bearer", "expires_at": expires.isoformat(),
            "user": user_json(user)}, 201


@operation(bp, "POST", "/auth/logout", tags=TAGS, auth="required",
           replies={204: Reply("Signed out.")})
def logout():
    """Revoke the bearer token used for this request (cookie sessions sign out on the web)."""
    token = bearer_token()
    if token is not None:
        services.revoke_token(db.session, token)
    return "", 204


@operation(bp, "GET", "/me", tags=TAGS, auth="required", replies={200: Reply("My account.", UserOut)})
def me():
    """The signed-in account."""
    return user_json(current_user())
