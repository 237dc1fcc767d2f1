"""SQLAlchemy engine and the request-scoped session: one transaction per request.

Services only `flush()`; the single `commit()` happens in `commit_if_ok` after a successful
response. Anything else (an error response, an exception) rolls back in teardown.

Every statement runs under the statement timeout of its request's class (config
`STATEMENT_TIMEOUT_MS`): the view's declared `cost` (`operation(cost=…)`, `@db.cost(…)`), else
`read` for GET and HEAD and `write` for other methods; outside a request (CLI, imports) `cli`.
The `read` timeout is every connection's own default (a startup option: no round trip on the
hot path); another class's is one `SET LOCAL` at the start of each transaction, so it ends
with it. A statement cancelled by its timeout becomes a 503 (app.errors).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping

import psycopg
from flask import Flask, current_app, g, has_request_context, request
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
SETTABLE = (psycopg.pq.TransactionStatus.IDLE, psycopg.pq.TransactionStatus.INTRANS)


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

    def init_app(self, app: Flask) -> None:
        url = app.config["DATABASE_URL"]
        if not url:
            raise RuntimeError("DATABASE_URL is not set and no private cluster was started")
        # the `read` class's timeout is the connections' default: the hot path sets nothing
        self.default_timeout_ms = int(app.config["STATEMENT_TIMEOUT_MS"]["read"])
        self.command_timeout_ms = int(app.config["STATEMENT_TIMEOUT_MS"]["cli"])
        self.engine = create_engine(
            url,
            pool_size=5,
            max_overflow=10,
            # no ping before each checkout (a round trip per request): a connection lost to a
            # PostgreSQL restart fails one request with a 503 (app.errors) and the pool renews
            pool_pre_ping=False,
            # custom plans: a generic plan for the list query scans and sorts every row of a
            # zoomed-out bbox (2.4 s vs 36 ms for all of Paris, bench/results/bbox.json)
            connect_args={"options": "-c timezone=UTC -c plan_cache_mode=force_custom_plan "
                                     f"-c statement_timeout={self.default_timeout_ms}"},
        )
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        # read-only views run their statements in autocommit: no BEGIN/COMMIT round trips
        self.read_sessionmaker = sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)
        app.extensions["db"] = self
        app.after_request(self._commit_if_ok)
        app.teardown_appcontext(self._close)

    @property
    def session(self) -> Session:
        if "db_session" not in g:
            timeout = self.statement_timeout()
            own = timeout != self.default_timeout_ms  # needs a transaction to SET LOCAL in
            read_only = g.get("db_read_only") and not own
            g.db_session = (self.read_sessionmaker if read_only else self.sessionmaker)()
            if own:
                g.db_session.info[TIMEOUT] = timeout
        return g.db_session

    def statement_timeout(self) -> int:
        """The current request's (or command's) statement timeout in ms, 0 for none."""
        return int(current_app.config["STATEMENT_TIMEOUT_MS"][request_cost()])

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
        with self.autocommit_connection() as conn, conn.cursor(binary=True) as cur:
            # psycopg's C loader for binary bytea: text as the bytes PostgreSQL sent, copied
            # and never decoded
            cur.adapters.register_loader("text", ByteaBinaryLoader)
            if timeout == self.default_timeout_ms:  # the connection's own: nothing to set
                return cur.execute(sql, params).fetchall()
            # another class (never the hot path): autocommit has no transaction to scope a
            # SET LOCAL, so a session setting, put back before the connection returns to the pool
            cur.execute(f"SET statement_timeout = {int(timeout)}")
            try:
                return cur.execute(sql, params).fetchall()
            finally:
                if conn.info.transaction_status in SETTABLE:  # else lost, or (tests) aborted
                    cur.execute("RESET statement_timeout")

    @contextlib.contextmanager
    def _pooled_autocommit(self) -> Iterator[psycopg.Connection]:
        fairy = self.engine.raw_connection()
        conn = fairy.driver_connection
        try:
            conn.autocommit = True
            yield conn
        except psycopg.Error as exc:
            lost = conn.broken or conn.closed
            if lost:  # PostgreSQL restarted: the pool's other connections are gone too
                fairy.invalidate(exc)
                self.engine.dispose()
            raise DBAPIError.instance(None, None, exc, psycopg.Error, connection_invalidated=lost) from exc
        finally:
            if not conn.closed:
                conn.autocommit = False
            fairy.close()

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
        and COMMIT round trips (~0.3 ms of a 500-feature bbox page). A write in such a
        view would commit on its own, so never put this on a view that writes."""

        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            g.db_read_only = True
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
        return response

    def _close(self, exc) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()  # rolls back anything not committed


@functools.lru_cache(maxsize=256)
def _psycopg_sql(statement: str, dialect) -> str:
    """`:name` parameters as psycopg's `%(name)s`, by SQLAlchemy's own compiler (cached)."""
    return str(text(statement).compile(dialect=dialect))


db = Database()
