"""Creating reports at 5M: requests per second through gunicorn, then every roll-up recounted.

    .venv/bin/python -m bench writes [--clients 8] [--duration 20]

`gunicorn --workers 2` (as `make run`) serves the shared dataset (bench/dataset.py) with the
rate limits off (`CARTAGORA_RATELIMIT=0`, counted in memory). `--clients` threads, each
signed in as one of the dataset's residents with a bearer token the app issued, POST
`/api/v1/reports` flat out for `--duration` seconds, each on a new connection (gunicorn's sync
workers close it after the answer), each with its own `Idempotency-Key`: a point drawn near an
existing report, that report's category, a unique title.

Afterwards, every roll-up table is compared with a recount from `contributions` by its own
rebuild function, over the whole table (the touched keys included): the planner's and the
tiles' (`tile_cells`, `tile_area_counts`, `map_recent_cells`), as the importer checks them. Then the
reports written are deleted (through the same triggers: the roll-ups go back) with their
tokens, so the dataset stays reusable; `--keep-writes` keeps them.

The anchor: the same number of rows, one INSERT … SELECT of copies of the written reports
(through the same triggers), rolled back: what PostgreSQL alone needs per report.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import uuid
from pathlib import Path

from bench import common
from bench.ogc_bench import CpuMeter
from bench.server import Gunicorn

TARGET_RPS = 200.0

def recount(db: common.BenchDb) -> dict:
    """Each roll-up table's rows that differ from a recount by its family's own rebuild function
    (app.importers.rollups.differences, the check the importer's bulk path uses: every family
    the triggers maintain, planner and tiles, found in the catalog), and the seconds taken."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    from app.importers import rollups

    engine = create_engine(db.url)
    started = time.perf_counter()
    try:
        with Session(engine) as session:
            session.execute(text("SET statement_timeout = 0"))
            session.execute(text("SET work_mem = '256MB'"))
            found = rollups.differences(session)
            session.rollback()  # the shadow tables are temporary: nothing to keep
    finally:
        engine.dispose()
    seconds = round(time.perf_counter() - started, 1)
    common.log(f"writes: every roll-up recounted in {seconds} s: {found}")
    return {table: {"differing_rows": n} for table, n in found.items()}


class Writers:
    """`clients` threads POSTing reports until `until` (monotonic)."""

    def __init__(self, port: int, tokens: list[str], seeds: list[tuple[float, float, str]], tag: str) -> None:
        self.port, self.tokens, self.seeds, self.tag = port, tokens, seeds, tag
        self.latencies: list[float] = []
        self.ids: list[int] = []
        self.errors: dict[str, int] = {}
        self.lock = threading.Lock()

    def _one(self, rng: random.Random, token: str, n: int) -> None:
        lon, lat, code = rng.choice(self.seeds)
        body = {"type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(lon + rng.uniform(-3e-4, 3e-4), 6),
                                                              round(lat + rng.uniform(-2e-4, 2e-4), 6)]},
                "properties": {"title": f"Bench {self.tag} {n}", "category": code}}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        started = time.perf_counter()
        try:
            conn.request("POST", "/api/v1/reports", body=json.dumps(body),
                         headers={"Content-Type": "application/json", "Accept": "application/json",
                                  "Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())})
            response = conn.getresponse()
            raw = response.read()
            elapsed = (time.perf_counter() - started) * 1000
            with self.lock:
                if response.status == 201:
                    self.latencies.append(elapsed)
                    self.ids.append(json.loads(raw)["id"])
                else:
                    key = f"{response.status} {raw[:80]!r}"
                    self.errors[key] = self.errors.get(key, 0) + 1
        except OSError as exc:
            with self.lock:
                self.errors[type(exc).__name__] = self.errors.get(type(exc).__name__, 0) + 1
        finally:
            conn.close()

    def run(self, clients: int, duration: float) -> float:
        until = time.monotonic() + duration

        def loop(i: int) -> None:
            rng, n = random.Random(i), 0
            while time.monotonic() < until:
                self._one(rng, self.tokens[i % len(self.tokens)], i * 1_000_000 + n)
                n += 1

        threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - started


def issue_tokens(db: common.BenchDb, n: int) -> list[str]:
    """Bearer tokens for n residents of the dataset, issued by the app (deleted afterwards)."""
    from app import create_app
    from app.accounts import services as accounts
    from app.accounts.models import User
    from app.db import db as app_db

    app = create_app({"DATABASE_URL": db.url, "RATELIMIT_ENABLED": False})
    with app.app_context():
        users = app_db.session.query(User).filter(User.email.like("resident%@bench.cartagora.test")) \
            .order_by(User.id).limit(n).all()
        tokens = [accounts.issue_token(app_db.session, user, 2)[0] for user in users]
        app_db.session.commit()
    return tokens


def sql_anchor(db: common.BenchDb, ids: list[int]) -> dict:
    """The same number of reports inserted by one INSERT … SELECT of copies (through the same
    triggers), rolled back: PostgreSQL's own cost per report."""
    with db.connect() as conn:
        started = time.perf_counter()
        n = conn.execute("""
            INSERT INTO contributions (kind, category_id, status, title, geom, author_id, source, source_id)
            SELECT kind, category_id, status, title, geom, author_id, 'bench-anchor', id::text
            FROM contributions WHERE id = ANY(%s)""", (ids,)).rowcount
        elapsed = time.perf_counter() - started
        conn.rollback()
    return {"rows": n, "s": round(elapsed, 3), "rows_per_s": round(n / elapsed, 1) if elapsed else None}


def run(db: common.BenchDb, clients: int = 8, duration: float = 20.0, quiet_wait: float = 60.0,
        keep_writes: bool = False, verify: bool = True) -> dict:
    tag = uuid.uuid4().hex[:8]
    tokens = issue_tokens(db, clients)
    with db.connect() as conn:
        seeds = conn.execute("""
            SELECT ST_X(c.geom), ST_Y(c.geom), cat.code FROM contributions c TABLESAMPLE SYSTEM (0.05)
            JOIN categories cat ON cat.id = c.category_id
            WHERE c.kind = 'report' AND c.exact_geom IS NULL AND NOT cat.agent_only AND cat.disabled_at IS NULL
              -- 50 m inside the city: the ±25 m jitter never lands outside Paris (a 422)
              AND ST_Within(c.geom_l93, (SELECT ST_Buffer(ST_Transform(ST_Union(geom), 2154), -50)
                                         FROM arrondissements))
            LIMIT 2000""").fetchall()
        before = conn.execute("SELECT count(*) FROM contributions").fetchone()[0]
    log_path = Path(common.ROOT / "var" / f"bench-writes-{tag}.log")
    env = {**db.env(), "CARTAGORA_RATELIMIT": "0", "REDIS_URL": "memory://"}
    quiet = common.wait_for_quiet(quiet_wait)
    server = Gunicorn(env, log_path, workers=2)
    load_before = common.loadavg()
    writers = Writers(server.port, tokens, seeds, tag)
    try:
        Writers(server.port, tokens, seeds, tag + "w").run(2, 1.0)  # warm-up: the workers' first requests
        meter = CpuMeter(db, server, loadgen_in_process=True)
        meter.start()
        elapsed = writers.run(clients, duration)
        cpu = meter.stop(len(writers.ids) + sum(writers.errors.values()))
    finally:
        load_after = common.loadavg()
        server.stop()
    with db.connect() as conn:  # the warm-up's rows too
        written = [r[0] for r in conn.execute(
            "SELECT id FROM contributions WHERE title LIKE %s", (f"Bench {tag}%",))]
    created = len(writers.ids)
    common.log(f"writes: {created:,} reports in {elapsed:.1f} s ({created / elapsed:.0f}/s), "
               f"errors {sum(writers.errors.values())}")
    exact = recount(db) if verify else None
    anchor = sql_anchor(db, writers.ids)
    cleanup = None
    if not keep_writes:
        started = time.perf_counter()
        with db.connect() as conn:
            deleted = conn.execute("DELETE FROM contributions WHERE id = ANY(%s)", (written,)).rowcount
            conn.execute("DELETE FROM api_tokens WHERE user_id IN (SELECT id FROM users WHERE email LIKE "
                         "'resident%%@bench.cartagora.test') AND created_at > now() - interval '1 hour'")
            conn.commit()
            after = conn.execute("SELECT count(*) FROM contributions").fetchone()[0]
        cleanup = {"deleted": deleted, "s": round(time.perf_counter() - started, 1),
                   "contributions_before": before, "contributions_after": after}
    log_path.unlink(missing_ok=True)
    lat = common.summary(writers.latencies) if writers.latencies else None
    rps = round(created / elapsed, 1)
    return {
        "benchmark": "writes", "date": common.now_iso(), "machine": common.machine_facts(db),
        "protocol": f"gunicorn -w 2, {clients} client threads, {duration:.0f} s, POST /api/v1/reports "
                    "with a bearer token and an Idempotency-Key, a new connection per request",
        "contributions_before": before, "created": created, "seconds": round(elapsed, 2),
        "requests_per_s": rps, "latency_ms": lat, "errors": writers.errors,
        "target_rps": TARGET_RPS, "verdict": "ok" if rps >= TARGET_RPS and not writers.errors and (
            exact is None or all(v["differing_rows"] == 0 for v in exact.values())) else "MISS",
        "rollups_exact": exact, "sql_anchor": anchor, "cpu": cpu, "cleanup": cleanup,
        "kept_writes": keep_writes, "quiet": quiet, "loadavg_before": load_before, "loadavg_after": load_after,
    }


def table_rows(result: dict) -> list[list]:
    lat = result["latency_ms"] or {}
    exact = result["rollups_exact"]
    exact_text = "not checked" if exact is None else (
        "roll-ups exact" if all(v["differing_rows"] == 0 for v in exact.values()) else "ROLL-UPS DIFFER")
    return [[f"writes: POST /api/v1/reports, req/s; p95 = latency ms ({exact_text}; "
             f"p50 {lat.get('median', 0):.0f} ms)",
             result["requests_per_s"], lat.get("p95"), result["target_rps"],
             f"INSERT…SELECT {result['sql_anchor']['rows_per_s']:.0f}/s",
             common.ratio(result["requests_per_s"], result["sql_anchor"]["rows_per_s"]), result["verdict"]]]
