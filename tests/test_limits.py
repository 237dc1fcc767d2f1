"""Rate limits: per account and per address, 429 problems with Retry-After, sign-in that
slows down then locks, and limits that hold across two gunicorn workers (a shared Redis)."""

from __future__ import annotations

import os
import secrets
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import text

from app.ratelimit import FAILURES_PER_ACCOUNT, FAILURES_PER_ADDRESS, LIMITS, limiter
from bench.server import Gunicorn
from tests.conftest import feature


def first_count(rules: str) -> int:
    return int(rules.split(";")[0].split()[0])


@pytest.fixture
def limits_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", True)
    limiter.limiter.storage.reset()
    yield
    limiter.limiter.storage.reset()


def token(client, email, password):
    return client.post("/api/v1/auth/token", json={"email": email, "password": password})


def test_sign_in_slows_down_then_locks_the_account(client, make_user, limits_on):
    alice, bob = make_user(name="Alice"), make_user(name="Bob")
    allowed = first_count(FAILURES_PER_ACCOUNT)
    answers = [token(client, alice.email, "wrong password!").status_code for _ in range(allowed)]
    assert answers == [401] * allowed
    locked = token(client, alice.email, "wrong password!")
    assert locked.status_code == 429 and locked.json["code"] == "sign_in_locked"
    assert 1 <= int(locked.headers["Retry-After"]) <= 60
    assert locked.content_type == "application/problem+json"
    # locked means locked: the right password waits too; another account does not
    assert token(client, alice.email, alice.password).status_code == 429
    assert token(client, bob.email, bob.password).status_code == 201


def test_a_success_clears_the_accounts_failures(client, make_user, limits_on):
    alice = make_user(name="Alice")
    allowed = first_count(FAILURES_PER_ACCOUNT)
    for _ in range(allowed - 1):
        assert token(client, alice.email, "wrong password!").status_code == 401
    assert token(client, alice.email, alice.password).status_code == 201
    for _ in range(allowed - 1):
        assert token(client, alice.email, "wrong password!").status_code == 401


def test_failures_from_one_address_lock_it_whatever_the_account(client, limits_on):
    allowed = first_count(FAILURES_PER_ADDRESS)
    for i in range(allowed):
        assert token(client, f"ghost{i}@example.org", "wrong password!").status_code == 401
    r = token(client, "ghost-last@example.org", "wrong password!")
    assert r.status_code == 429 and r.json["code"] == "sign_in_locked"


def test_writes_are_limited_per_account_and_nothing_is_written_over_it(resident, make_user, session,
                                                                      limits_on):
    allowed = first_count(LIMITS["write"])
    for i in range(allowed):
        assert resident.post("/api/v1/reports", json=feature(title=f"Rafale {i:02}")).status_code == 201
    over = resident.post("/api/v1/reports", json=feature(title="Rafale de trop"))
    assert over.status_code == 429 and over.json["code"] == "too_many_requests"
    assert int(over.headers["Retry-After"]) >= 1
    assert session.execute(text("SELECT count(*) FROM contributions WHERE title = 'Rafale de trop'")).scalar() == 0
    # someone else is not slowed down by it
    other = make_user(name="Other")
    assert other.post("/api/v1/reports", json=feature(title="Autre personne")).status_code == 201


def test_the_statistics_are_limited_per_address(client, limits_on):
    allowed = first_count(LIMITS["expensive"])
    url = "/api/v1/stats/timeseries?interval=month&since=2023-01-01&until=2023-06-30"
    assert all(client.get(url).status_code == 200 for _ in range(allowed))
    over = client.get(url)
    assert over.status_code == 429 and int(over.headers["Retry-After"]) >= 1


def test_the_document_declares_429_with_retry_after(client):
    doc = client.get("/api/v1/openapi.json").json
    token_op = doc["paths"]["/api/v1/auth/token"]["post"]["responses"]["429"]
    assert "sign_in_locked" in token_op["description"]
    create = doc["paths"]["/api/v1/reports"]["post"]["responses"]["429"]
    assert create == {"$ref": "#/components/responses/Problem429"}
    assert "429" in doc["paths"]["/api/v1/stats/timeseries"]["get"]["responses"]
    assert "429" not in doc["paths"]["/api/v1/reports"]["get"]["responses"]  # the map's reads
    assert "Retry-After" in doc["components"]["responses"]["Problem429"]["headers"]


# ---- across two gunicorn workers --------------------------------------------------------------

def workers_in(log: Path, path: str = "") -> set[str]:
    """The pids of the workers that answered (`path` only), from the access log."""
    if not log.exists():
        return set()
    return {line.split()[0] for line in log.read_text().splitlines() if path in line}


@pytest.fixture
def gunicorn(app, database_url, tmp_path):
    """`gunicorn -w 2` on the test database and the shared Redis, its access log naming the
    worker (pid) that answered each request."""
    log = tmp_path / "access.log"
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": secrets.token_hex(32),
           "CARTAGORA_RATELIMIT": "1", "REDIS_URL": app.config["RATELIMIT_STORAGE_URI"] or ""}
    server = Gunicorn(env, tmp_path / "gunicorn.log", timeout=90, extra=(
        "--access-logfile", str(log), "--access-logformat", "%(p)s %(s)s %(U)s"))
    base = server.url

    def ping(_):
        try:
            requests.get(f"{base}/healthz", headers={"Connection": "close"}, timeout=5)
        except requests.RequestException:
            time.sleep(0.2)

    deadline = time.monotonic() + 90
    with ThreadPoolExecutor(4) as pool:  # until both workers have booted and answered
        while time.monotonic() < deadline and len(workers_in(log)) < 2:
            list(pool.map(ping, range(8)))
    limiter.limiter.storage.reset()
    yield base, log
    server.stop()
    limiter.limiter.storage.reset()


def test_the_sign_in_lock_holds_across_two_workers(app, gunicorn):
    from app.accounts.services import create_user
    from app.db import db

    base, log = gunicorn
    email = f"two-workers-{secrets.token_hex(4)}@example.org"
    with app.app_context():
        user = create_user(db.session, email, "a long enough password", "Deux workers")
        db.session.commit()
        user_id = user.id
    try:
        assert requests.get(f"{base}/healthz", timeout=10).headers["Server"] == "gunicorn"  # no version

        def attempt(_):
            return requests.post(f"{base}/api/v1/auth/token", headers={"Connection": "close"},
                                 json={"email": email, "password": "wrong password!"},
                                 timeout=10).status_code

        allowed = first_count(FAILURES_PER_ACCOUNT)
        with ThreadPoolExecutor(4) as pool:  # concurrent connections: both workers answer
            statuses = Counter(pool.map(attempt, range(4 * allowed)))
        assert statuses == {401: allowed, 429: 3 * allowed}
        assert len(workers_in(log, "/api/v1/auth/token")) == 2  # both answered; none let more in
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM users WHERE id = :u"), {"u": user_id})
