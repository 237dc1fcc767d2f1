"""`python -m bench [all|import|bbox]`: run the benchmarks, print tables, write results/*.json."""

from __future__ import annotations

import argparse
import os
import time

from bench import common


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("which", nargs="?", default="all", choices=["all", "import", "bbox"])
    parser.add_argument("--db", default="cartagora_bench",
                        help="bench database, created on the server of var/database_url (default: %(default)s)")
    parser.add_argument("--reuse-db", action="store_true",
                        help="keep the bench database and its loaded data instead of recreating it")
    parser.add_argument("--runs", type=int, default=5, help="timed imports (default: %(default)s)")
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
    parser.add_argument("--no-write", action="store_true", help="print only, do not write results/*.json")
    args = parser.parse_args(argv)

    started = time.perf_counter()
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
    common.log(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
