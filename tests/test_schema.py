"""The schema makes bad rows impossible and the api role read-only (docs/architecture.md §3, §7)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError, ProgrammingError

from core import db

SQUARE = "ST_Multi(ST_GeomFromText('POLYGON((233000 582000, 234000 582000, 234000 583000, 233000 583000, 233000 582000))', 28992))"
BOWTIE = "ST_Multi(ST_GeomFromText('POLYGON((233000 582000, 234000 583000, 234000 582000, 233000 583000, 233000 582000))', 28992))"
POINT = "ST_SetSRID(ST_MakePoint(233500, 582500), 28992)"


def insert_vbo(conn: Connection, sleutel: str, identificatie: str | None, postcode: str = "9712KB") -> None:
    conn.execute(
        text(
            "INSERT INTO verblijfsobject (sleutel, identificatie, openbare_ruimte, huisnummer,"
            " postcode, woonplaats, geom) VALUES (:s, :i, 'Grote Markt', 1, :p, 'Groningen',"
            f" {POINT})"
        ),
        {"s": sleutel, "i": identificatie, "p": postcode},
    )


def test_valid_rows_are_accepted(conn: Connection) -> None:
    conn.execute(
        text(
            "INSERT INTO gebied (soort, code, naam, gemeentecode, jaar, geom) VALUES"
            f" ('buurt', 'BU00140101', 'Binnenstad-Oost', 'GM0014', 2024, {SQUARE})"
        )
    )
    insert_vbo(conn, "0014010011067299", "0014010011067299")
    insert_vbo(conn, "A:9712KB:2:A:", None)
    count = conn.execute(text("SELECT count(*) FROM verblijfsobject")).scalar_one()
    assert count == 2
    # The tile copy is derived from the RD geometry, never written separately.
    x = conn.execute(text("SELECT ST_X(geom_3857) FROM verblijfsobject LIMIT 1")).scalar_one()
    assert 730_000 < x < 740_000


@pytest.mark.parametrize("bad_id", ["123", "00140100110672991", "001401001106729X"])
def test_malformed_bag_id_is_rejected(conn: Connection, bad_id: str) -> None:
    with pytest.raises(IntegrityError, match="check constraint"), conn.begin_nested():
        insert_vbo(conn, "0014010011067299", bad_id)


@pytest.mark.parametrize("bad_code", ["BU0014010", "WK00140101", "bu00140101", "BU00140101 "])
def test_malformed_buurt_code_is_rejected(conn: Connection, bad_code: str) -> None:
    with pytest.raises(IntegrityError, match="gebied_code_patroon"), conn.begin_nested():
        conn.execute(
            text(
                "INSERT INTO gebied (soort, code, naam, gemeentecode, jaar, geom) VALUES"
                f" ('buurt', :c, 'X', 'GM0014', 2024, {SQUARE})"
            ),
            {"c": bad_code},
        )


def test_invalid_polygon_is_rejected(conn: Connection) -> None:
    with pytest.raises(IntegrityError, match="check constraint"), conn.begin_nested():
        conn.execute(
            text(
                "INSERT INTO gebied (soort, code, naam, gemeentecode, jaar, geom) VALUES"
                f" ('buurt', 'BU00140101', 'Zelfdoorsnijdend', 'GM0014', 2024, {BOWTIE})"
            )
        )


def test_point_outside_the_netherlands_is_rejected(conn: Connection) -> None:
    # Lon/lat stored as if it were RD: the classic mistake lands near Paris in RD terms.
    with pytest.raises(IntegrityError, match="check constraint"), conn.begin_nested():
        conn.execute(
            text(
                "INSERT INTO verblijfsobject (sleutel, openbare_ruimte, huisnummer, postcode,"
                " woonplaats, geom) VALUES ('A:9712KB:1::', 'Grote Markt', 1, '9712KB',"
                " 'Groningen', ST_SetSRID(ST_MakePoint(6.57, 53.22), 28992))"
            )
        )


@pytest.fixture
def api_conn(shared_url: str, api_login: Callable[[str], str]) -> Iterator[Connection]:
    """A connection as the service's api role, rolled back afterwards."""
    engine = db.make_engine(api_login(shared_url))
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield connection
        finally:
            transaction.rollback()
    engine.dispose()


WRITES = {
    "INSERT": "INSERT INTO {t} DEFAULT VALUES",
    "UPDATE": "UPDATE {t} SET id = DEFAULT WHERE false",
    "DELETE": "DELETE FROM {t} WHERE false",
    "TRUNCATE": "TRUNCATE {t}",
}
SOURCE_TABLES = [
    "gebied",
    "verblijfsobject",
    "leegstand",
    "signaal",
    "ingest_run",
    "ingest_reject",
    "principal",
    "api_key",
]


@pytest.mark.parametrize("table", SOURCE_TABLES)
@pytest.mark.parametrize("verb", list(WRITES))
def test_api_role_cannot_write_source_tables(api_conn: Connection, table: str, verb: str) -> None:
    with pytest.raises(ProgrammingError, match="permission denied"), api_conn.begin_nested():
        api_conn.execute(text(WRITES[verb].format(t=table)))


def test_api_role_cannot_write_bron(api_conn: Connection) -> None:
    with pytest.raises(ProgrammingError, match="permission denied"), api_conn.begin_nested():
        api_conn.execute(text("UPDATE bron SET naam = naam WHERE false"))


@pytest.mark.parametrize("verb", ["UPDATE", "DELETE", "TRUNCATE"])
def test_api_role_cannot_change_audit_log(api_conn: Connection, verb: str) -> None:
    api_conn.execute(text("INSERT INTO audit_log (methode, route, status) VALUES ('GET', '/x', 200)"))
    with pytest.raises(DBAPIError, match="permission denied"), api_conn.begin_nested():
        api_conn.execute(text(WRITES[verb].format(t="audit_log")))


def test_api_role_can_read_published_tables(api_conn: Connection) -> None:
    for table in ("gebied", "verblijfsobject", "signaal", "leegstand", "bron"):
        api_conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_audit_chain_detects_edit_and_removal(fresh_db: str, api_login: Callable[[str], str]) -> None:
    api = db.make_engine(api_login(fresh_db))
    with api.begin() as c:
        for i in range(5):
            c.execute(
                text("INSERT INTO audit_log (methode, route, status) VALUES ('GET', :r, 200)"),
                {"r": f"/r/{i}"},
            )
    api.dispose()
    owner = create_engine(fresh_db)
    with owner.begin() as c:
        assert c.execute(text("SELECT count(*) FROM audit_log_verify()")).scalar_one() == 0
        ids = c.execute(text("SELECT id FROM audit_log ORDER BY id")).scalars().all()
        # Even the owner is stopped by the append-only trigger...
        with pytest.raises(DBAPIError, match="append-only"), c.begin_nested():
            c.execute(text("UPDATE audit_log SET status = 403 WHERE id = :i"), {"i": ids[1]})
        # ...so tampering takes a deliberate bypass, and verify shows it.
        c.execute(text("SET LOCAL session_replication_role = replica"))
        c.execute(text("UPDATE audit_log SET status = 403 WHERE id = :i"), {"i": ids[1]})
        c.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": ids[3]})
        problems = c.execute(text("SELECT id, probleem FROM audit_log_verify()")).all()
    owner.dispose()
    assert [row.id for row in problems] == [ids[1], ids[4]]
    assert "inhoud" in problems[0].probleem
    assert "verwijderd" in problems[1].probleem


def test_vocabularies_match_the_schema(conn: Connection) -> None:
    from core import domain

    checks = (
        conn.execute(
            text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = 'signaal'::regclass AND contype = 'c'"
            )
        )
        .scalars()
        .all()
    )
    joined = " ".join(checks)
    for value in (*domain.THEMAS, *domain.SIGNAAL_SOORTEN, *domain.DATAKLASSEN):
        assert f"'{value}'" in joined, value


def test_run_statuses_and_ingest_tables_match(conn: Connection) -> None:
    """The service's vocabularies of ingest runs agree with the schema and the ingest kinds."""
    from core.domain import INGEST_TABLES, RunStatus
    from ingest.sources import KINDS

    check = conn.execute(
        text(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'ingest_run'::regclass AND contype = 'c'"
            " AND pg_get_constraintdef(oid) LIKE '%status%'"
        )
    ).scalar_one()
    assert sorted(s.value for s in RunStatus) == sorted(re.findall(r"'(\w+)'::text", check))
    assert {name: kind.table for name, kind in KINDS.items()} == INGEST_TABLES
