"""The residents' pages of volunteer missions: the list's filters (arrondissement, domain, near
a point or an address), a mission's page (counts for the public, never another volunteer),
signing up from the page (pending, then the waiting list), the members' sign-ups page, my
engagements and the iCalendar file."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from shapely.geometry import Point
from sqlalchemy import select, text

from app.accounts.models import User
from app.missions import services
from app.missions.models import MissionSignup, MissionSlot
from tests.conftest import Api, browser

ROQUETTE = (2.3712, 48.8540)  # by 1 rue de la Roquette, 11e
MOUFFETARD = (2.3499, 48.8425)  # 5e, ~2.5 km from it


def csrf(page, path: str) -> str:
    html = page.get(path).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def mission_values(title: str, domain: str = "environnement", where=ROQUETTE, capacity: int = 10,
                   min_age: int | None = None, label: str = "Square de la Roquette") -> dict:
    start = (datetime.now(UTC) + timedelta(days=5)).replace(hour=8, minute=0, second=0, microsecond=0)
    return {"title": title, "description": "Ramasser les déchets du square, gants fournis.", "domain": domain,
            "activities": ["ramassage-dechets"], "remote": "no",
            "places": [{"label": label, "geometry": Point(*where)}], "schedule": "one_off",
            "slots": [{"starts_at": start, "ends_at": start + timedelta(hours=3), "capacity": capacity}],
            "recurrence": None, "period": None, "min_age": min_age, "skills": ["bonne humeur"],
            "accessibility": "Square de plain-pied.", "reduced_mobility_accessible": True, "links": []}


@pytest.fixture(autouse=True)
def in_english(monkeypatch):
    """These tests read the pages' English words (the French ones are checked in the browser
    tests, in both languages): English is the pages' default here."""
    monkeypatch.setattr("app.messages.DEFAULT_LANGUAGE", "en")


@pytest.fixture
def org_owner(make_user, verify):
    return verify(make_user(name="Bénévole en chef"))


@pytest.fixture
def organisation(app, session, client, org_owner):
    """A verified organisation whose owner is `org_owner`."""
    moderator = Api(client, roles=("moderator",), name="Modé")
    with app.test_request_context():
        owner = session.get(User, org_owner.user_id)
        org = services.register_organisation(session, owner, {
            "name": "Les Amis du Square", "rna": "W751234567", "siren": None, "description": "Jardiner ensemble.",
            "address": "1 rue de la Roquette", "geometry": None, "website": None,
            "contact_email": "amis@example.org", "contact_phone": None})
        services.verify_organisation(session, org, session.get(User, moderator.user_id), "verify", None)
        session.commit()
        return org.id


@pytest.fixture
def publish(app, session, organisation, org_owner):
    """publish(**values) -> a published mission's id and its first slot's id."""

    def make(title: str, **kwargs) -> tuple[int, int]:
        with app.test_request_context():
            owner = session.get(User, org_owner.user_id)
            org = services.organisation_readable(session, organisation, owner)
            mission = services.create_mission(session, org, owner, mission_values(title, **kwargs))
            services.change_state(session, mission, owner, "publish", None)
            session.commit()
            return mission.id, mission.slots[0].id

    return make


def volunteer_page(client, session, make_user, verify, name: str):
    who = verify(make_user(name=name))
    return who, browser(client, session, who)


def test_the_list_filters_by_arrondissement_domain_and_place(client, publish):
    square, _ = publish("Nettoyer le square de la Roquette")
    health, _ = publish("Accompagner à l'hôpital", domain="sante", where=MOUFFETARD, label="Rue Mouffetard")

    def listed(query: str) -> set[int]:
        html = client.get("/missions" + query).get_data(as_text=True)
        return {int(i) for i in re.findall(r'id="mission-(\d+)"', html)} & {square, health}

    assert listed("") == {square, health}
    assert listed("?arrondissement=11") == {square}
    assert listed("?arrondissement=5") == {health}
    assert listed("?domain=sante") == {health}
    assert listed("?domain=environnement") == {square}
    # near a point: within 1 km of the Roquette, not the Mouffetard; a distance in words
    near = client.get(f"/missions?lon={ROQUETTE[0] + 0.001}&lat={ROQUETTE[1]}&radius=1000&lang=en").get_data(as_text=True)
    assert f'id="mission-{square}"' in near and f'id="mission-{health}"' not in near
    assert re.search(r"\d+ m away", near)
    assert listed(f"?lon={ROQUETTE[0]}&lat={ROQUETTE[1]}&radius=5000") == {square, health}
    # an address, geocoded on the server
    assert listed("?address=1+rue+de+la+Roquette&radius=500") == {square}
    html = client.get("/missions?address=zzzz+qqqq+xxxx").get_data(as_text=True)
    assert "No address in Paris matches" in html
    # dates: the slots are in five days
    soon, later = datetime.now(UTC).date() + timedelta(days=5), datetime.now(UTC).date() + timedelta(days=9)
    assert listed(f"?from={soon}&to={soon}") == {square, health}
    assert listed(f"?from={later}") == set()
    assert listed(f"?to={soon - timedelta(days=2)}") == set()
    # remote only: neither (both on site)
    assert listed("?where=remote") == set()
    # the map's markers: one per place, with the mission's link
    html = client.get("/missions?arrondissement=11").get_data(as_text=True)
    assert f'"url": "/missions/{square}"' in html and '"lat": 48.854' in html
    # the list in French
    html = client.get("/missions?arrondissement=11&lang=fr").get_data(as_text=True)
    assert "Nettoyer le square de la Roquette" in html


def test_the_public_sees_counts_never_volunteers(client, session, make_user, verify, publish):
    mid, slot = publish("Planter des bulbes")
    who, page = volunteer_page(client, session, make_user, verify, "Zéphyrine Volontaire")
    r = page.post(f"/missions/{mid}/signup", data={"csrf_token": csrf(page, f"/missions/{mid}"),
                                                   "slot_id": str(slot), "message": "Je viens avec ma fille"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/missions/{mid}")
    public = client.get(f"/missions/{mid}").get_data(as_text=True)
    assert "1 volunteer signed up" in public
    assert "Zéphyrine" not in public and "Je viens avec ma fille" not in public
    assert 'id="login-to-signup"' in public
    assert "1 / 10" in public  # the slot's places taken / capacity
    # the volunteer sees their own sign-up, pending, with its calendar link and cancel form
    mine = page.get(f"/missions/{mid}").get_data(as_text=True)
    assert "You signed up." in mine  # the flash message
    assert "Awaiting the organisation&#39;s answer" in mine and "calendar.ics" in mine


def test_signing_up_on_the_page_then_the_waiting_list(client, session, make_user, verify, publish):
    mid, slot = publish("Distribuer des repas", capacity=10)
    statuses = []
    for i in range(11):
        _, page = volunteer_page(client, session, make_user, verify, f"Volontaire {i}")
        r = page.post(f"/missions/{mid}/signup", data={"csrf_token": csrf(page, f"/missions/{mid}"),
                                                       "slot_id": str(slot)})
        assert r.status_code == 302
        statuses.append(session.scalar(select(MissionSignup.status).where(
            MissionSignup.slot_id == slot).order_by(MissionSignup.id.desc()).limit(1)))
    assert statuses == ["pending"] * 10 + ["waiting"]
    html = page.get(f"/missions/{mid}").get_data(as_text=True)
    assert "you are number 1 on its waiting list" in html
    assert "number 1 on the waiting list" in html
    session.expire_all()
    s = session.get(MissionSlot, slot)
    assert (s.taken, s.waiting) == (10, 1)
    listed = client.get("/missions").get_data(as_text=True)
    card = listed[listed.index(f'id="mission-{mid}"'):]
    assert "Full — waiting list" in card[:2000]
    # signing up twice: refused on the page, nothing written
    r = page.post(f"/missions/{mid}/signup", data={"csrf_token": csrf(page, f"/missions/{mid}"), "slot_id": str(slot)})
    html = page.get(r.headers["Location"]).get_data(as_text=True)
    assert 'id="mission-error"' in html
    assert session.scalar(select(text("count(*)")).select_from(MissionSignup).where(MissionSignup.slot_id == slot)) == 11
    # no CSRF token: refused
    assert page.post(f"/missions/{mid}/signup", data={"slot_id": str(slot)}).status_code in (400, 403)


def test_the_age_confirmation_is_required(client, session, make_user, verify, publish):
    mid, slot = publish("Encadrer un tournoi", min_age=18)
    _, page = volunteer_page(client, session, make_user, verify, "Jeune")
    html = page.get(f"/missions/{mid}").get_data(as_text=True)
    assert f'id="f-age-{slot}"' in html and "18 years" in html
    r = page.post(f"/missions/{mid}/signup", data={"csrf_token": csrf(page, f"/missions/{mid}"), "slot_id": str(slot)})
    assert 'id="mission-error"' in page.get(r.headers["Location"]).get_data(as_text=True)
    assert session.scalar(select(text("count(*)")).select_from(MissionSignup).where(MissionSignup.slot_id == slot)) == 0
    page.post(f"/missions/{mid}/signup", data={"csrf_token": csrf(page, f"/missions/{mid}"), "slot_id": str(slot),
                                               "confirm_age": "on"})
    assert session.scalar(select(MissionSignup.status).where(MissionSignup.slot_id == slot)) == "pending"


def test_unverified_and_anonymous_residents_are_told(client, session, make_user, publish):
    mid, _ = publish("Repeindre un banc")
    page = browser(client, session, make_user(name="Pas vérifié"))
    html = page.get(f"/missions/{mid}").get_data(as_text=True)
    assert 'id="unverified"' in html and "signup-form" not in html
    assert client.get("/me/engagements").status_code == 302


def test_members_manage_sign_ups_and_others_get_404(client, session, make_user, verify, publish, org_owner):
    mid, slot = publish("Trier des livres", capacity=1)
    first, page1 = volunteer_page(client, session, make_user, verify, "Albertine Premier")
    second, page2 = volunteer_page(client, session, make_user, verify, "Bastien Second")
    for page in (page1, page2):
        page.post(f"/missions/{mid}/signup", data={"csrf_token": csrf(page, f"/missions/{mid}"), "slot_id": str(slot),
                                                   "message": "Disponible le matin"})
    # a non-member (a volunteer) and the public: 404
    assert page1.get(f"/missions/{mid}/signups").status_code == 404
    assert client.get(f"/missions/{mid}/signups").status_code == 302  # sign in first
    owner = browser(client, session, org_owner)
    assert 'id="manage-link"' in owner.get(f"/missions/{mid}").get_data(as_text=True)
    html = owner.get(f"/missions/{mid}/signups").get_data(as_text=True)
    assert first.email in html and second.email in html and "Albertine Premier" in html
    assert "Disponible le matin" in html
    s1, s2 = session.scalars(select(MissionSignup.id).where(MissionSignup.slot_id == slot).order_by(MissionSignup.id))
    # a volunteer cannot decide
    r = page1.post(f"/missions/{mid}/signups/{s1}/decision", data={"csrf_token": csrf(page1, f"/missions/{mid}"),
                                                                    "decision": "accept"})
    assert r.status_code == 404
    token = csrf(owner, f"/missions/{mid}/signups")
    r = owner.post(f"/missions/{mid}/signups/{s1}/decision", data={"csrf_token": token, "decision": "accept"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/missions/{mid}/signups")
    session.expire_all()
    assert session.get(MissionSignup, s1).status == "accepted"
    # more places: the waiting volunteer is promoted; fewer than taken: refused on the page
    r = owner.post(f"/missions/{mid}/slots/{slot}/capacity", data={"csrf_token": token, "capacity": "2"})
    session.expire_all()
    assert session.get(MissionSignup, s2).status == "pending" and session.get(MissionSlot, slot).capacity == 2
    r = owner.post(f"/missions/{mid}/slots/{slot}/capacity", data={"csrf_token": token, "capacity": "1"})
    assert 'id="mission-error"' in owner.get(r.headers["Location"]).get_data(as_text=True)
    session.expire_all()
    assert session.get(MissionSlot, slot).capacity == 2
    r = owner.post(f"/missions/{mid}/signups/{s2}/decision", data={"csrf_token": token, "decision": "decline",
                                                                    "note": "Complet, désolé"})
    session.expire_all()
    assert session.get(MissionSignup, s2).status == "declined"
    assert session.get(MissionSignup, s2).decision_note == "Complet, désolé"
    # my engagements: accepted for the first, declined with the note for the second
    html = page1.get("/me/engagements").get_data(as_text=True)
    assert "Trier des livres" in html and ">Accepted<" in html
    html = page2.get("/me/engagements").get_data(as_text=True)
    assert ">Declined<" in html and "Complet, désolé" in html


def test_the_calendar_file_and_cancelling(client, session, make_user, verify, publish, org_owner):
    mid, slot = publish("Animer un atelier vélo")
    who, page = volunteer_page(client, session, make_user, verify, "Cycliste")
    page.post(f"/missions/{mid}/signup", data={"csrf_token": csrf(page, f"/missions/{mid}"), "slot_id": str(slot)})
    sid = session.scalar(select(MissionSignup.id).where(MissionSignup.slot_id == slot))
    r = page.get(f"/missions/{mid}/signups/{sid}/calendar.ics")
    assert r.status_code == 200 and r.mimetype == "text/calendar"
    ics = r.get_data(as_text=True)
    assert "BEGIN:VEVENT" in ics and "SUMMARY:Animer un atelier vélo" in ics and "DTSTART" in ics
    # the organisation's members too; another resident and the public not
    assert browser(client, session, org_owner).get(f"/missions/{mid}/signups/{sid}/calendar.ics").status_code == 200
    _, other = volunteer_page(client, session, make_user, verify, "Curieux")
    assert other.get(f"/missions/{mid}/signups/{sid}/calendar.ics").status_code == 404
    assert client.get(f"/missions/{mid}/signups/{sid}/calendar.ics").status_code == 302
    # upcoming on my engagements, then cancelled from there
    html = page.get("/me/engagements").get_data(as_text=True)
    upcoming = html[html.index('id="upcoming"'):html.index('id="past"')]
    assert f'id="engagement-{sid}"' in upcoming
    r = page.post(f"/missions/{mid}/signups/{sid}/cancel", data={"csrf_token": csrf(page, "/me/engagements"),
                                                                  "back": "engagements"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/me/engagements")
    session.expire_all()
    assert session.get(MissionSignup, sid).status == "cancelled"
    # someone else's sign-up cannot be cancelled
    r = other.post(f"/missions/{mid}/signups/{sid}/cancel", data={"csrf_token": csrf(other, "/me/engagements")})
    assert r.status_code == 404


def test_a_draft_mission_is_not_found(app, client, session, organisation, org_owner):
    with app.test_request_context():
        owner = session.get(User, org_owner.user_id)
        org = services.organisation_readable(session, organisation, owner)
        mission = services.create_mission(session, org, owner, mission_values("Brouillon secret"))
        session.commit()
        mid = mission.id
    assert client.get(f"/missions/{mid}").status_code == 404
    assert "Brouillon secret" not in client.get("/missions").get_data(as_text=True)
    assert browser(client, session, org_owner).get(f"/missions/{mid}").status_code == 200


def test_a_hotspot_link_shows_its_open_reports(app, client, session, organisation, org_owner):
    with app.test_request_context():
        owner = session.get(User, org_owner.user_id)
        org = services.organisation_readable(session, organisation, owner)
        values = mission_values("Nettoyer la rue près des signalements")
        values["links"] = [{"kind": "hotspot", "center": Point(*ROQUETTE), "radius_m": 300}]
        mission = services.create_mission(session, org, owner, values)
        services.change_state(session, mission, owner, "publish", None)
        expected = services.mission_out(session, mission, None)["links"][0]["open_reports"]
        assert expected > 0  # the DansMaRue extract has open reports there
        session.commit()
        mid = mission.id
    html = client.get(f"/missions/{mid}?lang=en").get_data(as_text=True)
    words = "open report" if expected == 1 else "open reports"
    assert f"{expected} {words} within 300 m" in html
    assert "A street to help clean up" in html and "lat=48.85400" in html


def test_the_list_pages_by_20(client, publish):
    ids = [publish(f"Mission numéro {i:02d}", where=MOUFFETARD)[0] for i in range(21)]
    first = client.get("/missions?arrondissement=5").get_data(as_text=True)
    second = client.get("/missions?arrondissement=5&page=2").get_data(as_text=True)
    on_first = {int(i) for i in re.findall(r'id="mission-(\d+)"', first)} & set(ids)
    on_second = {int(i) for i in re.findall(r'id="mission-(\d+)"', second)} & set(ids)
    assert len(on_first) == 20 and len(on_second) == 1 and on_first | on_second == set(ids)
    assert 'rel="next"' in first and 'rel="prev"' not in first
    assert 'rel="prev"' in second and 'rel="next"' not in second
    assert "page=2" in re.search(r'rel="next" href="([^"]+)"', first).group(1)
