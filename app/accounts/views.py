"""Accounts: register, token, sign out (here or everywhere), my account, my password, e-mailed
links (verify my address, reset my password), two-factor sign-in, my data, delete my account."""

from flask import Blueprint, current_app, request

from app import policy
from app.accounts import mydata, services, two_factor
from app.accounts.auth import bearer_token, current_credential, current_user
from app.accounts.schemas import (
    Credentials,
    DeleteAccountInput,
    EmailOnly,
    MyDataOut,
    PasswordChange,
    PasswordResetInput,
    RecoveryCodesOut,
    RegisteredOut,
    RegisterInput,
    RevokedOut,
    TokenOut,
    TotpCode,
    TotpConfirm,
    TotpSetupOut,
    UserOut,
    VerifyEmailInput,
)
from app.api.contract import Reply, operation
from app.config import link_settings
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
    return {"id": user.id, "email": user.email, "display_name": user.display_name, "roles": user.roles,
            "active_roles": user.active_roles, "email_verified": user.email_verified_at is not None,
            "two_factor": user.totp_enabled_at is not None, "has_password": user.password_hash is not None}


@operation(bp, "POST", "/auth/register", body=RegisterInput, tags=TAGS, limit="sign_up",
           replies={202: Reply("Accepted, whether or not the e-mail already had an account.",
                               RegisteredOut)})
def register(body: RegisterInput):
    """Create a resident account

    The answer is the same whether or not the e-mail already has an account, so that nobody
    can learn who uses Cartagora: a new address gets its account (sign in with `POST
    /api/v1/auth/token`) and a welcome e-mail; the owner of an existing one is told by e-mail
    that someone tried."""
    public_url, verify_ttl, _ = link_settings(current_app.config)
    services.register(db.session, body.email, body.password, body.display_name, public_url, verify_ttl)
    return {"detail": message("registered")}, 202


@operation(bp, "POST", "/auth/token", body=Credentials, tags=TAGS, errors=(401,),
           limit="sign_in",
           problems={401: "Wrong e-mail or password (`invalid_credentials`), a bad bearer "
                          "token (`unauthorized`), or, for an account with two-factor sign-in, "
                          "a missing (`totp_required`) or wrong (`invalid_totp`) code.",
                     429: "Too many attempts from this address (`too_many_requests`), or too "
                          "many failed sign-ins on this account or from this address "
                          "(`sign_in_locked`): failures slow sign-in down, then lock it for "
                          "the hour or the day. `Retry-After` says how long."},
           replies={201: Reply("A bearer token.", TokenOut)})
def token(body: Credentials):
    """Exchange e-mail + password for a bearer token.

    An account with two-factor sign-in also sends `totp_code` (or a `recovery_code`). A
    moderator's or an admin's rights wait until two-factor sign-in is on (`active_roles`)."""
    user = guarded_sign_in(body.email, lambda: services.authenticate(
        db.session, body.email, body.password, body.totp_code, body.recovery_code))
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


# ---- e-mailed links --------------------------------------------------------------------------

@operation(bp, "POST", "/auth/verify-email", body=VerifyEmailInput, tags=TAGS, limit="sign_in",
           problems={422: "The link is unknown, used, expired or replaced by a newer one "
                          "(`invalid_link` on `token`)."},
           replies={200: Reply("The address is confirmed.", RegisteredOut)})
def verify_email(body: VerifyEmailInput):
    """Confirm an e-mail address with the token of the link we sent it."""
    services.verify_email(db.session, body.token)
    return {"detail": message("email_verified")}


@operation(bp, "POST", "/me/verification", tags=TAGS, auth=policy.roles("account.manage"), limit="email",
           replies={202: Reply("A new link is on its way (unless the address is already confirmed).",
                               RegisteredOut)})
def resend_verification():
    """E-mail me a new link to confirm my address."""
    public_url, verify_ttl, _ = link_settings(current_app.config)
    sent = services.send_verification(db.session, current_user(), public_url, verify_ttl)
    return {"detail": message("verification_sent" if sent else "email_verified")}, 202


@operation(bp, "POST", "/auth/password-reset", body=EmailOnly, tags=TAGS, limit="email",
           replies={202: Reply("Accepted, whether or not the address has an account.", RegisteredOut)})
def password_reset(body: EmailOnly):
    """Ask for a link to choose a new password

    The answer is the same whether or not the address has an account; an account's owner
    gets a link valid for an hour (`CARTAGORA_RESET_PASSWORD_TTL_HOURS`)."""
    public_url, _, reset_ttl = link_settings(current_app.config)
    services.request_password_reset(db.session, body.email, public_url, reset_ttl)
    return {"detail": message("password_reset_sent")}, 202


@operation(bp, "POST", "/auth/password-reset/confirm", body=PasswordResetInput, tags=TAGS,
           limit="sign_in",
           problems={422: "The link is unknown, used or expired (`invalid_link` on `token`), or "
                          "the new password is too short."},
           replies={200: Reply("Changed; every session and token of the account is ended.",
                               RegisteredOut)})
def password_reset_confirm(body: PasswordResetInput):
    """Choose a new password with the token of the e-mailed link."""
    services.reset_password(db.session, body.token, body.new_password)
    return {"detail": message("password_reset_done")}


# ---- two-factor sign-in ----------------------------------------------------------------------

@operation(bp, "POST", "/me/totp", tags=TAGS, auth=policy.roles("account.manage"),
           problems={409: "Two-factor sign-in is already on (`totp_already_enabled`)."},
           replies={201: Reply("A new secret, not yet on: confirm it with a code.", TotpSetupOut)})
def totp_begin():
    """Start enrolling an authenticator app (TOTP)."""
    secret, uri = two_factor.begin(db.session, current_user())
    return {"secret": secret, "otpauth_uri": uri}, 201


@operation(bp, "POST", "/me/totp/confirm", body=TotpConfirm, tags=TAGS, auth=policy.roles("account.manage"),
           problems={409: "Not started (`totp_not_started`) or already on (`totp_already_enabled`).",
                     422: "Wrong or already used code (`invalid_totp` on `code`)."},
           replies={200: Reply("On; ten recovery codes, shown this once.", RecoveryCodesOut)})
def totp_confirm(body: TotpConfirm):
    """Switch two-factor sign-in on with a first code from the app."""
    return {"recovery_codes": two_factor.confirm(db.session, current_user(), body.code)}


@operation(bp, "POST", "/me/totp/disable", body=TotpCode, tags=TAGS, auth=policy.roles("account.manage"),
           problems={409: "Two-factor sign-in is off (`totp_not_enabled`).",
                     422: "Wrong or already used code (`invalid_totp` on `code`)."},
           replies={204: Reply("Off.")})
def totp_disable(body: TotpCode):
    """Switch two-factor sign-in off (a moderator's or an admin's rights then wait)."""
    two_factor.disable(db.session, current_user(), body.code, body.recovery_code)
    return "", 204


@operation(bp, "POST", "/me/totp/recovery-codes", body=TotpConfirm, tags=TAGS,
           auth=policy.roles("account.manage"),
           problems={409: "Two-factor sign-in is off (`totp_not_enabled`).",
                     422: "Wrong or already used code (`invalid_totp` on `code`)."},
           replies={200: Reply("Ten new recovery codes; the old ones stop working.", RecoveryCodesOut)})
def totp_recovery_codes(body: TotpConfirm):
    """Replace my recovery codes."""
    return {"recovery_codes": two_factor.regenerate(db.session, current_user(), body.code)}


# ---- my data ---------------------------------------------------------------------------------

@operation(bp, "GET", "/me/export", tags=TAGS, auth="required", cost="stats",
           replies={200: Reply("Everything the account holds.", MyDataOut)})
def export():
    """Download my data (JSON): account, sessions, contributions, comments, votes, follows…"""
    return mydata.export(db.session, current_user())


@operation(bp, "POST", "/me/delete", body=DeleteAccountInput, tags=TAGS, auth=policy.roles("account.manage"),
           problems={422: "Wrong password (`wrong_password` on `password`)."},
           replies={204: Reply("Deleted: signed out everywhere, personal data gone.")})
def delete_account(body: DeleteAccountInput):
    """Delete my account

    Its contributions, comments and votes stay, attributed to a former account; its e-mail,
    name, password, sessions, follows and identities go. It cannot be undone."""
    mydata.delete_account(db.session, current_user(), body.password)
    return "", 204
