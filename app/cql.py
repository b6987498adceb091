"""CQL2 filters (OGC API Features Part 3): parsed by ``cql2``, translated here into SQL.

``cql2`` (the Rust parser of the CQL2 standard) reads CQL2 text or JSON and checks it against
the standard's schema; this module walks the CQL2 JSON tree it returns and writes a WHERE
clause over the layer's queryables only. Every value becomes a bound parameter; the SQL text
holds operators, our own parameter names and ``{name}`` placeholders for the queryables, which
:mod:`app.layer_sql` fills with the expression of what the principal is shown (for aggregate
users the published figure, never the exact one: a filter must not be an oracle).

Before the parser sees a filter its length and nesting are capped here: the parser recurses
and a deep enough filter would overflow its stack and take the process down.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import cql2
import shapely
import shapely.geometry

from app.errors import BadRequestError
from layers.base import Layer

#: The longest filter accepted (characters).
MAX_CHARS = 8_000
#: The deepest nesting of brackets and NOTs (text) or of objects and lists (JSON).
MAX_DEPTH = 20
#: The most conditions (comparisons, LIKE, IN, ...) in one filter.
MAX_CONDITIONS = 100
#: The longest IN list.
MAX_LIST = 1_000
#: The most coordinates in one geometry literal.
MAX_VERTICES = 10_000
#: The name of the geometry queryable (OGC API Features Part 3).
GEOMETRY = "geometry"
LANGS = ("cql2-text", "cql2-json")

_COMPARE = {"=": "=", "<>": "<>", "<": "<", ">": ">", "<=": "<=", ">=": ">="}
_MIRROR = {"=": "=", "<>": "<>", "<": ">", ">": "<", "<=": ">=", ">=": "<="}
_SPATIAL = {
    "s_intersects": "ST_Intersects",
    "s_disjoint": "ST_Disjoint",
    "s_within": "ST_Within",
    "s_contains": "ST_Contains",
    "s_touches": "ST_Touches",
    "s_overlaps": "ST_Overlaps",
    "s_crosses": "ST_Crosses",
    "s_equals": "ST_Equals",
}
_ARRAY_TYPES = {
    "string": "text",
    "integer": "numeric",
    "number": "numeric",
    "boolean": "boolean",
    "date": "date",
}
_TYPE_WORDS = {
    "string": "tekst",
    "integer": "een geheel getal",
    "number": "een getal",
    "boolean": "waar of onwaar (true/false)",
    "date": "een datum",
    "geometry": "een geometrie",
}
_NOT = re.compile(r"\bnot\b", re.IGNORECASE)


@dataclass(frozen=True)
class Queryable:
    """A name a filter may use, with its JSON type (``geometry`` for the geometry)."""

    name: str
    type: str
    title: str


def queryables(layer: Layer) -> dict[str, Queryable]:
    """What a filter on this layer may name: every published property (a filter compares
    what the caller is shown, so it reveals nothing the answer itself would not) and the
    geometry."""
    found = {p.name: Queryable(p.name, p.type, p.title) for p in layer.properties}
    found[GEOMETRY] = Queryable(GEOMETRY, "geometry", "Geometrie")
    return found


@dataclass(frozen=True)
class Filter:
    """A translated filter: SQL with ``{name}`` placeholders for the queryables it uses,
    its bound parameters, and a canonical text (for ETags and the audit trail)."""

    sql: str
    params: dict[str, Any]
    key: str

    def render(self, columns: Mapping[str, str]) -> str:
        """The SQL with each queryable replaced by its expression."""
        return self.sql.format_map(columns)


#: How many translated filters are kept (a few hundred bytes each).
CACHE_SIZE = 512
_cache: OrderedDict[tuple[str, str, str, int], tuple[Layer, Filter]] = OrderedDict()
_cache_lock = threading.Lock()


def parse(text: str, lang: str, layer: Layer, srid: int) -> Filter:
    """:func:`translate`, remembered: a client paging through a filtered layer, or a map
    drawing its tiles, sends the same filter with every request, and parsing it (``cql2``)
    and translating it costs about 0.3 ms, as much as a small page's SQL. The most recently
    used filters are kept (an LRU of :data:`CACHE_SIZE`); a faulty filter is never kept, so
    it answers its 400 every time. A :class:`Filter` is read-only to its users."""
    key = (text, lang, layer.id, srid)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] is layer:
            _cache.move_to_end(key)
            return hit[1]
    found = translate(text, lang, layer, srid)
    with _cache_lock:
        _cache[key] = (layer, found)
        if len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return found


def translate(text: str, lang: str, layer: Layer, srid: int) -> Filter:
    """Parse ``text`` in ``lang`` and translate it for ``layer``; geometry literals are in
    ``srid`` (the ``filter-crs``). Any fault is a 400 with a Dutch detail."""
    if lang not in LANGS:
        raise BadRequestError(f"filter-lang {lang!r} wordt niet ondersteund; kies uit {', '.join(LANGS)}")
    if len(text) > MAX_CHARS:
        raise BadRequestError(f"het filter is te lang: hoogstens {MAX_CHARS} tekens")
    if not text.strip():
        raise BadRequestError("het filter is leeg")
    if lang == "cql2-text":
        _check_text_nesting(text)
    else:
        _check_json_nesting(text)
    tree = _parsed(text, lang)
    translator = _Translator(layer, srid)
    sql = translator.predicate(tree, 0)
    # The key names the filter in a tile's ETag (and so in the shared tile cache): the same
    # tree in another filter-crs is another filter.
    key = f"{srid}:{json.dumps(tree, sort_keys=True, separators=(',', ':'))}"
    return Filter(sql, translator.params, key)


def _parsed(text: str, lang: str) -> Any:
    """The CQL2 JSON tree of a filter, as ``cql2`` parses it.

    Not checked against the standard's JSON Schema (``Expr.validate``): that schema allows
    BETWEEN on numbers only, and a date range is the first thing a user of a signal layer
    asks. The translator below checks every node it meets and refuses what it does not know."""
    what = "CQL2-tekst" if lang == "cql2-text" else "CQL2-JSON"
    try:
        expr = cql2.parse_text(text) if lang == "cql2-text" else cql2.parse_json(text)
        return expr.to_json()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # the parser's errors, and a panic in its Rust code
        where = re.search(r"-->\s*(\d+):(\d+)", str(exc))
        at = f" (bij teken {where.group(2)})" if where else ""
        raise BadRequestError(f"het filter is geen geldige {what}{at}") from None


def _check_text_nesting(text: str) -> None:
    """Refuse brackets or NOTs nested deeper than :data:`MAX_DEPTH` (outside quoted text)."""
    depth = deepest = nots = 0
    quote: str | None = None
    plain: list[str] = []
    for char in text:
        if quote:
            if char == quote:
                quote = None
            continue
        if char in "'\"":
            quote = char
            plain.append(" ")
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
        else:
            plain.append(char)
    nots = len(_NOT.findall("".join(plain)))
    if deepest > MAX_DEPTH or nots > MAX_DEPTH:
        raise BadRequestError(f"het filter is te diep genest: hoogstens {MAX_DEPTH} niveaus")


def _check_json_nesting(text: str) -> None:
    """Refuse JSON nested deeper than :data:`MAX_DEPTH` plus the geometry's own levels."""
    try:
        tree = json.loads(text)
    except RecursionError:
        raise BadRequestError(f"het filter is te diep genest: hoogstens {MAX_DEPTH} niveaus") from None
    except ValueError:
        raise BadRequestError("het filter is geen geldige JSON") from None
    stack: list[tuple[Any, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        # A condition is an object and a list of arguments: two levels per step, four more
        # for a multipolygon's coordinates.
        if depth > 2 * MAX_DEPTH + 4:
            raise BadRequestError(f"het filter is te diep genest: hoogstens {MAX_DEPTH} niveaus")
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children)


class _Translator:
    """One filter's walk: SQL out, values into :attr:`params`."""

    def __init__(self, layer: Layer, srid: int) -> None:
        self.layer = layer
        self.srid = srid
        self.queryables = queryables(layer)
        self.params: dict[str, Any] = {}
        self.conditions = 0

    def bind(self, value: Any) -> str:
        name = f"cql_{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def predicate(self, node: Any, depth: int) -> str:
        if depth > 2 * MAX_DEPTH:
            raise BadRequestError(f"het filter is te diep genest: hoogstens {MAX_DEPTH} niveaus")
        if isinstance(node, bool):
            return "TRUE" if node else "FALSE"
        if not isinstance(node, dict) or "op" not in node:
            raise BadRequestError("het filter moet een voorwaarde zijn, zoals thema = 'drugs'")
        op, args = str(node["op"]).lower(), node.get("args")
        if not isinstance(args, list) or not args:
            raise BadRequestError(f"de operator {str(node['op'])[:40]!r} mist zijn argumenten")
        if op in ("not", "isnull") and len(args) != 1:
            raise BadRequestError(f"{op.upper()} heeft één argument")
        if op in ("and", "or"):
            parts = [self.predicate(arg, depth + 1) for arg in args]
            return "(" + f" {op.upper()} ".join(parts) + ")"
        if op == "not":
            return f"(NOT {self.predicate(args[0], depth + 1)})"
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise BadRequestError(f"het filter heeft te veel voorwaarden: hoogstens {MAX_CONDITIONS}")
        if op in _COMPARE:
            return self.compare(op, args)
        if op == "like":
            return self.like(args)
        if op == "in":
            return self.within_list(args)
        if op == "between":
            return self.between(args)
        if op == "isnull":
            return f"({self.property(args[0]).placeholder} IS NULL)"
        if op in _SPATIAL:
            return self.spatial(op, args)
        if op == "t_intersects":
            return self.temporal(args)
        raise _unsupported(node["op"])

    # -- operands --------------------------------------------------------------------------

    def property(self, node: Any) -> _Operand:
        if not (isinstance(node, dict) and set(node) == {"property"}):
            raise BadRequestError("links van een vergelijking hoort een eigenschap van de laag")
        name = str(node["property"])
        found = self.queryables.get(name)
        if found is None:
            raise BadRequestError(
                f"de eigenschap {name!r} bestaat niet in laag {self.layer.id!r}; "
                f"te gebruiken: {', '.join(self.queryables)}"
            )
        return _Operand(found, "{" + name + "}")

    def literal(self, node: Any, queryable: Queryable) -> str:
        """A value of the queryable's type, bound; a 400 naming the type otherwise."""
        return self.bind(self.value(node, queryable))

    def value(self, node: Any, queryable: Queryable, *, instants: bool = True) -> Any:
        kind = queryable.type
        if kind == "string" and isinstance(node, str):
            return _text(node)
        if kind in ("integer", "number") and isinstance(node, int | float) and not isinstance(node, bool):
            if not math.isfinite(node):
                raise BadRequestError(f"{queryable.name}: het getal is niet eindig")
            return Decimal(repr(node)) if isinstance(node, float) else Decimal(node)
        if kind == "boolean" and isinstance(node, bool):
            return node
        if kind == "date" and isinstance(node, dict) and len(node) == 1:
            if "date" in node:
                return _date(node["date"], queryable.name)
            if "timestamp" in node and instants:
                return _timestamp(node["timestamp"], queryable.name)
        hint = " (schrijf DATE('2024-01-31'))" if kind == "date" else ""
        raise BadRequestError(
            f"{queryable.name} is {_TYPE_WORDS[kind]}; vergelijk met een waarde van dat soort{hint}"
        )

    def sides(self, args: list[Any]) -> tuple[_Operand, Any, bool]:
        """The property and the other operand of a binary condition (either order), and
        whether they were swapped."""
        if len(args) != 2:
            raise BadRequestError("een vergelijking heeft twee kanten")
        for arg in args:
            if isinstance(arg, dict) and "op" in arg:  # a function or arithmetic as an operand
                raise _unsupported(arg["op"])
        if _is_property(args[0]):
            return self.property(args[0]), args[1], False
        if _is_property(args[1]):
            return self.property(args[1]), args[0], True
        raise BadRequestError("een vergelijking noemt ten minste één eigenschap van de laag")

    # -- conditions ------------------------------------------------------------------------

    def compare(self, op: str, args: list[Any]) -> str:
        prop, other, swapped = self.sides(args)
        if swapped:
            op = _MIRROR[op]
        kind = prop.queryable.type
        if kind == "geometry":
            raise BadRequestError("vergelijk de geometrie met S_INTERSECTS of een andere S_-functie")
        if kind == "boolean" and op not in ("=", "<>"):
            raise BadRequestError(f"{prop.queryable.name} is waar of onwaar: alleen = en <> kunnen")
        if _is_property(other):
            right = self.property(other)
            if right.queryable.type != kind:
                raise BadRequestError(
                    f"{prop.queryable.name} en {right.queryable.name} zijn niet van hetzelfde soort"
                )
            return f"({prop.placeholder} {_COMPARE[op]} {right.placeholder})"
        value = self.value(other, prop.queryable)
        cast = "timestamptz" if isinstance(value, dt.datetime) else _ARRAY_TYPES[kind]
        return f"({prop.placeholder} {_COMPARE[op]} CAST({self.bind(value)} AS {cast}))"

    def like(self, args: list[Any]) -> str:
        if len(args) != 2:
            raise BadRequestError("LIKE heeft een eigenschap en een patroon")
        prop = self.property(args[0])
        if prop.queryable.type != "string" or not isinstance(args[1], str):
            raise BadRequestError(f"LIKE kan alleen op tekst met een tekstpatroon ({prop.queryable.name})")
        pattern = _text(args[1])
        # PostgreSQL refuses a pattern that ends in its escape character (the backslash).
        if (len(pattern) - len(pattern.rstrip("\\"))) % 2:
            raise BadRequestError("een LIKE-patroon mag niet eindigen op een losse backslash")
        return f"({prop.placeholder} LIKE CAST({self.bind(pattern)} AS text))"

    def within_list(self, args: list[Any]) -> str:
        if len(args) != 2 or not isinstance(args[1], list):
            raise BadRequestError("IN heeft een eigenschap en een lijst van waarden")
        prop, items = self.property(args[0]), args[1]
        kind = prop.queryable.type
        if kind == "geometry":
            raise BadRequestError("IN kan niet op de geometrie")
        if not items:
            raise BadRequestError("de lijst bij IN is leeg")
        if len(items) > MAX_LIST:
            raise BadRequestError(f"de lijst bij IN is te lang: hoogstens {MAX_LIST} waarden")
        values = [self.value(item, prop.queryable, instants=False) for item in items]
        return f"({prop.placeholder} = ANY(CAST({self.bind(values)} AS {_ARRAY_TYPES[kind]}[])))"

    def between(self, args: list[Any]) -> str:
        if len(args) != 3:
            raise BadRequestError("BETWEEN heeft een eigenschap en twee grenzen")
        prop = self.property(args[0])
        kind = prop.queryable.type
        if kind in ("boolean", "geometry"):
            raise BadRequestError(f"BETWEEN kan niet op {prop.queryable.name}")
        low, high = (self.value(a, prop.queryable, instants=False) for a in args[1:])
        cast = _ARRAY_TYPES[kind]
        low_sql, high_sql = f"CAST({self.bind(low)} AS {cast})", f"CAST({self.bind(high)} AS {cast})"
        return f"({prop.placeholder} BETWEEN {low_sql} AND {high_sql})"

    def spatial(self, op: str, args: list[Any]) -> str:
        prop, other, swapped = self.sides(args)
        if prop.queryable.type != "geometry":
            raise BadRequestError(f"{op.upper()} vergelijkt de geometrie ('{GEOMETRY}') met een geometrie")
        shape = _geometry(other, self.srid)
        literal = f"ST_GeomFromWKB({self.bind(shape)}, {self.srid})"
        if self.srid != 28992:
            literal = f"ST_Transform({literal}, 28992)"
        function = _SPATIAL[op]
        first, second = (literal, prop.placeholder) if swapped else (prop.placeholder, literal)
        return f"{function}({first}, {second})"

    def temporal(self, args: list[Any]) -> str:
        prop, other, _ = self.sides(args)
        if prop.queryable.type != "date":
            raise BadRequestError(f"T_INTERSECTS kan alleen op een datum ({prop.queryable.name})")
        if isinstance(other, dict) and set(other) == {"interval"} and isinstance(other["interval"], list):
            bounds = other["interval"]
            if len(bounds) != 2:
                raise BadRequestError("een INTERVAL heeft een begin en een eind")
            parts = []
            for bound, op in zip(bounds, (">=", "<="), strict=True):
                day = _interval_bound(bound, prop.queryable.name)
                if day is not None:
                    parts.append(f"{prop.placeholder} {op} CAST({self.bind(day)} AS date)")
            return "(" + (" AND ".join(parts) or f"{prop.placeholder} IS NOT NULL") + ")"
        day = _day(self.value(other, prop.queryable))
        return f"({prop.placeholder} = CAST({self.bind(day)} AS date))"


@dataclass(frozen=True)
class _Operand:
    queryable: Queryable
    placeholder: str


def _unsupported(op: Any) -> BadRequestError:
    return BadRequestError(
        f"de operator {str(op)[:40]!r} wordt niet ondersteund; "
        "wel: =, <>, <, >, <=, >=, LIKE, IN, BETWEEN, IS NULL, AND, OR, NOT, "
        "S_INTERSECTS (en de andere S_-functies), T_INTERSECTS"
    )


def _is_property(node: Any) -> bool:
    return isinstance(node, dict) and set(node) == {"property"}


def _text(value: str) -> str:
    """A text value as PostgreSQL can hold it (no NUL character)."""
    if "\x00" in value:
        raise BadRequestError("een tekst in het filter bevat een NUL-teken")
    return value


def _date(value: Any, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise BadRequestError(f"{name}: {str(value)[:40]!r} is geen datum (JJJJ-MM-DD)") from None


def _timestamp(value: Any, name: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise BadRequestError(f"{name}: {str(value)[:40]!r} is geen tijdstip (ISO 8601)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _day(value: dt.date) -> dt.date:
    """The day (UTC) of an instant: dates are the granularity of the layers' time."""
    return value.astimezone(dt.UTC).date() if isinstance(value, dt.datetime) else value


def _interval_bound(bound: Any, name: str) -> dt.date | None:
    """One end of an INTERVAL as a day; None for an open end (``..``)."""
    if bound == "..":
        return None
    if isinstance(bound, dict) and len(bound) == 1 and ("date" in bound or "timestamp" in bound):
        bound = bound.get("date", bound.get("timestamp"))
    if isinstance(bound, str):
        return _day(_timestamp(bound, name)) if "T" in bound else _date(bound, name)
    raise BadRequestError(f"{name}: een INTERVAL heeft datums of '..' als grenzen")


#: Where the layers' data can lie, with room to spare (RD New's area of use is 3.2-7.22 E,
#: 50.75-53.7 N): a geometry literal is clipped to it, so PostGIS never transforms a
#: coordinate far outside the projection's domain; for data inside it nothing changes.
_DENSIFY_DEGREES = 0.005
_DOMAIN = {4326: (2.0, 50.0, 8.5, 54.5), 28992: (-100_000.0, 200_000.0, 400_000.0, 700_000.0)}


def _geometry(node: Any, srid: int) -> bytes:
    """A geometry literal (GeoJSON geometry or BBOX) checked (finite, valid, not too many
    coordinates), clipped to the data's domain and encoded as WKB."""
    try:
        if isinstance(node, dict) and set(node) == {"bbox"}:
            box = [float(v) for v in node["bbox"]]
            if len(box) == 6:
                box = [box[0], box[1], box[3], box[4]]
            if len(box) != 4 or box[0] > box[2] or box[1] > box[3]:
                raise ValueError("bbox")
            shape = shapely.geometry.box(*box)
        elif isinstance(node, dict) and "type" in node:
            shape = shapely.geometry.shape(node)
        else:
            raise ValueError("no geometry")
        coords = shapely.get_coordinates(shape)
    except Exception:
        raise BadRequestError("de geometrie in het filter is ongeldig (GeoJSON of BBOX verwacht)") from None
    if len(coords) > MAX_VERTICES:
        raise BadRequestError(f"de geometrie in het filter heeft meer dan {MAX_VERTICES} punten")
    if not all(math.isfinite(v) for v in coords.flat):
        raise BadRequestError("de geometrie in het filter bevat een getal dat niet eindig is")
    if not shape.is_valid:
        reason = shapely.is_valid_reason(shape)
        raise BadRequestError(f"de geometrie in het filter is ongeldig: {reason[:80]}")
    clipped = shape.intersection(shapely.geometry.box(*_DOMAIN[srid]))
    if srid == 4326:
        # PostGIS transforms vertices; a straight edge in degrees is a curve in RD New. Extra
        # vertices every 0.005° (about 500 m) keep the edge within millimetres of that curve.
        clipped = shapely.segmentize(clipped, _DENSIFY_DEGREES)
    return bytes(shapely.to_wkb(clipped))
