"""``python -m benchmarks [NAME ...]``: run the named benchmarks (default: all)."""

from __future__ import annotations

import argparse
import importlib

BENCHMARKS = ("ingest",)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], help="which to run")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the generated file")
    args = parser.parse_args()
    for name in args.names or BENCHMARKS:
        importlib.import_module(f"benchmarks.{name}").run(rows=args.rows)


main()
