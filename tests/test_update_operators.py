"""PATCH with update operators: typed against the schema, executed in SQL, race-free."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from plinth import Client, PlinthError

FIELDS = [
    {"name": "title", "type": "string", "required": True},
    {"name": "hits", "type": "integer", "default": 0},
    {"name": "score", "type": "float"},
    {"name": "tags", "type": "string[]"},
    {"name": "nums", "type": "integer[]"},
    {"name": "note", "type": "text"},
]


@pytest.fixture
def posts(rest: httpx.Client, name: str) -> str:
    answer = rest.post("/api/v1/schema/collections", json={"name": name, "fields": FIELDS})
    assert answer.status_code == 201, answer.text
    return name


@pytest.fixture
def post(rest: httpx.Client, posts: str) -> str:
    body = {"title": "a", "tags": ["x", "y", "x"], "note": "n", "score": 1.5}
    return rest.post(f"/api/v1/{posts}", json=body).json()["data"]["id"]


def test_each_operator(rest: httpx.Client, posts: str, post: str) -> None:
    url = f"/api/v1/{posts}/{post}"
    before = rest.get(url)
    body = {
        "$inc": {"hits": 2, "score": -0.5},
        "$push": {"tags": "z", "nums": {"$each": [1, 2]}},
        "$unset": ["note"],
        "$set": {"title": "b"},
    }
    answer = rest.patch(url, json=body)
    assert answer.status_code == 200, answer.text
    record = answer.json()["data"]
    assert (record["hits"], record["score"], record["title"]) == (2, 1.0, "b")
    assert record["tags"] == ["x", "y", "x", "z"] and record["nums"] == [1, 2]
    assert record["note"] is None
    assert answer.headers["ETag"] == '"2"' and before.headers["ETag"] == '"1"'
    assert record["updated_at"] > before.json()["data"]["updated_at"]
    answer = rest.patch(url, json={"$pull": {"tags": "x", "nums": {"$in": [2, 5]}}, "score": 4})
    record = answer.json()["data"]
    assert record["tags"] == ["y", "z"] and record["nums"] == [1] and record["score"] == 4.0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"$inc": {"title": 1}}, "title"),
        ({"$inc": {"hits": "1"}}, "hits"),
        ({"$inc": {"hits": 1.5}}, "hits"),
        ({"$push": {"title": "x"}}, "title"),
        ({"$push": {"nums": "x"}}, "nums"),
        ({"$pull": {"score": 1}}, "score"),
        ({"$unset": {"title": True}}, "title"),
        ({"$set": {"hits": "many"}}, "hits"),
        ({"$inc": {"nope": 1}}, "nope"),
    ],
)
def test_operator_type_errors(rest: httpx.Client, posts: str, post: str, body, field) -> None:
    answer = rest.patch(f"/api/v1/{posts}/{post}", json=body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"][0]["field"] == field
    assert rest.get(f"/api/v1/{posts}/{post}").headers["ETag"] == '"1"'


@pytest.mark.parametrize(
    "body",
    [{"$rename": {"a": "b"}}, {"$inc": 3}, {"$inc": {"hits": 1}, "hits": 2}],
)
def test_malformed_operators_are_bad_requests(rest, posts: str, post: str, body) -> None:
    answer = rest.patch(f"/api/v1/{posts}/{post}", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "BAD_REQUEST"


def test_concurrent_inc_adds_up_exactly(stack, posts: str, post: str) -> None:
    clients, each = 16, 25

    def work(_: int) -> None:
        with httpx.Client(base_url=stack.rest_url, headers=stack.headers(), timeout=60) as c:
            for _ in range(each):
                answer = c.patch(f"/api/v1/{posts}/{post}", json={"$inc": {"hits": 1}})
                assert answer.status_code == 200, answer.text

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(work, range(clients)))
    with httpx.Client(base_url=stack.rest_url, headers=stack.headers()) as c:
        record = c.get(f"/api/v1/{posts}/{post}")
    assert record.json()["data"]["hits"] == clients * each
    assert record.headers["ETag"] == f'"{1 + clients * each}"'


def test_if_match_races_have_one_winner(stack, posts: str, post: str) -> None:
    def attempt(i: int) -> int:
        with httpx.Client(base_url=stack.rest_url, headers=stack.headers(), timeout=60) as c:
            answer = c.patch(
                f"/api/v1/{posts}/{post}",
                json={"$inc": {"hits": 1}, "title": f"w{i}"},
                headers={"If-Match": '"1"'},
            )
            return answer.status_code

    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(attempt, range(12)))
    assert sorted(statuses) == [200] + [412] * 11
    with httpx.Client(base_url=stack.rest_url, headers=stack.headers()) as c:
        assert c.get(f"/api/v1/{posts}/{post}").json()["data"]["hits"] == 1


def test_operators_over_grpc(grpc_client: Client, posts: str, post: str) -> None:
    record = grpc_client.update(posts, post, {"$inc": {"hits": 5}, "$push": {"tags": ["q"]}})
    assert record["hits"] == 5 and record["tags"][-1] == "q"
    with pytest.raises(PlinthError) as caught:
        grpc_client.update(posts, post, {"$push": {"hits": 1}})
    assert caught.value.code == "VALIDATION_ERROR"
    assert caught.value.details[0]["field"] == "hits"


def test_flexible_keys_take_set_and_unset(rest: httpx.Client, name: str) -> None:
    fields = [{"name": "n", "type": "integer"}]
    body = {"name": name, "mode": "flexible", "fields": fields}
    assert rest.post("/api/v1/schema/collections", json=body).status_code == 201
    created = rest.post(f"/api/v1/{name}", json={"n": 1, "color": "red", "size": 3}).json()
    url = f"/api/v1/{name}/{created['data']['id']}"
    answer = rest.patch(
        url, json={"$unset": ["color"], "$set": {"shape": "round"}, "$inc": {"n": 1}}
    )
    assert answer.status_code == 200, answer.text
    record = answer.json()["data"]
    assert "color" not in record and record["shape"] == "round" and record["size"] == 3
    assert record["n"] == 2
    answer = rest.patch(url, json={"$inc": {"size": 1}})
    assert answer.status_code == 400 and answer.json()["error"]["details"][0]["field"] == "size"
