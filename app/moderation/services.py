"""Moderation: flags, the review queue, decisions, edits, bans, and the audit log.

Anyone signed in flags a contribution, a comment or a profile, once per item. An item whose
open flags reach MODERATION_HIDE_AT (3) is hidden until a moderator reviews it (Decidim's
rule), and its author is told. Moderators (and admins, with two-factor sign-in on) hide,
restore or dismiss with a reason the author receives, edit a title, a text or a public name
with the original kept in the audit log (FixMyStreet's `moderation_original_data`), and ban an
account or an e-mail domain: what a banned author writes afterwards is stored hidden. Every
action writes one row of the append-only audit log, in the same transaction as the change.
Each action locks the item's row first, so concurrent flags and decisions are serialised.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from flask_babel import lazy_pgettext as _lp
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from app import policy
from app.accounts.models import User
from app.api.types import exists_in_columns
from app.contributions.models import Contribution
from app.engagement.models import Comment
from app.errors import AppError, Conflict, FieldError, NotFound, ValidationFailed
from app.moderation.models import AuditEntry, BannedDomain, Flag

# the e-mails to authors, by what was moderated: a contribution, a comment ({title}: its
# beginning) or a profile ({title}: its public name), so the author knows which of theirs it
# is (English msgids, French in the catalogue; sent in both). Profiles are edited, never hidden.
HIDDEN_BY_FLAGS = {
    "contribution": (_lp("e-mail", "Your contribution is hidden until it is reviewed"),
                     _lp("e-mail", "Several people flagged “{title}”: it is hidden until a "
                                   "moderator reviews it.")),
    "comment": (_lp("e-mail", "Your comment is hidden until it is reviewed"),
                _lp("e-mail", "Several people flagged your comment “{title}”: it is hidden until "
                              "a moderator reviews it.")),
}
HIDDEN = {
    "contribution": (_lp("e-mail", "A moderator hid your contribution"),
                     _lp("e-mail", "A moderator hid “{title}”. Reason: {reason}")),
    "comment": (_lp("e-mail", "A moderator hid your comment"),
                _lp("e-mail", "A moderator hid your comment “{title}”. Reason: {reason}")),
}
RESTORED = {
    "contribution": (_lp("e-mail", "Your contribution is visible again"),
                     _lp("e-mail", "A moderator reviewed “{title}”: it is visible again. {reason}")),
    "comment": (_lp("e-mail", "Your comment is visible again"),
                _lp("e-mail", "A moderator reviewed your comment “{title}”: it is visible again. "
                              "{reason}")),
}
EDITED = {
    "contribution": (_lp("e-mail", "A moderator edited your contribution"),
                     _lp("e-mail", "A moderator edited “{title}”. Reason: {reason}")),
    "comment": (_lp("e-mail", "A moderator edited your comment"),
                _lp("e-mail", "A moderator edited your comment, which now reads “{title}”. "
                              "Reason: {reason}")),
    "user": (_lp("e-mail", "A moderator edited your profile"),
             _lp("e-mail", "A moderator changed your public name to “{title}”. Reason: {reason}")),
}

EDITABLE = {"contribution": ("title", "description"), "comment": ("body",), "user": ("display_name",)}
DECISIONS = {"contribution": ("hide", "restore", "dismiss"), "comment": ("hide", "restore", "dismiss"),
             "user": ("dismiss", "ban", "unban")}


class NotApplicable(AppError):
    status, code, title = 409, "decision_not_applicable", "Conflict"


def audit(session: Session, actor: User | None, action: str, subject_type: str, subject_id,
          reason: str | None = None, **details) -> None:
    session.add(AuditEntry(actor_id=actor.id if actor else None, action=action, subject_type=subject_type,
                           subject_id=str(subject_id), reason=reason, details=details))


def _subject(session: Session, subject_type: str, subject_id: int, lock: bool = True):
    model = {"contribution": Contribution, "comment": Comment, "user": User}[subject_type]
    if not exists_in_columns(subject_id):  # beyond every id column: names nothing
        raise NotFound("not_found")
    subject = session.get(model, subject_id, with_for_update={"of": model} if lock else None)
    if subject is None or (subject_type == "contribution" and subject.withdrawn_at is not None) or \
            (subject_type == "user" and subject.deleted_at is not None):
        raise NotFound("not_found")
    return subject


def _author_id(subject_type: str, subject) -> int | None:
    return subject.id if subject_type == "user" else subject.author_id


def _label(subject_type: str, subject) -> str:
    if subject_type == "contribution":
        return subject.title
    if subject_type == "comment":
        return subject.body[:80]
    return subject.display_name


def _tell_author(session: Session, subject_type: str, subject, mails: dict, reason: str = "") -> None:
    """The author is told, in the e-mail of `mails` that names this type of item."""
    from app.accounts.services import send_mail

    author_id = _author_id(subject_type, subject)
    author = session.get(User, author_id) if author_id else None
    if author is not None and author.deleted_at is None:
        send_mail(session, author.email, mails[subject_type], title=_label(subject_type, subject),
                  reason=reason or "")


def _close_flags(session: Session, subject_type: str, subject_id: int) -> int:
    return session.execute(update(Flag).where(
        Flag.subject_type == subject_type, Flag.subject_id == subject_id, Flag.closed_at.is_(None))
        .values(closed_at=func.now())).rowcount


def open_flags(session: Session, subject_type: str, subject_id: int) -> int:
    return session.scalar(select(func.count()).where(
        Flag.subject_type == subject_type, Flag.subject_id == subject_id, Flag.closed_at.is_(None)))


def flag(session: Session, user: User, subject_type: str, subject_id: int, reason: str,
         note: str | None, hide_at: int) -> dict:
    """One flag per person and item; at `hide_at` open flags the item is hidden until reviewed."""
    policy.require(session, user, "moderation.flag")
    if reason == "other" and not note:
        raise ValidationFailed([FieldError("note", "required")])
    subject = _subject(session, subject_type, subject_id)  # locked: flags on it are counted in turn
    if getattr(subject, "hidden", False):
        raise NotFound("not_found")  # a hidden item is not shown, so not flagged
    added = session.execute(pg_insert(Flag).values(
        subject_type=subject_type, subject_id=subject_id, user_id=user.id, reason=reason, note=note)
        .on_conflict_do_nothing(constraint="uq_flags_one_per_person").returning(Flag.id)).scalar()
    if added is None:
        raise Conflict("already_flagged")
    count = open_flags(session, subject_type, subject_id)
    hidden = False
    if count >= hide_at and subject_type in ("contribution", "comment"):
        subject.hidden = hidden = True
        audit(session, None, "auto_hide", subject_type, subject_id, None, flags=count)
        _tell_author(session, subject_type, subject, HIDDEN_BY_FLAGS)
    session.flush()
    return {"flags": count, "hidden": hidden}


def decide(session: Session, moderator: User, subject_type: str, subject_id: int, action: str,
           reason: str) -> dict:
    """hide / restore / dismiss (contributions, comments); dismiss / ban / unban (profiles)."""
    policy.require(session, moderator, "moderation.review")
    if action not in DECISIONS[subject_type]:
        raise NotApplicable()
    subject = _subject(session, subject_type, subject_id)
    closed = _close_flags(session, subject_type, subject_id)
    if action == "hide":
        subject.hidden = True
        _tell_author(session, subject_type, subject, HIDDEN, reason)
    elif action == "restore":
        subject.hidden = False
        _tell_author(session, subject_type, subject, RESTORED, reason)
    elif action == "ban":
        if subject.id == moderator.id:
            raise NotApplicable()
        subject.banned_at = subject.banned_at or datetime.now(UTC)
    elif action == "unban":
        subject.banned_at = None
    audit(session, moderator, action, subject_type, subject_id, reason, flags_closed=closed)
    session.flush()
    return state(session, subject_type, subject)


def edit(session: Session, moderator: User, subject_type: str, subject_id: int, changes: dict,
         reason: str) -> dict:
    """Replace a title, a text or a public name; the original goes to the audit log."""
    policy.require(session, moderator, "moderation.review")
    changes = {k: v for k, v in changes.items() if v is not None}
    wrong = [k for k in changes if k not in EDITABLE[subject_type]]
    if wrong or not changes:
        raise ValidationFailed([FieldError(k, "not_editable") for k in wrong] or
                               [FieldError(EDITABLE[subject_type][0], "nothing_to_change")])
    subject = _subject(session, subject_type, subject_id)
    original = {k: getattr(subject, k) for k in changes}
    for k, v in changes.items():
        setattr(subject, k, v)
    closed = _close_flags(session, subject_type, subject_id)
    audit(session, moderator, "edit", subject_type, subject_id, reason, original=original,
          changed=changes, flags_closed=closed)
    _tell_author(session, subject_type, subject, EDITED, reason)
    session.flush()
    return state(session, subject_type, subject)


def state(session: Session, subject_type: str, subject) -> dict:
    return {"subject_type": subject_type, "subject_id": subject.id,
            "hidden": bool(getattr(subject, "hidden", False)),
            "banned": subject_type == "user" and subject.banned_at is not None,
            "open_flags": open_flags(session, subject_type, subject.id)}


def is_banned(session: Session, user: User) -> bool:
    """The account is banned, or its e-mail's domain is: its new content is stored hidden."""
    if user.banned_at is not None:
        return True
    domain = user.email.rpartition("@")[2]
    return session.get(BannedDomain, domain) is not None


def ban_domain(session: Session, moderator: User, domain: str, reason: str) -> None:
    policy.require(session, moderator, "moderation.review")
    session.execute(pg_insert(BannedDomain).values(domain=domain, reason=reason, created_by=moderator.id)
                    .on_conflict_do_update(index_elements=[BannedDomain.domain], set_={"reason": reason}))
    audit(session, moderator, "ban_domain", "domain", domain, reason)


def unban_domain(session: Session, moderator: User, domain: str, reason: str | None) -> None:
    policy.require(session, moderator, "moderation.review")
    gone = session.execute(BannedDomain.__table__.delete().where(BannedDomain.domain == domain)).rowcount
    if not gone:
        raise NotFound("not_found")
    audit(session, moderator, "unban_domain", "domain", domain, reason)


def domains(session: Session) -> list[dict]:
    return [{"domain": d.domain, "reason": d.reason, "created_at": d.created_at.isoformat()}
            for d in session.scalars(select(BannedDomain).order_by(BannedDomain.domain))]


# ---- the queue ----------------------------------------------------------------------------------

QUEUE_SQL = """
WITH per_reason AS (
    SELECT subject_type, subject_id, reason, count(*) AS n, max(created_at) AS last_at
    FROM flags WHERE closed_at IS NULL GROUP BY 1, 2, 3
), flagged AS (
    SELECT subject_type, subject_id, sum(n)::int AS flags, max(last_at) AS last_flag_at,
           jsonb_object_agg(reason, n) AS reasons
    FROM per_reason GROUP BY 1, 2
    HAVING CAST(:reason AS text) IS NULL OR bool_or(reason = :reason)
), items AS (
    SELECT * FROM flagged
    UNION ALL  -- hidden and not flagged (any more): reviewed, or hidden at once
    SELECT 'contribution', c.id, 0, NULL, '{}'::jsonb FROM contributions c
    WHERE c.hidden AND c.withdrawn_at IS NULL AND c.author_id IS NOT NULL AND :with_hidden
      AND NOT EXISTS (SELECT 1 FROM flags f WHERE f.subject_type = 'contribution'
                      AND f.subject_id = c.id AND f.closed_at IS NULL)
    UNION ALL
    SELECT 'comment', m.id, 0, NULL, '{}'::jsonb FROM comments m
    WHERE m.hidden AND :with_hidden
      AND NOT EXISTS (SELECT 1 FROM flags f WHERE f.subject_type = 'comment'
                      AND f.subject_id = m.id AND f.closed_at IS NULL)
)
SELECT i.subject_type, i.subject_id, i.flags, i.last_flag_at, i.reasons,
       coalesce(c.title, m.body, u.display_name) AS label, c.description AS text,
       coalesce(c.hidden, m.hidden, false) AS hidden,
       a.id AS author_id, a.display_name AS author_name, a.banned_at IS NOT NULL AS author_banned,
       coalesce(c.kind, CASE i.subject_type WHEN 'comment' THEN 'comment' ELSE 'user' END) AS kind,
       coalesce(c.id, m.contribution_id) AS contribution_id
FROM items i
LEFT JOIN contributions c ON i.subject_type = 'contribution' AND c.id = i.subject_id
LEFT JOIN comments m ON i.subject_type = 'comment' AND m.id = i.subject_id
LEFT JOIN users u ON i.subject_type = 'user' AND u.id = i.subject_id
LEFT JOIN users a ON a.id = coalesce(c.author_id, m.author_id, u.id)
WHERE (CAST(:subject_type AS text) IS NULL OR i.subject_type = :subject_type)
  AND (:state = 'all' OR (:state = 'hidden') = coalesce(c.hidden, m.hidden, false))
ORDER BY i.flags DESC, i.last_flag_at DESC NULLS LAST, i.subject_type, i.subject_id
LIMIT :limit
"""


def queue(session: Session, moderator: User, state: str = "all", subject_type: str | None = None,
          reason: str | None = None, limit: int = 100) -> list[dict]:
    """Flagged items (open flags) and hidden ones, most flagged first, with the reasons, the
    last notes, and what each replaced if a moderator edited it."""
    policy.require(session, moderator, "moderation.review")
    rows = session.execute(text(QUEUE_SQL), {"state": state, "subject_type": subject_type, "reason": reason,
                                       "with_hidden": reason is None, "limit": limit}).mappings().all()
    notes = _notes(session, [(r["subject_type"], r["subject_id"]) for r in rows])
    return [{
        "subject_type": r["subject_type"], "subject_id": r["subject_id"], "kind": r["kind"],
        "contribution_id": r["contribution_id"], "label": r["label"], "text": r["text"],
        "hidden": r["hidden"], "flags": r["flags"], "reasons": r["reasons"] or {},
        "notes": notes.get((r["subject_type"], r["subject_id"]), []),
        "last_flag_at": r["last_flag_at"].isoformat() if r["last_flag_at"] else None,
        "author": {"id": r["author_id"], "display_name": r["author_name"], "banned": r["author_banned"]}
        if r["author_id"] else None,
    } for r in rows]


def _notes(session: Session, subjects: list[tuple[str, int]]) -> dict:
    if not subjects:
        return {}
    out: dict = {}
    for f in session.scalars(select(Flag).where(
            Flag.closed_at.is_(None), Flag.note.is_not(None),
            func.row(Flag.subject_type, Flag.subject_id).in_([func.row(t, i) for t, i in subjects]))
            .order_by(Flag.id.desc())):
        out.setdefault((f.subject_type, f.subject_id), []).append({"reason": f.reason, "note": f.note})
    return {k: v[:5] for k, v in out.items()}


# ---- the audit log ------------------------------------------------------------------------------

def audit_entries(session: Session, reader: User, subject_type: str | None = None,
                  subject_id: str | None = None, action: str | None = None, limit: int = 200,
                  before: int | None = None) -> list[dict]:
    policy.require(session, reader, "audit.read")
    q = select(AuditEntry, User.display_name).outerjoin(User, User.id == AuditEntry.actor_id)
    for column, value in ((AuditEntry.subject_type, subject_type), (AuditEntry.subject_id, subject_id),
                          (AuditEntry.action, action)):
        if value is not None:
            q = q.where(column == value)
    if before is not None:
        q = q.where(AuditEntry.id < before)
    return [{"id": e.id, "at": e.at.isoformat(), "actor": {"id": e.actor_id, "display_name": name}
             if e.actor_id else None, "action": e.action, "subject_type": e.subject_type,
             "subject_id": e.subject_id, "reason": e.reason, "details": e.details}
            for e, name in session.execute(q.order_by(AuditEntry.id.desc()).limit(limit))]


CSV_COLUMNS = ("id", "at", "actor_id", "actor", "action", "subject_type", "subject_id", "reason", "details")


def audit_csv(entries: list[dict]) -> str:
    import json

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        actor = e["actor"] or {}
        writer.writerow([e["id"], e["at"], actor.get("id", ""), actor.get("display_name", ""), e["action"],
                         e["subject_type"], e["subject_id"], e["reason"] or "",
                         json.dumps(e["details"], ensure_ascii=False, sort_keys=True)])
    return out.getvalue()
