"""GraphQL names from Plinth names: camelCase fields, PascalCase types.

Underscores go and the letter after each one is capitalised; everything else
is kept as written, so a name without underscores is used unchanged
(`unit_price` -> `unitPrice`, `SKU` -> `SKU`, `order_items` -> `OrderItems`).
Leading underscores stay on field names, which GraphQL allows.
"""

from __future__ import annotations

import re

GRAPHQL_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")
# Valid GraphQL field names, but not enum values, and Tartiflette's SDL parser
# refuses them as field names too.
KEYWORDS = frozenset(("true", "false", "null"))


def camel(name: str) -> str:
    body = name.lstrip("_")
    first, *rest = body.split("_")
    return name[: len(name) - len(body)] + first + "".join(p[:1].upper() + p[1:] for p in rest)


def pascal(name: str) -> str:
    body = camel(name).lstrip("_")
    return body[:1].upper() + body[1:]


def is_graphql_name(name: str) -> bool:
    """Usable as a type, field and enum value name (`__` is for introspection)."""
    return bool(GRAPHQL_NAME.match(name)) and not name.startswith("__") and name not in KEYWORDS
