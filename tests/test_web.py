"""The pages: French by default and English by choice, escaped user text, CSRF on forms and on
cookie-authenticated API calls, the security headers, complete translations."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from app.web.i18n import js_strings
from app.web.security import tile_source
from tests.conftest import feature

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def csrf(client, path="/") -> str:
    return META_CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def sign_up(client, email="web@example.org", name="Zoé") -> str:
    """Sign up, then sign in on the page it leads to (the same whether or not the address had
    an account); returns the fresh session's CSRF token."""
    token = csrf(client, "/signup")
    r = client.post("/signup", data={"csrf_token": token, "display_name": name, "email": email,
                                     "password": "un mot de passe assez long", "next": "/me/contributions"})
    assert r.status_code == 302 and r.headers["Location"] == "/login?next=/me/contributions"
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "elle en a un maintenant" in page and f'value="{email}"' in page
    r = client.post("/login", data={"csrf_token": token, "email": email,
                                    "password": "un mot de passe assez long", "next": "/me/contributions"})
    assert r.status_code == 302 and r.headers["Location"] == "/me/contributions"
    return csrf(client, "/")  # a fresh session: a new token


def test_map_page_in_french_by_default(client):
    r = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert '<html lang="fr">' in html
    assert "Contribuer" in html and "Signalements" in html and "Tout Paris" in html
    assert '<option value="4">4e — Hôtel-de-Ville</option>' in html
    assert '<option value="1">1er — Louvre</option>' in html
    # every script and stylesheet comes from the app itself
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert url.startswith(("/", "#")), url


def test_english_by_choice_and_for_one_page(client):
    r = client.get("/lang/en?next=/c/1%3Flang%3Dfr")
    assert r.status_code == 302 and r.headers["Location"] == "/c/1?lang=fr"
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="en">' in html and "Contribute" in html and "All of Paris" in html
    assert '<option value="2">2nd — Bourse</option>' in html
    assert '<option value="13">13th — Gobelins</option>' in html
    assert '<html lang="fr">' in client.get("/?lang=fr").get_data(as_text=True)
    assert "Contribute" in client.get("/").get_data(as_text=True)  # the choice is remembered


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "javascript:alert(1)"])
def test_redirects_stay_on_the_site(client, target):
    r = client.get("/lang/en", query_string={"next": target})
    assert r.headers["Location"] == "/"


def test_security_headers_forbid_inline_scripts(client, app):
    r = client.get("/")
    csp = dict(part.strip().split(" ", 1) for part in r.headers["Content-Security-Policy"].split(";"))
    assert csp["script-src"] == "'self'"
    assert csp["style-src"] == "'self'"
    assert csp["default-src"] == "'self'" and csp["connect-src"] == "'self'"
    assert csp["img-src"].split() == ["'self'", "data:", "blob:", tile_source(app.config["TILE_URL"])]
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    html = r.get_data(as_text=True)
    # no inline script may run: the only inline <script> blocks are JSON data
    for attrs in re.findall(r"<script([^>]*)>", html):
        assert "src=" in attrs or 'type="application/json"' in attrs, attrs
    assert not re.search(r"<[^>]+\son[a-z]+=", html)  # no inline event handlers
    assert not re.search(r"<[^>]+\sstyle=", html)  # no inline styles


def test_tile_host_with_subdomains_is_allowed(app):
    from app.web.security import content_security_policy

    assert tile_source("https://{s}.tile.example.org/{z}/{x}/{y}.png") == "https://*.tile.example.org"
    assert tile_source("/tiles/{z}/{x}/{y}.png") is None
    assert "img-src 'self' data: blob:;" in content_security_policy("/tiles/{z}/{x}/{y}.png") + ";"


def test_contribution_page_escapes_user_text(client, resident):
    r = resident.post("/api/v1/reports", json=feature(
        title="<script>alert('t')</script>", description="<img src=x onerror=alert(1)>\nligne 2"))
    cid = r.get_json()["id"]
    resident.post(f"/api/v1/reports/{cid}/comments", json={"body": "<b>gras</b> & co"})
    html = client.get(f"/c/{cid}").get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>gras</b>" not in html
    assert "&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;" in html
    assert "&lt;b&gt;gras&lt;/b&gt; &amp; co" in html
    assert "Graffitis, tags, affiches et autocollants" in html
    assert "4e arrondissement (Hôtel-de-Ville)" in html and "Quartier Notre-Dame" in html
    assert "Commentaires (<span id=\"comments-count\">1</span>)" in html
    assert "Connectez-vous pour voter et commenter" in html


def test_contribution_page_shows_my_vote(client, resident):
    cid = resident.post("/api/v1/reports", json=feature()).get_json()["id"]
    sign_up(client)
    token = csrf(client)
    assert client.put(f"/api/v1/reports/{cid}/vote", json={"value": 1},
                      headers={"X-CSRF-Token": token}).status_code == 200
    html = client.get(f"/c/{cid}").get_data(as_text=True)
    assert re.search(r'class="button vote" data-value="1" aria-pressed="true"', html)
    assert "1 personne a le même problème." in html


def test_unknown_or_withdrawn_contribution_is_a_404_page(client, resident):
    assert client.get("/c/999999999").status_code == 404
    cid = resident.post("/api/v1/reports", json=feature()).get_json()["id"]
    resident.delete(f"/api/v1/reports/{cid}")
    r = client.get(f"/c/{cid}")
    assert r.status_code == 404 and "Introuvable" in r.get_data(as_text=True)


def test_sign_up_sign_in_sign_out(client, session):
    # a form without the session's token is refused
    r = client.post("/signup", data={"display_name": "X", "email": "x@example.org", "password": "p" * 12})
    assert r.status_code == 400
    sign_up(client, "zoe@example.org")
    html = client.get("/me/contributions").get_data(as_text=True)
    assert "Mes contributions" in html and "encore rien publié." in html
    token = csrf(client)
    r = client.post("/logout", data={"csrf_token": token, "next": "/c/12"})
    assert r.status_code == 302 and r.headers["Location"] == "/c/12"
    assert client.get("/me/contributions").headers["Location"] == "/login?next=/me/contributions"
    # wrong password, then right
    token = csrf(client, "/login")
    r = client.post("/login", data={"csrf_token": token, "email": "zoe@example.org", "password": "nope"})
    assert "E-mail ou mot de passe incorrect." in r.get_data(as_text=True)
    r = client.post("/login", data={"csrf_token": token, "email": "ZOE@example.org",
                                    "password": "un mot de passe assez long", "next": "/?z=14"})
    assert r.status_code == 302 and r.headers["Location"] == "/?z=14"
    assert "Mon compte" in client.get("/").get_data(as_text=True)


def test_sign_up_errors_next_to_their_field(client, resident):
    token = csrf(client, "/signup")
    r = client.post("/signup?lang=en", data={"csrf_token": token, "display_name": "",
                                              "email": "not-an-email", "password": "short"})
    html = r.get_data(as_text=True)
    assert 'id="f-display_name-error">This field is required.<' in html
    assert 'id="f-email-error">Invalid e-mail address.<' in html
    assert 'id="f-password-error">The password must be at least 10 characters long.<' in html
    assert html.count('aria-invalid="true"') == 3
    r = client.post("/signup", data={"csrf_token": token, "display_name": "Bis", "email": resident.email,
                                     "password": "un mot de passe assez long"})
    assert r.status_code == 302 and r.headers["Location"] == "/login"  # as for a new address


def test_api_accepts_the_session_cookie_only_with_the_csrf_header(client, resident):
    sign_up(client)
    token = csrf(client)
    body = feature(title="Depuis la carte")
    assert client.get("/api/v1/me").get_json()["display_name"] == "Zoé"
    r = client.post("/api/v1/reports", json=body)
    assert r.status_code == 403 and r.content_type == "application/problem+json"
    assert client.post("/api/v1/reports", json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
    r = client.post("/api/v1/reports", json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 201 and r.get_json()["properties"]["author"] == "Zoé"
    # bearer tokens keep working, with no CSRF header
    assert resident.post("/api/v1/reports", json=feature(title="Par jeton")).status_code == 201


def test_french_catalog_is_complete_and_compiled():
    po = TRANSLATIONS / "fr" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as f:
        catalog = read_po(f)
    untranslated = [m.id for m in catalog if m.id and (not m.string or (
        isinstance(m.string, tuple) and not all(m.string)))]
    assert untranslated == []
    assert not [m.id for m in catalog if m.id and m.fuzzy]
    with (po.with_suffix(".mo")).open("rb") as f:
        compiled = read_mo(f)

    def entries(messages):
        def frozen(value):
            return tuple(value) if isinstance(value, list | tuple) else value
        def text(value):  # read_mo gives contexts as bytes
            return value.decode() if isinstance(value, bytes) else value
        return {(frozen(m.id), text(m.context)): frozen(m.string) for m in messages if m.id}

    assert entries(compiled) == entries(catalog)  # the .mo is compiled from this .po


def test_every_string_of_the_pages_is_in_the_catalog(tmp_path):
    pot = tmp_path / "messages.pot"
    pybabel = Path(sys.executable).parent / "pybabel"
    subprocess.run([str(pybabel), "-q", "extract", "-F", "babel.cfg", "-k", "_l", "-k", "_lp:1c,2",
                    "-o", str(pot), "."], cwd=ROOT, check=True)
    with pot.open("rb") as f:
        extracted = {(m.id if isinstance(m.id, str) else m.id[0], m.context) for m in read_po(f) if m.id}
    with (TRANSLATIONS / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        translated = {(m.id if isinstance(m.id, str) else m.id[0], m.context) for m in read_po(f) if m.id}
    assert extracted - translated == set()


def test_scripts_use_only_known_string_keys(app):
    with app.test_request_context():
        keys = set(js_strings())
    used = set()
    for path in (ROOT / "static" / "js").rglob("*.js"):
        source = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"\bt\('([\w.]+)'", source))
        used |= {f"{k}_other" for k in re.findall(r"\btn\('([\w.]+)'", source)}
        # no user-facing text built in JS: every text node comes from t()/tn() or the data
        assert not re.search(r"text: '[A-Za-zÀ-ÿ ]{3,}'", source), path
        assert "innerHTML" not in source, path
    dynamic = {k for k in used if "${" in k}
    assert used - dynamic - keys == set()


def test_contribution_page_shows_the_status_history_and_follow(client, resident, make_user):
    cid = resident.post("/api/v1/reports", json=feature(category="eclairage", title="Réverbère éteint")
                        ).get_json()["id"]
    supervisor = make_user(roles=("supervisor",), name="Service")
    r = supervisor.post(f"/api/v1/reports/{cid}/transitions", json={
        "to": "scheduled", "planned_for": "2026-12-04", "public_note": "Une équipe passera <jeudi>.",
        "internal_note": "Nacelle nécessaire"})
    assert r.status_code == 201, r.get_json()
    html = client.get(f"/c/{cid}").get_data(as_text=True)
    history = html[html.index('id="history"'):html.index("</ol>", html.index('id="history"'))]
    assert history.count("<li>") == 2
    assert "Nouveau" in history and "Intervention programmée" in history
    assert "Prévue le 4 décembre 2026" in history
    assert "Une équipe passera &lt;jeudi&gt;." in history
    assert "Nacelle" not in html  # internal notes are for staff only
    assert 'id="follow-button"' in html and "disabled" in html[html.index('id="follow-button"'):][:300]
    english = client.get(f"/c/{cid}?lang=en").get_data(as_text=True)
    assert "Planned for December 4, 2026" in english and "Scheduled" in english

    sign_up(client, "suivi@example.org")
    token = csrf(client)
    r = client.put(f"/api/v1/reports/{cid}/follow", headers={"X-CSRF-Token": token})
    assert r.get_json() == {"following": True, "followers_count": 1}
    html = client.get(f"/c/{cid}").get_data(as_text=True)
    button = html[html.index('id="follow-button"'):][:400]
    assert 'aria-pressed="true"' in button and 'id="followers-count">1<' in button
