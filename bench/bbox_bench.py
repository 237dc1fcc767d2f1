"""`bbox`: GET /api/v1/reports?bbox=…&limit=500, the hottest read path, against raw SQL.

Data: the real extract plus N synthetic reports (bench/synthetic.py), 1M by default as in the
reference's `reports_1m`. Bboxes: 50 fixed cells of about 300 × 200 m, drawn (seeded) among
the cells that hold 500–1,500 reports, so every page is a full 500 features (reference §6).

Measured, all cycling over the same 50 bboxes:
* raw SQL: the app's own page query (captured from `queries.list_features`, replayed with
  psycopg, prepared) and the reference's minimal page (5 columns, FeatureCollection in SQL);
* in-process: the Flask test client, no HTTP, no gunicorn (also counts SQL round trips);
* HTTP sequential: gunicorn -w 2, one client, 300 requests;
* HTTP concurrent: 4 connections for 20 s (wrk -t2 -c4 when installed, else a Python client
  with 2 processes × 2 connections).
"""

from __future__ import annotations

import json
import math
import random
import statistics
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session

from bench import common, loadgen, synthetic
from bench.common import BenchDb, log, summary
from bench.server import Gunicorn

CELL_W_M, CELL_H_M = 300.0, 200.0
PAGE = 500
N_BBOXES = 50
MIN_IN_CELL, MAX_IN_CELL = PAGE, 3 * PAGE  # the reference's cells held 500–1,500 (mean 819)
PARIS_LAT = 48.86

REFERENCE = {
    "source": "shared/reference/postgis-performance.md §6 and §9 (1M synthetic rows, same machine type)",
    "raw_sql_ms": 3.0,  # FeatureCollection built in SQL incl. numberMatched: 3.03 ms; page only 2.79
    "pygeoapi": {"seq_median_ms": 33.4, "seq_p95_ms": 74.6, "seq_max_ms": 156, "rps": 53.7,
                 "p50_ms": 67, "p90_ms": 111, "p99_ms": 154},
    "minimal_flask_sql": {"seq_median_ms": 4.23, "seq_p95_ms": 6.1, "seq_max_ms": 7.7, "rps": 555,
                          "p50_ms": 6.9, "p90_ms": 8.4, "p99_ms": 10.7},
    "target_rps": 500,
}

# Zoomed-out pages: the reference's dense street viewport (1.5 x 1 km around 2.342 E 48.876 N)
# and the whole city. Not part of the 50-cell protocol; they show how the page query behaves
# once the app's prepared statement runs on a generic plan (see `zoomed_out`).
ZOOMED_OUT = {
    "viewport 1.5 × 1 km": (2.3318, 48.8715, 2.3522, 48.8805),
    "whole Paris": (2.25, 48.815, 2.42, 48.905),
}

MINIMAL_SQL = """
SELECT '{"type":"FeatureCollection","features":[' || coalesce(string_agg(ST_AsGeoJSON(t.*, 'geom', 6), ','), '')
       || ']}'
FROM (SELECT id, category_id, status, created_at, geom FROM contributions
      WHERE geom && ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326)
      ORDER BY id LIMIT 500) t
"""


# --------------------------------------------------------------------------- data


def _counts(db: BenchDb) -> tuple[int, int]:
    with db.connect() as conn:
        return conn.execute(
            "SELECT count(*) FILTER (WHERE source_id NOT LIKE %(p)s), count(*) FILTER (WHERE source_id LIKE %(p)s)"
            " FROM contributions WHERE kind = 'report'",
            {"p": synthetic.PREFIX + "%"},
        ).fetchone()


def ensure_data(db: BenchDb, rows: int, seed: int) -> dict:
    """The extract (through the importer) plus `rows` synthetic reports, loaded once."""
    from app.areas.services import reset_category_index
    from app.importers import dansmarue

    real, synth = _counts(db)
    info: dict = {}
    if not real:
        log("bbox: importing the real extract")
        reset_category_index()
        engine = create_engine(db.url, connect_args={"options": "-c timezone=UTC"})
        with Session(engine) as session, open(common.EXTRACT, encoding="utf-8-sig", newline="") as f:
            dansmarue.run(session, f)
            session.commit()
        engine.dispose()
    if synth != rows:
        if synth:
            with db.connect() as conn:
                conn.execute("DELETE FROM contributions WHERE source_id LIKE %s", (synthetic.PREFIX + "%",))
                conn.commit()
        if rows:
            log(f"bbox: generating and loading {rows:,} synthetic reports")
            info["synthetic_load"] = synthetic.load(db.url, rows, seed)
            log(f"bbox: synthetic load {info['synthetic_load']}")
        with db.connect() as conn:
            common.settle(conn)
    real, synth = _counts(db)
    with db.connect() as conn:
        size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('contributions'))").fetchone()[0]
    info.update({"real_reports": real, "synthetic_reports": synth, "total_reports": real + synth,
                 "contributions_total_size": size})
    return info


def choose_bboxes(db: BenchDb, seed: int) -> tuple[list[tuple[float, float, float, float]], list[int]]:
    """50 cells of 300 × 200 m holding 500–1,500 reports each (fewer if the data is thin)."""
    dx = round(CELL_W_M / (111_320 * math.cos(math.radians(PARIS_LAT))), 6)
    dy = round(CELL_H_M / 111_132, 6)
    with db.connect() as conn:
        cells = conn.execute(
            """SELECT floor(ST_X(geom) / %(dx)s)::int AS gx, floor(ST_Y(geom) / %(dy)s)::int AS gy, count(*)
               FROM contributions WHERE kind = 'report' GROUP BY 1, 2 ORDER BY 1, 2""",
            {"dx": dx, "dy": dy},
        ).fetchall()
        good = [c for c in cells if MIN_IN_CELL <= c[2] <= MAX_IN_CELL]
        if len(good) >= N_BBOXES:
            chosen = random.Random(seed).sample(good, N_BBOXES)
        else:
            log(f"bbox: only {len(good)} cells hold {MIN_IN_CELL}–{MAX_IN_CELL} reports; taking the densest")
            chosen = sorted(cells, key=lambda c: -c[2])[:N_BBOXES]
        bboxes = [(round(gx * dx, 6), round(gy * dy, 6), round((gx + 1) * dx, 6), round((gy + 1) * dy, 6))
                  for gx, gy, _ in sorted(chosen)]
        # what the app's filter really matches for each rounded bbox
        matched = [
            conn.execute(
                """SELECT count(*) FROM contributions c WHERE c.kind = 'report' AND NOT c.hidden
                   AND c.withdrawn_at IS NULL AND ST_Intersects(c.geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326))""",
                b,
            ).fetchone()[0]
            for b in bboxes
        ]
    return bboxes, matched


def path_for(bbox) -> str:
    return f"/api/v1/reports?bbox={','.join(f'{v:.6f}' for v in bbox)}&limit={PAGE}"


# --------------------------------------------------------------------------- the contenders


def capture_app_query(db: BenchDb, bbox) -> tuple[str, dict]:
    """The exact statement and parameters the app sends for a bbox page, as psycopg gets them."""
    from app.contributions.queries import ListFilters, list_features
    from app.db import _psycopg_sql
    from app.db import db as app_db

    engine = create_engine(db.url, connect_args={"options": "-c timezone=UTC"})
    seen: list[tuple[str, dict]] = []
    # the page's statement goes through Database.rows_as_bytes: record it instead of running it
    app_db.rows_as_bytes = lambda statement, params: seen.append(
        (_psycopg_sql(statement, engine.dialect), dict(params))) or []
    try:
        list_features(ListFilters(kind="report", bbox=bbox, limit=PAGE), "fr")
    finally:
        del app_db.rows_as_bytes
    engine.dispose()
    statement, params = next((s, p) for s, p in seen if "contributions" in s)
    if not {"w", "s", "e", "n"} <= params.keys():
        raise RuntimeError(f"bench: the list query's bbox parameters changed: {sorted(params)}")
    return statement, params


class RawSql:
    """One statement on one psycopg connection, prepared, autocommit: client wall time
    (execute + fetch of the whole result), like the reference's raw anchors."""

    def __init__(self, db: BenchDb, statement: str, params_for) -> None:
        self.conn = db.connect(autocommit=True)
        self.cur = self.conn.cursor()
        self.statement, self.params_for = statement, params_for
        self.result_chars = 0

    def __call__(self, i: int) -> float:
        started = time.perf_counter()
        self.cur.execute(self.statement, self.params_for(i), prepare=True)
        rows = self.cur.fetchall()
        elapsed = (time.perf_counter() - started) * 1000
        self.result_chars = sum(len(str(v)) for v in rows[0] if v is not None)
        return elapsed

    def explain(self, i: int) -> list[str]:
        with psycopg.ClientCursor(self.conn) as cur:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + self.statement, self.params_for(i))
            return [r[0] for r in cur.fetchall()]

    def close(self) -> None:
        self.conn.close()


class InProcess:
    """The app through Flask's test client: no HTTP, no gunicorn. Counts SQL per request."""

    def __init__(self, db: BenchDb, paths: list[str]) -> None:
        from app import create_app
        from app.db import db as app_db

        self.paths = paths
        self.app = create_app({"DATABASE_URL": db.url})
        self.client = self.app.test_client()
        self.engine = app_db.engine
        self.counts = {"pings": 0, "statements": 0, "commits": 0, "rollbacks": 0}
        ping = self.engine.dialect.do_ping

        def counted_ping(dbapi_connection):
            self.counts["pings"] += 1
            return ping(dbapi_connection)

        self.engine.dialect.do_ping = counted_ping
        for name, key in (("before_cursor_execute", "statements"), ("commit", "commits"),
                          ("rollback", "rollbacks")):
            event.listen(self.engine, name, lambda *a, key=key: self.counts.__setitem__(key, self.counts[key] + 1))

    def __call__(self, i: int) -> float:
        started = time.perf_counter()
        response = self.client.get(self.paths[i % len(self.paths)])
        response.get_data()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"bench: in-process request failed: {response.get_data(as_text=True)[:500]}")
        return elapsed

    def reset_counts(self) -> None:
        self.counts.update(dict.fromkeys(self.counts, 0))

    def wire(self, n: int = 20) -> dict:
        """libpq protocol trace of n warm requests: round trips (simple Query, or an
        extended-protocol Sync) per request, by kind. Run after the timings: tracing is slow."""
        self.engine.dispose()
        connections = []

        def on_connect(dbapi_connection, record):
            connections.append(dbapi_connection)

        event.listen(self.engine, "connect", on_connect)
        with tempfile.TemporaryDirectory() as tmp:
            trace_path = Path(tmp) / "trace.txt"
            with open(trace_path, "w") as trace:
                for i in range(2 * n):
                    if i == n:  # connections open and statements prepared: trace from here
                        for conn in connections:
                            conn.pgconn.trace(trace.fileno())
                            conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
                    self.client.get(self.paths[i % len(self.paths)]).get_data()
                for conn in connections:
                    conn.pgconn.untrace()
            lines = trace_path.read_text().splitlines()
        event.remove(self.engine, "connect", on_connect)
        kinds: dict[str, int] = {}
        for line in lines:
            parts = line.split("\t")
            if len(parts) < 3 or parts[0] != "F":
                continue
            if parts[2] == "Query":
                text_ = parts[3].strip().strip('"') if len(parts) > 3 else ""
                kind = {";": "pre-ping (;)"}.get(text_, (text_.split() or ["?"])[0])
                kinds[kind] = kinds.get(kind, 0) + 1
            elif parts[2] == "Sync":
                kinds["extended query (Bind/Execute)"] = kinds.get("extended query (Bind/Execute)", 0) + 1
        return {"round_trips_per_request": round(sum(kinds.values()) / n, 2),
                "by_kind_per_request": {k: round(v / n, 2) for k, v in sorted(kinds.items())}}

    def close(self) -> None:
        self.engine.dispose()


class Http:
    """One HTTP client to the gunicorn server (kept alive when the server allows it)."""

    def __init__(self, port: int, paths: list[str]) -> None:
        self.client = loadgen.HttpClient("127.0.0.1", port)
        self.paths = paths
        self.sizes: list[int] = []
        self.non_200 = 0

    def __call__(self, i: int) -> float:
        started = time.perf_counter()
        status, body = self.client.get(self.paths[i % len(self.paths)])
        elapsed = (time.perf_counter() - started) * 1000
        self.sizes.append(len(body))
        self.non_200 += status != 200
        return elapsed

    def close(self) -> None:
        self.client.close()


# --------------------------------------------------------------------------- gunicorn


def gunicorn(db: BenchDb, app: str = "app:create_app()", **env: str) -> Gunicorn:
    """`gunicorn -w 2 <app>` on a free port, against the bench database."""
    log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)
    log.close()
    return Gunicorn({**db.env(), **env}, Path(log.name), app=app)


def stop(running: Gunicorn) -> None:
    """Stop it; its log is kept only if it did not stop cleanly."""
    running.stop()
    if running.stopped_cleanly:
        running.log_path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- the benchmark


def zoomed_out(db: BenchDb, app: InProcess, statement: str, base_params: dict, runs: int = 3) -> dict:
    """Larger bboxes through the warm in-process app (its pooled connection has run the page
    query hundreds of times: psycopg prepared it, PostgreSQL may have moved to a generic plan)
    against the same SQL planned for each call (not prepared, so always a custom plan)."""
    out = {}
    with db.connect(autocommit=True) as conn:
        for name, bbox in ZOOMED_OUT.items():
            params = {**base_params, **dict(zip("wsen", bbox, strict=True))}
            matched = conn.execute("SELECT count(*) FROM contributions WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)",
                                   bbox).fetchone()[0]
            custom = []
            for _ in range(runs + 1):
                started = time.perf_counter()
                conn.execute(statement, params, prepare=False).fetchall()
                custom.append((time.perf_counter() - started) * 1000)
            app.paths = [path_for(bbox)]
            in_app = [app(0) for _ in range(runs)]
            out[name] = {"bbox": bbox, "matched": matched,
                         "app_in_process_ms": summary(in_app)["median"],
                         "raw_custom_plan_ms": summary(custom[1:])["median"]}
    return out


def _page_bytes(port: int, path: str) -> int:
    status, body = loadgen.HttpClient("127.0.0.1", port, timeout=10).get(path)
    return len(body) if status == 200 else 0


def _page_sizes(port: int, paths: list[str]) -> list[int]:
    client = loadgen.HttpClient("127.0.0.1", port)
    returned = []
    for p in paths:
        status, body = client.get(p)
        if status != 200:
            raise SystemExit(f"bench: {p} answered {status}: {body[:300]!r}")
        returned.append(json.loads(body)["numberReturned"])
    client.close()
    return returned


def run(db: BenchDb, rows: int = 1_000_000, seed: int = 42, requests: int = 300, duration: float = 20.0,
        connections: int = 4, tool: str = "auto", quiet_wait: float = 60.0, load_runs: int = 3) -> dict:
    load_before = common.loadavg()
    data = ensure_data(db, rows, seed)
    bboxes, matched = choose_bboxes(db, seed)
    paths = [path_for(b) for b in bboxes]
    log(f"bbox: {len(bboxes)} bboxes, {min(matched)}–{max(matched)} reports each (mean {sum(matched) / len(matched):.0f})")
    statement, base_params = capture_app_query(db, bboxes[0])

    def app_params(i: int) -> dict:
        return {**base_params, **dict(zip("wsen", bboxes[i % len(bboxes)], strict=True))}

    def minimal_params(i: int) -> dict:
        return dict(zip("wsen", bboxes[i % len(bboxes)], strict=True))

    server = gunicorn(db)
    contenders: dict = {}
    try:
        returned = _page_sizes(server.port, paths)
        contenders = {
            "raw_app_query": RawSql(db, statement, app_params),
            "raw_minimal_page": RawSql(db, MINIMAL_SQL, minimal_params),
            "in_process": InProcess(db, paths),
            "http_sequential": Http(server.port, paths),
        }
        # Warm-up: two passes each (psycopg prepares a statement on its 5th execution; both
        # gunicorn workers get requests). Then interleaved rounds of one pass over the 50
        # bboxes each, so that background load from other work hits all contenders alike.
        for contender in contenders.values():
            for i in range(2 * len(paths)):
                contender(i)
        contenders["in_process"].reset_counts()
        quiet_sequential = common.wait_for_quiet(quiet_wait)
        log(f"bbox: sequential, {requests} requests each, interleaved by rounds of {len(paths)}")
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for r in range(math.ceil(requests / len(paths))):
            for name, contender in contenders.items():
                for j in range(len(paths)):
                    if len(times[name]) < requests:
                        times[name].append(contender(r * len(paths) + j))
        in_process_counts = {k: round(v / requests, 2) for k, v in contenders["in_process"].counts.items()}
        log("bbox: zoomed-out pages")
        zoomed = zoomed_out(db, contenders["in_process"], statement, base_params)
        contenders["in_process"].paths = paths
        wire = contenders["in_process"].wire()
        plan = contenders["raw_app_query"].explain(0)
        http = contenders["http_sequential"]
        for contender in contenders.values():
            contender.close()
        log("bbox: sequential medians (ms) " + ", ".join(
            f"{name} {summary(t)['median']}" for name, t in times.items()))

        use_wrk = tool == "wrk" or (tool == "auto" and loadgen.wrk_available())
        generate = loadgen.wrk_load if use_wrk else loadgen.python_load
        quiet_load = common.wait_for_quiet(quiet_wait)
        # The machine's speed drifts by up to ~30% within an hour (other tenants): the app, the
        # reference's minimal app and the minimal app serving our stored Features take turns
        # (app, minimal, same bytes, then the other way round), each reports its median run,
        # and each round's app ÷ minimal, measured a minute apart, gives the paired ratios.
        minimal = gunicorn(db, app="bench.minimal_app:app")
        same_bytes = gunicorn(db, app="bench.minimal_app:app", MINIMAL_PAGE="stored")
        try:
            runs: dict[str, list] = {"ours": [], "minimal": [], "same": []}
            ports = {"ours": server.port, "minimal": minimal.port, "same": same_bytes.port}
            for k in range(load_runs):
                order = ("ours", "minimal", "same") if k % 2 == 0 else ("same", "minimal", "ours")
                log(f"bbox: {'wrk' if use_wrk else 'python'} load {k + 1}/{load_runs}, {connections} "
                    f"connections, {duration:g} s: {', '.join(order)}")
                for name in order:
                    runs[name].append(generate("127.0.0.1", ports[name], paths, connections, duration))
            ours_runs, minimal_runs, same_runs = runs["ours"], runs["minimal"], runs["same"]
            minimal_bytes = _page_bytes(minimal.port, paths[0])
            same_bytes_size = _page_bytes(same_bytes.port, paths[0])
        finally:
            stop(minimal)
            stop(same_bytes)
        load = sorted(ours_runs, key=lambda run: run.rps)[len(ours_runs) // 2]
        minimal_rps = sorted(run.rps for run in minimal_runs)[len(minimal_runs) // 2]
        same_rps = sorted(run.rps for run in same_runs)[len(same_runs) // 2]
        paired = [round(o.rps / m.rps, 3) for o, m in zip(ours_runs, minimal_runs, strict=True)]
    finally:
        for contender in contenders.values():
            try:
                contender.close()
            except Exception:  # already closed
                pass
        stop(server)

    if load.latencies_ms:
        lat = summary(load.latencies_ms)
        percentiles = {"p50": lat["median"], "p90": lat["p90"], "p99": lat["p99"], "max": lat["max"]}
    else:
        percentiles = load.percentiles_ms
    seq = {name: summary(t) for name, t in times.items()}
    app_ms, raw_ms = seq["http_sequential"]["median"], seq["raw_app_query"]["median"]
    rps = round(load.rps, 1)
    return {
        "benchmark": "bbox",
        "date": common.now_iso(),
        "machine": common.machine_facts(db),
        "loadavg_before": load_before,
        "quiet_before_sequential": quiet_sequential,
        "quiet_before_load": quiet_load,
        "loadavg_after": common.loadavg(),
        "data": data,
        "bboxes": {
            "count": len(bboxes),
            "cell_m": [CELL_W_M, CELL_H_M],
            "matched_min": min(matched), "matched_max": max(matched),
            "matched_mean": round(sum(matched) / len(matched)),
            "full_pages": sum(r == PAGE for r in returned),
            "values": bboxes,
        },
        "request": f"GET {paths[0]}",
        "server": " ".join(server.cmd[1:]),
        "response_bytes_median": sorted(http.sizes)[len(http.sizes) // 2],
        "sequential_ms": seq,
        "sequential_note": (
            f"{requests} requests per contender over the 50 bboxes, interleaved in rounds of 50; "
            "raw_* = psycopg, prepared, autocommit, execute + fetch; in_process = Flask test client; "
            "http_sequential = one client against gunicorn"),
        "http_sequential_non_200": http.non_200,
        "http_sequential_connections_opened": http.client.connects,
        "result_chars": {"raw_app_query": contenders["raw_app_query"].result_chars,
                         "raw_minimal_page": contenders["raw_minimal_page"].result_chars},
        "app_query_plan": plan,
        "app_sql_per_request": {"sqlalchemy_events": in_process_counts, "libpq_trace": wire},
        "zoomed_out": zoomed,
        "load": {
            "tool": load.tool,
            "command": load.command,
            "connections": load.connections,
            "duration_s": round(load.duration_s, 2),
            "requests": load.requests,
            "rps": rps,
            "latency_ms": percentiles,
            "errors": load.errors,
            "non_200": load.non_200,
            "connections_opened": load.connections_opened,
            "runs_rps": [round(run.rps, 1) for run in ours_runs],
            "minimal_app": {
                "app": "bench/minimal_app.py (the reference's minimal Flask + psycopg_pool, FC built in SQL)",
                "runs_rps": [round(run.rps, 1) for run in minimal_runs],
                "rps_median": round(minimal_rps, 1),
                "response_bytes": minimal_bytes,
            },
            "minimal_app_same_bytes": {
                "app": "bench/minimal_app.py with MINIMAL_PAGE=stored (our stored Features, "
                       "concatenated in SQL)",
                "runs_rps": [round(run.rps, 1) for run in same_runs],
                "rps_median": round(same_rps, 1),
                "response_bytes": same_bytes_size,
            },
        },
        "reference": REFERENCE,
        "ratios": {
            "app_ms_over_raw_ms": common.ratio(app_ms, raw_ms),
            "app_ms_over_reference_raw_3ms": common.ratio(app_ms, REFERENCE["raw_sql_ms"]),
            "in_process_ms_over_raw_ms": common.ratio(seq["in_process"]["median"], raw_ms),
            "raw_app_query_over_raw_minimal": common.ratio(raw_ms, seq["raw_minimal_page"]["median"]),
            "rps_over_target": common.ratio(rps, REFERENCE["target_rps"]),
            "rps_over_minimal_flask": common.ratio(rps, REFERENCE["minimal_flask_sql"]["rps"]),
            "rps_over_minimal_app_here": common.ratio(rps, minimal_rps),
            "rps_over_minimal_app_paired": {"per_round": paired,
                                            "median": round(statistics.median(paired), 3)},
            "rps_over_minimal_same_bytes": common.ratio(rps, same_rps),
            "rps_over_pygeoapi": common.ratio(rps, REFERENCE["pygeoapi"]["rps"]),
        },
    }


def print_tables(result: dict) -> None:
    ref, seq, load, r = result["reference"], result["sequential_ms"], result["load"], result["ratios"]
    py, mini = ref["pygeoapi"], ref["minimal_flask_sql"]
    http, lat, bb = seq["http_sequential"], load["latency_ms"], result["bboxes"]
    quiet = result["quiet_before_sequential"]
    common.print_table(
        f"bbox — GET /api/v1/reports?bbox=…&limit=500 on {result['data']['total_reports']:,} reports, "
        f"{bb['full_pages']}/{bb['count']} full pages ({bb['matched_min']}–{bb['matched_max']} matches); "
        f"CPU busy before: {quiet['cpu_busy_share']:.0%}, load {quiet['loadavg'][0]}",
        ["measure", "ours", "pygeoapi", "minimal Flask+SQL", "target", "ours / minimal"],
        [
            ["raw SQL, app's page query, median ms", seq["raw_app_query"]["median"], None, None, None, None],
            ["raw SQL, minimal page, median ms", seq["raw_minimal_page"]["median"], None, ref["raw_sql_ms"],
             None, common.ratio(seq["raw_minimal_page"]["median"], ref["raw_sql_ms"])],
            ["in-process Flask, median ms", seq["in_process"]["median"], None, None, None, None],
            ["sequential HTTP, median ms", http["median"], py["seq_median_ms"], mini["seq_median_ms"], None,
             common.ratio(http["median"], mini["seq_median_ms"])],
            ["sequential HTTP, p95 ms", http["p95"], py["seq_p95_ms"], mini["seq_p95_ms"], None,
             common.ratio(http["p95"], mini["seq_p95_ms"])],
            ["sequential HTTP, max ms", http["max"], py["seq_max_ms"], mini["seq_max_ms"], None,
             common.ratio(http["max"], mini["seq_max_ms"])],
            [f"{load['tool']} c={load['connections']} {load['duration_s']:g}s, req/s", load["rps"], py["rps"],
             mini["rps"], f"≥ {ref['target_rps']}", r["rps_over_minimal_flask"]],
            ["  runs (median above)", " / ".join(f"{v:.0f}" for v in load["runs_rps"]), None, None, None, None],
            ["  minimal app rebuilt here, req/s", None, None, load["minimal_app"]["rps_median"], None,
             r["rps_over_minimal_app_here"]],
            ["  its runs", None, None, " / ".join(f"{v:.0f}" for v in load["minimal_app"]["runs_rps"]), None, None],
            ["  minimal app, our stored Features, req/s", None, None,
             load["minimal_app_same_bytes"]["rps_median"], None, r["rps_over_minimal_same_bytes"]],
            ["  its runs", None, None,
             " / ".join(f"{v:.0f}" for v in load["minimal_app_same_bytes"]["runs_rps"]), None, None],
            ["  p50 ms", lat.get("p50"), py["p50_ms"], mini["p50_ms"], None, common.ratio(lat.get("p50"), mini["p50_ms"])],
            ["  p90 ms", lat.get("p90"), py["p90_ms"], mini["p90_ms"], None, common.ratio(lat.get("p90"), mini["p90_ms"])],
            ["  p99 ms", lat.get("p99"), py["p99_ms"], mini["p99_ms"], None, common.ratio(lat.get("p99"), mini["p99_ms"])],
        ],
    )
    wire = result["app_sql_per_request"]["libpq_trace"]
    common.print_table(
        "bbox — ratios and facts",
        ["ratio", "value"],
        [
            ["app HTTP median / raw SQL of the same query", r["app_ms_over_raw_ms"]],
            ["app HTTP median / reference raw 3.0 ms", r["app_ms_over_reference_raw_3ms"]],
            ["in-process Flask / raw SQL of the same query", r["in_process_ms_over_raw_ms"]],
            ["app's page query / minimal page (both raw SQL)", r["raw_app_query_over_raw_minimal"]],
            ["req/s / target 500", r["rps_over_target"]],
            ["req/s / the minimal app's, same machine and minutes", r["rps_over_minimal_app_here"]],
            ["the same, paired by round (median; each round's ratios)",
             f"{r['rps_over_minimal_app_paired']['median']} "
             f"({' / '.join(str(x) for x in r['rps_over_minimal_app_paired']['per_round'])})"],
            ["req/s / the minimal app serving the same bytes", r["rps_over_minimal_same_bytes"]],
            ["req/s / pygeoapi 53.7", r["rps_over_pygeoapi"]],
            ["SQL round trips per request", " + ".join(
                f"{v:g} {k}" for k, v in wire["by_kind_per_request"].items())],
            ["response size, bytes (median)", result["response_bytes_median"]],
        ],
    )
    common.print_table(
        "bbox — zoomed-out pages (not in the targets): warm app vs the same SQL planned per call",
        ["bbox", "matches", "app in-process ms", "raw SQL custom plan ms", "ratio"],
        [[name, z["matched"], z["app_in_process_ms"], z["raw_custom_plan_ms"],
          common.ratio(z["app_in_process_ms"], z["raw_custom_plan_ms"])]
         for name, z in result["zoomed_out"].items()],
    )
