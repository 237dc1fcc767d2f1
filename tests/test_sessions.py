"""Trust, secrets and sessions: no default secret, sessions that end on the server, "sign
out everywhere", a password change that signs out the others, HTTPS-only cookies and HSTS."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select

from app import check_secret, create_app
from app.accounts.models import ApiToken
from app.config import write_secret

PASSWORD = "a long enough password"


@pytest.mark.parametrize("secret", [None, "", "dev-only-change-me", "short-but-random-7Hq"])
def test_no_default_or_weak_secret_starts(secret):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        check_secret(secret)


def test_app_refuses_to_start_without_a_secret(database_url):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"DATABASE_URL": database_url, "SECRET_KEY": None})


def test_the_secret_file_is_written_once_private_and_random(tmp_path):
    path = tmp_path / "var" / "secret_key"
    assert write_secret(path) is True
    first = path.read_text()
    assert write_secret(path) is False and path.read_text() == first  # reused, not replaced
    assert path.stat().st_mode & 0o777 == 0o600
    assert re.fullmatch(r"[0-9a-f]{128}\n", first)
    other = tmp_path / "other"
    write_secret(other)
    assert other.read_text() != first


def cookie_signed_with(app, secret: str, data: dict) -> str:
    """A session cookie as Flask would sign it with `secret`."""
    signer = SecureCookieSessionInterface().get_signing_serializer(
        type("A", (), {"secret_key": secret, "config": app.config})())
    return signer.dumps(data)


def test_a_cookie_forged_with_the_old_default_secret_is_nobody(app, client, make_user):
    admin = make_user(roles=("admin",))
    forged = cookie_signed_with(app, "dev-only-change-me", {"user_id": admin.user_id, "sid": "x"})
    client.set_cookie("session", forged)
    assert client.get("/api/v1/me").status_code == 401
    # even signed with the real secret, a session id that the server did not issue is nobody
    client.set_cookie("session", cookie_signed_with(app, app.secret_key,
                                                    {"user_id": admin.user_id, "sid": "made-up"}))
    assert client.get("/api/v1/me").status_code == 401


def web_sign_in(client, api) -> str:
    """Sign in through the page's form; returns the session cookie's value."""
    client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    r = client.post("/login", data={"email": api.email, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302
    return client.get_cookie("session").value


def csrf_of(client) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").text).group(1)


def test_a_cookie_replayed_after_sign_out_is_refused(app, client, make_user):
    alice = make_user(name="Alice")
    cookie = web_sign_in(client, alice)
    assert client.get("/api/v1/me").json["id"] == alice.user_id
    r = client.post("/logout", data={"csrf_token": csrf_of(client)})
    assert r.status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", cookie)  # a copy taken before signing out
    assert thief.get("/api/v1/me").status_code == 401


def test_api_sign_out_with_the_cookie_ends_the_session(app, client, make_user):
    alice = make_user(name="Alice")
    cookie = web_sign_in(client, alice)
    r = client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf_of(client)})
    assert r.status_code == 204
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    assert thief.get("/api/v1/me").status_code == 401


def test_sign_out_everywhere_ends_every_token_and_session(app, client, session, make_user):
    alice, bob = make_user(name="Alice"), make_user(name="Bob")
    phone = client.post("/api/v1/auth/token", json={"email": alice.email, "password": PASSWORD})
    phone_headers = {"Authorization": f"Bearer {phone.json['access_token']}"}
    browser = app.test_client()
    web_sign_in(browser, alice)
    assert browser.get("/api/v1/me").status_code == 200

    r = alice.post("/api/v1/auth/logout-everywhere")
    assert r.status_code == 200 and r.json == {"revoked": 3}  # two bearer tokens and a session
    assert client.get("/api/v1/me", headers=phone_headers).status_code == 401
    assert alice.get("/api/v1/me").status_code == 401
    assert browser.get("/api/v1/me").status_code == 401
    assert bob.get("/api/v1/me").json["id"] == bob.user_id  # someone else's stay
    live = session.scalar(select(ApiToken.id).where(ApiToken.user_id == alice.user_id,
                                                    ApiToken.revoked_at.is_(None)))
    assert live is None


def test_the_web_menu_signs_out_everywhere(app, client, make_user):
    alice = make_user(name="Alice")
    web_sign_in(client, alice)
    r = client.post("/logout", data={"csrf_token": csrf_of(client), "everywhere": "1"})
    assert r.status_code == 302
    assert alice.get("/api/v1/me").status_code == 401  # the bearer token ended too


def test_a_password_change_signs_out_the_other_sessions(app, client, make_user):
    alice = make_user(name="Alice")
    browser = app.test_client()
    web_sign_in(browser, alice)
    wrong = alice.post("/api/v1/me/password",
                       json={"current_password": "not the password", "new_password": "another long one"})
    assert wrong.status_code == 422
    assert [(e["field"], e["code"]) for e in wrong.json["errors"]] == [("current_password", "wrong_password")]
    assert browser.get("/api/v1/me").status_code == 200  # nothing changed

    r = alice.post("/api/v1/me/password",
                   json={"current_password": PASSWORD, "new_password": "another long one"})
    assert r.status_code == 200 and r.json == {"revoked": 1}
    assert alice.get("/api/v1/me").json["id"] == alice.user_id  # the caller stays signed in
    assert browser.get("/api/v1/me").status_code == 401
    old = client.post("/api/v1/auth/token", json={"email": alice.email, "password": PASSWORD})
    assert old.status_code == 401
    new = client.post("/api/v1/auth/token", json={"email": alice.email, "password": "another long one"})
    assert new.status_code == 201


def test_tokens_live_a_week_by_default(app, client, make_user):
    alice = make_user(name="Alice")
    r = client.post("/api/v1/auth/token", json={"email": alice.email, "password": PASSWORD})
    expires = datetime.fromisoformat(r.json["expires_at"])
    assert app.config["TOKEN_TTL_HOURS"] == 7 * 24
    assert abs(expires - (datetime.now(UTC) + timedelta(days=7))) < timedelta(minutes=1)


def test_an_expired_session_is_nobody(app, client, session, make_user):
    alice = make_user(name="Alice")
    web_sign_in(client, alice)
    session.execute(ApiToken.__table__.update()
                    .where(ApiToken.user_id == alice.user_id, ApiToken.kind == "session")
                    .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    session.commit()
    assert client.get("/api/v1/me").status_code == 401


def test_https_deployments_get_secure_cookies_and_hsts(app, client, monkeypatch):
    plain = client.get("/login")
    assert "Strict-Transport-Security" not in plain.headers
    assert "Secure" not in plain.headers["Set-Cookie"]
    monkeypatch.setitem(app.config, "HTTPS", True)  # what CARTAGORA_HTTPS=1 sets
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    r = app.test_client().get("/login", base_url="https://localhost")
    assert r.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    cookie = r.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
