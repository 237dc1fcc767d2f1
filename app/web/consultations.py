"""Pages of consultations (the list, a consultation with its map and form, its synthesis), the
planners' form to open one (also from a hotspot) and to answer a proposal. Same services as
the API (app.consultations)."""

from __future__ import annotations

import json
from datetime import date, timedelta

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
from flask_babel import gettext as _

from app import policy
from app.accounts.auth import current_user
from app.api.types import exists_in_columns
from app.consultations import answers, services
from app.consultations.models import GEOMETRY_TYPES, PHASES
from app.consultations.schemas import ConsultationInput, ProposalAnswer
from app.consultations.views import as_json
from app.contributions.services import get_visible
from app.db import db
from app.errors import AppError, NotFound
from app.messages import message
from app.web import services as web_services
from app.web.forms import page_form, refusal_errors, signed_in_or_login
from app.web.i18n import current_lang
from app.web.security import protect_forms

bp = Blueprint("consultation_pages", __name__)
protect_forms(bp)


def phase_names() -> dict[str, str]:
    return {"draft": _("Draft"), "upcoming": _("Upcoming"), "ideas": _("Ideas"), "votes": _("Votes"),
            "synthesis": _("Synthesis"), "answers": _("The city's answers"), "ended": _("Ended")}


def _planner():
    user = signed_in_or_login()
    if not policy.allows(db.session, user, "consultation.manage"):
        abort(make_response(render_template("agent/forbidden.html"), 403))
    return user


def _load(consultation_id: int):
    try:
        return services.get(db.session, consultation_id, current_user())
    except NotFound:
        abort(make_response(render_template("not_found.html"), 404))


@bp.get("/consultations")
def index():
    items = [as_json(c) for c in services.listing(db.session, current_user(), None, 100)]
    return render_template("consultations/index.html", items=items, phases=phase_names(),
                           can_manage=policy.allows(db.session, current_user(), "consultation.manage"))


@bp.get("/consultations/<id:consultation_id>")
def page(consultation_id: int):
    consultation = _load(consultation_id)
    about = as_json(consultation, area=True)
    proposals = services.proposal_list(db.session, consultation.id)
    lang = current_lang()
    config = {**web_services.basemap(), "consultation": {k: about[k] for k in (
        "id", "area", "bbox", "themes", "geometry_types", "vote_rule", "can")},
        "categories": {"proposal": web_services.top_categories(db.session, "proposal", lang)},
        "signedIn": current_user() is not None, "maxPhotos": 3, "loginUrl": url_for("web.login")}
    return render_template("consultations/page.html", k=about, proposals=proposals, config=config,
                           phases=phase_names(), notice=session.pop("flash", None),
                           can_manage=policy.allows(db.session, current_user(), "consultation.manage",
                                                    consultation))


@bp.post("/consultations/<id:consultation_id>/<any(publish, close):action>")
def act(consultation_id: int, action: str):
    user = _planner()
    consultation = services.get(db.session, consultation_id, user, lock=True)
    try:
        getattr(services, action)(db.session, user, consultation)
    except AppError as exc:
        session["flash"] = message(exc.code, exc.params, current_lang())
    else:
        session["flash"] = _("Published: residents can take part.") if action == "publish" else \
            _("Closed: the synthesis is open.")
    return redirect(url_for(".synthesis" if action == "close" else ".page", consultation_id=consultation_id))


@bp.get("/consultations/<id:consultation_id>/synthesis")
def synthesis(consultation_id: int):
    consultation = _load(consultation_id)
    about = as_json(consultation, area=True)
    closed = about["stage"] in ("synthesis", "answers", "ended")
    if not closed and not policy.allows(db.session, current_user(), "consultation.manage", consultation):
        return render_template("consultations/synthesis.html", k=about, summary=None, phases=phase_names(),
                               notice=session.pop("flash", None))
    summary = services.synthesis(db.session, consultation)
    arrondissements = {a["code"]: a["name"] for a in web_services.arrondissements(db.session)}
    from app.areas.services import category_index

    index = category_index(db.session)
    labels = {c.code: (c.label_en if current_lang() == "en" else c.label_fr) for c in index.by_id.values()}
    config = {**web_services.basemap(), "area": about["area"], "bbox": about["bbox"], "heat": summary["heat"]}
    return render_template("consultations/synthesis.html", k=about, summary=summary, config=config,
                           arrondissements=arrondissements, labels=labels, phases=phase_names(),
                           notice=session.pop("flash", None))


def _form_body(form: dict) -> dict:
    """The planner's form as the API's body (one declaration validates both)."""
    phases = []
    start, end = form.get("ideas_start"), form.get("ideas_end")
    phases.append({"phase": "ideas", "starts_on": start, "ends_on": end})
    previous = end
    for name in ("votes", "synthesis", "answers"):
        last = form.get(f"{name}_end")
        if last and previous:
            try:
                first = (date.fromisoformat(previous) + timedelta(days=1)).isoformat()
            except ValueError:
                first = previous
            phases.append({"phase": name, "starts_on": first, "ends_on": last})
            previous = last
    if form.get("polygon"):
        try:
            area = {"polygon": json.loads(form["polygon"])}
        except ValueError:
            area = {"polygon": None}
    else:
        area = {"arrondissements": [int(a) for a in form.getlist("arrondissements") if a.isdigit()] or None}
    return {"title": form.get("title", ""), "question": form.get("question", ""),
            "description": form.get("description", ""), "area": area, "phases": phases,
            "themes": form.getlist("themes") or None,
            "geometry_types": form.getlist("geometry_types") or list(GEOMETRY_TYPES),
            "vote_rule": form.get("vote_rule", "for_against")}


@bp.route("/consultations/new", methods=["GET", "POST"])
def new():
    """Open a consultation: on arrondissements, or on a hotspot's outline (`polygon`)."""
    user = _planner()
    errors: dict[str, str] = {}
    values = request.values
    if request.method == "POST":
        form, errors = page_form(ConsultationInput, _form_body(request.form))
        if form is not None:
            try:
                consultation = services.create(db.session, user, form.values(), form.area.value(),
                                               form.phase_days())
                if request.form.get("publish"):
                    services.publish(db.session, user, consultation)
            except AppError as exc:
                errors = refusal_errors(exc)
            else:
                session["flash"] = _("Consultation saved.")
                return redirect(url_for(".page", consultation_id=consultation.id))
    lang = current_lang()
    return render_template(
        "consultations/new.html", errors=errors, values=values, phases=phase_names(),
        arrondissements=web_services.arrondissements(db.session),
        themes=web_services.top_categories(db.session, "proposal", lang), phase_order=PHASES,
        geometry_types=GEOMETRY_TYPES, today=date.today().isoformat(),
        chosen=[int(a) for a in values.getlist("arrondissements") if a.isdigit()])


@bp.post("/c/<id:contribution_id>/answer")
def answer(contribution_id: int):
    """A planner answers a proposal from its page."""
    user = signed_in_or_login()
    proposal = get_visible(db.session, "proposal", contribution_id, lock=True)
    if proposal is None:
        abort(404)
    form, errors = page_form(ProposalAnswer)
    if form is None:
        session["flash"] = " ".join(errors.values())
    else:
        try:
            answers.answer(db.session, proposal, user, form.status, form.public_note)
        except AppError as exc:
            session["flash"] = " ".join(refusal_errors(exc).values())
        else:
            session["flash"] = _("Answer published; the author and followers are told.")
    return redirect(url_for("web.contribution", contribution_id=contribution_id) + "#answers")


@bp.app_template_global()
def consultation_link(consultation_id: int | None):
    if consultation_id is None or not exists_in_columns(consultation_id):
        return None
    title = services.published_title(db.session, consultation_id)
    return {"url": url_for("consultation_pages.page", consultation_id=consultation_id),
            "title": title} if title else None


@bp.route("/proposals/new", methods=["GET", "POST"])
def new_proposal():
    """A planner turns a hotspot into a proposal: its outline, linked to its reports."""
    from pydantic import ValidationError

    from app.api.contract import field_errors as contract_field_errors
    from app.contributions import services as contributions
    from app.contributions.schemas import FEATURE_INPUTS
    from app.web.forms import field_errors

    user = _planner()
    values = request.values
    report_ids = [int(r) for r in values.get("reports", "").split(",") if r.strip().isdigit()][:200]
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            geometry = json.loads(values.get("polygon") or "null")
        except ValueError:
            geometry = None
        data = {"type": "Feature", "geometry": geometry, "properties": {
            "title": values.get("title", ""), "description": values.get("description", ""),
            "category": values.get("category", ""), "reports": report_ids or None}}
        try:
            body = FEATURE_INPUTS["proposal"].model_validate(data)
        except ValidationError as exc:
            errors = field_errors(contract_field_errors(exc))
        else:
            try:
                created, _written = contributions.create(
                    db.session, "proposal", user, body.values(), [], None, 0, 0,
                    geometry=body.geometry, report_ids=body.report_ids())
            except AppError as exc:
                errors = refusal_errors(exc)
            else:
                session["flash"] = _("Proposal published, linked to %(n)s reports.", n=len(report_ids))
                return redirect(url_for("web.contribution", contribution_id=created.id))
    return render_template("consultations/new_proposal.html", errors=errors, values=values,
                           reports=report_ids, themes=web_services.top_categories(db.session, "proposal",
                                                                                  current_lang()))
