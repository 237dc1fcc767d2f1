"""`faults`: no acknowledged write is lost when a gunicorn worker is SIGKILLed or PostgreSQL
restarts under load, the API answers 503 with Retry-After while the database is down, and it
recovers by itself.

Everything runs on the bench's own PostgreSQL 15 cluster (initdb into a temporary directory,
a free port, `synchronous_commit = on`), never on the shared development cluster: this bench
restarts and crashes its server. The app is `gunicorn --workers 2` against it, rate limits
off (CARTAGORA_RATELIMIT=0, counted in memory: REDIS_URL=memory://).

The load: `threads` clients, one account each, looping over two writes:
* create a report (POST /api/v1/reports), each logical create with its own Idempotency-Key
  and a unique title, retried with the same key after a connection error, a timeout or a 5xx
  (honouring Retry-After) until it is acknowledged;
* vote "me too" on an acknowledged report (PUT /api/v1/reports/{id}/vote), once per
  (account, report) and never retried, so an unanswered vote that committed shows up as such.

Phase 1 SIGKILLs the oldest gunicorn worker every `kill_every_s` (the master forks a new one).
Phase 2 restarts PostgreSQL (`pg_ctl restart -m fast`), then crashes it (`pg_ctl stop -m
immediate`), leaves it down `down_s` and starts it again (crash recovery). Afterwards the
database must hold every acknowledged create (id and title) and every acknowledged vote, no
title twice (the Idempotency-Key retries), and the vote counters must match the votes.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from bench import common
from bench.common import BenchDb, log
from bench.server import Gunicorn

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_OS_USER = "postgres"  # PostgreSQL refuses to run as root
NOTRE_DAME = (2.3499, 48.8530)
CATEGORY = "graffitis"
PASSWORD = "faults bench password"
CLIENT_TIMEOUT_S = 10.0
RETRY_AFTER_CAP_S = 2.0  # a client honours Retry-After, up to this
CONNECTION_RETRY_S = 0.2  # pause after a refused or cut connection
GRACE_S = 15.0  # after the load stops, an unacknowledged create keeps retrying this long
PROBLEM_JSON = "application/problem+json"
PROBE_EVERY_S = 0.1


# --------------------------------------------------------------------------- PostgreSQL


def _as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", PG_OS_USER, "--", *cmd] if os.geteuid() == 0 else cmd


def _open_path(path: Path) -> None:
    """Let the postgres OS user reach `path` through its parents (as scripts/db.sh does)."""
    if os.geteuid() != 0:
        return
    for parent in path.parents:
        if parent == Path("/"):
            break
        if subprocess.run(_as_owner(["test", "-x", str(parent)])).returncode:
            log(f"faults: granting o+x on {parent} so that {PG_OS_USER} can reach {path}")
            parent.chmod(parent.stat().st_mode | 0o001)


class Cluster:
    """A throw-away PostgreSQL 15 cluster of the bench's own, which it may restart and crash."""

    def __init__(self, base: Path) -> None:
        self.base, self.data, self.port = base, base / "pg", common.free_port()
        self.server_log, self.ctl_log = base / "server.log", base / "pg_ctl.log"
        _open_path(base)
        if os.geteuid() == 0:
            shutil.chown(base, PG_OS_USER)
        self._run(PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"""
# cartagora faults bench
listen_addresses = '127.0.0.1'
port = {self.port}
unix_socket_directories = '{self.data}'
max_connections = 100
jit = off
# every acknowledged COMMIT is on disk (the development cluster has it off)
synchronous_commit = on
fsync = on
""")
        self.start()
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute("CREATE ROLE cartagora LOGIN SUPERUSER")
            conn.execute("CREATE DATABASE cartagora OWNER cartagora")

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://cartagora@127.0.0.1:{self.port}/cartagora"

    def _run(self, *cmd) -> None:
        with open(self.ctl_log, "a") as out:
            done = subprocess.run(_as_owner([str(c) for c in cmd]), stdin=subprocess.DEVNULL, stdout=out,
                                  stderr=subprocess.STDOUT)
        if done.returncode:
            raise SystemExit(f"bench: {' '.join(map(str, cmd))} failed:\n{self.ctl_log.read_text()[-2000:]}")

    def pg_ctl(self, *args: str) -> None:
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.server_log, "-w", "-t", "60", *args)

    def start(self) -> None:
        self.pg_ctl("start")

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("-m", mode, "stop")

    def restart(self, mode: str = "fast") -> None:
        self.pg_ctl("-m", mode, "restart")

    def running(self) -> bool:
        return subprocess.run(_as_owner([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "status"]),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


# --------------------------------------------------------------------------- HTTP


@dataclass
class Attempt:
    op: str  # create | vote | setup
    started: float
    ended: float
    status: int | None = None  # None: no answer (connection refused or cut, timeout)
    error: str | None = None
    code: str | None = None  # the problem's `code`
    retry_after: str | None = None
    problem: bool = False  # Content-Type application/problem+json
    replayed: bool = False  # Idempotent-Replayed: true

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def outcome(self) -> str:
        if self.status is None:
            return f"no answer ({self.error})"
        return f"{self.status} {self.code}" if self.code else str(self.status)


def request(port: int, op: str, method: str, path: str, body: dict | None = None,
            headers: dict[str, str] | None = None) -> tuple[Attempt, dict | None]:
    """One HTTP request on a new connection (gunicorn's sync workers close each one anyway)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT_S)
    attempt = Attempt(op, time.monotonic(), 0.0)
    payload = None
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Content-Type": "application/json", "Accept": "application/json",
                              **(headers or {})})
        response = conn.getresponse()
        raw = response.read()
        attempt.status = response.status
        attempt.retry_after = response.getheader("Retry-After")
        attempt.replayed = response.getheader("Idempotent-Replayed") == "true"
        content_type = response.getheader("Content-Type") or ""
        attempt.problem = content_type.startswith(PROBLEM_JSON)
        if "json" in content_type and raw:
            try:
                payload = json.loads(raw)
            except ValueError:
                attempt.error = "invalid JSON"
            if attempt.status >= 400 and isinstance(payload, dict):
                attempt.code = payload.get("code")
    except (OSError, http.client.HTTPException) as exc:
        attempt.error = type(exc).__name__
    finally:
        conn.close()
        attempt.ended = time.monotonic()
    return attempt, payload


@dataclass
class Account:
    id: int
    email: str
    token: str


def make_accounts(port: int, n: int, tag: str) -> list[Account]:
    accounts = []
    for i in range(n):
        email = f"faults-{tag}-{i}@example.org"
        attempt, _ = request(port, "setup", "POST", "/api/v1/auth/register",
                             {"email": email, "password": PASSWORD, "display_name": f"Faults {i}"})
        if attempt.status != 202:
            raise SystemExit(f"bench: register answered {attempt.outcome}")
        attempt, body = request(port, "setup", "POST", "/api/v1/auth/token",
                                {"email": email, "password": PASSWORD})
        if attempt.status != 201:
            raise SystemExit(f"bench: token answered {attempt.outcome}")
        accounts.append(Account(body["user"]["id"], email, body["access_token"]))
    return accounts


# --------------------------------------------------------------------------- the load


@dataclass
class Create:
    key: str
    title: str
    account: int
    attempts: list[Attempt] = field(default_factory=list)
    id: int | None = None  # the acknowledged report's id

    @property
    def committed_unanswered(self) -> bool:
        """A replayed answer after a failed attempt: that attempt had committed."""
        return any(a.replayed for a in self.attempts) and not self.attempts[0].ok


@dataclass
class Vote:
    account: int
    report: int
    attempt: Attempt


class Load:
    """`threads` clients, one account each, creating reports and voting on them."""

    def __init__(self, port: int, accounts: list[Account], tag: str, seed: int) -> None:
        self.port, self.accounts, self.tag, self.seed = port, accounts, tag, seed
        self.creates: list[Create] = []
        self.votes: list[Vote] = []
        self.acknowledged: list[int] = []  # report ids to vote on
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.give_up_at = float("inf")
        self.crashes: list[str] = []
        self.threads = [threading.Thread(target=self._client, args=(i, a), daemon=True)
                        for i, a in enumerate(accounts)]

        # /healthz every PROBE_EVERY_S: when the server itself is back, whatever the clients'
        # Retry-After pauses
        self.probes: list[Attempt] = []
        self.threads.append(threading.Thread(target=self._probe, daemon=True))

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def stop(self) -> None:
        self.stopping.set()
        self.give_up_at = time.monotonic() + GRACE_S
        for t in self.threads:
            t.join(GRACE_S + 2 * CLIENT_TIMEOUT_S)

    def _probe(self) -> None:
        while not self.stopping.is_set():
            attempt, _ = request(self.port, "healthz", "GET", "/healthz")
            self.probes.append(attempt)
            time.sleep(PROBE_EVERY_S)

    @property
    def attempts(self) -> list[Attempt]:
        return [a for c in self.creates for a in c.attempts] + [v.attempt for v in self.votes]

    def _client(self, i: int, account: Account) -> None:
        rng = random.Random(self.seed * 1000 + i)
        voted: set[int] = set()
        auth = {"Authorization": f"Bearer {account.token}"}
        n = 0
        try:
            while not self.stopping.is_set():
                with self.lock:
                    candidates = [r for r in self.acknowledged[-200:] if r not in voted]
                if candidates and rng.random() < 0.5:
                    report = rng.choice(candidates)
                    voted.add(report)
                    attempt, _ = request(self.port, "vote", "PUT", f"/api/v1/reports/{report}/vote",
                                         {"value": 1}, auth)
                    self.votes.append(Vote(account.id, report, attempt))
                    if not attempt.ok:
                        time.sleep(self._pause(attempt))
                else:
                    n += 1
                    self._create(account, auth, n)
        except Exception as exc:  # a bench bug, not a fault of the app: reported, never silent
            self.crashes.append(f"client {i}: {type(exc).__name__}: {exc}")

    def _create(self, account: Account, auth: dict, n: int) -> None:
        create = Create(f"faults-{self.tag}-{account.id}-{n}", f"Faults {self.tag} {account.id}-{n}", account.id)
        self.creates.append(create)
        body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(NOTRE_DAME)},
                "properties": {"title": create.title, "category": CATEGORY}}
        while time.monotonic() < self.give_up_at:
            attempt, payload = request(self.port, "create", "POST", "/api/v1/reports", body,
                                       {**auth, "Idempotency-Key": create.key})
            create.attempts.append(attempt)
            if attempt.ok:
                create.id = payload["id"]
                with self.lock:
                    self.acknowledged.append(create.id)
                return
            if attempt.status is not None and attempt.status < 500:
                return  # refused for good (a 4xx): not retried
            time.sleep(self._pause(attempt))

    @staticmethod
    def _pause(attempt: Attempt) -> float:
        if attempt.retry_after and attempt.retry_after.isdigit():
            return min(float(attempt.retry_after), RETRY_AFTER_CAP_S)
        return CONNECTION_RETRY_S


# --------------------------------------------------------------------------- the faults


def kill_workers(server: Gunicorn, duration: float, every: float, min_age: float = 2.0) -> list[dict]:
    """SIGKILL the oldest worker every `every` s (once it has lived `min_age` s, so that it
    has loaded the app and is serving, not booting)."""
    kills = []
    end = time.monotonic() + duration
    next_kill = time.monotonic() + every
    while time.monotonic() < end:
        time.sleep(0.05)
        if time.monotonic() < next_kill:
            continue
        workers = server.workers()
        if not workers or workers[0][1] < min_age:
            continue
        pid = workers[0][0]
        os.kill(pid, signal.SIGKILL)
        kills.append({"t": time.monotonic(), "pid": pid})
        next_kill = time.monotonic() + every
    return kills


def database_faults(cluster: Cluster, duration: float, down_s: float) -> list[dict]:
    """A fast restart, then a crash (immediate stop) with `down_s` s of outage and a start."""
    outages = []
    started = time.monotonic()
    time.sleep(0.1 * duration)
    t_down = time.monotonic()
    cluster.restart("fast")
    outages.append({"kind": "pg_ctl restart -m fast", "t_down": t_down, "t_up": time.monotonic()})
    time.sleep(max(0.0, started + 0.45 * duration - time.monotonic()))
    t_down = time.monotonic()
    cluster.stop("immediate")
    time.sleep(down_s)
    cluster.start()  # crash recovery replays the WAL
    outages.append({"kind": f"pg_ctl stop -m immediate, {down_s:g} s down, start",
                    "t_down": t_down, "t_up": time.monotonic()})
    time.sleep(max(0.0, started + duration - time.monotonic()))
    return outages


# --------------------------------------------------------------------------- the checks


def verify(cluster: Cluster, load: Load) -> dict:
    """What the database holds against what the clients were told."""
    accounts = [a.id for a in load.accounts]
    with psycopg.connect(cluster.url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        rows = conn.execute("SELECT id, title FROM contributions WHERE title LIKE %s",
                            (f"Faults {load.tag} %",)).fetchall()
        in_db_votes = set(conn.execute("SELECT user_id, contribution_id FROM votes WHERE user_id = ANY(%s)",
                                       (accounts,)).fetchall())
        counter_mismatch = conn.execute("""
            SELECT count(*) FROM contributions c
            WHERE c.title LIKE %s AND c.votes_up <> (SELECT count(*) FROM votes v
                                                     WHERE v.contribution_id = c.id AND v.value = 1)""",
                                        (f"Faults {load.tag} %",)).fetchone()[0]
    by_title = Counter(title for _, title in rows)
    ids = dict(rows)
    acked = [c for c in load.creates if c.id is not None]
    unacked = [c for c in load.creates if c.id is None]
    votes_acked = [v for v in load.votes if v.attempt.ok]
    votes_unacked = [v for v in load.votes if not v.attempt.ok]
    return {
        "creates": {
            "logical": len(load.creates),
            "requests": sum(len(c.attempts) for c in load.creates),
            "acknowledged": len(acked),
            "acknowledged_missing": sum(c.id not in ids for c in acked),
            "acknowledged_wrong_title": sum(c.id in ids and ids[c.id] != c.title for c in acked),
            "retried": sum(len(c.attempts) > 1 for c in load.creates),
            "acknowledged_by_a_replay": sum(c.attempts[-1].replayed for c in acked),
            "committed_but_unanswered": sum(c.committed_unanswered for c in load.creates),
            "committed_but_unanswered_by_outcome": dict(Counter(
                c.attempts[0].outcome for c in load.creates if c.committed_unanswered)),
            "never_acknowledged": len(unacked),
            "never_acknowledged_in_db": sum(by_title[c.title] > 0 for c in unacked),
            "duplicates": sum(n - 1 for n in by_title.values() if n > 1),
            "in_db": len(rows),
        },
        "votes": {
            "requests": len(load.votes),
            "acknowledged": len(votes_acked),
            "acknowledged_missing": sum((v.account, v.report) not in in_db_votes for v in votes_acked),
            "unanswered_or_failed": len(votes_unacked),
            "unanswered_or_failed_in_db": sum((v.account, v.report) in in_db_votes for v in votes_unacked),
            "unanswered_or_failed_in_db_by_outcome": dict(Counter(
                v.attempt.outcome for v in votes_unacked if (v.account, v.report) in in_db_votes)),
            "counter_mismatch": counter_mismatch,
        },
    }


def outage_report(outage: dict, attempts: list[Attempt], probes: list[Attempt], until: float) -> dict:
    """Answers from the moment PostgreSQL went down to the first success after it was back."""
    t_down, t_up = outage["t_down"], outage["t_up"]
    healthy = next((p for p in probes if p.ok and p.started >= t_up and p.ended <= until), None)
    seen = sorted((a for a in attempts if t_down <= a.ended <= until), key=lambda a: a.ended)
    back = next((a for a in seen if a.ok and a.started >= t_up), None)
    recovered = back.ended if back else until
    failed = [a for a in seen if not a.ok and a.ended <= recovered]
    s503 = [a for a in failed if a.status == 503]
    first_fail = failed[0].ended if failed else None
    return {
        "kind": outage["kind"],
        "pg_down_s": round(t_up - t_down, 2),
        "answers": len(seen),
        "answers_503": len(s503),
        "503_with_retry_after": sum(a.retry_after is not None and a.retry_after.isdigit() for a in s503),
        "503_problem_service_unavailable": sum(a.problem and a.code == "service_unavailable" for a in s503),
        "503_codes": dict(Counter(a.code for a in s503)),
        "answers_500": sum(a.status == 500 for a in failed),
        "no_answer": sum(a.status is None for a in failed),
        "other_failures": dict(Counter(a.outcome for a in failed if a.status not in (None, 500, 503))),
        "503_window_s": round(s503[-1].ended - s503[0].ended, 2) if s503 else 0.0,
        "api_failing_s": round(recovered - first_fail, 2) if first_fail else 0.0,
        "recovery_s": round(back.ended - t_up, 2) if back else None,
        "healthz_recovery_s": round(healthy.ended - t_up, 2) if healthy else None,
        "successes_during": sum(a.ok for a in seen if a.ended < t_up),
    }


EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit)\b.*)$")


def log_summary(path: Path) -> dict:
    """What gunicorn's log says: the exceptions behind the 500s, lost connections, kills."""
    text = path.read_text(errors="replace") if path.exists() else ""
    lines = text.splitlines()
    return {
        "exceptions": dict(Counter(m.group(1)[:240] for line in lines if (m := EXCEPTION_LINE.match(line)))
                           .most_common(12)),
        "unhandled_error_lines": dict(Counter(
            re.sub(r"/\d+/", "/{id}/", m.group(1)) for line in lines
            if (m := re.search(r"(unhandled error on \S+ \S+|Exception on \S+ \[\w+\])", line)))),
        "database_lost_or_unavailable_warnings": sum(
            "database connection lost" in line or "database unavailable" in line for line in lines),
        "worker_kill_lines": sum("was sent SIGKILL" in line for line in lines),
    }


# --------------------------------------------------------------------------- the run


def run(threads: int = 8, kill_phase_s: float = 20.0, kill_every_s: float = 2.5, db_phase_s: float = 30.0,
        down_s: float = 3.0, seed: int = 42, keep: bool = False) -> dict:
    """Set up a cluster and gunicorn, run both phases under load, check the database."""
    started = time.monotonic()
    tag = secrets.token_hex(3)
    base = Path(tempfile.mkdtemp(prefix="cartagora-faults-"))
    cluster = server = load = None
    steps: dict[str, float] = {}

    def step(name: str, since: float) -> float:
        steps[name] = round(time.monotonic() - since, 1)
        return time.monotonic()

    try:
        cluster = Cluster(base)
        mark = step("initdb_and_start", started)
        db = BenchDb(cluster.url)
        env = {**os.environ, "DATABASE_URL": cluster.url, "SECRET_KEY": secrets.token_hex(32),
               # rate limits off: 8 clients writing flat out would be 429s; counted in this
               # process's memory, never in the development Redis
               "CARTAGORA_RATELIMIT": "0", "REDIS_URL": "memory://",
               "CARTAGORA_MEDIA_DIR": str(base / "media"), "CARTAGORA_MAILBOX": str(base / "outbox.mbox")}
        env.pop("CARTAGORA_SECRET_FILE", None)
        for args in (("db", "upgrade"), ("geo", "load-areas"), ("geo", "load-categories")):
            done = subprocess.run([str(common.VENV_BIN / "flask"), "--app", "app:create_app", *args],
                                  cwd=common.ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"bench: flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
            mark = step(f"flask_{'_'.join(args).replace('-', '_')}", mark)
        server = Gunicorn(env, base / "gunicorn.log")
        mark = step("gunicorn_start", mark)
        accounts = make_accounts(server.port, threads, tag)
        step("accounts", mark)
        setup_s = time.monotonic() - started
        log(f"faults: cluster on :{cluster.port}, gunicorn on :{server.port}, {threads} accounts, "
            f"set up in {setup_s:.1f} s")

        load = Load(server.port, accounts, tag, seed)
        t0 = time.monotonic()
        load.start()
        log(f"faults: phase 1, SIGKILL a worker every {kill_every_s:g} s for {kill_phase_s:g} s")
        kills = kill_workers(server, kill_phase_s, kill_every_s)
        t1 = time.monotonic()
        respawned = server.wait_ready(30)
        log(f"faults: phase 2, PostgreSQL restarted and crashed within {db_phase_s:g} s")
        t2 = time.monotonic()
        outages = database_faults(cluster, db_phase_s, down_s)
        load.stop()
        t3 = time.monotonic()
        if load.crashes:
            raise RuntimeError("faults: client threads crashed: " + "; ".join(load.crashes))
        checks = verify(cluster, load)
        attempts = load.attempts
        server.stop()
        logged = log_summary(server.log_path)

        def in_phase(a: Attempt, lo: float, hi: float) -> bool:
            return lo <= a.started < hi

        phase1 = [a for a in attempts if in_phase(a, t0, t2)]
        phase2 = [a for a in attempts if in_phase(a, t2, float("inf"))]
        bounds = [o["t_down"] for o in outages[1:]] + [t3]
        outage_rows = [outage_report(o, attempts, load.probes, until)
                       for o, until in zip(outages, bounds, strict=True)]
        # from PostgreSQL going down to the first success after it is back
        windows = [(o["t_down"], o["t_up"] + (r["recovery_s"] if r["recovery_s"] is not None else 1e9))
                   for o, r in zip(outages, outage_rows, strict=True)]
        errors_500 = [a for a in attempts if a.status == 500]
        in_outage = [any(lo <= a.ended <= hi for lo, hi in windows) for a in errors_500]
        result = {
            "benchmark": "faults",
            "date": common.now_iso(),
            "machine": common.machine_facts(db),
            "loadavg_after": common.loadavg(),
            "settings": {
                "threads": threads, "kill_phase_s": kill_phase_s, "kill_every_s": kill_every_s,
                "db_phase_s": db_phase_s, "crash_down_s": down_s, "client_timeout_s": CLIENT_TIMEOUT_S,
                "retry": f"creates: same Idempotency-Key after no answer or a 5xx, Retry-After honoured "
                         f"up to {RETRY_AFTER_CAP_S:g} s, else {CONNECTION_RETRY_S:g} s; votes: never retried",
                "gunicorn": " ".join(server.cmd[1:]),
                "rate_limits": "off (CARTAGORA_RATELIMIT=0, REDIS_URL=memory://)",
                "postgresql": "own PostgreSQL 15 cluster in a temporary directory, synchronous_commit = on, "
                              "fsync = on",
            },
            "setup_s": round(setup_s, 1),
            "setup_steps_s": steps,
            "load_s": round(t3 - t0, 1),
            "total_s": round(time.monotonic() - started, 1),
            "requests": {
                "total": len(attempts),
                "successes": sum(a.ok for a in attempts),
                "by_outcome": dict(Counter(a.outcome for a in attempts).most_common()),
                "phase1_by_outcome": dict(Counter(a.outcome for a in phase1).most_common()),
                "phase2_by_outcome": dict(Counter(a.outcome for a in phase2).most_common()),
            },
            **checks,
            "worker_kills": {
                "kills": len(kills),
                "requests_cut": sum(a.status is None for a in phase1),
                "answers_500": sum(a.status == 500 for a in phase1),
                "kills_that_cut_a_request": sum(
                    any(a.status is None and k["t"] <= a.ended <= k["t"] + 1.0 for a in phase1) for k in kills),
                "respawned_and_healthy_after": respawned,
                "phase_s": round(t1 - t0, 1),
            },
            "outages": outage_rows,
            "errors_500": {
                "total": len(errors_500),
                "while_database_down": sum(in_outage),
                "other": len(errors_500) - sum(in_outage),
                "by_op": dict(Counter(a.op for a in errors_500)),
                # from gunicorn's log: app/errors.py's handler (a connection that could not be
                # opened) vs Flask's own 500 for an exception in after_request (the COMMIT)
                "logged_by_the_app_handler": sum(
                    n for line, n in logged["unhandled_error_lines"].items() if line.startswith("unhandled")),
                "logged_as_after_request_commit_failure": sum(
                    n for line, n in logged["unhandled_error_lines"].items() if line.startswith("Exception on")),
            },
            "gunicorn_log": logged,
        }
        result["checks"] = checks_passed(result)
        return result
    finally:
        if load is not None:
            load.stopping.set()
            load.give_up_at = 0.0
        if server is not None:
            server.stop()
        if cluster is not None and cluster.running():
            cluster.stop("fast")
        if keep:
            log(f"faults: kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def checks_passed(result: dict) -> dict:
    """The issue's claims, each true or false."""
    c, v, outages = result["creates"], result["votes"], result["outages"]
    return {
        "no_acknowledged_create_lost": c["acknowledged_missing"] == 0 and c["acknowledged_wrong_title"] == 0,
        "no_acknowledged_vote_lost": v["acknowledged_missing"] == 0,
        "no_duplicate_create": c["duplicates"] == 0,
        "vote_counters_exact": v["counter_mismatch"] == 0,
        "no_500": result["errors_500"]["total"] == 0,
        "no_500_outside_outages": result["errors_500"]["other"] == 0,
        "every_503_has_retry_after_and_problem": all(
            o["503_with_retry_after"] == o["503_problem_service_unavailable"] == o["answers_503"] for o in outages),
        "503_seen_in_every_outage": all(o["answers_503"] > 0 for o in outages),
        "recovered_without_restart": all(o["recovery_s"] is not None for o in outages),
        "workers_respawned": result["worker_kills"]["respawned_and_healthy_after"],
    }


def print_tables(result: dict) -> None:
    c, v, k, e = result["creates"], result["votes"], result["worker_kills"], result["errors_500"]
    common.print_table(
        f"faults — {result['settings']['threads']} clients, {result['load_s']:g} s of load "
        f"({result['requests']['total']:,} requests, {result['requests']['successes']:,} 2xx), "
        f"synchronous_commit = on, rate limits off",
        ["writes", "requests", "acknowledged", "acked, missing in DB", "unacked, in DB", "duplicates"],
        [
            ["report creates (Idempotency-Key, retried)", c["requests"], c["acknowledged"],
             c["acknowledged_missing"] + c["acknowledged_wrong_title"],
             c["committed_but_unanswered"] + c["never_acknowledged_in_db"], c["duplicates"]],
            ["votes (never retried)", v["requests"], v["acknowledged"], v["acknowledged_missing"],
             v["unanswered_or_failed_in_db"], None],
        ],
    )
    common.print_table(
        "faults — the faults",
        ["fault", "count", "503", "503 + Retry-After + problem", "500", "no answer", "503 window s",
         "API failing s", "recovery s: write", "/healthz"],
        [[f"SIGKILL a worker (every {result['settings']['kill_every_s']:g} s)", k["kills"], None, None,
          k["answers_500"], k["requests_cut"], None, None, None, None]]
        + [[o["kind"] + f" ({o['pg_down_s']:g} s)", 1, o["answers_503"],
            min(o["503_with_retry_after"], o["503_problem_service_unavailable"]), o["answers_500"],
            o["no_answer"], o["503_window_s"], o["api_failing_s"], o["recovery_s"], o["healthz_recovery_s"]]
           for o in result["outages"]],
    )
    common.print_table(
        "faults — checks",
        ["check", "result"],
        [[name, "ok" if passed else "FAILED"] for name, passed in result["checks"].items()]
        + [["500s while the database was down / other", f"{e['while_database_down']} / {e['other']}"],
           ["500s: no new connection (errors.py) / lost at COMMIT (after_request)",
            f"{e['logged_by_the_app_handler']} / {e['logged_as_after_request_commit_failure']}"],
           ["creates committed without an answer (then replayed)", c["committed_but_unanswered"]],
           ["creates never acknowledged (gave up)", c["never_acknowledged"]],
           ["votes unanswered or failed but saved", v["unanswered_or_failed_in_db"]]],
    )
    exceptions = result["gunicorn_log"]["exceptions"]
    if exceptions:
        common.print_table("faults — exceptions in gunicorn's log", ["exception", "lines"],
                           [[name[:150], n] for name, n in exceptions.items()])
