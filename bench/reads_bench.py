"""The read paths at 5M: list, contribution page, nearby, agent queue, "my contributions",
Open311 and OGC, each beside the issue's target and the same SQL replayed raw.

    .venv/bin/python -m bench reads [--rounds 30]

On the shared dataset (bench/dataset.py), in-process through Flask's test client (no HTTP, so
the time is the server's: routing, authentication, SQL, serialising). Every case is a few
requests (bboxes, ids, sorts…); a round asks each once, and `--rounds` rounds give the median
and p95 of all requests of the case.

The anchor: while the app answers, every SQL statement it sends is recorded (SQLAlchemy's
cursor events, and the bbox page's `rows_as_bytes`); the same statements are then replayed by
psycopg on a plain connection, in the same round, and timed with their fetch. "raw SQL" is
what PostgreSQL and libpq cost; ours ÷ raw SQL is what the app adds.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from bench import common, dataset

# (case, target ms): the issue's targets at 5M
TARGETS = {
    "list": 20.0, "contribution_api": 20.0, "contribution_html": 20.0, "nearby": 5.0, "queue": 50.0,
    "my_contributions": 20.0, "open311": 100.0, "ogc": 20.0,
}
BOX_M = (300, 200)  # a street-level map view, as bbox's protocol


@dataclass
class Case:
    name: str  # a row of the table
    target: str  # a key of TARGETS
    paths: list[str]
    headers: dict = field(default_factory=dict)
    cookie_user: int | None = None  # a web page signed in as this user
    ours: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    statements: list[list[tuple[str, object]]] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    failed: str | None = None  # "HTTP 503 …" when a warm-up request failed: measured once


class Recorder:
    """Records the statements the app sends (to replay them raw)."""

    def __init__(self, engine, app_db) -> None:
        from sqlalchemy import event

        self.seen: list[tuple[str, object]] = []
        self.on = False

        def before(conn, cursor, statement, parameters, context, executemany):
            if self.on:
                self.seen.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", before)
        original = app_db.rows_as_bytes
        from app.db import _psycopg_sql

        def rows_as_bytes(statement, params):
            if self.on:
                self.seen.append((_psycopg_sql(statement, engine.dialect), dict(params)))
            return original(statement, params)

        app_db.rows_as_bytes = rows_as_bytes


def sample_ids(conn, n: int, rng: random.Random) -> list[int]:
    """n visible reports drawn at random (ids are dense: random numbers between the bounds)."""
    lo, hi = conn.execute("SELECT min(id), max(id) FROM contributions").fetchone()
    picks = [rng.randint(lo, hi) for _ in range(n * 3)]
    found = {r[0] for r in conn.execute("SELECT id FROM contributions WHERE id = ANY(%s) AND kind = 'report' "
                                        "AND NOT hidden AND withdrawn_at IS NULL", (picks,))}
    return [i for i in dict.fromkeys(picks) if i in found][:n]


def _bboxes(conn, n: int, rng: random.Random) -> list[str]:
    """n street-level boxes (300 × 200 m) around reports drawn at random: a full page each."""
    boxes = []
    for cid in sample_ids(conn, n, rng):
        w, s, e, nn = conn.execute("""
            SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (
              SELECT ST_Transform(ST_Expand(geom_l93, %s, %s), 4326) AS b FROM contributions WHERE id = %s) x
        """, (BOX_M[0] / 2, BOX_M[1] / 2, cid)).fetchone()
        boxes.append(f"{w:.6f},{s:.6f},{e:.6f},{nn:.6f}")
    return boxes


def build_cases(conn, users: dict, rng: random.Random) -> list[Case]:
    ids = sample_ids(conn, 40, rng)
    commented = [r[0] for r in conn.execute(
        "SELECT contribution_id FROM comments GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 10")]
    points = conn.execute("""
        SELECT ST_X(c.geom), ST_Y(c.geom), cat.code FROM contributions c
        JOIN categories cat ON cat.id = c.category_id
        WHERE c.kind = 'report' AND c.status IN ('new', 'acknowledged') ORDER BY c.id DESC LIMIT 20
    """).fetchall()
    top_category = conn.execute("""SELECT cat.code FROM contributions c JOIN categories cat ON cat.id = c.category_id
        WHERE c.service_id = %s AND c.status = 'new' GROUP BY 1 ORDER BY count(*) DESC LIMIT 1""",
                                (users["agent_service"],)).fetchone()[0]
    arr = users["agent_arrondissements"][0]
    boxes = _bboxes(conn, 20, rng)
    bearer = {"Authorization": f"Bearer {users['agent_token']}"}
    heavy = {"Authorization": f"Bearer {users['heavy_token']}"}
    lon, lat = points[0][0], points[0][1]
    queue = "/api/v1/agent/queue"
    return [
        Case("list page: /api/v1/reports?bbox=…&limit=500", "list",
             [f"/api/v1/reports?bbox={b}&limit=500" for b in boxes]),
        Case("contribution: /api/v1/reports/<id>", "contribution_api",
             [f"/api/v1/reports/{i}" for i in ids + commented]),
        Case("contribution page: /c/<id> (HTML, signed in)", "contribution_html",
             [f"/c/{i}" for i in ids[:20] + commented], cookie_user=users["heavy"]),
        Case("nearby: /api/v1/reports/nearby", "nearby",
             [f"/api/v1/reports/nearby?lon={x:.6f}&lat={y:.6f}&category={code}" for x, y, code in points]),
        *[Case(f"agent queue: sort={sort}", "queue",
               [f"{queue}?sort={sort}" + (f"&lon={lon:.6f}&lat={lat:.6f}" if sort == "nearest" else "")],
               headers=bearer)
          for sort in ("priority", "oldest", "newest", "me_too", "nearest")],
        Case(f"agent queue: category={top_category}", "queue", [f"{queue}?category={top_category}"], headers=bearer),
        Case(f"agent queue: arrondissement={arr}, older_than_days=30", "queue",
             [f"{queue}?arrondissement={arr}&older_than_days=30"], headers=bearer),
        Case("agent queue: status=resolved, sort=newest", "queue", [f"{queue}?status=resolved&sort=newest"],
             headers=bearer),
        Case("agent queue: status=closed, sort=me_too", "queue", [f"{queue}?status=closed&sort=me_too"],
             headers=bearer),
        Case("agent queue: assigned=me", "queue", [f"{queue}?assigned=me"], headers=bearer),
        *[Case(f"my contributions: tab={tab} (heavy user)", "my_contributions",
               [f"/me/contributions?tab={tab}"], cookie_user=users["heavy"])
          for tab in ("published", "supported", "commented", "followed")],
        Case("Open311: /open311/v2/requests.json, last 90 days", "open311", ["/open311/v2/requests.json"]),
        Case("Open311: requests.json, 90 days a year ago, one service", "open311",
             [f"/open311/v2/requests.json?service_code={top_category}&start_date={users['year_ago']}"
              f"&end_date={users['year_ago_end']}"]),
        Case("OGC: /ogc/collections/reports/items (first page)", "ogc",
             ["/ogc/collections/reports/items?f=json"]),
        Case("OGC: items?bbox=…&limit=500", "ogc",
             [f"/ogc/collections/reports/items?bbox={b}&limit=500&f=json" for b in boxes[:10]]),
        Case("(heavy user's API token: /api/v1/reports/<id>)", "contribution_api",
             [f"/api/v1/reports/{ids[0]}"], headers=heavy),
    ]


def accounts(app, db: common.BenchDb) -> dict:
    """The heavy resident and the agent (scope: the busiest service in 3 arrondissements),
    with bearer tokens issued by the app."""
    from app.accounts import services as accounts_services
    from app.accounts.models import User
    from app.db import db as app_db

    with db.connect() as conn:
        heavy = conn.execute("SELECT id FROM users WHERE email = %s", (dataset.HEAVY_EMAIL,)).fetchone()[0]
        agent = conn.execute("SELECT id FROM users WHERE email = %s", (dataset.AGENT_EMAIL,)).fetchone()[0]
        dataset.agent_scope(conn, agent)
        scope = conn.execute("SELECT service_id, array_agg(arrondissement_id ORDER BY arrondissement_id) "
                             "FROM agent_scopes WHERE user_id = %s GROUP BY 1", (agent,)).fetchone()
        year_ago = conn.execute("SELECT (now() - interval '1 year')::date, "
                                "(now() - interval '1 year' + interval '90 days')::date").fetchone()
    with app.app_context():
        out = {}
        for name, uid in (("agent", agent), ("heavy", heavy)):
            user = app_db.session.get(User, uid)
            out[f"{name}_token"], _ = accounts_services.issue_token(app_db.session, user, 2)
            out[f"{name}_session"], _ = accounts_services.issue_token(app_db.session, user, 2, kind="session")
        app_db.session.commit()
    return {**out, "heavy": heavy, "agent": agent, "agent_service": scope[0],
            "agent_arrondissements": scope[1], "year_ago": year_ago[0].isoformat(),
            "year_ago_end": year_ago[1].isoformat()}


def replay(conn, statements) -> float:
    """The recorded statements, raw, in one transaction (rolled back); ms."""
    started = time.perf_counter()
    with conn.transaction(force_rollback=True):
        for statement, params in statements:
            cur = conn.execute(statement, params or None, prepare=False)
            if cur.description:
                cur.fetchall()
    return (time.perf_counter() - started) * 1000


def run(db: common.BenchDb, rounds: int = 30, seed: int = 42, quiet_wait: float = 60.0,
        only: str | None = None) -> dict:
    from app import create_app
    from app.accounts.auth import SESSION_TOKEN_KEY
    from app.db import db as app_db

    app = create_app({"DATABASE_URL": db.url, "RATELIMIT_ENABLED": False})
    users = accounts(app, db)
    rng = random.Random(seed)
    with db.connect() as conn:
        cases = build_cases(conn, users, rng)
        counts = conn.execute("SELECT count(*), count(*) FILTER (WHERE kind = 'proposal'), "
                              "count(*) FILTER (WHERE author_id = %s) FROM contributions",
                              (users["heavy"],)).fetchone()
    if only:
        cases = [c for c in cases if only in c.name or only == c.target]
    with app.app_context():
        recorder = Recorder(app_db.engine, app_db)
    client = app.test_client()
    raw_conn = db.connect(autocommit=False)
    raw_conn.execute("SET statement_timeout = '10s'")
    raw_conn.commit()
    for case in cases:  # warm-up: one request per path, and the statements it sends
        if case.cookie_user:
            with client.session_transaction() as s:
                s[SESSION_TOKEN_KEY] = users["heavy_session"]
        for path in case.paths:
            recorder.seen, recorder.on = [], True
            started = time.perf_counter()
            response = client.get(path, headers=case.headers)
            elapsed = (time.perf_counter() - started) * 1000
            recorder.on = False
            if response.status_code != 200:  # e.g. a 503 statement_timeout: a result, not measured again
                case.failed = f"HTTP {response.status_code} {(response.get_json(silent=True) or {}).get('code', '')}"
                case.ours, case.raw = [elapsed], [0.0]  # no anchor: the statement itself timed out
                common.log(f"reads: {path} answered {case.failed} after {elapsed:.0f} ms")
                break
            case.sizes.append(len(response.get_data()))
            case.statements.append(recorder.seen)
    common.log(f"reads: {len(cases)} cases, {rounds} rounds")
    quiet = common.wait_for_quiet(quiet_wait)
    load_before = common.loadavg()
    for _ in range(rounds):
        for case in cases:
            if case.failed:
                continue
            if case.cookie_user:
                with client.session_transaction() as s:
                    s[SESSION_TOKEN_KEY] = users["heavy_session"]
            for i, path in enumerate(case.paths):
                started = time.perf_counter()
                client.get(path, headers=case.headers).get_data()
                case.ours.append((time.perf_counter() - started) * 1000)
                case.raw.append(replay(raw_conn, case.statements[i]))
    raw_conn.close()
    rows = []
    for case in cases:
        ours, raw = common.summary(case.ours), common.summary(case.raw)
        target = TARGETS[case.target]
        rows.append({
            "what": case.name, "target_ms": target, "ours": ours, "raw_sql": raw,
            "ratio_to_raw": common.ratio(ours["median"], raw["median"]),
            "verdict": case.failed or ("ok" if ours["median"] <= target else "MISS"),
            "requests_per_round": len(case.paths), "statements_per_request": round(
                sum(len(s) for s in case.statements) / len(case.statements), 1) if case.statements else None,
            "bytes_median": sorted(case.sizes)[len(case.sizes) // 2] if case.sizes else None,
        })
    return {"benchmark": "reads", "date": common.now_iso(), "machine": common.machine_facts(db),
            "dataset": {**(dataset.recorded(db) or {}), "contributions": counts[0], "proposals": counts[1],
                        "heavy_user_contributions": counts[2]},
            "protocol": f"in-process (Flask test client), {rounds} rounds, each case's paths once a round; "
                        "raw SQL = the statements the app sent, replayed by psycopg in the same round",
            "quiet": quiet, "loadavg_before": load_before, "loadavg_after": common.loadavg(),
            "results": rows}


def table_rows(result: dict) -> list[list]:
    """Rows of the one summary table: what, median, p95, target, anchor, ratio, verdict."""
    return [[r["what"], r["ours"]["median"], r["ours"]["p95"], r["target_ms"],
             f"raw SQL {r['raw_sql']['median']:.2f}" if r["raw_sql"]["median"] else "– (timed out)",
             r["ratio_to_raw"], r["verdict"]]
            for r in result["results"]]
