"""The resident map in Chromium: from a pan or a zoom to the new data drawn.

    .venv/bin/python -m bench map-browser --reuse-db      (on the shared 5M database)

The app runs under `gunicorn -w 2` on the bench database; Debian's Chromium (Playwright) opens
the map page at 1280 × 800 (the desktop layout: a 880 × 748 map beside the list), over central
Paris at zoom 13, and then performs `--moves` moves, alternately a pan (arrow key, 80 px: Leaflet's
keyboard pan) and a zoom in or out (+ / −), each once the previous one is drawn. The page marks
each Leaflet `moveend` and measures, after the next animation frame that follows drawing the
clusters, `cartagora:map-drawn` (User Timing: static/js/map-page.js). That is the issue's "pan or
zoom to new data drawn": the page's 60 ms debounce, the request, the server, the JSON and
Leaflet's drawing, not the 250 ms zoom animation before `moveend`. The server's own time comes
from the `Server-Timing` header of the same responses. Basemap tiles are not fetched.

Target (issue 18): ≤ 150 ms at 5M reports.
"""

from __future__ import annotations

from bench import common
from bench.bbox_bench import gunicorn, stop

TARGET_MS = 150.0
START = "/?lat=48.8620&lon=2.3550&z=13"
MOVES = ("ArrowRight", "+", "ArrowDown", "-", "ArrowLeft", "+", "ArrowUp", "-")
WAIT_DRAWN = """(before) => new Promise((resolve, reject) => {
  const done = () => performance.getEntriesByName('cartagora:map-drawn', 'measure').length > before;
  const started = performance.now();
  (function poll() {
    if (done()) return resolve(performance.getEntriesByName('cartagora:map-drawn', 'measure').at(-1).duration);
    if (performance.now() - started > 20000) return reject(new Error('not drawn in 20 s'));
    setTimeout(poll, 5);
  })();
})"""


def run(db: common.BenchDb, moves: int = 40, quiet_wait: float = 60.0) -> dict:
    from playwright.sync_api import sync_playwright

    server = gunicorn(db, CARTAGORA_TILE_URL="http://127.0.0.1:9/{z}/{x}/{y}.png")
    drawn, server_ms, sources = [], [], {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                        args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.route("http://127.0.0.1:9/**", lambda route: route.abort())

            def on_response(response):
                if "/api/v1/map/clusters" in response.url:
                    timing = response.headers.get("server-timing", "")
                    if "dur=" in timing:
                        server_ms.append(float(timing.split("dur=")[1].split(";")[0]))
                        source = timing.split('desc="')[1].rstrip('"') if 'desc="' in timing else "?"
                        sources[source] = sources.get(source, 0) + 1

            page.on("response", on_response)
            page.goto(server.url + START)
            page.locator("#map[data-loads]").wait_for(state="attached", timeout=60_000)
            quiet = common.wait_for_quiet(quiet_wait)
            page.locator("#map").focus()
            for i in range(moves):
                before = page.evaluate(
                    "performance.getEntriesByName('cartagora:map-drawn', 'measure').length")
                page.keyboard.press(MOVES[i % len(MOVES)])
                drawn.append(page.evaluate(WAIT_DRAWN, before))
            total = page.locator("#map").get_attribute("data-total")
            browser.close()
    finally:
        stop(server)
    return {
        "benchmark": "map_browser", "date": common.now_iso(), "machine": common.machine_facts(db),
        "quiet": quiet, "moves": moves, "start": START, "last_view_total": int(total or 0),
        "target_ms": TARGET_MS, "drawn_ms": common.summary(drawn), "server_ms": common.summary(server_ms),
        "sources": sources, "loadavg_after": common.loadavg(),
        "ok": common.summary(drawn)["median"] <= TARGET_MS,
    }


def print_tables(result: dict) -> None:
    d, s = result["drawn_ms"], result["server_ms"]
    common.print_table(
        f"map in Chromium, {result['moves']} pans and zooms from {result['start']} "
        f"(cells/rows: {result['sources']})",
        ["what", "median ms", "p95 ms", "max ms", "target ms", "ok"],
        [["moveend → new clusters drawn", d["median"], d.get("p95"), d["max"], result["target_ms"],
          result["ok"]],
         ["of which server (Server-Timing)", s["median"], s.get("p95"), s["max"], None, None]])
