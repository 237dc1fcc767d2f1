"""Votes and comments on reports and proposals, and their declared bodies and answers."""

from datetime import datetime
from typing import Annotated, Any, Literal

from flask import Blueprint, request, url_for
from pydantic import Field, PlainValidator, WithJsonSchema, create_model

from app import policy
from app.accounts.auth import current_user
from app.api.contract import ApiQuery, Body, Model, Reply, describe, operation
from app.api.types import COLUMN_ID_MAX, Text, fail
from app.contributions.models import KINDS
from app.contributions.schemas import PLURAL, TAGS, VoteCounts
from app.contributions.services import visible_or_404
from app.db import db
from app.engagement import services
from app.engagement.services import COMMENT_LIMIT, COMMENT_MAX, DECLARED_VOTE_VALUES

bp = Blueprint("engagement", __name__)


def VoteValue(kind: str):
    """One of the kind's vote values; anything else (a -1 on a report, `true`, `"1"`) is
    `invalid_vote`."""
    allowed = DECLARED_VOTE_VALUES[kind]

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
            fail("invalid_vote")
        return value

    about = ("`1`: me too." if kind == "report" else
             "`1`: agree; `-1`: disagree. On a proposal answering a consultation that votes on a "
             "scale, −2…+2 (from strongly against to strongly for); elsewhere `2`, `0` and `-2` are "
             "`invalid_vote`.")
    return Annotated[int, PlainValidator(check),
                     WithJsonSchema({"type": "integer", "enum": list(allowed), "description": about})]


VOTE_INPUTS: dict[str, type[Body]] = {
    kind: create_model(f"{kind.capitalize()}VoteInput", __base__=Body,
                       __doc__=f"My vote on a {kind}.", value=(VoteValue(kind), ...))
    for kind in KINDS
}


class VoteTally(Model):
    votes: VoteCounts
    my_vote: Literal[2, 1, 0, -1, -2] | None = Field(description="The caller's vote; null when none.")


class CommentInput(Body):
    body: Text(COMMENT_MAX, min_length=1) = Field(description="Plain text.")


class CommentOut(Model):
    id: int
    body: str = Field(description="Plain text: render it as text, never as HTML.")
    author: str = Field(description="The author's display name.")
    created_at: datetime


class CommentsLink(Model):
    rel: Literal["next"]
    href: str


class CommentPage(Model):
    comments: list[CommentOut] = Field(description="Oldest first.")
    links: list[CommentsLink] = Field(description="A `next` link while more remain.")


class CommentsQuery(ApiQuery):
    limit: int = Field(COMMENT_LIMIT[2], ge=COMMENT_LIMIT[0], le=COMMENT_LIMIT[1],
                       description="At most this many comments.")
    after: int = Field(0, ge=0, le=COLUMN_ID_MAX, description="Comments with a larger id (take "
                                                             "it from the `next` link).")


NOT_FOUND = {404: "No such contribution of this kind, or it was withdrawn or hidden "
                  "(`contribution_not_found`)."}


def register(kind: str) -> None:
    plural, tags = PLURAL[kind], TAGS[kind]
    base = f"/api/v1/{plural}/<id:contribution_id>"
    tally = Reply("The counters and the caller's vote.", VoteTally)
    values = "`1` (me too)" if kind == "report" else "`1` (agree) or `-1` (disagree)"
    phase = {409: "The proposal answers a consultation whose current phase takes no votes or "
                  "comments (`consultation_phase`, with the `phase`)."} if kind == "proposal" else {}

    @operation(bp, "PUT", f"{base}/vote", body=VOTE_INPUTS[kind], auth=policy.roles("contribution.vote"),
               tags=tags,
               endpoint=f"{kind}_vote_put", operation_id=f"{plural}_vote",
               problems={**NOT_FOUND, **phase, 422: "Not a vote this kind takes (`invalid_vote`; "
                                                    "`invalid_scale_vote` on a scale)."},
               replies={200: tally})
    @describe(f"Vote on a {kind}.\n\nOne vote per person, set idempotently: {values}.")
    def put_vote(contribution_id: int, body):
        contribution = visible_or_404(db.session, kind, contribution_id)
        return services.vote(db.session, contribution, current_user(), body.value)

    @operation(bp, "DELETE", f"{base}/vote", auth=policy.roles("contribution.vote"), tags=tags,
               endpoint=f"{kind}_vote_delete", operation_id=f"{plural}_unvote",
               problems={**NOT_FOUND, **phase}, replies={200: tally})
    @describe(f"Withdraw my vote on a {kind}.\n\nIdempotent.")
    def delete_vote(contribution_id: int):
        contribution = visible_or_404(db.session, kind, contribution_id)
        return services.unvote(db.session, contribution, current_user())

    @operation(bp, "GET", f"{base}/comments", query=CommentsQuery, tags=tags,
               endpoint=f"{kind}_comments", operation_id=f"{plural}_comments_list",
               problems=NOT_FOUND, replies={200: Reply("A page of comments.", CommentPage)})
    @describe(f"List the comments on a {kind}.\n\nOldest first, as plain text.")
    def list_comments(contribution_id: int, query: CommentsQuery):
        visible_or_404(db.session, kind, contribution_id)
        limit = query.limit
        rows = services.list_comments(db.session, contribution_id, query.after, limit)
        body = {"comments": [services.comment_json(c) for c in rows[:limit]], "links": []}
        if len(rows) > limit:
            args = {**request.args.to_dict(), "limit": limit, "after": rows[limit - 1].id}
            href = url_for(request.endpoint, contribution_id=contribution_id, **args, _external=True)
            body["links"].append({"rel": "next", "href": href})
        return body

    @operation(bp, "POST", f"{base}/comments", body=CommentInput, auth=policy.roles("contribution.comment"),
               idempotent=True, tags=tags,
               endpoint=f"{kind}_comment_post", operation_id=f"{plural}_comment",
               problems={**NOT_FOUND, **phase}, replies={201: Reply("Created.", CommentOut)})
    @describe(f"Comment on a {kind}.")
    def post_comment(contribution_id: int, body: CommentInput):
        contribution = visible_or_404(db.session, kind, contribution_id)
        comment = services.add_comment(db.session, contribution, current_user(), body.body)
        return services.comment_json(comment), 201


for _kind in KINDS:
    register(_kind)
