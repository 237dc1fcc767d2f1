"""/api/v1/budgets (cycles: phases, envelopes, ballot rule; their projects) and
/api/v1/budget-projects (one project: edit, support, the city's feasibility study, merging,
delivery; and every project across cycles, for the delivery map)."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request

from app import policy
from app.accounts.auth import current_user
from app.api.contract import GEOJSON, Multipart, Reply, operation
from app.budget import ballots, services
from app.budget.schemas import (
    AllProjectsQuery,
    BallotInput,
    CountOut,
    CycleInput,
    CycleList,
    CycleOut,
    CyclePatch,
    DeliveryInput,
    FeasibilityInput,
    MergeInput,
    MergeOut,
    OwnBallots,
    PhotoInput,
    ProjectDetail,
    ProjectInput,
    ProjectPage,
    ProjectPatch,
    ProjectsQuery,
    ReceiptOut,
    ResultsOut,
    SupportOut,
)
from app.contributions.media import store_photo
from app.db import db
from app.errors import FieldError, ValidationFailed
from app.messages import current_language

bp = Blueprint("budget", __name__)
TAGS = ("Participatory budget",)
BASE = "/api/v1/budgets"
CYCLE = BASE + "/<id:cycle_id>"
PROJECTS = "/api/v1/budget-projects"
PROJECT = PROJECTS + "/<id:project_id>"
NO_CYCLE = {404: "No such cycle, or a draft and you are not an admin (`budget_not_found`)."}
NO_PROJECT = {404: "No such project (`budget_project_not_found`)."}
ADMINS = "Admins (with two-factor sign-in on): others are `forbidden`."
PLANNERS = "Planners (the city's departments) and admins: others are `forbidden`."
PHASE = ("Not in this phase (`budget_phase`, with the `phase`), or not in this project's "
         "status (`budget_project_status`, with the `status`).")
DETAIL = Reply("The project.", ProjectDetail, GEOJSON)


def _detail(project, status: int = 200, headers: dict | None = None):
    body = services.project_detail(db.session, project, current_user(), current_language())
    return Response(_json(body), status=status, mimetype=GEOJSON, headers=headers)


def _json(body) -> str:
    from flask import json

    return json.dumps(body)


def _page(filters: services.ProjectFilters):
    rows, cursor = services.project_rows(db.session, filters, current_user())
    labels = services.theme_labels(db.session, current_language())
    links = []
    if cursor is not None:
        from app.api.types import encode_cursor

        args = {**request.args.to_dict(), "cursor": encode_cursor(*cursor)}
        links.append({"rel": "next", "type": GEOJSON, "href": f"{request.base_url}?{urlencode(args)}"})
    body = {"type": "FeatureCollection", "numberReturned": len(rows), "links": links,
            "features": [services.project_feature(r, labels) for r in rows]}
    return Response(_json(body), mimetype=GEOJSON)


def _filters(query: ProjectsQuery, **extra) -> services.ProjectFilters:
    return services.ProjectFilters(
        statuses=query.status, arrondissements=query.arrondissement, themes=query.theme,
        delivery=query.delivery_status, placed=query.placed, limit=query.limit, cursor=query.cursor,
        **extra)


# ---- cycles -------------------------------------------------------------------------------------

@operation(bp, "GET", BASE, tags=TAGS, auth="optional",
           replies={200: Reply("Cycles, newest year first.", CycleList)})
@db.read_only
def list_cycles():
    """List the participatory budget's cycles

    Published ones (the past editions imported from the city's open data included); admins
    also see drafts. Each says its stage now and what residents may do in it."""
    user = current_user()
    return {"budgets": [services.cycle_json(db.session, c, user) for c in services.cycles(db.session, user)]}


@operation(bp, "POST", BASE, body=CycleInput, tags=TAGS, auth=policy.roles("budget.manage"),
           idempotent=True, problems={403: ADMINS, 409: "A cycle already exists for this year "
                                                        "(`budget_year_taken`)."},
           replies={201: Reply("Created, as a draft.", CycleOut, headers=("Location",))})
def create_cycle(body: CycleInput):
    """Open a cycle (a draft)

    One per year: its dated phases (submission, co-construction, feasibility, vote, results,
    delivery), its envelopes (Paris-wide and per arrondissement, each with the share reserved
    for the quartiers populaires) and its ballot rule. Publish it with `PATCH` `status`."""
    cycle = services.create_cycle(db.session, current_user(), body.values(), body.phase_days(),
                                  body.envelope_values())
    return services.cycle_json(db.session, cycle), 201, {"Location": f"{BASE}/{cycle.id}"}


@operation(bp, "GET", CYCLE, tags=TAGS, auth="optional", problems=NO_CYCLE,
           replies={200: Reply("The cycle.", CycleOut)})
@db.read_only
def read_cycle(cycle_id: int):
    """Read a cycle

    Its phases, the current one, what a resident can do now, its envelopes with their projects."""
    user = current_user()
    return services.cycle_json(db.session, services.get_cycle(db.session, cycle_id, user), user)


@operation(bp, "PATCH", CYCLE, body=CyclePatch, tags=TAGS, auth=policy.roles("budget.manage"),
           problems={**NO_CYCLE, 403: ADMINS,
                     409: "Back to draft (`budget_published`), or a year another cycle has "
                          "(`budget_year_taken`)."},
           replies={200: Reply("Changed.", CycleOut)})
def update_cycle(cycle_id: int, body: CyclePatch):
    """Edit a cycle

    A draft freely; once published, not its year; its ballot rule and envelopes until the vote
    starts; its phases, except what has already happened. `status: published` publishes it."""
    user = current_user()
    cycle = services.get_cycle(db.session, cycle_id, user, lock=True)
    services.update_cycle(db.session, user, cycle, body.values(), body.phase_days(), body.envelope_values())
    return services.cycle_json(db.session, cycle, user)


@operation(bp, "POST", CYCLE + "/projects", body=ProjectInput, tags=TAGS,
           auth=policy.roles("budget.submit"), idempotent=True,
           problems={**NO_CYCLE, 403: "The e-mail address is not confirmed (`email_unverified`).",
                     409: "The cycle takes no project now (`budget_phase`, with the `phase`).",
                     422: "Invalid input, a place in an arrondissement without an envelope "
                          "(`no_envelope`), a proposal that is not yours (`not_your_proposal`)."},
           replies={201: Reply("Submitted.", ProjectDetail, GEOJSON, ("Location",))})
def submit_project(cycle_id: int, body: ProjectInput):
    """Submit a project

    During the submission phase, a resident with a confirmed e-mail address: a title, a theme,
    a place (its arrondissement's envelope) or `paris_wide`, a description, an estimated cost;
    or one of their proposals to start from."""
    user = current_user()
    cycle = services.get_cycle(db.session, cycle_id, user, share=True)
    project = services.submit(db.session, user, cycle, body.values(), body.geometry, body.paris_wide,
                              body.proposal, body.links)
    return _detail(project, 201, {"Location": f"{PROJECTS}/{project.id}"})


@operation(bp, "GET", CYCLE + "/projects", query=ProjectsQuery, tags=TAGS, auth="optional",
           problems=NO_CYCLE, replies={200: Reply("A page of the cycle's projects.", ProjectPage, GEOJSON)})
@db.read_only
def cycle_projects(cycle_id: int, query: ProjectsQuery):
    """List a cycle's projects

    Newest first, with a `next` link while more remain; a project without a place has a null
    geometry."""
    cycle = services.get_cycle(db.session, cycle_id, current_user())
    return _page(_filters(query, cycle_id=cycle.id))


# ---- projects -----------------------------------------------------------------------------------

@operation(bp, "GET", PROJECTS, query=AllProjectsQuery, tags=TAGS, auth="optional",
           replies={200: Reply("A page of projects.", ProjectPage, GEOJSON)})
@db.read_only
def list_projects(query: AllProjectsQuery):
    """List projects across cycles

    The delivery map's source: `status=won` with `year`, `arrondissement`, `delivery_status`.
    Newest first, with a `next` link while more remain."""
    return _page(_filters(query, years=query.year))


@operation(bp, "GET", PROJECT, tags=TAGS, auth="optional", problems=NO_PROJECT, replies={200: DETAIL})
@db.read_only
def read_project(project_id: int):
    """Read a project

    Its place, status, the city's feasibility study, its delivery, its authors by public name
    (never an e-mail or an id), the proposals and reports it grew from."""
    return _detail(services.get_project(db.session, project_id, current_user()))


@operation(bp, "PATCH", PROJECT, body=ProjectPatch, tags=TAGS, auth=policy.roles("budget.edit"),
           problems={**NO_PROJECT, 403: "Neither one of its authors nor a planner (`forbidden`).",
                     409: PHASE},
           replies={200: DETAIL})
def update_project(project_id: int, body: ProjectPatch):
    """Edit a project

    Its authors during the submission phase; planners until the vote (co-construction)."""
    user = current_user()
    project = services.get_project(db.session, project_id, user, lock=True)
    services.update_project(db.session, user, project, body.values(), body.geometry, body.paris_wide)
    return _detail(project)


def _support(project_id: int, on: bool):
    user = current_user()
    project = services.get_project(db.session, project_id, user, share=True)
    count = services.support(db.session, user, project, on)
    return {"id": project.id, "supporters": count, "supporting": on}


SUPPORT_PROBLEMS = {**NO_PROJECT, 403: "The e-mail address is not confirmed (`email_unverified`).",
                    409: "Not in the submission or co-construction phase (`budget_phase`), or "
                         "merged into another project (`budget_project_merged`)."}


@operation(bp, "PUT", PROJECT + "/support", tags=TAGS, auth=policy.roles("budget.submit"),
           problems=SUPPORT_PROBLEMS, replies={200: Reply("Supported (again: the same).", SupportOut)})
def support_project(project_id: int):
    """Support a project"""
    return _support(project_id, True)


@operation(bp, "DELETE", PROJECT + "/support", tags=TAGS, auth=policy.roles("budget.submit"),
           problems=SUPPORT_PROBLEMS, replies={200: Reply("Not supported (again: the same).", SupportOut)})
def unsupport_project(project_id: int):
    """Withdraw a support"""
    return _support(project_id, False)


@operation(bp, "POST", PROJECT + "/feasibility", body=FeasibilityInput, tags=TAGS,
           auth=policy.roles("budget.study"), problems={**NO_PROJECT, 403: PLANNERS, 409: PHASE},
           replies={200: DETAIL})
def study_project(project_id: int, body: FeasibilityInput):
    """Record the feasibility study

    During the feasibility phase, the city's departments: feasible with a cost estimate, or
    not feasible with a public reason. Only feasible projects go to the ballot."""
    user = current_user()
    project = services.get_project(db.session, project_id, user, lock=True)
    services.study(db.session, user, project, body.feasible, body.cost_cents, body.reason)
    return _detail(project)


@operation(bp, "POST", PROJECT + "/merge", body=MergeInput, tags=TAGS, auth=policy.roles("budget.study"),
           problems={**NO_PROJECT, 403: PLANNERS, 409: PHASE},
           replies={200: Reply("Merged: the merged project and the one it joined.", MergeOut)})
def merge_project(project_id: int, body: MergeInput):
    """Merge a project into another

    During co-construction, similar projects of one envelope become one: every author and
    supporter, and every proposal and report they grew from, joins the surviving project."""
    user = current_user()
    merged, into = services.merge(db.session, user, project_id, body.into)
    lang = current_language()
    return {"merged": services.project_detail(db.session, merged, user, lang),
            "into": services.project_detail(db.session, into, user, lang)}


@operation(bp, "PUT", PROJECT + "/delivery", body=DeliveryInput, tags=TAGS, auth=policy.roles("budget.study"),
           problems={**NO_PROJECT, 403: PLANNERS, 409: PHASE}, replies={200: DETAIL})
def deliver_project(project_id: int, body: DeliveryInput):
    """Record a winner's delivery

    From the results on (and for past editions): studies, procedures, works, delivered or
    abandoned, with their dates."""
    user = current_user()
    project = services.get_project(db.session, project_id, user, lock=True)
    services.deliver(db.session, user, project, body.status, body.dates())
    return _detail(project)


PHOTO_RIGHTS = ("Before the vote, its authors in the submission phase and planners until the "
                "vote (`budget_phase`, `budget_project_status`); a winner's delivery photos: "
                "planners.")


@operation(bp, "POST", PROJECT + "/photos", body=PhotoInput, tags=TAGS, auth=policy.roles("budget.edit"),
           multipart=Multipart("details", {"photo": ("A JPEG, PNG or WebP photo; re-encoded from its pixels "
                                                     "(no EXIF, no GPS).", 1)}),
           problems={**NO_PROJECT, 403: PHOTO_RIGHTS, 409: PHASE},
           replies={200: DETAIL})
def add_project_photo(project_id: int, body: PhotoInput, uploads: dict):
    """Add a photo to a project

    `multipart/form-data` with `details` (the JSON text `{}`) and `photo`. A project's own
    photos (5 at most) before the vote; a winner's delivery photos (12 at most) from the
    results on. A refused file is a 422 on `photo` (`photo_unreadable`, `photo_too_large`…)."""
    user = current_user()
    project = services.get_project(db.session, project_id, user, lock=True)
    stage = services.photo_stage(db.session, user, project)  # before storing anything
    files = uploads.get("photo") or []
    if not files:
        raise ValidationFailed([FieldError("photo", "required")])
    services.add_photo(db.session, user, project, stage, store_photo(files[0]))
    return _detail(project)


@operation(bp, "DELETE", PROJECT + "/photos/<sha256>", tags=TAGS, auth=policy.roles("budget.edit"),
           path_doc={"sha256": "The photo's name (its SHA-256)."},
           problems={**NO_PROJECT, 403: PHOTO_RIGHTS, 409: PHASE},
           errors=(404,), replies={200: DETAIL})
def remove_project_photo(project_id: int, sha256: str):
    """Remove a photo from a project

    Under the same rights as adding it; 404 `photo_not_found` if the project has no such photo."""
    user = current_user()
    project = services.get_project(db.session, project_id, user, lock=True)
    services.remove_photo(db.session, user, project, sha256)
    return _detail(project)


# ---- the vote, the count, the results -------------------------------------------------------

ENVELOPE = CYCLE + "/envelopes/<id:envelope_id>"
NO_ENVELOPE = {404: "No such cycle (`budget_not_found`) or no such envelope in it "
                    "(`budget_envelope_not_found`)."}
NOT_COUNTED = {409: "Not counted yet (`budget_not_counted`)."}
OWN = Reply("My ballots in this cycle, each with its receipt.", OwnBallots)


def _key() -> bytes:
    return ballots.ballot_key(current_app.config["SECRET_KEY"])


@operation(bp, "GET", CYCLE + "/ballot", tags=TAGS, auth="required", problems=NO_CYCLE, replies={200: OWN})
def my_ballots(cycle_id: int):
    """Read my ballots

    Only the voter's own signed-in request finds them: no page or API ties a ballot to a
    person (the ballot is stored under a keyed hash, not the account)."""
    user = current_user()
    return ballots.own_ballots(db.session, _key(), user, services.get_cycle(db.session, cycle_id, user))


@operation(bp, "PUT", ENVELOPE + "/ballot", body=BallotInput, tags=TAGS, auth=policy.roles("budget.vote"),
           problems={**NO_ENVELOPE, 403: "The e-mail address is not confirmed (`email_unverified`).",
                     409: "Not in the vote (`budget_phase`); already voting in another "
                          "arrondissement this cycle (`ballot_other_arrondissement`, with it: "
                          "withdraw that ballot first)."},
           replies={200: OWN})
def cast_ballot(cycle_id: int, envelope_id: int, body: BallotInput):
    """Cast or change my ballot in an envelope

    During the vote: Paris-wide and in one arrondissement of my choice. Sending it again
    replaces it, until the vote closes."""
    choices = [ballots.Choice(p) for p in body.projects or ()] + \
              [ballots.Choice(g.project, g.grade) for g in body.grades or ()]
    return ballots.cast(db.session, _key(), current_user(), cycle_id, envelope_id, choices)


@operation(bp, "DELETE", ENVELOPE + "/ballot", tags=TAGS, auth=policy.roles("budget.vote"),
           problems={**NO_ENVELOPE, 404: "No ballot of mine in this envelope (`ballot_not_found`).",
                     409: "Not in the vote (`budget_phase`)."},
           replies={200: OWN})
def withdraw_ballot(cycle_id: int, envelope_id: int):
    """Withdraw my ballot in an envelope

    To vote in another arrondissement instead, or not at all; during the vote only."""
    return ballots.withdraw(db.session, _key(), current_user(), cycle_id, envelope_id)


@operation(bp, "POST", CYCLE + "/count", tags=TAGS, auth=policy.roles("budget.manage"), cost="stats",
           problems={**NO_CYCLE, 403: ADMINS,
                     409: "The vote is not over (`budget_phase`), or deliveries are recorded "
                          "(`budget_delivery_started`)."},
           replies={200: Reply("Counted: each envelope's winners by both rules.", CountOut)})
def count_votes(cycle_id: int):
    """Count the vote

    Once the vote is over: each envelope by greedy (most votes first while the money lasts)
    and by the Method of Equal Shares, and the majority-judgment ranking under that method;
    the cycle's `winners_rule` makes projects `won` or `lost`. Counting again gives the same."""
    return {"envelopes": ballots.count(db.session, current_user(), cycle_id)}


@operation(bp, "GET", CYCLE + "/results", tags=TAGS, auth="optional", problems={**NO_CYCLE, **NOT_COUNTED},
           replies={200: Reply("Each envelope's count, both rules side by side.", ResultsOut)})
@db.read_only
def read_results(cycle_id: int):
    """Read the results

    Per envelope: its ballots, and each project's votes, cost, the money left when greedy
    considered it, and whether it wins by greedy, by Equal Shares (and its majority grade)."""
    return ballots.results(db.session, services.get_cycle(db.session, cycle_id, current_user()))


@operation(bp, "GET", ENVELOPE + "/ballots.pb", tags=TAGS, auth="optional", cost="stats", limit="expensive",
           problems={**NO_ENVELOPE, **NOT_COUNTED},
           replies={200: Reply("A Pabulib file (pabulib.org/format): the instance and every "
                               "ballot, under its receipt.", {"type": "string"}, "text/plain")})
@db.read_only
def export_pabulib(cycle_id: int, envelope_id: int):
    """Export an envelope's anonymised ballots (Pabulib)

    pabutools (or any Pabulib reader) finds the published winners from it."""
    cycle = services.get_cycle(db.session, cycle_id, current_user())
    body = ballots.pabulib(db.session, cycle, ballots.envelope_of(cycle, envelope_id))
    name = f"france_paris_{cycle.year}_{envelope_id}.pb"
    return Response(body, mimetype="text/plain", headers={"Content-Disposition": f'attachment; filename="{name}"'})


@operation(bp, "GET", CYCLE + "/receipts/<receipt>", tags=TAGS, auth="optional",
           path_doc={"receipt": "The 12-character receipt given with the ballot."},
           problems={**NO_CYCLE, **NOT_COUNTED, 404: "No ballot with this receipt (`ballot_not_found`)."},
           replies={200: Reply("The ballot counted under this receipt.", ReceiptOut)})
@db.read_only
def check_receipt(cycle_id: int, receipt: str):
    """Check a ballot by its receipt

    Once counted: the choices counted under a receipt, for its voter to check; the receipt
    names no one."""
    return ballots.receipt(db.session, services.get_cycle(db.session, cycle_id, current_user()), receipt)
