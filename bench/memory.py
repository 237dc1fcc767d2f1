"""Memory over a long run: gunicorn's workers' RSS before and after minutes of schemathesis.

`make run` serves with gunicorn (2 workers). This bench starts the same server on a copy of
the development database (`CREATE DATABASE … TEMPLATE cartagora`: the demo data, and nothing
the fuzzing writes reaches the real one), with the rate limits on and the private Redis, then
runs the schemathesis CLI over the generated OpenAPI document, as a resident with a bearer
token (the sign-out and password operations left out: they would end the token), for
`--minutes`, and samples each worker's resident set size (VmRSS in /proc) every
10 s. Workers are never recycled (no `--max-requests`): a leak would show.

    python -m bench memory --minutes 10

2026-11-25, 10.2 min, 33,226 requests (17,920 of them 429: one account's writes hit the
rate limits), the same two workers throughout: 122.0 / 121.5 MiB before, 129.2 / 128.6 MiB
after (peak 157.5, transient), rising in small steps that level off (caches filling), not
with the number of requests.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import common
from bench.server import Gunicorn

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.executable).parent


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def workers(server: Gunicorn) -> list[int]:
    return sorted(pid for pid, _ in server.workers())


def copy_database(name: str) -> str:
    base = make_url(common.server_url())
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{base.database}" STRATEGY FILE_COPY'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def run(minutes: float, write: bool = True) -> dict:
    url = copy_database("cartagora_memory")
    log = Path(tempfile.mkstemp(prefix="bench-memory-", suffix=".log")[1])  # the statuses
    errors = Path(tempfile.mkstemp(prefix="bench-memory-", suffix=".err")[1])
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": secrets.token_hex(32)}
    server = Gunicorn(env, errors, extra=("--access-logfile", str(log), "--access-logformat", "%(s)s"),
                      timeout=120)
    base = server.url
    try:
        email = f"memory-{secrets.token_hex(4)}@example.org"
        account = {"email": email, "password": "a long enough password", "display_name": "Mémoire"}
        requests.post(f"{base}/api/v1/auth/register", json=account, timeout=30).raise_for_status()
        credentials = {"email": email, "password": account["password"]}
        token = requests.post(f"{base}/api/v1/auth/token", json=credentials, timeout=30).json()["access_token"]
        for _ in range(20):  # warm both workers: imports, caches, the document
            requests.get(f"{base}/api/v1/openapi.json", headers={"Connection": "close"}, timeout=30)
            requests.get(f"{base}/api/v1/reports?bbox=2.33,48.85,2.36,48.87&limit=500",
                         headers={"Connection": "close"}, timeout=30)
        pids = workers(server)
        samples = [(0.0, [rss_kib(p) for p in pids])]
        report = tempfile.TemporaryFile("w+")  # a pipe left unread would block the fuzzer
        fuzz = subprocess.Popen(
            [str(VENV / "schemathesis"), "run", f"{base}/api/v1/openapi.json", "--url", base,
             "-H", f"Authorization: Bearer {token}", "--max-time", str(int(minutes * 60)),
             "--seed", "42", "--workers", "2", "--max-examples", "100000", "--no-color",
             "--checks", "not_a_server_error",
             # signing out would leave the rest of the run anonymous
             "--exclude-path-regex", "^/api/v1/(auth/logout|me/password)"],
            cwd=ROOT, stdout=report, stderr=subprocess.STDOUT, text=True)
        start = time.monotonic()
        while fuzz.poll() is None:
            time.sleep(10)
            samples.append((time.monotonic() - start, [rss_kib(p) for p in workers(server)]))
        report.seek(0)
        output = report.read()
        elapsed = time.monotonic() - start
        after = workers(server)
    finally:
        server.stop()
    statuses = Counter(log.read_text().split())
    log.unlink()
    if server.stopped_cleanly:
        errors.unlink()
    summary = [line for line in output.splitlines() if "cases" in line.lower() or "passed" in line.lower()]
    result = {
        "minutes": round(elapsed / 60, 1),
        "workers_before": pids, "workers_after": after,
        "rss_mib_before": [round(k / 1024, 1) for k in samples[0][1]],
        "rss_mib_after": [round(k / 1024, 1) for k in samples[-1][1]],
        "rss_mib_peak": [round(max(s[1][i] for s in samples if len(s[1]) > i) / 1024, 1)
                         for i in range(len(samples[0][1]))],
        "samples": [(round(t), [round(k / 1024, 1) for k in ks]) for t, ks in samples],
        "requests_served": sum(statuses.values()),
        "statuses": dict(sorted(statuses.items())),
        "schemathesis": summary[-5:],
    }
    print(f"{'worker':>8} {'before MiB':>11} {'after MiB':>10} {'peak MiB':>9}")
    for i, pid in enumerate(pids):
        print(f"{pid:>8} {result['rss_mib_before'][i]:>11} {result['rss_mib_after'][i]:>10} "
              f"{result['rss_mib_peak'][i]:>9}")
    print(f"requests served: {result['requests_served']} {result['statuses']}")
    print(f"same workers throughout: {pids == after}; {result['minutes']} min of schemathesis")
    print("\n".join(summary[-5:]))
    if write:
        common.write_result("memory", result)
    return result


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    run(args.minutes, write=not args.no_write)
