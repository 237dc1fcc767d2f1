"""Pages of volunteer organisations and of their missions' staff side: registering an
organisation, the list of verified ones, an organisation's page (its card, and for its members
the status, the edit form, the members and every mission), the mission form (new and edit,
with the state buttons) and the moderators' verification queue. The same services as the API
(app.missions.services); the public mission page and the sign-ups page are app.web.missions'.

Forms are plain HTML (no script needed): a place is an address geocoded here or a point
clicked on the small map (static/js/mission-form.js fills its coordinates); times are Paris
wall-clock times, made aware here."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from shapely.geometry import Point

from app import policy
from app.accounts.auth import current_user
from app.areas.services import geocode
from app.db import db
from app.errors import AppError, Forbidden, problem
from app.missions import services
from app.missions.domains import ACTIVITIES, DOMAINS, REMOTE_LABELS
from app.missions.models import MISSION_STATUSES, ORGANISATION_STATUSES, SCHEDULES
from app.web import services as web_services
from app.web.forms import refusal_errors, signed_in_or_login
from app.web.security import protect_forms

bp = Blueprint("organisation_pages", __name__)
protect_forms(bp)

PARIS = ZoneInfo("Europe/Paris")
RNA = re.compile(r"^W\d{9}$")
SIREN = re.compile(r"^\d{9}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
WEEKDAYS = (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"), _l("Saturday"),
            _l("Sunday"))
ORG_STATUS_LABELS = {"pending": _lp("organisation", "Awaiting verification"),
                     "verified": _lp("organisation", "Verified"),
                     "refused": _lp("organisation", "Refused"), "suspended": _lp("organisation", "Suspended")}
MISSION_STATUS_LABELS = {"draft": _lp("mission", "Draft"), "published": _lp("mission", "Published"),
                         "full": _lp("mission", "Full"), "closed": _lp("mission", "Closed"),
                         "cancelled": _lp("mission", "Cancelled")}
SCHEDULE_LABELS = {"one_off": _l("One or a few dates"), "recurring": _l("Every week"),
                   "open_period": _l("An open period")}
# what each state may become from the pages (services.STATE_ACTIONS decides)
STATE_BUTTONS = {"publish": _l("Publish"), "close": _l("Close"), "reopen": _l("Reopen"), "cancel": _l("Cancel the mission")}
LINK_KINDS = ("contribution", "consultation", "budget_project")
PAGE_SIZE = 50


@bp.context_processor
def labels():
    return {"org_status": lambda s: str(ORG_STATUS_LABELS.get(s, s)),
            "mission_status": lambda s: str(MISSION_STATUS_LABELS.get(s, s)),
            "domains": DOMAINS, "activities": ACTIVITIES, "remote_labels": REMOTE_LABELS,
            "weekdays": WEEKDAYS, "schedule_labels": SCHEDULE_LABELS, "state_buttons": STATE_BUTTONS,
            "state_actions": services.STATE_ACTIONS, "paris_time": _paris}


@bp.errorhandler(AppError)
def refused_page(exc: AppError):
    """A refusal met while loading a page: a page (sign in first, or refused, or not found),
    not the API's problem document."""
    if exc.status == 401:
        return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
    if exc.status in (403, 404):
        return render_template("organisations/refused.html", status=exc.status), exc.status
    return problem(exc)


def _paris(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(PARIS)


def _flash(text: str) -> None:
    session["flash"] = text


def _readable_org(organisation_id: int, lock: bool = False):
    return services.organisation_readable(db.session, organisation_id, current_user(), lock=lock)


# ---- organisations ----------------------------------------------------------------------------

@bp.get("/organisations")
def list_page():
    """Verified organisations (search by name, RNA or SIREN) and the reader's own."""
    user = current_user()
    q = (request.args.get("q") or "").strip()[:100] or None
    rows, total = services.list_organisations(db.session, user, status="verified", mine=False, q=q,
                                              limit=PAGE_SIZE, offset=0)
    mine = services.list_organisations(db.session, user, status=None, mine=True, q=None, limit=PAGE_SIZE,
                                       offset=0)[0] if user else []
    return render_template("organisations/list.html", rows=rows, total=total, q=q or "", mine=mine, user=user,
                           notice=session.pop("flash", None))


@bp.route("/organisations/new", methods=["GET", "POST"])
def new():
    """Register an organisation (confirmed accounts; the others are told why they cannot)."""
    user = signed_in_or_login()
    allowed = policy.allows(db.session, user, "organisation.create")
    values, errors = request.form.to_dict(), {}
    if request.method == "POST" and allowed:
        org_values, errors = _organisation_values(values)
        if not errors:
            try:
                org = services.register_organisation(db.session, user, org_values)
                _flash(_("Your organisation is registered: moderators will verify it before its missions are public."))
                return redirect(url_for(".page", organisation_id=org.id))
            except AppError as exc:
                errors = refusal_errors(exc)
    return render_template("organisations/new.html", values=values, errors=errors, allowed=allowed), \
        422 if errors else 200


def _organisation_values(form: dict) -> tuple[dict, dict]:
    """The form as the service's values, or the fields' errors (the typed text kept by the page)."""
    errors = {}
    text = {k: (form.get(k) or "").strip() for k in ("name", "rna", "siren", "description", "address",
                                                      "website", "contact_email", "contact_phone")}
    if not text["name"]:
        errors["name"] = _("Give the organisation's name.")
    rna = text["rna"].replace(" ", "").upper() or None
    siren = re.sub(r"[\s.]", "", text["siren"]) or None
    if rna and not RNA.match(rna):
        errors["rna"] = _("An RNA number is a W followed by 9 digits, e.g. W751234567.")
    if siren and not SIREN.match(siren):
        errors["siren"] = _("A SIREN number has 9 digits.")
    if not rna and not siren:
        errors["rna"] = _("Give the RNA number or the SIREN number.")
    website = text["website"] or None
    if website and not website.startswith(("http://", "https://")):
        website = "https://" + website
    if website and (" " in website or "." not in website):
        errors["website"] = _("A web address is expected, e.g. https://example.org.")
    if text["contact_email"] and not EMAIL.match(text["contact_email"]):
        errors["contact_email"] = _("An e-mail address is expected.")
    for field, limit in (("name", services.NAME_MAX), ("description", services.ORG_DESCRIPTION_MAX),
                         ("address", services.ADDRESS_MAX), ("website", services.URL_MAX),
                         ("contact_phone", services.PHONE_MAX)):
        if len(text[field]) > limit:
            errors[field] = _("At most %(max)s characters.", max=limit)
    values = {"name": text["name"], "rna": rna, "siren": siren, "description": text["description"],
              "address": text["address"], "geometry": _geocoded(text["address"]), "website": website,
              "contact_email": text["contact_email"] or None, "contact_phone": text["contact_phone"] or None}
    return values, errors


def _geocoded(address: str) -> Point | None:
    if not address:
        return None
    found = geocode(db.session, address, 1)
    if not found:
        return None
    lon, lat = found[0]["geometry"]["coordinates"]
    return Point(lon, lat)


@bp.get("/organisations/<id:organisation_id>")
def page(organisation_id: int):
    """An organisation's card and open missions; to its members its status, the edit form,
    the members and every mission in every state."""
    user = current_user()
    org = _readable_org(organisation_id)
    out = services.organisation_out(db.session, org, user)
    open_missions = services.list_missions(db.session, None, {"organisation": org.id, "limit": 100, "offset": 0})[0]
    all_missions = []
    if out["can_manage"]:
        all_missions = services.list_missions(db.session, user, {"organisation": org.id, "status": MISSION_STATUSES,
                                                                 "limit": 100, "offset": 0})[0]
    stored = session.pop("org_form", None)
    return render_template("organisations/page.html", org=org, out=out, open_missions=open_missions,
                           all_missions=all_missions, user=user,
                           is_owner=user is not None and (user.id in org.owner_ids),
                           values=stored["values"] if stored else _org_form_values(org),
                           errors=session.pop("org_errors", {}), notice=session.pop("flash", None))


def _org_form_values(org) -> dict:
    return {"name": org.name, "rna": org.rna or "", "siren": org.siren or "", "description": org.description,
            "address": org.address, "website": org.website or "", "contact_email": org.contact_email or "",
            "contact_phone": org.contact_phone or ""}


def _back_to_org(organisation_id: int, errors: dict | None = None, done: str | None = None, values=None):
    if errors:
        db.abandon()
        session["org_errors"] = errors
        if values is not None:
            session["org_form"] = {"values": values}
    elif done:
        _flash(done)
    anchor = "edit" if values is not None and errors else None
    return redirect(url_for(".page", organisation_id=organisation_id, _anchor=anchor))


@bp.post("/organisations/<id:organisation_id>/edit")
def edit(organisation_id: int):
    user = signed_in_or_login()
    values = request.form.to_dict()
    values.pop("csrf_token", None)
    changes, errors = _organisation_values(values)
    if not errors:
        try:
            org = _readable_org(organisation_id, lock=True)
            if changes["address"] == org.address:
                del changes["geometry"]  # an unchanged address keeps its point
            services.update_organisation(db.session, org, user, changes)
        except AppError as exc:
            errors = refusal_errors(exc)
    return _back_to_org(organisation_id, errors, _("The organisation is saved."), values)


@bp.post("/organisations/<id:organisation_id>/members")
def add_member(organisation_id: int):
    user = signed_in_or_login()
    email = (request.form.get("email") or "").strip()
    role = request.form.get("role") if request.form.get("role") in ("owner", "member") else "member"
    errors = {} if EMAIL.match(email) else {"email": _("An e-mail address is expected.")}
    if not errors:
        try:
            services.add_member(db.session, _readable_org(organisation_id, lock=True), user, email, role)
        except AppError as exc:
            errors = refusal_errors(exc)
    return _back_to_org(organisation_id, {f"member_{k}": v for k, v in errors.items()},
                        _("The member is added."))


@bp.post("/organisations/<id:organisation_id>/members/<id:user_id>/remove")
def remove_member(organisation_id: int, user_id: int):
    user = signed_in_or_login()
    try:
        services.remove_member(db.session, _readable_org(organisation_id, lock=True), user, user_id)
    except AppError as exc:
        return _back_to_org(organisation_id, {"members": refusal_errors(exc).popitem()[1]})
    if user_id == user.id:
        _flash(_("You left the organisation."))
        return redirect(url_for(".list_page"))
    return _back_to_org(organisation_id, None, _("The member is removed."))


# ---- missions ---------------------------------------------------------------------------------

@bp.route("/organisations/<id:organisation_id>/missions/new", methods=["GET", "POST"])
def new_mission(organisation_id: int):
    """Draft a mission of the organisation (its members)."""
    user = signed_in_or_login()
    org = _readable_org(organisation_id)
    if not policy.allows(db.session, user, "organisation.manage", org):
        raise Forbidden("forbidden")
    form, errors = _blank_mission_form(), {}
    if request.method == "POST":
        form = _posted_form()
        values, errors = _mission_values(form, with_schedule=True)
        if not errors:
            try:
                mission = services.create_mission(db.session, org, user, values)
                _flash(_("The mission is saved as a draft: publish it when it is ready."))
                return redirect(f"/missions/{mission.id}")
            except AppError as exc:
                db.abandon()
                errors = _remap(refusal_errors(exc), values)
    return _mission_page(org, None, form, errors)


@bp.route("/missions/<id:mission_id>/edit", methods=["GET", "POST"])
def edit_mission(mission_id: int):
    """Edit a mission: its schedule only while it is a draft; the state buttons."""
    user = signed_in_or_login()
    mission = services.mission_readable(db.session, mission_id, user)
    if not policy.allows(db.session, user, "organisation.manage", mission):
        raise Forbidden("forbidden")
    form, errors = _mission_form_of(mission), session.pop("mission_errors", {})
    if request.method == "POST":
        form = _posted_form()
        draft = mission.status == "draft"
        values, errors = _mission_values(form, with_schedule=draft)
        if not errors:
            changes = {k: v for k, v in values.items()
                       if draft or k not in ("schedule", "slots", "recurrence", "period")}
            try:
                services.update_mission(db.session, mission, user, changes)
                _flash(_("The mission is saved."))
                return redirect(f"/missions/{mission.id}")
            except AppError as exc:
                db.abandon()
                errors = _remap(refusal_errors(exc), values)
    return _mission_page(mission.organisation, mission, form, errors)


def _mission_page(org, mission, form: dict, errors: dict):
    return render_template("organisations/mission_form.html", org=org, mission=mission, form=form, errors=errors,
                           notice=session.pop("flash", None), limits=services,
                           map_config=web_services.basemap()), 422 if errors else 200


@bp.post("/missions/<id:mission_id>/state")
def mission_state(mission_id: int):
    """Publish, close, reopen or cancel (with a reason) a mission."""
    user = signed_in_or_login()
    action = request.form.get("action")
    reason = (request.form.get("reason") or "").strip()[:services.REASON_MAX] or None
    back = request.form.get("back") or "edit"
    try:
        mission = services.mission_readable(db.session, mission_id, user, lock=True)
        if action not in services.STATE_ACTIONS:
            raise Forbidden("forbidden")
        services.change_state(db.session, mission, user, action, reason)
        _flash({"publish": _("The mission is published."), "close": _("The mission is closed."),
                "reopen": _("The mission is open again."), "cancel": _("The mission is cancelled.")}[action])
    except AppError as exc:
        db.abandon()
        session["mission_errors"] = {"state": " ".join(refusal_errors(exc).values())}
        if back == "organisation":
            session["org_errors"] = session.pop("mission_errors")
    if back == "organisation":
        org_id = request.form.get("organisation", type=int)
        return redirect(url_for(".page", organisation_id=org_id, _anchor="missions"))
    return redirect(url_for(".edit_mission", mission_id=mission_id, _anchor="state"))


def _blank_mission_form() -> dict:
    return {"title": "", "description": "", "domain": "", "activities": [], "remote": "no",
            "places": [], "schedule": "one_off", "slots": [], "recurrence": {"weekdays": []}, "period": {},
            "min_age": "", "skills": "", "accessibility": "", "reduced_mobility_accessible": False,
            "links": {}}


def _posted_form() -> dict:
    """The posted form as the page shows it again (every typed value kept)."""
    f = request.form
    rows = zip(f.getlist("place_label"), f.getlist("place_address"), f.getlist("place_lon"),
               f.getlist("place_lat"), strict=False)
    slots = zip(f.getlist("slot_date"), f.getlist("slot_start"), f.getlist("slot_end"),
                f.getlist("slot_capacity"), strict=False)
    return {
        "title": f.get("title", ""), "description": f.get("description", ""), "domain": f.get("domain", ""),
        "activities": [a for a in f.getlist("activities") if a in ACTIVITIES], "remote": f.get("remote", "no"),
        "places": [{"label": a, "address": b, "lon": c, "lat": d} for a, b, c, d in rows],
        "schedule": f.get("schedule", "one_off"),
        "slots": [{"date": a, "start": b, "end": c, "capacity": d} for a, b, c, d in slots],
        "recurrence": {"weekdays": f.getlist("rec_weekday"), "start": f.get("rec_start", ""),
                       "end": f.get("rec_end", ""), "from": f.get("rec_from", ""), "until": f.get("rec_until", ""),
                       "capacity": f.get("rec_capacity", "")},
        "period": {"start": f.get("period_start", ""), "end": f.get("period_end", ""),
                   "capacity": f.get("period_capacity", "")},
        "min_age": f.get("min_age", ""), "skills": f.get("skills", ""), "accessibility": f.get("accessibility", ""),
        "reduced_mobility_accessible": f.get("reduced_mobility_accessible") == "on",
        "links": {k: f.get(f"link_{k}", "") for k in (*LINK_KINDS, "hotspot_address", "hotspot_radius",
                                                      "hotspot_lon", "hotspot_lat")},
    }


def _mission_form_of(mission) -> dict:
    """A saved mission as the form shows it (Paris wall-clock times)."""
    from geoalchemy2.shape import to_shape

    form = _blank_mission_form()
    form.update(title=mission.title, description=mission.description, domain=mission.domain,
                activities=list(mission.activities), remote=mission.remote, schedule=mission.schedule,
                min_age="" if mission.min_age is None else str(mission.min_age), skills=", ".join(mission.skills),
                accessibility=mission.accessibility,
                reduced_mobility_accessible=mission.reduced_mobility_accessible)
    form["places"] = [{"label": p.label, "address": "", "lon": f"{to_shape(p.geom).x:.6f}",
                       "lat": f"{to_shape(p.geom).y:.6f}"} for p in mission.places]
    if mission.schedule == "one_off":
        form["slots"] = [{"date": _paris(s.starts_at).date().isoformat(), "start": _paris(s.starts_at).strftime("%H:%M"),
                          "end": _paris(s.ends_at).strftime("%H:%M") if s.ends_at else "",
                          "capacity": str(s.capacity)} for s in mission.slots]
    elif mission.schedule == "recurring" and mission.recurrence:
        r = mission.recurrence
        form["recurrence"] = {"weekdays": [str(d) for d in r["weekdays"]], "start": r["start_time"],
                              "end": r["end_time"], "from": r["from_date"], "until": r["until_date"],
                              "capacity": str(r["capacity"])}
    elif mission.slots:
        s = mission.slots[0]
        form["period"] = {"start": _paris(s.starts_at).date().isoformat(),
                          "end": _paris(s.ends_at).date().isoformat() if s.ends_at else "", "capacity": str(s.capacity)}
    for link in mission.links:
        if link.kind == "hotspot":
            c = to_shape(link.center)
            form["links"].update(hotspot_lon=f"{c.x:.6f}", hotspot_lat=f"{c.y:.6f}", hotspot_radius=str(link.radius_m))
        else:
            form["links"][link.kind] = str(getattr(link, f"{link.kind}_id"))
    return form


def _mission_values(form: dict, *, with_schedule: bool) -> tuple[dict, dict]:
    """The form as the service's values, or the fields' errors (keyed as the page's fields)."""
    errors: dict[str, str] = {}
    title, description = form["title"].strip(), form["description"].strip()
    if not services.TITLE_MIN <= len(title) <= services.TITLE_MAX:
        errors["title"] = _("Between %(min)s and %(max)s characters.", min=services.TITLE_MIN, max=services.TITLE_MAX)
    if not description:
        errors["description"] = _("Describe the mission.")
    elif len(description) > services.DESCRIPTION_MAX:
        errors["description"] = _("At most %(max)s characters.", max=services.DESCRIPTION_MAX)
    if form["domain"] not in DOMAINS:
        errors["domain"] = _("Choose a domain.")
    if form["remote"] not in REMOTE_LABELS:
        errors["remote"] = _("Choose on site or remote.")
    values = {"title": title, "description": description, "domain": form["domain"],
              "activities": form["activities"], "remote": form["remote"],
              "places": _places(form["places"], errors),
              "min_age": _int(form["min_age"], "min_age", errors, 0, 99),
              "skills": [s.strip()[:services.ITEM_MAX] for s in form["skills"].split(",") if s.strip()]
              [:services.LIST_ITEMS_MAX],
              "accessibility": form["accessibility"].strip()[:services.DESCRIPTION_MAX],
              "reduced_mobility_accessible": form["reduced_mobility_accessible"],
              "links": _links(form["links"], errors)}
    if with_schedule:
        values.update(_schedule(form, errors))
    return values, errors


def _int(text: str, field: str, errors: dict, low: int, high: int) -> int | None:
    text = (text or "").strip()
    if not text:
        return None
    if not text.isdigit() or not low <= int(text) <= high:
        errors[field] = _("A whole number from %(min)s to %(max)s is expected.", min=low, max=high)
        return None
    return int(text)


def _places(rows: list[dict], errors: dict) -> list[dict]:
    """Each filled row: its address geocoded, else the point clicked on the map. `_row`
    remembers each place's row on the page, for the service's errors."""
    places = []
    for i, row in enumerate(rows):
        label, address = row["label"].strip()[:services.LABEL_MAX], row["address"].strip()
        point = None
        if address:
            point = _geocoded(address)
            if point is None:
                errors[f"place_{i}"] = _("No such address in Paris: check it, or click the place on the map.")
        elif row["lon"] and row["lat"]:
            try:
                point = Point(float(row["lon"]), float(row["lat"]))
            except ValueError:
                errors[f"place_{i}"] = _("Give an address, or click the place on the map.")
        elif label:
            errors[f"place_{i}"] = _("Give an address, or click the place on the map.")
        if point is not None:
            places.append({"label": label or address, "geometry": point, "_row": i})
    return places


def _time_of(text: str) -> time | None:
    try:
        return time.fromisoformat(text) if text else None
    except ValueError:
        return None


def _date_of(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _schedule(form: dict, errors: dict) -> dict:
    """The chosen schedule's slots, recurrence or period, Paris times made aware."""
    kind = form["schedule"] if form["schedule"] in SCHEDULES else "one_off"
    out = {"schedule": kind, "slots": None, "recurrence": None, "period": None}
    bad_date, bad_time = _("A date is expected."), _("A time is expected (HH:MM).")
    if kind == "one_off":
        slots = []
        for i, row in enumerate(form["slots"]):
            if not any(v.strip() for v in row.values()):
                continue
            day, start, end = _date_of(row["date"]), _time_of(row["start"]), _time_of(row["end"])
            capacity = _int(row["capacity"], f"slot_{i}_capacity", errors, *services.CAPACITY[:2])
            if day is None:
                errors[f"slot_{i}_date"] = bad_date
            if start is None:
                errors[f"slot_{i}_start"] = bad_time
            if end is None:
                errors[f"slot_{i}_end"] = bad_time
            if capacity is None:
                errors.setdefault(f"slot_{i}_capacity", _("Give the number of volunteers."))
            if None not in (day, start, end, capacity):
                slots.append({"starts_at": _aware(day, start), "ends_at": _aware(day, end), "capacity": capacity,
                              "_row": i})
        if not slots and not any(k.startswith("slot_") for k in errors):
            errors["slots"] = _("Give at least one date.")
        out["slots"] = slots
    elif kind == "recurring":
        r = form["recurrence"]
        days = sorted({int(d) for d in r["weekdays"] if d.isdigit() and int(d) < 7})
        start, end = _time_of(r["start"]), _time_of(r["end"])
        first, last = _date_of(r["from"]), _date_of(r["until"])
        capacity = _int(r["capacity"], "rec_capacity", errors, *services.CAPACITY[:2])
        for field, value, text in (("rec_start", start, bad_time), ("rec_end", end, bad_time),
                                   ("rec_from", first, bad_date), ("rec_until", last, bad_date),
                                   ("rec_capacity", capacity, _("Give the number of volunteers."))):
            if value is None:
                errors.setdefault(field, text)
        if not days:
            errors["rec_weekday"] = _("Choose at least one day.")
        out["recurrence"] = {"weekdays": days, "start_time": start, "end_time": end, "from_date": first,
                             "until_date": last, "capacity": capacity}
    else:
        p = form["period"]
        first, last = _date_of(p["start"]), _date_of(p["end"])
        capacity = _int(p["capacity"], "period_capacity", errors, *services.CAPACITY[:2])
        if first is None:
            errors["period_start"] = bad_date
        if p["end"] and last is None:
            errors["period_end"] = bad_date
        if capacity is None:
            errors.setdefault("period_capacity", _("Give the number of volunteers."))
        out["period"] = {"starts_at": _aware(first, time(0)) if first else None,
                         "ends_at": _aware(last, time(23, 59)) if last else None, "capacity": capacity}
    return out


def _aware(day: date, at: time) -> datetime:
    """A Paris wall-clock time (the later of an ambiguous hour, as app.missions.schedule)."""
    return datetime.combine(day, at, tzinfo=PARIS)


def _links(form: dict, errors: dict) -> list[dict]:
    links = []
    for kind in LINK_KINDS:
        text = (form.get(kind) or "").strip().lstrip("#")
        if text:
            if text.isdigit():
                links.append({"kind": kind, "id": int(text)})
            else:
                errors[f"link_{kind}"] = _("A number is expected.")
    address, radius = (form.get("hotspot_address") or "").strip(), (form.get("hotspot_radius") or "").strip()
    center = None
    if address:
        center = _geocoded(address)
        if center is None:
            errors["link_hotspot"] = _("No such address in Paris.")
    elif form.get("hotspot_lon") and form.get("hotspot_lat"):
        try:
            center = Point(float(form["hotspot_lon"]), float(form["hotspot_lat"]))
        except ValueError:
            center = None
    if center is not None:
        radius_m = _int(radius or "100", "link_hotspot_radius", errors, 10, 2000)
        if radius_m is not None:
            links.append({"kind": "hotspot", "center": center, "radius_m": radius_m})
    return links


def _remap(errors: dict, values: dict) -> dict:
    """The service's errors (`places.2`, `slots.0.ends_at`, `links.1.id`, `recurrence.weekdays`)
    under the page's field names."""
    out = {}
    for field, text in errors.items():
        parts = field.split(".")
        key = field
        if parts[0] == "slots" and len(parts) > 1 and parts[1].isdigit():
            row = (values.get("slots") or [])[int(parts[1])]["_row"] if int(parts[1]) < len(values.get("slots") or []) else 0
            key = f"slot_{row}_end" if parts[-1] == "ends_at" else f"slot_{row}_date"
        elif parts[0] == "places" and len(parts) > 1 and parts[1].isdigit():
            key = f"place_{values['places'][int(parts[1])]['_row']}"
        elif parts[0] == "links" and len(parts) > 1 and parts[1].isdigit():
            link = values["links"][int(parts[1])]
            key = f"link_{link['kind']}"
        elif parts[0] == "recurrence":
            key = {"weekdays": "rec_weekday", "end_time": "rec_end", "until_date": "rec_until"}.get(
                parts[-1], "rec_weekday")
        elif parts[0] == "period":
            key = "period_end" if parts[-1] == "ends_at" else "period_start"
        out[key] = text
    return out


# ---- moderation -------------------------------------------------------------------------------

@bp.get("/moderation/organisations")
def moderation():
    """The verification queue: pending first, filtered by status."""
    user = signed_in_or_login()
    if not policy.allows(db.session, user, "organisation.verify"):
        raise Forbidden("forbidden")
    status = request.args.get("status") if request.args.get("status") in ORGANISATION_STATUSES else None
    rows, total = services.list_organisations(db.session, user, status=status, mine=False, q=None,
                                              limit=100, offset=0)
    items = [services.organisation_out(db.session, org, user) for org in rows]
    for item, org in zip(items, rows, strict=True):
        item["created"] = org.created_at
    return render_template("organisations/moderation.html", items=items, total=total, status=status,
                           statuses=ORGANISATION_STATUSES, notice=session.pop("flash", None),
                           errors=session.pop("org_errors", {}))


@bp.post("/moderation/organisations/<id:organisation_id>/decision")
def decide(organisation_id: int):
    user = signed_in_or_login()
    decision = request.form.get("decision")
    reason = (request.form.get("reason") or "").strip()[:services.REASON_MAX] or None
    try:
        if decision not in services.VERIFICATIONS:
            raise Forbidden("forbidden")
        org = _readable_org(organisation_id, lock=True)
        services.verify_organisation(db.session, org, user, decision, reason)
        _flash({"verify": _("The organisation is verified; its owners are told."),
                "refuse": _("The organisation is refused; its owners are told why."),
                "suspend": _("The organisation is suspended; its owners are told why.")}[decision])
    except AppError as exc:
        if exc.status == 403:
            raise
        db.abandon()
        session["org_errors"] = {str(organisation_id): " ".join(refusal_errors(exc).values())}
    return redirect(url_for(".moderation", status=request.form.get("status") or None,
                            _anchor=f"organisation-{organisation_id}"))

