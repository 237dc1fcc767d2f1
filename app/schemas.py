"""Input parsing shared by every endpoint: JSON bodies, query strings, field errors."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time

from flask import request

from app.errors import AppError, BadRequest, FieldError, ValidationFailed

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def json_body() -> dict:
    """The request's JSON object, or 415 (not JSON) / 400 (unparseable or not an object)."""
    if not request.is_json:
        raise UnsupportedMediaType()
    data = request.get_json(silent=True)
    if data is None:
        raise BadRequest(params={"reason": "invalid JSON"})
    if not isinstance(data, dict):
        raise BadRequest(params={"reason": "a JSON object is expected"})
    return data


class UnsupportedMediaType(AppError):
    status, code, title = 415, "unsupported_media_type", "Unsupported Media Type"


class Fields:
    """Collects every field error of one input before raising a single 422."""

    def __init__(self, data: dict, prefix: str = "") -> None:
        self.data = data
        self.prefix = prefix
        self.errors: list[FieldError] = []

    def error(self, name: str, code: str, params: dict | None = None, detail: str | None = None):
        self.errors.append(FieldError(self.prefix + name, code, params, detail))

    def string(self, name: str, *, required=True, min_len=0, max_len=10_000, strip=True):
        value = self.data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.error(name, "required")
            return None if value is None or required else ""
        if not isinstance(value, str):
            self.error(name, "not_a_string")
            return None
        value = value.strip() if strip else value
        if "\x00" in value:
            self.error(name, "invalid_value")
            return None
        if len(value) < min_len:
            self.error(name, "too_short", {"min": min_len})
        elif len(value) > max_len:
            self.error(name, "too_long", {"max": max_len})
        return value

    def email(self, name: str = "email"):
        value = self.string(name, max_len=254)
        if value is not None and not EMAIL.match(value):
            self.error(name, "invalid_email")
            return None
        return value.lower() if value else None

    def done(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)


def query_float(name: str, *, required=True, lo=-math.inf, hi=math.inf, default=None):
    raw = request.args.get(name)
    if raw is None or raw == "":
        if required:
            raise ValidationFailed([FieldError(name, "required")])
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValidationFailed([FieldError(name, "not_a_number")]) from None
    if not math.isfinite(value) or not lo <= value <= hi:
        raise ValidationFailed([FieldError(name, "out_of_range", {"min": lo, "max": hi})])
    return value


def query_int(name: str, *, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed([FieldError(name, "not_a_number")]) from None
    if not lo <= value <= hi:
        raise ValidationFailed([FieldError(name, "out_of_range", {"min": lo, "max": hi})])
    return value


def parse_when(name: str, raw: str, *, end: bool = False) -> datetime:
    """An ISO date or datetime; a bare date means its start (or, with end=True, the next day)."""
    try:
        if len(raw) == 10:
            d = date.fromisoformat(raw)
            if end:
                d = date.fromordinal(d.toordinal() + 1)
            return datetime.combine(d, time(), tzinfo=UTC)
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    except ValueError:
        raise ValidationFailed([FieldError(name, "invalid_date")]) from None
