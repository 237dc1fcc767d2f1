"""The OpenAPI 3.0 document of /ogc (the standard's `oas30` class), generated: each path's
parameters are read from its declared query model (app/ogc/schemas.py), so the document cannot
drift from what the endpoints validate. GDAL reads it: a query parameter named like a feature
property lets it send an attribute filter to the server instead of filtering every page itself.

The paths are the collections' own (`/collections/reports/items`…), relative to the server
URL `…/ogc`, as clients look them up.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

from app.ogc import schemas
from app.ogc.collections import COLLECTIONS

OPENAPI_30 = "application/vnd.oai.openapi+json;version=3.0"
GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
SCHEMA_JSON = "application/schema+json"
PROBLEM = "application/problem+json"


def _oas30(node: Any, defs: dict) -> Any:
    """A pydantic (JSON Schema 2020-12) schema as OpenAPI 3.0's subset: `$ref`s inlined, null
    variants dropped (absent is how a query says null), `const` as an enum, one example."""
    if isinstance(node, list):
        return [_oas30(n, defs) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _oas30(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    out: dict = {}
    for key, value in node.items():
        if key in ("title", "prefixItems", "$defs") or (key == "default" and value is None):
            continue
        if key == "anyOf":
            variants = [v for v in value if v.get("type") != "null"]
            if len(variants) == 1:
                out.update(_oas30(variants[0], defs))
                continue
            value = variants
        if key == "const":
            key, value = "enum", [value]
        if key == "examples":
            key, value = "example", value[0]
        out[key] = _oas30(value, defs)
    return out


def parameters(model: type[BaseModel]) -> list[dict]:
    schema = model.model_json_schema(by_alias=True, mode="validation")
    defs = schema.get("$defs", {})
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema["properties"].items():
        param_schema = _oas30(copy.deepcopy(prop), defs)
        description = param_schema.pop("description", None)
        param = {"name": name, "in": "query", "required": name in required, "schema": param_schema}
        if description:
            param["description"] = description
        if param_schema.get("type") == "array":
            param.update(style="form", explode=False)
            param_schema.pop("style", None)
            param_schema.pop("explode", None)
        out.append(param)
    return out


def _responses(media: str, description: str, *, found: bool = False) -> dict:
    problem = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    out = {"200": {"description": description,
                   "content": {media: {"schema": {"type": "object"}}, HTML: {"schema": {"type": "string"}}}},
           "400": {"description": "A parameter is invalid.", "content": problem}}
    if found:
        out["404"] = {"description": "No such collection or feature.", "content": problem}
    return out


def _get(summary: str, model: type[BaseModel], media: str, description: str, *,
         found: bool = False, path_params: tuple[str, ...] = ()) -> dict:
    params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in path_params]
    return {"get": {"summary": summary, "parameters": params + parameters(model),
                    "responses": _responses(media, description, found=found)}}


def openapi_document(server_url: str) -> dict:
    """The document, for the API at `server_url` (…/ogc)."""
    paths = {
        "/": _get("Landing page", schemas.OgcQuery, JSON, "Links to the API's resources."),
        "/api": {"get": {"summary": "This document", "responses": {"200": {
            "description": "The OpenAPI 3.0 document.", "content": {OPENAPI_30: {"schema": {"type": "object"}}}}}}},
        "/conformance": _get("Conformance classes", schemas.OgcQuery, JSON, "The classes implemented."),
        "/collections": _get("Collections", schemas.OgcQuery, JSON, "The feature collections."),
    }
    for cid, collection in COLLECTIONS.items():
        base = f"/collections/{cid}"
        paths[base] = _get(f"The {cid} collection", schemas.OgcQuery, JSON, "Its metadata.", found=True)
        paths[f"{base}/queryables"] = _get(f"What a filter on {cid} may name", schemas.OgcQuery,
                                           SCHEMA_JSON, "A JSON Schema.", found=True)
        paths[f"{base}/items"] = _get(f"Features of {cid}", collection.query, GEOJSON,
                                      "A page of features; its `next` link gives the next page.",
                                      found=True)
        paths[f"{base}/items/{{featureId}}"] = _get(f"One feature of {cid}", schemas.ItemQuery, GEOJSON,
                                                    "The feature.", found=True, path_params=("featureId",))
    return {
        "openapi": "3.0.3",
        "info": {"title": "Cartagora – OGC API – Features", "version": "1.0",
                 "description": "The public reports, proposals, volunteer missions and the areas of Paris, read by GIS "
                                "tools (QGIS, GDAL/OGR, owslib).",
                 "license": {"name": "AGPL-3.0-or-later"}},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {"schemas": {"Problem": {
            "type": "object", "description": "RFC 9457 problem details.",
            "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                           "status": {"type": "integer"}, "code": {"type": "string"},
                           "detail": {"type": "string"},
                           "errors": {"type": "array", "items": {"type": "object"}}}}}},
    }
