"""Resolution statistics from the duration histograms (migration a9b0c1d00025) equal the
naive sort of the raw rows — counts, medians, 90th percentiles, shares — for several filters,
and stay equal after inserts, status changes, reopenings, deletes and hiding (the triggers)."""

import random
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import text

from app.planner import services
from app.planner.models import RECOUNT_SQL
from app.planner.schemas import ResolutionQuery
from geo import aggregations as agg

WINDOWS = {  # the histograms' spans: months, a whole year, months + year + months
    "months": "since=2030-03-01&until=2030-05-31",
    "year": "since=2030-01-01&until=2030-12-31",
    "across": "since=2029-11-01&until=2031-01-31",
}
CATEGORIES = ["graffitis", "eclairage", "voirie", "proprete.dechets-et-ou-salissures-divers"]


def minutes_later(created: datetime, minutes: float) -> str:
    return (created + timedelta(minutes=minutes)).isoformat()


@pytest.fixture
def history(insert_reports):
    """300 reports from November 2029 to January 2031 with every kind of duration: ties,
    under 100 minutes, days, resolved without a closing date, reopened ones."""
    rng = random.Random(18)
    rows = []
    for _ in range(300):
        created = datetime(2029, 11, 1) + timedelta(minutes=rng.randrange(0, 455 * 24 * 60))
        status = rng.choice(["new", "acknowledged", "resolved", "resolved", "resolved", "rejected"])
        ack = rng.choice([None if status == "new" else rng.choice([5, 59.6, 60, 60, 130]),
                          rng.expovariate(1 / 600), rng.expovariate(1 / 3000)])
        row = {"lon": rng.uniform(2.30, 2.40), "lat": rng.uniform(48.835, 48.88),
               "created_at": created.isoformat() + "Z", "category": rng.choice(CATEGORIES),
               "status": status, "reopen_count": int(rng.random() < 0.1)}
        if status != "new" and ack is not None:
            row["acknowledged_at"] = minutes_later(created, ack) + "Z"
        if status in ("resolved", "rejected") and rng.random() < 0.95:
            row["closed_at"] = minutes_later(created, (ack or 0) + rng.expovariate(1 / 5000)) + "Z"
        rows.append(row)
    return insert_reports(*rows)


def ours(planner, query: str) -> tuple[str, dict]:
    body = planner.get(f"/api/v1/stats/resolution?{query}").json
    return body["source"], {g["code"]: (g["count"], g["ack_median_h"], g["ack_p90_h"],
                                        g["resolve_median_h"], g["resolve_p90_h"],
                                        g["share_resolved"], g["reopen_rate"])
                            for g in body["groups"]}


def parse(app, session, params: dict) -> tuple[ResolutionQuery, services.Request]:
    # the category codes' validator may reread the tree through the app's session
    with app.app_context():
        parsed = ResolutionQuery.model_validate(params)
    return parsed, services.stats_request(session, parsed, True)


def naive(app, session, query: str) -> dict:
    """percentile_disc over every raw row (contributions, not the roll-ups)."""
    parsed, req = parse(app, session, dict(p.split("=") for p in query.split("&")))
    q = agg.resolution_naive(req.filters, parsed.group_by)
    labels = services._labels(session, parsed.group_by)

    def h(minutes):
        return None if minutes is None else round(minutes / 60, 2)

    return {labels.get(r.k, (r.k,))[0]: (
        r.n, h(r.ack_median), h(r.ack_p90), h(r.resolve_median), h(r.resolve_p90),
        round(r.resolved / r.n, 4), round(r.reopened / r.ever_closed, 4) if r.ever_closed else None)
        for r in session.execute(text(q.sql), q.params)}


def assert_equal(planner, app, session, queries: dict[str, str]) -> None:
    for query, source in queries.items():
        got_source, got = ours(planner, query)
        assert got_source == source, query
        assert got == naive(app, session, query), query
        assert got  # something was measured
    diff = session.scalar(text(RECOUNT_SQL["planner_duration_counts"]))
    assert diff == 0


def queries(windows=WINDOWS) -> dict[str, str]:
    out = {}
    for window in windows.values():
        for group in ("arrondissement", "category", "service"):
            out[f"group_by={group}&{window}"] = "durations"
        out[f"group_by=category&status=closed&{window}"] = "durations"
        out[f"group_by=arrondissement&arrondissement=11,12,20&{window}"] = "durations"
        out[f"group_by=category&category=graffitis,eclairage&{window}"] = "durations"
    # crossed dimensions, sub-types and days are answered from the facts, the same way
    out[f"group_by=arrondissement&category=graffitis&{WINDOWS['year']}"] = "facts"
    out[f"group_by=category&category=proprete.dechets-et-ou-salissures-divers&{WINDOWS['year']}"] \
        = "facts"
    out["group_by=service&since=2030-02-03&until=2030-07-20"] = "facts"
    return out


def test_resolution_from_histograms_equals_the_naive_sort(planner, app, session, history):
    assert_equal(planner, app, session, {**queries(), "group_by=arrondissement": "durations",
                                    "group_by=category&status=resolved": "durations"})
    # the report's whole-selection group
    _parsed, req = parse(app, session, {"since": "2029-11-01", "until": "2031-01-31"})
    (whole,) = services.resolution(session, req, "all")["groups"]
    q = agg.resolution_naive(req.filters, "all")
    (row,) = session.execute(text(q.sql), q.params).all()
    assert (whole["count"], whole["resolve_median_h"]) == (300, round(row.resolve_median / 60, 2))


def test_histograms_stay_exact_through_writes(planner, app, session, history):
    ids = history
    few = queries({"across": WINDOWS["across"]})
    run = lambda sql, part: session.execute(text(sql), {"ids": part})  # noqa: E731
    # status changes: resolved now, closed 1 to 9 days later
    run("UPDATE contributions SET status = 'resolved', acknowledged_at = coalesce(acknowledged_at, "
        "created_at + interval '3 hours'), closed_at = created_at + (id % 9 + 1) * interval '1 day' "
        "WHERE id = ANY(:ids) AND status <> 'resolved'", ids[:60])
    assert_equal(planner, app, session, few)
    # reopenings: back to acknowledged, closing date cleared, counted as reopened
    run("UPDATE contributions SET status = 'acknowledged', closed_at = NULL, "
        "reopen_count = reopen_count + 1 WHERE id = ANY(:ids) AND status = 'resolved'", ids[60:120])
    assert_equal(planner, app, session, few)
    # more inserts in one statement
    run("INSERT INTO contributions (kind, category_id, status, title, geom, created_at, updated_at, "
        "acknowledged_at, closed_at, source, source_id) SELECT kind, category_id, status, title, geom, "
        "created_at + interval '7 days', now(), acknowledged_at + interval '7 days', "
        "closed_at + interval '8 days', 'test', source_id || '-copy' FROM contributions "
        "WHERE id = ANY(:ids)", ids[120:180])
    assert_equal(planner, app, session, few)
    # deletes, a category change, one hidden report
    run("DELETE FROM contributions WHERE id = ANY(:ids)", ids[180:220])
    run("UPDATE contributions SET category_id = (SELECT id FROM categories WHERE code = 'voirie') "
        "WHERE id = ANY(:ids)", ids[220:240])
    hidden = ids[240]
    before = ours(planner, f"group_by=category&{WINDOWS['across']}")[1]
    run("UPDATE contributions SET hidden = true WHERE id = ANY(:ids)", [hidden])
    assert_equal(planner, app, session, few)
    after = ours(planner, f"group_by=category&{WINDOWS['across']}")[1]
    assert sum(g[0] for g in before.values()) - sum(g[0] for g in after.values()) == 1


@pytest.mark.parametrize(("seconds", "bucket"), [
    (0, 0), (29, 0), (30, 1), (59 * 60 + 40, 60), (99 * 60 + 29, 99), (99 * 60 + 30, 100),
    (1049 * 60, 1000), (1050 * 60, 1100), (2880 * 60, 2900), (-150 * 60, -150), (12345 * 60, 12000),
])
def test_duration_bucket_is_whole_minutes_then_two_significant_digits(session, seconds, bucket):
    assert session.scalar(text("SELECT planner_duration_bucket(make_interval(secs => :s))"),
                          {"s": seconds}) == bucket


def test_a_period_is_whole_years_and_the_months_around_them():
    spans = agg.duration_spans
    assert spans(date(2029, 11, 1), date(2031, 2, 1)) == [
        ("y", date(2030, 1, 1), date(2031, 1, 1)), ("m", date(2029, 11, 1), date(2030, 1, 1)),
        ("m", date(2031, 1, 1), date(2031, 2, 1))]
    assert spans(date(2030, 3, 1), date(2030, 6, 1)) == [("m", date(2030, 3, 1), date(2030, 6, 1))]
    assert spans(None, None) == [("y", None, None)]
    assert spans(date(2030, 2, 1), None) == [("y", date(2031, 1, 1), None),
                                             ("m", date(2030, 2, 1), date(2031, 1, 1))]
