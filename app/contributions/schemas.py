"""Query-string parsing for contribution listings and the nearby search."""

from __future__ import annotations

import json

from flask import request

from app.areas.services import category_index
from app.contributions.models import STATUS_GROUPS, STATUSES
from app.contributions.queries import ListFilters, decode_cursor
from app.errors import BadRequest, FieldError, ValidationFailed
from app.schemas import parse_when, query_int

MAX_LIMIT = 1000


def _int_list(name: str, lo: int, hi: int, errors: list) -> list[int] | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        values = [int(v) for v in raw.split(",")]
    except ValueError:
        errors.append(FieldError(name, "not_a_number"))
        return None
    if not all(lo <= v <= hi for v in values):
        errors.append(FieldError(name, "out_of_range", {"min": lo, "max": hi}))
    return values


def list_filters(kind: str, session=None) -> ListFilters:
    """Every filter of GET /reports and /proposals, all errors reported together."""
    args, errors = request.args, []
    f = ListFilters(kind=kind)
    if args.get("bbox"):
        try:
            w, s, e, n = (float(v) for v in args["bbox"].split(","))
            if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
                raise ValueError
            f.bbox = (w, s, e, n)
        except ValueError:
            errors.append(FieldError("bbox", "invalid_bbox"))
    if args.get("category"):
        ids: list[int] = []
        for code in args["category"].split(","):
            sub = category_index(session).subtree_ids(code.strip(), kind)
            if sub is None:
                errors.append(FieldError("category", "unknown_category"))
            else:
                ids.extend(sub)
        f.category_ids = ids
    if args.get("status"):
        statuses: list[str] = []
        for s in args["status"].split(","):
            if s in STATUS_GROUPS[kind]:
                statuses.extend(STATUS_GROUPS[kind][s])
            elif s in STATUSES[kind]:
                statuses.append(s)
            else:
                errors.append(FieldError("status", "invalid_status"))
        f.statuses = statuses
    f.arrondissements = _int_list("arrondissement", 1, 20, errors)
    f.quartiers = _int_list("quartier", 1, 80, errors)
    for name in ("since", "until"):
        if args.get(name):
            try:
                setattr(f, name, parse_when(name, args[name], end=name == "until"))
            except ValidationFailed as exc:
                errors.extend(exc.errors)
    if args.get("q"):
        f.q = args["q"].strip()[:200]
    if args.get("source_id"):
        f.source_id = args["source_id"].strip()[:100]
    try:
        f.limit = query_int("limit", default=100, lo=1, hi=MAX_LIMIT)
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    if args.get("cursor"):
        try:
            f.cursor = decode_cursor(args["cursor"])
        except (ValueError, UnicodeDecodeError):
            errors.append(FieldError("cursor", "invalid_cursor"))
    if errors:
        raise ValidationFailed(errors)
    return f


def feature_from_request() -> tuple[dict, list]:
    """(GeoJSON Feature, uploaded photos) from a JSON body or a multipart form.

    Multipart carries the Feature as JSON text in the `feature` part and files in `photos`.
    """
    if request.mimetype == "multipart/form-data":
        raw = request.form.get("feature")
        if raw is None:
            raise ValidationFailed([FieldError("feature", "required")])
        try:
            feature = json.loads(raw)
        except ValueError:
            raise BadRequest(params={"reason": "the feature part is not valid JSON"}) from None
        uploads = [f for f in request.files.getlist("photos") if f.filename]
        return feature, uploads
    from app.schemas import json_body

    return json_body(), []
