"""Servers of the tests' own, beside the development cluster: a small PostgreSQL primary and its
streaming replica (`pg_basebackup -R`), and PgBouncer (Debian's package) in front of a database.

They live under var/test-servers/<test database>/ (so that helpers running the suite at once do
not collide), run as the unprivileged OS user that owns the development cluster (PostgreSQL and
PgBouncer refuse root), listen on free ports on 127.0.0.1 and are stopped and removed by the
fixtures that start them. `own_app` builds an app on them without disturbing the suite's app.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg

from app import create_app
from app.areas.services import reset_category_index
from app.config import ROOT
from app.db import db
from app.ratelimit import limiter

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PGBOUNCER = Path("/usr/sbin/pgbouncer")
OS_USER = "postgres"  # as scripts/db.sh: PostgreSQL and PgBouncer refuse to run as root
READY_S = 30


def base_dir(name: str) -> Path:
    """An empty var/test-servers/<test database>/<name>, reachable by the OS user."""
    path = ROOT / "var" / "test-servers" / os.environ.get("CARTAGORA_TEST_DB", "cartagora_test") / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    if os.geteuid() == 0:
        for d in (path, *path.parents):  # as scripts/db.sh's open_path: o+x up to /
            if d == Path("/"):
                break
            d.chmod(d.stat().st_mode | 0o001)
        shutil.chown(path, OS_USER)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_owner(cmd: list) -> list[str]:
    cmd = [str(c) for c in cmd]
    return ["runuser", "-u", OS_USER, "--", *cmd] if os.geteuid() == 0 else cmd


def run(cmd: list, log: Path) -> None:
    with open(log, "a") as out:
        done = subprocess.run(as_owner(cmd), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{log.read_text()[-3000:]}")


class Cluster:
    """A PostgreSQL 15 cluster in `data`, on `port`."""

    def __init__(self, data: Path, port: int) -> None:
        self.data, self.port = data, port
        self.log = data.parent / f"{data.name}.commands.log"  # ours
        self.server_log = data.parent / f"{data.name}.server.log"  # the server's (its user's file)

    @classmethod
    def primary(cls, base: Path) -> Cluster:
        """initdb, WAL for a streaming replica, a replication role; started."""
        cluster = cls(base / "primary", free_port())
        run([PG_BIN / "initdb", "-D", cluster.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
             "--locale=C.UTF-8"], cluster.log)
        cluster.configure("wal_level = replica", "max_wal_senders = 4",
                          # a test cluster: speed over durability
                          "fsync = off", "full_page_writes = off", "shared_buffers = 64MB")
        cluster.start()
        with cluster.connect() as conn:
            conn.execute("CREATE ROLE replicator LOGIN REPLICATION")
            conn.execute("CREATE ROLE cartagora LOGIN SUPERUSER")
            conn.execute("CREATE DATABASE cartagora OWNER cartagora")
        return cluster

    def standby(self, base: Path) -> Cluster:
        """A streaming replica of this cluster: `pg_basebackup -R` (standby.signal and
        primary_conninfo written), on a port of its own; started and caught up."""
        standby = Cluster(base / "standby", free_port())
        run([PG_BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", self.port, "-U", "replicator",
             "-D", standby.data, "-R", "-X", "stream", "-c", "fast"], standby.log)
        standby.configure()  # its own port and socket directory (the copy has the primary's)
        standby.start()
        standby.wait_for(self)
        return standby

    def configure(self, *settings: str) -> None:
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\n".join(["", "# tests/servers.py", "listen_addresses = '127.0.0.1'",
                                  f"port = {self.port}", f"unix_socket_directories = '{self.data}'",
                                  "max_connections = 60", "jit = off", *settings, ""]))

    def pg_ctl(self, *args: str) -> None:
        run([PG_BIN / "pg_ctl", "-D", self.data, "-l", self.server_log, "-w", "-t", READY_S, *args], self.log)

    def start(self) -> None:
        self.pg_ctl("start")

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self.pg_ctl("-m", mode, "stop")

    def url(self, database: str = "cartagora") -> str:
        return f"postgresql+psycopg://cartagora@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname={database}",
                               autocommit=True)

    def wait_for(self, primary: Cluster, timeout_s: float = READY_S) -> None:
        """Until this standby has replayed everything the primary has written so far."""
        with primary.connect() as conn:
            target = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        deadline = time.monotonic() + timeout_s
        while True:
            with contextlib.suppress(psycopg.OperationalError), self.connect() as conn:
                if conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]).fetchone()[0]:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the standby on :{self.port} did not replay up to {target}")
            time.sleep(0.05)


class PgBouncer:
    """PgBouncer in transaction pooling in front of `server_port`'s `database`, with the app's
    connection defaults in its connect_query (README, "Deploying"); `pool_size` server
    connections at most, so that clients share them."""

    def __init__(self, base: Path, server_port: int, database: str, connect_query: str,
                 pool_size: int = 2) -> None:
        self.port, self.base = free_port(), base
        (base / "userlist.txt").write_text('"cartagora" ""\n')
        (base / "pgbouncer.ini").write_text(f"""\
[databases]
{database} = host=127.0.0.1 port={server_port} dbname={database} connect_query='{connect_query}'

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {base / "userlist.txt"}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 100
logfile = {base / "pgbouncer.log"}
""")
        # in the foreground, a child of this process (stopped by its own pid)
        self.process = subprocess.Popen(
            [PGBOUNCER, base / "pgbouncer.ini"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, **({"user": OS_USER, "group": OS_USER} if os.geteuid() == 0 else {}))
        deadline = time.monotonic() + READY_S
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"pgbouncer did not start:\n{(base / 'pgbouncer.log').read_text()}")
            time.sleep(0.05)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://cartagora@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(10)

    def log(self) -> str:
        return (self.base / "pgbouncer.log").read_text()


@contextlib.contextmanager
def own_app(config: dict, tmp: Path) -> Iterator:
    """An app of its own (its own DATABASE_URL...). The database handle and the rate limiter
    are process-wide, bound by the last create_app: they are put back afterwards, so that the
    suite's app (tests/conftest.py) is untouched."""
    saved_db, saved_limiter = dict(db.__dict__), dict(limiter.__dict__)
    reset_category_index()
    app = create_app({"TESTING": True, "SECRET_KEY": secrets.token_hex(32), "RATELIMIT_ENABLED": False,
                      "MEDIA_DIR": tmp / "media", "MAILBOX_PATH": tmp / "outbox.mbox", **config})
    try:
        yield app
    finally:
        for engine in (db.engine, db.replica and db.replica.engine):
            if engine is not None:
                engine.dispose()
        db.__dict__.clear()
        db.__dict__.update(saved_db)
        limiter.__dict__.clear()
        limiter.__dict__.update(saved_limiter)
        reset_category_index()


def cli(app, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output
