"""Resolve a query against a collection: names to columns, values to their types.

Writes no SQL; every error here is the caller's (BAD_REQUEST) and says what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import bad_request
from core.query.ast import AllOf, AnyOf, Condition, Node, Not, Op, Related, Sort
from core.schema.model import MANY_TO_ONE, NAME_RE, CollectionSpec, FieldSpec
from core.schema.types import FIELD_TYPES, FieldType

DEFAULT_LIMIT = 25
MAX_LIMIT = 1000
MAX_KEY_LENGTH = 255
# Relations one path may go through: `comments.author.name` goes through two.
MAX_HOPS = 4

SYSTEM_FIELDS = {
    "id": FieldSpec("id", "string"),
    "created_at": FieldSpec("created_at", "datetime"),
    "updated_at": FieldSpec("updated_at", "datetime"),
}

TEXT_OPS = {Op.LIKE, Op.ILIKE, Op.CONTAINS, Op.ICONTAINS, Op.STARTS_WITH, Op.ENDS_WITH, Op.REGEX}
ORDER_OPS = {Op.GT, Op.GTE, Op.LT, Op.LTE, Op.BETWEEN}


@dataclass(frozen=True)
class Column:
    """A readable value: a typed column, or a path inside a json value.

    `name` is as the caller wrote it ("price", "meta.color", or "color" for a
    flexible collection's undeclared key). `path` is set for values inside json:
    keys within the json field `spec`, or within `_extra` when `spec` is None.
    """

    name: str
    spec: FieldSpec | None
    path: tuple[str, ...] = ()
    # many_to_one relations the value is read through (a sort key such as author.name)
    via: tuple[tuple[FieldSpec, CollectionSpec], ...] = ()
    # a relation field read as ids or as related records
    nested: Nested | None = None

    @property
    def is_json(self) -> bool:
        return bool(self.path)

    @property
    def ftype(self) -> FieldType | None:
        return None if self.is_json else FIELD_TYPES[self.spec.type]


@dataclass(frozen=True)
class Selection:
    """The fields a read returns; `everything` (`*`) also keeps a flexible record's extras."""

    columns: tuple[Column, ...]
    everything: bool = False


@dataclass(frozen=True)
class Nested:
    """What a relation field reads of its `target` records."""

    field: FieldSpec
    target: CollectionSpec
    selection: Selection | None = None  # None: every field
    ids_only: bool = False
    node: PlannedNode | None = None
    sort: tuple[tuple[Column, bool], ...] = ()
    limit: int = 0  # 0: every related record
    offset: int = 0


@dataclass(frozen=True)
class RelationOption:
    """Filter, sort and limit of one to-many relation in a deep read, by its path."""

    path: str
    node: Node | None = None
    sort: tuple[Sort, ...] = ()
    limit: int = 0
    offset: int = 0


@dataclass(frozen=True)
class Planned:
    column: Column
    op: Op
    value: Any


@dataclass(frozen=True)
class PlannedRelated:
    field: FieldSpec
    target: CollectionSpec
    child: PlannedNode | None


PlannedNode = Planned | AllOf | AnyOf | Not | PlannedRelated


def target_of(collection: CollectionSpec, spec: FieldSpec) -> CollectionSpec:
    found = collection.space.collections.get(spec.target) if collection.space else None
    if found is None:
        raise bad_request(f"the target {spec.target!r} of {collection.name}.{spec.name} is gone")
    return found


def _relation_head(collection: CollectionSpec, name: str) -> tuple[FieldSpec, str] | None:
    """(relation field, rest of the path) when `name` goes through a relation."""
    head, _, rest = name.partition(".")
    spec = collection.by_name.get(head)
    if spec is not None and spec.is_relation and rest:
        return spec, rest
    return None


def _hop(hops: int) -> int:
    if hops >= MAX_HOPS:
        raise bad_request(f"a path goes through at most {MAX_HOPS} relations")
    return hops + 1


def resolve(collection: CollectionSpec, name: str) -> Column:
    spec = SYSTEM_FIELDS.get(name) or collection.by_name.get(name)
    if spec is not None and spec.to_many:
        raise bad_request(f"{name!r} lists related records: use a path such as {name}.id")
    if spec is not None:
        return Column(name, spec)
    if _relation_head(collection, name):
        raise bad_request(
            f"{name!r} goes through a relation: this takes fields of {collection.name!r} itself"
        )
    head, _, rest = name.partition(".")
    path = tuple(rest.split(".")) if rest else ()
    if any(not key or len(key) > MAX_KEY_LENGTH for key in path):
        raise bad_request(f"malformed path {name!r}: keys are separated by single dots")
    spec = collection.by_name.get(head)
    if spec is not None and path:
        if spec.type != "json":
            raise bad_request(
                f"{head!r} is a {spec.type} field: paths like {name!r} go into json fields only"
            )
        return Column(name, spec, path)
    if collection.flexible and NAME_RE.fullmatch(head):
        return Column(name, None, (head, *path))
    raise bad_request(f"unknown field {head!r} in {collection.name!r}")


def plan_filter(collection: CollectionSpec, node: Node | None, hops: int = 0) -> PlannedNode | None:
    if node is None:
        return None
    if isinstance(node, Related):
        spec = collection.by_name.get(node.relation)
        if spec is None or not spec.is_relation:
            raise bad_request(f"{node.relation!r} is not a relation field of {collection.name!r}")
        target = target_of(collection, spec)
        return PlannedRelated(spec, target, plan_filter(target, node.child, _hop(hops)))
    if isinstance(node, Condition):
        through = _relation_head(collection, node.field)
        if through is not None:
            spec, rest = through
            target = target_of(collection, spec)
            child = plan_filter(target, Condition(rest, node.op, node.value), _hop(hops))
            return PlannedRelated(spec, target, child)
        column = resolve(collection, node.field)
        try:
            value = _coerce(column, node.op, node.value)
        except ValueError as exc:
            raise bad_request(f"filter {node.field!r} {node.op.label}: {exc}") from None
        return Planned(column, node.op, value)
    if isinstance(node, Not):
        return Not(plan_filter(collection, node.child, hops))
    return type(node)(tuple(plan_filter(collection, c, hops) for c in node.children))


def _coerce(column: Column, op: Op, raw: Any) -> Any:
    if op in (Op.NULL, Op.EXISTS):
        return _boolean(raw)
    if op in (Op.IN, Op.NIN):
        return [_one(column, v) for v in _list(raw)]
    if op is Op.BETWEEN:
        bounds = _list(raw)
        if len(bounds) != 2:
            raise ValueError("takes two values: low,high")
        return [_one(column, v) for v in bounds]
    kind = column.ftype.name if column.ftype else None
    if op in TEXT_OPS:
        return _text_operand(column, op, raw)
    if column.is_json and op in ORDER_OPS:
        return _json_scalar(raw)
    if op in ORDER_OPS and (kind in ("boolean", "json") or (kind or "").endswith("[]")):
        raise ValueError(f"does not apply to {kind} fields")
    if raw is None:
        if op in (Op.EQ, Op.NE):
            return None
        raise ValueError("takes a value, not null")
    return _one(column, raw)


def _text_operand(column: Column, op: Op, raw: Any) -> Any:
    kind = column.ftype.name if column.ftype else None
    if op is Op.CONTAINS and kind is not None and kind.endswith("[]"):
        return _one(column, raw, element=True)  # membership of one element
    if op is Op.CONTAINS and (kind == "json" or column.is_json) and not isinstance(raw, str):
        return raw  # jsonb containment
    if column.ftype is not None and not column.ftype.textual:
        raise ValueError(f"does not apply to {kind} fields")
    if not isinstance(raw, str):
        raise ValueError("takes a string")
    return raw


def _json_scalar(raw: Any) -> Any:
    """A value to order json against: query-string numbers are numbers."""
    if isinstance(raw, str):
        for parse in (int, float):
            try:
                return parse(raw)
            except ValueError:
                pass
    return raw


def _one(column: Column, raw: Any, *, element: bool = False) -> Any:
    """One comparison value in the column's type; query-string text is parsed first."""
    ftype = column.ftype
    if ftype is None:
        return _json_scalar(raw)
    if element:
        ftype = FIELD_TYPES[ftype.name.removesuffix("[]")]
    if isinstance(raw, str) and ftype.from_text is not None:
        raw = ftype.from_text(raw)
    if ftype.name == "json":
        return raw
    return ftype.convert(raw)


def _list(raw: Any) -> list[Any]:
    if isinstance(raw, str):
        return raw.split(",") if raw else []
    if isinstance(raw, list):
        return raw
    raise ValueError("takes a list (or comma-separated values)")


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise ValueError("takes true or false")


def plan_sort(collection: CollectionSpec, sort: list[Sort]) -> list[tuple[Column, bool]]:
    out = []
    for key in sort:
        column = _sort_column(collection, key.field, 0)
        if column.ftype is not None and column.ftype.name == "json":
            raise bad_request(f"cannot sort by a whole json field ({key.field!r}); sort by a path")
        out.append((column, key.descending))
    return out


def _sort_column(collection: CollectionSpec, name: str, hops: int) -> Column:
    """A sort key, also through many_to_one relations (`author.name`)."""
    through = _relation_head(collection, name)
    if through is None:
        return resolve(collection, name)
    spec, rest = through
    if spec.cardinality != MANY_TO_ONE:
        raise bad_request(f"cannot sort by {name!r}: {spec.name!r} leads to many records")
    target = target_of(collection, spec)
    inner = _sort_column(target, rest, _hop(hops))
    return Column(name, inner.spec, inner.path, ((spec, target), *inner.via))


def all_fields(collection: CollectionSpec) -> tuple[Column, ...]:
    """Every field plus timestamps, to-many relations read as their ids."""
    out = [Column("id", SYSTEM_FIELDS["id"])]
    out += [_ids(collection, f) if f.to_many else Column(f.name, f) for f in collection.fields]
    out += [Column("created_at", SYSTEM_FIELDS["created_at"])]
    out += [Column("updated_at", SYSTEM_FIELDS["updated_at"])]
    return tuple(out)


def plan_fields(
    collection: CollectionSpec, names: list[str], options: list[RelationOption] = ()
) -> Selection | None:
    """The selected fields (id first); None means all fields plus timestamps. Paths
    through relations (`author.name`, `tags.*`) read related records."""
    names = [n.strip() for n in names if n.strip()]
    if (not names or names == ["*"]) and not options:
        return None
    by_path = {o.path: o for o in options}
    used: set[str] = set()
    selection = _selection(collection, [n.split(".") for n in names or ["*"]], "", by_path, used, 0)
    unused = sorted(set(by_path) - used)
    if unused:
        raise bad_request(f"relation options for {unused[0]!r}, which `fields` does not read")
    return selection


def _selection(
    collection: CollectionSpec,
    paths: list[list[str]],
    prefix: str,
    options: dict[str, RelationOption],
    used: set[str],
    hops: int,
) -> Selection:
    everything = ["*"] in paths
    deep: dict[str, list[list[str]]] = {}
    plain: list[str] = []
    for path in paths:
        spec = collection.by_name.get(path[0])
        if spec is not None and spec.is_relation and len(path) > 1:
            deep.setdefault(path[0], []).append(path[1:])
        elif path != ["*"]:
            plain.append(".".join(path))
    columns = {c.name: c for c in all_fields(collection)} if everything else {}
    columns.setdefault("id", Column("id", SYSTEM_FIELDS["id"]))
    for name in plain:
        spec = collection.by_name.get(name)
        if spec is not None and spec.to_many:
            columns[name] = _ids(collection, spec)
        elif name not in columns:
            column = resolve(collection, name)
            if column.path and (column.spec is not None or len(column.path) > 1):
                raise bad_request(f"select the whole json field, not {name!r}")
            columns[name] = column
    for head, rests in deep.items():
        spec, path = collection.by_name[head], prefix + head
        target = target_of(collection, spec)
        inner = _selection(target, rests, path + ".", options, used, _hop(hops))
        option = options.get(path)
        nested = Nested(spec, target, inner)
        if option is not None:
            used.add(path)
            nested = _with_option(nested, option)
        columns[head] = Column(head, spec, nested=nested)
    return Selection(tuple(columns.values()), everything)


def _ids(collection: CollectionSpec, spec: FieldSpec) -> Column:
    """A to-many relation read as the ids of its related records."""
    nested = Nested(spec, target_of(collection, spec), ids_only=True)
    return Column(spec.name, spec, nested=nested)


def _with_option(nested: Nested, option: RelationOption) -> Nested:
    if not nested.field.to_many:
        raise bad_request(f"{option.path!r} leads to one record: it takes no filter or limit")
    if option.limit < 0 or option.offset < 0:
        raise bad_request(f"limit and offset of {option.path!r} must not be negative")
    if option.limit > MAX_LIMIT:
        raise bad_request(f"limit of {option.path!r} must be at most {MAX_LIMIT}")
    target = nested.target
    return Nested(
        nested.field,
        target,
        nested.selection,
        node=plan_filter(target, option.node),
        sort=tuple(plan_sort(target, list(option.sort))),
        limit=option.limit,
        offset=option.offset,
    )


def plan_limit(page_size: int) -> int:
    if page_size < 0:
        raise bad_request("limit must be at least 1")
    if page_size > MAX_LIMIT:
        raise bad_request(f"limit must be at most {MAX_LIMIT}")
    return page_size or DEFAULT_LIMIT


def plan_offset(offset: int, page: int, limit: int) -> int:
    """Rows to skip: `page` (from 1) wins over `offset` when given."""
    if offset < 0 or page < 0:
        raise bad_request("offset and page must not be negative")
    return (page - 1) * limit if page else offset


NUMERIC_TYPES = ("integer", "float", "decimal")
MAX_AGGREGATES = 40
# Function -> which columns it accepts: "any", "numeric" (sum, avg) or "ordered" (min, max).
AGGREGATE_INPUTS = {
    "count": "any",
    "countDistinct": "any",
    "countAll": "any",
    "sum": "numeric",
    "sumDistinct": "numeric",
    "avg": "numeric",
    "avgDistinct": "numeric",
    "min": "ordered",
    "max": "ordered",
}


def plan_aggregates(
    collection: CollectionSpec, asked: list[tuple[str, str]]
) -> list[tuple[str, str, Column | None]]:
    """(function, field) pairs -> (function, field, column; None for "*")."""
    if not asked:
        raise bad_request("ask for at least one aggregate, e.g. aggregate[count]=*")
    if len(asked) > MAX_AGGREGATES:
        raise bad_request(f"at most {MAX_AGGREGATES} aggregates per request")
    out = []
    for function, field in asked:
        accepts = AGGREGATE_INPUTS.get(function)
        if accepts is None:
            raise bad_request(
                f"unknown aggregate {function!r}; use one of: {', '.join(AGGREGATE_INPUTS)}"
            )
        if field == "*":
            if function not in ("count", "countAll"):
                raise bad_request(f"{function} needs a field, not *")
            out.append((function, field, None))
            continue
        column = resolve(collection, field)
        kind = column.ftype.name if column.ftype else None
        if accepts == "numeric" and kind not in NUMERIC_TYPES:
            raise bad_request(f"{function} needs a number field; {field!r} is not one")
        if accepts == "ordered" and (kind in ("boolean", "json") or (kind or "").endswith("[]")):
            raise bad_request(f"{function} does not apply to {kind} fields such as {field!r}")
        out.append((function, field, column))
    return out


def plan_group_by(collection: CollectionSpec, names: list[str]) -> list[Column]:
    columns = []
    for name in names:
        if name in AGGREGATE_INPUTS:
            raise bad_request(f"cannot group by {name!r}: it names an aggregate in the answer")
        columns.append(resolve(collection, name))
    return columns
