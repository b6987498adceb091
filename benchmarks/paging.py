"""Deep pages of the features API: a keyset page (the ``cursor`` of a next link) against an
``offset`` page at the same depth and against the first page.

Generates ``rows`` signals (default 500,000) straight into a fresh, migrated database,
then asks the service (in process, through the whole request path: access, audit, SQL,
GeoJSON) for pages of 100 and 1,000 features: the first page, the page at ``offset`` =
depth, and the page that starts after the id at that depth. Before keyset paging, next links
used ``offset``: offset 300,000 took 4 s, and from about 370,000 the statement timeout
answered 503 (issue 14).

Run: ``.venv/bin/python -m benchmarks paging [--rows N]``.
"""

from __future__ import annotations

import logging
import statistics
import time
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from rich.table import Table

from benchmarks.common import cluster, console, fresh_database, save_results

BRON = """
    INSERT INTO bron (code, naam, organisatie, dataklasse, convenant, bewaartermijn_maanden)
    VALUES ('politie', 'Politie', 'Politie Noord-Nederland', 'vertrouwelijk', 'riec', 60)
"""
SIGNALEN = """
    INSERT INTO signaal (bron, bron_id, thema, soort, datum, dataklasse, convenant, bewaren_tot,
                         gemeentecode, geom)
    SELECT 'politie', 'P' || i, (ARRAY['drugs', 'vastgoed', 'mensenhandel', 'overig'])[1 + i % 4],
           'melding', DATE '2023-01-01' + (i % 1000), 'vertrouwelijk', 'riec', DATE '2099-01-01',
           'GM0014', ST_SetSRID(ST_MakePoint(226000 + random() * 14000, 576000 + random() * 12000), 28992)
    FROM generate_series(1, $1) AS i
"""
REPEATS = 15


def _medians(
    client: TestClient, cases: dict[str, dict[str, Any]], headers: dict[str, str]
) -> dict[str, tuple[float, int, int]]:
    """Per case: the median latency (ms) of ``REPEATS`` requests, the cases taken in turn so
    that noise from the shared machine falls on all of them alike; status and features."""
    path = "/collections/signalen/items"
    times: dict[str, list[float]] = {label: [] for label in cases}
    last: dict[str, Any] = {label: client.get(path, params=p, headers=headers) for label, p in cases.items()}
    for _ in range(REPEATS):
        for label, params in cases.items():
            start = time.perf_counter()
            last[label] = client.get(path, params=params, headers=headers)
            times[label].append((time.perf_counter() - start) * 1000)
    return {
        label: (
            statistics.median(times[label]),
            last[label].status_code,
            last[label].json().get("numberReturned", 0) if last[label].status_code == 200 else 0,
        )
        for label in cases
    }


def run(rows: int = 500_000) -> None:
    from app.main import create_app
    from app.params import encode_cursor
    from core import db
    from core.security import create_principal_key
    from core.settings import Settings

    logging.getLogger("httpx").setLevel(logging.WARNING)
    depth = rows - 1000
    console.print(f"[bold]paging benchmark[/]: {rows:,} signals, pages at depth {depth:,}")
    with cluster() as c:
        url = fresh_database(c, "okaart_paging")
        db.migrate(url)
        start = time.perf_counter()
        with psycopg.connect(c.dsn("okaart_paging"), autocommit=True) as conn:
            conn.execute(BRON)
            conn.execute(SIGNALEN.replace("$1", str(int(rows))))
            conn.execute("ANALYZE signaal")
            after = conn.execute(
                "SELECT id::text FROM signaal ORDER BY id::text OFFSET %s LIMIT 1", (depth - 1,)
            ).fetchone()
        assert after is not None
        console.print(f"generated in {time.perf_counter() - start:.1f} s")
        owner = db.make_engine(url)
        with owner.begin() as conn:
            key, _ = create_principal_key(
                conn, naam="bench", rol="beheerder", organisatie="Gemeente Groningen", convenanten=[],
                gemeenten=["GM0014"], doelen=["beheer"],
            )  # fmt: skip
        owner.dispose()
        api = db.make_engine(c.api_url("okaart_paging"), statement_timeout_ms=5000)
        settings = Settings(database_url=url, environment="test", rate_limit_per_minute=0)
        headers = {"Authorization": f"Bearer {key}", "X-Doel": "beheer"}
        results: list[dict[str, Any]] = []
        with TestClient(create_app(settings, engine=api), raise_server_exceptions=False) as client:
            for limit in (100, 1000):
                cases: dict[str, dict[str, Any]] = {
                    "eerste pagina": {"limit": limit},
                    f"offset {depth:,}": {"limit": limit, "offset": depth},
                    f"cursor op {depth:,}": {"limit": limit, "cursor": encode_cursor(str(after[0]))},
                }
                for label, (ms, status, returned) in _medians(client, cases, headers).items():
                    row = {"limit": limit, "pagina": label, "ms": round(ms, 1), "status": status}
                    results.append({**row, "objecten": returned})
        api.dispose()
    table = Table(title=f"features paging, {rows:,} signals (median of {REPEATS})")
    for column in ("limit", "pagina", "ms", "status", "objecten"):
        table.add_column(column, justify="left" if column == "pagina" else "right")
    for r in results:
        table.add_row(str(r["limit"]), r["pagina"], f"{r['ms']:.1f}", str(r["status"]), str(r["objecten"]))
    console.print(table)
    save_results("paging", {"rows": rows, "depth": depth, "repeats": REPEATS, "results": results})
