"""Accounts: registration, argon2 hashes, tokens, roles, the users CLI."""

from sqlalchemy import select, text

from app.accounts.models import ApiToken, User


def register(client, **overrides):
    body = {"email": "Zoe@Example.org", "password": "a long enough password", "display_name": "Zoé"}
    return client.post("/api/v1/auth/register", json={**body, **overrides})


def test_register_then_token_then_me(client, session):
    r = register(client)
    assert r.status_code == 202 and r.json["detail"].startswith("C'est fait")
    user = session.scalar(select(User).where(User.email == "zoe@example.org"))
    assert user.roles == ["resident"] and user.display_name == "Zoé"
    assert user.password_hash.startswith("$argon2id$")
    assert "a long enough password" not in user.password_hash

    r = client.post("/api/v1/auth/token",
                    json={"email": "ZOE@example.org", "password": "a long enough password"})
    assert r.status_code == 201 and r.json["token_type"] == "Bearer"
    token = r.json["access_token"]
    stored = session.scalar(select(ApiToken.token_hash).where(ApiToken.user_id == user.id))
    assert stored != token.encode() and len(stored) == 32  # only the SHA-256 is stored

    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json["display_name"] == "Zoé"

    out = client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert out.status_code == 204
    again = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 401 and again.json["code"] == "unauthorized"


def test_register_errors_are_field_errors(client):
    r = client.post("/api/v1/auth/register",
                    json={"email": "not-an-email", "password": "short", "display_name": ""})
    assert r.status_code == 422
    assert r.content_type == "application/problem+json"
    assert {(e["field"], e["code"]) for e in r.json["errors"]} == {
        ("email", "invalid_email"), ("password", "weak_password"), ("display_name", "required")}


def test_sign_up_does_not_tell_whether_an_email_has_an_account(client, session):
    """Same status, same body for a new and a taken address; the owner of the taken one is
    told by e-mail, and their account is untouched."""
    first = register(client)
    again = register(client, email="ZOE@example.org", password="another long password",
                     display_name="Usurpateur")
    assert (again.status_code, again.json) == (first.status_code, first.json) == (202, first.json)
    users = session.scalars(select(User).where(User.email == "zoe@example.org")).all()
    assert [u.display_name for u in users] == ["Zoé"]
    mails = session.execute(text("SELECT subject FROM outbox WHERE recipient = 'zoe@example.org' "
                                 "ORDER BY id")).scalars().all()
    assert mails == ["[Cartagora] Votre compte est prêt / Your account is ready",
                     "[Cartagora] Vous avez déjà un compte / You already have an account"]
    r = client.post("/api/v1/auth/token", json={"email": "zoe@example.org", "password": "another long password"})
    assert r.status_code == 401  # the intruder's password does nothing


def test_wrong_password_is_401(client):
    register(client)
    r = client.post("/api/v1/auth/token", json={"email": "zoe@example.org", "password": "nope nope nope"})
    assert r.status_code == 401 and r.json["code"] == "invalid_credentials"
    r = client.post("/api/v1/auth/token", json={"email": "ghost@example.org", "password": "nope nope nope"})
    assert r.status_code == 401 and r.json["code"] == "invalid_credentials"


def test_bad_token_is_401_not_anonymous(client):
    r = client.get("/api/v1/reports?limit=1", headers={"Authorization": "Bearer forged"})
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_cli_creates_staff_accounts(runner, session):
    result = runner.invoke(args=["users", "create", "--email", "Agent@Paris.fr", "--password",
                                 "agent password 1", "--role", "agent", "--role", "planner"])
    assert result.exit_code == 0, result.output
    user = session.scalar(select(User).where(User.email == "agent@paris.fr"))
    assert user.roles == ["agent", "planner", "resident"]
    dup = runner.invoke(args=["users", "create", "--email", "agent@paris.fr", "--password",
                              "agent password 1"])
    assert dup.exit_code != 0 and "already uses" in dup.output
