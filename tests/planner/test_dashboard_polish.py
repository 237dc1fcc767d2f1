"""The planner dashboard's polish: its strings in French, the months with data handed to the
page, and the CSV downloads made for French spreadsheets (the API's CSV keeps its form)."""

import csv
import io
import json
import re
from pathlib import Path

from babel.support import Translations

from app.planner import services

CATALOG = Translations.load(str(Path(__file__).resolve().parents[2] / "translations"), ["fr"])


def fr(msgid: str) -> str:
    return CATALOG.gettext(msgid)

WINDOW = "since=2030-06-01&until=2030-06-30"


def page_config(response) -> dict:
    match = re.search(r'<script type="application/json" id="planner-config">(.*?)</script>',
                      response.get_data(as_text=True), re.S)
    return json.loads(match.group(1))


def sheet_rows(response) -> list[dict]:
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")  # the byte order mark: accents read right
    return list(csv.DictReader(io.StringIO(body[1:]), delimiter=";"))


def test_dashboard_strings_are_french_and_plural_aware(planner):
    r = planner.get("/planner")
    assert r.status_code == 200
    strings = page_config(r)["strings"]
    english = {"Count", "Density per km²", "Share of the total", "Previous period", "Change",
               "all", "contributions", "Hexagons"}
    assert not english & set(strings.values())
    assert strings["contributions_one"] == "{n} contribution"
    assert strings["contributions_other"] == "{n} contributions"
    assert "(all)" not in strings["all"] and "{name}" in strings["all"]
    html = r.get_data(as_text=True)
    # new strings show in French as soon as the catalog has them (it is compiled apart)
    for msgid in ("No data for these filters.", "Contributions per hexagon of {size} m"):
        assert fr(msgid) in html or fr(msgid) in strings.values()
    assert 'data-download="png"' in html and 'data-download="csv"' in html


def test_dashboard_strings_in_english(planner):
    strings = page_config(planner.get("/planner?lang=en"))["strings"]
    assert strings["contributions_one"] == "{n} contribution"
    assert strings["count"] == "Count"


def test_months_with_data_come_from_the_database(planner, session, insert_reports):
    months = services.data_months(session)
    assert months["report"]["first"] <= months["report"]["last"]
    latest = page_config(planner.get("/planner"))["months"]["report"]["last"]
    assert latest == months["report"]["last"]
    # the demo extract ends in 2024: the slider must not start at today's month
    assert latest.startswith("2024-") or latest.startswith("2023-")
    insert_reports({"lon": 2.35, "lat": 48.86, "created_at": "2030-06-30T22:30:00Z"})  # Paris: 1 July
    assert services.data_months(session)["report"]["last"] == "2030-07-01"


def test_contributions_csv_is_for_french_spreadsheets(planner, insert_reports):
    insert_reports({"lon": 2.35, "lat": 48.86, "created_at": "2030-06-03T10:00:00Z",
                    "status": "resolved", "closed_at": "2030-06-04T21:30:00Z"})
    r = planner.get(f"/planner/export/contributions.csv?{WINDOW}")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    header = r.get_data(as_text=True).splitlines()[0]
    assert header.startswith("\ufeffid;kind;kind_label;type;type_label;category;category_label;")
    (row,) = sheet_rows(r)
    assert row["created_at"] == "2030-06-03 12:00:00"  # Paris summer time, no offset
    assert row["closed_at"] == "2030-06-04 23:30:00"
    assert row["category"] and row["category_label"] and row["category_label"] != row["category"]
    assert row["type"] == "graffitis" and row["type_label"] != "graffitis"
    assert row["status"] == "resolved" and row["status_label"] == "Résolu"
    assert row["kind_label"] == "Signalement"
    assert row["arrondissement"] and row["arrondissement_name"]
    assert row["quartier_name"]
    assert row["lon"] == "2,35" or row["lon"].startswith("2,35")


def test_areas_csv_for_spreadsheets_and_the_api_csv_unchanged(planner, insert_reports):
    insert_reports(*[{"lon": 2.35, "lat": 48.86, "created_at": "2030-06-03T10:00:00Z"}] * 3)
    r = planner.get(f"/planner/export/areas-arrondissement.csv?{WINDOW}")
    assert r.status_code == 200
    rows = sheet_rows(r)
    assert len(rows) == 20 and sum(int(row["count"]) for row in rows) == 3
    assert any("," in row["share"] for row in rows if row["share"] not in ("", "0"))
    assert planner.get(f"/planner/export/areas-nowhere.csv?{WINDOW}").status_code == 404
    api = planner.get(f"/api/v1/stats/areas?{WINDOW}&format=csv").get_data(as_text=True)
    assert not api.startswith("\ufeff")
    assert api.splitlines()[0] == "code,name,count,density_km2,share,previous_count,change,change_pct"


def test_exports_are_for_planners_only(make_user):
    resident = make_user()
    assert resident.get(f"/planner/export/areas-arrondissement.csv?{WINDOW}").status_code == 403
