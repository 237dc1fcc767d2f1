"""Votes and comments. Counters are maintained by database triggers, so they stay exact."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app import policy
from app.accounts.models import User
from app.consultations.services import check_participation
from app.consultations.services import vote_values as consultation_votes
from app.contributions.models import Contribution
from app.engagement.models import Comment
from app.errors import FieldError, ValidationFailed

COMMENT_MAX = 2000
COMMENT_LIMIT = (1, 1000, 100)  # a page of comments: lowest, highest, default
VOTE_VALUES = {"report": (1,), "proposal": (1, -1)}  # "me too" only on reports
# what the API takes (a consultation on Carticipe's scale takes −2…+2 on its proposals; the
# service checks the value against the proposal's rule)
DECLARED_VOTE_VALUES = {"report": (1,), "proposal": (1, -1, 2, 0, -2)}


def vote(session: Session, contribution: Contribution, user: User, value: int) -> dict:
    """Set the user's vote (idempotent): +1/-1 on proposals, +1 ("me too") on reports; on a
    consultation's proposal, while it takes votes, its rule's values (−2…+2 on a scale)."""
    policy.require(session, user, "contribution.vote", contribution)
    allowed = VOTE_VALUES[contribution.kind]
    rule = check_participation(session, contribution, "vote")
    if rule is not None:
        allowed = consultation_votes(rule)
    if isinstance(value, bool) or value not in allowed:
        code = "invalid_scale_vote" if rule == "scale" else "invalid_vote"
        raise ValidationFailed([FieldError("value", code)], code=code)
    session.execute(
        text("""
        INSERT INTO votes (contribution_id, user_id, value) VALUES (:c, :u, :v)
        ON CONFLICT (contribution_id, user_id) DO UPDATE SET value = EXCLUDED.value
        WHERE votes.value <> EXCLUDED.value
        """),
        {"c": contribution.id, "u": user.id, "v": value},
    )
    return tally(session, contribution.id, user.id)


def unvote(session: Session, contribution: Contribution, user: User) -> dict:
    policy.require(session, user, "contribution.vote", contribution)
    check_participation(session, contribution, "vote")
    session.execute(
        text("DELETE FROM votes WHERE contribution_id = :c AND user_id = :u"),
        {"c": contribution.id, "u": user.id},
    )
    return tally(session, contribution.id, user.id)


def tally(session: Session, contribution_id: int, user_id: int) -> dict:
    row = session.execute(
        text("""
        SELECT c.votes_up, c.votes_down, v.value FROM contributions c
        LEFT JOIN votes v ON v.contribution_id = c.id AND v.user_id = :u
        WHERE c.id = :c
        """),
        {"c": contribution_id, "u": user_id},
    ).one()
    return {"votes": {"up": row.votes_up, "down": row.votes_down}, "my_vote": row.value}


def add_comment(session: Session, contribution: Contribution, user: User, body: str) -> Comment:
    """A comment of plain text, already checked (1 to COMMENT_MAX characters, stripped)."""
    policy.require(session, user, "contribution.comment", contribution)
    check_participation(session, contribution, "comment")
    from app.moderation.services import is_banned

    comment = Comment(contribution_id=contribution.id, author_id=user.id, body=body,
                      hidden=is_banned(session, user))
    session.add(comment)
    session.flush()
    session.refresh(comment)
    return comment


def list_comments(session: Session, contribution_id: int, after_id: int, limit: int):
    """Visible comments, oldest first; `limit + 1` rows tell whether there is a next page."""
    return list(
        session.scalars(
            select(Comment)
            .where(
                Comment.contribution_id == contribution_id,
                Comment.hidden.is_(False),
                Comment.id > after_id,
            )
            .order_by(Comment.id)
            .limit(limit + 1)
        )
    )


def comment_json(c: Comment) -> dict:
    # plain text: clients must render it as text, never as HTML
    return {
        "id": c.id,
        "body": c.body,
        "author": c.author.display_name,
        "created_at": c.created_at.isoformat(),
    }
