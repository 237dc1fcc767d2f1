"""One declaration per endpoint: it validates the request, shapes the problem's field errors and
writes the endpoint's part of the OpenAPI document (app/api/document.py).

    class AreasQuery(ApiQuery):
        level: Literal["arrondissement", "quartier"] = "arrondissement"

    @operation(bp, "GET", "/api/v1/areas", query=AreasQuery, tags=["Reference data"],
               replies={200: Reply("The polygons.", AreaCollection, GEOJSON)})
    def areas(query: AreasQuery):
        '''Arrondissement or quartier polygons.'''    # summary (first line) and description

The view receives its path parameters, `query=` (the parsed query model, when it declares one
beyond the shared `lang`), `body=` (the parsed
body model) and, for multipart bodies, `uploads=` ({form field: [files]}). Limits and enums
live in the models (or the domain constants they read); the document reads the models.

Why not flask-openapi3: its query validation calls `model_json_schema()` on every request
(850 µs for the list filters, against 2 µs to validate them: a third of a bbox page), reads
bodies with `get_json(silent=True)` (malformed JSON, a wrong content type and a 413 all become
the same 422), and knows only repeated query keys for lists where our contract uses `a,b,c`.
What it would still do, pydantic does: the JSON Schema of each model.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, current_app, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import NotFound, RequestEntityTooLarge
from werkzeug.routing import BaseConverter

from app.api import idempotency
from app.api.types import MAX_JSON_DEPTH, Lang, exists_in_columns
from app.errors import AppError, BadRequest, FieldError, ValidationFailed
from app.ratelimit import limiter, requester

JSON = "application/json"
GEOJSON = "application/geo+json"
PROBLEM = "application/problem+json"
MULTIPART = "multipart/form-data"
ATOM = "application/atom+xml"
CSV = "text/csv"
HTML = "text/html"
JPEG = "image/jpeg"


class ApiQuery(BaseModel):
    """The base of every query model: unknown parameters are refused (`unknown_field`), so a
    typo is an error instead of a silently ignored filter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lang: Lang | None = Field(
        None, description="The language of messages and labels, `fr` (the default) or `en`; it "
                          "wins over `Accept-Language`.")


class Body(BaseModel):
    """The base of every JSON body model: unknown members are refused (`unknown_field`)."""

    model_config = ConfigDict(extra="forbid")


class Model(BaseModel):
    """The base of response models (documentation, and the tests' schema checks)."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Reply:
    """A documented success response: a description, and the body's model (or a JSON Schema
    dict, or None for no body) in `media`."""

    description: str
    model: type[BaseModel] | dict | None = None
    media: str = JSON
    headers: tuple[str, ...] = ()
    example: Any = None
    # other media types the same status may answer in ((media, model or schema), …)
    variants: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Multipart:
    """A multipart alternative to the JSON body: the body model as JSON text in the form field
    `part`, and files in `files` ({field: (description, how many at most)})."""

    part: str
    files: dict[str, tuple[str, int]] = field(default_factory=dict)


UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Operation:
    method: str
    rule: str
    view: Callable
    tags: tuple[str, ...]
    replies: dict[int, Reply]
    query: type[ApiQuery] = ApiQuery
    body: type[BaseModel] | None = None
    multipart: Multipart | None = None
    errors: tuple[int, ...] = ()
    problems: dict[int, str] = field(default_factory=dict)
    auth: str | tuple[str, ...] | None = None
    operation_id: str | None = None
    path_doc: dict[str, str] = field(default_factory=dict)
    cost: str | None = None
    idempotent: bool = False
    limit: str | None = None

    @property
    def summary(self) -> str:
        return (self.view.__doc__ or self.view.__name__).strip().split("\n\n")[0].replace("\n", " ")

    @property
    def description(self) -> str | None:
        parts = (self.view.__doc__ or "").strip().split("\n\n", 1)
        return " ".join(parts[1].split()) if len(parts) > 1 else None


def operation(bp: Blueprint, method: str, rule: str, *, replies: dict[int, Reply],
              tags: tuple[str, ...] | list[str], query: type[ApiQuery] = ApiQuery,
              body: type[BaseModel] | None = None, multipart: Multipart | None = None,
              errors: tuple[int, ...] = (), problems: dict[int, str] | None = None,
              auth: str | tuple[str, ...] | None = None, endpoint: str | None = None,
              defaults: dict | None = None, operation_id: str | None = None,
              path_doc: dict[str, str] | None = None, cost: str | None = None,
              idempotent: bool = False, limit: str | None = None):
    """Declare and register one endpoint on `bp`. `auth`: None (public), "optional" (the
    answer depends on who asks), "required", or a tuple of roles (any of them).
    `errors` adds documented problem statuses beyond those the declaration implies;
    `problems` gives a status a more specific description. `cost`: the request class whose
    statement timeout its SQL runs under (app.db, `STATEMENT_TIMEOUT_MS`); by default `read`
    for GET, `write` for other methods. `idempotent`: a create that honours the
    `Idempotency-Key` header (app.api.idempotency; signed-in callers only). `limit`: its rate
    limit's class (app.ratelimit.LIMITS); every write is `write` unless it says otherwise."""

    def decorator(view: Callable) -> Callable:
        op = Operation(method.upper(), rule, view, tuple(tags), replies, query, body, multipart,
                       tuple(errors), problems or {}, auth, operation_id, path_doc or {}, cost,
                       idempotent, limit or ("write" if method.upper() in UNSAFE_METHODS else None))

        @functools.wraps(view)
        def wrapper(**kwargs):
            authorize(op.auth)
            if op.limit is not None:  # public operations count per address
                from app.accounts.auth import current_user

                limiter.check(op.limit, requester(current_user() if op.auth else None))
            query = parse_query(op.query)
            if op.query is not ApiQuery:
                kwargs["query"] = query
            if op.body is not None:
                kwargs["body"], uploads = parse_body(op)
                if op.multipart is not None:
                    kwargs["uploads"] = uploads
            if op.idempotent:
                from app.accounts.auth import current_user

                return idempotency.once(current_user().id, kwargs.get("body"),
                                        kwargs.get("uploads"), lambda: view(**kwargs))
            return view(**kwargs)

        wrapper.__contract__ = op
        if cost is not None:
            wrapper.__cost__ = cost  # read by app.db when the request's session is made
        bp.add_url_rule(rule, endpoint or view.__name__, wrapper, methods=[op.method],
                        **({"defaults": defaults} if defaults else {}))
        return wrapper

    return decorator


def describe(doc: str):
    """Give a view made per kind its docstring (its summary and description in the document)."""

    def decorator(view):
        view.__doc__ = doc
        return view

    return decorator


def contract_of(view: Callable) -> Operation | None:
    return getattr(view, "__contract__", None)


class IdConverter(BaseConverter):
    """`<id:name>`: a 64-bit id in a path. One that no integer column holds (above 2**31 - 1)
    names nothing: a 404 whatever the method (never a database error, nor the 405 that a
    non-matching rule would leave when another method shares the path)."""

    regex = r"[1-9][0-9]{0,18}"
    part_isolating = True

    def to_python(self, value: str) -> int:
        number = int(value)
        if not exists_in_columns(number):
            raise NotFound()
        return number

    def to_url(self, value: int) -> str:
        return str(int(value))


# ---- who may call --------------------------------------------------------------------------

def authorize(auth: str | tuple[str, ...] | None) -> None:
    if auth in (None, "optional"):
        return
    from app.accounts.auth import current_user
    from app.errors import Forbidden, Unauthorized

    user = current_user()
    if user is None:
        raise Unauthorized()
    if isinstance(auth, tuple) and not user.has_role(*auth):
        raise Forbidden()


# ---- parsing --------------------------------------------------------------------------------

class UnsupportedMediaType(AppError):
    status, code, title = 415, "unsupported_media_type", "Unsupported Media Type"


def parse_query(model: type[ApiQuery], *, blanks_absent: bool = False) -> ApiQuery:
    """The query string as `model`. `blanks_absent`: a page's GET form sends its unused
    fields empty; they count as absent (the API itself refuses `?status=`)."""
    args = request.args.to_dict()
    if blanks_absent:
        args = {name: value for name, value in args.items() if value != ""}
    try:
        return model.model_validate(args)
    except ValidationError as exc:
        raise validation_failed(exc, query=True) from None


def _no_constant(name: str):
    raise ValueError(name)  # NaN, Infinity: not JSON (RFC 8259)


def load_json(raw: bytes | str, what: str = "the body") -> Any:
    """Parse JSON text, refusing what RFC 8259 does not allow and what nests too deep."""
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise BadRequest(params={"reason": f"{what} nests deeper than {MAX_JSON_DEPTH} levels"}) from None
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(params={"reason": f"{what} is not valid JSON"}) from None
    if _depth(data) > MAX_JSON_DEPTH:
        raise BadRequest(params={"reason": f"{what} nests deeper than {MAX_JSON_DEPTH} levels"})
    return data


def _depth(data: Any) -> int:
    """Nesting depth, iteratively (a deep document must not exhaust the stack here either)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            deepest = max(deepest, level)
            if level > MAX_JSON_DEPTH:
                return level
            stack.extend((child, level + 1) for child in node)
    return deepest


def read_body() -> bytes:
    """The body, or 413 past MAX_CONTENT_LENGTH. A chunked body (no Content-Length, which
    gunicorn marks `wsgi.input_terminated`) is read to one byte past the limit: Werkzeug's own
    stream would stop at the limit in silence and hand on a truncated body."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and request.content_length is None and request.environ.get("wsgi.input_terminated"):
        raw = request.input_stream.read(limit + 1)
        if len(raw) > limit:
            raise RequestEntityTooLarge()
        return raw
    return request.get_data(cache=True)  # Werkzeug: 413 when Content-Length is over the limit


def parse_body(op: Operation) -> tuple[BaseModel, dict[str, list[FileStorage]]]:
    uploads: dict[str, list[FileStorage]] = {}
    mimetype = request.mimetype
    if op.multipart is not None and mimetype == MULTIPART:
        form = request.form  # reading it enforces MAX_CONTENT_LENGTH (413)
        raw = form.get(op.multipart.part)
        if raw is None:
            raise ValidationFailed([FieldError(op.multipart.part, "required")])
        data = load_json(raw, f"the {op.multipart.part} part")
        for name in op.multipart.files:
            if name in form:  # a plain field where a file is declared: not silently dropped
                raise ValidationFailed([FieldError(name, "invalid_value")])
            files = [f for f in request.files.getlist(name) if f.filename]
            uploads[name] = files
    elif mimetype == JSON or (mimetype.startswith("application/") and mimetype.endswith("+json")):
        data = load_json(read_body())
    else:
        raise UnsupportedMediaType()
    if not isinstance(data, dict):
        raise BadRequest(params={"reason": "a JSON object is expected"})
    try:
        return op.body.model_validate(data), uploads
    except ValidationError as exc:
        raise validation_failed(exc) from None


# ---- pydantic errors as problem field errors ---------------------------------------------------

# pydantic's error types -> our stable field codes (app.messages); custom types raise ours
CODES = {
    "missing": "required",
    "string_too_short": "too_short",
    "string_too_long": "too_long",
    "string_type": "not_a_string",
    "string_unicode": "invalid_value",
    "int_type": "not_a_number",
    "int_parsing": "not_a_number",
    "int_parsing_size": "out_of_range",
    "int_from_float": "not_a_number",
    "float_type": "not_a_number",
    "float_parsing": "not_a_number",
    "finite_number": "not_a_number",
    "greater_than": "out_of_range",
    "greater_than_equal": "out_of_range",
    "less_than": "out_of_range",
    "less_than_equal": "out_of_range",
    "too_long": "too_many_items",
    "too_short": "too_few_items",
    "extra_forbidden": "unknown_field",
}
# a field error with one of these codes becomes the problem's own code (the most specific
# thing to say about the request): geometry failures, a vote's value, too many photos
TOP_LEVEL_CODES = {"invalid_vote", "invalid_scale_vote", "too_many_photos"}


def top_level_codes() -> set[str]:
    from geo.errors import CODES as GEOMETRY_CODES

    return TOP_LEVEL_CODES | set(GEOMETRY_CODES)


def _field_name(loc: tuple, query: bool) -> str:
    if query:
        return str(loc[0]) if loc else ""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not str(part).startswith("function-"):  # pydantic's validator steps
            out += ("." if out else "") + str(part)
    return out


def _params(err: dict) -> dict:
    ctx = err.get("ctx") or {}
    kind = err["type"]
    if kind in ("string_too_short", "too_short"):
        return {"min": ctx.get("min_length")}
    if kind in ("string_too_long", "too_long"):
        return {"max": ctx.get("max_length")}
    if kind in ("greater_than", "greater_than_equal"):
        return {"min": ctx.get("gt", ctx.get("ge")), "max": "…"}
    if kind in ("less_than", "less_than_equal"):
        return {"min": "…", "max": ctx.get("lt", ctx.get("le"))}
    return dict(ctx)


def field_errors(exc: ValidationError, *, query: bool = False) -> list[FieldError]:
    errors, seen = [], set()
    for err in exc.errors(include_url=False, include_input=True):
        kind = err["type"]
        code = CODES.get(kind, kind if kind in _known() else "invalid_value")
        if isinstance(err.get("input"), str) and kind in ("too_short", "too_long"):
            code = CODES["string_" + kind]  # a length constraint after a validator: characters
        if code == "too_short" and isinstance(err.get("input"), str) and not err["input"].strip():
            code = "required"  # a blank required text
        if kind == "literal_error":
            code = "invalid_value"
        name = _field_name(tuple(err["loc"]), query)
        if (name, code) in seen:  # one error per field and code (a comma list's items)
            continue
        seen.add((name, code))
        errors.append(FieldError(name, code, _params(err)))
    return errors


@functools.cache
def _known() -> frozenset[str]:
    from app.messages import GEOMETRY_MESSAGES, MESSAGES

    return frozenset(MESSAGES) | frozenset(GEOMETRY_MESSAGES)


def parse_standard_query(model: type[BaseModel]) -> BaseModel:
    """The declared query of an endpoint that follows another standard (the OGC API, vector
    tiles): those say a bad parameter is a 400, where the JSON API says 422. The problem's
    field errors say which parameter and why, as everywhere."""
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        err = validation_failed(exc, query=True)
        err.status, err.title = 400, "Bad Request"
        raise err from None


def validation_failed(exc: ValidationError, *, query: bool = False) -> ValidationFailed:
    errors = field_errors(exc, query=query)
    top = next((e for e in errors if e.code in top_level_codes()), None)
    if top is None:
        return ValidationFailed(errors)
    err = ValidationFailed(errors, code=top.code, params=top.params)
    err.detail_override = top.detail()  # the field's own message, with its localised params
    return err
