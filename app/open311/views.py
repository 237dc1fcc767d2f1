"""Open311 GeoReport v2 at /open311/v2 (XML and JSON), with FixMyStreet's updates extension.

Each view parses its declared model (app/open311/schemas.py), calls one service and renders
the spec's format; errors leave as the spec's error list (app.open311.formats, registered on
app.errors for the /open311/ paths).
"""

from __future__ import annotations

import hashlib

from flask import Blueprint, current_app, request
from pydantic import BaseModel, ValidationError

from app.api.contract import validation_failed
from app.api.types import exists_in_columns
from app.db import db
from app.errors import ERROR_RENDERERS, NotFound
from app.messages import current_language
from app.open311 import services
from app.open311.formats import errors_response, render
from app.open311.schemas import (
    NewRequestForm,
    Open311Input,
    RequestsQuery,
    UpdateForm,
    UpdatesQuery,
    form_data,
)
from app.ratelimit import limiter

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
FMT = "<any(xml, json):fmt>"
ERROR_RENDERERS["/open311/"] = errors_response


def parse(model: type[BaseModel], data: dict) -> BaseModel:
    """The declared model of the call, from its query or form (a blank value is absent), and
    its jurisdiction checked."""
    try:
        parsed = model.model_validate({k: v for k, v in data.items() if v != ""})
    except ValidationError as exc:
        raise validation_failed(exc, query=True) from None
    services.check_jurisdiction(parsed.jurisdiction_id)
    return parsed


def key_name(api_key: str | None) -> str:
    """Whom a write counts against: the key (its hash: the store never holds a key)."""
    return "key:" + hashlib.sha256((api_key or "").encode()).hexdigest()[:24]


def base_url() -> str:
    return current_app.config["PUBLIC_URL"]


@bp.get(f"/discovery.{FMT}")
@db.read_only
def discovery(fmt: str):
    parse(Open311Input, request.args.to_dict())
    return render(fmt, None, services.discovery(base_url(), services.changeset(db.session)), root="discovery")


@bp.get(f"/services.{FMT}")
@db.read_only
def service_list(fmt: str):
    parse(Open311Input, request.args.to_dict())
    return render(fmt, "services", services.service_list(db.session, current_language()))


@bp.get(f"/services/<code>.{FMT}")
@db.read_only
def service_definition(code: str, fmt: str):
    parse(Open311Input, request.args.to_dict())
    return render(fmt, None, services.service_definition(db.session, code), root="service_definition")


@bp.get(f"/requests.{FMT}")
@db.read_only
def request_list(fmt: str):
    query = parse(RequestsQuery, request.args.to_dict())
    return render(fmt, "requests", services.requests(db.session, query, current_language(), base_url()))


@bp.get(f"/requests/<request_id>.{FMT}")
@db.read_only
def request_read(request_id: str, fmt: str):
    parse(Open311Input, request.args.to_dict())
    if not request_id.isdigit() or not exists_in_columns(int(request_id)):
        raise NotFound("unknown_request")
    return render(fmt, "requests", services.one_request(db.session, int(request_id), current_language(),
                                                        base_url()))


@bp.get(f"/tokens/<token>.{FMT}")
def token(token: str, fmt: str):
    """Requests are created at once (`type: realtime`): no token ever names one."""
    raise NotFound("unknown_token")


@bp.post(f"/requests.{FMT}")
def request_create(fmt: str):
    form = parse(NewRequestForm, {**request.args.to_dict(), **form_data(request.form)})
    limiter.check("integration", key_name(form.api_key))
    cfg = current_app.config
    created = services.create_request(db.session, form, cfg["MEDIA_DIR"], cfg["PHOTO_MAX_BYTES"],
                                      cfg["PHOTOS_PER_CONTRIBUTION"], current_language())
    return render(fmt, "requests", [created], status=201)


@bp.get(f"/servicerequestupdates.{FMT}")
@db.read_only
def update_list(fmt: str):
    query = parse(UpdatesQuery, request.args.to_dict())
    return render(fmt, "updates", services.updates(db.session, query.start_date, query.end_date, base_url()))


@bp.post(f"/servicerequestupdates.{FMT}")
def update_create(fmt: str):
    form = parse(UpdateForm, {**request.args.to_dict(), **form_data(request.form)})
    limiter.check("integration", key_name(form.api_key))
    return render(fmt, "updates", [services.post_update(db.session, form)])
