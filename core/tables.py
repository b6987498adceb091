"""Every table the migrations create, declared once for SQLAlchemy Core.

The migrations stay hand-written SQL: they are the schema's history and own everything
SQL says better (CHECK constraints, triggers, views, grants). This module is the schema as
Python sees it, so queries can name columns instead of repeating them in strings, and
``tests/test_drift.py`` compares it with a freshly migrated database: a column added to a
migration but not here (or the other way round) fails the suite.

What is declared is what alembic compares: columns with their types, nullability, server
defaults, identity and generated expressions, keys, unique constraints, indexes and
comments. CHECK constraints are left to the migrations: alembic does not compare them, so a
copy here could drift unseen. Views and the ``indicator`` materialized view are not tables
and are not declared.

Spatial indexes are declared by hand (``spatial_index=False``): GeoAlchemy2 would otherwise
add its own ``idx_<table>_<column>`` indexes, while the migrations name them
``<table>_<column>_idx``.
"""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Computed,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

#: Constraint names as PostgreSQL itself chooses them when a migration gives none, so the
#: declared constraints carry the names the database has.
NAMING_CONVENTION = {
    "pk": "%(table_name)s_pkey",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "fk": "%(table_name)s_%(column_0_name)s_fkey",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

RD = 28992
WEB_MERCATOR = 3857
TIMESTAMPTZ = DateTime(timezone=True)
NOW = text("now()")
EMPTY_ARRAY = text("'{}'")
EMPTY_OBJECT = text("'{}'::jsonb")
ZERO = text("0")


def _id() -> Column[int]:
    """The surrogate key of most tables: ``bigint GENERATED ALWAYS AS IDENTITY``."""
    return Column("id", BigInteger, Identity(always=True), primary_key=True)


def _rd(geometry_type: str) -> Column[object]:
    """The stored geometry, in RD New."""
    return Column("geom", Geometry(geometry_type, RD, spatial_index=False), nullable=False)


def _web_mercator(geometry_type: str) -> Column[object]:
    """The stored EPSG:3857 copy that tiles are cut from, computed by the database."""
    return Column(
        "geom_3857",
        Geometry(geometry_type, WEB_MERCATOR, spatial_index=False),
        Computed("ST_Transform(geom, 3857)", persisted=True),
    )


def _spatial_indexes(table: str) -> tuple[Index, Index]:
    """GIST indexes on both geometries of a table."""
    return (
        Index(f"{table}_geom_idx", "geom", postgresql_using="gist"),
        Index(f"{table}_geom_3857_idx", "geom_3857", postgresql_using="gist"),
    )


def _area_columns() -> tuple[Column[object], ...]:
    """The areas a point lies in, assigned at ingest (the same five on every point table)."""
    return (
        Column("gemeentecode", Text),
        Column("buurtcode", Text),
        Column("wijkcode", Text),
        Column("bedrijventerreincode", Text),
        Column("buitengebied", Boolean, nullable=False, server_default=text("false")),
    )


def _provenance() -> tuple[Column[object], ...]:
    """The run that last changed a row (no foreign key on purpose, see migration 0001)."""
    return (
        Column("ingest_run_id", BigInteger),
        Column("bijgewerkt_op", TIMESTAMPTZ, nullable=False, server_default=NOW),
    )


ingest_run = Table(
    "ingest_run",
    metadata,
    _id(),
    Column("soort", Text, nullable=False),
    Column("bestand", Text, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("bron", Text),
    Column("laag", Text),
    Column("status", Text, nullable=False),
    Column("gestart", TIMESTAMPTZ, nullable=False),
    Column("beeindigd", TIMESTAMPTZ, nullable=False, server_default=NOW),
    *(
        Column(name, Integer, nullable=False, server_default=ZERO)
        for name in (
            "duur_ms",
            "gelezen",
            "ingevoegd",
            "bijgewerkt",
            "ongewijzigd",
            "afgekeurd",
            "verwijderd",
        )
    ),
    Column("opties", JSONB, nullable=False, server_default=EMPTY_OBJECT),
    Column("melding", Text),
    Column(
        "ververst_op",
        TIMESTAMPTZ,
        comment="When the indicators were refreshed after this run's data change (NULL: not yet).",
    ),
    Column(
        "gemeenten",
        ARRAY(Text),
        comment="Municipalities whose figures this run changed (NULL: any; refresh everything).",
    ),
    comment="One row per ingest run: file hash, counts, duration, outcome.",
)

ingest_reject = Table(
    "ingest_reject",
    metadata,
    _id(),
    Column("ingest_run_id", BigInteger, ForeignKey("ingest_run.id", ondelete="CASCADE"), nullable=False),
    Column("rij", Integer, nullable=False),
    Column("reden", Text, nullable=False),
    Column("detail", Text),
    Column("gegevens", JSONB, nullable=False),
    Index("ingest_reject_run_idx", "ingest_run_id", "rij"),
    comment="Quarantine: every rejected row kept whole with its reason.",
)

gebied = Table(
    "gebied",
    metadata,
    _id(),
    Column("soort", Text, nullable=False),
    Column("code", Text, nullable=False),
    Column("naam", Text, nullable=False),
    Column("gemeentecode", Text, nullable=False),
    Column("wijkcode", Text),
    Column("jaar", SmallInteger, nullable=False),
    Column(
        "kenmerken",
        JSONB,
        nullable=False,
        server_default=EMPTY_OBJECT,
        comment="Key figures delivered with the boundary (CBS: inwoners, adressendichtheid, misdrijven).",
    ),
    _rd("MULTIPOLYGON"),
    _web_mercator("MULTIPOLYGON"),
    *_provenance(),
    Column(
        "indeling",
        Text,
        nullable=False,
        comment="Whose division: cbs, gemeente (the municipality's own), ibis, postcode, cbs_vierkant.",
    ),
    UniqueConstraint("soort", "indeling", "code", "jaar"),
    *_spatial_indexes("gebied"),
    Index("gebied_gemeente_idx", "gemeentecode", "soort", "jaar"),
    # The newest edition per type and division (actueel_gebied) as one probe (migration 0025).
    Index("gebied_editie_idx", "soort", "indeling", "jaar"),
    comment="Every area by type, division and edition; divisions and editions side by side.",
)

gebied_cel = Table(
    "gebied_cel",
    metadata,
    Column("soort", Text, nullable=False),
    Column("jaar", Integer, nullable=False),
    Column("code", Text, nullable=False),
    Column("maat", Double, nullable=False),
    Column("cel", BigInteger, nullable=False, comment="Column * 1000000 + row of ST_SquareGrid(maat)."),
    Column("heel", Boolean, nullable=False),
    Column(
        "stuk",
        Geometry("GEOMETRY", RD, spatial_index=False),
        comment="The area within a boundary cell; NULL when the cell is whole.",
    ),
    Index("gebied_cel_cel_idx", "cel"),
    comment=(
        "Newest buurten, business parks and buitengebied cut into square cells for point lookups;"
        " derived from gebied after every area load."
    ),
)

verblijfsobject = Table(
    "verblijfsobject",
    metadata,
    _id(),
    Column(
        "sleutel",
        Text,
        nullable=False,
        unique=True,
        comment="BAG identificatie when known, else A:postcode:huisnummer:huisletter:toevoeging.",
    ),
    Column("identificatie", Text, unique=True),
    Column("openbare_ruimte", Text, nullable=False),
    Column("huisnummer", Integer, nullable=False),
    Column("huisletter", Text),
    Column("huisnummertoevoeging", Text),
    Column("postcode", Text, nullable=False),
    Column("woonplaats", Text, nullable=False),
    Column("gebruiksdoel", ARRAY(Text), nullable=False, server_default=EMPTY_ARRAY),
    Column("oppervlakte", Integer),
    Column("bouwjaar", SmallInteger),
    Column("status", Text),
    Column("pand_identificaties", ARRAY(Text), comment="The BAG panden this address unit lies in."),
    _rd("POINT"),
    _web_mercator("POINT"),
    *_area_columns(),
    *_provenance(),
    *_spatial_indexes("verblijfsobject"),
    Index("verblijfsobject_adres_idx", "postcode", "huisnummer", "huisletter", "huisnummertoevoeging"),
    # Addresses without BAG id, which a BAG delivery adopts (ingest/address_identity.py).
    Index(
        "verblijfsobject_zonder_bag_idx",
        "postcode",
        "huisnummer",
        postgresql_where=text("identificatie IS NULL"),
    ),
    Index("verblijfsobject_buurt_idx", "buurtcode"),
    comment="BAG address units (verblijfsobjecten) with assigned areas.",
)
# Search by the start of a street name, in any case (/zoeken, migration 0018); declared after
# the table because the operator class of an expression is named by the expression's label.
Index(
    "verblijfsobject_straat_idx",
    func.lower(verblijfsobject.c.openbare_ruimte).label("straat"),
    verblijfsobject.c.huisnummer,
    postgresql_ops={"straat": "text_pattern_ops"},
)

bron = Table(
    "bron",
    metadata,
    Column("code", Text, primary_key=True),
    Column("naam", Text, nullable=False),
    Column("organisatie", Text, nullable=False),
    Column("dataklasse", Text, nullable=False),
    Column("convenant", Text, nullable=False),
    Column("bewaartermijn_maanden", Integer, nullable=False),
    Column("gemeentecode", Text),
    comment="Partners that deliver signals, with their disclosure and retention rules.",
)

#: Migration 0009: set by ingest/fallback.py on rows that keep their own point.
ADRES_OPMERKING = "Why the row keeps its own point instead of a BAG address, or what its house number lost."

leegstand = Table(
    "leegstand",
    metadata,
    _id(),
    Column("sleutel", Text, nullable=False, unique=True),
    # The delivering source by name: unlike signaal.bron, the migration gives it no foreign key.
    Column("bron", Text, nullable=False),
    Column("soort", Text, nullable=False),
    Column("sinds", Date, nullable=False),
    Column("tot", Date),
    Column("verblijfsobject_id", BigInteger, ForeignKey("verblijfsobject.id", ondelete="SET NULL")),
    Column("pand_identificatie", Text),
    _rd("POINT"),
    _web_mercator("POINT"),
    *_area_columns(),
    *_provenance(),
    Column("adres_opmerking", Text, comment=ADRES_OPMERKING),
    *_spatial_indexes("leegstand"),
    Index("leegstand_buurt_idx", "buurtcode"),
    # Removing an address sets this NULL: without the index, a scan per removed address.
    Index("leegstand_verblijfsobject_idx", "verblijfsobject_id"),
    # The layer's id is the text form; pages go in its order (keyset paging, migration 0014).
    Index("leegstand_id_tekst_idx", text("(id::text)")),
)

signaal = Table(
    "signaal",
    metadata,
    _id(),
    Column("bron", Text, ForeignKey("bron.code"), nullable=False),
    Column("bron_id", Text, nullable=False),
    Column("thema", Text, nullable=False),
    Column("soort", Text, nullable=False),
    Column("datum", Date, nullable=False),
    Column("einddatum", Date),
    Column("dataklasse", Text, nullable=False),
    Column("convenant", Text, nullable=False),
    Column("bewaren_tot", Date, nullable=False),
    Column("toelichting", Text),
    Column("verblijfsobject_id", BigInteger, ForeignKey("verblijfsobject.id", ondelete="SET NULL")),
    _rd("POINT"),
    _web_mercator("POINT"),
    *_area_columns(),
    *_provenance(),
    Column("adres_opmerking", Text, comment=ADRES_OPMERKING),
    UniqueConstraint("bron", "bron_id"),
    *_spatial_indexes("signaal"),
    Index("signaal_thema_datum_idx", "thema", "datum"),
    Index("signaal_buurt_idx", "buurtcode"),
    Index("signaal_bewaren_tot_idx", "bewaren_tot"),
    Index("signaal_verblijfsobject_idx", "verblijfsobject_id"),
    Index("signaal_id_tekst_idx", text("(id::text)")),
    comment="Partner signals; sensitive: access by role, covenant and purpose.",
)

vestiging = Table(
    "vestiging",
    metadata,
    _id(),
    Column("bron", Text, ForeignKey("bron.code"), nullable=False),
    Column("bron_id", Text, nullable=False),
    Column("soort", Text, nullable=False),
    Column("naam", Text),
    Column("sbi", Text),
    Column("vergunning", Text),
    Column("risicobranche", Text),
    Column("geldig_van", Date),
    Column("geldig_tot", Date),
    Column("dataklasse", Text, nullable=False),
    Column("convenant", Text, nullable=False),
    Column("verblijfsobject_id", BigInteger, ForeignKey("verblijfsobject.id", ondelete="SET NULL")),
    _rd("POINT"),
    _web_mercator("POINT"),
    *_area_columns(),
    *_provenance(),
    UniqueConstraint("bron", "bron_id"),
    *_spatial_indexes("vestiging"),
    Index("vestiging_buurt_idx", "buurtcode"),
    Index("vestiging_verblijfsobject_idx", "verblijfsobject_id"),
    comment="Register entries (establishments, permits) with validity interval and risk branch.",
)

principal = Table(
    "principal",
    metadata,
    _id(),
    Column("naam", Text, nullable=False, unique=True),
    Column("rol", Text, nullable=False),
    Column("organisatie", Text, nullable=False),
    Column("convenanten", ARRAY(Text), nullable=False, server_default=EMPTY_ARRAY),
    Column("gemeenten", ARRAY(Text), nullable=False, server_default=EMPTY_ARRAY),
    Column("doelen", ARRAY(Text), nullable=False, server_default=EMPTY_ARRAY),
    Column("actief", Boolean, nullable=False, server_default=text("true")),
    Column("aangemaakt_op", TIMESTAMPTZ, nullable=False, server_default=NOW),
    Column(
        "dataklasse",
        Text,
        nullable=False,
        server_default=text("'vertrouwelijk'"),
        comment="Most sensitive data class of signal this principal may see.",
    ),
)

api_key = Table(
    "api_key",
    metadata,
    _id(),
    Column("principal_id", BigInteger, ForeignKey("principal.id", ondelete="CASCADE"), nullable=False),
    Column("prefix", Text, nullable=False, unique=True),
    Column("hash", Text, nullable=False, comment="sha256 of the whole key; the key itself is never stored."),
    Column("aangemaakt_op", TIMESTAMPTZ, nullable=False, server_default=NOW),
    Column("verloopt_op", TIMESTAMPTZ),
    Column("ingetrokken_op", TIMESTAMPTZ),
)

audit_log = Table(
    "audit_log",
    metadata,
    # Set by the chaining trigger from audit_log_id_seq, never by the writer.
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("tijdstip", TIMESTAMPTZ, nullable=False),
    Column("principal_id", BigInteger),
    Column("principal", Text),
    Column("organisatie", Text),
    Column("rol", Text),
    Column("doel", Text),
    Column("methode", Text, nullable=False),
    Column("route", Text, nullable=False),
    Column("laag", Text),
    Column("gebied", Text),
    Column("bbox", Text),
    Column("object_ids", ARRAY(Text)),
    Column("aantal", Integer),
    Column("status", Integer, nullable=False),
    Column("client", Text),
    Column("prev_hash", LargeBinary),
    Column("hash", LargeBinary, nullable=False),
    Column(
        "keten",
        SmallInteger,
        nullable=False,
        server_default=text("0"),
        comment="Chain of the row, set by the trigger: each row hashes its predecessor in its chain.",
    ),
    # The trigger's lookup of its chain's head (migration 0016).
    Index("audit_log_keten_idx", "keten", "id"),
    comment="Append-only access log; each row hashes its predecessor, so edits and removals show.",
)

audit_anker = Table(
    "audit_anker",
    metadata,
    _id(),
    Column("audit_id", BigInteger, nullable=False),
    Column("hash", LargeBinary, nullable=False),
    Column("mac", LargeBinary, nullable=False),
    Column("tijdstip", TIMESTAMPTZ, nullable=False, server_default=text("clock_timestamp()")),
    Index("audit_anker_audit_id_idx", "audit_id"),
    comment="Chain heads of audit_log keyed with a secret kept outside the database: "
    "HMAC-SHA256(secret, audit_id as 8 bytes big-endian || hash). Append-only.",
)

sessie = Table(
    "sessie",
    metadata,
    _id(),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("api_key_id", BigInteger, ForeignKey("api_key.id", ondelete="CASCADE")),
    Column("aangemaakt_op", TIMESTAMPTZ, nullable=False, server_default=NOW),
    Column("verloopt_op", TIMESTAMPTZ, nullable=False),
    Column("beeindigd_op", TIMESTAMPTZ),
    # OpenID Connect sessions (migration 0013): a profile principal instead of a key.
    Column("principal_id", BigInteger, ForeignKey("principal.id", ondelete="CASCADE")),
    Column("persoon", Text, comment="Who signed in with OpenID Connect (name or subject), for the audit."),
    Column(
        "tweede_factor",
        Boolean,
        comment="Whether the provider's token showed a second factor (acr/amr); NULL: a key session.",
    ),
    Column("oidc_provider", Text),
    Column("oidc_sub", Text),
    Column("oidc_sid", Text),
    Column("oidc_claims", JSONB),
    Column("oidc_id_token", Text),
    Column("oidc_ververs", Text, comment="Refresh token of the provider, when it issued one."),
    Column("ververs_tot", TIMESTAMPTZ, comment="Refreshing stops here: the longest a session may live."),
    Index("sessie_oidc_sid_idx", "oidc_provider", "oidc_sid"),
    comment="Browser sessions; a session lives no longer than its key or its provider's token.",
)

oidc_aanmelding = Table(
    "oidc_aanmelding",
    metadata,
    _id(),
    Column("state_hash", Text, nullable=False, unique=True),
    Column("provider", Text, nullable=False),
    Column("nonce", Text, nullable=False),
    Column("code_verifier", Text, nullable=False),
    Column("volgende", Text, nullable=False, server_default=text("'/kaart'")),
    Column("aangemaakt_op", TIMESTAMPTZ, nullable=False, server_default=NOW),
    Column("verloopt_op", TIMESTAMPTZ, nullable=False),
    Column("gebruikt_op", TIMESTAMPTZ),
    comment="OpenID Connect sign-ins in flight; each state can be used once, before it expires.",
)

aanmeldlink = Table(
    "aanmeldlink",
    metadata,
    _id(),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("api_key_id", BigInteger, ForeignKey("api_key.id", ondelete="CASCADE"), nullable=False),
    Column("volgende", Text, nullable=False, server_default=text("'/kaart'")),
    Column("aangemaakt_op", TIMESTAMPTZ, nullable=False, server_default=NOW),
    Column("verloopt_op", TIMESTAMPTZ, nullable=False),
    Column("gebruikt_op", TIMESTAMPTZ),
    comment="One-time sign-in links; usable once, before they expire.",
)


zicht = Table(
    "zicht",
    metadata,
    _id(),
    Column("gemeenten", ARRAY(Text), comment="Municipalities whose signals and areas it sees; NULL: all."),
    Column(
        "convenanten", ARRAY(Text), comment="Covenants whose signals it sees (partners); NULL: not limited."
    ),
    Column("dataklassen", ARRAY(Text), nullable=False, comment="Data classes of signal it sees."),
    Column(
        "onderdrukt",
        Boolean,
        nullable=False,
        comment="Aggregate-only: counts published by their withheld flags.",
    ),
    Column("k", Integer, comment="Threshold its withheld flags were computed with."),
    Column(
        "berekend_op",
        TIMESTAMPTZ,
        comment="When its figures were computed; NULL: none yet, it reads nothing.",
    ),
    Column(
        "invoer", Text, comment="What its figures were computed from (zicht_invoer); unchanged: no recompute."
    ),
    UniqueConstraint(
        "gemeenten", "convenanten", "dataklassen", "onderdrukt", postgresql_nulls_not_distinct=True
    ),
    comment="View classes: one per distinct visibility of active principals; "
    "its figures are in indicator_zicht.",
)

#: The counts of an indicator row; each has a withheld flag for suppressed view classes.
INDICATOR_COUNTS = ("signalen", "adressen", "leegstand", "pandsluitingen", "bibob", "controles", "meldingen")

indicator_zicht = Table(
    "indicator_zicht",
    metadata,
    # No foreign key: its check per row costs more than the rest of a refresh's writes.
    Column("zicht_id", BigInteger, primary_key=True),
    Column("id", Text, primary_key=True),
    Column("gebied_id", BigInteger, nullable=False),
    Column("gebied_soort", Text, nullable=False),
    Column("code", Text, nullable=False),
    Column("naam", Text, nullable=False),
    Column("gemeentecode", Text, nullable=False),
    Column("periode", Text, nullable=False),
    Column("periode_soort", Text, nullable=False),
    Column("thema", Text, nullable=False),
    Column("signalen", BigInteger, nullable=False),
    Column("adressen", BigInteger, nullable=False),
    Column("per_1000_adressen", Numeric),
    Column("leegstand", BigInteger, nullable=False),
    Column("leegstand_pct", Numeric),
    Column("pandsluitingen", BigInteger, nullable=False),
    Column("bibob", BigInteger, nullable=False),
    Column("controles", BigInteger, nullable=False),
    Column("meldingen", BigInteger, nullable=False),
    Column("verwacht", Numeric),
    Column("z", Numeric),
    Column("afwijkend", Boolean, comment="z >= 3 and at least 10 signals; NULL where z is unknown."),
    Column("trend_z", Numeric),
    *(Column(f"{count}_onderdrukt", Boolean) for count in INDICATOR_COUNTS),
    Column("indeling", Text, nullable=False, comment="Division of the area (gebied.indeling)."),
    Column(
        "per_1000_eb",
        Numeric,
        comment="Signals per 1,000 addresses, Empirical Bayes smoothed towards the municipality "
        "(docs/decisions.md).",
    ),
    Column(
        "te_weinig_adressen",
        Boolean,
        nullable=False,
        server_default=text("false"),
        comment="Fewer addresses than the minimum: no rate, no z, no trend.",
    ),
    Column(
        "eerste_periode",
        Boolean,
        nullable=False,
        server_default=text("false"),
        comment="The first period with data: there is no previous one to compare with.",
    ),
    Index("indicator_zicht_lookup_idx", "zicht_id", "gebied_soort", "periode", "thema"),
    # An area's rows of a view class, for the areas a tile or box finds (migration 0025).
    Index("indicator_zicht_gebied_idx", "zicht_id", "gebied_id", "periode", "thema"),
    comment="Indicators per view class, area, period and theme, from the signals that class may see.",
)

#: The region of a view class (its municipalities) per period and theme (migration 0026):
#: the deviation against the region is computed from these on read, so a delivery for one
#: municipality rewrites a few thousand totals instead of every area's figures.
zicht_regio = Table(
    "zicht_regio",
    metadata,
    Column("zicht_id", BigInteger, primary_key=True),
    Column("periode", Text, primary_key=True),
    Column("thema", Text, primary_key=True),
    Column("signalen", BigInteger, nullable=False),
    Column("adressen", BigInteger, nullable=False),
    Column("gemeenten", Integer, nullable=False, comment="Municipalities of the region with addresses."),
    comment="Per view class, period and theme: the totals of the municipalities it sees (its region).",
)

#: The counts of a risk-branch row; each has a withheld flag for suppressed view classes.
VESTIGING_COUNTS = ("vestigingen", "totaal")

vestiging_zicht = Table(
    "vestiging_zicht",
    metadata,
    Column("zicht_id", BigInteger, primary_key=True),
    Column("id", Text, primary_key=True),
    Column("gebied_id", BigInteger, nullable=False),
    Column("gebied_soort", Text, nullable=False),
    Column("code", Text, nullable=False),
    Column("naam", Text, nullable=False),
    Column("gemeentecode", Text, nullable=False),
    Column("risicobranche", Text, nullable=False),
    Column("vestigingen", BigInteger, nullable=False),
    Column("totaal", BigInteger, nullable=False),
    Column("hectare", Numeric),
    Column("per_hectare", Numeric),
    Column("aandeel_pct", Numeric),
    *(Column(f"{count}_onderdrukt", Boolean) for count in VESTIGING_COUNTS),
    Index("vestiging_zicht_lookup_idx", "zicht_id", "gebied_soort", "risicobranche"),
    comment="Risk-branch figures per view class, area and branch, "
    "from the register entries that class may see.",
)

# Shared state of the service's workers (migration 0017): unlogged, a crash only resets them.
rate_bucket = Table(
    "rate_bucket",
    metadata,
    Column("sleutel", Text, primary_key=True),
    Column("tokens", Double, nullable=False),
    Column("stamp", TIMESTAMPTZ, nullable=False),
    # Migration 0022: rate_take returns it from the row it wrote (one write per take).
    Column(
        "gegeven",
        Integer,
        nullable=False,
        server_default=text("0"),
        comment="Tokens the last take got (rate_take returns it from the row it wrote).",
    ),
    prefixes=["UNLOGGED"],
    comment="Per-key token buckets of the rate limit, shared by all workers; unlogged, lost in a crash.",
)

auth_failure = Table(
    "auth_failure",
    metadata,
    Column("client", Text, primary_key=True),
    Column("venster", BigInteger, primary_key=True),
    Column("aantal", Integer, nullable=False, server_default=text("0")),
    Column("opgezocht", Integer, nullable=False, server_default=text("0")),
    Column("gemeld", Integer, nullable=False, server_default=text("0")),
    prefixes=["UNLOGGED"],
    comment="Failed sign-ins per client address and window (epoch seconds); opgezocht: those "
    "that took a lookup (the limit counts these); gemeld: how many are in the audit log.",
)


# The signal cubes, kept per municipality by the refresh (migration 0023, core/zicht.py).
def _cube(name: str, period: tuple[Column[object], ...], comment: str) -> Table:
    return Table(
        name,
        metadata,
        Column("gebied_soort", Text, nullable=False),
        Column("indeling", Text, nullable=False),
        Column("code", Text, nullable=False),
        Column("gemeentecode", Text),
        *period,
        Column("thema", Text, nullable=False),
        Column("convenant", Text, nullable=False),
        Column("dataklasse", Text, nullable=False),
        *(
            Column(c, BigInteger, nullable=False)
            for c in ("signalen", "pandsluitingen", "bibob", "controles", "meldingen")
        ),
        Index(f"{name}_gemeentecode_idx", "gemeentecode"),
        comment=comment,
    )


signaal_kubus = _cube(
    "signaal_kubus",
    (
        Column("periode", Text, nullable=False),
        Column("periode_soort", Text, nullable=False),
        Column("van", Date, nullable=False),
    ),
    "Signal counts per area, period, theme, covenant and data class, kept per municipality by the "
    "refresh; never for the api role.",
)
signaal_dag = _cube(
    "signaal_dag",
    (Column("datum", Date, nullable=False),),
    "signaal_kubus per day (rolling windows), kept per municipality by the refresh; never for the api role.",
)
signaal_bereik = Table(
    "signaal_bereik",
    metadata,
    Column("gemeentecode", Text),
    Column("convenant", Text, nullable=False),
    Column("dataklasse", Text, nullable=False),
    Column("eerste", Date, nullable=False),
    Column("laatste", Date, nullable=False),
    Index("signaal_bereik_gemeentecode_idx", "gemeentecode"),
    comment="First and last signal day per municipality, covenant and data class: a class's periods "
    "in a partial refresh.",
)
