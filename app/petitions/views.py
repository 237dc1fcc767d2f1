"""Petitions API: drafts, moderation, signatures, the city's answer, the settings, and the
Atom feed of petitions opened and answered."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, request, url_for

from app import policy
from app.accounts.auth import current_user
from app.api.contract import ATOM, Reply, operation
from app.db import db
from app.petitions import feeds, services
from app.petitions.schemas import (
    AnswerInput,
    ListQuery,
    ModerationInput,
    PetitionInput,
    PetitionOut,
    PetitionPage,
    PetitionPatch,
    SettingsInput,
    SettingsOut,
    SignatureInput,
    SignatureOut,
    SignaturesOut,
    SignaturesQuery,
)

bp = Blueprint("petitions", __name__)
TAGS = ("Petitions",)
BASE = "/api/v1/petitions"
ITEM = BASE + "/<id:petition_id>"
NOT_FOUND = {404: "No such petition (`petition_not_found`)."}
DRAFTS = {401: "A draft, a petition awaiting moderation, a refused or hidden one: sign in "
               "(`unauthorized`).",
          403: "Not its author nor a moderator (`forbidden`)."}
ONE = Reply("The petition.", PetitionOut)


def _one(petition_id: int, status: int = 200):
    """The petition as its reader may see it."""
    user = current_user()
    petition = services.readable(db.session, petition_id, user)
    return services.detail(db.session, petition, user), status


def _next(cursor: str | None) -> list[dict]:
    if cursor is None:
        return []
    args = {**request.args.to_dict(), "cursor": cursor}
    return [{"rel": "next", "href": f"{request.base_url}?{urlencode(args)}"}]


@operation(bp, "GET", BASE, query=ListQuery, tags=TAGS, auth="optional",
           replies={200: Reply("A page of petitions, newest first.", PetitionPage)})
def list_view(query: ListQuery):
    """List petitions

    Published ones (open, closed, referred, answered) to everyone; with them, their own drafts
    to their authors, and every petition to moderators. A `next` link while more remain."""
    rows, cursor = services.list_petitions(
        db.session, current_user(), status=query.status, arrondissement=query.arrondissement,
        q=query.q, mine=query.mine, limit=query.limit, cursor=query.cursor)
    return {"numberReturned": len(rows), "links": _next(cursor),
            "petitions": [services.summary(p) for p in rows]}


@operation(bp, "POST", BASE, body=PetitionInput, tags=TAGS, auth=policy.roles("petition.create"),
           idempotent=True,
           problems={403: "The e-mail address is not confirmed (`email_unverified`).",
                     422: "Invalid input: a geometry outside Paris (`outside_paris`…), or a "
                          "geometry and an arrondissement at once (`not_with_geometry`)."},
           replies={201: Reply("The draft.", PetitionOut, headers=("Location",))})
def create_view(body: PetitionInput):
    """Draft a petition

    A verified account drafts it; its author then submits it to moderation."""
    petition = services.create(db.session, current_user(), body.values())
    out, status = _one(petition.id, 201)
    return out, status, {"Location": url_for("petitions.read_view", petition_id=petition.id)}


@operation(bp, "GET", ITEM, tags=TAGS, auth="optional", problems={**NOT_FOUND, **DRAFTS},
           replies={200: ONE})
def read_view(petition_id: int):
    """Read a petition

    Its text, status, counts, thresholds, the city's answer and its history. Never a signer's
    e-mail or id; its author by public name only."""
    return _one(petition_id)


@operation(bp, "PATCH", ITEM, body=PetitionPatch, tags=TAGS, auth=policy.roles("petition.edit"),
           problems={**NOT_FOUND, 403: "Not its author (`forbidden`).",
                     409: "Not a draft any more (`petition_not_draft`)."},
           replies={200: ONE})
def update_view(petition_id: int, body: PetitionPatch):
    """Edit a draft"""
    user = current_user()
    petition = services.readable(db.session, petition_id, user, lock=True)
    services.update(db.session, petition, user, body.changes())
    return _one(petition_id)


@operation(bp, "POST", ITEM + "/submit", tags=TAGS, auth=policy.roles("petition.edit"),
           problems={**NOT_FOUND, 403: "Not its author (`forbidden`).",
                     409: "Not a draft (`petition_not_draft`)."},
           replies={200: ONE})
def submit_view(petition_id: int):
    """Submit a draft to moderation"""
    user = current_user()
    services.submit(db.session, services.readable(db.session, petition_id, user, lock=True), user)
    return _one(petition_id)


@operation(bp, "POST", ITEM + "/moderation", body=ModerationInput, tags=TAGS,
           auth=policy.roles("petition.moderate"),
           problems={**NOT_FOUND, 409: "Not awaiting moderation (`petition_not_awaiting_moderation`), "
                                       "or not published, to hide or restore "
                                       "(`decision_not_applicable`)."},
           replies={200: ONE})
def moderate_view(petition_id: int, body: ModerationInput):
    """Moderate a petition

    Admissible: it opens for signatures until midnight (Paris) at the end of the period's last
    day, with the thresholds of today's settings. Refused: with a reason its author receives.
    A published one can be hidden and restored (audited)."""
    user = current_user()
    petition = services.readable(db.session, petition_id, user, lock=True)
    services.moderate(db.session, petition, user, body.decision, body.reason)
    return _one(petition_id)


@operation(bp, "PUT", ITEM + "/signature", body=SignatureInput, tags=TAGS,
           auth=policy.roles("petition.sign"),
           problems={**NOT_FOUND, **DRAFTS,
                     403: "The e-mail address is not confirmed (`email_unverified`), or a draft "
                          "that is not one's own (`forbidden`).",
                     409: "Not open yet (`petition_not_open`), or no longer collecting: closed, "
                          "answered or past its deadline (`petition_closed`)."},
           replies={200: Reply("Signed (once per account: again, only the choices change).",
                               SignatureOut)})
def sign_view(petition_id: int, body: SignatureInput):
    """Sign a petition

    Idempotent: signing twice counts once. The answer has the exact count, this signature
    included."""
    return services.sign(db.session, current_user(), petition_id, body.public_name, body.arrondissement)


@operation(bp, "DELETE", ITEM + "/signature", tags=TAGS, auth=policy.roles("petition.sign"),
           problems={**NOT_FOUND, **DRAFTS,
                     403: "The e-mail address is not confirmed (`email_unverified`).",
                     409: "No longer collecting: signatures are final (`petition_closed`), or "
                          "not open yet (`petition_not_open`)."},
           replies={200: Reply("Not signed (any more).", SignatureOut)})
def unsign_view(petition_id: int):
    """Withdraw one's signature

    While the petition collects signatures. Idempotent. A threshold already reached stays
    reached."""
    return services.unsign(db.session, current_user(), petition_id)


@operation(bp, "POST", ITEM + "/answer", body=AnswerInput, tags=TAGS,
           auth=policy.roles("petition.answer"),
           problems={**NOT_FOUND, 409: "Not published, or already answered "
                                       "(`petition_not_answerable`)."},
           replies={200: ONE})
def answer_view(petition_id: int, body: AnswerInput):
    """Publish the city's answer

    Planners: the official answer, shown on the petition; signing ends and every signer is
    told by e-mail."""
    user = current_user()
    petition = services.readable(db.session, petition_id, user, lock=True)
    services.answer(db.session, petition, user, body.answer)
    return _one(petition_id)


@operation(bp, "GET", ITEM + "/signatures", query=SignaturesQuery, tags=TAGS, auth="optional",
           problems={**NOT_FOUND, **DRAFTS},
           replies={200: Reply("Counts per arrondissement and public names.", SignaturesOut)})
def signatures_view(petition_id: int, query: SignaturesQuery):
    """Signatures of a petition

    Per arrondissement the signers declared (counts under 5 are null for the public, and a
    second one when only one would be, so that the total does not give it away; planners see
    them all), and a page of the names their signers chose to show, newest first."""
    user = current_user()
    petition = services.readable(db.session, petition_id, user)
    out = services.signatures(db.session, petition, user, query.limit, query.cursor)
    out["links"] = _next(out.pop("next_cursor"))
    return out


@operation(bp, "GET", "/api/v1/admin/petition-settings", tags=TAGS, auth=policy.roles("admin.manage"),
           replies={200: Reply("The period and thresholds of petitions opened from now on.", SettingsOut)})
def settings_view():
    """Petition settings"""
    policy.require(db.session, current_user(), "admin.manage")
    return services.settings_out(services.current_settings(db.session))


@operation(bp, "PUT", "/api/v1/admin/petition-settings", body=SettingsInput, tags=TAGS,
           auth=policy.roles("admin.manage"),
           problems={422: "Invalid input; an answer threshold not below the referral threshold "
                          "is `not_below_referral`."},
           replies={200: Reply("Saved (audited).", SettingsOut)})
def update_settings_view(body: SettingsInput):
    """Set the petition settings

    The signing period and thresholds of petitions opened from now on; running petitions keep
    theirs."""
    return services.settings_out(services.update_settings(db.session, current_user(), body.model_dump()))


@operation(bp, "GET", "/petitions/feed.atom", tags=("Feeds",), operation_id="petitionsFeed",
           replies={200: Reply("An Atom feed (RFC 4287), newest first.",
                               {"type": "string", "contentMediaType": ATOM}, ATOM)})
def feed_view():
    """Petitions opened and answered (Atom)

    The last 50, in French and English."""
    return Response(feeds.petitions_feed(db.session, request.url_root), mimetype=ATOM)
