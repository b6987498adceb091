"""The query parameters of OGC API Features Part 3 and their companions: ``filter``
(CQL2 text or JSON, with ``filter-lang`` and ``filter-crs``), ``sortby``, ``properties`` and
``ids``; parsed once as dependencies and applied to a request's :class:`Selection`.

Names are checked against the layer (its queryables, :func:`app.cql.queryables`) when the
selection is narrowed, so a typo is a 400 that lists the names that exist, never a silently
wider or empty answer. Access is not decided here: whatever a request asks, the visibility
rule in :func:`app.layer_sql.conditions` comes first, and a filter only narrows it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import Depends, Query

from app import cql
from app.errors import BadRequestError
from app.layer_sql import Selection
from app.params import CRS84, MAX_LIMIT, RD, crs_srid
from layers.base import Layer

#: The parameters of this module: not property filters (``app.deps.property_filters``).
PARAMETERS = frozenset({"filter", "filter-lang", "filter-crs", "sortby", "properties", "ids"})
#: The most sort keys.
MAX_SORT_KEYS = 5


@dataclass(frozen=True)
class FeatureQuery:
    """What the Part 3 parameters ask, not yet checked against a layer."""

    filter: str | None = None
    lang: str = "cql2-text"
    srid: int = 4326
    sortby: tuple[tuple[str, bool], ...] = ()
    properties: tuple[str, ...] | None = None
    ids: tuple[str, ...] | None = None


FilterParam = Annotated[
    str | None,
    Query(
        alias="filter",
        description="Filter in CQL2 (OGC API Features deel 3), bijvoorbeeld "
        "`thema = 'drugs' AND datum >= DATE('2024-01-01')`; de eigenschappen staan in "
        "/collections/{collectionId}/queryables. Ondersteund: =, <>, <, >, <=, >=, LIKE, IN, "
        "BETWEEN, IS NULL, AND, OR, NOT, S_INTERSECTS (en de andere S_-functies), T_INTERSECTS.",
    ),
]
FilterLangParam = Annotated[
    str | None,
    Query(alias="filter-lang", description="Taal van filter: cql2-text (standaard) of cql2-json"),
]
FilterCrsParam = Annotated[
    str | None,
    Query(
        alias="filter-crs",
        description=f"Coördinatenstelsel van de geometrieën in filter: {CRS84} (standaard) of {RD}",
    ),
]
IdsParam = Annotated[
    str | None,
    Query(description=f"Alleen deze objecten: id's gescheiden door komma's (hoogstens {MAX_LIMIT})"),
]


def _query(
    filter_: str | None, filter_lang: str | None, filter_crs: str | None, ids: str | None
) -> FeatureQuery:
    lang = (filter_lang or "cql2-text").strip().lower()
    if lang not in cql.LANGS:
        raise BadRequestError(
            f"filter-lang {filter_lang!r} wordt niet ondersteund; kies uit {', '.join(cql.LANGS)}"
        )
    listed = None
    if ids is not None:
        listed = tuple(i.strip() for i in ids.split(",") if i.strip())
        if not listed:
            raise BadRequestError("ids is leeg: noem een of meer id's, gescheiden door komma's")
        if len(listed) > MAX_LIMIT:
            raise BadRequestError(f"ids noemt te veel objecten: hoogstens {MAX_LIMIT}")
    return FeatureQuery(filter_, lang, crs_srid(filter_crs, "filter-crs"), (), None, listed)


async def feature_query(
    filter_: FilterParam = None,
    filter_lang: FilterLangParam = None,
    filter_crs: FilterCrsParam = None,
    sortby: Annotated[
        str | None,
        Query(
            description="Sorteren: eigenschappen gescheiden door komma's, elk met + (oplopend, "
            "standaard) of - (aflopend) ervoor, bijvoorbeeld -datum,thema"
        ),
    ] = None,
    properties: Annotated[
        str | None,
        Query(description="Alleen deze eigenschappen in het antwoord, gescheiden door komma's"),
    ] = None,
    ids: IdsParam = None,
) -> FeatureQuery:
    """The Part 3 parameters of an items request."""
    query = _query(filter_, filter_lang, filter_crs, ids)
    keys: list[tuple[str, bool]] = []
    for part in (sortby or "").split(","):
        # A '+' in a query string arrives as a space.
        name = part.strip()
        if not name:
            continue
        descending = name.startswith("-")
        keys.append((name.lstrip("+-").strip(), descending))
    if len(keys) > MAX_SORT_KEYS:
        raise BadRequestError(f"sortby noemt te veel eigenschappen: hoogstens {MAX_SORT_KEYS}")
    chosen = None if properties is None else tuple(p.strip() for p in properties.split(",") if p.strip())
    return replace(query, sortby=tuple(keys), properties=chosen)


async def tile_query(
    filter_: FilterParam = None,
    filter_lang: FilterLangParam = None,
    filter_crs: FilterCrsParam = None,
    ids: IdsParam = None,
) -> FeatureQuery:
    """The Part 3 parameters a tile takes: the same filter as the items (no sort, and a
    tile's properties are the layer's)."""
    return _query(filter_, filter_lang, filter_crs, ids)


FeatureQueryDep = Annotated[FeatureQuery, Depends(feature_query)]
TileQueryDep = Annotated[FeatureQuery, Depends(tile_query)]


def narrowed(selection: Selection, layer: Layer, query: FeatureQuery) -> Selection:
    """``selection`` with the query's filter, sort, properties and ids, checked against the
    layer: every name must be one of its queryables (the sort and the output: a property)."""
    names = [p.name for p in layer.properties]
    for name, _ in query.sortby:
        if name not in names:
            raise BadRequestError(
                f"sortby: de eigenschap {name!r} bestaat niet in laag {layer.id!r}; "
                f"kies uit {', '.join(names)}"
            )
    unknown = sorted(set(query.properties or ()) - set(names))
    if unknown:
        raise BadRequestError(
            f"properties: {', '.join(unknown)} bestaat niet in laag {layer.id!r}; kies uit {', '.join(names)}"
        )
    found = cql.parse(query.filter, query.lang, layer, query.srid) if query.filter is not None else None
    ids = list(query.ids) if query.ids is not None else selection.ids
    return replace(selection, cql=found, sortby=query.sortby, properties=query.properties, ids=ids)
