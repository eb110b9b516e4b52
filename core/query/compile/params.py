"""Numbered placeholders and the statement cache shared by every builder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from psycopg import sql

from core.schema.model import CollectionSpec

Statement = tuple[str, dict[str, Any]]

MAX_CACHED_SHAPES = 256


def positional(index: int) -> sql.Placeholder:
    return sql.Placeholder(f"p{index}")


def numbered(values: list[Any]) -> dict[str, Any]:
    return {f"p{i}": value for i, value in enumerate(values)}


class Binder:
    """Hands out the placeholders of one statement in build order."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> sql.Placeholder:
        self.count += 1
        return positional(self.count - 1)


def cached(collection: CollectionSpec, key: tuple, build: Callable[[], sql.Composable]) -> str:
    """The statement text of one shape, rendered once per collection definition.

    A definition is replaced on every schema change, and its cache with it.
    """
    text = collection.statements.get(key)
    if text is None:
        if len(collection.statements) >= MAX_CACHED_SHAPES:
            collection.statements.clear()
        text = collection.statements[key] = build().as_string(None)
    return text
