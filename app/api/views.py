"""Service endpoints: /healthz, the OpenAPI document and its human page."""

from flask import Blueprint, Response, render_template_string
from sqlalchemy import text

from app.api.openapi import openapi_document
from app.db import db

bp = Blueprint("api", __name__)


@bp.get("/healthz")
def healthz():
    """Liveness and database reachability."""
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception:  # the point of this endpoint is to say so, not to fail
        database = "unreachable"
    status = 200 if database == "ok" else 503
    return {"status": "ok" if status == 200 else "degraded", "database": database}, status


@bp.get("/api/v1/openapi.json")
def openapi():
    return openapi_document()


DOCS = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Cartagora API</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
code{background:#f3f3f3;padding:0 .2em}</style></head><body>
<h1>Cartagora API v1</h1><p>Machine-readable: <a href="openapi.json">openapi.json</a>.
Errors are <code>application/problem+json</code> (RFC 9457).</p>
<table>{% for path, ops in doc.paths.items() %}{% for method, op in ops.items() %}
<tr><td><code>{{ method|upper }}</code></td><td><code>{{ path }}</code></td><td>{{ op.summary }}</td></tr>
{% endfor %}{% endfor %}</table></body></html>"""


@bp.get("/api/v1/docs")
def docs():
    return Response(render_template_string(DOCS, doc=openapi_document()), mimetype="text/html")
