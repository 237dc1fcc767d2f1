"""SQLAlchemy engine and the request-scoped session: one transaction per request.

Services only `flush()`; the single `commit()` happens in `commit_if_ok` after a successful
response. Anything else (an error response, an exception) rolls back in teardown.

Every statement runs under the statement timeout of its request's class (config
`STATEMENT_TIMEOUT_MS`): the view's declared `cost` (`operation(cost=…)`, `@db.cost(…)`), else
`read` for GET and HEAD and `write` for other methods; outside a request (CLI, imports) `cli`.
The `read` timeout is every connection's own default (a startup option: no round trip on the
hot path); another class's is one `SET LOCAL` at the start of each transaction, so it ends
with it. A statement cancelled by its timeout becomes a 503 (app.errors).

Beyond one machine (README, "Deploying"): with `DATABASE_REPLICA_URL`, the read-only views
(`@db.read_only`) of anonymous requests read from a streaming replica while it answers and is
at most `DATABASE_REPLICA_MAX_LAG_S` behind; a request with credentials, or from a browser that
wrote within that bound, reads from the primary (its author sees its own writes). With
`DATABASE_POOLER = "pgbouncer"` the app keeps no session state on its connections: PgBouncer in
transaction pooling hands each transaction whichever server connection is free.
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping

import psycopg
from flask import Flask, current_app, g, has_request_context, request, session
from psycopg.types.string import ByteaBinaryLoader
from sqlalchemy import MetaData, create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# session.info key: the statement timeout (ms) to SET LOCAL in each of the session's transactions
TIMEOUT = "statement_timeout_ms"
POOLERS = ("pgbouncer",)
# set on the response of a committed write when a replica is configured: the browser's next
# reads within the replica's bound come from the primary (the time of the write, in seconds)
WROTE_COOKIE = "db_wrote"
# a replica that failed is asked again after this many of its checks' intervals
REPLICA_RETRY_CHECKS = 10
# how far behind the replica is, in seconds: 0 when it has replayed all it received (an idle
# primary sends nothing, and the time since its last replayed commit says nothing then); NULL,
# not usable, when it has received WAL but has not replayed a transaction since it started.
# A server that is not in recovery (a promoted replica) is not behind.
REPLICA_LAG_SQL = """
SELECT CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
            THEN 0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END
"""


def request_cost() -> str:
    """The current request's class of statement timeout (config `STATEMENT_TIMEOUT_MS`)."""
    if not has_request_context():
        return "cli"
    view = current_app.view_functions.get(request.endpoint)
    return getattr(view, "__cost__", None) or ("read" if request.method in READ_METHODS else "write")


@event.listens_for(Session, "after_begin")
def _set_statement_timeout(session: Session, transaction, connection) -> None:
    """Give the transaction its class's timeout. LOCAL: it ends with the transaction (or with
    the savepoint the tests' sessions begin), so a pooled connection keeps its default."""
    timeout = session.info.get(TIMEOUT)
    if timeout is None and not has_request_context():
        # a session not made by `db.session`, outside any request (a script's, a test's own):
        # a command, not a public read
        timeout = db.command_timeout_ms
    if timeout is not None and not transaction.nested:
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout)}")


class Database:
    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.command_timeout_ms: int | None = None  # None: before init_app, nothing to set
        self.sessionmaker: sessionmaker[Session] | None = None
        # where rows_as_bytes runs (the tests put their rolled-back connection here)
        self.autocommit_connection = self._pooled_autocommit
        self.replica: Replica | None = None
        self.pooler: str | None = None

    def init_app(self, app: Flask) -> None:
        url = app.config["DATABASE_URL"]
        if not url:
            raise RuntimeError("DATABASE_URL is not set and no private cluster was started")
        self.pooler = app.config.get("DATABASE_POOLER") or None
        if self.pooler not in (None, *POOLERS):
            raise RuntimeError(f"DATABASE_POOLER must be one of {', '.join(POOLERS)}, or unset")
        # the `read` class's timeout is the connections' default: the hot path sets nothing
        self.default_timeout_ms = int(app.config["STATEMENT_TIMEOUT_MS"]["read"])
        self.command_timeout_ms = int(app.config["STATEMENT_TIMEOUT_MS"]["cli"])
        self.engine = self.create_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        # read-only views run their statements in autocommit: no BEGIN/COMMIT round trips
        self.read_sessionmaker = sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)
        replica_url = app.config.get("DATABASE_REPLICA_URL")
        self.replica = Replica(
            # a replica that does not answer costs one request at most this long (libpq's minimum)
            self.create_engine(replica_url, connect_timeout=2),
            float(app.config["DATABASE_REPLICA_MAX_LAG_S"]), float(app.config["DATABASE_REPLICA_CHECK_S"]),
        ) if replica_url else None
        app.extensions["db"] = self
        app.after_request(self._commit_if_ok)
        app.teardown_appcontext(self._close)

    def create_engine(self, url: str, **connect_args) -> Engine:
        """An engine whose connections have the app's defaults (`server_defaults`)."""
        defaults = server_defaults(self.default_timeout_ms)
        if self.pooler == "pgbouncer":
            # PgBouncer (1.18, Debian 12) refuses the `options` startup parameter, and in
            # transaction pooling a session setting would land on whichever server connection
            # ran it: its server connections get the defaults from its `connect_query`, and
            # each of our connections checks them once. psycopg's automatic prepared statements
            # live on one server connection, which other clients then share ("prepared
            # statement _pg3_0 already exists"): off, every statement is parsed each time.
            connect_args["prepare_threshold"] = None
        else:
            connect_args["options"] = " ".join(f"-c {name}={value}" for name, value in defaults.items())
        engine = create_engine(
            url,
            pool_size=5,
            max_overflow=10,
            # no ping before each checkout (a round trip per request): a connection lost to a
            # PostgreSQL restart fails one request with a 503 (app.errors) and the pool renews
            pool_pre_ping=False,
            connect_args=connect_args,
        )
        if self.pooler:
            event.listen(engine, "connect", functools.partial(_check_server_defaults, defaults))
        return engine

    @property
    def session(self) -> Session:
        if "db_session" not in g:
            timeout = self.statement_timeout()
            own = timeout != self.default_timeout_ms  # needs a transaction to SET LOCAL in
            read_only = g.get("db_read_only") and not own
            source = self.replica if self.on_replica() else self
            g.db_session = (source.read_sessionmaker if read_only else source.sessionmaker)()
            if own:
                g.db_session.info[TIMEOUT] = timeout
        return g.db_session

    def statement_timeout(self) -> int:
        """The current request's (or command's) statement timeout in ms, 0 for none."""
        return int(current_app.config["STATEMENT_TIMEOUT_MS"][request_cost()])

    def on_replica(self) -> bool:
        """Whether this request reads from the replica, decided at its first statement: a
        read-only view, no credentials and no recent write (else the primary, where its author
        sees what they wrote and a signed-out session or revoked token stops at once), and a
        replica that answers and is close enough behind (else the primary too)."""
        if self.replica is None:
            return False
        routed = g.get("db_replica")
        if routed is None:
            routed = g.db_replica = bool(g.get("db_read_only")) and not self._reads_own_writes() \
                and self.replica.usable()
        return routed

    def _reads_own_writes(self) -> bool:
        from app.accounts.auth import SESSION_TOKEN_KEY  # app.accounts imports this module

        if "Authorization" in request.headers or SESSION_TOKEN_KEY in session:
            return True
        wrote = request.cookies.get(WROTE_COOKIE, "")
        return wrote.isdigit() and time.time() - int(wrote) < self.replica.window_s

    def rows_as_bytes(self, statement: str, params: Mapping) -> list[tuple]:
        """Rows of one read-only statement (`:name` parameters) as plain tuples, text columns
        as bytes: the bbox page's path (app.contributions.queries.list_features).

        It runs on a pooled connection in autocommit, outside the request's session, with a
        binary-format result: no SQLAlchemy Row, no text decoding (~0.6 ms of Python per
        500-feature page, bench/results/bbox.json). A connection lost to a PostgreSQL restart
        is dropped with the pool's other connections and raised as SQLAlchemy would, so the
        client gets the same 503 (app.errors).
        """
        sql = _psycopg_sql(statement, self.engine.dialect)
        timeout = self.statement_timeout()
        connection = self.replica.autocommit_connection if self.on_replica() else self.autocommit_connection
        with connection() as conn, conn.cursor(binary=True) as cur:
            # psycopg's C loader for binary bytea: text as the bytes PostgreSQL sent, copied
            # and never decoded
            cur.adapters.register_loader("text", ByteaBinaryLoader)
            if timeout == self.default_timeout_ms:  # the connection's own: nothing to set
                return cur.execute(sql, params).fetchall()
            # another class (never the hot path): a transaction of its own to scope a SET LOCAL,
            # rolled back (it only read), so nothing outlives it on the connection — behind
            # PgBouncer, a session SET would stay on a server connection other clients get
            with conn.transaction(force_rollback=True):
                cur.execute(f"SET LOCAL statement_timeout = {int(timeout)}")
                return cur.execute(sql, params).fetchall()

    def _pooled_autocommit(self) -> contextlib.AbstractContextManager[psycopg.Connection]:
        return pooled_autocommit(self.engine)

    @staticmethod
    def cost(name: str):
        """The request class (config `STATEMENT_TIMEOUT_MS`) of a view not declared with
        `operation(cost=…)`, when its method's default does not fit."""

        def decorator(view):
            view.__cost__ = name
            return view

        return decorator

    @staticmethod
    def read_only(view):
        """For views that only read: their session runs in autocommit, which spares the BEGIN
        and COMMIT round trips (~0.3 ms of a 500-feature bbox page), and may run on the
        replica. A write in such a view would commit on its own (or fail on the replica), so
        never put this on a view that writes."""

        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            g.db_read_only = True
            try:
                return view(*args, **kwargs)
            except DBAPIError as exc:
                if not (g.get("db_replica") and replica_failed(exc)):
                    raise
                # the replica went away under this request: it only read, so it reads again,
                # from the primary, as every request will until the replica answers again
                db.replica.lost()
                db._close(None)
                g.db_replica = False
                return view(*args, **kwargs)

        return wrapper

    @staticmethod
    def abandon() -> None:
        """A refusal a page answers with a redirect (its message shown on the next page):
        nothing this request wrote is kept — a 302 alone would commit it — and the photos it
        stored are removed (app.contributions.media)."""
        g.db_abandoned = True
        session = g.get("db_session")
        if session is not None:
            session.rollback()

    def _commit_if_ok(self, response):
        session = g.get("db_session")
        if (session is not None and response.status_code < 400 and not g.get("db_read_only")
                and not g.get("db_abandoned")):
            try:
                session.commit()
            except DBAPIError as exc:
                # the connection was lost at COMMIT: the outcome is unknown, so the app's own
                # handlers answer (a 503 with Retry-After; a retry with its Idempotency-Key
                # replays the answer if it did commit), not Flask's bare 500
                return current_app.make_response(current_app.handle_user_exception(exc))
            g.db_committed = True
            if self.replica is not None and request.method not in READ_METHODS:
                self._remember_write(response)
        return response

    def _remember_write(self, response) -> None:
        """The browser reads from the primary until this write is on the replica for sure."""
        window = self.replica.window_s
        response.set_cookie(WROTE_COOKIE, str(math.ceil(time.time())), max_age=math.ceil(window),
                            httponly=True, samesite="Lax",
                            secure=current_app.config["SESSION_COOKIE_SECURE"])

    def _close(self, exc) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()  # rolls back anything not committed


class Replica:
    """A streaming replica of the primary, read from while it answers and is close enough
    behind. Each process asks it how far behind it is at most every `check_s` (one query, by
    the request that finds the answer stale; the others meanwhile keep the last answer)."""

    def __init__(self, engine: Engine, max_lag_s: float, check_s: float) -> None:
        self.engine, self.max_lag_s, self.check_s = engine, max_lag_s, check_s
        self.sessionmaker = sessionmaker(engine, expire_on_commit=False)
        self.read_sessionmaker = sessionmaker(
            engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)
        self.autocommit_connection: Callable[[], contextlib.AbstractContextManager[psycopg.Connection]] \
            = functools.partial(pooled_autocommit, engine)
        self.up = False
        self.lag_s: float | None = None  # at the last check; None: it did not answer
        self.checked_until = 0.0  # time.monotonic() until which the last check holds
        self._checking = threading.Lock()

    @property
    def window_s(self) -> float:
        """How long a write may take to reach the replicas read from: their bound, plus the
        time an answer to "how far behind?" is kept."""
        return self.max_lag_s + self.check_s

    def usable(self) -> bool:
        if time.monotonic() >= self.checked_until and self._checking.acquire(blocking=False):
            try:
                self.check()
            finally:
                self._checking.release()
        return self.up

    def check(self) -> None:
        try:
            with self.autocommit_connection() as conn:
                lag = conn.execute(REPLICA_LAG_SQL).fetchone()[0]
        except DBAPIError:
            self.lost()
            return
        self.lag_s = None if lag is None else float(lag)
        self.up = self.lag_s is not None and self.lag_s <= self.max_lag_s
        self.checked_until = time.monotonic() + self.check_s

    def lost(self) -> None:
        """It failed: read from the primary, and ask it again later."""
        self.up, self.lag_s = False, None
        self.checked_until = time.monotonic() + REPLICA_RETRY_CHECKS * self.check_s
        self.engine.dispose()


def replica_failed(exc: DBAPIError) -> bool:
    """A replica's failure, which the primary would not have: it went away (or refused the
    connection), or cancelled the read for a conflict with its replay. Not the request's own
    statement timeout: that is a 503, on either server."""
    cause = exc.orig
    if isinstance(cause, psycopg.errors.QueryCanceled):
        return False
    return exc.connection_invalidated or isinstance(
        cause, psycopg.OperationalError | psycopg.errors.SerializationFailure)


@contextlib.contextmanager
def pooled_autocommit(engine: Engine) -> Iterator[psycopg.Connection]:
    """A connection of `engine`'s pool, in autocommit while it is lent."""
    fairy = engine.raw_connection()
    conn = fairy.driver_connection
    try:
        conn.autocommit = True
        yield conn
    except psycopg.Error as exc:
        lost = conn.broken or conn.closed
        if lost:  # PostgreSQL restarted: the pool's other connections are gone too
            fairy.invalidate(exc)
            engine.dispose()
        raise DBAPIError.instance(None, None, exc, psycopg.Error, connection_invalidated=lost) from exc
    finally:
        if not conn.closed:
            conn.autocommit = False
        fairy.close()


def server_defaults(read_timeout_ms: int) -> dict[str, str]:
    """Every connection's settings: UTC, custom plans, the `read` class's statement timeout."""
    return {"TimeZone": "UTC",
            # custom plans: a generic plan for the list query scans and sorts every row of a
            # zoomed-out bbox (2.4 s vs 36 ms for all of Paris, bench/results/bbox.json)
            "plan_cache_mode": "force_custom_plan",
            "statement_timeout": str(read_timeout_ms)}


def connect_query(defaults: dict[str, str]) -> str:
    """The `connect_query` that gives a pooler's server connections these defaults."""
    return "; ".join(f"SET {name} = {value}" for name, value in defaults.items())


def _check_server_defaults(defaults: dict[str, str], dbapi_connection, connection_record) -> None:
    """Behind a pooler, the server connections' defaults are the pooler's to set (README,
    "Deploying"): refuse to run without them rather than run without a statement timeout."""
    with dbapi_connection.cursor() as cur:
        found = dict(cur.execute("SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                                 [list(defaults)]).fetchall())
    dbapi_connection.rollback()
    wrong = [f"{name} is {found.get(name)!r}" for name, value in defaults.items() if found.get(name) != value]
    if wrong:
        dbapi_connection.close()  # never lent: the pool forgets it
        raise RuntimeError(f"the pooler's server connections lack the app's defaults ({', '.join(wrong)}): "
                           f"give its database connect_query='{connect_query(defaults)}' (README, Deploying)")


@functools.lru_cache(maxsize=256)
def _psycopg_sql(statement: str, dialect) -> str:
    """`:name` parameters as psycopg's `%(name)s`, by SQLAlchemy's own compiler (cached)."""
    return str(text(statement).compile(dialect=dialect))


db = Database()
