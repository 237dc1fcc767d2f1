"""`ogc`: our OGC API – Features beside pygeoapi, the peer server, on the same table and pages.

GET /ogc/collections/reports/items?bbox=…&limit=500 (ours, `app:create_app()`) against
GET /collections/items?bbox=…&limit=500 of pygeoapi (PyPI, pinned) serving `contributions`
through its PostgreSQL provider (SQLAlchemy ORM + GeoAlchemy2 + psycopg2). Both run under
`gunicorn --workers 2` against the bench database, on the same 50 bboxes as `bbox`
(bbox_bench.choose_bboxes: 300 × 200 m cells holding 500–1,500 reports).

pygeoapi lives in its own virtualenv (var/bench-venvs/pygeoapi, created when missing), never in
the app's .venv: its pins of Flask, SQLAlchemy and pydantic are its own. Its configuration and
its OpenAPI document (`pygeoapi openapi generate`) are written under var/ogc-bench/.

pygeoapi's configuration has no fixed filter, so its collection is a view over `contributions`
holding the rows our `reports` collection serves (kind = 'report', not hidden, not withdrawn)
and a few columns (the reference's §6 served a view too). The view is created for the run and
dropped afterwards, so that it never holds back a migration of `contributions`.

Measured: each page's feature count and size from both; sequential latency (one client,
interleaved rounds of 50 like `bbox`); throughput with wrk (or the Python client), the two
servers taking turns, with the CPU each run used per request by gunicorn (master and workers),
the PostgreSQL backends of the bench database and the load generator, read from /proc.
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

from bench import bbox_bench, common, loadgen
from bench.common import BenchDb, log, summary
from bench.server import Gunicorn, _proc_stat

PYGEOAPI = "0.21.0"  # the reference's version (shared/reference/postgis-performance.md §6)
PYGEOAPI_DEPS = ("psycopg2-binary==2.9.13", "GeoAlchemy2==0.20.0")  # its PostgreSQL provider's imports
VENV = common.ROOT / "var" / "bench-venvs" / "pygeoapi"
WORK = common.ROOT / "var" / "ogc-bench"
VIEW = "ogc_bench_pygeoapi_reports"
COLLECTION = "reports"
TARGET_RATIO = 10.0
REPORTED_PACKAGES = ("pygeoapi", "gunicorn", "flask", "werkzeug", "sqlalchemy", "geoalchemy2",
                     "psycopg2-binary", "shapely", "pydantic", "pyyaml")


# --------------------------------------------------------------------------- pygeoapi's venv


def _venv_versions() -> dict | None:
    python = VENV / "bin" / "python"
    if not python.exists():
        return None
    code = ("import json, importlib.metadata as m\n"
            "def v(n):\n"
            "    try: return m.version(n)\n"
            "    except m.PackageNotFoundError: return None\n"
            f"print(json.dumps({{n: v(n) for n in {list(REPORTED_PACKAGES)!r}}}))")
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return json.loads(done.stdout) if done.returncode == 0 else None


def ensure_venv() -> dict:
    """pygeoapi==PYGEOAPI with our gunicorn version and its PostgreSQL provider's drivers, in
    its own virtualenv; (re)installed when missing or not the pinned versions."""
    gunicorn_version = metadata.version("gunicorn")
    versions = _venv_versions()
    if (versions and versions["pygeoapi"] == PYGEOAPI and versions["gunicorn"] == gunicorn_version
            and versions["geoalchemy2"] and versions["psycopg2-binary"]):
        return versions
    log(f"ogc: installing pygeoapi {PYGEOAPI} into {VENV.relative_to(common.ROOT)}")
    VENV.parent.mkdir(parents=True, exist_ok=True)
    if not (VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    done = subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", f"pygeoapi=={PYGEOAPI}",
                           f"gunicorn=={gunicorn_version}", *PYGEOAPI_DEPS], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"bench: pip install of pygeoapi failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    versions = _venv_versions()
    if not versions or versions["pygeoapi"] != PYGEOAPI:
        raise SystemExit(f"bench: pygeoapi not installed as pinned: {versions}")
    return versions


# --------------------------------------------------------------------------- pygeoapi's config


VIEW_SQL = f"""
CREATE OR REPLACE VIEW {VIEW} AS
SELECT id, title, status, category_id, arrondissement_id, created_at, geom
FROM contributions
WHERE kind = 'report' AND NOT hidden AND withdrawn_at IS NULL
"""


def _yaml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML scalar


def write_config(db: BenchDb, bbox: tuple[float, float, float, float]) -> tuple[Path, Path]:
    """pygeoapi's configuration for one collection over VIEW, and its OpenAPI document."""
    WORK.mkdir(parents=True, exist_ok=True)
    parts = urlsplit(db.dsn)
    data = {"host": parts.hostname or "127.0.0.1", "port": parts.port or 5432, "dbname": db.name,
            "user": parts.username or "", "password": parts.password or ""}
    w, s, e, n = bbox
    config = f"""# written by bench/ogc_bench.py: pygeoapi {PYGEOAPI} serving {VIEW} of {db.name}
server:
  bind: {{host: 127.0.0.1, port: 5000}}
  url: http://127.0.0.1:5000   # links only; gunicorn binds a free port
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  language: en-US
  cors: false
  pretty_print: false
  gzip: false
  limits: {{default_items: 10, max_items: 1000}}
  map:
    url: https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png
    attribution: OpenStreetMap
logging:
  level: ERROR
metadata:
  identification:
    title: Cartagora bench peer
    description: pygeoapi beside the app, for bench/ogc_bench.py
    keywords: [bench]
    keywords_type: theme
    terms_of_service: https://creativecommons.org/licenses/by/4.0/
    url: http://127.0.0.1:5000
  license: {{name: CC-BY 4.0, url: https://creativecommons.org/licenses/by/4.0/}}
  provider: {{name: Cartagora bench, url: http://127.0.0.1:5000}}
  contact: {{name: Cartagora bench, position: bench, email: bench@example.org}}
resources:
  {COLLECTION}:
    type: collection
    title: Reports
    description: The public reports of contributions (kind = 'report', visible)
    keywords: [reports]
    extents:
      spatial:
        bbox: [{w}, {s}, {e}, {n}]
        crs: http://www.opengis.net/def/crs/OGC/1.3/CRS84
    providers:
      - type: feature
        name: PostgreSQL
        data:
          host: {_yaml_str(data['host'])}
          port: {data['port']}
          dbname: {_yaml_str(data['dbname'])}
          user: {_yaml_str(data['user'])}
          password: {_yaml_str(data['password'])}
          search_path: [public]
        id_field: id
        table: {VIEW}
        geom_field: geom
"""
    config_path, openapi_path = WORK / "pygeoapi-config.yml", WORK / "pygeoapi-openapi.yml"
    config_path.write_text(config)
    done = subprocess.run([str(VENV / "bin" / "pygeoapi"), "openapi", "generate", str(config_path),
                           "--output-file", str(openapi_path)], cwd=WORK, env=_pygeoapi_env(config_path, None),
                          capture_output=True, text=True)
    if done.returncode or not openapi_path.exists():
        raise SystemExit(f"bench: pygeoapi openapi generate failed:\n{done.stdout}{done.stderr}")
    return config_path, openapi_path


def _pygeoapi_env(config: Path, openapi: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "DATABASE_URL")}
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYGEOAPI_CONFIG"] = str(config)
    if openapi:
        env["PYGEOAPI_OPENAPI"] = str(openapi)
    return env


class PygeoapiGunicorn(Gunicorn):
    """`gunicorn --workers 2 pygeoapi.flask_app:APP` from pygeoapi's venv, on a free port;
    ready when both workers are forked and its items answer 200 (pygeoapi has no /healthz)."""

    def __init__(self, config: Path, openapi: Path, log_path: Path, workers: int = 2,
                 probe: str = f"/collections/{COLLECTION}/items?limit=1&f=json", timeout: float = 60) -> None:
        self.port, self.log_path, self.workers_wanted, self.probe = common.free_port(), Path(log_path), workers, probe
        self.cmd = [str(VENV / "bin" / "gunicorn"), "--workers", str(workers), "--bind",
                    f"127.0.0.1:{self.port}", "pygeoapi.flask_app:APP"]
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(self.cmd, cwd=WORK, env=_pygeoapi_env(config, openapi),
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        if not self.wait_ready(timeout):
            self.stop()
            raise SystemExit(f"bench: pygeoapi's gunicorn did not start, see {self.log_path}")

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                client = loadgen.HttpClient("127.0.0.1", self.port, timeout=10)
                status, _ = client.get(self.probe)
                client.close()
                if status == 200 and len(self.workers()) == self.workers_wanted:
                    return True
            except (OSError, loadgen.HttpError):
                pass
            time.sleep(0.3)
        return False


# --------------------------------------------------------------------------- CPU from /proc


def _ticks(pid: int) -> int | None:
    stat = _proc_stat(pid)
    return int(stat[11]) + int(stat[12]) if stat else None  # utime + stime


class CpuMeter:
    """CPU seconds used over a load run by gunicorn (master and workers), the bench database's
    PostgreSQL backends and the load generator (this process's children), and by the machine."""

    def __init__(self, db: BenchDb, server: Gunicorn, loadgen_in_process: bool = False) -> None:
        # loadgen_in_process: the load generator is this process's threads (bench writes),
        # not its children (wrk)
        self.db, self.server, self.in_process = db, server, loadgen_in_process
        self.hz = os.sysconf("SC_CLK_TCK")
        self.postmaster: int | None = None

    def _backends(self) -> list[int]:
        return [r[0] for r in self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend'", (self.db.name,)).fetchall()]

    def _snapshot(self) -> dict:
        server_pids = [self.server.proc.pid] + [pid for pid, _ in self.server.workers()]
        children = resource.getrusage(resource.RUSAGE_SELF if self.in_process else resource.RUSAGE_CHILDREN)
        backends = self._backends()
        if self.postmaster is None and backends:
            stat = _proc_stat(backends[0])
            self.postmaster = int(stat[1]) if stat else None
        # the postmaster's reaped children: backends that ended during the run (parallel workers)
        reaped = _proc_stat(self.postmaster) if self.postmaster else None
        return {"server": {pid: _ticks(pid) for pid in server_pids},
                "postgres": {pid: _ticks(pid) for pid in backends},
                "postgres_exited": int(reaped[13]) + int(reaped[14]) if reaped else 0,
                "loadgen": children.ru_utime + children.ru_stime,
                "machine": common._cpu_times(), "wall": time.perf_counter()}

    def start(self) -> None:
        self.conn = self.db.connect(autocommit=True)  # one connection, open over the run
        self.before = self._snapshot()

    def stop(self, requests: int) -> dict:
        after = self._snapshot()
        self.conn.close()
        before = self.before

        def used(kind: str) -> float:
            total = 0
            for pid, ticks in after[kind].items():
                if ticks is not None:
                    total += ticks - (before[kind].get(pid) or 0)  # a process born during the run counts whole
            return total / self.hz

        server_s, pg_s = used("server"), used("postgres")
        exited_s = (after["postgres_exited"] - before["postgres_exited"]) / self.hz
        loadgen_s = after["loadgen"] - before["loadgen"]
        idle0, total0 = before["machine"]
        idle1, total1 = after["machine"]
        wall = after["wall"] - before["wall"]
        busy_s = (1 - (idle1 - idle0) / max(total1 - total0, 1)) * wall * (os.cpu_count() or 1)
        per = 1000 / max(requests, 1)
        return {
            "wall_s": round(wall, 2),
            "cpu_s": {"gunicorn": round(server_s, 2), "postgres_backends": round(pg_s, 2),
                      "postgres_exited_processes": round(exited_s, 2),
                      "loadgen": round(loadgen_s, 2), "machine_busy": round(busy_s, 2),
                      "other": round(busy_s - server_s - pg_s - exited_s - loadgen_s, 2)},
            "cpu_ms_per_request": {"gunicorn": round(server_s * per, 3), "postgres_backends": round(pg_s * per, 3),
                                   "postgres_exited_processes": round(exited_s * per, 3),
                                   "loadgen": round(loadgen_s * per, 3)},
            "note": "postgres_exited_processes: CPU of the cluster's processes that ended during the run "
                    "(the postmaster's reaped children: parallel query workers, and any other database's "
                    "closed connections)",
            "cores_busy": round(busy_s / wall, 2) if wall else None,
        }


# --------------------------------------------------------------------------- the benchmark


def _bbox_query(bbox) -> str:
    return f"bbox={','.join(f'{v:.6f}' for v in bbox)}&limit={bbox_bench.PAGE}&f=json"


def _pages(port: int, paths: list[str]) -> list[dict]:
    client = loadgen.HttpClient("127.0.0.1", port, timeout=60)
    out = []
    for path in paths:
        status, body = client.get(path)
        if status != 200:
            raise SystemExit(f"bench: {path} answered {status}: {body[:300]!r}")
        doc = json.loads(body)
        out.append({"returned": doc.get("numberReturned", len(doc["features"])), "features": len(doc["features"]),
                    "matched": doc.get("numberMatched"), "bytes": len(body)})
    client.close()
    return out


def _data(db: BenchDb, rows: int, seed: int) -> dict:
    with db.connect() as conn:
        reports = conn.execute("SELECT count(*) FROM contributions WHERE kind = 'report'").fetchone()[0]
    info: dict = {}
    if not reports:  # a fresh bench database: the bbox bench's data (the extract and `rows` synthetic)
        info["loaded"] = bbox_bench.ensure_data(db, rows, seed)
    with db.connect() as conn:
        info.update(zip(("contributions", "reports", "served_reports", "contributions_total_size"), conn.execute(
            """SELECT count(*), count(*) FILTER (WHERE kind = 'report'),
                      count(*) FILTER (WHERE kind = 'report' AND NOT hidden AND withdrawn_at IS NULL),
                      pg_size_pretty(pg_total_relation_size('contributions')) FROM contributions""").fetchone(),
            strict=True))
    return info


def _load_summary(runs: list[loadgen.LoadResult], cpu: list[dict]) -> dict:
    order = sorted(range(len(runs)), key=lambda k: runs[k].rps)
    mid = order[len(order) // 2]
    load = runs[mid]
    if load.latencies_ms:
        lat = summary(load.latencies_ms)
        percentiles = {"p50": lat["median"], "p90": lat["p90"], "p99": lat["p99"], "max": lat["max"]}
    else:
        percentiles = load.percentiles_ms
    return {"tool": load.tool, "command": load.command, "connections": load.connections,
            "duration_s": round(load.duration_s, 2), "requests": load.requests, "rps": round(load.rps, 1),
            "latency_ms": percentiles, "errors": sum(r.errors for r in runs),
            "non_200": sum(r.non_200 for r in runs), "runs_rps": [round(r.rps, 1) for r in runs],
            "cpu": cpu[mid], "cpu_runs": cpu}


def run(db: BenchDb, rows: int = 1_000_000, seed: int = 42, requests: int = 300, duration: float = 20.0,
        connections: int = 4, tool: str = "auto", quiet_wait: float = 60.0, load_runs: int = 3) -> dict:
    load_before = common.loadavg()
    venv = ensure_venv()
    log(f"ogc: pygeoapi venv {venv}")
    data = _data(db, rows, seed)
    log(f"ogc: {data['reports']:,} reports in contributions ({data['contributions_total_size']})")
    bboxes, matched = bbox_bench.choose_bboxes(db, seed)
    log(f"ogc: {len(bboxes)} bboxes, {min(matched)}–{max(matched)} reports each")
    ours_paths = [f"/ogc/collections/{COLLECTION}/items?{_bbox_query(b)}" for b in bboxes]
    peer_paths = [f"/collections/{COLLECTION}/items?{_bbox_query(b)}" for b in bboxes]

    with db.connect() as conn:
        conn.execute(VIEW_SQL)
        conn.commit()
        extent = conn.execute("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                              "(SELECT ST_EstimatedExtent('contributions', 'geom')::geometry e) x").fetchone()
    ours = peer = None
    try:
        config, openapi = write_config(db, tuple(round(v, 6) for v in extent))
        ours = bbox_bench.gunicorn(db)
        peer_log = WORK / "pygeoapi-gunicorn.log"
        peer_log.unlink(missing_ok=True)
        peer = PygeoapiGunicorn(config, openapi, peer_log)
        log(f"ogc: ours on :{ours.port}, pygeoapi on :{peer.port}; checking the pages")
        ours_pages, peer_pages = _pages(ours.port, ours_paths), _pages(peer.port, peer_paths)
        compared = list(zip(bboxes, ours_pages, peer_pages, strict=True))
        mismatches = [{"bbox": b, "ours": o, "pygeoapi": p} for b, o, p in compared if o["returned"] != p["returned"]]
        if mismatches:
            log(f"ogc: {len(mismatches)} pages differ in their feature counts: {mismatches[:3]}")
        # numberMatched: ours tests `geom && box` (reports are points; the index's float4 box
        # test, which can take a point within a metre outside the box), pygeoapi ST_Intersects
        matched_diff = [o["matched"] - p["matched"] for _, o, p in compared
                        if o["matched"] is not None and p["matched"] is not None]

        contenders = {"ours": bbox_bench.Http(ours.port, ours_paths),
                      "pygeoapi": bbox_bench.Http(peer.port, peer_paths)}
        for contender in contenders.values():  # warm-up: both workers, caches, plans
            for i in range(2 * len(bboxes)):
                contender(i)
            contender.sizes.clear()
        quiet_sequential = common.wait_for_quiet(quiet_wait)
        log(f"ogc: sequential, {requests} requests each, interleaved by rounds of {len(bboxes)}")
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for r in range(math.ceil(requests / len(bboxes))):
            for name, contender in contenders.items():
                for j in range(len(bboxes)):
                    if len(times[name]) < requests:
                        times[name].append(contender(r * len(bboxes) + j))
        sequential_non_200 = {name: c.non_200 for name, c in contenders.items()}
        for contender in contenders.values():
            contender.close()
        log("ogc: sequential medians (ms) " + ", ".join(f"{n} {summary(t)['median']}" for n, t in times.items()))

        use_wrk = tool == "wrk" or (tool == "auto" and loadgen.wrk_available())
        generate = loadgen.wrk_load if use_wrk else loadgen.python_load
        quiet_load = []
        runs: dict[str, list] = {"ours": [], "pygeoapi": []}
        cpu: dict[str, list] = {"ours": [], "pygeoapi": []}
        servers = {"ours": (ours, ours_paths), "pygeoapi": (peer, peer_paths)}
        for k in range(load_runs):
            quiet_load.append(common.wait_for_quiet(quiet_wait))
            for name, (server, paths) in servers.items():
                log(f"ogc: {'wrk' if use_wrk else 'python'} load {k + 1}/{load_runs}, {connections} "
                    f"connections, {duration:g} s: {name}")
                meter = CpuMeter(db, server)
                meter.start()
                result = generate("127.0.0.1", server.port, paths, connections, duration)
                cpu[name].append(meter.stop(result.requests))
                runs[name].append(result)
                log(f"ogc: {name} {result.rps:.1f} req/s, CPU ms per request {cpu[name][-1]['cpu_ms_per_request']}")
    finally:
        if ours is not None:
            bbox_bench.stop(ours)
        if peer is not None:
            peer.stop()
            if not peer.stopped_cleanly:
                log(f"ogc: pygeoapi's gunicorn did not stop cleanly, see {peer.log_path}")
        with db.connect() as conn:
            conn.execute(f"DROP VIEW IF EXISTS {VIEW}")
            conn.commit()

    load = {name: _load_summary(runs[name], cpu[name]) for name in runs}
    seq = {name: summary(t) for name, t in times.items()}
    ratio = common.ratio(load["ours"]["rps"], load["pygeoapi"]["rps"])
    same_run = [common.ratio(o.rps, p.rps) for o, p in zip(runs["ours"], runs["pygeoapi"], strict=True)]

    def page_facts(pages: list[dict]) -> dict:
        return {"bytes": summary([p["bytes"] for p in pages], 0),
                "full_pages": sum(p["returned"] == bbox_bench.PAGE for p in pages),
                "returned_min": min(p["returned"] for p in pages)}

    return {
        "benchmark": "ogc",
        "date": common.now_iso(),
        "machine": common.machine_facts(db),
        "pygeoapi_venv": {"path": str(VENV.relative_to(common.ROOT)), "packages": venv},
        "loadavg_before": load_before,
        "quiet_before_sequential": quiet_sequential,
        "quiet_before_load": quiet_load,
        "loadavg_after": common.loadavg(),
        "data": data,
        "bboxes": {"count": len(bboxes), "cell_m": [bbox_bench.CELL_W_M, bbox_bench.CELL_H_M],
                   "matched_min": min(matched), "matched_max": max(matched),
                   "matched_mean": round(sum(matched) / len(matched)), "values": bboxes},
        "requests": {"ours": f"GET {ours_paths[0]}", "pygeoapi": f"GET {peer_paths[0]}"},
        "servers": {"ours": " ".join(ours.cmd[1:]),
                    "pygeoapi": f"PYGEOAPI_CONFIG=… PYGEOAPI_OPENAPI=… {' '.join(peer.cmd[1:])}"},
        "pygeoapi_collection": {"view": " ".join(VIEW_SQL.split()),
                                "note": "pygeoapi's config has no fixed filter: a view over contributions with "
                                        "the rows of our reports collection, dropped after the run"},
        "pages": {"ours": page_facts(ours_pages), "pygeoapi": page_facts(peer_pages),
                  "count_mismatches": mismatches,
                  "number_matched_ours_minus_pygeoapi": {
                      "pages_differing": sum(d != 0 for d in matched_diff),
                      "min": min(matched_diff, default=None), "max": max(matched_diff, default=None),
                      "note": "ours filters reports with `geom && envelope` (the float4 box test), "
                              "pygeoapi with ST_Intersects: a few points within ~1 m outside the box differ"}},
        "sequential_ms": seq,
        "sequential_note": (f"{requests} requests per server over the {len(bboxes)} bboxes, one client, "
                            f"interleaved in rounds of {len(bboxes)}, after 2 warm-up passes each"),
        "sequential_non_200": sequential_non_200,
        "load": load,
        "ratios": {
            "rps_ours_over_pygeoapi": ratio,
            "rps_ratio_each_round": same_run,
            "seq_median_pygeoapi_over_ours": common.ratio(seq["pygeoapi"]["median"], seq["ours"]["median"]),
            "target": TARGET_RATIO,
            "target_met": bool(ratio and ratio >= TARGET_RATIO),
        },
        "reference": {"source": "shared/reference/postgis-performance.md §6 (pygeoapi 0.21.0 on a 1M-row "
                                "5-column view, same machine type)", **bbox_bench.REFERENCE["pygeoapi"]},
    }


def print_tables(result: dict) -> None:
    seq, load, r, pages = result["sequential_ms"], result["load"], result["ratios"], result["pages"]
    quiet = result["quiet_before_sequential"]
    o, p = load["ours"], load["pygeoapi"]
    ref = result["reference"]
    common.print_table(
        f"ogc — bbox pages of limit=500 on {result['data']['reports']:,} reports, ours (/ogc) beside pygeoapi "
        f"{result['pygeoapi_venv']['packages']['pygeoapi']}, both gunicorn -w 2; CPU busy before: "
        f"{quiet['cpu_busy_share']:.0%}, load {quiet['loadavg'][0]}",
        ["measure", "ours", "pygeoapi", "ratio", "pygeoapi, reference §6"],
        [
            ["sequential, median ms (ratio pygeoapi ÷ ours)", seq["ours"]["median"], seq["pygeoapi"]["median"],
             common.ratio(seq["pygeoapi"]["median"], seq["ours"]["median"]), ref["seq_median_ms"]],
            ["sequential, p95 ms (ratio pygeoapi ÷ ours)", seq["ours"]["p95"], seq["pygeoapi"]["p95"],
             common.ratio(seq["pygeoapi"]["p95"], seq["ours"]["p95"]), ref["seq_p95_ms"]],
            [f"{o['tool']} c={o['connections']} {o['duration_s']:.0f}s, req/s, median run (ours ÷ pygeoapi)",
             o["rps"], p["rps"],
             r["rps_ours_over_pygeoapi"], ref["rps"]],
            ["  runs", " / ".join(f"{v:.0f}" for v in o["runs_rps"]), " / ".join(f"{v:.1f}" for v in p["runs_rps"]),
             " / ".join(f"{v:g}" for v in r["rps_ratio_each_round"]), None],
            ["  p50 ms", o["latency_ms"].get("p50"), p["latency_ms"].get("p50"), None, ref["p50_ms"]],
            ["  p99 ms", o["latency_ms"].get("p99"), p["latency_ms"].get("p99"), None, ref["p99_ms"]],
            ["  errors / non-200", f"{o['errors']} / {o['non_200']}", f"{p['errors']} / {p['non_200']}", None, None],
            ["page bytes, median (ours ÷ pygeoapi)", pages["ours"]["bytes"]["median"], pages["pygeoapi"]["bytes"]["median"],
             common.ratio(pages["ours"]["bytes"]["median"], pages["pygeoapi"]["bytes"]["median"]), "101 kB"],
            ["full 500-feature pages", f"{pages['ours']['full_pages']}/{result['bboxes']['count']}",
             f"{pages['pygeoapi']['full_pages']}/{result['bboxes']['count']}",
             f"{len(pages['count_mismatches'])} count mismatches", None],
            ["numberMatched, ours − pygeoapi (min…max)", None, None,
             f"{pages['number_matched_ours_minus_pygeoapi']['min']}…"
             f"{pages['number_matched_ours_minus_pygeoapi']['max']}", None],
            ["CPU ms per request: gunicorn", o["cpu"]["cpu_ms_per_request"]["gunicorn"],
             p["cpu"]["cpu_ms_per_request"]["gunicorn"], None, None],
            ["CPU ms per request: PostgreSQL backends", o["cpu"]["cpu_ms_per_request"]["postgres_backends"],
             p["cpu"]["cpu_ms_per_request"]["postgres_backends"], None, None],
            ["CPU ms per request: PostgreSQL, exited processes (parallel workers)",
             o["cpu"]["cpu_ms_per_request"]["postgres_exited_processes"],
             p["cpu"]["cpu_ms_per_request"]["postgres_exited_processes"], None, None],
            ["CPU ms per request: load generator", o["cpu"]["cpu_ms_per_request"]["loadgen"],
             p["cpu"]["cpu_ms_per_request"]["loadgen"], None, None],
            ["cores busy during the run (of 2)", o["cpu"]["cores_busy"], p["cpu"]["cores_busy"], None, None],
            [f"req/s ratio ≥ {r['target']:g}×", None, None, "met" if r["target_met"] else "MISSED", None],
        ],
    )
