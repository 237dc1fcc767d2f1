"""Votes and comments on reports and proposals."""

from __future__ import annotations

from flask import Blueprint, request, url_for

from app.accounts.auth import current_user, requires_auth
from app.contributions.views import PLURAL, load_or_404
from app.db import db
from app.engagement import services
from app.schemas import json_body, query_int

bp = Blueprint("engagement", __name__)


@requires_auth
def put_vote(kind: str, contribution_id: int):
    """Set my vote: {"value": 1} (agree / me too) or {"value": -1} (disagree, proposals)."""
    contribution = load_or_404(kind, contribution_id)
    return services.vote(db.session, contribution, current_user(), json_body().get("value"))


@requires_auth
def delete_vote(kind: str, contribution_id: int):
    contribution = load_or_404(kind, contribution_id)
    return services.unvote(db.session, contribution, current_user())


def list_comments(kind: str, contribution_id: int):
    """Comments, oldest first, as plain text."""
    load_or_404(kind, contribution_id)
    limit = query_int("limit", default=100, lo=1, hi=1000)
    after = query_int("after", default=0, lo=0, hi=2**62)
    rows = services.list_comments(db.session, contribution_id, after, limit)
    body = {"comments": [services.comment_json(c) for c in rows[:limit]], "links": []}
    if len(rows) > limit:
        args = {**request.args.to_dict(), "limit": limit, "after": rows[limit - 1].id}
        href = url_for(request.endpoint, contribution_id=contribution_id, **args, _external=True)
        body["links"].append({"rel": "next", "href": href})
    return body


@requires_auth
def post_comment(kind: str, contribution_id: int):
    contribution = load_or_404(kind, contribution_id)
    comment = services.add_comment(db.session, contribution, current_user(), json_body().get("body"))
    return services.comment_json(comment), 201


for _kind, _plural in PLURAL.items():
    base = f"/api/v1/{_plural}/<int:contribution_id>"
    d = {"kind": _kind}
    bp.add_url_rule(f"{base}/vote", f"{_kind}_vote_put", put_vote, methods=["PUT"], defaults=d)
    bp.add_url_rule(f"{base}/vote", f"{_kind}_vote_delete", delete_vote, methods=["DELETE"], defaults=d)
    bp.add_url_rule(f"{base}/comments", f"{_kind}_comments", list_comments, methods=["GET"], defaults=d)
    bp.add_url_rule(f"{base}/comments", f"{_kind}_comment_post", post_comment, methods=["POST"], defaults=d)
