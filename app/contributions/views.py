"""/api/v1/reports and /api/v1/proposals: list, create, read, edit, withdraw; nearby."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request, send_from_directory, url_for

from app.accounts.auth import current_user, requires_auth
from app.areas.services import category_index
from app.contributions import queries, schemas, services
from app.contributions.models import REPORT_OPEN
from app.contributions.photos import paths as photo_paths
from app.db import db
from app.errors import FieldError, NotFound, ValidationFailed
from app.messages import current_language
from app.schemas import query_float, query_int

bp = Blueprint("contributions", __name__)

GEOJSON = "application/geo+json"
PLURAL = {"report": "reports", "proposal": "proposals"}


def load_or_404(kind: str, contribution_id: int, *, withdrawn: bool = False):
    contribution = services.get_visible(db.session, kind, contribution_id, withdrawn=withdrawn)
    if contribution is None:
        raise NotFound("contribution_not_found")
    return contribution


def feature_response(kind: str, contribution_id: int, status: int = 200) -> Response:
    body = queries.feature_text(db.session, contribution_id, current_language())
    contribution = load_or_404(kind, contribution_id)
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
    body = head + opening + '"photos":' + json.dumps(media, separators=(",", ":")) + "," + rest
    response = Response(body, status=status, mimetype=GEOJSON)
    if status == 201:
        response.headers["Location"] = url_for(f"contributions.{kind}_read", contribution_id=contribution_id)
    return response


@db.read_only
def list_view(kind: str):
    """A GeoJSON FeatureCollection page, newest first, with a `next` link."""
    filters = schemas.list_filters(kind)
    features, returned, cursor = queries.list_features(filters, current_language())
    links = []
    if cursor:
        args = request.args.to_dict()
        args["cursor"] = cursor
        links.append({"rel": "next", "type": GEOJSON,
                      "href": f"{request.base_url}?{urlencode(args)}"})
    head = f'{{"type":"FeatureCollection","numberReturned":{returned},"links":{json.dumps(links)},"features":['
    return Response(head.encode() + features + b"]}", mimetype=GEOJSON)


@requires_auth
def create_view(kind: str):
    """Create from a GeoJSON Feature (JSON, or multipart with photos)."""
    feature, uploads = schemas.feature_from_request()
    values = services.parse_feature(db.session, kind, feature)
    cfg = current_app.config
    contribution = services.create(
        db.session, kind, current_user(), values, uploads,
        cfg["MEDIA_DIR"], cfg["PHOTO_MAX_BYTES"], cfg["PHOTOS_PER_CONTRIBUTION"],
    )
    return feature_response(kind, contribution.id, 201)


@db.read_only
def read_view(kind: str, contribution_id: int):
    load_or_404(kind, contribution_id)
    return feature_response(kind, contribution_id)


@requires_auth
def update_view(kind: str, contribution_id: int):
    contribution = load_or_404(kind, contribution_id)
    feature, uploads = schemas.feature_from_request()
    values = services.parse_feature(db.session, kind, feature, partial=True)
    services.update(db.session, contribution, current_user(), values)
    if uploads:
        cfg = current_app.config
        processed = services.process_uploads(
            uploads, cfg["PHOTO_MAX_BYTES"], cfg["PHOTOS_PER_CONTRIBUTION"], contribution.photos_count
        )
        services.attach_photos(db.session, contribution, processed, cfg["MEDIA_DIR"])
    return feature_response(kind, contribution_id)


@requires_auth
def delete_view(kind: str, contribution_id: int):
    """Withdraw: the contribution leaves the map and lists; nothing is deleted. Idempotent."""
    contribution = load_or_404(kind, contribution_id, withdrawn=True)
    services.withdraw(db.session, contribution, current_user())
    return "", 204


for _kind, _plural in PLURAL.items():
    base = f"/api/v1/{_plural}"
    bp.add_url_rule(base, f"{_kind}_list", list_view, methods=["GET"], defaults={"kind": _kind})
    bp.add_url_rule(base, f"{_kind}_create", create_view, methods=["POST"], defaults={"kind": _kind})
    item = f"{base}/<int:contribution_id>"
    bp.add_url_rule(item, f"{_kind}_read", read_view, methods=["GET"], defaults={"kind": _kind})
    bp.add_url_rule(item, f"{_kind}_update", update_view, methods=["PATCH"], defaults={"kind": _kind})
    bp.add_url_rule(item, f"{_kind}_delete", delete_view, methods=["DELETE"], defaults={"kind": _kind})


@bp.get("/api/v1/reports/nearby")
@db.read_only
def nearby():
    """Open reports of the same category within radius_m metres, nearest first."""
    lon = query_float("lon", lo=-180, hi=180)
    lat = query_float("lat", lo=-90, hi=90)
    radius = query_float("radius_m", required=False, lo=1, hi=500, default=50.0)
    limit = query_int("limit", default=20, lo=1, hi=100)
    code = request.args.get("category", "")
    ids = category_index(db.session).subtree_ids(code, "report") if code else None
    if ids is None:
        raise ValidationFailed([FieldError("category", "required" if not code else "unknown_category")])
    features = queries.nearby_reports(
        db.session, lon, lat, ids, radius, REPORT_OPEN, limit, current_language()
    )
    body = ('{"type":"FeatureCollection","radius_m":' + str(radius)
            + ',"features":[' + features + "]}")
    return Response(body, mimetype=GEOJSON)


@bp.get("/media/photos/<name>")
def photo(name: str):
    """A stored photo (`<sha256>.jpg`) or its thumbnail (`<sha256>.thumb.jpg`)."""
    sha256, _, variant = name.partition(".")
    if variant not in ("jpg", "thumb.jpg") or len(sha256) != 64 or sha256.strip("0123456789abcdef"):
        raise NotFound()
    full, thumb = photo_paths(current_app.config["MEDIA_DIR"], sha256)
    path = thumb if variant == "thumb.jpg" else full
    return send_from_directory(path.parent, path.name, mimetype="image/jpeg", max_age=31536000)
