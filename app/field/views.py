"""Field workflow API: transitions, history, priority, assignment, follows, residents'
feedback, the agents' queue and batch actions, agent scopes, Atom feeds.

Each endpoint is declared once (app/api/contract.py); its bodies, query and answers are the
models of app/field/schemas.py."""

import json

from flask import Blueprint, Response, request
from werkzeug.datastructures import FileStorage

from app import policy
from app.accounts.auth import current_user
from app.api.contract import ATOM, GEOJSON, Multipart, Reply, operation
from app.contributions.media import store_photo
from app.contributions.schemas import ARRONDISSEMENTS, PLURAL
from app.contributions.services import visible_or_404
from app.db import db
from app.errors import NotFound
from app.field import feeds, queries, services, workflow
from app.field.schemas import (
    AgentQueue,
    AgentScopes,
    AssignmentInput,
    AssignmentResult,
    BatchInput,
    BatchResult,
    FeedbackInput,
    FeedbackResult,
    FollowState,
    PriorityInput,
    PriorityResult,
    QueueQuery,
    ReportHistory,
    ScopesInput,
    TransitionInput,
    TransitionResult,
)
from app.messages import current_language

bp = Blueprint("field", __name__)
FIELD, FEEDS = ("Field work",), ("Feeds",)
KIND_TAGS = {"report": ("Reports",), "proposal": ("Proposals",)}
REPORT = "/api/v1/reports/<id:contribution_id>"

ILLEGAL_TRANSITION = (
    "The workflow does not allow this change from the report's current status "
    "(`illegal_transition`); `from` is that status and `allowed` lists where it can go "
    "(possibly nowhere). Nothing was changed.")
OUT_OF_SCOPE = ("Not an agent, supervisor or admin (`forbidden`), or an agent acting on a "
                "report outside their services and arrondissements (`out_of_scope`); a write "
                "with the session cookie but without the CSRF header (`forbidden`).")
ATOM_FEED = {"type": "string", "contentMediaType": ATOM}


# ---- one report ---------------------------------------------------------------------------

@operation(bp, "POST", f"{REPORT}/transitions", body=TransitionInput, tags=FIELD,
           auth=policy.roles("report.transition"), idempotent=True,
           multipart=Multipart("transition", {"photo": (
               "A photo taken on site, e.g. of the work done (JPEG, PNG or WebP; a refused one "
               "is a 422 on `photo`).", 1)}),
           operation_id="transitionReport",
           problems={403: OUT_OF_SCOPE, 409: ILLEGAL_TRANSITION},
           replies={201: Reply("Changed; the whole history as staff see it.", TransitionResult)})
def post_transition(contribution_id: int, body: TransitionInput, uploads: dict[str, list[FileStorage]]):
    """Change a report's status

    Agents on reports in their scope (else `out_of_scope`), supervisors and admins. JSON, or
    `multipart/form-data` with the change as JSON text in the `transition` form field (not a
    file) and an optional `photo`. The step is added to the history and e-mailed to the
    reporter and the followers (not to whoever acted). Field codes of a 422: `required`,
    `invalid_status` (`to`), `invalid_value`, `invalid_date` and `date_in_past`
    (`planned_for`), `unknown_report` (`duplicate_of`), `too_long`, `not_a_string`,
    `not_a_number`, `unknown_field`."""
    report = visible_or_404(db.session, "report", contribution_id, lock=True)
    user = current_user()
    policy.require(db.session, user, "report.transition", report)  # before storing any photo
    photos = uploads.get("photo") or []
    photo_sha256 = store_photo(photos[0]) if photos else None
    event = services.transition(db.session, report, user, body.request(photo_sha256))
    return {"id": report.id, "status": report.status, "event_id": event.id,
            "history": services.history(db.session, report, user)}, 201


@operation(bp, "GET", f"{REPORT}/history", tags=KIND_TAGS["report"], auth="optional",
           operation_id="getReportHistory",
           replies={200: Reply("The history, oldest first.", ReportHistory)})
def get_history(contribution_id: int):
    """A report's status history

    Public. Signed-in staff also get the internal notes and who acted."""
    report = visible_or_404(db.session, "report", contribution_id)
    return {"id": report.id, "status": report.status,
            "history": services.history(db.session, report, current_user())}


@operation(bp, "PUT", f"{REPORT}/priority", body=PriorityInput, tags=FIELD,
           auth=policy.roles("report.prioritise"),
           operation_id="setReportPriority", problems={403: OUT_OF_SCOPE},
           replies={200: Reply("The priority.", PriorityResult)})
def put_priority(contribution_id: int, body: PriorityInput):
    """Set a report's priority

    Agents on reports in their scope, supervisors and admins."""
    report = visible_or_404(db.session, "report", contribution_id, lock=True)
    services.set_priority(db.session, report, current_user(), body.priority)
    return {"id": report.id, "priority": report.priority}


@operation(bp, "PUT", f"{REPORT}/assignment", body=AssignmentInput, tags=FIELD,
           auth=policy.roles("report.assign"), operation_id="assignReport",
           replies={200: Reply("The assignment.", AssignmentResult)})
def put_assignment(contribution_id: int, body: AssignmentInput):
    """Assign a report to an agent

    Supervisors and admins. `agent_id` null unassigns; an id that is not an agent's is
    `unknown_agent`, an agent whose scope does not cover the report `out_of_scope`."""
    report = visible_or_404(db.session, "report", contribution_id, lock=True)
    services.assign(db.session, report, current_user(), body.agent_id)
    return {"id": report.id, "assigned_to": report.assigned_to_id}


@operation(bp, "POST", f"{REPORT}/feedback", body=FeedbackInput, tags=KIND_TAGS["report"],
           auth=policy.roles("report.feedback"), operation_id="reportFeedback",
           problems={
               403: "Neither the reporter nor someone who followed it before its resolution "
                    "(`not_reporter_or_follower`), or a write with the session cookie but "
                    "without the CSRF header (`forbidden`).",
               409: f"The report is not resolved (`not_resolved`), was resolved more than "
                    f"{workflow.REOPEN_WINDOW_DAYS} days ago (`reopen_window_over`), or you "
                    "already answered since its resolution (`feedback_given`)."},
           replies={201: Reply("Recorded.", FeedbackResult)})
def post_feedback(contribution_id: int, body: FeedbackInput):
    """Confirm or contest a fix

    The reporter, or someone who followed it before its resolution, once per resolution,
    within the reopening window. `fixed` is recorded; `still_there` reopens the report."""
    report = visible_or_404(db.session, "report", contribution_id, lock=True)
    services.feedback(db.session, report, current_user(), body.value)
    return {"id": report.id, "status": report.status, "reopen_count": report.reopen_count}, 201


def _declare_follows(kind: str, plural: str) -> None:
    """PUT and DELETE /api/v1/<plural>/<id>/follow, one operation each per kind."""
    rule, title = f"/api/v1/{plural}/<id:contribution_id>/follow", kind.capitalize()
    reply = {200: Reply("Whether I follow it, and how many do.", FollowState)}

    def put_follow(contribution_id: int):
        contribution = visible_or_404(db.session, kind, contribution_id)
        return {"following": True,
                "followers_count": services.follow(db.session, contribution, current_user(), True)}

    def delete_follow(contribution_id: int):
        contribution = visible_or_404(db.session, kind, contribution_id)
        return {"following": False,
                "followers_count": services.follow(db.session, contribution, current_user(), False)}

    put_follow.__doc__ = (f"Follow a {kind}\n\nIdempotent. The followers of a report are e-mailed "
                          "its status changes and may confirm or contest its fix.")
    delete_follow.__doc__ = f"Stop following a {kind}\n\nIdempotent."
    for method, view, verb in (("PUT", put_follow, "follow"), ("DELETE", delete_follow, "unfollow")):
        operation(bp, method, rule, tags=KIND_TAGS[kind], auth=policy.roles("contribution.follow"),
                  replies=reply,
                  endpoint=f"{kind}_follow_{method.lower()}",
                  operation_id=f"{verb}{title}")(view)


for _kind, _plural in PLURAL.items():
    _declare_follows(_kind, _plural)


# ---- the agents' queue and batches ----------------------------------------------------------

@operation(bp, "GET", "/api/v1/agent/queue", query=QueueQuery, tags=FIELD,
           auth=policy.roles("reports.queue"),
           operation_id="agentQueue",
           replies={200: Reply("The reports, with counts per status.", AgentQueue, GEOJSON)})
def agent_queue(query: QueueQuery):
    """My queue of reports

    Agents and supervisors: the reports in my scope (a supervisor's is everything), open ones
    by default, dangerous first."""
    filters = query.filters_for(current_user())
    features, counts = queries.queue(db.session, filters, current_language())
    body = ('{"type":"FeatureCollection","counts":' + json.dumps(counts)
            + ',"features":[' + features + "]}")
    return Response(body, mimetype=GEOJSON)


@operation(bp, "POST", "/api/v1/agent/batch", body=BatchInput, tags=FIELD,
           auth=policy.roles("report.transition"),
           operation_id="agentBatch",
           problems={403: OUT_OF_SCOPE, 404: "One of the reports does not exist, or was "
                                              "withdrawn or hidden (`contribution_not_found`).",
                     409: ILLEGAL_TRANSITION},
           replies={200: Reply("Every report changed.", BatchResult)})
def agent_batch(body: BatchInput):
    """Acknowledge or schedule several reports

    All or nothing: one report out of scope, missing or in a status that cannot go there, and
    none is changed."""
    reports = services.batch(db.session, current_user(), body.ids, body.request())
    return {"updated": [{"id": r.id, "status": r.status} for r in reports]}


@operation(bp, "PUT", "/api/v1/agents/<id:user_id>/scopes", body=ScopesInput, tags=FIELD,
           auth=policy.roles("agents.set_scopes"), operation_id="setAgentScopes",
           problems={404: "No such user (`not_found`)."},
           replies={200: Reply("The scopes.", AgentScopes)})
def put_scopes(user_id: int, body: ScopesInput):
    """Set an agent's scopes

    Admins. Replaces the services and arrondissements the user may act on as an agent, and
    gives them the agent role, e.g. `{"scopes": [{"service": "graffitis", "arrondissement":
    11}, {"service": "voirie"}]}`. A service code that does not exist is `invalid_value` on
    `scopes[i].service`."""
    agent = services.set_scopes_by_code(db.session, current_user(), user_id,
                                        [(s.service, s.arrondissement) for s in body.scopes])
    return {"user_id": agent.id,
            "scopes": [{"service": s.service, "arrondissement": s.arrondissement}
                       for s in body.scopes]}


# ---- feeds --------------------------------------------------------------------------------

@operation(bp, "GET", "/feeds/reports/<id:contribution_id>.atom", tags=FEEDS,
           operation_id="reportFeed",
           problems={404: "No such report, or it was withdrawn or hidden "
                          "(`contribution_not_found`)."},
           replies={200: Reply("An Atom feed (RFC 4287), newest first.", ATOM_FEED, ATOM)})
def report_feed(contribution_id: int):
    """A report's status changes (Atom)

    Its last 100 public status changes."""
    report = visible_or_404(db.session, "report", contribution_id)
    return Response(feeds.report_feed(db.session, report, request.url_root), mimetype=ATOM)


@operation(bp, "GET", "/feeds/arrondissements/<int:number>.atom", tags=FEEDS,
           operation_id="arrondissementFeed",
           path_doc={"number": f"The arrondissement, {ARRONDISSEMENTS[0]} to "
                               f"{ARRONDISSEMENTS[1]}; any other number is a 404."},
           problems={404: "Not an arrondissement's number (`not_found`)."},
           replies={200: Reply("An Atom feed (RFC 4287), newest first.", ATOM_FEED, ATOM)})
def arrondissement_feed(number: int):
    """An arrondissement's news (Atom)

    New reports and proposals and status changes there, the last 50."""
    if not ARRONDISSEMENTS[0] <= number <= ARRONDISSEMENTS[1]:
        raise NotFound()
    return Response(feeds.arrondissement_feed(db.session, number, request.url_root),
                    mimetype=ATOM)
