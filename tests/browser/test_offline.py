"""Installable and offline, in Chromium with the network switched off: the manifest and its
icons, the service worker; a resident's report prepared offline with its photo and position,
sent once when the network returns (even when the first answer is lost); an agent's queue read
offline and a status change that waits, then lands once."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
import requests
from PIL import Image

from tests.browser.conftest import (
    EMAIL_DOMAIN,
    PASSWORD,
    SHOTS,
    photo_bytes,
    scalar,
    sign_in,
    sign_up,
    unique,
    wait_for_map,
)
from tests.browser.test_accessibility import AXE, violations

pytestmark = pytest.mark.browser

# Playwright's offline switch does not reach a service worker's own requests (microsoft/
# playwright#2311): with this (read when the browser fixture starts Playwright, after the
# collection) they are seen by context.route, which go_offline() uses to cut them too.
os.environ.setdefault("PW_EXPERIMENTAL_SERVICE_WORKER_NETWORK_EVENTS", "1")

PHONE = {"width": 360, "height": 740, "is_mobile": True, "has_touch": True}
LAWN = (48.85585, 2.29830)  # the Champ-de-Mars: few reports
VINCENNES = (2.4380, 48.8330)  # lon, lat: far from the demo reports, first by distance
# what Chromium says of the requests that fail while the network is off
OFFLINE_NOISE = r"ERR_INTERNET_DISCONNECTED|ERR_FAILED|Failed to fetch|FetchEvent|net::ERR_|NetworkError"


def _cut_the_worker(route) -> None:  # and the pages' requests, which fail anyway
    route.abort("internetdisconnected")


def go_offline(context) -> None:
    """The network off for the pages and for the service worker."""
    context.set_offline(True)
    context.route("**/*", _cut_the_worker)


def go_online(context) -> None:
    context.unroute("**/*", _cut_the_worker)
    context.set_offline(False)


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"pwa-{name}.png"))


def controlled(page) -> None:
    """Until the service worker controls the page. It claims the open pages when it activates,
    but a page whose navigation began just before is not claimed: then its next load is."""
    # the first install fetches the whole shell: slow on a busy test machine
    active = "() => navigator.serviceWorker.getRegistration().then((r) => r?.active?.state === 'activated')"
    for _ in range(300):
        if page.evaluate(active):
            break
        page.wait_for_timeout(100)
    if not page.evaluate("() => navigator.serviceWorker.controller !== null"):
        page.reload()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")


def strings(page) -> dict:
    """The scripts' strings of the page (js_strings), in its language."""
    return page.evaluate("() => JSON.parse(document.getElementById('i18n').textContent)")


def stored(page, store: str) -> list[dict]:
    """The records of IndexedDB's `store` (drafts, transitions), photos as their sizes."""
    return page.evaluate("""(store) => new Promise((resolve, reject) => {
        const open = indexedDB.open('cartagora-offline');
        open.onsuccess = () => {
          const db = open.result;
          if (!db.objectStoreNames.contains(store)) { db.close(); resolve([]); return; }
          const all = db.transaction(store).objectStore(store).getAll();
          all.onsuccess = () => {
            db.close();
            resolve(all.result.map((r) => ({ ...r,
              photos: (r.photos ?? []).map((p) => ({ name: p.name, size: p.blob.size })),
              photo: null })));
          };
          all.onerror = () => reject(all.error);
        };
        open.onerror = () => reject(open.error);
    })""", store)


def wait_stored(page, store: str, n: int, seconds: float = 20) -> None:
    """Until IndexedDB's `store` holds `n` records (the sender works in the background)."""
    for _ in range(int(seconds * 10)):
        if len(stored(page, store)) == n:
            return
        page.wait_for_timeout(100)
    assert len(stored(page, store)) == n


def offline_violations(page) -> list[str]:
    """axe-core on a page shown offline, as violations() runs it: its script evaluated by the
    test (no network to load it from, and the page's CSP refuses an inline one)."""
    source = (Path(__file__).resolve().parents[2] / AXE.lstrip("/")).read_text(encoding="utf-8")
    page.evaluate("(source) => { (0, eval)(source); }", source)
    return page.evaluate("""async () => {
        const result = await axe.run(document, {
          runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'RGAAv4', 'best-practice']},
          resultTypes: ['violations'],
        });
        return result.violations
          .filter(v => v.impact === 'serious' || v.impact === 'critical')
          .map(v => `${v.impact} ${v.id}: ${v.help} -> ` + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
    }""")


def account(app, live_server, name: str, roles: tuple[str, ...]) -> tuple[str, requests.Session]:
    from app.accounts.services import create_user
    from app.db import db

    email = f"{unique(name.lower()).replace(' ', '-')}@{EMAIL_DOMAIN}"
    with app.app_context():
        create_user(db.session, email, PASSWORD, name, list(roles))
        db.session.commit()
    r = requests.post(f"{live_server}/api/v1/auth/token", json={"email": email, "password": PASSWORD},
                      timeout=10)
    assert r.status_code == 201, r.text
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return email, api


# ---- installable ----------------------------------------------------------------------------

def test_the_manifest_its_icons_and_the_service_worker(page, live_server):
    page.goto("/")
    controlled(page)
    href = page.locator('link[rel="manifest"]').get_attribute("href")
    r = page.request.get(href)
    assert r.status == 200 and r.headers["content-type"] == "application/manifest+json"
    manifest = r.json()
    assert manifest["name"] == "Cartagora" and manifest["short_name"] == "Cartagora"
    assert manifest["start_url"] == "/" and manifest["display"] == "standalone"
    theme = page.locator('meta[name="theme-color"]').get_attribute("content")
    assert manifest["theme_color"] == theme == "#1d4e89"  # --brand, the header's colour
    assert manifest["background_color"] == "#ffffff"
    seen = set()
    for icon in manifest["icons"]:
        got = page.request.get(icon["src"])
        assert got.status == 200 and got.headers["content-type"] == "image/png"
        width, height = Image.open(io.BytesIO(got.body())).size
        assert icon["sizes"] == f"{width}x{height}"
        seen.add((width, icon["purpose"]))
    assert seen == {(192, "any"), (512, "any"), (192, "maskable"), (512, "maskable")}

    sw = page.request.get("/sw.js")
    assert sw.headers["cache-control"] == "no-cache" and "javascript" in sw.headers["content-type"]
    version = page.locator("script[data-pwa-version]").get_attribute("data-pwa-version")
    assert f'const VERSION = "{version}";' in sw.text()
    assert page.evaluate("() => navigator.serviceWorker.ready.then((r) => r.scope)") == f"{live_server}/"
    assert page.evaluate("() => navigator.serviceWorker.controller.scriptURL") == f"{live_server}/sw.js?v={version}"
    # the shell is kept under the version's name: a deploy that changes a file replaces it
    assert f"cartagora-shell-{version}" in page.evaluate("() => caches.keys()")
    assert page.evaluate("""async () => Boolean(await caches.match('/static/js/create.js'))
                              && Boolean(await caches.match('/hors-ligne?lang=fr'))""")


def test_the_offline_page_in_both_languages_on_a_phone(open_context):
    context, watch = open_context(**PHONE)
    watch.allow(OFFLINE_NOISE)
    page = context.new_page()
    page.goto("/hors-ligne")
    assert page.locator("h1").inner_text() and page.get_by_role("button").count() >= 1
    assert violations(page) == []
    page.goto("/hors-ligne?lang=en")
    assert page.locator("h1").inner_text() == "You are offline"
    assert violations(page) == []
    # a page never opened, offline: the offline page instead of the browser's error
    page.goto("/")
    controlled(page)
    go_offline(context)
    page.goto("/petitions")
    assert page.locator("h1").inner_text() in ("Hors ligne", "Vous êtes hors ligne", "You are offline")
    assert page.url.endswith("/petitions")
    shot(page, "offline-page-360")
    go_online(context)


# ---- a resident -----------------------------------------------------------------------------

def test_a_report_prepared_offline_is_sent_once_when_the_network_returns(open_context):
    context, watch = open_context(**PHONE)
    watch.allow(OFFLINE_NOISE)
    page = context.new_page()
    sign_up(page, name="Hors-Ligne")
    controlled(page)
    page.goto(f"/?lat={LAWN[0]:.5f}&lon={LAWN[1]:.5f}&z=18")  # through the worker: kept
    wait_for_map(page)
    text = strings(page)
    page.get_by_role("button", name="Contribuer").tap()
    form = page.locator("#create-form")
    form.locator("#f-category option[value='graffitis']").wait_for(state="attached")

    # the network goes; the resident carries on
    go_offline(context)
    title = unique("Tag préparé hors ligne")
    page.get_by_role("button", name="Placer un point au centre de la carte").tap()
    form.get_by_label("Catégorie", exact=True).select_option("graffitis")
    form.get_by_label("Titre").fill(title)
    form.get_by_label("Photos (jusqu'à 5)", exact=True).set_input_files(
        [{"name": "tag.jpg", "mimeType": "image/jpeg", "buffer": photo_bytes()}])
    page.get_by_role("button", name="Publier").tap()
    toast = page.locator("#toast")
    page.wait_for_function("(text) => document.getElementById('toast').textContent === text",
                           arg=text["offline.draft_saved"])
    assert toast.get_attribute("aria-live") == "polite"
    drafts = stored(page, "drafts")
    assert len(drafts) == 1
    draft = drafts[0]
    assert draft["feature"]["properties"]["title"] == title and draft["kind"] == "report"
    assert draft["feature"]["geometry"]["type"] == "Point" and draft["state"] == "waiting"
    assert draft["photos"] == [{"name": "tag.jpg", "size": len(photo_bytes())}]
    assert re.fullmatch(r"[0-9a-f-]{32,36}", draft["key"])
    assert page.locator("#outbox .outbox-item").count() == 1
    assert scalar("SELECT count(*) FROM contributions WHERE title = :t", t=title) == 0
    shot(page, "resident-draft-saved-360")

    # the app opened again without the network: the map's saved copy, the draft still there
    page.reload()
    banner = page.locator("#offline-banner")
    assert banner.is_visible() and banner.get_attribute("role") == "status"
    assert re.search(r"\d{1,2}:\d{2}", banner.inner_text())
    assert page.locator("#outbox .outbox-item").count() == 1
    shot(page, "resident-offline-map-360")
    # and the form still opens, with the categories kept by the worker
    page.get_by_role("button", name="Contribuer").tap()
    form.locator("#f-category option[value='graffitis']").wait_for(state="attached")
    page.get_by_role("button", name="Annuler").tap()

    # the network returns, but the answer to the first send is lost on the way back
    lost = []

    def lose_the_answer(route):
        if lost:
            route.continue_()
            return
        lost.append(route.fetch().status)
        route.abort("internetdisconnected")

    page.route("**/api/v1/reports", lose_the_answer)
    go_online(context)
    page.wait_for_function("() => navigator.onLine")
    deadline = 50
    while not lost and deadline:
        page.wait_for_timeout(100)
        deadline -= 1
    assert lost == [201]  # the server made it
    assert scalar("SELECT count(*) FROM contributions WHERE title = :t", t=title) == 1
    assert len(stored(page, "drafts")) == 1  # no answer: the device keeps it

    # next page load: sent again with the same key; the server answers the first result
    page.reload()
    wait_stored(page, "drafts", 0)
    row = scalar("SELECT json_build_object('n', count(*), 'photos', max(photos_count), 'id', max(id)) "
                 "FROM contributions WHERE title = :t", t=title)
    assert row["n"] == 1 and row["photos"] == 1
    assert scalar("SELECT count(*) FROM idempotency_keys WHERE key = :k", k=draft["key"]) == 1
    page.wait_for_function("(text) => document.getElementById('toast').textContent.startsWith(text)",
                           arg=text["offline.draft_sent"].split("{")[0])
    assert toast.get_by_role("link").get_attribute("href") == f"/c/{row['id']}"
    assert page.locator("#outbox .outbox-item.is-sent a").get_attribute("href") == f"/c/{row['id']}"
    assert page.locator("#offline-banner").count() == 0  # a fresh page, not the saved copy
    shot(page, "resident-draft-sent-360")
    # a second sender (another tab, a late 'online' event) finds nothing to send
    page.evaluate("() => import('/static/js/offline/outbox.js').then((m) => Promise.all([m.sendPending(), m.sendPending()]))")
    assert scalar("SELECT count(*) FROM contributions WHERE title = :t", t=title) == 1


def test_a_refused_draft_stays_shown_with_its_error_and_can_be_fixed(open_context):
    context, watch = open_context(**PHONE)
    watch.allow(OFFLINE_NOISE)
    watch.allow("422")
    page = context.new_page()
    sign_up(page, name="Têtue")
    controlled(page)
    page.goto(f"/?lat={LAWN[0]:.5f}&lon={LAWN[1]:.5f}&z=18")
    wait_for_map(page)
    page.get_by_role("button", name="Contribuer").tap()
    form = page.locator("#create-form")
    form.locator("#f-category option[value='graffitis']").wait_for(state="attached")
    go_offline(context)
    page.get_by_role("button", name="Placer un point au centre de la carte").tap()
    form.get_by_label("Catégorie", exact=True).select_option("graffitis")
    form.get_by_label("Titre").fill("x")  # too short: the server will refuse it
    page.get_by_role("button", name="Publier").tap()
    wait_stored(page, "drafts", 1)
    go_online(context)
    item = page.locator("#outbox .outbox-item.is-refused")
    item.wait_for()
    assert stored(page, "drafts")[0]["state"] == "refused"
    assert stored(page, "drafts")[0]["error"]["status"] == 422
    assert item.locator(".field-error").inner_text()
    assert violations(page) == []
    shot(page, "resident-draft-refused-360")
    title = unique("Tag corrigé")
    item.locator("input[name='title']").fill(title)
    item.locator("button[type='submit']").click()
    wait_stored(page, "drafts", 0)
    assert scalar("SELECT count(*) FROM contributions WHERE title = :t", t=title) == 1


# ---- an agent -------------------------------------------------------------------------------

def test_an_agent_reads_the_queue_offline_and_a_status_change_waits(app, open_context, live_server):
    _, resident = account(app, live_server, "Riverain", ("resident",))
    email, _api = account(app, live_server, "Agente", ("supervisor",))
    title = unique("Dépôt sauvage au bois")
    r = resident.post(f"{live_server}/api/v1/reports", json={
        "type": "Feature", "geometry": {"type": "Point", "coordinates": list(VINCENNES)},
        "properties": {"title": title, "category": "graffitis"}}, timeout=10)
    assert r.status_code == 201, r.text
    report_id = r.json()["id"]
    queue = f"/agent?sort=nearest&lon={VINCENNES[0]}&lat={VINCENNES[1]}"

    context, watch = open_context(**PHONE)
    watch.allow(OFFLINE_NOISE)
    page = context.new_page()
    sign_in(page, email, next_path="/agent")
    page.wait_for_url(re.compile(r"/agent"))
    controlled(page)
    text = strings(page)
    page.goto(f"/agent/reports/{report_id}")  # opened online: kept for offline
    page.goto(queue)
    online_items = page.locator(".queue-item").count()
    assert online_items >= 1 and page.locator(".queue-link").first.inner_text().startswith(title)

    go_offline(context)
    page.reload()
    banner = page.locator("#offline-banner")
    assert banner.is_visible() and re.search(r"\d{1,2}:\d{2}", banner.inner_text())
    assert page.locator(".queue-item").count() == online_items
    assert offline_violations(page) == []
    shot(page, "agent-queue-offline-360")

    page.locator(".queue-link").first.click()
    page.wait_for_url(f"**/agent/reports/{report_id}")
    assert page.locator("#offline-banner").is_visible()
    page.locator("#transition-form input[name='to'][value='acknowledged']").check()
    page.get_by_role("button", name="Enregistrer le statut").click()
    wait_stored(page, "transitions", 1)
    change = stored(page, "transitions")[0]
    assert change["report"] == report_id and change["data"] == {"to": "acknowledged"}
    pending = page.locator("p.offline-pending")
    pending.wait_for()
    assert pending.get_attribute("role") == "status"
    assert scalar("SELECT status FROM contributions WHERE id = :id", id=report_id) == "new"
    pending.scroll_into_view_if_needed()
    shot(page, "agent-status-pending-360")
    page.goto(queue)  # the queue's saved copy marks the report
    badge = page.locator(".queue-item .badge-pending")
    assert badge.count() == 1
    badge.scroll_into_view_if_needed()
    shot(page, "agent-queue-pending-360")

    go_online(context)
    wait_stored(page, "transitions", 0)
    assert scalar("SELECT status FROM contributions WHERE id = :id", id=report_id) == "acknowledged"
    assert scalar("SELECT count(*) FROM status_events WHERE contribution_id = :id", id=report_id) == 1
    page.wait_for_function("(text) => document.getElementById('toast').textContent.startsWith(text)",
                           arg=text["offline.transition_sent"].split("{")[0])
    shot(page, "agent-status-sent-360")
    # signing out forgets the account's kept pages
    kept = """() => caches.open('cartagora-pages').then((c) => c.keys())
                .then((keys) => keys.map((r) => new URL(r.url).pathname))"""
    page.goto("/agent")
    assert {"/agent", f"/agent/reports/{report_id}"} <= set(page.evaluate(kept))
    page.locator(".account-menu summary").click()
    page.get_by_role("button", name="Se déconnecter", exact=True).click()
    page.wait_for_url(re.compile(r"/login"))  # back to /agent, which asks to sign in
    assert not [path for path in page.evaluate(kept) if path.startswith("/agent")]


def test_a_conflicting_change_made_offline_is_shown_not_lost(app, open_context, live_server):
    _, resident = account(app, live_server, "Riveraine", ("resident",))
    email, supervisor = account(app, live_server, "Chef", ("supervisor",))
    r = resident.post(f"{live_server}/api/v1/reports", json={
        "type": "Feature", "geometry": {"type": "Point", "coordinates": list(VINCENNES)},
        "properties": {"title": unique("Banc tagué"), "category": "graffitis"}}, timeout=10)
    report_id = r.json()["id"]
    context, watch = open_context()  # on a desktop
    watch.allow(OFFLINE_NOISE)
    watch.allow("409")
    page = context.new_page()
    sign_in(page, email, next_path=f"/agent/reports/{report_id}")
    page.wait_for_url(re.compile(r"/agent/reports/"))
    controlled(page)
    page.reload()  # now through the worker: kept
    go_offline(context)
    page.locator("#transition-form input[name='to'][value='scheduled']").check()
    page.locator("#transition-form input[name='planned_for']").fill("2099-01-01")
    page.get_by_role("button", name="Enregistrer le statut").click()
    wait_stored(page, "transitions", 1)
    # meanwhile a colleague closes the report
    done = supervisor.post(f"{live_server}/api/v1/reports/{report_id}/transitions",
                           json={"to": "rejected", "reason": "not_city_remit"}, timeout=10)
    assert done.status_code == 201, done.text
    go_online(context)
    item = page.locator("#outbox .outbox-item.is-refused")
    item.wait_for()
    change = stored(page, "transitions")[0]
    assert change["state"] == "refused" and change["error"]["status"] in (409, 422)
    assert item.locator(".field-error").inner_text()
    assert scalar("SELECT status FROM contributions WHERE id = :id", id=report_id) == "rejected"
    shot(page, "agent-status-conflict-desktop")
    page.once("dialog", lambda dialog: dialog.accept())
    item.get_by_role("button", name=re.compile("^(Delete|Supprimer)")).click()
    wait_stored(page, "transitions", 0)
