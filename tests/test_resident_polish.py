"""The resident's contribution page and sign-in, polished: "fixed / still there" on a resolved
report (without JavaScript), the public history in words (never a raw code), the demo badge
apart from the status, the follow button's state, shared links' previews, and the way from
sign-in to a new password."""

from __future__ import annotations

import io
import json
import re

from markupsafe import escape
from PIL import Image
from sqlalchemy import text

from tests.conftest import browser, feature

RESOLVE = {"to": "resolved", "resolution": "fixed", "public_note": "Nettoyé."}


def fr(app, msgid: str, **params) -> str:
    """`msgid` as the French pages show it, from the catalogue: its French once translated
    (the FR dict of this work goes into translations/fr). Templates' own strings are not
    escaped (Jinja's i18n marks them safe); a message passed as a value is."""
    from flask_babel import force_locale, gettext

    with app.test_request_context(), force_locale("fr"):
        return gettext(msgid, **params)


def csrf(page, path: str) -> str:
    html = page.get(path).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def resolved_report(make_user, make_report, follower=None):
    """A report by the `resident` fixture, `follower` following it first, then resolved."""
    rid = make_report(title="Tags sur la porte")["id"]
    if follower is not None:
        assert follower.put(f"/api/v1/reports/{rid}/follow").status_code == 200
    supervisor = make_user(roles=("supervisor",), name="Service")
    r = supervisor.post(f"/api/v1/reports/{rid}/transitions", json=RESOLVE)
    assert r.status_code == 201, r.get_json()
    return rid, supervisor


def feedback_box(html: str) -> str:
    if 'id="feedback"' not in html:
        return ""
    start = html.index('id="feedback"')
    return html[start:html.index("</section>", start)]


def test_feedback_buttons_only_for_the_reporter_and_early_followers_once_resolved(
        client, session, resident, make_user, make_report):
    early = make_user(name="Early")
    rid, supervisor = resolved_report(make_user, make_report, follower=early)
    late, stranger = make_user(name="Late"), make_user(name="Stranger")
    assert late.put(f"/api/v1/reports/{rid}/follow").status_code == 200  # after the resolution

    for who in (resident, early):
        box = feedback_box(browser(client, session, who).get(f"/c/{rid}").get_data(as_text=True))
        assert fr(client.application, "Is the problem fixed?") in box
        assert f'action="/c/{rid}/feedback"' in box and 'method="post"' in box
        assert 'name="value" value="fixed"' in box and 'name="value" value="still_there"' in box
        assert fr(client.application, "Fixed") in box and fr(client.application, "Still there") in box
    for page in (client, browser(client, session, late), browser(client, session, stranger),
                 browser(client, session, supervisor)):
        assert feedback_box(page.get(f"/c/{rid}").get_data(as_text=True)) == ""

    # not resolved: no buttons, even for its reporter
    open_id = make_report(title="Pas encore traité")["id"]
    assert feedback_box(browser(client, session, resident).get(f"/c/{open_id}").get_data(as_text=True)) == ""


def test_fixed_is_recorded_once_and_said(client, session, resident, make_user, make_report):
    rid, _ = resolved_report(make_user, make_report)
    page = browser(client, session, resident)
    token = csrf(page, f"/c/{rid}")
    r = page.post(f"/c/{rid}/feedback", data={"csrf_token": token, "value": "fixed"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/c/{rid}#feedback")
    box = feedback_box(page.get(f"/c/{rid}").get_data(as_text=True))
    assert 'role="status"' in box and fr(client.application, "Thank you: you confirmed the fix.") in box
    assert 'value="fixed"' not in box  # answered: no more buttons
    assert session.scalar(text("SELECT count(*) FROM fix_feedback WHERE contribution_id = :c"),
                          {"c": rid}) == 1
    # later visits say it was answered; a second post is refused, and says so
    again = feedback_box(page.get(f"/c/{rid}").get_data(as_text=True))
    assert fr(client.application, "You confirmed the fix. Thank you.") in again
    assert 'value="fixed"' not in again
    page.post(f"/c/{rid}/feedback", data={"csrf_token": token, "value": "still_there"})
    box = feedback_box(page.get(f"/c/{rid}").get_data(as_text=True))
    assert "Vous avez déjà répondu depuis la résolution de ce signalement." in box  # the refusal
    assert session.scalar(text("SELECT status FROM contributions WHERE id = :c"), {"c": rid}) == "resolved"


def test_still_there_reopens_the_report_and_the_history_says_it_in_words(
        client, session, resident, make_user, make_report):
    rid, _ = resolved_report(make_user, make_report)
    page = browser(client, session, resident)
    token = csrf(page, f"/c/{rid}")
    # a form without its CSRF token is refused
    assert page.post(f"/c/{rid}/feedback", data={"value": "still_there"}).status_code == 400
    r = page.post(f"/c/{rid}/feedback", data={"csrf_token": token, "value": "still_there"})
    assert r.status_code == 302
    html = page.get(f"/c/{rid}").get_data(as_text=True)
    assert str(escape(fr(client.application, "Thank you: the report is reopened and goes back to "
                                             "the city's services."))) in feedback_box(html)
    assert session.scalar(text("SELECT status FROM contributions WHERE id = :c"), {"c": rid}) == "acknowledged"

    history = html[html.index('id="history"'):html.index("</ol>", html.index('id="history"'))]
    assert "still_there" not in html
    feedback = fr(client.application, "Resident's feedback:")
    assert f'{feedback} {fr(client.application, "Still there")}' in history
    assert "Le problème a été résolu." in history  # the resolution, in words
    assert "Pris en compte" in history

    english = page.get(f"/c/{rid}?lang=en").get_data(as_text=True)
    history = english[english.index('id="history"'):english.index("</ol>", english.index('id="history"'))]
    assert "still_there" not in english
    assert "Resident's feedback: Still there" in history
    assert "The problem was fixed." in history

    # the API answers as before: the code, for programs
    assert resident.get(f"/api/v1/reports/{rid}/history").get_json()["history"][-1]["public_note"] == "still_there"


def test_a_wrong_value_or_an_anonymous_post_changes_nothing(client, session, resident, make_user, make_report):
    rid, _ = resolved_report(make_user, make_report)
    page = browser(client, session, resident)
    token = csrf(page, f"/c/{rid}")
    page.post(f"/c/{rid}/feedback", data={"csrf_token": token, "value": "whatever"})
    assert 'value="fixed"' in feedback_box(page.get(f"/c/{rid}").get_data(as_text=True))
    anonymous = client.application.test_client()
    token = csrf(anonymous, f"/c/{rid}")
    r = anonymous.post(f"/c/{rid}/feedback", data={"csrf_token": token, "value": "fixed"})
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert session.scalar(text("SELECT count(*) FROM fix_feedback WHERE contribution_id = :c"),
                          {"c": rid}) == 0


def test_demo_badge_stands_apart_from_the_status(client, session, resident, make_user, make_report):
    rid, _ = resolved_report(make_user, make_report)
    session.execute(text("INSERT INTO status_events (contribution_id, created_at, from_status, to_status, "
                         "is_demo) VALUES (:c, now(), 'resolved', 'acknowledged', true)"), {"c": rid})
    session.commit()
    html = client.get(f"/c/{rid}").get_data(as_text=True)
    history = html[html.index('id="history"'):html.index("</ol>", html.index('id="history"'))]
    assert f'<br><span class="badge badge-demo">{fr(client.application, "Demo data")}</span>' in history
    english = client.get(f"/c/{rid}?lang=en").get_data(as_text=True)
    assert '<br><span class="badge badge-demo">Demo data</span>' in english
    assert "données de démonstration" not in html  # the old lower-case tail of the status


def test_follow_button_says_whether_i_follow(client, session, resident, make_report):
    rid = make_report()["id"]
    page = browser(client, session, resident)
    html = page.get(f"/c/{rid}?lang=en").get_data(as_text=True)
    button = html[html.index('id="follow-button"'):html.index("</button>", html.index('id="follow-button"'))]
    assert 'aria-pressed="false"' in button
    assert re.search(r'<span class="follow-off">Follow</span>', button)
    assert re.search(r'<span class="follow-on" hidden>Following ✓ \(unfollow\)</span>', button)
    assert 'id="followers-count"' not in button  # the count is text of its own
    assert 'Followers: <span id="followers-count">0</span>' in html
    assert resident.put(f"/api/v1/reports/{rid}/follow").status_code == 200
    html = page.get(f"/c/{rid}").get_data(as_text=True)
    button = html[html.index('id="follow-button"'):html.index("</button>", html.index('id="follow-button"'))]
    assert 'aria-pressed="true"' in button
    assert f'<span class="follow-on">{fr(client.application, "Following ✓ (unfollow)")}</span>' in button
    assert '<span class="follow-off" hidden>Suivre</span>' in button
    assert f'{fr(client.application, "Followers:")} <span id="followers-count">1</span>' in html


def test_shared_links_have_a_preview(client, resident, make_report):
    rid = make_report(title="Trottoir <défoncé>", description="Un trou profond\n devant l'école.")["id"]
    html = client.get(f"/c/{rid}").get_data(as_text=True)
    head = html[:html.index("</head>")]
    meta = dict(re.findall(r'<meta (?:property|name)="((?:og|twitter):[\w:]+)" content="([^"]*)"', head))
    assert meta["og:title"] == meta["twitter:title"] == "Trottoir &lt;défoncé&gt;"
    assert meta["og:description"] == "Un trou profond devant l&#39;école."
    assert meta["og:url"] == f"http://localhost/c/{rid}"
    assert meta["og:image"] == meta["twitter:image"] == "http://localhost/static/img/share-card.png"
    assert meta["twitter:card"] == "summary" and meta["og:type"] == "article"
    body = html[html.index("<body"):]
    assert 'id="share-native" hidden' in body and 'id="share-copy"' in body


def test_preview_image_is_the_first_photo(client, resident, session):
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (30, 120, 60)).save(out, "JPEG")
    r = resident.post("/api/v1/reports", data={
        "feature": json.dumps(feature(title="Avec photo")),
        "photos": (io.BytesIO(out.getvalue()), "a.jpg", "image/jpeg")},
        content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    rid = r.get_json()["id"]
    sha = session.scalar(text("SELECT sha256 FROM photos WHERE contribution_id = :c ORDER BY position LIMIT 1"),
                         {"c": rid})
    head = client.get(f"/c/{rid}").get_data(as_text=True).split("</head>")[0]
    assert f'<meta property="og:image" content="http://localhost/media/photos/{sha}.jpg">' in head
    assert '<meta name="twitter:card" content="summary_large_image">' in head


def test_sign_in_links_to_the_password_reset_flow(client, session, resident):
    login = client.get("/login").get_data(as_text=True)
    assert '<a href="/forgot-password">Mot de passe oublié ?</a>' in login
    assert "Forgotten password?" in client.get("/login?lang=en").get_data(as_text=True)
    forgot = client.get("/forgot-password")
    assert forgot.status_code == 200 and 'name="email"' in forgot.get_data(as_text=True)
    token = csrf(client, "/forgot-password")
    sent = client.post("/forgot-password", data={"csrf_token": token, "email": resident.email})
    assert sent.status_code == 200
    assert fr(client.application, "If an account has this address, we sent it a link to choose a new password. "
              "It works for an hour.") in sent.get_data(as_text=True)
    body = session.scalar(text("SELECT body FROM outbox WHERE recipient = :r ORDER BY id DESC LIMIT 1"),
                          {"r": resident.email})
    link = re.search(r"/reset-password/([A-Za-z0-9_-]{20,})", body).group(1)
    page = client.get(f"/reset-password/{link}")
    assert page.status_code == 200 and 'name="new_password"' in page.get_data(as_text=True)
    done = client.post(f"/reset-password/{link}", data={"csrf_token": token, "token": link,
                                                         "new_password": "a brand new password"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    assert client.post("/api/v1/auth/token", json={"email": resident.email,
                                                   "password": "a brand new password"}).status_code == 201
