"""Address search: streets and squares before house numbers, the exact name first, BAN
suffixes as written on doors; and the category tree's picker data (counts, short labels)."""

import pytest
from sqlalchemy import text

from app.areas.services import house_number, short_label, unbracketed


def search(client, q, limit=10):
    r = client.get("/api/v1/geocode", query_string={"q": q, "limit": limit})
    assert r.status_code == 200
    return r.json["features"]


def test_the_square_is_found_before_the_dominican_republic(client, session):
    found = search(client, "Place de la République")
    first = found[0]
    assert first["properties"]["type"] == "street"
    assert first["properties"]["street"] == "Place de la République"
    assert first["properties"]["postcode"] in {"75003", "75010", "75011"}
    assert first["properties"]["housenumber"] is None
    # the three postcodes the BAN files the square in, before any other street
    squares = [f["properties"]["postcode"] for f in found[:3]]
    assert sorted(squares) == ["75003", "75010", "75011"]
    assert all(f["properties"]["street"] == "Place de la République" for f in found[:3])
    dominicaine = [i for i, f in enumerate(found) if "Dominicaine" in f["properties"]["label"]]
    assert not dominicaine or dominicaine[0] > 2
    # a point on the square (one of its numbers), within the extent the map zooms to
    lon, lat = first["geometry"]["coordinates"]
    assert session.scalar(text(
        "SELECT count(*) FROM addresses WHERE street = 'Place de la République' AND postcode = :p "
        "AND abs(ST_X(geom) - :lon) < 1e-6 AND abs(ST_Y(geom) - :lat) < 1e-6"),
        {"p": first["properties"]["postcode"], "lon": lon, "lat": lat}) == 1
    w, s, e, n = first["bbox"]
    assert w <= lon <= e and s <= lat <= n
    assert 2.35 < w < e < 2.37 and 48.86 < s < n < 48.87  # the square, east of the Marais


def test_a_street_comes_first_then_its_numbers(client):
    found = search(client, "rue de rivoli")
    assert [(f["properties"]["type"], f["properties"]["label"]) for f in found[:2]] == [
        ("street", "Rue de Rivoli 75001 Paris"), ("street", "Rue de Rivoli 75004 Paris")]
    # then house numbers of that street, before streets that only look alike (Richelieu…)
    assert found[2]["properties"]["type"] == "address"
    assert found[2]["properties"]["street"] == "Rue de Rivoli"
    # a long street's extent is long: Rivoli's 1st-arrondissement stretch is over a km wide
    w, s, e, n = found[0]["bbox"]
    assert e - w > 0.015


@pytest.mark.parametrize("q", ["12 rue de rivoli", "12 rue de rivolli", "12 r de rivoli"])
def test_the_house_number_wins_when_the_query_starts_with_one(client, q):
    found = search(client, q)
    assert found[0]["properties"]["type"] == "address"
    assert found[0]["properties"]["label"] == "12 Rue de Rivoli 75004 Paris"
    assert found[0]["properties"]["housenumber"] == "12"
    # the street itself follows, before 112 or 212
    types = [f["properties"]["type"] for f in found[:3]]
    assert types == ["address", "street", "street"]


def test_typos_and_accents_still_find_the_street(client):
    assert search(client, "rue de rivolli")[0]["properties"]["label"] == "Rue de Rivoli 75001 Paris"
    assert search(client, "PLACE DE LA REPUBLIQUE")[0]["properties"]["street"] == "Place de la République"
    assert search(client, "place de la republique 75011")[0]["properties"]["label"] == (
        "Place de la République 75011 Paris")


def test_suffixes_read_as_on_doors(client, session):
    assert house_number("1", "b") == "1 bis" and house_number("13", "t") == "13 ter"
    assert house_number("3", "q") == "3 quater" and house_number("12", "a") == "12 a"
    assert house_number("1", "v") is None and house_number("13", "bv") is None
    assert house_number("7", "") == "7"
    suffixes = dict(session.execute(text(
        "SELECT split_part(number, ' ', 2), count(*) FROM addresses GROUP BY 1")).all())
    assert suffixes["bis"] > 5000 and suffixes["ter"] > 500
    # the city's technical suffixes ("1 v", "13 bv", "p1") are not offered
    assert set(suffixes) <= {"", "bis", "ter", "quater", "a", "c", "d", "e", "f", "g", "h"}
    labels = [f["properties"]["label"] for f in search(client, "13 place de la republique")]
    assert labels[0] == "13 Place de la République 75003 Paris"
    assert not [label for label in labels if label.split()[1] in {"v", "bv", "w"}]
    # a number that had only technical points is offered once, as its plain number; every
    # point stays for the nearest-address lookup
    assert session.scalar(text(
        "SELECT count(*) FROM addresses WHERE street = 'Pont Neuf' AND number = '1' AND NOT secondary")) == 1
    assert session.scalar(text("SELECT count(*) FROM addresses")) == 158048
    assert session.scalar(text("SELECT count(*) FROM addresses WHERE secondary")) > 5000
    reverse = client.get("/api/v1/reverse?lon=2.3497&lat=48.8526").json["features"][0]["properties"]
    assert reverse["label"] == "6 Parvis Notre-Dame Place Jean-Paul II 75004 Paris"  # its "6 w" point


def test_one_street_per_name_and_postcode(session):
    streets, pairs = session.execute(text(
        "SELECT (SELECT count(*) FROM streets), "
        "(SELECT count(DISTINCT (street, postcode)) FROM addresses)")).one()
    assert streets == pairs > 7000
    numbers = session.scalar(text(
        "SELECT numbers FROM streets WHERE name = 'Place de la République' AND postcode = '75003'"))
    assert numbers == session.scalar(text(
        "SELECT count(*) FROM addresses WHERE street = 'Place de la République' AND postcode = '75003' "
        "AND NOT secondary"))


def test_single_result_callers_get_the_square(client, session):
    from app.areas.services import geocode

    found = geocode(session, "Place de la République", limit=1)
    assert found[0]["properties"]["label"].startswith("Place de la République 750")


# ---- the category tree as the picker reads it ---------------------------------------------

def test_categories_carry_counts_and_short_labels(client, session):
    from app.areas import services

    services._counts.clear()  # each process keeps its counts for 10 minutes
    tree = client.get("/api/v1/categories?kind=report").json["categories"]
    by_code = {c["code"]: c for c in tree}
    subs = {s["code"]: s for c in tree for s in c["children"]}
    # the last 12 months hold fewer than RANKING_MIN reports (the extract ends in September
    # 2024): the counts are over all time
    count = ("SELECT count(*) FROM contributions c JOIN categories k ON k.id = c.category_id "
             "WHERE c.kind = 'report' AND NOT c.hidden AND c.withdrawn_at IS NULL {}")
    assert session.scalar(text(count.format("AND c.created_at > now() - interval '12 months'"))) \
        < services.RANKING_MIN
    expected = session.scalar(text(count.format(
        "AND k.code = 'objets-abandonnes.autres-objets-encombrants-abandonnes'")))
    assert expected > 1000
    assert subs["objets-abandonnes.autres-objets-encombrants-abandonnes"]["recent_count"] == expected
    top = by_code["objets-abandonnes"]
    assert top["recent_count"] == sum(s["recent_count"] for s in top["children"])
    # short labels: without the group before the colon, nor the agents' mark
    stairs = subs["voirie.escaliers-marche-dangereuse"]
    assert stairs["short_label"] == {"fr": "Marche dangereuse", "en": "Dangerous step"}
    assert stairs["description"]["fr"] == "Escaliers : Marche dangereuse"
    reserved = [s for s in subs.values() if s["agent_only"]]
    assert len(reserved) == 20
    assert all("[" not in s["short_label"]["fr"] + s["description"]["fr"] + s["short_label"]["en"]
               for s in reserved)
    assert all("[" in s["label"]["fr"] for s in reserved)  # the stored label is the admins'


def test_label_helpers():
    assert unbracketed("[réservé agents DPE-STPP] Affiches coupées à ramasser") == "Affiches coupées à ramasser"
    assert short_label("Pied d'arbre : [Réservé DPE-STPP-DT] Pieds d'arbres avec grilles à traiter") == (
        "Pieds d'arbres avec grilles à traiter")
    assert short_label("Tree base: [DPE-STPP-DT only] tree bases with grilles") == "Tree bases with grilles"
    assert short_label("Graffitis, tags, affiches et autocollants") == "Graffitis, tags, affiches et autocollants"
