"""Undoing a soft delete: POST /{collection}/{id}/restore, RestoreRecord, restore<Type>."""

from __future__ import annotations

import httpx
import psycopg
import pytest
from plinth import Client, PlinthError
from psycopg import sql

from tests.conftest import Stack
from tests.test_relations import create, relation
from tests.test_rest_schema import error_code

FIELDS = [
    {"name": "title", "type": "string", "required": True},
    {"name": "sku", "type": "string", "unique": True},
]


@pytest.fixture
def notes(rest: httpx.Client, name: str) -> str:
    create(rest, name, FIELDS)
    return name


def test_restore_brings_the_record_back(rest: httpx.Client, notes: str) -> None:
    record = rest.post(f"/api/v1/{notes}", json={"title": "A", "sku": "a-1"}).json()["data"]
    url = f"/api/v1/{notes}/{record['id']}"
    assert rest.delete(url).status_code == 200
    assert rest.get(url).status_code == 404
    restored = rest.post(f"{url}/restore")
    assert restored.status_code == 200, restored.text
    assert restored.headers["ETag"] == '"3"'  # created 1, deleted 2, restored 3
    data = restored.json()["data"]
    assert {k: data[k] for k in ("id", "title", "sku", "created_at")} == {
        k: record[k] for k in ("id", "title", "sku", "created_at")
    }
    assert rest.get(url).json()["data"] == data
    assert any(r["id"] == record["id"] for r in rest.get(f"/api/v1/{notes}").json()["data"])


def test_restore_refusals_change_nothing(rest: httpx.Client, stack: Stack, notes: str) -> None:
    live = rest.post(f"/api/v1/{notes}", json={"title": "live"}).json()["data"]
    not_deleted = rest.post(f"/api/v1/{notes}/{live['id']}/restore")
    assert not_deleted.status_code == 409 and error_code(not_deleted) == "CONFLICT"
    assert rest.get(f"/api/v1/{notes}/{live['id']}").headers["ETag"] == '"1"'

    unknown = rest.post(f"/api/v1/{notes}/nobody/restore")
    assert unknown.status_code == 404 and error_code(unknown) == "NOT_FOUND"
    assert rest.post("/api/v1/no_such_collection/x/restore").status_code == 404

    # Deleted longer ago than the retention: gone for good, as far as restore goes.
    old = rest.post(f"/api/v1/{notes}", json={"title": "old"}).json()["data"]
    rest.delete(f"/api/v1/{notes}/{old['id']}")
    with psycopg.connect(stack.database_url(), autocommit=True) as conn:
        (schema,) = conn.execute(
            "SELECT s.schema_name FROM plinth.spaces s JOIN plinth.collections c"
            " ON c.space_id = s.id WHERE c.name = %s",
            [notes],
        ).fetchone()
        conn.execute(
            sql.SQL("UPDATE {} SET deleted_at = now() - interval '31 days' WHERE id = %s").format(
                sql.Identifier(schema, notes)
            ),
            [old["id"]],
        )
    expired = rest.post(f"/api/v1/{notes}/{old['id']}/restore")
    assert expired.status_code == 404 and "30 days" in expired.json()["error"]["message"]

    # A unique value taken while the record was deleted: 409, and it stays deleted.
    first = rest.post(f"/api/v1/{notes}", json={"title": "1", "sku": "dup"}).json()["data"]
    rest.delete(f"/api/v1/{notes}/{first['id']}")
    rest.post(f"/api/v1/{notes}", json={"title": "2", "sku": "dup"})
    taken = rest.post(f"/api/v1/{notes}/{first['id']}/restore")
    assert taken.status_code == 409 and error_code(taken) == "CONFLICT"
    assert rest.get(f"/api/v1/{notes}/{first['id']}").status_code == 404


def test_restore_refuses_to_revive_a_reference_to_a_deleted_record(
    rest: httpx.Client, name: str
) -> None:
    authors, posts = name + "_authors", name + "_posts"
    create(rest, authors, [{"name": "name", "type": "string"}])
    author_field = relation(authors, "many_to_one", on_delete="set_null")
    create(rest, posts, [{"name": "title", "type": "string"}, {"name": "author", **author_field}])
    for who in ("ann", "bob"):
        rest.post(f"/api/v1/{authors}", json={"id": who, "name": who})
    rest.post(f"/api/v1/{posts}", json={"id": "p1", "title": "t", "author": "ann"})
    rest.post(f"/api/v1/{posts}", json={"id": "p2", "title": "t", "author": "bob"})
    rest.delete(f"/api/v1/{posts}/p1")
    rest.delete(f"/api/v1/{authors}/ann")  # p1 is deleted already: it keeps naming ann
    refused = rest.post(f"/api/v1/{posts}/p1/restore")
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["details"][0]["field"] == "author"
    assert rest.get(f"/api/v1/{posts}/p1").status_code == 404
    assert rest.post(f"/api/v1/{authors}/ann/restore").status_code == 200
    assert rest.post(f"/api/v1/{posts}/p1/restore").json()["data"]["author"] == "ann"
    # A restored author does not bring back what deleting it changed (bob's post is set null).
    rest.delete(f"/api/v1/{authors}/bob")
    rest.post(f"/api/v1/{authors}/bob/restore")
    assert rest.get(f"/api/v1/{posts}/p2").json()["data"]["author"] is None


def test_restore_over_grpc_and_graphql(
    rest: httpx.Client, gql: httpx.Client, grpc_client: Client, notes: str
) -> None:
    record = grpc_client.create(notes, {"title": "g"})
    grpc_client.delete(notes, record["id"])
    assert grpc_client.restore(notes, record["id"])["title"] == "g"
    with pytest.raises(PlinthError) as refused:
        grpc_client.restore(notes, record["id"])
    assert refused.value.code == "CONFLICT"

    grpc_client.delete(notes, record["id"])
    type_name = "".join(part.capitalize() for part in notes.split("_"))
    query = f'mutation {{ restore{type_name}(id: "{record["id"]}") {{ id title }} }}'
    answer = gql.post("/graphql", json={"query": query}).json()
    assert answer["data"] == {f"restore{type_name}": {"id": record["id"], "title": "g"}}
