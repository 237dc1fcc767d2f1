"""Service endpoints: /healthz, the OpenAPI document and its interactive page."""

from typing import Literal

from flask import Blueprint, render_template
from sqlalchemy import text

from app.api.contract import HTML, Model, Reply, operation
from app.api.document import openapi_document
from app.db import db

bp = Blueprint("api", __name__)
TAGS = ("Service",)


class Health(Model):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unreachable"]


@operation(bp, "GET", "/healthz", tags=TAGS,
           replies={200: Reply("Up, database reachable.", Health),
                    503: Reply("Up, database unreachable.", Health)})
def healthz():
    """Liveness and database reachability."""
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception:  # the point of this endpoint is to say so, not to fail
        database = "unreachable"
    status = 200 if database == "ok" else 503
    return {"status": "ok" if status == 200 else "degraded", "database": database}, status


@operation(bp, "GET", "/api/v1/openapi.json", tags=TAGS,
           replies={200: Reply("This document (OpenAPI 3.1).", {"type": "object"})})
def openapi():
    """The OpenAPI document, generated from the endpoints' declarations."""
    return openapi_document()


@operation(bp, "GET", "/api/v1/docs", tags=TAGS,
           replies={200: Reply("An HTML page.", {"type": "string"}, HTML)})
def docs():
    """The interactive documentation (Swagger UI)."""
    return render_template("api_docs.html")
