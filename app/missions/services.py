"""Volunteer missions: organisations, their verification and members, missions and their
states, sign-ups with capacity and a waiting list, reminders, and the reads the policy shapes.
Services flush; never commit.

Organisations: pending → verified (moderators) → suspended; or refused, with a reason. Only
a verified organisation's missions are public; its members (owners add and remove them)
manage its missions and their sign-ups.

Missions: draft → published → full (automatic: every open slot taken) ⇄ published (a place
freed) → closed (by the organisation, or once its last slot is past: `flask missions
close-ended` and lazily on reads) or cancelled (with a reason; every active volunteer is told).

Capacity under concurrency: signing up, cancelling, deciding and changing a capacity all lock
the slot's row first (SELECT … FOR UPDATE), so that per slot they run one at a time and each
reads the `taken` its predecessors committed; a new sign-up takes a place (pending, until the
organisation decides) if one is free, else waits. The counting trigger keeps `taken` and
`waiting` exact and CHECK (taken <= capacity) refuses an overbooking outright, and the partial
UNIQUE index one active sign-up per person and slot. When a place frees, the first waiting
volunteer is promoted to pending in the same transaction and told.

Privacy: a volunteer's name, e-mail and message are shown to the organisation's members and to
themselves; everyone else sees counts.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from flask import current_app
from flask_babel import lazy_pgettext as _lp
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import mapping
from sqlalchemy import and_, bindparam, case, delete, exists, func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, noload

from app import policy
from app.accounts.models import User
from app.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from app.messages import in_both
from app.missions import schedule
from app.missions.models import (
    ACTIVE,
    OPEN_STATUSES,
    PUBLIC_STATUSES,
    Mission,
    MissionLink,
    MissionPlace,
    MissionSignup,
    MissionSlot,
    Organisation,
    OrganisationMember,
)

# the limits of the texts (app.missions.schemas declares them to clients)
NAME_MAX, ORG_DESCRIPTION_MAX, ADDRESS_MAX, URL_MAX, PHONE_MAX = 200, 5000, 300, 300, 30
TITLE_MIN, TITLE_MAX, DESCRIPTION_MAX, REASON_MAX, MESSAGE_MAX = 5, 150, 20000, 1000, 1000
PLACES_MAX, LABEL_MAX, LINKS_MAX, LIST_ITEMS_MAX, ITEM_MAX = 20, 200, 10, 20, 100
CAPACITY = (1, 10000)
MEMBERS_MAX = 50
# the public list: a page of at most this many, never beyond this offset (bounded cost)
LIST_LIMIT, OFFSET_MAX = (1, 100, 20), 10000
RADIUS_M = (50, 20000, 1000)  # near a point: lowest, highest, default

# e-mails (English msgids, French in the catalogue; both sent); {title} is the mission's or the
# organisation's, the page's link follows each text
VERIFIED_MAIL = (_lp("e-mail", "Your organisation is verified"),
                 _lp("e-mail", "“{title}” is verified: its published missions are now public."))
REFUSED_MAIL = (_lp("e-mail", "Your organisation was not verified"),
                _lp("e-mail", "“{title}” was not verified. Reason: {reason}"))
SUSPENDED_MAIL = (_lp("e-mail", "Your organisation is suspended"),
                  _lp("e-mail", "“{title}” is suspended: its missions are no longer public. Reason: {reason}"))
NEW_VOLUNTEER = (_lp("e-mail", "A volunteer signed up"),
                 _lp("e-mail", "Someone signed up for “{title}” ({slot}): accept or decline on the sign-ups page."))
SIGNED_UP = (_lp("e-mail", "You signed up for a mission"),
             _lp("e-mail", "You signed up for “{title}” ({slot}). The organisation will confirm."))
WAITING = (_lp("e-mail", "You are on a waiting list"),
           _lp("e-mail", "“{title}” ({slot}) is full: you are on its waiting list and will be told if a place frees."))
PROMOTED = (_lp("e-mail", "A place freed up for you"),
            _lp("e-mail", "A place freed up on “{title}” ({slot}): the organisation will confirm."))
ACCEPTED = (_lp("e-mail", "Your sign-up is accepted"),
            _lp("e-mail", "The organisation expects you for “{title}” ({slot}). A reminder will come the day before."))
DECLINED = (_lp("e-mail", "Your sign-up was declined"),
            _lp("e-mail", "The organisation declined your sign-up for “{title}” ({slot}). {note}"))
REMINDER = (_lp("e-mail", "Reminder: your mission is tomorrow"),
            _lp("e-mail", "Reminder: “{title}”, {slot}. {places}"))
CANCELLED = (_lp("e-mail", "A mission you signed up for is cancelled"),
             _lp("e-mail", "“{title}” is cancelled. Reason: {reason}"))


def _now() -> datetime:
    return datetime.now(UTC)


# ---- organisations ----------------------------------------------------------------------------

def siren_valid(siren: str) -> bool:
    """A SIREN's Luhn checksum (INSEE): the 9 digits' weighted sum is a multiple of 10."""
    total = 0
    for i, ch in enumerate(reversed(siren)):
        n = int(ch) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _identity_errors(rna: str | None, siren: str | None) -> list[FieldError]:
    errors = []
    if rna is None and siren is None:
        errors.append(FieldError("rna", "rna_or_siren_required"))
    if siren is not None and not siren_valid(siren):
        errors.append(FieldError("siren", "siren_checksum"))
    return errors


def _point(geometry) -> object | None:
    return None if geometry is None else from_shape(geometry, srid=4326)


def register_organisation(session: Session, user: User, values: dict) -> Organisation:
    """A verified account registers an organisation (pending) and becomes its owner."""
    policy.require(session, user, "organisation.create")
    errors = _identity_errors(values["rna"], values["siren"])
    if errors:
        raise ValidationFailed(errors)
    _check_unique_identity(session, values["rna"], values["siren"], None)
    org = Organisation(name=values["name"], rna=values["rna"], siren=values["siren"],
                       description=values["description"], address=values["address"],
                       geom=_point(values["geometry"]), website=values["website"],
                       contact_email=values["contact_email"], contact_phone=values["contact_phone"],
                       created_by_id=user.id)
    session.add(org)
    session.flush()
    session.add(OrganisationMember(organisation_id=org.id, user_id=user.id, role="owner", added_by_id=user.id))
    session.flush()
    session.refresh(org)
    return org


def _check_unique_identity(session: Session, rna: str | None, siren: str | None, own_id: int | None) -> None:
    for field, value, column in (("rna", rna, Organisation.rna), ("siren", siren, Organisation.siren)):
        if value is None:
            continue
        other = session.scalar(select(Organisation.id).where(column == value, Organisation.id != (own_id or 0)))
        if other is not None:
            raise Conflict("organisation_exists", {"field": field}, errors=[FieldError(field, "organisation_exists")])


def organisation_readable(session: Session, organisation_id: int, user: User | None,
                          lock: bool = False) -> Organisation:
    """A verified organisation to anyone; the others to their members and moderators (404 to
    the rest, which does not tell that it exists)."""
    q = select(Organisation).where(Organisation.id == organisation_id)
    org = session.scalar(q.with_for_update(of=Organisation) if lock else q)
    if org is None or not (org.status == "verified" or _manages(session, user, org)
                           or policy.allows(session, user, "organisation.verify")):
        raise NotFound("organisation_not_found")
    return org


def _manages(session: Session, user: User | None, subject) -> bool:
    return policy.allows(session, user, "organisation.manage", subject)


def update_organisation(session: Session, org: Organisation, user: User, changes: dict) -> Organisation:
    """Its members edit it; a changed RNA or SIREN sends a verified organisation back to
    verification."""
    policy.require(session, user, "organisation.manage", org)
    rna, siren = changes.get("rna", org.rna), changes.get("siren", org.siren)
    errors = _identity_errors(rna, siren)
    if errors:
        raise ValidationFailed(errors)
    _check_unique_identity(session, rna, siren, org.id)
    if (rna, siren) != (org.rna, org.siren) and org.status == "verified":
        org.status, org.verified_at, org.verified_by_id = "pending", None, None
    for key, value in changes.items():
        if key == "geometry":
            org.geom = _point(value)
        else:
            setattr(org, key, value)
    org.updated_at = _now()
    session.flush()
    return org


VERIFICATIONS = {"verify": (("pending", "suspended", "refused"), "verified"),
                 "refuse": (("pending",), "refused"),
                 "suspend": (("verified",), "suspended")}


def verify_organisation(session: Session, org: Organisation, moderator: User, decision: str,
                        reason: str | None) -> Organisation:
    """Moderators verify (from pending, refused or suspended), refuse (pending, with a reason)
    or suspend (verified, with a reason) an organisation; audited, its owners told."""
    policy.require(session, moderator, "organisation.verify")
    sources, target = VERIFICATIONS[decision]
    if org.status not in sources:
        raise Conflict("organisation_status", {"status": org.status})
    if decision != "verify" and not reason:
        raise ValidationFailed([FieldError("reason", "reason_required")])
    from app.moderation.services import audit

    audit(session, moderator, f"organisation.{decision}", "organisation", org.id, reason,
          from_status=org.status)
    org.status, org.status_reason, org.updated_at = target, reason if decision != "verify" else None, _now()
    if decision == "verify":
        org.verified_at, org.verified_by_id = _now(), moderator.id
    mail = {"verify": VERIFIED_MAIL, "refuse": REFUSED_MAIL, "suspend": SUSPENDED_MAIL}[decision]
    _tell(session, mail, f"/organisations/{org.id}",
          select(OrganisationMember.user_id).where(OrganisationMember.organisation_id == org.id,
                                                   OrganisationMember.role == "owner"),
          title=org.name, reason=reason or "")
    session.flush()
    return org


def add_member(session: Session, org: Organisation, owner: User, email: str, role: str) -> OrganisationMember:
    """An owner adds an existing account by its e-mail address (or changes its role)."""
    _require_owner(session, org, owner)
    member = session.scalar(select(User).where(func.lower(User.email) == email.lower(),
                                               User.deleted_at.is_(None), User.is_active))
    if member is None:
        raise ValidationFailed([FieldError("email", "no_such_account")])
    row = session.get(OrganisationMember, (org.id, member.id))
    if row is None:
        if len(org.members) >= MEMBERS_MAX:
            raise Conflict("too_many_members", {"max": MEMBERS_MAX})
        row = OrganisationMember(organisation_id=org.id, user_id=member.id, role=role, added_by_id=owner.id)
        session.add(row)
    else:
        if row.role == "owner" and role != "owner":
            _keep_an_owner(org, member.id)
        row.role = role
    session.flush()
    session.refresh(org)
    return row


def remove_member(session: Session, org: Organisation, actor: User, user_id: int) -> None:
    """An owner removes a member, or a member leaves; the last owner stays."""
    if actor.id != user_id:
        _require_owner(session, org, actor)
    else:
        policy.require(session, actor, "organisation.manage", org)
    row = session.get(OrganisationMember, (org.id, user_id))
    if row is None:
        raise NotFound("member_not_found")
    if row.role == "owner":
        _keep_an_owner(org, user_id)
    session.delete(row)
    session.flush()
    session.expire(org, ["members"])


def _require_owner(session: Session, org: Organisation, user: User) -> None:
    policy.require(session, user, "organisation.manage", org)
    if user.id not in org.owner_ids and not user.has_role("moderator"):
        raise Forbidden("owner_only")


def _keep_an_owner(org: Organisation, leaving: int) -> None:
    if org.owner_ids - {leaving} == set():
        raise Conflict("last_owner")


def list_organisations(session: Session, user: User | None, *, status: str | None, mine: bool,
                       q: str | None, limit: int, offset: int) -> tuple[list[Organisation], int]:
    """Verified ones to everyone; with `mine`, the reader's own in any status; moderators see
    every status (their verification queue: `status=pending`)."""
    query = select(Organisation)
    moderator = policy.allows(session, user, "organisation.verify")
    if mine:
        if user is None:
            return [], 0
        query = query.where(Organisation.id.in_(
            select(OrganisationMember.organisation_id).where(OrganisationMember.user_id == user.id)))
    elif not moderator:
        query = query.where(Organisation.status == "verified")
    if status:
        query = query.where(Organisation.status == status)
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(Organisation.name.ilike(like), Organisation.rna == q.upper(),
                                Organisation.siren == q))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(Organisation.status != "pending", Organisation.name, Organisation.id)
                           .limit(limit).offset(offset)).all()
    return list(rows), total


def organisation_out(session: Session, org: Organisation, user: User | None) -> dict:
    """Its public card; members (names, roles, e-mails) to its members and moderators."""
    out = {
        "id": org.id, "name": org.name, "rna": org.rna, "siren": org.siren,
        "description": org.description, "address": org.address,
        "geometry": mapping(to_shape(org.geom)) if org.geom is not None else None,
        "website": org.website, "contact_email": org.contact_email, "contact_phone": org.contact_phone,
        "status": org.status, "verified_at": org.verified_at.isoformat() if org.verified_at else None,
        "missions_count": session.scalar(select(func.count()).where(
            Mission.organisation_id == org.id, Mission.status.in_(OPEN_STATUSES))),
        "created_at": org.created_at.isoformat(),
    }
    manager = _manages(session, user, org) or policy.allows(session, user, "organisation.verify")
    out["can_manage"] = _manages(session, user, org)
    if manager:
        out["status_reason"] = org.status_reason
        users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(org.member_ids)))}
        out["members"] = [{"user_id": m.user_id, "display_name": users[m.user_id].display_name,
                           "email": users[m.user_id].email, "role": m.role,
                           "added_at": m.created_at.isoformat()} for m in org.members]
    return out


# ---- missions ---------------------------------------------------------------------------------

def _slots_of(values: dict) -> list[schedule.Slot]:
    try:
        if values["schedule"] == "one_off":
            return schedule.one_off(values["slots"] or [])
        if values["schedule"] == "recurring":
            if values["recurrence"] is None:
                raise schedule.ScheduleError("recurrence", "recurrence_required")
            return schedule.recurring(values["recurrence"])
        if values["period"] is None:
            raise schedule.ScheduleError("period", "period_required")
        return schedule.open_period(values["period"])
    except schedule.ScheduleError as err:
        raise ValidationFailed([FieldError(err.field, err.code, err.params)]) from None


def _check_places(values: dict) -> None:
    if values["remote"] != "full" and not values["places"]:
        raise ValidationFailed([FieldError("places", "place_required")])


def create_mission(session: Session, org: Organisation, user: User, values: dict, *,
                   source: str = "cartagora", external_id: str | None = None) -> Mission:
    """A member drafts a mission of their organisation, with its places, slots and links."""
    policy.require(session, user, "organisation.manage", org)
    _check_places(values)
    slots = _slots_of(values)
    links = _links(session, values["links"])
    mission = Mission(organisation_id=org.id, created_by_id=user.id, source=source, external_id=external_id,
                      **_columns(values))
    mission.recurrence = _recurrence_json(values)
    mission.places = _places(values["places"])
    mission.slots = [MissionSlot(starts_at=s.starts_at, ends_at=s.ends_at, capacity=s.capacity) for s in slots]
    mission.links = links
    session.add(mission)
    session.flush()
    session.refresh(mission)
    return mission


TEXT_FIELDS = ("title", "description", "domain", "activities", "remote", "min_age", "skills",
               "accessibility", "reduced_mobility_accessible")


def _columns(values: dict) -> dict:
    out = {k: values[k] for k in TEXT_FIELDS if k in values}
    if "schedule" in values:
        out["schedule"] = values["schedule"]
    return out


def _recurrence_json(values: dict) -> dict | None:
    rule = values.get("recurrence") if values.get("schedule") == "recurring" else None
    if rule is None:
        return None
    return {"weekdays": sorted(set(rule["weekdays"])), "start_time": rule["start_time"].strftime("%H:%M"),
            "end_time": rule["end_time"].strftime("%H:%M"), "from_date": rule["from_date"].isoformat(),
            "until_date": rule["until_date"].isoformat(), "capacity": rule["capacity"]}


def _places(places: list[dict]) -> list[MissionPlace]:
    return [MissionPlace(seq=i, label=p["label"], geom=from_shape(p["geometry"], srid=4326))
            for i, p in enumerate(places)]


def _links(session: Session, links: list[dict]) -> list[MissionLink]:
    """Each link's target must exist and be public: a proposal or report not hidden, a
    published consultation, a budget project."""
    from app.budget.models import Project
    from app.consultations.models import Consultation
    from app.contributions.models import Contribution

    found = []
    for i, link in enumerate(links):
        kind = link["kind"]
        if kind == "hotspot":
            found.append(MissionLink(kind=kind, center=from_shape(link["center"], srid=4326),
                                     radius_m=link["radius_m"]))
            continue
        target_id = link["id"]
        if kind == "contribution":
            target = session.get(Contribution, target_id)
            ok = target is not None and not target.hidden
        elif kind == "consultation":
            target = session.get(Consultation, target_id)
            ok = target is not None and target.published_at is not None
        else:
            target = session.get(Project, target_id)
            ok = target is not None
        if not ok:
            raise ValidationFailed([FieldError(f"links.{i}.id", "link_target_not_found", {"kind": kind})])
        found.append(MissionLink(kind=kind, **{f"{kind}_id": target_id}))
    return found


def update_mission(session: Session, mission: Mission, user: User, changes: dict) -> Mission:
    """Members edit its texts, places and links in any state but cancelled; its schedule
    (slots) only while it is a draft — afterwards, a slot's capacity (`set_capacity`)."""
    policy.require(session, user, "organisation.manage", mission)
    if mission.status in ("cancelled", "closed"):
        raise Conflict("mission_status", {"status": mission.status})
    scheduling = {"schedule", "slots", "recurrence", "period"} & changes.keys()
    if scheduling and mission.status != "draft":
        raise Conflict("mission_slots_locked")
    merged = {"remote": changes.get("remote", mission.remote),
              "places": changes["places"] if "places" in changes else mission.places}
    _check_places(merged)
    if scheduling:
        values = {"schedule": changes.get("schedule", mission.schedule), "slots": changes.get("slots"),
                  "recurrence": changes.get("recurrence"), "period": changes.get("period")}
        slots = _slots_of(values)
        mission.schedule = values["schedule"]
        mission.recurrence = _recurrence_json(values)
        mission.slots = [MissionSlot(starts_at=s.starts_at, ends_at=s.ends_at, capacity=s.capacity)
                         for s in slots]
    for key, value in _columns({k: v for k, v in changes.items() if k in TEXT_FIELDS}).items():
        setattr(mission, key, value)
    if "places" in changes:
        mission.places = []
        session.flush()
        mission.places = _places(changes["places"])
    if "links" in changes:
        mission.links = _links(session, changes["links"])
    mission.updated_at = _now()
    session.flush()
    if mission.status in OPEN_STATUSES:
        refresh_full(session, mission.id)
    session.refresh(mission)
    return mission


STATE_ACTIONS = {"publish": (("draft",), "published"), "close": (("published", "full"), "closed"),
                 "reopen": (("closed",), "published"), "cancel": (("draft", "published", "full"), "cancelled")}


def change_state(session: Session, mission: Mission, user: User, action: str, reason: str | None) -> Mission:
    """publish (needs a slot still open to sign-ups), close, reopen (a closed one with an open
    slot), cancel (with a reason: its active volunteers are told, their reminders dropped)."""
    policy.require(session, user, "organisation.manage", mission)
    sources, target = STATE_ACTIONS[action]
    if mission.status not in sources:
        raise Conflict("mission_status", {"status": mission.status})
    if action in ("publish", "reopen") and not any(_open(mission, s) for s in mission.slots):
        raise Conflict("mission_no_open_slot")
    if action == "cancel":
        if not reason:
            raise ValidationFailed([FieldError("reason", "reason_required")])
        _tell(session, CANCELLED, f"/missions/{mission.id}",
              select(MissionSignup.user_id).where(MissionSignup.mission_id == mission.id,
                                                  MissionSignup.status.in_(ACTIVE)),
              title=mission.title, reason=reason)
        session.execute(delete(_outbox()).where(
            _outbox().c.mission_signup_id.in_(select(MissionSignup.id).where(MissionSignup.mission_id == mission.id)),
            _outbox().c.status == "pending"))
    mission.status, mission.updated_at = target, _now()
    mission.status_reason = reason if action == "cancel" else None
    if action == "publish" and mission.published_at is None:
        mission.published_at = _now()
    if target == "closed":
        mission.closed_at = _now()
    session.flush()
    if target == "published":
        refresh_full(session, mission.id)
    session.refresh(mission)
    return mission


def _open(mission: Mission, slot: MissionSlot, now: datetime | None = None) -> bool:
    return schedule.slot_is_open(slot.starts_at, slot.ends_at, now or _now(),
                                 period=mission.schedule == "open_period")


def refresh_full(session: Session, mission_id: int) -> None:
    """published ⇄ full: full when every slot still open to sign-ups is taken (one UPDATE,
    under the slots' locks its callers hold)."""
    session.execute(text("""
        UPDATE missions m SET status = CASE WHEN m.status = 'published' THEN 'full' ELSE 'published' END,
                              updated_at = now()
        WHERE m.id = :m AND m.status IN ('published', 'full')
          AND (m.status = 'full') = EXISTS (
              SELECT 1 FROM mission_slots s WHERE s.mission_id = m.id AND s.taken < s.capacity
                AND CASE WHEN m.schedule = 'open_period' THEN s.ends_at IS NULL OR s.ends_at > now()
                         ELSE s.starts_at > now() END)
    """), {"m": mission_id})


def close_ended(session: Session, mission_id: int | None = None) -> int:
    """Close the published or full missions none of whose slots is open to sign-ups any more
    (all, or one): `flask missions close-ended`, and lazily when one is read."""
    rows = session.execute(text("""
        UPDATE missions m SET status = 'closed', closed_at = now(), updated_at = now()
        WHERE m.status IN ('published', 'full') AND (CAST(:m AS bigint) IS NULL OR m.id = :m)
          AND NOT EXISTS (SELECT 1 FROM mission_slots s WHERE s.mission_id = m.id
                AND CASE WHEN m.schedule = 'open_period' THEN s.ends_at IS NULL OR s.ends_at > now()
                         ELSE s.starts_at > now() END)
        RETURNING m.id
    """), {"m": mission_id}).all()
    return len(rows)


def mission_readable(session: Session, mission_id: int, user: User | None, lock: bool = False) -> Mission:
    """Public when published, full, closed or cancelled and its organisation verified; else to
    its members and moderators; 404 to the rest."""
    if not lock:
        close_ended(session, mission_id)
    q = select(Mission).where(Mission.id == mission_id)
    mission = session.scalar(q.with_for_update(of=Mission) if lock else q)
    if mission is None or not (is_public(mission) or _manages(session, user, mission)
                               or policy.allows(session, user, "organisation.verify")):
        raise NotFound("mission_not_found")
    return mission


def is_public(mission: Mission) -> bool:
    return mission.status in PUBLIC_STATUSES and mission.organisation.status == "verified"


def public_clause():
    """`is_public` as SQL on missions (the list, the feed, the OGC collection, the tiles)."""
    return and_(Mission.status.in_(PUBLIC_STATUSES), Mission.organisation_id.in_(
        select(Organisation.id).where(Organisation.status == "verified")))


def still_open():
    """A published or full mission none of whose slots is open any more is closed in all but
    name (`close_ended` makes it so): lists leave it out of the open ones without writing."""
    open_slot = exists().where(MissionSlot.mission_id == Mission.id, case(
        (Mission.schedule == "open_period", or_(MissionSlot.ends_at.is_(None), MissionSlot.ends_at > func.now())),
        else_=MissionSlot.starts_at > func.now()))
    return or_(Mission.status.not_in(OPEN_STATUSES), open_slot)


def list_missions(session: Session, user: User | None, f: dict) -> tuple[list[Mission], int, dict]:
    """The public list (read-only: it never writes), filtered by place (near a point within a radius, a bbox, an
    arrondissement), domain, remote, dates (a slot overlapping [from, to]), organisation and
    words; open missions (published, full) unless `status` says otherwise. Ordered by
    distance near a point, else by next slot. Returns the page, the total and each
    mission's distance in metres (near a point)."""
    statuses = f.get("status") or OPEN_STATUSES
    q = select(Mission).options(noload(Mission.links)).where(Mission.status.in_(statuses), still_open())
    manager_org = f.get("organisation")
    if manager_org is not None:
        q = q.where(Mission.organisation_id == manager_org)
        org = session.get(Organisation, manager_org)
        if org is None or not (_manages(session, user, org) or policy.allows(session, user, "organisation.verify")):
            q = q.where(public_clause())
    else:
        q = q.where(public_clause())
    place = MissionPlace
    if f.get("arrondissement"):
        q = q.where(exists().where(place.mission_id == Mission.id, place.arrondissement_id == f["arrondissement"]))
    if f.get("bbox"):
        w, s, e, n = f["bbox"]
        q = q.where(exists().where(place.mission_id == Mission.id,
                                   place.geom.op("&&")(func.ST_MakeEnvelope(w, s, e, n, 4326))))
    distance = None
    if f.get("near"):
        lon, lat = f["near"]
        here = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
        radius = f.get("radius_m") or RADIUS_M[2]
        near_places = select(func.min(func.ST_Distance(func.geography(place.geom), func.geography(here)))) \
            .where(place.mission_id == Mission.id).scalar_subquery()
        remote_ok = Mission.remote.in_(("possible", "full")) if f.get("remote_too") else False
        # the box first (the GiST index on geom), then the exact distance on the sphere
        dy = radius / 111_000 * 1.01
        dx = dy / math.cos(math.radians(min(abs(lat), 89)))
        q = q.where(or_(exists().where(place.mission_id == Mission.id,
                                       place.geom.op("&&")(func.ST_Expand(here, dx, dy)),
                                       func.ST_DWithin(func.geography(place.geom), func.geography(here), radius)),
                        remote_ok))
        distance = near_places
    if f.get("domain"):
        q = q.where(Mission.domain.in_(f["domain"]))
    if f.get("remote"):
        q = q.where(Mission.remote.in_(f["remote"]))
    if f.get("from") or f.get("to"):
        start, end = f.get("from"), f.get("to")
        conditions = [MissionSlot.mission_id == Mission.id]
        if start is not None:
            conditions.append(or_(MissionSlot.ends_at.is_(None), func.coalesce(MissionSlot.ends_at,
                                                                               MissionSlot.starts_at) >= start))
        if end is not None:
            conditions.append(MissionSlot.starts_at <= end)
        q = q.where(exists().where(*conditions))
    if f.get("q"):
        like = "%" + f["q"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(or_(Mission.title.ilike(like), Mission.description.ilike(like)))
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    next_slot = select(func.min(MissionSlot.starts_at)).where(
        MissionSlot.mission_id == Mission.id,
        or_(MissionSlot.starts_at > func.now(), MissionSlot.ends_at.is_(None),
            MissionSlot.ends_at > func.now())).scalar_subquery()
    if distance is not None:
        rows = session.execute(q.add_columns(distance.label("d"))
                               .order_by(distance.asc().nulls_last(), Mission.id)
                               .limit(f["limit"]).offset(f["offset"])).all()
        return [r[0] for r in rows], total, {r[0].id: None if r[1] is None else round(r[1]) for r in rows}
    rows = session.scalars(q.order_by(next_slot.asc().nulls_last(), Mission.id)
                           .limit(f["limit"]).offset(f["offset"])).all()
    return list(rows), total, {}


def slot_out(mission: Mission, slot: MissionSlot, now: datetime | None = None) -> dict:
    now = now or _now()
    return {"id": slot.id, "starts_at": slot.starts_at.isoformat(),
            "ends_at": slot.ends_at.isoformat() if slot.ends_at else None,
            "capacity": slot.capacity, "taken": slot.taken, "waiting": slot.waiting,
            "remaining": slot.capacity - slot.taken, "open": _open(mission, slot, now)}


def _link_out(session: Session, link: MissionLink) -> dict:
    from app.budget.models import Project
    from app.consultations.models import Consultation
    from app.contributions.models import REPORT_OPEN, Contribution

    if link.kind == "hotspot":
        center = to_shape(link.center)
        open_reports = session.scalar(text("""
            SELECT count(*) FROM (SELECT 1 FROM contributions c
              WHERE c.kind = 'report' AND NOT c.hidden AND c.status IN :open
                AND ST_DWithin(c.geom::geography, ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography, :r)
              LIMIT 1000) n
        """).bindparams(bindparam("open", expanding=True)),
            {"x": center.x, "y": center.y, "r": link.radius_m, "open": list(REPORT_OPEN)})
        return {"kind": "hotspot", "center": {"type": "Point", "coordinates": [center.x, center.y]},
                "radius_m": link.radius_m, "open_reports": open_reports}
    if link.kind == "contribution":
        c = session.get(Contribution, link.contribution_id)
        return {"kind": c.kind, "id": c.id, "title": c.title, "href": f"/c/{c.id}"}
    if link.kind == "consultation":
        c = session.get(Consultation, link.consultation_id)
        return {"kind": "consultation", "id": c.id, "title": c.title, "href": f"/consultations/{c.id}"}
    p = session.get(Project, link.budget_project_id)
    return {"kind": "budget_project", "id": p.id, "title": p.title, "href": f"/budget/projects/{p.id}"}


def mission_out(session: Session, mission: Mission, user: User | None, *, distance_m: int | None = None,
                full: bool = True) -> dict:
    """A mission as its reader may see it: counts for everyone, the reader's own sign-ups,
    never another volunteer."""
    now = _now()
    org = mission.organisation
    slots = [slot_out(mission, s, now) for s in mission.slots]
    open_slots = [s for s in slots if s["open"]]
    out = {
        "id": mission.id, "title": mission.title, "domain": mission.domain,
        "activities": list(mission.activities), "remote": mission.remote,
        "schedule": mission.schedule, "status": mission.status,
        "organisation": {"id": org.id, "name": org.name, "status": org.status},
        "places": [_place_out(p) for p in mission.places],
        "arrondissements": sorted({p.arrondissement_id for p in mission.places if p.arrondissement_id}),
        "next_slot": open_slots[0] if open_slots else None,
        "slots_count": len(slots),
        "volunteers": {"taken": sum(s["taken"] for s in slots), "capacity": sum(s["capacity"] for s in slots),
                       "waiting": sum(s["waiting"] for s in slots)},
        "min_age": mission.min_age,
        "published_at": mission.published_at.isoformat() if mission.published_at else None,
        "updated_at": mission.updated_at.isoformat(),
    }
    if distance_m is not None:
        out["distance_m"] = distance_m
    if not full:
        return out
    out.update({
        "description": mission.description, "skills": list(mission.skills),
        "accessibility": mission.accessibility,
        "reduced_mobility_accessible": mission.reduced_mobility_accessible,
        "recurrence": mission.recurrence, "slots": slots,
        "status_reason": mission.status_reason if mission.status == "cancelled" else None,
        "links": [_link_out(session, link) for link in mission.links],
        "source": mission.source, "can_manage": _manages(session, user, mission),
        "my_signups": [] if user is None else _with_positions(session, mission, session.scalars(
            select(MissionSignup).where(MissionSignup.mission_id == mission.id, MissionSignup.user_id == user.id)
            .order_by(MissionSignup.id)).all()),
    })
    return out


def _place_out(place: MissionPlace) -> dict:
    pt = to_shape(place.geom)
    return {"label": place.label, "geometry": {"type": "Point", "coordinates": [pt.x, pt.y]},
            "arrondissement": place.arrondissement_id}


def set_capacity(session: Session, mission: Mission, slot_id: int, user: User, capacity: int) -> MissionSlot:
    """Members change a slot's capacity, never below its taken places; more places promote
    the waiting list."""
    policy.require(session, user, "organisation.manage", mission)
    if mission.status in ("cancelled", "closed"):
        raise Conflict("mission_status", {"status": mission.status})
    slot = _lock_slot(session, mission, slot_id, field="slot_id")
    if capacity < slot.taken:
        raise ValidationFailed([FieldError("capacity", "capacity_below_taken", {"taken": slot.taken})])
    slot.capacity = capacity
    session.flush()
    _promote(session, mission, slot)
    refresh_full(session, mission.id)
    session.refresh(slot)
    return slot


# ---- sign-ups ---------------------------------------------------------------------------------

def _lock_slot(session: Session, mission: Mission, slot_id: int, *, field: str = "slot_id") -> MissionSlot:
    slot = session.scalar(select(MissionSlot).where(MissionSlot.id == slot_id, MissionSlot.mission_id == mission.id)
                          .with_for_update().execution_options(populate_existing=True))
    if slot is None:
        raise ValidationFailed([FieldError(field, "slot_not_found")])
    return slot


def sign_up(session: Session, mission: Mission, user: User, slot_id: int, message: str,
            confirm_age: bool) -> MissionSignup:
    """A verified resident signs up for an open slot of a public, open mission: pending (a
    place held until the organisation decides) if one is free, else waiting."""
    policy.require(session, user, "mission.signup")
    if not is_public(mission) or mission.status not in OPEN_STATUSES:
        raise Conflict("mission_not_open", {"status": mission.status})
    slot = _lock_slot(session, mission, slot_id)
    if not _open(mission, slot):
        raise Conflict("slot_closed")
    if mission.min_age and not confirm_age:
        raise ValidationFailed([FieldError("confirm_age", "age_confirmation_required", {"age": mission.min_age})])
    if session.scalar(select(exists().where(MissionSignup.slot_id == slot.id, MissionSignup.user_id == user.id,
                                            MissionSignup.status.in_(ACTIVE)))):
        raise Conflict("already_signed_up")
    status = "pending" if slot.taken < slot.capacity else "waiting"
    signup = MissionSignup(mission_id=mission.id, slot_id=slot.id, user_id=user.id, status=status, message=message)
    try:
        with session.begin_nested():
            session.add(signup)
            session.flush()
    except IntegrityError:  # the same person twice at once: the partial UNIQUE index
        raise Conflict("already_signed_up") from None
    when = _slot_words(mission, slot)
    _tell(session, SIGNED_UP if status == "pending" else WAITING, f"/missions/{mission.id}",
          select(User.id).where(User.id == user.id), title=mission.title, slot=when)
    if status == "pending":
        _tell(session, NEW_VOLUNTEER, f"/missions/{mission.id}/signups",
              select(OrganisationMember.user_id).where(OrganisationMember.organisation_id == mission.organisation_id),
              title=mission.title, slot=when)
    refresh_full(session, mission.id)
    session.refresh(signup)
    return signup


def signup_of(session: Session, mission: Mission, signup_id: int) -> MissionSignup:
    """A sign-up of this mission (404 otherwise); who may do what with it is the caller's."""
    signup = session.get(MissionSignup, signup_id)
    if signup is None or signup.mission_id != mission.id:
        raise NotFound("signup_not_found")
    return signup


def signup_readable(session: Session, mission: Mission, signup_id: int, user: User | None) -> MissionSignup:
    """A sign-up to its volunteer and the organisation's members; 404 to anyone else."""
    signup = signup_of(session, mission, signup_id)
    if user is None or not (signup.user_id == user.id or _manages(session, user, mission)):
        raise NotFound("signup_not_found")
    return signup


def _relock(session: Session, mission: Mission, signup: MissionSignup) -> tuple[MissionSlot, MissionSignup]:
    """The slot's lock first (as sign_up), then the sign-up's row as it is now."""
    slot = _lock_slot(session, mission, signup.slot_id)
    signup = session.scalar(select(MissionSignup).where(MissionSignup.id == signup.id)
                            .with_for_update().execution_options(populate_existing=True))
    return slot, signup


def cancel_signup(session: Session, mission: Mission, signup: MissionSignup, user: User) -> MissionSignup:
    """The volunteer cancels (pending, accepted or waiting); a freed place goes to the first
    waiting volunteer; their reminder is dropped."""
    policy.require(session, user, "mission.cancel_signup", signup)
    slot, signup = _relock(session, mission, signup)
    if signup.status not in ACTIVE:
        raise Conflict("signup_status", {"status": signup.status})
    signup.status, signup.cancelled_at = "cancelled", _now()
    session.flush()
    _drop_reminder(session, signup.id)
    _promote(session, mission, slot)
    refresh_full(session, mission.id)
    session.refresh(signup)
    return signup


def forget_volunteer(session: Session, user: User) -> None:
    """An account being deleted: its active sign-ups are cancelled (their places go to the
    waiting list, as a cancellation's do) and its memberships removed."""
    for signup in session.scalars(select(MissionSignup).where(MissionSignup.user_id == user.id,
                                                              MissionSignup.status.in_(ACTIVE))).all():
        mission = session.get(Mission, signup.mission_id)
        cancel_signup(session, mission, signup, user)
    session.execute(delete(OrganisationMember).where(OrganisationMember.user_id == user.id))


def decide(session: Session, mission: Mission, signup: MissionSignup, user: User, decision: str,
           note: str | None) -> MissionSignup:
    """Members accept a pending sign-up (its reminder is queued for the day before) or decline
    a pending, accepted or waiting one (the place goes to the first waiting)."""
    policy.require(session, user, "organisation.manage", mission)
    slot, signup = _relock(session, mission, signup)
    allowed = ("pending",) if decision == "accept" else ACTIVE
    if signup.status not in allowed:
        raise Conflict("signup_status", {"status": signup.status})
    signup.status = "accepted" if decision == "accept" else "declined"
    signup.decided_at, signup.decided_by_id, signup.decision_note = _now(), user.id, note
    session.flush()
    when = _slot_words(mission, slot)
    volunteer = select(User.id).where(User.id == signup.user_id)
    if decision == "accept":
        _tell(session, ACCEPTED, f"/missions/{mission.id}", volunteer, title=mission.title, slot=when)
        _queue_reminder(session, mission, slot, signup)
    else:
        _tell(session, DECLINED, f"/missions/{mission.id}", volunteer, title=mission.title, slot=when,
              note=note or "")
        _drop_reminder(session, signup.id)
        _promote(session, mission, slot)
        refresh_full(session, mission.id)
    session.refresh(signup)
    return signup


def _promote(session: Session, mission: Mission, slot: MissionSlot) -> None:
    """While the slot (locked by the caller) has free places, its oldest waiting volunteers
    become pending, and are told."""
    session.refresh(slot)
    free = slot.capacity - slot.taken
    if free <= 0 or slot.waiting == 0 or mission.status not in OPEN_STATUSES or not _open(mission, slot):
        return
    promoted = session.scalars(text("""
        UPDATE mission_signups SET status = 'pending' WHERE id IN (
            SELECT id FROM mission_signups WHERE slot_id = :s AND status = 'waiting'
            ORDER BY id LIMIT :n FOR UPDATE)
        RETURNING user_id
    """), {"s": slot.id, "n": free}).all()
    if promoted:
        _tell(session, PROMOTED, f"/missions/{mission.id}", select(User.id).where(User.id.in_(promoted)),
              title=mission.title, slot=_slot_words(mission, slot))
        _tell(session, NEW_VOLUNTEER, f"/missions/{mission.id}/signups",
              select(OrganisationMember.user_id).where(OrganisationMember.organisation_id == mission.organisation_id),
              title=mission.title, slot=_slot_words(mission, slot))
    session.refresh(slot)


def signups_of(session: Session, mission: Mission, user: User, status: str | None = None) -> list[dict]:
    """The sign-ups with each volunteer's name, e-mail and message: members only."""
    policy.require(session, user, "organisation.manage", mission)
    q = (select(MissionSignup, User).join(User, User.id == MissionSignup.user_id)
         .where(MissionSignup.mission_id == mission.id).order_by(MissionSignup.slot_id, MissionSignup.id))
    if status:
        q = q.where(MissionSignup.status == status)
    rows = session.execute(q).all()
    positions = waiting_positions(session, {s.slot_id for s, _u in rows if s.status == "waiting"})
    return [signup_out(s, mission, volunteer=u, positions=positions) for s, u in rows]


def _with_positions(session: Session, mission: Mission, signups) -> list[dict]:
    positions = waiting_positions(session, {s.slot_id for s in signups if s.status == "waiting"})
    return [signup_out(s, mission, volunteer=None, positions=positions) for s in signups]


def waiting_positions(session: Session, slot_ids: set[int]) -> dict[int, int]:
    """Each waiting sign-up's place in its slot's queue (1 = next), for these slots: one query
    however many are waiting."""
    if not slot_ids:
        return {}
    rank = func.row_number().over(partition_by=MissionSignup.slot_id, order_by=MissionSignup.id)
    return dict(session.execute(select(MissionSignup.id, rank).where(
        MissionSignup.slot_id.in_(slot_ids), MissionSignup.status == "waiting")).all())


def signup_out(signup: MissionSignup, mission: Mission, *, volunteer: User | None,
               positions: dict[int, int] | None = None) -> dict:
    """A sign-up; `positions` (waiting_positions) gives a waiting one its place in the queue."""
    slot = next((s for s in mission.slots if s.id == signup.slot_id), None)
    out = {"id": signup.id, "mission_id": signup.mission_id, "slot_id": signup.slot_id,
           "starts_at": slot.starts_at.isoformat() if slot else None,
           "ends_at": slot.ends_at.isoformat() if slot and slot.ends_at else None,
           "status": signup.status, "message": signup.message, "decision_note": signup.decision_note,
           "created_at": signup.created_at.isoformat(),
           "decided_at": signup.decided_at.isoformat() if signup.decided_at else None,
           "ical": f"/api/v1/missions/{signup.mission_id}/signups/{signup.id}/calendar.ics"}
    out["waiting_position"] = (positions or {}).get(signup.id) if signup.status == "waiting" else None
    if volunteer is not None:
        out["volunteer"] = {"display_name": volunteer.display_name, "email": volunteer.email}
    return out


def waiting_position(session: Session, signup: MissionSignup) -> int | None:
    """One sign-up's place in its slot's queue (None unless it waits)."""
    if signup.status != "waiting":
        return None
    return session.scalar(select(func.count()).where(MissionSignup.slot_id == signup.slot_id,
                                                     MissionSignup.status == "waiting",
                                                     MissionSignup.id <= signup.id))


def my_engagements(session: Session, user: User, *, past: bool = False) -> list[dict]:
    """The reader's sign-ups, upcoming first (or past ones), with their mission."""
    q = (select(MissionSignup, Mission, MissionSlot)
         .join(Mission, Mission.id == MissionSignup.mission_id)
         .join(MissionSlot, MissionSlot.id == MissionSignup.slot_id)
         .where(MissionSignup.user_id == user.id))
    ended = func.coalesce(MissionSlot.ends_at, MissionSlot.starts_at) < func.now()
    q = q.where(ended if past else ~ended)
    q = q.order_by(MissionSlot.starts_at.desc() if past else MissionSlot.starts_at, MissionSignup.id).limit(200)
    rows = session.execute(q).all()
    positions = waiting_positions(session, {s.slot_id for s, _m, _t in rows if s.status == "waiting"})
    out = []
    for signup, mission, _slot in rows:
        item = signup_out(signup, mission, volunteer=None, positions=positions)
        item["mission"] = {"id": mission.id, "title": mission.title, "status": mission.status,
                           "organisation": mission.organisation.name,
                           "places": [p.label for p in mission.places], "remote": mission.remote}
        out.append(item)
    return out


def calendar(session: Session, mission: Mission, signup: MissionSignup) -> bytes:
    """The sign-up's iCalendar file (its slot, places, link; cancelled if it is)."""
    slot = session.get(MissionSlot, signup.slot_id)
    base = current_app.config["PUBLIC_URL"]
    cancelled = signup.status in ("cancelled", "declined") or mission.status == "cancelled"
    return schedule.ical(
        uid=f"mission-signup-{signup.id}@cartagora", title=mission.title,
        description=f"{mission.organisation.name}\n\n{mission.description[:2000]}",
        url=f"{base}/missions/{mission.id}", location="; ".join(p.label for p in mission.places if p.label),
        starts_at=slot.starts_at, ends_at=slot.ends_at, organiser=mission.organisation.name,
        stamp=signup.decided_at or signup.created_at, cancelled=cancelled)


# ---- e-mails ----------------------------------------------------------------------------------

def _outbox():
    from app.field.models import OutboxMessage

    return OutboxMessage.__table__


def missions_helping(session: Session, kind: str, target_id: int, limit: int = 5) -> list[dict]:
    """The open public missions linked to a contribution (also through a hotspot covering a
    report's place), a consultation or a budget project: for their pages."""
    return [dict(r._mapping) for r in session.execute(text("""
        SELECT DISTINCT m.id, m.title, o.name AS organisation FROM missions m
        JOIN organisations o ON o.id = m.organisation_id AND o.status = 'verified'
        JOIN mission_links l ON l.mission_id = m.id
        WHERE m.status IN ('published', 'full') AND CASE :kind
            WHEN 'contribution' THEN l.contribution_id = :t OR (l.kind = 'hotspot' AND EXISTS (
                SELECT 1 FROM contributions c WHERE c.id = :t AND c.kind = 'report'
                  AND ST_DWithin(c.geom::geography, l.center::geography, l.radius_m)))
            WHEN 'consultation' THEN l.consultation_id = :t
            ELSE l.budget_project_id = :t END
        ORDER BY m.id LIMIT :n
    """), {"kind": kind, "t": target_id, "n": limit})]


def _slot_words(mission: Mission, slot: MissionSlot) -> str:
    from babel.dates import format_datetime

    start = format_datetime(slot.starts_at, "d MMMM yyyy HH:mm", tzinfo=schedule.PARIS, locale="fr")
    if slot.ends_at is None:
        return start
    return start + " – " + format_datetime(slot.ends_at, "d MMMM yyyy HH:mm", tzinfo=schedule.PARIS, locale="fr")


def _tell(session: Session, mail: tuple, path: str, recipients, **params) -> None:
    """One e-mail (French then English) through the outbox to each of `recipients` (a SELECT of
    user ids); accounts of other applications (.invalid), deleted and disabled ones get none."""
    subject, body = (in_both(part) for part in mail)
    link = f"{current_app.config['PUBLIC_URL']}{path}"
    text_ = "\n\n".join(b.format(**params) + f"\n{link}" for b in body) + "\n"
    ids = recipients.subquery()
    session.execute(_outbox().insert().from_select(
        ["recipient", "subject", "body"],
        select(User.email, text(":subject"), text(":body")).where(
            User.id.in_(select(ids.c[0])), User.is_active, User.deleted_at.is_(None),
            ~User.email.like("%.invalid")).distinct()
    ), {"subject": "[Cartagora] " + " / ".join(subject), "body": text_})


def _queue_reminder(session: Session, mission: Mission, slot: MissionSlot, signup: MissionSignup) -> None:
    """The reminder, queued for the day before the slot (the outbox sends it then)."""
    at = schedule.reminder_at(slot.starts_at, _now())
    if at is None:
        return
    volunteer = session.get(User, signup.user_id)
    if volunteer is None or volunteer.email.endswith(".invalid"):
        return
    subject, body = (in_both(part) for part in REMINDER)
    link = f"{current_app.config['PUBLIC_URL']}/missions/{mission.id}"
    places = "; ".join(p.label for p in mission.places if p.label)
    text_ = "\n\n".join(b.format(title=mission.title, slot=_slot_words(mission, slot), places=places)
                        + f"\n{link}" for b in body) + "\n"
    _drop_reminder(session, signup.id)
    session.execute(_outbox().insert().values(
        recipient=volunteer.email, subject="[Cartagora] " + " / ".join(subject), body=text_,
        next_attempt_at=at, mission_signup_id=signup.id))


def _drop_reminder(session: Session, signup_id: int) -> None:
    session.execute(delete(_outbox()).where(_outbox().c.mission_signup_id == signup_id,
                                            _outbox().c.status == "pending"))

