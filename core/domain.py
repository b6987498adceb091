"""The domain's vocabularies, spelled as the registers and the municipality spell them.

The database enforces the same lists with CHECK constraints (migration 0001);
tests/test_schema.py keeps the two in step.
"""

from __future__ import annotations

from enum import StrEnum

#: Area types (``gebied.soort``): the CBS hierarchy, business parks, the rural area, postcode
#: areas (PC4, PC6) and CBS grid squares of 100 m and 500 m.
GEBIED_SOORTEN = (
    "gemeente", "wijk", "buurt", "bedrijventerrein", "buitengebied",
    "pc4", "pc6", "vierkant100", "vierkant500",
)  # fmt: skip

#: Whose division an area belongs to (``gebied.indeling``): CBS, the municipality's own,
#: IBIS (business parks), postcode areas, CBS grid squares. Divisions of one year coexist.
GEBIED_INDELINGEN = ("cbs", "gemeente", "ibis", "postcode", "cbs_vierkant")

#: The division each area type is loaded into, read from and assigned to points by default.
#: The database repeats it as ``standaard_indeling(soort)`` (migration 0011).
STANDAARD_INDELING = {
    "gemeente": "cbs", "wijk": "cbs", "buurt": "cbs", "bedrijventerrein": "ibis",
    "buitengebied": "gemeente", "pc4": "postcode", "pc6": "postcode",
    "vierkant100": "cbs_vierkant", "vierkant500": "cbs_vierkant",
}  # fmt: skip

#: Area types every point carries as columns (assigned at ingest, in the default division);
#: figures of all other areas come from a spatial join at refresh (docs/decisions.md).
TOEGEWEZEN_SOORTEN = ("gemeente", "wijk", "buurt", "bedrijventerrein", "buitengebied")

#: The eleven BAG gebruiksdoelen of a verblijfsobject.
GEBRUIKSDOELEN = (
    "woonfunctie",
    "bijeenkomstfunctie",
    "celfunctie",
    "gezondheidszorgfunctie",
    "industriefunctie",
    "kantoorfunctie",
    "logiesfunctie",
    "onderwijsfunctie",
    "sportfunctie",
    "winkelfunctie",
    "overige gebruiksfunctie",
)

THEMAS = (
    "drugs",
    "mensenhandel",
    "criminogene_branche",
    "vastgoed",
    "zorgfraude",
    "buitengebied",
    "cyber",
    "overig",
)

SIGNAAL_SOORTEN = (
    "melding",
    "erfbezoek",
    "schouw",
    "bibob",
    "bestuurlijke_controle",
    "bestuurlijke_rapportage",
    "pandsluiting",
    "waarschuwing",
    "last_onder_dwangsom",
    "overig",
)

#: Data classes, from least to most sensitive.
DATAKLASSEN = ("openbaar", "intern", "vertrouwelijk", "zeer_vertrouwelijk")

LEEGSTAND_SOORTEN = ("woning", "winkel", "kantoor", "bedrijfspand", "agrarisch", "overig")

#: What a register row is (``vestiging.soort``): an establishment (KvK-like) or a permit.
VESTIGING_SOORTEN = ("vestiging", "vergunning")

ROLLEN = ("beheerder", "analist", "partner", "planner")

#: Themes whose signals are at least this sensitive, whatever the source's default.
THEMA_MIN_DATAKLASSE = {"mensenhandel": "zeer_vertrouwelijk"}

#: BAG statuses of a verblijfsobject.
VBO_STATUS = (
    "Verblijfsobject gevormd",
    "Niet gerealiseerd verblijfsobject",
    "Verblijfsobject in gebruik (niet ingemeten)",
    "Verblijfsobject in gebruik",
    "Verbouwing verblijfsobject",
    "Verblijfsobject ingetrokken",
    "Verblijfsobject buiten gebruik",
    "Verblijfsobject ten onrechte opgevoerd",
)


class RunStatus(StrEnum):
    """How an ingest run (``ingest_run.status``) ended: one spelling for every module."""

    #: Stored; the data version of its table moves.
    GESLAAGD = "geslaagd"
    #: Crashed or refused before storing anything (unreadable file, missing column, ...).
    MISLUKT = "mislukt"
    #: Read, but too many rows rejected: nothing stored except the report and the rejects.
    AFGEWEZEN = "afgewezen"
    #: A ``--dry-run``: validated and reported, nothing stored.
    PROEF = "proef"


#: The table each ingest kind writes (``ingest_run.soort`` -> table). The service derives
#: data versions from it without importing the ingest package; a test keeps it in step
#: with ``ingest.sources.KINDS``.
INGEST_TABLES = {
    "gebieden": "gebied",
    "adressen": "verblijfsobject",
    "leegstand": "leegstand",
    "signalen": "signaal",
    "vestigingen": "vestiging",
}

#: The rolling windows (``periode_soort`` ``venster``) and their length in days. Each ends on
#: the newest day of the signals a view class may see (migration 0020 keeps a snapshot).
VENSTERS = {"laatste28d": 28, "laatste365d": 365}
