"""The ``Layer`` model: everything every output needs to publish one map layer.

A layer is one small file that builds one frozen ``Layer``; unknown fields are errors, so
a typo cannot silently publish a layer without, say, its clearance. The registry
(``layers/__init__.py``) feeds features, tiles, maps and exports the same way.
The checklist follows martin's table source: id column, geometry column, SRID, zoom
range, properties; plus what a public-sector map needs: clearance and suppression.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.security import Clearance


class Property(BaseModel):
    """One published attribute."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: Literal["string", "integer", "number", "boolean", "date"]
    title: str
    #: A filter parameter of that name is allowed on items (``?thema=drugs``).
    filterable: bool = False
    #: A count (or a figure derived from one) that aggregate-only users see suppressed.
    suppress: Literal["count", "derived"] | None = None
    #: For a derived figure: the count it is computed from (withheld together).
    basis: str | None = None
    #: For a derived figure: how aggregate-only users get it, as SQL over the *published*
    #: figures (``{signalen}`` is the withheld-or-rounded count), so that nothing they see
    #: can be solved back to an exact count. None: the figure is withheld from them.
    published: str | None = None
    #: A clearance beyond the layer's own that this attribute needs (an address on a signal:
    #: ``adressen``). Others get NULL, and cannot filter or sort on it (app/layer_sql.py).
    clearance: Clearance | None = None


#: The areas every point layer row is assigned to at ingest, filterable everywhere.
AREA_PROPERTIES = (
    Property(name="gemeentecode", type="string", title="Gemeente", filterable=True),
    Property(name="buurtcode", type="string", title="Buurt", filterable=True),
    Property(name="wijkcode", type="string", title="Wijk", filterable=True),
    Property(name="bedrijventerreincode", type="string", title="Bedrijventerrein", filterable=True),
    Property(name="buitengebied", type="boolean", title="In het buitengebied", filterable=True),
)


class LegendClass(BaseModel):
    """One class of a classed legend: values >= ``min`` get ``colour``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min: float
    colour: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")
    label: str
    #: How many areas of the map fall in the class (classes from the data, app/klassen.py).
    count: int | None = None


class Style(BaseModel):
    """How maps draw the layer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    colour: str = Field(default="#3182bd", pattern=r"^#[0-9a-fA-F]{6}$")
    #: Points: the outline and size, so that kinds of points differ in form as well as in
    #: colour (a colour-blind reader, a greyscale print) and stand out on the choropleth.
    outline: str = Field(default="#ffffff", pattern=r"^#[0-9a-fA-F]{6}$")
    radius: float = Field(default=5, gt=0, le=10)
    weight: float = Field(default=1, ge=0, le=4)
    fill_opacity: float = Field(default=0.9, ge=0, le=1)
    property: str | None = None  # the property the legend classes apply to
    classes: tuple[LegendClass, ...] = ()


class Layer(BaseModel):
    """A published map layer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    description: str
    kind: Literal["gebied", "punten"]
    #: The view or table the layer reads (created by a migration; never user input).
    source: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    id_column: str = "id"
    geometry_column: str = "geom"
    #: A stored EPSG:3857 copy with its own GIST index, for tiles (docs/architecture.md §10).
    tile_geometry_column: str = "geom_3857"
    geometry_type: Literal["Point", "MultiPolygon"]
    properties: tuple[Property, ...]
    datetime_column: str | None = None
    #: Source tables whose ingests change this layer (for the ETag's data version).
    tables: tuple[str, ...]
    minzoom: int = Field(default=8, ge=0, le=22)
    maxzoom: int = Field(default=18, ge=0, le=22)
    style: Style = Style()
    #: Point layers: the first tile zoom whose tiles carry single points. Below it a
    #: WebMercatorQuad tile carries one feature per cell of a grid in tile pixels, with the
    #: number of points in it (``aantal``): a city at zoom 14 is thousands of overlapping
    #: dots otherwise (docs/decisions.md: clusters in the tile). None: never clustered.
    single_from: int | None = Field(default=None, ge=0, le=22)
    clearance: Clearance
    #: Rows carry a ``convenant`` column: partners see only their covenants' rows.
    by_convenant: bool = False
    #: Rows carry a ``dataklasse`` column: a principal sees only classes up to its own.
    by_dataklasse: bool = False
    #: Rows are figures per view class (``zicht_id``, see core.zicht): a principal reads only
    #: its own class's, computed from the signals it could see as points; each suppressed
    #: count ``x`` carries its withheld flag ``x_onderdrukt``.
    by_zicht: bool = False
    #: Fixed conditions on the source (allow-listed column = value), e.g. the area type.
    where: dict[str, str] = Field(default_factory=dict)
    #: Filters applied to maps and tiles when the request names none (period, theme);
    #: items without filters list every row.
    defaults: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _suppressed_figures_are_scoped(self) -> Layer:
        """Suppressed figures are published from the withheld flags of a view class; a
        source without them would publish exact counts to aggregate-only principals."""
        if any(p.suppress for p in self.properties) and not self.by_zicht:
            raise ValueError(f"layer {self.id!r} suppresses figures, so its source must be by_zicht")
        return self

    def defaults_for(self, given: dict[str, str]) -> dict[str, str]:
        """The default filters a request did not override. A default on ``x_soort`` gives
        way when ``x`` itself is given (``periode=2024-K1`` needs no ``periode_soort``)."""
        return {
            k: v
            for k, v in self.defaults.items()
            if k not in given and not (k.endswith("_soort") and k.removesuffix("_soort") in given)
        }

    def property(self, name: str) -> Property | None:
        return next((p for p in self.properties if p.name == name), None)
