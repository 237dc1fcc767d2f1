"""The agent's queue on a phone: paging with totals and filters kept, the reopened flag,
thumbnails and "navigate" links, the confirmations after a change, dates in the page's language."""

import re
from datetime import date, timedelta
from html import unescape

from babel.dates import format_date
from sqlalchemy import text

from app.web.agent import PAGE_SIZE
from tests.field.test_pages import sign_in

ITEM = re.compile(r'<input type="checkbox" class="queue-check" value="(\d+)"')


def queue_ids(html: str) -> list[int]:
    return [int(i) for i in ITEM.findall(html)]


def next_link(html: str) -> str | None:
    found = re.search(r'<a rel="next" href="([^"]+)"', html)
    return unescape(found.group(1)) if found else None


def test_the_queue_pages_through_every_report_with_totals_and_filters(client, make_report, agent_4):
    for i in range(PAGE_SIZE + 5):
        make_report(title=f"Tag numéro {i}")
    # the API (no paging) is the reference: every open report in scope, oldest first
    api = agent_4.get("/api/v1/agent/queue?sort=oldest&category=graffitis&limit=1000").get_json()
    expected = [f["id"] for f in api["features"]]
    total = sum(n for s, n in api["counts"].items() if s not in ("resolved", "rejected", "duplicate"))
    assert total == len(expected) > PAGE_SIZE
    sign_in(client, agent_4)
    url, seen, page = "/agent?sort=oldest&category=graffitis&status=", [], 0
    while url:
        page += 1
        html = client.get(url).get_data(as_text=True)
        ids = queue_ids(html)
        assert 0 < len(ids) <= PAGE_SIZE
        first, last = len(seen) + 1, len(seen) + len(ids)
        range_text = re.search(r'<p class="queue-range" id="queue-range">([^<]+)</p>', html).group(1)
        numbers = [int(re.sub(r"\D", "", n)) for n in re.findall(r"\d[\d\s\u202f\xa0]*", range_text)]
        assert numbers == [first, last, total], range_text  # "1–50 sur 1 987"
        seen += ids
        url = next_link(html)
        if url:  # the filters are kept, blank ones left out, the page number added
            assert "sort=oldest" in url and "category=graffitis" in url and "status=" not in url
            assert f"page={page + 1}" in url
    assert seen == expected and page == -(-total // PAGE_SIZE)
    # the last page links back; a page past the end shows the last one
    assert '<a rel="prev"' in html
    assert queue_ids(client.get(f"/agent?sort=oldest&category=graffitis&page={page + 5}")
                     .get_data(as_text=True)) == expected[(page - 1) * PAGE_SIZE:]
    # the map holds the page's reports only
    first_page = client.get("/agent?sort=oldest&category=graffitis").get_data(as_text=True)
    assert len(queue_ids(first_page)) == PAGE_SIZE
    assert first_page.count('"url": "/agent/reports/') <= PAGE_SIZE
    assert len(first_page) < 120_000  # a page a phone loads quickly


def test_a_reopened_report_is_flagged_with_words(client, make_report, agent_4, resident):
    again = make_report(title="Tag revenu")
    other = make_report(title="Tag tout neuf")
    r = agent_4.post(f"/api/v1/reports/{again['id']}/transitions",
                     json={"to": "resolved", "resolution": "fixed"})
    assert r.status_code == 201, r.get_json()
    r = resident.post(f"/api/v1/reports/{again['id']}/feedback", json={"value": "still_there"})
    assert r.status_code == 201 and r.get_json()["reopen_count"] == 1, r.get_json()
    sign_in(client, agent_4)
    html = client.get("/agent?sort=newest&lang=en").get_data(as_text=True)
    items = {int(m.group(1)): m.group(0) for m in re.finditer(
        r'class="queue-check" value="(\d+)".*?</li>', html, re.S)}
    assert 'class="badge-reopened">Reopened<' in items[again["id"]]
    assert "badge-reopened" not in items[other["id"]]


def test_thumbnail_and_navigate_links(client, make_report, agent_4, session):
    report = make_report(title="Tag avec photo")
    session.execute(text("""INSERT INTO photos (contribution_id, sha256, width, height, bytes, position)
        VALUES (:id, :sha, 800, 600, 1000, 0)"""), {"id": report["id"], "sha": "ab" * 32})
    session.commit()
    sign_in(client, agent_4)
    html = client.get("/agent?sort=newest&lang=en").get_data(as_text=True)
    item = re.search(rf'value="{report["id"]}".*?</li>', html, re.S).group(0)
    assert f'src="/media/photos/{"ab" * 32}.thumb.jpg"' in item and 'loading="lazy"' in item
    assert 'alt="Photo: Tag avec photo"' in item
    assert 'href="geo:48.853,2.3499?q=48.853,2.3499"' in item
    assert 'href="https://www.openstreetmap.org/directions?to=48.853%2C2.3499' in item
    assert re.search(r'aria-label="Navigate to [^"]+ with the maps app">Navigate<', item)
    page = client.get(f"/agent/reports/{report['id']}?lang=en").get_data(as_text=True)
    assert 'href="geo:48.853000,2.349900?q=48.853000,2.349900"' in page


def test_saved_message_after_a_status_change_once(client, make_report, agent_4, make_user):
    report = make_report(title="Tag à enregistrer")
    r = agent_4.post(f"/api/v1/reports/{report['id']}/transitions", json={"to": "acknowledged"})
    assert r.status_code == 201
    event_id = r.get_json()["event_id"]
    sign_in(client, agent_4)
    r = client.get(f"/agent/reports/{report['id']}?changed={event_id}&lang=en")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/agent/reports/{report['id']}")
    html = client.get(f"/agent/reports/{report['id']}").get_data(as_text=True)
    assert re.search(r'<p class="form-notice agent-notice" role="status">Saved: the status is now “Acknowledged”',
                     html)
    assert "agent-notice" not in client.get(f"/agent/reports/{report['id']}").get_data(as_text=True)
    # someone else's change, or a made-up one, says nothing
    other = make_user(roles=("supervisor",))
    sign_in(client, other)
    client.get(f"/agent/reports/{report['id']}?changed={event_id}")
    assert "agent-notice" not in client.get(f"/agent/reports/{report['id']}").get_data(as_text=True)
    client.get(f"/agent/reports/{report['id']}?changed=99999999")
    assert "agent-notice" not in client.get(f"/agent/reports/{report['id']}").get_data(as_text=True)


def test_confirmation_after_a_batch(client, make_report, agent_4):
    ids = [make_report(title=f"Tag du lot {i}")["id"] for i in range(3)]
    r = agent_4.post("/api/v1/agent/batch", json={"ids": ids[:2], "to": "acknowledged"})
    assert r.status_code == 200, r.get_json()
    sign_in(client, agent_4)
    r = client.get(f"/agent?sort=newest&lang=en&changed={ids[0]},{ids[1]},{ids[2]}&to=acknowledged")
    assert r.status_code == 302
    assert "changed" not in r.headers["Location"] and "sort=newest" in r.headers["Location"]
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    # only what really changed is counted (the third report was not in the batch)
    assert re.search(r'role="status">2 reports changed to “Acknowledged”\.</p>', html)
    assert "agent-notice" not in client.get("/agent?sort=newest").get_data(as_text=True)


def test_dates_in_the_page_language(client, make_report, agent_4):
    report = make_report(title="Tag programmé")
    planned = date.today() + timedelta(days=10)
    r = agent_4.post(f"/api/v1/reports/{report['id']}/transitions",
                     json={"to": "scheduled", "planned_for": planned.isoformat()})
    assert r.status_code == 201, r.get_json()
    sign_in(client, agent_4)
    for lang, locale in (("fr", "fr_FR"), ("en", "en")):
        shown = format_date(planned, "medium", locale=locale)  # "6 déc. 2026", "Dec 6, 2026"
        queue = client.get(f"/agent?sort=newest&lang={lang}").get_data(as_text=True)
        item = re.search(rf'value="{report["id"]}".*?</li>', queue, re.S).group(0)
        assert f'<time datetime="{planned.isoformat()}">{shown}</time>' in item
        assert planned.isoformat() not in re.sub(r'datetime="[^"]*"', "", item)
        page = client.get(f"/agent/reports/{report['id']}?lang={lang}").get_data(as_text=True)
        assert f'<time datetime="{planned.isoformat()}">{shown}</time>' in page
        history = page[page.index('id="history"'):]
        assert planned.isoformat() not in re.sub(r'datetime="[^"]*"', "", history)
