"""The relationship (named edge) calls of RecordService."""

from __future__ import annotations


class EdgeHandlers:
    """Mixed into RecordServicer, whose `_pool` and `_cache` it uses."""
