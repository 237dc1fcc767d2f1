"""Volunteer missions API: organisations (registration, verification, members), missions
(drafts, states, slots' capacity), sign-ups (capacity, waiting list, decisions, iCalendar) and
"my engagements"."""

from __future__ import annotations

from flask import Blueprint, Response, url_for

from app import policy
from app.accounts.auth import current_user
from app.api.contract import Reply, operation
from app.db import db
from app.missions import services
from app.missions.schemas import (
    CapacityInput,
    EngagementsQuery,
    MemberInput,
    MissionInput,
    MissionOut,
    MissionPage,
    MissionPatch,
    MissionsQuery,
    OrganisationInput,
    OrganisationOut,
    OrganisationPage,
    OrganisationPatch,
    OrganisationsQuery,
    SignupDecisionInput,
    SignupInput,
    SignupOut,
    SignupsOut,
    SignupsQuery,
    SlotOut,
    StateInput,
    VerificationInput,
)

bp = Blueprint("missions", __name__)
ORG_TAGS, TAGS = ("Organisations",), ("Missions",)
ORGS = "/api/v1/organisations"
ORG = ORGS + "/<id:organisation_id>"
MISSIONS = "/api/v1/missions"
MISSION = MISSIONS + "/<id:mission_id>"
SIGNUP = MISSION + "/signups/<id:signup_id>"
ORG_404 = {404: "No such organisation, or not verified and not yours (`organisation_not_found`)."}
MISSION_404 = {404: "No such mission, or not public and not your organisation's (`mission_not_found`)."}
NOT_MEMBER = {403: "Not a member of the organisation (`forbidden`)."}
ONE_ORG = Reply("The organisation.", OrganisationOut)
ONE = Reply("The mission.", MissionOut)
ONE_SIGNUP = Reply("The sign-up.", SignupOut)


def _org(organisation_id: int, status: int = 200):
    user = current_user()
    org = services.organisation_readable(db.session, organisation_id, user)
    return services.organisation_out(db.session, org, user), status


def _mission(mission_id: int, status: int = 200):
    user = current_user()
    mission = services.mission_readable(db.session, mission_id, user)
    return services.mission_out(db.session, mission, user), status


def _signup(mission, signup, status: int = 200):
    out = services.signup_out(signup, mission, volunteer=None)
    out["waiting_position"] = services.waiting_position(db.session, signup)
    return out, status


# ---- organisations ----------------------------------------------------------------------------

@operation(bp, "GET", ORGS, query=OrganisationsQuery, tags=ORG_TAGS, auth="optional",
           replies={200: Reply("A page of organisations, by name (pending ones first for moderators).",
                               OrganisationPage)})
def organisations_view(query: OrganisationsQuery):
    """List organisations

    Verified ones to everyone; with `mine`, the reader's own in any status; every status to
    moderators (their verification queue)."""
    user = current_user()
    rows, total = services.list_organisations(db.session, user, status=query.status, mine=query.mine,
                                              q=query.q, limit=query.limit, offset=query.offset)
    return {"total": total, "organisations": [services.organisation_out(db.session, o, user) for o in rows]}


@operation(bp, "POST", ORGS, body=OrganisationInput, tags=ORG_TAGS, auth=policy.roles("organisation.create"),
           idempotent=True,
           problems={403: "The e-mail address is not confirmed (`email_unverified`).",
                     409: "An organisation with this RNA or SIREN number exists (`organisation_exists`).",
                     422: "Invalid input: neither RNA nor SIREN (`rna_or_siren_required`), a SIREN whose "
                          "key is wrong (`siren_checksum`), a place outside Paris…"},
           replies={201: Reply("The organisation, pending verification.", OrganisationOut, headers=("Location",))})
def register_view(body: OrganisationInput):
    """Register an organisation

    A verified account registers it and becomes its owner; moderators verify it before its
    missions are public."""
    org = services.register_organisation(db.session, current_user(), body.values())
    out, status = _org(org.id, 201)
    return out, status, {"Location": url_for("missions.organisation_view", organisation_id=org.id)}


@operation(bp, "GET", ORG, tags=ORG_TAGS, auth="optional", problems=ORG_404, replies={200: ONE_ORG})
def organisation_view(organisation_id: int):
    """Read an organisation

    Its public card; its members (names, roles, e-mails) to its members and moderators."""
    return _org(organisation_id)


@operation(bp, "PATCH", ORG, body=OrganisationPatch, tags=ORG_TAGS, auth=policy.roles("organisation.manage"),
           problems={**ORG_404, **NOT_MEMBER, 409: "The RNA or SIREN number is another's (`organisation_exists`)."},
           replies={200: ONE_ORG})
def update_organisation_view(organisation_id: int, body: OrganisationPatch):
    """Edit an organisation"""
    user = current_user()
    org = services.organisation_readable(db.session, organisation_id, user, lock=True)
    services.update_organisation(db.session, org, user, body.changes())
    return _org(organisation_id)


@operation(bp, "POST", ORG + "/verification", body=VerificationInput, tags=ORG_TAGS,
           auth=policy.roles("organisation.verify"),
           problems={**ORG_404, 409: "Not possible from its status (`organisation_status`)."},
           replies={200: ONE_ORG})
def verification_view(organisation_id: int, body: VerificationInput):
    """Verify, refuse or suspend an organisation

    Moderators; audited, its owners told by e-mail."""
    user = current_user()
    org = services.organisation_readable(db.session, organisation_id, user, lock=True)
    services.verify_organisation(db.session, org, user, body.decision, body.reason)
    return _org(organisation_id)


@operation(bp, "POST", ORG + "/members", body=MemberInput, tags=ORG_TAGS,
           auth=policy.roles("organisation.manage"),
           problems={**ORG_404, 403: "Not an owner of the organisation (`owner_only`).",
                     409: "The last owner cannot become a member (`last_owner`); too many members.",
                     422: "No account has this e-mail address (`no_such_account`)."},
           replies={200: ONE_ORG})
def add_member_view(organisation_id: int, body: MemberInput):
    """Add a member, or change a member's role

    Owners; the person needs an account."""
    user = current_user()
    org = services.organisation_readable(db.session, organisation_id, user, lock=True)
    services.add_member(db.session, org, user, body.email, body.role)
    return _org(organisation_id)


@operation(bp, "DELETE", ORG + "/members/<id:user_id>", tags=ORG_TAGS,
           auth=policy.roles("organisation.manage"),
           problems={**ORG_404, 403: "Not an owner (`owner_only`).",
                     409: "The organisation's last owner (`last_owner`)."},
           replies={200: ONE_ORG})
def remove_member_view(organisation_id: int, user_id: int):
    """Remove a member, or leave

    Owners remove anyone; a member leaves; an organisation keeps an owner."""
    user = current_user()
    org = services.organisation_readable(db.session, organisation_id, user, lock=True)
    services.remove_member(db.session, org, user, user_id)
    return _org(organisation_id)


@operation(bp, "POST", ORG + "/missions", body=MissionInput, tags=TAGS, auth=policy.roles("organisation.manage"),
           idempotent=True,
           problems={**ORG_404, **NOT_MEMBER,
                     422: "Invalid input: no place for an on-site mission (`place_required`), a slot "
                          "ending before it starts (`ends_before_start`), too many slots, a link to "
                          "nothing (`link_target_not_found`)…"},
           replies={201: Reply("The draft mission.", MissionOut, headers=("Location",))})
def create_mission_view(organisation_id: int, body: MissionInput):
    """Draft a mission

    Members of the organisation; its slots come from its schedule (a one-off slot, weekly
    slots in Paris time, or an open period)."""
    user = current_user()
    org = services.organisation_readable(db.session, organisation_id, user)
    mission = services.create_mission(db.session, org, user, body.values())
    out, status = _mission(mission.id, 201)
    return out, status, {"Location": url_for("missions.mission_view", mission_id=mission.id)}


# ---- missions ---------------------------------------------------------------------------------

@operation(bp, "GET", MISSIONS, query=MissionsQuery, tags=TAGS, auth="optional",
           problems={422: "A point that is not `lon,lat` (`invalid_point`)…"},
           replies={200: Reply("A page of missions: nearest first near a point, else by next slot.", MissionPage)})
def missions_view(query: MissionsQuery):
    """Find missions

    By place (near a point within a radius, a bbox, an arrondissement), domain, remote or on
    site, dates and words. Counts of volunteers, never who."""
    user = current_user()
    rows, total, distances = services.list_missions(db.session, user, query.filters())
    return {"total": total, "missions": [
        services.mission_out(db.session, m, user, distance_m=distances.get(m.id), full=False) for m in rows]}


@operation(bp, "GET", MISSION, tags=TAGS, auth="optional", problems=MISSION_404, replies={200: ONE})
def mission_view(mission_id: int):
    """Read a mission

    Its texts, places, slots with their counts, links, and the reader's own sign-ups."""
    return _mission(mission_id)


@operation(bp, "PATCH", MISSION, body=MissionPatch, tags=TAGS, auth=policy.roles("organisation.manage"),
           problems={**MISSION_404, **NOT_MEMBER,
                     409: "Closed or cancelled (`mission_status`); a schedule change after publication "
                          "(`mission_slots_locked`)."},
           replies={200: ONE})
def update_mission_view(mission_id: int, body: MissionPatch):
    """Edit a mission"""
    user = current_user()
    mission = services.mission_readable(db.session, mission_id, user, lock=True)
    services.update_mission(db.session, mission, user, body.changes())
    return _mission(mission_id)


@operation(bp, "POST", MISSION + "/state", body=StateInput, tags=TAGS, auth=policy.roles("organisation.manage"),
           problems={**MISSION_404, **NOT_MEMBER,
                     409: "Not from its status (`mission_status`); no slot still open (`mission_no_open_slot`)."},
           replies={200: ONE})
def state_view(mission_id: int, body: StateInput):
    """Publish, close, reopen or cancel a mission

    Cancelling tells every active volunteer and drops their reminders."""
    user = current_user()
    mission = services.mission_readable(db.session, mission_id, user, lock=True)
    services.change_state(db.session, mission, user, body.action, body.reason)
    return _mission(mission_id)


@operation(bp, "PUT", MISSION + "/slots/<id:slot_id>/capacity", body=CapacityInput, tags=TAGS,
           auth=policy.roles("organisation.manage"),
           problems={**MISSION_404, **NOT_MEMBER,
                     422: "Below the places taken (`capacity_below_taken`); not its slot (`slot_not_found`)."},
           replies={200: Reply("The slot.", SlotOut)})
def capacity_view(mission_id: int, slot_id: int, body: CapacityInput):
    """Change a slot's capacity

    Never below its places taken; more places promote the waiting list, who are told."""
    user = current_user()
    mission = services.mission_readable(db.session, mission_id, user)
    slot = services.set_capacity(db.session, mission, slot_id, user, body.capacity)
    return services.slot_out(mission, slot)


# ---- sign-ups ---------------------------------------------------------------------------------

@operation(bp, "POST", MISSION + "/signups", body=SignupInput, tags=TAGS, auth=policy.roles("mission.signup"),
           problems={**MISSION_404, 403: "The e-mail address is not confirmed (`email_unverified`).",
                     409: "The mission takes no sign-ups (`mission_not_open`), the slot has started "
                          "(`slot_closed`), already signed up for it (`already_signed_up`).",
                     422: "Not one of its slots (`slot_not_found`); the minimum age not confirmed "
                          "(`age_confirmation_required`)."},
           replies={201: Reply("The sign-up: `pending` (a place is held until the organisation decides) "
                               "or `waiting` (the slot is full).", SignupOut, headers=("Location",))})
def signup_view(mission_id: int, body: SignupInput):
    """Sign up for a slot

    Capacity holds under concurrency: the slot's row is locked and the database refuses an
    overbooking."""
    user = current_user()
    mission = services.mission_readable(db.session, mission_id, user)
    signup = services.sign_up(db.session, mission, user, body.slot_id, body.message, body.confirm_age)
    out, status = _signup(mission, signup, 201)
    return out, status, {"Location": url_for("missions.signup_read_view", mission_id=mission.id,
                                             signup_id=signup.id)}


@operation(bp, "GET", MISSION + "/signups", query=SignupsQuery, tags=TAGS, auth=policy.roles("organisation.manage"),
           problems={**MISSION_404, **NOT_MEMBER},
           replies={200: Reply("Its sign-ups with each volunteer's name, e-mail and message.", SignupsOut)})
def signups_view(mission_id: int, query: SignupsQuery):
    """List a mission's sign-ups

    The organisation's members only."""
    user = current_user()
    mission = services.mission_readable(db.session, mission_id, user)
    return {"signups": services.signups_of(db.session, mission, user, query.status)}


@operation(bp, "GET", SIGNUP, tags=TAGS, auth="required",
           problems={**MISSION_404, 404: "No such sign-up of yours or your organisation's (`signup_not_found`)."},
           replies={200: ONE_SIGNUP})
def signup_read_view(mission_id: int, signup_id: int):
    """Read a sign-up

    Its volunteer, or the organisation's members."""
    user = current_user()
    mission = services.mission_readable(db.session, mission_id, user)
    return _signup(mission, services.signup_readable(db.session, mission, signup_id, user))


@operation(bp, "DELETE", SIGNUP, tags=TAGS, auth=policy.roles("mission.cancel_signup"),
           problems={404: "No such sign-up (`signup_not_found`).", 403: "Not yours (`not_your_signup`).",
                     409: "Already cancelled or declined (`signup_status`)."},
           replies={200: ONE_SIGNUP})
def cancel_view(mission_id: int, signup_id: int):
    """Cancel my sign-up

    The freed place goes to the first on the waiting list, who is told."""
    user = current_user()
    mission = services.mission_readable(db.session, mission_id, user)
    signup = services.signup_of(db.session, mission, signup_id)
    return _signup(mission, services.cancel_signup(db.session, mission, signup, user))


@operation(bp, "POST", SIGNUP + "/decision", body=SignupDecisionInput, tags=TAGS,
           auth=policy.roles("organisation.manage"),
           problems={404: "No such sign-up (`signup_not_found`).", **NOT_MEMBER,
                     409: "Not pending (accept) or not active (decline) (`signup_status`)."},
           replies={200: ONE_SIGNUP})
def decision_view(mission_id: int, signup_id: int, body: SignupDecisionInput):
    """Accept or decline a sign-up

    Accepting queues a reminder e-mail for the day before; declining frees the place."""
    user = current_user()
    mission = services.mission_readable(db.session, mission_id, user)
    signup = services.signup_of(db.session, mission, signup_id)
    return _signup(mission, services.decide(db.session, mission, signup, user, body.decision, body.note))


@operation(bp, "GET", SIGNUP + "/calendar.ics", tags=TAGS, auth="required",
           problems={404: "No such sign-up (`signup_not_found`)."},
           replies={200: Reply("The slot as an iCalendar event (RFC 5545).", None, media="text/calendar")})
def calendar_view(mission_id: int, signup_id: int):
    """Download a sign-up's calendar event"""
    user = current_user()
    mission = services.mission_readable(db.session, mission_id, user)
    signup = services.signup_readable(db.session, mission, signup_id, user)
    return Response(services.calendar(db.session, mission, signup), mimetype="text/calendar",
                    headers={"Content-Disposition": f'attachment; filename="mission-{mission.id}.ics"',
                             "Cache-Control": "private, no-store"})


@operation(bp, "GET", "/api/v1/me/engagements", query=EngagementsQuery, tags=TAGS, auth="required",
           replies={200: Reply("My sign-ups, the next first (past ones: the latest first).", SignupsOut)})
def engagements_view(query: EngagementsQuery):
    """My engagements"""
    return {"signups": services.my_engagements(db.session, current_user(), past=query.past)}
