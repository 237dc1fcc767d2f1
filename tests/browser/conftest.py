"""Browser tests: the app served by a real HTTP server, driven by Debian's Chromium (Playwright).

The per-test rolled-back connection of tests/conftest.py cannot be shared with a server thread,
so these tests run the session's app (already migrated and loaded) with real commits, on their
own accounts (e-mail @browser.test) and unique titles; everything they created is deleted at
the end of the session so that other tests see the data as it was.

Every page is watched: a console error, an uncaught exception or a request to any host other
than the app fails the test. Basemap tiles go to a host of their own that is stubbed here (or
made unreachable, to check the map works without them).
"""

from __future__ import annotations

import io
import itertools
import os
import re
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import pyotp
import pytest
import requests
from PIL import Image, ImageDraw
from sqlalchemy import text
from werkzeug.serving import WSGIRequestHandler, make_server

from app.db import db

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
# the screenshots the tests take to be looked at (tests/artifacts unless CARTAGORA_SHOTS says)
SHOTS = Path(os.environ.get("CARTAGORA_SHOTS") or ARTIFACTS)
CHROMIUM = os.environ.get("CARTAGORA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
TILE_HOST = "tiles.basemap.test"
TILE_URL = f"https://{TILE_HOST}/{{z}}/{{x}}/{{y}}.png"
EMAIL_DOMAIN = "browser.test"
PASSWORD = "un mot de passe assez long"
_numbers = itertools.count(1)


def stub_tile() -> bytes:
    """A plain 256-px tile with a faint grid, so screenshots show where the basemap would be."""
    img = Image.new("RGB", (256, 256), (238, 236, 228))
    draw = ImageDraw.Draw(img)
    for i in range(0, 256, 64):
        draw.line([(i, 0), (i, 256)], fill=(224, 221, 210))
        draw.line([(0, i), (256, i)], fill=(224, 221, 210))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def photo_bytes(color=(200, 80, 40)) -> bytes:
    img = Image.new("RGB", (800, 600), color)
    ImageDraw.Draw(img).ellipse([250, 150, 550, 450], fill=(250, 220, 60))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def unique(prefix: str) -> str:
    return f"{prefix} {os.getpid()}-{next(_numbers)}"


def two_factor_account(app, role: str, name: str) -> tuple[str, str, int]:
    """A committed account with `role` and two-factor sign-in on (moderators and admins need
    it): (e-mail, TOTP secret, id)."""
    from app.accounts import two_factor
    from app.accounts.services import create_user

    email = f"{unique(role).replace(' ', '-')}@{EMAIL_DOMAIN}"
    with app.app_context():
        user = create_user(db.session, email, PASSWORD, name, [role])
        secret, _ = two_factor.begin(db.session, user)
        two_factor.confirm(db.session, user, pyotp.TOTP(secret).now())
        db.session.commit()
        return email, secret, user.id


def cleanup_browser_data() -> None:
    """Delete what the browser tests created (their accounts' rows); vote counters follow."""
    users = f"SELECT id FROM users WHERE email LIKE '%@{EMAIL_DOMAIN}'"
    mine = f"SELECT id FROM contributions WHERE author_id IN ({users})"
    keys = f"SELECT id FROM api_keys WHERE created_by IN ({users})"
    with db.engine.begin() as conn:
        for statement in (
            # the API keys an admin issued on the pages, and the accounts they act through
            f"DELETE FROM users WHERE id IN (SELECT user_id FROM api_keys WHERE id IN ({keys}))",
            f"DELETE FROM api_keys WHERE id IN ({keys})",
            f"DELETE FROM comments WHERE author_id IN ({users}) OR contribution_id IN ({mine})",
            f"DELETE FROM votes WHERE user_id IN ({users}) OR contribution_id IN ({mine})",
            f"DELETE FROM contributions WHERE author_id IN ({users})",
            f"DELETE FROM users WHERE email LIKE '%@{EMAIL_DOMAIN}'",
        ):
            conn.execute(text(statement))


_responses = threading.local()


def closing_every_response(app):
    """Remember each response body of this request's thread, for QuietHandler to close."""

    def wsgi(environ, start_response):
        body = app(environ, start_response)
        _responses.bodies.append(body)
        return body

    return wsgi


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # one line per request drowns the report
        pass

    def run_wsgi(self) -> None:
        """Close the response even when Chromium dropped the connection mid-file (a photo or
        a favicon abandoned on navigation): Werkzeug's server may then skip the close and
        leave the open file to the garbage collector, which pytest reports as an error."""
        _responses.bodies = []
        try:
            super().run_wsgi()
        finally:
            for body in _responses.bodies:
                if hasattr(body, "close"):
                    body.close()


@pytest.fixture(scope="package")
def live_server(app):
    """The app on a free port, in a thread, with its basemap pointed at the stubbed host.

    Package-scoped: the server stops, the configuration is restored and the rows are deleted
    as soon as the browser tests are done, before the rest of the suite runs."""
    saved = app.config["TILE_URL"]
    app.config["TILE_URL"] = TILE_URL
    server = make_server("127.0.0.1", 0, closing_every_response(app), threaded=True,
                         request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
        app.config["TILE_URL"] = saved
        cleanup_browser_data()


@pytest.fixture(scope="package")
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Watch:
    """Console errors, page errors and requests to other hosts seen by one browser context."""

    def __init__(self, base_url: str):
        self.app_host = urlsplit(base_url).netloc
        self.errors: list[str] = []
        self.external: list[str] = []
        self.tiles: list[str] = []
        self.tiles_down = False
        self.allowed: list[re.Pattern] = []
        self.tile_png = stub_tile()

    def allow(self, pattern: str) -> None:
        """Expect console errors matching `pattern` (a deliberate 4xx, unreachable tiles)."""
        self.allowed.append(re.compile(pattern))

    def console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} @ {message.location.get('url', '')}")

    def route(self, route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == TILE_HOST:
            self.tiles.append(url)
            if self.tiles_down:
                route.abort("connectionrefused")
            else:
                route.fulfill(body=self.tile_png, content_type="image/png")
            return
        self.external.append(url)
        route.abort("blockedbyclient")

    def problems(self) -> list[str]:
        unexpected = [e for e in self.errors if not any(p.search(e) for p in self.allowed)]
        return unexpected + [f"request to another host: {u}" for u in self.external]


@pytest.fixture
def open_context(browser, live_server):
    """open_context(width=…, height=…, **options) -> (context, watch); checked at teardown."""
    opened = []

    def open_(width=1280, height=800, **options):
        context = browser.new_context(
            base_url=live_server, viewport={"width": width, "height": height},
            locale="fr-FR", timezone_id="Europe/Paris", **options,
        )
        context.set_default_timeout(10_000)
        watch = Watch(live_server)
        context.route(lambda url: urlsplit(url).netloc != watch.app_host, watch.route)
        context.on("page", lambda page: (page.on("console", watch.console),
                                         page.on("pageerror", lambda e: watch.errors.append(str(e)))))
        opened.append((context, watch))
        return context, watch

    yield open_
    problems = []
    for context, watch in opened:
        context.close()
        problems += watch.problems()
    assert not problems, "\n".join(problems)


@pytest.fixture
def page(open_context):
    context, watch = open_context()
    page = context.new_page()
    page.watch = watch
    return page


@pytest.fixture
def api_user(live_server):
    """A resident talking to the live server's JSON API with a bearer token (to arrange data)."""

    def make(name="Voisine"):
        email = f"{unique('api').replace(' ', '-')}@{EMAIL_DOMAIN}"
        r = requests.post(f"{live_server}/api/v1/auth/register",
                          json={"email": email, "password": PASSWORD, "display_name": name}, timeout=10)
        assert r.status_code == 202, r.text
        r = requests.post(f"{live_server}/api/v1/auth/token",
                          json={"email": email, "password": PASSWORD}, timeout=10)
        assert r.status_code == 201, r.text
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        session.base = live_server
        return session

    return make


def sign_up(page, name="Camille") -> str:
    """Create an account through the sign-up page; returns its e-mail. Ends on the map."""
    email = f"{unique('resident').replace(' ', '-')}@{EMAIL_DOMAIN}"
    page.goto("/signup?next=/")
    page.get_by_label("Nom public").fill(name)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Créer mon compte").click()
    page.wait_for_url(re.compile(r"/login"))  # the same page whether or not it had an account
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(re.compile(r"/(\?.*)?$"))
    return email


def sign_in(page, email: str, password: str = PASSWORD, next_path: str | None = None,
            totp_secret: str | None = None) -> None:
    """Through the sign-in page, and its code page for an account with two-factor sign-in
    (the next 30-second step's code: one not used yet). The caller waits for where it lands."""
    page.goto("/login" + (f"?next={quote(next_path, safe='/')}" if next_path else ""))
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    if totp_secret:
        page.wait_for_url(re.compile(r"/login/code"))
        page.get_by_label("Code").fill(pyotp.TOTP(totp_secret).at(time.time() + 30))
        page.get_by_role("button", name="Se connecter").click()


def scalar(sql: str, **params):
    with db.engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def loads(page) -> int:
    """How many times the map has drawn the clusters of its view so far."""
    return int(page.evaluate("() => document.getElementById('map')?.dataset.loads ?? 0"))


def wait_for_map(page, after: int = 0) -> None:
    """Until the map has drawn its view more than `after` times and the list is filled."""
    page.wait_for_function(
        f"() => Number(document.getElementById('map')?.dataset.loads ?? 0) > {after}")
    page.wait_for_function("() => !document.getElementById('results-list').hasAttribute('aria-busy')")
