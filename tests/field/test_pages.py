"""The agents' pages: who may see them, the queue limited to the agent's scope, the form."""

import re

from sqlalchemy import text

from app.field import workflow

META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def sign_in(client, api) -> None:
    """Sign the test client in (session cookie) as the account behind `api`."""
    token = META_CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    r = client.post("/login", data={"csrf_token": token, "email": api.email, "password": api.password})
    assert r.status_code == 302, r.get_data(as_text=True)


def test_anonymous_is_sent_to_sign_in(client):
    for path in ("/agent", "/agent/reports/1"):
        r = client.get(path)
        assert r.status_code == 302
        assert "/login?next=" in r.headers["Location"]


def test_residents_and_planners_get_a_403_page(client, make_user):
    for roles in (("resident",), ("planner",)):
        sign_in(client, make_user(roles=roles))
        r = client.get("/agent")
        assert r.status_code == 403
        assert r.mimetype == "text/html"
        assert "Accès refusé" in r.get_data(as_text=True)


def test_nav_links_by_role(client, make_user, agent_4):
    sign_in(client, make_user(roles=("resident",)))
    html = client.get("/").get_data(as_text=True)
    assert 'href="/agent"' not in html and 'href="/planner"' not in html
    sign_in(client, agent_4)
    html = client.get("/").get_data(as_text=True)
    assert 'href="/agent"' in html and 'href="/planner"' in html  # agents are staff
    assert ">Agent<" in html and ">Planificateur<" in html


def test_queue_shows_only_reports_in_scope(client, make_report, agent_4):
    inside = make_report(title="Tag rue des Archives")  # Notre-Dame: 4e, graffitis
    outside_area = make_report(title="Tag place de la République", lon=2.3636, lat=48.8674)
    outside_service = make_report(title="Nid-de-poule quai", category="voirie")
    sign_in(client, agent_4)
    html = client.get("/agent?sort=newest").get_data(as_text=True)
    assert "Tag rue des Archives" in html
    assert f'href="/agent/reports/{inside["id"]}"' in html
    assert "Tag place de la République" not in html and "Nid-de-poule quai" not in html
    # and the detail page of an out-of-scope report is refused
    for other in (outside_area, outside_service):
        r = client.get(f"/agent/reports/{other['id']}")
        assert r.status_code == 403 and "hors de vos services" in r.get_data(as_text=True)
    # the API's filters apply to the page: no report of this test has a priority yet
    filtered = client.get("/agent?sort=oldest&priority=dangerous")
    assert filtered.status_code == 200 and "Tag rue des Archives" not in filtered.get_data(as_text=True)
    client.put(f"/api/v1/reports/{inside['id']}/priority", json={"priority": "dangerous"},
               headers={"X-CSRF-Token": META_CSRF.search(html).group(1)})
    assert "Tag rue des Archives" in client.get("/agent?sort=oldest&priority=dangerous").get_data(as_text=True)


def test_report_page_lists_only_allowed_targets(client, make_report, agent_4, session):
    report = make_report(title="Tag sur la façade")
    sign_in(client, agent_4)
    html = client.get(f"/agent/reports/{report['id']}").get_data(as_text=True)
    targets = re.findall(r'name="to" value="(\w+)"', html)
    assert targets == list(workflow.TRANSITIONS["new"])
    assert 'name="planned_for"' in html and 'name="resolution"' in html and 'name="photo"' in html
    session.execute(text("UPDATE contributions SET status = 'resolved' WHERE id = :id"), {"id": report["id"]})
    session.commit()
    html = client.get(f"/agent/reports/{report['id']}").get_data(as_text=True)
    assert re.findall(r'name="to" value="(\w+)"', html) == ["acknowledged"]
    assert client.get("/agent/reports/999999999").status_code == 404


def test_report_page_shows_internal_notes(client, make_report, agent_4):
    report = make_report(title="Tag sur la porte")
    r = agent_4.post(f"/api/v1/reports/{report['id']}/transitions", json={
        "to": "acknowledged", "internal_note": "Voir avec le <bailleur>"})
    assert r.status_code == 201, r.json
    sign_in(client, agent_4)
    html = client.get(f"/agent/reports/{report['id']}").get_data(as_text=True)
    assert "Voir avec le &lt;bailleur&gt;" in html
    assert "Pris en compte" in html
