"""One error hierarchy, rendered as RFC 9457 problem documents (application/problem+json)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import psycopg
from flask import Flask, Response, jsonify, request
from psycopg.errors import QueryCanceled
from sqlalchemy.exc import DBAPIError, IntegrityError
from werkzeug.exceptions import HTTPException

from app.db import request_cost
from app.messages import message

log = logging.getLogger(__name__)

PROBLEM_TYPE = "urn:cartagora:problem:"
# seconds a client waits after a statement ran out of time (app.db's statement timeouts): long
# enough for a burst of load to pass
TIMEOUT_RETRY_AFTER = 5


class FieldError:
    """One invalid field: where (`field`, a dotted path), a stable `code`, message params;
    `message_key` names another message of the catalogue than the code's for its detail."""

    def __init__(self, field: str, code: str, params: dict | None = None, detail: str | None = None,
                 *, message_key: str | None = None):
        self.field, self.code, self.params, self._detail = field, code, params or {}, detail
        self.message_key = message_key or code

    def to_dict(self) -> dict:
        return {"field": self.field, "code": self.code, "detail": self._detail or self.detail()}

    def detail(self) -> str:
        return message(self.message_key, self.params)


class AppError(Exception):
    status = 400
    code = "malformed_request"
    title = "Bad Request"

    def __init__(
        self,
        code: str | None = None,
        params: dict | None = None,
        *,
        errors: list[FieldError] | None = None,
        extra: dict | None = None,
    ) -> None:
        super().__init__(code or self.code)
        self.code = code or self.code
        self.params = params or {}
        self.errors = errors or []
        self.extra = extra or {}

    def to_dict(self) -> dict:
        body = {
            "type": PROBLEM_TYPE + self.code,
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "detail": message(self.code, self.params),
        }
        if request:
            body["instance"] = request.path
        if self.errors:
            body["errors"] = [e.to_dict() for e in self.errors]
        body.update(self.extra)
        return body


class BadRequest(AppError):
    status, code, title = 400, "malformed_request", "Bad Request"


class Unauthorized(AppError):
    status, code, title = 401, "unauthorized", "Unauthorized"


class Forbidden(AppError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(AppError):
    status, code, title = 404, "not_found", "Not Found"


class Conflict(AppError):
    status, code, title = 409, "conflict", "Conflict"


class ValidationFailed(AppError):
    status, code, title = 422, "validation_failed", "Unprocessable Content"

    def __init__(self, errors: list[FieldError], code: str | None = None, params=None) -> None:
        super().__init__(code, params, errors=errors)


HTTP_TITLES = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 412: "Precondition Failed",
    413: "Request Entity Too Large", 415: "Unsupported Media Type",
    422: "Unprocessable Content", 429: "Too Many Requests", 500: "Internal Server Error",
    503: "Service Unavailable",
}
HTTP_CODES = {
    400: "malformed_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    503: "service_unavailable",
}


def unavailable(code: str, retry_after: int):
    """A 503 problem with its Retry-After (seconds)."""
    err = AppError(code)
    err.status, err.title = 503, "Service Unavailable"
    response = problem(err)
    response.headers["Retry-After"] = str(retry_after)
    return response


# path prefix -> how that standard says an error (app.open311 registers GeoReport v2's)
ERROR_RENDERERS: dict[str, Callable[[AppError], Response]] = {}


def problem(err: AppError):
    for prefix, render in ERROR_RENDERERS.items():
        if request and request.path.startswith(prefix):
            return render(err)
    body = err.to_dict()
    if getattr(err, "detail_override", None):
        body["detail"] = err.detail_override
    response = jsonify(body)
    response.status_code = err.status
    response.content_type = "application/problem+json"
    if err.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="cartagora"'
    if err.status == 429:
        response.headers["Retry-After"] = str(err.params.get("seconds", 1))
    return response


# machine paths: their errors are problems whatever the client accepts
PROBLEM_PATHS = ("/api/", "/feeds/", "/media/", "/open311/", "/ogc/", "/tiles/")


def wants_problem() -> bool:
    return request.path.startswith(PROBLEM_PATHS) or request.accept_mimetypes.best == "application/json"


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(AppError)
    def handle_app_error(err: AppError):
        return problem(err)

    @app.errorhandler(HTTPException)
    def handle_http(exc: HTTPException):
        if not wants_problem():
            return exc
        code = HTTP_CODES.get(exc.code, "malformed_request" if exc.code < 500 else "internal_error")
        err = AppError(code, {"reason": "invalid"})
        err.status, err.title = exc.code, exc.name
        response = problem(err)
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(IntegrityError)
    def handle_integrity(exc: IntegrityError):
        # a uniqueness race lost to a concurrent request (two sign-ups with one e-mail…)
        log.info("integrity error on %s %s: %s", request.method, request.path, exc.orig)
        return problem(Conflict())

    @app.errorhandler(QueryCanceled)
    def handle_cancelled(exc: QueryCanceled):
        # a statement past its request class's timeout (app.db), or cancelled by an operator:
        # the request's transaction is rolled back, nothing was saved
        log.warning("statement cancelled on %s %s (class %s): %s", request.method, request.path,
                    request_cost(), exc)
        return unavailable("statement_timeout", TIMEOUT_RETRY_AFTER)

    @app.errorhandler(DBAPIError)
    def handle_database(exc: DBAPIError):
        if isinstance(exc.orig, QueryCanceled):  # SQLAlchemy's OperationalError around it
            return handle_cancelled(exc.orig)
        if not exc.connection_invalidated and not isinstance(exc.orig, psycopg.OperationalError):
            return handle_unexpected(exc)
        # PostgreSQL restarted under a pooled connection (the pool does not ping before each
        # checkout: that round trip cost ~7% of a bbox page; SQLAlchemy has dropped the pool's
        # connections and the retry gets a fresh one), or is down, starting or shutting down
        # (a new connection refused): nothing was written, the client retries.
        log.warning("database unavailable on %s %s: %s", request.method, request.path, exc.orig)
        return unavailable("service_unavailable", 1)

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        err = AppError("internal_error")
        err.status, err.title = 500, "Internal Server Error"
        return problem(err)
