"""Named edges end to end over REST and gRPC: create, list by direction, merge
properties, delete, every refusal (with nothing changed), and edges going away with
their records (soft delete one, by filter, by batch) and with a dropped collection."""

from __future__ import annotations

from urllib.parse import quote

import grpc
import httpx
import orjson
import psycopg
import pytest
from plinth import Client, PlinthError
from plinth.v1 import record_service_pb2 as pb
from psycopg import sql

from core.db.migrations import MIGRATIONS
from tests.conftest import Stack
from tests.test_rest_schema import error_code

FIELDS = [{"name": "name", "type": "string"}]


def new_collection(rest: httpx.Client, name: str, ids: list[str]) -> str:
    created = rest.post("/api/v1/schema/collections", json={"name": name, "fields": FIELDS})
    assert created.status_code == 201, created.text
    for record_id in ids:
        answer = rest.post(f"/api/v1/{name}", json={"id": record_id, "name": record_id.upper()})
        assert answer.status_code == 201, answer.text
    return name


@pytest.fixture
def people(rest: httpx.Client, name: str) -> str:
    """Records a, b, c, and `gone` (soft-deleted)."""
    new_collection(rest, name, ["a", "b", "c", "gone"])
    assert rest.delete(f"/api/v1/{name}/gone").status_code == 200
    return name


def url(collection: str, record_id: str, rel: str = "follows", target: str = "") -> str:
    path = f"/api/v1/{collection}/{quote(record_id, safe='')}/relationships/{rel}"
    return path + ("/" + quote(target, safe="") if target else "")


def link(rest: httpx.Client, collection: str, source: str, target: str, **body) -> dict:
    answer = rest.post(url(collection, source), json={"target_id": target, **body})
    assert answer.status_code == 201, answer.text
    return answer.json()["data"]


def edges(rest: httpx.Client, collection: str, record_id: str, **params) -> list[dict]:
    answer = rest.get(url(collection, record_id), params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def ends(found: list[dict]) -> list[tuple[str, str, str]]:
    return [(e["source_id"], e["target_id"], e["direction"]) for e in found]


# --- REST ------------------------------------------------------------------------


def test_create_list_patch_delete(rest: httpx.Client, people: str) -> None:
    created = link(rest, people, "a", "b", properties={"since": 2020, "close": True})
    assert created.pop("created_at").endswith("+00:00")
    assert created == {
        "rel": "follows",
        "source_collection": people, "source_id": "a",
        "target_collection": people, "target_id": "b",
        "direction": "out", "properties": {"since": 2020, "close": True},
    }  # fmt: skip
    assert ends(edges(rest, people, "a")) == [("a", "b", "out")]
    assert edges(rest, people, "a")[0]["properties"] == {"since": 2020, "close": True}

    patched = rest.patch(
        url(people, "a", target="b"), json={"properties": {"close": False, "via": "x"}}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["data"]["properties"] == {"since": 2020, "close": False, "via": "x"}
    assert edges(rest, people, "a")[0]["properties"] == {"since": 2020, "close": False, "via": "x"}
    unchanged = rest.patch(url(people, "a", target="b"), json={"properties": {}}).json()["data"]
    assert unchanged == patched.json()["data"]

    deleted = rest.delete(url(people, "a", target="b"))
    assert deleted.json() == {"data": {"deleted": True}}
    assert edges(rest, people, "a") == []
    for again in (
        rest.delete(url(people, "a", target="b")),
        rest.patch(url(people, "a", target="b"), json={"properties": {}}),
    ):
        assert again.status_code == 404 and error_code(again) == "NOT_FOUND"


def test_no_properties_is_an_empty_object(rest: httpx.Client, people: str) -> None:
    assert link(rest, people, "a", "b")["properties"] == {}


def test_directions_order_and_limit(rest: httpx.Client, people: str) -> None:
    link(rest, people, "a", "b")
    link(rest, people, "b", "a")
    link(rest, people, "a", "c")
    link(rest, people, "c", "a")
    assert rest.post(url(people, "a", "likes"), json={"target_id": "b"}).status_code == 201

    assert ends(edges(rest, people, "a")) == [("a", "b", "out"), ("a", "c", "out")]
    assert ends(edges(rest, people, "a", direction="out", limit=1)) == [("a", "b", "out")]
    assert ends(edges(rest, people, "a", direction="in")) == [("b", "a", "in"), ("c", "a", "in")]
    assert ends(edges(rest, people, "a", direction="both")) == [
        ("a", "b", "out"), ("b", "a", "in"), ("a", "c", "out"), ("c", "a", "in"),
    ]  # fmt: skip
    assert ends(edges(rest, people, "a", direction="both", limit=3)) == [
        ("a", "b", "out"), ("b", "a", "in"), ("a", "c", "out"),
    ]  # fmt: skip
    assert ends(edges(rest, people, "b", direction="in")) == [("a", "b", "in")]
    likes = rest.get(url(people, "b", "likes"), params={"direction": "in"}).json()["data"]
    assert ends(likes) == [("a", "b", "in")]


def test_an_edge_to_itself_is_both_out_and_in(rest: httpx.Client, people: str) -> None:
    link(rest, people, "a", "a")
    assert ends(edges(rest, people, "a", direction="both")) == [("a", "a", "in"), ("a", "a", "out")]


def test_edges_to_another_collection(rest: httpx.Client, people: str, name: str) -> None:
    places = new_collection(rest, name + "_places", ["p"])
    created = link(rest, people, "a", "p", target_collection=places, properties={"rating": 5})
    assert (created["target_collection"], created["target_id"]) == (places, "p")
    seen_from_place = rest.get(url(places, "p"), params={"direction": "in"}).json()["data"]
    assert ends(seen_from_place) == [("a", "p", "in")]
    assert seen_from_place[0]["source_collection"] == people

    where = {"target_collection": places}
    patched = rest.patch(url(people, "a", target="p"), params=where, json={"properties": {"n": 1}})
    assert patched.json()["data"]["properties"] == {"rating": 5, "n": 1}
    # Without target_collection, an update or delete names the one edge to `p` there is.
    patched = rest.patch(url(people, "a", target="p"), json={"properties": {"m": 2}})
    assert patched.json()["data"]["properties"] == {"rating": 5, "n": 1, "m": 2}
    assert rest.delete(url(people, "a", target="p")).status_code == 200
    assert edges(rest, places, "p", direction="in") == []
    assert rest.delete(url(people, "a", target="p")).status_code == 404

    # Edges to a `p` in two collections: naming neither is ambiguous and changes nothing.
    shops = new_collection(rest, name + "_shops", ["p"])
    link(rest, people, "a", "p", target_collection=places)
    link(rest, people, "a", "p", target_collection=shops)
    ambiguous = rest.delete(url(people, "a", target="p"))
    assert ambiguous.status_code == 400 and "target_collection" in ambiguous.text
    assert len(edges(rest, places, "p", direction="in")) == 1
    assert rest.delete(url(people, "a", target="p"), params={"target_collection": shops}).is_success
    assert rest.delete(url(people, "a", target="p")).status_code == 200
    assert edges(rest, places, "p", direction="in") == []


def test_ids_with_any_character_in_paths(rest: httpx.Client, people: str) -> None:
    odd = "x y/z?%é"
    assert rest.post(f"/api/v1/{people}", json={"id": odd, "name": "odd"}).status_code == 201
    link(rest, people, odd, "a")
    assert ends(edges(rest, people, "a", direction="in")) == [(odd, "a", "in")]
    link(rest, people, "a", odd)
    assert rest.delete(url(people, "a", target=odd)).status_code == 200
    assert ends(edges(rest, people, odd)) == [(odd, "a", "out")]


def test_the_same_edge_twice_is_409(rest: httpx.Client, people: str) -> None:
    link(rest, people, "a", "b", properties={"w": 1})
    again = rest.post(url(people, "a"), json={"target_id": "b", "properties": {"w": 2}})
    assert again.status_code == 409 and error_code(again) == "CONFLICT"
    assert [e["properties"] for e in edges(rest, people, "a")] == [{"w": 1}]
    link(rest, people, "b", "a")  # the other way round is another edge
    assert rest.post(url(people, "a", "likes"), json={"target_id": "b"}).status_code == 201


NONE = "c_nonexistent_collection"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("post", ("nobody",), {"json": {"target_id": "b"}}, 404, "NOT_FOUND"),
        ("post", ("gone",), {"json": {"target_id": "b"}}, 404, "NOT_FOUND"),
        ("post", ("a",), {"json": {"target_id": "nobody"}}, 400, "VALIDATION_ERROR"),
        ("post", ("a",), {"json": {"target_id": "gone"}}, 400, "VALIDATION_ERROR"),
        ("post", ("a",), {"json": {"target_id": "b", "target_collection": NONE}}, 404, "NOT_FOUND"),
        ("post", ("a", "1st"), {"json": {"target_id": "b"}}, 400, "BAD_REQUEST"),
        ("post", ("a", "has-dash"), {"json": {"target_id": "b"}}, 400, "BAD_REQUEST"),
        ("post", ("a", "x" * 64), {"json": {"target_id": "b"}}, 400, "BAD_REQUEST"),
        ("post", ("a",), {"json": {"target_id": "b", "properties": [1]}}, 400, "BAD_REQUEST"),
        ("post", ("a",), {"json": {"target_id": "b", "properties": "x"}}, 400, "BAD_REQUEST"),
        ("post", ("a",), {"json": {"target_id": None, "properties": None}}, 400, "BAD_REQUEST"),
        (
            "post",
            ("a",),
            {"json": {"target_id": "c", "properties": {"s": "\0"}}},
            400,
            "BAD_REQUEST",
        ),
        ("post", ("a",), {"json": {}}, 400, "BAD_REQUEST"),
        ("post", ("a",), {"json": {"target_id": 7}}, 400, "BAD_REQUEST"),
        ("post", ("a",), {"json": {"target_id": "c", "weight": 1}}, 400, "BAD_REQUEST"),
        ("post", ("a",), {"content": b"{"}, 400, "BAD_REQUEST"),
        ("get", ("a",), {"params": {"direction": "sideways"}}, 400, "BAD_REQUEST"),
        ("get", ("a",), {"params": {"direction": ""}}, 400, "BAD_REQUEST"),
        ("get", ("a",), {"params": {"limit": 0}}, 400, "BAD_REQUEST"),
        ("get", ("a",), {"params": {"limit": 1001}}, 400, "BAD_REQUEST"),
        ("get", ("a",), {"params": {"limit": "many"}}, 400, "BAD_REQUEST"),
        ("get", ("nobody",), {}, 404, "NOT_FOUND"),
        ("get", ("gone",), {}, 404, "NOT_FOUND"),
        ("patch", ("a", "follows", "c"), {"json": {"properties": {"x": 1}}}, 404, "NOT_FOUND"),
        ("patch", ("a", "follows", "b"), {"json": {"properties": [1]}}, 400, "BAD_REQUEST"),
        ("patch", ("a", "follows", "b"), {"json": {}}, 400, "BAD_REQUEST"),
        ("patch", ("a", "follows", "b"), {"json": {"properties": {}, "x": 1}}, 400, "BAD_REQUEST"),
        (
            "patch",
            ("a", "follows", "b"),
            {"json": {"properties": {}}, "params": {"target_collection": NONE}},
            404,
            "NOT_FOUND",
        ),
        ("delete", ("a", "follows", "c"), {}, 404, "NOT_FOUND"),
        (
            "delete",
            ("a", "follows", "b"),
            {"params": {"target_collection": NONE}},
            404,
            "NOT_FOUND",
        ),
        ("delete", ("a", "bad-rel", "b"), {}, 400, "BAD_REQUEST"),
    ],
)
def test_refusals_change_nothing(
    rest: httpx.Client, people: str, method, path, kwargs, status, code
) -> None:
    link(rest, people, "a", "b", properties={"w": 1})
    link(rest, people, "c", "a")
    before = edges(rest, people, "a", direction="both")
    answer = rest.request(method.upper(), url(people, *path), **kwargs)
    assert answer.status_code == status, answer.text
    assert error_code(answer) == code
    if code == "VALIDATION_ERROR":
        assert [d["field"] for d in answer.json()["error"]["details"]] == ["target_id"]
    assert edges(rest, people, "a", direction="both") == before


def test_an_unknown_source_collection_is_404(rest: httpx.Client) -> None:
    for answer in (
        rest.post(url(NONE, "a"), json={"target_id": "b"}),
        rest.get(url(NONE, "a")),
        rest.patch(url(NONE, "a", target="b"), json={"properties": {}}),
        rest.delete(url(NONE, "a", target="b")),
    ):
        assert answer.status_code == 404 and error_code(answer) == "NOT_FOUND"


def test_soft_deleting_a_record_removes_its_edges(rest: httpx.Client, people: str) -> None:
    link(rest, people, "a", "b")
    link(rest, people, "b", "a")
    link(rest, people, "c", "b")
    link(rest, people, "a", "c")
    assert rest.delete(f"/api/v1/{people}/b").status_code == 200
    assert ends(edges(rest, people, "a", direction="both")) == [("a", "c", "out")]
    assert edges(rest, people, "c") == []
    assert rest.get(url(people, "b")).status_code == 404
    # A record made again under the same id starts with no edges.
    assert rest.put(f"/api/v1/{people}/b", json={"name": "B"}).status_code == 201
    assert edges(rest, people, "b", direction="both") == []


def test_deleting_by_filter_and_by_batch_removes_edges(rest: httpx.Client, people: str) -> None:
    for source, target in (("a", "b"), ("b", "c"), ("c", "a")):
        link(rest, people, source, target)
    by_filter = rest.delete(f"/api/v1/{people}", params={"filter[name]": "B"})
    assert by_filter.status_code == 200 and by_filter.json()["data"]["deleted"] == 1
    assert ends(edges(rest, people, "a", direction="both")) == [("c", "a", "in")]
    assert edges(rest, people, "c") == [
        edges(rest, people, "a", direction="in")[0] | {"direction": "out"}
    ]

    link(rest, people, "a", "c")
    batch = rest.request("DELETE", f"/api/v1/{people}/batch", json={"ids": ["c"]})
    assert batch.status_code == 200, batch.text
    assert edges(rest, people, "a", direction="both") == []


def test_dropping_a_collection_removes_edges_into_it(
    rest: httpx.Client, people: str, name: str
) -> None:
    places = new_collection(rest, name + "_places", ["p"])
    link(rest, people, "a", "p", target_collection=places)
    assert (
        rest.post(
            url(places, "p"), json={"target_id": "a", "target_collection": people}
        ).status_code
        == 201
    )
    link(rest, people, "a", "b")
    assert rest.delete(f"/api/v1/schema/collections/{places}").status_code in (200, 204)
    assert ends(edges(rest, people, "a", direction="both")) == [("a", "b", "out")]
    # A new collection of the same name starts with no edges.
    new_collection(rest, places, ["p"])
    assert edges(rest, places, "p", direction="both") == []


# --- gRPC --------------------------------------------------------------------------


def rpc(client: Client, method: str, **fields):
    request = getattr(pb, method + "Request")(**fields)
    return client.call(getattr(client.records, method), request)


def refused(client: Client, method: str, **fields) -> PlinthError:
    with pytest.raises(PlinthError) as caught:
        rpc(client, method, **fields)
    return caught.value


def test_grpc_create_relationship(grpc_client: Client, people: str) -> None:
    edge = {"collection": people, "id": "a", "rel": "knows", "target_id": "b"}
    created = orjson.loads(
        rpc(grpc_client, "CreateRelationship", **edge, properties=b'{"n": 1}').edge
    )
    assert (created["direction"], created["properties"]) == ("out", {"n": 1})

    duplicate = refused(grpc_client, "CreateRelationship", **edge)
    assert (duplicate.code, duplicate.grpc_code) == ("CONFLICT", grpc.StatusCode.ALREADY_EXISTS)
    missing = refused(grpc_client, "CreateRelationship", **edge | {"id": "nobody"})
    assert (missing.code, missing.grpc_code) == ("NOT_FOUND", grpc.StatusCode.NOT_FOUND)
    dead = refused(grpc_client, "CreateRelationship", **edge | {"target_id": "gone"})
    assert (dead.code, dead.grpc_code) == ("VALIDATION_ERROR", grpc.StatusCode.INVALID_ARGUMENT)
    assert [d["field"] for d in dead.details] == ["target_id"]
    for bad in ({"rel": "no space"}, {"properties": b"[]"}, {"properties": b"\xff"}, {"id": ""}):
        assert refused(grpc_client, "CreateRelationship", **edge | bad).code == "BAD_REQUEST"
    listed = rpc(grpc_client, "ListRelationships", collection=people, id="a", rel="knows")
    assert orjson.loads(listed.edges) == [created]


def test_grpc_list_relationships(grpc_client: Client, people: str) -> None:
    for source, target in (("a", "b"), ("c", "a")):
        rpc(
            grpc_client,
            "CreateRelationship",
            collection=people,
            id=source,
            rel="r",
            target_id=target,
        )
    asked = {"collection": people, "id": "a", "rel": "r"}

    def listed(**fields) -> list[tuple[str, str, str]]:
        return ends(orjson.loads(rpc(grpc_client, "ListRelationships", **asked, **fields).edges))

    assert listed() == [("a", "b", "out")]  # unspecified is out
    assert listed(direction=pb.EDGE_DIRECTION_IN) == [("c", "a", "in")]
    assert listed(direction=pb.EDGE_DIRECTION_BOTH) == [("a", "b", "out"), ("c", "a", "in")]
    assert listed(direction=pb.EDGE_DIRECTION_BOTH, page_size=1) == [("a", "b", "out")]
    for bad in ({"page_size": 1001}, {"page_size": -1}, {"direction": 9}, {"rel": ""}):
        error = refused(grpc_client, "ListRelationships", **asked | bad)
        assert (error.code, error.grpc_code) == ("BAD_REQUEST", grpc.StatusCode.INVALID_ARGUMENT)
    assert refused(grpc_client, "ListRelationships", **asked | {"id": "gone"}).code == "NOT_FOUND"


def test_grpc_update_relationship(grpc_client: Client, people: str) -> None:
    edge = {"collection": people, "id": "a", "rel": "r", "target_id": "b"}
    rpc(grpc_client, "CreateRelationship", **edge, properties=b'{"a": 1, "b": {"x": 1}}')
    updated = rpc(grpc_client, "UpdateRelationship", **edge, properties=b'{"b": {"y": 2}, "c": 3}')
    assert orjson.loads(updated.edge)["properties"] == {"a": 1, "b": {"y": 2}, "c": 3}
    missing = refused(grpc_client, "UpdateRelationship", **edge | {"target_id": "c"})
    assert (missing.code, missing.grpc_code) == ("NOT_FOUND", grpc.StatusCode.NOT_FOUND)
    assert refused(grpc_client, "UpdateRelationship", **edge, properties=b"1").code == "BAD_REQUEST"


def test_grpc_delete_relationship(grpc_client: Client, people: str) -> None:
    edge = {"collection": people, "id": "a", "rel": "r", "target_id": "b"}
    rpc(grpc_client, "CreateRelationship", **edge)
    assert rpc(grpc_client, "DeleteRelationship", **edge).deleted is True
    again = refused(grpc_client, "DeleteRelationship", **edge)
    assert (again.code, again.grpc_code) == ("NOT_FOUND", grpc.StatusCode.NOT_FOUND)
    unknown = refused(grpc_client, "DeleteRelationship", **edge | {"target_collection": NONE})
    assert unknown.code == "NOT_FOUND"


# --- spaces made before edges ------------------------------------------------------


def test_migration_gives_older_spaces_their_edges(
    stack: Stack, rest: httpx.Client, people: str
) -> None:
    """Migration 4 replayed on the space with its edges objects removed, as in a space
    made before edges existed (in a transaction that is rolled back)."""
    link(rest, people, "a", "b")
    with psycopg.connect(stack.database_url()) as conn:
        (schema,) = conn.execute(
            "SELECT s.schema_name FROM plinth.collections c"
            " JOIN plinth.spaces s ON s.id = c.space_id WHERE c.name = %s",
            [people],
        ).fetchone()
        table = sql.Identifier(schema, "$edges")
        # CASCADE: the trigger of every collection table goes with the function.
        conn.execute(
            sql.SQL("DROP FUNCTION {} CASCADE").format(sql.Identifier(schema, "$edges_drop"))
        )
        conn.execute(sql.SQL("DROP TABLE {}").format(table))
        conn.execute(MIGRATIONS[3])
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (rel, source_collection, source_id, target_collection, target_id)"
                " VALUES ('r', %(c)s, 'a', %(c)s, 'b'), ('r', %(c)s, 'c', %(c)s, 'b')"
            ).format(table),
            {"c": people},
        )
        conn.execute(
            sql.SQL("UPDATE {} SET deleted_at = now() WHERE id = 'a'").format(
                sql.Identifier(schema, people)
            )
        )
        assert conn.execute(sql.SQL("SELECT source_id FROM {}").format(table)).fetchall() == [
            ("c",)
        ]
        conn.rollback()
    assert ends(edges(rest, people, "a")) == [("a", "b", "out")]
