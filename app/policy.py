"""Who may do what, on which contribution: the one authorization policy.

Every rule is one line of RULES: an action, and the relations to its subject any one of which
allows it. A relation is something a person *is* towards a contribution (its author, an agent
whose scope covers it…), computed in one place below. Services ask `require(...)` before
they change anything; views never decide. The API's declarations read `roles(action)` for
their coarse gate and for the OpenAPI document, and tests/test_policy.py generates the whole
matrix (every write endpoint × every kind of person) from RULES and checks it through HTTP.

Scopes: an agent acts on the reports of their services and arrondissements (agent_scopes
rows, NULL meaning any); supervisors and admins act on every report. Proposals are nobody's
scope: only their author (and supervisors and admins) edit or withdraw them. Planners read
everything (the statistics) and edit no contribution but their own. Moderators (and admins)
review flagged items through app.moderation — hide, restore, edit with the original kept, ban
— which is not editing as an author: it is audited and the author is told. Moderators' and
admins' rights hold only with two-factor sign-in on (User.active_roles).
"""

from __future__ import annotations

from sqlalchemy import exists, or_, select, true
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.contributions.models import Contribution
from app.errors import Forbidden, Unauthorized
from app.field.models import AgentScope, Follow

# relations of a person to a subject
SIGNED_IN = "signed_in"              # any active account
AUTHOR = "author"                    # wrote the contribution (for a report: its reporter)
STAFF_IN_SCOPE = "staff_in_scope"    # an agent whose scope covers the report; supervisors, admins
SUPERVISOR = "supervisor"            # supervisors and admins
ADMIN = "admin"
MODERATOR = "moderator"              # moderators and admins
EARLY_FOLLOWER = "early_follower"    # followed the report before its resolution
PLANNER = "planner"                  # planners and admins: the city's answers, consultations
VERIFIED = "verified"                # an account whose e-mail address is verified
MEMBER = "member"                    # manages the organisation (of the mission)

RULES: dict[str, tuple[str, ...]] = {
    "contribution.create": (SIGNED_IN,),
    "contribution.edit": (AUTHOR, STAFF_IN_SCOPE),      # staff: never out of their scope
    "contribution.withdraw": (AUTHOR, STAFF_IN_SCOPE),
    "contribution.vote": (SIGNED_IN,),
    "contribution.comment": (SIGNED_IN,),
    "contribution.follow": (SIGNED_IN,),
    "report.transition": (STAFF_IN_SCOPE,),             # a merge: both reports in scope
    "report.prioritise": (STAFF_IN_SCOPE,),
    "report.assign": (SUPERVISOR,),
    "report.feedback": (AUTHOR, EARLY_FOLLOWER),        # once per resolution (the service)
    "report.read_internal": (STAFF_IN_SCOPE,),          # internal notes, who acted
    "reports.queue": (STAFF_IN_SCOPE,),                 # the queue shows each one's scope
    "agents.set_scopes": (ADMIN,),
    "account.manage": (SIGNED_IN,),                     # sign out (everywhere), password
    "moderation.flag": (SIGNED_IN,),                    # once per person and item (the table)
    "moderation.review": (MODERATOR,),                  # the queue; hide, restore, edit, ban
    "audit.read": (MODERATOR,),                         # the audit log and its export
    "moderation.read_hidden": (MODERATOR,),             # a hidden contribution's page and Feature
    "photo.redact": (MODERATOR,),                       # blur a region; the original kept
    "photo.read_original": (MODERATOR, STAFF_IN_SCOPE),  # a redacted photo's original
    "category.agent_only": (STAFF_IN_SCOPE,),           # contribute in an agent-only category
    "admin.manage": (ADMIN,),                           # categories, services, users, keys
    "proposal.answer": (PLANNER,),                      # the city's answer, with a public note
    "consultation.manage": (PLANNER,),                  # open, edit, publish, close
    "consultation.read_draft": (PLANNER,),              # a consultation not yet published
    "petition.create": (VERIFIED,),                     # a draft
    "petition.edit": (AUTHOR,),                         # a draft: edit, submit to moderation
    "petition.sign": (VERIFIED,),                       # once per account (the primary key)
    "petition.moderate": (MODERATOR,),                  # admissible or refused; hide, restore
    "petition.answer": (PLANNER,),                      # the city's answer; exact counts
    "petition.read_draft": (AUTHOR, MODERATOR),         # draft, awaiting, refused or hidden
    "proposal.link_reports": (PLANNER,),                # a proposal born of a hotspot's reports
    # the participatory budget (app.budget): planners stand for the city's departments
    "budget.manage": (ADMIN,),                          # cycles, their phases, envelopes, ballot rule
    "budget.submit": (VERIFIED,),                       # submit a project, support one
    "budget.edit": (AUTHOR, PLANNER),                   # a project: its authors, then planners
    "budget.study": (PLANNER,),                         # feasibility, merging, delivery
    "budget.vote": (VERIFIED,),                         # cast, change or withdraw one's ballots
    # volunteer missions (app.missions): organisations are verified by moderators
    "organisation.create": (VERIFIED,),                 # register one (pending verification)
    "organisation.manage": (MEMBER,),                   # edit it, its members, its missions, sign-ups
    "organisation.verify": (MODERATOR,),                # verify, refuse, suspend; read unverified
    "mission.signup": (VERIFIED,),                      # sign up for a slot
    "mission.cancel_signup": (AUTHOR,),                 # the volunteer cancels their own sign-up
    # area alerts (app.alerts): each account's own, deleted under account.manage
    "alert.create": (VERIFIED,),                        # a daily e-mail of what is new in an area
}

# the roles that can hold a relation at all ("*": any signed-in person); has_role() also
# answers True to admins for any role
HOLDERS: dict[str, tuple[str, ...] | str] = {
    SIGNED_IN: "*", AUTHOR: "*", EARLY_FOLLOWER: "*", VERIFIED: "*", PLANNER: ("planner",),
    STAFF_IN_SCOPE: ("agent", "supervisor"), SUPERVISOR: ("supervisor",), ADMIN: ("admin",),
    MODERATOR: ("moderator",), MEMBER: "*",
}

# the problem code of a refusal, when more telling than `forbidden`
REFUSALS = {
    "report.transition": "out_of_scope", "report.prioritise": "out_of_scope",
    "report.feedback": "not_reporter_or_follower", "mission.cancel_signup": "not_your_signup",
}
# refused to a signed-in person who lacks only a verified e-mail address
UNVERIFIED = "email_unverified"


def roles(action: str) -> str | tuple[str, ...]:
    """The coarse gate of an endpoint: "required" if any signed-in person may hold one of the
    action's relations, else the roles that can (app.api.contract's `auth=`)."""
    holders = [HOLDERS[relation] for relation in RULES[action]]
    if "*" in holders:
        return "required"
    return tuple(sorted({role for group in holders for role in group}))


def holds(session: Session, user: User | None, relation: str, subject: object | None) -> bool:
    """Whether `user` has `relation` to `subject`: a contribution, another authored thing (a
    petition, a consultation: anything with `author_id`), or None (an action without one)."""
    if user is None or not user.is_active:
        return False
    if relation == SIGNED_IN:
        return True
    if relation == VERIFIED:
        return user.email_verified_at is not None
    if relation == PLANNER:
        return user.has_role("planner")  # has_role is true for admin too
    if relation == SUPERVISOR:
        return user.has_role("supervisor")
    if relation == ADMIN:
        return "admin" in user.active_roles
    if relation == MODERATOR:
        return user.has_role("moderator")  # has_role is true for admin too
    if relation == STAFF_IN_SCOPE:
        if subject is None:
            return user.has_role("agent", "supervisor")
        return covers(session, user, subject)
    if subject is None:
        return False
    if relation == MEMBER:
        return user.id in subject.member_ids
    if relation == AUTHOR:
        authors = getattr(subject, "author_ids", None)  # several (a merged budget project)
        return user.id in authors if authors is not None else subject.author_id == user.id
    if relation == EARLY_FOLLOWER:
        return getattr(subject, "kind", None) == "report" and subject.closed_at is not None and bool(session.scalar(
            select(exists().where(Follow.contribution_id == subject.id, Follow.user_id == user.id,
                                  Follow.created_at < subject.closed_at))))
    raise ValueError(f"unknown relation {relation!r}")


def allows(session: Session, user: User | None, action: str, subject: object | None = None) -> bool:
    return any(holds(session, user, relation, subject) for relation in RULES[action])


def require(session: Session, user: User | None, action: str, subject: object | None = None) -> None:
    """Refuse with a problem unless the policy allows: 401 when nobody is signed in, else 403
    (`out_of_scope` for staff acting outside their scope, `email_unverified` for a person who
    would be allowed with a verified address)."""
    if allows(session, user, action, subject):
        return
    if user is None:
        raise Unauthorized()
    if STAFF_IN_SCOPE in RULES[action] and user.has_role("agent", "supervisor"):
        raise Forbidden("out_of_scope")
    if VERIFIED in RULES[action] and user.is_active and user.email_verified_at is None:
        raise Forbidden(UNVERIFIED)
    raise Forbidden(REFUSALS.get(action, "forbidden"))


def covers(session: Session, user: User, report: object) -> bool:
    """Supervisors and admins cover every report; an agent, the reports of their services and
    arrondissements; nobody's scope holds a proposal but supervisors' and admins'."""
    if user.has_role("supervisor"):  # has_role is true for admin too
        return True
    if not user.has_role("agent") or getattr(report, "kind", None) != "report":
        return False
    return bool(session.scalar(select(exists().where(
        AgentScope.user_id == user.id,
        or_(AgentScope.service_id.is_(None), AgentScope.service_id == report.service_id),
        or_(AgentScope.arrondissement_id.is_(None),
            AgentScope.arrondissement_id == report.arrondissement_id),
    ))))


def scope_clause(user: User):
    """`covers` as a SQL condition on contributions (the agents' queue)."""
    if user.has_role("supervisor"):
        return true()
    return exists().where(
        AgentScope.user_id == user.id,
        or_(AgentScope.service_id.is_(None), AgentScope.service_id == Contribution.service_id),
        or_(AgentScope.arrondissement_id.is_(None),
            AgentScope.arrondissement_id == Contribution.arrondissement_id),
    )
