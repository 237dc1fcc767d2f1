"""`python -m bench [all|dataset|reads|map|map-browser|planner|writes|import|bbox|tiles|ogc|faults|memory|petitions|budget|missions]`:
run the benchmarks, print one table, write results/*.json.

`all` (the default) measures the 5M targets of issue 18 on the shared dataset: it builds the
dataset once (about an hour; reused afterwards: bench/dataset.py), then runs `reads`, `map`,
`planner` and `writes` (20–30 minutes on the reused dataset, most of it the writes' recount of every roll-up) and prints one table. The other
subcommands run only when named: `import` and `bbox` on databases of their own
(`<db>_import`, `<db>_bbox`: they empty or reload `contributions`), `tiles` and `ogc` on the
dataset, `faults` on a cluster of its own, `memory` on a copy of the development database,
`petitions`, `budget` and `missions` on databases of their own."""

from __future__ import annotations

import argparse
import inspect
import os
import time

from bench import common, dataset

DATASET_COMMANDS = ("reads", "map", "planner", "writes")
ALL = ("dataset", *DATASET_COMMANDS)
COMMANDS = (*ALL, "map-browser", "import", "bbox", "tiles", "ogc", "faults", "memory", "petitions", "budget", "missions")
HEADER = ["what", "ours (median)", "p95", "target", "anchor (same run)", "ours ÷ anchor", "verdict"]


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("which", nargs="?", default="all", choices=["all", *COMMANDS])
    parser.add_argument("--db", default="cartagora_bench",
                        help="the shared dataset's database, on the server of var/database_url (default: %(default)s)")
    parser.add_argument("--rows", type=int, default=None,
                        help="dataset: contributions (default: 5,000,000); bbox: synthetic reports (default: 1,000,000)")
    parser.add_argument("--rebuild", action="store_true", help="dataset: rebuild it even if it is there")
    parser.add_argument("--no-migrate", action="store_true",
                        help="dataset: do not run `flask db upgrade` on the reused dataset")
    parser.add_argument("--reuse-db", action="store_true",
                        help="import, bbox: keep their database and its loaded data instead of recreating it")
    parser.add_argument("--rounds", type=int, default=30, help="reads: rounds of every case (default: %(default)s)")
    parser.add_argument("--only", default=None, help="reads: only the cases whose name contains this")
    parser.add_argument("--clients", type=int, default=8, help="writes: client threads (default: %(default)s)")
    parser.add_argument("--keep-writes", action="store_true", help="writes: keep the reports written")
    parser.add_argument("--no-verify", action="store_true", help="writes: skip the roll-up recount")
    parser.add_argument("--runs", type=int, default=None,
                        help="map: rounds (default: 20); import: timed imports (default: 5); budget: timed counts (3)")
    parser.add_argument("--reimports", type=int, default=3, help="import: timed re-imports (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--requests", type=int, default=300, help="bbox, ogc: sequential requests (default: %(default)s)")
    parser.add_argument("--duration", type=float, default=20.0, help="writes, bbox, ogc: load duration, s (default: %(default)s)")
    parser.add_argument("--load-runs", type=int, default=3,
                        help="bbox, ogc: load runs each for the app and its contender, alternating (default: %(default)s)")
    parser.add_argument("--connections", type=int, default=4, help="bbox, ogc: load connections (default: %(default)s)")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto",
                        help="bbox, ogc: auto = wrk when installed, else the Python client (default: %(default)s)")
    parser.add_argument("--quiet-wait", type=float, default=60.0,
                        help="wait up to this many s for other work to leave the CPUs idle (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=8, help="faults: client threads (default: %(default)s)")
    parser.add_argument("--kill-phase", type=float, default=20.0, help="faults: s of SIGKILLing workers (default: %(default)s)")
    parser.add_argument("--kill-every", type=float, default=2.5, help="faults: s between worker kills (default: %(default)s)")
    parser.add_argument("--db-phase", type=float, default=30.0,
                        help="faults: s of PostgreSQL restart and crash (default: %(default)s)")
    parser.add_argument("--down", type=float, default=3.0,
                        help="faults: s PostgreSQL stays down after the crash (default: %(default)s)")
    parser.add_argument("--keep", action="store_true", help="faults: keep the temporary cluster and gunicorn's log")
    parser.add_argument("--minutes", type=float, default=10.0, help="memory: minutes of schemathesis (default: %(default)s)")
    parser.add_argument("--tiles", type=int, default=50, help="tiles: tiles per zoom (default: %(default)s)")
    parser.add_argument("--workers", default="4,16,32",
                        help="petitions, missions: signers at once (worker processes, one connection each), "
                             "one run per number (default: %(default)s)")
    parser.add_argument("--page-requests", type=int, default=200,
                        help="petitions, missions: timed requests per page (default: %(default)s)")
    parser.add_argument("--no-write", action="store_true", help="print only, do not write results/*.json")
    return parser.parse_args(argv)


def save(args, name: str, result: dict) -> None:
    if not args.no_write:
        common.log(f"wrote {common.write_result(name, result)}")


def planner(db: common.BenchDb, args) -> dict:
    """bench/planner_bench.py's run (the planner helper's module), on the dataset."""
    from bench import planner_bench

    run = getattr(planner_bench, "run", None)
    if run is None:  # the planner's module, maintained beside this one: say so, run the rest
        common.log("bench: bench/planner_bench.py has no run(db, …) yet; planner skipped")
        return {"results": [], "skipped": "bench/planner_bench.py has no run(db, …)"}
    wanted = inspect.signature(run).parameters
    kwargs = {k: v for k, v in {"quiet_wait": args.quiet_wait, "seed": args.seed}.items() if k in wanted}
    return run(db, **kwargs)


def planner_rows(result: dict) -> list[list]:
    rows = []
    for r in result.get("results", []):
        ours = r.get("ours_ms") if not isinstance(r.get("ours"), dict) else r["ours"]["median"]
        p95 = r.get("ours_p95_ms") or (r["ours"].get("p95") if isinstance(r.get("ours"), dict) else None)
        naive = r.get("naive_ms")
        target = r.get("target_ms", 50.0)
        equal = r.get("equal", True)
        rows.append([f"planner: {r.get('endpoint') or r.get('what')}", ours, p95, target,
                     f"naive SQL {naive:,.0f}" if naive else "–", common.ratio(ours, naive),
                     "ok" if ours is not None and ours <= target and equal else
                     ("NOT EQUAL" if not equal else "MISS")])
    return rows


def run_dataset_commands(args, which: tuple[str, ...]) -> list[list]:
    db, record = dataset.ensure(args.db, rows=args.rows or dataset.DEFAULT_ROWS, rebuild=args.rebuild,
                                migrate=not args.no_migrate)
    os.environ["DATABASE_URL"] = db.url  # anything of the app imported from here on sees the dataset
    rows: list[list] = []
    common.log(f"dataset: {record['rows']:,} contributions, built {record['built_at']} in {record['load_s']:.0f} s")
    if "reads" in which:
        from bench import reads_bench

        result = reads_bench.run(db, rounds=args.rounds, seed=args.seed, quiet_wait=args.quiet_wait, only=args.only)
        save(args, "reads", result)
        rows += reads_bench.table_rows(result)
    if "map" in which:
        from bench import map_bench

        result = map_bench.run(db, runs=args.runs or 20, quiet_wait=args.quiet_wait)
        save(args, "map", result)
        rows += map_bench.table_rows(result)
    if "map-browser" in which:  # Chromium on the dataset: pan or zoom to new data drawn
        from bench import map_browser

        result = map_browser.run(db, moves=args.runs or 40, quiet_wait=args.quiet_wait)
        save(args, "map_browser", result)
        d = result["drawn_ms"]
        rows.append(["map in Chromium: moveend → drawn", d["median"], d["p95"], map_browser.TARGET_MS,
                     f"server {result['server_ms']['median']}", None, "ok" if result["ok"] else "MISS"])
    if "planner" in which:
        result = planner(db, args)
        if not result.get("skipped"):
            save(args, "planner", result)
        rows += planner_rows(result) or [["planner: " + result.get("skipped", "no results"), None, None, 50.0,
                                           "–", None, "NOT RUN"]]
    if "writes" in which:
        from bench import writes_bench

        result = writes_bench.run(db, clients=args.clients, duration=args.duration, quiet_wait=args.quiet_wait,
                                  keep_writes=args.keep_writes, verify=not args.no_verify)
        save(args, "writes", result)
        rows += writes_bench.table_rows(result)
    if "tiles" in which:
        from bench import tiles_bench

        result = tiles_bench.run(db, rows=record["rows"], per_zoom=args.tiles, seed=args.seed,
                                 quiet_wait=args.quiet_wait)
        tiles_bench.print_tables(result)
        save(args, "tiles", result)
    if "ogc" in which:
        from bench import ogc_bench

        result = ogc_bench.run(db, rows=args.rows or 1_000_000, seed=args.seed, requests=args.requests,
                               duration=args.duration, connections=args.connections, tool=args.loadgen,
                               quiet_wait=args.quiet_wait, load_runs=args.load_runs)
        ogc_bench.print_tables(result)
        save(args, "ogc", result)
    if rows:
        title = f"Issue 18 at {record['rows']:,} contributions (ms unless said; load average {common.loadavg()})"
        common.print_table(title, HEADER, rows)
        if which == DATASET_COMMANDS:  # `all`: the one table; a single subcommand keeps its own JSON only
            save(args, "summary", {"date": common.now_iso(), "dataset": record, "header": HEADER, "rows": rows,
                                   "loadavg": common.loadavg()})
    return rows


def run_own_database(args) -> None:
    """import and bbox: they empty or reload `contributions`, so never on the shared dataset."""
    from bench import bbox_bench, import_bench

    db = common.prepare_database(f"{args.db}_{args.which}", fresh=not args.reuse_db)
    os.environ["DATABASE_URL"] = db.url
    if args.which == "import":
        result = import_bench.run(db, runs=args.runs or 5, reimports=args.reimports, quiet_wait=args.quiet_wait)
        import_bench.print_tables(result)
    else:
        result = bbox_bench.run(db, rows=args.rows or 1_000_000, seed=args.seed, requests=args.requests,
                                duration=args.duration, connections=args.connections, tool=args.loadgen,
                                quiet_wait=args.quiet_wait, load_runs=args.load_runs)
        bbox_bench.print_tables(result)
    save(args, args.which, result)


def main(argv: list[str] | None = None) -> None:
    from app.config import write_secret

    write_secret()  # the apps it starts (in process and gunicorn) read var/secret_key
    args = parse(argv)
    started = time.perf_counter()
    if args.which == "memory":
        from bench import memory

        memory.run(args.minutes, write=not args.no_write)
    elif args.which == "faults":  # its own cluster: neither var/database_url nor the bench database
        from bench import faults

        result = faults.run(threads=args.threads, kill_phase_s=args.kill_phase, kill_every_s=args.kill_every,
                            db_phase_s=args.db_phase, down_s=args.down, seed=args.seed, keep=args.keep)
        faults.print_tables(result)
        save(args, "faults", result)
    elif args.which in ("petitions", "missions", "budget"):  # databases of their own
        if args.runs is None:
            args.runs = 3 if args.which == "budget" else 5
        module = __import__(f"bench.{args.which}_bench", fromlist=["main"])
        module.main(args)
    elif args.which in ("import", "bbox"):
        run_own_database(args)
    elif args.which == "dataset":
        db, record = dataset.ensure(args.db, rows=args.rows or dataset.DEFAULT_ROWS, rebuild=args.rebuild,
                                    migrate=not args.no_migrate)
        common.log(f"dataset {db.name}: {record}")
    else:
        run_dataset_commands(args, DATASET_COMMANDS if args.which == "all" else (args.which,))
    common.log(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
