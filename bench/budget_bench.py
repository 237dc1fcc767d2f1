"""`budget`: the participatory budget's count, 200,000 voters, 300 projects, 21 envelopes.

On a database of its own (`cartagora_bench_budget` unless `--db` names another), migrated
and loaded with the areas like every bench database.

The data (`--seed`, loaded once; `--reuse-db` keeps it when it matches): a published cycle of
its own year (YEAR) whose phases put today in `results`, approval with at most 4 choices,
greedy winners; a Paris-wide envelope (€30M) and 20 arrondissement ones (€1M–€3M by
population); 300 feasible projects (60 Paris-wide at €150k–€2M, 240 over the arrondissements
by population, at least 6 each, at €50k–€1.5M, log-uniform, whole thousands of euros); VOTERS
voters, each with a Paris-wide ballot and 85 % with one in an arrondissement too (drawn by
population), each ballot naming 1–4 projects drawn by a Zipf-like popularity (weight 1/rank
over each envelope's projects, in a seeded order). Ballots carry what the app stores: a random
uuid, `voter` a SHA-256 in hex, a unique 12-character base32 receipt. Generated in Python with
a seeded generator and loaded by COPY (no per-row API call). The roll (`budget_voters`) is left
empty: it needs one account per voter, and the count never reads it.

Measured in `--runs` rounds (3 by default), medians reported; each round:

1. The anchor: `SELECT count(*), count(DISTINCT ballot_id) FROM budget_ballot_choices`, every
   choice of every envelope read once. The other numbers are also given as ratios to it.
2. The whole count, `app.budget.ballots.count(session, admin, cycle)` and its commit: the
   policy (an admin with two-factor sign-in on), every envelope by both rules, the results
   written, the projects' statuses set, the audit entry. On a fresh database the first round's
   is the first count, the others recounts (allowed while no delivery status is set; the same
   results, checked). SQL time and statements come from SQLAlchemy's cursor events.
   Inside it, per envelope, the pieces `count_envelope` calls, timed where it looks them up
   (module attributes wrapped, one Python call each): the SQL grouping of identical ballots
   (`_grouped`), the greedy rule, the Method of Equal Shares (pabutools, on the grouped
   ballots) and how many runs of pabutools' inner MES algorithm its completion makes (one per
   +€1 of every voter's budget). The Paris-wide envelope's (VOTERS ballots) are the headline.
3. The Pabulib export of the Paris-wide envelope (`ballots.pabulib`).
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import statistics
import time
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, event, text
from sqlalchemy.orm import Session

from bench import common
from bench.common import BenchDb, log

DEFAULT_DB = "cartagora_bench_budget"
YEAR = 2099
VOTERS = 200_000
PARIS_PROJECTS = 60
PROJECTS = 300
PARIS_AMOUNT_EUROS = 30_000_000
ARRONDISSEMENT_SHARE = 0.85  # voters who also vote in an arrondissement
SIZES = (1, 2, 3, 4)  # approval, at most 4 projects
SIZE_WEIGHTS = (0.30, 0.30, 0.20, 0.20)
# inhabitants (thousands, INSEE 2020, rounded), arrondissements 1 to 20
POPULATION = (16, 21, 34, 29, 58, 41, 48, 35, 59, 84, 142, 140, 178, 136, 230, 165, 166, 192, 184, 193)
PHASES = ("submission", "co_construction", "feasibility", "vote", "results", "delivery")
PARIS = ZoneInfo("Europe/Paris")


# --------------------------------------------------------------------------- data

def _spread(total: int, weights, minimum: int) -> list[int]:
    """`total` split by `weights`, at least `minimum` each (largest remainders)."""
    rest = total - minimum * len(weights)
    shares = [rest * w / sum(weights) for w in weights]
    out = [minimum + math.floor(s) for s in shares]
    for i in sorted(range(len(weights)), key=lambda i: shares[i] - math.floor(shares[i]), reverse=True):
        if sum(out) == total:
            break
        out[i] += 1
    return out


def _log_uniform(rng: random.Random, low: int, high: int) -> int:
    return round(math.exp(rng.uniform(math.log(low), math.log(high))) / 1000) * 1000


def plan(seed: int) -> dict:
    """Envelopes (arrondissement or None → euros) and projects (arrondissement or None, euros,
    popularity weight), all from the seed."""
    rng = random.Random(f"budget-{seed}")
    low, high = min(POPULATION), max(POPULATION)
    envelopes = {None: PARIS_AMOUNT_EUROS}
    for a, pop in enumerate(POPULATION, start=1):
        envelopes[a] = round((1_000_000 + 2_000_000 * (pop - low) / (high - low)) / 10_000) * 10_000
    per_arrondissement = _spread(PROJECTS - PARIS_PROJECTS, POPULATION, 6)
    projects = []
    for a, n in [(None, PARIS_PROJECTS), *enumerate(per_arrondissement, start=1)]:
        ranks = list(range(1, n + 1))
        rng.shuffle(ranks)  # popularity unrelated to cost
        for rank in ranks:
            euros = _log_uniform(rng, 150_000, 2_000_000) if a is None else _log_uniform(rng, 50_000, 1_500_000)
            projects.append({"arrondissement": a, "euros": euros, "weight": 1 / rank})
    return {"envelopes": envelopes, "projects": projects, "per_arrondissement": per_arrondissement}


def _phases(today: date) -> list[tuple[str, datetime, datetime]]:
    """Contiguous phases, today in `results` (as tests/test_budget.py's phases_around)."""
    start = today - timedelta(days=2) - timedelta(days=10 * PHASES.index("results"))
    out = []
    for name in PHASES:
        days = 400 if name == "delivery" else 10
        out.append((name, datetime.combine(start, datetime.min.time(), PARIS),
                    datetime.combine(start + timedelta(days=days), datetime.min.time(), PARIS)))
        start += timedelta(days=days)
    return out


def _admin(conn) -> int:
    """An admin with two-factor sign-in on (admin rights need it): the count's actor."""
    found = conn.execute(text("SELECT id FROM users WHERE email = 'budget-admin@bench.example'")).scalar()
    if found:
        return found
    return conn.execute(text("""
        INSERT INTO users (email, display_name, password_hash, roles, email_verified_at, totp_secret, totp_enabled_at)
        VALUES ('budget-admin@bench.example', 'Administratrice du banc', 'bench-no-password', ARRAY['admin'],
                now(), 'BENCHBENCHBENCHBENCHBENCHBENCH22', now())
        RETURNING id""")).scalar()


def _signature(seed: int) -> str:
    return f"bench budget seed={seed} voters={VOTERS} projects={PROJECTS}"


def existing(db: BenchDb, seed: int) -> int | None:
    """The cycle already loaded for this seed and size, if any (for --reuse-db)."""
    engine = create_engine(db.url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT id, description FROM budget_cycles WHERE year = :y"), {"y": YEAR}).first()
        ok = row is not None and row.description == _signature(seed) and conn.execute(text(
            "SELECT count(*) FROM budget_ballots WHERE cycle_id = :c"), {"c": row.id}).scalar() > VOTERS
    engine.dispose()
    return row.id if ok else None


def load(db: BenchDb, seed: int) -> int:
    """The cycle, its envelopes and projects (SQL), then the ballots and their choices (COPY)."""
    started = time.perf_counter()
    spec = plan(seed)
    rng = random.Random(f"ballots-{seed}")
    engine = create_engine(db.url, connect_args={"options": "-c timezone=UTC"})
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM budget_cycles WHERE year = :y"), {"y": YEAR})  # cascades
        admin = _admin(conn)
        cycle = conn.execute(text("""
            INSERT INTO budget_cycles (year, title, description, ballot_method, max_choices, winners_rule,
                                       status, created_by_id, published_at)
            VALUES (:y, 'Budget participatif du banc d''essai', :d, 'approval', 4, 'greedy', 'published', :a, now())
            RETURNING id"""), {"y": YEAR, "d": _signature(seed), "a": admin}).scalar()
        for phase, starts, ends in _phases(datetime.now(PARIS).date()):
            conn.execute(text("INSERT INTO budget_phases (cycle_id, phase, starts_at, ends_at) VALUES (:c, :p, :s, :e)"),
                         {"c": cycle, "p": phase, "s": starts, "e": ends})
        envelope_ids = {}
        for a, euros in spec["envelopes"].items():
            envelope_ids[a] = conn.execute(text("""
                INSERT INTO budget_envelopes (cycle_id, arrondissement_id, amount_cents) VALUES (:c, :a, :m)
                RETURNING id"""), {"c": cycle, "a": a, "m": euros * 100}).scalar()
        by_envelope: dict = {a: ([], []) for a in spec["envelopes"]}  # ids, weights
        for n, p in enumerate(spec["projects"], start=1):
            pid = conn.execute(text("""
                INSERT INTO budget_projects (cycle_id, envelope_id, title, description, theme, status,
                                             feasibility_cost_cents, estimated_cost_cents, studied_at, created_by_id)
                VALUES (:c, :e, :t, 'Un projet du banc d''essai.', 'vegetalisation', 'feasible', :cost, :cost, now(), :a)
                RETURNING id"""), {"c": cycle, "e": envelope_ids[p["arrondissement"]],
                                   "t": f"Projet {n:03d} du banc d'essai", "cost": p["euros"] * 100, "a": admin}).scalar()
            by_envelope[p["arrondissement"]][0].append(pid)
            by_envelope[p["arrondissement"]][1].append(p["weight"])
    # the ballots, generated in Python from the seed
    cum = {a: list(_cumulative(w)) for a, (_, w) in by_envelope.items()}
    arrondissements = list(range(1, 21))
    population_cum = list(_cumulative(POPULATION))
    receipts: set[str] = set()
    ballots, choices = [], []

    def ballot(i: int, a: int | None) -> None:
        ids, _ = by_envelope[a]
        size = min(rng.choices(SIZES, SIZE_WEIGHTS)[0], len(ids))
        chosen: set[int] = set()
        while len(chosen) < size:
            chosen.add(ids[rng.choices(range(len(ids)), cum_weights=cum[a])[0]])
        bid = uuid.UUID(int=rng.getrandbits(128), version=4)
        receipt = base64.b32encode(rng.getrandbits(80).to_bytes(10, "big")).decode()[:12]
        while receipt in receipts:
            receipt = base64.b32encode(rng.getrandbits(80).to_bytes(10, "big")).decode()[:12]
        receipts.add(receipt)
        voter = hashlib.sha256(f"bench-voter-{seed}-{i}".encode()).hexdigest()
        ballots.append((bid, cycle, envelope_ids[a], a is None, voter, receipt))
        choices.extend((bid, envelope_ids[a], p) for p in chosen)

    for i in range(VOTERS):
        ballot(i, None)
        if rng.random() < ARRONDISSEMENT_SHARE:
            ballot(i, rng.choices(arrondissements, cum_weights=population_cum)[0])
    generated = time.perf_counter()
    with db.connect() as conn:
        with conn.cursor() as cur:
            with cur.copy("COPY budget_ballots (id, cycle_id, envelope_id, paris_wide, voter, receipt) FROM STDIN") as copy:
                for row in ballots:
                    copy.write_row(row)
            with cur.copy("COPY budget_ballot_choices (ballot_id, envelope_id, project_id) FROM STDIN") as copy:
                for row in choices:
                    copy.write_row(row)
        conn.commit()
        for table in ("budget_ballots", "budget_ballot_choices", "budget_projects", "budget_envelopes"):
            common.settle(conn, table)
    engine.dispose()
    log(f"budget: {len(ballots):,} ballots, {len(choices):,} choices generated in {generated - started:.1f} s, "
        f"loaded in {time.perf_counter() - generated:.1f} s")
    return cycle


def _cumulative(weights):
    total = 0.0
    for w in weights:
        total += w
        yield total


# --------------------------------------------------------------------------- measuring

class SqlClock:
    """Time spent in SQL statements (cursor execute to its return, fetch excluded) and their
    number, from SQLAlchemy's cursor events on an engine."""

    def __init__(self, engine) -> None:
        self.ms, self.statements, self._t = 0.0, 0, 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *args) -> None:
        self._t = time.perf_counter()

    def _after(self, *args) -> None:
        self.ms += (time.perf_counter() - self._t) * 1000
        self.statements += 1

    def reset(self) -> None:
        self.ms, self.statements = 0.0, 0


def _timed(fn):
    started = time.perf_counter()
    out = fn()
    return (time.perf_counter() - started) * 1000, out


class Probes:
    """Times, per envelope, the pieces `count_envelope` calls, by wrapping them where it looks
    them up (module attributes): `ballots._grouped` (the SQL grouping), `rules.greedy_by_votes`,
    `rules.equal_shares_completed` (pabutools), pabutools' MES inner algorithm (how many runs
    its completion makes), `ballots._pabulib_file` (the file the count writes), and `count_envelope` itself with the SQL time spent inside it. One
    Python call each around the real functions: nothing else changes."""

    def __init__(self, clock: SqlClock) -> None:
        self.clock = clock
        self.envelopes: dict[int, dict] = {}
        self._current: dict | None = None
        self._saved: list = []

    def _wrap(self, module, name: str, key: str) -> None:
        real = getattr(module, name)

        def wrapper(*args, **kwargs):
            started, sql_before = time.perf_counter(), self.clock.ms
            try:
                return real(*args, **kwargs)
            finally:
                if self._current is not None:
                    self._current[key] = self._current.get(key, 0.0) + (time.perf_counter() - started) * 1000
                    sql = key.replace("_ms", "_sql_ms")
                    self._current[sql] = self._current.get(sql, 0.0) + self.clock.ms - sql_before

        self._saved.append((module, name, real))
        setattr(module, name, wrapper)

    def __enter__(self) -> Probes:
        from pabutools.rules.mes import mes_rule

        from app.budget import ballots, rules

        real_count_envelope = ballots.count_envelope

        def count_envelope(session, cycle, envelope):
            self._current = self.envelopes[envelope.id] = {"mes_inner_runs": 0}
            sql_before, started = self.clock.ms, time.perf_counter()
            try:
                return real_count_envelope(session, cycle, envelope)
            finally:
                self._current["total_ms"] = (time.perf_counter() - started) * 1000
                self._current["sql_ms"] = self.clock.ms - sql_before
                self._current = None

        real_inner = mes_rule.mes_inner_algo

        def inner(*args, **kwargs):
            if self._current is not None:
                self._current["mes_inner_runs"] += 1
            return real_inner(*args, **kwargs)

        self._saved += [(ballots, "count_envelope", real_count_envelope), (mes_rule, "mes_inner_algo", real_inner)]
        ballots.count_envelope, mes_rule.mes_inner_algo = count_envelope, inner
        self._wrap(ballots, "_grouped", "grouping_ms")
        self._wrap(rules, "greedy_by_votes", "greedy_ms")
        self._wrap(rules, "equal_shares_completed", "mes_ms")
        self._wrap(ballots, "_pabulib_file", "pabulib_ms")
        return self

    def __exit__(self, *exc) -> None:
        for module, name, real in reversed(self._saved):
            setattr(module, name, real)


def measure(db: BenchDb, cycle_id: int, runs: int, quiet_wait: float) -> dict:
    from app import create_app
    from app.accounts.models import User
    from app.budget import ballots
    from app.budget.models import Cycle

    app = create_app({"DATABASE_URL": db.url, "RATELIMIT_ENABLED": False})
    engine = create_engine(db.url, connect_args={"options": "-c timezone=UTC"})
    clock = SqlClock(engine)
    with app.app_context(), Session(engine) as session:
        admin_id = session.scalar(text("SELECT id FROM users WHERE email = 'budget-admin@bench.example'"))
        shape = session.execute(text("""
            SELECT e.id, e.arrondissement_id, e.amount_cents / 100 AS euros,
                   (SELECT count(*) FROM budget_projects p WHERE p.envelope_id = e.id) AS projects,
                   (SELECT count(*) FROM budget_ballots b WHERE b.envelope_id = e.id) AS ballots,
                   (SELECT count(*) FROM budget_ballot_choices c WHERE c.envelope_id = e.id) AS choices,
                   (SELECT count(*) FROM (SELECT DISTINCT array_agg(project_id ORDER BY project_id)
                                          FROM budget_ballot_choices c WHERE c.envelope_id = e.id
                                          GROUP BY ballot_id) d) AS distinct_ballots
            FROM budget_envelopes e WHERE e.cycle_id = :c ORDER BY e.arrondissement_id NULLS FIRST"""),
            {"c": cycle_id}).all()
        already = session.scalar(text("SELECT count(*) FROM budget_results r JOIN budget_envelopes e "
                                      "ON e.id = r.envelope_id WHERE e.cycle_id = :c"), {"c": cycle_id})
        session.commit()
        paris_id = shape[0].id
        quiet = common.wait_for_quiet(quiet_wait)
        names = ("anchor", "count (all, commit)", "Paris-wide count_envelope", "Paris-wide: its SQL",
                 "Paris-wide grouping (_grouped)", "Paris-wide grouping: SQL", "Paris-wide greedy rule",
                 "Paris-wide equal shares", "Paris-wide Pabulib file (count)", "pabulib download (Paris-wide)")
        times: dict[str, list[float]] = {n: [] for n in names}
        count_sql, count_statements, per_envelope, outs = [], [], [], []
        anchor_rows = pb = None
        for r in range(runs):
            ms, anchor_rows = _timed(lambda: session.execute(text(
                "SELECT count(*), count(DISTINCT ballot_id) FROM budget_ballot_choices")).one())
            times["anchor"].append(ms)
            session.commit()
            clock.reset()
            with Probes(clock) as probes:
                ms, out = _timed(lambda: (ballots.count(session, session.get(User, admin_id), cycle_id),
                                          session.commit())[0])
            times["count (all, commit)"].append(ms)
            count_sql.append(clock.ms)
            count_statements.append(clock.statements)
            outs.append(out)
            per_envelope.append(probes.envelopes)
            p = probes.envelopes[paris_id]
            times["Paris-wide count_envelope"].append(p["total_ms"])
            times["Paris-wide: its SQL"].append(p["sql_ms"])
            times["Paris-wide grouping (_grouped)"].append(p["grouping_ms"])
            times["Paris-wide grouping: SQL"].append(p["grouping_sql_ms"])
            times["Paris-wide greedy rule"].append(p["greedy_ms"])
            times["Paris-wide equal shares"].append(p["mes_ms"])
            times["Paris-wide Pabulib file (count)"].append(p["pabulib_ms"])
            cycle = session.get(Cycle, cycle_id)
            paris = next(e for e in cycle.envelopes if e.id == paris_id)
            ms, pb = _timed(lambda c=cycle, e=paris: ballots.pabulib(session, c, e))
            times["pabulib download (Paris-wide)"].append(ms)
            session.commit()
            log(f"budget: round {r + 1}/{runs}: count {times['count (all, commit)'][-1] / 1000:.1f} s "
                f"(Paris-wide equal shares {p['mes_ms'] / 1000:.1f} s), export {ms / 1000:.1f} s, "
                f"anchor {times['anchor'][-1]:.0f} ms")
        assert all(o == outs[0] for o in outs), "a recount gave another result"
        statuses = dict(session.execute(text(
            "SELECT status, count(*) FROM budget_projects WHERE cycle_id = :c GROUP BY status"), {"c": cycle_id}).all())
        results = session.scalar(text("""SELECT count(*) FROM budget_results r JOIN budget_envelopes e
                                         ON e.id = r.envelope_id WHERE e.cycle_id = :c"""), {"c": cycle_id})
        session.commit()
    engine.dispose()
    out = {o["envelope"]: o for o in outs[0]}
    pb_ballots = pb.split("\nVOTES\n", 1)[1].count("\n") - 1  # less its header line
    envelopes = []
    for row in shape:
        runs_of = [e[row.id] for e in per_envelope]
        envelopes.append({
            "envelope": row.id, "arrondissement": row.arrondissement_id, "euros": row.euros,
            "projects": row.projects, "ballots": row.ballots, "choices": row.choices,
            "distinct_ballots": row.distinct_ballots,
            "greedy_winners": len(out[row.id]["greedy"]), "equal_shares_winners": len(out[row.id]["equal_shares"]),
            "winners_differ": out[row.id]["greedy"] != out[row.id]["equal_shares"],
            "mes_inner_runs": runs_of[0]["mes_inner_runs"],
            **{k: round(statistics.median(e[k] for e in runs_of), 1)
               for k in ("total_ms", "sql_ms", "grouping_ms", "greedy_ms", "mes_ms")}})
    anchor = statistics.median(times["anchor"])
    paris = envelopes[0]
    return {
        "runs": runs, "quiet": quiet, "first_run_was_first_count": not already,
        "data": {
            "voters": VOTERS, "ballots": sum(r.ballots for r in shape), "choices": sum(r.choices for r in shape),
            "projects": sum(r.projects for r in shape), "envelopes": len(shape),
            "anchor_rows": {"choices": anchor_rows[0], "ballots": anchor_rows[1]},
        },
        "paris_wide": {
            "envelope": paris_id, "ballots": paris["ballots"], "distinct_ballots": paris["distinct_ballots"],
            "projects": paris["projects"], "budget_euros": paris["euros"],
            "greedy_winners": paris["greedy_winners"], "equal_shares_winners": paris["equal_shares_winners"],
            "mes_inner_runs": paris["mes_inner_runs"],
            "pabulib_bytes": len(pb.encode()), "pabulib_ballots": pb_ballots,
        },
        "count": {"sql_ms": common.summary(count_sql, 1), "statements": count_statements[0],
                  "mes_ms_all_envelopes": round(sum(e["mes_ms"] for e in envelopes), 1),
                  "winners_differ_in_envelopes": sum(e["winners_differ"] for e in envelopes),
                  "envelopes": len(envelopes), "statuses_after": statuses, "results_rows": results},
        "per_envelope": envelopes,
        "ms": {n: common.summary(t, 1) for n, t in times.items()},
        "vs_anchor": {n: common.ratio(statistics.median(t), anchor) for n, t in times.items()},
    }


# --------------------------------------------------------------------------- entry

def run(db: BenchDb, seed: int, runs: int, quiet_wait: float) -> dict:
    cycle = existing(db, seed)
    if cycle is None:
        cycle = load(db, seed)
    else:
        log(f"budget: reusing cycle {cycle} ({_signature(seed)})")
    result = measure(db, cycle, runs, quiet_wait)
    return {"date": common.now_iso(), "machine": common.machine_facts(db), "seed": seed, "cycle": cycle,
            "notes": ["budget_voters (the roll) is left empty: the count never reads it",
                      "the count runs as an admin with two-factor on, through app.budget.ballots.count, and commits",
                      "a fresh database's first run is the first count, the others recounts (the same results)",
                      "the Paris-wide pieces are timed inside the whole count, around the functions count_envelope calls"],
            **result, "loadavg": common.loadavg()}


def print_tables(result: dict) -> None:
    d, p, c = result["data"], result["paris_wide"], result["count"]
    common.print_table(
        f"budget: {d['voters']:,} voters, {d['ballots']:,} ballots, {d['choices']:,} choices, "
        f"{d['projects']} projects in {d['envelopes']} envelopes; median of {result['runs']} runs",
        ["what", "median ms", "min ms", "max ms", "× anchor"],
        [[n, m["median"], m["min"], m["max"], result["vs_anchor"][n]] for n, m in result["ms"].items()])
    common.print_table(
        "budget: per envelope, inside the count (medians, ms; MES calls: pabutools' inner algorithm, "
        "recursive, one call per project bought in each run of the completion)",
        ["envelope", "projects", "ballots", "distinct", "count_envelope", "SQL", "grouping", "greedy",
         "equal shares", "MES calls", "won greedy", "won MES"],
        [["Paris-wide" if e["arrondissement"] is None else f"{e['arrondissement']}e", e["projects"], e["ballots"],
          e["distinct_ballots"], e["total_ms"], e["sql_ms"], e["grouping_ms"], e["greedy_ms"], e["mes_ms"],
          e["mes_inner_runs"], e["greedy_winners"], e["equal_shares_winners"]] for e in result["per_envelope"]])
    common.print_table(
        "budget: what the numbers rest on",
        ["fact", "value"],
        [["Paris-wide ballots → distinct (what _grouped hands to MES)", f"{p['ballots']:,} → {p['distinct_ballots']:,}"],
         ["Paris-wide projects, budget €", f"{p['projects']}, {p['budget_euros']:,}"],
         ["Paris-wide winners: greedy / equal shares", f"{p['greedy_winners']} / {p['equal_shares_winners']}"],
         ["envelopes where greedy and equal shares winners differ", f"{c['winners_differ_in_envelopes']} of {c['envelopes']}"],
         ["count: SQL ms (median), statements", f"{c['sql_ms']['median']:,.0f}, {c['statements']:,}"],
         ["count: equal shares ms, all envelopes (median)", f"{c['mes_ms_all_envelopes']:,.0f}"],
         ["project statuses after, results rows", f"{c['statuses_after']}, {c['results_rows']}"],
         ["Pabulib export: bytes, ballots", f"{p['pabulib_bytes']:,}, {p['pabulib_ballots']:,}"],
         ["anchor rows: choices, ballots", f"{d['anchor_rows']['choices']:,}, {d['anchor_rows']['ballots']:,}"]])
    print("notes: " + "; ".join(result["notes"]))


def main(args) -> None:
    name = DEFAULT_DB if args.db == "cartagora_bench" else args.db
    db = common.prepare_database(name, fresh=not args.reuse_db)
    started = time.perf_counter()
    result = run(db, seed=args.seed, runs=args.runs, quiet_wait=args.quiet_wait)
    print_tables(result)
    if not args.no_write:
        log(f"wrote {common.write_result('budget', result)}")
    log(f"budget: done in {time.perf_counter() - started:.0f} s")
