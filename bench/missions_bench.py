"""`missions`: volunteers signing up at once for a mission's slots, and the missions' reads.

On a database of its own (`cartagora_bench_missions` unless `--db` names another), migrated
and loaded with the areas like every bench database.

1. Signing up. SIGNERS verified accounts are created in bulk (one INSERT … SELECT); a verified
   organisation and a published mission are made through app.missions.services
   (register_organisation, create_mission, change_state). `--workers` processes, each with its
   own connection (as gunicorn's workers each serve one request at a time), take the volunteers
   from a queue and sign up as the API's view does: the account loaded,
   services.mission_readable (its lazy close_ended UPDATE), services.sign_up (the policy, the
   slot's row lock, the already-signed-up check, the INSERT and its counting trigger, the
   outbox e-mails, refresh_full), the COMMIT. Two scenarios, each run once per number of
   workers, on fresh volunteers and a fresh mission:
   * one slot of capacity 100: every sign-up queues on that one slot's row from its lock to
     its COMMIT; the first 100 are pending, the others wait. Checked: taken = 100, waiting =
     SIGNERS - 100, the mission `full`, a recount by status agrees, and the outbox holds one
     e-mail per volunteer plus one to the owner per pending sign-up.
   * a recurring mission with SLOTS slots (every day), the volunteers spread over them (user id
     modulo SLOTS): the same work, but SLOTS locks to queue on instead of one — contention is
     per slot. Checked the same way, slot by slot.
   The anchor, in the same run: the same pool inserting SIGNERS rows into a table of their own,
   with no shared row to queue on.
2. Reading. MISSIONS missions over ORGS verified organisations (and a few of unverified ones,
   which the public never sees), each with 1–2 places drawn inside the arrondissements
   (ST_GeneratePoints, located by the places' trigger), 3 one-off slots and up to 7 sign-ups a
   slot, loaded set-based with the counting trigger on, then recounted and checked exact. Then,
   interleaved, `--page-requests` times each, through the app in process (routing, the policy,
   the SQL, the serialisation, the template): the server's time without the network.
"""

from __future__ import annotations

import math
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from functools import partial

from sqlalchemy import text
from sqlalchemy.orm import Session

from bench import common
from bench import workers as workers_mod
from bench.common import BenchDb, log

SIGNERS = 3_000
CAPACITY = 100          # the one slot's
SLOTS = 50              # the recurring mission's slots
SLOT_CAPACITY = 50      # each: 3,000 / 50 = 60 volunteers a slot, 50 pending, 10 waiting
MISSIONS = 2_000
ORGS = 100
HIDDEN_ORGS = 10        # pending organisations: their missions are never public
DEFAULT_DB = "cartagora_bench_missions"
CENTRE = (2.3470, 48.8589)  # Châtelet
TILE_ZOOM = 12


# --------------------------------------------------------------------------- data

def _engine(db: BenchDb):
    return workers_mod.engine(db.url)


def _mission_values(schedule: str) -> dict:
    from shapely.geometry import Point

    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    tomorrow = date.today() + timedelta(days=1)
    return {
        "title": "Banc d'essai : distribution de repas" if schedule == "one_off" else "Banc d'essai : maraude",
        "description": "Une mission du banc d'essai.", "domain": "solidarite-insertion",
        "activities": ["accueil-de-public"], "remote": "no",
        "places": [{"label": "Place du Châtelet", "geometry": Point(*CENTRE)}], "schedule": schedule,
        "slots": [{"starts_at": start, "ends_at": start + timedelta(hours=3), "capacity": CAPACITY}]
        if schedule == "one_off" else None,
        "recurrence": {"weekdays": list(range(7)), "start_time": clock(18), "end_time": clock(21),
                       "from_date": tomorrow, "until_date": tomorrow + timedelta(days=SLOTS - 1),
                       "capacity": SLOT_CAPACITY} if schedule == "recurring" else None,
        "period": None, "min_age": None, "skills": [], "accessibility": "",
        "reduced_mobility_accessible": False, "links": [],
    }


def prepare(db: BenchDb, schedule: str) -> dict:
    """SIGNERS fresh verified accounts, a verified organisation and a published mission, made
    through the services (a run of its own)."""
    from app import create_app
    from app.accounts.models import User
    from app.missions import services

    engine = _engine(db)
    tag = f"{time.time():.3f}"
    with engine.begin() as conn:
        owner, _ = workers_mod.accounts(conn, f"owner-{tag}-", 1, "Bénévole")
        signers = workers_mod.accounts(conn, f"volunteer-{tag}-", SIGNERS, "Bénévole")
        workers_mod.empty_anchor_table(conn)
        rna = "W1" + str(conn.execute(text("SELECT count(*) + 1 FROM organisations")).scalar()).zfill(8)
    app = create_app({"DATABASE_URL": db.url, "RATELIMIT_ENABLED": False})
    with app.app_context(), Session(engine) as session:
        user = session.get(User, owner)
        org = services.register_organisation(session, user, {
            "name": f"Banc d'essai {tag}", "rna": rna, "siren": None, "description": "", "address": "",
            "geometry": None, "website": None, "contact_email": None, "contact_phone": None})
        org.status, org.verified_at = "verified", datetime.now(UTC)  # as a moderator's verify does
        mission = services.create_mission(session, org, user, _mission_values(schedule))
        services.change_state(session, mission, user, "publish", None)
        slots = [s.id for s in mission.slots]
        mid = mission.id
        session.commit()
    engine.dispose()
    return {"owner": owner, "signers": signers, "mission": mid, "slots": slots}


# --------------------------------------------------------------------------- signing up

def _sign_up(mid: int, slots: list[int], session, user_id: int) -> None:
    """As POST /api/v1/missions/<id>/signups does: the account, the mission, the sign-up."""
    from app.accounts.models import User
    from app.missions import services

    user = session.get(User, user_id)
    mission = services.mission_readable(session, mid, user)
    services.sign_up(session, mission, user, slots[user_id % len(slots)], "", False)


def _check_signups(db: BenchDb, data: dict, capacity: int) -> dict:
    """The counters against a recount, slot by slot; the mission's status; the e-mails."""
    mid = data["mission"]
    engine = _engine(db)
    with engine.connect() as conn:
        status = conn.execute(text("SELECT status FROM missions WHERE id = :m"), {"m": mid}).scalar()
        slots = conn.execute(text("""
            SELECT s.id, s.capacity, s.taken, s.waiting,
                   count(u.id) FILTER (WHERE u.status IN ('pending', 'accepted')) AS recount_taken,
                   count(u.id) FILTER (WHERE u.status = 'waiting') AS recount_waiting
            FROM mission_slots s LEFT JOIN mission_signups u ON u.slot_id = s.id
            WHERE s.mission_id = :m GROUP BY s.id ORDER BY s.id"""), {"m": mid}).all()
        by_status = dict(conn.execute(text(
            "SELECT status, count(*) FROM mission_signups WHERE mission_id = :m GROUP BY status"), {"m": mid}).all())
        to_volunteers = conn.execute(text("SELECT count(*) FROM outbox WHERE body LIKE :link"),
                                     {"link": f"%/missions/{mid}\n%"}).scalar()
        to_owner = conn.execute(text("SELECT count(*) FROM outbox WHERE body LIKE :link"),
                                {"link": f"%/missions/{mid}/signups\n%"}).scalar()
    engine.dispose()
    per_slot = SIGNERS // len(slots)
    taken = sum(s.taken for s in slots)
    waiting = sum(s.waiting for s in slots)
    return {
        "slots_exact": all(s.taken == s.recount_taken == min(capacity, per_slot)
                           and s.waiting == s.recount_waiting == per_slot - min(capacity, per_slot) for s in slots),
        "taken": taken, "waiting": waiting, "by_status": by_status,
        "status_counts_agree": by_status.get("pending", 0) == taken and by_status.get("waiting", 0) == waiting
        and sum(by_status.values()) == SIGNERS,
        "mission_status": status,
        "emails_to_volunteers": to_volunteers, "emails_to_owner": to_owner,
        "emails_exact": to_volunteers == SIGNERS and to_owner == taken,
    }


def measure_signups(db: BenchDb, schedule: str, workers: int, quiet_wait: float) -> dict:
    data = prepare(db, schedule)
    mid, slots = data["mission"], data["slots"]
    first, last = data["signers"]
    ids = list(range(first, last + 1))
    capacity = CAPACITY if schedule == "one_off" else SLOT_CAPACITY
    quiet = common.wait_for_quiet(quiet_wait)
    log(f"missions: {len(ids):,} volunteers on {len(slots)} slot(s), {workers} at a time")
    wall, times, errors = workers_mod.pool_run(db.url, partial(_sign_up, mid, slots), ids, workers)
    log(f"missions: signed up in {wall:.2f} s ({len(ids) / wall:,.0f}/s), {len(errors)} errors")
    anchor_wall, anchor_times, anchor_errors = workers_mod.pool_run(db.url, workers_mod.anchor, ids, workers)
    log(f"missions: anchor rows in {anchor_wall:.2f} s ({len(ids) / anchor_wall:,.0f}/s)")
    checks = _check_signups(db, data, capacity)
    checks["errors"] = errors[:5] + anchor_errors[:5]
    assert checks["slots_exact"] and checks["status_counts_agree"], checks
    assert checks["mission_status"] == "full" and checks["emails_exact"], checks
    assert not errors and not anchor_errors, checks["errors"]
    return {
        "scenario": schedule, "slots": len(slots), "capacity_per_slot": capacity,
        "signers": SIGNERS, "workers": workers, "quiet": quiet,
        "how": "worker processes with one connection each: the account loaded, services.mission_readable, "
               "services.sign_up, COMMIT",
        "wall_s": round(wall, 3), "signups_per_s": round(SIGNERS / wall, 1),
        "ms": common.summary(times, 2),
        "anchor": {"what": "the same processes inserting one row per volunteer into a table of their own "
                           "(no shared row)",
                   "wall_s": round(anchor_wall, 3), "rows_per_s": round(SIGNERS / anchor_wall, 1),
                   "ms": common.summary(anchor_times, 2)},
        "checks": checks,
    }


# --------------------------------------------------------------------------- reading

def load_missions(db: BenchDb, seed: int) -> dict:
    """ORGS verified organisations (and HIDDEN_ORGS pending ones), MISSIONS published missions,
    their places, slots and sign-ups, set-based; the counters recounted and checked."""
    from app.missions.domains import ACTIVITIES, DOMAINS

    engine = _engine(db)
    tag = str(int(time.time()))
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("SELECT setseed(:s)"), {"s": (seed % 1000) / 1000})
        owner, _ = workers_mod.accounts(conn, f"reader-owner-{tag}-", 1, "Bénévole")
        first, last = workers_mod.accounts(conn, f"reader-volunteer-{tag}-", 2_000, "Bénévole")
        base = conn.execute(text("SELECT coalesce(max(id), 0) FROM organisations")).scalar()
        orgs = conn.execute(text("""
            INSERT INTO organisations (name, rna, description, address, status, verified_at, created_by_id)
            SELECT 'Association ' || (:base + i), 'W9' || lpad((:base + i)::text, 8, '0'),
                   'Une association du banc d''essai.', 'Paris',
                   CASE WHEN i <= :orgs THEN 'verified' ELSE 'pending' END,
                   CASE WHEN i <= :orgs THEN now() END, :owner
            FROM generate_series(1, :n) i RETURNING id
        """), {"base": base, "orgs": ORGS, "n": ORGS + HIDDEN_ORGS, "owner": owner}).scalars().all()
        conn.execute(text("""INSERT INTO organisation_members (organisation_id, user_id, role)
                             SELECT unnest(CAST(:o AS bigint[])), :u, 'owner'"""), {"o": orgs, "u": owner})
        n = MISSIONS * (ORGS + HIDDEN_ORGS) // ORGS
        missions = conn.execute(text("""
            INSERT INTO missions (organisation_id, title, description, domain, activities, remote, schedule,
                                  status, published_at, created_by_id)
            SELECT (CAST(:o AS bigint[]))[1 + i % cardinality(CAST(:o AS bigint[]))],
                   'Mission du banc d''essai n° ' || i,
                   repeat('Aider les habitants du quartier, une fois par semaine. ', 1 + i % 20),
                   (CAST(:d AS text[]))[1 + i % cardinality(CAST(:d AS text[]))],
                   ARRAY[(CAST(:a AS text[]))[1 + i % cardinality(CAST(:a AS text[]))]],
                   (ARRAY['no', 'no', 'no', 'possible', 'full'])[1 + i % 5], 'one_off', 'published',
                   now() - i * interval '1 minute', :owner
            FROM generate_series(1, :n) i RETURNING id
        """), {"o": orgs, "d": list(DOMAINS), "a": list(ACTIVITIES), "n": n, "owner": owner}).scalars().all()
        # 1–2 places each, random points inside the arrondissements (their share by area);
        # the places' trigger locates each one's arrondissement
        conn.execute(text("""
            WITH pts AS (
                SELECT row_number() OVER (ORDER BY random()) AS k, d.geom
                FROM arrondissements a,
                     LATERAL ST_Dump(ST_GeneratePoints(a.geom,
                         ceil(:n * 1.6 * a.area_m2 / (SELECT sum(area_m2) FROM arrondissements))::int, :seed)) d
            ), m AS (SELECT row_number() OVER (ORDER BY id) AS k, id FROM unnest(CAST(:m AS bigint[])) id)
            INSERT INTO mission_places (mission_id, seq, label, geom)
            SELECT m.id, s.seq, 'Lieu ' || s.seq, p.geom
            FROM m CROSS JOIN LATERAL (SELECT 0 AS seq UNION ALL SELECT 1 WHERE m.id % 2 = 0) s
            JOIN pts p ON p.k = m.k * 2 - 1 + s.seq
        """), {"n": n, "m": missions, "seed": seed})
        conn.execute(text("""
            INSERT INTO mission_slots (mission_id, starts_at, ends_at, capacity)
            SELECT m, date_trunc('hour', now()) + ((m % 60) + 1 + k * 7) * interval '1 day',
                   date_trunc('hour', now()) + ((m % 60) + 1 + k * 7) * interval '1 day' + interval '3 hours',
                   5 + (m + k) % 16
            FROM unnest(CAST(:m AS bigint[])) m, generate_series(0, 2) k
        """), {"m": missions})
        # up to 7 volunteers a slot; beyond its capacity they wait (the trigger counts)
        conn.execute(text("""
            INSERT INTO mission_signups (mission_id, slot_id, user_id, status)
            SELECT s.mission_id, s.id, :first + (s.id * 7 + j) % (:last - :first + 1),
                   CASE WHEN j >= s.capacity THEN 'waiting' WHEN j % 3 = 0 THEN 'accepted' ELSE 'pending' END
            FROM mission_slots s, generate_series(0, 6) j
            WHERE s.mission_id = ANY(CAST(:m AS bigint[])) AND j < s.id % 8
        """), {"m": missions, "first": first, "last": last})
        # a few full ones: every slot's places taken
        conn.execute(text("""
            UPDATE missions m SET status = 'full' WHERE m.id = ANY(CAST(:m AS bigint[]))
              AND NOT EXISTS (SELECT 1 FROM mission_slots s WHERE s.mission_id = m.id AND s.taken < s.capacity)
        """), {"m": missions})
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("organisations", "missions", "mission_places", "mission_slots", "mission_signups"):
            conn.execute(text(f"VACUUM (ANALYZE) {table}"))
        wrong = conn.execute(text("""
            SELECT count(*) FROM mission_slots s WHERE s.mission_id = ANY(CAST(:m AS bigint[])) AND (
                s.taken <> (SELECT count(*) FROM mission_signups u WHERE u.slot_id = s.id
                            AND u.status IN ('pending', 'accepted'))
                OR s.waiting <> (SELECT count(*) FROM mission_signups u WHERE u.slot_id = s.id
                                 AND u.status = 'waiting'))
        """), {"m": missions}).scalar()
        facts = conn.execute(text("""
            SELECT (SELECT count(*) FROM missions m JOIN organisations o ON o.id = m.organisation_id
                    WHERE o.status = 'verified' AND m.status IN ('published', 'full')) AS public,
                   (SELECT count(*) FROM missions WHERE status = 'full') AS full,
                   (SELECT count(*) FROM mission_places) AS places,
                   (SELECT count(*) FROM mission_places WHERE arrondissement_id IS NULL) AS unlocated,
                   (SELECT count(*) FROM mission_places WHERE arrondissement_id = 11) AS in_11,
                   (SELECT count(*) FROM mission_slots) AS slots,
                   (SELECT count(*) FROM mission_signups) AS signups
        """)).one()._asdict()
        busiest = conn.execute(text("""
            SELECT m.id FROM missions m JOIN organisations o ON o.id = m.organisation_id AND o.status = 'verified'
            JOIN mission_slots s ON s.mission_id = m.id WHERE m.id = ANY(CAST(:m AS bigint[]))
            GROUP BY m.id ORDER BY sum(s.taken + s.waiting) DESC, m.id LIMIT 1
        """), {"m": missions}).scalar()
    engine.dispose()
    assert wrong == 0, f"{wrong} slots' counters differ from a recount"
    assert facts["unlocated"] == 0, facts
    log(f"missions: {len(missions):,} missions loaded in {time.perf_counter() - started:.1f} s: {facts}")
    return {"loaded_missions": len(missions), "organisations": len(orgs), "counters_exact": wrong == 0,
            "load_s": round(time.perf_counter() - started, 1), **facts, "page_mission": busiest}


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)


def measure_pages(db: BenchDb, loaded: dict, requests: int, quiet_wait: float) -> dict:
    from app import create_app

    app = create_app({"DATABASE_URL": db.url, "RATELIMIT_ENABLED": False})
    client = app.test_client()
    mid = loaded["page_mission"]
    x, y = tile_of(*CENTRE, TILE_ZOOM)
    paths = {
        "near, 2 km (JSON)": f"/api/v1/missions?near={CENTRE[0]},{CENTRE[1]}&radius_m=2000",
        "arrondissement 11 (JSON)": "/api/v1/missions?arrondissement=11",
        "a mission (JSON)": f"/api/v1/missions/{mid}",
        "list page (HTML)": "/missions",
        "mission page (HTML)": f"/missions/{mid}",
        "API Engagement feed, 500": "/api/v1/missions/api-engagement?limit=500",
        "OGC items, 500": "/ogc/collections/missions/items?limit=500",
        f"tile {TILE_ZOOM}/{x}/{y}": f"/tiles/missions/{TILE_ZOOM}/{x}/{y}.mvt",
        "anchor /healthz": "/healthz",
    }
    sizes = {}
    for name, path in paths.items():  # warm-up: plans, caches, templates
        for _ in range(5):
            r = client.get(path)
            assert r.status_code == 200, (path, r.status_code, r.data[:300])
        sizes[name] = len(r.data)
    facts = {
        "near_total": client.get(paths["near, 2 km (JSON)"]).get_json()["total"],
        "arrondissement_11_total": client.get(paths["arrondissement 11 (JSON)"]).get_json()["total"],
        "feed_total": client.get(paths["API Engagement feed, 500"]).get_json()["total"],
        "ogc_matched": client.get(paths["OGC items, 500"]).get_json().get("numberMatched"),
    }
    assert facts["feed_total"] == facts["ogc_matched"] == loaded["public"], (facts, loaded["public"])
    quiet = common.wait_for_quiet(quiet_wait)
    times: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(requests):  # interleaved: the same minutes for each
        for name, path in paths.items():
            started = time.perf_counter()
            r = client.get(path)
            times[name].append((time.perf_counter() - started) * 1000)
            assert r.status_code == 200
    anchor = statistics.median(times["anchor /healthz"])
    return {"data": loaded, "requests": requests, "quiet": quiet, "paths": paths, "bytes": sizes,
            "facts": facts, "ms": {name: common.summary(t, 2) for name, t in times.items()},
            "vs_anchor": {name: common.ratio(statistics.median(t), anchor) for name, t in times.items()}}


# --------------------------------------------------------------------------- entry

def run(db: BenchDb, workers: list[int], requests: int, seed: int, quiet_wait: float) -> dict:
    signing = [measure_signups(db, schedule, w, quiet_wait) for schedule in ("one_off", "recurring")
               for w in workers]
    loaded = load_missions(db, seed)
    pages = measure_pages(db, loaded, requests, quiet_wait)
    return {"date": common.now_iso(), "machine": common.machine_facts(db), "signing": signing,
            "pages": pages, "loadavg": common.loadavg()}


def print_tables(result: dict) -> None:
    rows = []
    for s in result["signing"]:
        c = s["checks"]
        exact = c["slots_exact"] and c["status_counts_agree"] and c["emails_exact"]
        where = "1 slot" if s["slots"] == 1 else f"{s['slots']} slots"
        rows.append([f"{where}, {s['workers']} signing up", s["wall_s"], s["signups_per_s"], s["ms"]["median"],
                     s["ms"]["p95"], s["ms"]["max"],
                     f"taken {c['taken']:,}, waiting {c['waiting']:,}, {c['mission_status']}" if exact else "NO"])
        a = s["anchor"]
        rows.append([f"{where}, {s['workers']} anchor rows", a["wall_s"], a["rows_per_s"], a["ms"]["median"],
                     a["ms"]["p95"], a["ms"]["max"], "–"])
    common.print_table(
        f"missions: {SIGNERS:,} volunteers signing up (worker processes, one connection each, "
        "mission_readable + sign_up + COMMIT; anchor: the same processes writing rows of their own)",
        ["slots, workers, what", "wall s", "per s", "median ms", "p95 ms", "max ms", "checked"], rows)
    p = result["pages"]
    d = p["data"]
    common.print_table(
        f"missions: {d['public']:,} public missions ({d['places']:,} places, {d['slots']:,} slots, "
        f"{d['signups']:,} sign-ups), {p['requests']} requests each, interleaved, in process (server time)",
        ["path", "median ms", "p95 ms", "max ms", "× anchor", "bytes"],
        [[name, m["median"], m["p95"], m["max"], p["vs_anchor"][name], p["bytes"][name]]
         for name, m in p["ms"].items()])


def main(args) -> None:
    name = DEFAULT_DB if args.db == "cartagora_bench" else args.db
    db = common.prepare_database(name, fresh=not args.reuse_db)
    started = time.perf_counter()
    workers = [int(w) for w in str(args.workers).split(",")]
    result = run(db, workers=workers, requests=args.page_requests, seed=args.seed, quiet_wait=args.quiet_wait)
    print_tables(result)
    if not args.no_write:
        log(f"wrote {common.write_result('missions', result)}")
    log(f"missions: done in {time.perf_counter() - started:.0f} s")
