"""Writers at once: fresh verified accounts, and worker processes that each act for one account
at a time through the app's services, as gunicorn's workers serve one request at a time
(`petitions`, `missions`). Processes, not threads: in one process, the writer holding a row
lock waited for the GIL behind the others.

`pool_run(db_url, act, ids, workers)` starts `workers` processes (fork), each with its own
connection and an app context (the e-mails' texts, the site's URL), releases them at once, and
calls `act(session, user_id)` then COMMIT for each id taken from a shared queue; `anchor` is the
same processes inserting a row of their own per id, with no shared row to queue on.
"""

from __future__ import annotations

import multiprocessing
import queue
import time

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

ANCHOR_TABLE = """CREATE TABLE IF NOT EXISTS bench_anchor_rows (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id bigint, at timestamptz DEFAULT now())"""


def engine(url: str, **kwargs):
    return create_engine(url, connect_args={"options": "-c timezone=UTC"}, **kwargs)


def accounts(conn, prefix: str, n: int, name: str) -> tuple[int, int]:
    """n verified accounts in one statement: (first id, last id)."""
    ids = conn.execute(text("""
        INSERT INTO users (email, display_name, roles, email_verified_at)
        SELECT :prefix || i || '@bench.example', :name || ' ' || i, ARRAY['resident'], now()
        FROM generate_series(1, :n) i
        RETURNING id
    """), {"prefix": prefix, "name": name, "n": n}).scalars().all()
    return min(ids), max(ids)


def empty_anchor_table(conn) -> None:
    conn.execute(text(ANCHOR_TABLE))
    conn.execute(text("TRUNCATE bench_anchor_rows"))


def anchor(session: Session, user_id: int) -> None:
    session.execute(text("INSERT INTO bench_anchor_rows (user_id) VALUES (:u)"), {"u": user_id})


def _worker(db_url: str, act, todo, results, ready, go) -> None:
    from app import create_app

    app = create_app({"DATABASE_URL": db_url, "RATELIMIT_ENABLED": False})
    eng = engine(db_url, pool_size=1, max_overflow=0)
    times, errors = [], []
    with app.app_context(), Session(eng) as session:
        session.execute(text("SELECT 1"))  # connected before the start
        session.commit()
        ready.put(1)
        go.wait()
        while True:
            try:
                user_id = todo.get_nowait()
            except queue.Empty:
                break
            started = time.perf_counter()
            try:
                act(session, user_id)
                session.commit()
            except Exception as exc:  # noqa: BLE001 - reported, and fails the bench
                session.rollback()
                errors.append(repr(exc))
                continue
            times.append((time.perf_counter() - started) * 1000)
    eng.dispose()
    results.put((times, errors))


def pool_run(db_url: str, act, ids: list[int], workers: int) -> tuple[float, list[float], list[str]]:
    """`workers` processes calling `act` for `ids`, all released at once: (wall seconds, each
    call's ms, errors). `act` is a module-level function (or a partial of one)."""
    ctx = multiprocessing.get_context("fork")
    todo, results, ready, go = ctx.Queue(), ctx.Queue(), ctx.Queue(), ctx.Event()
    for i in ids:
        todo.put(i)
    time.sleep(0.5)  # the queue's feeder thread has flushed it
    procs = [ctx.Process(target=_worker, args=(db_url, act, todo, results, ready, go)) for _ in range(workers)]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=180)
    started = time.perf_counter()
    go.set()
    outcomes = [results.get(timeout=1800) for _ in procs]
    wall = time.perf_counter() - started
    for proc in procs:
        proc.join(60)
    return wall, [t for times, _ in outcomes for t in times], [e for _, errors in outcomes for e in errors]
