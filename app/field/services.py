"""The only place a report's status changes: transitions, duplicates, reopening, routing
scopes, assignment, priority, follows, and the notifications they cause."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, exists, select, text
from sqlalchemy.orm import Session

from app import policy
from app.accounts.models import User
from app.api.types import exists_in_columns
from app.areas.models import Service
from app.contributions.models import Contribution
from app.errors import AppError, Conflict, FieldError, NotFound, ValidationFailed
from app.field import workflow
from app.field.models import AgentScope, FixFeedback, OutboxMessage, StatusEvent
from geo.aggregations import PARIS


class IllegalTransition(AppError):
    status, code, title = 409, "illegal_transition", "Conflict"


@dataclass
class TransitionRequest:
    to: str
    public_note: str | None = None
    internal_note: str | None = None
    planned_for: date | None = None
    reason: str | None = None
    resolution: str | None = None
    duplicate_of: int | None = None
    transferred_to: str | None = None
    photo_sha256: str | None = None


# ---- transitions -------------------------------------------------------------------------

def original_for_merge(session: Session, report_id: int | None) -> Contribution | None:
    """The report a duplicate merges into, locked (its counters change), or None. An id no
    column can hold names nothing: the same answer as any unknown report."""
    if not exists_in_columns(report_id):
        return None
    original = session.scalar(select(Contribution).where(Contribution.id == report_id)
                              .with_for_update(of=Contribution).execution_options(populate_existing=True))
    if (original is None or original.kind != "report" or original.withdrawn_at is not None
            or original.hidden):
        return None
    return original


def validate(session: Session, report: Contribution, req: TransitionRequest,
             actor: User | None = None) -> list[FieldError]:
    """What the target needs (workflow.REQUIRED_FOR) and what only the database can tell.
    Formats, lengths and enumerations are the API's (app/field/schemas.py)."""
    errors: list[FieldError] = []
    needed = workflow.REQUIRED_FOR.get(req.to)
    value = getattr(req, needed) if needed else None
    if needed and (value is None or (isinstance(value, str) and not value.strip())):
        errors.append(FieldError(needed, "required"))
    elif req.to == "scheduled" and req.planned_for < datetime.now(PARIS).date():  # the city's calendar
        errors.append(FieldError("planned_for", "date_in_past"))
    elif req.to == "rejected" and req.reason not in workflow.REJECTION_REASONS:
        errors.append(FieldError("reason", "invalid_value"))
    elif req.to == "resolved" and req.resolution not in workflow.RESOLUTIONS:
        errors.append(FieldError("resolution", "invalid_value"))
    elif req.to == "duplicate":
        original = original_for_merge(session, req.duplicate_of)
        if original is None:
            errors.append(FieldError("duplicate_of", "unknown_report"))
        elif original.id == report.id or original.status == "duplicate":
            errors.append(FieldError("duplicate_of", "invalid_value"))
        elif actor is not None and not policy.allows(session, actor, "report.transition", original):
            errors.append(FieldError("duplicate_of", "out_of_scope"))  # its votes would move there
    if req.to == "rejected" and req.reason == "other" and not (req.public_note or "").strip():
        errors.append(FieldError("public_note", "required"))
    return errors


def transition(session: Session, report: Contribution, actor: User, req: TransitionRequest) -> StatusEvent:
    """Move a report (locked by the caller: `visible_or_404(lock=True)`) to `req.to`, record
    the event, notify reporter and followers. A concurrent request waits for the lock and then
    sees the new status: the loser of a race gets `illegal_transition` naming it."""
    if report.kind != "report":
        raise NotFound("contribution_not_found")
    policy.require(session, actor, "report.transition", report)
    allowed = workflow.allowed_targets(report.status)
    if req.to not in allowed:
        raise IllegalTransition(
            "illegal_transition", {"from": report.status, "to": req.to},
            extra={"from": report.status, "allowed": list(allowed)},
        )
    errors = validate(session, report, req, actor)
    if errors:
        raise ValidationFailed(errors)
    return _apply(session, report, actor, req)


def batch(session: Session, actor: User, ids: list[int], req: TransitionRequest) -> list[Contribution]:
    """The same transition on several reports, all or nothing. The rows are locked in id
    order (two overlapping batches cannot deadlock), then changed in the order given."""
    wanted = [i for i in dict.fromkeys(ids) if exists_in_columns(i)]
    locked = {c.id: c for c in session.scalars(
        select(Contribution)
        .where(Contribution.id.in_(wanted), Contribution.kind == "report",
               Contribution.withdrawn_at.is_(None), Contribution.hidden.is_(False))
        .order_by(Contribution.id).with_for_update(of=Contribution)
        .execution_options(populate_existing=True))}
    if len(locked) < len(dict.fromkeys(ids)):
        raise NotFound("contribution_not_found")
    for report_id in dict.fromkeys(ids):
        transition(session, locked[report_id], actor, req)
    return [locked[i] for i in dict.fromkeys(ids)]


def _apply(session: Session, report: Contribution, actor: User | None, req: TransitionRequest,
           *, reopen: bool = False) -> StatusEvent:
    now = datetime.now(UTC)
    before = report.status
    # a target's own member (a planned date for `scheduled`…) is kept for that target only: a
    # `duplicate_of` sent with `acknowledged` names nothing and must not reach the history
    own = {member: getattr(req, member) if workflow.REQUIRED_FOR.get(req.to) == member else None
           for member in workflow.REQUIRED_FOR.values()}
    event = StatusEvent(
        contribution_id=report.id, actor_id=actor.id if actor else None, from_status=before,
        to_status=req.to, public_note=req.public_note, internal_note=req.internal_note,
        planned_for=own["planned_for"], reason=own["reason"], resolution=own["resolution"],
        duplicate_of_id=own["duplicate_of"], transferred_to=own["transferred_to"],
        photo_sha256=req.photo_sha256,
    )
    report.status = req.to
    report.updated_at = now
    if before == "new" and report.acknowledged_at is None:
        report.acknowledged_at = now  # time to acknowledge: the first step taken on it
    if req.to == "scheduled":
        report.planned_for = req.planned_for
    if req.to == "transferred":
        report.transferred_to = req.transferred_to
    if req.to in workflow.CLOSED:
        report.closed_at = now
        report.resolution = req.resolution
        report.rejection_reason = req.reason
    elif before in workflow.CLOSED:  # reopened
        report.closed_at = None
        report.resolution = report.rejection_reason = None
        report.reopen_count += 1 if reopen else 0
    if req.to == "duplicate":
        report.duplicate_of_id = req.duplicate_of
        merge_into(session, report, req.duplicate_of)
    session.add(event)
    session.flush()
    notify(session, report, event, actor)
    return event


def merge_into(session: Session, duplicate: Contribution, original_id: int) -> None:
    """The duplicate's "me too" votes and followers move to the original; its reporter counts
    as one more "me too" there. Counters follow through the vote/follow triggers."""
    params = {"dup": duplicate.id, "orig": original_id}
    for statement in (
        """INSERT INTO votes (contribution_id, user_id, value)
           SELECT :orig, user_id, 1 FROM votes WHERE contribution_id = :dup
           UNION SELECT :orig, author_id, 1 FROM contributions WHERE id = :dup AND author_id IS NOT NULL
           ON CONFLICT DO NOTHING""",
        "DELETE FROM votes WHERE contribution_id = :dup",
        """INSERT INTO follows (contribution_id, user_id)
           SELECT :orig, user_id FROM follows WHERE contribution_id = :dup
           UNION SELECT :orig, author_id FROM contributions WHERE id = :dup AND author_id IS NOT NULL
           ON CONFLICT DO NOTHING""",
        "DELETE FROM follows WHERE contribution_id = :dup",
    ):
        session.execute(text(statement), params)
    session.expire(duplicate, ["votes_up", "votes_down", "followers_count"])


# ---- residents close the loop ------------------------------------------------------------

def feedback(session: Session, report: Contribution, user: User, value: str) -> StatusEvent | None:
    """The reporter, or someone who followed it before its resolution, confirms a fix or says
    it is still there (which reopens it), once per resolution. The report is locked by the
    caller."""
    if value not in workflow.FEEDBACK_VALUES:
        raise ValidationFailed([FieldError("value", "invalid_value")])
    if report.status != "resolved" or report.closed_at is None:
        raise Conflict("not_resolved")
    policy.require(session, user, "report.feedback", report)  # reporter, or followed before
    if datetime.now(UTC) - report.closed_at > timedelta(days=workflow.REOPEN_WINDOW_DAYS):
        raise Conflict("reopen_window_over", {"days": workflow.REOPEN_WINDOW_DAYS})
    if session.scalar(select(exists().where(  # once per resolution
            FixFeedback.contribution_id == report.id, FixFeedback.user_id == user.id,
            FixFeedback.created_at >= report.closed_at))):
        raise Conflict("feedback_given")
    session.add(FixFeedback(contribution_id=report.id, user_id=user.id, value=value,
                            service_id=report.service_id, created_at=datetime.now(UTC)))
    if value == "fixed":
        session.flush()
        return None
    return _apply(session, report, user, TransitionRequest(
        to="acknowledged", public_note="still_there"), reopen=True)


# ---- assignment, priority, follows, scopes -----------------------------------------------

def assign(session: Session, report: Contribution, actor: User, agent_id: int | None) -> None:
    policy.require(session, actor, "report.assign", report)
    if agent_id is not None:
        agent = session.get(User, agent_id) if exists_in_columns(agent_id) else None
        if agent is None or not agent.has_role("agent"):
            raise ValidationFailed([FieldError("agent_id", "unknown_agent")])
        if not policy.covers(session, agent, report):
            raise ValidationFailed([FieldError("agent_id", "out_of_scope")])
    report.assigned_to_id = agent_id
    session.flush()


def set_priority(session: Session, report: Contribution, actor: User, priority: str | None) -> None:
    policy.require(session, actor, "report.prioritise", report)
    if priority is not None and priority not in workflow.PRIORITIES:
        raise ValidationFailed([FieldError("priority", "invalid_value")])
    report.priority = priority
    session.flush()


def follow(session: Session, contribution: Contribution, user: User, on: bool) -> int:
    policy.require(session, user, "contribution.follow", contribution)
    params = {"c": contribution.id, "u": user.id}
    if on:
        # the wall clock, not the transaction's start: "followed before the resolution"
        # compares it with closed_at (app.policy, EARLY_FOLLOWER)
        session.execute(text("INSERT INTO follows (contribution_id, user_id, created_at) "
                             "VALUES (:c, :u, clock_timestamp()) ON CONFLICT DO NOTHING"), params)
    else:
        session.execute(text("DELETE FROM follows WHERE contribution_id = :c AND user_id = :u"), params)
    session.expire(contribution, ["followers_count"])
    return contribution.followers_count


def set_scopes_by_code(session: Session, actor: User, agent_id: int,
                       scopes: list[tuple[str | None, int | None]]) -> User:
    """Replace an account's agent scopes given as (service code, arrondissement) pairs, None
    meaning all (the API and the admin pages). An unknown code is `invalid_value` on
    `scopes[i].service`; an unknown or deleted account, 404."""
    policy.require(session, actor, "agents.set_scopes")
    agent = session.get(User, agent_id) if exists_in_columns(agent_id) else None
    if agent is None or agent.deleted_at is not None:
        raise NotFound()
    ids = dict(session.execute(select(Service.code, Service.id)).all())
    unknown = [FieldError(f"scopes[{i}].service", "invalid_value")
               for i, (code, _) in enumerate(scopes) if code is not None and code not in ids]
    if unknown:
        raise ValidationFailed(unknown)
    set_scopes(session, agent, [(ids[code] if code else None, arr) for code, arr in scopes], actor)
    return agent


def set_scopes(session: Session, agent: User, scopes: list[tuple[int | None, int | None]],
               actor: User | None = None) -> None:
    """Replace an agent's scopes: (service_id, arrondissement_id) pairs, None meaning all.
    `actor` None: the command line (`flask users scopes`), trusted like the database."""
    if actor is not None:
        policy.require(session, actor, "agents.set_scopes")
    session.get(User, agent.id, with_for_update={"of": User})  # one change of scopes at a time
    before = [(s.service_id, s.arrondissement_id) for s in session.scalars(
        select(AgentScope).where(AgentScope.user_id == agent.id))]
    session.execute(AgentScope.__table__.delete().where(AgentScope.user_id == agent.id))
    for service_id, arrondissement_id in sorted(set(scopes), key=str):
        session.add(AgentScope(user_id=agent.id, service_id=service_id,
                               arrondissement_id=arrondissement_id))
    if "agent" not in agent.roles:
        agent.roles = sorted({*agent.roles, "agent"})
    session.flush()
    if actor is not None:
        from app.moderation.services import audit

        audit(session, actor, "agent.scopes", "user", agent.id, None,
              original={"scopes": sorted(before, key=str)}, changes={"scopes": sorted(set(scopes), key=str)})


# ---- notifications -------------------------------------------------------------------------

def notify(session: Session, report: Contribution, event: StatusEvent, actor: User | None) -> None:
    """Write one outbox message per author/follower (not the actor), in this transaction: a
    report's status change, or the city's answer to a proposal (app.consultations.answers)."""
    rows = session.execute(text("""
        SELECT DISTINCT u.email FROM users u
        WHERE u.is_active AND u.id <> COALESCE(:actor, 0)
          AND u.email NOT LIKE '%.invalid'  -- API keys' accounts (RFC 2606: never delivered)
          AND (
            u.id = (SELECT author_id FROM contributions WHERE id = :c)
            OR u.id IN (SELECT user_id FROM follows WHERE contribution_id = :c))
        ORDER BY 1
    """), {"c": report.id, "actor": actor.id if actor else None}).scalars().all()
    labels = workflow.LABELS if report.kind == "report" else workflow.PROPOSAL_LABELS
    fr, en = workflow.both_languages(labels, event.to_status)
    subject = f"[Cartagora] #{report.id} {report.title} — {fr} / {en}"
    lines = [f"{report.title} (#{report.id})", f"Statut / status : {fr} / {en}"]
    if event.planned_for:
        lines.append(f"Intervention prévue le / planned for: {event.planned_for.isoformat()}")
    if event.resolution:
        lines += list(workflow.both_languages(workflow.RESOLUTION_LABELS, event.resolution))
    if event.reason:
        lines.append(" / ".join(workflow.both_languages(workflow.REASON_LABELS, event.reason)))
    if event.public_note and event.public_note != "still_there":
        lines.append(event.public_note)
    body = "\n".join(lines) + "\n"
    for email in rows:
        session.add(OutboxMessage(recipient=email, subject=subject, body=body, event_id=event.id))
    session.flush()


def history(session: Session, report: Contribution, viewer: User | None) -> list[dict]:
    """The report's status changes, oldest first; internal notes and who acted only for staff
    whose scope covers it (app.policy, `report.read_internal`)."""
    staff = policy.allows(session, viewer, "report.read_internal", report)
    events = session.scalars(select(StatusEvent).where(StatusEvent.contribution_id == report.id)
                             .order_by(StatusEvent.created_at, StatusEvent.id)).all()
    out = []
    for e in events:
        item = {
            "at": e.created_at.isoformat(), "from": e.from_status, "to": e.to_status,
            "public_note": e.public_note, "planned_for": e.planned_for.isoformat() if e.planned_for else None,
            "reason": e.reason, "resolution": e.resolution, "duplicate_of": e.duplicate_of_id,
            "transferred_to": e.transferred_to,
            "photo_url": f"/media/photos/{e.photo_sha256}.jpg" if e.photo_sha256 else None,
            # no actor: the city's own systems (imports, demo history)
            "by": "resident" if e.actor is not None and not e.actor.is_staff else "city",
            "demo": e.is_demo,
        }
        if staff:
            item["internal_note"] = e.internal_note
            item["actor"] = e.actor.display_name if e.actor else None
        out.append(item)
    return out


def queue_filter(user: User):
    return and_(Contribution.kind == "report", Contribution.withdrawn_at.is_(None),
                policy.scope_clause(user))
