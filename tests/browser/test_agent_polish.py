"""The agent's queue on a 360 × 740 phone: a compact header, pages with totals, "select all",
the batch bar stuck to the bottom, the confirmation after a batch, thumbnails and "navigate"
links; axe-core finds nothing serious on the queue and a report page, in French and English."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import text

from app.db import db
from tests.browser.conftest import SHOTS, photo_bytes, scalar, sign_in, unique
from tests.browser.test_accessibility import violations
from tests.browser.test_agent import NOTRE_DAME, agent_email  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740, "is_mobile": True, "has_touch": True}


@pytest.fixture
def many_reports(api_user):
    """55 graffiti reports in the 4e (more than a page), the last three with a photo."""
    reporter = api_user("Riverain")
    ids = []
    for i in range(55):
        feature = {"type": "Feature",
                   "geometry": {"type": "Point", "coordinates": [NOTRE_DAME[0] + i * 1e-5, NOTRE_DAME[1]]},
                   "properties": {"title": unique(f"Tag n° {i}"), "category": "graffitis"}}
        if i >= 52:
            r = reporter.post(f"{reporter.base}/api/v1/reports", timeout=10,
                              data={"feature": json.dumps(feature)},
                              files={"photos": ("tag.jpg", photo_bytes((30 + i, 90, 160)), "image/jpeg")})
        else:
            r = reporter.post(f"{reporter.base}/api/v1/reports", json=feature, timeout=10)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    yield ids
    remove(ids)


def remove(ids: list[int]) -> None:
    """Gone after their test: reports piled on one spot stay one cluster at the deepest zoom
    of the map tests' view of the centre (the package's clean-up runs only at its end)."""
    with db.engine.begin() as conn:
        for sql in ("DELETE FROM comments WHERE contribution_id = ANY(:ids)",
                    "DELETE FROM votes WHERE contribution_id = ANY(:ids)",
                    "DELETE FROM contributions WHERE id = ANY(:ids)"):
            conn.execute(text(sql), {"ids": ids})


def test_the_queue_on_a_phone(open_context, agent_email, many_reports):  # noqa: F811
    SHOTS.mkdir(parents=True, exist_ok=True)
    context, _watch = open_context(**PHONE)
    page = context.new_page()
    sign_in(page, agent_email, next_path="/agent?sort=newest")
    page.wait_for_url(re.compile(r"/agent\?sort=newest$"))

    # the header fits: one or two rows at most, every link still there
    header = page.locator(".site-header").bounding_box()
    assert header["height"] <= 2 * 44 + 16, header
    for name in ("Agent", "Consultations", "Pétitions", "Cartagora"):
        assert page.get_by_role("link", name=name, exact=True).count() == 1, name
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360

    # totals and pages
    total = scalar("""SELECT count(*) FROM contributions c JOIN categories k ON k.id = c.category_id
        WHERE c.kind = 'report' AND c.arrondissement_id = 4 AND NOT c.hidden AND c.withdrawn_at IS NULL
          AND c.status IN ('new', 'acknowledged', 'scheduled', 'transferred')
          AND c.service_id = (SELECT id FROM services WHERE code = 'graffitis')""")
    assert total >= 55
    numbers = [int(re.sub(r"\D", "", n)) for n in
               re.findall(r"\d[\d\s\u202f\xa0]*", page.locator("#queue-range").inner_text())]
    assert numbers == [1, 50, total]
    assert page.locator(".queue-item").count() == 50
    # a light page: 50 reports, not 200 (it was 193 KB and 40,000 px tall)
    size = page.evaluate("() => document.documentElement.outerHTML.length")
    height = page.evaluate("() => document.documentElement.scrollHeight")
    print(f"queue page: {size} characters, {height} px tall")
    assert size < 120_000 and height < 15_000
    # the account menu opens under the header, not clipped by the scrolling row of links
    page.locator(".account-menu summary").click()
    menu = page.locator(".account-menu .menu-body")
    box = menu.bounding_box()
    assert menu.is_visible() and box["x"] >= 0 and box["x"] + box["width"] <= 361 and box["height"] > 100, box
    page.screenshot(path=str(SHOTS / "agent-queue-menu.png"))
    page.locator(".account-menu summary").click()
    # the newest first: the reports with a photo show its thumbnail, with an alt text
    thumb = page.locator(f'.queue-item:has(.queue-check[value="{many_reports[-1]}"]) img.queue-thumb')
    assert thumb.get_attribute("loading") == "lazy" and thumb.get_attribute("alt")
    page.wait_for_function("""() => { const i = document.querySelector('img.queue-thumb');
        return i && i.complete && i.naturalWidth > 0; }""")
    go = page.locator(f'.queue-item:has(.queue-check[value="{many_reports[-1]}"]) a[href^="geo:"]')
    assert go.get_attribute("href").startswith("geo:48.853,")
    page.screenshot(path=str(SHOTS / "agent-queue-top.png"))

    # select all on this page, then only three; the bar stays at the bottom while scrolling
    page.locator("#select-all").check()
    assert page.locator(".queue-check:checked").count() == 50
    assert page.locator("#batch-count").inner_text() == "50 signalements sélectionnés"
    page.locator("#select-all").uncheck()
    assert page.locator(".queue-check:checked").count() == 0
    mine = many_reports[-3:]
    for report_id in mine:
        page.locator(f'.queue-check[value="{report_id}"]').check()
    page.mouse.wheel(0, 3000)
    page.wait_for_function("() => window.scrollY > 2000")
    bar = page.locator("#batch").bounding_box()
    assert bar["y"] >= 740 - 220 and bar["y"] + bar["height"] <= 741, bar
    assert page.locator("#batch").get_by_role("button", name="Prendre en compte").is_visible()
    page.screenshot(path=str(SHOTS / "agent-queue-scrolled.png"))

    # the batch, then the confirmation at the top, once
    with page.expect_navigation():
        page.locator("#batch").get_by_role("button", name="Prendre en compte").click()
    page.wait_for_url(re.compile(r"/agent\?sort=newest$"))
    notice = page.locator('.agent-notice[role="status"]')
    assert re.search(r"\b3\b", notice.inner_text()), notice.inner_text()
    assert notice.bounding_box()["y"] < 200
    for report_id in mine:
        assert scalar("SELECT status FROM contributions WHERE id = :id", id=report_id) == "acknowledged"
    page.reload()
    assert page.locator(".agent-notice").count() == 0

    # the next page, the filters kept
    page.locator('a[rel="next"]').click()
    page.wait_for_url(re.compile(r"/agent\?sort=newest&page=2$"))
    numbers = [int(re.sub(r"\D", "", n)) for n in
               re.findall(r"\d[\d\s\u202f\xa0]*", page.locator("#queue-range").inner_text())]
    assert numbers[0] == 51 and numbers[2] == total
    assert page.locator('a[rel="prev"]').count() == 1


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_queue_and_report_pages_pass_axe(request, open_context, agent_email, api_user, lang):  # noqa: F811
    reporter = api_user("Riverain")
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(NOTRE_DAME)},
               "properties": {"title": unique("Tag sur la grille"), "category": "graffitis"}}
    r = reporter.post(f"{reporter.base}/api/v1/reports", timeout=10, data={"feature": json.dumps(feature)},
                      files={"photos": ("tag.jpg", photo_bytes(), "image/jpeg")})
    assert r.status_code == 201, r.text
    report_id = r.json()["id"]
    request.addfinalizer(lambda: remove([report_id]))
    context, _watch = open_context(**PHONE)
    page = context.new_page()
    sign_in(page, agent_email, next_path=f"/agent?sort=newest&lang={lang}")
    page.wait_for_url(re.compile(r"/agent\?"))
    page.wait_for_selector("#queue-map path.agent-marker")
    assert violations(page) == []
    page.goto(f"/agent/reports/{report_id}?lang={lang}")
    page.wait_for_function("() => !document.getElementById('duplicates').hasAttribute('aria-busy')")
    # a status change: the page says it was saved, at the top
    page.locator('input[name="to"][value="acknowledged"]').check()
    with page.expect_navigation():
        page.locator('#transition-form button[type="submit"]').click()
    page.wait_for_url(re.compile(rf"/agent/reports/{report_id}$"))
    assert page.locator('.agent-notice[role="status"]').is_visible()
    page.wait_for_function("() => !document.getElementById('duplicates').hasAttribute('aria-busy')")
    assert violations(page) == []
    if lang == "fr":
        page.screenshot(path=str(SHOTS / "agent-report.png"), full_page=True)
        page.screenshot(path=str(SHOTS / "agent-report-top.png"))
