"""Account pages: my account, e-mailed links (confirm my address, choose a new password), the
second step of a two-factor sign-in, enrolment, my data, deleting my account, and sign-in
with the city's OpenID Connect provider.

Each page reads its form with the API's declared model and calls the same service as the API.
"""

from __future__ import annotations

import json
import time

from authlib.integrations.base_client.errors import OAuthError
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from app.accounts import mydata, oidc, two_factor
from app.accounts import services as accounts
from app.accounts.auth import SESSION_TOKEN_KEY
from app.accounts.schemas import DeleteAccountInput, EmailOnly, PasswordChange, PasswordResetInput
from app.accounts.services import InvalidCredentials
from app.config import link_settings
from app.db import db
from app.errors import AppError
from app.messages import message
from app.ratelimit import guarded_sign_in, limiter, requester
from app.web.forms import (
    PENDING,
    complete_sign_in,
    fresh_session,
    page_form,
    refusal_errors,
    safe_next,
    sign_in,
    signed_in_or_login,
)
from app.web.i18n import current_lang
from app.web.security import protect_forms

bp = Blueprint("account_pages", __name__)


protect_forms(bp)


def account_page(user, errors: dict | None = None, notice: str | None = None) -> str:
    return render_template("account/account.html", account=user, errors=errors or {}, notice=notice,
                           recovery_left=two_factor.remaining_codes(db.session, user)
                           if user.totp_enabled_at else 0)


# ---- sign-in: the second step, and the city's provider ---------------------------------------

@bp.route("/login/code", methods=["GET", "POST"])
def second_step():
    pending = session.get(PENDING)
    if not pending or pending["until"] < time.time():
        session.pop(PENDING, None)
        return redirect(url_for("web.login"))
    errors = {}
    if request.method == "POST":
        code = request.form.get("code", "").strip()
        use_recovery = "-" in code or len(code.replace(" ", "")) == 10

        user = db.session.get(accounts.User, pending["user"])

        def attempt():
            if user is None or not user.is_active or user.deleted_at is not None:
                raise InvalidCredentials()
            if not two_factor.check(db.session, user, None if use_recovery else code,
                                    code if use_recovery else None):
                raise accounts.InvalidTwoFactorCode()
            return user

        try:
            user = guarded_sign_in(user.email if user else "", attempt)
        except AppError as exc:
            errors = {"code": message(exc.code, exc.params, current_lang())}
        else:
            sign_in(user)
            return redirect(pending.get("next") or "/")
    return render_template("account/second_step.html", errors=errors)


@bp.get("/login/oidc")
def oidc_start():
    client = oidc.client()
    if client is None:
        abort(404)
    session["oidc_next"] = safe_next()
    return client.authorize_redirect(url_for("account_pages.oidc_callback", _external=True))


@bp.get("/login/oidc/callback")
def oidc_callback():
    client = oidc.client()
    if client is None:
        abort(404)
    next_url = session.pop("oidc_next", "/")
    claims = None
    if not request.args.get("error"):  # cancelled at the provider: error=access_denied
        try:
            token = client.authorize_access_token()  # state, code, ID token signature, nonce
            claims = dict(token.get("userinfo") or client.userinfo(token=token))
        except OAuthError as exc:
            current_app.logger.warning("OIDC sign-in refused: %s", exc)
        except Exception:  # the provider down or answering nonsense: a refusal, never a 500
            current_app.logger.exception("OIDC sign-in failed")
    error = message("oidc_refused", None, current_lang())
    if claims is not None:
        try:
            user = oidc.account_for(db.session, current_app.config["OIDC_ISSUER"], claims)
        except AppError as exc:
            error = message(exc.code, exc.params, current_lang())
        else:
            return complete_sign_in(user, next_url)
    return render_template("login.html", errors={"form": error}, email="", next=next_url,
                           registered=False), 403


# ---- e-mailed links ----------------------------------------------------------------------------

@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password():
    errors, sent = {}, False
    if request.method == "POST":
        form, errors = page_form(EmailOnly)
        if form is not None:
            try:
                limiter.check("email", requester(None))
            except AppError as exc:
                errors = refusal_errors(exc)
            else:
                public_url, _, reset_ttl = link_settings(current_app.config)
                accounts.request_password_reset(db.session, form.email, public_url, reset_ttl)
                sent = True
    return render_template("account/forgot.html", errors=errors, sent=sent,
                           email=request.form.get("email", ""))


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    errors = {}
    if request.method == "POST":
        form, errors = page_form(PasswordResetInput)
        if form is not None:
            try:
                accounts.reset_password(db.session, form.token, form.new_password)
            except AppError as exc:
                errors = refusal_errors(exc)
            else:
                fresh_session()
                session["flash"] = message("password_reset_done", None, current_lang())
                return redirect(url_for("web.login"))
    return render_template("account/reset.html", token=token, errors=errors,
                           min_password=accounts.MIN_PASSWORD)


@bp.route("/verify-email/<token>", methods=["GET", "POST"])
def verify_email(token: str):
    """A button, not the GET itself: mail scanners that open links must not use them up."""
    errors, done = {}, False
    if request.method == "POST":
        try:
            accounts.verify_email(db.session, token)
            done = True
        except AppError as exc:
            errors = refusal_errors(exc)
    return render_template("account/verify.html", token=token, errors=errors, done=done)


# ---- my account ----------------------------------------------------------------------------

@bp.get("/account")
def account():
    user = signed_in_or_login()
    return account_page(user, notice=session.pop("flash", None))


@bp.post("/account/verification")
def resend_verification():
    user = signed_in_or_login()
    try:
        limiter.check("email", requester(user))
    except AppError as exc:
        session["flash"] = message(exc.code, exc.params, current_lang())
    else:
        public_url, verify_ttl, _ = link_settings(current_app.config)
        sent = accounts.send_verification(db.session, user, public_url, verify_ttl)
        session["flash"] = message("verification_sent" if sent else "email_verified", None, current_lang())
    return redirect(url_for("account_pages.account"))


@bp.post("/account/password")
def change_password():
    user = signed_in_or_login()
    form, errors = page_form(PasswordChange)
    if form is not None:
        try:
            accounts.change_password(db.session, user, form.current_password, form.new_password,
                                     keep=session.get(SESSION_TOKEN_KEY))
        except AppError as exc:
            errors = refusal_errors(exc)
        else:
            session["flash"] = message("password_changed", None, current_lang())
            return redirect(url_for("account_pages.account"))
    return account_page(user, errors)


@bp.route("/account/two-factor", methods=["GET", "POST"])
def two_factor_page():
    """Enrol: a new secret as a QR code; the first code switches it on and shows the
    recovery codes once. With it on: new recovery codes, or switch it off."""
    user = signed_in_or_login()
    errors, codes = {}, None
    action = request.form.get("action") if request.method == "POST" else None
    try:
        if action == "confirm":
            codes = two_factor.confirm(db.session, user, request.form.get("code", ""))
        elif action == "regenerate":
            codes = two_factor.regenerate(db.session, user, request.form.get("code", ""))
        elif action == "disable":
            two_factor.disable(db.session, user, request.form.get("code", ""))
            session["flash"] = message("totp_disabled", None, current_lang())
            return redirect(url_for("account_pages.account"))
    except AppError as exc:
        errors = refusal_errors(exc)
    secret = qr = None
    if user.totp_enabled_at is None:
        if user.totp_secret is None or action is None:
            secret, uri = two_factor.begin(db.session, user)  # a fresh secret per visit
        else:
            secret, uri = user.totp_secret, two_factor.provisioning_uri(user)
        qr = two_factor.qr_svg(uri)
    return render_template("account/two_factor.html", account=user, secret=secret, qr=qr,
                           codes=codes, errors=errors)


@bp.get("/account/export")
def export():
    user = signed_in_or_login()
    body = json.dumps(mydata.export(db.session, user), ensure_ascii=False, indent=2)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": 'attachment; filename="cartagora-my-data.json"',
        "Cache-Control": "no-store"})


@bp.post("/account/delete")
def delete_account():
    user = signed_in_or_login()
    form, errors = page_form(DeleteAccountInput)
    if form is not None:
        try:
            mydata.delete_account(db.session, user, form.password)
        except AppError as exc:
            errors = refusal_errors(exc)
        else:
            fresh_session()
            session["flash"] = message("account_deleted", None, current_lang())
            return redirect(url_for("web.login"))
    return account_page(user, errors)
