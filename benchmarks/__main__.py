"""``python -m benchmarks [NAME ...]``: run the named benchmarks (default: all)."""

from __future__ import annotations

import argparse
import importlib

BENCHMARKS = ("ingest", "snapshot", "tiles", "roles", "kaart", "cql")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], help="which to run")
    parser.add_argument(
        "--rows",
        type=int,
        default=None,
        help="size: rows of the generated file (ingest, 1,000,000; snapshot, 500,000), "
        "requests per list (tiles, 2,000), page loads (kaart, 7)",
    )
    args = parser.parse_args()
    for name in args.names or BENCHMARKS:
        run = importlib.import_module(f"benchmarks.{name}").run
        if args.rows is None:
            run()
        else:
            run(rows=args.rows)


main()
