"""Pages of e-petitions: the list, a petition (sign, withdraw, the city's answer), drafting,
the moderators' queue of petitions and the admins' settings. The same services as the API
(app.petitions.services); forms are read with the API's declared models."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import (
    Blueprint,
    abort,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from pydantic import ValidationError

from app import policy
from app.accounts.auth import current_user
from app.db import db
from app.errors import AppError
from app.messages import message
from app.petitions import services
from app.petitions.models import PUBLIC_STATUSES, STATUSES
from app.petitions.schemas import (
    AnswerInput,
    ListQuery,
    ModerationInput,
    PetitionInput,
    PetitionPatch,
    SettingsInput,
    SignatureInput,
)
from app.web.forms import page_form, refusal_errors, signed_in_or_login
from app.web.i18n import current_lang
from app.web.security import protect_forms
from app.web.services import arrondissements

bp = Blueprint("petition_pages", __name__)
protect_forms(bp)

# feminine in French ("une pétition ouverte")
STATUS_LABELS = {
    "draft": _lp("petition", "Draft"),
    "awaiting_moderation": _lp("petition", "Awaiting moderation"),
    "open": _lp("petition", "Open for signatures"),
    "closed": _lp("petition", "Closed"),
    "referred": _lp("petition", "Referred to the Conseil de Paris"),
    "answered": _lp("petition", "Answered by the city"),
    "refused": _lp("petition", "Not admissible"),
}
GOALS = {"answer": _l("a written answer from the city"), "referral": _l("the Conseil de Paris")}
NAMES_ON_PAGE = 20


@bp.context_processor
def labels():
    return {"petition_status": lambda s: str(STATUS_LABELS.get(s, s)), "goal_label": lambda k: str(GOALS[k]),
            "petition_statuses": STATUSES, "public_statuses": PUBLIC_STATUSES}


def _done(code: str, endpoint: str, **args):
    session["flash"] = message(code, None, current_lang())
    return redirect(url_for(endpoint, **args))


def _forbidden():
    abort(make_response(render_template("petitions/forbidden.html"), 403))


def _readable(petition_id: int):
    """The petition for the page, or the not-found page (a draft: its author and moderators)."""
    user = current_user()
    try:
        return services.readable(db.session, petition_id, user), user
    except AppError as exc:
        if exc.status == 401:
            abort(redirect(url_for("web.login", next=request.path)))
        abort(make_response(render_template("petitions/not_found.html"), 404))


@bp.get("/petitions")
def list_page():
    """Published petitions, with filters; a signed-in person's own drafts with `mine`."""
    user = current_user()
    args = {k: v for k, v in request.args.items() if v and k in ListQuery.model_fields and k != "lang"}
    try:
        query = ListQuery.model_validate(args)
    except ValidationError:
        query = ListQuery()
    if query.mine and user is None:
        return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
    rows, cursor = services.list_petitions(
        db.session, user, status=query.status, arrondissement=query.arrondissement, q=query.q,
        mine=query.mine, limit=query.limit, cursor=query.cursor)
    more = url_for("petition_pages.list_page", **{**args, "cursor": cursor}) if cursor else None
    return render_template("petitions/list.html", rows=[services.summary(p) for p in rows], query=query,
                           more=more, arrondissements=arrondissements(db.session),
                           referral_threshold=services.current_settings(db.session).referral_threshold,
                           notice=session.pop("flash", None))


@bp.route("/petitions/new", methods=["GET", "POST"])
def new():
    """Draft a petition (verified accounts; the others are told why they cannot)."""
    user = signed_in_or_login()
    allowed = policy.allows(db.session, user, "petition.create")
    values, errors = request.form.to_dict(), {}
    if request.method == "POST" and allowed:
        form, errors = page_form(PetitionInput, _place(values))
        if form is not None:
            try:
                petition = services.create(db.session, user, form.values())
                return _after_saving(petition, user)
            except AppError as exc:
                errors = refusal_errors(exc)
    return _form_page(values, errors, allowed=allowed)


@bp.route("/petitions/<id:petition_id>/edit", methods=["GET", "POST"])
def edit(petition_id: int):
    """The author edits a draft, and may submit it."""
    petition, user = _readable(petition_id)
    if user is None or not policy.allows(db.session, user, "petition.edit", petition) or petition.status != "draft":
        _forbidden()
    values = request.form.to_dict() if request.method == "POST" else {
        "title": petition.title, "body": petition.body, "addressee": petition.addressee,
        "arrondissement": str(petition.arrondissement_id or "")}
    errors = {}
    if request.method == "POST":
        data = _place(values)
        if petition.geom is not None and data["arrondissement"] == petition.arrondissement_id:
            del data["arrondissement"]  # unchanged: the place on the map stays
        form, errors = page_form(PetitionPatch, data)
        if form is not None:
            try:
                services.update(db.session, petition, user, form.changes())
                return _after_saving(petition, user)
            except AppError as exc:
                errors = refusal_errors(exc)
    return _form_page(values, errors, petition=petition, allowed=True)


def _place(values: dict) -> dict:
    """The form's arrondissement (a select: "" for none) as the API's member; a page's
    petition is placed by arrondissement, never by geometry (it keeps any it has)."""
    data = {k: v for k, v in values.items() if k in ("title", "body", "addressee")}
    data["arrondissement"] = int(values["arrondissement"]) if values.get("arrondissement", "").isdigit() else None
    return data


def _after_saving(petition, user):
    if request.form.get("action") == "submit":
        services.submit(db.session, petition, user)
        return _done("petition_submitted", "petition_pages.petition_page", petition_id=petition.id)
    return _done("petition_saved", "petition_pages.petition_page", petition_id=petition.id)


def _form_page(values: dict, errors: dict, *, allowed: bool, petition=None):
    return render_template("petitions/form.html", values=values, errors=errors, petition=petition,
                           allowed=allowed, arrondissements=arrondissements(db.session),
                           limits={"title": services.TITLE_MAX, "body": services.BODY_MAX,
                                   "addressee": services.ADDRESSEE_MAX, "title_min": services.TITLE_MIN})


@bp.get("/petitions/<id:petition_id>")
def petition_page(petition_id: int):
    """A petition: its text, progress to the next threshold, signing, the counts per
    arrondissement, the public names, the city's answer and the history."""
    petition, user = _readable(petition_id)
    p = services.detail(db.session, petition, user)
    history = [{**e, "at_dt": datetime.fromisoformat(e["at"])} for e in p["history"]]
    # the last day of signing: closes_at is the midnight that ends it
    last_day = petition.closes_at - timedelta(seconds=1) if petition.closes_at else None
    return render_template(
        "petitions/petition.html", p=p, petition=petition, history=history, last_day=last_day,
        center=services.center(petition),
        signatures=services.signatures(db.session, petition, user, NAMES_ON_PAGE, None),
        arrondissements=arrondissements(db.session), user_may=_may(petition, user),
        notice=session.pop("flash", None), errors=session.pop("petition_errors", {}))


def _may(petition, user) -> dict:
    if user is None:
        return {}
    allows = policy.allows
    return {"sign": allows(db.session, user, "petition.sign"),
            "verify": not allows(db.session, user, "petition.sign") and user.email_verified_at is None,
            "edit": allows(db.session, user, "petition.edit", petition) and petition.status == "draft",
            "moderate": allows(db.session, user, "petition.moderate", petition),
            "answer": allows(db.session, user, "petition.answer", petition)}


def _act(petition_id: int, run, done: str):
    """A form posted from a petition's page: the service's refusal shown there."""
    user = signed_in_or_login()
    try:
        run(user)
    except AppError as exc:
        session["petition_errors"] = refusal_errors(exc)
        return redirect(url_for("petition_pages.petition_page", petition_id=petition_id))
    return _done(done, "petition_pages.petition_page", petition_id=petition_id)


@bp.post("/petitions/<id:petition_id>/sign")
def sign(petition_id: int):
    data = {"public_name": request.form.get("public_name") == "on",
            "arrondissement": int(request.form["arrondissement"])
            if request.form.get("arrondissement", "").isdigit() else None}
    form, errors = page_form(SignatureInput, data)
    if form is None:
        session["petition_errors"] = errors
        return redirect(url_for("petition_pages.petition_page", petition_id=petition_id))
    return _act(petition_id, lambda user: services.sign(db.session, user, petition_id, form.public_name,
                                                        form.arrondissement), "signed")


@bp.post("/petitions/<id:petition_id>/unsign")
def unsign(petition_id: int):
    return _act(petition_id, lambda user: services.unsign(db.session, user, petition_id), "unsigned")


@bp.post("/petitions/<id:petition_id>/submit")
def submit(petition_id: int):
    def run(user):
        services.submit(db.session, services.readable(db.session, petition_id, user, lock=True), user)
    return _act(petition_id, run, "petition_submitted")


@bp.post("/petitions/<id:petition_id>/answer")
def answer(petition_id: int):
    form, errors = page_form(AnswerInput)
    if form is None:
        session["petition_errors"] = errors
        return redirect(url_for("petition_pages.petition_page", petition_id=petition_id))

    def run(user):
        services.answer(db.session, services.readable(db.session, petition_id, user, lock=True), user,
                        form.answer)
    return _act(petition_id, run, "petition_answered")


# ---- moderation -------------------------------------------------------------------------------

@bp.get("/moderation/petitions")
def moderation():
    """Petitions awaiting moderation, oldest first: admit or refuse each."""
    user = signed_in_or_login()
    if not policy.allows(db.session, user, "petition.moderate"):
        _forbidden()
    rows, _ = services.list_petitions(db.session, user, status="awaiting_moderation", limit=100)
    items = [services.detail(db.session, p, user) for p in reversed(rows)]
    return render_template("petitions/moderation.html", items=items, notice=session.pop("flash", None),
                           errors=session.pop("petition_errors", {}))


@bp.post("/moderation/petitions/<id:petition_id>")
def moderate(petition_id: int):
    user = signed_in_or_login()
    data = {k: v for k, v in request.form.items() if k in ("decision", "reason") and v.strip()}
    form, errors = page_form(ModerationInput, data)
    if form is not None:
        try:
            petition = services.readable(db.session, petition_id, user, lock=True)
            services.moderate(db.session, petition, user, form.decision, form.reason)
        except AppError as exc:
            errors = refusal_errors(exc)
    if errors:
        session["petition_errors"] = {str(petition_id): errors}
    else:
        session["flash"] = message("petition_moderated", None, current_lang())
    back = request.form.get("back")
    if back == "petition":
        return redirect(url_for("petition_pages.petition_page", petition_id=petition_id))
    return redirect(url_for("petition_pages.moderation"))


# ---- administration ---------------------------------------------------------------------------

@bp.route("/admin/petitions", methods=["GET", "POST"])
def settings():
    """The period and thresholds of petitions opened from now on (admins)."""
    user = signed_in_or_login()
    if not policy.allows(db.session, user, "admin.manage"):
        _forbidden()
    current = services.settings_out(services.current_settings(db.session))
    values, errors = {k: "" if v is None else str(v) for k, v in current.items()}, {}
    if request.method == "POST":
        values = request.form.to_dict()
        data = {k: int(v) if v.strip().isdigit() else (None if not v.strip() else v)
                for k, v in values.items() if k in SettingsInput.model_fields}
        form, errors = page_form(SettingsInput, data)
        if form is not None:
            try:
                services.update_settings(db.session, user, form.model_dump())
                return _done("petition_settings_saved", "petition_pages.settings")
            except AppError as exc:
                errors = refusal_errors(exc)
    return render_template("petitions/settings.html", values=values, errors=errors,
                           notice=session.pop("flash", None))
