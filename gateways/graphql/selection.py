"""What a query selects under a field, so resolvers ask core for just that.

Fragments are flattened (every type here is a concrete object type, so a
fragment that passed validation applies) and `@skip` / `@include` are
honoured. Aliases are merged: `a: sum { x } b: sum { y }` selects `sum`
with `x` and `y`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tartiflette.language.ast import (
    BooleanValueNode,
    FieldNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    VariableNode,
)

Selected = dict[str, list[FieldNode]]


def subfields(info: Any, nodes: Iterable[FieldNode]) -> Selected:
    """The fields selected under `nodes`, by field name."""
    selected: Selected = {}

    def walk(selection_set: Any) -> None:
        for selection in selection_set.selections if selection_set else ():
            if not _included(selection, info.variable_values or {}):
                continue
            if isinstance(selection, FieldNode):
                selected.setdefault(selection.name.value, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                walk(info.fragments[selection.name.value].selection_set)

    for node in nodes:
        walk(node.selection_set)
    return selected


def selected(info: Any) -> Selected:
    """The fields selected under the field being resolved."""
    return subfields(info, info.field_nodes)


def _included(selection: Any, variables: dict[str, Any]) -> bool:
    for directive in selection.directives or ():
        name = directive.name.value
        if name not in ("skip", "include"):
            continue
        condition = next((a.value for a in directive.arguments if a.name.value == "if"), None)
        if isinstance(condition, VariableNode):
            value = bool(variables.get(condition.name.value))
        else:
            value = isinstance(condition, BooleanValueNode) and condition.value in (True, "true")
        if value == (name == "skip"):
            return False
    return True
