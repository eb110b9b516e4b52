"""The schema as core holds it: immutable specs, cached per space."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from typing import Any

from plinth.wire import NAME_PATTERN

# Use with fullmatch: `$` alone would let a trailing newline through.
NAME_RE = re.compile(NAME_PATTERN.strip("^$"))

# Columns every collection table has; `_extra` holds a flexible collection's undeclared fields.
SYSTEM_COLUMNS = ("id", "created_at", "updated_at", "deleted_at", "version")
EXTRA_COLUMN = "_extra"
RESERVED_NAMES = frozenset((*SYSTEM_COLUMNS, EXTRA_COLUMN))

STRICT = "strict"
FLEXIBLE = "flexible"

RELATION = "relation"
MANY_TO_ONE = "many_to_one"
ONE_TO_MANY = "one_to_many"
MANY_TO_MANY = "many_to_many"
CARDINALITIES = (MANY_TO_ONE, ONE_TO_MANY, MANY_TO_MANY)
ON_DELETE = ("restrict", "cascade", "set_null")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    required: bool = False
    unique: bool = False
    default: Any = None  # a JSON value; None means no default
    min: float | None = None
    max: float | None = None
    max_length: int | None = None
    pattern: str | None = None
    values: tuple[str, ...] = ()
    index: bool = False
    # Relation fields: the target collection, the cardinality, the target's field this
    # one reverses (one_to_many, or a read-only many_to_many), what deleting a target
    # does (many_to_one), and a name stem for the database objects Plinth manages for
    # it (its junction table, triggers), fixed at creation so renames keep them.
    target: str | None = None
    cardinality: str | None = None
    inverse: str | None = None
    on_delete: str | None = None
    key: str | None = None

    @property
    def is_relation(self) -> bool:
        return self.type == RELATION

    @property
    def has_column(self) -> bool:
        """A table column holds it: every field but the to-many relations."""
        return not self.is_relation or self.cardinality == MANY_TO_ONE

    @property
    def to_many(self) -> bool:
        return self.is_relation and self.cardinality != MANY_TO_ONE

    @property
    def owns_links(self) -> bool:
        """A many_to_many field whose junction table it writes (not a reverse view)."""
        return self.cardinality == MANY_TO_MANY and not self.inverse

    def to_json(self) -> dict[str, Any]:
        """The stored form (plinth.fields.spec): everything but the name."""
        out = asdict(self)
        del out["name"]
        out["values"] = list(self.values)
        return out

    @classmethod
    def from_json(cls, name: str, spec: dict[str, Any]) -> FieldSpec:
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in spec.items() if k in known}
        kwargs["values"] = tuple(kwargs.get("values") or ())
        return cls(name=name, **kwargs)


@dataclass(frozen=True)
class CollectionSpec:
    id: str
    name: str
    mode: str
    fields: tuple[FieldSpec, ...] = field(default_factory=tuple)
    # SQL text rendered for this definition, by statement shape (see query/compile/params.py).
    statements: dict[tuple, str] = field(default_factory=dict, compare=False, repr=False)
    # The space this definition was loaded with: where relations find their targets.
    space: SpaceSchema | None = field(default=None, compare=False, repr=False)

    @cached_property
    def by_name(self) -> dict[str, FieldSpec]:
        return {f.name: f for f in self.fields}

    @cached_property
    def stored(self) -> tuple[FieldSpec, ...]:
        """The fields that are columns of the table (to-many relations are not)."""
        return tuple(f for f in self.fields if f.has_column)

    @property
    def flexible(self) -> bool:
        return self.mode == FLEXIBLE


@dataclass(frozen=True)
class SpaceSchema:
    space_id: str
    schema_name: str
    version: int
    collections: dict[str, CollectionSpec]
