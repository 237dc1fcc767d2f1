"""Pages of area alerts: "my alerts" (follow an arrondissement, a quartier or an address with
a radius; stop one), and the one-click unsubscribe page that the e-mails link to. The same
services as the API (app.alerts.services)."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from pydantic import ValidationError

from app import policy
from app.alerts import services
from app.alerts.models import AREAS
from app.alerts.schemas import AlertInput
from app.api.contract import field_errors as contract_field_errors
from app.areas.services import geocode
from app.db import db
from app.errors import AppError
from app.web.forms import field_errors, refusal_errors, signed_in_or_login
from app.web.i18n import current_lang
from app.web.security import check_csrf
from geo.text import fold

bp = Blueprint("alert_pages", __name__)
# the e-mail's one-click POST (RFC 8058) comes with neither cookie nor CSRF token: its signed
# token is its authority
TOKEN_ENDPOINTS = frozenset({"alert_pages.unsubscribe"})
SHOWN = ("arrondissement", "quartier", "address", "radius_m")  # the fields with an error line


@bp.before_request
def _check_csrf():
    if request.method == "POST" and request.endpoint not in TOKEN_ENDPOINTS:
        check_csrf()


@bp.get("/me/alerts")
def alerts_page():
    """The signed-in person's alerts and the forms to add one (`?arrondissement=` preselects)."""
    user = signed_in_or_login()
    return _page(user, chosen=request.args.to_dict(), notice=session.pop("flash", None))


def _page(user, chosen: dict, errors: dict | None = None, status: int = 200, notice: str | None = None):
    lang = current_lang()
    alerts = [{**services.alert_out(db.session, a, lang),
               "last_sent_words": format_date(a.last_sent_at, "long") if a.last_sent_at else None}
              for a in services.list_alerts(db.session, user)]
    arrondissements, quartiers = services.area_names(db.session)
    return render_template(
        "alerts/alerts.html", alerts=alerts, arrondissements=arrondissements, quartiers=quartiers,
        radii=services.RADII, default_radius=services.RADIUS_M[2], chosen=chosen,
        errors=errors or {}, notice=notice,
        may_create=policy.allows(db.session, user, "alert.create"), full=len(alerts) >= services.ALERTS_MAX,
        max=services.ALERTS_MAX), status


@bp.post("/me/alerts")
def create():
    """Add an alert from one of the page's three forms."""
    user = signed_in_or_login()
    form = request.form.to_dict()
    data, errors = _alert_input(form)
    if data is not None:
        try:
            services.create_alert(db.session, user, data.values())
        except AppError as exc:
            errors = refusal_errors(exc)
    if errors:
        return _page(user, chosen=form, errors=_on_the_page(errors), status=422)
    session["flash"] = _("Alert added: you will get an e-mail on the days something new appears there.")
    return redirect(url_for(".alerts_page") + "#my-alerts", 303)


def _on_the_page(errors: dict) -> dict:
    """Errors on the fields the page shows: the point is the address; others go to the form."""
    if "point" in errors:
        errors["address"] = errors.pop("point")
    shown = {name: errors.pop(name) for name in SHOWN if name in errors}
    if errors:
        shown["form"] = " ".join(errors.values())
    return shown


def _alert_input(form: dict):
    """(AlertInput, {}) from a page form, its address geocoded; or (None, errors)."""
    area = form.get("area") if form.get("area") in AREAS else "arrondissement"
    data: dict = {"area": area, "kinds": form.get("kinds") or "both"}
    if area == "radius":
        found = _geocoded(form.get("address", "").strip()[:200])
        if not found:
            return None, {"address": _("No address in Paris matches this text.") if form.get("address", "").strip()
                          else _("Give an address.")}
        data.update(point=found["geometry"], label=found["properties"]["label"],
                    radius_m=_number(form.get("radius_m")))
    else:
        data[area] = _number(form.get(area))
    try:
        return AlertInput.model_validate(data), {}
    except ValidationError as exc:
        return None, field_errors(contract_field_errors(exc))


def _number(value: str | None) -> int | str | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 6 else (value or None)


def _geocoded(address: str) -> dict | None:
    """The best address for the text, if it shares a word with it (the trigram search always
    answers something)."""
    if len(address) < 3:
        return None
    found = geocode(db.session, address, limit=1)
    words = {w for w in fold(address).split() if len(w) > 2 and not w.isdigit()}
    if found and words & set(fold(found[0]["properties"]["label"]).split()):
        return found[0]
    return None


@bp.post("/me/alerts/<id:alert_id>/delete")
def delete(alert_id: int):
    user = signed_in_or_login()
    alert = services.alert_of(db.session, user, alert_id)
    description = services.describe(db.session, alert, current_lang())
    services.delete_alert(db.session, alert)
    session["flash"] = _("Alert stopped: %(area)s.", area=description)
    return redirect(url_for(".alerts_page") + "#my-alerts", 303)


# ---- one-click unsubscribe ----------------------------------------------------------------------

@bp.route("/alerts/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    """GET: what the link stops, and a button. POST (the button, or a mail client's one-click
    `List-Unsubscribe=One-Click`): stop it. No sign-in: the signed token names the alert."""
    genuine, alert = services.alert_for_token(db.session, current_app.config["SECRET_KEY"], token[:400])
    if not genuine:
        return render_template("alerts/unsubscribe.html", state="invalid"), 404
    if alert is None:
        return render_template("alerts/unsubscribe.html", state="gone")
    description = services.describe(db.session, alert, current_lang())
    if request.method == "GET":
        return render_template("alerts/unsubscribe.html", state="confirm", description=description, token=token)
    services.delete_alert(db.session, alert)
    return render_template("alerts/unsubscribe.html", state="done", description=description)

