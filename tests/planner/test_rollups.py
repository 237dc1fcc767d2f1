"""Every rollup equals the raw count after random creates, moves, status changes, hiding,
withdrawals and deletions, through the API and through bulk SQL (the importer's path)."""

import random

from sqlalchemy import text

from app.planner.models import RECOUNT_SQL
from geo.hexgrid import LEVELS, edge, hex_cell
from tests.conftest import feature

PARIS_POINTS = [(2.3499, 48.8530), (2.3376, 48.8606), (2.3828, 48.8809), (2.2950, 48.8738),
                (2.3601, 48.8421), (2.4011, 48.8510), (2.3200, 48.8300), (2.3700, 48.8900)]


def assert_exact(session):
    # the naive recount is the oracle, not a request: no request's statement timeout (the
    # connections' default) applies to it, however loaded the machine
    session.execute(text("SET LOCAL statement_timeout = 0"))
    diffs = {name: session.scalar(text(sql)) for name, sql in RECOUNT_SQL.items()}
    assert diffs == dict.fromkeys(RECOUNT_SQL, 0)


def test_rollups_equal_raw_after_random_writes(session, make_user, insert_reports):
    rng = random.Random(7)
    resident, supervisor = make_user(), make_user(roles=("supervisor",))
    assert_exact(session)  # after the import of the extract

    created = []
    for _ in range(12):  # API creates, in several categories
        lon, lat = rng.choice(PARIS_POINTS)
        r = resident.post("/api/v1/reports", json=feature(
            lon + rng.uniform(-0.003, 0.003), lat + rng.uniform(-0.003, 0.003),
            category=rng.choice(["graffitis", "eclairage", "proprete.dechets-et-ou-salissures-divers"])))
        assert r.status_code == 201, r.json
        created.append(r.json["id"])
    for rid in created[:4]:  # moves (arrondissement, quartier and hexagons change)
        lon, lat = rng.choice(PARIS_POINTS)
        r = resident.patch(f"/api/v1/reports/{rid}", json={
            "type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": {}})
        assert r.status_code == 200, r.json
    for rid in created[4:8]:  # status changes through the field workflow
        for to in ("acknowledged", "resolved") if rid % 2 else ("rejected",):
            body = {"to": to, "resolution": "fixed"} if to == "resolved" else {"to": to}
            if to == "rejected":
                body["reason"] = "not_city_remit"
            r = supervisor.post(f"/api/v1/reports/{rid}/transitions", json=body)
            assert r.status_code in (200, 201), r.json
    resident.delete(f"/api/v1/reports/{created[8]}")  # withdrawn
    session.execute(text("UPDATE contributions SET hidden = true WHERE id = :id"), {"id": created[9]})
    assert_exact(session)

    # bulk paths: INSERT … SELECT, multi-row UPDATEs, DELETE, as the importer and scripts do
    ids = insert_reports(*[{"lon": rng.uniform(2.30, 2.40), "lat": rng.uniform(48.835, 48.88),
                            "created_at": f"2029-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T0{rng.randint(0, 9)}:00:00Z",
                            "category": rng.choice(["graffitis", "voirie", "eclairage"])}
                           for _ in range(300)])
    session.execute(text("UPDATE contributions SET status = 'resolved', closed_at = created_at + interval '2 days' "
                         "WHERE id = ANY(:ids)"), {"ids": ids[:100]})
    session.execute(text("UPDATE contributions SET geom = ST_Translate(geom, 0.004, -0.002) WHERE id = ANY(:ids)"),
                    {"ids": ids[100:150]})
    session.execute(text("UPDATE contributions SET category_id = (SELECT id FROM categories WHERE code = 'proprete') "
                         "WHERE id = ANY(:ids)"), {"ids": ids[150:180]})
    session.execute(text("UPDATE contributions SET created_at = created_at - interval '40 days' WHERE id = ANY(:ids)"),
                    {"ids": ids[180:200]})
    session.execute(text("UPDATE contributions SET votes_up = votes_up + 1 WHERE id = ANY(:ids)"),
                    {"ids": ids[200:220]})  # not a fact column: nothing to do
    session.execute(text("DELETE FROM contributions WHERE id = ANY(:ids)"), {"ids": ids[220:260]})
    session.execute(text("UPDATE contributions SET hidden = NOT hidden WHERE id = ANY(:ids)"),
                    {"ids": ids[250:280]})
    assert_exact(session)


def test_sql_hexagon_id_matches_python_and_st_hexagon(session):
    rng = random.Random(3)
    points = [(rng.uniform(643000, 661000), rng.uniform(6857000, 6869000)) for _ in range(200)]
    for m in LEVELS:
        rows = session.execute(text("""
            SELECT p.x, p.y, planner_hex_cell(p.x, p.y, :m) AS cell,
                   ST_Intersects(ST_Hexagon(:size, (planner_hex_cell(p.x, p.y, :m) >> 20)::int,
                                            (planner_hex_cell(p.x, p.y, :m) & 1048575)::int),
                                 ST_MakePoint(p.x, p.y)) AS inside
            FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[])) AS p(x, y)
        """), {"m": m, "size": edge(m), "xs": [p[0] for p in points], "ys": [p[1] for p in points]}).all()
        assert all(r.inside for r in rows)
        assert [r.cell for r in rows] == [hex_cell(x, y, m) for x, y in points]
