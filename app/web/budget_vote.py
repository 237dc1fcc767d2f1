"""Pages of the participatory budget's vote and count: the ballot papers (all of Paris and one
arrondissement of the resident's choice; approval, knapsack or majority judgment), withdrawing
a ballot, the admins' count and the results (greedy and the Method of Equal Shares side by
side, the Pabulib files, checking a receipt). The same services as the API
(app.budget.ballots); the ballot form is read with the API's declared model. No script is
needed to vote: budget-vote.js only adds the knapsack's running total."""

from __future__ import annotations

import re
from datetime import date

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from app import policy
from app.accounts.auth import current_user
from app.budget import ballots, services
from app.budget.schemas import BallotInput
from app.db import db
from app.errors import AppError, Conflict, NotFound
from app.messages import message
from app.web import services as web_services
from app.web.budget import _cycle_of_year, _not_found
from app.web.forms import page_form, refusal_errors, signed_in_or_login
from app.web.i18n import current_lang, ordinal
from app.web.security import protect_forms

bp = Blueprint("budget_vote_pages", __name__)
protect_forms(bp)

# majority judgment's four grades, worst first (Paris 2021); other scales say their numbers
FOUR_GRADES = (_l("Poor"), _l("Fair"), _l("Good"), _l("Very good"))
METHOD_LABELS = {"approval": _l("Approval vote"), "knapsack": _l("Knapsack vote (within the envelope)"),
                 "majority_judgment": _l("Majority judgment")}
RULE_LABELS = {"greedy": _l("the greedy rule (most votes first, as Paris counts)"),
               "equal_shares": _l("the Method of Equal Shares")}
RECEIPT_MAX = 40
NOTICE = "budget_vote_notice"  # session key: {"section": "paris"|"local", "text"|"error": str}
FIELD = re.compile(r"^(projects|grades)\[(\d+)\]")


# ---- what the templates share -----------------------------------------------------------------

def euros(cents: int | None) -> str:
    """An amount in whole euros, grouped as the language writes numbers."""
    return "—" if cents is None else f"{format_decimal(round(cents / 100))}\u00a0€"


def whole_euros(amount: int | None) -> str:
    return "—" if amount is None else f"{format_decimal(amount)}\u00a0€"


def arrondissement_label(n: int | None) -> str:
    return _("All of Paris") if n is None else _("%(ordinal)s arrondissement", ordinal=ordinal(n))


def grade_label(grade: int | None, grades: int | None) -> str:
    """A grade's name: the four of Paris by name, other scales by number (0 the worst)."""
    if grade is None or not grades:
        return "—"
    if grades == 4:
        return str(FOUR_GRADES[grade])
    if grade == 0:
        return _("%(grade)s (worst)", grade=grade)
    if grade == grades - 1:
        return _("%(grade)s (best)", grade=grade)
    return str(grade)


def strong(text, css: str = "") -> Markup:
    """A value set in bold inside a translated sentence (the sentence stays whole)."""
    return Markup('<strong class="{}">{}</strong>').format(css, text) if css else Markup("<strong>{}</strong>").format(text)


@bp.context_processor
def labels():
    return {"euros": euros, "whole_euros": whole_euros, "arrondissement_label": arrondissement_label,
            "grade_label": grade_label, "method_label": lambda m: str(METHOD_LABELS.get(m, m)),
            "rule_label": lambda r: str(RULE_LABELS.get(r, r)), "strong": strong}


@bp.app_template_global()
def budget_may_count(k: dict) -> bool:
    """Whether the cycle page offers its viewer the "Count the vote" button (admins, once the
    vote of a cycle that had one is over)."""
    return (k["stage"] in ballots.COUNTABLE_STAGES and any(p["phase"] == "vote" for p in k["phases"])
            and services.can_manage(db.session, current_user()))


def _key() -> bytes:
    return ballots.ballot_key(current_app.config["SECRET_KEY"])


def _number(value: str | None) -> int | str | None:
    """A form's whole number; anything else stays text for the model to refuse."""
    value = (value or "").strip()
    if not value:
        return None
    return int(value) if value.isdigit() and len(value) < 19 else value


# ---- the vote --------------------------------------------------------------------------------

def _arrondissement(cycle, default: int | None) -> int | None:
    """The arrondissement whose ballot the page shows: `?arrondissement=`, else the one the
    resident votes in; only one with an envelope."""
    local = {e.arrondissement_id for e in cycle.envelopes if e.arrondissement_id is not None}
    asked = _number(request.args.get("arrondissement"))
    if isinstance(asked, int) and asked in local:
        return asked
    return default if default in local else None


def _ballot_body(cycle, form) -> dict:
    """The posted ballot as the API's body: `projects` (checkboxes) or `grades` (a radio group
    per project, named grade-<id>; a project left ungraded is left out: the worst grade)."""
    if cycle.ballot_method == "majority_judgment":
        grades = []
        for name in form:
            if name.startswith("grade-") and form[name].strip():
                grades.append({"project": _number(name.removeprefix("grade-")), "grade": _number(form[name])})
        return {"grades": grades}
    return {"projects": [_number(v) for v in form.getlist("project") if v.strip()]}


def _choices(body: BallotInput) -> list[ballots.Choice]:
    return [ballots.Choice(p) for p in body.projects or ()] + \
           [ballots.Choice(g.project, g.grade) for g in body.grades or ()]


def _placed(errors: dict[str, str], body: dict) -> dict:
    """A refused ballot's errors where the page shows them: per project (`projects[i]`,
    `grades[i]…` name the i-th choice), else for the whole ballot."""
    items = body.get("projects") or body.get("grades") or []
    out: dict = {"projects": {}, "ballot": []}
    for field, detail in errors.items():
        found = FIELD.match(field)
        index = int(found.group(2)) if found else -1
        if 0 <= index < len(items):
            item = items[index]
            pid = item.get("project") if isinstance(item, dict) else item
            if isinstance(pid, int):
                out["projects"].setdefault(pid, []).append(detail)
                continue
        out["ballot"].append(detail)
    return out


@bp.route("/budget/<int:year>/vote", methods=["GET", "POST"])
def vote(year: int):
    """A resident's two ballot papers, all of Paris and one arrondissement of their choice,
    filled with their ballots; posting one casts it (or replaces it)."""
    cycle = _cycle_of_year(year)
    about = services.cycle_json(db.session, cycle, current_user())
    period = next((p for p in about["phases"] if p["phase"] == "vote"), None)
    dates = (date.fromisoformat(period["starts_on"]), date.fromisoformat(period["ends_on"])) if period else None
    context = {"k": about, "vote_dates": dates}
    if about["stage"] != "vote":
        status = 409 if request.method == "POST" else 200
        return render_template("budget/vote.html", open_now=False, **context), status
    user = signed_in_or_login()
    if not policy.allows(db.session, user, "budget.vote"):
        status = 403 if request.method == "POST" else 200
        return render_template("budget/vote.html", open_now=True, allowed=False,
                               unverified=user.email_verified_at is None, **context), status
    key = _key()
    refused: dict = {}
    status = 200
    if request.method == "POST":
        envelope = next((e for e in cycle.envelopes if str(e.id) == request.form.get("envelope", "")), None)
        if envelope is None:
            _not_found()
        section = "paris" if envelope.arrondissement_id is None else "local"
        data = _ballot_body(cycle, request.form)
        body, errors = page_form(BallotInput, data)
        other = None
        if body is not None:
            try:
                ballots.cast(db.session, key, user, cycle.id, envelope.id, _choices(body))
            except AppError as exc:
                errors, status = refusal_errors(exc), exc.status
                if isinstance(exc, Conflict) and exc.code == "ballot_other_arrondissement":
                    other, errors = exc.params.get("arrondissement"), {}
            else:
                session[NOTICE] = {"section": section, "text": message("ballot_cast", None, current_lang())}
                back = envelope.arrondissement_id or _arrondissement(cycle, None)
                return redirect(url_for(".vote", year=year, arrondissement=back) + f"#{section}")
        else:
            status = 422
        refused = {"section": section, "envelope": envelope.id, "body": data, "other": other,
                   **_placed(errors, data)}
    mine = ballots.own_ballots(db.session, key, user, cycle)
    chosen = _arrondissement(cycle, mine["arrondissement"])
    if refused.get("envelope") and refused["section"] == "local":
        chosen = next(e.arrondissement_id for e in cycle.envelopes if e.id == refused["envelope"])
    sections = []
    for name, arrondissement in (("paris", None), ("local", chosen)):
        envelope = cycle.envelope_for(arrondissement) if name == "paris" or chosen is not None else None
        sections.append(_section(cycle, name, envelope, mine, refused))
    local = [e.arrondissement_id for e in cycle.envelopes if e.arrondissement_id is not None]
    names = {a["code"]: a["name"] for a in web_services.arrondissements(db.session)}
    return render_template(
        "budget/vote.html", open_now=True, allowed=True, sections=sections, chosen=chosen,
        voting_in=mine["arrondissement"], voting_envelope=_envelope_id(cycle, mine["arrondissement"]),
        arrondissements=[{"code": a, "name": names.get(a, "")} for a in local],
        refused=refused, notice=session.pop(NOTICE, None), **context), status


def _envelope_id(cycle, arrondissement: int | None) -> int | None:
    envelope = cycle.envelope_for(arrondissement) if arrondissement is not None else None
    return envelope.id if envelope else None


def _section(cycle, name: str, envelope, mine: dict, refused: dict) -> dict:
    """One ballot paper: its envelope's projects, ticked as the resident's ballot (or as they
    just posted it, when it was refused)."""
    if envelope is None:
        return {"name": name, "envelope": None}
    ballot = next((b for b in mine["ballots"] if b["envelope"] == envelope.id), None)
    themes = services.theme_labels(db.session, current_lang())
    projects = [{"id": r.id, "title": r.title, "cost_cents": r.cost_cents, "theme": themes.get(r.theme, r.theme)}
                for r in ballots.ballot_projects(db.session, envelope.id)]
    if refused.get("envelope") == envelope.id:
        body = refused["body"]
        picked = {p for p in body.get("projects") or () if isinstance(p, int)}
        grades = {g["project"]: g["grade"] for g in body.get("grades") or ()}
    elif ballot:
        picked = {c["project"] for c in ballot["choices"]}
        grades = {c["project"]: c["grade"] for c in ballot["choices"]}
    else:
        picked, grades = set(), {}
    total = sum(p["cost_cents"] or 0 for p in projects if p["id"] in picked)
    return {"name": name, "envelope": envelope, "ballot": ballot, "projects": projects, "picked": picked,
            "grades": grades, "total_cents": total,
            "errors": refused if refused.get("envelope") == envelope.id else None}


@bp.post("/budget/<int:year>/vote/<id:envelope_id>/withdraw")
def withdraw(year: int, envelope_id: int):
    """Take back a ballot (to vote in another arrondissement, or not at all)."""
    user = signed_in_or_login()
    cycle = _cycle_of_year(year)
    envelope = next((e for e in cycle.envelopes if e.id == envelope_id), None)
    if envelope is None:
        _not_found()
    section = request.form.get("section") if request.form.get("section") in ("paris", "local") else \
        ("paris" if envelope.arrondissement_id is None else "local")
    # back to the arrondissement the page showed (another one, after withdrawing this one)
    asked = _number(request.form.get("arrondissement"))
    back = asked if isinstance(asked, int) and 1 <= asked <= 20 else None
    try:
        ballots.withdraw(db.session, _key(), user, cycle.id, envelope.id)
    except AppError as exc:
        session[NOTICE] = {"section": section, "error": refusal_errors(exc).get("form")
                           or message(exc.code, exc.params, current_lang())}
    else:
        session[NOTICE] = {"section": section, "text": message("ballot_withdrawn", None, current_lang())}
    return redirect(url_for(".vote", year=year, arrondissement=back) + f"#{section}")


# ---- the count and the results ---------------------------------------------------------------

@bp.post("/budget/<int:year>/count")
@db.cost("stats")
def count(year: int):
    """An admin counts the vote (again: the same result) once it is over."""
    user = signed_in_or_login()
    cycle = _cycle_of_year(year)
    try:
        ballots.count(db.session, user, cycle.id)
    except AppError as exc:
        db.abandon()
        session["flash"] = message(exc.code, exc.params, current_lang())
        return redirect(url_for("budget_pages.cycle_page", year=year))
    session["flash"] = _("The vote is counted: here are the results.")
    return redirect(url_for(".results", year=year))


@bp.get("/budget/<int:year>/results")
def results(year: int):
    """Each envelope's count by both rules, the Pabulib files, and checking a receipt."""
    cycle = _cycle_of_year(year)
    about = services.cycle_json(db.session, cycle, current_user())
    counted = ballots.counted(cycle)
    out = ballots.results(db.session, cycle) if counted else None
    code = (request.args.get("receipt") or "").strip()
    check = None
    if counted and code:
        check = {"code": code[:RECEIPT_MAX]}
        if len(code) <= RECEIPT_MAX:
            try:
                check["ballot"] = ballots.receipt(db.session, cycle, code)
            except NotFound:
                pass
    return render_template("budget/results.html", k=about, results=out, counted=counted, check=check,
                           notice=session.pop("flash", None))
