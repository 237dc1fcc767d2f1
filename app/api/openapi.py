"""The OpenAPI 3.1 document of the JSON API, served at /api/v1/openapi.json.

A plain dict built by small helpers. Every schema, parameter, request body, response and header
is defined once under `components` and referenced with `$ref`. Limits and enumerations are read
from the code that enforces them, so the document follows it. Path items carry operations only
(no path-level `parameters`): /api/v1/docs lists every key of a path item as a method.
"""

from __future__ import annotations

from flask import Flask, current_app, has_app_context

from app.accounts.auth import CSRF_HEADER
from app.accounts.models import ROLES
from app.accounts.services import MIN_PASSWORD
from app.config import Config
from app.contributions.models import (
    INITIAL_STATUS,
    PROPOSAL_STATUSES,
    REPORT_CLOSED,
    REPORT_OPEN,
    REPORT_STATUSES,
)
from app.contributions.photos import ALLOWED_FORMATS
from app.contributions.schemas import MAX_LIMIT
from app.contributions.services import DESCRIPTION_MAX, TITLE_MAX, TITLE_MIN
from app.engagement.services import COMMENT_MAX
from app.errors import PROBLEM_TYPE
from app.field.queries import SORTS
from app.field.workflow import (
    PRIORITIES,
    REJECTION_REASONS,
    REOPEN_WINDOW_DAYS,
    RESOLUTIONS,
    TRANSITIONS,
)
from app.map.queries import SHAPES_ZOOM
from app.map.schemas import DEFAULT_ZOOM, MAX_ZOOM
from app.messages import message
from app.planner.services import (
    EPS_M,
    FRESHNESS,
    HOTSPOT_LIMIT,
    MAX_HOTSPOT_DAYS,
    MIN_POINTS,
    PUBLIC_MIN_COUNT,
)
from geo.aggregations import AREA_LEVELS, GROUPS, INTERVALS
from geo.errors import MESSAGES as GEOMETRY_MESSAGES
from geo.hexgrid import LEVELS, MAX_CELL_M, MIN_CELL_M
from geo.validation import ALLOWED_TYPES, MAX_VERTICES

JSON = "application/json"
GEOJSON = "application/geo+json"
PROBLEM = "application/problem+json"
MULTIPART = "multipart/form-data"
PLURAL = {"report": "reports", "proposal": "proposals"}
TAGS = {"report": "Reports", "proposal": "Proposals"}
PHOTO_TYPES = ", ".join(f"image/{f.lower()}" for f in sorted(ALLOWED_FORMATS))
FIELD, FEEDS = "Field work", "Feeds"
ATOM = "application/atom+xml"
CSV, STATS = "text/csv", "Statistics"
# where a statistic was counted (geo/aggregations.py, TABLES): the choice is only about speed
STATS_SOURCES = ("hex", "day", "month", "facts", "raw")

# the field workflow (app/field/workflow.py): where a report can go, and what each target needs
# (app/field/services.py, validate())
TARGETS = [s for s in REPORT_STATUSES if any(s in targets for targets in TRANSITIONS.values())]
NEEDS = {"scheduled": "planned_for", "rejected": "reason", "resolved": "resolution",
         "transferred": "transferred_to", "duplicate": "duplicate_of"}
# limits and values written out in app/field/views.py and app/field/services.py
NOTE_MAX, TRANSFER_MAX = 2000, 200
BATCH_MAX, BATCH_TARGETS = 500, ("acknowledged", "scheduled")
QUEUE_LIMIT, QUEUE_DEFAULT_LIMIT, OLDER_MAX = 1000, 200, 36500
FEEDBACK_VALUES = ("fixed", "still_there")


# --- helpers -------------------------------------------------------------------------------


def ref(section: str, name: str) -> dict:
    return {"$ref": f"#/components/{section}/{name}"}


def schema(name: str) -> dict:
    return ref("schemas", name)


def obj(properties: dict, required: list[str] | None = None, description: str | None = None,
        **extra) -> dict:
    """An object schema; every property is required unless `required` says otherwise."""
    out = {"type": "object"}
    if description:
        out["description"] = description
    out["properties"] = properties
    out["required"] = list(properties) if required is None else required
    out.update(extra)
    return out


def array(items: dict, **extra) -> dict:
    return {"type": "array", "items": items, **extra}


def string(description: str | None = None, **extra) -> dict:
    out = {"type": "string", **extra}
    if description:
        out["description"] = description
    return out


def integer(description: str | None = None, **extra) -> dict:
    out = {"type": "integer", **extra}
    if description:
        out["description"] = description
    return out


def nullable(type_: str, description: str) -> dict:
    return {"type": [type_, "null"], "description": description}


def const(value: str) -> dict:
    return {"type": "string", "const": value}


def content(schema_: dict, media: str = JSON, example=None) -> dict:
    media_type = {"schema": schema_}
    if example is not None:
        media_type["example"] = example
    return {media: media_type}


def reply(description: str, schema_: dict | None = None, media: str = JSON,
          headers: tuple[str, ...] = (), example=None) -> dict:
    """A response object; `headers` name components/headers entries."""
    out: dict = {"description": description}
    if headers:
        out["headers"] = {h: ref("headers", h) for h in headers}
    if schema_ is not None:
        out["content"] = content(schema_, media, example)
    return out


def query(name: str, description: str, schema_: dict, *, required: bool = False,
          comma_list: bool = False) -> dict:
    """A query parameter; `comma_list` documents `a,b,c` (form style, not exploded)."""
    out = {"name": name, "in": "query", "description": description, "required": required,
           "schema": schema_}
    if comma_list:
        out.update(style="form", explode=False)
    return out


def operation(op_id: str, summary: str, tag: str, *, description: str | None = None,
              params: tuple[str, ...] = (), body: str | None = None, ok: dict,
              errors: tuple[str, ...] = (), auth: str | None = None, api: bool = True,
              localised: bool = True, problems: dict[str, str] | None = None) -> dict:
    """One operation. `params`, `body` and `errors` name components; `problems` maps a status
    to a more specific error response than the shared one (e.g. "409": "IllegalTransition").

    `auth` is "read" or "write" when the caller must be signed in: a write also takes the
    CSRF header (cookie sessions) and may be a 403 without it; "optional" when signing in
    changes the answer. Under /api (`api`) a bad bearer token is a 401 anywhere; 500 is always
    possible. `localised` adds `lang`/`Accept-Language`.
    """
    op: dict = {"operationId": op_id, "summary": summary, "tags": [tag]}
    if description:
        op["description"] = description
    names = list(params) + (["CsrfToken"] if auth == "write" else [])
    names += ["Lang", "AcceptLanguage"] if localised else []
    if names:
        op["parameters"] = [ref("parameters", n) for n in names]
    if body:
        op["requestBody"] = ref("requestBodies", body)
    if auth:
        op["security"] = ([{}] if auth == "optional" else []) + [{"bearer": []}, {"session": []}]
    codes = (set(errors) | set(problems or {}) | {"500", "503"}) - set(ok)
    codes |= {"401"} if api or auth else set()
    codes |= {"403"} if auth == "write" else set()
    shared = {c: ERRORS[c][0] for c in codes} | (problems or {})
    op["responses"] = {**ok, **{c: ref("responses", shared[c]) for c in sorted(codes)}}
    return op


def code_list(values) -> str:
    return ", ".join(f"`{v}`" for v in values)


def config(name: str):
    """A setting of the running app, or its default outside one."""
    if has_app_context():
        return current_app.config[name]
    return getattr(Config, name, Flask.default_config.get(name))


def limits() -> dict:
    return {"photos": config("PHOTOS_PER_CONTRIBUTION"),
            "photo_mb": config("PHOTO_MAX_BYTES") // 2**20}


# --- errors ----------------------------------------------------------------------------------

# status -> (component name, title, code of the example, what causes it)
ERRORS: dict[str, tuple[str, str, str, str]] = {
    "400": ("BadRequest", "Bad Request", "malformed_request",
            "The body is not valid JSON or not a JSON object (`malformed_request`)."),
    "401": ("Unauthorized", "Unauthorized", "unauthorized",
            "Not signed in where it is required, or a bearer token that is unknown, expired or "
            "revoked (`unauthorized`): a bad token is refused on every /api/ path, public ones "
            "included. `POST /api/v1/auth/token` answers `invalid_credentials` for a wrong "
            "e-mail or password."),
    "403": ("Forbidden", "Forbidden", "forbidden",
            "Not allowed (`forbidden`): a write with the session cookie but without the "
            f"`{CSRF_HEADER}` header; editing or withdrawing a contribution as neither its "
            "author nor a moderator, agent, planner or admin; a field-work operation without "
            "the role it needs. `out_of_scope`: an agent acting on a report outside their "
            "services and arrondissements. `not_reporter_or_follower`: feedback on a fix from "
            "someone who neither made nor follows the report."),
    "404": ("NotFound", "Not Found", "contribution_not_found",
            "No such contribution of this kind, or it was withdrawn or hidden "
            "(`contribution_not_found`); an unknown user or arrondissement, or any unknown path "
            "under /api/, is `not_found`."),
    "405": ("MethodNotAllowed", "Method Not Allowed", "method_not_allowed",
            "Any method not documented on a documented path (`method_not_allowed`); the `Allow` "
            "header lists the methods that are."),
    "409": ("Conflict", "Conflict", "email_taken",
            "Conflicts with the current state: `email_taken` on registration; on feedback, "
            "`not_resolved` (the report is not resolved) or `reopen_window_over` (resolved more "
            f"than {REOPEN_WINDOW_DAYS} days ago)."),
    "413": ("PayloadTooLarge", "Request Entity Too Large", "payload_too_large",
            "The request body is larger than the limit (five photos plus the form, about "
            "51 MB) (`payload_too_large`)."),
    "415": ("UnsupportedMediaType", "Unsupported Media Type", "unsupported_media_type",
            "The body is neither `application/json` nor, where accepted, "
            "`multipart/form-data` (`unsupported_media_type`)."),
    "422": ("ValidationFailed", "Unprocessable Content", "validation_failed",
            "Some input is invalid. The top-level `code` is `validation_failed` unless a more "
            "specific one applies (a geometry code such as `outside_paris`, `invalid_vote`, "
            "`too_many_photos`); `errors` lists every invalid field with its own code."),
    "500": ("InternalError", "Internal Server Error", "internal_error",
            "An unexpected error; nothing was saved (`internal_error`)."),
    "503": ("ServiceUnavailable", "Service Unavailable", "service_unavailable",
            "The connection to the database was lost (PostgreSQL restarted); nothing was "
            "saved. Retry after `Retry-After` seconds (`service_unavailable`)."),
}
EXAMPLE_PARAMS = {"malformed_request": {"reason": "invalid JSON"}}


def problem_example(status: str, code: str, params: dict | None = None,
                    instance: str = "/api/v1/reports/42") -> dict:
    return {
        "type": PROBLEM_TYPE + code,
        "title": ERRORS[status][1],
        "status": int(status),
        "code": code,
        "detail": message(code, params, lang="en"),
        "instance": instance,
    }


def error_response(status: str) -> dict:
    _name, _title, code, description = ERRORS[status]
    example = problem_example(status, code, EXAMPLE_PARAMS.get(code))
    if status == "422":
        example["errors"] = [{"field": "properties.title", "code": "too_short",
                              "detail": message("too_short", {"min": TITLE_MIN}, lang="en")}]
    headers = {"401": ("WWW-Authenticate",), "405": ("Allow",), "503": ("Retry-After",)}.get(status, ())
    return reply(description, schema("Problem"), PROBLEM, headers, example)


def illegal_transition_response() -> dict:
    """The 409 of a status change the workflow does not allow, with `from` and `allowed`."""
    start = "resolved"
    example = problem_example("409", "illegal_transition", {"from": start, "to": "scheduled"},
                              "/api/v1/reports/42/transitions")
    example.update({"from": start, "allowed": list(TRANSITIONS[start])})
    return reply("The workflow does not allow this change from the report's current status "
                 "(`illegal_transition`); `from` is that status and `allowed` lists where it "
                 "can go (possibly nowhere). Nothing was changed.",
                 schema("Problem"), PROBLEM, example=example)


# --- schemas ---------------------------------------------------------------------------------


def geometry_schemas() -> dict:
    position = schema("Position")
    ring = array(position, minItems=4, description="A closed ring: first and last positions equal.")
    return {
        "Position": array({"type": "number"}, minItems=2, maxItems=3,
                          description="[longitude, latitude] in WGS84 degrees (RFC 7946)."),
        "Point": obj({"type": const("Point"), "coordinates": position}),
        "LineString": obj({"type": const("LineString"),
                           "coordinates": array(position, minItems=2)}),
        "Polygon": obj({"type": const("Polygon"), "coordinates": array(ring, minItems=1)}),
        "MultiPolygon": obj({"type": const("MultiPolygon"),
                             "coordinates": array(array(ring, minItems=1), minItems=1)}),
        "Geometry": {
            "description": "A report is a Point; a proposal is a Point, a LineString or a Polygon.",
            "oneOf": [schema("Point"), schema("LineString"), schema("Polygon")],
        },
    }


def contribution_properties() -> dict:
    """The properties of a contribution Feature (also the base of the agents' queue items)."""
    return {
        "id": integer(),
        "kind": {"type": "string", "enum": list(PLURAL)},
        "title": string(minLength=TITLE_MIN, maxLength=TITLE_MAX),
        "description": string(maxLength=DESCRIPTION_MAX),
        "category": obj({"code": string(),
                         "label": string("The category's label in the request's language.")}),
        "status": {"anyOf": [schema("ReportStatus"), schema("ProposalStatus")]},
        "arrondissement": integer("Computed by PostGIS from the geometry.", minimum=1, maximum=20),
        "quartier": obj({"code": integer(minimum=1, maximum=80), "name": string()},
                        description="The quartier administratif, computed from the geometry."),
        "address": nullable("string", "A free-text address given by the author."),
        "created_at": string(format="date-time"),
        "updated_at": string(format="date-time"),
        "votes": schema("VoteCounts"),
        "comments_count": integer(minimum=0),
        "photos_count": integer(minimum=0),
        "author": nullable("string", "The author's display name; null for imported records."),
        "source_id": nullable("string", "The record's id in the dataset it was imported from."),
        "photos": array(schema("Photo"), description="Only on a single contribution (read, "
                        "create, edit), not in lists."),
        "distance_m": {"type": "number", "description": "Only in `GET /api/v1/reports/nearby`: "
                       "metres from the given point."},
    }


def contribution_schemas() -> dict:
    lim = limits()
    properties = contribution_properties()
    return {
        "ReportStatus": {
            "type": "string", "enum": list(REPORT_STATUSES),
            "description": f"Open: {code_list(REPORT_OPEN)}; closed: {code_list(REPORT_CLOSED)}. "
                           f"A new report is `{INITIAL_STATUS['report']}`.",
        },
        "ProposalStatus": {
            "type": "string", "enum": list(PROPOSAL_STATUSES),
            "description": f"A new proposal is `{INITIAL_STATUS['proposal']}`.",
        },
        "Photo": obj({
            "url": string("The photo, re-encoded as JPEG without metadata.",
                          format="uri-reference"),
            "thumbnail_url": string(format="uri-reference"),
            "width": integer(minimum=1),
            "height": integer(minimum=1),
        }),
        "VoteCounts": obj({"up": integer(minimum=0), "down": integer(minimum=0)},
                          description="Exact counters: agree (or \"me too\") and disagree."),
        "ContributionProperties": obj(
            properties, required=[p for p in properties if p not in ("photos", "distance_m")]),
        "Feature": obj({
            "type": const("Feature"),
            "id": integer(),
            "geometry": schema("Geometry"),
            "properties": schema("ContributionProperties"),
        }, description="A report or a proposal (RFC 7946 Feature, lon/lat)."),
        "Link": obj({"rel": string(examples=["next"]), "type": string(),
                     "href": string(format="uri-reference")}, required=["rel", "href"]),
        "FeatureCollection": obj({
            "type": const("FeatureCollection"),
            "numberReturned": integer(minimum=0),
            "links": array(schema("Link"), description="A `next` link while more pages remain."),
            "features": array(schema("Feature")),
        }, description="One page, newest first (keyset pagination on creation time and id)."),
        "NearbyCollection": obj({
            "type": const("FeatureCollection"),
            "radius_m": {"type": "number"},
            "features": array(schema("Feature"), description="Nearest first; each Feature has "
                              "`properties.distance_m`."),
        }),
        "ReportInput": feature_input("report", partial=False),
        "ReportPatch": feature_input("report", partial=True),
        "ProposalInput": feature_input("proposal", partial=False),
        "ProposalPatch": feature_input("proposal", partial=True),
        "PhotoFile": {
            "type": "string", "contentMediaType": "application/octet-stream",
            "description": f"{PHOTO_TYPES}; at most {lim['photo_mb']} MB. Re-encoded as JPEG "
                           "without metadata (EXIF, GPS).",
        },
        "PhotoFiles": array(schema("PhotoFile"), maxItems=lim["photos"],
                            description=f"At most {lim['photos']} per contribution."),
    }


def feature_input(kind: str, partial: bool) -> dict:
    geometry = schema("Point") if ALLOWED_TYPES[kind] == ("Point",) else schema("Geometry")
    properties = {
        "title": string(minLength=TITLE_MIN, maxLength=TITLE_MAX),
        "description": string(maxLength=DESCRIPTION_MAX),
        "category": string(f"A category code of kind `{kind}` (see `GET /api/v1/categories"
                           f"?kind={kind}`).", maxLength=80),
        "address": string("A free-text address.", maxLength=200),
    }
    if partial:
        what = ("Only the members present are changed: a `geometry` moves the contribution "
                "(its arrondissement and quartier follow); each property given is validated as "
                "on creation. Photos sent with multipart are added to the existing ones.")
    else:
        what = "A GeoJSON Feature. `type` is not checked; unknown properties are ignored."
    return obj({
        "type": const("Feature"),
        "geometry": {**geometry, "description": f"Inside Paris, at most {MAX_VERTICES} vertices, "
                     "no self-intersection."},
        "properties": obj(properties, required=[] if partial else ["title", "category"]),
    }, required=[] if partial else ["geometry", "properties"], description=what)


def reference_schemas() -> dict:
    return {
        "LocalizedText": obj({"fr": string(), "en": string()}),
        "Service": obj({"code": string(), "name": schema("LocalizedText")},
                       description="The team that handles a category."),
        "Category": obj({
            "code": string(),
            "label": schema("LocalizedText"),
            "service": {"oneOf": [schema("Service"), {"type": "null"}]},
            "children": array(schema("Category"), description="Sub-categories (one level)."),
        }),
        "CategoryTree": obj({"kind": {"type": "string", "enum": list(PLURAL)},
                             "categories": array(schema("Category"))}),
        "Address": obj({
            "type": const("Feature"),
            "id": string("The BAN address id."),
            "geometry": schema("Point"),
            "properties": obj({
                "label": string(examples=["12 Rue de Rivoli 75004 Paris"]),
                "housenumber": string(),
                "street": string(),
                "postcode": string(pattern="^[0-9]{5}$"),
                "distance_m": {"type": "number", "description": "Only from `/reverse`."},
            }, required=["label", "housenumber", "street", "postcode"]),
        }, description="A Base Adresse Nationale address point."),
        "AddressCollection": obj({
            "type": const("FeatureCollection"),
            "query": string("Only from `/geocode`: the query as searched."),
            "features": array(schema("Address")),
        }, required=["type", "features"]),
        "Area": obj({
            "type": const("Feature"),
            "id": integer(),
            "geometry": schema("MultiPolygon"),
            "properties": obj({
                "level": {"type": "string", "enum": ["arrondissement", "quartier"]},
                "code": integer(),
                "insee_code": integer(),
                "name": string(),
                "area_km2": {"type": "number"},
                "arrondissement": integer("Only for quartiers: their arrondissement."),
            }, required=["level", "code", "insee_code", "name", "area_km2"]),
        }),
        "AreaCollection": obj({"type": const("FeatureCollection"),
                               "features": array(schema("Area"))}),
    }


def map_schemas() -> dict:
    kind = {"type": "string", "enum": list(PLURAL)}
    status = {"anyOf": [schema("ReportStatus"), schema("ProposalStatus")]}
    return {
        "MapPoint": obj({
            "type": const("Feature"),
            "id": integer(),
            "geometry": {**schema("Geometry"), "description": "A point on the contribution "
                         f"below zoom {SHAPES_ZOOM}, its real shape from there on."},
            "properties": obj({"id": integer(), "kind": kind,
                               "category": string("The top-level category's code."),
                               "status": status, "title": string()}),
        }, description="A grid cell holding one contribution."),
        "MapCluster": obj({
            "type": const("Feature"),
            "geometry": {**schema("Point"), "description": "The mean position of the members."},
            "properties": obj({
                "cluster": {"type": "boolean", "const": True},
                "count": integer(minimum=2),
                "proposals": integer("How many of them are proposals.", minimum=0),
                "bbox": array({"type": "number"}, minItems=4, maxItems=4,
                              description="The members' extent: west, south, east, north."),
            }),
        }, description="A grid cell holding several contributions."),
        "MapClusters": obj({
            "type": const("FeatureCollection"),
            "zoom": integer(),
            "cell_m": {"type": "number", "description": "The grid cell's side in metres."},
            "total": integer("Contributions in the view.", minimum=0),
            "proposals": integer(minimum=0),
            "clusters": integer("Cells holding more than one contribution.", minimum=0),
            "features": array({"oneOf": [schema("MapCluster"), schema("MapPoint")]},
                              description="Fullest cells first."),
        }),
        "MapItem": obj({
            "type": const("Feature"),
            "id": integer(),
            "geometry": schema("Point"),
            "properties": obj({
                "id": integer(),
                "kind": kind,
                "title": string(),
                "category": obj({"code": string(), "label": string(),
                                 "top": string("The top-level category's code."),
                                 "top_label": string()}),
                "status": status,
                "address": nullable("string", "A free-text address given by the author."),
                "arrondissement": integer(minimum=1, maximum=20),
                "quartier": string("The quartier's name."),
                "created_at": string(format="date-time"),
                "votes": schema("VoteCounts"),
                "comments_count": integer(minimum=0),
                "photos_count": integer(minimum=0),
                "thumbnail": nullable("string", "The first photo's thumbnail URL."),
            }),
        }, description="A contribution in the list beside the map (a point on it)."),
        "MapItems": obj({
            "type": const("FeatureCollection"),
            "numberReturned": integer(minimum=0),
            "links": array(schema("Link"), description="A `next` link (relative) while more "
                           "pages remain."),
            "features": array(schema("MapItem")),
        }, description="Newest first across the kinds in play."),
        "MapOutline": obj({
            "type": const("Feature"),
            "id": string("`a<code>` for an arrondissement, `q<code>` for a quartier.",
                         pattern="^[aq][0-9]+$"),
            "geometry": {"oneOf": [schema("Polygon"), schema("MultiPolygon")]},
            "properties": obj({
                "level": {"type": "string", "enum": ["arrondissement", "quartier"]},
                "code": integer(),
                "name": string(),
                "arrondissement": integer("Only for quartiers: their arrondissement."),
            }, required=["level", "code", "name"]),
        }),
        "MapOutlines": obj({"type": const("FeatureCollection"),
                            "features": array(schema("MapOutline"))}),
    }


def account_schemas() -> dict:
    return {
        "User": obj({
            "id": integer(),
            "email": string(format="email"),
            "display_name": string(minLength=1, maxLength=60),
            "roles": array({"type": "string", "enum": list(ROLES)}),
        }),
        "RegisterInput": obj({
            "email": string(format="email", maxLength=254),
            "password": string(minLength=MIN_PASSWORD, maxLength=256),
            "display_name": string(minLength=1, maxLength=60),
        }),
        "Credentials": obj({"email": string(maxLength=254), "password": string()}),
        "Token": obj({
            "access_token": string("Send it as `Authorization: Bearer <token>`."),
            "token_type": const("Bearer"),
            "expires_at": string(format="date-time"),
            "user": schema("User"),
        }),
    }


def engagement_schemas() -> dict:
    return {
        "VoteInput": obj({"value": {"type": "integer", "enum": [1, -1],
                                    "description": "1: agree (\"me too\" on a report); "
                                                   "-1: disagree, proposals only."}}),
        "VoteTally": obj({"votes": schema("VoteCounts"),
                          "my_vote": {"type": ["integer", "null"], "enum": [1, -1, None]}}),
        "CommentInput": obj({"body": string("Plain text.", minLength=1, maxLength=COMMENT_MAX)}),
        "Comment": obj({
            "id": integer(),
            "body": string("Plain text: render it as text, never as HTML."),
            "author": string("The author's display name."),
            "created_at": string(format="date-time"),
        }),
        "CommentPage": obj({
            "comments": array(schema("Comment"), description="Oldest first."),
            "links": array(schema("Link"), description="A `next` link while more remain."),
        }),
    }


def nullable_ref(name: str, description: str | None = None) -> dict:
    out: dict = {"anyOf": [schema(name), {"type": "null"}]}
    if description:
        out["description"] = description
    return out


def nullable_enum(values, description: str) -> dict:
    return {"type": ["string", "null"], "enum": [*values, None], "description": description}


def transition_table() -> str:
    return "; ".join(f"`{start}` → " + (code_list(targets) if targets else "nothing")
                     for start, targets in TRANSITIONS.items())


def history_properties() -> dict:
    """The members of a public history event (app/field/services.py, history())."""
    return {
        "at": string(format="date-time"),
        "from": nullable_ref("ReportStatus"),
        "to": schema("ReportStatus"),
        "public_note": nullable("string", "Shown to everyone (also in e-mails and feeds). "
                                "`still_there` marks a reopening by the reporter or a follower."),
        "planned_for": {"type": ["string", "null"], "format": "date",
                        "description": "The planned date of a `scheduled` step."},
        "reason": nullable_enum(REJECTION_REASONS, "Why it was `rejected`."),
        "resolution": nullable_enum(RESOLUTIONS, "How it was `resolved`."),
        "duplicate_of": nullable("integer", "The original report of a `duplicate`."),
        "transferred_to": nullable("string", "Who it was `transferred` to."),
        "photo_url": {"type": ["string", "null"], "format": "uri-reference",
                      "description": "A photo taken on site (e.g. of the work done)."},
        "by": {"type": "string", "enum": ["city", "resident"],
               "description": "`city` when a staff member acted, else `resident`."},
        "demo": {"type": "boolean", "description": "Invented demonstration history for an "
                 "imported record: never real data."},
    }


def field_schemas() -> dict:
    public = history_properties()
    queue_properties = {k: v for k, v in contribution_properties().items() if k != "photos"}
    queue_properties.update({
        "priority": nullable_ref("Priority"),
        "assigned_to": nullable("integer", "The id of the agent it is assigned to."),
        "service": nullable("string", "The code of the service in charge."),
        "planned_for": {"type": ["string", "null"], "format": "date",
                        "description": "The planned date, once `scheduled`."},
        "followers_count": integer(minimum=0),
        "age_days": integer("Whole days since it was made.", minimum=0),
        "distance_m": {"type": "number", "minimum": 0,
                       "description": "Only with `sort=nearest`: metres from `lon`/`lat`."},
    })
    transition = {
        "to": {"type": "string", "enum": TARGETS,
               "description": f"The new status. Allowed from each status: {transition_table()}. "
                              "A target may need another member (see below)."},
        "public_note": string("Shown to everyone: the history, the reporter's and followers' "
                              "e-mails, the feeds. Required when `reason` is `other`.",
                              maxLength=NOTE_MAX),
        "internal_note": string("Staff only.", maxLength=NOTE_MAX),
        "planned_for": string("Required for `scheduled`: today or later (else `date_in_past`).",
                              format="date"),
        "reason": {"type": "string", "enum": list(REJECTION_REASONS),
                   "description": "Required for `rejected`."},
        "resolution": {"type": "string", "enum": list(RESOLUTIONS),
                       "description": "Required for `resolved`: the closing message."},
        "duplicate_of": integer("Required for `duplicate`: the original report (not this one, "
                                "not itself a duplicate; else `unknown_report` or "
                                "`invalid_value`). Its votes and followers move there, and the "
                                "reporter counts as one more \"me too\"."),
        "transferred_to": string("Required for `transferred`: who takes it over.",
                                 maxLength=TRANSFER_MAX),
    }
    return {
        "Priority": {"type": "string", "enum": list(PRIORITIES),
                     "description": "Set by agents: the queue shows dangerous reports first."},
        "TransitionInput": obj(transition, required=["to"], description=(
            "A status change. Members a target does not use are stored as given."),
            allOf=[{"if": {"properties": {"to": const(target)}, "required": ["to"]},
                    "then": {"required": [member]}} for target, member in NEEDS.items()]),
        "HistoryEvent": obj(public, description="One step of a report's public history."),
        "StaffHistoryEvent": obj({
            **public,
            "internal_note": nullable("string", "Staff only."),
            "actor": nullable("string", "Staff only: who acted (display name)."),
        }, description="A history step as staff see it: with the internal note and the actor."),
        "TransitionResult": obj({
            "id": integer(),
            "status": schema("ReportStatus"),
            "event_id": integer("The new history event."),
            "history": array(schema("StaffHistoryEvent"), description="Oldest first."),
        }),
        "ReportHistory": obj({
            "id": integer(),
            "status": schema("ReportStatus"),
            "history": array({"anyOf": [schema("StaffHistoryEvent"), schema("HistoryEvent")]},
                             description="Oldest first. Staff callers (agent, supervisor, "
                                         "planner, moderator, admin) get `StaffHistoryEvent`s, "
                                         "everyone else `HistoryEvent`s."),
        }),
        "PriorityInput": obj({"priority": nullable_ref(
            "Priority", "null (or absent) clears it.")}, required=[]),
        "PriorityResult": obj({"id": integer(), "priority": nullable_ref("Priority")}),
        "AssignmentInput": obj({"agent_id": nullable(
            "integer", "An agent whose scope covers the report (else `invalid_value` or "
            "`out_of_scope`); null (or absent) unassigns it.")}, required=[]),
        "AssignmentResult": obj({"id": integer(),
                                 "assigned_to": nullable("integer", "The agent's user id.")}),
        "FeedbackInput": obj({"value": {
            "type": "string", "enum": list(FEEDBACK_VALUES),
            "description": "`fixed` confirms the fix; `still_there` reopens the report (back to "
                           "`acknowledged`)."}}),
        "FeedbackResult": obj({"id": integer(), "status": schema("ReportStatus"),
                               "reopen_count": integer("Times residents reopened it.",
                                                       minimum=0)}),
        "FollowState": obj({"following": {"type": "boolean"},
                            "followers_count": integer(minimum=0)}),
        "QueueProperties": obj(queue_properties,
                               required=[p for p in queue_properties if p != "distance_m"],
                               description="A contribution's properties plus the field work's."),
        "QueueFeature": obj({
            "type": const("Feature"),
            "id": integer(),
            "geometry": schema("Point"),
            "properties": schema("QueueProperties"),
        }, description="A report in the agents' queue."),
        "AgentQueue": obj({
            "type": const("FeatureCollection"),
            "counts": {"type": "object", "propertyNames": schema("ReportStatus"),
                       "additionalProperties": integer(minimum=1),
                       "description": "Reports per status under the other filters (every "
                                      "status, not only those asked for); absent: none."},
            "features": array(schema("QueueFeature"), description="In the `sort` order."),
        }),
        "BatchInput": obj({
            "ids": array(integer(), minItems=1, maxItems=BATCH_MAX,
                         description="Report ids; repeats count once."),
            "to": {"type": "string", "enum": list(BATCH_TARGETS)},
            "planned_for": string("Required for `scheduled`: today or later.", format="date"),
            "public_note": string(maxLength=NOTE_MAX),
            "internal_note": string(maxLength=NOTE_MAX),
        }, required=["ids", "to"], description="The same change for several reports."),
        "BatchResult": obj({"updated": array(obj({"id": integer(),
                                                  "status": schema("ReportStatus")}))}),
        "AgentScope": obj({
            "service": nullable("string", "A service code; null (or absent): every service."),
            "arrondissement": {"type": ["integer", "null"], "minimum": 1, "maximum": 20,
                               "description": "null (or absent): every arrondissement."},
        }, required=[], description="Reports of this service in this arrondissement."),
        "ScopesInput": obj({"scopes": array(schema("AgentScope"), description="Replaces all "
                                            "of the agent's scopes; empty (or absent): none.")},
                           required=[]),
        "AgentScopes": obj({"user_id": integer(), "scopes": array(schema("AgentScope"))}),
    }


def stats_envelope(properties: dict) -> dict:
    """The members every /api/v1/stats answer shares (app/planner/services.py, _envelope())."""
    return {
        "filters": schema("StatsFilters"),
        "source": schema("StatsSource"),
        "freshness": schema("StatsFreshness"),
        "public": {"type": "boolean", "description": "True unless the caller is a planner or "
                   f"staff: then counts below {PUBLIC_MIN_COUNT} are left out."},
        **properties,
    }


def nullable_number(description: str) -> dict:
    return {"type": ["number", "null"], "description": description}


def stats_schemas() -> dict:
    small = f"null when left out for the public (fewer than {PUBLIC_MIN_COUNT})"
    nullable_list = lambda items, what: {  # noqa: E731
        "type": ["array", "null"], "items": items, "description": f"{what}; null: not filtered."}
    return {
        "StatsFilters": obj({
            "kind": {"type": "string", "enum": list(PLURAL)},
            "category": nullable_list(string(), "The category codes asked for"),
            "status": nullable_list(string(), "The statuses as asked for (`open`/`closed` not "
                                    "expanded)"),
            "since": {"type": ["string", "null"], "format": "date-time",
                      "description": "The start used (a bare date is Paris midnight)."},
            "until": {"type": ["string", "null"], "format": "date-time",
                      "description": "The end used, excluded (a bare date is the next Paris "
                                     "midnight)."},
            "arrondissement": nullable_list(integer(minimum=1, maximum=20), "Arrondissements"),
            "quartier": nullable_list(integer(minimum=1, maximum=80), "Quartiers"),
            "bbox": {"type": ["array", "null"], "items": {"type": "number"}, "minItems": 4,
                     "maxItems": 4, "description": "west, south, east, north; null: "
                                                   "not filtered."},
        }, description="The filters as understood (an echo of the query)."),
        "StatsSource": string("Which table answered: " + code_list(STATS_SOURCES) + " (the "
                              "rollups by hexagon, day or month, the facts table, or the "
                              "contributions themselves when `bbox` is given); `areas` gives "
                              "the current and the previous period's joined by `+`. Every "
                              "source answers exactly; the choice is only about speed.",
                              pattern="^({0})(\\+({0}))?$".format("|".join(STATS_SOURCES)),
                              examples=["hex", "month+month"]),
        "StatsFreshness": obj({
            "mode": {"type": "string", "const": FRESHNESS["mode"]},
            "lag_seconds": integer(minimum=0, examples=[FRESHNESS["lag_seconds"]]),
        }, description="The rollups are updated by database triggers in the same transaction "
                       "as every write: no lag."),
        "Hexbin": obj({
            "type": const("Feature"),
            "id": integer("The cell's id (same as `properties.cell`)."),
            "geometry": schema("Polygon"),
            "properties": obj({
                "cell": integer("`(i << 20) + j`: the hexagon's column and row on the "
                                "Lambert-93 grid."),
                "count": integer(minimum=1),
            }),
        }, description="A hexagon (WGS84) holding at least one matching contribution (for the "
                       f"public, at least {PUBLIC_MIN_COUNT})."),
        "HexbinCollection": obj({
            "type": const("FeatureCollection"),
            **stats_envelope({
                "cell_m": {"type": "integer", "enum": list(LEVELS),
                           "description": "The level used: the distance between neighbouring "
                                          "hexagon centres, in metres."},
                "cell_m_requested": integer("The `cell_m` asked for.", minimum=MIN_CELL_M,
                                            maximum=MAX_CELL_M),
                "total": integer("Contributions in the hexagons returned.", minimum=0),
                "cells": integer("Hexagons returned.", minimum=0),
                "breaks": array(integer(minimum=1), description="Class breaks: the distinct "
                                "20th, 40th, 60th, 80th and 100th percentiles of the counts."),
            }),
            "features": array(schema("Hexbin"), description="By cell id."),
        }),
        "AreaStat": obj({
            "code": integer("The arrondissement or quartier number."),
            "name": string(),
            "count": nullable("integer", f"Matching contributions; {small}."),
            "suppressed": {"type": "boolean", "description": "Left out for the public."},
            "density_km2": nullable_number(f"Per km²; {small}."),
            "share": nullable_number(f"Of the total, 0 to 1; {small} or when the total is 0."),
            "previous_count": nullable("integer", "In the previous period; null without `since`"
                                       " or when small for the public."),
            "change": nullable("integer", "`count` − `previous_count`."),
            "change_pct": nullable_number("The change in percent; null when the previous "
                                          "count is 0 or null."),
        }),
        "AreaStats": obj(stats_envelope({
            "level": {"type": "string", "enum": list(AREA_LEVELS)},
            "total": integer(minimum=0),
            "previous_period": {"anyOf": [obj({"since": string(format="date-time"),
                                               "until": string(format="date-time")}),
                                          {"type": "null"}],
                                "description": "The period of the same length just before "
                                               "(calendar months when month-aligned); null "
                                               "without `since`."},
            "areas": array(schema("AreaStat"), description="Every area, with zeros, by code."),
        })),
        "TimeseriesPoint": obj({
            "period": string("The period's first day (a Monday for weeks).", format="date"),
            "count": nullable("integer", f"Matching contributions; {small} (0 is shown)."),
        }),
        "Timeseries": obj(stats_envelope({
            "interval": {"type": "string", "enum": list(INTERVALS)},
            "timezone": const("Europe/Paris"),
            "total": integer(minimum=0),
            "series": array(schema("TimeseriesPoint"), description="Every period from `since` "
                            "(or the first contribution) to `until` (or the last), empty ones "
                            "with 0, oldest first."),
        })),
        "HotspotCategory": obj({"code": string(), "label": schema("LocalizedText"),
                                "count": integer(minimum=1)}),
        "Hotspot": obj({
            "type": const("Feature"),
            "id": integer("The rank."),
            "geometry": {**schema("Polygon"), "description": "The members' convex hull, "
                         "buffered by half of `eps_m`."},
            "properties": obj({
                "rank": integer("1 for the largest.", minimum=1),
                "count": integer(minimum=1),
                "top_categories": array(schema("HotspotCategory"), maxItems=3, description=(
                    "The three largest categories (for the public, those with at least "
                    f"{PUBLIC_MIN_COUNT} contributions).")),
                "reports_url": string("The list of the contributions in the hotspot's box, "
                                      "period, categories and statuses.",
                                      format="uri-reference"),
            }),
        }),
        "HotspotCollection": obj({
            "type": const("FeatureCollection"),
            **stats_envelope({
                "method": const("ST_ClusterDBSCAN"),
                "eps_m": integer(minimum=EPS_M[0], maximum=EPS_M[1]),
                "min_points": integer(minimum=MIN_POINTS[0], maximum=MIN_POINTS[1]),
            }),
            "features": array(schema("Hotspot"), description="Largest first."),
        }),
        "ResolutionGroup": obj({
            "code": {"type": ["integer", "string", "null"], "description": "The arrondissement "
                     "number, or the category's or service's code (null: no service)."},
            "label": nullable("string", "Its name (French)."),
            "count": nullable("integer", f"Matching reports; {small}."),
            "suppressed": {"type": "boolean", "description": "Left out for the public."},
            "ack_median_h": nullable_number("Median hours to acknowledge."),
            "ack_p90_h": nullable_number("90th percentile of the hours to acknowledge."),
            "resolve_median_h": nullable_number("Median hours to resolve (resolved ones)."),
            "resolve_p90_h": nullable_number("90th percentile of the hours to resolve."),
            "share_resolved": nullable_number("Share now `resolved`, 0 to 1."),
            "reopen_rate": nullable_number("Share reopened among those ever closed, 0 to 1."),
        }, description="Every metric is null when left out for the public, or when nothing "
                       "to measure."),
        "ResolutionStats": obj(stats_envelope({
            "group_by": {"type": "string", "enum": list(GROUPS)},
            "groups": array(schema("ResolutionGroup")),
        })),
        "StatsCsv": {"type": "string", "contentMediaType": CSV,
                     "description": "A header row, then one row per item; left-out values "
                                    "are empty."},
    }


def service_schemas() -> dict:
    return {
        "Problem": obj({
            "type": string(f"`{PROBLEM_TYPE}<code>`", format="uri",
                           pattern=f"^{PROBLEM_TYPE}[a-z_]+$"),
            "title": string("The HTTP status phrase."),
            "status": integer(minimum=400, maximum=599),
            "code": string("A stable machine-readable code."),
            "detail": string("For people, in the request's language."),
            "instance": string("The request path."),
            "errors": array(schema("FieldError"), description="Only for invalid input."),
            "from": {**schema("ReportStatus"),
                     "description": "Only with `illegal_transition`: the report's status."},
            "allowed": array(schema("ReportStatus"), description="Only with "
                             "`illegal_transition`: the statuses it may go to from there."),
        }, required=["type", "title", "status", "code", "detail", "instance"],
            description="RFC 9457 problem details.", additionalProperties=True),
        "FieldError": obj({
            "field": string("Where: a dotted path (`properties.title`, `photos[0]`, a query "
                            "parameter's name); empty for the whole body.",
                            examples=["properties.title"]),
            "code": string(examples=["too_short"]),
            "detail": string(),
        }),
        "Health": obj({"status": {"type": "string", "enum": ["ok", "degraded"]},
                       "database": {"type": "string", "enum": ["ok", "unreachable"]}}),
    }


# --- parameters ------------------------------------------------------------------------------


def parameters() -> dict:
    report_status = [*REPORT_STATUSES, "open", "closed"]
    return {
        "Lang": query("lang", "The language of messages and labels, `fr` (the default) or `en`. "
                      "It wins over `Accept-Language`; other values are ignored.",
                      {"type": "string", "enum": ["fr", "en"]}),
        "AcceptLanguage": {"name": "Accept-Language", "in": "header", "required": False,
                           "description": "Used when `lang` is absent; French unless English is "
                                          "preferred.",
                           "schema": string(examples=["en-GB,en;q=0.8"])},
        "ContributionId": {"name": "contribution_id", "in": "path", "required": True,
                           "schema": integer()},
        "Bbox": query("bbox", "west,south,east,north in WGS84 degrees: contributions whose "
                      "geometry intersects the box.",
                      array({"type": "number"}, minItems=4, maxItems=4,
                            examples=[[2.33, 48.85, 2.36, 48.86]]), comma_list=True),
        "Category": query("category", "Category codes; a code includes its sub-categories. "
                          "Codes of the other kind are `unknown_category`.",
                          array({"type": "string"}), comma_list=True),
        "ReportStatusFilter": query(
            "status", "Statuses; `open` stands for " + code_list(REPORT_OPEN)
            + " and `closed` for " + code_list(REPORT_CLOSED) + ".",
            array({"type": "string", "enum": report_status}), comma_list=True),
        "ProposalStatusFilter": query("status", "Statuses.",
                                      array({"type": "string", "enum": list(PROPOSAL_STATUSES)}),
                                      comma_list=True),
        "Arrondissement": query("arrondissement", "Arrondissement numbers.",
                                array(integer(minimum=1, maximum=20)), comma_list=True),
        "Quartier": query("quartier", "Quartier administratif numbers.",
                          array(integer(minimum=1, maximum=80)), comma_list=True),
        "Since": query("since", "Created at or after: an ISO 8601 date (its start, UTC) or "
                       "date-time (UTC when no offset).",
                       string(examples=["2024-01-31", "2024-01-31T08:00:00+01:00"])),
        "Until": query("until", "Created before: an ISO 8601 date-time, or a date, which "
                       "includes that whole day (UTC).", string(examples=["2024-12-31"])),
        "SearchText": query("q", "Words in the title or description (case-insensitive "
                            "substring; cut at 200 characters).", string()),
        "SourceId": query("source_id", "The id in an imported dataset (e.g. DansMaRue), exactly.",
                          string(maxLength=100)),
        "Limit": query("limit", f"Page size (at most {MAX_LIMIT}).",
                       integer(minimum=1, maximum=MAX_LIMIT, default=100)),
        "Cursor": query("cursor", "Opaque: take it from the `next` link.", string()),
        "After": query("after", "Comments with a larger id (take it from the `next` link).",
                       integer(minimum=0, default=0)),
        "MapKind": query("kind", "The kinds shown (both by default).",
                         array({"type": "string", "enum": list(PLURAL)}), comma_list=True),
        "MapZoom": query("zoom", "The map's zoom level: it sizes the cluster grid.",
                         integer(minimum=0, maximum=MAX_ZOOM, default=DEFAULT_ZOOM)),
        "MapCategory": query("category", "Category codes of either kind (with their "
                             "sub-categories); a kind none of them belongs to drops out.",
                             array({"type": "string"}), comma_list=True),
        "MapStatus": query("status", "Statuses of either kind, and `open`/`closed` for reports; "
                           "a kind none of them belongs to drops out.",
                           array({"type": "string", "enum": sorted(
                               {*REPORT_STATUSES, *PROPOSAL_STATUSES, "open", "closed"})}),
                           comma_list=True),
        "IfNoneMatch": {"name": "If-None-Match", "in": "header", "required": False,
                        "description": "An `ETag` received before: 304 if unchanged.",
                        "schema": string()},
        "Lon": query("lon", "Longitude, WGS84 degrees.",
                     {"type": "number", "minimum": -180, "maximum": 180}, required=True),
        "Lat": query("lat", "Latitude, WGS84 degrees.",
                     {"type": "number", "minimum": -90, "maximum": 90}, required=True),
        "NearbyCategory": query("category", "A report category code (with its sub-categories).",
                                string(), required=True),
        "RadiusM": query("radius_m", "Search radius in metres.",
                         {"type": "number", "minimum": 1, "maximum": 500, "default": 50}),
        "NearbyLimit": query("limit", "At most this many reports.",
                             integer(minimum=1, maximum=100, default=20)),
        "GeocodeQuery": query("q", "Free text: accents, case and small typos do not matter.",
                              string(minLength=1, maxLength=200, examples=["12 rue de rivoli"]),
                              required=True),
        "GeocodeLimit": query("limit", "At most this many addresses.",
                              integer(minimum=1, maximum=50, default=10)),
        "AreaLevel": query("level", "Which polygons.",
                           {"type": "string", "enum": ["arrondissement", "quartier"],
                            "default": "arrondissement"}),
        "CategoryKind": query("kind", "Which tree.",
                              {"type": "string", "enum": list(PLURAL), "default": "report"}),
        "PhotoName": {"name": "name", "in": "path", "required": True,
                      "description": "`<sha256>.jpg` (the photo) or `<sha256>.thumb.jpg` (its "
                                     "thumbnail); the SHA-256 of the stored JPEG, lower-case hex.",
                      "schema": string(pattern=r"^[0-9a-f]{64}\.(thumb\.)?jpg$")},
        "QueueStatus": query(
            "status", "Statuses; `open` (the default) stands for " + code_list(REPORT_OPEN)
            + " and `closed` for " + code_list(REPORT_CLOSED) + ".",
            array({"type": "string", "enum": report_status}, default=["open"]), comma_list=True),
        "QueueCategory": query("category", "A report category code (with its sub-categories).",
                               string()),
        "QueuePriority": query("priority", "Only reports of this priority.", schema("Priority")),
        "OlderThanDays": query("older_than_days", "Only reports made more than this many days "
                               "ago.", integer(minimum=0, maximum=OLDER_MAX)),
        "AssignedToMe": query("assigned", "`me`: only the reports assigned to me.",
                              {"type": "string", "enum": ["me"]}),
        "QueueSort": query("sort", f"The order: {code_list(SORTS)}. `priority` puts dangerous "
                           "reports first, then the oldest; `me_too` the most \"me too\" votes "
                           "first; `nearest` needs `lon` and `lat`.",
                           {"type": "string", "enum": list(SORTS), "default": "priority"}),
        "NearLon": query("lon", "Longitude, WGS84 degrees: required with `sort=nearest`, "
                         "ignored otherwise.", {"type": "number", "minimum": -180, "maximum": 180}),
        "NearLat": query("lat", "Latitude, WGS84 degrees: required with `sort=nearest`, "
                         "ignored otherwise.", {"type": "number", "minimum": -90, "maximum": 90}),
        "QueueLimit": query("limit", f"At most this many reports (at most {QUEUE_LIMIT}).",
                            integer(minimum=1, maximum=QUEUE_LIMIT, default=QUEUE_DEFAULT_LIMIT)),
        "UserId": {"name": "user_id", "in": "path", "required": True, "schema": integer()},
        "ArrondissementNumber": {"name": "number", "in": "path", "required": True,
                                 "description": "The arrondissement; any other number is a 404.",
                                 "schema": integer(minimum=1, maximum=20)},
        **stats_parameters(report_status),
        "CsrfToken": {"name": CSRF_HEADER, "in": "header", "required": False,
                      "description": "Required with the session cookie (the page's CSRF token); "
                                     "not needed with a bearer token.",
                      "schema": string()},
    }


def stats_parameters(report_status: list[str]) -> dict:
    """The query parameters of /api/v1/stats/* (app/planner/services.py, app/planner/views.py)."""
    levels = ", ".join(str(m) for m in LEVELS)
    return {
        "StatsKind": query("kind", "Which contributions are counted.",
                           {"type": "string", "enum": list(PLURAL), "default": "report"}),
        "StatsCategory": query("category", "Category codes of the `kind` (with their "
                               "sub-categories); others are `unknown_category`.",
                               array({"type": "string"}), comma_list=True),
        "StatsStatus": query("status", "Statuses of the `kind`; for reports `open` stands for "
                             + code_list(REPORT_OPEN) + " and `closed` for "
                             + code_list(REPORT_CLOSED) + ". Others are `invalid_status`.",
                             array({"type": "string", "enum": sorted(
                                 {*report_status, *PROPOSAL_STATUSES})}), comma_list=True),
        "StatsSince": query("since", "Created at or after: an ISO 8601 date-time (UTC when no "
                            "offset), or a date, which starts at midnight in Paris.",
                            string(examples=["2024-01-01", "2024-01-31T08:00:00+01:00"])),
        "StatsUntil": query("until", "Created before: an ISO 8601 date-time, or a date, which "
                            "includes that whole day in Paris. Must be after `since` (else "
                            "`out_of_range`).", string(examples=["2024-12-31"])),
        "CellM": query("cell_m", "The distance between neighbouring hexagon centres, in metres, "
                       f"snapped to the nearest stored level ({levels}); the answer gives the "
                       "`cell_m_requested` and the `cell_m` used.",
                       {"type": "number", "minimum": MIN_CELL_M, "maximum": MAX_CELL_M,
                        "default": 200}),
        "StatsLevel": query("level", "Arrondissements or quartiers.",
                            {"type": "string", "enum": list(AREA_LEVELS),
                             "default": "arrondissement"}),
        "StatsInterval": query("interval", "Days, ISO weeks (from Monday) or months of the "
                               "Europe/Paris calendar.",
                               {"type": "string", "enum": list(INTERVALS), "default": "week"}),
        "GroupBy": query("group_by", "One group per arrondissement, category (top level) or "
                         "service.", {"type": "string", "enum": list(GROUPS),
                                      "default": "arrondissement"}),
        "StatsFormat": query("format", "`csv`: the items as `text/csv` (an attachment) instead "
                             "of JSON; any other value is ignored.",
                             {"type": "string", "enum": ["csv"]}),
        "EpsM": query("eps_m", "DBSCAN's neighbourhood radius in metres.",
                      integer(minimum=EPS_M[0], maximum=EPS_M[1], default=EPS_M[2])),
        "MinPoints": query("min_points", "DBSCAN's minimum number of contributions around a "
                           f"core one; at least {PUBLIC_MIN_COUNT} for the public.",
                           integer(minimum=MIN_POINTS[0], maximum=MIN_POINTS[1],
                                   default=MIN_POINTS[2])),
        "HotspotLimit": query("limit", "At most this many hotspots, largest first.",
                              integer(minimum=HOTSPOT_LIMIT[0], maximum=HOTSPOT_LIMIT[1],
                                      default=HOTSPOT_LIMIT[2])),
    }


# the filters of GET /reports and /proposals after `bbox`, `category` and the kind's `status`
LIST_FILTERS = ("Arrondissement", "Quartier", "Since", "Until", "SearchText", "SourceId", "Limit",
                "Cursor")


# --- request bodies, responses, headers ------------------------------------------------------


def json_body(name: str, description: str | None = None) -> dict:
    out = {"required": True, "content": content(schema(name))}
    if description:
        out["description"] = description
    return out


def feature_body(input_schema: str) -> dict:
    return {
        "required": True,
        "description": "A GeoJSON Feature as JSON, or `multipart/form-data` with the Feature as "
                       "JSON text in the `feature` form field (not a file) and files in `photos`. "
                       "If the geometry is refused, the 422's top-level `code` is the geometry's "
                       "(" + code_list(GEOMETRY_MESSAGES) + ").",
        "content": {
            JSON: {"schema": schema(input_schema)},
            MULTIPART: {
                "schema": obj({"feature": schema(input_schema), "photos": schema("PhotoFiles")},
                              required=["feature"]),
                "encoding": {"feature": {"contentType": JSON},
                             "photos": {"contentType": PHOTO_TYPES}},
            },
        },
    }


def request_bodies() -> dict:
    return {
        "ReportCreate": feature_body("ReportInput"),
        "ReportUpdate": feature_body("ReportPatch"),
        "ProposalCreate": feature_body("ProposalInput"),
        "ProposalUpdate": feature_body("ProposalPatch"),
        "Register": json_body("RegisterInput"),
        "Credentials": json_body("Credentials"),
        "Vote": json_body("VoteInput"),
        "Comment": json_body("CommentInput"),
        "Transition": {
            "required": True,
            "description": "JSON, or `multipart/form-data` with the transition as JSON text in "
                           "the `transition` form field (not a file) and an optional `photo` "
                           "file (e.g. of the work done; a refused photo is a 422 on `photo`). "
                           "Field codes of a 422: `required`, `invalid_status` (`to`), "
                           "`invalid_value`, `invalid_date` and `date_in_past` (`planned_for`), "
                           "`unknown_report` (`duplicate_of`), `too_long`, `not_a_string`, "
                           "`not_a_number`.",
            "content": {
                JSON: {"schema": schema("TransitionInput")},
                MULTIPART: {
                    "schema": obj({"transition": schema("TransitionInput"),
                                   "photo": schema("PhotoFile")}, required=["transition"]),
                    "encoding": {"transition": {"contentType": JSON},
                                 "photo": {"contentType": PHOTO_TYPES}},
                },
            },
        },
        "Priority": json_body("PriorityInput"),
        "Assignment": json_body("AssignmentInput"),
        "Feedback": json_body("FeedbackInput"),
        "Batch": json_body("BatchInput", "Field codes of a 422: `invalid_value` (`ids`, `to`), "
                           "`required`, `invalid_date` and `date_in_past` (`planned_for`), "
                           "`too_long`."),
        "Scopes": json_body("ScopesInput", "Field codes of a 422: `invalid_value` "
                            "(`scopes[i]`, `scopes[i].service`), `out_of_range` "
                            "(`scopes[i].arrondissement`)."),
    }


def responses() -> dict:
    out = {name: error_response(status) for status, (name, *_rest) in ERRORS.items()}
    out.update({
        "Feature": reply("The contribution.", schema("Feature"), GEOJSON),
        "FeatureCreated": reply("Created.", schema("Feature"), GEOJSON, ("Location",)),
        "FeatureCollection": reply("A page of contributions.", schema("FeatureCollection"),
                                   GEOJSON),
        "NoContent": reply("Done."),
        "VoteTally": reply("The counters and the caller's vote.", schema("VoteTally")),
        "User": reply("The account.", schema("User")),
        "IllegalTransition": illegal_transition_response(),
        "FollowState": reply("Whether I follow it, and how many do.", schema("FollowState")),
        "AtomFeed": reply("An Atom feed (RFC 4287), newest first.",
                          {"type": "string", "contentMediaType": ATOM}, ATOM),
    })
    return out


def headers() -> dict:
    return {
        "Location": {"description": "The new contribution's URL.", "schema": string()},
        "WWW-Authenticate": {"schema": string(examples=['Bearer realm="cartagora"'])},
        "Allow": {"description": "The methods allowed on this path.", "schema": string()},
        "Retry-After": {"description": "Seconds to wait before retrying.", "schema": string(examples=["1"])},
        "Cache-Control": {"schema": string()},
        "ETag": {"schema": string()},
        "Server-Timing": {"description": "The time spent answering (`app;dur=<ms>`).",
                          "schema": string(examples=["app;dur=12.5"])},
        "Vary": {"schema": string(examples=["Authorization, Cookie"])},
    }


# --- paths -----------------------------------------------------------------------------------


def contribution_paths(kind: str) -> dict:
    plural, tag = PLURAL[kind], TAGS[kind]
    title = kind.capitalize()
    status_param = "ReportStatusFilter" if kind == "report" else "ProposalStatusFilter"
    filters = ("Bbox", "Category", status_param, *LIST_FILTERS)
    body = "Report" if kind == "report" else "Proposal"
    item = ("ContributionId",)
    vote_values = "`1` (me too)" if kind == "report" else "`1` (agree) or `-1` (disagree)"
    base = f"/api/v1/{plural}"
    return {
        base: {
            "get": operation(
                f"list{title}s", f"List {plural}", tag, params=filters,
                description=f"Visible {plural}, newest first, {MAX_LIMIT} at most per page; every "
                            "invalid filter is reported in one 422.",
                ok={"200": ref("responses", "FeatureCollection")}, errors=("422",)),
            "post": operation(
                f"create{title}", f"Create a {kind}", tag, body=f"{body}Create", auth="write",
                description=f"The author is the caller; the status starts as "
                            f"`{INITIAL_STATUS[kind]}`.",
                ok={"201": ref("responses", "FeatureCreated")},
                errors=("400", "413", "415", "422")),
        },
        f"{base}/{{contribution_id}}": {
            "get": operation(f"get{title}", f"Read a {kind}", tag, params=item,
                             ok={"200": ref("responses", "Feature")}, errors=("404",)),
            "patch": operation(
                f"update{title}", f"Edit a {kind}", tag, params=item, body=f"{body}Update",
                auth="write", description="The author, or a moderator, agent or planner.",
                ok={"200": ref("responses", "Feature")},
                errors=("400", "403", "404", "413", "415", "422")),
            "delete": operation(
                f"withdraw{title}", f"Withdraw a {kind}", tag, params=item, auth="write",
                description="It leaves the map and the lists (then reads as 404); nothing is "
                            "deleted. The author, or a moderator, agent or planner.",
                ok={"204": ref("responses", "NoContent")}, errors=("403", "404")),
        },
        f"{base}/{{contribution_id}}/vote": {
            "put": operation(
                f"vote{title}", f"Vote on a {kind}", tag, params=item, body="Vote", auth="write",
                description=f"One vote per person, set idempotently: {vote_values}.",
                ok={"200": ref("responses", "VoteTally")},
                errors=("400", "404", "413", "415", "422")),
            "delete": operation(
                f"unvote{title}", f"Withdraw my vote on a {kind}", tag, params=item, auth="write",
                description="Idempotent.", ok={"200": ref("responses", "VoteTally")},
                errors=("404",)),
        },
        f"{base}/{{contribution_id}}/comments": {
            "get": operation(
                f"list{title}Comments", f"List comments on a {kind}", tag,
                params=(*item, "Limit", "After"), description="Oldest first, plain text.",
                ok={"200": reply("A page of comments.", schema("CommentPage"))},
                errors=("404", "422")),
            "post": operation(
                f"comment{title}", f"Comment on a {kind}", tag, params=item, body="Comment",
                auth="write", ok={"201": reply("Created.", schema("Comment"))},
                errors=("400", "404", "413", "415", "422")),
        },
        f"{base}/{{contribution_id}}/follow": {
            "put": operation(
                f"follow{title}", f"Follow a {kind}", tag, params=item, auth="write",
                description="Idempotent. The followers of a report are e-mailed its status "
                            "changes and may confirm or contest its fix.",
                ok={"200": ref("responses", "FollowState")}, errors=("404",)),
            "delete": operation(
                f"unfollow{title}", f"Stop following a {kind}", tag, params=item, auth="write",
                description="Idempotent.", ok={"200": ref("responses", "FollowState")},
                errors=("404",)),
        },
    }


def field_paths() -> dict:
    report, item = TAGS["report"], ("ContributionId",)
    base = "/api/v1/reports/{contribution_id}"
    body_errors = ("400", "403", "404", "413", "415", "422")
    return {
        f"{base}/transitions": {"post": operation(
            "transitionReport", "Change a report's status", FIELD, params=item, body="Transition",
            auth="write",
            description="Agents on reports in their scope (else `out_of_scope`), supervisors and "
                        "admins. The step is added to the history and e-mailed to the reporter "
                        "and the followers (not to whoever acted).",
            ok={"201": reply("Changed; the whole history as staff see it.",
                             schema("TransitionResult"))},
            errors=body_errors, problems={"409": "IllegalTransition"})},
        f"{base}/history": {"get": operation(
            "getReportHistory", "A report's status history", report, params=item,
            auth="optional",
            description="Public. Signed-in staff also get the internal notes and who acted.",
            ok={"200": reply("The history, oldest first.", schema("ReportHistory"))},
            errors=("404",))},
        f"{base}/priority": {"put": operation(
            "setReportPriority", "Set a report's priority", FIELD, params=item, body="Priority",
            auth="write", description="Agents on reports in their scope, supervisors and admins.",
            ok={"200": reply("The priority.", schema("PriorityResult"))}, errors=body_errors)},
        f"{base}/assignment": {"put": operation(
            "assignReport", "Assign a report to an agent", FIELD, params=item, body="Assignment",
            auth="write", description="Supervisors and admins.",
            ok={"200": reply("The assignment.", schema("AssignmentResult"))},
            errors=body_errors)},
        f"{base}/feedback": {"post": operation(
            "reportFeedback", "Confirm or contest a fix", report, params=item, body="Feedback",
            auth="write",
            description="The reporter or a follower (else `not_reporter_or_follower`), on a "
                        f"resolved report (else `not_resolved`), within {REOPEN_WINDOW_DAYS} "
                        "days (else `reopen_window_over`). `fixed` is recorded; `still_there` "
                        "reopens the report.",
            ok={"201": reply("Recorded.", schema("FeedbackResult"))},
            errors=(*body_errors, "409"))},
        "/api/v1/agent/queue": {"get": operation(
            "agentQueue", "My queue of reports", FIELD,
            params=("QueueStatus", "QueueCategory", "Arrondissement", "QueuePriority",
                    "OlderThanDays", "AssignedToMe", "QueueSort", "NearLon", "NearLat",
                    "QueueLimit"),
            auth="read",
            description="Agents and supervisors: the reports in my scope (a supervisor's is "
                        "everything), open ones by default, dangerous first.",
            ok={"200": reply("The reports, with counts per status.", schema("AgentQueue"),
                             GEOJSON)},
            errors=("403", "422"))},
        "/api/v1/agent/batch": {"post": operation(
            "agentBatch", "Acknowledge or schedule several reports", FIELD, body="Batch",
            auth="write",
            description="All or nothing: one report out of scope, missing or in a status that "
                        "cannot go there, and none is changed.",
            ok={"200": reply("Every report changed.", schema("BatchResult"))},
            errors=body_errors, problems={"409": "IllegalTransition"})},
        "/api/v1/agents/{user_id}/scopes": {"put": operation(
            "setAgentScopes", "Set an agent's scopes", FIELD, params=("UserId",), body="Scopes",
            auth="write",
            description="Admins. Replaces the services and arrondissements the user may act on "
                        "as an agent, and gives them the agent role.",
            ok={"200": reply("The scopes.", schema("AgentScopes"))}, errors=body_errors)},
        "/feeds/reports/{contribution_id}.atom": {"get": operation(
            "reportFeed", "A report's status changes (Atom)", FEEDS, params=item, api=False,
            localised=False, description="Its last 100 public status changes.",
            ok={"200": ref("responses", "AtomFeed")}, errors=("404",))},
        "/feeds/arrondissements/{number}.atom": {"get": operation(
            "arrondissementFeed", "An arrondissement's news (Atom)", FEEDS,
            params=("ArrondissementNumber",), api=False, localised=False,
            description="New reports and proposals and status changes there, the last 50.",
            ok={"200": ref("responses", "AtomFeed")}, errors=("404",))},
    }


def stats_reply(description: str, schema_name: str, media: str, csv: str | None) -> dict:
    """A statistic's 200: JSON (or GeoJSON), and CSV with `format=csv` when `csv` says what."""
    out = reply(description, schema(schema_name), media,
                ("Cache-Control", "Server-Timing", "Vary"))
    if csv:
        out["content"][CSV] = {"schema": schema("StatsCsv"),
                               "example": csv.replace(", ", ",") + "\n"}
        out["description"] += (" With `format=csv`, a CSV attachment (columns: "
                               f"{csv}).")
    return out


def stats_paths() -> dict:
    shared = ("StatsKind", "StatsCategory", "StatsStatus", "StatsSince", "StatsUntil",
              "Arrondissement", "Quartier", "Bbox")
    public = (f"Public: for callers who are not planners or staff, counts below "
              f"{PUBLIC_MIN_COUNT} are left out (`public` is true); planners and staff see "
              "everything. Every invalid filter is reported in one 422. ")

    def op(op_id, summary, params, description, ok):
        return {"get": operation(op_id, summary, STATS, params=(*shared, *params),
                                 auth="optional", description=public + description,
                                 ok={"200": ok}, errors=("422",))}

    return {
        "/api/v1/stats/hexbins": op(
            "statsHexbins", "Counts per hexagon", ("CellM", "StatsFormat"),
            "Hexagons of a Lambert-93 grid (served in WGS84) with the number of matching "
            "contributions; empty ones are not listed.",
            stats_reply("The hexagons.", "HexbinCollection", GEOJSON,
                        "cell, i, j, cell_m, count")),
        "/api/v1/stats/areas": op(
            "statsAreas", "Counts per arrondissement or quartier", ("StatsLevel", "StatsFormat"),
            "Count, density, share of the total and change against the previous period of the "
            "same length, for every area.",
            stats_reply("The areas.", "AreaStats", JSON,
                        "code, name, count, density_km2, share, previous_count, change, "
                        "change_pct")),
        "/api/v1/stats/timeseries": op(
            "statsTimeseries", "Counts over time", ("StatsInterval", "StatsFormat"),
            "Counts per day, ISO week or month of the Europe/Paris calendar.",
            stats_reply("The series.", "Timeseries", JSON, "period, count")),
        "/api/v1/stats/hotspots": op(
            "statsHotspots", "Density hotspots", ("EpsM", "MinPoints", "HotspotLimit"),
            "Clusters found by DBSCAN (in metres, Lambert-93) over at most "
            f"{MAX_HOTSPOT_DAYS} days (else `out_of_range` on `since`); without `until`, up to "
            "the end of the day of the latest contribution of the kind, and without `since`, "
            "the 30 days before `until`. The `filters` echo gives the period used. No CSV.",
            stats_reply("The hotspots.", "HotspotCollection", GEOJSON, None)),
        "/api/v1/stats/resolution": op(
            "statsResolution", "Time to acknowledge and to resolve", ("GroupBy", "StatsFormat"),
            "Per group: median and 90th percentile of the hours to acknowledge and to resolve, "
            "share resolved, reopen rate.",
            stats_reply("The groups.", "ResolutionStats", JSON,
                        "code, label, count, ack_median_h, ack_p90_h, resolve_median_h, "
                        "resolve_p90_h, share_resolved, reopen_rate")),
    }


def paths() -> dict:
    acc, ref_tag, service = "Accounts", "Reference data", "Service"
    out = {
        "/api/v1/auth/register": {"post": operation(
            "register", "Create an account", acc, body="Register",
            description="A resident account; sign in with `POST /api/v1/auth/token`.",
            ok={"201": reply("Created.", schema("User"))},
            errors=("400", "409", "413", "415", "422"))},
        "/api/v1/auth/token": {"post": operation(
            "createToken", "Get a bearer token", acc, body="Credentials",
            description="Exchange e-mail and password for a bearer token. A wrong pair is a 401 "
                        "`invalid_credentials`.",
            ok={"201": reply("A new token.", schema("Token"))},
            errors=("400", "401", "413", "415", "422"))},
        "/api/v1/auth/logout": {"post": operation(
            "logout", "Revoke my token", acc, auth="write",
            description="Revokes the bearer token sent with this request.",
            ok={"204": ref("responses", "NoContent")})},
        "/api/v1/me": {"get": operation("getMe", "Who am I", acc, auth="read",
                                        ok={"200": ref("responses", "User")})},
    }
    for kind in PLURAL:
        out.update(contribution_paths(kind))
    out.update(field_paths())
    out.update(stats_paths())
    out["/api/v1/reports/nearby"] = {"get": operation(
        "nearbyReports", "Find possible duplicates", TAGS["report"],
        params=("Lon", "Lat", "NearbyCategory", "RadiusM", "NearbyLimit"),
        description="Open reports of the category within `radius_m`, nearest first.",
        ok={"200": reply("Nearby open reports.", schema("NearbyCollection"), GEOJSON)},
        errors=("422",))}
    map_filters = ("MapKind", "MapCategory", "MapStatus", "Bbox", "Arrondissement", "Quartier",
                   "Since", "Until", "SearchText", "SourceId")
    out.update({
        "/api/v1/map/clusters": {"get": operation(
            "mapClusters", "Map clusters", "Map", params=("MapZoom", *map_filters),
            description="Reports and proposals together, counted on a square metric grid sized "
                        "by the zoom and anchored to the projection (clusters stay put while the "
                        "map pans); a cell with one contribution is that contribution.",
            ok={"200": reply("The view's clusters.", schema("MapClusters"), GEOJSON)},
            errors=("422",))},
        "/api/v1/map/items": {"get": operation(
            "mapItems", "List beside the map", "Map", params=(*map_filters, "Limit", "Cursor"),
            description="The same filters as the clusters, newest first, paginated.",
            ok={"200": reply("A page of contributions.", schema("MapItems"), GEOJSON)},
            errors=("422",))},
        "/api/v1/map/areas": {"get": operation(
            "mapOutlines", "Area outlines for the map", "Map", params=("IfNoneMatch",),
            localised=False,
            description="Arrondissements and quartiers, simplified to 3 m for display.",
            ok={"200": reply("The outlines.", schema("MapOutlines"), GEOJSON,
                             ("Cache-Control", "ETag")),
                "304": reply("Unchanged since the `ETag` sent.")})},
        "/api/v1/categories": {"get": operation(
            "listCategories", "Category tree", ref_tag, params=("CategoryKind",),
            description="Two levels, with labels in French and English and the service in "
                        "charge.",
            ok={"200": reply("The tree.", schema("CategoryTree"))}, errors=("422",))},
        "/api/v1/areas": {"get": operation(
            "listAreas", "Arrondissements or quartiers", ref_tag, params=("AreaLevel",),
            description="The reference polygons (cacheable for a day).",
            ok={"200": reply("The polygons.", schema("AreaCollection"), GEOJSON,
                             ("Cache-Control",))}, errors=("422",))},
        "/api/v1/geocode": {"get": operation(
            "geocode", "Search addresses", ref_tag, params=("GeocodeQuery", "GeocodeLimit"),
            description="Paris addresses (BAN) best matching the text; an exact house number "
                        "comes first.",
            ok={"200": reply("Matching addresses.", schema("AddressCollection"))},
            errors=("422",))},
        "/api/v1/reverse": {"get": operation(
            "reverseGeocode", "Nearest address", ref_tag, params=("Lon", "Lat"),
            description="The nearest address within 100 m, or no feature.",
            ok={"200": reply("Zero or one address.", schema("AddressCollection"))},
            errors=("422",))},
        "/api/v1/openapi.json": {"get": operation(
            "getOpenApi", "This document", service, localised=False,
            ok={"200": reply("OpenAPI 3.1.", {"type": "object"})})},
        "/api/v1/docs": {"get": operation(
            "getDocs", "API documentation page", service, localised=False,
            ok={"200": reply("Every operation with its summary.", string(), "text/html")})},
        "/healthz": {"get": operation(
            "healthz", "Liveness and database reachability", service, api=False,
            localised=False,
            ok={"200": reply("Up, database reachable.", schema("Health")),
                "503": reply("Up, database unreachable.", schema("Health"))})},
        "/media/photos/{name}": {"get": operation(
            "getPhoto", "A contribution's photo", service, params=("PhotoName",), api=False,
            localised=False,
            description="Immutable (cached a year). An unknown photo is a 404 (an HTML page "
                        "unless JSON is preferred).",
            ok={"200": reply("The JPEG.", {"type": "string",
                                           "contentMediaType": "image/jpeg"}, "image/jpeg")},
            errors=("404",))},
    })
    return out


# --- the document ----------------------------------------------------------------------------

DESCRIPTION = """\
The JSON API of Cartagora, the participatory map of Paris: incident reports and proposals on the
map, votes, comments, and the reference data they use (categories, areas, addresses).

- Geometry is GeoJSON (RFC 7946) in WGS84 longitude/latitude; contributions are served as
  `application/geo+json` Features and FeatureCollections, paginated with a `next` link.
- Write operations need `Authorization: Bearer <token>` from `POST /api/v1/auth/token`, or the
  web pages' session cookie with the `{csrf}` header.
- Errors are `application/problem+json` (RFC 9457) with a stable `code` and, for invalid input,
  `errors[]` of `{{field, code, detail}}`. A method not documented on a path answers 405 (see the
  `MethodNotAllowed` response); an unknown path under /api/ answers 404.
- Messages and category labels are in French unless `lang=en` or `Accept-Language` asks for
  English.
- The city's staff move reports through the workflow (the "Field work" operations; an agent only
  within their services and arrondissements); residents follow contributions and confirm or
  contest fixes; Atom feeds under /feeds/ carry the public status changes.
"""


def openapi_document() -> dict:
    """The whole document, built fresh (a few hundred small dicts)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Cartagora API",
            "version": "1",
            "description": DESCRIPTION.format(csrf=CSRF_HEADER),
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "tags": [
            {"name": "Accounts", "description": "Sign up, sign in, sign out."},
            {"name": "Reports", "description": "Incident reports (points)."},
            {"name": "Proposals", "description": "Proposals (points, lines or polygons)."},
            {"name": FIELD, "description": "The city's handling of reports: status changes, "
                                           "priority, assignment, the agents' queue, scopes."},
            {"name": FEEDS, "description": "Atom feeds of status changes and new contributions."},
            {"name": "Map", "description": "The resident map's data: clusters, list, outlines."},
            {"name": STATS, "description": "The planners' statistics: hexagons, areas, time "
                                           "series, hotspots, resolution times."},
            {"name": "Reference data", "description": "Categories, areas, addresses."},
            {"name": "Service", "description": "Health, this document, photo files."},
        ],
        "paths": paths(),
        "components": {
            "schemas": {
                **geometry_schemas(), **contribution_schemas(), **reference_schemas(),
                **map_schemas(), **account_schemas(), **engagement_schemas(),
                **field_schemas(), **stats_schemas(), **service_schemas(),
            },
            "parameters": parameters(),
            "requestBodies": request_bodies(),
            "responses": responses(),
            "headers": headers(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "An opaque token from `POST /api/v1/auth/token`; "
                                          "revoke it with `POST /api/v1/auth/logout`. It wins "
                                          "over the session cookie."},
                "session": {"type": "apiKey", "in": "cookie",
                            "name": config("SESSION_COOKIE_NAME"),
                            "description": "The web pages' signed session cookie. Writes also "
                                           f"need the `{CSRF_HEADER}` header (or a `csrf_token` "
                                           "form field), else 403."},
            },
        },
    }
