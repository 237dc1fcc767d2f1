"""Pages of the participatory budget: the current cycle and the past ones, a cycle, a project
(support it; the planners' feasibility, merge and delivery forms), the delivery map of the
winning projects with its list, and the submission form. The same services as the API
(app.budget.services); forms are read with the API's declared models."""

from __future__ import annotations

import json
from urllib.parse import urlencode

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
from flask_babel import lazy_gettext as _l
from pydantic import TypeAdapter, ValidationError

from app import policy
from app.accounts.auth import current_user
from app.api.contract import field_errors as contract_field_errors
from app.api.contract import parse_query
from app.api.types import encode_cursor, exists_in_columns
from app.budget import services
from app.budget.models import DELIVERY_STATUSES, PHASES, PROJECT_STATUSES
from app.budget.schemas import (
    AllProjectsQuery,
    DeliveryInput,
    FeasibilityInput,
    MergeInput,
    ProjectInput,
)
from app.contributions.media import store_photo
from app.db import db
from app.errors import AppError, FieldError, NotFound, ValidationFailed
from app.web import services as web_services
from app.web.forms import field_errors, refusal_errors, signed_in_or_login
from app.web.i18n import current_lang
from app.web.security import protect_forms

bp = Blueprint("budget_pages", __name__)
protect_forms(bp)

STAGE_LABELS = {
    "draft": _l("Draft"), "upcoming": _l("Upcoming"), "submission": _l("Submission of projects"),
    "co_construction": _l("Co-construction"), "feasibility": _l("Feasibility study"), "vote": _l("Vote"),
    "results": _l("Results"), "delivery": _l("Delivery"), "ended": _l("Over"),
}
# what residents can do now, said on the page
STAGE_HELP = {
    "draft": _l("A draft: only admins see it."),
    "upcoming": _l("It has not started yet."),
    "submission": _l("Now: submit your project for Paris or your arrondissement, and support others."),
    "co_construction": _l("Now: similar projects are merged with their authors; you can still support projects."),
    "feasibility": _l("Now: the city's departments study each project's feasibility and cost."),
    "vote": _l("Now: vote for the projects on the ballot."),
    "results": _l("The winning projects are known."),
    "delivery": _l("The winning projects are being delivered: follow them on the delivery map."),
    "ended": _l("This edition is over: its winning projects are on the delivery map."),
}
PROJECT_STATUS_LABELS = {
    "submitted": _l("Submitted"), "merged": _l("Merged"), "feasible": _l("Feasible"),
    "not_feasible": _l("Not feasible"), "won": _l("Winner"), "lost": _l("Not chosen"),
}
DELIVERY_LABELS = {
    "studies": _l("Studies"), "procedures": _l("Procedures"), "works": _l("Works"),
    "delivered": _l("Delivered"), "abandoned": _l("Abandoned"), None: _l("Not started"),
}
DATE_LABELS = {
    "studies_on": _l("Studies started"), "procedures_on": _l("Procedures started"),
    "works_on": _l("Works started"), "delivery_planned_on": _l("Delivery planned"),
    "opened_on": _l("Opened to the public"),
}
LOCATED_LABELS = {
    "map": _l("Placed on the map by its author."),
    "address": _l("Placed at its address (Base Adresse Nationale)."),
    "street": _l("Placed on its street: the house number was not found."),
    "arrondissement": _l("Approximate place: the arrondissement as a whole (no precise address)."),
    None: _l("No single place: a project for all of Paris."),
}
PAGE_SIZE = 200
# a cycle's lists: a merged project is found on the page of the project it joined
LISTED = [s for s in PROJECT_STATUSES if s != "merged"]


@bp.context_processor
def labels():
    return {"stage_label": lambda s: str(STAGE_LABELS.get(s, s)),
            "stage_help": lambda s: str(STAGE_HELP.get(s, "")),
            "project_status": lambda s: str(PROJECT_STATUS_LABELS.get(s, s)),
            "delivery_label": lambda s: str(DELIVERY_LABELS.get(s, s)),
            "date_labels": {k: str(v) for k, v in DATE_LABELS.items()},
            "located_label": lambda s: str(LOCATED_LABELS.get(s, "")),
            "euros": euros, "arrondissement_label": arrondissement_label,
            "budget_phases": PHASES}


def euros(cents: int | None) -> str:
    """An amount in whole euros, grouped as the language writes numbers."""
    if cents is None:
        return "—"
    from flask_babel import format_decimal

    return f"{format_decimal(round(cents / 100))} €"


def arrondissement_label(n: int | None) -> str:
    from app.web.i18n import ordinal

    return _("All of Paris") if n is None else _("%(ordinal)s arrondissement", ordinal=ordinal(n))


def _not_found():
    abort(make_response(render_template("not_found.html"), 404))


def _cycle_of_year(year: int):
    if not services.YEAR_MIN <= year <= services.YEAR_MAX:
        _not_found()
    try:
        return services.cycle_of_year(db.session, year, current_user())
    except NotFound:
        _not_found()


def _project(project_id: int, **kwargs):
    try:
        return services.get_project(db.session, project_id, current_user(), **kwargs)
    except NotFound:
        _not_found()


def _rows(filters: services.ProjectFilters) -> tuple[list[dict], str | None]:
    rows, cursor = services.project_rows(db.session, filters, current_user())
    labels = services.theme_labels(db.session, current_lang())
    items = [{"id": r.id, **services.project_properties(r, labels)} for r in rows]
    return items, (encode_cursor(*cursor) if cursor else None)


@bp.get("/budget")
def index():
    """The current cycle (what you can do now, its projects) and the past ones."""
    user = current_user()
    cycles = services.cycles(db.session, user)
    current = services.current_cycle(cycles)
    about = services.cycle_json(db.session, current, user) if current else None
    projects = _rows(services.ProjectFilters(cycle_id=current.id, statuses=LISTED, limit=PAGE_SIZE))[0] \
        if current else []
    past = [services.cycle_json(db.session, c, user) for c in cycles if c is not current]
    return render_template("budget/index.html", k=about, projects=projects, past=past,
                           can_manage=services.can_manage(db.session, user))


@bp.get("/budget/<int:year>")
def cycle_page(year: int):
    cycle = _cycle_of_year(year)
    user = current_user()
    about = services.cycle_json(db.session, cycle, user)
    items, cursor = _rows(services.ProjectFilters(cycle_id=cycle.id, statuses=LISTED, limit=PAGE_SIZE,
                                                  cursor=_cursor_arg()))
    more = url_for(".cycle_page", year=year, cursor=cursor) + "#projects" if cursor else None
    return render_template("budget/cycle.html", k=about, projects=items, more=more,
                           notice=session.pop("flash", None))


def _cursor_arg():
    """The page's cursor; one the page did not make is the first page."""
    from app.api.types import Cursor

    raw = request.args.get("cursor")
    if not raw:
        return None
    try:
        return TypeAdapter(Cursor).validate_python(raw)
    except ValidationError:
        return None


@bp.get("/budget/projects/<id:project_id>")
def project_page(project_id: int):
    user = current_user()
    project = _project(project_id)
    lang = current_lang()
    detail = services.project_detail(db.session, project, user, lang)
    cycle = services.get_cycle(db.session, project.cycle_id, user)
    about = services.cycle_json(db.session, cycle, user)
    planner = policy.allows(db.session, user, "budget.study", project)
    may = {
        "support": user is not None and "support" in about["can"] and project.status != "merged",
        "verify": user is not None and user.email_verified_at is None,
        "edit": policy.allows(db.session, user, "budget.edit", project),
        "study": planner and about["stage"] == "feasibility" and project.status in services.OPEN_STATUSES,
        "merge": planner and about["stage"] == "co_construction" and project.status in services.OPEN_STATUSES,
        "deliver": planner and about["stage"] in ("results", "delivery", "ended") and project.status == "won",
        "photo": _photo_stage(user, project),
    }
    siblings = services.merge_candidates(db.session, project) if may["merge"] else []
    geometry = detail["geometry"]
    config = {**web_services.basemap(), "geometry": geometry,
              "approximate": detail["properties"]["approximate"],
              "strings": {"label": _("Where the project is"),
                          "approximate": _("Approximate place: the arrondissement as a whole")}}
    dates = {k: getattr(project, k) for k in DATE_LABELS}
    return render_template("budget/project.html", p=detail["properties"], project_id=project.id, k=about,
                           dates=dates,
                           may=may, siblings=siblings, config=config, delivery_statuses=DELIVERY_STATUSES,
                           notice=session.pop("flash", None), errors=session.pop("budget_errors", None))


def _photo_stage(user, project) -> str | None:
    """The photos the reader may add now (`project`, `delivery`), or None."""
    if user is None:
        return None
    try:
        return services.photo_stage(db.session, user, project)
    except AppError:
        return None


@bp.post("/budget/projects/<id:project_id>/photos")
def add_photo(project_id: int):
    def run(user):
        project = services.get_project(db.session, project_id, user, lock=True)
        stage = services.photo_stage(db.session, user, project)  # before storing anything
        upload = request.files.get("photo")
        if upload is None or not upload.filename:
            raise ValidationFailed([FieldError("photo", "required")])
        services.add_photo(db.session, user, project, stage, store_photo(upload))

    return _act(project_id, run, _("The photo is added."))


@bp.post("/budget/projects/<id:project_id>/photos/<sha256>/remove")
def remove_photo(project_id: int, sha256: str):
    def run(user):
        project = services.get_project(db.session, project_id, user, lock=True)
        services.remove_photo(db.session, user, project, sha256)

    return _act(project_id, run, _("The photo is removed."))


def _act(project_id: int, run, done: str):
    """A form posted from a project's page: the service's refusal shown there."""
    user = signed_in_or_login()
    try:
        run(user)
    except AppError as exc:
        db.abandon()
        session["budget_errors"] = refusal_errors(exc)
    else:
        session["flash"] = done
    return redirect(url_for(".project_page", project_id=project_id))


@bp.post("/budget/projects/<id:project_id>/support")
def support(project_id: int):
    on = request.form.get("support") != "off"

    def run(user):
        project = services.get_project(db.session, project_id, user, share=True)
        services.support(db.session, user, project, on)

    return _act(project_id, run, _("Thank you for your support.") if on else _("Your support is withdrawn."))


def _form_errors(model, data: dict):
    """The form as the API's body, or (None, errors)."""
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        return None, field_errors(contract_field_errors(exc))


def _cents(value: str | None):
    """A form's amount in euros (digits, spaces allowed) as cents; text stays for the model to refuse."""
    cleaned = (value or "").replace(" ", "").replace("\u202f", "").replace("\xa0", "")
    if not cleaned:
        return None
    return int(cleaned) * 100 if cleaned.isdigit() and len(cleaned) <= 12 else cleaned


@bp.post("/budget/projects/<id:project_id>/feasibility")
def feasibility(project_id: int):
    feasible = request.form.get("feasible")
    data = {"feasible": {"yes": True, "no": False}.get(feasible, feasible),
            "cost_cents": _cents(request.form.get("cost")), "reason": request.form.get("reason") or None}
    form, errors = _form_errors(FeasibilityInput, data)
    if form is None:
        session["budget_errors"] = errors
        return redirect(url_for(".project_page", project_id=project_id))

    def run(user):
        project = services.get_project(db.session, project_id, user, lock=True)
        services.study(db.session, user, project, form.feasible, form.cost_cents, form.reason)

    return _act(project_id, run, _("Feasibility study recorded."))


@bp.post("/budget/projects/<id:project_id>/merge")
def merge(project_id: int):
    into = request.form.get("into", "")
    form, errors = _form_errors(MergeInput, {"into": int(into) if into.isdigit() and len(into) < 19 else into})
    if form is None:
        session["budget_errors"] = errors
        return redirect(url_for(".project_page", project_id=project_id))
    user = signed_in_or_login()
    try:
        services.merge(db.session, user, project_id, form.into)
    except AppError as exc:
        session["budget_errors"] = refusal_errors(exc)
        return redirect(url_for(".project_page", project_id=project_id))
    session["flash"] = _("Merged: its authors and supporters now belong to this project.")
    return redirect(url_for(".project_page", project_id=form.into))


@bp.post("/budget/projects/<id:project_id>/delivery")
def delivery(project_id: int):
    data = {"status": request.form.get("status") or None,
            **{k: request.form.get(k) or None for k in DATE_LABELS}}
    form, errors = _form_errors(DeliveryInput, data)
    if form is None:
        session["budget_errors"] = errors
        return redirect(url_for(".project_page", project_id=project_id))

    def run(user):
        project = services.get_project(db.session, project_id, user, lock=True)
        services.deliver(db.session, user, project, form.status, form.dates())

    return _act(project_id, run, _("Delivery updated."))


@bp.get("/budget/delivery")
def delivery_map():
    """The winning projects on the map and in a list (the list alone is complete), filtered
    by year, arrondissement and delivery status."""
    try:
        query = parse_query(AllProjectsQuery, blanks_absent=True)
    except AppError as exc:
        query, errors = AllProjectsQuery(), refusal_errors(exc)
    else:
        errors = {}
    filters = services.ProjectFilters(statuses=["won"], years=query.year, arrondissements=query.arrondissement,
                                      delivery=query.delivery_status, limit=PAGE_SIZE, cursor=query.cursor)
    items, cursor = _rows(filters)
    args = {k: v for k, v in request.args.items() if k not in ("cursor", "lang") and v}
    more = url_for(".delivery_map", **args, cursor=cursor) + "#results" if cursor else None
    api_args = {"status": "won", "limit": 1000, **{k: v for k, v in args.items()
                                                   if k in ("year", "arrondissement", "delivery_status")}}
    years = [c.year for c in services.cycles(db.session, current_user()) if c.status == "published"]
    config = {**web_services.basemap(), "source": "/api/v1/budget-projects?" + urlencode(api_args),
              "strings": {
                  "label": _("Map of the winning projects"),
                  "approximate_one": _("%(n)s project of the %(arrondissement)s without a precise place"),
                  "approximate": _("Projects of the %(arrondissement)s without a precise place"),
                  "delivery": {str(k): str(v) for k, v in DELIVERY_LABELS.items()},
                  "more": _("and %(n)s more: see the list"),
                  "loading_error": _("The map data could not be loaded. The list below is complete."),
                  "ordinals": {str(n): _ordinal(n) for n in range(1, 21)}}}
    chosen = {"year": query.year or [], "arrondissement": query.arrondissement or [],
              "delivery_status": query.delivery_status or []}
    return render_template("budget/delivery.html", projects=items, more=more, errors=errors, years=years,
                           chosen=chosen, config=config, delivery_statuses=DELIVERY_STATUSES,
                           arrondissements=web_services.arrondissements(db.session))


def _ordinal(n: int) -> str:
    from app.web.i18n import ordinal

    return ordinal(n)


# ---- the submission form --------------------------------------------------------------------------

def _submit_body(form) -> dict:
    """The form as the API's body (one declaration validates both)."""
    data: dict = {}
    for name in ("title", "description", "theme", "address"):
        if form.get(name, "").strip():
            data[name] = form[name]
    if form.get("cost", "").strip():
        data["estimated_cost_cents"] = _cents(form["cost"])
    if form.get("paris_wide"):
        data["paris_wide"] = True
    if form.get("geometry", "").strip():  # GeoJSON drawn on the map (budget-submit.js)
        try:
            data["geometry"] = json.loads(form["geometry"])
        except ValueError:
            data["geometry"] = form["geometry"]  # refused by the declared model, on the field
    elif form.get("lon") and form.get("lat"):  # a point given as two numbers
        try:
            data["geometry"] = {"type": "Point", "coordinates": [float(form["lon"]), float(form["lat"])]}
        except ValueError:
            data["geometry"] = {"type": "Point", "coordinates": [form["lon"], form["lat"]]}
    if form.get("proposal", "").isdigit() and len(form["proposal"]) < 19:
        data["proposal"] = int(form["proposal"])
    return data


@bp.route("/budget/<int:year>/submit", methods=["GET", "POST"])
def submit(year: int):
    """A resident submits a project: a place on the map (or all of Paris), or one of their
    proposals to start from."""
    user = signed_in_or_login()
    cycle = _cycle_of_year(year)
    about = services.cycle_json(db.session, cycle, user)
    errors: dict[str, str] = {}
    values = request.form
    if request.method == "POST":
        body, errors = _form_errors(ProjectInput, _submit_body(request.form))
        if body is not None:
            try:
                locked = services.get_cycle(db.session, cycle.id, user, share=True)
                project = services.submit(db.session, user, locked, body.values(), body.geometry, body.paris_wide,
                                          body.proposal, body.links)
            except AppError as exc:
                errors = refusal_errors(exc)
            else:
                session["flash"] = _("Thank you: your project is submitted.")
                return redirect(url_for(".project_page", project_id=project.id))
    config = {**web_services.basemap(), "strings": {
        "label": _("Map: tap where the project would be"),
        "placed": _("Place chosen: %(lat)s, %(lon)s."),
        "pin": _("The project's place"),
        "drawn": _("%(count)s points: the place is drawn. Tap again to add a point."),
        "more": _("%(count)s of at least %(needed)s points: tap the map to add the next one."),
        "help_Point": _("Tap the map where the project would be."),
        "help_LineString": _("Tap the map at each point of the line, in order."),
        "help_Polygon": _("Tap the map at each corner of the area, in order."),
        "centre_point": _("Place it at the centre of the map"),
        "centre_vertex": _("Add the centre of the map as a point")}}
    return render_template(
        "budget/submit.html", k=about, errors=errors, values=values, config=config,
        shapes=[("Point", _("A point")), ("LineString", _("A line (a street, a path)")),
                ("Polygon", _("An area (a square, a block)"))],
        themes=web_services.top_categories(db.session, "proposal", current_lang()),
        proposals=services.proposals_to_start_from(db.session, user), verified=user.email_verified_at is not None,
        open_now="submit" in about["can"]), (422 if errors else 200)


# ---- the chain, on a proposal's or a report's page ------------------------------------------------

@bp.app_template_global()
def budget_projects_of(contribution_id: int | None) -> list[dict]:
    """The budget projects a proposal (or a report) grew into, for its page."""
    if contribution_id is None or not exists_in_columns(contribution_id):
        return []
    return [{**p, "url": url_for("budget_pages.project_page", project_id=p["id"])}
            for p in services.projects_of_contribution(db.session, contribution_id)]

