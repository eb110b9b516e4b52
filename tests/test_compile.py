"""Golden tests of the query compiler: filter tree -> SQL text and parameters."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from psycopg.types.json import Jsonb

from core.errors import CoreError
from core.query import compile, plan
from core.query.ast import AllOf, AnyOf, Condition, Not, Op, Sort
from core.schema.model import CollectionSpec, FieldSpec

ITEMS = CollectionSpec(
    "c1",
    "items",
    "flexible",
    (
        FieldSpec("price", "float"),
        FieldSpec("qty", "integer"),
        FieldSpec("name", "string"),
        FieldSpec("tags", "string[]"),
        FieldSpec("meta", "json"),
        FieldSpec("day", "date"),
        FieldSpec("at", "datetime"),
        FieldSpec("ok", "boolean"),
    ),
)

C = Condition


def where(node) -> tuple[str, dict]:
    """The compiled condition, and the values bound to it (checked against its placeholders)."""
    planned = plan.plan_filter(ITEMS, node)
    bind = compile.Binder()
    text = compile.where_sql(planned, bind).as_string(None)
    values = compile.where_values(planned)
    assert len(values) == bind.count, "the builder and its values twin disagree"
    return text.removeprefix("t.deleted_at IS NULL AND "), compile.numbered(values)


def unwrap(values: dict) -> dict:
    return {k: v.obj if isinstance(v, Jsonb) else v for k, v in values.items()}


@pytest.mark.parametrize(
    "node, sql, params",
    [
        (C("price", Op.EQ, "10"), 't."price" = %(p0)s', [10.0]),
        (C("qty", Op.EQ, None), 't."qty" IS NULL', []),
        (C("qty", Op.NE, 3), 't."qty" IS DISTINCT FROM %(p0)s', [3]),
        (C("qty", Op.GT, "3"), 't."qty" > %(p0)s', [3]),
        (C("qty", Op.GTE, 3), 't."qty" >= %(p0)s', [3]),
        (C("price", Op.LT, "1.5"), 't."price" < %(p0)s', [1.5]),
        (C("day", Op.LTE, "2024-05-01"), 't."day" <= %(p0)s', [date(2024, 5, 1)]),
        (
            C("at", Op.GT, "2024-05-01T00:00:00Z"),
            't."at" > %(p0)s',
            [datetime(2024, 5, 1, tzinfo=UTC)],
        ),
        (C("ok", Op.EQ, "true"), 't."ok" = %(p0)s', [True]),
        (C("qty", Op.IN, "1,2,3"), 't."qty" = ANY(%(p0)s)', [[1, 2, 3]]),
        (C("qty", Op.IN, []), "FALSE", []),
        (C("qty", Op.NIN, [1]), '(t."qty" IS NULL OR NOT (t."qty" = ANY(%(p0)s)))', [[1]]),
        (C("qty", Op.NIN, ""), "TRUE", []),
        (C("price", Op.BETWEEN, "1,5"), 't."price" BETWEEN %(p0)s AND %(p1)s', [1.0, 5.0]),
        (C("name", Op.LIKE, "a%"), 't."name" LIKE %(p0)s', ["a%"]),
        (C("name", Op.ILIKE, "A_"), 't."name" ILIKE %(p0)s', ["A_"]),
        (C("name", Op.CONTAINS, "50%_"), 't."name" LIKE %(p0)s', ["%50\\%\\_%"]),
        (C("name", Op.ICONTAINS, "x"), 't."name" ILIKE %(p0)s', ["%x%"]),
        (C("name", Op.STARTS_WITH, "a\\b"), 't."name" LIKE %(p0)s', ["a\\\\b%"]),
        (C("name", Op.ENDS_WITH, "z"), 't."name" LIKE %(p0)s', ["%z"]),
        (C("name", Op.REGEX, "^a.*z$"), 't."name" ~ %(p0)s', ["^a.*z$"]),
        (C("name", Op.NULL, "true"), 't."name" IS NULL', []),
        (C("name", Op.NULL, False), 't."name" IS NOT NULL', []),
        (C("name", Op.EXISTS, True), 't."name" IS NOT NULL', []),
        (C("tags", Op.CONTAINS, "red"), '%(p0)s = ANY(t."tags")', ["red"]),
        (C("meta", Op.CONTAINS, {"a": 1}), 't."meta" @> %(p0)s', [{"a": 1}]),
        (C("meta", Op.EQ, {"a": 1}), 't."meta" = %(p0)s', [{"a": 1}]),
        (
            C("color", Op.EQ, "red"),
            "((t.\"_extra\" #> %(p0)s) #>> '{}') = %(p1)s",
            [["color"], "red"],
        ),
        (C("size", Op.EQ, 10), "((t.\"_extra\" #> %(p0)s) #>> '{}') = %(p1)s", [["size"], "10"]),
        (
            C("size", Op.GT, "10"),
            "nullif((t.\"_extra\" #> %(p0)s), 'null') > %(p1)s",
            [["size"], 10],
        ),
        (C("size", Op.EXISTS, False), '(t."_extra" #> %(p0)s) IS NULL', [["size"]]),
        (
            C("size", Op.NULL, True),
            "coalesce((t.\"_extra\" #> %(p0)s), 'null') = 'null'",
            [["size"]],
        ),
        (
            C("size", Op.NIN, "1,2"),
            "(((t.\"_extra\" #> %(p0)s) #>> '{}') IS NULL OR NOT"
            " (((t.\"_extra\" #> %(p0)s) #>> '{}') = ANY(%(p1)s)))",
            [["size"], ["1", "2"]],
        ),
        (
            C("meta.color", Op.EQ, "red"),
            "((t.\"meta\" #> %(p0)s) #>> '{}') = %(p1)s",
            [["color"], "red"],
        ),
        (
            C("meta.a.b", Op.GTE, "3"),
            "nullif((t.\"meta\" #> %(p0)s), 'null') >= %(p1)s",
            [["a", "b"], 3],
        ),
        (C("meta.tags", Op.CONTAINS, ["x"]), '(t."meta" #> %(p0)s) @> %(p1)s', [["tags"], ["x"]]),
        (
            C("meta.name", Op.ICONTAINS, "5%"),
            "((t.\"meta\" #> %(p0)s) #>> '{}') ILIKE %(p1)s",
            [["name"], "%5\\%%"],
        ),
        (
            AllOf((C("qty", Op.GT, 1), AnyOf((C("name", Op.EQ, "a"), C("name", Op.EQ, "b"))))),
            '(t."qty" > %(p0)s AND (t."name" = %(p1)s OR t."name" = %(p2)s))',
            [1, "a", "b"],
        ),
        (Not(C("qty", Op.EQ, 1)), '((t."qty" = %(p0)s) IS NOT TRUE)', [1]),
        (AllOf(()), "TRUE", []),
        (AnyOf(()), "FALSE", []),
    ],
)
def test_compiled_filters(node, sql: str, params: list) -> None:
    text, values = where(node)
    assert text == sql
    assert list(unwrap(values).values()) == params


@pytest.mark.parametrize(
    "node, message",
    [
        (C("bad name", Op.EQ, 1), "unknown field"),
        (C("price.x", Op.EQ, 1), "is a float field"),
        (C("meta..x", Op.EQ, 1), "malformed path"),
        (C("qty", Op.EQ, "many"), "qty"),
        (C("qty", Op.EQ, 1.5), "integer"),
        (C("price", Op.CONTAINS, "1"), "does not apply to float"),
        (C("ok", Op.GT, "true"), "does not apply to boolean"),
        (C("qty", Op.BETWEEN, "1"), "two values"),
        (C("qty", Op.NULL, "maybe"), "true or false"),
        (C("qty", Op.GT, None), "not null"),
        (C("day", Op.EQ, "tomorrow"), "ISO 8601"),
        (C("name", Op.LIKE, 5), "takes a string"),
    ],
)
def test_plan_errors_name_the_problem(node, message: str) -> None:
    with pytest.raises(CoreError) as caught:
        plan.plan_filter(ITEMS, node)
    assert caught.value.code.value == "BAD_REQUEST"
    assert message in caught.value.message


def test_unknown_fields_of_a_strict_collection() -> None:
    strict = CollectionSpec("c2", "strict_items", "strict", (FieldSpec("a", "string"),))
    with pytest.raises(CoreError) as caught:
        plan.plan_filter(strict, C("color", Op.EQ, "red"))
    assert "unknown field 'color'" in caught.value.message


def test_hostile_names_only_reach_sql_quoted() -> None:
    strict = CollectionSpec("c2", 'we"ird', "strict", (FieldSpec("a", "string"),))
    text, params = compile.select_one('sch"ema', strict, "x'; DROP TABLE t; --", None)
    assert '"sch""ema"."we""ird"' in text
    assert "DROP" not in text and params == {"p0": "x'; DROP TABLE t; --"}


def test_statements_are_rendered_once_per_shape() -> None:
    strict = CollectionSpec("c3", "items", "strict", (FieldSpec("a", "string"),))
    first, _ = compile.select_one("s", strict, "x", None)
    again, params = compile.select_one("s", strict, "y", None)
    assert again is first and params == {"p0": "y"}
    narrow, _ = compile.select_one("s", strict, "x", plan.plan_fields(strict, ["a"]))
    assert narrow != first and '"a"' in narrow


def test_page_statement_returns_rows_and_total_together() -> None:
    page = compile.Page(
        node=plan.plan_filter(ITEMS, C("qty", Op.GT, 1)),
        sort=plan.plan_sort(ITEMS, [Sort("price", descending=True)]),
        selection=plan.plan_fields(ITEMS, ["name"]),
        limit=20,
        offset=40,
        with_total=True,
    )
    text, params = compile.select_page("s", ITEMS, page)
    assert text.startswith('WITH page AS MATERIALIZED (SELECT t."id" AS "id", t."name"')
    assert 'ORDER BY t."price" DESC NULLS LAST, t.id ASC LIMIT %(p1)s + 1 OFFSET %(p2)s' in text
    assert '(SELECT count(*) FROM "s"."items" AS t WHERE' in text
    assert params == {"p0": 1, "p1": 20, "p2": 40}


def test_keyset_after_a_position_with_nulls_last() -> None:
    page = compile.Page(
        node=None,
        sort=plan.plan_sort(ITEMS, [Sort("price"), Sort("name", descending=True)]),
        selection=None,
        limit=10,
        after=["2.5", None, "id-9"],
    )
    text, params = compile.select_page("s", ITEMS, page)
    assert (
        'AND (((t."price" > %(p0)s::double precision OR t."price" IS NULL))'
        ' OR (t."price" = %(p0)s::double precision AND t."name" IS NULL AND t.id > %(p1)s))'
    ) in text
    assert params == {"p0": "2.5", "p1": "id-9", "p2": 10, "p3": 0}
    backward = compile.select_page("s", ITEMS, compile.Page(**{**page.__dict__, "backward": True}))
    assert 'ORDER BY t."price" DESC NULLS FIRST, t."name" ASC NULLS FIRST, t.id DESC' in backward[0]
    assert 't."name" IS NOT NULL' in backward[0]


def test_keys_that_cannot_be_null_use_index_order_and_a_range() -> None:
    required = CollectionSpec(
        "c4", "ranked", "strict", (FieldSpec("rank", "integer", required=True),)
    )
    page = compile.Page(
        node=None,
        sort=plan.plan_sort(required, [Sort("rank", descending=True)]),
        selection=None,
        limit=10,
        after=["7", "id-3"],
    )
    text, params = compile.select_page("s", required, page)
    assert params == {"p0": "7", "p1": "id-3", "p2": 10, "p3": 0}
    assert 'ORDER BY t."rank" DESC, t.id ASC' in text
    assert (
        'AND t."rank" <= %(p0)s::bigint AND ((t."rank" < %(p0)s::bigint)'
        ' OR (t."rank" = %(p0)s::bigint AND t.id > %(p1)s))'
    ) in text
    # A filter that requires a value makes a nullable key plain too.
    filtered = compile.Page(**{**page.__dict__, "sort": plan.plan_sort(ITEMS, [Sort("price")])})
    node = plan.plan_filter(ITEMS, C("price", Op.GTE, 1))
    assert compile.never_null(filtered.sort, node) == (True,)
    assert compile.never_null(filtered.sort, plan.plan_filter(ITEMS, C("price", Op.NE, 1))) == (
        False,
    )
