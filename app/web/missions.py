"""Pages of volunteer missions for residents: the list and map (filters in the URL), a
mission (signing up for a slot, cancelling, the iCalendar file), the organisation members'
sign-ups page (accept, decline, capacity) and "my engagements". The same services as the API
(app.missions.services); a refusal is shown on the page it came from."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import (
    Blueprint,
    Response,
    abort,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_date, format_time
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp

from app import policy
from app.accounts.auth import current_user
from app.areas.services import geocode
from app.db import db
from app.errors import AppError, FieldError, ValidationFailed
from app.missions import services
from app.missions.domains import DOMAINS, REMOTE_LABELS
from app.missions.models import ACTIVE
from app.missions.schedule import PARIS
from app.web import services as web_services
from app.web.forms import refusal_errors, signed_in_or_login
from app.web.security import protect_forms
from geo.text import fold

bp = Blueprint("mission_pages", __name__)
protect_forms(bp)

PAGE_SIZE = services.LIST_LIMIT[2]
RADII = (500, 1000, 2000, 5000)
# the list's "where" choice, as the service's `remote` values
WHERE = {"on_site": ("no", "possible"), "remote": ("possible", "full")}
WHERE_LABELS = {"on_site": _l("On site"), "remote": _l("Remote possible")}
# feminine in French ("une inscription acceptée")
SIGNUP_LABELS = {
    "pending": _lp("signup", "Awaiting the organisation's answer"),
    "accepted": _lp("signup", "Accepted"),
    "declined": _lp("signup", "Declined"),
    "waiting": _lp("signup", "On the waiting list"),
    "cancelled": _lp("signup", "Cancelled"),
}
MISSION_LABELS = {
    "draft": _lp("mission", "Draft"), "published": _lp("mission", "Open"),
    "full": _lp("mission", "Full"), "closed": _lp("mission", "Closed"),
    "cancelled": _lp("mission", "Cancelled"),
}


@bp.context_processor
def labels():
    return {"domain_label": lambda d: str(DOMAINS.get(d, d)), "remote_label": lambda r: str(REMOTE_LABELS.get(r, r)),
            "signup_label": lambda s: str(SIGNUP_LABELS.get(s, s)),
            "mission_label": lambda s: str(MISSION_LABELS.get(s, s)), "slot_words": slot_words,
            "distance_words": distance_words}


def _moment(value) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def slot_words(starts_at, ends_at, period: bool = False) -> str:
    """A slot in words, in the page's language and Paris time: its day and hours, or a
    period's first and last days."""
    start = _moment(starts_at)
    end = _moment(ends_at) if ends_at else None
    same_day = end is not None and end.astimezone(PARIS).date() == start.astimezone(PARIS).date()
    if period and not same_day:  # a period within one day reads as a dated slot
        if end is None:
            return _("from %(date)s, with no end date", date=format_date(start, "long"))
        return _("from %(start)s to %(end)s", start=format_date(start, "long"), end=format_date(end, "long"))
    day = format_date(start, "full")
    if end is None:
        return _("%(day)s at %(time)s", day=day, time=format_time(start, "short"))
    if same_day:
        return _("%(day)s, %(start)s–%(end)s", day=day, start=format_time(start, "short"),
                 end=format_time(end, "short"))
    return _("from %(start)s to %(end)s", start=f"{day} {format_time(start, 'short')}",
             end=f"{format_date(end, 'full')} {format_time(end, 'short')}")


def distance_words(metres: int | None) -> str:
    if metres is None:
        return ""
    if metres < 1000:
        return _("%(m)s m away", m=int(round(metres, -1)))
    return _("%(km)s km away", km=f"{metres / 1000:.1f}")


# ---- the list -----------------------------------------------------------------------------------

def _int(value: str | None, low: int, high: int) -> int | None:
    return int(value) if value and value.isdigit() and low <= int(value) <= high else None


def _float(value: str | None, low: float, high: float) -> float | None:
    try:
        number = float(value) if value else None
    except ValueError:
        return None
    return number if number is not None and low <= number <= high else None


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def list_filters(args) -> tuple[dict, dict, list[str]]:
    """The URL's filters as the service's, the form's chosen values, and what could not be
    understood (an address not found). Invalid values are ignored, never an error page."""
    chosen = {k: args.get(k, "").strip() for k in ("lon", "lat", "address", "arrondissement", "radius", "domain",
                                                   "from", "to", "where", "q")}
    notes = []
    page = _int(args.get("page"), 1, services.OFFSET_MAX // PAGE_SIZE) or 1
    f = {"limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE, "q": chosen["q"][:100] or None,
         "arrondissement": _int(chosen["arrondissement"], 1, 20),
         "domain": [chosen["domain"]] if chosen["domain"] in DOMAINS else None,
         "remote": list(WHERE[chosen["where"]]) if chosen["where"] in WHERE else None,
         "radius_m": _int(chosen["radius"], services.RADIUS_M[0], services.RADIUS_M[1]) or services.RADIUS_M[2]}
    lon, lat = _float(chosen["lon"], 1.9, 2.8), _float(chosen["lat"], 48.6, 49.1)
    if chosen["address"] and (lon is None or lat is None):
        found = _geocoded(chosen["address"][:200])
        if found:
            lon, lat = found[0]["geometry"]["coordinates"]
            chosen["address_found"] = found[0]["properties"]["label"]
        else:
            notes.append(_("No address in Paris matches “%(address)s”.", address=chosen["address"]))
    if lon is not None and lat is not None:
        f["near"] = (lon, lat)
    start, end = _day(chosen["from"]), _day(chosen["to"])
    if start:
        f["from"] = datetime.combine(start, time.min, tzinfo=PARIS)
    if end:
        f["to"] = datetime.combine(end + timedelta(days=1), time.min, tzinfo=PARIS)
    return f, {**chosen, "page": page, "near": "near" in f}, notes


def _geocoded(address: str) -> list[dict]:
    """The best address for the text, if it shares a word with it: the trigram search always
    answers something, even for words that are in no street's name."""
    found = geocode(db.session, address, limit=1)
    words = {w for w in fold(address).split() if len(w) > 2 and not w.isdigit()}
    if found and words & set(fold(found[0]["properties"]["label"]).split()):
        return found
    return []


@bp.get("/missions")
def list_page():
    """Public open missions, on a map and in a list (the list alone is complete)."""
    user = current_user()
    f, chosen, notes = list_filters(request.args)
    rows, total, distances = services.list_missions(db.session, user, f)
    items = [services.mission_out(db.session, m, user, distance_m=distances.get(m.id), full=False) for m in rows]
    args = {k: v for k, v in request.args.items() if v and k not in ("page", "lang")}
    page = chosen["page"]
    pages = {"previous": url_for(".list_page", **args, page=page - 1) + "#results" if page > 1 else None,
             "next": url_for(".list_page", **args, page=page + 1) + "#results"
             if f["offset"] + PAGE_SIZE < total and f["offset"] + PAGE_SIZE <= services.OFFSET_MAX else None}
    config = {**web_services.basemap(), "markers": _markers(items), "near": f.get("near"),
              "strings": {"label": _("Map of the volunteer missions"),
                          "locating": _("Finding where you are…"),
                          "located": _("Found: the list now shows the missions near you."),
                          "not_located": _("Your position could not be found. Type an address instead.")}}
    return render_template("missions/list.html", items=items, total=total, chosen=chosen, notes=notes,
                           pages=pages, config=config, domains=DOMAINS, radii=RADII, where_labels=WHERE_LABELS,
                           arrondissements=web_services.arrondissements(db.session),
                           first=f["offset"] + 1, last=f["offset"] + len(items))


def _markers(items: list[dict]) -> list[dict]:
    return [{"lon": p["geometry"]["coordinates"][0], "lat": p["geometry"]["coordinates"][1],
             "title": m["title"], "place": p["label"], "organisation": m["organisation"]["name"],
             "url": url_for(".mission_page", mission_id=m["id"])}
            for m in items for p in m["places"]]


# ---- a mission ----------------------------------------------------------------------------------

def _readable(mission_id: int, user, lock: bool = False):
    try:
        return services.mission_readable(db.session, mission_id, user, lock=lock)
    except AppError:
        abort(make_response(render_template("missions/not_found.html"), 404))


@bp.get("/missions/<id:mission_id>")
def mission_page(mission_id: int):
    """A mission: what, who, where, when (slots with their places), and signing up."""
    user = current_user()
    mission = _readable(mission_id, user)
    m = services.mission_out(db.session, mission, user)
    mine = _by_slot(m["my_signups"])
    active = {slot_id for slot_id, rows in mine.items() if any(s["status"] in ACTIVE for s in rows)}
    may_sign = policy.allows(db.session, user, "mission.signup") if user else False
    config = {**web_services.basemap(), "markers": _markers([m]), "near": None, "strings": {
        "label": _("Where the mission takes place")}}
    return render_template("missions/mission.html", m=m, mine=mine, active=active, config=config,
                           open_for_signup=m["status"] in ("published", "full") and services.is_public(mission),
                           may_sign=may_sign, unverified=user is not None and not may_sign,
                           period=m["schedule"] == "open_period",
                           notice=session.pop("flash", None), errors=session.pop("mission_errors", None))


def _by_slot(signups: list[dict]) -> dict[int, list[dict]]:
    """Sign-ups grouped by slot (each waiting one comes with its place in the queue)."""
    out: dict[int, list[dict]] = {}
    for s in signups:
        out.setdefault(s["slot_id"], []).append(s)
    return out


def _act(mission_id: int, run, done, back: str = ".mission_page"):
    """A form posted from a mission's page: the service's refusal shown there (nothing kept)."""
    user = signed_in_or_login()
    try:
        result = run(user)
    except AppError as exc:
        db.abandon()
        session["mission_errors"] = refusal_errors(exc)
    else:
        session["flash"] = done(result) if callable(done) else str(done)
    target = request.form.get("back")
    if target == "engagements":
        return redirect(url_for(".engagements"))
    return redirect(url_for(back, mission_id=mission_id))


@bp.post("/missions/<id:mission_id>/signup")
def signup(mission_id: int):
    slot_id = _int(request.form.get("slot_id"), 1, 2**62)
    message = request.form.get("message", "").strip()[:services.MESSAGE_MAX]

    def run(user):  # the slot's row is the lock (services.sign_up), not the mission's
        mission = _readable(mission_id, user)
        signup = services.sign_up(db.session, mission, user, slot_id or 0, message,
                                  request.form.get("confirm_age") == "on")
        return signup.status, services.waiting_position(db.session, signup)

    def done(result):
        status, position = result
        if status == "waiting":
            return _("The slot is full: you are number %(n)s on its waiting list. We will tell you if a place "
                     "frees up.", n=position)
        return _("You signed up. The organisation will confirm: your sign-up is pending until then.")

    return _act(mission_id, run, done)


def _signup(mission_id: int, signup_id: int, user, lock: bool = False, mission=None):
    """The mission and one of its sign-ups, to its volunteer and the organisation's members
    (the not-found page to anyone else)."""
    mission = mission or _readable(mission_id, user, lock=lock)
    try:
        return mission, services.signup_readable(db.session, mission, signup_id, user)
    except AppError:
        abort(make_response(render_template("missions/not_found.html"), 404))


@bp.post("/missions/<id:mission_id>/signups/<id:signup_id>/cancel")
def cancel(mission_id: int, signup_id: int):
    def run(user):
        mission, signup = _signup(mission_id, signup_id, user)
        return services.cancel_signup(db.session, mission, signup, user)

    return _act(mission_id, run, _l("Your sign-up is cancelled."))


@bp.get("/missions/<id:mission_id>/signups/<id:signup_id>/calendar.ics")
def calendar(mission_id: int, signup_id: int):
    """The sign-up's iCalendar file: its volunteer and the organisation's members only."""
    user = signed_in_or_login()
    mission, signup = _signup(mission_id, signup_id, user)
    body = services.calendar(db.session, mission, signup)
    return Response(body, mimetype="text/calendar", headers={
        "Content-Disposition": f'attachment; filename="mission-{mission.id}-{signup.id}.ics"'})


# ---- the organisation's members ---------------------------------------------------------------

def _managed(mission_id: int, user, lock: bool = False):
    """The mission, to its organisation's members only (404 to anyone else)."""
    mission = _readable(mission_id, user, lock=lock)
    if not policy.allows(db.session, user, "organisation.manage", mission):
        abort(make_response(render_template("missions/not_found.html"), 404))
    return mission


@bp.get("/missions/<id:mission_id>/signups")
def signups_page(mission_id: int):
    """The volunteers per slot, with their contact, to accept or decline; capacities."""
    user = signed_in_or_login()
    mission = _managed(mission_id, user)
    m = services.mission_out(db.session, mission, user)
    by_slot = _by_slot(services.signups_of(db.session, mission, user))
    return render_template("missions/signups.html", m=m, by_slot=by_slot, period=m["schedule"] == "open_period",
                           capacity=services.CAPACITY,
                           notice=session.pop("flash", None), errors=session.pop("mission_errors", None))


@bp.post("/missions/<id:mission_id>/signups/<id:signup_id>/decision")
def decision(mission_id: int, signup_id: int):
    choice = request.form.get("decision")
    note = request.form.get("note", "").strip()[:services.REASON_MAX] or None

    def run(user):
        mission = _managed(mission_id, user, lock=True)
        _, signup = _signup(mission_id, signup_id, user, mission=mission)
        if choice not in ("accept", "decline"):
            abort(400)
        return services.decide(db.session, mission, signup, user, choice, note)

    done = _l("The sign-up is accepted.") if choice == "accept" else _l("The sign-up is declined.")
    return _act(mission_id, run, done, back=".signups_page")


@bp.post("/missions/<id:mission_id>/slots/<id:slot_id>/capacity")
def capacity(mission_id: int, slot_id: int):
    value = _int(request.form.get("capacity", "").strip(), 0, services.CAPACITY[1] * 10)

    def run(user):
        mission = _managed(mission_id, user, lock=True)
        if value is None or value < services.CAPACITY[0] or value > services.CAPACITY[1]:
            raise ValidationFailed([FieldError("capacity", "out_of_range",
                                               {"min": services.CAPACITY[0], "max": services.CAPACITY[1]})])
        return services.set_capacity(db.session, mission, slot_id, user, value)

    return _act(mission_id, run, _l("The capacity is changed."), back=".signups_page")


# ---- my engagements -----------------------------------------------------------------------------

@bp.get("/me/engagements")
def engagements():
    """The signed-in person's sign-ups: upcoming, then past."""
    user = signed_in_or_login()
    return render_template("missions/engagements.html",
                           upcoming=services.my_engagements(db.session, user),
                           past=services.my_engagements(db.session, user, past=True),
                           notice=session.pop("flash", None), errors=session.pop("mission_errors", None))


# ---- on the pages of what missions help with ----------------------------------------------------

@bp.app_template_global()
def missions_helping(kind: str, target_id: int | None) -> list[dict]:
    """The open missions linked to a contribution (or whose hotspot covers a report), a
    consultation or a budget project, for the "Related" part of its page."""
    from app.api.types import exists_in_columns

    if target_id is None or not exists_in_columns(target_id):
        return []
    return [{**m, "url": url_for("mission_pages.mission_page", mission_id=m["id"])}
            for m in services.missions_helping(db.session, kind, target_id)]
