"""An audit trail that holds up (docs/architecture.md §7 "Audit", issue #12).

Tampering is done here the way a superuser would: the append-only triggers switched off
with ``session_replication_role = replica`` and the SHA-256 chain recomputed in SQL, so
the row chain alone passes; only the keyed anchors can catch it. Requests go through the
app (TestClient) and rows are read back from the database.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError, ProgrammingError
from typer.testing import CliRunner

from core import db
from core.pgcluster import API_LOGIN, API_ROLE, Cluster
from core.security import create_principal_key
from core.settings import Settings, get_settings
from tests.conftest import PRINCIPALS, auth, scalar

REPO = Path(__file__).resolve().parent.parent
INSERT_ROW = "INSERT INTO audit_log (methode, route, status) VALUES ('GET', :r, 200)"
#: What a superuser runs after editing rows: every hash recomputed from the first row of
#: each chain on (migration 0016: a row links to its predecessor in its own chain).
RECOMPUTE = r"""
DO $$
DECLARE
    r record;
    previous bytea;
    chain integer;
BEGIN
    FOR r IN SELECT id, keten FROM audit_log ORDER BY keten, id LOOP
        IF chain IS DISTINCT FROM r.keten THEN
            previous := NULL;
            chain := r.keten;
        END IF;
        UPDATE audit_log a SET prev_hash = previous,
               hash = sha256(coalesce(previous, '\x'::bytea) || audit_log_canonical(a))
        WHERE a.id = r.id RETURNING hash INTO previous;
    END LOOP;
END $$
"""


# -- the keyed chain: anchors and verify -------------------------------------------------------


@pytest.fixture
def trail(
    fresh_db: str, monkeypatch: pytest.MonkeyPatch, api_login: Any
) -> Iterator[tuple[Engine, CliRunner]]:
    """A database with six audit rows written by the api login; the CLI pointed at it with a key."""
    monkeypatch.setenv("DATABASE_URL", fresh_db)
    monkeypatch.setenv("OKAART_AUDIT_KEY", secrets.token_hex(32))
    get_settings.cache_clear()
    api = db.make_engine(api_login(fresh_db))
    with api.begin() as c:
        for i in range(6):
            c.execute(text(INSERT_ROW), {"r": f"/{i}"})
    api.dispose()
    owner = create_engine(fresh_db)
    yield owner, CliRunner()
    owner.dispose()
    get_settings.cache_clear()


def run(runner: CliRunner, *args: str) -> Any:
    from cli.main import cli

    return runner.invoke(cli, list(args))


def tamper(owner: Engine, *statements: str, **params: Any) -> None:
    """Statements run as a superuser with the append-only triggers off."""
    with owner.begin() as c:
        c.execute(text("SET LOCAL session_replication_role = replica"))
        for statement in statements:
            c.execute(text(statement), params)


def test_an_intact_trail_with_anchors_verifies(trail: tuple[Engine, CliRunner], tmp_path: Path) -> None:
    owner, runner = trail
    kept = tmp_path / "ankers.txt"
    first = run(runner, "audit", "anchor", "--bestand", str(kept))
    assert first.exit_code == 0, first.output
    line = first.output.strip()
    assert line.startswith("okaart-anker id=") and "mac=" in line and len(line.splitlines()) == 1
    # An unchanged head is not anchored twice, nor appended twice.
    assert run(runner, "audit", "anchor", "--bestand", str(kept)).output.strip() == line
    assert kept.read_text().splitlines() == [line]
    assert scalar(owner, "SELECT count(*) FROM audit_anker") == 1
    with owner.begin() as c:
        c.execute(text(INSERT_ROW), {"r": "/later"})
    assert run(runner, "audit", "anchor", "--bestand", str(kept)).exit_code == 0
    assert len(kept.read_text().splitlines()) == 2

    verified = run(runner, "audit", "verify", "--ankers", str(kept))
    assert verified.exit_code == 0, verified.output
    assert "7 rijen, keten intact, 2 ankers kloppen" in verified.output
    assert "let op" not in verified.output
    with owner.begin() as c:
        c.execute(text(INSERT_ROW), {"r": "/nog-later"})
    unanchored = run(runner, "audit", "verify", "--ankers", str(kept))
    assert unanchored.exit_code == 0 and "1 rijen na het laatste anker" in unanchored.output


def test_anchor_every_few_minutes_keys_each_new_head(
    trail: tuple[Engine, CliRunner], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--elke``: between rounds a row arrives, then the operator stops it."""
    import cli.ops

    owner, runner = trail
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 3:
            raise KeyboardInterrupt
        if len(naps) == 1:
            with owner.begin() as c:
                c.execute(text(INSERT_ROW), {"r": "/tussendoor"})

    monkeypatch.setattr(cli.ops.time, "sleep", nap)
    kept = tmp_path / "ankers.txt"
    run(runner, "audit", "anchor", "--elke", "5", "--bestand", str(kept))
    assert naps == [300, 300, 300]
    assert len(kept.read_text().splitlines()) == 2  # the third round found the same head
    assert scalar(owner, "SELECT count(*) FROM audit_anker") == 2


def test_an_edit_with_recomputed_hashes_is_reported(trail: tuple[Engine, CliRunner]) -> None:
    owner, runner = trail
    assert run(runner, "audit", "anchor").exit_code == 0
    ids = [int(i) for i in owner.connect().execute(text("SELECT id FROM audit_log ORDER BY id")).scalars()]
    tamper(owner, "UPDATE audit_log SET status = 403 WHERE id = :i", RECOMPUTE, i=ids[2])
    # The unkeyed chain alone is satisfied again...
    assert scalar(owner, "SELECT count(*) FROM audit_log_verify()") == 0
    # ...the anchor is not.
    edited = run(runner, "audit", "verify")
    assert edited.exit_code == 1
    assert f"rij {ids[-1]}: verankerde rij of een voorganger gewijzigd" in edited.output


def test_a_forged_anchor_is_reported(trail: tuple[Engine, CliRunner]) -> None:
    """Rewriting the anchor to the recomputed hash needs the key; a guessed one shows."""
    import hashlib
    import hmac

    owner, runner = trail
    assert run(runner, "audit", "anchor").exit_code == 0
    head = max(int(i) for i in owner.connect().execute(text("SELECT id FROM audit_log")).scalars())
    tamper(owner, "UPDATE audit_log SET route = '/anders' WHERE id = :i", RECOMPUTE, i=head - 1)
    new_hash = bytes(scalar(owner, "SELECT hash FROM audit_log WHERE id = :i", i=head))
    forged = hmac.new(b"g" * 32, head.to_bytes(8, "big") + new_hash, hashlib.sha256).digest()
    tamper(owner, "UPDATE audit_anker SET hash = :h, mac = :m", h=new_hash, m=forged)
    result = run(runner, "audit", "verify")
    assert result.exit_code == 1 and f"rij {head}: anker klopt niet met de sleutel" in result.output


def test_a_removed_tail_after_an_anchor_is_reported(trail: tuple[Engine, CliRunner], tmp_path: Path) -> None:
    owner, runner = trail
    kept = tmp_path / "ankers.txt"
    assert run(runner, "audit", "anchor", "--bestand", str(kept)).exit_code == 0
    ids = [int(i) for i in owner.connect().execute(text("SELECT id FROM audit_log ORDER BY id")).scalars()]
    tamper(owner, "DELETE FROM audit_log WHERE id >= :i", i=ids[-3])
    assert scalar(owner, "SELECT count(*) FROM audit_log_verify()") == 0  # what is left still links
    removed = run(runner, "audit", "verify")
    assert removed.exit_code == 1 and f"rij {ids[-1]}: verankerde rij ontbreekt" in removed.output

    # Removing the anchor from the table as well: the copy kept outside still tells.
    tamper(owner, "DELETE FROM audit_anker")
    assert run(runner, "audit", "verify").exit_code == 0  # the database alone cannot know
    with_copy = run(runner, "audit", "verify", "--ankers", str(kept))
    assert with_copy.exit_code == 1
    assert "bewaard anker ontbreekt in audit_anker" in with_copy.output
    assert "verankerde rij ontbreekt" in with_copy.output


# -- chains per partition (migration 0016) ----------------------------------------------------


def concurrent_rows(api: Engine, writers: int, rounds: int) -> None:
    """Rows from ``writers`` connections whose transactions overlap: each holds its chain's
    lock until it commits, so writer i takes the i-th free chain (chain 0 first)."""
    conns = [api.connect() for _ in range(writers)]
    try:
        for r in range(rounds):
            for i, conn in enumerate(conns):
                conn.execute(text(INSERT_ROW), {"r": f"/schrijver/{i}/{r}"})
            for conn in conns:
                conn.commit()
    finally:
        for conn in conns:
            conn.close()


@pytest.fixture
def chains(trail: tuple[Engine, CliRunner], fresh_db: str, api_login: Any) -> tuple[Engine, CliRunner]:
    """The trail's six rows (chain 0) and three concurrent writers three times: 15 rows in
    three chains whose ids interleave."""
    api = db.make_engine(api_login(fresh_db))
    concurrent_rows(api, writers=3, rounds=3)
    api.dispose()
    return trail


def chain_ids(owner: Engine) -> dict[int, list[int]]:
    """The row ids of each chain, in chain order."""
    with owner.connect() as c:
        found = c.execute(text("SELECT keten, array_agg(id ORDER BY id) FROM audit_log GROUP BY keten"))
        return {int(k): list(ids) for k, ids in found}


def test_concurrent_writers_take_chains_of_their_own(chains: tuple[Engine, CliRunner]) -> None:
    owner, runner = chains
    by_chain = chain_ids(owner)
    assert sorted(by_chain) == [0, 1, 2] and [len(by_chain[k]) for k in (0, 1, 2)] == [9, 3, 3]
    with owner.connect() as c:
        writers: dict[int, list[str]] = dict(
            c.execute(
                text(
                    "SELECT keten, array_agg(DISTINCT split_part(route, '/', 3)) FROM audit_log"
                    " WHERE route LIKE '/schrijver/%' GROUP BY keten"
                )
            ).all()
        )
    assert writers == {0: ["0"], 1: ["1"], 2: ["2"]}  # each writer kept to one chain
    assert by_chain[1][0] < by_chain[0][-1]  # the chains interleave
    assert scalar(owner, "SELECT count(*) FROM audit_log_verify()") == 0

    anchored = run(runner, "audit", "anchor")
    assert anchored.exit_code == 0, anchored.output
    lines = anchored.output.strip().splitlines()
    heads = [by_chain[k][-1] for k in (0, 1, 2)]
    assert [int(line.split()[1].removeprefix("id=")) for line in lines] == heads
    verified = run(runner, "audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert "15 rijen, keten intact, 3 ankers kloppen (3 ketens)" in verified.output
    assert "let op" not in verified.output


def test_anchoring_every_chain_takes_two_statements_whatever_their_number(
    chains: tuple[Engine, CliRunner],
) -> None:
    """One query finds every chain's head and its anchor, one INSERT adds the new anchors:
    not a query per chain (there may be 32)."""
    from sqlalchemy import event

    from core.audit_anchors import anchor, load_key

    owner, runner = chains
    key = load_key(get_settings(), None)
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(owner, "before_cursor_execute", seen)
    try:
        with owner.begin() as c:
            first = anchor(c, key)
        counted = len(statements)
        with owner.begin() as c:
            again = anchor(c, key)
    finally:
        event.remove(owner, "before_cursor_execute", seen)
    by_chain = chain_ids(owner)
    assert [a.audit_id for a, new in first] == [by_chain[k][-1] for k in (0, 1, 2)]
    assert all(new for _, new in first) and not any(new for _, new in again)
    assert [a for a, _ in again] == [a for a, _ in first]  # the same anchors, times included
    assert counted == 2 and len(statements) == 3  # heads + insert; then the heads alone
    assert scalar(owner, "SELECT count(*) FROM audit_anker") == 3
    verified = run(runner, "audit", "verify")
    assert verified.exit_code == 0 and "3 ankers kloppen (3 ketens)" in verified.output, verified.output


def test_a_transaction_keeps_its_chain(fresh_db: str, api_login: Any) -> None:
    """Its second row goes to the chain of its first even when chain 0 came free meanwhile:
    a transaction never holds two chain locks, so writers cannot wait for each other."""
    api = db.make_engine(api_login(fresh_db))
    with api.connect() as holder, api.connect() as writer:
        holder.execute(text(INSERT_ROW), {"r": "/houder"})
        writer.execute(text(INSERT_ROW), {"r": "/eerste"})
        holder.commit()
        writer.execute(text(INSERT_ROW), {"r": "/tweede"})
        writer.commit()
        writer.execute(text(INSERT_ROW), {"r": "/volgende"})  # a new transaction: chain 0 is free
        writer.commit()
    api.dispose()
    owner = create_engine(fresh_db)
    with owner.connect() as c:
        chain_of: dict[str, int] = dict(c.execute(text("SELECT route, keten FROM audit_log")).all())
    owner.dispose()
    assert chain_of == {"/houder": 0, "/eerste": 1, "/tweede": 1, "/volgende": 0}


def test_an_edit_in_one_chain_with_recomputed_hashes_is_reported(chains: tuple[Engine, CliRunner]) -> None:
    owner, runner = chains
    assert run(runner, "audit", "anchor").exit_code == 0
    by_chain = chain_ids(owner)
    tamper(owner, "UPDATE audit_log SET status = 403 WHERE id = :i", RECOMPUTE, i=by_chain[1][1])
    assert scalar(owner, "SELECT count(*) FROM audit_log_verify()") == 0
    edited = run(runner, "audit", "verify")
    assert edited.exit_code == 1
    assert f"rij {by_chain[1][-1]}: verankerde rij of een voorganger gewijzigd" in edited.output
    assert "1 problem(s) in 15 rows" in edited.output  # the other chains' anchors hold


def test_a_removed_middle_row_breaks_its_own_chain(chains: tuple[Engine, CliRunner]) -> None:
    owner, runner = chains
    assert run(runner, "audit", "anchor").exit_code == 0
    by_chain = chain_ids(owner)
    gone = by_chain[2][1]
    tamper(owner, "DELETE FROM audit_log WHERE id = :i", i=gone)
    # The next row of the same chain misses its link (not the next id, of another chain).
    problems = owner.connect().execute(text("SELECT id, probleem FROM audit_log_verify()")).all()
    assert [(p.id, p.probleem) for p in problems] == [
        (by_chain[2][2], "schakel verbroken: voorganger gewijzigd of verwijderd")
    ]
    tamper(owner, RECOMPUTE)
    removed = run(runner, "audit", "verify")
    assert removed.exit_code == 1
    assert f"rij {by_chain[2][-1]}: verankerde rij of een voorganger gewijzigd" in removed.output


def test_a_removed_tail_of_one_chain_is_reported(chains: tuple[Engine, CliRunner], tmp_path: Path) -> None:
    owner, runner = chains
    kept = tmp_path / "ankers.txt"
    assert run(runner, "audit", "anchor", "--bestand", str(kept)).exit_code == 0
    by_chain = chain_ids(owner)
    tamper(owner, "DELETE FROM audit_log WHERE keten = 1 AND id >= :i", i=by_chain[1][1])
    assert scalar(owner, "SELECT count(*) FROM audit_log_verify()") == 0
    removed = run(runner, "audit", "verify")
    assert removed.exit_code == 1 and f"rij {by_chain[1][-1]}: verankerde rij ontbreekt" in removed.output
    # The whole chain and its anchors gone: the copy kept outside still tells.
    tamper(owner, "DELETE FROM audit_log WHERE keten = 1", "DELETE FROM audit_anker WHERE audit_id = :i",
           i=by_chain[1][-1])  # fmt: skip
    assert run(runner, "audit", "verify").exit_code == 0  # the database alone cannot know
    with_copy = run(runner, "audit", "verify", "--ankers", str(kept))
    assert with_copy.exit_code == 1 and "bewaard anker ontbreekt in audit_anker" in with_copy.output


def test_a_reordered_row_is_reported(chains: tuple[Engine, CliRunner]) -> None:
    """Two rows of a chain swapped, and a row moved to another chain: the unkeyed chain
    shows it, and after recomputing it the anchors do."""
    owner, runner = chains
    assert run(runner, "audit", "anchor").exit_code == 0
    by_chain = chain_ids(owner)
    first, second = by_chain[0][2], by_chain[0][3]
    swap = (
        "UPDATE audit_log SET id = -1 WHERE id = :a",
        "UPDATE audit_log SET id = :a WHERE id = :b",
        "UPDATE audit_log SET id = :b WHERE id = -1",
    )
    tamper(owner, *swap, a=first, b=second)
    found = set(owner.connect().execute(text("SELECT id FROM audit_log_verify()")).scalars())
    assert found >= {first, second}
    tamper(owner, RECOMPUTE)
    swapped = run(runner, "audit", "verify")
    assert swapped.exit_code == 1
    assert f"rij {by_chain[0][-1]}: verankerde rij of een voorganger gewijzigd" in swapped.output

    moved = by_chain[1][1]
    tamper(owner, "UPDATE audit_log SET keten = 2 WHERE id = :i", i=moved)
    assert scalar(owner, "SELECT count(*) FROM audit_log_verify()") > 0
    tamper(owner, RECOMPUTE)
    assert scalar(owner, "SELECT count(*) FROM audit_log_verify()") == 0
    result = run(runner, "audit", "verify")
    assert result.exit_code == 1
    for chain in (1, 2):
        assert f"rij {by_chain[chain][-1]}: verankerde rij of een voorganger gewijzigd" in result.output


def test_rows_in_several_chains_cannot_be_migrated_down(fresh_db: str, api_login: Any) -> None:
    """Joining chains would mean recomputing hashes, which is what tampering looks like."""
    api = db.make_engine(api_login(fresh_db))
    concurrent_rows(api, writers=2, rounds=1)
    api.dispose()
    with pytest.raises(DBAPIError, match="more than one chain"):
        db.downgrade(fresh_db, "0015")


def test_verify_without_a_key_says_what_to_set(fresh_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", fresh_db)
    monkeypatch.delenv("OKAART_AUDIT_KEY", raising=False)
    monkeypatch.delenv("OKAART_AUDIT_KEY_FILE", raising=False)
    get_settings.cache_clear()
    try:
        result = run(CliRunner(), "audit", "verify")
        monkeypatch.setenv("OKAART_AUDIT_KEY", "kort")
        get_settings.cache_clear()
        too_short = run(CliRunner(), "audit", "anchor")
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1 and "OKAART_AUDIT_KEY" in result.output
    assert too_short.exit_code == 1 and "shorter than 32 bytes" in too_short.output


def test_production_needs_an_audit_key(tmp_path: Path) -> None:
    urls = {"database_url": "postgresql://u:p@db/okaart", "api_database_url": "postgresql://a:p@db/okaart"}
    with pytest.raises(ValidationError, match="OKAART_AUDIT_KEY"):
        Settings(environment="production", **urls)
    with pytest.raises(ValidationError, match="does not exist"):
        Settings(environment="production", audit_key_file=tmp_path / "geen.key", **urls)
    (tmp_path / "audit.key").write_text(secrets.token_hex(32))
    Settings(environment="production", audit_key_file=tmp_path / "audit.key", **urls)
    Settings(environment="production", audit_key=secrets.token_hex(32), **urls)
    with pytest.raises(ValidationError, match="shorter than 32 bytes"):
        Settings(environment="production", audit_key="kort", **urls)


# -- the server decides id, time and hashes, and bounds the text -------------------------------


def test_the_api_role_cannot_choose_time_id_or_hash(fresh_db: str, api_login: Any) -> None:
    api = db.make_engine(api_login(fresh_db))
    for column, value in (("tijdstip", "'2000-01-01'"), ("id", "1"), ("hash", "'\\x00'::bytea")):
        with pytest.raises(ProgrammingError, match="permission denied"), api.begin() as c:
            c.execute(
                text(
                    f"INSERT INTO audit_log (methode, route, status, {column}) VALUES ('GET', '/', 200, {value})"
                )
            )
    api.dispose()
    # The owner may name the column, and the trigger overrules it all the same.
    owner = create_engine(fresh_db)
    with owner.begin() as c:
        row = c.execute(
            text(
                "INSERT INTO audit_log (id, tijdstip, methode, route, status, client) VALUES"
                " (-5, '2000-01-01', 'GET', :route, 200, :client) RETURNING id, tijdstip > now() - interval '1 hour',"
                " length(route), length(client)"
            ),
            {"route": "/" + "r" * 100_000, "client": "c" * 5000},
        ).one()
        # One long text among short ones is cut as well (the trigger tests the longest).
        bbox = c.execute(
            text(
                "INSERT INTO audit_log (methode, route, status, bbox) VALUES ('GET', '/', 200, :b) RETURNING bbox"
            ),
            {"b": "b" * 300},
        ).scalar_one()
    owner.dispose()
    assert row[0] > 0 and row[1] is True
    assert row[2] == 256 and row[3] == 256
    assert bbox == "b" * 256


# -- the api's own login -----------------------------------------------------------------------


def test_the_api_login_cannot_reset_its_role(fresh_db: str, api_login: Any) -> None:
    api = db.make_engine(api_login(fresh_db))
    with api.connect() as c:
        assert c.execute(text("SELECT current_user")).scalar_one() != "okaart"
        c.execute(text("INSERT INTO audit_log (methode, route, status) VALUES ('GET', '/', 200)"))
        c.commit()
        c.execute(text("RESET ROLE"))
        with pytest.raises(DBAPIError, match="permission denied"):
            c.execute(text("UPDATE audit_log SET status = 500"))
        c.rollback()
        c.execute(text("RESET ROLE"))
        with pytest.raises(DBAPIError, match="permission denied"):
            c.execute(text("CREATE TABLE mijn_tabel (i int)"))
        c.rollback()
        for role in ("okaart", "postgres", "okaart_ingest"):
            with pytest.raises(DBAPIError):
                c.execute(text(f'SET ROLE "{role}"'))
            c.rollback()
        attributes = c.execute(
            text(
                "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls,"
                " ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid"
                "       WHERE m.member = r.oid)"
                " FROM pg_roles r WHERE rolname = current_user"
            )
        ).one()
        group = c.execute(
            text(
                "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = :g"
            ),
            {"g": API_ROLE},
        ).scalar_one()
    api.dispose()
    assert tuple(attributes[:5]) == (False, False, False, False, False)
    assert attributes[5] == [API_ROLE]
    assert group == 0  # the group role is member of nothing stronger


# -- faithful rows through the app --------------------------------------------------------------


def new_key(engine: Engine, kind: str = "partner_riec") -> tuple[str, str]:
    naam = f"audit-{uuid.uuid4().hex[:8]}"
    with engine.begin() as c:
        key, _ = create_principal_key(c, naam=naam, **PRINCIPALS[kind])  # type: ignore[arg-type]
    return key, naam


def rows_of(engine: Engine, naam: str) -> list[dict[str, Any]]:
    with engine.connect() as c:
        return [
            dict(r)
            for r in c.execute(
                text(
                    "SELECT route, laag, doel, status, aantal, object_ids, bbox, length(a::text) AS lengte"
                    " FROM audit_log a WHERE principal = :p ORDER BY id"
                ),
                {"p": naam},
            ).mappings()
        ]


def test_a_huge_or_foreign_purpose_is_refused_and_never_stored(client: Any, demo_engine: Engine) -> None:
    key, naam = new_key(demo_engine)
    h = {"Authorization": f"Bearer {key}"}
    huge = "geheim" * 200_000  # 1.2 MB
    pasted = "okk_" + secrets.token_urlsafe(30)  # another key, pasted in the wrong field
    # Longer than any purpose (100 characters): refused before it is looked at.
    assert client.get("/collections/signalen/items", headers={**h, "X-Doel": huge}).status_code == 400
    assert client.get("/collections/signalen/items", params={"doel": pasted}, headers=h).status_code == 403
    allowed = client.get(
        "/collections/signalen/items", params={"limit": 1}, headers={**h, "X-Doel": "opsporing"}
    )
    assert allowed.status_code == 200
    rows = rows_of(demo_engine, naam)
    assert [(r["status"], r["doel"]) for r in rows] == [(400, None), (403, None), (200, "opsporing")]
    assert all(r["lengte"] < 2000 for r in rows)
    text_of_rows = scalar(
        demo_engine, "SELECT string_agg(a::text, '') FROM audit_log a WHERE principal = :p", p=naam
    )
    assert "geheim" not in text_of_rows and pasted not in text_of_rows


def test_a_missing_or_hidden_feature_is_recorded_as_404(client: Any, demo_engine: Engine) -> None:
    zorg_key, zorg = new_key(demo_engine, "partner_zorg")
    riec_key, riec = new_key(demo_engine, "partner_riec")
    riec_signal = client.get(
        "/collections/signalen/items", params={"limit": 1}, headers=auth(riec_key, "opsporing")
    ).json()["features"][0]["id"]
    item = "/collections/{collection_id}/items/{feature_id}"

    missing = client.get("/collections/signalen/items/999999999", headers=auth(riec_key, "opsporing"))
    hidden = client.get(f"/collections/signalen/items/{riec_signal}", headers=auth(zorg_key, "zorg"))
    assert missing.status_code == 404 and hidden.status_code == 404
    assert [(r["route"], r["status"], r["aantal"]) for r in rows_of(demo_engine, riec)][1:] == [
        (item, 404, 0)
    ]
    assert [(r["route"], r["status"], r["aantal"], r["object_ids"]) for r in rows_of(demo_engine, zorg)] == [
        (item, 404, 0, None)
    ]


def test_an_empty_tile_records_its_address(client: Any, demo_engine: Engine) -> None:
    key, naam = new_key(demo_engine)
    # Below the point layer's minimum zoom: answered empty without a query.
    low = client.get("/collections/signalen/tiles/WebMercatorQuad/9/263/164", headers=auth(key, "opsporing"))
    assert low.status_code == 200 and low.content == b""
    assert [(r["status"], r["bbox"]) for r in rows_of(demo_engine, naam)] == [(200, "tegel 9/263/164")]


@pytest.fixture
def limited_client(demo_engine: Engine, api_login: Any) -> Iterator[TestClient]:
    """The service with a 4 KB body limit and a small rate limit."""
    from app.main import create_app

    url = demo_engine.url.render_as_string(hide_password=False)
    settings = Settings(
        database_url=url, environment="test", max_body_bytes=4096, rate_limit_per_minute=6, rate_limit_burst=3
    )
    api = db.make_engine(api_login(url))
    with TestClient(create_app(settings, engine=api), raise_server_exceptions=False) as client:
        yield client
    api.dispose()


def test_refusals_in_front_of_the_routes_are_recorded(
    limited_client: TestClient, demo_engine: Engine
) -> None:
    key, naam = new_key(demo_engine, "analist")
    headers = {**auth(key), "Content-Type": "application/json"}
    big = b'{"type": "Polygon", "coordinates": [' + b"[1.0, 2.0]," * 2000 + b"[1.0, 2.0]]}"
    assert limited_client.post("/selectie", content=big, headers=headers).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused while streaming
        for _ in range(10):
            yield b" " * 1000

    assert limited_client.post("/selectie", content=chunks(), headers=headers).status_code == 413
    nul = limited_client.get("/collections/buurten/items", params={"thema": "a\x00b"}, headers=auth(key))
    assert nul.status_code == 400
    # Not an audited route: refused all the same, and no row.
    assert limited_client.post("/aanmelden", content=big, headers=headers).status_code == 413
    rows = rows_of(demo_engine, naam)
    assert [(r["route"], r["status"]) for r in rows] == [
        ("/selectie", 413),
        ("/selectie", 413),
        ("/collections/{collection_id}/items", 400),
    ]


def test_a_rate_limited_request_is_recorded_as_429(limited_client: TestClient, demo_engine: Engine) -> None:
    key, naam = new_key(demo_engine, "analist")
    statuses = [
        limited_client.get("/collections/wijken/items", params={"limit": 1}, headers=auth(key)).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    assert [r["status"] for r in rows_of(demo_engine, naam)] == statuses


# -- a crash does not look like tampering ------------------------------------------------------


def okaart(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OKAART_") and k != "DATABASE_URL"}
    env["OKAART_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=env, timeout=300, cwd=REPO
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "okaart"
    yield directory
    Cluster.at(directory).destroy()


def test_a_crash_and_restart_is_not_reported(data_dir: Path) -> None:
    assert okaart(data_dir, "db", "migrate").returncode == 0
    cluster = Cluster.at(data_dir)
    key_file = cluster.audit_key_file
    assert key_file.stat().st_mode & 0o777 == 0o600 and len(key_file.read_text().strip()) == 64
    api_url = cluster.api_url().replace("+psycopg", "")
    assert db.api_url(Settings(data_dir=data_dir)) == (cluster.api_url(), None)  # the service's login

    def write(n: int) -> None:
        """One row held open in chain 0 while n - 1 rows go to chain 1, then committed."""
        with psycopg.connect(api_url) as holder, psycopg.connect(api_url, autocommit=True) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (API_LOGIN,)
            holder.execute("INSERT INTO audit_log (methode, route, status) VALUES ('GET', '/houder', 200)")
            for i in range(n - 1):
                conn.execute(
                    "INSERT INTO audit_log (methode, route, status) VALUES ('GET', %s, 200)", (f"/{i}",)
                )
            holder.commit()

    write(5)
    anchored = okaart(data_dir, "audit", "anchor")
    assert anchored.returncode == 0, anchored.stderr
    assert len(anchored.stdout.splitlines()) == 2  # one anchor per chain
    # The crash comes while a row is in flight: its chain's lock and its id die with it.
    in_flight = psycopg.connect(api_url)
    in_flight.execute("INSERT INTO audit_log (methode, route, status) VALUES ('GET', '/verloren', 200)")
    pid = int((cluster.datadir / "postmaster.pid").read_text().splitlines()[0])
    os.kill(pid, signal.SIGKILL)
    with suppress(psycopg.Error):
        in_flight.close()
    time.sleep(0.5)
    assert okaart(data_dir, "db", "start").returncode == 0
    write(3)
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM audit_log ORDER BY id").fetchall()]
        chains = conn.execute("SELECT count(DISTINCT keten) FROM audit_log").fetchone()
    assert ids[-1] - ids[0] + 1 > len(ids)  # the sequence jumped: ids have a gap
    assert chains == (2,)
    assert okaart(data_dir, "audit", "anchor").returncode == 0
    verified = okaart(data_dir, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "8 rijen, keten intact, 4 ankers kloppen (2 ketens)" in verified.stdout
