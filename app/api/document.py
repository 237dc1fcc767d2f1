"""The OpenAPI 3.1 document, generated from the declarations (app/api/contract.py) of the
routes the app serves: nothing here restates a limit or an enumeration.

Models become `components/schemas` (pydantic writes their JSON Schema); query models become
parameters; problem responses are shared components, one per status.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from flask import Flask, current_app
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from app.accounts.auth import CSRF_HEADER
from app.api import idempotency
from app.api.contract import (
    JSON,
    MULTIPART,
    PROBLEM,
    UNSAFE_METHODS,
    Model,
    Operation,
    Reply,
    contract_of,
)
from app.api.types import (
    ANY_CATEGORY_COMPONENT,
    COLUMN_ID_MAX,
    ID_MAX,
    SERVICE_COMPONENT,
    category_component,
)
from app.areas.services import category_index, service_codes
from app.contributions.models import KINDS, REPORT_STATUSES
from app.errors import HTTP_TITLES, PROBLEM_TYPE
from app.messages import message

REF = "#/components/schemas/{model}"
UNSAFE = UNSAFE_METHODS

DESCRIPTION = """\
The JSON API of Cartagora, the participatory map of Paris: incident reports and proposals on the
map, votes, comments, the city's handling of reports, the planners' statistics, and the
reference data they use (categories, areas, addresses).

- Geometry is GeoJSON (RFC 7946) in WGS84 longitude/latitude; contributions are served as
  `application/geo+json` Features and FeatureCollections, paginated with a `next` link.
- Write operations need `Authorization: Bearer <token>` from `POST /api/v1/auth/token`, or the
  web pages' session cookie with the `{csrf}` header.
- Errors are `application/problem+json` (RFC 9457) with a stable `code` and, for invalid input,
  `errors[]` of `{{field, code, detail}}`. Unknown query parameters and body members are refused
  (`unknown_field`). A method not documented on a path answers 405; an unknown path, 404.
- Ids are 64-bit integers; one that names nothing is a 404.
- Messages and category labels are in French unless `lang=en` or `Accept-Language` asks for
  English.
"""

TAGS = {
    "Accounts": "Sign up, sign in, sign out.",
    "Reports": "Incident reports (points).",
    "Proposals": "Proposals (points, lines or polygons).",
    "Field work": "The city's handling of reports: status changes, priority, assignment, the "
                  "agents' queue, scopes.",
    "Feeds": "Atom feeds of status changes and new contributions.",
    "Map": "The resident map's data: clusters, list, outlines.",
    "Statistics": "The planners' statistics: hexagons, areas, time series, hotspots, "
                  "resolution times.",
    "Reference data": "Categories, areas, addresses.",
    "Petitions": "E-petitions: drafts, moderation, signatures (one per verified account), the "
                 "thresholds, the city's answers.",
    "Service": "Health, this document, photo files.",
}

# status -> what causes it, in general (an operation's `problems` may say more)
PROBLEM_CAUSES = {
    400: ("malformed_request", "The body is not valid JSON, not a JSON object, or nests too deep "
                               "(`malformed_request`)."),
    401: ("unauthorized", "Not signed in where it is required, or a bearer token that is "
                          "unknown, expired or revoked (`unauthorized`): a bad token is refused "
                          "on every /api/ path, public ones included."),
    403: ("forbidden", f"Not allowed (`forbidden`), e.g. a write with the session cookie but "
                       f"without the `{CSRF_HEADER}` header, or without the role it needs."),
    404: ("not_found", "Nothing at this path (`not_found`, `contribution_not_found`)."),
    405: ("method_not_allowed", "Any method not documented on a documented path "
                                "(`method_not_allowed`); the `Allow` header lists those that are."),
    409: ("conflict", "Conflicts with the current state."),
    413: ("payload_too_large", "The body is larger than the limit (`payload_too_large`)."),
    415: ("unsupported_media_type", "The body's content type is not one this operation takes "
                                    "(`unsupported_media_type`)."),
    422: ("validation_failed", "Some input is invalid. The top-level `code` is "
                               "`validation_failed` unless a more specific one applies (a "
                               "geometry code such as `outside_paris`, `invalid_vote`, "
                               "`too_many_photos`); `errors` lists every invalid field with its "
                               "own code."),
    429: ("too_many_requests", "Over this endpoint's rate limit, counted per account (or per "
                               "address when signed out) and shared by every server "
                               "(`too_many_requests`; `sign_in_locked` after repeated failed "
                               "sign-ins). Retry after `Retry-After` seconds; nothing was done."),
    500: ("internal_error", "An unexpected error; nothing was saved (`internal_error`)."),
    503: ("service_unavailable", "The database is unreachable (`service_unavailable`) or the "
                                 "request ran past its class's statement timeout "
                                 "(`statement_timeout`); nothing was saved. Retry after "
                                 "`Retry-After` seconds."),
}
PROBLEM_HEADERS = {401: ("WWW-Authenticate",), 405: ("Allow",), 429: ("Retry-After",),
                   503: ("Retry-After",)}
HEADERS = {
    "Location": "The new resource's URL.",
    "WWW-Authenticate": "`Bearer realm=\"cartagora\"`.",
    "Allow": "The methods allowed on this path.",
    "Retry-After": "Seconds to wait before retrying.",
    "Cache-Control": "How long the answer may be cached.",
    "ETag": "A validator for `If-None-Match`.",
    "Server-Timing": "Time spent answering (`db;dur=<ms>` or `app;dur=<ms>`).",
    "Vary": "The request headers the answer depends on.",
    "Content-Disposition": "The file name of a download.",
    "X-Total-Count": "How many rows the download holds.",
}


class FieldErrorModel(Model):
    field: str
    code: str
    detail: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(pattern=f"^{PROBLEM_TYPE}[a-z_]+$")
    title: str = Field(description="The HTTP status phrase.")
    status: int = Field(ge=400, le=599)
    code: str = Field(description="A stable machine-readable code.")
    detail: str = Field(description="For people, in the request's language.")
    instance: str = Field(description="The request path.")
    errors: list[FieldErrorModel] | None = Field(None, description="Only for invalid input.")
    from_: Literal[REPORT_STATUSES] | None = Field(  # type: ignore[valid-type]
        None, alias="from", description="Only with `illegal_transition`: the report's status.")
    allowed: list[Literal[REPORT_STATUSES]] | None = Field(  # type: ignore[valid-type]
        None, description="Only with `illegal_transition`: where it may go from there.")
    phase: str | None = Field(None, description="Only with `budget_phase` and `consultation_phase`: the "
                                                "current phase.")
    project_status: str | None = Field(None, description="Only with `budget_project_status`: the budget "
                                                         "project's status.")
    merged_into: int | None = Field(None, description="Only with `budget_project_merged`: the project it "
                                                      "was merged into.")


class Schemas:
    """components/schemas, filled as models are met; two models never share a name."""

    def __init__(self) -> None:
        self.components: dict[str, dict] = {}
        self.owners: dict[str, type] = {}

    def ref(self, model: type[BaseModel] | dict, mode: str = "serialization") -> dict:
        if isinstance(model, dict):
            return model
        name = model.__name__
        if self.owners.get(name, model) is not model:
            raise RuntimeError(f"two models named {name}: {self.owners[name]} and {model}")
        if name not in self.components:
            self.owners[name] = model
            self.components[name] = {}  # placeholder: recursive models
            self.components[name] = self._schema(model, mode)
        return {"$ref": REF.format(model=name)}

    def inline(self, model: type[BaseModel], mode: str = "validation") -> dict:
        return self._schema(model, mode)

    def _schema(self, model: type[BaseModel], mode: str) -> dict:
        schema = TypeAdapter(model).json_schema(ref_template=REF, mode=mode)
        for name, sub in schema.pop("$defs", {}).items():
            self.components.setdefault(name, sub)
        return schema


def path_template(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def path_parameters(rule, op: Operation) -> list[dict]:
    out = []
    for name, conv in rule._converters.items():  # werkzeug's parsed converters, in order
        kind = type(conv).__name__
        if kind == "IdConverter":
            schema = {"type": "integer", "format": "int64", "minimum": 1, "maximum": ID_MAX}
            doc = f"An id; above {COLUMN_ID_MAX} it names nothing (404)."
        elif kind == "IntegerConverter":
            schema = {"type": "integer", "minimum": 0}
            doc = ""
        else:
            schema = {"type": "string"}
            doc = ""
        param = {"name": name, "in": "path", "required": True, "schema": schema}
        if op.path_doc.get(name) or doc:
            param["description"] = op.path_doc.get(name) or doc
        out.append(param)
    return out


def query_parameters(op: Operation, schemas: Schemas) -> list[dict]:
    schema = schemas.inline(op.query)
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        prop = _without_null(dict(prop))
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
        if "description" in prop:
            param["description"] = prop.pop("description")
        prop.pop("title", None)
        if "style" in prop:
            param["style"], param["explode"] = prop.pop("style"), prop.pop("explode")
        elif _is_array(prop):
            param["style"], param["explode"] = "form", False
        param["schema"] = prop
        out.append(param)
    out.append({"name": "Accept-Language", "in": "header", "required": False,
                "description": "Used when `lang` is absent; French unless English is preferred.",
                "schema": {"type": "string", "examples": ["en-GB,en;q=0.8"]}})
    return out


def _without_null(prop: dict) -> dict:
    """An optional query parameter is absent, never null: drop pydantic's null branch."""
    variants = prop.get("anyOf")
    if variants and {"type": "null"} in variants:
        rest = [v for v in variants if v != {"type": "null"}]
        prop.pop("anyOf")
        prop = {**rest[0], **prop} if len(rest) == 1 else {**prop, "anyOf": rest}
        if prop.get("default", 0) is None:
            prop.pop("default")
    return prop


def _is_array(prop: dict) -> bool:
    return prop.get("type") == "array" or any(p.get("type") == "array"
                                              for p in prop.get("anyOf", []))


def request_body(op: Operation, schemas: Schemas) -> dict:
    body_ref = schemas.ref(op.body, "validation")
    content = {JSON: {"schema": body_ref}}
    if op.multipart:
        props = {op.multipart.part: body_ref}
        encoding = {op.multipart.part: {"contentType": JSON}}
        for name, (doc, most) in op.multipart.files.items():
            # OpenAPI 3.1 describes a file by its media type (`format: binary` is 3.0's way)
            file_schema = {"type": "string", "contentMediaType": "application/octet-stream"}
            props[name] = ({"type": "array", "items": file_schema, "maxItems": most,
                            "description": doc} if most > 1 else {**file_schema, "description": doc})
            encoding[name] = {"contentType": "image/jpeg, image/png, image/webp"}
        content[MULTIPART] = {"schema": {"type": "object", "properties": props,
                                         "required": [op.multipart.part]},
                              "encoding": encoding}
    return {"required": True, "content": content}


def reply_object(reply: Reply, schemas: Schemas) -> dict:
    out: dict[str, Any] = {"description": reply.description}
    if reply.headers:
        out["headers"] = {h: {"$ref": f"#/components/headers/{h}"} for h in reply.headers}
    if reply.model is not None:
        media: dict[str, Any] = {"schema": schemas.ref(reply.model)}
        if reply.example is not None:
            media["example"] = reply.example
        out["content"] = {reply.media: media}
    for media_type, model in reply.variants:
        out.setdefault("content", {})[media_type] = {"schema": schemas.ref(model)}
    return out


def error_statuses(op: Operation, rule: str) -> set[int]:
    statuses = {500, 503} | set(op.errors) | set(op.problems)
    if rule.startswith("/api/"):
        statuses.add(401)  # a bad bearer token, anywhere under /api/
    statuses.add(422)  # `lang` and unknown query parameters are checked everywhere
    if "<" in rule:
        statuses.add(404)
    if op.body is not None:
        statuses |= {400, 413, 415, 422}
    if op.limit is not None:
        statuses.add(429)
    if op.auth not in (None, "optional"):
        statuses.add(401)
        if isinstance(op.auth, tuple) or op.method in UNSAFE:
            statuses.add(403)
    return statuses - set(op.replies)


def problem_response(status: int) -> dict:
    code, cause = PROBLEM_CAUSES[status]
    example = {"type": PROBLEM_TYPE + code, "title": HTTP_TITLES[status], "status": status,
               "code": code, "detail": message(code, {"reason": "invalid JSON", "seconds": 30}, lang="en"),
               "instance": "/api/v1/reports/42"}
    if status == 422:
        example["errors"] = [{"field": "properties.title", "code": "too_short",
                              "detail": message("too_short", {"min": 3}, lang="en")}]
    out = {"description": cause,
           "content": {PROBLEM: {"schema": {"$ref": REF.format(model="Problem")},
                                 "example": example}}}
    if status in PROBLEM_HEADERS:
        out["headers"] = {h: {"$ref": f"#/components/headers/{h}"} for h in PROBLEM_HEADERS[status]}
    return out


def operation_object(rule, op: Operation, schemas: Schemas) -> dict:
    out: dict[str, Any] = {
        "operationId": op.operation_id or rule.endpoint.replace(".", "_"),
        "summary": op.summary,
        "tags": list(op.tags),
    }
    if op.description:
        out["description"] = op.description
    params = path_parameters(rule, op) + query_parameters(op, schemas)
    if op.method in UNSAFE and op.auth is not None:
        params.append({"name": CSRF_HEADER, "in": "header", "required": False,
                       "description": "Required with the session cookie (the page's CSRF "
                                      "token); not needed with a bearer token.",
                       "schema": {"type": "string"}})
    if op.idempotent:
        params.append({"name": idempotency.HEADER, "in": "header", "required": False,
                       "description": "Any unique value (a UUID) to make a retry safe: the "
                                      "same key with the same request within 24 hours gets the "
                                      f"first answer again (with `{idempotency.REPLAYED}: "
                                      "true`) and creates nothing more; with another request, "
                                      "a 422 `idempotency_key_reused`.",
                       "schema": {"type": "string", "minLength": 1, "maxLength": 255,
                                  "pattern": "^[\\x21\\x23-\\x7e]+$"}})
    out["parameters"] = params
    if op.body is not None:
        out["requestBody"] = request_body(op, schemas)
    responses = {str(s): reply_object(r, schemas) for s, r in sorted(op.replies.items())}
    for status in sorted(error_statuses(op, rule.rule)):
        ref = {"$ref": f"#/components/responses/Problem{status}"}
        if status in op.problems:
            specific = problem_response(status)
            specific["description"] = op.problems[status]
            ref = specific
        responses[str(status)] = ref
    out["responses"] = responses
    if op.auth is not None:
        out["security"] = ([{}] if op.auth == "optional" else []) + [{"bearer": []},
                                                                    {"session": []}]
    return out


def openapi_document(app: Flask | None = None) -> dict:
    """The whole document for the routes `app` serves (built once per process)."""
    app = app or current_app
    cached = app.extensions.get("openapi_document")
    if cached is None:
        with app.app_context():  # the category and service enums are read from the database
            cached = app.extensions["openapi_document"] = build(app)
    return cached


def build(app: Flask) -> dict:
    schemas = Schemas()
    schemas.ref(Problem)
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        op = contract_of(app.view_functions.get(rule.endpoint))
        if op is None:
            continue
        paths.setdefault(path_template(rule.rule), {})[op.method.lower()] = \
            operation_object(rule, op, schemas)
    schemas.components[ANY_CATEGORY_COMPONENT] = {  # AnyCategoryCode
        "anyOf": [{"$ref": REF.format(model=category_component(k))} for k in KINDS],
        "description": "A category code of either kind."}
    schemas.components[SERVICE_COMPONENT] = {  # the enum of ServiceCode
        "type": "string", "enum": sorted(service_codes()),
        "description": "A service: the team a report category belongs to."}
    for kind in KINDS:  # the enums of CategoryCode(kind), from the database
        codes = sorted(c.code for c in category_index().by_code.values() if c.kind == kind)
        schemas.components[category_component(kind)] = {
            "type": "string", "enum": codes,
            "description": f"A {kind} category code (GET /api/v1/categories?kind={kind})."}
    used = {int(r["$ref"].removeprefix("#/components/responses/Problem"))
            for item in paths.values() for op in item.values()
            for r in op["responses"].values() if "$ref" in r}
    statuses = sorted(used | {405})  # 405: any undocumented method on a path
    used_headers = set(re.findall(r'"#/components/headers/([^"]+)"', json.dumps(
        [paths, [problem_response(s) for s in statuses]])))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Cartagora API",
            "version": "1",
            "description": DESCRIPTION.format(csrf=CSRF_HEADER),
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "tags": [{"name": n, "description": d} for n, d in TAGS.items()],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "responses": {f"Problem{s}": problem_response(s) for s in statuses},
            "headers": {h: {"description": d, "schema": {"type": "string"}}
                        for h, d in HEADERS.items() if h in used_headers},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "An opaque token from `POST /api/v1/auth/token`; "
                                          "revoke it with `POST /api/v1/auth/logout`."},
                "session": {"type": "apiKey", "in": "cookie",
                            "name": app.config.get("SESSION_COOKIE_NAME", "session"),
                            "description": "The web pages' signed session cookie. Writes also "
                                           f"need the `{CSRF_HEADER}` header, else 403."},
            },
        },
    }
