"""Pages of moderation: flag something (anyone signed in), the moderators' queue with its
decisions and edits, and the audit log. Same services as the API (app.moderation.services)."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from pydantic import ValidationError

from app.db import db
from app.errors import AppError
from app.messages import message
from app.moderation import services
from app.moderation.models import REASONS, SUBJECT_TYPES
from app.moderation.schemas import DecisionInput, EditInput, FlagInput, QueueQuery
from app.web.forms import page_form, refusal_errors, safe_next, signed_in_or_login
from app.web.i18n import current_lang
from app.web.security import protect_forms

bp = Blueprint("moderation_pages", __name__)


protect_forms(bp)


def _moderator():
    user = signed_in_or_login()
    if not user.has_role("moderator"):
        abort(make_response(render_template("agent/forbidden.html"), 403))
    return user


@bp.route("/flag", methods=["GET", "POST"])
def flag():
    """Flag a contribution, a comment or a profile: a reason, and a note for "other"."""
    user = signed_in_or_login()
    values = request.values.to_dict()
    if values.get("subject_type") not in SUBJECT_TYPES or not values.get("subject_id", "").isdigit():
        abort(404)
    errors = {}
    if request.method == "POST":
        form, errors = page_form(FlagInput, {k: v for k, v in values.items() if v})
        if form is not None:
            try:
                services.flag(db.session, user, form.subject_type, form.subject_id, form.reason, form.note,
                              current_app.config["MODERATION_HIDE_AT"])
            except AppError as exc:
                errors = refusal_errors(exc)
            else:
                session["flash"] = message("flagged", None, current_lang())
                return redirect(safe_next())
    return render_template("moderation/flag.html", values=values, errors=errors, reasons=REASONS,
                           next=safe_next(""))


@bp.get("/moderation")
def queue():
    user = _moderator()
    args = {k: v for k, v in request.args.items() if v}
    try:
        query = QueueQuery.model_validate(args)
    except ValidationError:
        query = QueueQuery()
    items = services.queue(db.session, user, query.state, query.subject_type, query.reason, query.limit)
    return render_template("moderation/queue.html", items=items, query=query, reasons=REASONS,
                           subject_types=SUBJECT_TYPES, notice=session.pop("flash", None),
                           errors=session.pop("moderation_errors", {}))


def _back():
    return redirect(url_for("moderation_pages.queue", **{k: v for k, v in request.args.items() if v}))


@bp.post("/moderation/decide")
def decide():
    user = _moderator()
    form, errors = page_form(DecisionInput, request.form.to_dict())
    if form is not None:
        try:
            services.decide(db.session, user, form.subject_type, form.subject_id, form.action, form.reason)
        except AppError as exc:
            errors = refusal_errors(exc)
    _report(errors, request.form.get("subject_type"), request.form.get("subject_id"), "decided")
    return _back()


@bp.post("/moderation/edit")
def edit():
    user = _moderator()
    form, errors = page_form(EditInput, {k: v for k, v in request.form.items() if v != ""})
    if form is not None:
        changes = form.model_dump(include={"title", "description", "body", "display_name"}, exclude_none=True)
        try:
            services.edit(db.session, user, form.subject_type, form.subject_id, changes, form.reason)
        except AppError as exc:
            errors = refusal_errors(exc)
    _report(errors, request.form.get("subject_type"), request.form.get("subject_id"), "edited")
    return _back()


def _report(errors: dict, subject_type, subject_id, done: str) -> None:
    if errors:
        session["moderation_errors"] = {f"{subject_type}-{subject_id}": errors}
    else:
        session["flash"] = message(done, None, current_lang())


@bp.get("/moderation/audit")
def audit():
    user = _moderator()
    entries = services.audit_entries(db.session, user, limit=200)
    return render_template("moderation/audit.html", entries=entries)
