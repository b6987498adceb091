"""Build the demo dataset of the Ondermijningskaart for gemeente Groningen (GM0014).

Real open data in data/source/ (CBS areas and key figures, BAG addresses, a business-park proxy)
is combined with SYNTHETIC attributes, addresses, vacancy and partner signals, calibrated on the
figures of the municipality's plan, so the service can be shown and tested without confidential
data. Every random draw comes from a named stream of one fixed seed: a rebuild gives the same
bytes, and changing one part does not reshuffle the others.

Usage: .venv/bin/python data/build_demo.py [OUT]    (default: data/demo-out)
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from openpyxl import Workbook

SEED = 20240014
SRC = Path(__file__).resolve().parent / "source"
RD, GM, JAAR = "EPSG:28992", "GM0014", 2024
START, END = date(2023, 1, 1), date(2025, 12, 31)
N_BT, N_FARM, N_RES, N_LEEGSTAND = 2000, 400, 3000, 1500
STAMP = "2026-01-05T00:00:00Z"  # fixed file timestamps (GeoPackage, xlsx) for identical bytes
SOUTH = ("WK001415", "WK001416", "WK001419")  # Ten Boer, Ten Post, Glimmen-Onnen-Noordlaren


def _table(text: str, sep: str | None = None) -> list[list[str]]:
    """Rows of a text table, one row a line: keeps the calibration readable and reviewable."""
    return [[c.strip() for c in ln.split(sep)] for ln in text.strip().splitlines() if ln.strip()]


def _words(text: str) -> list[str]:
    """Whitespace-separated words of a text block."""
    return text.split()


FUNCTIES = [*_words(
    "woonfunctie bijeenkomstfunctie celfunctie gezondheidszorgfunctie industriefunctie "
    "kantoorfunctie logiesfunctie onderwijsfunctie sportfunctie winkelfunctie"
), "overige gebruiksfunctie"]  # fmt: skip
CODE = dict(zip("wbcgiklosrx", FUNCTIES, strict=True))  # BAG order as app/domain.py; r = winkel
PUBLIEK = {CODE[c] for c in "bglosr"}  # functions open to the public
# SYNTHETIC gebruiksdoel mix (weights) per kind of address; 'w+r' = woonfunctie,winkelfunctie
MIXES = {k: dict(x.split() for x in v.split(",")) for k, v in _table("""
centrum          | w 60, r 13, k 7, b 8, w+r 3, b+r 2, l 2, g 1.5, o 1, x 1, s 0.5
stad             | w 930, r 20, k 12, b 8, g 8, o 5, s 4, l 3, x 8, c 0.2, w+r 2
bedrijventerrein | i 42, k 28, r 9, i+k 6, b 3, x 6, o 2, s 2, w 2
dorp             | w 95, r 1.5, k 1, b 0.7, g 0.6, o 0.4, s 0.4, x 0.4
agrarisch        | w+x 70, i 30
""", "|")}  # fmt: skip
OPP_MEDIAAN = dict(zip("wbcgiklosrx", [80, 150, 5000, 250, 800, 220, 300, 1500, 600, 110, 40], strict=True))
# typical build year per wijk WK001400 .. WK001419
WIJK_BOUWJAAR = [1880, 1915, 1910, 1915, 1925, 1995, 1935, 1975, 1985, 1965, 1965, 1978, 1980, 1970]
WIJK_BOUWJAAR += [2015, 1965, 1950, 1960, 1970, 1960]
VILLAGES = [
    (k.replace("_", " "), (v or k).replace("_", " "))
    for k, _, v in (w.partition("=") for w in _words("""
    Garmerwolde Thesinge Sint_Annen Lellens Woltersum Winneweer Wittewierum Ten_Post Ten_Boer
    Onnen Noordla=Noordlaren Zuidlaardermeer=Noordlaren Glimmen Harkstede Lageland"""))
]  # fmt: skip
WIJK_WOONPLAATS = {"WK001415": "Ten Boer", "WK001416": "Ten Post", "WK001417": "Haren"}
WIJK_WOONPLAATS |= {"WK001418": "Haren", "WK001419": "Glimmen"}
BT_STRATEN = _words("""
    Industrieweg Transportweg Ambachtsweg Handelsweg Energieweg Techniekweg Nijverheidsweg
    Expeditieweg Magazijnweg Werkplaatsweg Fabrieksweg Smederijweg Zagerijweg Containerweg Laadkade
    Loswal Distributieweg Montageweg Gieterijweg Drukkerijweg Ketelweg Turbineweg Dynamoweg
    Compressorweg Opslagweg Vrachtweg""")
LAND_WEGEN = _words("""
    Hoofdweg Dijkweg Molenweg Boerenweg Zandweg Middelweg Tjamweg Wierdeweg Polderweg Maarweg
    Streekweg Westerweg Oosterweg Noorderweg Meedenweg Hooilandseweg Kerkpad Kanaalweg Slootweg
    Hogeweg Lageweg Hamweg Kerkweg Schoolweg Veenweg Grensweg Lindeweg Esweg Wolddijk Meerweg
    Eikenweg Hooiweg Kooiweg Zijlweg Tilweg Borgweg Ruigeweg""")
RES_STRATEN = [
    a + b
    for a in _words("""
    Beuken Eiken Berken Linden Esdoorn Kastanje Wilgen Populieren Meidoorn Hazelaar Vlier Hulst
    Iepen Elzen Merel Lijster Kievit Grutto Zwaluw Reiger Vink Specht Rozen Seringen Jasmijn Klaver
    Heide Molen School Kerk Dorps Brink Es Veld Zon""")
    for b in ("laan", "straat", "hof", "weg")
]
LAND_WEGEN = [w for w in LAND_WEGEN if w not in RES_STRATEN]  # a name once per woonplaats
# Neutral Dutch texts, never a name. Key lookup order: bron/thema, soort/thema, soort, thema.
TEKSTEN: dict[str, list[str]] = {}
for _key, _texts in _table("""
drugs                     | Vermoeden van drugshandel vanuit pand; Drugsoverlast in portiek
drugs                     | Geuroverlast, mogelijk hennepkwekerij; Afwijkend stroomverbruik gemeld
drugs                     | Veel kortstondig bezoek aan adres
waterschap/drugs          | Vermoedelijk drugsafval bij watergang; Vaten met chemicaliën in berm
mensenhandel              | Signaal van mogelijke arbeidsuitbuiting; Vermoeden van illegale prostitutie
mensenhandel              | Veel wisselende bewoners, mogelijk arbeidsmigranten
criminogene_branche       | Onduidelijke eigendomsstructuur onderneming; Snelle wisseling van exploitant
criminogene_branche       | Contante betalingen en weinig klanten; Vermoeden van witwassen via onderneming
vastgoed                  | Opvallende vastgoedtransactie; Huur contant betaald, huurder onbekend
vastgoed                  | Pand verbouwd zonder vergunning; Mogelijke illegale kamerverhuur
zorgfraude                | Twijfel over geleverde zorg; Zorgaanbieder zonder zichtbare activiteit
zorgfraude                | Meerdere zorgaanbieders op één adres
buitengebied              | Verdachte voertuigbewegingen ’s nachts; Dumping van afval langs de weg
buitengebied              | Leegstaande schuur, huurder onbekend; Kapotte straatverlichting bij erf
buitengebied              | Opslag van vaten in loods
cyber                     | Phishing via lokale onderneming; Gehackte website van onderneming
overig                    | Overlast rond pand; Verdachte situatie gemeld; Signaal zonder nadere duiding
wij_groningen/overig      | Zorgen over woonsituatie; Mogelijk misbruik van woning door derden
zorg_veiligheidshuis/overig | Casus besproken in ketenoverleg; Zorgen over woonsituatie
pandsluiting              | Pand gesloten op grond van art. 13b Opiumwet
waarschuwing              | Waarschuwing art. 13b Opiumwet na aantreffen drugs
last_onder_dwangsom       | Last onder dwangsom tegen straathandel
bestuurlijke_rapportage   | Bestuurlijke rapportage politie na aantreffen drugs
erfbezoek                 | Erfbezoek weerbaar buitengebied
schouw/vastgoed           | Pandschouw: signalen van overbewoning; Pandschouw: geen zichtbare bewoning
schouw_bt                 | Waarneming tijdens schouw bedrijventerrein; Afgeplakte ramen bedrijfsunit
schouw_bt                 | Veel voertuigen zonder kenteken op terrein
bibob/criminogene_branche | Bibob-toets drank- en horecavergunning; Bibob-toets exploitatievergunning
bibob/criminogene_branche | Bibob-toets seksbedrijf; Bibob-toets coffeeshop
bibob/vastgoed            | Bibob-toets omgevingsvergunning bouwen; Bibob-toets vastgoedtransactie
bibob/zorgfraude          | Bibob-toets aanbesteding zorg
bestuurlijke_controle     | Integrale controle horeca; Integrale controle garageboxen en autobedrijven
bestuurlijke_controle     | Integrale controle huisvesting arbeidsmigranten
""", "|"):  # fmt: skip
    TEKSTEN.setdefault(_key, []).extend(t.strip() for t in _texts.split(";"))


@dataclass(frozen=True)
class Bron:
    """A partner source: its register entry (bronnen.csv) and how its export looks."""

    naam: str
    organisatie: str
    dataklasse: str
    convenant: str
    bewaartermijn_maanden: int
    kenmerk: str  # str.format pattern: y (year), y2 (two digits), n (sequence within the year)
    xy: float  # share of bulk signals located by x/y instead of an address
    adres: tuple[float, ...]  # P(bag id + address), P(bag id only), P(address only)
    formaat: str  # csv, csv; (semicolons) or xlsx
    datum: str  # strftime pattern of date columns in CSV


# partner register: code, dataklasse, convenant, retention in months, naam, organisatie.
# Retention is at least 48 months so the 2023-2025 demo signals are all still kept in 2026.
REGISTER = """
politie|vertrouwelijk|riec|60|Politie Noord-Nederland|Politie
riec|vertrouwelijk|riec|60|RIEC Noord-Nederland|RIEC Noord-Nederland
gemeente_oov|intern|gemeente|60|Openbare Orde en Veiligheid|Gemeente Groningen
gemeente_vth|intern|gemeente|60|Vergunningen, Toezicht en Handhaving|Gemeente Groningen
pandenbrigade|intern|gemeente|60|Pandenbrigade|Gemeente Groningen
waterschap|intern|buitengebied|48|Noorderzijlvest en Hunze en Aa’s|Waterschappen
lto_noord|intern|buitengebied|48|LTO Noord|LTO Noord
arbeidsinspectie|vertrouwelijk|riec|60|Nederlandse Arbeidsinspectie|Ministerie van SZW
meld_misdaad_anoniem|vertrouwelijk|riec|48|Meld Misdaad Anoniem|Stichting M.
wij_groningen|vertrouwelijk|zorg|48|WIJ Groningen|WIJ Groningen
bibob_bureau|vertrouwelijk|bibob|84|Bureau Bibob|Gemeente Groningen
zorg_veiligheidshuis|vertrouwelijk|zorg|60|Zorg- en Veiligheidshuis Groningen|ZVH Groningen
"""
# kenmerk pattern, x/y share, address style (bag+adres / bag / adres), file format, date format
EXPORTS = """
politie              PL0100-{y}-{n:06d}    0.42  0/0/1     csv;  %Y-%m-%d
riec                 RIEC-NN-{y2}-{n:04d}  0.05  .5/.3/.2  xlsx  -
gemeente_oov         OOV/{y}/{n:05d}       0.15  .6/0/.4   csv   %d-%m-%Y
gemeente_vth         VTH-{y}-{n:05d}       0     .9/.1/0   csv   %d-%m-%Y
pandenbrigade        PB{y2}-{n:04d}        0     1/0/0     csv   %Y-%m-%d
waterschap           WS-{y}-{n:04d}        0.7   0/0/1     csv   %Y-%m-%d
lto_noord            LTO-{y}-{n:03d}       0.4   0/0/1     csv   %Y-%m-%d
arbeidsinspectie     NLA-{y}-{n:05d}       0.05  .2/0/.8   csv   %Y-%m-%d
meld_misdaad_anoniem MMA{y}{n:06d}         0.2   0/0/1     csv   %Y-%m-%d
wij_groningen        WIJ-{y}-{n:05d}       0     0/0/1     csv   %Y-%m-%d
bibob_bureau         BB-{y}-{n:04d}        0     .8/.2/0   csv   %Y-%m-%d
zorg_veiligheidshuis ZVH-{y}-{n:04d}       0     0/0/1     csv   %Y-%m-%d
"""


def _bronnen() -> dict[str, Bron]:
    """The partner register joined with each partner's export habits."""
    exports = {row[0]: row[1:] for row in _table(EXPORTS)}
    out = {}
    for code, klasse, convenant, maanden, naam, org in _table(REGISTER, "|"):
        kmk, xy, adres, fmt, dt = exports[code]
        style = tuple(float(p) for p in adres.split("/"))
        out[code] = Bron(naam, org, klasse, convenant, int(maanden), kmk, float(xy), style, fmt, dt)
    return out


BRONNEN = _bronnen()
# Bulk signals over 2023-2025: bron, thema, soort, count, location profile (see PROFIELEN)
SPECS = _table("""
    politie              drugs               melding 4200 drugs
    politie              overig              melding 9000 basis
    politie              criminogene_branche melding  700 publiek
    politie              vastgoed            melding  150 vastgoed
    politie              mensenhandel        melding  150 mensenhandel
    politie              buitengebied        melding   60 landelijk
    politie              cyber               melding   35 basis
    gemeente_oov         overig              melding  700 basis
    gemeente_oov         drugs               melding  450 drugs
    gemeente_vth         vastgoed            melding  550 vastgoed
    gemeente_vth         criminogene_branche melding  250 publiek
    gemeente_vth         overig              overig   150 basis
    pandenbrigade        vastgoed            schouw   450 vastgoed
    pandenbrigade        mensenhandel        melding   40 mensenhandel
    pandenbrigade        overig              melding   60 basis
    waterschap           buitengebied        melding   70 landelijk
    waterschap           drugs               melding   25 landelijk
    waterschap           overig              overig    30 landelijk
    lto_noord            buitengebied        melding   35 landelijk
    arbeidsinspectie     mensenhandel        melding  120 mensenhandel
    arbeidsinspectie     criminogene_branche melding  110 bedrijf
    arbeidsinspectie     overig              overig    40 bedrijf
    meld_misdaad_anoniem drugs               melding  700 drugs
    meld_misdaad_anoniem vastgoed            melding  120 vastgoed
    meld_misdaad_anoniem mensenhandel        melding   45 mensenhandel
    meld_misdaad_anoniem criminogene_branche melding  120 publiek
    meld_misdaad_anoniem overig              melding  300 basis
    meld_misdaad_anoniem cyber               melding   20 basis
    wij_groningen        zorgfraude          melding  260 zorg
    wij_groningen        overig              melding  150 woning
    zorg_veiligheidshuis zorgfraude          melding  320 zorg
    zorg_veiligheidshuis mensenhandel        melding   40 mensenhandel
    zorg_veiligheidshuis overig              overig   160 woning
    riec                 vastgoed            melding  320 vastgoed
    riec                 criminogene_branche melding  420 bedrijf
    riec                 drugs               melding  380 drugs
    riec                 mensenhandel        melding   60 mensenhandel
    riec                 zorgfraude          melding   70 zorg
    riec                 cyber               melding   30 basis
    riec                 overig              overig   120 basis
""")
# profile: buurt weight variant, multipliers per address group, multiplier inside business parks
PROFIELEN = {
    name: (var, {k: float(v) for k, v in (x.split("=") for x in gm.split(",") if x)}, float(bt))
    for name, var, gm, bt in _table("""
    basis        basis        ,                                              1
    drugs        drugs        publiek=1.5,bedrijf=0.7                        1
    publiek      basis        woning=0.15,publiek=6,bedrijf=2                3
    bedrijf      basis        woning=0.1,publiek=1.5,bedrijf=5               6
    vastgoed     basis        publiek=2,bedrijf=3                            4
    woning       basis        publiek=0.1,bedrijf=0.1                        0.5
    zorg         basis        publiek=4,bedrijf=0.3                          0.3
    mensenhandel mensenhandel publiek=2                                      2
    landelijk    landelijk    woning=0.2,publiek=0.2,bedrijf=0.2,agrarisch=20 0.1
    """)
}


def _rng(stream: str) -> np.random.Generator:
    """One generator per named stream, so parts can change without reshuffling the others."""
    return np.random.default_rng([SEED, zlib.crc32(stream.encode())])


def _split(n: int, k: int) -> np.ndarray:
    """n items over k nearly equal parts."""
    return np.diff(np.linspace(0, n, k + 1).round().astype(int))


def _multipolygons(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    """make_valid may return collections; keep only the polygonal parts, as one MultiPolygon."""
    out = []
    for geom in shapely.make_valid(geoms.to_numpy()):
        parts = shapely.get_parts(shapely.get_parts(geom))
        out.append(shapely.MultiPolygon([p for p in parts if p.geom_type == "Polygon"]))
    return gpd.GeoSeries(out, index=geoms.index, crs=geoms.crs)


def _read(name: str) -> gpd.GeoDataFrame:
    """A source GeoJSON (EPSG:4326) in RD New, with valid MultiPolygons."""
    gdf = gpd.read_file(SRC / name).to_crs(RD)
    return gdf.set_geometry(_multipolygons(gdf.geometry))


def _points_in(
    rng: np.random.Generator, poly: Any, n: int, centre: Any = None, spread: float = 0.0
) -> np.ndarray:
    """Rejection sampling: clustered around a centre (a street), else uniform in the polygon."""
    shapely.prepare(poly)
    x0, y0, x1, y1 = poly.bounds
    got = np.empty((0, 2))
    for attempt in range(400):
        m = max(4 * (n - len(got)), 16)
        if centre is not None and attempt < 50:
            xy = rng.normal(centre, spread, (m, 2))
        else:
            xy = rng.uniform((x0, y0), (x1, y1), (m, 2))
        got = np.vstack([got, xy[shapely.contains_xy(poly, xy[:, 0], xy[:, 1])]])
        if len(got) >= n:
            return got[:n].round(2)
    raise RuntimeError("no points found inside polygon")


def _buurt_index(x: np.ndarray, y: np.ndarray, bu: gpd.GeoDataFrame) -> np.ndarray:
    """Buurt row per point: the first containing buurt, else the nearest (borders are approximate)."""
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=RD)
    out = np.full(len(pts), -1)
    for how in ("within", "nearest"):
        miss = out < 0
        if not miss.any():
            break
        if how == "within":
            j = gpd.sjoin(pts, bu[["geometry"]], predicate="within")
        else:
            j = gpd.sjoin_nearest(pts[miss], bu[["geometry"]])
        j = j.reset_index().sort_values(["index", "index_right"]).drop_duplicates("index")
        out[j["index"].to_numpy()] = j["index_right"].to_numpy()
    return out


def _woonplaats(buurtnaam: str, wijkcode: str) -> str:
    """Village from the buurt name, else the former municipality; the rest is Groningen."""
    hit = next((w for key, w in VILLAGES if key in buurtnaam), None)
    return hit or WIJK_WOONPLAATS.get(wijkcode, "Groningen")


class _Postcodes:
    """A PC6 per synthetic street segment, from letter pairs its PC4 does not use yet."""

    def __init__(self, used: set[str]) -> None:
        self.used = used
        self.memo: dict[tuple[str, str, int], str] = {}
        self.free: dict[str, list[str]] = {}

    def __call__(self, pc4: str, street: str, block: int) -> str:
        """Same segment, same postcode; no F, I, O, Q, U, Y, and no SA, SD, SS."""
        if (pc4, street, block) not in self.memo:
            if pc4 not in self.free:
                ab = "ABCDEGHJKLMNPRTVWXZ"
                pairs = [a + b for a in ab for b in ab if f"{pc4}{a}{b}" not in self.used]
                self.free[pc4] = [str(p) for p in _rng(f"postcode/{pc4}").permutation(pairs)]
            self.memo[pc4, street, block] = pc4 + self.free[pc4].pop()
        return self.memo[pc4, street, block]


def _street(
    rng: np.random.Generator,
    pcs: _Postcodes,
    poly: Any,
    street: str,
    pc4: str,
    numbers: np.ndarray,
    units: np.ndarray | None = None,
    centre: Any = None,
    spread: float = 0.0,
    postcode: str | None = None,
) -> pd.DataFrame:
    """One SYNTHETIC street; a building with several units gets letters A, B, ... at one point."""
    units = np.ones(len(numbers), int) if units is None else units
    pts = _points_in(rng, poly, len(numbers), centre, spread)
    rep = np.repeat(np.arange(len(numbers)), units)
    nr = numbers[rep]
    letter = np.array(["", "A", "B", "C", "D"])[pd.Series(rep).groupby(rep).cumcount()]
    block = 20 if centre is not None else 40  # house numbers per postcode: town 20, country 40
    return pd.DataFrame(
        {
            "openbare_ruimte_naam": street,
            "huisnummer": nr,
            "huisletter": letter,
            "toevoeging": "",
            "postcode": [postcode or pcs(pc4, street, int(n) // block) for n in nr],
            "x": pts[rep, 0],
            "y": pts[rep, 1],
        }
    )


def _gebieden(out: Path) -> tuple[Path, gpd.GeoDataFrame]:
    """The CBS Wijk- en Buurtkaart layout (2022 on): gemeenten, wijken, buurten + key figures."""
    gem = _read("cbs_gemeente_2022_groningen.geojson")
    wijk = _read("cbs_wijken_2022_groningen.geojson")
    bu = _read("cbs_buurten_2024_groningen_approx.geojson").sort_values("code", ignore_index=True)
    num = {"aantal_inwoners": "inwoners", "omgevingsadressendichtheid": "adressendichtheid"}
    num |= {"stedelijkheid": "stedelijkheid"} | {
        f"misdrijven_{j}": f"misdrijven_{j}" for j in range(2021, 2026)
    }
    buurten = pd.DataFrame(
        {"buurtcode": bu["code"], "buurtnaam": bu["naam"], "wijkcode": bu["wijkcode"], "gemeentecode": GM}
        | {k: bu[v].round().astype("Int64") for k, v in num.items()}
    )
    layers = {
        "gemeenten": (pd.DataFrame({"gemeentecode": gem["code"], "gemeentenaam": gem["name"]}), gem),
        "wijken": (
            pd.DataFrame({"wijkcode": wijk["code"], "wijknaam": wijk["name"], "gemeentecode": GM}),
            wijk,
        ),
        "buurten": (buurten, bu),
    }
    path = out / "gebieden_cbs_2024.gpkg"
    for name, (attrs, src) in layers.items():
        gdf = gpd.GeoDataFrame(attrs.assign(jaar=JAAR), geometry=src.geometry.to_numpy(), crs=RD)
        desc = "Bron: CBS / Politie, CC BY 4.0; buurtgrenzen bij benadering"
        pyogrio.write_dataframe(gdf, path, layer=name, layer_options={"DESCRIPTION": desc})
    internal = buurten.assign(postcode=bu["postcode"])  # PC4, for synthetic addresses
    return path, gpd.GeoDataFrame(internal, geometry=bu.geometry.to_numpy(), crs=RD)


def _bedrijventerreinen(out: Path) -> tuple[Path, gpd.GeoDataFrame]:
    """IBIS-like business parks; the polygons are CBS 2017 buurten (a proxy, not IBIS borders)."""
    src = _read("bedrijventerreinen_proxy_cbs2017_groningen.geojson").sort_values("BU_CODE")
    attrs = {"RIN_NUMMER": "BT" + src["BU_CODE"].str[2:], "PLAN_NAAM": src["terrein_naam"]}
    attrs |= {"GM_CODE": GM, "zekerheid": src["zekerheid"], "WK_CODE": src["WK_CODE"]}
    bt = gpd.GeoDataFrame(attrs, geometry=src.geometry, crs=RD).reset_index(drop=True)
    path = out / "bedrijventerreinen_ibis.geojson"
    desc = "Proxy: CBS Wijk- en Buurtkaart 2017 (CC BY), geen IBIS-grenzen; RIN_NUMMER vervangend"
    opts = {"RFC7946": "YES", "COORDINATE_PRECISION": 7, "DESCRIPTION": desc}
    pyogrio.write_dataframe(bt.drop(columns="WK_CODE").to_crs(4326), path, layer_options=opts)
    return path, bt


def _postcodes_en_vierkanten(out: Path, bu: gpd.GeoDataFrame) -> list[Path]:
    """Postcode areas (PC4) and CBS 500 m grid squares of the city centre, for the area types
    beside the buurten. PC4: the buurten dissolved by their most common PC4 (an approximation of
    CBS's PC4 areas, which follow addresses, not buurten). Squares: CBS's definition (RD New,
    lower-left corner a multiple of 500 m, code ``E`` + x and ``N`` + y in hectometres), only the
    100 around the Grote Markt, to keep the demo's indicator tables small."""
    pc4 = bu["postcode"].fillna(bu.groupby("wijkcode")["postcode"].transform(lambda s: s.mode()[0]))
    areas = gpd.GeoDataFrame({"PC4": pc4.str[:4]}, geometry=bu.geometry.to_numpy(), crs=RD)
    areas = areas.dissolve(by="PC4", as_index=False).sort_values("PC4", ignore_index=True)
    p_pc4 = out / "postcodegebieden_pc4_2024.gpkg"
    p_pc4.unlink(missing_ok=True)
    desc = "PC4-gebieden bij benadering: CBS-buurten 2024 samengevoegd per meest voorkomende PC4"
    pyogrio.write_dataframe(areas, p_pc4, layer="pc4", layer_options={"DESCRIPTION": desc})
    municipality = shapely.union_all(bu.geometry.to_numpy())
    cells = [(x, y) for x in range(231000, 236000, 500) for y in range(579500, 584500, 500)]
    squares = [shapely.box(x, y, x + 500, y + 500) for x, y in cells]
    keep = [i for i, sq in enumerate(squares) if shapely.intersects(sq, municipality)]
    grid = gpd.GeoDataFrame(
        {"crs28992res500m": [f"E{cells[i][0] // 100:04d}N{cells[i][1] // 100:04d}" for i in keep]},
        geometry=[squares[i] for i in keep],
        crs=RD,
    )
    p_grid = out / "cbs_vierkanten_500m_2024.gpkg"
    p_grid.unlink(missing_ok=True)
    desc = "CBS-vierkanten van 500 m (indeling volgens CBS), alleen rond de binnenstad"
    pyogrio.write_dataframe(grid, p_grid, layer="vierkant500", layer_options={"DESCRIPTION": desc})
    return [p_pc4, p_grid]


def _synthetic_addresses(bu: gpd.GeoDataFrame, bt: gpd.GeoDataFrame, real: pd.DataFrame) -> pd.DataFrame:
    """SYNTHETIC addresses: units in business parks, farms in the rural area, Haren/Ten Boer homes."""
    parts: list[pd.DataFrame] = []
    pcs = _Postcodes(set(real["postcode"]))
    pc4 = bu["postcode"].fillna(bu.groupby("wijkcode")["postcode"].transform(lambda s: s.mode()[0]))
    rng = _rng("adres/bedrijventerrein")
    pool = [str(s) for s in rng.permutation(BT_STRATEN)]
    next_nr = (real.groupby("openbare_ruimte_naam")["huisnummer"].max() + 1).to_dict()
    for park, n in zip(
        bt.itertuples(), 40 + rng.multinomial(N_BT - 40 * len(bt), bt.area / bt.area.sum()), strict=True
    ):
        poly, mine = park.geometry, real[real["bt"] == park.RIN_NUMMER]
        if len(mine):  # reuse the park's real street names and postcodes
            park_pc4 = mine["postcode"].str[:4].mode()[0]
            known = mine.groupby("openbare_ruimte_naam").agg(
                k=("x", "size"), pc=("postcode", lambda s: s.mode()[0]), x=("x", "mean"), y=("y", "mean")
            )
            known = known.sort_values("k", ascending=False, kind="stable").head(2)
        else:
            rp = poly.representative_point()
            park_pc4 = pc4.iloc[_buurt_index(np.array([rp.x]), np.array([rp.y]), bu)[0]]
            known = pd.DataFrame(columns=["pc", "x", "y"])
        k = max(2, -(-n // 70))
        streets: list[tuple[str, Any, Any]] = [(s, r.pc, (r.x, r.y)) for s, r in known.iterrows()][: k - 1]
        streets += [(pool.pop(), None, None) for _ in range(k - len(streets))]
        for (name, pc, centre), m in zip(streets, _split(n, k), strict=True):
            units = rng.choice([1, 2, 3, 4], m, p=[0.7, 0.15, 0.1, 0.05])
            units = units[: np.searchsorted(units.cumsum(), m) + 1]
            units[-1] -= units.sum() - m
            if centre is None or not shapely.contains_xy(poly, *centre):
                centre = _points_in(rng, poly, 1)[0]
            first = next_nr.get(name, 1)  # after the street's real numbers: no clashes
            next_nr[name] = first + 2 * len(units)
            nrs = first + 2 * np.arange(len(units))
            spread = max(80.0, poly.area**0.5 / 5)
            street = _street(rng, pcs, poly, name, park_pc4, nrs, units, centre, spread, pc)
            parts.append(street.assign(klasse="bedrijventerrein", bt=park.RIN_NUMMER))
    rng = _rng("adres/agrarisch")
    south = bu["wijkcode"].isin(SOUTH) | bu["buurtnaam"].str.startswith("Buitengebied Haren-Zuid")
    rural = bu.geometry.difference(bt.union_all())
    w = np.where(bu["omgevingsadressendichtheid"].fillna(0) < 500, rural.area, 0) * np.where(south, 4, 1)
    roads_of: dict[str, list[str]] = {}
    for bi, n in enumerate(rng.multinomial(N_FARM, w / w.sum())):
        plaats = _woonplaats(bu.at[bi, "buurtnaam"], bu.at[bi, "wijkcode"])
        pool = roads_of.setdefault(plaats, [str(r) for r in _rng(f"wegen/{plaats}").permutation(LAND_WEGEN)])
        for m in _split(n, -(-n // 6)):
            nrs = np.sort(rng.choice(np.arange(1, 160), m, replace=False))
            street = _street(rng, pcs, rural.iloc[bi], pool.pop(), pc4.iloc[bi], nrs)
            parts.append(street.assign(klasse="agrarisch", bi=bi, regio=bool(south.iloc[bi])))
    rng = _rng("adres/dorp")
    res = np.flatnonzero(bu["wijkcode"].isin([f"WK00141{i}" for i in range(4, 10)]))
    w = bu["aantal_inwoners"].iloc[res].fillna(20).clip(lower=20).to_numpy(float)
    names: dict[str, list[str]] = {}
    for bi, n in zip(res.tolist(), 3 + rng.multinomial(N_RES - 3 * len(res), w / w.sum()), strict=True):
        plaats, poly = _woonplaats(bu.at[bi, "buurtnaam"], bu.at[bi, "wijkcode"]), bu.geometry.iloc[bi]
        pool = names.setdefault(plaats, [str(r) for r in _rng(f"straten/{plaats}").permutation(RES_STRATEN)])
        for m in _split(n, -(-n // 30)):
            centre, spread = _points_in(rng, poly, 1)[0], max(60.0, poly.area**0.5 / 6)
            street = _street(
                rng, pcs, poly, pool.pop(), pc4.iloc[bi], np.arange(1, m + 1), None, centre, spread
            )
            parts.append(street.assign(klasse="dorp", bi=bi))
    syn = pd.concat(parts, ignore_index=True)
    in_bt = syn["klasse"] == "bedrijventerrein"
    syn.loc[in_bt, "bi"] = _buurt_index(syn.x[in_bt].to_numpy(), syn.y[in_bt].to_numpy(), bu)
    syn["woonplaats_naam"] = [_woonplaats(bu.at[b, "buurtnaam"], bu.at[b, "wijkcode"]) for b in syn["bi"]]
    return syn.astype({"bi": int})


def _adressen(out: Path, bu: gpd.GeoDataFrame, bt: gpd.GeoDataFrame) -> tuple[Path, pd.DataFrame]:
    """Real BAG addresses plus SYNTHETIC ones, all with SYNTHETIC ids and BAG attributes."""
    raw = pd.read_csv(SRC / "bag_adressen_groningen_sample25k.csv", dtype=str, keep_default_na=False)
    xy = gpd.GeoSeries.from_xy(raw["lon"].astype(float), raw["lat"].astype(float), crs=4326).to_crs(RD)
    real = pd.DataFrame(
        {
            "openbare_ruimte_naam": raw["street"],
            "huisnummer": raw["number"].astype(int),
            "huisletter": raw["letter"].str.upper(),
            "toevoeging": raw["suffix"],
            "postcode": raw["postal_code"],
            "woonplaats_naam": raw["city"],
            "x": xy.x.round(2),
            "y": xy.y.round(2),
        }
    )
    in_bt = gpd.sjoin(gpd.GeoDataFrame(geometry=xy.to_numpy(), crs=RD), bt[["RIN_NUMMER", "geometry"]])
    real["bt"] = in_bt[~in_bt.index.duplicated()]["RIN_NUMMER"].reindex(real.index)
    real["bi"] = _buurt_index(real.x.to_numpy(), real.y.to_numpy(), bu)
    centrum = bu["wijkcode"].to_numpy()[real["bi"]] == "WK001400"
    real["klasse"] = np.where(real["bt"].notna(), "bedrijventerrein", np.where(centrum, "centrum", "stad"))
    syn = _synthetic_addresses(bu, bt, real)
    adr = pd.concat([real.assign(echt=True), syn.assign(echt=False)], ignore_index=True)
    # the sample holds 9 addresses twice; BAG has each address once, so the copies go
    adr = adr.drop_duplicates(["postcode", "huisnummer", "huisletter", "toevoeging"], ignore_index=True)
    rng, n, klasse = _rng("adres/attributen"), len(adr), adr["klasse"].to_numpy()
    gd = np.empty(n, dtype=object)
    for k, mix in MIXES.items():
        combos = [",".join(sorted((CODE[c] for c in key.split("+")), key=FUNCTIES.index)) for key in mix]
        p = np.array([float(v) for v in mix.values()])
        gd[klasse == k] = rng.choice(combos, (klasse == k).sum(), p=p / p.sum())
    first = pd.Series(gd, dtype=str).str.split(",").str[0]
    med = first.map({CODE[c]: v for c, v in OPP_MEDIAAN.items()}).to_numpy(float)
    med[(klasse == "centrum") & (first == "woonfunctie")] = 55
    med[(klasse == "agrarisch") & (first == "woonfunctie")] = 450
    wijk_jaar = np.array(WIJK_BOUWJAAR)[bu["wijkcode"].str[-2:].astype(int).to_numpy()]
    town = (wijk_jaar + rng.normal(0, 10, len(bu)))[adr["bi"]] + rng.normal(0, 15, n)
    bouwjaar = np.select(
        [klasse == "agrarisch", klasse == "bedrijventerrein", klasse == "centrum"],
        [rng.uniform(1850, 1985, n), rng.normal(1985, 15, n), rng.normal(1890, 60, n)],
        town,
    )
    states = ["Verblijfsobject in gebruik", "Verblijfsobject buiten gebruik", "Verbouwing verblijfsobject"]
    vbo = np.where(adr["echt"], 0, 500_000_000) + rng.integers(1, 20, n).cumsum()
    pand = pd.factorize(
        adr["woonplaats_naam"] + "|" + adr["openbare_ruimte_naam"] + "|" + adr["huisnummer"].astype(str)
    )[0]
    adr = adr.assign(
        identificatie=[f"0014010{v:09d}" for v in vbo],
        gebruiksdoel=gd,
        oppervlakte=np.maximum(6, (med * rng.lognormal(0, 0.45, n)).round()).astype(int),
        bouwjaar=np.clip(bouwjaar.round(), 1450, 2024).astype(int),
        status=rng.choice(states, n, p=[0.965, 0.02, 0.015]),
        pand_identificatie=[f"0014100{v:09d}" for v in rng.integers(1, 40, pand.max() + 1).cumsum()[pand]],
    )
    groups = [klasse == "agrarisch", first == "woonfunctie", first.isin(PUBLIEK)]
    adr["groep"] = np.select(groups, ["agrarisch", "woning", "publiek"], "bedrijf")
    cols = ["identificatie", "openbare_ruimte_naam", "huisnummer", "huisletter", "toevoeging", "postcode"]
    cols += ["woonplaats_naam", "gebruiksdoel", "oppervlakte", "bouwjaar", "status", "pand_identificatie"]
    attrs = adr[cols].assign(**{c: adr[c].mask(adr[c] == "") for c in ("huisletter", "toevoeging")})
    gdf = gpd.GeoDataFrame(attrs, geometry=gpd.points_from_xy(adr.x, adr.y), crs=RD)
    desc = (
        "Adres en ligging: BAG (publiek domein). SYNTHETISCH: identificatie, gebruiksdoel, oppervlakte, "
        "bouwjaar, status, pand_identificatie, en de adressen met identificatie >= 0014010500000000."
    )
    path = out / "adressen_bag.gpkg"
    pyogrio.write_dataframe(gdf, path, layer="verblijfsobject", layer_options={"DESCRIPTION": desc})
    return path, adr


def _leegstand(out: Path, adr: pd.DataFrame) -> Path:
    """SYNTHETIC vacancy register; cp1252, semicolons and CRLF, as a Windows export has them."""
    rng, gd = _rng("leegstand"), adr["gebruiksdoel"]
    rules = {"agrarisch": adr["klasse"] == "agrarisch", "bedrijfspand": gd.str.contains("industrie")}
    rules |= {
        k: gd.str.startswith(f) for k, f in (("winkel", "winkel"), ("kantoor", "kantoor"), ("woning", "woon"))
    }
    soort = np.select(list(rules.values()), list(rules), "overig")
    weight = {"woning": 1, "winkel": 5, "kantoor": 4, "bedrijfspand": 4, "agrarisch": 5, "overig": 3}
    w = pd.Series(soort).map(weight).to_numpy(float) * np.where(adr["bt"].notna(), 1.5, 1)
    w *= np.where(adr["openbare_ruimte_naam"].str.isascii(), 1, 5)  # exercise cp1252: ë, é, ö, ç
    idx = np.sort(rng.choice(len(adr), N_LEEGSTAND, replace=False, p=w / w.sum()))
    k = len(idx)
    sinds = np.datetime64("2025-11-30") - rng.exponential(500, k).astype("timedelta64[D]")
    sinds = np.maximum(sinds, np.datetime64("2015-01-01"))
    tot = sinds + rng.integers(60, 900, k).astype("timedelta64[D]")
    tot = np.where((rng.random(k) < 0.25) & (tot <= np.datetime64(END)), tot, np.datetime64("NaT"))
    a = adr.iloc[idx].reset_index(drop=True)
    df = a[["postcode", "huisnummer", "huisletter", "toevoeging"]].assign(
        bag_vbo_id=np.where(rng.random(k) < 0.6, a["identificatie"], ""),
        straatnaam=a["openbare_ruimte_naam"],
        soort=soort[idx],
        sinds=pd.to_datetime(sinds),
        tot=pd.to_datetime(tot),
    )
    df = df.sort_values(["sinds", "postcode", "huisnummer"], kind="stable", ignore_index=True)
    jaar = df["sinds"].dt.year
    seq = df.groupby(jaar).cumcount() + 1
    df["kenmerk"] = [f"LS-{j}-{s:05d}" for j, s in zip(jaar, seq, strict=True)]
    df["sinds"], df["tot"] = df["sinds"].dt.strftime("%d-%m-%Y"), df["tot"].dt.strftime("%d-%m-%Y")
    cols = ["kenmerk", "bag_vbo_id", "postcode", "huisnummer", "huisletter", "toevoeging"]
    cols += ["straatnaam", "soort", "sinds", "tot"]
    path = out / "leegstand.csv"
    df[cols].to_csv(path, sep=";", index=False, encoding="cp1252", lineterminator="\r\n")
    return path


# SYNTHETIC registers: SBI code (KvK-like export) and weight per kind of address. The codes are
# real SBI 2008 codes; which addresses get them is made up.
SBI_MIX = {k: dict(x.split() for x in v.split(",")) for k, v in _table("""
centrum          | 5610 20, 56.30 14, 96021 6, 96022 5, 47.42 1, 4711 8, 4771 10, 6920 6, 8621 3, 7022 8
stad             | 5610 8, 5630 4, 96.02.1 6, 96022 4, 4711 8, 4520 3, 6920 6, 4321 8, 8621 4, 7022 6
bedrijventerrein | 4511 10, 45.20 12, 52.10 5, 4941 10, 4321 8, 2511 8, 4690 10, 5610 3, 96022 1, 6201 6
dorp             | 5610 3, 5630 2, 96021 3, 0111 10, 4520 4, 4321 8, 4941 4
agrarisch        | 0111 20, 0141 10, 4520 2, 52.10 2
""", "|")}  # fmt: skip
N_VESTIGING = 3500


def _vestigingen(out: Path, adr: pd.DataFrame) -> list[Path]:
    """SYNTHETIC registers on non-residential addresses: a KvK-like export (SBI codes, written
    5610 / 56.30 / 96022 as exports mix them) and the municipality's permit register (drank- en
    horecavergunning, exploitatievergunning, 14 gedoogbeschikkingen for coffeeshops, as the
    plan's coffeeshop list), dd-mm-jjjj, cp1252."""
    rng = _rng("vestigingen")
    folder = out / "vestigingen"
    folder.mkdir(exist_ok=True)
    w = np.where(adr["groep"].isin(["publiek", "bedrijf"]), 1.0, 0.02) * np.where(adr["bt"].notna(), 3, 1)
    idx = np.sort(rng.choice(len(adr), N_VESTIGING, replace=False, p=w / w.sum()))
    a = adr.iloc[idx].reset_index(drop=True)
    sbi = np.empty(len(a), dtype=object)
    for klasse, mix in SBI_MIX.items():
        rows = (a["klasse"] == klasse).to_numpy()
        p_mix = np.array([float(v) for v in mix.values()])
        sbi[rows] = rng.choice(list(mix), rows.sum(), p=p_mix / p_mix.sum())
    start = pd.Timestamp("1985-01-01") + pd.to_timedelta(rng.integers(0, 14_600, len(a)), unit="D")
    number = a["huisnummer"].astype(str)
    kvk = pd.DataFrame(
        {
            "Vestigingsnummer": [
                f"{v:012d}" for v in rng.integers(1, 10**8, len(a)) * 10 + np.arange(len(a)) % 10
            ],
            "Handelsnaam": [f"Onderneming {i + 1} (synthetisch)" for i in range(len(a))],
            "SBI-code": sbi,
            "Straat": a["openbare_ruimte_naam"],
            "Huisnummer": number,
            "Huisletter": a["huisletter"].fillna(""),
            "Huisnummertoevoeging": a["toevoeging"].fillna(""),
            "Postcode": a["postcode"],
            "Plaats": a["woonplaats_naam"],
            "Datum vestiging": start.strftime("%d-%m-%Y"),
        }
    ).drop_duplicates("Vestigingsnummer")
    kvk_path = folder / "kvk.csv"
    kvk.to_csv(kvk_path, sep=";", index=False, encoding="utf-8", lineterminator="\n")
    horeca = np.flatnonzero(pd.Series(sbi).str.replace(".", "", regex=False).str[:4].isin(["5610", "5630"]))
    cafes = [
        i for i in horeca if sbi[i].replace(".", "").startswith("5630") and a.at[i, "klasse"] == "centrum"
    ]
    permits = []
    for i in horeca[rng.random(len(horeca)) < 0.7]:
        permits.append((i, "Drank- en Horecavergunning", "DHW"))
    for i in horeca[rng.random(len(horeca)) < 0.4]:
        permits.append((i, "Exploitatievergunning", "EXP"))
    for i in rng.choice(cafes, min(14, len(cafes)), replace=False):
        permits.append((i, "Gedoogbeschikking coffeeshop", "GB"))
    permits.sort(key=lambda t: (t[2], t[0]))
    van = pd.Timestamp("2010-01-01") + pd.to_timedelta(rng.integers(0, 5_400, len(permits)), unit="D")
    ends = rng.random(len(permits)) < 0.15  # some expired, some fixed-term
    tot = van + pd.to_timedelta(rng.integers(365, 3_650, len(permits)), unit="D")
    rows = []
    for n, ((i, soort, prefix), v, t, e) in enumerate(zip(permits, van, tot, ends, strict=True)):
        r = a.iloc[i]
        glued = f"{r['huisnummer']}{(r['huisletter'] or '').lower()}" + (
            f"-{r['toevoeging']}" if r["toevoeging"] else ""
        )
        rows.append(
            {
                "Vergunningnummer": f"{prefix}-{v.year}-{n + 1:05d}",
                "Soort vergunning": soort,
                "Inrichting": f"Onderneming {i + 1} (synthetisch)",
                "Straat": r["openbare_ruimte_naam"],
                "Huisnummer": glued,
                "Postcode": f"{r['postcode'][:4]} {r['postcode'][4:]}",
                "Ingangsdatum": v.strftime("%d-%m-%Y"),
                "Einddatum": t.strftime("%d-%m-%Y") if e else "",
            }
        )
    vth_path = folder / "gemeente_vth.csv"
    pd.DataFrame(rows).to_csv(vth_path, sep=";", index=False, encoding="cp1252", lineterminator="\r\n")
    return [kvk_path, vth_path]


@dataclass
class _Ctx:
    """What the signal generators share: addresses, areas and the weights derived from them."""

    adr: pd.DataFrame
    bu: gpd.GeoDataFrame
    rural: gpd.GeoSeries
    buurt_w: dict[str, np.ndarray]
    hot: np.ndarray = field(default_factory=lambda: np.empty(0, int))
    cache: dict[str, np.ndarray] = field(default_factory=dict)

    def weights(self, profile: str) -> np.ndarray:
        """Per address: the buurt weight shared over its addresses, times use and park factors."""
        if profile not in self.cache:
            variant, groep, bt_factor = PROFIELEN[profile]
            bi = self.adr["bi"].to_numpy()
            per_addr = self.buurt_w[variant] / np.maximum(np.bincount(bi, minlength=len(self.bu)), 1)
            w = per_addr[bi] * self.adr["groep"].map(lambda g: groep.get(g, 1.0)).to_numpy()
            self.cache[profile] = w * np.where(self.adr["bt"].notna(), bt_factor, 1.0)
        return self.cache[profile]

    def pick(self, rng: np.random.Generator, n: int, profile: str, replace: bool = True) -> np.ndarray:
        """Addresses for n signals; trafficking concentrates on a few hotspot addresses."""
        w = self.weights(profile)
        ai = rng.choice(len(w), n, replace=replace, p=w / w.sum())
        if profile == "mensenhandel":
            ai = np.where(rng.random(n) < 0.6, rng.choice(self.hot, n), ai)
        return ai

    def xy(self, rng: np.random.Generator, n: int, variant: str) -> np.ndarray:
        """Points for signals without an address, spread over buurten by the same weights."""
        w = self.buurt_w[variant]
        polys = self.rural if variant == "landelijk" else self.bu.geometry
        counts = rng.multinomial(n, w / w.sum())
        pts = [_points_in(rng, polys.iloc[b], k) for b, k in enumerate(counts) if k]
        return np.vstack([np.empty((0, 2)), *pts])


def _context(adr: pd.DataFrame, bu: gpd.GeoDataFrame, bt: gpd.GeoDataFrame) -> tuple[_Ctx, dict[str, Any]]:
    """Baseline per buurt = misdrijven_2024; a few buurten deviate on purpose (see MANIFEST)."""
    rng = _rng("signaal/context")
    crime, inw = bu["misdrijven_2024"].astype(float), bu["aantal_inwoners"].astype(float)
    rate = crime.sum() / inw[crime.notna()].sum()  # suppressed buurten: inhabitants x city rate
    basis = crime.fillna(inw * rate).fillna(1).clip(lower=0.5).to_numpy()
    n_adr = np.bincount(adr["bi"], minlength=len(bu))
    pick = rng.choice(np.flatnonzero(crime.between(60, 400).to_numpy() & (n_adr >= 80)), 8, replace=False)
    drugs, mh = basis.copy(), basis.copy()
    drugs[pick[:5]] *= 3
    mh[pick[5:]] *= 8
    south = bu["wijkcode"].isin(SOUTH).to_numpy()
    rural = bu.geometry.difference(bt.union_all())
    land = np.where(bu["omgevingsadressendichtheid"].fillna(0) < 500, rural.area, 0) * np.where(south, 4, 1)
    weights = {"basis": basis, "drugs": drugs, "mensenhandel": mh, "landelijk": land}
    ctx = _Ctx(adr, bu, rural, weights)
    hot_w = ctx.weights("mensenhandel") * np.isin(adr["bi"], pick[5:]) + ctx.weights("bedrijf") * 0.2
    ctx.hot = np.sort(rng.choice(len(adr), 40, replace=False, p=hot_w / hot_w.sum()))
    dev = {
        thema: {
            "factor": factor,
            "buurten": [
                {"buurtcode": bu.at[i, "buurtcode"], "buurtnaam": bu.at[i, "buurtnaam"]} for i in sorted(ix)
            ],
        }
        for thema, factor, ix in (("drugs", 3, pick[:5]), ("mensenhandel", 8, pick[5:]))
    }
    return ctx, dev


def _dates(
    rng: np.random.Generator, n: int | tuple[int, ...], lo: date = START, hi: date = END
) -> np.ndarray:
    """Uniform days; a tuple gives exact counts per year 2023, 2024, 2025 (the plan's figures)."""
    if isinstance(n, tuple):
        years = [_dates(rng, k, date(2023 + i, 1, 1), date(2023 + i, 12, 31)) for i, k in enumerate(n)]
        return np.concatenate(years)
    return np.datetime64(lo, "D") + _days(rng, 0, (hi - lo).days + 1, n)


def _days(rng: np.random.Generator, lo: int, hi: int, n: int) -> np.ndarray:
    """Random durations in whole days."""
    return rng.integers(lo, hi, n).astype("timedelta64[D]")


def _rec(
    rng: np.random.Generator,
    bron: Any,
    thema: Any,
    soort: Any,
    datum: np.ndarray,
    ai: np.ndarray,
    xy: np.ndarray | None = None,
    eind: np.ndarray | None = None,
    tekst: str | None = None,
) -> pd.DataFrame:
    """A batch of signals in the internal layout; ai = address row, -1 when located by x/y."""
    n = len(datum)
    br, th, so = (np.broadcast_to(v, n) for v in (bron, thema, soort))
    keys = [
        tekst or next(k for k in (f"{b}/{t}", f"{s}/{t}", s, t) if k in TEKSTEN)
        for b, t, s in zip(br, th, so, strict=True)
    ]
    xy = np.full((n, 2), np.nan) if xy is None else xy
    return pd.DataFrame(
        {
            "bron": br,
            "thema": th,
            "soort": so,
            "datum": datum,
            "einddatum": np.full(n, np.datetime64("NaT"), "datetime64[D]") if eind is None else eind,
            "ai": ai,
            "x": xy[:, 0],
            "y": xy[:, 1],
            "toelichting": [TEKSTEN[k][rng.integers(len(TEKSTEN[k]))] if k in TEKSTEN else k for k in keys],
        }
    )


def _signalen(ctx: _Ctx, bt: gpd.GeoDataFrame) -> pd.DataFrame:
    """All SYNTHETIC signals: bulk per spec, then the plan's countable interventions."""
    recs: list[pd.DataFrame] = []
    nat = np.datetime64("NaT")
    for bron, thema, soort, count, prof in SPECS:
        rng, n = _rng(f"signaal/{bron}/{thema}/{soort}"), int(count)
        k = rng.binomial(n, BRONNEN[bron].xy)
        ai = np.concatenate([ctx.pick(rng, n - k, prof), np.full(k, -1)])
        xy = np.vstack([np.full((n - k, 2), np.nan), ctx.xy(rng, k, PROFIELEN[prof][0])])
        d = _dates(rng, n)
        eind = np.where(rng.random(n) < 0.04, d + _days(rng, 7, 180, n), nat)  # closed cases
        recs.append(_rec(rng, bron, thema, soort, d, ai, xy, eind))
    rng = _rng("signaal/drugszaken")  # closures, warnings, orders; a police report precedes them
    todo = ctx.pick(rng, 72, "woning", replace=False)
    plan = {"pandsluiting": (14, 15, 8), "waarschuwing": (10, 12, 6), "last_onder_dwangsom": (0, 3, 4)}
    for soort, years in plan.items():
        k = sum(years)
        a, todo, d = todo[:k], todo[k:], _dates(rng, years)
        until: np.ndarray | None = {
            "pandsluiting": d + rng.choice([90, 180, 365], k).astype("timedelta64[D]"),
            "last_onder_dwangsom": d + np.timedelta64(365, "D"),
        }.get(soort)
        recs.append(_rec(rng, "gemeente_oov", "drugs", soort, d, a, eind=until))
        if soort != "last_onder_dwangsom":
            rd = np.maximum(d - _days(rng, 14, 90, k), np.datetime64(START))
            recs.append(_rec(rng, "politie", "drugs", "bestuurlijke_rapportage", rd, a))
        if soort == "pandsluiting":  # social care involved in over 60 % of closures
            c = rng.random(k) < 0.62
            dc = d[c] + _days(rng, 0, 21, c.sum())
            recs.append(
                _rec(
                    rng,
                    "wij_groningen",
                    "drugs",
                    "melding",
                    dc,
                    a[c],
                    tekst="Hulpverlening betrokken na sluiting",
                )
            )
    rng = _rng("signaal/erfbezoeken")  # all 144 farms visited in 2023-2024, ~20 reports on the way
    farms = np.flatnonzero(ctx.adr["klasse"] == "agrarisch")
    w = np.where(ctx.adr["regio"].iloc[farms].eq(True), 2.0, 1.0)
    visit = rng.choice(farms, 144, replace=False, p=w / w.sum())
    d = _dates(rng, 144, date(2023, 4, 1), date(2024, 10, 31))
    who = rng.permutation(np.where(np.arange(144) < 100, "gemeente_oov", "lto_noord"))
    recs.append(_rec(rng, who, "buitengebied", "erfbezoek", d, visit))
    sel = rng.choice(144, 20, replace=False)
    a, xy = np.where(np.arange(20) < 14, visit[sel], -1), np.full((20, 2), np.nan)
    for i in range(14, 20):  # seen on the road near the farm, not at an address
        f = ctx.adr.iloc[visit[sel[i]]]
        xy[i] = _points_in(rng, ctx.rural.iloc[f["bi"]], 1, (f["x"], f["y"]), 150)[0]
    recs.append(_rec(rng, who[sel], "buitengebied", "melding", d[sel], a, xy))
    rng = _rng("signaal/schouwen")  # 4 in 2024 at Zuidoost, 6 in 2025 across the city
    n_adr = ctx.adr["bt"].value_counts().reindex(bt["RIN_NUMMER"]).fillna(0).to_numpy()
    zo = (bt["WK_CODE"] == "WK001405").to_numpy()
    for mask, jaar, n_schouw in ((zo, 2024, 4), (~zo, 2025, 6)):
        parks = rng.choice(np.flatnonzero(mask), n_schouw, replace=False, p=n_adr[mask] / n_adr[mask].sum())
        days = np.sort(_dates(rng, n_schouw, date(jaar, 3, 1), date(jaar, 11, 30)))
        for p, day in zip(parks, days, strict=True):
            k, here = int(rng.integers(8, 17)), np.flatnonzero(ctx.adr["bt"] == bt.at[p, "RIN_NUMMER"])
            n_xy = round(k * 0.35)
            a = np.concatenate([rng.choice(here, k - n_xy, replace=False), np.full(n_xy, -1)])
            xy = np.vstack([np.full((k - n_xy, 2), np.nan), _points_in(rng, bt.geometry.iloc[p], n_xy)])
            themes = ["criminogene_branche", "vastgoed", "drugs", "mensenhandel", "overig"]
            th = rng.choice(themes, k, p=[0.4, 0.3, 0.1, 0.05, 0.15])
            recs.append(_rec(rng, "gemeente_oov", th, "schouw", np.full(k, day), a, xy, tekst="schouw_bt"))
    rng = _rng("signaal/controles")  # 14 integrated controls a year; 8 in 2024 on trafficking
    d = _dates(rng, (14, 14, 14))
    mh = np.isin(np.arange(42), [*range(3), *range(14, 22), *range(28, 32)])
    th = np.where(mh, "mensenhandel", "criminogene_branche")
    recs.append(
        _rec(rng, "gemeente_oov", th, "bestuurlijke_controle", d, ctx.pick(rng, 42, "publiek", False))
    )
    rng = _rng("signaal/bibob")  # 103 (2023), 109 (2024), ~100 (2025) screenings
    d = _dates(rng, (103, 109, 100))
    th = rng.choice(["criminogene_branche", "vastgoed", "zorgfraude"], len(d), p=[0.6, 0.3, 0.1])
    ai = np.zeros(len(d), int)
    for t, prof in (("criminogene_branche", "publiek"), ("vastgoed", "vastgoed"), ("zorgfraude", "zorg")):
        ai[th == t] = ctx.pick(rng, int((th == t).sum()), prof)
    eind = np.where(rng.random(len(d)) < 0.85, d + _days(rng, 28, 120, len(d)), nat)
    recs.append(_rec(rng, "bibob_bureau", th, "bibob", d, ai, eind=eind))
    return pd.concat(recs, ignore_index=True)


def _write_bron(out: Path, code: str, s: pd.DataFrame, adr: pd.DataFrame) -> Path:
    """One partner export: own kenmerk scheme, address style, date format and file type."""
    meta, rng = BRONNEN[code], _rng(f"export/{code}")
    s = s.sort_values("datum", kind="stable", ignore_index=True)
    jaar = pd.to_datetime(s["datum"]).dt.year
    seq = s.groupby(jaar).cumcount() + 1
    has, style = (s["ai"] >= 0).to_numpy(), rng.choice(3, len(s), p=meta.adres)
    bag, loc = has & (style <= 1), has & (style != 1)
    a = adr.iloc[s["ai"].clip(lower=0)].reset_index(drop=True)
    df = pd.DataFrame(
        {
            "kenmerk": [meta.kenmerk.format(y=j, y2=j % 100, n=q) for j, q in zip(jaar, seq, strict=True)],
            "thema": s["thema"],
            "soort": s["soort"],
            "datum": pd.to_datetime(s["datum"]),
            "einddatum": pd.to_datetime(s["einddatum"]),
            "bag_vbo_id": a["identificatie"].where(bag),
            "postcode": a["postcode"].where(loc),
            "huisnummer": a["huisnummer"].where(loc).astype("Int64"),
            "huisletter": a["huisletter"].where(loc),
            "toevoeging": a["toevoeging"].where(loc),
            "x": s["x"].round().astype("Int64"),
            "y": s["y"].round().astype("Int64"),
            "toelichting": s["toelichting"],
        }
    )
    if meta.formaat == "xlsx":
        return _write_xlsx(df, out / f"{code}.xlsx")
    for col in ("datum", "einddatum"):
        df[col] = df[col].dt.strftime(meta.datum)
    path = out / f"{code}.csv"
    sep = ";" if meta.formaat == "csv;" else ","
    df.to_csv(path, sep=sep, index=False, encoding="utf-8", lineterminator="\n")
    return path


def _write_xlsx(df: pd.DataFrame, path: Path) -> Path:
    """A spreadsheet as partners deliver it: real date cells, ids as text (16 digits > Excel's 15)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Signalen"
    ws.append(list(df.columns))
    for row in df.itertuples(index=False):
        cells = [None if pd.isna(v) or v == "" else v for v in row]
        ws.append(
            [
                v.date() if isinstance(v, pd.Timestamp) else int(v) if isinstance(v, np.integer) else v
                for v in cells
            ]
        )
    for col in ("D", "E"):
        for cell in ws[col][1:]:
            cell.number_format = "dd-mm-yyyy"
    wb.properties.creator = "RIEC Noord-Nederland"
    wb.properties.created = pd.Timestamp(STAMP).tz_localize(None).to_pydatetime()
    buf = io.BytesIO()
    wb.save(buf)
    # openpyxl stamps the save time into the zip entries and core.xml: pin both
    with zipfile.ZipFile(buf) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            body = zin.read(info)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + STAMP.encode(), body)
            zi = zipfile.ZipInfo(info.filename, (2026, 1, 5, 0, 0, 0))
            zout.writestr(zi, body, zipfile.ZIP_DEFLATED)
    return path


def _rows(path: Path) -> int | dict[str, int]:
    """Row count of a file (per layer for a GeoPackage)."""
    if path.suffix == ".gpkg":
        return {
            str(lyr): int(pyogrio.read_info(path, layer=lyr)["features"])
            for lyr, _ in pyogrio.list_layers(path)
        }
    if path.suffix == ".geojson":
        return int(pyogrio.read_info(path)["features"])
    if path.suffix == ".xlsx":
        return len(pd.read_excel(path))
    return len(path.read_bytes().splitlines()) - 1


INHOUD = {  # per file: how much is real, and what it is (Dutch, shown in MANIFEST.json)
    "gebieden_cbs_2024.gpkg": (
        "echt",
        "CBS Wijk- en Buurtkaart 2022 en kerncijfers 2024, buurtgrenzen bij benadering. "
        "Bron: CBS / Politie, CC BY 4.0",
    ),
    "bedrijventerreinen_ibis.geojson": (
        "echt, proxy",
        "CBS-buurten 2017 (CC BY) als benadering van IBIS-terreinen; RIN_NUMMER is een vervangende code",
    ),
    "postcodegebieden_pc4_2024.gpkg": (
        "echt, benadering",
        "CBS-buurten 2024 samengevoegd per meest voorkomende PC4; geen CBS-postcodegrenzen",
    ),
    "cbs_vierkanten_500m_2024.gpkg": (
        "echt",
        "CBS-vierkanten van 500 m volgens de CBS-indeling (RD New), rond de binnenstad; zonder cijfers",
    ),
    "adressen_bag.gpkg": (
        "deels synthetisch",
        "adres en ligging van de echte adressen: BAG (Kadaster, publiek domein). Synthetisch: "
        "identificatie, gebruiksdoel, oppervlakte, bouwjaar, status, pand_identificatie, en alle "
        "adressen met identificatie >= 0014010500000000",
    ),
    "leegstand.csv": ("synthetisch", "verzonnen leegstandsregister op bestaande adressen"),
    "vestigingen/kvk.csv": (
        "synthetisch",
        "verzonnen KvK-achtige lijst van vestigingen met echte SBI-codes op bestaande adressen",
    ),
    "vestigingen/gemeente_vth.csv": (
        "synthetisch",
        "verzonnen vergunningenregister (drank en horeca, exploitatie, 14 gedoogbeschikkingen)",
    ),
    "signalen/bronnen.csv": (
        "fictief",
        "bronnenregister voor de demo: dataklassen, convenanten en termijnen zijn aannames",
    ),
}


def build(out_dir: Path) -> dict[str, Path]:
    """Build every demo file into out_dir; returns file name (relative to out_dir) -> path."""
    out_dir = Path(out_dir)
    (out_dir / "signalen").mkdir(parents=True, exist_ok=True)
    for old in ("gebieden_cbs_2024.gpkg", "adressen_bag.gpkg"):
        (out_dir / old).unlink(missing_ok=True)  # a GPKG write would add to the old file
    before = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": STAMP})  # GPKG timestamps: stable bytes
    try:
        p_geb, bu = _gebieden(out_dir)
        p_bt, bt = _bedrijventerreinen(out_dir)
        p_adr, adr = _adressen(out_dir, bu, bt)
        p_extra = _postcodes_en_vierkanten(out_dir, bu)
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": before})
    paths = [p_geb, p_bt, *p_extra, p_adr, _leegstand(out_dir, adr), *_vestigingen(out_dir, adr)]
    ctx, afwijkend = _context(adr, bu, bt)
    sig = _signalen(ctx, bt)
    paths += [_write_bron(out_dir / "signalen", c, sig[sig["bron"] == c], adr) for c in BRONNEN]
    fields = ["naam", "organisatie", "dataklasse", "convenant", "bewaartermijn_maanden"]
    register = pd.DataFrame([{"code": c} | {f: getattr(b, f) for f in fields} for c, b in BRONNEN.items()])
    kvk = ("Handelsregister (KvK-export)", "Kamer van Koophandel", "openbaar", "gemeente", 120)
    register.loc[len(register)] = ["kvk", *kvk]  # the register of establishments: no signals
    paths.append(out_dir / "signalen" / "bronnen.csv")
    register.to_csv(paths[-1], index=False, encoding="utf-8", lineterminator="\n")
    files = {p.relative_to(out_dir).as_posix(): p for p in paths}
    synthetic = ("synthetisch", "verzonnen partnergegevens, gekalibreerd op het uitvoeringsplan ondermijning")
    manifest = {
        "naam": "Ondermijningskaart demo-dataset gemeente Groningen (GM0014)",
        "let_op": "Bevat synthetische gegevens: geen echte signalen, leegstand of BAG-kenmerken. "
        "Alleen voor demonstratie en tests, niet voor beslissingen.",
        "generator": "data/build_demo.py",
        "seed": SEED,
        "crs": "EPSG:28992 (bedrijventerreinen_ibis.geojson: EPSG:4326)",
        "bestanden": [
            {
                "bestand": name,
                "rijen": _rows(p),
                "inhoud": INHOUD.get(name, synthetic)[0],
                "toelichting": INHOUD.get(name, synthetic)[1],
                "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
            }
            for name, p in files.items()
        ],
        "signalen_totaal": len(sig),
        "afwijkende_buurten_synthetisch": afwijkend,
    }
    files["MANIFEST.json"] = out_dir / "MANIFEST.json"
    text = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
    files["MANIFEST.json"].write_text(text, encoding="utf-8")
    return files


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "demo-out"
    for name, path in build(target).items():
        print(f"{name:40s} {path}")
