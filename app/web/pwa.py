"""The installable web app: its manifest, its service worker and the page shown offline.

The service worker (static/js/sw.js) is served from the root so that its scope is the whole
site. Its cache is named after a hash of the files it keeps (the app shell), so a deploy that
changes any of them installs a new worker that replaces the old cache; the pages' scripts
register it with that hash in its URL (base.html, static/js/pwa.js).
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from flask import Blueprint, Response, current_app, render_template, url_for
from flask_babel import gettext as _

from app.web.i18n import current_lang

bp = Blueprint("pwa", __name__)

THEME_COLOR = "#1d4e89"  # --brand in static/css/app.css: the header's colour
BACKGROUND_COLOR = "#ffffff"  # --bg
# the app shell: what a phone needs to show the map, the contribution form and the agent
# pages without the network (Leaflet's, not the planner's or the API documentation's libraries)
SHELL_DIRS = ("css", "js", "img", "vendor/leaflet", "vendor/leaflet.markercluster")
SHELL_SUFFIXES = (".css", ".js", ".svg", ".png")
ICONS = ((192, "img/icon-192.png", "any"), (512, "img/icon-512.png", "any"),
         (192, "img/icon-maskable-192.png", "maskable"), (512, "img/icon-maskable-512.png", "maskable"))
OFFLINE_PATH = "/hors-ligne"


def shell_files(static: Path) -> list[Path]:
    """The static files the service worker keeps, sorted (source maps and tests left out)."""
    files = {path for folder in SHELL_DIRS for path in (static / folder).rglob("*")
             if path.is_file() and path.suffix in SHELL_SUFFIXES and not path.name.endswith(".map")}
    return sorted(files)


@functools.lru_cache(maxsize=4)
def shell(static_folder: str) -> tuple[str, tuple[str, ...]]:
    """(version, URLs) of the app shell, computed once per process: the version is the hash
    of the shell's files and of the worker itself."""
    static = Path(static_folder)
    files = shell_files(static)
    digest = hashlib.sha256()
    for path in [*files, static / "js" / "sw.js"]:
        digest.update(str(path.relative_to(static)).encode())
        digest.update(path.read_bytes())
    urls = tuple(f"/static/{path.relative_to(static).as_posix()}" for path in files
                 if path.name != "sw.js")
    return digest.hexdigest()[:12], urls


def current_shell() -> tuple[str, tuple[str, ...]]:
    if current_app.debug:  # files edited while the dev server runs: a new worker at once
        shell.cache_clear()
    return shell(current_app.static_folder)


def shell_version() -> str:
    return current_shell()[0]


@bp.app_context_processor
def pwa_context():
    return {"pwa_version": shell_version, "theme_color": THEME_COLOR}


@bp.get("/manifest.webmanifest")
def manifest():
    """The web app manifest (W3C), in the page's language."""
    body = {
        "name": "Cartagora",
        "short_name": "Cartagora",
        "description": _("Report a problem in the street or make a proposal for your neighbourhood, "
                         "on the map of Paris."),
        "lang": current_lang(),
        "start_url": "/",
        "scope": "/",
        "id": "/",
        "display": "standalone",
        "theme_color": THEME_COLOR,
        "background_color": BACKGROUND_COLOR,
        "icons": [{"src": url_for("static", filename=path), "sizes": f"{size}x{size}",
                   "type": "image/png", "purpose": purpose} for size, path, purpose in ICONS],
    }
    response = Response(json.dumps(body, ensure_ascii=False), mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/sw.js")
def service_worker():
    """The service worker, from the root (its scope is the site), with the shell's version and
    list ahead of static/js/sw.js; never cached by HTTP caches, so a deploy is seen at once."""
    version, urls = current_shell()
    head = (f"const VERSION = {json.dumps(version)};\n"
            f"const SHELL = {json.dumps([*urls, OFFLINE_PATH + '?lang=fr', OFFLINE_PATH + '?lang=en'])};\n")
    source = (Path(current_app.static_folder) / "js" / "sw.js").read_text(encoding="utf-8")
    response = Response(head + source, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.get(OFFLINE_PATH)
def offline():
    """The page the service worker shows for a page it has no copy of, when offline. Kept in
    its cache for everyone: rendered as signed out."""
    return render_template("offline.html", user=None)
