"""`petitions`: concurrent signers on one petition, and a petition's page at 100,000 signatures.

On a database of its own (`cartagora_bench_petitions` unless `--db` names another), migrated
and loaded with the areas like every bench database.

1. Signing. SIGNERS verified accounts are created in bulk (one INSERT … SELECT); a petition is
   opened with the default thresholds (1,000 → a written answer, 5,000 → the Conseil de Paris).
   `--workers` processes, each with its own connection (as gunicorn's workers each serve one
   request at a time), take the signers from a queue and sign through the app's own service
   (app.petitions.services.sign: the account loaded, the policy asked, the INSERT and its
   counting trigger, the threshold UPDATEs when due, the commit), as many at once as there
   are workers; one run per number of workers (`--workers 4,16,32`), each on fresh signers and
   a fresh petition. Processes, not threads: in one process, the signer holding the petition's
   row lock waited for the GIL behind the others (57 signatures/s with 32 threads). Every
   signer queues on the one petition's row from its INSERT to its COMMIT, so the rate falls
   as waiters outnumber the cores: the lock's holder is descheduled among them (on 2 cores,
   raw psycopg INSERT + SELECT + COMMIT: 2,600/s with 4 connections, 555/s with 32). Reported: signatures per second over the whole run,
   each signature's time (median, p95), and checked: the count is exactly SIGNERS (the column,
   a recount and the per-arrondissement counters agree), one answer-threshold event and one
   referral. The anchor, in the same run: the same pool inserting SIGNERS rows into a table of
   their own, with no shared row to queue on — what the one petition's row lock costs.
2. Reading. A second petition gets PAGE_SIGNERS signatures (a third with a public name, the
   arrondissements spread as declared), loaded set-based with the counting trigger off, then
   its counters recounted and checked. Then, interleaved, `--requests` times each: the page
   `/petitions/<id>` (HTML), `GET /api/v1/petitions/<id>`, `GET …/signatures` and the anchor
   `GET /healthz`, through the app in process (routing, the policy, the SQL, the template):
   the server's time without the network.
"""

from __future__ import annotations

import statistics
import time
from functools import partial

from sqlalchemy import create_engine, text

from bench import common
from bench import workers as workers_mod
from bench.common import BenchDb, log

SIGNERS = 5_000
PAGE_SIGNERS = 100_000
DEFAULT_DB = "cartagora_bench_petitions"


# --------------------------------------------------------------------------- data

def _open_petition(conn, author: int, title: str) -> int:
    return conn.execute(text("""
        INSERT INTO petitions (author_id, title, body, addressee, arrondissement_id, status, opened_at,
                               closes_at, answer_threshold, referral_threshold)
        SELECT :a, :t, 'Un texte de pétition pour le banc d''essai.', 'La Ville de Paris', 11, 'open', now(),
               now() + interval '120 days', answer_threshold, referral_threshold
        FROM petition_settings
        RETURNING id
    """), {"a": author, "t": title}).scalar()


def prepare(db: BenchDb) -> dict:
    """SIGNERS fresh verified accounts and a fresh open petition (a run of its own)."""
    engine = workers_mod.engine(db.url)
    tag = f"{time.time():.3f}"
    with engine.begin() as conn:
        conn.execute(text("UPDATE petition_settings SET signing_days = 120, answer_threshold = 1000, "
                          "referral_threshold = 5000"))
        author, _ = workers_mod.accounts(conn, f"author-{tag}-", 1, "Signataire")
        signers = workers_mod.accounts(conn, f"signer-{tag}-", SIGNERS, "Signataire")
        signed = _open_petition(conn, author, f"Banc d'essai : {SIGNERS} signataires")
        workers_mod.empty_anchor_table(conn)
    engine.dispose()
    return {"author": author, "signers": signers, "petition": signed}


# --------------------------------------------------------------------------- signing

def _sign(pid: int, session, user_id: int) -> None:
    """As PUT /api/v1/petitions/<id>/signature does: the account, the signature."""
    from app.accounts.models import User
    from app.petitions import services

    services.sign(session, session.get(User, user_id), pid, public_name=user_id % 3 == 0,
                  arrondissement=None if user_id % 7 == 0 else user_id % 20 + 1)


def measure_signing(db: BenchDb, workers: int, quiet_wait: float) -> dict:
    data = prepare(db)
    pid = data["petition"]
    first, last = data["signers"]
    ids = list(range(first, last + 1))
    quiet = common.wait_for_quiet(quiet_wait)
    log(f"petitions: {len(ids):,} signers, {workers} at a time")
    wall, times, errors = workers_mod.pool_run(db.url, partial(_sign, pid), ids, workers)
    log(f"petitions: signed in {wall:.2f} s ({len(ids) / wall:,.0f}/s), {len(errors)} errors")
    anchor_wall, anchor_times, anchor_errors = workers_mod.pool_run(db.url, workers_mod.anchor, ids, workers)
    log(f"petitions: anchor rows in {anchor_wall:.2f} s ({len(ids) / anchor_wall:,.0f}/s)")
    engine = create_engine(db.url, connect_args={"options": "-c timezone=UTC"})
    with engine.connect() as conn:
        count, per_area, status = conn.execute(text(
            "SELECT signatures_count, arrondissement_counts, status FROM petitions WHERE id = :p"),
            {"p": pid}).one()
        recount = conn.execute(text("SELECT count(*) FROM petition_signatures WHERE petition_id = :p"),
                               {"p": pid}).scalar()
        events = conn.execute(text("""SELECT from_status, to_status, threshold FROM petition_events
                                      WHERE petition_id = :p ORDER BY id"""), {"p": pid}).all()
        mails = conn.execute(text("SELECT count(*) FROM outbox WHERE body LIKE :link"),
                             {"link": f"%/petitions/{pid}\n%"}).scalar()
    engine.dispose()
    checks = {
        "count_exact": count == recount == SIGNERS,
        "per_arrondissement_exact": sum(per_area) == SIGNERS,
        "one_answer_threshold": [tuple(e) for e in events].count(("open", "open", 1000)) == 1,
        "one_referral": [tuple(e) for e in events].count(("open", "referred", 5000)) == 1,
        "status": status,
        "errors": errors[:5] + anchor_errors[:5],
    }
    assert checks["count_exact"] and checks["per_arrondissement_exact"], (count, recount, sum(per_area))
    assert checks["one_answer_threshold"] and checks["one_referral"] and status == "referred", events
    assert not errors and not anchor_errors, checks["errors"]
    return {
        "signers": SIGNERS, "workers": workers, "quiet": quiet,
        "how": "worker processes with one connection each, signing through app.petitions.services.sign",
        "wall_s": round(wall, 3), "signatures_per_s": round(SIGNERS / wall, 1),
        "ms": common.summary(times, 2),
        "anchor": {"what": "the same processes inserting one row per signer into a table of their own "
                           "(no shared row)",
                   "wall_s": round(anchor_wall, 3), "rows_per_s": round(SIGNERS / anchor_wall, 1),
                   "ms": common.summary(anchor_times, 2)},
        "final_count": count, "events": [list(e) for e in events], "author": data["author"],
        "emails_with_its_link": mails, "checks": checks,
    }


# --------------------------------------------------------------------------- reading

def load_page_petition(db: BenchDb, author: int) -> int:
    """A petition with PAGE_SIGNERS signatures, loaded set-based (trigger off), recounted."""
    engine = create_engine(db.url, connect_args={"options": "-c timezone=UTC"})
    tag = str(int(time.time()))
    started = time.perf_counter()
    with engine.begin() as conn:
        first, last = workers_mod.accounts(conn, f"reader-{tag}-", PAGE_SIGNERS, "Signataire")
        pid = _open_petition(conn, author, f"Banc d'essai : {PAGE_SIGNERS} signatures")
        conn.execute(text("ALTER TABLE petition_signatures DISABLE TRIGGER petition_signatures_count"))
        conn.execute(text("""
            INSERT INTO petition_signatures (petition_id, user_id, public_name, arrondissement, created_at)
            SELECT :p, id, id % 3 = 0, CASE WHEN id % 7 = 0 THEN NULL ELSE (id % 20 + 1) END,
                   now() - (id % 100000) * interval '1 minute'
            FROM users WHERE id BETWEEN :first AND :last
        """), {"p": pid, "first": first, "last": last})
        conn.execute(text("ALTER TABLE petition_signatures ENABLE TRIGGER petition_signatures_count"))
        conn.execute(text("""
            UPDATE petitions p SET signatures_count = (SELECT count(*) FROM petition_signatures WHERE petition_id = p.id),
                arrondissement_counts = ARRAY(
                    SELECT (SELECT count(*) FROM petition_signatures s
                            WHERE s.petition_id = p.id AND coalesce(s.arrondissement, 21) = a)::integer
                    FROM generate_series(1, 21) a ORDER BY a),
                answer_threshold_reached_at = now(), status = 'referred', referred_at = now()
            WHERE id = :p
        """), {"p": pid})
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("VACUUM (ANALYZE) petition_signatures"))
        count = conn.execute(text("SELECT signatures_count FROM petitions WHERE id = :p"), {"p": pid}).scalar()
    engine.dispose()
    assert count == PAGE_SIGNERS, count
    log(f"petitions: {PAGE_SIGNERS:,} signatures loaded in {time.perf_counter() - started:.1f} s")
    return pid


def measure_pages(db: BenchDb, pid: int, requests: int, quiet_wait: float) -> dict:
    from app import create_app

    app = create_app({"DATABASE_URL": db.url, "RATELIMIT_ENABLED": False})
    client = app.test_client()
    paths = {"page (HTML)": f"/petitions/{pid}", "petition (JSON)": f"/api/v1/petitions/{pid}",
             "signatures (JSON)": f"/api/v1/petitions/{pid}/signatures", "anchor /healthz": "/healthz"}
    sizes = {}
    for name, path in paths.items():  # warm-up: plans, caches, templates
        for _ in range(5):
            r = client.get(path)
            assert r.status_code == 200, (path, r.status_code, r.data[:200])
        sizes[name] = len(r.data)
    body = client.get(f"/api/v1/petitions/{pid}").get_json()
    assert body["signatures_count"] == PAGE_SIGNERS
    quiet = common.wait_for_quiet(quiet_wait)
    times: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(requests):  # interleaved: the same minutes for each
        for name, path in paths.items():
            started = time.perf_counter()
            r = client.get(path)
            times[name].append((time.perf_counter() - started) * 1000)
            assert r.status_code == 200
    anchor = statistics.median(times["anchor /healthz"])
    return {"signatures": PAGE_SIGNERS, "requests": requests, "quiet": quiet, "bytes": sizes,
            "ms": {name: common.summary(t, 2) for name, t in times.items()},
            "vs_anchor": {name: common.ratio(statistics.median(t), anchor) for name, t in times.items()}}


# --------------------------------------------------------------------------- entry

def run(db: BenchDb, workers: list[int], requests: int, quiet_wait: float) -> dict:
    signing = [measure_signing(db, w, quiet_wait) for w in workers]
    pid = load_page_petition(db, signing[0]["author"])
    pages = measure_pages(db, pid, requests, quiet_wait)
    return {"date": common.now_iso(), "machine": common.machine_facts(db), "signing": signing,
            "pages": pages, "loadavg": common.loadavg()}


def print_tables(result: dict) -> None:
    rows = []
    for s in result["signing"]:
        exact = s["checks"]["count_exact"] and s["checks"]["one_referral"] and s["checks"]["one_answer_threshold"]
        rows.append([f"{s['workers']} signing", s["wall_s"], s["signatures_per_s"], s["ms"]["median"],
                     s["ms"]["p95"], s["ms"]["max"],
                     f"{s['final_count']:,}, 1 answer threshold, 1 referral" if exact else "NO"])
        a = s["anchor"]
        rows.append([f"{s['workers']} anchor rows", a["wall_s"], a["rows_per_s"], a["ms"]["median"],
                     a["ms"]["p95"], a["ms"]["max"], "–"])
    common.print_table(
        f"petitions: {SIGNERS:,} signers of one petition (worker processes, one connection each, "
        "app.petitions.services.sign; anchor: the same processes writing rows of their own)",
        ["workers, what", "wall s", "per s", "median ms", "p95 ms", "max ms", "checked"], rows)
    p = result["pages"]
    common.print_table(
        f"petitions: a petition with {p['signatures']:,} signatures, {p['requests']} requests each, "
        "interleaved, in process (server time)",
        ["path", "median ms", "p95 ms", "max ms", "× anchor", "bytes"],
        [[name, m["median"], m["p95"], m["max"], p["vs_anchor"][name], p["bytes"][name]]
         for name, m in p["ms"].items()])


def main(args) -> None:
    name = DEFAULT_DB if args.db == "cartagora_bench" else args.db
    db = common.prepare_database(name, fresh=not args.reuse_db)
    started = time.perf_counter()
    workers = [int(w) for w in str(args.workers).split(",")]
    result = run(db, workers=workers, requests=args.page_requests, quiet_wait=args.quiet_wait)
    print_tables(result)
    if not args.no_write:
        log(f"wrote {common.write_result('petitions', result)}")
    log(f"petitions: done in {time.perf_counter() - started:.0f} s")
