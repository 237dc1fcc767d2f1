"""/api/v1/reports and /api/v1/proposals: list, create, read, edit, withdraw; nearby; photos."""

import json
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request, send_from_directory, url_for

from app import policy
from app.accounts.auth import current_user
from app.accounts.models import User
from app.api.contract import GEOJSON, JPEG, Multipart, Reply, describe, operation
from app.areas.services import category_index
from app.config import Config
from app.contributions import queries, services
from app.contributions.media import photo_is_public, remove_unless_committed
from app.contributions.models import KINDS, REPORT_OPEN, Contribution
from app.contributions.photos import ALLOWED_FORMATS
from app.contributions.photos import paths as photo_paths
from app.contributions.schemas import (
    FEATURE_INPUTS,
    FEATURE_PATCHES,
    LIST_QUERIES,
    PLURAL,
    TAGS,
    ContributionDetail,
    ContributionPage,
    NearbyCollection,
    NearbyQuery,
    filters_of,
)
from app.contributions.services import visible_or_404
from app.db import db
from app.errors import NotFound
from app.messages import current_language
from geo.areas import near_paris

bp = Blueprint("contributions", __name__)

PHOTO_TYPES = ", ".join(f"image/{f.lower()}" for f in sorted(ALLOWED_FORMATS))
PHOTOS = Multipart("feature", {"photos": (
    f"{PHOTO_TYPES}, at most {Config.PHOTO_MAX_BYTES // 2**20} MB each and "
    f"{Config.PHOTOS_PER_CONTRIBUTION} per contribution; re-encoded as JPEG without metadata "
    "(EXIF, GPS).", Config.PHOTOS_PER_CONTRIBUTION)})
PHOTO_PROBLEMS = {422: "Invalid input: the top-level `code` is a geometry's own code "
                       "(`outside_paris`…) or `too_many_photos` when one applies, else "
                       "`validation_failed`; a refused photo is `photo_unreadable` or "
                       "`photo_too_large` on `photos[i]`."}
NOT_FOUND = {404: "No such contribution of this kind, or it was withdrawn or hidden "
                  "(`contribution_not_found`)."}
MEDIA_NAME = ("`<sha256>.jpg` (the photo) or `<sha256>.thumb.jpg` (its thumbnail): the SHA-256 "
              "of the stored JPEG, in lower-case hex.")


def feature_response(kind: str, contribution_id: int, status: int = 200,
                     reader: User | None = None) -> Response:
    """The Feature with its photos. A create (201) answers with what it stored even when it
    is hidden (a banned author's, app.moderation): the author is not told. A `reader` whom
    the policy lets read hidden contributions (a moderator) also gets a hidden one, marked
    `"hidden": true`. In a sensitive category, staff whose scope covers it get the exact place
    (everyone else, the centre of its 100 m cell and no address)."""
    contribution = db.session.get(Contribution, contribution_id) if status == 201 else \
        visible_or_404(db.session, kind, contribution_id, reader=reader)
    body = queries.feature_text(db.session, contribution_id, current_language())
    if contribution.exact_geom is not None and policy.allows(
            db.session, current_user(), "report.read_internal", contribution):
        body = queries.with_exact_place(db.session, contribution_id, body)  # staff: the exact place
    media = [
        {
            "url": url_for("contributions.photo", name=f"{p.sha256}.jpg"),
            "thumbnail_url": url_for("contributions.photo", name=f"{p.sha256}.thumb.jpg"),
            "width": p.width,
            "height": p.height,
        }
        for p in contribution.photos
    ]
    # the stored Feature text; the photos become its first property
    head, opening, rest = body.partition('"properties":{')
    # only a reader allowed to see it reaches a hidden one here (never a create's author)
    hidden = '"hidden":true,' if contribution.hidden and reader is not None else ""
    links = json.dumps(queries.links_of(db.session, contribution), separators=(",", ":"))[1:-1]
    body = (head + opening + hidden + '"photos":' + json.dumps(media, separators=(",", ":")) + ","
            + (links + "," if links else "") + rest)
    response = Response(body, status=status, mimetype=GEOJSON)
    if status == 201:
        response.headers["Location"] = url_for(f"contributions.{kind}_read", contribution_id=contribution_id)
    return response


# app.policy's rules, as the document says them
WHO_EDITS = {
    "report": "Its author, agents whose scope (services and arrondissements) covers it, "
              "supervisors and admins.",
    "proposal": "Its author, supervisors and admins.",
}
EDIT_REFUSED = ("Neither the author nor staff whose scope covers it (`forbidden`, or "
                "`out_of_scope` for an agent), or a write with the session cookie but without "
                "the CSRF header (`forbidden`).")


def register(kind: str) -> None:
    """The endpoints of one kind, each declared with that kind's models."""
    plural, tags = PLURAL[kind], TAGS[kind]
    base, item = f"/api/v1/{plural}", f"/api/v1/{plural}/<id:contribution_id>"
    feature_reply = Reply(f"The {kind}.", ContributionDetail, GEOJSON)

    @operation(bp, "GET", base, query=LIST_QUERIES[kind], tags=tags, endpoint=f"{kind}_list",
               operation_id=f"{plural}_list",
               replies={200: Reply(f"A page of {plural}.", ContributionPage, GEOJSON)})
    @db.read_only
    @describe(f"List {plural}.\n\nVisible {plural}, newest first, with a `next` link while more "
              "remain; every invalid filter is reported in one 422.")
    def list_view(query):
        filters = filters_of(kind, query)
        features, returned, cursor = queries.list_features(filters, current_language())
        links = []
        if cursor:
            args = request.args.to_dict()
            args["cursor"] = cursor
            links.append({"rel": "next", "type": GEOJSON,
                          "href": f"{request.base_url}?{urlencode(args)}"})
        head = (f'{{"type":"FeatureCollection","numberReturned":{returned},'
                f'"links":{json.dumps(links)},"features":[')
        return Response(head.encode() + features + b"]}", mimetype=GEOJSON)

    @operation(bp, "POST", base, body=FEATURE_INPUTS[kind], multipart=PHOTOS,
               auth=policy.roles("contribution.create"), idempotent=True,
               tags=tags, endpoint=f"{kind}_create", operation_id=f"{plural}_create",
               problems=PHOTO_PROBLEMS,
               replies={201: Reply("Created.", ContributionDetail, GEOJSON, ("Location",))})
    @describe(f"Create a {kind}.\n\nA GeoJSON Feature as JSON, or `multipart/form-data` with the "
              "Feature as JSON text in the `feature` part and photo files in `photos`.")
    def create_view(body, uploads=None):
        cfg = current_app.config
        contribution, written = services.create(
            db.session, kind, current_user(), body.values(), (uploads or {}).get("photos", []),
            cfg["MEDIA_DIR"], cfg["PHOTO_MAX_BYTES"], cfg["PHOTOS_PER_CONTRIBUTION"],
            geometry=body.geometry, report_ids=body.report_ids(),
        )
        remove_unless_committed(written)
        return feature_response(kind, contribution.id, 201)

    @operation(bp, "GET", item, tags=tags, endpoint=f"{kind}_read", operation_id=f"{plural}_read",
               problems=NOT_FOUND, replies={200: feature_reply})
    @db.read_only
    @describe(f"Read a {kind}.\n\nA hidden one (app.moderation) reads as 404, except to moderators, "
              "who review it: for them it carries `hidden: true`.")
    def read_view(contribution_id: int):
        return feature_response(kind, contribution_id, reader=current_user())

    @operation(bp, "PATCH", item, body=FEATURE_PATCHES[kind], multipart=PHOTOS,
               auth=policy.roles("contribution.edit"),
               tags=tags, endpoint=f"{kind}_update", operation_id=f"{plural}_update",
               problems={**NOT_FOUND, **PHOTO_PROBLEMS, 403: EDIT_REFUSED}, replies={200: feature_reply})
    @describe(f"Edit a {kind}.\n\n{WHO_EDITS[kind]} Only what the body names changes; photos "
              "sent with multipart are added. Staff cannot move or recategorise a report out "
              "of their scope (`out_of_scope` on `geometry` or `category`).")
    def update_view(contribution_id: int, body, uploads=None):
        contribution = visible_or_404(db.session, kind, contribution_id, lock=True)
        services.update(db.session, contribution, current_user(), body.values(),
                        body.geometry if "geometry" in body.model_fields_set else None)
        photos = (uploads or {}).get("photos", [])
        if photos:
            cfg = current_app.config
            processed = services.process_uploads(
                photos, cfg["PHOTO_MAX_BYTES"], cfg["PHOTOS_PER_CONTRIBUTION"],
                contribution.photos_count,
            )
            remove_unless_committed(
                services.attach_photos(db.session, contribution, processed, cfg["MEDIA_DIR"]))
        return feature_response(kind, contribution_id)

    @operation(bp, "DELETE", item, auth=policy.roles("contribution.withdraw"), tags=tags,
               endpoint=f"{kind}_delete", operation_id=f"{plural}_withdraw",
               problems={**NOT_FOUND, 403: EDIT_REFUSED},
               replies={204: Reply("Withdrawn (or already).")})
    @describe(f"Withdraw a {kind}.\n\nIt leaves the map and the lists (then reads as 404); "
              f"nothing is deleted. {WHO_EDITS[kind]} Idempotent.")
    def delete_view(contribution_id: int):
        contribution = visible_or_404(db.session, kind, contribution_id, withdrawn=True, lock=True)
        services.withdraw(db.session, contribution, current_user())
        return "", 204


for _kind in KINDS:
    register(_kind)


# degrees around Paris' bounding box within which a point may have reports nearby: more than
# the largest radius (500 m is 0.0045° of latitude, 0.0069° of longitude in Paris)
NEARBY_MARGIN_DEG = 0.01


@operation(bp, "GET", "/api/v1/reports/nearby", query=NearbyQuery, tags=TAGS["report"],
           operation_id="reports_nearby",
           replies={200: Reply("Nearby open reports.", NearbyCollection, GEOJSON)})
@db.read_only
def nearby(query: NearbyQuery):
    """Find possible duplicates.

    Open reports of the category (with its sub-categories) within `radius_m`, nearest first.
    """
    features = ""
    if near_paris(query.lon, query.lat, NEARBY_MARGIN_DEG):  # else nothing is near, and Lambert-93 cannot say so
        ids = category_index(db.session).subtree_ids(query.category, "report")
        features = queries.nearby_reports(
            db.session, query.lon, query.lat, ids, query.radius_m, REPORT_OPEN, query.limit,
            current_language(),
        )
    body = ('{"type":"FeatureCollection","radius_m":' + str(query.radius_m)
            + ',"features":[' + features + "]}")
    return Response(body, mimetype=GEOJSON)


@operation(bp, "GET", "/media/photos/<name>", tags=("Service",), operation_id="photos_read",
           path_doc={"name": MEDIA_NAME},
           problems={404: "No such photo, or every contribution that showed it was withdrawn or "
                          "hidden (`not_found`)."},
           replies={200: Reply("The JPEG. Caches may keep it but must revalidate it each time "
                               "(`no-cache` with its `ETag`): it stops being served when its "
                               "contribution is withdrawn or hidden.",
                               {"type": "string", "contentMediaType": JPEG}, JPEG,
                               ("Cache-Control", "ETag")),
                    304: Reply("Unchanged since the `ETag` sent in `If-None-Match`, and still "
                               "shown.", headers=("Cache-Control", "ETag"))})
@db.read_only
def photo(name: str):
    """A photo, or its thumbnail, of a contribution the public can see or of its history.

    Its name is the SHA-256 of the content; it is served while a contribution that is neither
    withdrawn nor hidden shows it.
    """
    sha256, _, variant = name.partition(".")
    if variant not in ("jpg", "thumb.jpg") or len(sha256) != 64 or sha256.strip("0123456789abcdef"):
        raise NotFound()
    if not photo_is_public(db.session, sha256):
        raise NotFound()
    full, thumb = photo_paths(current_app.config["MEDIA_DIR"], sha256)
    path = thumb if variant == "thumb.jpg" else full
    response = send_from_directory(path.parent, path.name, mimetype=JPEG,
                                   etag=name.removesuffix(".jpg"))
    response.cache_control.public = True
    response.cache_control.no_cache = True
    return response
