"""What every benchmark shares: the bench database, machine facts, statistics, output.

The bench never touches the development database: it creates its own (`cartagora_bench` by
default) on the server named by var/database_url, migrates it with the app's own Alembic
(`flask db upgrade`) and loads the reference areas and categories with the app's commands.
"""

from __future__ import annotations

import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
EXTRACT = Path(os.environ.get("CARTAGORA_SHARED_DATA", ROOT.parent / "shared" / "data")) / (
    "dans-ma-rue_sample_2023-2024.csv"
)
VENV_BIN = ROOT / ".venv" / "bin"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- database


@dataclass(frozen=True)
class BenchDb:
    """The bench database: a SQLAlchemy URL for the app, a libpq DSN for psycopg."""

    url: str  # postgresql+psycopg://…/cartagora_bench

    @property
    def dsn(self) -> str:
        return self.url.replace("postgresql+psycopg://", "postgresql://", 1)

    @property
    def name(self) -> str:
        return urlsplit(self.url).path.lstrip("/")

    def connect(self, **kwargs) -> psycopg.Connection:
        # Same session settings as the app's engine (app/db.py), so JSON timestamps match.
        return psycopg.connect(self.dsn, options="-c timezone=UTC", **kwargs)

    def env(self) -> dict[str, str]:
        return {**os.environ, "DATABASE_URL": self.url}


def server_url() -> str:
    """The development server's URL (var/database_url, written by scripts/db.sh start)."""
    path = ROOT / "var" / "database_url"
    if not path.exists():
        raise SystemExit("bench: var/database_url not found; start the database (make db)")
    return path.read_text().strip()


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def flask(db: BenchDb, *args: str) -> str:
    """Run one of the app's CLI commands against the bench database."""
    cmd = [str(VENV_BIN / "flask"), "--app", "app:create_app", *args]
    done = subprocess.run(cmd, cwd=ROOT, env=db.env(), capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"bench: {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout.strip()


def prepare_database(name: str, fresh: bool = True, revision: str = "head") -> BenchDb:
    """Create (or reuse) the bench database, migrated to head, with areas and categories."""
    db = BenchDb(with_database(server_url(), name))
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name) or name == urlsplit(server_url()).path.lstrip("/"):
        raise SystemExit(f"bench: refusing to use database {name!r}")
    admin = with_database(server_url(), "postgres").replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and fresh:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        if not exists or fresh:
            log(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')
    started = time.perf_counter()
    flask(db, "db", "upgrade", revision)
    with db.connect() as conn:
        loaded = conn.execute("SELECT (SELECT count(*) FROM quartier_parts), (SELECT count(*) FROM categories)").fetchone()
    if fresh or not all(loaded):
        flask(db, "geo", "load-areas")
        flask(db, "geo", "load-categories")
    log(f"{name}: migrated, areas and categories loaded in {time.perf_counter() - started:.1f} s")
    return db


def truncate_contributions(conn: psycopg.Connection) -> None:
    conn.execute("TRUNCATE contributions RESTART IDENTITY CASCADE")
    conn.commit()


def settle(conn: psycopg.Connection, table: str = "contributions") -> None:
    """VACUUM ANALYZE and CHECKPOINT after a bulk load, so that neither autovacuum nor a
    checkpoint lands in the middle of a measurement (the reference saw 2x noise from that)."""
    autocommit = conn.autocommit
    conn.commit()
    conn.autocommit = True
    try:
        conn.execute(f"VACUUM (ANALYZE) {table}")
        conn.execute("CHECKPOINT")
    finally:
        conn.autocommit = autocommit


# --------------------------------------------------------------------------- machine


def _first_match(path: str, pattern: str) -> str | None:
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    match = re.search(pattern, text, re.M)
    return match.group(1).strip() if match else None


def _package_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git() -> dict:
    def run(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    return {"commit": run("rev-parse", "HEAD") or None, "dirty": bool(run("status", "--porcelain"))}


def machine_facts(db: BenchDb) -> dict:
    """Hardware, OS, versions and server settings: what a reader needs to compare runs."""
    mem_kb = _first_match("/proc/meminfo", r"^MemTotal:\s+(\d+)")
    facts = {
        "hostname": socket.gethostname(),
        "cpu_model": _first_match("/proc/cpuinfo", r"^model name\s*:\s*(.+)$"),
        "cpus": os.cpu_count(),
        "mem_gib": round(int(mem_kb) / 1024 / 1024, 1) if mem_kb else None,
        "os": _first_match("/etc/os-release", r'^PRETTY_NAME="?([^"\n]+)'),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": {
            name: _package_version(name)
            for name in ("flask", "sqlalchemy", "psycopg", "gunicorn", "numpy", "shapely")
        },
        "git": _git(),
    }
    with db.connect() as conn:
        facts["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
        facts["postgis"] = conn.execute("SELECT postgis_lib_version()").fetchone()[0]
        facts["pg_settings"] = dict(
            conn.execute(
                "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name = ANY(%s) ORDER BY name",
                ([
                    "shared_buffers", "work_mem", "maintenance_work_mem", "effective_cache_size",
                    "random_page_cost", "jit", "synchronous_commit", "max_parallel_workers_per_gather",
                    "max_wal_size",
                ],),
            ).fetchall()
        )
    return facts


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- statistics


def quantile(values: list[float], q: float) -> float:
    """Linear-interpolated quantile (numpy's default), q in [0, 1]."""
    data = sorted(values)
    if not data:
        return float("nan")
    pos = (len(data) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def summary(values: list[float], digits: int = 3) -> dict:
    """median, p90, p95, p99, min, max and n of a sample."""
    return {
        "median": round(statistics.median(values), digits),
        "p90": round(quantile(values, 0.90), digits),
        "p95": round(quantile(values, 0.95), digits),
        "p99": round(quantile(values, 0.99), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "n": len(values),
    }


def ratio(ours: float | None, reference: float | None, digits: int = 2) -> float | None:
    if not ours or not reference:
        return None
    return round(ours / reference, digits)


# --------------------------------------------------------------------------- output


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    def cell(v) -> str:
        if v is None:
            return "–"
        if isinstance(v, float):
            return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    table = [header] + [[cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    print()
    print(title)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in table[1:]:
        first, rest = row[0], row[1:]
        print("  ".join([first.ljust(widths[0])] + [c.rjust(w) for c, w in zip(rest, widths[1:], strict=True)]))
    sys.stdout.flush()


def write_result(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- quiet machine


def _cpu_times() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return idle, sum(fields[:8])


def cpu_busy(interval: float = 2.0) -> float | None:
    """Share of all CPUs busy over `interval` seconds (None where /proc/stat is missing)."""
    try:
        idle0, total0 = _cpu_times()
        time.sleep(interval)
        idle1, total1 = _cpu_times()
    except OSError:
        return None
    return round(1 - (idle1 - idle0) / max(total1 - total0, 1), 3)


def wait_for_quiet(max_wait: float, threshold: float = 0.3) -> dict:
    """Wait (up to max_wait s) until other work leaves the CPUs mostly idle.

    Other agents' test suites share these 2 cores; a measurement taken while they run is
    noise. The wait and the busy share found are written into the results either way.
    """
    started = time.perf_counter()
    busy = cpu_busy()
    while busy is not None and busy > threshold and time.perf_counter() - started < max_wait:
        log(f"machine busy ({busy:.0%} CPU used by others), waiting")
        busy = cpu_busy(5.0)
    return {"cpu_busy_share": busy, "waited_s": round(time.perf_counter() - started, 1),
            "loadavg": loadavg()}
