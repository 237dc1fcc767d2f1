"""Area alerts API: my alerts (list, create, read, delete), private to their account."""

from __future__ import annotations

from flask import Blueprint, url_for

from app import policy
from app.accounts.auth import current_user
from app.alerts import services
from app.alerts.schemas import AlertInput, AlertOut, AlertsOut
from app.api.contract import Reply, operation
from app.db import db
from app.messages import current_language

bp = Blueprint("alerts", __name__)
TAGS = ("Area alerts",)
ALERTS = "/api/v1/me/alerts"
ALERT = ALERTS + "/<id:alert_id>"
NOT_MINE = {404: "No such alert of yours (`alert_not_found`): another account's is not found either."}


@operation(bp, "GET", ALERTS, tags=TAGS, auth="required",
           replies={200: Reply("My alerts, the oldest first.", AlertsOut)})
def alerts_view():
    """My area alerts"""
    lang = current_language()
    return {"max": services.ALERTS_MAX,
            "alerts": [services.alert_out(db.session, a, lang) for a in services.list_alerts(db.session, current_user())]}


@operation(bp, "POST", ALERTS, body=AlertInput, tags=TAGS, auth=policy.roles("alert.create"),
           problems={403: "The e-mail address is not confirmed (`email_unverified`).",
                     409: "Already following this area (`alert_exists`); at most 20 alerts (`too_many_alerts`).",
                     422: "Invalid input: the chosen area's member missing (`required`), another area's "
                          "given (`not_allowed`), a point outside Paris, a radius out of range…"},
           replies={201: Reply("The alert: its first e-mail tells what is new from now on.", AlertOut,
                               headers=("Location",))})
def create_alert_view(body: AlertInput):
    """Follow an area

    An arrondissement, a quartier or a radius (100 to 2,000 m) around a point; a daily
    e-mail then tells the new public reports and proposals there."""
    alert = services.create_alert(db.session, current_user(), body.values())
    return (services.alert_out(db.session, alert, current_language()), 201,
            {"Location": url_for("alerts.alert_view", alert_id=alert.id)})


@operation(bp, "GET", ALERT, tags=TAGS, auth="required", problems=NOT_MINE,
           replies={200: Reply("The alert.", AlertOut)})
def alert_view(alert_id: int):
    """Read one of my area alerts"""
    alert = services.alert_of(db.session, current_user(), alert_id)
    return services.alert_out(db.session, alert, current_language())


@operation(bp, "DELETE", ALERT, tags=TAGS, auth=policy.roles("account.manage"), problems=NOT_MINE,
           replies={204: Reply("Deleted: no more e-mail for this area.")})
def delete_alert_view(alert_id: int):
    """Stop following an area"""
    services.delete_alert(db.session, services.alert_of(db.session, current_user(), alert_id))
    return "", 204
