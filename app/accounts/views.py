"""Accounts: register, token, sign out (here or everywhere), my account, my password."""

from flask import Blueprint, current_app, request

from app import policy
from app.accounts import services
from app.accounts.auth import bearer_token, current_credential, current_user
from app.accounts.schemas import (
    Credentials,
    PasswordChange,
    RegisteredOut,
    RegisterInput,
    RevokedOut,
    TokenOut,
    UserOut,
)
from app.api.contract import Reply, operation
from app.db import db
from app.messages import message
from app.ratelimit import guarded_sign_in

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


@operation(bp, "POST", "/auth/register", body=RegisterInput, tags=TAGS, limit="sign_up",
           replies={202: Reply("Accepted, whether or not the e-mail already had an account.",
                               RegisteredOut)})
def register(body: RegisterInput):
    """Create a resident account

    The answer is the same whether or not the e-mail already has an account, so that nobody
    can learn who uses Cartagora: a new address gets its account (sign in with `POST
    /api/v1/auth/token`) and a welcome e-mail; the owner of an existing one is told by e-mail
    that someone tried."""
    services.register(db.session, body.email, body.password, body.display_name)
    return {"detail": message("registered")}, 202


@operation(bp, "POST", "/auth/token", body=Credentials, tags=TAGS, errors=(401,),
           limit="sign_in",
           problems={401: "Wrong e-mail or password (`invalid_credentials`), or a bad bearer "
                          "token (`unauthorized`).",
                     429: "Too many attempts from this address (`too_many_requests`), or too "
                          "many failed sign-ins on this account or from this address "
                          "(`sign_in_locked`): failures slow sign-in down, then lock it for "
                          "the hour or the day. `Retry-After` says how long."},
           replies={201: Reply("A bearer token.", TokenOut)})
def token(body: Credentials):
    """Exchange e-mail + password for a bearer token."""
    user = guarded_sign_in(body.email,
                           lambda: services.authenticate(db.session, body.email, body.password))
    value, expires = services.issue_token(db.session, user, current_app.config["TOKEN_TTL_HOURS"])
    return {"access_token": value, "token_type": "Bearer", "expires_at": expires.isoformat(),
            "user": user_json(user)}, 201


@operation(bp, "POST", "/auth/logout", tags=TAGS, auth=policy.roles("account.manage"),
           replies={204: Reply("Signed out.")})
def logout():
    """End the bearer token, or the browser session, this request is made with.

    A copy of the token or of the session cookie authenticates nobody afterwards.
    """
    services.revoke_token(db.session, current_credential())
    return "", 204


@operation(bp, "POST", "/auth/logout-everywhere", tags=TAGS, auth=policy.roles("account.manage"),
           replies={200: Reply("Signed out everywhere.", RevokedOut)})
def logout_everywhere():
    """End every bearer token and browser session of the account, this one included."""
    return {"revoked": services.revoke_all(db.session, current_user())}


@operation(bp, "POST", "/me/password", body=PasswordChange, tags=TAGS, auth=policy.roles("account.manage"),
           problems={422: "The current password is wrong (`wrong_password` on "
                          "`current_password`), or the new one too short."},
           replies={200: Reply("Changed; the account's other sessions and tokens are ended.",
                               RevokedOut)})
def change_password(body: PasswordChange):
    """Change my password; every other session and token of the account ends."""
    revoked = services.change_password(db.session, current_user(), body.current_password,
                                       body.new_password, keep=current_credential())
    return {"revoked": revoked}


@operation(bp, "GET", "/me", tags=TAGS, auth="required", replies={200: Reply("My account.", UserOut)})
def me():
    """The signed-in account."""
    return user_json(current_user())
