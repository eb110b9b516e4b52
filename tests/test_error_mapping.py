"""Core's error statuses as the client reads them, over grpcio-testing's scripted channel:
the one contract between core's encoding and every client's decoding."""

from __future__ import annotations

import threading

import grpc
import grpc_testing
import pytest
from grpc_status import rpc_status
from plinth import PlinthError
from plinth.v1 import record_service_pb2 as pb
from plinth.v1 import record_service_pb2_grpc

from core.errors import MAX_MESSAGE, Code, CoreError, Violation, from_database

GET_RECORD = pb.DESCRIPTOR.services_by_name["RecordService"].methods_by_name["GetRecord"]


def answer_with(error: CoreError | None, code: grpc.StatusCode, details: str = "") -> PlinthError:
    """Call GetRecord on a scripted channel that fails the way core would."""
    channel = grpc_testing.channel(
        pb.DESCRIPTOR.services_by_name.values(), grpc_testing.strict_real_time()
    )
    stub = record_service_pb2_grpc.RecordServiceStub(channel)
    caught: list[grpc.RpcError] = []

    def call() -> None:
        try:
            stub.GetRecord(pb.GetRecordRequest(collection="c", id="x"))
        except grpc.RpcError as exc:
            caught.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    _, _, rpc = channel.take_unary_unary(GET_RECORD)
    trailing = rpc_status.to_status(error.to_status()).trailing_metadata if error else ()
    rpc.terminate(None, trailing, code, details)
    thread.join(5)
    return PlinthError.from_rpc(caught[0])


@pytest.mark.parametrize(
    "code, status",
    [
        (Code.VALIDATION_ERROR, grpc.StatusCode.INVALID_ARGUMENT),
        (Code.BAD_REQUEST, grpc.StatusCode.INVALID_ARGUMENT),
        (Code.UNAUTHENTICATED, grpc.StatusCode.UNAUTHENTICATED),
        (Code.FORBIDDEN, grpc.StatusCode.PERMISSION_DENIED),
        (Code.NOT_FOUND, grpc.StatusCode.NOT_FOUND),
        (Code.CONFLICT, grpc.StatusCode.ALREADY_EXISTS),
        (Code.PAYLOAD_TOO_LARGE, grpc.StatusCode.RESOURCE_EXHAUSTED),
        (Code.RATE_LIMITED, grpc.StatusCode.RESOURCE_EXHAUSTED),
        (Code.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE),
    ],
)
def test_every_code_survives_the_trip(code: Code, status: grpc.StatusCode) -> None:
    received = answer_with(CoreError(code, "what went wrong"), status, "what went wrong")
    assert received.code == code.value  # two codes may share a status; the reason tells them apart
    assert received.grpc_code == status and received.message == "what went wrong"


def test_violations_and_permission_arrive_as_details() -> None:
    error = CoreError(
        Code.VALIDATION_ERROR, "bad", [Violation("price", "must be at least 0")], "products.update"
    )
    received = answer_with(error, grpc.StatusCode.INVALID_ARGUMENT, "bad")
    assert {"field": "price", "reason": "must be at least 0"} in received.details
    assert {"permission": "products.update"} in received.details


def test_a_stale_version_is_aborted_but_keeps_its_reason() -> None:
    error = CoreError(Code.PRECONDITION_FAILED, "stale", status=grpc.StatusCode.ABORTED)
    assert error.to_status().code == grpc.StatusCode.ABORTED.value[0]
    assert answer_with(error, grpc.StatusCode.ABORTED, "stale").code == "PRECONDITION_FAILED"


def test_huge_input_in_messages_is_clipped_to_fit_metadata() -> None:
    error = CoreError(
        Code.BAD_REQUEST, "unknown field " + "x" * 20_000, [Violation("y" * 5000, "z")]
    )
    status = error.to_status()
    assert len(status.message) == MAX_MESSAGE
    assert len(status.SerializeToString()) < 4096


def test_transport_failures_read_plainly() -> None:
    received = answer_with(
        None, grpc.StatusCode.UNAVAILABLE, "failed to connect to ipv4:10.1.2.3:50051"
    )
    assert received.code == "UNAVAILABLE" and "10.1.2.3" not in received.message


def test_database_errors_map_by_sqlstate() -> None:
    import psycopg.errors as pg

    assert from_database(pg.UniqueViolation()).code is Code.CONFLICT
    assert from_database(pg.InvalidRegularExpression()).code is Code.BAD_REQUEST
    assert from_database(pg.AdminShutdown()).code is Code.UNAVAILABLE
    assert from_database(pg.DivisionByZero()) is None  # not the caller's: an internal error
