"""REST filter syntaxes -> the Filter tree: brackets, Directus JSON, Mongo JSON, `where`."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import pytest
from google.protobuf import json_format
from plinth import PlinthError
from plinth.v1 import query_pb2 as pb
from sanic.request import RequestParameters

from gateways.rest import filters


def cond(field: str, op: str, value: Any) -> pb.Filter:
    condition = pb.Condition(field=field, operator=filters.OPERATORS[op])
    json_format.ParseDict(value, condition.value)
    return pb.Filter(condition=condition)


def all_of(*nodes: pb.Filter) -> pb.Filter:
    node = pb.Filter()
    node.all_of.SetInParent()
    node.all_of.filters.extend(nodes)
    return node


def any_of(*nodes: pb.Filter) -> pb.Filter:
    node = pb.Filter()
    node.any_of.SetInParent()
    node.any_of.filters.extend(nodes)
    return node


def negate(node: pb.Filter) -> pb.Filter:
    return pb.Filter(negate=node)


def args(query: str) -> RequestParameters:
    return RequestParameters(parse_qs(query, keep_blank_values=True))


def assert_same(got: pb.Filter, expected: pb.Filter) -> None:
    assert got == expected, (json_format.MessageToDict(got), json_format.MessageToDict(expected))


def assert_bad(call, *words: str) -> None:
    with pytest.raises(PlinthError) as caught:
        call()
    assert caught.value.code == "BAD_REQUEST"
    for word in words:
        assert word in caught.value.message, caught.value.message


class TestBrackets:
    @pytest.mark.parametrize(
        "query, expected",
        [
            ("", pb.Filter()),
            ("limit=5&sort=name", pb.Filter()),
            ("filter[status]=active", cond("status", "eq", "active")),
            ("filter[price][gt]=10", cond("price", "gt", "10")),
            ("filter[price][_gte]=10", cond("price", "gte", "10")),
            ("filter[name]=", cond("name", "eq", "")),
            ("filter[meta.color]=red", cond("meta.color", "eq", "red")),
            ("filter[author.name][icontains]=ann", cond("author.name", "icontains", "ann")),
            ("filter[qty][in]=1,2,3", cond("qty", "in", ["1", "2", "3"])),
            ("filter[qty][_nin]=", cond("qty", "nin", [])),
            ("filter[qty][between]=1,5", cond("qty", "between", ["1", "5"])),
            ("filter[sku][null]=true", cond("sku", "null", "true")),
            ("filter[sku][_neq]=A", cond("sku", "ne", "A")),
            ("filter[sku][_nnull]=true", negate(cond("sku", "null", "true"))),
            ("filter[qty][nbetween]=1,5", negate(cond("qty", "between", ["1", "5"]))),
            (
                "filter[price][gt]=1&filter[price][lt]=9",
                all_of(cond("price", "gt", "1"), cond("price", "lt", "9")),
            ),
            ("filter[a]=1&filter[a]=2", all_of(cond("a", "eq", "1"), cond("a", "eq", "2"))),
        ],
    )
    def test_brackets(self, query: str, expected: pb.Filter) -> None:
        assert_same(filters.from_args(args(query)), expected)

    @pytest.mark.parametrize(
        "query, words",
        [
            ("filter[price][within]=1", ["unknown operator 'within'", "between"]),
            ("filter[price][$gt]=1", ["unknown operator '$gt'"]),
            ("filter[price=1", ["malformed filter parameter", "filter[field][op]=value"]),
            ("filter[a][b][c]=1", ["malformed filter parameter"]),
            ("filter[]=1", ["malformed filter parameter"]),
        ],
    )
    def test_bad_brackets(self, query: str, words: list[str]) -> None:
        assert_bad(lambda: filters.from_args(args(query)), *words)


# The same logical filters in both JSON forms.
EQUIVALENT = [
    ({"status": "active"}, {"status": "active"}, cond("status", "eq", "active")),
    ({"status": {"_eq": "active"}}, {"status": {"$eq": "active"}}, cond("status", "eq", "active")),
    ({"price": {"_gt": 10}}, {"price": {"$gt": 10}}, cond("price", "gt", 10)),
    ({"price": {"_ne": None}}, {"price": {"$ne": None}}, cond("price", "ne", None)),
    ({"price": {"_neq": 3}}, {"price": {"$ne": 3}}, cond("price", "ne", 3)),
    ({"deleted": None}, {"deleted": None}, cond("deleted", "eq", None)),
    (
        {"price": {"_gte": 1, "_lt": 9.5}},
        {"price": {"$gte": 1, "$lt": 9.5}},
        all_of(cond("price", "gte", 1), cond("price", "lt", 9.5)),
    ),
    ({"tag": {"_in": ["a", "b"]}}, {"tag": {"$in": ["a", "b"]}}, cond("tag", "in", ["a", "b"])),
    ({"tag": {"_nin": []}}, {"tag": {"$nin": []}}, cond("tag", "nin", [])),
    ({"meta": {"_exists": True}}, {"meta": {"$exists": True}}, cond("meta", "exists", True)),
    ({"name": {"_regex": "^a.*"}}, {"name": {"$regex": "^a.*"}}, cond("name", "regex", "^a.*")),
    ({"meta.color": "red"}, {"meta.color": "red"}, cond("meta.color", "eq", "red")),
    (
        {"status": "active", "qty": {"_lte": 3}},
        {"status": "active", "qty": {"$lte": 3}},
        all_of(cond("status", "eq", "active"), cond("qty", "lte", 3)),
    ),
    (
        {"_or": [{"a": 1}, {"b": {"_null": True}}]},
        {"$or": [{"a": 1}, {"b": {"$null": True}}]},
        any_of(cond("a", "eq", 1), cond("b", "null", True)),
    ),
    (
        {"_and": [{"a": 1, "b": 2}, {"_or": [{"c": 3}]}]},
        {"$and": [{"a": 1, "b": 2}, {"$or": [{"c": 3}]}]},
        all_of(all_of(cond("a", "eq", 1), cond("b", "eq", 2)), any_of(cond("c", "eq", 3))),
    ),
    ({"_or": [{}]}, {"$or": [{}]}, any_of(all_of())),
    ({}, {}, pb.Filter()),
    # Integers beyond a double's precision travel as text.
    ({"big": 2**60}, {"big": {"$eq": 2**60}}, cond("big", "eq", str(2**60))),
    ({"n": {"_in": [1, 2**60]}}, {"n": {"$in": [1, 2**60]}}, cond("n", "in", [1, str(2**60)])),
]


class TestJsonForms:
    @pytest.mark.parametrize("directus, mongo, expected", EQUIVALENT)
    def test_both_forms(self, directus: dict, mongo: dict, expected: pb.Filter) -> None:
        assert_same(filters.directus(directus), expected)
        assert_same(filters.mongo(mongo), expected)
        assert_same(filters.where(directus), expected)
        assert_same(filters.where(mongo), expected)

    @pytest.mark.parametrize(
        "tree, expected",
        [
            ({"sku": {"_nnull": True}}, negate(cond("sku", "null", True))),
            ({"name": {"_ncontains": "x"}}, negate(cond("name", "contains", "x"))),
            ({"name": {"_nicontains": "x"}}, negate(cond("name", "icontains", "x"))),
            ({"name": {"_nstarts_with": "x"}}, negate(cond("name", "starts_with", "x"))),
            ({"name": {"_nends_with": "x"}}, negate(cond("name", "ends_with", "x"))),
            ({"qty": {"_nbetween": [1, 5]}}, negate(cond("qty", "between", [1, 5]))),
            # The leading _ is optional.
            ({"name": {"like": "a%"}}, cond("name", "like", "a%")),
            (
                {"price": {"gt": 1, "_lt": 9}, "sku": {"neq": "A"}},
                all_of(
                    all_of(cond("price", "gt", 1), cond("price", "lt", 9)), cond("sku", "ne", "A")
                ),
            ),
            # Directus' relational form: nested objects are paths.
            ({"author": {"name": {"_eq": "Ann"}}}, cond("author.name", "eq", "Ann")),
            (
                {"author": {"name": "Ann", "org": {"city": {"_in": ["X"]}}}},
                all_of(cond("author.name", "eq", "Ann"), cond("author.org.city", "in", ["X"])),
            ),
            ({"_private": 1}, cond("_private", "eq", 1)),  # a field may start with _
        ],
    )
    def test_directus(self, tree: dict, expected: pb.Filter) -> None:
        assert_same(filters.directus(tree), expected)

    @pytest.mark.parametrize(
        "tree, expected",
        [
            ({"price": {"$not": {"$gt": 5}}}, negate(cond("price", "gt", 5))),
            (
                {"price": {"$not": {"$gt": 5, "$lt": 1}}},
                negate(all_of(cond("price", "gt", 5), cond("price", "lt", 1))),
            ),
            (
                {"$not": {"a": 1, "b": {"$in": [2]}}},
                negate(all_of(cond("a", "eq", 1), cond("b", "in", [2]))),
            ),
            ({"$not": {"$or": [{"a": 1}]}}, negate(any_of(cond("a", "eq", 1)))),
            # An object without operators is a value (equality), as in Mongo.
            ({"meta": {"color": "red"}}, cond("meta", "eq", {"color": "red"})),
            ({"meta": {}}, cond("meta", "eq", {})),
            ({"name": {"$like": "a%", "$ilike": "%b"}}, all_of(
                cond("name", "like", "a%"), cond("name", "ilike", "%b"))),
            ({"_id": 5}, cond("_id", "eq", 5)),
        ],
    )  # fmt: skip
    def test_mongo(self, tree: dict, expected: pb.Filter) -> None:
        assert_same(filters.mongo(tree), expected)

    def test_where_without_operators_reads_nested_objects_as_paths(self) -> None:
        assert_same(filters.where({"author": {"name": "Ann"}}), cond("author.name", "eq", "Ann"))


def nested(key: str, levels: int) -> dict:
    tree: dict = {"a": 1}
    for _ in range(levels):
        tree = {key: [tree]}
    return tree


BAD_DIRECTUS = [
    ([1, 2], ["must be a JSON object", "a list"]),
    ("text", ["must be a JSON object", "a string"]),
    ({"price": {"_gtx": 1}}, ["unknown operator '_gtx'", "_gte", "_nbetween"]),
    ({"price": {"_gt": 1, "color": 2}}, ["mixes operators and field names"]),
    ({"price": {"gt": 1, "$lt": 2}}, ["'$lt' is a Mongo operator"]),
    ({"price": {}}, ["'price' is empty"]),
    ({"_and": {"a": 1}}, ["_and takes a non-empty list"]),
    ({"_or": []}, ["_or takes a non-empty list"]),
    ({"_or": [1]}, ["each item of _or must be a JSON object"]),
    ({"_eq": 1}, ["_eq must be inside a field"]),
    ({"$or": [{"a": 1}]}, ["Mongo operator", "q="]),
    ({"tag": {"_in": "a,b"}}, ["_in on 'tag' takes a list"]),
    ({"qty": {"_between": 5}}, ["_between on 'qty' takes a list"]),
    ({"qty": {"_nbetween": {}}}, ["_nbetween on 'qty' takes a list"]),
    (nested("_and", 17), ["nested more than 16 levels"]),
    (nested("_or", 5000), ["nested more than 16 levels"]),
    ({"x": {"_eq": nested("v", 40)}}, ["nested more than 16 levels"]),
]

BAD_MONGO = [
    (None, ["must be a JSON object", "null"]),
    ({"price": {"$gtx": 1}}, ["unknown operator '$gtx'", "$gte", "$not"]),
    ({"price": {"$regex": "a", "$options": "i"}}, ["unknown operator '$options'"]),
    ({"price": {"$gt": 1, "lt": 2}}, ["mixes operators and field names"]),
    ({"$nor": [{"a": 1}]}, ["unknown operator '$nor'", "$and, $or, $not"]),
    ({"$gt": 1}, ["unknown operator '$gt'"]),
    ({"$and": {"a": 1}}, ["$and takes a non-empty list"]),
    ({"$or": []}, ["$or takes a non-empty list"]),
    ({"$or": ["a"]}, ["each item of $or must be a JSON object"]),
    ({"$not": [{"a": 1}]}, ["$not must be a JSON object"]),
    ({"price": {"$not": 5}}, ["$not on 'price' takes operators"]),
    ({"price": {"$not": {"a": 5}}}, ["$not on 'price' takes operators"]),
    ({"tag": {"$in": "a"}}, ["$in on 'tag' takes a list"]),
    ({"tag": {"$nin": None}}, ["$nin on 'tag' takes a list"]),
    (nested("$and", 17), ["nested more than 16 levels"]),
    (nested("$and", 5000), ["nested more than 16 levels"]),
    ({"p": {"$not": {"$not": {"$not": {"$not": {"$not": {"$not": {"$not": {"$not": {
        "$not": {"$not": {"$not": {"$not": {"$not": {"$not": {"$not": {"$not": {"$not": {
        "$gt": 1}}}}}}}}}}}}}}}}}}}, ["nested more than 16 levels"]),
]  # fmt: skip


class TestBadJson:
    @pytest.mark.parametrize("tree, words", BAD_DIRECTUS)
    def test_bad_directus(self, tree: Any, words: list[str]) -> None:
        assert_bad(lambda: filters.directus(tree), *words)

    @pytest.mark.parametrize("tree, words", BAD_MONGO)
    def test_bad_mongo(self, tree: Any, words: list[str]) -> None:
        assert_bad(lambda: filters.mongo(tree), *words)

    def test_where_refuses_mixed_forms(self) -> None:
        tree = {"$or": [{"a": {"_eq": 1}}, {"b": 2}]}
        assert_bad(lambda: filters.where(tree), "mixes Mongo operators ($or)", "(_eq)")

    @pytest.mark.parametrize("levels", [17, 5000])
    def test_where_bounds_depth(self, levels: int) -> None:
        assert_bad(lambda: filters.where(nested("$and", levels)), "nested more than 16")
        assert_bad(lambda: filters.where(nested("_and", levels)), "nested more than 16")

    def test_sixteen_levels_are_fine(self) -> None:
        assert filters.mongo(nested("$and", 15)).WhichOneof("kind") == "all_of"
        assert filters.directus(nested("_or", 15)).WhichOneof("kind") == "any_of"
        assert_bad(lambda: filters.mongo(nested("$or", 16)), "nested more than 16")
        assert_bad(lambda: filters.directus(nested("_and", 16)), "nested more than 16")


class TestQueryString:
    def test_every_syntax_is_anded(self) -> None:
        query = "&".join(
            [
                "filter[a]=1",
                "filter=" + json.dumps({"b": {"_gt": 2}}),
                "q=" + json.dumps({"c": {"$lt": 3}}),
                "q=" + json.dumps({"d": 4}),
            ]
        )
        expected = all_of(
            cond("a", "eq", "1"), cond("b", "gt", 2), cond("c", "lt", 3), cond("d", "eq", 4)
        )
        assert_same(filters.from_args(args(query.replace("+", "%2B"))), expected)

    def test_empty_json_parameters_are_no_filter(self) -> None:
        assert_same(filters.from_args(args("filter=&q=&q={}")), pb.Filter())

    @pytest.mark.parametrize(
        "query, words",
        [
            ("filter={bad", ["malformed JSON in filter:"]),
            ("q=[1,", ["malformed JSON in q:"]),
            ("q=" + "[" * 5000 + "]" * 5000, ["malformed JSON in q:"]),
            ("q=" + '{"$and":[' * 5000 + "{}" + "]}" * 5000, ["q:"]),
            ("q=5", ["must be a JSON object"]),
            ('filter={"a":{"$gt":1}}', ["'$gt' is a Mongo operator", "q="]),
            ('q={"a":{"_gt":1}}', ["'_gt' is a Directus operator", "filter="]),
            ('q={"_or":[{"a":1}]}', ["'_or' is a Directus operator", "filter="]),
        ],
    )
    def test_bad_query_strings(self, query: str, words: list[str]) -> None:
        assert_bad(lambda: filters.from_args(args(query)), *words)
