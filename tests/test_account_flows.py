"""Accounts, issue 13: e-mailed links (verify, reset), two-factor sign-in, my data, deletion,
and the account found for an OpenID Connect identity."""

from __future__ import annotations

import hashlib
import re

import pyotp
from sqlalchemy import select, text

from app.accounts import oidc
from app.accounts.models import User, UserIdentity
from app.accounts.mydata import FORMER_ACCOUNT
from tests.conftest import Api, feature, totp_code

PASSWORD = "a long enough password"


def last_mail(session, recipient: str) -> tuple[str, str]:
    return session.execute(text("SELECT subject, body FROM outbox WHERE recipient = :r ORDER BY id DESC LIMIT 1"),
                           {"r": recipient}).one()


def link_token(body: str, path: str) -> str:
    tokens = re.findall(re.escape(path) + r"([A-Za-z0-9_-]{20,})", body)
    assert tokens and len(set(tokens)) == 1, body  # the same link after the French and the English
    return tokens[0]


def sign_up(client, email="nina@example.org"):
    r = client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "Nina"})
    assert r.status_code == 202
    return email


def bearer(client, email, password=PASSWORD, **extra):
    return client.post("/api/v1/auth/token", json={"email": email, "password": password, **extra})


def test_the_welcome_mail_confirms_the_address_once(client, session):
    email = sign_up(client)
    subject, body = last_mail(session, email)
    assert subject == "[Cartagora] Votre compte est prêt / Your account is ready"
    token = link_token(body, "http://127.0.0.1:5000/verify-email/")
    headers = {"Authorization": f"Bearer {bearer(client, email).json['access_token']}"}
    assert client.get("/api/v1/me", headers=headers).json["email_verified"] is False

    page = client.get(f"/verify-email/{token}")  # a mail scanner opening the link uses nothing
    assert page.status_code == 200 and "Confirmer mon adresse" in page.get_data(as_text=True)
    done = client.post("/api/v1/auth/verify-email", json={"token": token})
    assert done.status_code == 200 and done.json["detail"] == "Votre adresse e-mail est confirmée."
    assert client.get("/api/v1/me", headers=headers).json["email_verified"] is True

    again = client.post("/api/v1/auth/verify-email", json={"token": token}, headers={"Accept-Language": "en"})
    assert again.status_code == 422
    assert again.json["errors"] == [{"field": "token", "code": "invalid_link",
                                     "detail": "This link is invalid, used or expired: ask for a new one."}]


def test_an_expired_or_replaced_link_is_refused(client, session):
    email = sign_up(client)
    first = link_token(last_mail(session, email)[1], "/verify-email/")
    headers = {"Authorization": f"Bearer {bearer(client, email).json['access_token']}"}
    assert client.post("/api/v1/me/verification", headers=headers).status_code == 202
    second = link_token(last_mail(session, email)[1], "/verify-email/")
    assert second != first
    assert client.post("/api/v1/auth/verify-email", json={"token": first}).status_code == 422  # replaced
    session.execute(text("UPDATE account_tokens SET expires_at = now() - interval '1 second' "
                         "WHERE used_at IS NULL"))
    session.commit()
    assert client.post("/api/v1/auth/verify-email", json={"token": second}).status_code == 422  # expired


def test_password_reset_never_tells_who_has_an_account(client, session):
    email = sign_up(client)
    old = bearer(client, email).json["access_token"]
    before = session.scalar(text("SELECT count(*) FROM outbox"))
    known = client.post("/api/v1/auth/password-reset", json={"email": "NINA@example.org"})
    unknown = client.post("/api/v1/auth/password-reset", json={"email": "nobody@example.org"})
    assert (known.status_code, known.json) == (unknown.status_code, unknown.json)
    assert known.status_code == 202
    assert session.scalar(text("SELECT count(*) FROM outbox")) == before + 1  # only the owner's
    subject, body = last_mail(session, email)
    assert subject == "[Cartagora] Choisissez un nouveau mot de passe / Choose a new password"
    token = link_token(body, "/reset-password/")

    short = client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": "short"})
    assert short.status_code == 422 and short.json["errors"][0]["code"] == "weak_password"
    done = client.post("/api/v1/auth/password-reset/confirm",
                       json={"token": token, "new_password": "a brand new password"})
    assert done.status_code == 200
    # the old password and every old session are gone; the new password works; the link is used
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    assert bearer(client, email).status_code == 401
    assert bearer(client, email, "a brand new password").json["user"]["email_verified"] is True
    reused = client.post("/api/v1/auth/password-reset/confirm",
                         json={"token": token, "new_password": "yet another password"})
    assert reused.status_code == 422 and reused.json["errors"][0]["code"] == "invalid_link"


def test_two_factor_sign_in_with_codes_used_once(client, session):
    email = sign_up(client)
    headers = {"Authorization": f"Bearer {bearer(client, email).json['access_token']}"}
    started = client.post("/api/v1/me/totp", headers=headers)
    assert started.status_code == 201
    secret = started.json["secret"]
    assert started.json["otpauth_uri"].startswith("otpauth://totp/Cartagora:nina%40example.org?secret=" + secret)
    wrong = client.post("/api/v1/me/totp/confirm", json={"code": "000000"}, headers=headers)
    assert wrong.status_code == 422 and wrong.json["errors"][0]["field"] == "code"
    on = client.post("/api/v1/me/totp/confirm", json={"code": totp_code(secret)}, headers=headers)
    codes = on.json["recovery_codes"]
    assert on.status_code == 200 and len(codes) == len(set(codes)) == 10
    assert all(re.fullmatch(r"[0-9a-f]{5}-[0-9a-f]{5}", c) for c in codes)
    stored = session.scalars(text("SELECT code_hash FROM recovery_codes WHERE user_id = "
                                  "(SELECT id FROM users WHERE email = :e)"), {"e": email}).all()
    assert len(stored) == 10 and hashlib.sha256(codes[0].replace("-", "").encode()).digest() in stored
    assert not any(c.replace("-", "").encode() in b"".join(stored) for c in codes)  # only hashes

    missing = bearer(client, email)
    assert missing.status_code == 401 and missing.json["code"] == "totp_required"
    assert bearer(client, email, totp_code="123456").json["code"] == "invalid_totp"
    code = totp_code(secret, 1)
    assert bearer(client, email, totp_code=code).status_code == 201
    replay = bearer(client, email, totp_code=code)
    assert replay.status_code == 401 and replay.json["code"] == "invalid_totp"
    assert bearer(client, email, recovery_code=codes[3].upper()).status_code == 201
    assert bearer(client, email, recovery_code=codes[3]).status_code == 401  # used up
    assert bearer(client, email, "wrong password!", totp_code=totp_code(secret, -1)).json["code"] == \
        "invalid_credentials"  # the code is not even looked at

    off = client.post("/api/v1/me/totp/disable", json={"recovery_code": codes[5]}, headers=headers)
    assert off.status_code == 204
    assert bearer(client, email).status_code == 201


def test_an_admin_acts_as_one_only_with_two_factor_sign_in(client, session):
    from app.accounts.services import create_user

    admin = create_user(session, "root@example.org", PASSWORD, "Root", ["admin"])
    agent = create_user(session, "agent@example.org", PASSWORD, "Agent", ["agent"])
    session.commit()
    token = bearer(client, "root@example.org").json
    assert token["user"]["roles"] == ["admin", "resident"] and token["user"]["active_roles"] == ["resident"]
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    scopes = {"scopes": [{"service": "graffitis", "arrondissement": 11}]}
    refused = client.put(f"/api/v1/agents/{agent.id}/scopes", json=scopes, headers=headers)
    assert refused.status_code == 403
    assert client.get("/api/v1/agent/queue", headers=headers).status_code == 403  # no supervisor either

    secret = client.post("/api/v1/me/totp", headers=headers).json["secret"]
    client.post("/api/v1/me/totp/confirm", json={"code": totp_code(secret)}, headers=headers)
    assert client.get("/api/v1/me", headers=headers).json["active_roles"] == ["admin", "resident"]
    allowed = client.put(f"/api/v1/agents/{agent.id}/scopes", json=scopes, headers=headers)
    assert allowed.status_code == 200, allowed.json
    assert session.scalar(select(User.totp_enabled_at).where(User.id == admin.id)) is not None


def test_my_data_holds_mine_and_nobody_else_s(client, make_user):
    me, other = make_user(name="Moi"), make_user(name="Autre")
    mine = me.post("/api/v1/reports", json=feature(title="Mon signalement")).json["id"]
    theirs = other.post("/api/v1/reports", json=feature(title="Le sien")).json["id"]
    me.post(f"/api/v1/reports/{theirs}/comments", json={"body": "Je confirme"})
    me.put(f"/api/v1/reports/{theirs}/follow")
    other.post(f"/api/v1/reports/{mine}/comments", json={"body": "Pas de moi"})

    data = me.get("/api/v1/me/export").json
    assert data["format"] == "cartagora-my-data/1" and data["account"]["email"] == me.email
    assert [c["properties"]["title"] for c in data["contributions"]] == ["Mon signalement"]
    assert [(c["contribution_id"], c["body"]) for c in data["comments"]] == [(theirs, "Je confirme")]
    assert [f["contribution_id"] for f in data["follows"]] == [theirs]
    assert len(data["sessions"]) == 1 and "token" not in str(data["sessions"]).lower()
    assert other.email not in str(data)

    page = client.get("/account/export")
    assert page.status_code == 302  # the page needs a signed-in browser


def test_deleting_an_account_keeps_its_contributions_under_a_former_account(client, make_user, session):
    me = make_user(name="Partante")
    rid = me.post("/api/v1/reports", json=feature(title="Trou")).json["id"]
    me.put(f"/api/v1/reports/{rid}/follow")
    wrong = me.post("/api/v1/me/delete", json={"password": "not my password"})
    assert wrong.status_code == 422 and wrong.json["errors"][0]["code"] == "wrong_password"
    assert me.post("/api/v1/me/delete", json={"password": PASSWORD}).status_code == 204

    assert me.get("/api/v1/me").status_code == 401  # every session ended
    assert bearer(client, me.email).status_code == 401
    shown = client.get(f"/api/v1/reports/{rid}").json["properties"]
    assert shown["title"] == "Trou" and shown["author"] == FORMER_ACCOUNT
    row = session.execute(text("SELECT email, display_name, password_hash, is_active, deleted_at IS NOT NULL "
                               "FROM users WHERE id = :u"), {"u": me.user_id}).one()
    assert row == (f"deleted-{me.user_id}@invalid", FORMER_ACCOUNT, None, False, True)
    assert session.scalar(text("SELECT count(*) FROM follows WHERE user_id = :u"), {"u": me.user_id}) == 0
    assert session.scalar(text("SELECT count(*) FROM api_tokens WHERE user_id = :u"), {"u": me.user_id}) == 0
    # the address is free again: a new sign-up with it is a new account
    sign_up(client, me.email)
    assert session.scalar(text("SELECT count(*) FROM users WHERE email = :e"), {"e": me.email}) == 1


ISSUER = "https://compte.paris.example"


def test_an_oidc_identity_links_only_a_verified_address(app, session):
    with app.app_context():
        from app.accounts.services import create_user

        local = create_user(session, "lea@example.org", PASSWORD, "Léa")
        session.flush()
        linked = oidc.account_for(session, ISSUER, {"sub": "s-1", "email": "LEA@example.org",
                                                    "email_verified": True, "name": "Léa M."})
        assert linked.id == local.id and linked.email_verified_at is not None
        assert linked.display_name == "Léa"  # the local account's own name is kept
        again = oidc.account_for(session, ISSUER, {"sub": "s-1", "email": "changed@example.org"})
        assert again.id == local.id  # the identity, not the e-mail, finds it afterwards

        create_user(session, "max@example.org", PASSWORD, "Max")
        try:
            oidc.account_for(session, ISSUER, {"sub": "s-2", "email": "max@example.org",
                                               "email_verified": False})
        except oidc.OidcRefused as exc:
            assert exc.code == "oidc_email_unverified"
        else:
            raise AssertionError("an unverified address took over an account")

        new = oidc.account_for(session, ISSUER, {"sub": "s-3", "email": "neo@example.org",
                                                 "email_verified": True, "given_name": "Néo"})
        assert (new.email, new.display_name, new.password_hash) == ("neo@example.org", "Néo", None)
        assert {(i.subject, i.user_id) for i in session.scalars(select(UserIdentity))} >= {
            ("s-1", local.id), ("s-3", new.id)}
        session.rollback()


def test_web_sign_in_asks_for_the_code_on_its_own_page(client, session):
    email = sign_up(client)
    headers = {"Authorization": f"Bearer {bearer(client, email).json['access_token']}"}
    secret = client.post("/api/v1/me/totp", headers=headers).json["secret"]
    client.post("/api/v1/me/totp/confirm", json={"code": totp_code(secret)}, headers=headers)

    login = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.get_data(as_text=True)).group(1)
    step = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf})
    assert step.status_code == 302 and step.headers["Location"].endswith("/login/code")
    assert client.get("/account").status_code == 302  # not signed in yet
    page = client.get("/login/code").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    wrong = client.post("/login/code", data={"code": "000000", "csrf_token": csrf})
    assert wrong.status_code == 200 and "Code erroné ou déjà utilisé." in wrong.get_data(as_text=True)
    done = client.post("/login/code", data={"code": pyotp.TOTP(secret).at(__import__("time").time() + 30),
                                            "csrf_token": csrf})
    assert done.status_code == 302
    account = client.get("/account").get_data(as_text=True)
    assert "nina@example.org" in account and "10 codes de secours restants" in account


def test_staff_personas_of_the_fixtures_have_two_factor_on(make_user):
    admin: Api = make_user(("admin",))
    assert admin.get("/api/v1/me").json["active_roles"] == ["admin", "resident"]
