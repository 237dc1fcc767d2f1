"""/api/v1/consultations (open a question on an area for a period, its proposals, its
synthesis and exports) and /api/v1/proposals/{id}/answers (the city's answers)."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from flask import Blueprint, Response

from app import policy
from app.accounts.auth import current_user
from app.api.contract import CSV, GEOJSON, HTML, Reply, operation
from app.consultations import answers, services
from app.consultations.models import ALLOWED_IN, Consultation
from app.consultations.schemas import (
    ConsultationDetail,
    ConsultationInput,
    ConsultationList,
    ConsultationListQuery,
    ConsultationPatch,
    ProposalAnswer,
    ProposalAnswerResult,
    ProposalHistory,
    SynthesisOut,
)
from app.contributions.services import visible_or_404
from app.db import db
from app.errors import Forbidden
from app.field.services import history
from geo.aggregations import PARIS

bp = Blueprint("consultations", __name__)
TAGS = ("Consultations",)
ITEM = "/api/v1/consultations/<id:consultation_id>"
NOT_FOUND = {404: "No such consultation, or a draft and you are not a planner (`consultation_not_found`)."}
PLANNERS = ("Planners (and admins): others are `forbidden`.")


def as_json(consultation: Consultation, *, area: bool = False) -> dict:
    """A consultation as the API says it: its stage now and what residents can do in it."""
    at = services.now()
    stage = consultation.phase_at(at)
    row = services.summary(db.session, consultation.id, area=area)
    out = {
        "id": consultation.id, "title": consultation.title, "question": consultation.question,
        "description": consultation.description, "status": consultation.status, "stage": stage,
        "can": list(ALLOWED_IN.get(stage, ())),
        "phases": [{"phase": p.phase, "starts_at": p.starts_at.isoformat(), "ends_at": p.ends_at.isoformat(),
                    "starts_on": p.starts_at.astimezone(PARIS).date().isoformat(),
                    "ends_on": (p.ends_at.astimezone(PARIS) - timedelta(microseconds=1)).date().isoformat()}
                   for p in sorted(consultation.phases, key=lambda p: p.starts_at)],
        "area_kind": consultation.area_kind, "area_ids": list(consultation.area_ids),
        "bbox": [round(v, 6) for v in (row.w, row.s, row.e, row.n)],
        "themes": consultation.themes, "geometry_types": list(consultation.geometry_types),
        "vote_rule": consultation.vote_rule, "proposals_count": row.proposals,
        "closed_at": consultation.closed_at.isoformat() if consultation.closed_at else None,
        "published_at": consultation.published_at.isoformat() if consultation.published_at else None,
    }
    if area:
        out["area"] = json.loads(row.geojson)
    return out


@operation(bp, "GET", "/api/v1/consultations", query=ConsultationListQuery, tags=TAGS, auth="optional",
           replies={200: Reply("Consultations, newest first.", ConsultationList)})
@db.read_only
def list_consultations(query: ConsultationListQuery):
    """List consultations

    Published ones; planners also see drafts. `stage` keeps those in one stage now."""
    items = services.listing(db.session, current_user(), query.stage, query.limit)
    return {"consultations": [as_json(c) for c in items]}


@operation(bp, "POST", "/api/v1/consultations", body=ConsultationInput, tags=TAGS,
           auth=policy.roles("consultation.manage"), idempotent=True,
           problems={403: PLANNERS},
           replies={201: Reply("Created, as a draft.", ConsultationDetail, headers=("Location",))})
def create_consultation(body: ConsultationInput):
    """Open a consultation (a draft)

    A question on an area (arrondissements, quartiers or a drawn polygon) with dated phases, the
    themes and geometry types it accepts and its vote rule. Publish it to open it to residents."""
    consultation = services.create(db.session, current_user(), body.values(), body.area.value(),
                                   body.phase_days())
    return as_json(consultation, area=True), 201, {"Location": f"/api/v1/consultations/{consultation.id}"}


@operation(bp, "GET", ITEM, tags=TAGS, auth="optional", problems=NOT_FOUND,
           replies={200: Reply("The consultation.", ConsultationDetail)})
@db.read_only
def read_consultation(consultation_id: int):
    """Read a consultation, with its area."""
    return as_json(services.get(db.session, consultation_id, current_user()), area=True)


@operation(bp, "PATCH", ITEM, body=ConsultationPatch, tags=TAGS,
           auth=policy.roles("consultation.manage"), problems={**NOT_FOUND, 403: PLANNERS},
           replies={200: Reply("Changed.", ConsultationDetail)})
def update_consultation(consultation_id: int, body: ConsultationPatch):
    """Edit a consultation

    A draft freely; once published, its texts, and its phases until the first one starts."""
    consultation = services.get(db.session, consultation_id, current_user(), lock=True)
    services.update(db.session, current_user(), consultation, body.values(),
                    body.area.value() if body.area else None, body.phase_days())
    return as_json(consultation, area=True)


@operation(bp, "POST", f"{ITEM}/publish", tags=TAGS, auth=policy.roles("consultation.manage"),
           problems={**NOT_FOUND, 403: PLANNERS, 409: "Already published (`already_published`)."},
           replies={200: Reply("Published: residents see it, and take part from its first phase.",
                               ConsultationDetail)})
def publish_consultation(consultation_id: int):
    """Publish a consultation."""
    consultation = services.get(db.session, consultation_id, current_user(), lock=True)
    services.publish(db.session, current_user(), consultation)
    return as_json(consultation, area=True)


@operation(bp, "POST", f"{ITEM}/close", tags=TAGS, auth=policy.roles("consultation.manage"),
           problems={**NOT_FOUND, 403: PLANNERS,
                     409: "Not taking ideas or votes now (`consultation_not_open`, with the `phase`)."},
           replies={200: Reply("Closed: the synthesis phase starts now.", ConsultationDetail)})
def close_consultation(consultation_id: int):
    """Close a consultation now

    Ideas and votes stop; the synthesis starts now (for 30 days unless it had its own phase);
    the answers keep their dates. A proposal being added at the same moment either lands
    before the close or is refused."""
    consultation = services.get(db.session, consultation_id, current_user(), lock=True)
    services.close(db.session, current_user(), consultation)
    return as_json(consultation, area=True)


def _closed_or_planner(consultation: Consultation) -> None:
    """The synthesis and exports: public once participation is over, planners at any time."""
    if consultation.phase_at(services.now()) in ("synthesis", "answers", "ended"):
        return
    if not policy.allows(db.session, current_user(), "consultation.manage", consultation):
        raise Forbidden("synthesis_not_yet")


SYNTHESIS_GATE = {403: "Participation is not over and you are not a planner (`synthesis_not_yet`)."}


@operation(bp, "GET", f"{ITEM}/synthesis", tags=TAGS, auth="optional",
           problems={**NOT_FOUND, **SYNTHESIS_GATE},
           replies={200: Reply("The synthesis.", SynthesisOut)})
@db.read_only
def read_synthesis(consultation_id: int):
    """A consultation's synthesis

    Counts, the most supported and most contested proposals, breakdowns by theme,
    arrondissement and quartier, and heat points. Public once participation is over."""
    consultation = services.get(db.session, consultation_id, current_user())
    _closed_or_planner(consultation)
    return {"id": consultation.id, "title": consultation.title,
            "stage": consultation.phase_at(services.now()), **services.synthesis(db.session, consultation)}


EXPORT_COLUMNS = ("id", "title", "status", "theme", "arrondissement", "quartier", "votes", "score",
                  "for", "against", "comments", "lon", "lat")


def _export_rows(consultation: Consultation) -> list[dict]:
    return services.proposals_of(db.session, consultation)


@operation(bp, "GET", f"{ITEM}/proposals.csv", tags=TAGS, auth="optional",
           problems={**NOT_FOUND, **SYNTHESIS_GATE},
           replies={200: Reply("One row per proposal (UTF-8, `,`).", {"type": "string"}, CSV)})
@db.read_only
def export_csv(consultation_id: int):
    """A consultation's proposals as CSV, with their votes."""
    consultation = services.get(db.session, consultation_id, current_user())
    _closed_or_planner(consultation)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for r in _export_rows(consultation):
        writer.writerow([r["id"], r["title"], r["status"], r["theme"], r["arrondissement_id"], r["quartier"],
                         r["votes"], r["score"], r["votes_up"], r["votes_down"], r["comments_count"],
                         f"{r['lon']:.6f}", f"{r['lat']:.6f}"])
    return Response(out.getvalue(), mimetype=CSV, headers={
        "Content-Disposition": f'attachment; filename="consultation-{consultation.id}.csv"'})


@operation(bp, "GET", f"{ITEM}/proposals.geojson", tags=TAGS, auth="optional",
           problems={**NOT_FOUND, **SYNTHESIS_GATE},
           replies={200: Reply("The proposals with their votes (RFC 7946).", {"type": "object"}, GEOJSON)})
@db.read_only
def export_geojson(consultation_id: int):
    """A consultation's proposals as GeoJSON, with their votes."""
    consultation = services.get(db.session, consultation_id, current_user())
    _closed_or_planner(consultation)
    features = [{"type": "Feature", "id": r["id"], "geometry": json.loads(r["geometry"]), "properties": {
        "title": r["title"], "status": r["status"], "theme": r["theme"], "arrondissement": r["arrondissement_id"],
        "quartier": r["quartier"], "votes": r["votes"], "score": r["score"], "for": r["votes_up"],
        "against": r["votes_down"], "comments": r["comments_count"]}} for r in _export_rows(consultation)]
    return Response(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
                    mimetype=GEOJSON, headers={
                        "Content-Disposition": f'attachment; filename="consultation-{consultation.id}.geojson"'})


@operation(bp, "GET", f"{ITEM}/report.html", tags=TAGS, auth="optional",
           problems={**NOT_FOUND, **SYNTHESIS_GATE, 503: "leafmap is not installed (`service_unavailable`)."},
           replies={200: Reply("A standalone interactive map (leafmap): the area, the proposals by "
                               "score, a heat layer.", {"type": "string"}, HTML)})
@db.read_only
def report(consultation_id: int):
    """A consultation's interactive report (leafmap)."""
    from app.consultations.report import build

    consultation = services.get(db.session, consultation_id, current_user())
    _closed_or_planner(consultation)
    page = build(db.session, consultation, as_json(consultation, area=True))
    return Response(page, mimetype=HTML, headers={
        "Content-Disposition": f'attachment; filename="consultation-{consultation.id}.html"'})


# ---- the city's answers ---------------------------------------------------------------------

PROPOSAL = "/api/v1/proposals/<id:contribution_id>"


@operation(bp, "POST", f"{PROPOSAL}/answers", body=ProposalAnswer, tags=("Proposals",),
           auth=policy.roles("proposal.answer"), idempotent=True,
           problems={404: "No such proposal (`contribution_not_found`).", 403: PLANNERS,
                     409: "Not an answer that may follow the current status (`illegal_answer`, "
                          "with `from` and `allowed`)."},
           replies={201: Reply("Answered; the whole public history.", ProposalAnswerResult)})
def answer_proposal(contribution_id: int, body: ProposalAnswer):
    """Answer a proposal

    The city's answer — under review, accepted, realised, rejected — with a public note. It is
    added to the proposal's history, audited, and e-mailed to its author and followers."""
    proposal = visible_or_404(db.session, "proposal", contribution_id, lock=True)
    event = answers.answer(db.session, proposal, current_user(), body.status, body.public_note)
    return {"id": proposal.id, "status": proposal.status, "event_id": event.id,
            "history": _public(history(db.session, proposal, None))}, 201


@operation(bp, "GET", f"{PROPOSAL}/history", tags=("Proposals",), auth="optional",
           problems={404: "No such proposal (`contribution_not_found`)."},
           replies={200: Reply("The answers, oldest first.", ProposalHistory)})
@db.read_only
def proposal_history(contribution_id: int):
    """A proposal's answers."""
    proposal = visible_or_404(db.session, "proposal", contribution_id)
    return {"id": proposal.id, "status": proposal.status,
            "history": _public(history(db.session, proposal, None))}


def _public(events: list[dict]) -> list[dict]:
    return [{k: e[k] for k in ("at", "from", "to", "public_note", "by")} for e in events]
