"""Test fixtures on a real PostGIS: a fresh database migrated once per session, reference
data loaded once, and each test inside a transaction that is rolled back."""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from app import create_app
from app.accounts import two_factor
from app.accounts.models import TWO_FACTOR_ROLES
from app.config import default_database_url
from app.db import db

# the shared DansMaRue extract, shipped compressed in data/ (a clone alone runs the suite)
DANSMARUE = Path(__file__).resolve().parent.parent / "data" / "dans-ma-rue_sample_2023-2024.csv.gz"


def fresh_database(name: str) -> str:
    """Drop and create database `name` on the server of the development URL; return its URL."""
    base = make_url(os.environ.get("TEST_DATABASE_URL") or default_database_url())
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url() -> str:
    return fresh_database(os.environ.get("CARTAGORA_TEST_DB", "cartagora_test"))


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes():
    """Real argon2id, with the smallest cost: the suite makes hundreds of accounts (the
    default cost is ~60 ms a hash, several times that on a busy CI machine)."""
    from argon2 import PasswordHasher

    from app.accounts import services

    default, services._hasher = services._hasher, PasswordHasher(time_cost=1, memory_cost=1024,
                                                                 parallelism=1)
    yield
    services._hasher = default


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    """The app on a migrated database holding areas, categories, addresses and the extract."""
    application = create_app(
        {"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": secrets.token_hex(32),
         # rate limits are on in tests/test_limits.py only (the suite signs in hundreds of times)
         "RATELIMIT_ENABLED": False,
         "MEDIA_DIR": tmp_path_factory.mktemp("media")}
    )
    runner = application.test_cli_runner()
    for args in (["db", "upgrade"], ["geo", "load-areas"], ["geo", "load-categories"],
                 ["geo", "load-addresses"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    if DANSMARUE.exists():
        result = runner.invoke(args=["import", "dansmarue", str(DANSMARUE)])
        assert result.exit_code == 0, result.output
        application.config["IMPORT_OUTPUT"] = result.output
    yield application
    db.engine.dispose()


@pytest.fixture
def connection(app):
    """A connection whose outer transaction is rolled back after the test; the app's
    sessions join it through savepoints, so their commits stay inside the test."""
    conn = db.engine.connect()
    outer = conn.begin()
    original = db.sessionmaker, db.read_sessionmaker, db.autocommit_connection
    db.sessionmaker = db.read_sessionmaker = sessionmaker(
        bind=conn, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    db.autocommit_connection = lambda: contextlib.nullcontext(conn.connection.driver_connection)
    yield conn
    db.sessionmaker, db.read_sessionmaker, db.autocommit_connection = original
    outer.rollback()
    conn.close()


@pytest.fixture
def client(app, connection):
    return app.test_client()


@pytest.fixture
def http_root(app, connection):
    """The app over real HTTP (for real clients: GDAL, owslib, georeport), on the test's
    connection, rolled back after the test: one request at a time, as those clients send."""
    import threading

    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(5)
    httpd.server_close()


@pytest.fixture
def session(app, connection):
    """A session on the test's connection, for arranging data and checking rows.

    Not the request-scoped `db.session`: holding an app context here would make the test
    client's requests share it (and its `g`)."""
    s = db.sessionmaker()
    yield s
    s.close()


@pytest.fixture
def runner(app, connection):
    return app.test_cli_runner()


def totp_code(secret: str, steps_ahead: int = 0) -> str:
    """The TOTP an authenticator app would show, `steps_ahead` 30-second steps from now (a
    step not used yet: each is accepted once, within one step of the clock)."""
    import pyotp

    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


class Api:
    """A resident (or staff member) talking to the JSON API with a bearer token."""

    counter = 0

    def __init__(self, client, roles=("resident",), name=None):
        from app.accounts.services import create_user
        from app.db import db as _db

        Api.counter += 1
        self.client = client
        self.email = f"user{Api.counter}-{os.getpid()}@example.org"
        self.password = "a long enough password"
        self.totp_secret = None
        with client.application.app_context():
            self.user = create_user(_db.session, self.email, self.password, name or f"User {Api.counter}",
                                    roles)
            if TWO_FACTOR_ROLES.intersection(roles):  # their rights need two-factor sign-in on
                self.totp_secret, _ = two_factor.begin(_db.session, self.user)
                two_factor.confirm(_db.session, self.user, totp_code(self.totp_secret, 0))
            _db.session.commit()
            self.user_id = self.user.id
        credentials = {"email": self.email, "password": self.password}
        if self.totp_secret:
            credentials["totp_code"] = totp_code(self.totp_secret, 1)
        r = client.post("/api/v1/auth/token", json=credentials)
        assert r.status_code == 201, r.json
        self.headers = {"Authorization": f"Bearer {r.json['access_token']}"}

    def __getattr__(self, method):
        if method not in ("get", "post", "put", "patch", "delete"):
            raise AttributeError(method)

        def call(url, **kwargs):
            headers = {**self.headers, **kwargs.pop("headers", {})}
            return getattr(self.client, method)(url, headers=headers, **kwargs)

        return call


def browser(client, session, who: Api):
    """A web browser (a test client of its own) signed in as `who`'s account: a session token
    of its own in the cookie, so `who`'s bearer token keeps working."""
    from app.accounts.models import User
    from app.accounts.services import issue_token

    token, _ = issue_token(session, session.get(User, who.user_id), 1, kind="session")
    session.commit()
    page = client.application.test_client()
    with page.session_transaction() as cookies:
        cookies["sid"] = token
    return page


@pytest.fixture
def make_user(client):
    def make(roles=("resident",), name=None) -> Api:
        return Api(client, roles, name)

    return make


@pytest.fixture
def verify(session):
    """Confirm the e-mail addresses of these accounts (what the link in the welcome e-mail does)."""

    def run(*apis):
        session.execute(text("UPDATE users SET email_verified_at = now() WHERE id = ANY(:ids)"),
                        {"ids": [a.user_id for a in apis]})
        session.commit()
        return apis[0] if len(apis) == 1 else apis

    return run


@pytest.fixture
def resident(make_user) -> Api:
    return make_user(name="Alice")


NOTRE_DAME = (2.3499, 48.8530)


def feature(lon=NOTRE_DAME[0], lat=NOTRE_DAME[1], title="Tags sur le parvis", category="graffitis",
            geometry=None, **props) -> dict:
    return {
        "type": "Feature",
        "geometry": geometry or {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"title": title, "category": category, **props},
    }


@pytest.fixture
def make_report(resident):
    def make(api=None, **kwargs) -> dict:
        r = (api or resident).post("/api/v1/reports", json=feature(**kwargs))
        assert r.status_code == 201, r.get_json()
        return r.get_json()

    return make


def at_once(app, calls):
    """Run `calls` (functions of a test client) in threads released together; their answers.
    For tests on real committing connections (not the rolled-back `connection` fixture)."""
    import threading

    barrier, answers = threading.Barrier(len(calls)), [None] * len(calls)

    def run(i, call):
        client = app.test_client()
        barrier.wait()
        answers[i] = call(client)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return answers
