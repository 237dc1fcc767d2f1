"""Moderation API: flag (anyone signed in), the queue and decisions (moderators and admins),
banned e-mail domains, and the audit log."""

from flask import Blueprint, Response, current_app

from app import policy
from app.accounts.auth import current_user
from app.api.contract import Reply, operation
from app.db import db
from app.moderation import services
from app.moderation.schemas import (
    AuditOut,
    AuditQuery,
    DecisionInput,
    DomainInput,
    DomainsOut,
    EditInput,
    FlagInput,
    FlagOut,
    QueueOut,
    QueueQuery,
    StateOut,
)

bp = Blueprint("moderation", __name__, url_prefix="/api/v1")
TAGS = ("Moderation",)
GONE = {404: "No such item, or it is withdrawn, deleted or already hidden (`not_found`)."}
DOMAIN = {"domain": "An e-mail domain (`example.org`); anything else names nothing (404)."}


@operation(bp, "POST", "/flags", body=FlagInput, tags=TAGS, auth=policy.roles("moderation.flag"),
           problems={**GONE, 409: "You already flagged it (`already_flagged`)."},
           replies={201: Reply("Flagged.", FlagOut)})
def flag(body: FlagInput):
    """Flag a contribution, a comment or a profile

    Once per person and item. At three open flags (`CARTAGORA_MODERATION_HIDE_AT`) the item is
    hidden until a moderator reviews it, and its author is told."""
    return services.flag(db.session, current_user(), body.subject_type, body.subject_id, body.reason,
                         body.note, current_app.config["MODERATION_HIDE_AT"]), 201


@operation(bp, "GET", "/moderation/queue", query=QueueQuery, tags=TAGS,
           auth=policy.roles("moderation.review"), replies={200: Reply("Items to review.", QueueOut)})
def queue(query: QueueQuery):
    """The moderation queue: flagged and hidden items, most flagged first."""
    return {"items": services.queue(db.session, current_user(), query.state, query.subject_type,
                                    query.reason, query.limit)}


@operation(bp, "POST", "/moderation/decisions", body=DecisionInput, tags=TAGS,
           auth=policy.roles("moderation.review"),
           problems={**GONE, 409: "Not a decision for this type of item (`decision_not_applicable`)."},
           replies={200: Reply("Decided; the item's open flags are closed.", StateOut)})
def decide(body: DecisionInput):
    """Hide, restore or dismiss an item; ban or unban an account."""
    return services.decide(db.session, current_user(), body.subject_type, body.subject_id, body.action,
                           body.reason)


@operation(bp, "POST", "/moderation/edits", body=EditInput, tags=TAGS,
           auth=policy.roles("moderation.review"), problems=GONE,
           replies={200: Reply("Edited; the original is in the audit log.", StateOut)})
def edit(body: EditInput):
    """Edit a title, a text or a public name (the original is kept for moderators)."""
    changes = body.model_dump(include={"title", "description", "body", "display_name"}, exclude_unset=True)
    return services.edit(db.session, current_user(), body.subject_type, body.subject_id, changes,
                         body.reason)


@operation(bp, "GET", "/moderation/domains", tags=TAGS, auth=policy.roles("moderation.review"),
           replies={200: Reply("Banned e-mail domains.", DomainsOut)})
def domains():
    """Banned e-mail domains."""
    return {"domains": services.domains(db.session)}


@operation(bp, "PUT", "/moderation/domains/<domain>", body=DomainInput, tags=TAGS,
           auth=policy.roles("moderation.review"), path_doc=DOMAIN,
           replies={204: Reply("Banned: accounts of this domain write hidden content.")})
def ban_domain(domain: str, body: DomainInput):
    """Ban an e-mail domain."""
    services.ban_domain(db.session, current_user(), _domain(domain), body.reason)
    return "", 204


@operation(bp, "DELETE", "/moderation/domains/<domain>", tags=TAGS, auth=policy.roles("moderation.review"),
           path_doc=DOMAIN, problems={404: "Not banned (`not_found`)."},
           replies={204: Reply("Unbanned.")})
def unban_domain(domain: str):
    """Lift a domain's ban."""
    services.unban_domain(db.session, current_user(), _domain(domain), None)
    return "", 204


@operation(bp, "GET", "/audit", query=AuditQuery, tags=TAGS, auth=policy.roles("audit.read"),
           replies={200: Reply("Newest first.", AuditOut)})
def audit(query: AuditQuery):
    """The audit log of moderation and administration."""
    return {"entries": _entries(query)}


@operation(bp, "GET", "/audit.csv", query=AuditQuery, tags=TAGS, auth=policy.roles("audit.read"),
           replies={200: Reply("The same entries as a CSV file (details as JSON).", {"type": "string"},
                               "text/csv")})
def audit_csv(query: AuditQuery):
    """The audit log as CSV."""
    return Response(services.audit_csv(_entries(query)), mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="cartagora-audit.csv"'})


def _entries(query: AuditQuery) -> list[dict]:
    return services.audit_entries(db.session, current_user(), query.subject_type, query.subject_id,
                                  query.action, query.limit, query.before)


def _domain(value: str) -> str:
    import re

    from app.errors import NotFound

    value = value.strip().lower()
    if len(value) > 253 or not re.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,}", value):
        raise NotFound("not_found")
    return value
