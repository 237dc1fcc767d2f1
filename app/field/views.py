"""Field workflow API: transitions, history, priority, assignment, follows, residents'
feedback, the agents' queue and batch actions, agent scopes, Atom feeds."""

from __future__ import annotations

import json
from datetime import date

from flask import Blueprint, Response, current_app, request

from app.accounts.auth import current_user, requires_auth, requires_role
from app.accounts.models import User
from app.areas.services import category_index
from app.contributions import photos as photo_files
from app.contributions.models import STATUS_GROUPS, STATUSES
from app.contributions.views import PLURAL, load_or_404
from app.db import db
from app.errors import BadRequest, FieldError, NotFound, ValidationFailed
from app.field import feeds, queries, services, workflow
from app.field.services import TransitionRequest
from app.messages import current_language
from app.schemas import Fields, json_body, query_float, query_int

bp = Blueprint("field", __name__)
GEOJSON = "application/geo+json"


def _date(fields: Fields, name: str) -> date | None:
    raw = fields.data.get(name)
    if raw in (None, ""):
        return None
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        fields.error(name, "invalid_date")
        return None


def transition_from_request() -> TransitionRequest:
    """JSON body, or multipart with a `transition` JSON part and an optional `photo`."""
    photo_sha = None
    if request.mimetype == "multipart/form-data":
        try:
            data = json.loads(request.form.get("transition", ""))
        except ValueError:
            raise BadRequest(params={"reason": "the transition part is not valid JSON"}) from None
        upload = request.files.get("photo")
        if upload is not None and upload.filename:
            cfg = current_app.config
            try:
                photo = photo_files.process(upload.stream.read(cfg["PHOTO_MAX_BYTES"] + 1),
                                            cfg["PHOTO_MAX_BYTES"])
            except photo_files.PhotoRejected as exc:
                raise ValidationFailed([FieldError("photo", exc.code)]) from None
            from flask import g

            g.setdefault("new_media_files", []).extend(photo_files.store(cfg["MEDIA_DIR"], photo))
            photo_sha = photo.sha256
    else:
        data = json_body()
    if not isinstance(data, dict):
        raise BadRequest(params={"reason": "a JSON object is expected"})
    fields = Fields(data)
    to = fields.string("to", max_len=20)
    if to is not None and to not in workflow.TRANSITIONS:
        fields.error("to", "invalid_status")
    req = TransitionRequest(
        to=to or "",
        public_note=fields.string("public_note", required=False, max_len=2000) or None,
        internal_note=fields.string("internal_note", required=False, max_len=2000) or None,
        planned_for=_date(fields, "planned_for"),
        reason=fields.string("reason", required=False, max_len=30) or None,
        resolution=fields.string("resolution", required=False, max_len=20) or None,
        transferred_to=fields.string("transferred_to", required=False, max_len=2000) or None,
        photo_sha256=photo_sha,
    )
    dup = data.get("duplicate_of")
    if dup is not None:
        if isinstance(dup, bool) or not isinstance(dup, int):
            fields.error("duplicate_of", "not_a_number")
        else:
            req.duplicate_of = dup
    fields.done()
    return req


@bp.post("/api/v1/reports/<int:contribution_id>/transitions")
@requires_role("agent", "supervisor")
def post_transition(contribution_id: int):
    """Change a report's status (agents in scope, supervisors, admins)."""
    report = load_or_404("report", contribution_id)
    services.ensure_in_scope(db.session, current_user(), report)  # before storing any photo
    event = services.transition(db.session, report, current_user(), transition_from_request())
    return {"id": report.id, "status": report.status, "event_id": event.id,
            "history": services.history(db.session, report, staff=True)}, 201


@bp.get("/api/v1/reports/<int:contribution_id>/history")
def get_history(contribution_id: int):
    """Public history; staff also see internal notes and who acted."""
    report = load_or_404("report", contribution_id)
    user = current_user()
    return {"id": report.id, "status": report.status,
            "history": services.history(db.session, report, staff=bool(user and user.is_staff))}


@bp.put("/api/v1/reports/<int:contribution_id>/priority")
@requires_role("agent", "supervisor")
def put_priority(contribution_id: int):
    report = load_or_404("report", contribution_id)
    services.set_priority(db.session, report, current_user(), json_body().get("priority"))
    return {"id": report.id, "priority": report.priority}


@bp.put("/api/v1/reports/<int:contribution_id>/assignment")
@requires_role("supervisor")
def put_assignment(contribution_id: int):
    report = load_or_404("report", contribution_id)
    agent_id = json_body().get("agent_id")
    if agent_id is not None and (isinstance(agent_id, bool) or not isinstance(agent_id, int)):
        raise ValidationFailed([FieldError("agent_id", "not_a_number")])
    services.assign(db.session, report, current_user(), agent_id)
    return {"id": report.id, "assigned_to": report.assigned_to_id}


@bp.post("/api/v1/reports/<int:contribution_id>/feedback")
@requires_auth
def post_feedback(contribution_id: int):
    """Reporter or follower: {"value": "fixed"} or {"value": "still_there"} (reopens)."""
    report = load_or_404("report", contribution_id)
    services.feedback(db.session, report, current_user(), json_body().get("value"))
    return {"id": report.id, "status": report.status, "reopen_count": report.reopen_count}, 201


@requires_auth
def put_follow(kind: str, contribution_id: int):
    contribution = load_or_404(kind, contribution_id)
    return {"following": True,
            "followers_count": services.follow(db.session, contribution, current_user(), True)}


@requires_auth
def delete_follow(kind: str, contribution_id: int):
    contribution = load_or_404(kind, contribution_id)
    return {"following": False,
            "followers_count": services.follow(db.session, contribution, current_user(), False)}


for _kind, _plural in PLURAL.items():
    _url = f"/api/v1/{_plural}/<int:contribution_id>/follow"
    bp.add_url_rule(_url, f"{_kind}_follow_put", put_follow, methods=["PUT"], defaults={"kind": _kind})
    bp.add_url_rule(_url, f"{_kind}_follow_delete", delete_follow, methods=["DELETE"],
                    defaults={"kind": _kind})


def queue_filters(user: User) -> queries.QueueFilters:
    args, errors = request.args, []
    statuses: list[str] = []
    for s in (args.get("status") or "open").split(","):
        if s in STATUS_GROUPS["report"]:
            statuses += STATUS_GROUPS["report"][s]
        elif s in STATUSES["report"]:
            statuses.append(s)
        else:
            errors.append(FieldError("status", "invalid_status"))
    f = queries.QueueFilters(user_id=user.id, supervisor=user.has_role("supervisor"), statuses=statuses)
    if args.get("category"):
        f.category_ids = category_index(db.session).subtree_ids(args["category"], "report")
        if f.category_ids is None:
            errors.append(FieldError("category", "unknown_category"))
    if args.get("arrondissement"):
        try:
            f.arrondissements = [int(a) for a in args["arrondissement"].split(",")]
            if not all(1 <= a <= 20 for a in f.arrondissements):
                errors.append(FieldError("arrondissement", "out_of_range", {"min": 1, "max": 20}))
        except ValueError:
            errors.append(FieldError("arrondissement", "not_a_number"))
    if args.get("priority"):
        if args["priority"] not in workflow.PRIORITIES:
            errors.append(FieldError("priority", "invalid_value"))
        f.priority = args["priority"]
    f.sort = args.get("sort", "priority")
    if f.sort not in queries.SORTS:
        errors.append(FieldError("sort", "invalid_value"))
    if errors:
        raise ValidationFailed(errors)
    f.older_than_days = query_int("older_than_days", default=-1, lo=-1, hi=36500)
    f.older_than_days = None if f.older_than_days < 0 else f.older_than_days
    f.assigned_to_me = args.get("assigned") == "me"
    f.limit = query_int("limit", default=200, lo=1, hi=1000)
    if f.sort == "nearest":
        f.lon = query_float("lon", lo=-180, hi=180)
        f.lat = query_float("lat", lo=-90, hi=90)
    return f


@bp.get("/api/v1/agent/queue")
@requires_role("agent", "supervisor")
def agent_queue():
    """Reports in my scope, with counts per status (default: open, dangerous first)."""
    features, counts = queries.queue(db.session, queue_filters(current_user()), current_language())
    body = ('{"type":"FeatureCollection","counts":' + json.dumps(counts)
            + ',"features":[' + features + "]}")
    return Response(body, mimetype=GEOJSON)


@bp.post("/api/v1/agent/batch")
@requires_role("agent", "supervisor")
def agent_batch():
    """Acknowledge or schedule several reports at once; all or nothing."""
    data = json_body()
    ids = data.get("ids")
    if not isinstance(ids, list) or not ids or len(ids) > 500 or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ValidationFailed([FieldError("ids", "invalid_value")])
    if data.get("to") not in ("acknowledged", "scheduled"):
        raise ValidationFailed([FieldError("to", "invalid_value")])
    fields = Fields(data)
    template = TransitionRequest(
        to=data["to"], planned_for=_date(fields, "planned_for"),
        public_note=fields.string("public_note", required=False, max_len=2000) or None,
        internal_note=fields.string("internal_note", required=False, max_len=2000) or None)
    fields.done()
    done = []
    for report_id in dict.fromkeys(ids):
        report = load_or_404("report", report_id)
        services.transition(db.session, report, current_user(), TransitionRequest(**vars(template)))
        done.append({"id": report.id, "status": report.status})
    return {"updated": done}


@bp.put("/api/v1/agents/<int:user_id>/scopes")
@requires_role("admin")
def put_scopes(user_id: int):
    """Admin: set an agent's services and arrondissements, e.g.
    {"scopes": [{"service": "graffitis", "arrondissement": 11}, {"service": "voirie"}]}"""
    agent = db.session.get(User, user_id)
    if agent is None:
        raise NotFound()
    from app.areas.models import Service

    codes = {s.code: s.id for s in db.session.query(Service)}
    items = json_body().get("scopes")
    if not isinstance(items, list):
        raise ValidationFailed([FieldError("scopes", "invalid_value")])
    scopes, errors = [], []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(FieldError(f"scopes[{i}]", "invalid_value"))
            continue
        service, arr = item.get("service"), item.get("arrondissement")
        if service is not None and (not isinstance(service, str) or service not in codes):
            errors.append(FieldError(f"scopes[{i}].service", "invalid_value"))
            service = None
        if arr is not None and (isinstance(arr, bool) or not isinstance(arr, int) or not 1 <= arr <= 20):
            errors.append(FieldError(f"scopes[{i}].arrondissement", "out_of_range", {"min": 1, "max": 20}))
        scopes.append((codes.get(service), arr))
    if errors:
        raise ValidationFailed(errors)
    services.set_scopes(db.session, agent, scopes)
    return {"user_id": agent.id, "scopes": [
        {"service": next((c for c, i in codes.items() if i == s), None), "arrondissement": a}
        for s, a in scopes]}


@bp.get("/feeds/reports/<int:contribution_id>.atom")
def report_feed(contribution_id: int):
    """Atom feed of one report's public status changes."""
    report = load_or_404("report", contribution_id)
    return Response(feeds.report_feed(db.session, report, request.url_root),
                    mimetype="application/atom+xml")


@bp.get("/feeds/arrondissements/<int:number>.atom")
def arrondissement_feed(number: int):
    """Atom feed of an arrondissement: new contributions and status changes."""
    if not 1 <= number <= 20:
        raise NotFound()
    return Response(feeds.arrondissement_feed(db.session, number, request.url_root),
                    mimetype="application/atom+xml")
