"""Pages for residents: the map, a contribution, sign-up / sign-in / sign-out, my contributions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select

from app import policy
from app.accounts import services as accounts
from app.accounts.auth import SESSION_TOKEN_KEY, current_user
from app.accounts.schemas import Credentials, RegisterInput
from app.api.types import Cursor, encode_cursor
from app.config import link_settings
from app.contributions import services as services_contributions
from app.contributions.schemas import FEATURE_PATCHES
from app.contributions.services import get_visible
from app.db import db
from app.errors import AppError
from app.field import services as field_services
from app.field import workflow
from app.field.models import FixFeedback
from app.field.schemas import FeedbackInput
from app.map.schemas import RECENT_DAYS
from app.messages import message
from app.ratelimit import guarded_sign_in, limiter, requester
from app.web import services
from app.web.forms import (
    complete_sign_in,
    fresh_session,
    page_form,
    refusal_errors,
    safe_next,
    signed_in_or_login,
)
from app.web.i18n import LANGUAGES, current_lang
from app.web.security import protect_forms

bp = Blueprint("web", __name__)

protect_forms(bp)


# what the accessibility statement says was checked, and when (update both with a new audit)
STATEMENT_DATE = "2026-11-26"
PACKAGE_JSON = Path(__file__).resolve().parents[2] / "package.json"  # the axe-core the tests run
TESTED_PAGES = ("/", "/accessibilite", "/c/<id>", "/me/contributions", "/account", "/agent", "/planner", "/consultations",
                "/petitions", "/budget", "/missions", "/organisations", "/moderation", "/admin",
                "/ogc", "/open-data/", "/api/v1/docs")


@bp.get("/accessibilite")
def accessibility():
    """The accessibility statement (déclaration d'accessibilité, article 47 of the law of 11
    February 2005 and its decree of 2019): the conformity status, what was tested and how, what
    is not accessible yet, how to report a barrier, and the recourse."""
    from datetime import date

    from flask_babel import format_date

    return render_template("accessibility.html", date=format_date(date.fromisoformat(STATEMENT_DATE), "long"),
                           axe=json.loads(PACKAGE_JSON.read_text())["dependencies"]["axe-core"],
                           pages=TESTED_PAGES,
                           contact=current_app.config["ACCESSIBILITY_CONTACT"])


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
        arrondissements=services.arrondissements(db.session), recent_days=RECENT_DAYS,
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
    for event in page["history"]:  # a resident's "still there" is a code, shown as its label
        if event["public_note"] in FEEDBACK_LABELS:
            event["feedback_label"] = str(FEEDBACK_LABELS[event.pop("public_note")])
            event["public_note"] = None
    return render_template("contribution.html", **page, notice=session.pop("flash", None),
                           feedback=feedback_state(c, user),
                           feedback_notice=session.pop("feedback_notice", None),
                           share=share_preview(c, page["photos"]),
                           can_edit=user is not None and c.author_id == user.id
                           and policy.allows(db.session, user, "contribution.edit", c))


FEEDBACK_LABELS = {"fixed": _l("Fixed"), "still_there": _l("Still there")}


def feedback_state(c, user) -> dict | None:
    """Whether `user` may say "fixed" or "still there" about this resolved report now (the
    reporter and early followers, once per resolution, within the window:
    app.field.services.feedback decides), or what they said since its resolution."""
    if (user is None or c.kind != "report" or c.hidden or c.status != "resolved"
            or c.closed_at is None
            or datetime.now(UTC) - c.closed_at > timedelta(days=workflow.REOPEN_WINDOW_DAYS)
            or not policy.allows(db.session, user, "report.feedback", c)):
        return None
    given = db.session.scalar(select(FixFeedback.value).where(
        FixFeedback.contribution_id == c.id, FixFeedback.user_id == user.id,
        FixFeedback.created_at >= c.closed_at).limit(1))
    return {"given": given}


def share_preview(c, photos: list[dict]) -> dict:
    """What a shared link's preview shows (OpenGraph, Twitter card): absolute URLs."""
    description = " ".join((c.description or "").split())
    if len(description) > 200:
        description = description[:199].rstrip() + "…"
    image = (url_for("contributions.photo", name=photos[0]["url"].rsplit("/", 1)[1], _external=True)
             if photos else url_for("static", filename="img/share-card.png", _external=True))  # 1200×630: previews show no SVG
    return {"title": c.title, "description": description or c.title,
            "url": url_for("web.contribution", contribution_id=c.id, _external=True),
            "image": image, "large": bool(photos)}


@bp.post("/c/<id:contribution_id>/feedback")
def contribution_feedback(contribution_id: int):
    """The buttons "fixed" / "still there" of a resolved report's page, without JavaScript:
    the API's model and service (app.field.services.feedback), then back to the page with
    what happened."""
    user = signed_in_or_login()
    report = get_visible(db.session, "report", contribution_id, lock=True)
    if report is None:
        return render_template("not_found.html"), 404
    form, errors = page_form(FeedbackInput)
    if form is None:
        session["feedback_notice"] = " ".join(errors.values())
    else:
        try:
            field_services.feedback(db.session, report, user, form.value)
        except AppError as exc:
            db.abandon()
            session["feedback_notice"] = " ".join(refusal_errors(exc).values())
        else:
            session["feedback_notice"] = str(
                _("Thank you: you confirmed the fix.") if form.value == "fixed" else
                _("Thank you: the report is reopened and goes back to the city's services."))
    return redirect(url_for("web.contribution", contribution_id=contribution_id) + "#feedback")


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
    """What I published (to edit or withdraw), supported, commented on and follow: one tab each."""
    user = signed_in_or_login()
    tab = request.args.get("tab", "published")
    if tab not in services.MY_TABS:
        tab = "published"
    page = services.my_contributions(db.session, user, current_lang(), tab, _cursor_or_none(request.args.get("before")))
    next_url = url_for("web.my_contributions", tab=tab, before=encode_cursor(*page["next"])) if page["next"] else None
    return render_template("my_contributions.html", **page, tabs=MY_TAB_LABELS, next_url=next_url,
                           notice=session.pop("flash", None))


def _cursor_or_none(value: str | None):
    """A page link's cursor, or None (the first page) when absent or not one of ours."""
    if value is None:
        return None
    try:
        return TypeAdapter(Cursor).validate_python(value)
    except ValidationError:
        return None


MY_TAB_LABELS = {"published": _lp("my contributions tab", "Published"),
                 "supported": _lp("my contributions tab", "Supported"),
                 "commented": _lp("my contributions tab", "Commented"),
                 "followed": _lp("my contributions tab", "Followed")}


def _mine_or_404(contribution_id: int, user, action: str, *, lock: bool = False):
    """A contribution this person may edit or withdraw (the policy decides), else None."""
    c = get_visible(db.session, None, contribution_id, lock=lock)
    if c is None or not policy.allows(db.session, user, action, c):
        return None
    return c


@bp.route("/c/<id:contribution_id>/edit", methods=["GET", "POST"])
def edit_contribution(contribution_id: int):
    """Its title and description, with the API's own model and service (a move or another
    category: from the map's form, which shows the address and duplicates)."""
    user = signed_in_or_login()
    c = _mine_or_404(contribution_id, user, "contribution.edit", lock=request.method == "POST")
    if c is None:
        return render_template("not_found.html"), 404
    errors: dict[str, str] = {}
    values = {"title": c.title, "description": c.description}
    if request.method == "POST":
        values = {name: request.form.get(name, "") for name in values}
        body, errors = page_form(FEATURE_PATCHES[c.kind], {"type": "Feature", "properties": values})
        if body is not None:
            try:
                services_contributions.update(db.session, c, user, body.values())
            except AppError as exc:
                db.abandon()
                errors = refusal_errors(exc)
            else:
                session["flash"] = str(_("Your changes are published."))
                return redirect(url_for("web.contribution", contribution_id=c.id))
    return render_template("contribution_edit.html", c=c, values=values, errors=errors)


@bp.route("/c/<id:contribution_id>/withdraw", methods=["GET", "POST"])
def withdraw_contribution(contribution_id: int):
    """Asks, then takes it off the map (never deleted: the city keeps its history)."""
    user = signed_in_or_login()
    c = _mine_or_404(contribution_id, user, "contribution.withdraw",
                     lock=request.method == "POST")
    if c is None:
        return render_template("not_found.html"), 404
    if request.method == "POST":
        services_contributions.withdraw(db.session, c, user)
        session["flash"] = str(_("“%(title)s” is withdrawn: it no longer appears on the map.",
                                 title=c.title))
        return redirect(url_for("web.my_contributions"))
    return render_template("contribution_withdraw.html", c=c)


@bp.get("/lang/<code>")
def set_language(code: str):
    """The language switch: remembered in the session, then back to the page."""
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(safe_next())
