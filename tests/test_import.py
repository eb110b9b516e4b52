"""Streamed import (REST, gRPC, CLI) and all-or-nothing writes when core is killed."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import grpc
import httpx
import orjson
import psycopg
import pytest
from pgserver.utils import PostmasterInfo
from plinth import Client, PlinthError
from plinth.v1 import query_pb2, record_service_pb2_grpc
from plinth.v1 import record_service_pb2 as rpb
from psycopg import sql

from core.launch import ROOT, free_port
from tests.conftest import Stack

FIELDS = [
    {"name": "sku", "type": "string", "required": True},
    {"name": "price", "type": "float", "min": 0},
    {"name": "qty", "type": "integer", "default": 7},
    {"name": "tags", "type": "string[]"},
]
PLINTH = [sys.executable, "-c", "from core.cli import main; main()"]


@pytest.fixture
def items(rest: httpx.Client, name: str) -> str:
    answer = rest.post("/api/v1/schema/collections", json={"name": name, "fields": FIELDS})
    assert answer.status_code == 201, answer.text
    return name


def count(rest: httpx.Client, name: str) -> int:
    return rest.get(f"/api/v1/{name}/count").json()["data"]["count"]


def ndjson(rows: list[dict]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def pieces(data: bytes, size: int = 7) -> Iterator[bytes]:
    """A chunked upload cut mid-line."""
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_ndjson_import_inserts_and_updates(rest: httpx.Client, items: str) -> None:
    rest.post(f"/api/v1/{items}", json={"id": "old", "sku": "before", "qty": 1})
    rows = [{"id": "old", "sku": "after"}, {"sku": "n1", "tags": ["a"]}, {"sku": "n2", "price": 2}]
    answer = rest.post(f"/api/v1/{items}/import?format=ndjson", content=pieces(ndjson(rows)))
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert (data["inserted"], data["updated"], data["rejected"]) == (2, 1, 0)
    assert data["committed"] is True and data["rejected_rows"] == []
    old = rest.get(f"/api/v1/{items}/old")
    assert old.json()["data"]["sku"] == "after" and old.json()["data"]["qty"] == 7  # default
    assert old.headers["ETag"] == '"2"'
    listed = rest.get(f"/api/v1/{items}?sort=sku").json()["data"]
    assert [(r["sku"], r["tags"]) for r in listed] == [("after", None), ("n1", ["a"]), ("n2", None)]


def test_invalid_rows_all_or_nothing_and_skip_invalid(rest: httpx.Client, items: str) -> None:
    body = ndjson([{"sku": "a"}, {"sku": "b", "price": -1}]) + b"{oops\n" + ndjson([{"x": 1}])
    answer = rest.post(f"/api/v1/{items}/import", content=pieces(body))
    assert answer.status_code == 400, answer.text
    data = answer.json()["data"]
    assert answer.json()["error"]["code"] == "VALIDATION_ERROR"
    assert data["committed"] is False and data["rejected"] == 3
    assert [(r["line"], r["error"]["code"]) for r in data["rejected_rows"]] == [
        (2, "VALIDATION_ERROR"),
        (3, "BAD_REQUEST"),
        (4, "VALIDATION_ERROR"),
    ]
    assert data["rejected_rows"][0]["error"]["field"] == "price"
    assert count(rest, items) == 0
    answer = rest.post(f"/api/v1/{items}/import?mode=skip_invalid", content=pieces(body))
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert (data["inserted"], data["rejected"], data["committed"]) == (1, 3, True)
    assert count(rest, items) == 1


def test_csv_and_json_round_trip(rest: httpx.Client, items: str, name: str) -> None:
    rows = [{"sku": 'say "hi",\nthere', "price": 1.5, "tags": ["x", "y"]}, {"sku": "b", "qty": 3}]
    rest.post(f"/api/v1/{items}/batch", json={"items": rows})
    exported = rest.get(f"/api/v1/{items}/export?format=csv&sort=sku").content
    copy = name + "_copy"
    rest.post("/api/v1/schema/collections", json={"name": copy, "fields": FIELDS})
    answer = rest.post(f"/api/v1/{copy}/import?format=csv", content=pieces(exported, 5))
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["updated"] == 0 and answer.json()["data"]["inserted"] == 2
    original = rest.get(f"/api/v1/{items}?sort=sku&fields=id,sku,price,qty,tags").json()["data"]
    copied = rest.get(f"/api/v1/{copy}?sort=sku&fields=id,sku,price,qty,tags").json()["data"]
    assert copied == original
    as_json = orjson.dumps([{"sku": "j1"}, {"sku": "j2", "qty": "x"}])
    answer = rest.post(f"/api/v1/{copy}/import?format=json&mode=skip_invalid", content=as_json)
    assert answer.json()["data"]["rejected_rows"][0]["line"] == 2
    assert count(rest, copy) == 3


def stub(addr: str) -> tuple[grpc.Channel, record_service_pb2_grpc.RecordServiceStub]:
    channel = grpc.insecure_channel(addr)
    return channel, record_service_pb2_grpc.RecordServiceStub(channel)


def test_import_over_grpc(stack: Stack, grpc_client: Client, items: str) -> None:
    messages = [
        rpb.ImportRecordsRequest(
            collection=items, format=query_pb2.EXPORT_FORMAT_NDJSON, chunk=b'{"sku": "a"}\n'
        ),
        rpb.ImportRecordsRequest(chunk=b'{"sku": "b", "qty"'),
        rpb.ImportRecordsRequest(chunk=b": 2}"),
    ]
    metadata = [("x-api-key", stack.admin_key)]
    channel, records = stub(stack.core_addr)
    with channel:
        answer = records.ImportRecords(iter(messages), metadata=metadata)
        assert (answer.inserted, answer.rejected, answer.committed) == (2, 0, True)
        assert sorted(r["qty"] for r in grpc_client.list(items)) == [2, 7]
        with pytest.raises(grpc.RpcError) as caught:
            records.ImportRecords(
                iter([rpb.ImportRecordsRequest(collection="no_such_thing")]), metadata=metadata
            )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_cli_import_and_export(stack: Stack, items: str, tmp_path) -> None:
    source = tmp_path / "rows.ndjson"
    source.write_bytes(ndjson([{"sku": f"s{i}", "qty": i} for i in range(50)]))
    env = {**stack.env}
    imported = subprocess.run(
        [*PLINTH, "import", str(source), "--collection", items],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert imported.returncode == 0, imported.stderr
    assert orjson.loads(imported.stdout)["inserted"] == 50
    assert b"100.0%" in imported.stderr  # the progress line
    exported = subprocess.run(
        [*PLINTH, "export", items], cwd=ROOT, env=env, capture_output=True, timeout=60
    )
    assert exported.returncode == 0, exported.stderr
    lines = exported.stdout.splitlines()
    assert sorted(orjson.loads(line)["qty"] for line in lines) == list(range(50))


# --- a core killed mid-write leaves all or nothing ------------------------------------------


@pytest.fixture
def doomed_core(stack: Stack):
    """A second core process on its own port, to be killed with SIGKILL."""
    addr = f"127.0.0.1:{free_port()}"
    process = stack.start_core("core-doomed", addr=addr)
    yield addr, process
    process.stop(signal.SIGKILL)


def test_kill_during_import_leaves_nothing(stack: Stack, items: str, doomed_core) -> None:
    addr, process = doomed_core
    sent = threading.Event()
    failure: list[BaseException] = []

    def slow() -> Iterator[rpb.ImportRecordsRequest]:
        yield rpb.ImportRecordsRequest(collection=items, format=query_pb2.EXPORT_FORMAT_NDJSON)
        for i in range(10_000):
            yield rpb.ImportRecordsRequest(chunk=ndjson([{"sku": f"k{i}"}] * 50))
            if i == 20:
                sent.set()
            time.sleep(0.01)

    def upload() -> None:
        channel, records = stub(addr)
        with channel:
            try:
                records.ImportRecords(slow(), metadata=[("x-api-key", stack.admin_key)])
            except grpc.RpcError as exc:  # the connection drops: expected
                failure.append(exc)

    worker = threading.Thread(target=upload)
    worker.start()
    assert sent.wait(60)
    process.stop(signal.SIGKILL)
    worker.join(60)
    assert failure and failure[0].code() == grpc.StatusCode.UNAVAILABLE
    with Client(stack.core_addr, api_key=stack.admin_key) as client:
        assert client.count(items) == 0


@pytest.mark.parametrize("delay", [0.0, 0.02, 0.05, 0.1])
def test_kill_during_batch_leaves_all_or_nothing(stack: Stack, items: str, delay: float) -> None:
    addr = f"127.0.0.1:{free_port()}"
    process = stack.start_core(f"core-batch-{delay}", addr=addr)
    batch = orjson.dumps([{"sku": f"b{i}", "tags": ["t"] * 50} for i in range(1000)])
    outcome: list[object] = []

    def send() -> None:
        with Client(addr, api_key=stack.admin_key, timeout=60) as client:
            try:
                request = rpb.BatchCreateRecordsRequest(collection=items, items=batch)
                outcome.append(client.call(client.records.BatchCreateRecords, request))
            except PlinthError as exc:
                outcome.append(exc)

    worker = threading.Thread(target=send)
    worker.start()
    time.sleep(delay)
    process.stop(signal.SIGKILL)
    worker.join(60)
    with Client(stack.core_addr, api_key=stack.admin_key) as client:
        written = client.count(items)
    assert written in (0, 1000)
    if isinstance(outcome[0], PlinthError):  # no answer: then nothing may be half-written
        assert written in (0, 1000)
    else:
        assert written == 1000


def test_kill_while_a_batch_waits_on_a_lock_writes_nothing(
    stack: Stack, rest: httpx.Client, name: str, doomed_core
) -> None:
    """Deterministic mid-batch kill: another transaction holds an uncommitted unique value
    that the batch's 500th item also takes, so the batch (its first 499 rows already
    inserted) waits inside its transaction while its core process is SIGKILLed."""
    fields = [{"name": "sku", "type": "string", "unique": True}]
    assert rest.post("/api/v1/schema/collections", json={"name": name, "fields": fields})
    info = PostmasterInfo.read_from_pgdata(stack.data_dir / "pg")
    addr, process = doomed_core
    with (
        psycopg.connect(info.get_uri()) as blocker,
        psycopg.connect(info.get_uri(), autocommit=True) as watcher,  # fresh activity reads
    ):
        (schema,) = blocker.execute(
            "SELECT schemaname FROM pg_tables WHERE tablename = %s", (name,)
        ).fetchone()
        blocker.execute(
            sql.SQL("INSERT INTO {} (sku) VALUES ('held')").format(sql.Identifier(schema, name))
        )
        batch = [{"sku": f"s{i}"} for i in range(1000)]
        batch[499] = {"sku": "held"}
        outcome: list[BaseException] = []

        def send() -> None:
            with Client(addr, api_key=stack.admin_key, timeout=60) as client:
                request = rpb.BatchCreateRecordsRequest(collection=name, items=orjson.dumps(batch))
                try:
                    client.call(client.records.BatchCreateRecords, request)
                except PlinthError as exc:
                    outcome.append(exc)

        worker = threading.Thread(target=send)
        worker.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until the batch waits on our row's lock
            waiting = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE 'INSERT INTO%%unnest%%'"
            ).fetchone()[0]
            if waiting:
                break
            time.sleep(0.05)
        assert waiting, "the batch never waited on the held row"
        process.stop(signal.SIGKILL)
        worker.join(60)
        blocker.rollback()
    assert outcome and outcome[0].code == "UNAVAILABLE"
    # The orphaned backend finishes its statement, cannot answer, and never commits.
    time.sleep(1)
    assert count(rest, name) == 0
