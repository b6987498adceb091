"""Generated national data for ``benchmarks/national.py``: areas, addresses, signals, a delta.

Nothing real: a grid of square-ish municipalities over the Netherlands' extent in RD New
(342 at scale 1), each split into 9 wijken and 41 buurten (~14,000 nationally, as CBS has),
with three business parks around its centre; addresses in the PDOK BAG GeoPackage layout,
most of them in the centre wijk (the town); signals from two partners in the shapes their
exports have (a RIEC list by address, a police BVH export with decimal-comma coordinates).

Everything is written one municipality at a time, from a random generator seeded per
municipality, so no file is ever whole in memory and the delta can be written in the same
pass: the corrected signals are the same rows with another theme.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

#: RD New extent of the grid: roughly the Netherlands (x 13-278 km, y 306-620 km).
EXTENT = (13_000.0, 306_000.0, 278_000.0, 620_000.0)
NATIONAL = {"gemeenten": 342, "adressen": 10_000_000, "signalen": 5_000_000}
SEED = 20260016
#: Share of the signals in the RIEC list (the rest are police incidents).
RIEC_SHARE = 0.6
THEMAS = np.array(
    ["drugs", "vastgoed", "criminogene_branche", "zorgfraude", "buitengebied", "cyber", "overig"]
)
SOORTEN = np.array(["melding"] * 7 + ["pandsluiting", "bibob", "bestuurlijke_controle"])
FIRST_DAY, DAYS = dt.date(2023, 1, 1), 3 * 365
LETTERS = np.array([chr(65 + a) + chr(65 + b) for a in range(26) for b in range(26)])
#: Rows per GeoPackage write: large enough for speed, small enough for memory.
CHUNK = 400_000
RIEC_HEADER = "Kenmerk;Thema;Soort;Datum melding;Postcode;Huisnummer\r\n"
BVH_HEADER = (
    "Registratienummer;Begindatum/tijd;Straat;Huisnummer;Postcode;Plaats;X-coordinaat;Y-coordinaat;"
    "Omschrijving\r\n"
)


@dataclass(frozen=True)
class Plan:
    """The sizes at one scale, and where the grid puts each municipality."""

    gemeenten: int
    adressen: int
    signalen: int
    delta_gemeenten: int = 5
    size: tuple[float, float] = field(init=False)
    columns: int = field(init=False)

    def __post_init__(self) -> None:
        width, height = EXTENT[2] - EXTENT[0], EXTENT[3] - EXTENT[1]
        cols = math.ceil(math.sqrt(NATIONAL["gemeenten"] * width / height))
        rows = math.ceil(NATIONAL["gemeenten"] / cols)
        object.__setattr__(self, "size", (width / cols, height / rows))
        object.__setattr__(self, "columns", cols)

    @classmethod
    def at(cls, scale: float) -> Plan:
        return cls(
            gemeenten=max(2, round(NATIONAL["gemeenten"] * scale)),
            adressen=round(NATIONAL["adressen"] * scale),
            signalen=round(NATIONAL["signalen"] * scale),
        )

    def code(self, g: int) -> str:
        return f"{g + 1:04d}"

    def cell(self, g: int) -> tuple[float, float, float, float]:
        """The municipality's rectangle (minx, miny, maxx, maxy)."""
        w, h = self.size
        x0 = EXTENT[0] + (g % self.columns) * w
        y0 = EXTENT[1] + (g // self.columns) * h
        return x0, y0, x0 + w, y0 + h

    def centre(self, g: int) -> tuple[float, float, float, float]:
        """The centre wijk: the town, where most addresses are."""
        x0, y0, x1, y1 = self.cell(g)
        w, h = (x1 - x0) / 3, (y1 - y0) / 3
        return x0 + w, y0 + h, x0 + 2 * w, y0 + 2 * h

    def counts(self) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """Addresses, RIEC signals and police signals per municipality (towns differ in size)."""
        rng = np.random.default_rng(SEED)
        weights = rng.lognormal(0.0, 0.8, self.gemeenten)
        adressen = rng.multinomial(self.adressen, weights / weights.sum())
        riec = rng.multinomial(round(self.signalen * RIEC_SHARE), adressen / adressen.sum())
        politie = rng.multinomial(self.signalen - int(riec.sum()), adressen / adressen.sum())
        return adressen, riec, politie

    def delta_set(self) -> list[int]:
        """The municipalities the 1 % delta touches: the largest few (they have the signals)."""
        adressen, _, _ = self.counts()
        return sorted(int(g) for g in np.argsort(adressen)[::-1][: self.delta_gemeenten])


def _split(box: tuple[float, float, float, float], nx: int, ny: int) -> Iterator[shapely.Polygon]:
    x0, y0, x1, y1 = box
    w, h = (x1 - x0) / nx, (y1 - y0) / ny
    for j in range(ny):
        for i in range(nx):
            yield shapely.box(x0 + i * w, y0 + j * h, x0 + (i + 1) * w, y0 + (j + 1) * h)


def write_areas(plan: Plan, gpkg: Path, ibis: Path) -> int:
    """The CBS Wijk- en Buurtkaart (three layers) and an IBIS file; returns the buurten."""
    gemeenten: list[dict[str, Any]] = []
    wijken: list[dict[str, Any]] = []
    buurten: list[dict[str, Any]] = []
    parks: list[dict[str, Any]] = []
    for g in range(plan.gemeenten):
        code = plan.code(g)
        gm = f"GM{code}"
        gemeenten.append(
            {"gemeentecode": gm, "gemeentenaam": f"Gemeente {g + 1}", "geometry": shapely.box(*plan.cell(g))}
        )
        for w, wijk in enumerate(_split(plan.cell(g), 3, 3)):
            wk = f"WK{code}{w:02d}"
            wijken.append(
                {"wijkcode": wk, "wijknaam": f"Wijk {w} ({g + 1})", "gemeentecode": gm, "geometry": wijk}
            )
            town = w == 4
            for b, buurt in enumerate(_split(wijk.bounds, 3 if town else 2, 3 if town else 2)):
                buurten.append(
                    {
                        "buurtcode": f"BU{code}{w:02d}{b:02d}", "buurtnaam": f"Buurt {w}.{b} ({g + 1})",
                        "wijkcode": wk, "gemeentecode": gm, "aantal_inwoners": 1000,
                        "omgevingsadressendichtheid": 2500 if town else 150, "geometry": buurt,
                    }
                )  # fmt: skip
        x0, y0, x1, y1 = plan.centre(g)
        for p, (px, py) in enumerate(((x0, y0), (x1 - 800, y0), (x0, y1 - 500))):
            parks.append({"RIN_NUMMER": f"BT{code}{p}", "PLAN_NAAM": f"Bedrijvenpark {p} ({g + 1})",
                          "geometry": shapely.box(px, py, px + 800, py + 500)})  # fmt: skip
    for layer, rows in (("gemeenten", gemeenten), ("wijken", wijken), ("buurten", buurten)):
        pyogrio.write_dataframe(gpd.GeoDataFrame(rows, crs=28992), gpkg, layer=layer, driver="GPKG")
    gpd.GeoDataFrame(parks, crs=28992).to_crs(4326).to_file(ibis, driver="GeoJSON")
    return len(buurten)


def _points(rng: np.random.Generator, plan: Plan, g: int, n: int) -> tuple[np.ndarray[Any, Any], ...]:
    """Address points of one municipality: 70 % in the town, the rest anywhere in it."""
    town = rng.random(n) < 0.7
    box = np.where(town[:, None], np.array(plan.centre(g)), np.array(plan.cell(g)))
    x = box[:, 0] + rng.random(n) * (box[:, 2] - box[:, 0])
    y = box[:, 1] + rng.random(n) * (box[:, 3] - box[:, 1])
    return np.round(x, 2), np.round(y, 2)


def _postcode(i: np.ndarray[Any, Any], spaced: bool = False) -> np.ndarray[Any, Any]:
    """A postcode per 400 addresses (house numbers 1-400), unique up to 6 million postcodes."""
    k = i // 400
    sep = " " if spaced else ""
    return np.char.add(np.char.add((1000 + k % 8999).astype(str), sep), LETTERS[(k // 8999) % len(LETTERS)])


def _dates(rng: np.random.Generator, n: int) -> np.ndarray[Any, Any]:
    """Days in 2023-2025, never the last one: a delta dated within them moves no window."""
    return np.datetime64(FIRST_DAY) + rng.integers(0, DAYS - 1, n).astype("timedelta64[D]")


class Writer:
    """The four files, written one municipality at a time."""

    def __init__(self, plan: Plan, workdir: Path) -> None:
        self.plan = plan
        self.adressen = workdir / "bag_verblijfsobjecten.gpkg"
        self.riec = workdir / "riec.csv"
        self.politie = workdir / "politie.csv"
        self.delta = workdir / "riec_delta.csv"
        self._pending: list[gpd.GeoDataFrame] = []
        self._pending_rows = 0
        self._written = False
        self.delta_rows = 0

    def _flush(self) -> None:
        if not self._pending:
            return
        frame = pd.concat(self._pending, ignore_index=True)
        pyogrio.write_dataframe(
            gpd.GeoDataFrame(frame, geometry="geometry", crs=28992), self.adressen, layer="verblijfsobject",
            driver="GPKG", append=self._written,
        )  # fmt: skip
        self._written = True
        self._pending, self._pending_rows = [], 0

    def write(self) -> None:
        plan = self.plan
        adressen, riec_n, politie_n = plan.counts()
        starts = np.concatenate([[0], np.cumsum(adressen)[:-1]])
        delta = set(plan.delta_set())
        per_delta = math.ceil(plan.signalen / 100 / len(delta))
        with (
            self.riec.open("w", encoding="utf-8", newline="") as riec,
            self.politie.open("w", encoding="cp1252", newline="") as politie,
            self.delta.open("w", encoding="utf-8", newline="") as changed,
        ):
            riec.write(RIEC_HEADER)
            politie.write(BVH_HEADER)
            changed.write(RIEC_HEADER)
            for g in range(plan.gemeenten):
                rng = np.random.default_rng([SEED, g])
                x, y = _points(rng, plan, g, int(adressen[g]))
                self._addresses(g, int(starts[g]), x, y)
                self._signals(rng, g, int(starts[g]), x, y, int(riec_n[g]), int(politie_n[g]), riec, politie,
                              changed if g in delta else None, per_delta)  # fmt: skip
        self._flush()

    def _addresses(self, g: int, start: int, x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> None:
        n = len(x)
        i = np.arange(start, start + n)
        code = self.plan.code(g)
        rng = np.random.default_rng([SEED, g, 1])
        frame = gpd.GeoDataFrame(
            {
                "identificatie": np.char.add(f"{code}01", np.char.zfill(i.astype(str), 10)),
                "openbare_ruimte_naam": np.char.add("Teststraat ", (i // 400 % 500).astype(str)),
                "huisnummer": i % 400 + 1,
                "huisletter": None,
                "toevoeging": None,
                "postcode": _postcode(i),
                "woonplaats_naam": f"Plaats {g + 1}",
                "gebruiksdoel": np.where(i % 10 == 0, "winkelfunctie,woonfunctie", "woonfunctie"),
                "oppervlakte": rng.integers(20, 400, n),
                "bouwjaar": rng.integers(1850, 2024, n),
                "status": "Verblijfsobject in gebruik",
                "pand_identificatie": np.char.add(f"{code}10", np.char.zfill((i // 4).astype(str), 10)),
            },
            geometry=shapely.points(x, y),
            crs=28992,
        )
        self._pending.append(frame)
        self._pending_rows += n
        if self._pending_rows >= CHUNK:
            self._flush()

    def _signals(
        self, rng: np.random.Generator, g: int, start: int, x: np.ndarray[Any, Any], y: np.ndarray[Any, Any],
        n_riec: int, n_politie: int, riec: TextIO, politie: TextIO, changed: TextIO | None, per_delta: int,
    ) -> None:  # fmt: skip
        n_adres = len(x)
        at = rng.integers(0, n_adres, n_riec)
        frame = pd.DataFrame(
            {
                "Kenmerk": np.char.add(f"RIEC-{g + 1:03d}-", np.char.zfill(np.arange(n_riec).astype(str), 7)),
                "Thema": THEMAS[rng.integers(0, len(THEMAS), n_riec)],
                "Soort": SOORTEN[rng.integers(0, len(SOORTEN), n_riec)],
                "Datum melding": _dates(rng, n_riec).astype(str),
                "Postcode": _postcode(start + at),
                "Huisnummer": (start + at) % 400 + 1,
            }
        )
        frame.to_csv(riec, sep=";", header=False, index=False, lineterminator="\r\n")
        if changed is not None:
            # Half corrections (another theme), half new signals at this town's addresses.
            fixes = frame.iloc[: min(per_delta // 2, n_riec)].copy()
            fixes["Thema"] = np.where(fixes["Thema"] == "drugs", "vastgoed", "drugs")
            new_at = rng.integers(0, n_adres, per_delta - len(fixes))
            fresh = pd.DataFrame(
                {
                    "Kenmerk": np.char.add(
                        f"RIEC-{g + 1:03d}-N", np.char.zfill(np.arange(len(new_at)).astype(str), 7)
                    ),
                    "Thema": THEMAS[rng.integers(0, len(THEMAS), len(new_at))],
                    "Soort": "melding",
                    "Datum melding": _dates(rng, len(new_at)).astype(str),
                    "Postcode": _postcode(start + new_at),
                    "Huisnummer": (start + new_at) % 400 + 1,
                }
            )
            both = pd.concat([fixes, fresh], ignore_index=True)
            both.to_csv(changed, sep=";", header=False, index=False, lineterminator="\r\n")
            self.delta_rows += len(both)
        at = rng.integers(0, n_adres, n_politie)
        stamps = pd.to_datetime(_dates(rng, n_politie)) + pd.to_timedelta(
            rng.integers(0, 1440, n_politie), "min"
        )
        bvh = pd.DataFrame(
            {
                "Registratienummer": np.char.add(
                    f"PL{g + 1:03d}_BVH_", np.char.zfill(np.arange(n_politie).astype(str), 8)
                ),
                "Begindatum/tijd": stamps.strftime("%Y%m%d%H%M"),
                "Straat": np.char.add("Teststraat ", ((start + at) // 400 % 500).astype(str)),
                "Huisnummer": (start + at) % 400 + 1,
                "Postcode": _postcode(start + at, spaced=True),
                "Plaats": f"PLAATS {g + 1}",
                "X-coordinaat": np.char.replace(np.char.mod("%.2f", x[at]), ".", ","),
                "Y-coordinaat": np.char.replace(np.char.mod("%.2f", y[at]), ".", ","),
                "Omschrijving": "Melding",
            }
        )
        bvh.to_csv(politie, sep=";", header=False, index=False, lineterminator="\r\n")
