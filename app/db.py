"""SQLAlchemy engine and the request-scoped session: one transaction per request.

Services only `flush()`; the single `commit()` happens in `commit_if_ok` after a successful
response. Anything else (an error response, an exception) rolls back in teardown.
"""

from __future__ import annotations

import functools

from flask import Flask, g
from psycopg.adapt import Loader
from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# execution option: the statement's text columns come back as bytes, as PostgreSQL sent them
RAW_TEXT = "raw_text"


class _RawText(Loader):
    def load(self, data) -> bytes:
        return bytes(data)


@event.listens_for(Engine, "before_cursor_execute")
def _raw_text(conn, cursor, statement, parameters, context, executemany) -> None:
    """Any engine (the app's, the bench's): a page of stored Features goes out as the bytes
    libpq received, never decoded nor re-encoded."""
    if context.execution_options.get(RAW_TEXT):
        cursor.adapters.register_loader("text", _RawText)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Database:
    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.sessionmaker: sessionmaker[Session] | None = None

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


db = Database()
