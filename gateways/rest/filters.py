"""Every REST filter syntax -> one plinth.v1.Filter tree (query.proto).

* brackets: `filter[price][gt]=10` (query-string text, as given)
* Directus JSON (`filter=`): `{"_or": [{"price": {"_gt": 10}}, {"author": {"name": "x"}}]}`
* Mongo JSON (`q=`): `{"$or": [{"price": {"$gt": 10}}, {"status": {"$not": {"$eq": "x"}}}]}`
* `where` of POST /query: either JSON form, told apart by its operator keys.

Structure only: field names (paths too) and values pass through as given, and
core resolves the names and coerces the values. Keys of one object are AND-ed.
Nesting is bounded here (MAX_DEPTH), so hostile JSON never exhausts the stack.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import orjson
from plinth.v1 import query_pb2 as pb
from plinth.values import to_value
from sanic.request import RequestParameters

from gateways.rest.errors import bad_request

# Filter objects one inside another (the whole filter is level 1; each _and, _or,
# $not or Directus relational object one more), and levels of nesting in one value.
MAX_DEPTH = 16

OPERATORS = {
    name: getattr(pb, f"OPERATOR_{name.upper()}")
    for name in (
        "eq ne gt gte lt lte in nin between like ilike contains icontains"
        " starts_with ends_with null exists regex"
    ).split()
}
LIST_OPERATORS = {"in", "nin", "between"}

# Directus' other names: `_neq` is `ne`; the rest negate an operator
# (`_nnull: true` is `NOT (null: true)`, `_nbetween: [1, 5]` is `NOT (between: [1, 5])`).
ALIASES = {"neq": "ne"}
NEGATIONS = {
    "nnull": "null",
    "ncontains": "contains",
    "nicontains": "icontains",
    "nstarts_with": "starts_with",
    "nends_with": "ends_with",
    "nbetween": "between",
}
DIRECTUS_LOGIC = ("_and", "_or")
DIRECTUS_OPERATORS = [f"_{name}" for name in (*OPERATORS, *ALIASES, *NEGATIONS)]
MONGO_OPERATORS = [f"${name}" for name in OPERATORS] + ["$not"]

_BRACKETS = re.compile(r"^filter\[([^\[\]]+)\](?:\[([^\[\]]+)\])?$")
_JSON_TYPES = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}


# --- query string ---------------------------------------------------------------------------


def from_args(args: RequestParameters) -> pb.Filter:
    """filter[f][op]=v, filter=<Directus JSON> and q=<Mongo JSON> of one request, AND-ed."""
    parts = [brackets(args)]
    parts += [directus(parse_json(text, "filter")) for text in args.getlist("filter") if text]
    parts += [mongo(parse_json(text, "q")) for text in args.getlist("q") if text]
    return all_of(parts)


def brackets(args: RequestParameters) -> pb.Filter:
    """filter[f]=v (equality) and filter[f][op]=v with Directus operator names, `_` optional."""
    nodes = []
    for key, values in args.items():
        if not key.startswith("filter["):
            continue
        match = _BRACKETS.match(key)
        if match is None:
            raise bad_request(f"malformed filter parameter {key!r}; use filter[field][op]=value")
        field, op = match.groups()
        name = "_" + (op or "eq").removeprefix("_")
        if name not in DIRECTUS_OPERATORS:
            raise _unknown(op, [o.removeprefix("_") for o in DIRECTUS_OPERATORS])
        # in, nin, between take comma-separated values: `filter[qty][between]=1,5`
        lists = _base_operator(name) in LIST_OPERATORS
        for text in values:
            operand = (text.split(",") if text else []) if lists else text
            nodes.append(_directus_condition(field, name, operand))
    return all_of(nodes)


def parse_json(text: str | bytes, name: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"malformed JSON in {name}: {exc}") from None


# --- the two JSON forms ---------------------------------------------------------------------


def where(tree: Any) -> pb.Filter:
    """A body's `where`: the Mongo form if it uses `$` operators, else the Directus form."""
    mongo_keys, directus_keys = _operator_keys(tree)
    if mongo_keys and directus_keys:
        raise bad_request(
            f"where mixes Mongo operators ({mongo_keys[0]}) and Directus operators"
            f" ({directus_keys[0]}); use one form"
        )
    return mongo(tree) if mongo_keys else directus(tree)


def directus(tree: Any) -> pb.Filter:
    return all_of(_directus_object(_object(tree, "a filter"), 1, ""))


def mongo(tree: Any) -> pb.Filter:
    return all_of(_mongo_object(_object(tree, "a filter"), 1))


def _directus_object(obj: dict[str, Any], depth: int, prefix: str) -> list[pb.Filter]:
    _check_depth(depth)
    nodes = []
    for key, value in obj.items():
        if key in DIRECTUS_LOGIC:
            children = [_and(_directus_object(o, depth + 1, prefix)) for o in _list(key, value)]
            nodes.append(_group("all_of" if key == "_and" else "any_of", children))
        elif key in DIRECTUS_OPERATORS:
            raise bad_request(f'{key} must be inside a field, like {{"price": {{"{key}": …}}}}')
        elif key.startswith("$"):
            raise _foreign(key, "Mongo", "q=")
        else:
            nodes.append(_directus_field(prefix + key, value, depth))
    return nodes


def _directus_field(field: str, value: Any, depth: int) -> pb.Filter:
    """{"_gt": 1, "lt": 9} (the `_` is optional), a bare value (equality), or a nested
    path as in Directus' relational filters: {"name": {"_eq": …}} on "author"."""
    if not isinstance(value, dict):
        return _directus_condition(field, "_eq", value)
    if not value:
        raise bad_request(f"the filter on {field!r} is empty; give an operator like _eq")
    if mongo_keys := [key for key in value if key.startswith("$")]:
        raise _foreign(mongo_keys[0], "Mongo", "q=")
    names = {key: "_" + key.removeprefix("_") for key in value}
    operators = [key for key, name in names.items() if key[:1] == "_" or name in DIRECTUS_OPERATORS]
    if not operators:
        return _and(_directus_object(value, depth + 1, field + "."))
    if len(operators) != len(value):
        raise bad_request(f"the filter on {field!r} mixes operators and field names")
    for key, name in names.items():
        if name not in DIRECTUS_OPERATORS:
            raise _unknown(key, DIRECTUS_OPERATORS)
    return _and([_directus_condition(field, names[key], operand) for key, operand in value.items()])


def _directus_condition(field: str, name: str, operand: Any) -> pb.Filter:
    condition = _condition(field, _base_operator(name), operand, name)
    return pb.Filter(negate=condition) if name[1:] in NEGATIONS else condition


def _base_operator(name: str) -> str:
    """The operator of a Directus name: `_gt` -> gt, `_neq` -> ne, `_nbetween` -> between."""
    op = name[1:]
    return ALIASES.get(op) or NEGATIONS.get(op) or op


def _mongo_object(obj: dict[str, Any], depth: int) -> list[pb.Filter]:
    _check_depth(depth)
    nodes = []
    for key, value in obj.items():
        if key in ("$and", "$or"):
            children = [_and(_mongo_object(o, depth + 1)) for o in _list(key, value)]
            nodes.append(_group("all_of" if key == "$and" else "any_of", children))
        elif key in DIRECTUS_LOGIC:
            raise _foreign(key, "Directus", "filter=")
        elif key == "$not":
            inner = _mongo_object(_object(value, "$not"), depth + 1)
            nodes.append(pb.Filter(negate=_and(inner)))
        elif key.startswith("$"):
            raise bad_request(
                f"unknown operator {key!r} at the top of a filter; use $and, $or, $not"
                ' or {"field": {"$op": value}}'
            )
        else:
            nodes.append(_mongo_field(key, value, depth))
    return nodes


def _mongo_field(field: str, value: Any, depth: int) -> pb.Filter:
    """{"$gt": 1, "$lt": 9}, {"$not": {...}}, or any other value (equality, objects too)."""
    _check_depth(depth)
    if isinstance(value, dict) and (directus_keys := [k for k in value if k in DIRECTUS_OPERATORS]):
        raise _foreign(directus_keys[0], "Directus", "filter=")
    if not (isinstance(value, dict) and any(key.startswith("$") for key in value)):
        return _condition(field, "eq", value, "$eq")
    if not all(key.startswith("$") for key in value):
        raise bad_request(f"the filter on {field!r} mixes operators and field names")
    nodes = []
    for key, operand in value.items():
        if key == "$not":
            if not (isinstance(operand, dict) and operand and all(k[:1] == "$" for k in operand)):
                raise bad_request(f'$not on {field!r} takes operators: {{"$not": {{"$gt": 5}}}}')
            nodes.append(pb.Filter(negate=_mongo_field(field, operand, depth + 1)))
        elif key[1:] in OPERATORS:
            nodes.append(_condition(field, key[1:], operand, key))
        else:
            raise _unknown(key, MONGO_OPERATORS)
    return _and(nodes)


def _operator_keys(tree: Any) -> tuple[list[str], list[str]]:
    """The Mongo ($…) and Directus (_eq, _and, …) operator keys anywhere in a JSON tree."""
    mongo_keys, directus_keys = [], []
    pending = [tree]
    while pending:  # iterative: the tree's depth is not checked yet
        node = pending.pop()
        if isinstance(node, dict):
            mongo_keys += [k for k in node if k.startswith("$")]
            directus_keys += [k for k in node if k in DIRECTUS_LOGIC or k in DIRECTUS_OPERATORS]
            pending += node.values()
        elif isinstance(node, list):
            pending += node
    return mongo_keys, directus_keys


# --- building the tree ----------------------------------------------------------------------


def all_of(nodes: Iterable[pb.Filter]) -> pb.Filter:
    """The AND of `nodes`, skipping empty filters; one node stays itself, none is no filter."""
    nodes = [node for node in nodes if node.WhichOneof("kind")]
    if not nodes:
        return pb.Filter()
    return nodes[0] if len(nodes) == 1 else _group("all_of", nodes)


def _and(nodes: list[pb.Filter]) -> pb.Filter:
    """The nodes of one JSON object: one stays itself; `{}` is an empty AND, which matches all."""
    return nodes[0] if len(nodes) == 1 else _group("all_of", nodes)


def _group(kind: str, nodes: list[pb.Filter]) -> pb.Filter:
    node = pb.Filter()
    group = getattr(node, kind)
    group.SetInParent()  # so that an empty list is still an all_of / any_of
    group.filters.extend(nodes)
    return node


def _condition(field: str, op: str, operand: Any, name: str) -> pb.Filter:
    if op in LIST_OPERATORS and not isinstance(operand, list):
        raise bad_request(f'{name} on {field!r} takes a list, like {{"{name}": ["a", "b"]}}')
    try:
        value = to_value(operand, MAX_DEPTH)
    except ValueError as exc:
        raise bad_request(f"bad value for {name} on {field!r}: {exc}") from None
    return pb.Filter(condition=pb.Condition(field=field, operator=OPERATORS[op], value=value))


# --- shapes and messages --------------------------------------------------------------------


def _check_depth(depth: int) -> None:
    if depth > MAX_DEPTH:
        raise bad_request(f"the filter is nested more than {MAX_DEPTH} levels deep")


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request(f"{what} must be a JSON object, not {_json_type(value)}")
    return value


def _list(key: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise bad_request(f'{key} takes a non-empty list of filters, like {{"{key}": [{{…}}]}}')
    return [_object(item, f"each item of {key}") for item in value]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return _JSON_TYPES.get(type(value), "a number")


def _foreign(key: str, form: str, parameter: str) -> Exception:
    return bad_request(f"{key!r} is a {form} operator; send {form} filters as {parameter}")


def _unknown(name: str, valid: list[str]) -> Exception:
    return bad_request(f"unknown operator {name!r}; use one of: {', '.join(valid)}")
