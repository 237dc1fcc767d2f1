"""The city's answers to proposals: the only place a proposal's status changes.

Every proposal, inside a consultation or not. An answer is a status and a public note; it is
an event in the same append-only history as the reports' (`status_events`), audited, and the
author and followers are told (outbox).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from app import policy
from app.accounts.models import User
from app.contributions.models import Contribution
from app.errors import FieldError, NotFound, ValidationFailed
from app.field.models import StatusEvent
from app.field.services import IllegalTransition, notify

# from -> the answers that may follow (an answer may repeat its status with a new note: "still
# under review", "works start in March")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "published": ("under_review", "accepted", "rejected"),
    "under_review": ("under_review", "accepted", "rejected"),
    "accepted": ("accepted", "realised", "under_review", "rejected"),
    "realised": ("realised",),
    "rejected": ("under_review",),  # reconsidered
}
ANSWERS = ("under_review", "accepted", "realised", "rejected")
NOTE_MAX = 2000


def answer(session: Session, proposal: Contribution, actor: User, status: str, note: str) -> StatusEvent:
    """Answer a proposal (locked by the caller: `visible_or_404(lock=True)`): a concurrent
    answer waits, then is judged against this one's status."""
    if proposal.kind != "proposal":
        raise NotFound("contribution_not_found")
    policy.require(session, actor, "proposal.answer", proposal)
    allowed = TRANSITIONS.get(proposal.status, ())
    if status not in allowed:
        raise IllegalTransition("illegal_answer", {"from": proposal.status, "to": status},
                                extra={"from": proposal.status, "allowed": list(allowed)})
    if not note.strip():
        raise ValidationFailed([FieldError("public_note", "required")])
    before = proposal.status
    at = datetime.now(UTC)
    event = StatusEvent(contribution_id=proposal.id, actor_id=actor.id, from_status=before,
                        to_status=status, public_note=note, created_at=at)
    proposal.status, proposal.updated_at = status, at
    proposal.closed_at = at if status in ("realised", "rejected") else None
    session.add(event)
    session.flush()
    from app.moderation.services import audit

    audit(session, actor, "proposal.answer", "contribution", proposal.id, None,
          original={"status": before}, changes={"status": status, "public_note": note})
    notify(session, proposal, event, actor)
    return event
