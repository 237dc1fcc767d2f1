"""Pages for field agents: /agent (the queue of reports in scope) and /agent/reports/<id>
(one report: location, photos, staff history, duplicates nearby, priority, transitions).

The pages only read; every change goes through the JSON API (app/field/views.py) from the
pages' scripts, with the session cookie and the CSRF header. Pages live in app/web, which
depends on app/field, never the other way round."""

from __future__ import annotations

import json
from datetime import datetime
from functools import wraps

from flask import Blueprint, redirect, render_template, request, url_for
from geoalchemy2.shape import to_shape

from app import policy
from app.accounts.auth import current_user
from app.api.contract import parse_query
from app.contributions.models import STATUSES
from app.db import db
from app.field import queries, services, workflow
from app.field.schemas import QueueQuery
from app.web import services as web_services
from app.web.i18n import current_lang

bp = Blueprint("agent_pages", __name__)


def is_agent(user) -> bool:
    return policy.allows(db.session, user, "reports.queue")


def requires_agent(view):
    """Agents, supervisors and admins; a signed-out browser is sent to the sign-in page."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        user = current_user()
        if user is None:
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
        if not is_agent(user):
            return render_template("agent/forbidden.html"), 403
        return view(*args, **kwargs)

    return wrapper


def _label(table: dict, code: str) -> str:
    return workflow.label(table, code, current_lang())


def choices() -> dict:
    return {
        "reasons": [(code, _label(workflow.REASON_LABELS, code)) for code in workflow.REJECTION_REASONS],
        "resolutions": [(code, _label(workflow.RESOLUTION_LABELS, code)) for code in workflow.RESOLUTIONS],
    }


@bp.get("/agent")
@requires_agent
def queue_page():
    """The queue: filters and sorts in the query string (the API's), the list server-side."""
    user, lang = current_user(), current_lang()
    # the API's filters; the page's GET form leaves unused ones empty
    filters = parse_query(QueueQuery, blanks_absent=True).filters_for(user)
    features, counts = queries.queue(db.session, filters, lang)
    items = json.loads("[" + features + "]")
    map_config = {
        **web_services.basemap(),
        # the same reports as the list: one marker each (the page holds at most `limit`);
        # reports are points (ck_contributions_report_is_point)
        "reports": [
            {"id": f["id"], "title": f["properties"]["title"], "priority": f["properties"]["priority"],
             "url": url_for("agent_pages.report_page", report_id=f["id"]),
             "lonlat": f["geometry"]["coordinates"]}
            for f in items
        ],
    }
    return render_template(
        "agent/queue.html", items=items, counts=counts, args=request.args, map_config=map_config,
        statuses=STATUSES["report"], priorities=workflow.PRIORITIES,
        categories=web_services.top_categories(db.session, "report", lang),
        arrondissements=web_services.arrondissements(db.session),
    )


@bp.get("/agent/reports/<id:report_id>")
@requires_agent
def report_page(report_id: int):
    user, lang = current_user(), current_lang()
    c = web_services.visible_contribution(db.session, report_id)
    if c is None or c.kind != "report":
        return render_template("not_found.html"), 404
    if not policy.allows(db.session, user, "report.transition", c):
        return render_template("agent/forbidden.html", out_of_scope=True), 403
    page = web_services.contribution_page(db.session, c, user, lang)
    point = to_shape(c.geom).representative_point()
    page_config = {
        "id": c.id, "status": c.status, "lon": round(point.x, 6), "lat": round(point.y, 6),
        "category": page["category"].code, "geometry": page["geometry"], **web_services.basemap(),
    }
    history = services.history(db.session, c, user)
    for event in history:
        event["moment"] = datetime.fromisoformat(event["at"])
    return render_template(
        "agent/report.html", **page, point=point, page_config=page_config,
        staff_history=history,
        targets=workflow.allowed_targets(c.status), priorities=workflow.PRIORITIES,
        lang=lang, **choices(),
    )
