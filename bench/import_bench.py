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
import re
import statistics
import subprocess
import time
from collections import defaultdict

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
