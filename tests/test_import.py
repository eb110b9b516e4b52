"""Streamed import (REST, gRPC, CLI) and all-or-nothing writes when core is killed."""

from __future__ import annotations

import csv
import io
import signal
import subprocess
import sys
import threading
import time
import uuid
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

from core.records.importer import new_id
from launcher.processes import ROOT, free_port
from tests.conftest import Stack

FIELDS = [
    {"name": "sku", "type": "string", "required": True},
    {"name": "price", "type": "float", "min": 0},
    {"name": "qty", "type": "integer", "default": 7},
    {"name": "tags", "type": "string[]"},
]
PLINTH = [sys.executable, "-c", "from launcher.cli import main; main()"]


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


def test_a_json_import_must_be_one_well_formed_array(rest: httpx.Client, items: str) -> None:
    for body, message in ((b'[{"sku": "a"},', "malformed JSON: "), (b'{"sku": "a"}', "one array")):
        answer = rest.post(f"/api/v1/{items}/import?format=json", content=body)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "BAD_REQUEST"
        assert message in answer.json()["error"]["message"]
    assert count(rest, items) == 0


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


# --- rows with and without ids: the direct COPY, the held rows and the staging switch --------

SMALL_BUFFER = 3  # rows with an id the second core holds before it switches to staging


def test_new_ids_are_uuid7() -> None:
    before = time.time_ns() // 1_000_000
    first = [new_id() for _ in range(3000)]
    time.sleep(0.003)
    later = [new_id() for _ in range(3000)]
    after = time.time_ns() // 1_000_000
    assert len(set(first + later)) == 6000
    for text in first + later:
        parsed = uuid.UUID(text)
        assert str(parsed) == text  # lower-case hex, 8-4-4-4-12
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert before <= parsed.int >> 80 <= after  # 48-bit Unix milliseconds
    assert max(first) < min(later)  # time ordered across milliseconds
    # The random bits vary everywhere they are (12 after the version, 62 after the variant).
    assert len({t[15:18] for t in first}) > 1000 and {t[19] for t in first} == set("89ab")


@pytest.fixture(scope="module")
def small_buffer_core(stack: Stack) -> Iterator[str]:
    """A second core that holds at most SMALL_BUFFER rows with an id (then stages)."""
    addr = f"127.0.0.1:{free_port()}"
    process = stack.start_core(
        "core-small-buffer", addr=addr, PLINTH_IMPORT_ID_BUFFER=str(SMALL_BUFFER)
    )
    yield addr
    process.stop()


@pytest.fixture(params=["default", "small_buffer"])
def core_addr(request: pytest.FixtureRequest, stack: Stack) -> str:
    """Imports through the default core (held rows merged at the end) and through one that
    switches to the staging table after SMALL_BUFFER rows with an id."""
    if request.param == "default":
        return stack.core_addr
    return request.getfixturevalue("small_buffer_core")


def grpc_import(
    stack: Stack,
    addr: str,
    collection: str,
    body: bytes,
    *,
    skip_invalid: bool = False,
    format: int = query_pb2.EXPORT_FORMAT_NDJSON,
) -> rpb.ImportRecordsResponse:
    mode = rpb.IMPORT_MODE_SKIP_INVALID if skip_invalid else rpb.IMPORT_MODE_UNSPECIFIED
    messages = [rpb.ImportRecordsRequest(collection=collection, format=format, mode=mode)]
    messages += [rpb.ImportRecordsRequest(chunk=piece) for piece in pieces(body, 40)]
    channel, records = stub(addr)
    with channel:
        return records.ImportRecords(iter(messages), metadata=[("x-api-key", stack.admin_key)])


def encode(rows: list[dict], format: int) -> bytes:
    if format == query_pb2.EXPORT_FORMAT_JSON:
        return orjson.dumps(rows)
    if format == query_pb2.EXPORT_FORMAT_CSV:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["id", "sku", "price", "qty", "tags"])
        for r in rows:
            tags = orjson.dumps(r["tags"]).decode() if r.get("tags") is not None else ""
            values = [r.get("id"), r.get("sku"), r.get("price"), r.get("qty"), tags]
            writer.writerow(["" if v is None else v for v in values])
        return out.getvalue().encode()
    return ndjson(rows)


def listed(rest: httpx.Client, name: str) -> list[dict]:
    fields = "id,sku,price,qty,tags"
    return rest.get(f"/api/v1/{name}?sort=sku&limit=1000&fields={fields}").json()["data"]


@pytest.mark.parametrize(
    "format",
    [query_pb2.EXPORT_FORMAT_NDJSON, query_pb2.EXPORT_FORMAT_JSON, query_pb2.EXPORT_FORMAT_CSV],
    ids=["ndjson", "json", "csv"],
)
@pytest.mark.parametrize("order", ["ids_first", "ids_last", "interleaved"])
def test_rows_with_and_without_ids_in_any_order(
    stack: Stack, rest: httpx.Client, items: str, core_addr: str, order: str, format: int
) -> None:
    rest.post(f"/api/v1/{items}", json={"id": "e1", "sku": "old-1", "qty": 1})
    rest.post(f"/api/v1/{items}", json={"id": "e2", "sku": "old-2", "qty": 2})
    assert rest.delete(f"/api/v1/{items}/e2").status_code in (200, 204)  # revived below
    with_ids = [{"id": f"n{i}", "sku": f"id-{i}", "price": i} for i in range(5)]
    with_ids += [{"id": "e1", "sku": "new-1"}, {"id": "e2", "sku": "new-2", "tags": ["t"]}]
    without = [{"sku": f"free-{i}", "qty": i, "tags": ["a", "b"]} for i in range(6)]
    if order == "ids_first":
        rows = with_ids + without
    elif order == "ids_last":
        rows = without + with_ids
    else:
        rows = [r for pair in zip(with_ids, without, strict=False) for r in pair] + with_ids[6:]
    answer = grpc_import(stack, core_addr, items, encode(rows, format), format=format)
    assert (answer.inserted, answer.updated, answer.rejected) == (11, 2, 0)
    assert answer.committed and orjson.loads(answer.rejected_rows) == []
    got = {r["sku"]: r for r in listed(rest, items)}
    assert sorted(got) == sorted(r["sku"] for r in rows)
    qty = None if format == query_pb2.EXPORT_FORMAT_CSV else 7  # an empty cell is null
    for r in with_ids:
        expected = {"price": None, "qty": qty, "tags": None, **r}  # omitted: default or null
        assert {k: got[r["sku"]][k] for k in expected} == expected
    for r in without:
        made = got[r["sku"]]
        assert uuid.UUID(made["id"]).version == 7
        assert (made["qty"], made["tags"], made["price"]) == (r["qty"], ["a", "b"], None)
    assert rest.get(f"/api/v1/{items}/e1").headers["ETag"] == '"2"'
    assert rest.get(f"/api/v1/{items}/e2").json()["data"]["sku"] == "new-2"


def test_duplicates_and_rejected_rows_on_both_sides_of_the_switch(
    stack: Stack, rest: httpx.Client, items: str, small_buffer_core: str
) -> None:
    rows: list = [
        {"sku": "free-0"},
        {"id": "a", "sku": "a"},
        {"sku": "bad-0", "price": -1},  # line 3: rejected while direct
        {"id": "a", "sku": "a-again"},  # line 4: duplicate while held
        {"id": "b", "sku": "b"},
        {"id": "c", "sku": "c"},
        {"sku": "free-1"},
        {"id": "d", "sku": "d"},  # the fourth row with an id: the switch to staging
        {"sku": "free-2"},
        {"id": "b", "sku": "b-again"},  # line 10: duplicate after the switch
        {"id": "e", "qty": "x"},  # line 11: rejected after the switch
        {"id": "e", "sku": "e"},  # a rejected row's id is not taken
    ]
    body = ndjson(rows)
    answer = grpc_import(stack, small_buffer_core, items, body)
    assert (answer.committed, answer.inserted, answer.updated, answer.rejected) == (
        False,
        0,
        0,
        4,
    )
    report = orjson.loads(answer.rejected_rows)
    assert [(r["line"], r["error"]["code"]) for r in report] == [
        (3, "VALIDATION_ERROR"),
        (4, "BAD_REQUEST"),
        (10, "BAD_REQUEST"),
        (11, "VALIDATION_ERROR"),
    ]
    assert report[1]["error"]["message"] == "id 'a' appears more than once"
    assert count(rest, items) == 0  # the rows COPYed into the table went back too
    answer = grpc_import(stack, small_buffer_core, items, body, skip_invalid=True)
    assert (answer.committed, answer.inserted, answer.updated, answer.rejected) == (
        True,
        8,
        0,
        4,
    )
    assert orjson.loads(answer.rejected_rows) == report
    assert sorted(r["sku"] for r in listed(rest, items)) == [
        "a",
        "b",
        "c",
        "d",
        "e",
        "free-0",
        "free-1",
        "free-2",
    ]


def test_rejected_rows_in_a_direct_import(rest: httpx.Client, items: str) -> None:
    """Only rows without an id: one direct COPY, rolled back when a row is rejected."""
    body = ndjson([{"sku": f"s{i}", "qty": i} for i in range(300)] + [{"sku": 5}])
    answer = rest.post(f"/api/v1/{items}/import", content=pieces(body, 1000))
    assert answer.status_code == 400, answer.text
    data = answer.json()["data"]
    assert (data["inserted"], data["rejected"], data["committed"]) == (0, 1, False)
    assert data["rejected_rows"][0]["line"] == 301
    assert count(rest, items) == 0
    answer = rest.post(f"/api/v1/{items}/import?mode=skip_invalid", content=pieces(body, 1000))
    data = answer.json()["data"]
    assert (data["inserted"], data["updated"], data["rejected"]) == (300, 0, 1)
    assert count(rest, items) == 300


UNIQUE_FIELDS = [
    {"name": "sku", "type": "string", "unique": True},
    {"name": "n", "type": "integer"},
]
TAKEN = "a record with this value already exists: field sku"


@pytest.fixture
def uniques(rest: httpx.Client, name: str) -> str:
    answer = rest.post("/api/v1/schema/collections", json={"name": name, "fields": UNIQUE_FIELDS})
    assert answer.status_code == 201, answer.text
    assert rest.post(f"/api/v1/{name}", json={"id": "e1", "sku": "taken"}).status_code == 201
    return name


@pytest.mark.parametrize("mode", ["all_or_nothing", "skip_invalid"])
def test_unique_violation_in_a_row_without_id(rest: httpx.Client, uniques: str, mode: str):
    """409 as when the rows were merged by one INSERT; nothing is written."""
    for rows in (
        [{"sku": "ok"}, {"sku": "taken"}],  # an existing record's value
        [{"sku": "twice"}, {"sku": "twice"}],  # two new rows
        [{"id": "z", "sku": "mine"}, {"sku": "mine"}],  # a row with an id and one without
        [{"sku": "taken"}, {"sku": "fine", "n": "x"}],  # and a rejected row
    ):
        answer = rest.post(f"/api/v1/{uniques}/import?mode={mode}", content=ndjson(rows))
        if rows[-1].get("n") == "x" and mode == "all_or_nothing":  # rejected rows answer first
            assert answer.status_code == 400, answer.text
            data = answer.json()["data"]
            assert (data["committed"], data["rejected"]) == (False, 1)
            assert data["rejected_rows"][0]["error"]["field"] == "n"
        else:
            assert answer.status_code == 409, answer.text
            assert answer.json()["error"] == {
                "code": "CONFLICT",
                "message": TAKEN,
                "details": [],
                "request_id": answer.json()["error"]["request_id"],
            }
    assert count(rest, uniques) == 1


@pytest.mark.parametrize("skip_invalid", [False, True])
def test_unique_violation_found_at_the_switch(
    stack: Stack, rest: httpx.Client, uniques: str, small_buffer_core: str, skip_invalid: bool
) -> None:
    """The direct COPY fails when it ends at the switch to staging: the rest of the file is
    still checked, so rejected rows answer first in all_or_nothing mode."""
    rows: list = [{"sku": "taken"}, *({"id": f"i{i}", "sku": f"i{i}"} for i in range(5))]
    rows.append({"sku": "late", "n": "x"})  # line 7, after the switch
    if skip_invalid:
        with pytest.raises(grpc.RpcError) as caught:
            grpc_import(stack, small_buffer_core, uniques, ndjson(rows), skip_invalid=True)
        assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
        assert caught.value.details() == TAKEN
    else:
        answer = grpc_import(stack, small_buffer_core, uniques, ndjson(rows))
        assert (answer.committed, answer.rejected) == (False, 1)
        assert orjson.loads(answer.rejected_rows)[0]["line"] == 7
    assert count(rest, uniques) == 1


@pytest.mark.parametrize("mode", ["all_or_nothing", "skip_invalid"])
def test_bad_relation_id_in_a_row_without_id(rest: httpx.Client, name: str, mode: str) -> None:
    """The relation's trigger refuses the row in the COPY as it did in the INSERT."""
    owners, pets = f"{name}_owners", f"{name}_pets"
    relation = {"type": "relation", "target": owners, "cardinality": "many_to_one"}
    for collection, fields in (
        (owners, [{"name": "label", "type": "string"}]),
        (pets, [{"name": "label", "type": "string"}, {"name": "owner", **relation}]),
    ):
        answer = rest.post(
            "/api/v1/schema/collections", json={"name": collection, "fields": fields}
        )
        assert answer.status_code == 201, answer.text
    rest.post(f"/api/v1/{owners}", json={"id": "o1", "label": "o"})
    rows = [{"label": "1", "owner": "o1"}, {"label": "2", "owner": "nope"}]
    answer = rest.post(f"/api/v1/{pets}/import?mode={mode}", content=ndjson(rows))
    assert answer.status_code == 400, answer.text
    reason = f"no record 'nope' in {owners!r}"
    assert answer.json()["error"]["code"] == "VALIDATION_ERROR"
    assert answer.json()["error"]["message"] == f"invalid record: owner: {reason}"
    assert answer.json()["error"]["details"] == [{"field": "owner", "reason": reason}]
    assert count(rest, pets) == 0
    answer = rest.post(f"/api/v1/{pets}/import?mode={mode}", content=ndjson(rows[:1]))
    assert answer.json()["data"]["inserted"] == 1
    assert rest.get(f"/api/v1/{pets}").json()["data"][0]["owner"] == "o1"


def test_every_field_type_imports_as_a_batch_writes_it(
    stack: Stack, rest: httpx.Client, name: str, small_buffer_core: str
) -> None:
    """The COPY is binary: each column's encoding, with and without ids (table and staging),
    in a strict and a flexible collection, against the same items written by a batch."""
    target = f"{name}_t"
    rest.post("/api/v1/schema/collections", json={"name": target, "fields": []})
    rest.post(f"/api/v1/{target}", json={"id": "t1"})
    fields = [
        {"name": "s", "type": "string"},
        {"name": "tx", "type": "text", "default": "dflt"},
        {"name": "i", "type": "integer", "min": 0},
        {"name": "f", "type": "float"},
        {"name": "d", "type": "decimal"},
        {"name": "b", "type": "boolean"},
        {"name": "dt", "type": "datetime"},
        {"name": "day", "type": "date"},
        {"name": "u", "type": "uuid"},
        {"name": "j", "type": "json"},
        {"name": "e", "type": "enum", "values": ["x", "y"]},
        {"name": "ss", "type": "string[]"},
        {"name": "ii", "type": "integer[]"},
        {"name": "ff", "type": "float[]"},
        {"name": "file", "type": "file"},
        {"name": "rel", "type": "relation", "target": target, "cardinality": "many_to_one"},
    ]
    full = {
        "s": "tab\there, new\nline \\ é ✓",
        "i": 2**62,
        "f": -1234.5678,
        "d": "12345678901234567890.000000001",
        "b": False,
        "dt": "2024-05-01T12:00:00.123456+02:00",
        "day": "1999-12-31",
        "u": "12345678-1234-5678-1234-567812345678",
        "j": {"a": [1, "two", None, {"b": True}], "c": 1.25},
        "e": "y",
        "ss": ["", "a,b", 'q"uote'],
        "ii": [-(2**63), 0, 2**63 - 1],
        "ff": [0.1, -0.0, 3],
        "file": "files/x.png",
        "rel": "t1",
    }
    nulls = {"s": "nulls", "tx": None, **{k: None for k in full if k != "s"}}
    items = [full, nulls, {"s": "defaults"}]
    for mode in ("strict", "flexible"):
        imported, written = f"{name}_{mode}_i", f"{name}_{mode}_w"
        for collection in (imported, written):
            spec = {"name": collection, "mode": mode, "fields": fields}
            answer = rest.post("/api/v1/schema/collections", json=spec)
            assert answer.status_code == 201, answer.text
        extra = {"more": {"k": [1, 2]}} if mode == "flexible" else {}
        rows = [{**r, **extra} for r in items]
        rows += [{**r, **extra, "id": f"id-{n}", "s": f"{r['s']} id"} for n, r in enumerate(items)]
        answer = rest.post(f"/api/v1/{written}/batch", json={"items": rows})
        assert answer.status_code == 200 and not answer.json()["data"]["failed"], answer.text
        answer = grpc_import(stack, small_buffer_core, imported, ndjson(rows))
        assert (answer.inserted, answer.rejected, answer.committed) == (6, 0, True)

        def records(collection: str) -> list[dict]:
            data = rest.get(f"/api/v1/{collection}?sort=s&limit=100").json()["data"]
            system = ("id", "created_at", "updated_at")
            return [{k: v for k, v in r.items() if k not in system} for r in data]

        assert records(imported) == records(written)
        got = {r["s"]: r for r in records(imported)}
        for key in ("i", "f", "b", "j", "e", "ss", "ii", "file", "rel"):
            assert got[full["s"]][key] == got[full["s"] + " id"][key] == full[key]
        assert got["defaults"]["tx"] == got["defaults id"]["tx"] == "dflt"
        assert got["nulls"]["tx"] is got["nulls id"]["tx"] is None
        if mode == "flexible":
            assert got["nulls id"]["more"] == {"k": [1, 2]}
