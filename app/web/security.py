"""CSRF tokens for the pages' forms and API calls, and the security headers (CSP)."""

from __future__ import annotations

import functools
import secrets
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, request, session
from flask.sessions import SecureCookieSessionInterface

from app.accounts.auth import CSRF_SESSION_KEY, csrf_ok


def csrf_token() -> str:
    """The session's CSRF token, created on first use (forms and the meta tag read it)."""
    if CSRF_SESSION_KEY not in session:
        session[CSRF_SESSION_KEY] = secrets.token_urlsafe(32)
    return session[CSRF_SESSION_KEY]


def check_csrf() -> None:
    """Refuse (400) a page form posted without the session's token."""
    if not csrf_ok():
        abort(400)


def protect_forms(bp) -> None:
    """Every form a blueprint's pages post must carry the session's CSRF token."""

    @bp.before_request
    def _check():
        if request.method == "POST":
            check_csrf()


def tile_source(url: str) -> str | None:
    """The CSP source of the basemap's tiles: scheme://host, `{s}` subdomains as a wildcard."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None  # served by the app itself
    host = parts.netloc.replace("{s}", "*")
    return f"{parts.scheme}://{host}"


@functools.lru_cache(maxsize=8)
def content_security_policy(tile_url: str, *, inline_styles: bool = False) -> str:
    img = ["'self'", "data:", "blob:"]
    tiles = tile_source(tile_url)
    if tiles:
        img.append(tiles)
    style = "'self' 'unsafe-inline'" if inline_styles else "'self'"
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        f"style-src {style}",
        f"img-src {' '.join(img)}",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


# Pages of other blueprints that still carry an inline <style> (scripts are never inline).
INLINE_STYLE_ENDPOINTS = frozenset({"api.docs"})


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session. A request without the cookie (every API client) gets
    an empty session without building the signing serializer, ~2% of a bbox page's CPU."""

    def open_session(self, app, request):
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def init_security(app: Flask) -> None:
    app.session_interface = CookieSessionInterface()
    app.extensions["content_security_policy"] = content_security_policy  # documents served inline
    app.jinja_env.globals["csrf_token"] = csrf_token

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", content_security_policy(
            current_app.config["TILE_URL"],
            inline_styles=request.endpoint in INLINE_STYLE_ENDPOINTS,
        ))
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Permissions-Policy", "geolocation=(self), camera=(), microphone=()")
        if current_app.config["HTTPS"]:  # served over HTTPS only: browsers never try plain HTTP
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
