"""/open-data/ (the exports: a page, JSON, the files with conditional GET) and /catalog.jsonld.

Nothing here reads the database: the last export's manifest says what there is."""

from __future__ import annotations

import json
from datetime import datetime

from flask import Blueprint, Response, current_app, render_template, request, send_file, url_for
from flask_babel import format_datetime, format_decimal

from app.errors import NotFound
from app.messages import current_language
from app.opendata import services

bp = Blueprint("opendata", __name__)
JSON, HTML, JSON_LD = "application/json", "text/html", "application/ld+json"
MAX_AGE = 3600  # seconds: the files change once a night


def wants_json() -> bool:
    if request.args.get("f") in ("json", "html"):
        return request.args["f"] == "json"
    return request.accept_mimetypes.best_match((HTML, JSON)) == JSON


def _manifest() -> dict | None:
    return services.read_manifest(current_app.config["OPEN_DATA_DIR"])


@bp.get("/open-data/")
def index():
    """The exports: an accessible page, or (?f=json, Accept: application/json) the listing."""
    manifest = _manifest()
    listing = services.listing(manifest, url_for("opendata.index", _external=True),
                               url_for("opendata.catalog", _external=True))
    if wants_json():
        return Response(json.dumps(listing, ensure_ascii=False), mimetype=JSON)
    lang = current_language()
    for f in listing["files"]:
        f["size"] = format_decimal(f["bytes"] / 1e6, format="#,##0.0")
        f["rows_shown"] = format_decimal(f["rows"])
    generated = listing["generated_at"]
    return render_template(
        "opendata/index.html", listing=listing, lang=lang, datasets=services.DATASETS,
        generated=format_datetime(datetime.fromisoformat(generated)) if generated else None)


@bp.get("/open-data/<name>")
def download(name: str):
    """One published file, with Last-Modified and its SHA-256 as ETag (304 when unchanged)."""
    out_dir = current_app.config["OPEN_DATA_DIR"]
    found = services.published_file(out_dir, _manifest(), name)
    if found is None:
        raise NotFound()
    path, entry = found
    # the manifest's checksum, unless the file is not the one it describes (mid-publish)
    etag = entry["sha256"] if entry and path.stat().st_size == entry["bytes"] else True
    media = entry["media_type"] if entry else JSON
    return send_file(path, mimetype=media, conditional=True, etag=etag, max_age=MAX_AGE,
                     download_name=name)


@bp.get("/catalog.jsonld")
def catalog():
    """The DCAT-AP 2 catalogue (JSON-LD) of the exports and the APIs."""
    manifest = _manifest()
    body = services.catalogue(manifest, current_app.config["PUBLIC_URL"])
    response = Response(json.dumps(body, ensure_ascii=False, indent=1), mimetype=JSON_LD)
    if manifest:
        response.last_modified = datetime.fromisoformat(manifest["generated_at"])
    response.add_etag()
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE
    return response.make_conditional(request)
