"""Pages of administration of the participatory budget (/admin/budgets, admins): the cycles,
and one form to open or edit a cycle (its ballot rule, its six phases, its envelopes),
publish it, and count its vote. The form is read with the API's own declared bodies
(CycleInput to open, CyclePatch to edit) and goes to the same services."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

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
from flask_babel import format_decimal, lazy_pgettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.budget import ballots, services
from app.budget.models import PHASES, Cycle
from app.budget.schemas import CycleInput, CyclePatch
from app.db import db
from app.errors import AppError, NotFound, ValidationFailed
from app.messages import message
from app.web.admin import _admin
from app.web.forms import page_form
from app.web.i18n import current_lang, ordinal
from app.web.security import protect_forms
from geo.aggregations import PARIS

bp = Blueprint("budget_admin_pages", __name__, url_prefix="/admin/budgets")
protect_forms(bp)

PHASE_LABELS = {
    "submission": _l("Submission of projects"), "co_construction": _l("Co-construction"),
    "feasibility": _l("Feasibility study"), "vote": _l("Vote"), "results": _l("Results"),
    "delivery": _l("Delivery"),
}
STAGE_LABELS = {"draft": _l("Draft"), "upcoming": _l("Upcoming"), **PHASE_LABELS, "ended": _l("Over")}
# "Published" alone is the catalogue's « Publié le » (a date's header): the status's own
# « Publiée » (feminine, as « édition ») is under this context
STATUS_LABELS = {"draft": _l("Draft"), "published": lazy_pgettext("proposal status", "Published")}
METHOD_LABELS = {"approval": _l("Approval vote"), "knapsack": _l("Knapsack vote (within the envelope)"),
                 "majority_judgment": _l("Majority judgment")}
RULE_LABELS = {"greedy": _l("Greedy by votes"), "equal_shares": _l("Method of Equal Shares")}
# the envelopes' rows: Paris-wide, then each arrondissement
ENVELOPE_KEYS = ("paris", *(str(n) for n in range(1, 21)))
# where an envelope's amount may be written with thousands separators: 1,500,000 or 1.500.000
GROUPED = re.compile(r"^\d{1,3}([,.])\d{3}(\1\d{3})*$")
DECIMAL = re.compile(r"^(\d+)(?:[,.](\d{1,2}))?$")
INDEXED = re.compile(r"^(phases|envelopes)\[(\d+)\](?:\.(\w+))?")
BLANKS = (" ", "\u202f", "\xa0", "\u2009")


def _arrondissement(key: str) -> int | None:
    return None if key == "paris" else int(key)


def envelope_label(key: str | int | None) -> str:
    if key in ("paris", "Paris", None):
        return _("All of Paris")
    if not str(key).isdigit():
        return str(key)
    return _("%(ordinal)s arrondissement", ordinal=ordinal(int(key)))


@bp.context_processor
def labels():
    return {"phase_label": lambda p: str(PHASE_LABELS.get(p, p)),
            "stage_label": lambda s: str(STAGE_LABELS.get(s, s)),
            "status_label": lambda s: str(STATUS_LABELS.get(s, s)),
            "method_label": lambda m: str(METHOD_LABELS.get(m, m)),
            "rule_label": lambda r: str(RULE_LABELS.get(r, r)),
            "envelope_label": envelope_label, "envelope_keys": ENVELOPE_KEYS, "budget_phases": PHASES,
            "amount": amount, "ordinal": ordinal}


def amount(cents_: int | None) -> str:
    """An amount in whole euros, grouped as the language writes numbers."""
    return "—" if cents_ is None else f"{format_decimal(round(cents_ / 100))} €"


def _not_found():
    abort(make_response(render_template("not_found.html"), 404))


# ---- reading the form -----------------------------------------------------------------------

def _number(value: str | None) -> int | str | None:
    """A whole number typed in the form; anything else stays text for the model to refuse."""
    value = (value or "").strip()
    if not value:
        return None
    return int(value) if value.isdigit() and len(value) < 19 else value


def cents(value: str | None) -> int | str | None:
    """Euros as typed (1 500 000, 1,500,000, 1500000,50) as cents; text the model refuses
    stays text."""
    cleaned = value or ""
    for blank in BLANKS:
        cleaned = cleaned.replace(blank, "")
    cleaned = cleaned.removesuffix("€")
    if not cleaned:
        return None
    if GROUPED.match(cleaned):
        cleaned = cleaned.replace(cleaned[-4], "")
    found = DECIMAL.match(cleaned)
    if found is None:
        return value
    whole, part = found.groups()
    if len(whole) > 15:
        return 10**18  # out of range, said as such by the model
    return int(whole) * 100 + int((part or "0").ljust(2, "0"))


def euros_field(amount: int | None) -> str:
    """Cents as the form shows them: 30 000 000, or 1 500,50 with cents."""
    if amount is None:
        return ""
    whole, part = divmod(amount, 100)
    text = f"{whole:,}".replace(",", " ")
    return text if not part else f"{text}{',' if current_lang() == 'fr' else '.'}{part:02d}"


@dataclass
class Frozen:
    """What an edit may no longer change (as app.budget.services.update_cycle says)."""

    year: bool = False
    ballot: bool = False
    envelopes: bool = False
    starts: set[str] = field(default_factory=set)  # phases that have started: their first day stays
    ends: set[str] = field(default_factory=set)  # phases that are over: their last day stays too


def _frozen(cycle: Cycle | None) -> Frozen:
    if cycle is None or cycle.status != "published":
        return Frozen()
    at = services.now()
    voting = services.vote_started(cycle, at)
    return Frozen(year=True, ballot=voting, envelopes=voting,
                  starts={p.phase for p in cycle.phases if p.starts_at <= at},
                  ends={p.phase for p in cycle.phases if p.ends_at <= at})


@dataclass
class Sent:
    """Which phases and envelopes the body holds, in its order (to put errors on their fields)."""

    phases: list[str] = field(default_factory=list)
    envelopes: list[str] = field(default_factory=list)


def _body(form, frozen: Frozen, cycle: Cycle | None) -> tuple[dict, Sent]:
    """The form as the API's body: a phase with neither day is left out, an envelope without
    an amount (nor share) too; what is frozen is not sent."""
    data: dict = {"title": form.get("title", ""), "description": form.get("description", "")}
    sent = Sent()
    if not frozen.year and _number(form.get("year")) is not None:
        data["year"] = _number(form.get("year"))
    if not frozen.ballot:
        method = form.get("ballot_method")
        if method:
            data["ballot_method"] = method
        if method == "approval":
            data["max_choices"] = _number(form.get("max_choices"))
        elif method == "majority_judgment":
            data["grades"] = _number(form.get("grades"))
        if form.get("winners_rule"):
            data["winners_rule"] = form["winners_rule"]
    phases = []
    for phase in PHASES:
        days = {k: form.get(f"{phase}_{k}", "").strip() for k in ("starts_on", "ends_on")}
        if any(days.values()):
            phases.append({"phase": phase, **{k: v for k, v in days.items() if v}})
            sent.phases.append(phase)
    if phases or cycle is None or cycle.phases:
        data["phases"] = phases
    if not frozen.envelopes:
        envelopes = []
        for key in ENVELOPE_KEYS:
            amount, share = cents(form.get(f"env_{key}_amount")), cents(form.get(f"env_{key}_share"))
            if amount is None and share is None:
                continue
            envelope = {"arrondissement": _arrondissement(key), "popular_share_cents": share}
            if amount is not None:
                envelope["amount_cents"] = amount
            envelopes.append(envelope)
            sent.envelopes.append(key)
        data["envelopes"] = envelopes
    return data, sent


def _field(name: str, params: dict, sent: Sent) -> str:
    """A body's field as the form's: phases[2].ends_on is feasibility_ends_on."""
    found = INDEXED.match(name)
    if found is None:
        if name == "phases" and params.get("phase") in PHASES:  # a phase that has started
            return f"{params['phase']}_starts_on"
        return name
    kind, index, member = found.group(1), int(found.group(2)), found.group(3)
    if kind == "phases":
        if index >= len(sent.phases) or member not in ("starts_on", "ends_on"):
            return "phases"
        return f"{sent.phases[index]}_{member}"
    if index >= len(sent.envelopes):
        return "envelopes"
    return f"env_{sent.envelopes[index]}_{'share' if member == 'popular_share_cents' else 'amount'}"


def _placed(errors: list[tuple[str, str, dict]], sent: Sent) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, detail, params in errors:
        key = _field(name, params, sent)
        out[key] = f"{out[key]} {detail}" if key in out else detail
    return out


def _refusal(exc: AppError, sent: Sent) -> dict[str, str]:
    """A service's refusal on the form's fields (a phase named by its label)."""
    if exc.code == "budget_year_taken":
        return {"year": message(exc.code, exc.params, current_lang())}
    if not exc.errors:
        return {"form": message(exc.code, _named(exc.params), current_lang())}
    return _placed([(e.field, message(e.message_key, _named(e.params), current_lang()), e.params)
                    for e in exc.errors], sent)


def _checked(body: CycleInput | CyclePatch) -> None:
    """The phases and the envelopes checked together (the services stop at the phases), so
    that the form says every mistake at once."""
    errors = []
    for check, values in ((services.phase_periods, body.phase_days()),
                          (services.check_envelopes, body.envelope_values())):
        if values is not None:
            try:
                check(values)
            except ValidationFailed as exc:
                errors += exc.errors
    if errors:
        raise ValidationFailed(errors)


def _named(params: dict | None) -> dict:
    params = dict(params or {})
    if params.get("phase") in STAGE_LABELS:
        params["phase"] = str(STAGE_LABELS[params["phase"]])
    if "arrondissement" in params:
        params["arrondissement"] = envelope_label(params["arrondissement"])
    return params


def _form_values(about: dict) -> dict:
    """A cycle as the form shows it."""
    values = {k: about[k] for k in ("year", "title", "description", "ballot_method", "winners_rule")}
    values["max_choices"] = about["max_choices"] or ""
    values["grades"] = about["grades"] or 4
    for p in about["phases"]:
        values[f"{p['phase']}_starts_on"], values[f"{p['phase']}_ends_on"] = p["starts_on"], p["ends_on"]
    for e in about["envelopes"]:
        key = "paris" if e["arrondissement"] is None else str(e["arrondissement"])
        values[f"env_{key}_amount"] = euros_field(e["amount_cents"])
        values[f"env_{key}_share"] = euros_field(e["popular_share_cents"])
    return values


def _labels() -> dict[str, str]:
    """Each field's name, for the summary of errors at the top of the form."""
    out = {"year": _("Year"), "title": _("Title"), "description": _("Description"),
           "ballot_method": _("Ballot method"), "max_choices": _("At most this many projects per envelope"),
           "grades": _("Number of grades"), "winners_rule": _("Winners rule"), "status": _("Status"),
           "phases": _("Phases"), "envelopes": _("Envelopes")}
    for p in PHASES:
        out[f"{p}_starts_on"] = _("%(phase)s: first day", phase=PHASE_LABELS[p])
        out[f"{p}_ends_on"] = _("%(phase)s: last day", phase=PHASE_LABELS[p])
    for key in ENVELOPE_KEYS:
        out[f"env_{key}_amount"] = _("%(envelope)s: amount", envelope=envelope_label(key))
        out[f"env_{key}_share"] = _("%(envelope)s: quartiers populaires share", envelope=envelope_label(key))
    return out


def _may_count(cycle: Cycle, about: dict) -> bool:
    """The vote of a cycle that had one is over: it can be counted."""
    return about["stage"] in ballots.COUNTABLE_STAGES and cycle.period("vote") is not None


def _form(about: dict | None, values, errors: dict[str, str], frozen: Frozen, may_count: bool = False):
    status = 422 if errors else 200
    return render_template("admin/budget_form.html", cycle=about, values=values, errors=errors,
                           field_labels=_labels(), frozen=frozen, may_count=may_count,
                           notice=session.pop("flash", None),
                           refusal=session.pop("budget_admin_refusal", None)), status


# ---- the pages ------------------------------------------------------------------------------

@bp.get("")
def cycles():
    """Every cycle, newest year first, drafts included."""
    user = _admin()
    rows = [services.cycle_json(db.session, c, user) for c in services.cycles(db.session, user)]
    return render_template("admin/budgets.html", rows=rows, notice=session.pop("flash", None))


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Open a cycle, as a draft."""
    user = _admin()
    frozen, errors = Frozen(), {}
    values = {"year": datetime.now(PARIS).year + 1, "ballot_method": "approval", "grades": 4,
              "winners_rule": "greedy"}
    if request.method == "POST":
        values = request.form
        data, sent = _body(request.form, frozen, None)
        body, found = page_form(CycleInput, data)
        if body is None:
            errors = _placed([(k, v, {}) for k, v in found.items()], sent)
        else:
            try:
                _checked(body)
                cycle = services.create_cycle(db.session, user, body.values(), body.phase_days(),
                                              body.envelope_values())
            except AppError as exc:
                errors = _refusal(exc, sent)
            else:
                session["flash"] = _("The %(year)s cycle is created, as a draft: only admins see it until "
                                     "it is published.", year=cycle.year)
                return redirect(url_for(".cycles"))
    return _form(None, values, errors, frozen)


def _cycle(user, cycle_id: int, *, lock: bool = False) -> Cycle:
    try:
        return services.get_cycle(db.session, cycle_id, user, lock=lock)
    except NotFound:
        _not_found()


@bp.route("/<int:cycle_id>", methods=["GET", "POST"])
def edit(cycle_id: int):
    """Edit a cycle: what has happened stays; publish it."""
    user = _admin()
    cycle = _cycle(user, cycle_id, lock=request.method == "POST")
    frozen, errors = _frozen(cycle), {}
    about = services.cycle_json(db.session, cycle, user)
    values, may_count = _form_values(about), _may_count(cycle, about)
    if request.method == "POST":
        values = request.form
        data, sent = _body(request.form, frozen, cycle)
        publish = request.form.get("publish") == "1" and cycle.status == "draft"
        if publish:
            data["status"] = "published"
        body, found = page_form(CyclePatch, data)
        if body is None:
            errors = _placed([(k, v, {}) for k, v in found.items()], sent)
        else:
            try:
                _checked(body)
                services.update_cycle(db.session, user, cycle, body.values(), body.phase_days(),
                                      body.envelope_values())
            except AppError as exc:
                errors = _refusal(exc, sent)
            else:
                session["flash"] = (_("The %(year)s cycle is published: residents see it.", year=cycle.year)
                                    if publish else _("The %(year)s cycle is saved.", year=cycle.year))
                return redirect(url_for(".cycles"))
    return _form(about, values, errors, frozen, may_count)


@bp.post("/<int:cycle_id>/count")
@db.cost("stats")
def count(cycle_id: int):
    """Count the vote once it is over (again: the same result)."""
    user = _admin()
    _cycle(user, cycle_id)
    try:
        ballots.count(db.session, user, cycle_id)
    except NotFound:
        _not_found()
    except AppError as exc:
        db.abandon()
        session["budget_admin_refusal"] = message(exc.code, _named(exc.params), current_lang())
    else:
        session["flash"] = _("The vote is counted: the results are published.")
    return redirect(url_for(".edit", cycle_id=cycle_id))
