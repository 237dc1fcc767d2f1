"""The authorization matrix, generated from app.policy.RULES and checked through HTTP.

Every write endpoint (and the gated reads) × every kind of person: anonymous, a resident, the
author, an agent whose scope covers the report, an agent whose scope does not, a supervisor,
a planner, a moderator, an admin, and someone who followed the report before its resolution.
What each person *is* towards the subject is written here, independently of the app (the
oracle); what each relation allows is read from the policy's table. Each cell acts on a fresh
subject, so one person's success cannot change the next one's answer.
"""

from __future__ import annotations

import io
import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import text

from app import policy
from app.policy import (
    ADMIN,
    AUTHOR,
    EARLY_FOLLOWER,
    MEMBER,
    MODERATOR,
    PLANNER,
    SIGNED_IN,
    STAFF_IN_SCOPE,
    SUPERVISOR,
    VERIFIED,
)
from tests.conftest import Api, feature

PERSONAS = ("anonymous", "resident", "author", "agent_in_scope", "agent_out_of_scope",
            "supervisor", "planner", "moderator", "admin", "early_follower", "unverified")


def relations(persona: str, subject: str | None) -> set[str]:
    """The oracle: what each person is towards the subject — a report of graffiti in the 4e
    (agent_in_scope's scope; agent_out_of_scope has graffiti in the 11e), the same resolved
    after early_follower followed it, a proposal, or nothing."""
    if persona == "anonymous":
        return set()
    out = {SIGNED_IN}
    if persona != "unverified":  # everybody else confirmed their e-mail address
        out.add(VERIFIED)
    if persona in ("planner", "admin"):
        out.add(PLANNER)
    if persona == "author" and subject:
        # an organisation's and its mission's owner; a sign-up's volunteer
        out.add(MEMBER if subject in ("organisation", "mission", "signup") else AUTHOR)
    if persona == "early_follower" and subject == "resolved_report":
        out.add(EARLY_FOLLOWER)
    agents = {"agent_in_scope": subject != "proposal",  # nobody's scope holds a proposal
              "agent_out_of_scope": subject is None}  # without a subject: any agent
    if agents.get(persona) or persona in ("supervisor", "admin"):
        out.add(STAFF_IN_SCOPE)
    if persona in ("supervisor", "admin"):
        out.add(SUPERVISOR)
    if persona == "admin":
        out.add(ADMIN)
    if persona in ("moderator", "admin"):
        out.add(MODERATOR)
    return out


def expected(persona: str, action: str, subject: str | None) -> int:
    """The status class the policy promises: 2 (allowed), 401 or 403."""
    if set(policy.RULES[action]) & relations(persona, subject):
        return 2
    return 401 if persona == "anonymous" else 403


@dataclass
class Subject:
    """A fresh report (or proposal) by `author` at Notre-Dame (4e), resolved if asked."""

    kind: str
    id: int
    url: str
    extra: dict = field(default_factory=dict)


@dataclass
class Endpoint:
    name: str
    action: str
    method: str
    path: str  # "{s}" is the subject's URL
    # report, proposal, resolved_report, report_with_photo, redacted_report (its photo blurred by a
    # moderator; "{sha}" is the photo's, the original's once redacted) or None
    subject: str | None = "report"
    body: dict | None = None
    # answers past the gate that still mean "allowed": the state refuses, not the policy
    # (two-factor sign-in already on for a moderator, not on for a resident…)
    past_the_gate: tuple[int, ...] = ()


TOMORROW_FREE = {"to": "acknowledged", "public_note": "Vu"}
ENDPOINTS = [
    Endpoint("create report", "contribution.create", "POST", "/api/v1/reports", None,
             feature(title="Nouveau signalement")),
    Endpoint("create proposal", "contribution.create", "POST", "/api/v1/proposals", None,
             feature(title="Nouvelle idée", category="mobilite")),
    Endpoint("edit report", "contribution.edit", "PATCH", "{s}", "report",
             {"type": "Feature", "properties": {"title": "Titre corrigé"}}),
    Endpoint("move report", "contribution.edit", "PATCH", "{s}", "report",
             {"type": "Feature", "geometry": {"type": "Point", "coordinates": [2.3525, 48.8556]}}),
    Endpoint("edit proposal", "contribution.edit", "PATCH", "{s}", "proposal",
             {"type": "Feature", "properties": {"title": "Idée corrigée"}}),
    Endpoint("withdraw report", "contribution.withdraw", "DELETE", "{s}", "report"),
    Endpoint("withdraw proposal", "contribution.withdraw", "DELETE", "{s}", "proposal"),
    Endpoint("vote", "contribution.vote", "PUT", "{s}/vote", "proposal", {"value": -1}),
    Endpoint("unvote", "contribution.vote", "DELETE", "{s}/vote", "report"),
    Endpoint("comment", "contribution.comment", "POST", "{s}/comments", "report", {"body": "Merci"}),
    Endpoint("follow", "contribution.follow", "PUT", "{s}/follow", "report"),
    Endpoint("unfollow", "contribution.follow", "DELETE", "{s}/follow", "proposal"),
    Endpoint("transition", "report.transition", "POST", "{s}/transitions", "report", TOMORROW_FREE),
    Endpoint("batch", "report.transition", "POST", "/api/v1/agent/batch", "report",
             {"ids": ["{id}"], "to": "acknowledged"}),
    Endpoint("priority", "report.prioritise", "PUT", "{s}/priority", "report", {"priority": "minor"}),
    Endpoint("assignment", "report.assign", "PUT", "{s}/assignment", "report", {"agent_id": None}),
    Endpoint("feedback", "report.feedback", "POST", "{s}/feedback", "resolved_report",
             {"value": "fixed"}),
    Endpoint("queue", "reports.queue", "GET", "/api/v1/agent/queue", None),
    Endpoint("scopes", "agents.set_scopes", "PUT", "/api/v1/agents/{agent}/scopes", None,
             {"scopes": [{"service": "graffitis", "arrondissement": 11}]}),
    Endpoint("admin categories", "admin.manage", "GET", "/api/v1/admin/categories", None),
    Endpoint("add a category", "admin.manage", "POST", "/api/v1/admin/categories", None,
             {"kind": "proposal", "code": "matrix-theme", "label_fr": "Thème", "label_en": "Theme"}),
    Endpoint("edit a category", "admin.manage", "PATCH", "/api/v1/admin/categories/<code>", None,
             {"agent_only": False}),  # as it is: changes nothing
    Endpoint("admin services", "admin.manage", "GET", "/api/v1/admin/services", None),
    Endpoint("add a service", "admin.manage", "POST", "/api/v1/admin/services", None,
             {"code": "matrix-team", "name_fr": "Équipe", "name_en": "Team"}),
    Endpoint("rename a service", "admin.manage", "PATCH", "/api/v1/admin/services/<code>", None, {}),
    Endpoint("admin users", "admin.manage", "GET", "/api/v1/admin/users", None),
    Endpoint("set roles", "admin.manage", "PUT", "/api/v1/admin/users/{agent}/roles", None,
             {"roles": ["agent"]}),  # as they are
    Endpoint("api keys", "admin.manage", "GET", "/api/v1/admin/api-keys", None),
    Endpoint("issue an api key", "admin.manage", "POST", "/api/v1/admin/api-keys", None,
             {"name": "Matrix"}),
    Endpoint("revoke an api key", "admin.manage", "DELETE", "/api/v1/admin/api-keys/{key}", None,
             past_the_gate=(404,)),  # a key nobody issued
    Endpoint("sign out everywhere", "account.manage", "POST", "/api/v1/auth/logout-everywhere", None),
    Endpoint("sign out", "account.manage", "POST", "/api/v1/auth/logout", None),
    Endpoint("change password", "account.manage", "POST", "/api/v1/me/password", None,
             {"current_password": "a long enough password", "new_password": "another long password"}),
    Endpoint("resend verification", "account.manage", "POST", "/api/v1/me/verification", None),
    Endpoint("start two-factor", "account.manage", "POST", "/api/v1/me/totp", None,
             past_the_gate=(409,)),
    Endpoint("confirm two-factor", "account.manage", "POST", "/api/v1/me/totp/confirm", None,
             {"code": "000000"}, past_the_gate=(409,)),
    Endpoint("disable two-factor", "account.manage", "POST", "/api/v1/me/totp/disable", None,
             {"code": "000000"}, past_the_gate=(409, 422)),
    Endpoint("new recovery codes", "account.manage", "POST", "/api/v1/me/totp/recovery-codes", None,
             {"code": "000000"}, past_the_gate=(409, 422)),
    Endpoint("delete account", "account.manage", "POST", "/api/v1/me/delete", None,
             {"password": "a long enough password"}),
    Endpoint("flag", "moderation.flag", "POST", "/api/v1/flags", "report",
             {"subject_type": "contribution", "subject_id": "{id}", "reason": "spam"}),
    Endpoint("moderation queue", "moderation.review", "GET", "/api/v1/moderation/queue", None),
    Endpoint("hide", "moderation.review", "POST", "/api/v1/moderation/decisions", "proposal",
             {"subject_type": "contribution", "subject_id": "{id}", "action": "hide", "reason": "Hors sujet"}),
    Endpoint("moderator's edit", "moderation.review", "POST", "/api/v1/moderation/edits", "report",
             {"subject_type": "contribution", "subject_id": "{id}", "title": "Titre modéré", "reason": "Injure"}),
    Endpoint("banned domains", "moderation.review", "GET", "/api/v1/moderation/domains", None),
    Endpoint("ban a domain", "moderation.review", "PUT", "/api/v1/moderation/domains/<domain>", None,
             {"reason": "Spam"}),
    Endpoint("unban a domain", "moderation.review", "DELETE", "/api/v1/moderation/domains/<domain>", None,
             past_the_gate=(404,)),  # a domain nobody banned
    Endpoint("audit log", "audit.read", "GET", "/api/v1/audit", None),
    Endpoint("redact a photo", "photo.redact", "POST", "/api/v1/moderation/photos", "report_with_photo",
             {"contribution_id": "{id}", "sha256": "{sha}", "regions": [{"x": 0.1, "y": 0.1, "w": 0.5, "h": 0.5}],
              "reason": "Visage"}),
    Endpoint("a redacted photo's original", "photo.read_original", "GET",
             "/api/v1/moderation/photos/{sha}/original", "redacted_report"),
    Endpoint("answer a proposal", "proposal.answer", "POST", "{s}/answers", "proposal",
             {"status": "under_review", "public_note": "À l'étude"}),
    Endpoint("open a consultation", "consultation.manage", "POST", "/api/v1/consultations", None,
             {"title": "Matrice", "question": "Que faire ?", "area": {"arrondissements": [4]},
              "phases": [{"phase": "ideas", "starts_on": "2030-01-01", "ends_on": "2030-01-31"}]}),
    Endpoint("edit a consultation", "consultation.manage", "PATCH", "{s}", "consultation",
             {"question": "Que faire ici ?"}),
    Endpoint("publish a consultation", "consultation.manage", "POST", "{s}/publish", "consultation"),
    Endpoint("close a consultation", "consultation.manage", "POST", "{s}/close", "open_consultation"),
]

# e-petitions: subjects petition_draft, petition_awaiting (submitted) and petition_open (admitted)
ENDPOINTS += [
    Endpoint("draft a petition", "petition.create", "POST", "/api/v1/petitions", None,
             {"title": "Une pétition de la matrice", "body": "Texte", "addressee": "La Ville"}),
    Endpoint("edit a draft petition", "petition.edit", "PATCH", "{s}", "petition_draft",
             {"title": "Un titre de pétition corrigé"}),
    Endpoint("submit a petition", "petition.edit", "POST", "{s}/submit", "petition_draft"),
    Endpoint("read a draft petition", "petition.read_draft", "GET", "{s}", "petition_draft"),
    Endpoint("moderate a petition", "petition.moderate", "POST", "{s}/moderation", "petition_awaiting",
             {"decision": "admissible"}),
    Endpoint("sign a petition", "petition.sign", "PUT", "{s}/signature", "petition_open",
             {"public_name": False, "arrondissement": 4}),
    Endpoint("withdraw a signature", "petition.sign", "DELETE", "{s}/signature", "petition_open"),
    Endpoint("answer a petition", "petition.answer", "POST", "{s}/answer", "petition_open",
             {"answer": "La réponse de la Ville."}),
    Endpoint("petition settings", "admin.manage", "PUT", "/api/v1/admin/petition-settings", None,
             {"signing_days": 120, "answer_threshold": 1000, "referral_threshold": 5000}),  # as they are
]

# the participatory budget: subjects budget_draft (a draft cycle), budget_submission (a cycle
# taking projects), budget_project (one by `author` there), budget_feasibility,
# budget_co_construction (with another project of its envelope) and budget_won (a winner of
# a cycle in its results)
ENDPOINTS += [
    Endpoint("open a budget", "budget.manage", "POST", "/api/v1/budgets", None,
             {"year": 2049, "title": "Budget de la matrice", "phases": [
                 {"phase": "submission", "starts_on": "2049-01-01", "ends_on": "2049-01-31"}],
              "envelopes": [{"arrondissement": None, "amount_cents": 100}]}),
    Endpoint("edit a budget", "budget.manage", "PATCH", "{s}", "budget_draft", {"title": "Budget corrigé"}),
    Endpoint("submit a budget project", "budget.submit", "POST", "{s}/projects", "budget_submission",
             {"title": "Un projet de la matrice", "theme": "mobilite", "paris_wide": True}),
    Endpoint("support a budget project", "budget.submit", "PUT", "{s}/support", "budget_project"),
    Endpoint("withdraw a budget support", "budget.submit", "DELETE", "{s}/support", "budget_project"),
    Endpoint("edit a budget project", "budget.edit", "PATCH", "{s}", "budget_project",
             {"title": "Un projet corrigé"}),
    Endpoint("study a budget project", "budget.study", "POST", "{s}/feasibility", "budget_feasibility",
             {"feasible": True, "cost_cents": 100}),
    Endpoint("merge budget projects", "budget.study", "POST", "{s}/merge", "budget_co_construction",
             {"into": "{other}"}),
    Endpoint("record a delivery", "budget.study", "PUT", "{s}/delivery", "budget_won", {"status": "works"}),
    Endpoint("cast a ballot", "budget.vote", "PUT", "{s}/envelopes/<id:envelope_id>/ballot", "budget_vote",
             {"projects": ["{other}"]}),
    # no ballot of one's own yet: 404 `ballot_not_found`, past the gate
    Endpoint("withdraw a ballot", "budget.vote", "DELETE", "{s}/envelopes/<id:envelope_id>/ballot", "budget_vote",
             past_the_gate=(404,)),
    Endpoint("count a budget's vote", "budget.manage", "POST", "{s}/count", "budget_counting"),
    # past the gate without a file (422 on `photo`) or with no such photo (404)
    Endpoint("add a budget project photo", "budget.edit", "POST", "{s}/photos", "budget_project", {},
             past_the_gate=(422,)),
    Endpoint("remove a budget project photo", "budget.edit", "DELETE", "{s}/photos/<sha256>", "budget_project",
             past_the_gate=(404,)),
]
# volunteer missions: subjects organisation (verified, owned by `author`), mission (published,
# of such an organisation), signup (`resident`'s, on such a mission) and my_signup (`author`'s,
# on a mission of `planner`'s organisation)
ENDPOINTS += [
    Endpoint("register an organisation", "organisation.create", "POST", "/api/v1/organisations", None,
             {"name": "Association de la matrice", "rna": "W759999999"}, past_the_gate=(409,)),
    Endpoint("edit an organisation", "organisation.manage", "PATCH", "{s}", "organisation",
             {"description": "Nouvelle description"}),
    Endpoint("verify an organisation", "organisation.verify", "POST", "{s}/verification", "organisation",
             {"decision": "suspend", "reason": "Vérification"}),
    Endpoint("add a member", "organisation.manage", "POST", "{s}/members", "organisation",
             {"email": "nobody@example.org"}, past_the_gate=(422,)),
    Endpoint("remove a member", "organisation.manage", "DELETE", "{s}/members/{agent}", "organisation",
             past_the_gate=(404,)),  # not a member
    Endpoint("draft a mission", "organisation.manage", "POST", "{s}/missions", "organisation",
             {"title": "Mission de la matrice", "description": "x", "domain": "sport", "remote": "full",
              "schedule": "open_period", "period": {"starts_at": "2099-01-01T10:00:00+01:00", "capacity": 1}}),
    Endpoint("import missions", "organisation.manage", "POST", "{s}/missions/api-engagement", "organisation",
             {"data": []}),
    Endpoint("edit a mission", "organisation.manage", "PATCH", "{s}", "mission", {"title": "Mission corrigée"}),
    Endpoint("close a mission", "organisation.manage", "POST", "{s}/state", "mission", {"action": "close"}),
    Endpoint("change a slot's capacity", "organisation.manage", "PUT", "{s}/slots/{slot}/capacity", "mission",
             {"capacity": 9}),
    Endpoint("sign up for a mission", "mission.signup", "POST", "{s}/signups", "mission", {"slot_id": "{slot}"}),
    Endpoint("decide on a sign-up", "organisation.manage", "POST", "{s}/signups/{signup}/decision", "signup",
             {"decision": "accept"}),
    Endpoint("cancel a sign-up", "mission.cancel_signup", "DELETE", "{s}/signups/{signup}", "my_signup"),
]
ORGANISATION_NUMBERS = itertools.count(1)

# area alerts: subject alert (`author`'s, each on a quartier of its own); anyone else's DELETE
# is a 404 past the gate (alerts are private: another's is as missing as none)
ENDPOINTS += [
    Endpoint("follow an area", "alert.create", "POST", "/api/v1/me/alerts", None,
             {"area": "arrondissement", "arrondissement": 4}),
    Endpoint("stop an area alert", "account.manage", "DELETE", "{s}", "alert", past_the_gate=(404,)),
]
ALERT_QUARTIERS = itertools.count(1)


def make_mission_subject(people, kind: str) -> Subject:
    """A fresh verified organisation (its owner `author`, or `planner` for my_signup) and, but
    for kind organisation, a published mission of it with one slot, signed up for by `resident`
    (signup) or by `author` (my_signup)."""
    owner = people["planner" if kind == "my_signup" else "author"]
    r = owner.post("/api/v1/organisations", json={
        "name": "Association de la matrice", "rna": f"W7{next(ORGANISATION_NUMBERS):08d}"})
    assert r.status_code == 201, r.json
    org = r.json["id"]
    assert people["moderator"].post(f"/api/v1/organisations/{org}/verification",
                                    json={"decision": "verify"}).status_code == 200
    if kind == "organisation":
        return Subject(kind, org, f"/api/v1/organisations/{org}")
    r = owner.post(f"/api/v1/organisations/{org}/missions", json={
        "title": "Mission de la matrice", "description": "x", "domain": "sport", "remote": "full",
        "schedule": "open_period", "period": {"starts_at": "2099-01-01T10:00:00+01:00", "capacity": 5}})
    assert r.status_code == 201, r.json
    url = f"/api/v1/missions/{r.json['id']}"
    assert owner.post(f"{url}/state", json={"action": "publish"}).status_code == 200
    subject = Subject(kind, r.json["id"], url, {"slot": r.json["slots"][0]["id"]})
    if kind in ("signup", "my_signup"):
        volunteer = people["resident" if kind == "signup" else "author"]
        done = volunteer.post(f"{url}/signups", json={"slot_id": subject.extra["slot"]})
        assert done.status_code == 201, done.json
        subject.extra["signup"] = done.json["id"]
    return subject


BUDGET_YEARS = itertools.count()


def make_budget(people, kind: str) -> Subject:
    """A fresh cycle (a year of its own) and, for the project kinds, a project by `author` in
    it; then time moves on to the phase the endpoint needs."""
    from app.db import db

    admin, today = people["admin"], datetime.now(ZoneInfo("Europe/Paris")).date()
    r = admin.post("/api/v1/budgets", json={
        "year": 2050 + next(BUDGET_YEARS) % 50, "title": "Budget de la matrice",
        "phases": [{"phase": "submission", "starts_on": (today - timedelta(days=1)).isoformat(),
                    "ends_on": (today + timedelta(days=9)).isoformat()}],
        "envelopes": [{"arrondissement": None, "amount_cents": 100}]})
    assert r.status_code == 201, r.json
    cycle = Subject(kind, r.json["id"], f"/api/v1/budgets/{r.json['id']}")
    if kind == "budget_draft":
        return cycle
    assert admin.patch(cycle.url, json={"status": "published"}).status_code == 200
    if kind == "budget_submission":
        return cycle
    if kind == "budget_counting":  # time passes: the vote is over
        _to_phase(people, cycle.id, "results")
        return cycle
    made = [people["author"].post(f"{cycle.url}/projects", json={
        "title": f"Projet {n}", "theme": "mobilite", "paris_wide": True}) for n in range(2)]
    assert {m.status_code for m in made} == {201}, made[0].json
    subject = Subject(kind, made[0].json["id"], f"/api/v1/budget-projects/{made[0].json['id']}",
                      {"other": made[1].json["id"]})
    if kind == "budget_vote":  # studied, feasible, and today in the vote: the cycle is the subject
        _to_phase(people, cycle.id, "vote", feasible=True)
        return Subject(kind, cycle.id, cycle.url, {"other": made[0].json["id"],
                                                   "envelope": r.json["envelopes"][0]["id"]})
    stage = {"budget_feasibility": "feasibility", "budget_co_construction": "co_construction",
             "budget_won": "results"}.get(kind)
    if stage:  # time passes: today is in that phase
        with people["admin"].client.application.app_context():
            db.session.execute(text("UPDATE budget_phases SET phase = :p WHERE cycle_id = :c"),
                               {"p": stage, "c": cycle.id})
            if kind == "budget_won":
                db.session.execute(text("UPDATE budget_projects SET status = 'won', feasibility_cost_cents = 1 "
                                        "WHERE id = :p"), {"p": subject.id})
            db.session.commit()
    return subject


def _to_phase(people, cycle_id: int, stage: str, feasible: bool = False) -> None:
    from app.db import db

    with people["admin"].client.application.app_context():
        db.session.execute(text("UPDATE budget_phases SET phase = :p WHERE cycle_id = :c"), {"p": stage, "c": cycle_id})
        if stage == "results":  # the vote that came before
            db.session.execute(text("""INSERT INTO budget_phases (cycle_id, phase, starts_at, ends_at)
                                       SELECT cycle_id, 'vote', starts_at - interval '10 days', starts_at
                                       FROM budget_phases WHERE cycle_id = :c"""), {"c": cycle_id})
        if feasible:
            db.session.execute(text("UPDATE budget_projects SET status = 'feasible', feasibility_cost_cents = 1 "
                                    "WHERE cycle_id = :c"), {"c": cycle_id})
        db.session.commit()


def make_petition(people, kind: str) -> Subject:
    """A fresh petition by `author`: a draft, awaiting moderation, or open (found admissible)."""
    author = people["author"]
    r = author.post("/api/v1/petitions", json={"title": "Une pétition de la matrice", "body": "Texte",
                                               "addressee": "La Ville"})
    assert r.status_code == 201, r.json
    url = f"/api/v1/petitions/{r.json['id']}"
    if kind in ("petition_awaiting", "petition_open"):
        assert author.post(f"{url}/submit").status_code == 200
    if kind == "petition_open":
        done = people["moderator"].post(f"{url}/moderation", json={"decision": "admissible"})
        assert done.status_code == 200, done.json
    return Subject(kind, r.json["id"], url)


PHOTO_COLOURS = itertools.count()


def jpeg(n: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (n % 256, n // 256 % 256, 99)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def people(client, session) -> dict[str, Api | None]:
    made = {p: Api(client, roles=(p if p in ("supervisor", "planner", "moderator", "admin")
                                  else "agent" if p.startswith("agent") else "resident",),
                   name=p) for p in PERSONAS if p != "anonymous"}
    session.execute(text("UPDATE users SET email_verified_at = now() WHERE id = ANY(:ids)"),
                    {"ids": [a.user_id for p, a in made.items() if p != "unverified"]})
    for persona, arrondissement in (("agent_in_scope", 4), ("agent_out_of_scope", 11)):
        session.execute(text("""INSERT INTO agent_scopes (user_id, service_id, arrondissement_id)
            SELECT :u, id, :a FROM services WHERE code = 'graffitis'"""),
                        {"u": made[persona].user_id, "a": arrondissement})
    session.commit()
    return {"anonymous": None, **made}


def make_subject(client, people, kind: str) -> Subject:
    if kind.startswith("petition"):
        return make_petition(people, kind)
    if kind.startswith("budget"):
        return make_budget(people, kind)
    if kind in ("organisation", "mission", "signup", "my_signup"):
        return make_mission_subject(people, kind)
    if kind == "alert":
        r = people["author"].post("/api/v1/me/alerts", json={"area": "quartier", "quartier": next(ALERT_QUARTIERS)})
        assert r.status_code == 201, r.json
        return Subject(kind, r.json["id"], f"/api/v1/me/alerts/{r.json['id']}")
    author = people["author"]
    if kind in ("consultation", "open_consultation"):  # a planner's (the author is nobody's here)
        today = datetime.now(ZoneInfo("Europe/Paris")).date()
        r = people["planner"].post("/api/v1/consultations", json={
            "title": "Consultation", "question": "Que faire ?", "area": {"arrondissements": [4]},
            "phases": [{"phase": "ideas", "starts_on": today.isoformat(),
                        "ends_on": (today + timedelta(days=9)).isoformat()}]})
        assert r.status_code == 201, r.json
        url = f"/api/v1/consultations/{r.json['id']}"
        if kind == "open_consultation":
            assert people["planner"].post(f"{url}/publish").status_code == 200
        return Subject(kind, r.json["id"], url)
    plural = "proposals" if kind == "proposal" else "reports"
    body = feature(title="Sujet de test", category="mobilite" if kind == "proposal" else "graffitis")
    if kind in ("report_with_photo", "redacted_report"):  # a photo of its own (a new SHA-256)
        r = author.post(f"/api/v1/{plural}", data={"feature": json.dumps(body), "photos": [
            (io.BytesIO(jpeg(next(PHOTO_COLOURS))), "photo.jpg")]}, content_type="multipart/form-data")
    else:
        r = author.post(f"/api/v1/{plural}", json=body)
    assert r.status_code == 201, r.json
    subject = Subject(kind, r.json["id"], f"/api/v1/{plural}/{r.json['id']}")
    if r.json["properties"].get("photos"):
        subject.extra["sha"] = r.json["properties"]["photos"][0]["url"].rsplit("/", 1)[1][:64]
    if kind == "redacted_report":
        done = people["moderator"].post("/api/v1/moderation/photos", json={
            "contribution_id": subject.id, "sha256": subject.extra["sha"], "reason": "Visage",
            "regions": [{"x": 0, "y": 0, "w": 0.5, "h": 0.5}]})
        assert done.status_code == 201, done.json
    if kind == "resolved_report":
        assert people["early_follower"].put(f"{subject.url}/follow").status_code == 200
        done = people["supervisor"].post(f"{subject.url}/transitions",
                                         json={"to": "resolved", "resolution": "fixed"})
        assert done.status_code == 201, done.json
    return subject


def call(client, who: Api | None, endpoint: Endpoint, subject: Subject | None, people):
    path = endpoint.path.replace("{agent}", str(people["agent_out_of_scope"].user_id))
    path = path.replace("<domain>", "spam.example").replace("<code>", "graffitis")
    path = path.replace("{key}", "999999")
    body = endpoint.body
    if subject is not None:
        path = path.replace("{s}", subject.url).replace("{sha}", subject.extra.get("sha", ""))
        path = path.replace("{slot}", str(subject.extra.get("slot"))).replace("{signup}", str(subject.extra.get("signup")))
        if body and body.get("slot_id") == "{slot}":
            body = {**body, "slot_id": subject.extra["slot"]}
        if body and body.get("sha256") == "{sha}":
            body = {**body, "contribution_id": subject.id, "sha256": subject.extra["sha"]}
        if body and body.get("ids") == ["{id}"]:
            body = {**body, "ids": [subject.id]}
        if body and body.get("subject_id") == "{id}":
            body = {**body, "subject_id": subject.id}
        if body and body.get("into") == "{other}":
            body = {**body, "into": subject.extra["other"]}
        if body and body.get("projects") == ["{other}"]:
            body = {**body, "projects": [subject.extra["other"]]}
        path = path.replace("<id:envelope_id>", str(subject.extra.get("envelope", ""))).replace("<sha256>", "0" * 64)
    send = getattr(who or client, endpoint.method.lower())
    return send(path, json=body) if body is not None else send(path)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_the_matrix(client, people, endpoint):
    got, want = {}, {}
    for persona in PERSONAS:
        subject = make_subject(client, people, endpoint.subject) if endpoint.subject else None
        r = call(client, people[persona], endpoint, subject, people)
        allowed = r.status_code < 300 or r.status_code in endpoint.past_the_gate
        got[persona] = 2 if allowed else r.status_code
        want[persona] = expected(persona, endpoint.action, endpoint.subject)
        if r.status_code >= 400:
            assert r.content_type == "application/problem+json"
    assert got == want


def test_every_rule_and_every_write_endpoint_is_in_the_matrix(app):
    # their own tests: internal notes below, hidden contributions and agent-only categories
    # (a resident is refused with 422 `category_agent_only` on the field, not 403) elsewhere
    assert {e.action for e in ENDPOINTS} == set(policy.RULES) - {
        "report.read_internal", "moderation.read_hidden", "category.agent_only",
        "proposal.link_reports", "consultation.read_draft"}
    declared = {(method, rule.rule) for rule in app.url_map.iter_rules()
                for method in rule.methods & {"POST", "PUT", "PATCH", "DELETE"}
                if rule.rule.startswith("/api/")}
    covered = {(e.method, e.path) for e in ENDPOINTS}
    public = {("POST", f"/api/v1/auth/{path}") for path in  # anyone
              ("register", "token", "verify-email", "password-reset", "password-reset/confirm")}
    as_rules = {(m, r.replace("<id:contribution_id>", "").replace("<id:user_id>", "{agent}")
                 .replace("<id:key_id>", "{key}")
                 .replace("/api/v1/petitions/<id:petition_id>", "{s}")
                 .replace("/api/v1/consultations/<id:consultation_id>", "{s}")
                 .replace("/api/v1/budgets/<id:cycle_id>", "{s}")
                 .replace("/api/v1/budget-projects/<id:project_id>", "{s}")
                 .replace("/api/v1/organisations/<id:organisation_id>", "{s}")
                 .replace("/api/v1/missions/<id:mission_id>", "{s}").replace("<id:slot_id>", "{slot}")
                 .replace("<id:signup_id>", "{signup}")
                 .replace("/api/v1/me/alerts/<id:alert_id>", "{s}")
                 .replace("/api/v1/reports/", "{s}").replace("/api/v1/proposals/", "{s}"))
                for m, r in declared}
    missing = {d for d in as_rules if d not in covered and d[0] + d[1] not in
               {m + r for m, r in public}}
    assert missing == set()


def test_internal_notes_and_the_actor_only_for_staff_covering_the_report(client, people):
    subject = make_subject(client, people, "report")
    note = {"to": "acknowledged", "internal_note": "Voisin énervé", "public_note": "Vu"}
    assert people["agent_in_scope"].post(f"{subject.url}/transitions", json=note).status_code == 201
    seen = {}
    for persona in PERSONAS:
        who = people[persona] or client
        event = who.get(f"{subject.url}/history").json["history"][-1]
        seen[persona] = event.get("internal_note"), event.get("actor")
    covering = {"agent_in_scope", "supervisor", "admin"}
    assert {p for p, v in seen.items() if v != (None, None)} == covering
    assert seen["admin"] == ("Voisin énervé", "agent_in_scope")


def test_staff_cannot_move_or_recategorise_a_report_out_of_their_scope(client, people):
    agent = people["agent_in_scope"]
    for change, field_name in (
        ({"geometry": {"type": "Point", "coordinates": [2.3795, 48.8635]}}, "geometry"),  # 11e
        ({"properties": {"category": "eclairage"}}, "category"),
    ):
        subject = make_subject(client, people, "report")
        r = agent.patch(subject.url, json={"type": "Feature", **change})
        assert r.status_code == 422, r.json
        assert [(e["field"], e["code"]) for e in r.json["errors"]] == [(field_name, "out_of_scope")]
        still = client.get(subject.url).json
        assert still["properties"]["arrondissement"] == 4
        assert still["properties"]["category"]["code"] == "graffitis"
    # inside the scope it moves (to the other side of the parvis, still the 4e)
    subject = make_subject(client, people, "report")
    r = agent.patch(subject.url, json={"type": "Feature", "geometry": {
        "type": "Point", "coordinates": [2.3488, 48.8536]}})
    assert r.status_code == 200 and r.json["geometry"]["coordinates"] == [2.3488, 48.8536]
    # the author may move their own report anywhere in Paris
    subject = make_subject(client, people, "report")
    r = people["author"].patch(subject.url, json={"type": "Feature", "geometry": {
        "type": "Point", "coordinates": [2.3795, 48.8635]}})
    assert r.status_code == 200 and r.json["properties"]["arrondissement"] == 11


def test_a_merge_needs_both_reports_in_scope(client, people, session):
    agent = people["agent_in_scope"]
    mine = make_subject(client, people, "report")
    far = people["author"].post("/api/v1/reports", json=feature(2.3795, 48.8635, title="Tag 11e"))
    people["resident"].put(f"/api/v1/reports/{mine.id}/vote", json={"value": 1})
    r = agent.post(f"{mine.url}/transitions", json={"to": "duplicate", "duplicate_of": far.json["id"]})
    assert r.status_code == 422
    assert [(e["field"], e["code"]) for e in r.json["errors"]] == [("duplicate_of", "out_of_scope")]
    votes = session.execute(text("SELECT id, votes_up FROM contributions WHERE id IN (:a, :b) ORDER BY id"),
                            {"a": mine.id, "b": far.json["id"]}).all()
    assert [v for _, v in votes] == [1, 0]  # no vote moved
    near = make_subject(client, people, "report")
    r = agent.post(f"{mine.url}/transitions", json={"to": "duplicate", "duplicate_of": near.id})
    assert r.status_code == 201


def test_feedback_belongs_to_the_reporter_and_early_followers_once_per_resolution(client, people):
    subject = make_subject(client, people, "resolved_report")
    late = people["resident"]
    assert late.put(f"{subject.url}/follow").status_code == 200  # after the resolution
    r = late.post(f"{subject.url}/feedback", json={"value": "still_there"})
    assert r.status_code == 403 and r.json["code"] == "not_reporter_or_follower"

    author = people["author"]
    assert author.post(f"{subject.url}/feedback", json={"value": "still_there"}).json["status"] == "acknowledged"
    people["supervisor"].post(f"{subject.url}/transitions", json={"to": "resolved", "resolution": "fixed"})
    assert author.post(f"{subject.url}/feedback", json={"value": "fixed"}).status_code == 201
    again = author.post(f"{subject.url}/feedback", json={"value": "still_there"})
    assert again.status_code == 409 and again.json["code"] == "feedback_given"
    reopened = client.get(subject.url).json["properties"]
    assert reopened["status"] == "resolved"
    # the early follower still has their say on this resolution
    r = people["early_follower"].post(f"{subject.url}/feedback", json={"value": "still_there"})
    assert r.status_code == 201 and r.json["reopen_count"] == 2
