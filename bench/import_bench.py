"""`import`: the DansMaRue extract through the real importer, against a raw COPY anchor.

* end to end: `app.importers.dansmarue.run` + commit into an empty contributions table,
  `runs` times (TRUNCATE … RESTART IDENTITY CASCADE in between); rows/s = rows read / time.
* re-import of the same file into the loaded table: must import 0 rows.
* `flask import dansmarue FILE` in a subprocess, 3 runs: the time the command reports and
  the wall time a user sees (interpreter and app start included).
* breakdown: csv.DictReader alone (floor of any CSV parse in Python), then the importer's
  phases — parse + validate + COPY to staging, then each SQL statement of the set-based load
  (timed by SQLAlchemy cursor events), then COMMIT. The INSERT maintains the live table's
  indexes and checks its foreign keys row by row: the importer no longer drops and rebuilds
  them, which locked readers out (3.6 → 4.3 s for the extract, 2026-11-25).
* anchor: COPY of the same points into a bare table (reference §3: 371k rows/s per 1M).
"""

from __future__ import annotations

import csv
import json
import re
import statistics
import subprocess
import time
from collections import defaultdict
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.orm import Session

from app.areas.services import reset_category_index
from app.importers import dansmarue
from bench import common
from bench.common import BenchDb, log

TARGET_ROWS_S = 50_000  # the target, end to end
REFERENCE_COPY_ROWS_S = 371_000  # postgis-performance.md §3, COPY 1M rows, no index


def _statement_kind(statement: str) -> str:
    words = statement.split()
    head = " ".join(words[:3]).upper()
    if head.startswith("INSERT INTO CONTRIBUTIONS"):
        return "insert_contributions"
    if head.startswith("ANALYZE"):
        return "analyze"
    if "import_staging" in statement and "JOIN contributions" in statement:
        return "duplicate_checks"
    return "other_sql"


class Importer:
    """Times `dansmarue.run` in-process, phase by phase."""

    def __init__(self, db: BenchDb) -> None:
        self.engine = create_engine(db.url, connect_args={"options": "-c timezone=UTC"})
        self.sql_times: dict[str, float] = defaultdict(float)
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        with self.engine.connect():  # open the pooled connection outside the timings
            pass

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        self.sql_times[_statement_kind(statement)] += time.perf_counter() - conn.info.pop("bench_started")

    def run(self, path) -> dict:
        self.sql_times.clear()
        marks: dict[str, float] = {}
        original = dansmarue._load

        def timed_load(session, staged, summary):
            marks["staged"] = time.perf_counter()
            self.sql_times.clear()  # statements before this point are in parse_validate_stage
            return original(session, staged, summary)

        dansmarue._load = timed_load
        try:
            started = time.perf_counter()
            with Session(self.engine) as session, open(path, encoding="utf-8-sig", newline="") as f:
                summary = dansmarue.run(session, f)
                loaded = time.perf_counter()
                session.commit()
            finished = time.perf_counter()
        finally:
            dansmarue._load = original
        total = finished - started
        return {
            "read": summary.read,
            "imported": summary.imported,
            "duplicates": summary.duplicates,
            "rejected": len(summary.rejected),
            "rejected_by_reason": dict(summary.rejected_by_reason),
            "total_s": round(total, 4),
            "rows_per_s": round(summary.read / total),
            "phases_s": {
                "parse_validate_stage": round(marks["staged"] - started, 4),
                **{k: round(v, 4) for k, v in sorted(self.sql_times.items())},
                "load_python": round(loaded - marks["staged"] - sum(self.sql_times.values()), 4),
                "commit": round(finished - loaded, 4),
            },
        }

    def dispose(self) -> None:
        self.engine.dispose()


def explain_insert(db: BenchDb, path) -> dict:
    """One more import into an empty table with its `INSERT INTO contributions` run under
    EXPLAIN ANALYZE, then rolled back: the time of each trigger (foreign keys, row and
    statement triggers) and of the plan nodes. Instrumented, so times are inflated; use the
    shares, not the absolute values."""
    engine = create_engine(db.url, connect_args={"options": "-c timezone=UTC"})
    lines: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO CONTRIBUTIONS"):
            return "EXPLAIN (ANALYZE, COSTS OFF) " + statement, parameters
        return statement, parameters

    def after(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("EXPLAIN"):
            lines.extend(r[0] for r in cursor.fetchall())

    event.listen(engine, "before_cursor_execute", before, retval=True)
    event.listen(engine, "after_cursor_execute", after)
    with Session(engine) as session, open(path, encoding="utf-8-sig", newline="") as f:
        session.execute(text("TRUNCATE contributions RESTART IDENTITY CASCADE"))
        dansmarue.run(session, f)
        session.rollback()
    engine.dispose()
    triggers = {m.group(1): float(m.group(2)) for m in
                (re.match(r"Trigger (?:for constraint )?(\S+): time=([\d.]+)", line) for line in lines) if m}
    execution = next((float(x) for x in re.findall(r"Execution Time: ([\d.]+) ms", "\n".join(lines))), None)
    top = re.match(r".*actual time=[\d.]+\.\.([\d.]+)", lines[0]) if lines else None
    return {
        "execution_ms": execution,
        "insert_node_ms": float(top.group(1)) if top else None,  # rows built and inserted, before AFTER triggers
        "triggers_ms": dict(sorted(triggers.items(), key=lambda kv: -kv[1])),
        "plan": [line for line in lines if not line.startswith("Trigger")],
    }


def csv_floor(path) -> float:
    """Seconds to iterate csv.DictReader over the file, doing nothing with the rows."""
    started = time.perf_counter()
    with open(path, encoding="utf-8-sig", newline="") as f:
        for _ in csv.DictReader(f):
            pass
    return time.perf_counter() - started


def copy_anchor(db: BenchDb, path, runs: int) -> dict:
    """COPY the extract's points into a bare table, as the reference's loading anchor did
    (text COPY via write_row, geometry as EWKT, no secondary index; tuples built beforehand)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = [
            (r["type"], "new", r["datedecl"], f"SRID=4326;POINT({r['lon']} {r['lat']})")
            for r in csv.DictReader(f)
            if r["lon"] and r["lat"]
        ]
    times = []
    with db.connect() as conn:
        conn.execute("""
            DROP TABLE IF EXISTS bench_copy_anchor;
            CREATE TABLE bench_copy_anchor (id bigserial PRIMARY KEY, category text, status text,
                created_at timestamptz, geom geometry(Point, 4326))
        """)
        conn.commit()
        for _ in range(runs + 1):  # the first run warms up and is dropped
            conn.execute("TRUNCATE bench_copy_anchor RESTART IDENTITY")
            conn.commit()
            started = time.perf_counter()
            with conn.cursor() as cur, cur.copy(
                "COPY bench_copy_anchor (category, status, created_at, geom) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
            conn.commit()
            times.append(time.perf_counter() - started)
        conn.execute("DROP TABLE bench_copy_anchor")
        conn.commit()
    times = times[1:]
    return {
        "rows": len(rows),
        "median_s": round(statistics.median(times), 4),
        "min_s": round(min(times), 4),
        "max_s": round(max(times), 4),
        "rows_per_s": round(len(rows) / statistics.median(times)),
        "runs": runs,
    }


def cli_import(db: BenchDb, path, runs: int) -> dict:
    """`flask import dansmarue FILE` into the empty table, `runs` times, timed from outside
    (interpreter and app start included) and as the command reports it (import + commit)."""
    walls, reported = [], []
    for _ in range(runs):
        with db.connect() as conn:
            common.truncate_contributions(conn)
        started = time.perf_counter()
        done = subprocess.run(
            [str(common.VENV_BIN / "flask"), "--app", "app:create_app", "import", "dansmarue", str(path)],
            cwd=common.ROOT, env=db.env(), capture_output=True, text=True,
        )
        walls.append(time.perf_counter() - started)
        if done.returncode:
            raise SystemExit(f"bench: flask import dansmarue failed:\n{done.stdout}{done.stderr}")
        match = re.search(r"time: ([\d.]+) s", done.stdout)
        if match:
            reported.append(float(match.group(1)))
    imported = re.search(r"imported:\s+(\d+)", done.stdout)
    return {
        "command": f"flask import dansmarue {path.name}",
        "runs": runs,
        "imported": int(imported.group(1)) if imported else None,
        "wall_median_s": round(statistics.median(walls), 3),
        "wall_min_s": round(min(walls), 3),
        "wall_max_s": round(max(walls), 3),
        "reported_median_s": round(statistics.median(reported), 3) if reported else None,
    }


PHASE_ORDER = ["parse_validate_stage", "duplicate_checks", "insert_contributions", "analyze", "other_sql",
               "load_python", "commit"]


def _median_phases(runs: list[dict]) -> dict:
    found = {k for r in runs for k in r["phases_s"]}
    keys = [k for k in PHASE_ORDER if k in found] + sorted(found - set(PHASE_ORDER))
    return {k: round(statistics.median(r["phases_s"].get(k, 0.0) for r in runs), 4) for k in keys}


def run(db: BenchDb, runs: int = 5, reimports: int = 3, quiet_wait: float = 60.0) -> dict:
    path = common.EXTRACT
    if not path.exists():
        raise SystemExit(f"bench: {path} not found")
    load_before = common.loadavg()
    reset_category_index()
    importer = Importer(db)

    with db.connect() as conn:
        common.truncate_contributions(conn)
    log("import: warm-up run (not counted)")
    importer.run(path)
    quiet = common.wait_for_quiet(quiet_wait)
    imports = []
    for i in range(runs):
        with db.connect() as conn:
            common.truncate_contributions(conn)
        result = importer.run(path)
        imports.append(result)
        log(f"import {i + 1}/{runs}: {result['imported']} rows in {result['total_s']:.2f} s "
            f"({result['rows_per_s']:,} rows/s)")
    reruns = []
    for i in range(reimports):
        result = importer.run(path)
        reruns.append(result)
        log(f"re-import {i + 1}/{reimports}: {result['imported']} new rows in {result['total_s']:.2f} s")
    importer.dispose()

    log("import: the INSERT under EXPLAIN ANALYZE (rolled back)")
    explained = explain_insert(db, path)
    log("import: flask import dansmarue (subprocess)")
    cli = cli_import(db, path, max(1, min(3, runs)))  # leaves the extract loaded for the bbox bench
    with db.connect() as conn:
        common.settle(conn)

    log("import: csv floor and raw COPY anchor")
    floor = statistics.median(csv_floor(path) for _ in range(3))
    anchor = copy_anchor(db, path, runs)

    totals = [r["total_s"] for r in imports]
    read = imports[0]["read"]
    median_rate = round(read / statistics.median(totals))
    reimport_total = statistics.median(r["total_s"] for r in reruns)
    return {
        "benchmark": "import",
        "date": common.now_iso(),
        "machine": common.machine_facts(db),
        "loadavg_before": load_before,
        "quiet_before_runs": quiet,
        "loadavg_after": common.loadavg(),
        "file": path.name,
        "rows_in_file": read,
        "import": {
            "runs": runs,
            "imported": imports[0]["imported"],
            "rejected": imports[0]["rejected"],
            "rejected_by_reason": imports[0]["rejected_by_reason"],
            "median_s": round(statistics.median(totals), 4),
            "min_s": min(totals),
            "max_s": max(totals),
            "median_rows_per_s": median_rate,
            "min_rows_per_s": round(read / max(totals)),
            "max_rows_per_s": round(read / min(totals)),
            "phases_median_s": _median_phases(imports),
            "csv_dictreader_floor_s": round(floor, 4),
            "all_runs": imports,
        },
        "reimport": {
            "runs": reimports,
            "imported": [r["imported"] for r in reruns],
            "ok": all(r["imported"] == 0 for r in reruns),
            "median_s": round(reimport_total, 4),
            "min_s": min(r["total_s"] for r in reruns),
            "max_s": max(r["total_s"] for r in reruns),
            "median_rows_per_s": round(read / reimport_total),
            "phases_median_s": _median_phases(reruns),
        },
        "insert_explain_analyze": explained,
        "cli": cli,
        "raw_copy_anchor": anchor,
        "reference": {
            "target_rows_per_s": TARGET_ROWS_S,
            "copy_rows_per_s": REFERENCE_COPY_ROWS_S,
            "source": "shared/reference/postgis-performance.md §3",
        },
        "ratios": {
            "import_vs_target": common.ratio(median_rate, TARGET_ROWS_S),
            "import_vs_our_copy": common.ratio(median_rate, anchor["rows_per_s"], 3),
            "our_copy_vs_reference_copy": common.ratio(anchor["rows_per_s"], REFERENCE_COPY_ROWS_S),
        },
    }


def print_tables(result: dict) -> None:
    imp, re_, anchor, ref = result["import"], result["reimport"], result["raw_copy_anchor"], result["reference"]
    common.print_table(
        f"import — {result['file']} ({result['rows_in_file']:,} rows), median of {imp['runs']} runs, "
        f"CPU busy before: {result['quiet_before_runs']['cpu_busy_share']:.0%}, "
        f"load {result['quiet_before_runs']['loadavg'][0]}",
        ["measure", "ours", "min–max", "reference", "ratio"],
        [
            ["import end to end, rows/s", imp["median_rows_per_s"],
             f"{imp['min_rows_per_s']:,}–{imp['max_rows_per_s']:,}", f"target {ref['target_rows_per_s']:,}",
             result["ratios"]["import_vs_target"]],
            ["import end to end, s", imp["median_s"], f"{imp['min_s']:.2f}–{imp['max_s']:.2f}", None, None],
            [f"re-import (imported {max(re_['imported'])}), rows/s", re_["median_rows_per_s"],
             f"{re_['min_s']:.2f}–{re_['max_s']:.2f} s", "must import 0", "ok" if re_["ok"] else "FAIL"],
            ["flask import dansmarue, s (as reported)", result["cli"]["reported_median_s"], None, None, None],
            ["flask import dansmarue, wall s (+ start-up)", result["cli"]["wall_median_s"],
             f"{result['cli']['wall_min_s']:.2f}–{result['cli']['wall_max_s']:.2f}", None, None],
            ["raw COPY anchor, rows/s", anchor["rows_per_s"], f"{anchor['min_s']:.3f}–{anchor['max_s']:.3f} s",
             ref["copy_rows_per_s"], result["ratios"]["our_copy_vs_reference_copy"]],
            ["import / raw COPY", result["ratios"]["import_vs_our_copy"], None, None, None],
        ],
    )
    phases = imp["phases_median_s"]
    total = imp["median_s"]
    rows = [["csv.DictReader alone (floor)", imp["csv_dictreader_floor_s"], None]]
    rows += [[name, seconds, f"{100 * seconds / total:.0f} %"] for name, seconds in phases.items() if seconds]
    rows += [["re-import: " + name, seconds, None] for name, seconds in re_["phases_median_s"].items() if seconds >= 0.01]
    common.print_table("import — where the time goes (median s per phase)", ["phase", "s", "share"], rows)
    ex = result["insert_explain_analyze"]
    if ex["execution_ms"]:
        total_ms = ex["execution_ms"]
        rows = [["INSERT … SELECT: rows built and inserted", ex["insert_node_ms"],
                 f"{100 * ex['insert_node_ms'] / total_ms:.0f} %" if ex["insert_node_ms"] else None]]
        rows += [[f"trigger {name}", ms, f"{100 * ms / total_ms:.0f} %"] for name, ms in ex["triggers_ms"].items()]
        rows += [["total (EXPLAIN ANALYZE, inflated)", total_ms, "100 %"]]
        common.print_table("import — the INSERT statement under EXPLAIN ANALYZE (ms; shares matter)",
                           ["part", "ms", "share"], rows)


# =========================================================================== at scale
# The issue 18 targets: a full reload of 5M rows in ≤ 5 min and the daily delta (a few
# thousand rows) in ≤ 5 s, every roll-up exact afterwards, while readers keep their latency.
# Its own database (cartagora_bench_import), its files under var/bench/ (never committed).

SCALE_DB = "cartagora_bench_import"
SCALE_ROWS = 5_000_000
FULL_TARGET_S = 300.0
DELTA_TARGET_S = 5.0
FILES = common.ROOT / "var" / "bench"
# What a resident and a planner read while the import runs, through gunicorn -w 2: the list
# page of a 500-feature bbox (Île de la Cité), the planner's area statistics (roll-ups), a
# vector tile of the city (tile_cells).
READER_PATHS = (
    "/api/v1/reports?bbox=2.340000,48.850000,2.360000,48.862000&limit=500",
    "/api/v1/stats/areas?level=arrondissement",
    "/tiles/contributions/12/2074/1409.mvt",
)
# Reads on a connection of its own with lock_timeout: a lock the import holds that a reader
# would wait for makes them fail (counted), instead of only slow.
PROBES = {
    "contributions bbox": "SELECT count(*) FROM contributions WHERE geom && ST_MakeEnvelope(2.34, 48.85, 2.36, 48.862, 4326)",
    "planner_day_counts": "SELECT sum(n) FROM planner_day_counts WHERE day >= DATE '2024-01-01'",
    "tile_cells": "SELECT sum(n) FROM tile_cells WHERE level = 10",
}


def export_files(rows: int) -> tuple:
    """The n-row export and its next-day delta under var/bench/, written once."""
    from bench import synthetic

    FILES.mkdir(parents=True, exist_ok=True)
    full, delta = FILES / f"dansmarue_{rows}.csv", FILES / f"dansmarue_{rows}_delta.csv"
    extract = common.ROOT / "data" / "dans-ma-rue_sample_2023-2024.csv.gz"
    if not full.exists():
        log(f"import: writing {full} ({rows:,} rows, about {rows / 25_000:.0f} s)")
        tmp = full.with_suffix(".tmp")
        synthetic.write_export(extract, tmp, rows)
        tmp.rename(full)
    if not delta.exists():
        synthetic.write_delta(extract, delta, rows)
    return full, delta


class Readers:
    """HTTP readers (one thread per path, gunicorn -w 2) and lock probes (lock_timeout 1 s),
    timing every request; `window(a, b)` gives the latencies of requests started in [a, b]."""

    def __init__(self, db: BenchDb, base_port: int) -> None:
        import threading

        self.db, self.port = db, base_port
        self.samples: list[tuple[str, float, float, int]] = []  # (what, started, seconds, status)
        self.lock_timeouts: list[tuple[str, float]] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._http, args=(p,), daemon=True) for p in READER_PATHS]
        self.threads.append(threading.Thread(target=self._probe, daemon=True))

    def _http(self, path: str) -> None:
        from bench import loadgen

        client = loadgen.HttpClient("127.0.0.1", self.port, timeout=60)
        while not self.stop.is_set():
            started = time.perf_counter()
            status, _ = client.get(path)
            self.samples.append((path, started, time.perf_counter() - started, status))
        client.close()

    def _probe(self) -> None:
        import psycopg

        with self.db.connect(autocommit=True) as conn:
            conn.execute("SET lock_timeout = '1s'")
            while not self.stop.is_set():
                for name, sql in PROBES.items():
                    started = time.perf_counter()
                    try:
                        conn.execute(sql).fetchall()
                        self.samples.append((f"probe {name}", started, time.perf_counter() - started, 200))
                    except psycopg.errors.LockNotAvailable:
                        self.lock_timeouts.append((name, started))
                time.sleep(0.2)

    def __enter__(self) -> Readers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=120)

    def window(self, started: float, finished: float) -> dict:
        http = [s for s in self.samples if not s[0].startswith("probe") and started <= s[1] <= finished]
        errors = sum(1 for s in http if s[3] != 200)
        http = [s for s in http if s[3] == 200]  # a refusal's latency says nothing of the read
        ms = [s[2] * 1000 for s in http]
        by_path = {}
        for path in READER_PATHS:
            mine = [s[2] * 1000 for s in http if s[0] == path]
            if mine:
                by_path[path] = {"p50_ms": round(statistics.median(mine), 1),
                                 "p99_ms": round(common.quantile(mine, 0.99), 1), "max_ms": round(max(mine), 1),
                                 "n": len(mine)}
        return {
            "requests": len(ms),
            "p50_ms": round(statistics.median(ms), 1) if ms else None,
            "p99_ms": round(common.quantile(ms, 0.99), 1) if ms else None,
            "max_ms": round(max(ms), 1) if ms else None,
            "errors": errors,
            "by_path": by_path,
            "lock_timeouts": sum(1 for _, at in self.lock_timeouts if started <= at <= finished),
            "probe_max_ms": round(max((s[2] * 1000 for s in self.samples
                                       if s[0].startswith("probe") and started <= s[1] <= finished), default=0), 1),
        }


def _strong_locks(db: BenchDb, pid: int) -> set[str]:
    """Lock modes the import's backend holds on permanent relations beyond what a plain
    INSERT/UPDATE takes (sampled: the evidence that readers had nothing to wait for)."""
    with db.connect(autocommit=True) as conn:
        rows = conn.execute("""
            SELECT c.relname || ': ' || l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
            WHERE l.pid = %s AND l.granted AND c.relpersistence = 'p'
              AND l.mode NOT IN ('AccessShareLock', 'RowShareLock', 'RowExclusiveLock')
        """, (pid,)).fetchall()
    return {r[0] for r in rows}


def timed_import(db: BenchDb, path, full: bool = False) -> dict:
    """`dansmarue.run` + commit in-process, phase by phase; the import's strong locks sampled."""
    import threading

    engine = create_engine(db.url, connect_args={"options": "-c timezone=UTC"})
    phases: dict[str, float] = defaultdict(float)

    def kind(statement: str) -> str:
        head = " ".join(statement.split()[:4]).upper()
        for key, name in (("COPY IMPORT_RAW", "copy_file"), ("INSERT INTO CONTRIBUTIONS", "insert_new"),
                          ("UPDATE CONTRIBUTIONS", "update_changed"), ("DELETE FROM CONTRIBUTIONS", "delete_absent"),
                          ("ANALYZE CONTRIBUTIONS", "analyze"), ("LOCK TABLE", "rollups_merge")):
            if head.startswith(key):
                return name
        if "import_raw" in statement or "import_checked" in statement or "import_points" in statement:
            return "checks"
        if "_rebuild()" in statement or "pg_temp." in statement or "public." in statement:
            return "rollups_merge"
        return "other_sql"

    @event.listens_for(engine, "before_cursor_execute")
    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def after(conn, cursor, statement, parameters, context, executemany):
        phases[kind(statement)] += time.perf_counter() - conn.info.pop("bench_started")

    locks: set[str] = set()
    done = threading.Event()
    with Session(engine) as session:
        pid = session.scalar(text("SELECT pg_backend_pid()"))

        def sample() -> None:
            while not done.wait(0.5):
                locks.update(_strong_locks(db, pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        with dansmarue.open_csv(path) as f:
            copy_started = time.perf_counter()
            summary = dansmarue.run(session, f, full=full)
        # COPY runs outside the cursor events: it is the time up to the first statement after it
        loaded = time.perf_counter()
        session.commit()
        finished = time.perf_counter()
        done.set()
        sampler.join()
    engine.dispose()
    total = finished - started
    phases["copy_file"] = max(0.0, (loaded - copy_started) - sum(phases.values()))
    phases["commit"] = finished - loaded
    return {
        "file": path.name, "read": summary.read, "imported": summary.imported, "updated": summary.updated,
        "deleted": summary.deleted, "unchanged": summary.duplicates, "rejected": len(summary.rejected),
        "mode": summary.mode, "notes": summary.notes, "rollups": summary.rollups,
        "started": started, "finished": finished, "seconds": round(total, 2),
        "rows_per_s": round(summary.read / total), "phases_s": {k: round(v, 2) for k, v in phases.items()},
        "strong_locks_seen": sorted(locks),
    }


def rollup_differences(db: BenchDb) -> dict[str, int]:
    from app.importers import rollups

    engine = create_engine(db.url, connect_args={"options": "-c timezone=UTC"})
    with Session(engine) as session:
        session.execute(text("SET LOCAL statement_timeout = 0"))
        out = rollups.differences(session)
        session.rollback()
    engine.dispose()
    return out


def _phase(db: BenchDb, readers: Readers, name: str, path, target_s: float, full: bool,
           reader_s: float, quiet_wait: float) -> dict:
    quiet = common.wait_for_quiet(quiet_wait)
    before_started = time.perf_counter()
    time.sleep(reader_s)
    before = readers.window(before_started, time.perf_counter())
    log(f"import {name}: {path.name}")
    load_before = common.loadavg()
    result = timed_import(db, path, full=full)
    during = readers.window(result.pop("started"), result.pop("finished"))
    log(f"import {name}: {result['read']:,} rows in {result['seconds']:.1f} s; checking the roll-ups")
    diffs = rollup_differences(db)
    return {"phase": name, **result, "target_s": target_s, "ok": result["seconds"] <= target_s,
            "readers_before": before, "readers_during": during, "rollup_differences": diffs,
            "rollups_exact": not any(diffs.values()), "quiet_before": quiet,
            "loadavg_before": load_before, "loadavg_after": common.loadavg()}


def run_scale(rows: int = SCALE_ROWS, db_name: str = SCALE_DB, fresh: bool = False,
              quiet_wait: float = 60.0, reader_s: float = 15.0, phases: tuple[str, ...] | None = None) -> dict:
    """The imports at scale, readers running, on database `db_name`:

    * full: the n-row export into contributions holding the extract only (the bulk path:
      roll-up triggers bypassed, roll-ups recounted and merged);
    * delta: the next day's file (3,000 new ids, 2,000 re-published with another category
      and place) into the n rows (the trigger path);
    * reload: the n-row export again with --full, over the n rows: the delta's changes
      undone (2,000 updates, 3,000 deletions), the rest found unchanged.
    Each is followed by a recount of every roll-up (0 differences expected). Without
    "full", the database must hold the n rows already (a previous run's): delta then reload
    leave it as they found it, so they can be re-run alone. `phases=None`: all three on a
    new database, delta and reload on one that holds the n rows (the full load of 5M rows
    takes about 30 min on the shared 2-core machine)."""
    from bench.server import Gunicorn

    full_path, delta_path = export_files(rows)
    db = common.prepare_database(db_name, fresh=fresh)
    with db.connect() as conn:
        have = conn.execute("SELECT count(*) FROM contributions WHERE source_id LIKE 'SYN%'").fetchone()[0]
    if phases is None:
        phases = ("delta", "reload") if have >= rows else ("full", "delta", "reload")
    if "full" in phases:
        with db.connect() as conn:
            common.truncate_contributions(conn)
        log("import: the extract (what the readers read before the full load commits)")
        timed_import(db, common.ROOT / "data" / "dans-ma-rue_sample_2023-2024.csv.gz")
        with db.connect() as conn:
            common.settle(conn)
    elif have < rows:
        raise SystemExit(f"bench: {db_name} holds {have:,} synthetic rows, not {rows:,}: run the full phase")
    # rate limits off (the statistics allow 60 a minute), counted in memory, as bench/faults.py
    server = Gunicorn({**db.env(), "CARTAGORA_RATELIMIT": "0", "REDIS_URL": "memory://"},
                      FILES / "import-gunicorn.log", workers=2)
    results = []
    plan = {"full": (full_path, FULL_TARGET_S, False), "delta": (delta_path, DELTA_TARGET_S, False),
            "reload": (full_path, FULL_TARGET_S, True)}
    try:
        with Readers(db, server.port) as readers:
            for name in phases:
                path, target, full = plan[name]
                results.append(_phase(db, readers, name, path, target, full, reader_s, quiet_wait))
                if name == "full":
                    with db.connect() as conn:
                        common.settle(conn)
    finally:
        server.stop()
    with db.connect() as conn:
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
    return {"date": common.now_iso(), "database": db_name, "database_size": size, "rows": rows,
            "machine": common.machine_facts(db), "phases": results}


def print_scale_table(result: dict) -> None:
    rows = []
    for p in result["phases"]:
        b, d = p["readers_before"], p["readers_during"]
        rows.append([p["phase"], p["read"], p["imported"], p["updated"], p["deleted"], p["seconds"], p["rows_per_s"],
                     f"≤ {p['target_s']:.0f}", "ok" if p["ok"] else "MISSED",
                     f"{b['p50_ms']}/{b['p99_ms']}", f"{d['p50_ms']}/{d['p99_ms']}", d["max_ms"], d["lock_timeouts"],
                     sum(p["rollup_differences"].values()), f"{p['loadavg_before'][0]}→{p['loadavg_after'][0]}"])
    common.print_table(
        f"import at scale — {result['rows']:,}-row export, database {result['database']} ({result['database_size']})",
        ["phase", "rows read", "inserted", "updated", "deleted", "s", "rows/s", "target s", "", "reader p50/p99 ms before",
         "during", "max ms", "lock timeouts", "roll-up diffs", "load 1 min"], rows)
    phase_names = sorted({k for p in result["phases"] for k in p["phases_s"]})
    common.print_table("import at scale — where the time goes (s)", ["phase", *phase_names],
                       [[p["phase"], *[p["phases_s"].get(k) for k in phase_names]] for p in result["phases"]])


def write_scale(result: dict) -> Path:
    """bench/results/import.json with `scale` set (the extract's numbers kept beside it)."""
    path = common.RESULTS / "import.json"
    data = json.loads(path.read_text()) if path.exists() else {"benchmark": "import"}
    data["scale"] = result
    return common.write_result("import", data)


def main(argv: list[str] | None = None) -> None:
    """`python -m bench.import_bench [--rows N] [--fresh] [--no-write]`: the imports at scale."""
    import argparse

    from app.config import write_secret

    parser = argparse.ArgumentParser(prog="python -m bench.import_bench", description=run_scale.__doc__)
    parser.add_argument("--rows", type=int, default=SCALE_ROWS)
    parser.add_argument("--db", default=SCALE_DB)
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the database first")
    parser.add_argument("--quiet-wait", type=float, default=60.0)
    parser.add_argument("--reader-s", type=float, default=15.0, help="s of readers alone before each import")
    parser.add_argument("--phases", default=None,
                        help="comma-separated, in order: full,delta,reload (default: delta,reload when "
                             "the database holds the rows, else all three)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    write_secret()
    result = run_scale(args.rows, args.db, args.fresh, args.quiet_wait, args.reader_s,
                       tuple(args.phases.split(",")) if args.phases else None)
    print_scale_table(result)
    if not args.no_write:
        log(f"wrote {write_scale(result)}")


if __name__ == "__main__":
    main()
