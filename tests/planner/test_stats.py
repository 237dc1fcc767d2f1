"""The five /api/v1/stats endpoints on hand-made reports whose answers are known."""

import csv
import inspect
import io
import json
import time
from datetime import date, timedelta

import pytest
from pyproj import Transformer
from sqlalchemy import text

from app.api.types import DATE_MAX, DATE_MIN
from app.planner import services
from geo import aggregations as agg
from geo.hexgrid import centre, hex_ij

TO_WGS84 = Transformer.from_crs(2154, 4326, always_xy=True)
TO_L93 = Transformer.from_crs(4326, 2154, always_xy=True)
WINDOW = "since=2030-06-01&until=2030-06-30"


def test_one_hexagon_per_report_count_on_a_small_grid(planner, insert_reports):
    # seven hexagons of 500 m around the Hôtel de Ville; hexagon k gets k reports at its centre
    i0, j0 = hex_ij(*TO_L93.transform(2.3522, 48.8566), 500)
    cells = [(i0, j0), (i0, j0 + 1), (i0, j0 - 1), (i0 + 1, j0), (i0 - 1, j0), (i0 + 1, j0 - 1), (i0 - 1, j0 + 1)]
    rows = []
    for k, (i, j) in enumerate(cells, start=1):
        lon, lat = TO_WGS84.transform(*centre(i, j, 500))
        rows += [{"lon": lon, "lat": lat, "created_at": "2030-06-10T12:00:00Z"}] * k
    insert_reports(*rows)
    r = planner.get(f"/api/v1/stats/hexbins?cell_m=500&{WINDOW}")
    assert r.status_code == 200 and r.content_type == "application/geo+json"
    got = {f["properties"]["cell"]: f["properties"]["count"] for f in r.json["features"]}
    assert got == {(i << 20) + j: k for k, (i, j) in enumerate(cells, start=1)}
    assert r.json["total"] == 28 and r.json["cell_m"] == 500 and r.json["source"] == "facts"
    ring = r.json["features"][0]["geometry"]["coordinates"][0]
    assert len(ring) == 7 and ring[0] == ring[-1]
    # the public never sees a cell under 5: only hexagons 5, 6 and 7 remain
    public = planner.client.get(f"/api/v1/stats/hexbins?cell_m=500&{WINDOW}").json
    assert sorted(f["properties"]["count"] for f in public["features"]) == [5, 6, 7]
    # the public total counts the visible cells only, so it cannot reveal the hidden ones
    assert public["total"] == 18 and "suppressed_total" not in public and public["public"] is True


@pytest.mark.parametrize("cell_m", [500, 2000])
def test_all_time_hexbins_from_the_rollup_equal_the_naive_grid_join(planner, session, cell_m):
    r = planner.get(f"/api/v1/stats/hexbins?cell_m={cell_m}&format=csv")
    ours = {int(row["cell"]): int(row["count"]) for row in csv.DictReader(io.StringIO(r.text))}
    q = agg.hexbins_naive(agg.AggFilters(), cell_m)
    naive = dict(session.execute(text(q.sql), q.params).all())
    assert ours == naive and sum(ours.values()) > 39000


def test_report_exactly_on_a_quartier_border_counts_once(planner, session, insert_reports):
    lon, lat, ids = session.execute(text("""
        SELECT ST_X(d.geom), ST_Y(d.geom), array_agg(q2.id ORDER BY q2.id)
        FROM quartiers q1, ST_DumpPoints(q1.geom) d, quartiers q2
        WHERE q1.id = 16 AND ST_Intersects(q2.geom, d.geom)
        GROUP BY 1, 2 HAVING count(*) = 2 LIMIT 1""")).one()
    insert_reports({"lon": lon, "lat": lat, "created_at": "2030-06-05T08:00:00Z"})
    areas = planner.get(f"/api/v1/stats/areas?level=quartier&{WINDOW}").json
    counts = {a["code"]: a["count"] for a in areas["areas"]}
    assert counts[ids[0]] == 1 and counts[ids[1]] == 0  # lowest id wins, as contributions_locate
    assert areas["total"] == 1 and len(areas["areas"]) == 80
    # the textbook spatial join would count it twice
    q = agg.areas_naive(agg.AggFilters(since=agg.paris_midnight(agg.date(2030, 6, 1))), "quartier")
    assert sum(n for _, n in session.execute(text(q.sql), q.params)) == 2


def test_areas_density_share_and_change_against_previous_month(planner, insert_reports):
    louvre = (2.3376, 48.8606)  # 1er
    insert_reports(*[{"lon": louvre[0], "lat": louvre[1], "created_at": f"2031-01-1{k}T10:00:00Z"}
                     for k in range(3)],
                   {"lon": louvre[0], "lat": louvre[1], "created_at": "2030-12-15T10:00:00Z"},
                   {"lon": 2.3828, "lat": 48.8809, "created_at": "2031-01-20T10:00:00Z"})
    body = planner.get("/api/v1/stats/areas?level=arrondissement&since=2031-01-01&until=2031-01-31").json
    first = body["areas"][0]
    assert body["source"] == "month+month"
    assert body["previous_period"]["since"].startswith("2030-12-01T00:00:00+01:00")
    assert (first["code"], first["count"], first["previous_count"], first["change"]) == (1, 3, 1, 2)
    assert first["change_pct"] == 200.0 and first["share"] == 0.75
    assert first["density_km2"] == pytest.approx(3 / 1.824, rel=0.01)
    assert body["areas"][18]["count"] == 1  # 19e
    # not month-aligned: the fact table answers, same numbers
    body = planner.get("/api/v1/stats/areas?level=arrondissement&since=2031-01-01T00:00:00%2B01:00"
                       "&until=2031-01-25").json
    assert body["source"] == "facts+facts" and body["areas"][0]["count"] == 3
    public = planner.client.get("/api/v1/stats/areas?since=2031-01-01&until=2031-01-31").json
    assert public["areas"][0] == {**public["areas"][0], "count": None, "suppressed": True, "share": None}


def test_timeseries_follow_the_paris_calendar_across_daylight_saving(planner, insert_reports):
    insert_reports(
        {"lon": 2.35, "lat": 48.86, "created_at": "2030-03-30T22:30:00Z"},  # 23:30 CET, 30 March
        {"lon": 2.35, "lat": 48.86, "created_at": "2030-03-30T23:30:00Z"},  # 00:30 CET, 31 March
        {"lon": 2.35, "lat": 48.86, "created_at": "2030-03-31T21:30:00Z"},  # 23:30 CEST, 31 March
        {"lon": 2.35, "lat": 48.86, "created_at": "2030-03-31T22:30:00Z"},  # 00:30 CEST, 1 April
        {"lon": 2.35, "lat": 48.86, "created_at": "2030-10-26T22:30:00Z"},  # 00:30 CEST, 27 October
        {"lon": 2.35, "lat": 48.86, "created_at": "2030-10-27T22:30:00Z"},  # 23:30 CET, 27 October
    )
    days = planner.get("/api/v1/stats/timeseries?interval=day&since=2030-03-30&until=2030-04-01").json
    assert days["source"] == "day"
    assert [(p["period"], p["count"]) for p in days["series"]] == [
        ("2030-03-30", 1), ("2030-03-31", 2), ("2030-04-01", 1)]
    # the same through the fact table (a bound that is not a Paris midnight)
    days = planner.get("/api/v1/stats/timeseries?interval=day&since=2030-03-30T12:00:00Z"
                       "&until=2030-04-02").json
    assert days["source"] == "facts"
    assert [p["count"] for p in days["series"]] == [1, 2, 1, 0]
    months = planner.get("/api/v1/stats/timeseries?interval=month&since=2030-03-01&until=2030-10-31").json
    counts = {p["period"]: p["count"] for p in months["series"]}
    assert (counts["2030-03-01"], counts["2030-04-01"], counts["2030-10-01"]) == (3, 1, 2)
    assert len(months["series"]) == 8
    weeks = planner.get("/api/v1/stats/timeseries?interval=week&since=2030-10-21&until=2030-11-03").json
    assert [(p["period"], p["count"]) for p in weeks["series"]] == [("2030-10-21", 2), ("2030-10-28", 0)]


def test_resolution_medians_share_and_reopen_rate(planner, insert_reports):
    base = {"lon": 2.35, "lat": 48.86, "created_at": "2030-06-02T08:00:00Z", "category": "eclairage"}
    insert_reports(
        {**base, "status": "resolved", "acknowledged_at": "2030-06-02T09:00:00Z",
         "closed_at": "2030-06-02T18:00:00Z"},
        {**base, "status": "resolved", "acknowledged_at": "2030-06-02T10:00:00Z",
         "closed_at": "2030-06-03T04:00:00Z", "reopen_count": 1},
        {**base, "status": "acknowledged", "acknowledged_at": "2030-06-02T11:00:00Z"},
        {**base, "status": "new"},
    )
    body = planner.get(f"/api/v1/stats/resolution?group_by=category&{WINDOW}").json
    (g,) = body["groups"]
    assert g["code"] == "eclairage" and g["count"] == 4
    # lower medians (percentile_disc) of minutes at two significant digits: 60, 120, 180
    # minutes to acknowledge; 600 and 1200 minutes to resolve
    assert (g["ack_median_h"], g["ack_p90_h"]) == (2.0, 3.0)
    assert (g["resolve_median_h"], g["resolve_p90_h"]) == (10.0, 20.0)
    assert body["source"] == "durations"
    assert (g["share_resolved"], g["reopen_rate"]) == (0.5, 0.5)
    by_service = planner.get(f"/api/v1/stats/resolution?group_by=service&{WINDOW}").json["groups"]
    assert [s["count"] for s in by_service] == [4]


def test_hotspots_find_a_dense_cluster_with_its_categories_and_link(planner, insert_reports):
    x, y = TO_L93.transform(2.3400, 48.8700)
    rows = []
    for k in range(15):
        lon, lat = TO_WGS84.transform(x + (k % 5) * 8, y + (k // 5) * 8)
        rows.append({"lon": lon, "lat": lat, "created_at": "2030-06-12T10:00:00Z",
                     "category": "voirie" if k < 10 else "eclairage"})
    rows.append({"lon": 2.25, "lat": 48.85, "created_at": "2030-06-12T10:00:00Z"})  # noise
    insert_reports(*rows)
    body = planner.get(f"/api/v1/stats/hotspots?{WINDOW}&eps_m=30&min_points=5").json
    (spot,) = body["features"]
    p = spot["properties"]
    assert p["count"] == 15 and spot["geometry"]["type"] == "Polygon"
    assert [(c["code"], c["count"]) for c in p["top_categories"]] == [("voirie", 10), ("eclairage", 5)]
    listed = planner.get(p["reports_url"]).json
    assert listed["numberReturned"] == 15


def test_filters_are_echoed_and_errors_are_problems(planner, client):
    body = planner.get("/api/v1/stats/timeseries?interval=month&category=graffitis&status=open"
                       "&arrondissement=3,4&since=2024-01-01").json
    assert body["filters"]["category"] == ["graffitis"] and body["filters"]["arrondissement"] == [3, 4]
    assert body["filters"]["since"] == "2024-01-01T00:00:00+01:00" and body["freshness"]["lag_seconds"] == 0
    for url, field in [("/api/v1/stats/hexbins?cell_m=50", "cell_m"),
                       ("/api/v1/stats/timeseries?interval=year", "interval"),
                       ("/api/v1/stats/areas?level=region", "level"),
                       ("/api/v1/stats/resolution?group_by=author", "group_by"),
                       ("/api/v1/stats/areas?since=yesterday", "since"),
                       ("/api/v1/stats/hexbins?kind=poll", "kind"),
                       ("/api/v1/stats/hotspots?since=2024-01-01&until=2024-12-31", "since"),
                       ("/api/v1/stats/hexbins?category=graffitis,nope", "category"),
                       ("/api/v1/stats/hexbins?kind=proposal&category=graffitis", "category"),
                       ("/api/v1/stats/areas?kind=proposal&status=open", "status"),
                       ("/api/v1/stats/areas?status=new,lost", "status"),
                       ("/api/v1/stats/areas?arrondissement=3,21", "arrondissement"),
                       ("/api/v1/stats/areas?quartier=0", "quartier"),
                       ("/api/v1/stats/areas?bbox=2.4,48.8,2.3,48.9", "bbox"),
                       ("/api/v1/stats/areas?since=2024-02-01&until=2024-01-31", "until"),
                       ("/api/v1/stats/hexbins?cell_m=2km", "cell_m"),
                       ("/api/v1/stats/hotspots?eps_m=10", "eps_m"),
                       ("/api/v1/stats/hotspots?min_points=4", "min_points"),  # public: 5
                       ("/api/v1/stats/hotspots?limit=0", "limit"),
                       ("/api/v1/stats/areas?colour=red", "colour")]:
        r = client.get(url)
        assert r.status_code == 422 and r.content_type == "application/problem+json", url
        assert r.json["errors"][0]["field"] == field, (url, r.json)
    codes = {e["field"]: e["code"] for e in client.get(
        "/api/v1/stats/hexbins?category=nope&status=lost&arrondissement=x&since=2024-13-01"
        "&colour=red").json["errors"]}
    assert codes == {"category": "unknown_category", "status": "invalid_status",
                     "arrondissement": "not_a_number", "since": "invalid_date",
                     "colour": "unknown_field"}  # every invalid filter in one 422


def test_dashboard_and_exports_are_for_planners(client, make_user, planner, insert_reports):
    assert client.get("/planner").status_code == 302
    resident = make_user()
    assert resident.get("/planner/export/contributions.csv").status_code == 403
    assert resident.get("/api/v1/stats/areas").status_code == 200  # the public aggregates
    insert_reports(*[{"lon": 2.35, "lat": 48.86, "created_at": "2030-06-03T10:00:00Z"}] * 3)
    r = planner.get(f"/planner/export/contributions.csv?{WINDOW}")
    assert r.status_code == 200 and r.headers["X-Total-Count"] == "3"
    rows = list(csv.DictReader(io.StringIO(r.text.removeprefix("\ufeff")), delimiter=";"))
    assert len(rows) == 3 and "title" not in rows[0] and "author" not in rows[0]
    assert rows[0]["type"] == "graffitis" and float(rows[0]["lon"].replace(",", ".")) == pytest.approx(2.35)
    r = planner.get(f"/planner/export/contributions.geojson?{WINDOW}")
    fc = json.loads(r.text)
    assert len(fc["features"]) == 3 and fc["features"][0]["geometry"]["type"] == "Point"
    r = planner.get(f"/api/v1/stats/areas?{WINDOW}&format=csv")
    assert r.text.splitlines()[0] == "code,name,count,density_km2,share,previous_count,change,change_pct"


def problem_fields(response) -> dict:
    assert response.status_code == 422 and response.content_type == "application/problem+json"
    return {e["field"]: e["code"] for e in response.json["errors"]}


def test_dates_outside_the_supported_range_are_422_not_500(client):
    r = client.get("/api/v1/stats/timeseries?since=0001-01-01")
    assert problem_fields(r) == {"since": "out_of_range"}
    assert "2000-01-01" in r.json["errors"][0]["detail"]
    # a huge day series is refused before anything is counted
    started = time.perf_counter()
    r = client.get("/api/v1/stats/timeseries?since=0001-01-01&until=9999-12-30&interval=day")
    assert problem_fields(r) == {"since": "out_of_range", "until": "out_of_range"}
    assert time.perf_counter() - started < 1
    for stat in ("hexbins", "areas", "hotspots", "resolution"):
        assert problem_fields(client.get(f"/api/v1/stats/{stat}?until=2101-01-01")) == {
            "until": "out_of_range"}
    # the bounds themselves are fine
    edge = client.get("/api/v1/stats/timeseries?since=2000-01-01&until=2000-01-02&interval=day")
    assert edge.status_code == 200
    assert [p["period"] for p in edge.json["series"]] == ["2000-01-01", "2000-01-02"]


def months_between(first: date, last: date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month + 1


def longest_series(interval: str, since: date) -> date:
    """The last day (`until`) of the longest series from `since` (a period's first day)."""
    n = agg.MAX_SERIES_PERIODS
    if interval == "day":
        return since + timedelta(days=n - 1)
    if interval == "week":
        return since + timedelta(weeks=n) - timedelta(days=1)
    y, m = divmod(since.year * 12 + since.month - 1 + n, 12)
    return date(y, m + 1, 1) - timedelta(days=1)


@pytest.mark.parametrize(("interval", "since"), [
    ("day", date(2030, 1, 1)), ("week", date(2030, 1, 7)),  # a Monday
    ("month", DATE_MIN)])  # every month of the accepted dates
def test_the_longest_series_is_answered_and_one_period_more_refused(client, interval, since):
    until = longest_series(interval, since)
    r = client.get(f"/api/v1/stats/timeseries?interval={interval}&since={since}&until={until}")
    assert r.status_code == 200, r.json
    periods = [p["period"] for p in r.json["series"]]
    expected = {"day": (until - since).days + 1, "week": ((until - since).days + 1) // 7,
                "month": months_between(since, until)}[interval]
    assert len(periods) == expected == agg.MAX_SERIES_PERIODS
    assert (periods[0], periods[-1]) == (since.isoformat(), agg.period_start(until, interval).isoformat())
    if interval == "month":
        assert until == DATE_MAX  # no month series within the accepted dates is too long
        return
    r = client.get(f"/api/v1/stats/timeseries?interval={interval}&since={since}"
                   f"&until={until + timedelta(days=1)}")
    assert problem_fields(r) == {"since": "period_too_long"}


def test_a_series_without_bounds_is_cut_to_the_latest_periods(planner, insert_reports):
    insert_reports({"lon": 2.35, "lat": 48.86, "created_at": "2031-01-15T10:00:00Z"},
                   {"lon": 2.35, "lat": 48.86, "created_at": "2099-06-01T10:00:00Z"})
    n = agg.MAX_SERIES_PERIODS
    # by day: the data spans 2023–2099, the series its last MAX_SERIES_PERIODS days
    body = planner.get("/api/v1/stats/timeseries?interval=day").json
    assert len(body["series"]) == n and body["series"][-1] == {"period": "2099-06-01", "count": 1}
    assert body["series"][0]["period"] == (date(2099, 6, 1) - timedelta(days=n - 1)).isoformat()
    assert body["total"] == 1  # the total is the series'
    # without `until`: the periods from `since` on
    body = planner.get("/api/v1/stats/timeseries?interval=week&since=2031-01-13").json
    assert len(body["series"]) == n and body["series"][0] == {"period": "2031-01-13", "count": 1}
    # by month everything fits: the first contribution's month to the last's
    body = planner.get("/api/v1/stats/timeseries?interval=month").json
    first = date.fromisoformat(body["series"][0]["period"])
    assert len(body["series"]) == months_between(first, date(2099, 6, 1)) < n
    assert body["series"][-1] == {"period": "2099-06-01", "count": 1}


def test_lang_and_format_are_checked_not_ignored(client, planner):
    assert problem_fields(client.get("/api/v1/stats/areas?lang=AAA")) == {"lang": "invalid_value"}
    for stat in ("hexbins", "areas", "timeseries", "resolution"):
        for value in ("", "xml", "CSV"):
            r = client.get(f"/api/v1/stats/{stat}?format={value}")
            assert problem_fields(r) == {"format": "invalid_value"}, (stat, value)
        r = planner.get(f"/api/v1/stats/{stat}?format=csv")
        assert r.status_code == 200 and r.mimetype == "text/csv"
        assert r.headers["Content-Disposition"].startswith("attachment;")
    # hotspots have no CSV: `format` is not one of their parameters
    assert problem_fields(client.get("/api/v1/stats/hotspots?format=csv")) == {
        "format": "unknown_field"}
    # English messages
    r = client.get("/api/v1/stats/areas?level=region&lang=en")
    assert r.json["errors"][0]["detail"] == "Invalid value."


@pytest.mark.parametrize(("window", "ok"), [
    ("since=2030-01-01&until=2030-04-02", True),  # 92 Paris days (spring clock change inside)
    ("since=2030-01-01&until=2030-04-03", False),
    ("since=2030-09-01&until=2030-12-01", True),  # 92 Paris days (autumn clock change inside)
    ("since=2030-09-01&until=2030-12-02", False),
    ("since=2030-06-01T00:00:00Z&until=2030-09-01T00:00:00Z", True),  # 92 × 24 h
    ("since=2030-06-01T00:00:00Z&until=2030-09-02T00:00:00Z", False),
    ("since=2030-06-01T00:00:00Z&until=2030-09-01T00:00:01Z", False),
])
def test_hotspot_window_of_exactly_the_maximum(planner, window, ok):
    assert services.MAX_HOTSPOT_DAYS == 92  # the windows above are written for it
    r = planner.get(f"/api/v1/stats/hotspots?{window}")
    if ok:
        assert r.status_code == 200, r.json
        assert r.json["filters"]["since"][:10] == window[6:16]  # the period used is echoed
    else:
        assert problem_fields(r) == {"since": "period_too_long"}


def test_hotspots_default_window_and_public_min_points(planner, client, insert_reports):
    insert_reports({"lon": 2.35, "lat": 48.86, "created_at": "2099-06-12T10:00:00Z"})
    body = planner.get("/api/v1/stats/hotspots?min_points=3").json
    # without bounds: the 30 days up to the end of the latest contribution's Paris day
    assert body["filters"]["until"] == "2099-06-13T00:00:00+02:00"
    assert body["filters"]["since"] == "2099-05-14T00:00:00+02:00"
    assert body["min_points"] == 3 and body["eps_m"] == services.EPS_M[2]
    # the public never sees a cluster smaller than a count it may see
    r = client.get(f"/api/v1/stats/hotspots?min_points={services.PUBLIC_MIN_COUNT - 1}")
    assert problem_fields(r) == {"min_points": "below_public_minimum"}
    assert client.get(f"/api/v1/stats/hotspots?min_points={services.PUBLIC_MIN_COUNT}").status_code == 200


def test_bare_dates_are_paris_days_and_filters_are_echoed(planner):
    body = planner.get("/api/v1/stats/areas?since=2030-07-01&until=2030-07-31&status=closed,new"
                       "&bbox=2.30,48.80,2.40,48.90&quartier=1,2").json
    assert body["filters"] == {
        "kind": "report", "category": None, "status": ["closed", "new"],
        "since": "2030-07-01T00:00:00+02:00", "until": "2030-08-01T00:00:00+02:00",
        "arrondissement": None, "quartier": [1, 2], "bbox": [2.3, 48.8, 2.4, 48.9]}
    body = planner.get("/api/v1/stats/areas?since=2030-07-01T10:00:00").json
    assert body["filters"]["since"] == "2030-07-01T10:00:00+00:00"  # no offset: UTC
    assert body["filters"]["category"] is None
    # an empty list is refused: leave the parameter out
    r = planner.get("/api/v1/stats/areas?category=")
    assert r.status_code == 422 and r.json["errors"][0]["code"] == "required"
    # the same day as both bounds is that whole day
    series = planner.get("/api/v1/stats/timeseries?since=2030-07-01&until=2030-07-01"
                         "&interval=day").json["series"]
    assert [p["period"] for p in series] == ["2030-07-01"]
    r = planner.get("/api/v1/stats/areas?since=2030-07-01T10:00:00Z&until=2030-07-01T12:00:00%2B02:00")
    assert problem_fields(r) == {"until": "empty_period"}  # an empty period


def test_exports_parse_the_same_filters(planner, insert_reports):
    insert_reports(*[{"lon": 2.35, "lat": 48.86, "created_at": "2030-06-03T10:00:00Z",
                      "status": status} for status in ("new", "resolved")])
    r = planner.get(f"/planner/export/contributions.csv?{WINDOW}&status=closed")
    assert r.status_code == 200 and r.headers["X-Total-Count"] == "1"
    for url in ("/planner/export/contributions.csv?since=0001-01-01",
                "/planner/export/contributions.geojson?category=nope",
                "/planner/export/contributions.csv?cell_m=200",
                "/planner/report.html?status=lost"):
        r = planner.get(url)
        assert r.status_code == 422, url
    assert problem_fields(planner.get("/planner/report.html?since=2030-02-01&until=2030-01-01")) == {
        "until": "empty_period"}


def test_statistics_services_do_not_read_the_request():
    source = inspect.getsource(services)
    assert "flask" not in source and "request.args" not in source
    assert "flask" not in inspect.getsource(agg)
