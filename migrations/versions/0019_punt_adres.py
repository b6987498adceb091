"""The address of a signal and of a vacant object, for the popup of a point (issue #15).

``laag_signaal`` and ``laag_leegstand`` gain ``adres``: the address of the row's
verblijfsobject as a reader writes it ("Grote Markt 1a-2, 9711 LV Groningen"), NULL when the
row was placed without one. A scalar subquery on the primary key, not a join: the view keeps
one row per signal whatever happens to the register. Columns are appended, so
``CREATE OR REPLACE`` keeps the grants. Who may read it is the layer's business
(``Property.clearance`` in layers/base.py): a partner, cleared for signals but not for
addresses, gets NULL.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

ADRES = """(SELECT v.openbare_ruimte || ' ' || v.huisnummer || coalesce(v.huisletter, '')
                   || coalesce('-' || v.huisnummertoevoeging, '')
                   || ', ' || substr(v.postcode, 1, 4) || ' ' || substr(v.postcode, 5) || ' ' || v.woonplaats
            FROM verblijfsobject v WHERE v.id = {alias}.verblijfsobject_id)"""

SIGNAAL = """
        SELECT s.id::text AS id, s.bron, s.thema, s.soort, s.datum, s.einddatum, s.dataklasse,
               s.convenant, s.gemeentecode, s.buurtcode, s.wijkcode, s.bedrijventerreincode,
               s.buitengebied, s.geom, s.geom_3857{adres}
        FROM signaal s WHERE s.bewaren_tot >= current_date
"""

LEEGSTAND = """
        SELECT l.id::text AS id, l.soort, l.sinds, l.tot, l.bron, l.gemeentecode, l.buurtcode,
               l.wijkcode, l.bedrijventerreincode, l.buitengebied, l.geom, l.geom_3857{adres}
        FROM leegstand l
"""


def upgrade() -> None:
    op.execute(
        "CREATE OR REPLACE VIEW laag_signaal AS"
        + SIGNAAL.format(adres=",\n               " + ADRES.format(alias="s") + " AS adres")
    )
    op.execute(
        "CREATE OR REPLACE VIEW laag_leegstand AS"
        + LEEGSTAND.format(adres=",\n               " + ADRES.format(alias="l") + " AS adres")
    )


def downgrade() -> None:
    # A view loses a column only by being made again (and granted again).
    op.execute("DROP VIEW laag_signaal")
    op.execute("CREATE VIEW laag_signaal AS" + SIGNAAL.format(adres=""))
    op.execute("DROP VIEW laag_leegstand")
    op.execute("CREATE VIEW laag_leegstand AS" + LEEGSTAND.format(adres=""))
    op.execute("GRANT SELECT ON laag_signaal, laag_leegstand TO okaart_api")
