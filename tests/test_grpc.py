"""The gRPC contract directly: generated stubs and the hand-written client."""

from __future__ import annotations

import grpc
import orjson
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status
from plinth import Client, PlinthError
from plinth.v1 import query_pb2, record_service_pb2_grpc
from plinth.v1 import record_service_pb2 as rpb

FIELDS = [
    {"name": "name", "type": "string", "required": True},
    {"name": "price", "type": "float", "min": 0},
    {"name": "qty", "type": "integer"},
]


@pytest.fixture
def items(grpc_client: Client, name: str) -> str:
    grpc_client.create_collection(name, FIELDS)
    return name


def test_client_crud_round_trip(grpc_client: Client, items: str) -> None:
    created = grpc_client.create(items, {"name": "Lamp", "price": 3.5, "qty": 2})
    assert grpc_client.get(items, created["id"]) == created
    assert grpc_client.get(items, created["id"], fields=["qty"]) == {"id": created["id"], "qty": 2}
    grpc_client.create(items, {"name": "Desk", "price": 100, "qty": 1})
    assert [r["name"] for r in grpc_client.list(items, sort=["-price"])] == ["Desk", "Lamp"]
    assert [r["name"] for r in grpc_client.list(items, {"qty": 1})] == ["Desk"]
    assert grpc_client.count(items) == 2
    assert grpc_client.update(items, created["id"], {"qty": 9})["qty"] == 9
    replaced = grpc_client.replace(items, created["id"], {"name": "Lamp 2"})
    assert replaced["qty"] is None and replaced["price"] is None
    grpc_client.delete(items, created["id"])
    with pytest.raises(PlinthError) as caught:
        grpc_client.get(items, created["id"])
    assert caught.value.code == "NOT_FOUND"
    assert caught.value.grpc_code == grpc.StatusCode.NOT_FOUND


def test_validation_error_carries_rich_status(stack, items: str) -> None:
    """Polyglot clients read google.rpc.Status: ErrorInfo.reason and BadRequest violations."""
    with grpc.insecure_channel(stack.core_addr) as channel:
        stub = record_service_pb2_grpc.RecordServiceStub(channel)
        request = rpb.CreateRecordRequest(
            collection=items, data=orjson.dumps({"price": -1, "x": 1})
        )
        with pytest.raises(grpc.RpcError) as caught:
            stub.CreateRecord(request, metadata=[("x-api-key", stack.admin_key)])
    error = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(error)
    info, bad = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
    assert status.details[0].Unpack(info) and info.reason == "VALIDATION_ERROR"
    assert info.domain == "plinth"
    assert status.details[1].Unpack(bad)
    assert {v.field for v in bad.field_violations} == {"name", "price", "x"}


def test_filters_and_paging_on_the_wire(stack, grpc_client: Client, items: str) -> None:
    for i in range(12):
        grpc_client.create(items, {"name": f"n{i:02d}", "price": i, "qty": i % 3})
    with grpc.insecure_channel(stack.core_addr) as channel:
        stub = record_service_pb2_grpc.RecordServiceStub(channel)
        condition = query_pb2.Condition(field="price", operator=query_pb2.OPERATOR_GTE)
        condition.value.number_value = 5
        request = rpb.ListRecordsRequest(
            collection=items,
            filter=query_pb2.Filter(condition=condition),
            sort=[query_pb2.SortField(field="price", descending=True)],
            page_size=3,
            offset=1,
            include_total=True,
        )
        answer = stub.ListRecords(
            request, metadata=[("authorization", f"Bearer {stack.admin_key}")]
        )
    assert answer.total == 7 and answer.page_size == 3
    assert [r["price"] for r in orjson.loads(answer.records)] == [10, 9, 8]


def test_credentials_are_required(stack, items: str) -> None:
    for key in (None, "plk_unknown", "not-even-a-key"):
        with Client(stack.core_addr, api_key=key) as client, pytest.raises(PlinthError) as caught:
            client.list(items)
        assert caught.value.code == "UNAUTHENTICATED"
        assert caught.value.grpc_code == grpc.StatusCode.UNAUTHENTICATED


def test_health_and_reflection_need_no_credentials(stack) -> None:
    with grpc.insecure_channel(stack.core_addr) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        answer = next(iter(stub.ServerReflectionInfo(iter([request]))))
    services = {s.name for s in answer.list_services_response.service}
    assert {"plinth.v1.RecordService", "plinth.v1.SchemaService"} <= services
