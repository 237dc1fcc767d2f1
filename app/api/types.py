"""The domain's input types, written once: each validates, names its error `code`, and
describes itself in the OpenAPI document (its JSON Schema comes from the same declaration).

Errors are raised as `PydanticCustomError(code, …, params)`: `app.api.contract` turns the code
into the problem's field error and the params into its message's placeholders.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

import annotated_types
from pydantic import AfterValidator, BeforeValidator, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError
from typing_extensions import TypeAliasType

# ids are 64-bit in the contract; the tables' integer columns hold up to 2**31 - 1, so a
# larger id names nothing (a 404 in a path, `unknown_*` in a body), never a database error
ID_MAX = 2**63 - 1
COLUMN_ID_MAX = 2**31 - 1
# dates the statistics and filters accept: before 2000 nothing was reported, after 2100
# nothing will be for a while; outside this a bare date is out of range, not a database error
DATE_MIN, DATE_MAX = date(2000, 1, 1), date(2100, 12, 31)
MAX_JSON_DEPTH = 32  # a MultiPolygon inside a Feature is 7 deep


def fail(code: str, **params: Any):
    """Raise the field error `code` (a key of app.messages) with its message parameters."""
    raise PydanticCustomError(code, code, params)


def clean_text(value: str) -> str:
    """Text PostgreSQL can store: no NUL byte, no lone surrogate (JSON's `\\ud800`)."""
    if "\x00" in value:
        fail("invalid_value")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        fail("invalid_value")
    return value


# ECMAScript's \s, the white space of JSON Schema's patterns (Python's str.strip() also takes
# \x1c-\x1f, which a client following the document would count as text)
BLANKS = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008" \
         "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_BLANK_CLASS = BLANKS.replace("\t", "\\t").replace("\n", "\\n").replace("\v", "\\v") \
    .replace("\f", "\\f").replace("\r", "\\r")
# what the document says of a text: no NUL byte anywhere (PostgreSQL cannot store it), and,
# where text is required, one character that is not white space
NO_NUL = "^[^\\x00]*$"
SOME_TEXT = "^[^\\x00]*[^\\x00" + _BLANK_CLASS + "][^\\x00]*$"


def some_text(min_length: int) -> str:
    """The pattern of a text of at least `min_length` characters once its surrounding blanks
    are stripped (what the validators count): " OR " is 4 characters, but 2 of text."""
    if min_length <= 1:
        return SOME_TEXT
    text = "[^\\x00" + _BLANK_CLASS + "]"
    return f"^[{_BLANK_CLASS}]*{text}[^\\x00]{{{min_length - 2},}}{text}[{_BLANK_CLASS}]*$"


def _strip(value: Any) -> Any:
    return value.strip(BLANKS) if isinstance(value, str) else value


def Text(max_length: int, *, min_length: int = 0, strip: bool = True, **field: Any):
    """A string of at most `max_length` characters (after stripping surrounding blanks),
    without NUL bytes or lone surrogates. A blank required text is `required`."""
    validators = [BeforeValidator(_strip)] if strip else []
    # the document says what the validators do: no NUL byte; after stripping, some text
    validators.append(_TextInDocument(some_text(min_length) if strip and min_length else NO_NUL))
    return Annotated[str, *validators, Field(min_length=min_length, max_length=max_length, **field),
                     AfterValidator(clean_text)]


class _TextInDocument:
    """Adds a `pattern` to a text's JSON Schema (documentation only: the validators strip,
    count and refuse NUL bytes themselves)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def __get_pydantic_json_schema__(self, core_schema, handler):
        schema = handler(core_schema)
        schema.setdefault("pattern", self.pattern)
        return schema


Id = Annotated[int, Field(ge=1, le=ID_MAX, json_schema_extra={"format": "int64"}, strict=False)]


def _not_a_boolean(value: Any) -> Any:
    if isinstance(value, bool | str):  # lax ints take True as 1 and "1"; JSON says neither
        fail("not_a_number")
    return value


# an id in a body: a whole number (2.0 is 2), never `true` nor "2"
BodyId = Annotated[int, BeforeValidator(_not_a_boolean), annotated_types.Interval(ge=1, le=ID_MAX),
                   WithJsonSchema({"type": "integer", "format": "int64", "minimum": 1, "maximum": ID_MAX})]


def Whole(low: int, high: int):
    """A whole number between `low` and `high` (2.0 is 2; `true` and "2" are `not_a_number`)."""
    return Annotated[int, BeforeValidator(_not_a_boolean), annotated_types.Interval(ge=low, le=high),
                     WithJsonSchema({"type": "integer", "minimum": low, "maximum": high})]


def exists_in_columns(value: int | None) -> bool:
    """False for an id no integer column can hold (larger than 2**31 - 1)."""
    return value is not None and 1 <= value <= COLUMN_ID_MAX


# ---- comma-separated lists in query strings -----------------------------------------------

def _split(value: Any) -> Any:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",")] if value.strip() else []
    return value


def CommaList(item: Any, *, max_items: int = 100, **field: Any):
    """`a,b,c` in a query string (OpenAPI `style: form, explode: false`). An empty value is
    `required` (leave the parameter out instead): `?status=` cannot say whether it
    means no status or one empty one."""
    return Annotated[list[item], BeforeValidator(_split),
                     Field(min_length=1, max_length=max_items,
                           json_schema_extra={"style": "form", "explode": False}, **field)]


# ---- bbox -----------------------------------------------------------------------------------

BBOX_EXAMPLE = [2.33, 48.85, 2.36, 48.86]


def _bbox(value: Any) -> tuple[float, float, float, float]:
    parts = value.split(",") if isinstance(value, str) else value
    try:
        w, s, e, n = (float(v) for v in parts)
    except (TypeError, ValueError):
        fail("invalid_bbox")
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        fail("invalid_bbox")
    return w, s, e, n


BBox = Annotated[
    tuple[float, float, float, float],
    PlainValidator(_bbox),
    WithJsonSchema({
        "type": "array", "minItems": 4, "maxItems": 4,
        "items": {"type": "number", "minimum": -180, "maximum": 180},
        "description": "west,south,east,north in WGS84 degrees (west < east, south < north).",
        "examples": [BBOX_EXAMPLE],
    }),
]


# ---- pagination cursor ------------------------------------------------------------------------

def encode_cursor(created_at: datetime, row_id: int) -> str:
    """The `next` link's cursor: the last row's sort key (created_at, id)."""
    raw = f"{created_at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor(value: Any) -> tuple[datetime, int]:
    if not isinstance(value, str) or len(value) > 200:
        fail("invalid_cursor")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        when, _, row_id = raw.partition("|")
        moment, ident = datetime.fromisoformat(when), int(row_id)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        fail("invalid_cursor")
    if moment.tzinfo is None or not exists_in_columns(ident):
        fail("invalid_cursor")
    return moment, ident


Cursor = Annotated[
    tuple[datetime, int], PlainValidator(_cursor),
    WithJsonSchema({"type": "string", "maxLength": 200,
                    "description": "Opaque: take it from the `next` link."}),
]


# ---- dates ----------------------------------------------------------------------------------

def _moment(value: Any) -> datetime | date:
    """A bare date stays a date (its meaning, UTC or Paris day, is the endpoint's); a date-time
    without offset is UTC."""
    if isinstance(value, datetime | date):
        return value
    if not isinstance(value, str):
        fail("invalid_date")
    try:
        if len(value) == 10:
            parsed: datetime | date = date.fromisoformat(value)
            day = parsed
        else:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
            day = parsed.date()
    except ValueError:
        fail("invalid_date")
    if not DATE_MIN <= day <= DATE_MAX:
        fail("out_of_range", min=DATE_MIN.isoformat(), max=DATE_MAX.isoformat())
    return parsed


def utc_bound(value: datetime | date | None, *, end: bool = False) -> datetime | None:
    """A filter bound as a UTC instant: a bare date is its UTC midnight (the next one for
    `until`, so that the day is included)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.combine(value + timedelta(days=1) if end else value, time(), tzinfo=UTC)


# the accepted years in the pattern itself, so that the document says what the code takes
_DATE = r"(20[0-9]{2}|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_TIME = (r"T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
         r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?")
_DATE_SCHEMA = {
    "type": "string",
    "pattern": f"^{_DATE}({_TIME})?$",
    "examples": ["2024-01-31", "2024-01-31T08:00:00+01:00"],
}
Moment = Annotated[
    datetime | date, PlainValidator(_moment),
    WithJsonSchema({**_DATE_SCHEMA, "description":
                    f"An ISO 8601 date or date-time (UTC when no offset), between "
                    f"{DATE_MIN.isoformat()} and {DATE_MAX.isoformat()}."}),
]


def _day(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or len(value) != 10:
        fail("invalid_date")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        fail("invalid_date")
    if not DATE_MIN <= day <= DATE_MAX:  # the years the document's pattern admits
        fail("out_of_range", min=DATE_MIN.isoformat(), max=DATE_MAX.isoformat())
    return day


Day = Annotated[date, PlainValidator(_day),
                WithJsonSchema({"type": "string", "pattern": f"^{_DATE}$", "examples": ["2026-12-01"]})]

def Choice(values, *, code: str = "invalid_value", description: str | None = None):
    """One of `values` (an enum in the document); anything else is the field error `code`."""
    allowed = tuple(values)

    def check(value: Any) -> str:
        if value not in allowed:
            fail(code)
        return value

    schema: dict = {"type": "string", "enum": list(allowed)}
    if description:
        schema["description"] = description
    return Annotated[str, PlainValidator(check), WithJsonSchema(schema)]


Lang = Literal["fr", "en"]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]


# ---- GeoJSON geometry -------------------------------------------------------------------------

def _position_schema() -> dict:
    from geo.areas import paris_bbox

    w, s, e, n = paris_bbox()
    return {"type": "array", "minItems": 2, "maxItems": 3,
            "prefixItems": [{"type": "number", "minimum": w, "maximum": e},
                            {"type": "number", "minimum": s, "maximum": n},
                            {"type": "number"}],
            "description": "[longitude, latitude] in WGS84 degrees (RFC 7946), inside Paris; "
                           "an altitude, if any, is dropped."}


def geometry_schema(types: tuple[str, ...]) -> dict:
    position = _position_schema()
    ring = {"type": "array", "items": position, "minItems": 4,
            "description": "A closed ring: first and last positions equal."}
    shapes = {
        "Point": position,
        "LineString": {"type": "array", "items": position, "minItems": 2},
        "Polygon": {"type": "array", "items": ring, "minItems": 1},
    }
    shapes["MultiPolygon"] = {"type": "array", "items": shapes["Polygon"], "minItems": 1}
    variants = [{"type": "object", "title": t,
                 "properties": {"type": {"const": t}, "coordinates": shapes[t]},
                 "required": ["type", "coordinates"]} for t in types]
    return variants[0] if len(variants) == 1 else {"oneOf": variants}


def Geometry(kind: str):
    """A GeoJSON geometry a `kind` of contribution may have, checked by geo.validation (its
    codes: geometry_missing, outside_paris, coordinates_swapped…); the value is shapely's."""
    from shapely.geometry.base import BaseGeometry

    from geo.errors import GeometryError
    from geo.validation import ALLOWED_TYPES, parse_geometry

    def check(value: Any) -> BaseGeometry:
        try:
            return parse_geometry(value, kind)
        except GeometryError as exc:
            raise PydanticCustomError(exc.code, exc.code, dict(exc.params)) from None

    return Annotated[Any, PlainValidator(check), WithJsonSchema(geometry_schema(ALLOWED_TYPES[kind]))]


# ---- category codes ---------------------------------------------------------------------------

def category_component(kind: str) -> str:
    return f"{kind.title()}CategoryCode"


def _required_if_blank(value: Any) -> Any:
    """A null or blank code is `required` (not an unknown one); blanks around it go."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise PydanticCustomError("missing", "Field required")
    return value.strip() if isinstance(value, str) else value


def _category_type(kind: str):
    def check(code: Any) -> str:
        from app.areas.services import category_index

        cat = category_index().by_code.get(code) if isinstance(code, str) else None
        if cat is None or cat.kind != kind:
            fail("unknown_category")
        return code

    # a named type: its schema is components/schemas/<Kind>CategoryCode, which the document
    # fills with the enum of the codes the database holds (app/api/document.py)
    return TypeAliasType(category_component(kind), Annotated[
        str, PlainValidator(check), BeforeValidator(_required_if_blank),
        WithJsonSchema({"type": "string", "description": f"A {kind} category code."})])


CATEGORY_TYPES = {kind: _category_type(kind) for kind in ("report", "proposal")}


def CategoryCode(kind: str):
    """A category code of `kind` (else `unknown_category`; a blank one is `required`),
    documented as the enum of the codes the database holds, so a client, and schemathesis,
    knows every valid value."""
    return CATEGORY_TYPES[kind]


def _any_category(code: Any) -> str:
    from app.areas.services import category_index

    if not isinstance(code, str) or category_index().by_code.get(code) is None:
        fail("unknown_category")
    return code


# a code of either kind (the map and the statistics, where `kind` says which applies)
# a named type, like CategoryCode: app/api/document.py fills components/schemas/CategoryCode
# with either kind's enum (pydantic cannot hold a bare $ref to a component it does not know)
ANY_CATEGORY_COMPONENT = "CategoryCode"
AnyCategoryCode = TypeAliasType(ANY_CATEGORY_COMPONENT, Annotated[
    str, BeforeValidator(_required_if_blank), PlainValidator(_any_category),
    WithJsonSchema({"type": "string"})])


def _service(code: Any) -> str:
    from app.areas.services import service_codes

    if not isinstance(code, str) or code not in service_codes():
        fail("invalid_value")
    return code


SERVICE_COMPONENT = "ServiceCode"
# the team a report category belongs to; documented as the enum of the database's services
# (components/schemas/ServiceCode, filled by app/api/document.py)
ServiceCode = TypeAliasType(SERVICE_COMPONENT, Annotated[
    str, PlainValidator(_service), WithJsonSchema({"type": "string"})])


def _near_paris() -> tuple[float, float, float, float]:
    from geo.areas import paris_bbox

    w, s, e, n = paris_bbox()
    return w - NEAR_PARIS_DEG, s - NEAR_PARIS_DEG, e + NEAR_PARIS_DEG, n + NEAR_PARIS_DEG


# where an agent or a resident may stand when sorting by distance: within about a degree of
# Paris (Lambert-93, the metric CRS of the distances, is only defined over France)
NEAR_PARIS_DEG = 1.0
_W, _S, _E, _N = _near_paris()
NearParisLongitude = Annotated[float, Field(ge=_W, le=_E, allow_inf_nan=False)]
NearParisLatitude = Annotated[float, Field(ge=_S, le=_N, allow_inf_nan=False)]


def needs(required_for: dict[str, str], key: str = "to") -> dict:
    """JSON Schema conditionals: when `key` has one of these values, its member is required,
    not null and not blank (a transition's target, a flag's reason…)."""
    # required means given: neither null nor a blank text (which the validators strip to nothing)
    given = {"not": {"anyOf": [{"type": "null"}, {"type": "string", "pattern": f"^[{_BLANK_CLASS}]*$"}]}}
    return {"allOf": [
        {"if": {"properties": {key: {"const": value}}, "required": [key]},
         "then": {"required": [member], "properties": {member: given}}}
        for value, member in required_for.items()]}
