"""Pages of moderation: flag something (anyone signed in), the moderators' queue with its
decisions and edits, photo redaction, and the audit log. Same services as the API
(app.moderation.services, app.moderation.redaction)."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from pydantic import ValidationError

from app.api.contract import field_errors as contract_field_errors
from app.contributions.media import remove_unless_committed
from app.contributions.photos import paths as photo_paths
from app.db import db
from app.errors import AppError
from app.messages import message
from app.moderation import redaction, services
from app.moderation.models import REASONS, SUBJECT_TYPES
from app.moderation.schemas import DecisionInput, EditInput, FlagInput, QueueQuery, RedactionInput
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
    photos = redaction.photos_of(db.session, [i["subject_id"] for i in items if i["subject_type"] == "contribution"])
    return render_template("moderation/queue.html", items=items, query=query, reasons=REASONS, photos=photos,
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


# ---- photo redaction ----------------------------------------------------------------------------

# the page's inputs (percent of the photo) for the API's region members (fractions)
REGION_INPUTS = {"x": "x", "y": "y", "w": "width", "h": "height"}


def _sha256_or_404(value: str) -> str:
    if len(value) != 64 or value.strip("0123456789abcdef"):
        abort(404)
    return value


@bp.route("/moderation/photos/<id:contribution_id>/<sha256>", methods=["GET", "POST"])
def redact_photo(contribution_id: int, sha256: str):
    """Blur a region of a photo: drawn on it (static/js/redact.js) or typed in percent."""
    user = _moderator()
    photo = redaction.photo_to_redact(db.session, user, contribution_id, _sha256_or_404(sha256))
    values, errors = request.form.to_dict(), {}
    if request.method == "POST":
        form, errors = _redaction_form(contribution_id, sha256, values)
        if form is not None:
            try:
                written = redaction.redact_photo(db.session, user, contribution_id, sha256, form.regions,
                                                 form.reason, current_app.config["MEDIA_DIR"])[1]
            except AppError as exc:
                errors = _percent_errors(exc.errors) or refusal_errors(exc)
            else:
                remove_unless_committed(written)
                session["flash"] = _("The region is blurred; the original photo is kept for staff.")
                return redirect(url_for("moderation_pages.queue"))
    return render_template("moderation/redact.html", photo=photo, contribution_id=contribution_id,
                           values=values, errors=errors)


@bp.get("/moderation/photos/<id:contribution_id>/<sha256>/photo.jpg")
def photo_to_redact(contribution_id: int, sha256: str):
    """The photo being redacted, for moderators only (a hidden contribution's is not public)."""
    user = _moderator()
    redaction.photo_to_redact(db.session, user, contribution_id, _sha256_or_404(sha256))
    path, _thumb = photo_paths(current_app.config["MEDIA_DIR"], sha256)
    return Response(path.read_bytes(), mimetype="image/jpeg", headers={"Cache-Control": "private, no-store"})


def _redaction_form(contribution_id: int, sha256: str, values: dict):
    """The page's one region, in percent, read with the API's model (fractions)."""
    region = {member: _fraction(values[name]) for member, name in REGION_INPUTS.items()
              if values.get(name, "").strip()}
    data = {"contribution_id": contribution_id, "sha256": sha256, "regions": [region],
            "reason": values.get("reason", "")}
    try:
        return RedactionInput.model_validate(data), {}
    except ValidationError as exc:
        return None, _percent_errors(contract_field_errors(exc))


def _fraction(value: str):
    try:
        return float(value.strip().replace(",", ".")) / 100  # 12,5 as well as 12.5
    except ValueError:
        return value  # the model says what is wrong with it


def _percent_errors(errors) -> dict[str, str]:
    """Field errors on regions[0].x… as errors of the page's inputs, their bounds in percent."""
    out: dict[str, str] = {}
    for e in errors:
        in_region = e.field.startswith("regions[")
        member = e.field.rpartition(".")[2] if in_region else e.field
        name = REGION_INPUTS.get(member, member if member == "reason" else "form")
        params = {k: f"{v * 100:g}" if in_region and isinstance(v, int | float) else v
                  for k, v in e.params.items()}
        out.setdefault(name, message(e.message_key, params, current_lang()))
    return out
