"""The planner's report (/planner/report.html, `flask planner report`) on hand-made reports of
2030 (a year the demo data does not cover): its title, period and filters in words, its key
figures and tables equal to the planner services' numbers, a self-contained file whose only
outside requests are basemap tiles, served inline under a CSP that lists its scripts."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime

import pytest
from babel.dates import format_date

from app.planner import services
from app.planner.report import VENDOR, _leaflet_css, script_hashes
from app.planner.schemas import StatsQuery
from geo.aggregations import PARIS

pytest.importorskip("leafmap")

JUNE = {"since": "2030-06-01", "until": "2030-06-30"}
# near the Mairie du 11e (quartier 43, Roquette), and in the 3e (quartier 10, Enfants-Rouges)
ELEVENTH, THIRD = (2.3797, 48.8575), (2.3630, 48.8630)


@pytest.fixture
def june(insert_reports):
    """Six reports in June 2030 (five in the 11e, one in the 3e), four in May 2030 (the 11e)."""
    def at(where, day, **extra):
        return {"lon": where[0], "lat": where[1], "created_at": f"2030-{day}T10:00:00Z", **extra}

    insert_reports(
        at(ELEVENTH, "06-03"), at(ELEVENTH, "06-04"), at(ELEVENTH, "06-05", status="acknowledged",
                                                       acknowledged_at="2030-06-05T12:00:00Z"),
        at(ELEVENTH, "06-06", status="resolved", closed_at="2030-06-08T10:00:00Z", category="proprete"),
        at(ELEVENTH, "06-07", status="rejected", closed_at="2030-06-07T11:00:00Z"),
        at(THIRD, "06-10", status="resolved", closed_at="2030-06-14T10:00:00Z"),
        *[at(ELEVENTH, f"05-{d:02d}") for d in (3, 4, 5, 6)],
    )


def report(planner, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    r = planner.get(f"/planner/report.html?{query}")
    assert r.status_code == 200, r.get_data(as_text=True)[:2000]
    return r, r.get_data(as_text=True)


def text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def first(pattern: str, page: str) -> str:
    match = re.search(pattern, page, flags=re.S)
    assert match, pattern
    return text_of(match.group(1))


def filters(page: str) -> list[str]:
    block = first(r'(<ul class="report-filters".*?</ul>)', page)
    return [text_of(li) for li in re.findall(r"<li>(.*?)</li>", re.search(
        r'<ul class="report-filters".*?</ul>', page, flags=re.S).group(0), flags=re.S)] if block else []


def figures(page: str) -> dict[str, str]:
    """data-figure → the raw value (data-value) of the key figures."""
    return dict(re.findall(r'data-figure="(\w+)">.*?data-value="([^"]*)"', page, flags=re.S))


def table_counts(page: str, ident: str) -> dict[str, int]:
    """A table's rows: data-code → the count cell's data-value."""
    body = re.search(rf'<table class="data" id="{ident}">(.*?)</table>', page, flags=re.S).group(1)
    return {code: int(n) for code, n in re.findall(
        r'<tr data-code="([^"]+)">.*?<td data-value="(\d+)"', body, flags=re.S)}


def stats_request(session, **params):
    return services.stats_request(session, StatsQuery.model_validate(params), True)


def test_title_period_and_filters_in_words_in_french(planner, june):
    r, page = report(planner, **JUNE, arrondissement=11, category="graffitis", status="open")
    assert r.headers["Content-Disposition"].startswith("inline;")
    assert r.mimetype == "text/html"
    assert '<html lang="fr">' in page
    assert first(r"<title>(.*?)</title>", page) == "Signalements — Paris 11e — juin 2030"
    assert first(r"<h1>(.*?)</h1>", page) == "Signalements — Paris 11e — juin 2030"
    assert filters(page) == ["Signalements", "Graffitis, tags, affiches et autocollants",
                             "En cours (pas encore réglés)", "Paris 11e"]
    # no ISO instant, no `key=value` filter, no title of an unrelated page
    assert "2030-06-01T" not in page and "kind=report" not in page and "jQuery" not in page
    # generated today, in Paris, said in words
    today = format_date(datetime.now(PARIS).date(), "long", locale="fr")
    assert today in first(r'class="report-generated">(.*?)</p>', page)


def test_title_period_and_filters_in_words_in_english(planner, june):
    _r, page = report(planner, since="2030-06-01", until="2030-08-31", status="closed", lang="en")
    assert '<html lang="en">' in page
    assert first(r"<title>(.*?)</title>", page) == "Reports — Paris — June 2030 to August 2030"
    assert filters(page) == ["Reports", "all categories", "Closed", "Paris"]
    assert "(Paris time)" in first(r'class="report-generated">(.*?)</p>', page)
    # days that are not whole months are said as dates
    _r, page = report(planner, since="2030-06-03", until="2030-06-17", lang="en",
                      quartier=43)
    assert first(r"<h1>(.*?)</h1>", page) == (
        "Reports — Paris — Roquette — from June 3, 2030 to June 17, 2030")


def test_key_figures_equal_the_planner_services(planner, session, june):
    _r, page = report(planner, **JUNE)
    got = figures(page)
    req = stats_request(session, **JUNE)
    areas = services.areas(session, req, "arrondissement")
    whole = services.resolution(session, stats_request(session, **JUNE), "all")["groups"][0]

    def count(statuses):
        return services.export_count(session, stats_request(session, **JUNE, status=statuses))

    assert int(got["total"]) == areas["total"] == 6
    assert int(got["open"]) == count(["open"]) == 3
    assert int(got["closed"]) == count(["closed"]) == 3
    assert float(got["resolved_share"]) == whole["share_resolved"] == round(2 / 6, 4)
    # resolved in 2 and in 4 days: the lower median is 2 days, 2880 minutes, 2900 at two
    # significant digits
    assert float(got["resolve_median"]) == whole["resolve_median_h"] == round(2900 / 60, 2)
    assert "2,0 jours" in page
    previous = sum(a["previous_count"] for a in areas["areas"])
    assert previous == 4 and float(got["change"]) == 50.0
    hotspots = services.hotspots(session, stats_request(session, **JUNE), limit=10)
    assert int(got["hotspots"]) == len(hotspots["features"])


def test_tables_rows_equal_the_per_area_and_per_category_counts(planner, session, june):
    _r, page = report(planner, **JUNE)
    areas = services.areas(session, stats_request(session, **JUNE), "arrondissement")["areas"]
    rows = table_counts(page, "areas-table")
    assert len(rows) == 20  # every arrondissement, with its zeros
    assert rows == {str(a["code"]): a["count"] for a in areas}
    assert rows["11"] == 5 and rows["3"] == 1
    groups = services.resolution(session, stats_request(session, **JUNE), "category")["groups"]
    assert table_counts(page, "categories-table") == {g["code"]: g["count"] for g in groups}
    assert table_counts(page, "categories-table") == {"graffitis": 5, "proprete": 1}
    # about some arrondissements, the table and the map are per quartier, those with data
    _r, page = report(planner, **JUNE, arrondissement="3,11")
    quartiers = services.areas(session, stats_request(session, **JUNE, arrondissement=[3, 11]),
                               "quartier")["areas"]
    expected = {str(a["code"]): a["count"] for a in quartiers if a["count"] or a["previous_count"]}
    assert table_counts(page, "areas-table") == expected
    assert sum(expected.values()) == 6 and len(expected) == 2
    assert "Par quartier" in page or "Per quartier" in page


def test_the_file_is_self_contained_with_a_working_layer_control(planner, june, app):
    r, page = report(planner, **JUNE)
    # nothing is fetched from elsewhere: no external script, stylesheet, image or font
    assert "<link" not in page and "@import" not in page
    assert not re.search(r'<(script|img|iframe)[^>]+src="', page)
    assert not re.search(r"url\((['\"]?)(https?:)?//", page)
    assert "cdn." not in page and "jquery" not in page.lower()
    # the only outside URLs: the tile server the map asks for, and links a reader may follow
    # (URLs in the comments of our inlined copies of Leaflet and leaflet.heat aside)
    ours = page
    libraries = [(VENDOR / library).read_text(encoding="utf-8").replace("</script", "<\\/script")
                 for library in ("leaflet/leaflet.js", "leaflet.heat/leaflet-heat.js")]
    for code in [*libraries, _leaflet_css()]:
        assert code in ours
        ours = ours.replace(code, "")
    outside = set(re.findall(r"https?://[^\s\"'<>)]+", ours))
    links = set(re.findall(r'<a href=\\?"(https?://[^"\\]+)', ours))  # also in the map's script
    namespaces = {u for u in outside if u.startswith("http://www.w3.org/")}
    outside = {u.rstrip("\\") for u in outside}
    assert outside - links - namespaces == {app.config["TILE_URL"]}, outside - links
    # the layer control: open, three overlays, the heat off; its icon inlined
    assert '"collapsed": false' in page
    control = re.search(r"overlays :\s*\{(.*?)\}", page, flags=re.S).group(1)
    names = [json.loads(f'"{n}"') for n in re.findall(r'"([^"]+)" :', control)]
    assert len(names) == 3 and any("km²" in n for n in names)
    heat = re.search(r"var (heat_map_\w+) = L\.heatLayer", page).group(1)
    assert f"{heat}.addTo(" not in page  # off by default
    assert "url(images/" not in page and "url(data:image/png;base64," in page
    assert "user-scalable=no" not in page
    # served: the CSP allows exactly its own inline scripts
    policy = r.headers["Content-Security-Policy"]
    hashes = script_hashes(page)
    assert len(hashes) >= 3 and all(h in policy for h in hashes)
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    # the charts are drawn in the page, each with a title and a description
    assert len(re.findall(r'<svg class="chart"[^>]+role="img" aria-labelledby="[\w-]+-title [\w-]+-desc"',
                          page)) == 3


def test_download_bad_filters_and_who_may_see_it(planner, resident, june):
    r = planner.get("/planner/report.html?since=2030-06-01&until=2030-06-30&download=1")
    assert r.status_code == 200
    assert r.headers["Content-Disposition"] == 'attachment; filename="cartagora-report.html"'
    for url, field in (("/planner/report.html?download=perhaps", "download"),
                       ("/planner/report.html?status=lost", "status"),
                       ("/planner/report.html?arrondissement=21", "arrondissement"),
                       ("/planner/report.html?since=2030-02-01&until=2030-01-01", "until")):
        r = planner.get(url)
        assert r.status_code == 422 and r.mimetype == "application/problem+json", url
        assert [e["field"] for e in r.json["errors"]] == [field], url
    assert resident.get("/planner/report.html").status_code == 403


def test_the_command_writes_the_report_in_english(app, tmp_path, june):
    out = tmp_path / "report.html"
    result = app.test_cli_runner().invoke(args=[
        "planner", "report", "--out", str(out), "--since", "2030-06-01", "--until", "2030-06-30",
        "--arrondissement", "11", "--lang", "en"])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert first(r"<title>(.*?)</title>", page) == "Reports — Paris 11th — June 2030"
    assert int(figures(page)["total"]) == 5
