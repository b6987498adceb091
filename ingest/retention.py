"""Retention: signals past ``bewaren_tot`` are removed everywhere.

"Everywhere" means the ``signaal`` table, the materialised indicators built from it, and
anything cached downstream: the run is recorded as a ``signalen`` ingest run, which moves
the data version every ETag derives from, so no cache can keep serving a removed signal.
What was removed is logged as counts per source and theme (never the signals themselves)
in the run's options and in the audit trail. A second run on the same day removes nothing
and records nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from sqlalchemy import Engine, text

from core.domain import RunStatus
from ingest.refresh import refresh_indicators


@dataclass
class RetentionReport:
    peildatum: dt.date
    verwijderd: int = 0
    per_bron_thema: dict[str, int] = field(default_factory=dict)
    run_id: int | None = None


def run_retention(engine: Engine, peildatum: dt.date | None = None) -> RetentionReport:
    """Delete signals whose ``bewaren_tot`` lies before ``peildatum`` (default: today).

    One transaction: the deletion, its ingest run and its audit row commit together; the
    indicators are refreshed afterwards (concurrently, so maps keep answering).
    """
    peildatum = peildatum or dt.date.today()
    report = RetentionReport(peildatum=peildatum)
    started = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('okaart.retention'))"))
        rows = conn.execute(
            text(
                "WITH weg AS (DELETE FROM signaal WHERE bewaren_tot < :peil RETURNING bron, thema)"
                " SELECT bron, thema, count(*) FROM weg GROUP BY bron, thema ORDER BY bron, thema"
            ),
            {"peil": peildatum},
        ).all()
        report.per_bron_thema = {f"{bron}/{thema}": int(n) for bron, thema, n in rows}
        report.verwijderd = sum(report.per_bron_thema.values())
        if not report.verwijderd:
            return report
        opties = {"retentie": {"peildatum": peildatum.isoformat(), "per_bron_thema": report.per_bron_thema}}
        digest = hashlib.sha256(json.dumps(opties, sort_keys=True).encode()).hexdigest()
        report.run_id = conn.execute(
            text(
                "INSERT INTO ingest_run (soort, bestand, sha256, status, gestart, duur_ms, verwijderd,"
                " opties, melding) VALUES ('signalen', 'retentie', :sha, :status, :gestart,"
                " (extract(epoch FROM clock_timestamp() - :gestart) * 1000)::integer, :n,"
                " CAST(:opties AS jsonb), :melding) RETURNING id"
            ),
            {
                "sha": digest,
                "status": RunStatus.GESLAAGD,
                "gestart": started,
                "n": report.verwijderd,
                "opties": json.dumps(opties),
                "melding": f"{report.verwijderd} signalen voorbij hun bewaartermijn verwijderd",
            },
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO audit_log (principal, rol, doel, methode, route, aantal, status)"
                " VALUES ('okaart retention', 'systeem', 'bewaartermijn', 'CLI', 'okaart retention run',"
                " :n, 200)"
            ),
            {"n": report.verwijderd},
        )
    with engine.connect() as conn:
        refresh_indicators(conn)
    return report
