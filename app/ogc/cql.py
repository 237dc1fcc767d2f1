"""CQL2 text filters (OGC API – Features Part 3) as SQL over a whitelist of queryables.

pygeofilter parses; this module walks its tree and writes SQL text with `:name` parameters,
knowing only the queryables it is given (their SQL expression and type): any other attribute,
operator or literal is a `CqlError` (a 400 with its reason). Basic CQL2 (comparisons, AND, OR,
NOT, IN, LIKE, BETWEEN, IS NULL) plus S_INTERSECTS on the geometry. No Flask, no session.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

import shapely
import shapely.errors
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_text import parse
from shapely.geometry import shape

# how deep a filter may nest, and how many nodes it may have: a bounded parse and plan
MAX_DEPTH = 20
MAX_NODES = 200
MAX_IN = 500
MAX_VERTICES = 2000


class CqlError(ValueError):
    """A filter this server does not run; its message says why (in English, for the client)."""


@dataclass(frozen=True)
class Queryable:
    """A property a filter may name: its SQL expression on the collection's row (alias `c` or
    `a`), its JSON Schema type, and, for the category, how a code becomes ids."""

    name: str
    sql: str
    type: str  # string, integer, timestamp, geometry, category
    description: str = ""
    enum: tuple = ()
    minimum: int | None = None
    maximum: int | None = None
    # category: code -> ids of the category and its sub-categories (None: unknown)
    subtree: Callable[[str], list[int] | None] | None = field(default=None, compare=False)


@dataclass
class Translation:
    params: dict = field(default_factory=dict)
    nodes: int = 0

    def param(self, value) -> str:
        name = f"cql_{len(self.params)}"
        self.params[name] = value
        return f":{name}"


COMPARISONS = {ast.Equal: "=", ast.NotEqual: "<>", ast.LessThan: "<", ast.LessEqual: "<=",
               ast.GreaterThan: ">", ast.GreaterEqual: ">="}


def to_sql(text: str, queryables: dict[str, Queryable], srid: int) -> tuple[str, dict]:
    """(SQL condition, parameters) for a CQL2 text filter. `srid`: the storage SRID of the
    geometry queryable's expression (geometries in a filter are CRS84)."""
    try:
        tree = parse(text)
    except Exception as exc:  # lark's errors, and pygeofilter's own on odd literals
        first = str(exc).strip().split("\n")[0][:200]
        raise CqlError(f"not valid CQL2 text ({first})") from None
    out = Translation()
    sql = _node(tree, queryables, out, srid, 0)
    return sql, out.params


def _node(node, q: dict[str, Queryable], out: Translation, srid: int, depth: int) -> str:
    out.nodes += 1
    if depth > MAX_DEPTH or out.nodes > MAX_NODES:
        raise CqlError(f"the filter is too complex (at most {MAX_NODES} terms, {MAX_DEPTH} levels)")
    sub = lambda n: _node(n, q, out, srid, depth + 1)  # noqa: E731
    if isinstance(node, ast.And | ast.Or):
        op = "AND" if isinstance(node, ast.And) else "OR"
        return f"({sub(node.lhs)} {op} {sub(node.rhs)})"
    if isinstance(node, ast.Not):
        return f"(NOT {sub(node.sub_node)})"
    if type(node) in COMPARISONS:
        prop = _attribute(node.lhs, q)
        op = COMPARISONS[type(node)]
        if prop.type == "category":
            if op not in ("=", "<>"):
                raise CqlError("category compares with =, <> or IN (a code, sub-categories included)")
            clause = _category_in(prop, [node.rhs], out)
            return clause if op == "=" else f"(NOT {clause})"
        return f"({prop.sql} {op} {_literal(prop, node.rhs, out)})"
    if isinstance(node, ast.In):
        prop = _attribute(node.lhs, q)
        if not node.sub_nodes or len(node.sub_nodes) > MAX_IN:
            raise CqlError(f"IN takes 1 to {MAX_IN} values")
        if prop.type == "category":
            clause = _category_in(prop, node.sub_nodes, out)
        else:
            items = ", ".join(_literal(prop, v, out) for v in node.sub_nodes)
            clause = f"({prop.sql} IN ({items}))"
        return f"(NOT {clause})" if node.not_ else clause
    if isinstance(node, ast.Between):
        prop = _scalar(_attribute(node.lhs, q), "BETWEEN")
        clause = f"({prop.sql} BETWEEN {_literal(prop, node.low, out)} AND {_literal(prop, node.high, out)})"
        return f"(NOT {clause})" if node.not_ else clause
    if isinstance(node, ast.Like):
        prop = _attribute(node.lhs, q)
        if prop.type != "string":
            raise CqlError(f"LIKE applies to text queryables, not to {prop.name}")
        if not isinstance(node.pattern, str):
            raise CqlError("LIKE takes a text pattern")
        # CQL2's wildcards are SQL's (% and _, backslash escapes): the pattern goes as it is
        clause = f"({prop.sql} LIKE {out.param(node.pattern)} ESCAPE '\\')"
        return f"(NOT {clause})" if node.not_ else clause
    if isinstance(node, ast.IsNull):
        prop = _attribute(node.lhs, q)
        return f"({prop.sql} IS {'NOT ' if node.not_ else ''}NULL)"
    if isinstance(node, ast.GeometryIntersects):
        prop = _attribute(node.lhs, q)
        if prop.type != "geometry":
            raise CqlError("S_INTERSECTS takes the geometry queryable first")
        shape = f"ST_GeomFromWKB({out.param(_geometry(node.rhs))}, 4326)"
        if srid != 4326:
            shape = f"ST_Transform({shape}, {int(srid)})"
        return f"ST_Intersects({prop.sql}, {shape})"
    if isinstance(node, ast.Include):
        return "FALSE" if node.not_ else "TRUE"
    name = type(node).__name__
    raise CqlError(f"{name} is not supported: use comparisons, AND, OR, NOT, IN, LIKE, BETWEEN, "
                   "IS NULL and S_INTERSECTS")


def _attribute(node, q: dict[str, Queryable]) -> Queryable:
    if not isinstance(node, ast.Attribute):
        raise CqlError("the left side of a predicate must be a queryable property")
    prop = q.get(node.name)
    if prop is None:
        raise CqlError(f"unknown queryable '{node.name}' (see the collection's queryables: "
                       f"{', '.join(sorted(q))})")
    return prop


def _scalar(prop: Queryable, what: str) -> Queryable:
    if prop.type not in ("string", "integer", "timestamp"):
        raise CqlError(f"{what} does not apply to {prop.name}")
    return prop


def _literal(prop: Queryable, value, out: Translation) -> str:
    """A literal of the queryable's type, as a parameter (never SQL text)."""
    if prop.type == "integer":
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise CqlError(f"{prop.name} compares with integers")
        if abs(int(value)) > 2**63 - 1:
            raise CqlError(f"{prop.name}: value out of range")
        return out.param(int(value))
    if prop.type == "string":
        if not isinstance(value, str):
            raise CqlError(f"{prop.name} compares with text ('…')")
        if "\x00" in value:
            raise CqlError("text cannot hold a NUL character")
        return out.param(value)
    if prop.type == "timestamp":
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        elif isinstance(value, date):
            moment = datetime.combine(value, time(), tzinfo=UTC)
        else:
            raise CqlError(f"{prop.name} compares with TIMESTAMP('…') or DATE('…')")
        return f"CAST({out.param(moment)} AS timestamptz)"
    raise CqlError(f"{prop.name} cannot be compared")


def _category_in(prop: Queryable, codes: list, out: Translation) -> str:
    ids: set[int] = set()
    for code in codes:
        if not isinstance(code, str):
            raise CqlError("category compares with codes ('…')")
        ids.update(prop.subtree(code) or ())  # an unknown code matches nothing
    return f"({prop.sql} = ANY({out.param(sorted(ids))}))"


def _geometry(value) -> bytes:
    """A CRS84 geometry (WKB, made valid: GEOS refuses to intersect a self-crossing ring)
    from a WKT literal or BBOX(w, s, e, n)."""
    if isinstance(value, values.Geometry):
        geometry = value.geometry
    elif isinstance(value, values.Envelope):
        geometry = _box(value.x1, value.y1, value.x2, value.y2)
    elif isinstance(value, ast.Function) and value.name.lower() == "bbox" and len(value.arguments) in (4, 6):
        args = value.arguments if len(value.arguments) == 4 else [value.arguments[i] for i in (0, 1, 3, 4)]
        if not all(isinstance(a, int | float) and not isinstance(a, bool) for a in args):
            raise CqlError("BBOX takes four numbers")
        geometry = _box(*args)
    else:
        raise CqlError("S_INTERSECTS takes a WKT geometry or BBOX(w, s, e, n) second")
    geometry = json.loads(json.dumps(geometry))  # tuples to lists
    if _vertices(geometry.get("coordinates")) > MAX_VERTICES:
        raise CqlError(f"a filter geometry has at most {MAX_VERTICES} vertices")
    if not _in_degrees(geometry.get("coordinates")):
        raise CqlError("filter geometries are CRS84: longitudes and latitudes in degrees")
    try:
        return shapely.make_valid(shape(geometry)).wkb
    except (ValueError, TypeError, AttributeError, shapely.errors.ShapelyError) as exc:
        raise CqlError(f"invalid filter geometry ({exc})") from None


def _box(w, s, e, n) -> dict:
    if not (w < e and s < n):
        raise CqlError("BBOX is west, south, east, north with west < east and south < north")
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def _vertices(coords) -> int:
    if isinstance(coords, list) and coords and isinstance(coords[0], int | float):
        return 1
    return sum(_vertices(c) for c in coords) if isinstance(coords, list) else 0


def _in_degrees(coords) -> bool:
    if isinstance(coords, list) and coords and isinstance(coords[0], int | float):
        return -180 <= coords[0] <= 180 and -90 <= coords[1] <= 90
    return all(_in_degrees(c) for c in coords) if isinstance(coords, list) else True
