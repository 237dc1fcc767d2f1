"""SQLAlchemy engine and the request-scoped session: one transaction per request.

Services only `flush()`; the single `commit()` happens in `commit_if_ok` after a successful
response. Anything else (an error response, an exception) rolls back in teardown.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping

import psycopg
from flask import Flask, g
from psycopg.types.string import ByteaBinaryLoader
from sqlalchemy import MetaData, create_engine, text
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


class Database:
    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.sessionmaker: sessionmaker[Session] | None = None
        # where rows_as_bytes runs (the tests put their rolled-back connection here)
        self.autocommit_connection = self._pooled_autocommit

    def init_app(self, app: Flask) -> None:
        url = app.config["DATABASE_URL"]
        if not url:
            raise RuntimeError("DATABASE_URL is not set and no private cluster was started")
        self.engine = create_engine(
            url,
            pool_size=5,
            max_overflow=10,
            # no ping before each checkout (a round trip per request): a connection lost to a
            # PostgreSQL restart fails one request with a 503 (app.errors) and the pool renews
            pool_pre_ping=False,
            # custom plans: a generic plan for the list query scans and sorts every row of a
            # zoomed-out bbox (2.4 s vs 36 ms for all of Paris, bench/results/bbox.json)
            connect_args={"options": "-c timezone=UTC -c plan_cache_mode=force_custom_plan"},
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
            maker = self.read_sessionmaker if g.get("db_read_only") else self.sessionmaker
            g.db_session = maker()
        return g.db_session

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
        with self.autocommit_connection() as conn, conn.cursor(binary=True) as cur:
            # psycopg's C loader for binary bytea: text as the bytes PostgreSQL sent, copied
            # and never decoded
            cur.adapters.register_loader("text", ByteaBinaryLoader)
            return cur.execute(sql, params).fetchall()

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
    def read_only(view):
        """For views that only read: their session runs in autocommit, which spares the BEGIN
        and COMMIT round trips (~0.3 ms of a 500-feature bbox page). A write in such a
        view would commit on its own, so never put this on a view that writes."""

        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            g.db_read_only = True
            return view(*args, **kwargs)

        return wrapper

    def _commit_if_ok(self, response):
        session = g.get("db_session")
        if session is not None and response.status_code < 400 and not g.get("db_read_only"):
            session.commit()
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
