"""The organisation and staff pages of volunteer missions (app.web.organisations): registering,
verifying, the mission form (Paris times), publishing."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from app.missions.services import siren_valid
from tests.conftest import browser


def csrf(page, path: str) -> str:
    html = page.get(path).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def a_siren(seed: int, valid: bool = True) -> str:
    """A SIREN number whose Luhn checksum holds (or not)."""
    for last in range(10):
        number = f"{seed:08d}"[-8:] + str(last)
        if siren_valid(number) == valid:
            return number
    raise AssertionError


@pytest.fixture(autouse=True)
def in_english(monkeypatch):
    """These tests read the pages' English words (the French ones are checked in the browser
    tests, in both languages): English is the pages' default here."""
    monkeypatch.setattr("app.messages.DEFAULT_LANGUAGE", "en")


@pytest.fixture
def founder(make_user, verify):
    return verify(make_user(name="Fondatrice"))


@pytest.fixture
def moderator(make_user):
    return make_user(roles=("moderator",), name="Modo")


def register(page, name="Les Jardiniers du 11e", siren=None, **more):
    token = csrf(page, "/organisations/new")
    data = {"csrf_token": token, "name": name, "rna": "", "siren": a_siren(12345678) if siren is None else siren,
            "description": "Des jardins partagés.", "address": "", "website": "jardiniers.example.org",
            "contact_email": "contact@jardiniers.example.org", "contact_phone": "01 23 45 67 89", **more}
    return page.post("/organisations/new", data=data)


def test_registering_creates_a_pending_organisation_owned_by_its_founder(client, session, founder, make_user):
    page = browser(client, session, founder)
    siren = a_siren(44306184)
    r = register(page, siren=siren)
    assert r.status_code == 302
    org_id = int(r.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    row = session.execute(text("SELECT name, siren, rna, status, website, contact_email, created_by_id "
                               "FROM organisations WHERE id = :id"), {"id": org_id}).one()
    assert row == ("Les Jardiniers du 11e", siren, None, "pending", "https://jardiniers.example.org",
                   "contact@jardiniers.example.org", founder.user_id)
    members = session.execute(text("SELECT user_id, role FROM organisation_members WHERE organisation_id = :id"),
                              {"id": org_id}).all()
    assert members == [(founder.user_id, "owner")]
    html = page.get(f"/organisations/{org_id}").get_data(as_text=True)
    assert 'id="status-banner"' in html and "Awaiting verification" in html
    assert 'id="new-mission"' in html and "Fondatrice" in html
    # not public while pending: a stranger gets the not-found page, and the list does not show it
    assert client.get(f"/organisations/{org_id}").status_code == 404
    assert "Les Jardiniers du 11e" not in client.get("/organisations").get_data(as_text=True)
    assert "Les Jardiniers du 11e" in page.get("/organisations").get_data(as_text=True)  # "my organisations"
    # an unconfirmed account is told why it cannot register one
    unverified = browser(client, session, make_user())
    assert 'id="unverified"' in unverified.get("/organisations/new").get_data(as_text=True)
    assert client.get("/organisations/new").status_code == 302  # sign in first


def test_an_invalid_siren_shows_its_error_and_keeps_the_typed_text(client, session, founder):
    page = browser(client, session, founder)
    r = register(page, name="Association des Riverains", siren=a_siren(55555555, valid=False))
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert re.search(r'id="f-siren"[^>]*aria-invalid="true"', html, re.S)
    assert re.search(r'<p class="field-error" id="f-siren-error">[^<]+</p>', html)
    assert 'value="Association des Riverains"' in html
    assert session.scalar(text("SELECT count(*) FROM organisations WHERE name = 'Association des Riverains'")) == 0
    # neither number: the RNA field says so
    r = register(page, name="Sans numéro", siren="")
    assert r.status_code == 422 and re.search(r'id="f-rna"[^>]*aria-invalid="true"', r.get_data(as_text=True), re.S)


def test_the_verification_queue_is_for_moderators(client, session, founder, moderator, make_user):
    page = browser(client, session, founder)
    org_id = int(register(page, name="Le Relais Solidaire", siren=a_siren(73282932)).headers["Location"]
                 .rsplit("/", 1)[1])
    stranger = browser(client, session, verify_none(make_user()))
    r = stranger.get("/moderation/organisations")
    assert r.status_code in (403, 404) and r.content_type.startswith("text/html")
    assert stranger.get(f"/organisations/{org_id}/missions/new").status_code == 404  # pending: not even seen
    assert page.get("/moderation/organisations").status_code in (403, 404)
    mod = browser(client, session, moderator)
    queue = mod.get("/moderation/organisations?status=pending").get_data(as_text=True)
    assert f'id="organisation-{org_id}"' in queue and "Fondatrice" in queue and "Le Relais Solidaire" in queue
    token = csrf(mod, "/moderation/organisations")
    # refusing needs a reason: nothing changes
    r = mod.post(f"/moderation/organisations/{org_id}/decision", data={"csrf_token": token, "decision": "refuse"})
    assert r.status_code == 302
    assert session.scalar(text("SELECT status FROM organisations WHERE id = :id"), {"id": org_id}) == "pending"
    r = mod.post(f"/moderation/organisations/{org_id}/decision", data={"csrf_token": token, "decision": "verify"})
    assert r.status_code == 302
    status, verifier = session.execute(text("SELECT status, verified_by_id FROM organisations WHERE id = :id"),
                                       {"id": org_id}).one()
    assert (status, verifier) == ("verified", moderator.user_id)
    assert "Le Relais Solidaire" in client.get("/organisations").get_data(as_text=True)
    assert client.get(f"/organisations/{org_id}").status_code == 200


def verify_none(api):
    return api


def test_the_mission_form_creates_a_recurring_mission_in_paris_time(client, session, founder, moderator):
    page = browser(client, session, founder)
    org_id = int(register(page, name="Paris Propre", siren=a_siren(11122233)).headers["Location"]
                 .rsplit("/", 1)[1])
    path = f"/organisations/{org_id}/missions/new"
    token = csrf(page, path)
    form = {"csrf_token": token, "title": "Nettoyer les berges du canal", "description": "Ramassage des déchets.",
            "domain": "environnement", "activities": ["ramassage-dechets", "sensibilisation"], "remote": "no",
            "place_label": ["Quai de Valmy", ""], "place_address": ["", ""],
            "place_lon": ["2.3652", ""], "place_lat": ["48.8722", ""],
            "schedule": "recurring", "rec_weekday": ["5"], "rec_start": "10:00", "rec_end": "12:00",
            "rec_from": "2027-01-01", "rec_until": "2027-01-28", "rec_capacity": "8",
            "slot_date": ["", ""], "slot_start": ["", ""], "slot_end": ["", ""], "slot_capacity": ["", ""],
            "min_age": "16", "skills": "bonne humeur, gants", "accessibility": "Berges en pente douce.",
            "reduced_mobility_accessible": "on"}
    # an invalid field: its error next to it, every typed value kept
    r = page.post(path, data={**form, "rec_end": "09:00"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert re.search(r'<p class="field-error" id="rec_end-error">[^<]+</p>', html)
    assert 'value="Nettoyer les berges du canal"' in html and 'value="2027-01-28"' in html
    assert re.search(r'id="rec-day-5"[^>]*checked', html)
    assert session.scalar(text("SELECT count(*) FROM missions WHERE organisation_id = :o"), {"o": org_id}) == 0

    r = page.post(path, data=form)
    assert r.status_code == 302
    mission_id = int(r.headers["Location"].rsplit("/", 1)[1])
    row = session.execute(text("SELECT status, schedule, domain, activities, min_age, skills, "
                               "reduced_mobility_accessible FROM missions WHERE id = :m"), {"m": mission_id}).one()
    assert row == ("draft", "recurring", "environnement", ["ramassage-dechets", "sensibilisation"], 16,
                   ["bonne humeur", "gants"], True)
    starts = [r[0] for r in session.execute(text(
        "SELECT starts_at FROM mission_slots WHERE mission_id = :m ORDER BY starts_at"), {"m": mission_id})]
    # the Saturdays of January 2027 at 10:00 Paris time: 09:00 UTC in winter
    assert [s.astimezone(UTC) for s in starts] == [datetime(2027, 1, d, 9, tzinfo=UTC) for d in (2, 9, 16, 23)]
    place = session.execute(text("SELECT label, round(ST_X(geom)::numeric, 4), round(ST_Y(geom)::numeric, 4) "
                                 "FROM mission_places WHERE mission_id = :m"), {"m": mission_id}).one()
    assert (place[0], float(place[1]), float(place[2])) == ("Quai de Valmy", 2.3652, 48.8722)

    # the edit form shows it back in Paris time
    html = page.get(f"/missions/{mission_id}/edit").get_data(as_text=True)
    assert 'value="10:00"' in html and 'value="2027-01-28"' in html and 'name="action" value="publish"' in html

    # published, it is listed once its organisation is verified
    from app.missions import services
    from app.missions.models import MISSION_STATUSES

    def listed():
        return [m.id for m in services.list_missions(session, None, {"limit": 100, "offset": 0})[0]]

    r = page.post(f"/missions/{mission_id}/state", data={"csrf_token": token, "action": "publish"})
    assert r.status_code == 302
    assert session.scalar(text("SELECT status FROM missions WHERE id = :m"), {"m": mission_id}) == "published"
    assert mission_id not in listed()  # its organisation is still pending
    mod = browser(client, session, moderator)
    mod.post(f"/moderation/organisations/{org_id}/decision",
             data={"csrf_token": csrf(mod, "/moderation/organisations"), "decision": "verify"})
    session.expire_all()
    assert mission_id in listed()
    assert "Nettoyer les berges du canal" in client.get(f"/organisations/{org_id}").get_data(as_text=True)
    # cancelling needs a reason
    page.post(f"/missions/{mission_id}/state", data={"csrf_token": token, "action": "cancel"})
    assert session.scalar(text("SELECT status FROM missions WHERE id = :m"), {"m": mission_id}) == "published"
    assert "published" in MISSION_STATUSES


def test_one_off_dates_and_members(client, session, founder, make_user, verify):
    page = browser(client, session, founder)
    org_id = int(register(page, name="Lire Ensemble", siren=a_siren(99887766)).headers["Location"]
                 .rsplit("/", 1)[1])
    path = f"/organisations/{org_id}/missions/new"
    token = csrf(page, path)
    r = page.post(path, data={
        "csrf_token": token, "title": "Lecture aux enfants", "description": "Lire des contes.",
        "domain": "education", "remote": "no", "place_label": ["Bibliothèque"], "place_address": [""],
        "place_lon": ["2.38"], "place_lat": ["48.86"], "schedule": "one_off",
        "slot_date": ["2027-07-03", "2027-07-10", ""], "slot_start": ["14:00", "14:00", ""],
        "slot_end": ["16:00", "16:00", ""], "slot_capacity": ["3", "5", ""]})
    assert r.status_code == 302
    mission_id = int(r.headers["Location"].rsplit("/", 1)[1])
    slots = session.execute(text("SELECT starts_at, capacity FROM mission_slots WHERE mission_id = :m "
                                 "ORDER BY starts_at"), {"m": mission_id}).all()
    # summer time: 14:00 in Paris is 12:00 UTC
    assert [(s.astimezone(UTC).hour, c) for s, c in slots] == [(12, 3), (12, 5)]
    # the owner adds a member by e-mail; an unknown address is refused next to the field
    other = verify(make_user(name="Bénévole Gérant"))
    page.post(f"/organisations/{org_id}/members", data={"csrf_token": token, "email": other.email,
                                                        "role": "member"})
    assert session.execute(text("SELECT role FROM organisation_members WHERE organisation_id = :o AND user_id = :u"),
                           {"o": org_id, "u": other.user_id}).scalar() == "member"
    page.post(f"/organisations/{org_id}/members", data={"csrf_token": token, "email": "nobody@example.org"})
    html = page.get(f"/organisations/{org_id}").get_data(as_text=True)
    assert 'id="m-email-error">' in html and re.search(r'id="m-email-error">[^<]+<', html)
    assert "Bénévole Gérant" in html
    page.post(f"/organisations/{org_id}/members/{other.user_id}/remove", data={"csrf_token": token})
    assert session.scalar(text("SELECT count(*) FROM organisation_members WHERE organisation_id = :o"),
                          {"o": org_id}) == 1
    # the edit form keeps its values on an error
    r = page.post(f"/organisations/{org_id}/edit", data={"csrf_token": token, "name": "Lire Ensemble Paris",
                                                          "siren": "12", "rna": ""})
    html = page.get(r.headers["Location"]).get_data(as_text=True)
    assert 'value="Lire Ensemble Paris"' in html and re.search(r'id="e-siren"[^>]*aria-invalid="true"', html, re.S)
    assert session.scalar(text("SELECT name FROM organisations WHERE id = :o"), {"o": org_id}) == "Lire Ensemble"
