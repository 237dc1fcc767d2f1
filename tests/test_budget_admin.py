"""The participatory budget's administration pages (/admin/budgets): an admin opens a cycle
through the form (read with the API's CycleInput), edits and publishes it (CyclePatch), sees
what can no longer change, counts the vote; bad input comes back on its fields (422, nothing
written); only admins get in."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import text

from tests.conftest import browser
from tests.test_budget import cycle_body, move_to

ORDER = ("submission", "co_construction", "feasibility", "vote", "results", "delivery")


@pytest.fixture
def admin(make_user):
    return make_user(("admin",), name="Administratrice")


@pytest.fixture
def web(client, session, admin):
    """The admin's browser: (client, CSRF token)."""
    page = browser(client, session, admin)
    html = page.get("/admin/budgets/new").get_data(as_text=True)
    return page, re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def days(first: date, lengths=(31, 30, 61, 21, 14, 400)) -> dict[str, str]:
    """The form's six phases, contiguous, from `first`."""
    out, start = {}, first
    for name, length in zip(ORDER, lengths, strict=True):
        out[f"{name}_starts_on"] = start.isoformat()
        out[f"{name}_ends_on"] = (start + timedelta(days=length - 1)).isoformat()
        start += timedelta(days=length)
    return out


def form(token: str, year: int = 2061, **changes) -> dict:
    return {"csrf_token": token, "year": str(year), "title": f"Budget participatif {year}",
            "description": "Vos projets pour Paris.", "ballot_method": "approval", "max_choices": "",
            "grades": "4", "winners_rule": "greedy", **days(date(year, 1, 5)),
            "env_paris_amount": "30 000 000", "env_11_amount": "4 000 000", "env_11_share": "1 500 000",
            **changes}


def error_of(html: str, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="f-{re.escape(name)}-error">([^<]*)</p>', html)
    assert found is not None, name
    return found.group(1).strip()


class Fields(HTMLParser):
    """What a browser would send: the form's inputs (checked radios only) and textareas."""

    def __init__(self, html: str):
        super().__init__()
        self.values: dict[str, str] = {}
        self._textarea = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("name") and (a.get("type") != "radio" or "checked" in a):
            self.values[a["name"]] = a.get("value") or ""
        elif tag == "textarea":
            self._textarea = a["name"]
            self.values[self._textarea] = ""

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None


def fields(html: str) -> dict[str, str]:
    return Fields(html).values


def cycles_of(session, year: int) -> int:
    return session.scalar(text("SELECT count(*) FROM budget_cycles WHERE year = :y"), {"y": year})


def test_an_admin_opens_a_cycle_through_the_form(web, session):
    page, token = web
    assert page.get("/admin/budgets").status_code == 200
    # summer time starts on 31 March 2041: the submission phase's last day is 30 March
    data = form(token, 2041, ballot_method="majority_judgment", grades="5", winners_rule="equal_shares",
                max_choices="oops",  # another method's number: not read
                env_4_amount="1,000,000", env_20_amount="250000,50", env_20_share="\u202f50 000 €",
                env_7_amount="", env_7_share="", **days(date(2041, 3, 1), (30, 30, 30, 30, 30, 400)))
    r = page.post("/admin/budgets/new", data=data)
    assert r.status_code == 302, r.get_data(as_text=True)
    assert r.headers["Location"].endswith("/admin/budgets")
    cycle = session.execute(text("SELECT * FROM budget_cycles WHERE year = 2041")).one()
    assert (cycle.status, cycle.title, cycle.description) == ("draft", "Budget participatif 2041",
                                                             "Vos projets pour Paris.")
    assert (cycle.ballot_method, cycle.grades, cycle.max_choices, cycle.winners_rule) == (
        "majority_judgment", 5, None, "equal_shares")
    phases = session.execute(text("""
        SELECT phase, (starts_at AT TIME ZONE 'Europe/Paris')::date AS first,
               ((ends_at - interval '1 microsecond') AT TIME ZONE 'Europe/Paris')::date AS last,
               (starts_at AT TIME ZONE 'Europe/Paris')::time AS at
        FROM budget_phases WHERE cycle_id = :c ORDER BY starts_at"""), {"c": cycle.id}).all()
    assert [(p.phase, p.first.isoformat(), p.last.isoformat()) for p in phases] == [
        (name, data[f"{name}_starts_on"], data[f"{name}_ends_on"]) for name in ORDER]
    assert {p.at.isoformat() for p in phases} == {"00:00:00"}  # Paris midnights, both sides of 31 March
    envelopes = session.execute(text("""
        SELECT arrondissement_id, amount_cents, popular_share_cents FROM budget_envelopes
        WHERE cycle_id = :c ORDER BY arrondissement_id NULLS FIRST"""), {"c": cycle.id}).all()
    assert [tuple(e) for e in envelopes] == [(None, 3_000_000_000, None), (4, 100_000_000, None),
                                             (11, 400_000_000, 150_000_000), (20, 25_000_050, 5_000_000)]
    listing = page.get("/admin/budgets").get_data(as_text=True)
    assert "2041" in listing and 'href="/budget/2041"' in listing and f'href="/admin/budgets/{cycle.id}"' in listing
    assert 'class="form-notice"' in listing  # the notice, once
    assert 'class="form-notice"' not in page.get("/admin/budgets").get_data(as_text=True)

    # every arrondissement and Paris: 21 envelopes at most
    full = form(token, 2044, **{f"env_{n}_amount": f"{n} 000 000" for n in range(1, 21)})
    assert page.post("/admin/budgets/new", data=full).status_code == 302
    assert session.scalar(text("""SELECT count(*) FROM budget_envelopes e JOIN budget_cycles c ON c.id = e.cycle_id
                                  WHERE c.year = 2044""")) == 21
    assert session.scalar(text("""SELECT amount_cents FROM budget_envelopes e JOIN budget_cycles c
                                  ON c.id = e.cycle_id WHERE c.year = 2044 AND arrondissement_id = 17""")) == 1_700_000_000


@pytest.mark.parametrize("changes,field", [
    ({"co_construction_starts_on": "2062-02-10"}, "co_construction_starts_on"),  # a gap of five days
    ({"vote_ends_on": "2061-01-01"}, "vote_ends_on"),  # ends before it starts
    ({"env_11_share": "5 000 000"}, "env_11_share"),  # above the amount
    ({"env_11_amount": "", "env_11_share": "10"}, "env_11_amount"),  # a share without an amount
    ({"env_paris_amount": "beaucoup"}, "env_paris_amount"),
    ({"env_paris_amount": "9" * 40}, "env_paris_amount"),
    ({"year": "deux mille"}, "year"),
    ({"year": "1999"}, "year"),
    ({"title": "  "}, "title"),
    ({"feasibility_starts_on": "2062-02-30"}, "feasibility_starts_on"),
    ({"grades": "12", "ballot_method": "majority_judgment"}, "grades"),
    ({"max_choices": "0"}, "max_choices"),
    ({"ballot_method": "lottery"}, "ballot_method"),
    ({"title": "Sans\x00nul"}, "title"),
])
def test_bad_input_comes_back_on_its_field_and_nothing_is_written(web, session, changes, field):
    page, token = web
    r = page.post("/admin/budgets/new", data={**form(token, 2062), **changes})
    html = r.get_data(as_text=True)
    assert r.status_code == 422, html[:400]
    assert error_of(html, field), field
    assert f'id="f-{field}"' in html and 'role="alert"' in html and f'href="#f-{field}"' in html
    assert cycles_of(session, 2062) == 0
    # what was typed is there again
    sent = {k: v for k, v in {**form(token, 2062), **changes}.items()
            if k not in ("csrf_token", "ballot_method") and "\x00" not in v}
    again = fields(html)
    assert {k: again.get(k) for k in sent} == sent


def test_no_envelope_and_no_phase_are_refused(web, session):
    page, token = web
    blank = {k: "" for k in form(token) if k.startswith(("env_", *ORDER))}
    r = page.post("/admin/budgets/new", data=form(token, 2062, **blank))
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert error_of(html, "phases") and error_of(html, "envelopes")
    assert cycles_of(session, 2062) == 0


def test_a_year_taken_is_said_on_the_year(web, admin, session):
    page, token = web
    assert admin.post("/api/v1/budgets", json=cycle_body(2063)).status_code == 201
    r = page.post("/admin/budgets/new", data=form(token, 2063, title="Un autre"))
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "2063" in error_of(html, "year")
    assert session.scalar(text("SELECT title FROM budget_cycles WHERE year = 2063")) == "Budget participatif 2063"


def test_an_admin_edits_publishes_and_counts(web, admin, session):
    page, token = web
    made = admin.post("/api/v1/budgets", json=cycle_body(2064, stage="submission", max_choices=3)).json
    url = f"/admin/budgets/{made['id']}"
    html = page.get(url).get_data(as_text=True)
    assert 'value="30 000 000"' in html and 'value="1 500 000"' in html and 'value="3"' in html
    assert 'id="publish"' in html and 'readonly' not in html
    shown = fields(html)
    assert (shown["ballot_method"], shown["winners_rule"], shown["max_choices"]) == ("approval", "greedy", "3")
    assert shown["description"] == made["description"]
    assert shown["submission_starts_on"] == made["phases"][0]["starts_on"]

    # an error: nothing written, even what was right
    bad = {**shown, "title": "Nouveau titre", "env_4_share": "2 000 000"}
    r = page.post(url, data=bad)
    assert r.status_code == 422 and error_of(r.get_data(as_text=True), "env_4_share")
    assert session.scalar(text("SELECT title FROM budget_cycles WHERE id = :c"), {"c": made["id"]}) == made["title"]

    # saved and published at once; the 4e envelope removed, the 12e added
    r = page.post(url, data={**shown, "title": "Budget participatif 2064, édition citoyenne", "publish": "1",
                             "env_4_amount": "", "env_12_amount": "2 500 000", "max_choices": ""})
    assert r.status_code == 302, r.get_data(as_text=True)
    row = session.execute(text("SELECT status, title, published_at, max_choices FROM budget_cycles WHERE id = :c"),
                          {"c": made["id"]}).one()
    assert (row.status, row.title, row.max_choices) == ("published", "Budget participatif 2064, édition citoyenne",
                                                        None)
    assert row.published_at is not None
    assert dict(session.execute(text("SELECT arrondissement_id, amount_cents FROM budget_envelopes WHERE cycle_id = :c"),
                                {"c": made["id"]}).all()) == {None: 3_000_000_000, 11: 400_000_000, 12: 250_000_000}

    # published and in its submission phase: the year and the start of submission are read-only
    html = page.get(url).get_data(as_text=True)
    assert 'id="publish"' not in html
    assert re.search(r'id="f-year"[^>]*readonly', html) and re.search(r'id="f-submission_starts_on"[^>]*readonly', html)
    assert not re.search(r'id="f-submission_ends_on"[^>]*readonly', html)
    shown = fields(html)
    earlier = (date.fromisoformat(shown["submission_starts_on"]) - timedelta(days=1)).isoformat()
    r = page.post(url, data={**shown, "submission_starts_on": earlier, "year": "2070"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and error_of(html, "submission_starts_on")
    assert page.post(url, data={**shown, "year": "2070"}).status_code == 302  # the year is not read
    assert session.scalar(text("SELECT year FROM budget_cycles WHERE id = :c"), {"c": made["id"]}) == 2064

    # once the vote has started, the ballot and the envelopes are shown, not offered
    move_to(session, made["id"], "vote")
    html = page.get(url).get_data(as_text=True)
    assert 'name="env_paris_amount"' not in html and 'name="ballot_method"' not in html
    assert "30 000 000" in html and 'id="count"' not in html
    shown = fields(html)
    r = page.post(url, data={**shown, "title": "Le vote est ouvert", "env_paris_amount": "1"})
    assert r.status_code == 302
    assert session.scalar(text("SELECT amount_cents FROM budget_envelopes WHERE cycle_id = :c AND "
                               "arrondissement_id IS NULL"), {"c": made["id"]}) == 3_000_000_000

    # the vote is over: count it
    move_to(session, made["id"], "results")
    html = page.get(url).get_data(as_text=True)
    assert 'id="count"' in html
    r = page.post(f"{url}/count", data={"csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"].endswith(url)
    assert session.scalar(text("SELECT count(*) FROM budget_envelopes WHERE cycle_id = :c AND counted_at IS NOT NULL"),
                          {"c": made["id"]}) == 3
    assert 'class="form-notice"' in page.get(url).get_data(as_text=True)
    move_to(session, made["id"], "vote")  # too early: said, not a 500
    r = page.post(f"{url}/count", data={"csrf_token": token})
    assert r.status_code == 302 and 'id="refusal"' in page.get(url).get_data(as_text=True)
    assert page.get("/admin/budgets/999999").status_code == 404
    assert page.post("/admin/budgets/999999/count", data={"csrf_token": token}).status_code == 404


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_pages_speak_both_languages(web, admin, lang):
    page, _token = web
    made = admin.post("/api/v1/budgets", json=cycle_body(2065)).json
    for path in ("/admin/budgets", "/admin/budgets/new", f"/admin/budgets/{made['id']}"):
        html = page.get(f"{path}?lang={lang}").get_data(as_text=True)
        assert f'<html lang="{lang}">' in html
        assert ("Budget participatif" if lang == "fr" else "Participatory budget") in html
        if path != "/admin/budgets":
            assert ("Tout Paris" if lang == "fr" else "All of Paris") in html
            assert ("11e arrondissement" if lang == "fr" else "11th arrondissement") in html


def test_only_admins(client, session, make_user, web):
    page, _token = web
    for roles in (("resident",), ("planner",), ("moderator",)):
        other = browser(client, session, make_user(roles))
        for path in ("/admin/budgets", "/admin/budgets/new"):
            assert other.get(path).status_code == 403, (roles, path)
        refused = other.get("/admin/budgets/new").get_data(as_text=True)
        own = re.search(r'name="csrf-token" content="([^"]+)"', refused).group(1)
        assert other.post("/admin/budgets/new", data=form(own, 2066)).status_code == 403
        assert other.post("/admin/budgets/1/count", data={"csrf_token": own}).status_code == 403
    # a form without the session's token is refused before anything
    assert page.post("/admin/budgets/new", data=form("wrong", 2066)).status_code in (400, 403)
    r = client.get("/admin/budgets")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert client.get("/admin/budgets/new").status_code == 302
    assert cycles_of(session, 2066) == 0
    nav = page.get("/admin/categories").get_data(as_text=True)
    assert 'href="/admin/budgets"' in nav
