"""My data (RGPD articles 15, 17 and 20): everything an account holds, and its deletion.

The export is one JSON document: the account, its identities at OIDC providers, its
sessions (never a token), its contributions (whole Features, withdrawn ones too), comments,
votes, follows, answers to resolved reports, petitions and signatures, budget projects and
where one voted, organisations and volunteer sign-ups, area alerts, and the e-mails we sent it.

Deleting an account keeps its row, anonymised, so that what it contributed stays on the map
attributed to a "former account" (Ancien compte / Former account), as a public record of
the city's dialogue should; everything personal goes: e-mail, name, password, two-factor
secret, identities, sessions, links, follows, area alerts, e-mails not yet sent, memberships of
organisations; active volunteer sign-ups are cancelled (their places go to the waiting list),
past ones stay with the anonymised account. Votes and petition
signatures stay counted but can no longer be tied to anyone (a signature shown with its name
is no longer shown). The account cannot sign in again, by any way.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from app.accounts.models import AccountToken, ApiToken, RecoveryCode, User, UserIdentity
from app.accounts.services import check_password

FORMER_ACCOUNT = "Ancien compte · Former account"  # shown in both languages, like a name


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export(session: Session, user: User) -> dict:
    from app.engagement.models import Comment, Vote
    from app.field.models import FixFeedback, Follow, OutboxMessage

    contributions = [json.loads(row[0]) | {"withdrawn_at": _iso(row[1])} for row in session.execute(text(
        "SELECT feature_json, withdrawn_at FROM contributions WHERE author_id = :u ORDER BY id"),
        {"u": user.id})]
    return {
        "format": "cartagora-my-data/1",
        "exported_at": datetime.now(UTC).isoformat(),
        "account": {
            "id": user.id, "email": user.email, "display_name": user.display_name, "roles": user.roles,
            "created_at": _iso(user.created_at), "email_verified_at": _iso(user.email_verified_at),
            "has_password": user.password_hash is not None,
            "two_factor_enabled_at": _iso(user.totp_enabled_at),
        },
        "identities": [{"issuer": i.issuer, "subject": i.subject, "email": i.email,
                        "created_at": _iso(i.created_at), "last_used_at": _iso(i.last_used_at)}
                       for i in session.scalars(select(UserIdentity).where(UserIdentity.user_id == user.id))],
        "sessions": [{"kind": t.kind, "created_at": _iso(t.created_at), "expires_at": _iso(t.expires_at),
                      "revoked_at": _iso(t.revoked_at)}
                     for t in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                              .order_by(ApiToken.id))],
        "contributions": contributions,
        "comments": [{"id": c.id, "contribution_id": c.contribution_id, "body": c.body,
                      "created_at": _iso(c.created_at)}
                     for c in session.scalars(select(Comment).where(Comment.author_id == user.id)
                                              .order_by(Comment.id))],
        "votes": [{"contribution_id": v.contribution_id, "value": v.value}
                  for v in session.scalars(select(Vote).where(Vote.user_id == user.id)
                                           .order_by(Vote.contribution_id))],
        "follows": [{"contribution_id": f.contribution_id, "created_at": _iso(f.created_at)}
                    for f in session.scalars(select(Follow).where(Follow.user_id == user.id)
                                             .order_by(Follow.contribution_id))],
        "feedback": [{"contribution_id": f.contribution_id, "value": f.value,
                      "created_at": _iso(f.created_at)}
                     for f in session.scalars(select(FixFeedback).where(FixFeedback.user_id == user.id)
                                              .order_by(FixFeedback.id))],
        "petitions": [{"id": r.id, "title": r.title, "status": r.status, "created_at": _iso(r.created_at)}
                      for r in session.execute(text("SELECT id, title, status, created_at FROM petitions "
                                                    "WHERE author_id = :u ORDER BY id"), {"u": user.id})],
        "signatures": [{"petition_id": r.petition_id, "public_name": r.public_name,
                        "arrondissement": r.arrondissement, "created_at": _iso(r.created_at)}
                       for r in session.execute(text(
                           "SELECT petition_id, public_name, arrondissement, created_at FROM "
                           "petition_signatures WHERE user_id = :u ORDER BY petition_id"), {"u": user.id})],
        "budget_projects": [{"project_id": r.project_id, "title": r.title, "role": r.role,
                             "created_at": _iso(r.created_at)}
                            for r in session.execute(text(
                                "SELECT p.project_id, b.title, p.role, p.created_at FROM budget_project_people p "
                                "JOIN budget_projects b ON b.id = p.project_id WHERE p.user_id = :u "
                                "ORDER BY p.project_id, p.role"), {"u": user.id})],
        # the roll: where I voted, never how (my ballots are on the vote page, under my session)
        "budget_votes": [{"year": r.year, "paris_wide": r.paris_wide, "arrondissement": r.arrondissement_id}
                         for r in session.execute(text(
                             "SELECT c.year, v.paris_wide, v.arrondissement_id FROM budget_voters v "
                             "JOIN budget_cycles c ON c.id = v.cycle_id WHERE v.user_id = :u "
                             "ORDER BY c.year, v.paris_wide DESC"), {"u": user.id})],
        "organisations": [{"organisation_id": r.organisation_id, "name": r.name, "role": r.role,
                           "since": _iso(r.created_at)}
                          for r in session.execute(text(
                              "SELECT m.organisation_id, o.name, m.role, m.created_at FROM organisation_members m "
                              "JOIN organisations o ON o.id = m.organisation_id WHERE m.user_id = :u "
                              "ORDER BY m.organisation_id"), {"u": user.id})],
        "mission_signups": [{"mission_id": r.mission_id, "title": r.title, "starts_at": _iso(r.starts_at),
                             "status": r.status, "message": r.message, "created_at": _iso(r.created_at)}
                            for r in session.execute(text(
                                "SELECT s.mission_id, m.title, t.starts_at, s.status, s.message, s.created_at "
                                "FROM mission_signups s JOIN missions m ON m.id = s.mission_id "
                                "JOIN mission_slots t ON t.id = s.slot_id WHERE s.user_id = :u ORDER BY s.id"),
                                {"u": user.id})],
        "area_alerts": [{"area": r.area, "arrondissement": r.arrondissement_id, "quartier": r.quartier_id,
                         "point": json.loads(r.point) if r.point else None, "radius_m": r.radius_m,
                         "label": r.label, "kinds": r.kinds, "created_at": _iso(r.created_at),
                         "last_sent_at": _iso(r.last_sent_at)}
                        for r in session.execute(text(
                            "SELECT area, arrondissement_id, quartier_id, ST_AsGeoJSON(geom, 6) AS point, "
                            "radius_m, label, kinds, created_at, last_sent_at FROM area_alerts "
                            "WHERE user_id = :u ORDER BY id"), {"u": user.id})],
        "emails": [{"subject": m.subject, "created_at": _iso(m.created_at), "status": m.status}
                   for m in session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == user.email)
                                            .order_by(OutboxMessage.id))],
    }


def delete_account(session: Session, user: User, password: str | None) -> None:
    """Anonymise the account (confirmed by its password, or its e-mail address if it has
    none); its contributions, comments and votes stay, under FORMER_ACCOUNT."""
    from app.alerts.models import AreaAlert
    from app.field.models import AgentScope, Follow, OutboxMessage
    from app.missions.services import forget_volunteer

    check_password(user, password)
    session.refresh(user, with_for_update=True)
    forget_volunteer(session, user)  # before the outbox is emptied: a promoted volunteer is told
    session.execute(delete(OutboxMessage).where(OutboxMessage.recipient == user.email,
                                                OutboxMessage.status == "pending"))
    for model in (ApiToken, AccountToken, RecoveryCode, UserIdentity, Follow, AgentScope, AreaAlert):
        session.execute(delete(model).where(model.user_id == user.id))
    session.execute(text("UPDATE petition_signatures SET public_name = false WHERE user_id = :u "
                         "AND public_name"), {"u": user.id})
    user.email = f"deleted-{user.id}@invalid"
    user.display_name = FORMER_ACCOUNT  # every Feature it wrote is re-serialised (trigger)
    user.password_hash = user.totp_secret = user.totp_enabled_at = user.totp_last_step = None
    user.email_verified_at = None
    user.roles = ["resident"]
    user.is_active = False
    user.deleted_at = datetime.now(UTC)
    session.flush()
