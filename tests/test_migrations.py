"""Migrations go down to nothing and up again on a database that holds rows."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, text

from core import db

POINT = "ST_SetSRID(ST_MakePoint(233500, 582500), 28992)"


def fill(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO verblijfsobject (sleutel, openbare_ruimte, huisnummer, postcode,"
                f" woonplaats, geom) VALUES ('A:9712KB:1::', 'Grote Markt', 1, '9712KB', 'Groningen', {POINT})"
            )
        )
        c.execute(text("INSERT INTO audit_log (methode, route, status) VALUES ('GET', '/', 200)"))
        c.execute(
            text(
                "INSERT INTO bron (code, naam, organisatie, dataklasse, convenant, bewaartermijn_maanden)"
                " VALUES ('politie', 'Politie', 'Politie Noord-Nederland', 'vertrouwelijk', 'riec', 60)"
            )
        )
    engine.dispose()


def test_downgrade_to_base_and_upgrade_again(fresh_db: str) -> None:
    fill(fresh_db)
    db.downgrade(fresh_db, "base")
    engine = create_engine(fresh_db)
    tables = set(inspect(engine).get_table_names())
    assert not tables & {"gebied", "verblijfsobject", "signaal", "audit_log"}
    engine.dispose()

    db.migrate(fresh_db)
    fill(fresh_db)  # the schema works again, constraints, triggers and all
    engine = create_engine(fresh_db)
    assert db.current_revision(engine) == db.head_revision()
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM verblijfsobject")).scalar_one() == 1
        assert c.execute(text("SELECT count(*) FROM audit_log_verify()")).scalar_one() == 0
    engine.dispose()
