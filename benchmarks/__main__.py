"""``python -m benchmarks [NAME ...]``: run the named benchmarks (default: all)."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

BENCHMARKS = (
    "ingest", "snapshot", "tiles", "roles", "kaart", "paging", "cql", "audit", "backup", "gdal", "zoeken",
    "afdruk", "tijd",
)  # fmt: skip
#: Run only when named: they compare this checkout with another one (``--before``).
COMPARISONS = ("ingest_ab",)
#: Run only when named: long, and it loads the machine on purpose.
STRESS = ("overload",)
#: Run only when named: generates national-size data (``--scale``: a share of it).
NATIONAL = ("national",)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument(
        "names",
        nargs="*",
        choices=[*BENCHMARKS, *COMPARISONS, *STRESS, *NATIONAL, []],
        help="which to run",
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=None,
        help="size: rows of the generated file (ingest, 1,000,000; snapshot, 500,000), "
        "requests per list (tiles, 2,000), page loads (kaart, 7), signals (paging, 500,000; gdal, 7,400), "
        "audit rows (backup, 20,000), addresses (zoeken, 200)",
    )
    parser.add_argument("--before", type=Path, help="ingest_ab: a checkout of the earlier commit")
    parser.add_argument("--scale", type=float, default=1.0, help="national: share of the national size")
    parser.add_argument("--keep", type=Path, help="national: keep the loaded cluster in this directory")
    parser.add_argument(
        "--serve-only", type=Path, help="national: only measure tiles and items, on a cluster kept by --keep"
    )
    args = parser.parse_args()
    if args.serve_only is not None:
        from benchmarks.national import serve_only

        serve_only(args.serve_only, args.scale)
        return
    for name in args.names or BENCHMARKS:
        run = importlib.import_module(f"benchmarks.{name}").run
        extra: dict[str, object] = {"before": args.before} if name in COMPARISONS else {}
        if name in NATIONAL:
            extra["scale"] = args.scale
            if args.keep is not None:
                extra["keep"] = args.keep
        if args.rows is None:
            run(**extra)
        else:
            run(rows=args.rows, **extra)


main()
