"""Petitions: every write and every state change, and the reads that the policy shapes.
Services flush; never commit.

States: draft → awaiting_moderation (the author submits) → open (a moderator finds it
admissible; its period and thresholds are fixed then) or refused (with a reason). While it
collects signatures (open, then referred, until `closes_at`), reaching the answer threshold is
recorded once (the city owes a written answer) and reaching the referral threshold moves it
open → referred (the Conseil de Paris) once; at the deadline an open petition is closed
(lazily on reads, and by `flask petitions close-expired`). The city's answer (planners) moves
open, closed or referred → answered and ends the signing. Every change writes one
`petition_events` row; `_change` is the one place a petition's status is set from Python,
and the two automatic changes (referral, closing) are conditional UPDATEs in this module.

Concurrency: a signature's INSERT fires the counting trigger, whose UPDATE locks the
petition's row until the signer's transaction ends, so signers queue on that row and each one
reads the exact count its predecessors committed; the threshold UPDATEs that follow run
under the same lock and test "not reached yet", so each crossing happens in exactly one
transaction, whatever the concurrency.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_pgettext as _lp
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import mapping
from sqlalchemy import and_, literal_column, or_, select, text, true, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import policy
from app.accounts.models import User
from app.api.types import encode_cursor, exists_in_columns
from app.errors import Conflict, FieldError, NotFound, Unauthorized, ValidationFailed
from app.messages import in_both
from app.petitions.models import (
    ANSWERABLE,
    COLLECTING,
    PUBLIC_STATUSES,
    UNDECLARED,
    Petition,
    PetitionEvent,
    PetitionSettings,
    PetitionSignature,
)
from app.planner.services import PUBLIC_MIN_COUNT

# the limits of a petition's texts (app.petitions.schemas declares them to clients)
TITLE_MIN, TITLE_MAX, BODY_MAX, ADDRESSEE_MAX = 10, 150, 6000, 200
REASON_MAX, ANSWER_MAX = 1000, 20000
# what admins may set (petition_settings' constraints agree)
SIGNING_DAYS = (1, 366)
THRESHOLD_MAX = 10_000_000
ARRONDISSEMENTS = range(1, 21)
PARIS = ZoneInfo("Europe/Paris")
COLLECTING_CONSTRAINT = "ck_petition_signatures_collecting"
# who moved a petition into a status, as the history says it (never a person's name); the
# automatic changes (referred, closed, a threshold reached) are nobody's
EVENT_BY = {"draft": "author", "awaiting_moderation": "author", "open": "moderation",
            "refused": "moderation", "answered": "city"}

# the e-mails (English msgids, French in the catalogue; sent in both, the reader's language
# unknown); {title} is the petition's title, the page's link follows each text
OPENED = (_lp("e-mail", "Your petition is open for signatures"),
          _lp("e-mail", "“{title}” was found admissible: it collects signatures until {closes}."))
REFUSED = (_lp("e-mail", "Your petition was not accepted"),
           _lp("e-mail", "“{title}” was not found admissible. Reason: {reason}"))
ANSWER_DUE = (_lp("e-mail", "Your petition reached its answer threshold"),
              _lp("e-mail", "“{title}” has {count} signatures: the city will answer it in writing."))
REFERRED = (_lp("e-mail", "A petition you signed goes to the Conseil de Paris"),
            _lp("e-mail", "“{title}” reached {count} signatures: it is referred to the Conseil de "
                          "Paris."))
ANSWERED = (_lp("e-mail", "The city answered a petition you signed"),
            _lp("e-mail", "The city's answer to “{title}”:\n\n{answer}"))
HIDDEN = (_lp("e-mail", "A moderator hid your petition"),
          _lp("e-mail", "A moderator hid “{title}”. Reason: {reason}"))
RESTORED = (_lp("e-mail", "Your petition is visible again"),
            _lp("e-mail", "A moderator reviewed “{title}”: it is visible again. {reason}"))


# ---- reading ----------------------------------------------------------------------------------

def readable(session: Session, petition_id: int, user: User | None, *, lock: bool = False) -> Petition:
    """The petition `user` may read, else a problem: 404 (`petition_not_found`), or, for a
    draft, one awaiting moderation, refused or hidden, 401/403 unless its author or a
    moderator (`petition.read_draft`). One still collecting past its deadline is closed here."""
    if not exists_in_columns(petition_id):
        raise NotFound("petition_not_found")
    petition = session.get(Petition, petition_id, with_for_update={"of": Petition} if lock else None)
    if petition is None:
        raise NotFound("petition_not_found")
    if petition.status not in PUBLIC_STATUSES or petition.hidden:
        policy.require(session, user, "petition.read_draft", petition)
    if petition.status in COLLECTING and petition.closed_at is None and petition.closes_at <= _now():
        close_expired(session, petition.id)
        session.refresh(petition)
    return petition


def _now() -> datetime:
    return datetime.now(UTC)


def closing_time(opened_at: datetime, days: int) -> datetime:
    """The deadline of a petition opened at `opened_at` for `days` days: midnight in Paris at
    the end of the day `days` days later (Paris calendar, summer time or not)."""
    last_day = opened_at.astimezone(PARIS).date() + timedelta(days=days)
    return datetime.combine(last_day + timedelta(days=1), time(), tzinfo=PARIS).astimezone(UTC)


def next_threshold(petition) -> dict | None:
    """The next goal while it collects: the answer threshold until it is reached, then the
    referral threshold until the petition is referred. `petition`: a Petition, or a row with
    its attribute names."""
    if petition.status not in ("open",) or petition.referral_threshold is None:
        return None
    if petition.answer_threshold is not None and petition.answer_threshold_reached_at is None:
        kind, goal = "answer", petition.answer_threshold
    else:
        kind, goal = "referral", petition.referral_threshold
    return {"kind": kind, "count": goal, "remaining": max(goal - petition.signatures_count, 0)}


def center(petition: Petition) -> tuple[float, float] | None:
    """(lat, lon) of a point on the petition's place, for a link to the map."""
    if petition.geom is None:
        return None
    point = to_shape(petition.geom).representative_point()
    return point.y, point.x


def geometry_of(petition: Petition) -> dict | None:
    return mapping(to_shape(petition.geom)) if petition.geom is not None else None


def detail(session: Session, petition: Petition, user: User | None) -> dict:
    """A petition as the API shows it to `user`: never a signer's e-mail or id, its author by
    public name only; the refusal reason and `hidden` to those who may read drafts."""
    mine = my_signature(session, petition, user)
    out = summary(petition)
    out.update({
        "body": petition.body,
        "geometry": geometry_of(petition),
        "submitted_at": _iso(petition.submitted_at),
        "referred_at": _iso(petition.referred_at),
        "closed_at": _iso(petition.closed_at),
        "answer_threshold_reached_at": _iso(petition.answer_threshold_reached_at),
        "answer": {"text": petition.answer, "at": _iso(petition.answered_at)} if petition.answer else None,
        "is_author": user is not None and user.id == petition.author_id,
        "my_signature": mine,
        "history": history(session, petition),
    })
    if petition.status not in PUBLIC_STATUSES or petition.hidden:  # only its author, moderators
        out["refusal_reason"] = petition.refusal_reason
        out["hidden"] = petition.hidden
    return out


def summary(petition: Petition) -> dict:
    return {
        "id": petition.id,
        "title": petition.title,
        "addressee": petition.addressee,
        "status": petition.status,
        "author": petition.author.display_name if petition.author.deleted_at is None else None,
        "arrondissement": petition.arrondissement_id,
        "created_at": _iso(petition.created_at),
        "opened_at": _iso(petition.opened_at),
        "closes_at": _iso(petition.closes_at),
        "answered_at": _iso(petition.answered_at),
        "signatures_count": petition.signatures_count,
        "thresholds": ({"answer": petition.answer_threshold, "referral": petition.referral_threshold}
                       if petition.referral_threshold is not None else None),
        "next_threshold": next_threshold(petition),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def my_signature(session: Session, petition: Petition, user: User | None) -> dict | None:
    if user is None:
        return None
    row = session.get(PetitionSignature, (petition.id, user.id))
    if row is None:
        return None
    return {"public_name": row.public_name, "arrondissement": row.arrondissement,
            "signed_at": row.created_at.isoformat()}


def history(session: Session, petition: Petition) -> list[dict]:
    """Its public history, oldest first: who acted is never named (`by`: the author, the city
    or moderation, or none for automatic changes)."""
    events = session.scalars(select(PetitionEvent).where(PetitionEvent.petition_id == petition.id)
                             .order_by(PetitionEvent.at, PetitionEvent.id)).all()
    return [{"at": e.at.isoformat(), "from": e.from_status, "to": e.to_status,
             "threshold": e.threshold, "public_note": e.public_note,
             "by": EVENT_BY.get(e.to_status) if e.from_status != e.to_status else None}
            for e in events]


def list_petitions(session: Session, user: User | None, *, status: str | None = None,
                   arrondissement: int | None = None, q: str | None = None, mine: bool = False,
                   limit: int = 20, cursor: tuple[datetime, int] | None = None
                   ) -> tuple[list[Petition], str | None]:
    """A page of the petitions `user` may read, newest first, and the next page's cursor.
    Petitions past their deadline are closed first (one UPDATE, nothing when none is due)."""
    close_expired(session)
    if mine and user is None:
        raise Unauthorized()
    public = and_(Petition.status.in_(PUBLIC_STATUSES), Petition.hidden.is_(False))
    if policy.allows(session, user, "petition.read_draft"):  # moderators read them all
        readable_rule = true()
    elif user is not None:
        readable_rule = or_(public, Petition.author_id == user.id)
    else:
        readable_rule = public
    stmt = select(Petition).where(readable_rule)
    if mine:
        stmt = stmt.where(Petition.author_id == user.id)
    if status is not None:
        stmt = stmt.where(Petition.status == status)
    if arrondissement is not None:
        stmt = stmt.where(Petition.arrondissement_id == arrondissement)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(Petition.title.ilike(pattern, escape="\\"),
                              Petition.body.ilike(pattern, escape="\\")))
    if cursor is not None:
        stmt = stmt.where(tuple_(Petition.created_at, Petition.id) < tuple_(*cursor))
    rows = session.scalars(stmt.order_by(Petition.created_at.desc(), Petition.id.desc())
                           .limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].created_at, rows[-1].id) if more else None


def signatures(session: Session, petition: Petition, user: User | None, limit: int,
               cursor: tuple[datetime, int] | None) -> dict:
    """Signatures per declared arrondissement — counts under PUBLIC_MIN_COUNT are null for
    the public (planners see them all) — and a page of the names their signers chose to show
    (newest first). Never an e-mail, a user id or a signer's arrondissement."""
    exact = policy.allows(session, user, "petition.answer")
    minimum = 1 if exact else PUBLIC_MIN_COUNT
    counts = list(petition.arrondissement_counts)
    shown = suppress(counts, minimum)
    cells = [{"arrondissement": a if a != UNDECLARED else None, "count": shown[a - 1]}
             for a in [*ARRONDISSEMENTS, UNDECLARED]]
    params = {"p": petition.id, "limit": limit + 1}
    after = ""
    if cursor is not None:
        after = "AND (s.created_at, s.seq) < (:at, :seq)"
        params.update(at=cursor[0], seq=cursor[1])
    rows = session.execute(text(f"""
        SELECT u.display_name, s.created_at, s.seq
        FROM petition_signatures s JOIN users u ON u.id = s.user_id
        WHERE s.petition_id = :p AND s.public_name AND u.deleted_at IS NULL {after}
        ORDER BY s.created_at DESC, s.seq DESC LIMIT :limit
    """), params).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "signatures_count": petition.signatures_count,
        "min_count": minimum,
        "by_arrondissement": cells,
        "names": [{"name": r.display_name, "signed_at": r.created_at.isoformat()} for r in rows],
        "next_cursor": encode_cursor(rows[-1].created_at, rows[-1].seq) if more else None,
    }


def suppress(counts: list[int], minimum: int) -> list[int | None]:
    """Counts below `minimum` as None. When exactly one would be hidden, the smallest shown
    one is hidden too: else the total minus the others would give the hidden one away."""
    if minimum <= 1:
        return list(counts)
    out: list[int | None] = [c if c >= minimum else None for c in counts]
    if sum(v is None for v in out) == 1 and any(v is not None for v in out):
        smallest = min((i for i, v in enumerate(out) if v is not None), key=lambda i: counts[i])
        out[smallest] = None
    return out


# ---- writing ----------------------------------------------------------------------------------

def create(session: Session, author: User, values: dict) -> Petition:
    """A draft. `values`: title, body, addressee, and either `geometry` (shapely, already
    checked inside Paris) or `arrondissement` (the one it concerns), or neither."""
    policy.require(session, author, "petition.create")
    from app.moderation.services import is_banned

    petition = Petition(author_id=author.id, title=values["title"], body=values["body"],
                        addressee=values["addressee"], status="draft",
                        hidden=is_banned(session, author))
    _place(petition, values)
    session.add(petition)
    session.flush()
    _event(session, petition, None, "draft", author)
    session.refresh(petition)  # the trigger's arrondissement, the counters' defaults
    return petition


def _place(petition: Petition, values: dict) -> None:
    """Where it is: a geometry (its arrondissement located by the trigger), or a named
    arrondissement, or nowhere. Both at once is refused."""
    geometry, arrondissement = values.get("geometry"), values.get("arrondissement")
    if geometry is not None and arrondissement is not None:
        raise ValidationFailed([FieldError("arrondissement", "not_with_geometry")])
    if "geometry" in values or "arrondissement" in values:
        petition.geom = from_shape(geometry, srid=4326) if geometry is not None else None
        petition.arrondissement_id = arrondissement


def update(session: Session, petition: Petition, user: User, changes: dict) -> Petition:
    """The author edits a draft (locked by the caller); only the members given change."""
    policy.require(session, user, "petition.edit", petition)
    if petition.status != "draft":
        raise Conflict("petition_not_draft")
    for key in ("title", "body", "addressee"):
        if key in changes:
            setattr(petition, key, changes[key])
    _place(petition, changes)
    petition.updated_at = _now()
    session.flush()
    session.refresh(petition)
    return petition


def submit(session: Session, petition: Petition, user: User) -> Petition:
    """The author sends a draft to moderation."""
    policy.require(session, user, "petition.edit", petition)
    if petition.status != "draft":
        raise Conflict("petition_not_draft")
    petition.submitted_at = _now()
    _change(session, petition, "awaiting_moderation", user)
    return petition


def moderate(session: Session, petition: Petition, moderator: User, decision: str,
             reason: str | None) -> Petition:
    """admissible (→ open, with its period and the thresholds of today's settings) or refused
    (with a reason the author receives) for a petition awaiting moderation; hide or restore
    (with a reason, in the audit log) a published one."""
    policy.require(session, moderator, "petition.moderate", petition)
    if decision in ("refused", "hide", "restore") and not reason:
        raise ValidationFailed([FieldError("reason", "required")])
    if decision in ("hide", "restore"):
        return _hide(session, petition, moderator, decision == "hide", reason)
    if petition.status != "awaiting_moderation":
        raise Conflict("petition_not_awaiting_moderation")
    if decision == "refused":
        petition.refusal_reason = reason
        _change(session, petition, "refused", moderator, note=reason)
        _tell(session, petition, REFUSED, reason=reason)
        return petition
    settings = current_settings(session)
    now = _now()
    petition.opened_at = now
    petition.closes_at = closing_time(now, settings.signing_days)
    petition.answer_threshold = settings.answer_threshold
    petition.referral_threshold = settings.referral_threshold
    _change(session, petition, "open", moderator, note=reason)
    _tell(session, petition, OPENED, closes=_paris_day(petition.closes_at - timedelta(seconds=1)))
    return petition


def _hide(session: Session, petition: Petition, moderator: User, hide: bool, reason: str) -> Petition:
    from app.moderation.services import NotApplicable, audit

    if petition.status not in PUBLIC_STATUSES:
        raise NotApplicable()  # not published: nothing to hide
    petition.hidden = hide
    petition.updated_at = _now()
    audit(session, moderator, "hide" if hide else "restore", "petition", petition.id, reason)
    _tell(session, petition, HIDDEN if hide else RESTORED, reason=reason)
    session.flush()
    return petition


def _paris_day(moment: datetime) -> str:
    return moment.astimezone(PARIS).date().isoformat()


def sign(session: Session, user: User, petition_id: int, public_name: bool,
         arrondissement: int | None) -> dict:
    """Sign, once per account: signing again changes only the choices (whether the name is
    shown, the arrondissement declared), never the count. Crossing a threshold is recorded in
    this transaction, exactly once (see the module's docstring). From the INSERT to the
    commit this transaction holds the petition's row lock, which every other signer waits
    for: only one SELECT runs in that window, unless a threshold is due."""
    policy.require(session, user, "petition.sign")
    petition = readable(session, petition_id, user)
    _check_collecting(petition)
    statement = pg_insert(PetitionSignature).values(
        petition_id=petition.id, user_id=user.id, public_name=public_name, arrondissement=arrondissement)
    statement = statement.on_conflict_do_update(
        constraint="pk_petition_signatures",
        set_={"public_name": statement.excluded.public_name,
              "arrondissement": statement.excluded.arrondissement},
    ).returning(literal_column("xmax = 0").label("inserted"),  # false: it was there already
                PetitionSignature.public_name, PetitionSignature.arrondissement,
                PetitionSignature.created_at)
    try:
        mine = session.execute(statement).one()
    except IntegrityError as exc:
        # the trigger, under the petition's row lock: answered, hidden or past its deadline
        # since we read it
        if getattr(exc.orig.diag, "constraint_name", None) == COLLECTING_CONSTRAINT:
            raise Conflict("petition_closed") from None
        raise
    state = _state(session, petition.id)  # after our INSERT, under the row lock: exact
    if mine.inserted and _threshold_due(state):
        _thresholds(session, petition)
        state = _state(session, petition.id)
    return {"petition_id": petition.id, "signed": True, "signatures_count": state.signatures_count,
            "status": state.status, "next_threshold": next_threshold(state),
            "my_signature": {"public_name": mine.public_name, "arrondissement": mine.arrondissement,
                             "signed_at": mine.created_at.isoformat()}}


def unsign(session: Session, user: User, petition_id: int) -> dict:
    """Withdraw one's signature while the petition collects (idempotent). The count goes
    down; a threshold already reached stays reached (and is never recorded twice)."""
    policy.require(session, user, "petition.sign")
    petition = readable(session, petition_id, user)
    _check_collecting(petition)
    session.execute(PetitionSignature.__table__.delete().where(
        PetitionSignature.petition_id == petition.id, PetitionSignature.user_id == user.id))
    state = _state(session, petition.id)
    return {"petition_id": petition.id, "signed": False, "signatures_count": state.signatures_count,
            "status": state.status, "next_threshold": next_threshold(state), "my_signature": None}


def _check_collecting(petition: Petition) -> None:
    if petition.status in ("draft", "awaiting_moderation", "refused"):
        raise Conflict("petition_not_open")
    if petition.status not in COLLECTING or petition.hidden or petition.closes_at <= _now():
        raise Conflict("petition_closed")


def _state(session: Session, petition_id: int):
    """What signing changes, read fresh (a Row with Petition's attribute names)."""
    return session.execute(select(
        Petition.signatures_count, Petition.status, Petition.answer_threshold,
        Petition.answer_threshold_reached_at, Petition.referral_threshold,
    ).where(Petition.id == petition_id)).one()


def _threshold_due(state) -> bool:
    answer_due = (state.answer_threshold is not None and state.answer_threshold_reached_at is None
                  and state.signatures_count >= state.answer_threshold)
    return answer_due or (state.status == "open" and state.signatures_count >= state.referral_threshold)


def _thresholds(session: Session, petition: Petition) -> None:
    """Under the petition's row lock, after a new signature: record the answer threshold if it
    was just reached, and refer the petition if the referral threshold was. Each UPDATE tests
    that it has not happened yet, so it happens once."""
    reached = session.execute(text("""
        UPDATE petitions SET answer_threshold_reached_at = now()
        WHERE id = :id AND answer_threshold_reached_at IS NULL
          AND answer_threshold IS NOT NULL AND signatures_count >= answer_threshold
        RETURNING signatures_count, answer_threshold, status
    """), {"id": petition.id}).one_or_none()
    if reached is not None:
        _event(session, petition, reached.status, reached.status, None, threshold=reached.answer_threshold)
        _tell(session, petition, ANSWER_DUE, count=f"{reached.signatures_count:,}")
    referred = session.execute(text("""
        UPDATE petitions SET status = 'referred', referred_at = now(), updated_at = now()
        WHERE id = :id AND status = 'open' AND signatures_count >= referral_threshold
        RETURNING signatures_count, referral_threshold
    """), {"id": petition.id}).one_or_none()
    if referred is not None:
        _event(session, petition, "open", "referred", None, threshold=referred.referral_threshold)
        _tell(session, petition, REFERRED, signers=True, count=f"{referred.signatures_count:,}")


def answer(session: Session, petition: Petition, planner: User, text_: str) -> Petition:
    """The city's official answer (planners), published on the petition; it ends the signing.
    Every signer (and the author) is told."""
    policy.require(session, planner, "petition.answer", petition)
    if petition.status not in ANSWERABLE:
        raise Conflict("petition_not_answerable")
    now = _now()
    petition.answer, petition.answered_at, petition.answered_by_id = text_, now, planner.id
    petition.closed_at = petition.closed_at or now
    _change(session, petition, "answered", planner)
    _tell(session, petition, ANSWERED, signers=True, answer=text_)
    return petition


def close_expired(session: Session, petition_id: int | None = None) -> int:
    """Close what collects past its deadline: an open petition becomes closed (one event,
    dated at its deadline), a referred one stays referred; both stop collecting. One
    conditional UPDATE: concurrent callers close each petition once. Returns how many."""
    only = "AND id = :id" if petition_id is not None else ""
    closed, events = session.execute(text(f"""
        WITH closed AS (
            UPDATE petitions
            SET status = CASE WHEN status = 'open' THEN 'closed' ELSE status END,
                closed_at = closes_at, updated_at = now()
            WHERE status IN ('open', 'referred') AND closed_at IS NULL AND closes_at <= now() {only}
            RETURNING id, status, closes_at
        ), events AS (
            INSERT INTO petition_events (petition_id, at, from_status, to_status)
            SELECT id, closes_at, 'open', 'closed' FROM closed WHERE status = 'closed'
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM closed), (SELECT count(*) FROM events)
    """), {"id": petition_id}).one()
    return closed


def _change(session: Session, petition: Petition, to: str, actor: User | None,
            note: str | None = None) -> None:
    """The one place a petition's status changes from Python: the status and its event."""
    from_status = petition.status
    petition.status = to
    petition.updated_at = _now()
    session.flush()
    _event(session, petition, from_status, to, actor, note=note)


def _event(session: Session, petition: Petition, from_status: str | None, to: str, actor: User | None,
           *, note: str | None = None, threshold: int | None = None) -> None:
    session.add(PetitionEvent(petition_id=petition.id, from_status=from_status, to_status=to,
                              actor_id=actor.id if actor else None, public_note=note,
                              threshold=threshold))
    session.flush()


def _tell(session: Session, petition: Petition, mail: tuple, *, signers: bool = False, **params) -> None:
    """One e-mail (French then English) through the outbox to the author and, with `signers`,
    to every signer: one INSERT … SELECT, however many they are. Accounts of other
    applications (`.invalid`, RFC 2606), deleted and disabled ones get none."""
    subject, body = (in_both(part) for part in mail)
    link = f"{current_app.config['PUBLIC_URL']}/petitions/{petition.id}"
    text_ = "\n\n".join(b.format(title=petition.title, **params) + f"\n{link}" for b in body) + "\n"
    session.execute(text("""
        INSERT INTO outbox (recipient, subject, body)
        SELECT DISTINCT u.email, :subject, :body FROM users u
        WHERE u.is_active AND u.deleted_at IS NULL AND u.email NOT LIKE '%.invalid'
          AND (u.id = :author OR (:signers AND u.id IN (
                SELECT user_id FROM petition_signatures WHERE petition_id = :p)))
    """), {"subject": "[Cartagora] " + " / ".join(subject), "body": text_, "author": petition.author_id,
           "signers": signers, "p": petition.id})


# ---- settings ---------------------------------------------------------------------------------

def current_settings(session: Session) -> PetitionSettings:
    return session.get(PetitionSettings, 1)


def settings_out(settings: PetitionSettings) -> dict:
    return {"signing_days": settings.signing_days, "answer_threshold": settings.answer_threshold,
            "referral_threshold": settings.referral_threshold,
            "updated_at": settings.updated_at.isoformat()}


def update_settings(session: Session, admin: User, values: dict) -> PetitionSettings:
    """Admins set the period and thresholds of petitions opened from now on (audited)."""
    policy.require(session, admin, "admin.manage")
    answer_at, referral_at = values["answer_threshold"], values["referral_threshold"]
    if answer_at is not None and answer_at >= referral_at:
        raise ValidationFailed([FieldError("answer_threshold", "not_below_referral")])
    settings = session.get(PetitionSettings, 1, with_for_update=True)
    original = settings_out(settings)
    settings.signing_days = values["signing_days"]
    settings.answer_threshold, settings.referral_threshold = answer_at, referral_at
    settings.updated_at, settings.updated_by_id = _now(), admin.id
    from app.moderation.services import audit

    original.pop("updated_at")
    audit(session, admin, "petition_settings.update", "petition_settings", 1, None,
          original=original, changed=values)
    session.flush()
    return settings


# ---- the Atom feed ----------------------------------------------------------------------------

def feed_events(session: Session, limit: int = 50) -> list:
    """The last petitions opened and answered (public ones only), newest first."""
    return session.execute(text("""
        SELECT e.id, e.at, e.to_status, p.id AS petition_id, p.title, p.body, p.answer, p.addressee
        FROM petition_events e JOIN petitions p ON p.id = e.petition_id
        WHERE e.to_status IN ('open', 'answered') AND e.from_status IS DISTINCT FROM e.to_status
          AND p.status IN ('open', 'closed', 'referred', 'answered') AND NOT p.hidden
        ORDER BY e.at DESC, e.id DESC LIMIT :limit
    """), {"limit": limit}).all()

