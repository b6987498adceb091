"""The map's search (``/zoeken``): a postcode, a street, either with a house number.

What is typed is read as one of three questions: a postcode with or without a house number
("9711 AA 12"), a street with a house number ("Oosterstraat 12a"), or the start of a street
name ("ooster"). The answer is a short list of candidates: single addresses, or a street per
buurt it runs through; each names its buurt and wijk and a point to centre the map on.

Addresses are public register data (BAG) and no figure: the search needs no purpose, and the
figures of the area come from ``/locate`` under the visibility rule. But a principal without
the ``adressen`` clearance (planners) never gets an address's own point: its candidates are
centred on their buurt (docs/decisions.md, "Search"). Every caller finds only the addresses
of its own municipalities.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from core.security import Principal

#: Candidates in one answer at most.
MAX_KANDIDATEN = 25

Vraag = Literal["postcode", "adres", "straat"]

_POSTCODE = re.compile(
    r"^(?P<pc>\d{4})\s*(?P<letters>[a-z]{2})(?:\s+|(?=\d)|$)(?:(?P<nr>\d{1,5})\s*(?P<letter>[a-z])?\b.*)?$"
)
_STRAAT_NUMMER = re.compile(r"^(?P<straat>.*?\D)\s*(?P<nr>\d{1,5})\s*(?P<letter>[a-z])?\b[\s\-\w]*$")


@dataclass(frozen=True)
class Zoekvraag:
    """What the search understood: the kind of question and its parts."""

    vraag: Vraag
    postcode: str | None = None
    #: The street name in lower case, as typed (a prefix of the names it finds).
    straat: str | None = None
    huisnummer: int | None = None
    huisletter: str | None = None


def begrijp(typed: str) -> Zoekvraag | None:
    """Read what was typed; None when it names no postcode and no street (too short)."""
    q = " ".join(typed.split()).lower()
    m = _POSTCODE.match(q)
    if m:
        nr = m.group("nr")
        return Zoekvraag(
            vraag="postcode",
            postcode=(m.group("pc") + m.group("letters")).upper(),
            huisnummer=int(nr) if nr else None,
            huisletter=m.group("letter").upper() if m.group("letter") else None,
        )
    m = _STRAAT_NUMMER.match(q)
    if m and len(m.group("straat").strip(" ,")) >= 2:
        return Zoekvraag(
            vraag="adres",
            straat=m.group("straat").strip(" ,"),
            huisnummer=int(m.group("nr")),
            huisletter=m.group("letter").upper() if m.group("letter") else None,
        )
    if len(q.strip(" ,")) >= 2 and any(c.isalpha() for c in q):
        return Zoekvraag(vraag="straat", straat=q.strip(" ,"))
    return None


def _like_prefix(value: str) -> str:
    """A LIKE pattern for names starting with ``value`` (its own wildcards taken literally)."""
    return re.sub(r"([\\%_])", r"\\\1", value) + "%"


#: The areas of an address, of their default division and newest edition.
_AREAS = (
    " LEFT JOIN actueel_gebied b ON b.soort = 'buurt' AND b.indeling = standaard_indeling('buurt')"
    " AND b.code = v.buurtcode"
    " LEFT JOIN actueel_gebied w ON w.soort = 'wijk' AND w.indeling = standaard_indeling('wijk')"
    " AND w.code = v.wijkcode"
)


def statement(vraag: Zoekvraag, principal: Principal, limit: int) -> tuple[str, dict[str, object]]:
    """One SELECT of the candidates, within the principal's municipalities.

    An address (a number was given) is one row per address; a street or a postcode alone is
    one row per street and buurt. ``punt`` says what lon/lat stand for: the address, the
    street's middle address in that buurt, or (without the ``adressen`` clearance) the buurt.
    """
    own_points = principal.can_see("adressen")
    where = ["(v.gemeentecode = ANY(:gm) OR :alle)"]
    params: dict[str, object] = {
        "gm": list(principal.gemeenten),
        "alle": principal.all_gemeenten,
        "limit": min(limit, MAX_KANDIDATEN),
    }
    if vraag.postcode is not None:
        where.append("v.postcode = :pc")
        params["pc"] = vraag.postcode
    if vraag.straat is not None:
        # The index is on lower(openbare_ruimte) with text_pattern_ops (migration 0018).
        where.append(r"lower(v.openbare_ruimte) LIKE :straat ESCAPE '\'")
        params["straat"] = _like_prefix(vraag.straat)
        params["exact"] = vraag.straat
        first = "lower(v.openbare_ruimte) <> :exact, "
    else:
        first = ""
    if vraag.huisnummer is not None:
        where.append("v.huisnummer = :nr")
        params["nr"] = vraag.huisnummer
    if vraag.huisletter is not None:
        where.append("upper(v.huisletter) = :letter")
        params["letter"] = vraag.huisletter
    if not own_points:
        where.append("b.code IS NOT NULL")  # centred on the buurt: no buurt, no candidate
    condition = " AND ".join(where)
    if vraag.huisnummer is not None:
        point = "v.geom" if own_points else "ST_PointOnSurface(b.geom)"
        sql = (
            "SELECT 'adres' AS soort, v.openbare_ruimte AS straat, v.huisnummer, v.huisletter,"
            " v.huisnummertoevoeging AS toevoeging, v.postcode, ARRAY[v.postcode] AS postcodes,"
            " v.woonplaats, 1 AS adressen, v.buurtcode, b.naam AS buurtnaam, v.wijkcode,"
            f" w.naam AS wijknaam, ST_Transform({point}, 4326) AS p,"
            f" {'$$adres$$' if own_points else '$$buurt$$'} AS punt"
            f" FROM verblijfsobject v{_AREAS} WHERE {condition}"
            f" ORDER BY {first}v.openbare_ruimte, v.woonplaats, v.huisletter NULLS FIRST,"
            " v.huisnummertoevoeging NULLS FIRST, v.postcode LIMIT :limit"
        )
    else:
        point = "ST_PointOnSurface(ST_Collect(v.geom))" if own_points else "ST_PointOnSurface(b.geom)"
        group = "" if own_points else ", b.geom"
        sql = (
            "SELECT 'straat' AS soort, v.openbare_ruimte AS straat, NULL::integer AS huisnummer,"
            " NULL::text AS huisletter, NULL::text AS toevoeging, min(v.postcode) AS postcode,"
            " (array_agg(DISTINCT v.postcode ORDER BY v.postcode))[1:5] AS postcodes, v.woonplaats,"
            " count(*) AS adressen, v.buurtcode, b.naam AS buurtnaam, v.wijkcode, w.naam AS wijknaam,"
            f" ST_Transform({point}, 4326) AS p,"
            f" {'$$straat$$' if own_points else '$$buurt$$'} AS punt"
            f" FROM verblijfsobject v{_AREAS} WHERE {condition}"
            f" GROUP BY v.openbare_ruimte, v.woonplaats, v.buurtcode, b.naam, v.wijkcode, w.naam{group}"
            f" ORDER BY {first}v.openbare_ruimte,"
            " v.woonplaats, count(*) DESC, v.buurtcode LIMIT :limit"
        )
    sql = f"SELECT c.*, ST_X(c.p) AS lon, ST_Y(c.p) AS lat FROM ({sql}) c"
    return sql, params


def label(row: dict[str, object]) -> str:
    """The candidate as a person reads it: "Oosterstraat 12a, 9711 NV Groningen (buurt ...)"."""
    straat = str(row["straat"])
    if row["huisnummer"] is not None:
        nummer = f"{row['huisnummer']}{row['huisletter'] or ''}"
        if row["toevoeging"]:
            nummer += f"-{row['toevoeging']}"
        pc = str(row["postcode"])
        tekst = f"{straat} {nummer}, {pc[:4]} {pc[4:]} {row['woonplaats']}"
    else:
        tekst = f"{straat}, {row['woonplaats']}"
    if row["buurtnaam"]:
        tekst += f" (buurt {row['buurtnaam']})"
    return tekst
