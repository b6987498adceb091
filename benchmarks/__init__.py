"""Side-by-side speed comparisons; run with ``python -m benchmarks [ingest|tiles]``."""
