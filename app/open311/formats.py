"""GeoReport v2's two formats: XML (mandatory, and the only one FixMyStreet reads) and JSON
(the "Spark convention": a list resource is an array at the root, even for one item).

XML: a UTF-8 declaration, no namespace, one element per member; a list member repeats its
item element (`<keywords>` is a comma-separated string, as the spec has it); None is an
empty element. Errors are the spec's list of {code, description}, with its HTTP statuses:
404 unknown resource, 403 missing or wrong `api_key`, 400 everything else.
"""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from flask import Response, request

XML_TYPE = "text/xml; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"

# list resources: (root element, item element)
LISTS = {
    "services": ("services", "service"),
    "requests": ("service_requests", "request"),
    "updates": ("service_request_updates", "request_update"),
    "errors": ("errors", "error"),
}


def _append(parent: ET.Element, name: str, value) -> None:
    element = ET.SubElement(parent, name)
    if value is None:
        return
    if isinstance(value, dict):
        for key, inner in value.items():
            _append(element, key, inner)
    elif isinstance(value, list):
        singular = name[:-1] if name.endswith("s") else "item"
        for inner in value:
            _append(element, singular, inner)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = str(value)


def xml_document(root: str, item: str | None, content) -> bytes:
    """`content`: a list of dicts (each an `item`) or one dict (the root's members)."""
    top = ET.Element(root)
    if isinstance(content, list):
        for entry in content:
            _append(top, item, entry)
    else:
        for key, value in content.items():
            _append(top, key, value)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(top, encoding="utf-8")


def render(fmt: str, resource: str | None, content, status: int = 200, root: str | None = None) -> Response:
    """A list resource (`resource` in LISTS) or one document (`root`) in `fmt`."""
    if fmt == "json":
        return Response(json.dumps(content, ensure_ascii=False, separators=(",", ":")), status=status,
                        content_type=JSON_TYPE)
    name, item = LISTS[resource] if resource else (root, None)
    return Response(xml_document(name, item, content), status=status, content_type=XML_TYPE)


def requested_format() -> str:
    """The format the path's suffix asks for (XML when it says neither)."""
    return "json" if request.path.endswith(".json") else "xml"


def open311_status(status: int) -> int:
    if status in (401, 403):
        return 403
    if status == 404 or status == 429 or status >= 500:
        return status
    return 400


def errors_response(err) -> Response:
    """An AppError as the spec's error list: one entry per invalid field (its code, and the
    field named in the description), else one for the whole request."""
    from app.messages import message

    entries = [{"code": e.code, "description": f"{e.field}: {e.to_dict()['detail']}"}
               for e in getattr(err, "errors", None) or []]
    if not entries:
        entries = [{"code": err.code, "description": message(err.code, err.params)}]
    return render(requested_format(), "errors", entries, status=open311_status(err.status))
