"""Write throughput in one run: single creates and 1000-item batches through REST, bulk
upserts through REST, an NDJSON import through gRPC (ImportRecords), and the baseline of
psycopg COPY of the same rows into a plain table. Prints rows/s and the ratios
batch/single and import/COPY.

    .venv/bin/python -m bench.writes [--rows 1000000] [--singles 3000] [--batches 20]
                                     [--concurrency 16] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
from collections.abc import AsyncIterator

import grpc
import orjson
import psycopg
from plinth.v1 import query_pb2
from plinth.v1 import record_service_pb2 as pb
from plinth.v1 import record_service_pb2_grpc as rpc

from bench.load import HttpConnection, create_collection
from bench.stack import Stack, running_stack

COLLECTION = "bench_writes"
FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "price", "type": "float"},
    {"name": "qty", "type": "integer"},
]
CHUNK_BYTES = 256 * 1024
_ids = itertools.count()


def row(i: int) -> dict:
    return {"name": f"item {i}", "price": i * 0.25, "qty": i % 1000}


def head(stack: Stack, method: str, path: str) -> bytes:
    """A request head for the raw client (httpx costs the client milliseconds per
    request; see bench/README.md)."""
    return (
        f"{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {stack.admin_key}"
        "\r\nContent-Type: application/json\r\n"
    ).encode()


async def singles(stack: Stack, total: int, concurrency: int) -> float:
    request = head(stack, "POST", f"/api/v1/{COLLECTION}")

    async def worker(share: int) -> None:
        connection = await HttpConnection.open(stack.rest_url)
        try:
            for _ in range(share):
                status, body = await connection.request(request, orjson.dumps(row(next(_ids))))
                assert status == 201, body
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(total // concurrency) for _ in range(concurrency)))
    return (total // concurrency * concurrency) / (time.perf_counter() - started)


async def batches(stack: Stack, count: int, size: int, path: str, ids: bool) -> float:
    request = head(stack, "POST", f"/api/v1/{COLLECTION}/{path}")
    connection = await HttpConnection.open(stack.rest_url)
    started = time.perf_counter()
    for n in range(count):
        items = []
        for _ in range(size):
            i = next(_ids)
            item = row(i)
            if ids:  # half of each bulk updates records written by the batch before it
                item["id"] = f"bulk-{i - size // 2 if n and i % 2 else i}"
            items.append(item)
        status, body = await connection.request(request, orjson.dumps({"items": items}))
        assert status == 200, body[:500]
    elapsed = time.perf_counter() - started
    connection.close()
    return count * size / elapsed


def ndjson_chunks(rows: int) -> list[bytes]:
    chunks, buffer = [], bytearray()
    for i in range(rows):
        buffer += orjson.dumps(row(i)) + b"\n"
        if len(buffer) >= CHUNK_BYTES:
            chunks.append(bytes(buffer))
            buffer.clear()
    if buffer:
        chunks.append(bytes(buffer))
    return chunks


async def grpc_import(stack: Stack, chunks: list[bytes], rows: int) -> float:
    async def messages() -> AsyncIterator[pb.ImportRecordsRequest]:
        yield pb.ImportRecordsRequest(
            collection=COLLECTION + "_import", format=query_pb2.EXPORT_FORMAT_NDJSON
        )
        for chunk in chunks:
            yield pb.ImportRecordsRequest(chunk=chunk)

    options = [("grpc.max_send_message_length", 64 * 2**20)]
    async with grpc.aio.insecure_channel(stack.core_addr, options=options) as channel:
        stub = rpc.RecordServiceStub(channel)
        started = time.perf_counter()
        answer = await stub.ImportRecords(
            messages(), metadata=[("x-api-key", stack.admin_key)], timeout=3600
        )
        elapsed = time.perf_counter() - started
    assert answer.inserted == rows and answer.committed, answer
    return rows / elapsed


async def raw_copy(stack: Stack, rows: int) -> float:
    async with await psycopg.AsyncConnection.connect(stack.database_url()) as conn:
        await conn.execute("CREATE TABLE bench_raw (id text, name text, price float8, qty bigint)")
        await conn.commit()
        started = time.perf_counter()
        async with (
            conn.cursor() as cur,
            cur.copy("COPY bench_raw (name, price, qty) FROM STDIN") as copy,
        ):
            for i in range(rows):
                r = row(i)
                await copy.write_row((r["name"], r["price"], r["qty"]))
        await conn.commit()
        return rows / (time.perf_counter() - started)


async def checkpoint(stack: Stack) -> None:
    async with await psycopg.AsyncConnection.connect(stack.database_url(), autocommit=True) as c:
        await c.execute("CHECKPOINT")


async def main(args: argparse.Namespace) -> dict:
    with running_stack() as stack:
        for name in (COLLECTION, COLLECTION + "_import"):
            await create_collection(stack, {"name": name, "fields": FIELDS})
        results = {"rows": args.rows}
        print("single creates…", file=sys.stderr)
        results["single_create_rows_s"] = await singles(stack, args.singles, args.concurrency)
        print("batches…", file=sys.stderr)
        results["batch_1000_rows_s"] = await batches(stack, args.batches, 1000, "batch", False)
        print("bulk upserts…", file=sys.stderr)
        results["bulk_500_rows_s"] = await batches(stack, args.batches, 500, "bulk", True)
        chunks = ndjson_chunks(args.rows)
        # The baseline first, and a checkpoint before each load, so neither pays for
        # the other's WAL.
        await checkpoint(stack)
        print("raw COPY…", file=sys.stderr)
        results["raw_copy_rows_s"] = await raw_copy(stack, args.rows)
        await checkpoint(stack)
        print(f"import of {args.rows} rows…", file=sys.stderr)
        results["import_rows_s"] = await grpc_import(stack, chunks, args.rows)
    results["batch_vs_single"] = results["batch_1000_rows_s"] / results["single_create_rows_s"]
    results["bulk_vs_single"] = results["bulk_500_rows_s"] / results["single_create_rows_s"]
    results["import_vs_copy"] = results["import_rows_s"] / results["raw_copy_rows_s"]
    return results


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to import and COPY")
    parser.add_argument("--singles", type=int, default=3000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(main(args))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for key, value in results.items():
        print(f"{key:24} {value:14,.2f}" if isinstance(value, float) else f"{key:24} {value:14,}")
    print(
        f"\ntargets: batch/single >= 20 (got {results['batch_vs_single']:.1f}),"
        f" import/COPY >= 0.3 (got {results['import_vs_copy']:.2f})"
    )


if __name__ == "__main__":
    cli()
