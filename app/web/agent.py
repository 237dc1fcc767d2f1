"""Pages for field agents: /agent (the queue of reports in scope) and /agent/reports/<id>
(one report: location, photos, staff history, duplicates nearby, priority, transitions).

The pages only read; every change goes through the JSON API (app/field/views.py) from the
pages' scripts, with the session cookie and the CSRF header. Pages live in app/web, which
depends on app/field, never the other way round."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import date, datetime, timedelta
from functools import wraps

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from geoalchemy2.shape import to_shape
from pydantic import ValidationError
from sqlalchemy import select

from app import policy
from app.accounts.auth import current_user
from app.api.contract import validation_failed
from app.contributions.models import STATUSES
from app.db import db
from app.field import queries, services, workflow
from app.field.models import StatusEvent
from app.field.schemas import QueueQuery
from app.web import services as web_services
from app.web.i18n import current_lang, status_label

bp = Blueprint("agent_pages", __name__)

PAGE_SIZE = 50  # reports per page of the queue: light enough for a phone in the street
PAGE_ONLY = ("page", "changed", "to")  # the page's own parameters, not the API's filters
BATCH_TARGETS = ("acknowledged", "scheduled")


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


def _ids(raw: str) -> list[int]:
    """The report ids of `?changed=` (a batch's, at most BATCH_MAX), junk left out."""
    return [int(part) for part in raw.split(",")[:workflow.BATCH_MAX]
            if part.isdigit() and len(part) < 12]


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and len(raw) < 7 and int(raw) > 0 else 1


def queue_url(args: dict, **changes) -> str:
    """The queue with the same filters (blank ones left out), `changes` applied."""
    params = {k: v for k, v in {**args, **changes}.items() if v not in ("", None)}
    if params.get("page") == 1:
        del params["page"]
    return url_for("agent_pages.queue_page", **params)


@bp.get("/agent")
@requires_agent
def queue_page():
    """The queue: filters and sorts in the query string (the API's), the list server-side,
    one page of PAGE_SIZE at a time with the total."""
    user, lang = current_user(), current_lang()
    args = {k: v for k, v in request.args.items() if v != ""}
    filter_args = {k: v for k, v in args.items() if k not in PAGE_ONLY}
    if "changed" in args:  # back from a batch (queue.js): say what changed, once
        ids, to = _ids(args["changed"]), args.get("to")
        if to in BATCH_TARGETS and ids:
            n = queries.recent_changes(db.session, user.id, ids, to)
            if n:
                session["flash"] = ngettext("%(num)s report changed to “%(status)s”.",
                                            "%(num)s reports changed to “%(status)s”.", n,
                                            status=status_label("report", to))
        return redirect(queue_url({k: v for k, v in args.items() if k not in ("changed", "to")}))
    try:  # the API's filters; the page's GET form leaves unused ones empty
        query = QueueQuery.model_validate(filter_args)
    except ValidationError as exc:
        raise validation_failed(exc, query=True) from None
    filters = query.filters_for(user)
    page = _page_number(args.get("page"))
    features, counts = queries.queue(
        db.session, replace(filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE), lang)
    total = sum(counts.get(s, 0) for s in filters.statuses)  # counts: every status, same filters
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if page > pages:  # past the end (the queue shrank): the last page
        page = pages
        features, counts = queries.queue(
            db.session, replace(filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE), lang)
    items = json.loads("[" + features + "]")
    extras = queries.queue_page_extras(db.session, [f["id"] for f in items])
    for f in items:
        p = f["properties"]
        extra = extras.get(f["id"], {})
        p["reopened"] = bool(extra.get("reopened")) and p["status"] not in workflow.CLOSED
        p["thumbnail_url"] = (url_for("contributions.photo", name=f"{extra['photo']}.thumb.jpg")
                              if extra.get("photo") else None)
        p["created"] = datetime.fromisoformat(p["created_at"]) if p.get("created_at") else None
        p["planned"] = date.fromisoformat(p["planned_for"]) if p.get("planned_for") else None
        lon, lat = f["geometry"]["coordinates"] if f["geometry"]["type"] == "Point" else (None, None)
        p["lonlat"] = (round(lon, 6), round(lat, 6)) if lon is not None else None
    map_config = {
        **web_services.basemap(),
        # the same reports as the list: one marker each (the page holds at most PAGE_SIZE);
        # reports are points (ck_contributions_report_is_point)
        "reports": [
            {"id": f["id"], "title": f["properties"]["title"], "priority": f["properties"]["priority"],
             "url": url_for("agent_pages.report_page", report_id=f["id"]),
             "lonlat": f["geometry"]["coordinates"]}
            for f in items
        ],
    }
    first = (page - 1) * PAGE_SIZE + 1 if items else 0
    paging = {
        "page": page, "pages": pages, "total": total, "first": first,
        "last": first + len(items) - 1 if items else 0,
        "previous": queue_url(filter_args, page=page - 1) if page > 1 else None,
        "next": queue_url(filter_args, page=page + 1) if page < pages else None,
    }
    return render_template(
        "agent/queue.html", items=items, counts=counts, args=filter_args, map_config=map_config,
        paging=paging, notice=session.pop("flash", None),
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
    changed = request.args.get("changed", "")
    if changed:  # back from a status change (report.js): say it was saved, once
        event = session_event(report_id, changed, user.id)
        if event is not None:
            session["flash"] = _("Saved: the status is now “%(status)s”.",
                                 status=status_label("report", event.to_status))
        return redirect(url_for("agent_pages.report_page", report_id=report_id))
    page = web_services.contribution_page(db.session, c, user, lang)
    point = to_shape(c.geom).representative_point()
    page_config = {
        "id": c.id, "status": c.status, "lon": round(point.x, 6), "lat": round(point.y, 6),
        "category": page["category"].code, "geometry": page["geometry"], **web_services.basemap(),
    }
    history = services.history(db.session, c, user)
    for event in history:
        event["moment"] = datetime.fromisoformat(event["at"])
        event["planned_date"] = date.fromisoformat(event["planned_for"]) if event["planned_for"] else None
    return render_template(
        "agent/report.html", **page, point=point, page_config=page_config,
        staff_history=history,
        targets=workflow.allowed_targets(c.status), priorities=workflow.PRIORITIES,
        lang=lang, notice=session.pop("flash", None), **choices(),
    )


def session_event(report_id: int, raw_id: str, actor_id: int) -> StatusEvent | None:
    """The status change `raw_id` of this report, if this user made it in the last minutes."""
    if not raw_id.isdigit() or len(raw_id) > 12:
        return None
    event = db.session.scalar(select(StatusEvent).where(
        StatusEvent.id == int(raw_id), StatusEvent.contribution_id == report_id,
        StatusEvent.actor_id == actor_id))
    if event is None or datetime.now(event.created_at.tzinfo) - event.created_at > timedelta(minutes=10):
        return None
    return event
