"""Area alerts: the API (each kind of area, limits, duplicates, validation, privacy), the daily
digest (in the radius or not by 10 m, hidden ones never, once a day, "and N more"), the
one-click unsubscribe and account deletion."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from pyproj import Geod
from sqlalchemy import text

from app.alerts import services
from app.field.delivery import _message
from app.field.models import OutboxMessage
from tests.conftest import NOTRE_DAME, browser

ALERTS = "/api/v1/me/alerts"
GEOD = Geod(ellps="WGS84")


def at(distance_m: float, azimuth: float = 0.0, origin=NOTRE_DAME) -> tuple[float, float]:
    """The point `distance_m` metres from `origin` towards `azimuth` (degrees from north)."""
    lon, lat, _ = GEOD.fwd(origin[0], origin[1], azimuth, distance_m)
    return lon, lat


@pytest.fixture
def follower(make_user, verify):
    return verify(make_user(name="Bérénice Veilleuse"))


def radius_body(lon=NOTRE_DAME[0], lat=NOTRE_DAME[1], radius_m=200, **extra) -> dict:
    return {"area": "radius", "point": {"type": "Point", "coordinates": [lon, lat]}, "radius_m": radius_m,
            "label": "Parvis Notre-Dame", **extra}


def problem(r) -> tuple[int, str, list]:
    assert r.content_type == "application/problem+json", r.data
    return r.status_code, r.json["code"], [(e["field"], e["code"]) for e in r.json.get("errors", [])]


# ---- the API ------------------------------------------------------------------------------------

def test_follow_an_arrondissement_a_quartier_and_a_radius(follower):
    r = follower.post(ALERTS + "?lang=en", json={"area": "arrondissement", "arrondissement": 11})
    assert r.status_code == 201, r.json
    assert r.headers["Location"].endswith(f"{ALERTS}/{r.json['id']}")
    assert follower.get(r.headers["Location"] + "?lang=en").json == r.json
    assert (r.json["area"], r.json["arrondissement"], r.json["kinds"]) == ("arrondissement", 11, "both")
    assert r.json["description"] == "11th arrondissement (Popincourt)"
    assert r.json["list_url"] == "/?arrondissement=11"
    r = follower.post(ALERTS + "?lang=en", json={"area": "quartier", "quartier": 2, "kinds": "proposals"})
    assert r.status_code == 201, r.json
    assert (r.json["quartier"], r.json["kinds"], r.json["description"]) == (2, "proposals", "Quartier Halles (1st)")
    assert r.json["list_url"].startswith("/?kind=proposal&lat=48.86")
    r = follower.post(ALERTS + "?lang=en", json=radius_body(2.3499004, 48.8530004, 300, kinds="reports"))
    assert r.status_code == 201, r.json
    assert r.json["geometry"] == {"type": "Point", "coordinates": [2.3499, 48.853]}  # to the micro-degree
    assert (r.json["radius_m"], r.json["label"]) == (300, "Parvis Notre-Dame")
    assert r.json["description"] == "Within 300 m of Parvis Notre-Dame"
    listed = follower.get(ALERTS).json
    assert listed["max"] == services.ALERTS_MAX
    assert [(a["area"], a["arrondissement"], a["quartier"], a["radius_m"]) for a in listed["alerts"]] == [
        ("arrondissement", 11, None, None), ("quartier", None, 2, None), ("radius", None, None, 300)]
    assert all(a["last_sent_at"] is None for a in listed["alerts"])


def test_a_radius_without_a_radius_takes_the_default(follower):
    body = radius_body()
    del body["radius_m"]
    r = follower.post(ALERTS, json=body)
    assert r.status_code == 201, r.json
    assert r.json["radius_m"] == services.RADIUS_M[2]


@pytest.mark.parametrize(("body", "expected"), [
    ({"area": "radius", "radius_m": 300}, [("point", "required")]),
    ({"area": "arrondissement"}, [("arrondissement", "required")]),
    ({"area": "quartier", "quartier": 81}, [("quartier", "out_of_range")]),
    ({"area": "arrondissement", "arrondissement": 4, "quartier": 2}, [("quartier", "not_allowed")]),
    ({"area": "quartier", "quartier": 2, "radius_m": 500}, [("radius_m", "not_allowed")]),
    ({"area": "district", "arrondissement": 4}, [("area", "invalid_value")]),
    ({"area": "arrondissement", "arrondissement": 4, "kinds": "petitions"}, [("kinds", "invalid_value")]),
    ({"area": "arrondissement", "arrondissement": 4, "every": "day"}, [("every", "unknown_field")]),
    (radius_body(radius_m=50), [("radius_m", "out_of_range")]),
    (radius_body(radius_m=2001), [("radius_m", "out_of_range")]),
    (radius_body(lon=4.8357, lat=45.764), [("point", "outside_paris")]),  # Lyon
], ids=["no point", "no arrondissement", "quartier 81", "two areas", "radius of a quartier", "unknown area",
        "unknown kinds", "unknown member", "radius 50", "radius 2001", "outside Paris"])
def test_invalid_alerts_are_problems_with_their_field(follower, body, expected):
    status, code, errors = problem(follower.post(ALERTS, json=body))
    # a place outside Paris is the whole problem's code too (as for contributions)
    top = "outside_paris" if expected[0][1] == "outside_paris" else "validation_failed"
    assert (status, code, errors) == (422, top, expected)
    assert follower.get(ALERTS).json["alerts"] == []


def test_one_alert_per_area_and_at_most_the_limit(follower):
    assert follower.post(ALERTS, json={"area": "arrondissement", "arrondissement": 4}).status_code == 201
    assert problem(follower.post(ALERTS, json={"area": "arrondissement", "arrondissement": 4, "kinds": "reports"})) \
        == (409, "alert_exists", [])
    assert follower.post(ALERTS, json=radius_body()).status_code == 201
    # the same point (to the micro-degree) and radius; another radius is another area
    assert problem(follower.post(ALERTS, json=radius_body(lon=NOTRE_DAME[0] + 4e-7)))[:2] == (409, "alert_exists")
    assert follower.post(ALERTS, json=radius_body(radius_m=500)).status_code == 201
    for quartier in range(1, services.ALERTS_MAX - 3 + 1):
        assert follower.post(ALERTS, json={"area": "quartier", "quartier": quartier}).status_code == 201
    assert len(follower.get(ALERTS).json["alerts"]) == services.ALERTS_MAX
    status, code, _ = problem(follower.post(ALERTS, json={"area": "quartier", "quartier": 70}))
    assert (status, code) == (409, "too_many_alerts")
    assert len(follower.get(ALERTS).json["alerts"]) == services.ALERTS_MAX


def test_an_unconfirmed_address_or_nobody_cannot_follow(make_user, client):
    unverified = make_user()
    assert problem(unverified.post(ALERTS, json={"area": "arrondissement", "arrondissement": 4}))[:2] == \
        (403, "email_unverified")
    assert problem(client.post(ALERTS, json={"area": "arrondissement", "arrondissement": 4}))[:2] == \
        (401, "unauthorized")
    assert problem(client.get(ALERTS))[:2] == (401, "unauthorized")


def test_alerts_are_private_to_their_account(follower, make_user, verify):
    other = verify(make_user())
    mine = follower.post(ALERTS, json={"area": "arrondissement", "arrondissement": 4}).json["id"]
    assert other.get(ALERTS).json["alerts"] == []
    assert problem(other.get(f"{ALERTS}/{mine}"))[:2] == (404, "alert_not_found")
    assert problem(other.delete(f"{ALERTS}/{mine}"))[:2] == (404, "alert_not_found")
    assert [a["id"] for a in follower.get(ALERTS).json["alerts"]] == [mine]
    assert follower.delete(f"{ALERTS}/{mine}").status_code == 204
    assert follower.get(ALERTS).json["alerts"] == []
    assert problem(follower.delete(f"{ALERTS}/{mine}"))[:2] == (404, "alert_not_found")


# ---- the digest ---------------------------------------------------------------------------------

def backdate(session, alert_id: int, *report_ids: int, hours: float = 1) -> None:
    """Start the alert's window two days ago; the reports created `hours` ago (inside it)."""
    session.execute(text("UPDATE area_alerts SET seen_until = now() - interval '2 days' WHERE id = :a"),
                    {"a": alert_id})
    if report_ids:
        session.execute(text("UPDATE contributions SET created_at = :t WHERE id = ANY(:ids)"),
                        {"t": datetime.now(UTC) - timedelta(hours=hours), "ids": list(report_ids)})
    session.commit()


def mails_to(session, email: str) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.query(OutboxMessage).filter(OutboxMessage.recipient == email).order_by(OutboxMessage.id))


def digest(runner, *args) -> str:
    result = runner.invoke(args=["alerts", "digest", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_digest_tells_what_is_inside_the_radius_and_public_only(follower, make_report, session, runner,
                                                                    monkeypatch):
    monkeypatch.setattr("app.messages.DEFAULT_LANGUAGE", "en")
    alert = follower.post(ALERTS, json=radius_body(radius_m=200, kinds="reports")).json["id"]
    inside = make_report(lon=at(150)[0], lat=at(150)[1], title="Tags dans le rayon")["id"]
    outside = make_report(lon=at(210, 90)[0], lat=at(210, 90)[1], title="Tags à dix mètres de trop")["id"]
    hidden = make_report(lon=at(50, 180)[0], lat=at(50, 180)[1], title="Tags masqués")["id"]
    withdrawn = make_report(lon=at(60, 270)[0], lat=at(60, 270)[1], title="Tags retirés")["id"]
    session.execute(text("UPDATE contributions SET hidden = true WHERE id = :i"), {"i": hidden})
    session.execute(text("UPDATE contributions SET withdrawn_at = now() WHERE id = :i"), {"i": withdrawn})
    backdate(session, alert, inside, outside, hidden, withdrawn)
    distances = session.execute(text(
        "SELECT id, ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography) "
        "FROM contributions WHERE id IN (:a, :b)"), {"x": NOTRE_DAME[0], "y": NOTRE_DAME[1], "a": inside,
                                                   "b": outside}).all()
    assert {i: round(d) for i, d in distances} == {inside: 150, outside: 210}

    assert "e-mails queued: 1" in digest(runner)
    [mail] = mails_to(session, follower.email)
    assert mail.subject == "[Cartagora] Du nouveau : Dans un rayon de 200 m autour de Parvis Notre-Dame / " \
                           "What is new: Within 200 m of Parvis Notre-Dame"
    links = re.findall(r"/c/(\d+)", mail.body)
    assert links == [str(inside)]
    assert "Tags dans le rayon" in mail.body
    for absent in ("dix mètres", "masqués", "retirés", "Alice", "Bérénice"):
        assert absent not in mail.body  # neither outside, hidden, withdrawn, nor anyone's name
    assert re.search(r"^1 new contribution since \d+ November in the area you follow: Within 200 m of "
                     r"Parvis Notre-Dame\.$", mail.body, re.M)
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(r"<http://[^>]+/alerts/unsubscribe/[\w.-]+>", mail.headers["List-Unsubscribe"])
    sent = _message(mail, "Cartagora <no-reply@example.org>")
    assert sent["List-Unsubscribe"] == mail.headers["List-Unsubscribe"]
    assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    row = session.execute(text("SELECT digest_on, last_sent_at IS NOT NULL FROM area_alerts WHERE id = :a"),
                          {"a": alert}).one()
    assert row[1] is True


def test_the_digest_runs_once_a_day_and_never_repeats_an_item(follower, make_report, session, runner):
    alert = follower.post(ALERTS, json={"area": "arrondissement", "arrondissement": 4}).json["id"]
    first = make_report(title="Premier")["id"]
    backdate(session, alert, first)
    assert "alerts: 1, e-mails queued: 1" in digest(runner)
    second = make_report(title="Deuxième")["id"]
    session.execute(text("UPDATE contributions SET created_at = now() - interval '30 minutes' WHERE id = :i"),
                    {"i": second})
    session.commit()
    assert "alerts: 0, e-mails queued: 0" in digest(runner)  # the same day: nothing
    assert len(mails_to(session, follower.email)) == 1
    # a day passes (the world moves back a day): then the new one only, never the first again
    session.execute(text("UPDATE area_alerts SET digest_on = digest_on - 1, seen_until = seen_until - "
                         "interval '1 day' WHERE id = :a"), {"a": alert})
    session.execute(text("UPDATE contributions SET created_at = created_at - interval '1 day' WHERE id = :i"),
                    {"i": first})
    session.commit()
    assert "e-mails queued: 1" in digest(runner)
    mails = mails_to(session, follower.email)
    assert [re.findall(r"/c/(\d+)", m.body) for m in mails] == [[str(first)], [str(second)]]


def test_a_day_with_nothing_new_sends_nothing(follower, make_report, session, runner):
    alert = follower.post(ALERTS, json={"area": "arrondissement", "arrondissement": 11}).json["id"]
    make_report(title="Dans le 4e")  # not the 11e
    backdate(session, alert)
    assert "alerts: 1, e-mails queued: 0" in digest(runner)
    assert mails_to(session, follower.email) == []


def test_a_long_digest_lists_the_first_items_and_links_to_the_rest(follower, make_report, session, runner,
                                                                    monkeypatch):
    monkeypatch.setattr("app.messages.DEFAULT_LANGUAGE", "en")
    alert = follower.post(ALERTS, json={"area": "arrondissement", "arrondissement": 4, "kinds": "reports"}).json["id"]
    ids = [make_report(title=f"Tags {i}")["id"] for i in range(5)]
    backdate(session, alert, *ids)
    for n, report_id in enumerate(ids):  # oldest first: the listed ones are the first two
        session.execute(text("UPDATE contributions SET created_at = now() - make_interval(mins => 100 - :n) "
                             "WHERE id = :i"), {"n": n, "i": report_id})
    session.commit()
    digest(runner, "--max-items", "2")
    [mail] = mails_to(session, follower.email)
    assert re.findall(r"/c/(\d+)", mail.body) == [str(ids[0]), str(ids[1])]
    assert "in the area you follow: 4th arrondissement (Hôtel-de-Ville)." in mail.body
    assert mail.body.startswith("5 nouvelles contributions depuis le ")  # French first, then English
    assert "\n5 new contributions since " in mail.body
    assert "… et 3 autres sur la carte : / … and 3 more on the map:" in mail.body
    since = (datetime.now(UTC) - timedelta(days=2)).astimezone(services.PARIS).date().isoformat()
    assert f"/?kind=report&since={since}&status=all&arrondissement=4\n" in mail.body


def test_deleted_and_disabled_accounts_get_no_digest(follower, make_report, session, runner):
    alert = follower.post(ALERTS, json={"area": "arrondissement", "arrondissement": 4}).json["id"]
    backdate(session, alert, make_report()["id"])
    session.execute(text("UPDATE users SET is_active = false WHERE id = :u"), {"u": follower.user_id})
    session.commit()
    assert "alerts: 0, e-mails queued: 0" in digest(runner)


# ---- one-click unsubscribe ----------------------------------------------------------------------

def unsubscribe_link(session, follower, make_report, runner) -> tuple[int, str]:
    alert = follower.post(ALERTS, json={"area": "arrondissement", "arrondissement": 4}).json["id"]
    backdate(session, alert, make_report()["id"])
    digest(runner)
    [mail] = mails_to(session, follower.email)
    return alert, re.search(r"http://[^/\s]+(/alerts/unsubscribe/\S+)", mail.body).group(1)


def test_unsubscribe_in_one_click_without_signing_in(app, follower, make_report, session, runner):
    alert, path = unsubscribe_link(session, follower, make_report, runner)
    stranger = app.test_client()  # no cookie, no session, no CSRF token
    page = stranger.get(path + "?lang=en")
    assert page.status_code == 200
    assert "4th arrondissement (Hôtel-de-Ville)" in page.text
    assert [a["id"] for a in follower.get(ALERTS).json["alerts"]] == [alert]  # a GET changes nothing
    done = stranger.post(path, data={"List-Unsubscribe": "One-Click"})  # RFC 8058's POST
    assert done.status_code == 200
    assert follower.get(ALERTS).json["alerts"] == []
    again = stranger.post(path)
    assert again.status_code == 200 and "already stopped" in stranger.get(path + "?lang=en").text


def test_a_forged_or_altered_token_is_refused(app, follower, make_report, session, runner):
    alert, path = unsubscribe_link(session, follower, make_report, runner)
    token = path.rsplit("/", 1)[1]
    payload, signature = token.rsplit(".", 1)
    altered = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    from itsdangerous import URLSafeSerializer

    forged = URLSafeSerializer("not the app's secret key at all, 40 chars", salt=services.TOKEN_SALT
                               ).dumps([alert, follower.user_id])
    stranger = app.test_client()
    for bad in (altered, forged, "nothing"):
        assert stranger.post(f"/alerts/unsubscribe/{bad}").status_code == 404
        assert stranger.get(f"/alerts/unsubscribe/{bad}").status_code == 404
    assert [a["id"] for a in follower.get(ALERTS).json["alerts"]] == [alert]


# ---- my data ------------------------------------------------------------------------------------

def test_my_data_holds_the_alerts_and_deleting_the_account_removes_them(follower, session):
    follower.post(ALERTS, json=radius_body(radius_m=500))
    follower.post(ALERTS, json={"area": "quartier", "quartier": 14, "kinds": "proposals"})
    exported = follower.get("/api/v1/me/export").json["area_alerts"]
    assert [(a["area"], a["quartier"], a["radius_m"], a["label"], a["kinds"]) for a in exported] == [
        ("radius", None, 500, "Parvis Notre-Dame", "both"), ("quartier", 14, None, None, "proposals")]
    assert exported[0]["point"] == {"type": "Point", "coordinates": [2.3499, 48.853]}
    assert follower.post("/api/v1/me/delete", json={"password": follower.password}).status_code == 204
    assert session.scalar(text("SELECT count(*) FROM area_alerts WHERE user_id = :u"), {"u": follower.user_id}) == 0


# ---- the pages ----------------------------------------------------------------------------------

def csrf(page, path: str) -> str:
    html = page.get(path).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def test_my_alerts_page_adds_and_stops_alerts(client, session, follower, make_user, verify):
    page = browser(client, session, follower)
    html = page.get("/me/alerts?quartier=16&lang=en").get_data(as_text=True)  # an entry point's link
    assert re.search(r'<option value="16" selected>Notre-Dame</option>', html)
    token = csrf(page, "/me/alerts")
    r = page.post("/me/alerts", data={"csrf_token": token, "area": "quartier", "quartier": "16",
                                      "kinds": "proposals"})
    assert (r.status_code, r.headers["Location"]) == (303, "/me/alerts#my-alerts")
    r = page.post("/me/alerts", data={"csrf_token": token, "area": "radius", "address": "12 rue de Rivoli",
                                      "radius_m": "1000"})
    assert r.status_code == 303
    rows = session.execute(text("SELECT area, quartier_id, radius_m, label, kinds FROM area_alerts "
                                "WHERE user_id = :u ORDER BY id"), {"u": follower.user_id}).all()
    assert [tuple(r) for r in rows] == [("quartier", 16, None, None, "proposals"),
                                        ("radius", None, 1000, rows[1].label, "both")]
    assert rows[1].label.startswith("12 Rue de Rivoli")  # as the geocoder found it
    # the same area again, an unknown address, a radius out of the choices: said on the page
    again = page.post("/me/alerts?lang=en", data={"csrf_token": token, "area": "quartier", "quartier": "16"})
    assert again.status_code == 422 and "You already follow this area." in again.get_data(as_text=True)
    unknown = page.post("/me/alerts", data={"csrf_token": token, "area": "radius", "address": "Zzqx Wqyk"})
    assert unknown.status_code == 422 and 'id="r-address" ' in unknown.get_data(as_text=True)
    assert 'aria-invalid="true"' in unknown.get_data(as_text=True)
    far = page.post("/me/alerts", data={"csrf_token": token, "area": "radius", "address": "12 rue de Rivoli",
                                        "radius_m": "5000"})
    assert far.status_code == 422
    assert page.post("/me/alerts", data={"area": "arrondissement", "arrondissement": "4"}).status_code == 400
    # another's alert is nothing; mine stops
    other = verify(make_user())
    theirs = other.post(ALERTS, json={"area": "arrondissement", "arrondissement": 4}).json["id"]
    assert page.post(f"/me/alerts/{theirs}/delete", data={"csrf_token": token}).status_code == 404
    mine = session.scalar(text("SELECT min(id) FROM area_alerts WHERE user_id = :u"), {"u": follower.user_id})
    assert page.post(f"/me/alerts/{mine}/delete", data={"csrf_token": token}).status_code == 303
    assert [a["area"] for a in follower.get(ALERTS).json["alerts"]] == ["radius"]
    assert len(other.get(ALERTS).json["alerts"]) == 1


def test_the_one_click_post_works_from_a_signed_in_browser_without_csrf(app, client, session, follower):
    """A webmail in the browser where one is signed in posts with the session cookie and no
    CSRF token: the signed token is enough."""
    alert = follower.post(ALERTS, json={"area": "arrondissement", "arrondissement": 4}).json["id"]
    from app.alerts.models import AreaAlert

    token = services.unsubscribe_token(app.config["SECRET_KEY"], session.get(AreaAlert, alert))
    page = browser(client, session, follower)
    page.get("/me/alerts")  # a session with its CSRF token
    r = page.post(f"/alerts/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 200
    assert follower.get(ALERTS).json["alerts"] == []


def test_my_alerts_needs_signing_in(client):
    r = client.get("/me/alerts")
    assert r.status_code == 302 and "/login?next=/me/alerts" in r.headers["Location"]
