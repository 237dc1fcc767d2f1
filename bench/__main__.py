"""`python -m bench [all|import|bbox|faults|memory|tiles|ogc|petitions|budget|missions]`: run the benchmarks, print tables, write
results/*.json.

`all` is import and bbox; `faults` (worker kills and PostgreSQL restarts under load, on a
cluster of its own) and `memory` (gunicorn's workers' RSS over `--minutes` of schemathesis, on a
copy of the development database) and `tiles` (vector tiles, zooms 10–18, on up to 5M
contributions) and `ogc` (our OGC API beside pygeoapi, in its own virtualenv, on the bench
database) run only when named."""

from __future__ import annotations

import argparse
import os
import time

from bench import common


def main(argv: list[str] | None = None) -> None:
    from app.config import write_secret

    write_secret()  # the apps it starts (in process and gunicorn) read var/secret_key
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("which", nargs="?", default="all", choices=["all", "import", "bbox", "faults", "memory", "tiles", "ogc", "petitions",
                                                                "budget", "missions"])
    parser.add_argument("--db", default="cartagora_bench",
                        help="bench database, created on the server of var/database_url (default: %(default)s)")
    parser.add_argument("--reuse-db", action="store_true",
                        help="keep the bench database and its loaded data instead of recreating it")
    parser.add_argument("--runs", type=int, default=None,
                        help="timed imports (default: 5); budget: timed counts (default: 3)")
    parser.add_argument("--reimports", type=int, default=3, help="timed re-imports (default: %(default)s)")
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="synthetic reports added for the bbox bench (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--requests", type=int, default=300, help="sequential requests (default: %(default)s)")
    parser.add_argument("--duration", type=float, default=20.0, help="load duration, s (default: %(default)s)")
    parser.add_argument("--load-runs", type=int, default=3,
                        help="load runs each for the app and the minimal app, alternating (default: %(default)s)")
    parser.add_argument("--connections", type=int, default=4, help="load connections (default: %(default)s)")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto",
                        help="auto = wrk when installed, else the Python client (default: %(default)s)")
    parser.add_argument("--quiet-wait", type=float, default=60.0,
                        help="wait up to this many s for other work to leave the CPUs idle (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=8, help="faults: client threads (default: %(default)s)")
    parser.add_argument("--kill-phase", type=float, default=20.0,
                        help="faults: s of SIGKILLing workers (default: %(default)s)")
    parser.add_argument("--kill-every", type=float, default=2.5,
                        help="faults: s between worker kills (default: %(default)s)")
    parser.add_argument("--db-phase", type=float, default=30.0,
                        help="faults: s of PostgreSQL restart and crash (default: %(default)s)")
    parser.add_argument("--down", type=float, default=3.0,
                        help="faults: s PostgreSQL stays down after the crash (default: %(default)s)")
    parser.add_argument("--keep", action="store_true",
                        help="faults: keep the temporary cluster and gunicorn's log")
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="memory: minutes of schemathesis (default: %(default)s)")
    parser.add_argument("--tile-rows", type=int, default=5_000_000,
                        help="tiles: contributions in the database, synthetic ones added (default: %(default)s)")
    parser.add_argument("--tiles", type=int, default=50, help="tiles: tiles per zoom (default: %(default)s)")
    parser.add_argument("--workers", default="4,16,32",
                        help="petitions, missions: signers at once (worker processes, one connection each), "
                             "one run per number (default: %(default)s)")
    parser.add_argument("--page-requests", type=int, default=200,
                        help="petitions, missions: timed requests per page (default: %(default)s)")
    parser.add_argument("--no-write", action="store_true", help="print only, do not write results/*.json")
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 3 if args.which == "budget" else 5

    started = time.perf_counter()
    if args.which == "memory":
        from bench import memory

        memory.run(args.minutes, write=not args.no_write)
        return
    if args.which == "faults":  # its own cluster: neither var/database_url nor the bench database
        from bench import faults

        result = faults.run(threads=args.threads, kill_phase_s=args.kill_phase, kill_every_s=args.kill_every,
                            db_phase_s=args.db_phase, down_s=args.down, seed=args.seed, keep=args.keep)
        faults.print_tables(result)
        if not args.no_write:
            common.log(f"wrote {common.write_result('faults', result)}")
        common.log(f"done in {time.perf_counter() - started:.0f} s")
        return
    if args.which == "petitions":  # a database of its own (cartagora_bench_petitions by default)
        from bench import petitions_bench

        petitions_bench.main(args)
        return
    if args.which == "missions":  # a database of its own (cartagora_bench_missions by default)
        from bench import missions_bench

        missions_bench.main(args)
        return
    if args.which == "budget":  # a database of its own (cartagora_bench_budget by default)
        from bench import budget_bench

        budget_bench.main(args)
        return
    db = common.prepare_database(args.db, fresh=not args.reuse_db)
    # Anything of the app imported from here on sees the bench database, never the dev one.
    os.environ["DATABASE_URL"] = db.url

    from bench import bbox_bench, import_bench

    if args.which in ("all", "import"):
        result = import_bench.run(db, runs=args.runs, reimports=args.reimports, quiet_wait=args.quiet_wait)
        import_bench.print_tables(result)
        if not args.no_write:
            common.log(f"wrote {common.write_result('import', result)}")
    if args.which in ("all", "bbox"):
        result = bbox_bench.run(db, rows=args.rows, seed=args.seed, requests=args.requests,
                                duration=args.duration, connections=args.connections, tool=args.loadgen,
                                quiet_wait=args.quiet_wait, load_runs=args.load_runs)
        bbox_bench.print_tables(result)
        if not args.no_write:
            common.log(f"wrote {common.write_result('bbox', result)}")
    if args.which == "tiles":
        from bench import tiles_bench

        result = tiles_bench.run(db, rows=args.tile_rows, per_zoom=args.tiles, seed=args.seed,
                                 quiet_wait=args.quiet_wait)
        tiles_bench.print_tables(result)
        if not args.no_write:
            common.log(f"wrote {common.write_result('tiles', result)}")
    if args.which == "ogc":
        from bench import ogc_bench

        result = ogc_bench.run(db, rows=args.rows, seed=args.seed, requests=args.requests,
                               duration=args.duration, connections=args.connections, tool=args.loadgen,
                               quiet_wait=args.quiet_wait, load_runs=args.load_runs)
        ogc_bench.print_tables(result)
        if not args.no_write:
            common.log(f"wrote {common.write_result('ogc', result)}")
    common.log(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
