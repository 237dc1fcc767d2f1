"""Query strings of the map endpoints: the filters of each kind still in play, bbox and zoom.

The map shows reports and proposals together, while the list filters of
`app.contributions.schemas.list_filters` are per kind (categories and statuses differ). So the
`category` and `status` values are routed to the kind they belong to and `list_filters` parses,
unchanged, a copy of the query string narrowed to that kind. A kind that a category or status
filter leaves out entirely (only report categories chosen, say) drops out of the result.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import request
from werkzeug.datastructures import ImmutableMultiDict, MultiDict

from app.areas.services import category_index
from app.contributions.queries import ListFilters
from app.contributions.models import STATUS_GROUPS, STATUSES
from app.contributions.schemas import list_filters
from app.errors import FieldError, ValidationFailed
from app.schemas import query_int

KINDS = ("report", "proposal")
MAX_ZOOM = 22
DEFAULT_ZOOM = 12


@dataclass
class MapQuery:
    filters: list[ListFilters]  # one per kind in play, bbox left out (applied once, outside)
    bbox: tuple[float, float, float, float] | None
    zoom: int
    limit: int


@contextmanager
def _narrowed_args(values: MultiDict) -> Iterator[None]:
    """Let `list_filters` read `values` as the query string for a moment."""
    saved = request.args
    request.args = ImmutableMultiDict(values)  # werkzeug's cached_property accepts a value
    try:
        yield
    finally:
        request.args = saved


def _csv(name: str) -> list[str]:
    return [v.strip() for v in request.args.get(name, "").split(",") if v.strip()]


def _kind_of_status(status: str) -> list[str]:
    return [k for k in KINDS if status in STATUSES[k] or status in STATUS_GROUPS[k]]


def map_query(session) -> MapQuery:
    """Every filter of the map endpoints; all errors reported together as one 422."""
    errors: list[FieldError] = []
    kinds = _csv("kind") or list(KINDS)
    if any(k not in KINDS for k in kinds):
        errors.append(FieldError("kind", "invalid_value"))
        kinds = [k for k in kinds if k in KINDS]
    try:
        zoom = query_int("zoom", default=DEFAULT_ZOOM, lo=0, hi=MAX_ZOOM)
    except ValidationFailed as exc:
        errors.extend(exc.errors)
        zoom = DEFAULT_ZOOM

    index = category_index(session)
    codes = _csv("category")
    if any(index.by_code.get(c) is None for c in codes):
        errors.append(FieldError("category", "unknown_category"))
    statuses = _csv("status")
    if any(not _kind_of_status(s) for s in statuses):
        errors.append(FieldError("status", "invalid_status"))

    filters: list[ListFilters] = []
    probe: ListFilters | None = None
    for kind in kinds or ["report"]:
        kind_codes = [c for c in codes if c in index.by_code and index.by_code[c].kind == kind]
        kind_statuses = [s for s in statuses if kind in _kind_of_status(s)]
        in_play = kind in kinds and not (codes and not kind_codes) and not (
            statuses and not kind_statuses
        )
        args = MultiDict(request.args)
        for name, values in (("category", kind_codes), ("status", kind_statuses)):
            args.pop(name, None)
            if values and in_play:
                args[name] = ",".join(values)
        try:
            with _narrowed_args(args):
                f = list_filters(kind, session)
        except ValidationFailed as exc:
            errors.extend(e for e in exc.errors if (e.field, e.code) not in
                          {(x.field, x.code) for x in errors})
            continue
        probe = probe or f
        if in_play:
            filters.append(f)
    if errors:
        raise ValidationFailed(errors)
    bbox = probe.bbox if probe else None
    for f in filters:
        f.bbox = None
    return MapQuery(filters=filters, bbox=bbox, zoom=zoom, limit=probe.limit if probe else 100)
