"""Random records and random filters for the property tests (see tests/reference.py)."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from plinth import Client

from core.query.ast import AllOf, AnyOf, Condition, Node, Not, Op

NAMES = ["", "a", "ab", "abc", "b", "ba", "a%", "a_b", "Ab"]
FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "qty", "type": "integer"},
    {"name": "price", "type": "float"},
    {"name": "flag", "type": "boolean"},
    {"name": "day", "type": "date"},
    {"name": "meta", "type": "json"},
    {"name": "rank", "type": "integer", "required": True},
]
DAYS = [f"2024-01-0{d}" for d in range(1, 6)]
VALUES: dict[str, list[Any]] = {
    "name": NAMES,
    "qty": [-2, 0, 1, 2, 5],
    "price": [-1.0, 0.5, 1.0, 2.5],
    "flag": [True, False],
    "day": DAYS,
    "meta.k": [0, 1, 2, 3],
    "rank": [1, 2, 3, 4],
}
ORDERED = [
    Op.EQ,
    Op.NE,
    Op.GT,
    Op.GTE,
    Op.LT,
    Op.LTE,
    Op.IN,
    Op.NIN,
    Op.BETWEEN,
    Op.NULL,
    Op.EXISTS,
]
OPERATORS: dict[str, list[Op]] = {
    "name": [*ORDERED, Op.LIKE, Op.ILIKE, Op.CONTAINS, Op.ICONTAINS, Op.STARTS_WITH, Op.ENDS_WITH],
    "qty": ORDERED,
    "price": ORDERED,
    "flag": [Op.EQ, Op.NE, Op.IN, Op.NIN, Op.NULL, Op.EXISTS],
    "day": ORDERED,
    "meta.k": ORDERED,
    "rank": ORDERED,
}
SORTABLE = ["name", "qty", "price", "flag", "day", "meta.k", "id", "rank", "created_at"]
PATTERNS = ["a%", "%b", "_b%", "%", "a\\_b", "A%"]


# Enough examples to find edge cases, few enough for a 2-core CI machine.
PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def random_rows(count: int) -> list[dict[str, Any]]:
    rng = random.Random(20261122)

    def maybe(values: list[Any]) -> Any:
        return rng.choice([*values, None])

    rows = []
    for _ in range(count):
        meta = rng.choice([None, {}, {"k": rng.choice(VALUES["meta.k"])}, {"k": None}])
        rows.append(
            {
                "name": maybe(NAMES),
                "qty": maybe(VALUES["qty"]),
                "price": maybe(VALUES["price"]),
                "flag": maybe(VALUES["flag"]),
                "day": maybe(DAYS),
                "meta": meta,
                "rank": rng.choice(VALUES["rank"]),
            }
        )
    return rows


def create_dataset(client: Client) -> tuple[str, list[dict[str, Any]]]:
    """A collection of random rows; returns its name and the rows as created."""
    name = "props_" + random.Random().randbytes(4).hex()
    client.create_collection(name, FIELDS)
    return name, [client.create(name, row) for row in random_rows(80)]


@st.composite
def conditions(draw) -> Condition:
    field = draw(st.sampled_from(list(OPERATORS)))
    op = draw(st.sampled_from(OPERATORS[field]))
    pool = VALUES[field]
    if op in (Op.NULL, Op.EXISTS):
        value: Any = draw(st.booleans())
    elif op in (Op.IN, Op.NIN):
        value = draw(st.lists(st.sampled_from(pool), max_size=3))
    elif op is Op.BETWEEN:
        value = sorted(draw(st.lists(st.sampled_from(pool), min_size=2, max_size=2)))
    elif op in (Op.LIKE, Op.ILIKE):
        value = draw(st.sampled_from(PATTERNS))
    else:
        value = draw(st.sampled_from(pool))
    if field in ("qty", "price", "rank") and draw(st.booleans()):
        value = _as_text(value)  # query-string style: core parses the text
    return Condition(field, op, value)


def _as_text(value: Any) -> Any:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return value if isinstance(value, bool) else str(value)


def trees(depth: int = 3) -> st.SearchStrategy[Node]:
    return st.recursive(
        conditions(),
        lambda children: st.one_of(
            st.lists(children, max_size=3).map(lambda c: AllOf(tuple(c))),
            st.lists(children, max_size=3).map(lambda c: AnyOf(tuple(c))),
            children.map(Not),
        ),
        max_leaves=6,
    )


sorts = st.lists(
    st.tuples(st.sampled_from(SORTABLE), st.booleans()), max_size=3, unique_by=lambda s: s[0]
)


def coerce(field: str, raw: Any) -> Any:
    """Query-string text for numbers becomes numbers, as core does."""
    if isinstance(raw, str) and field in ("qty", "price", "meta.k", "rank"):
        return float(raw) if "." in raw else int(raw)
    return raw
