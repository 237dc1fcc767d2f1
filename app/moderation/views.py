"""Moderation API: flag (anyone signed in), the queue and decisions (moderators and admins),
banned e-mail domains, the audit log, and photo redaction (the original kept for staff)."""

from flask import Blueprint, Response, current_app, url_for

from app import policy
from app.accounts.auth import current_user
from app.api.contract import JPEG, Reply, operation
from app.contributions.media import remove_unless_committed
from app.db import db
from app.errors import NotFound
from app.moderation import redaction, services
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
    RedactionInput,
    RedactionOut,
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


@operation(bp, "POST", "/moderation/photos", body=RedactionInput, tags=TAGS,
           auth=policy.roles("photo.redact"),
           problems={404: "No such contribution (or it is withdrawn), or no photo with this SHA-256 "
                          "on it (`not_found`).",
                     422: "Invalid input; a region running past the photo's edge is `out_of_range` "
                          "on its `w` or `h`."},
           replies={201: Reply("Redacted: the blurred copy replaces the photo on the contribution.",
                               RedactionOut)})
def redact_photo(body: RedactionInput):
    """Blur regions of a contribution's photo

    Faces, number plates: each region is pixelated and blurred beyond reading, and the copy,
    without metadata, replaces the photo (same position). The original stops being public; it is
    kept for staff, and the audit log records the regions and the reason."""
    photo, written = redaction.redact_photo(db.session, current_user(), body.contribution_id, body.sha256,
                                            body.regions, body.reason, current_app.config["MEDIA_DIR"])
    remove_unless_committed(written)
    return {"url": url_for("contributions.photo", name=f"{photo.sha256}.jpg"),
            "thumbnail_url": url_for("contributions.photo", name=f"{photo.sha256}.thumb.jpg"),
            "sha256": photo.sha256, "original_sha256": body.sha256, "width": photo.width,
            "height": photo.height}, 201


@operation(bp, "GET", "/moderation/photos/<sha256>/original", tags=TAGS,
           auth=policy.roles("photo.read_original"),
           path_doc={"sha256": "The SHA-256 of the original (`original_sha256` of the redaction)."},
           problems={403: "Staff whose scope covers none of the reports it was redacted on "
                          "(`out_of_scope`), or not staff (`forbidden`).",
                     404: "No redaction has this original (`not_found`)."},
           replies={200: Reply("The original JPEG; never cached (`private, no-store`).",
                               {"type": "string", "contentMediaType": JPEG}, JPEG, ("Cache-Control",))})
def photo_original(sha256: str):
    """The original of a redacted photo, for staff

    Moderators, and agents whose scope covers the report (supervisors, admins)."""
    if len(sha256) != 64 or sha256.strip("0123456789abcdef"):
        raise NotFound("not_found")
    path = redaction.original_for(db.session, current_user(), sha256, current_app.config["MEDIA_DIR"])
    return Response(path.read_bytes(), mimetype=JPEG, headers={"Cache-Control": "private, no-store"})


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
