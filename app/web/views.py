"""Pages for residents: the map, a contribution, sign-up / sign-in / sign-out, my contributions."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from app.accounts import services as accounts
from app.accounts.auth import SESSION_TOKEN_KEY, current_user
from app.accounts.schemas import Credentials, RegisterInput
from app.config import link_settings
from app.contributions.services import get_visible
from app.db import db
from app.errors import AppError
from app.messages import message
from app.ratelimit import guarded_sign_in, limiter, requester
from app.web import services
from app.web.forms import (
    complete_sign_in,
    fresh_session,
    page_form,
    safe_next,
    signed_in_or_login,
)
from app.web.i18n import LANGUAGES, current_lang
from app.web.security import protect_forms

bp = Blueprint("web", __name__)

protect_forms(bp)


@bp.app_context_processor
def page_context():
    try:
        return {"user": current_user()}
    except AppError:  # a page rendered for a request that may not act as anyone
        return {"user": None}


@bp.get("/")
def map_page():
    """The resident map with its list, filters and the contribution form."""
    lang = current_lang()
    cfg = current_app.config
    categories = {k: services.top_categories(db.session, k, lang) for k in ("report", "proposal")}
    map_config = {
        **services.basemap(),
        "categories": categories,
        "signedIn": current_user() is not None,
        "maxPhotos": cfg["PHOTOS_PER_CONTRIBUTION"],
        "loginUrl": url_for("web.login"),
    }
    return render_template(
        "map.html", map_config=map_config, categories=categories,
        arrondissements=services.arrondissements(db.session),
    )


@bp.get("/c/<id:contribution_id>")
def contribution(contribution_id: int):
    """A contribution's shareable page: photos, map, status, votes, comments. A hidden one
    only for moderators, who review it (under a banner); a 404 for everyone else."""
    user = current_user()
    c = get_visible(db.session, None, contribution_id, reader=user)
    if c is None:
        return render_template("not_found.html"), 404
    page = services.contribution_page(db.session, c, user, current_lang())
    if c.hidden:  # its photos are served while it is public only (app.contributions.media)
        page["photos"] = []
    return render_template("contribution.html", **page, notice=session.pop("flash", None))


@bp.route("/login", methods=["GET", "POST"])
def login():
    errors, email = {}, ""
    registered = session.pop("registered_email", None)
    if registered:
        email = registered
    if request.method == "POST":
        email = request.form.get("email", "")
        form, errors = page_form(Credentials)
        if form is not None:
            try:
                limiter.check("sign_in", requester(None))
                user = guarded_sign_in(form.email, lambda: accounts.authenticate(
                    db.session, form.email, form.password, second_step=False))
            except AppError as exc:
                errors = {"form": message(exc.code, exc.params, current_lang())}
            else:
                return complete_sign_in(user, safe_next())
    return render_template("login.html", errors=errors, email=email, next=safe_next(""),
                           registered=bool(registered), notice=session.pop("flash", None))


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    """The same answer whether or not the e-mail has an account (app.accounts.services.
    register): the sign-in page, with a notice and the address filled in."""
    errors, values = {}, {}
    if request.method == "POST":
        values = request.form.to_dict()
        form, errors = page_form(RegisterInput)
        if form is not None:
            try:
                limiter.check("sign_up", requester(None))
            except AppError as exc:
                errors = {"form": message(exc.code, exc.params, current_lang())}
            else:
                public_url, verify_ttl, _ = link_settings(current_app.config)
                accounts.register(db.session, form.email, form.password, form.display_name,
                                  public_url, verify_ttl)
                session["registered_email"] = form.email
                return redirect(url_for("web.login", next=safe_next("") or None))
    return render_template("signup.html", errors=errors, values=values, next=safe_next(""),
                           min_password=accounts.MIN_PASSWORD)


@bp.post("/logout")
def logout():
    """Sign out: this session ends on the server; with `everywhere`, every session and
    token of the account."""
    user = current_user()
    if user is not None and request.form.get("everywhere"):
        accounts.revoke_all(db.session, user)
    elif session.get(SESSION_TOKEN_KEY):
        accounts.revoke_token(db.session, session[SESSION_TOKEN_KEY])
    fresh_session()
    return redirect(safe_next())


@bp.get("/me/contributions")
def my_contributions():
    user = signed_in_or_login()
    items = services.my_contributions(db.session, user, current_lang())
    return render_template("my_contributions.html", items=items)


@bp.get("/lang/<code>")
def set_language(code: str):
    """The language switch: remembered in the session, then back to the page."""
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(safe_next())
