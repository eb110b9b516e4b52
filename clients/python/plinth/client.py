"""A small client for Plinth core over gRPC: AsyncClient and its blocking twin Client.

Every call goes through AsyncClient.call, which adds the credentials and
request id, applies the timeout and turns gRPC errors into PlinthError.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import grpc
import orjson
from google.protobuf import json_format

from plinth.auth import AuthCalls
from plinth.coalesce import Coalescer
from plinth.errors import PlinthError
from plinth.files import download_url_to_dict, file_to_dict, upload_url_to_dict
from plinth.jobs import job_to_dict
from plinth.v1 import (
    auth_service_pb2_grpc,
    file_service_pb2,
    file_service_pb2_grpc,
    kv_service_pb2,
    kv_service_pb2_grpc,
    query_pb2,
    queue_service_pb2,
    queue_service_pb2_grpc,
    record_service_pb2,
    record_service_pb2_grpc,
    schema_service_pb2,
    schema_service_pb2_grpc,
)
from plinth.values import to_value
from plinth.wire import MAX_MESSAGE_BYTES

Metadata = Sequence[tuple[str, str]]

MAX_BATCH = 1000  # items per GetKeys / SetKeys / EnqueueBatch call
MAX_BATCH_BYTES = 4 * 1024 * 1024  # payload bytes per SetKeys / EnqueueBatch call
# Errors that refuse a whole batch call before anything is written: its items are then
# sent one by one, so each caller gets the answer its own item deserves.
REFUSALS = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.NOT_FOUND,
}

CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
]


def equality_filter(where: dict[str, Any] | None) -> query_pb2.Filter:
    """{"status": "active", "price": 10} -> all_of equality conditions."""
    conditions = []
    for field, value in (where or {}).items():
        condition = query_pb2.Condition(
            field=field, operator=query_pb2.OPERATOR_EQ, value=to_value(value)
        )
        conditions.append(query_pb2.Filter(condition=condition))
    if not conditions:
        return query_pb2.Filter()
    return query_pb2.Filter(all_of=query_pb2.FilterList(filters=conditions))


def sort_keys(sort: Sequence[str]) -> list[query_pb2.SortField]:
    """["-price", "name"] -> sort fields (a leading '-' sorts descending)."""
    return [
        query_pb2.SortField(field=key.lstrip("-"), descending=key.startswith("-"))
        for key in sort
        if key.strip("-")
    ]


def _credentials(metadata: Metadata) -> tuple[tuple[str, str], ...]:
    """Calls may share a batch call when these are equal (the request id aside)."""
    return tuple((k, v) for k, v in metadata if k != "x-request-id")


def _batch_metadata(credentials: Metadata, items: list[tuple[Any, Metadata]]) -> Metadata:
    """The shared credentials, and the first call's request id (for core's logs)."""
    first = [(k, v) for k, v in items[0][1] if k == "x-request-id"]
    return (*credentials, *first)


async def _batched(
    items: list[tuple[Any, Metadata]],
    one: Callable[[Any, Metadata], Awaitable[Any]],
    many: Callable[[], Awaitable[list[Any]]],
) -> list[Any]:
    """The outcomes of coalesced calls: a lone call goes as itself (`one`), more as one
    batch call (`many`); a batch refused as a whole (an item too large for one message,
    say) is sent again item by item, so only the bad item fails."""
    if len(items) == 1:
        return [await one(*items[0])]
    try:
        return await many()
    except PlinthError as error:
        if error.grpc_code not in REFUSALS:
            raise
        return await asyncio.gather(
            *(one(item, metadata) for item, metadata in items), return_exceptions=True
        )


class AsyncClient(AuthCalls):
    """`coalesce` (on by default): GetKey, SetKey and Enqueue calls made while one of the
    same kind is in flight go to core together, as one GetKeys, SetKeys or EnqueueBatch
    call (plinth.coalesce); each caller still gets exactly its own answer."""

    def __init__(
        self,
        target: str,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        channel: grpc.aio.Channel | None = None,
        coalesce: bool = True,
    ) -> None:
        self.channel = channel or grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)
        self.schema = schema_service_pb2_grpc.SchemaServiceStub(self.channel)
        self.records = record_service_pb2_grpc.RecordServiceStub(self.channel)
        self.kv = kv_service_pb2_grpc.KeyValueServiceStub(self.channel)
        self.queue = queue_service_pb2_grpc.QueueServiceStub(self.channel)
        self.files = file_service_pb2_grpc.FileServiceStub(self.channel)
        self.auth = auth_service_pb2_grpc.AuthServiceStub(self.channel)
        self._metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {api_key}"),) if api_key else ()
        )
        self._timeout = timeout
        self._coalesce = coalesce
        # Two lookups in flight: a cached read is cheap next to its round trip, so the
        # gateway and core keep each other busy (one batch at a time left both idle by turns).
        self._key_lookups = Coalescer(self._send_key_lookups, max_items=MAX_BATCH, in_flight=2)
        self._key_writes = Coalescer(
            self._send_key_writes,
            max_items=MAX_BATCH,
            max_bytes=MAX_BATCH_BYTES,
            size=lambda item: len(item[0].value),
        )
        self._enqueues = Coalescer(
            self._send_enqueues,
            max_items=MAX_BATCH,
            max_bytes=MAX_BATCH_BYTES,
            size=lambda item: len(item[0].payload),
        )

    async def call(self, method, request, *, metadata: Metadata = (), timeout: float | None = None):
        """Invoke one unary RPC; raises PlinthError."""
        try:
            return await method(
                request, metadata=self._metadata + tuple(metadata), timeout=timeout or self._timeout
            )
        except grpc.aio.AioRpcError as error:
            raise PlinthError.from_rpc(error) from None

    async def stream(
        self, method, request, *, metadata: Metadata = (), timeout: float | None = None
    ) -> AsyncIterator[Any]:
        """Iterate a server-streaming RPC; raises PlinthError (also mid-stream)."""
        call = method(
            request, metadata=self._metadata + tuple(metadata), timeout=timeout or self._timeout
        )
        try:
            async for message in call:
                yield message
        except grpc.aio.AioRpcError as error:
            raise PlinthError.from_rpc(error) from None
        finally:
            call.cancel()

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- schema ---

    async def create_collection(
        self, name: str, fields: list[dict[str, Any]], mode: str = "strict"
    ) -> dict[str, Any]:
        collection = json_format.ParseDict(
            {"name": name, "fields": fields, "mode": f"COLLECTION_MODE_{mode.upper()}"},
            schema_service_pb2.Collection(),
        )
        response = await self.call(
            self.schema.CreateCollection,
            schema_service_pb2.CreateCollectionRequest(collection=collection),
        )
        return json_format.MessageToDict(response.collection, preserving_proto_field_name=True)

    async def delete_collection(self, name: str) -> None:
        await self.call(
            self.schema.DeleteCollection, schema_service_pb2.DeleteCollectionRequest(name=name)
        )

    # --- records ---

    async def create(self, collection: str, data: dict[str, Any]) -> dict[str, Any]:
        request = record_service_pb2.CreateRecordRequest(
            collection=collection, data=orjson.dumps(data)
        )
        return orjson.loads((await self.call(self.records.CreateRecord, request)).record.json)

    async def get(
        self, collection: str, record_id: str, fields: Sequence[str] = ()
    ) -> dict[str, Any]:
        request = record_service_pb2.GetRecordRequest(
            collection=collection, id=record_id, fields=fields
        )
        return orjson.loads((await self.call(self.records.GetRecord, request)).record.json)

    async def list(
        self,
        collection: str,
        where: dict[str, Any] | None = None,
        *,
        sort: Sequence[str] = (),
        fields: Sequence[str] = (),
        limit: int = 0,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        request = record_service_pb2.ListRecordsRequest(
            collection=collection,
            filter=equality_filter(where),
            sort=sort_keys(sort),
            fields=fields,
            page_size=limit,
            offset=offset,
        )
        return orjson.loads((await self.call(self.records.ListRecords, request)).records)

    async def count(self, collection: str, where: dict[str, Any] | None = None) -> int:
        request = record_service_pb2.CountRecordsRequest(
            collection=collection, filter=equality_filter(where)
        )
        return (await self.call(self.records.CountRecords, request)).count

    async def update(self, collection: str, record_id: str, data: dict[str, Any]) -> dict[str, Any]:
        request = record_service_pb2.UpdateRecordRequest(
            collection=collection, id=record_id, data=orjson.dumps(data)
        )
        return orjson.loads((await self.call(self.records.UpdateRecord, request)).record.json)

    async def replace(
        self, collection: str, record_id: str, data: dict[str, Any]
    ) -> dict[str, Any]:
        request = record_service_pb2.ReplaceRecordRequest(
            collection=collection, id=record_id, data=orjson.dumps(data)
        )
        return orjson.loads((await self.call(self.records.ReplaceRecord, request)).record.json)

    async def delete(self, collection: str, record_id: str) -> None:
        request = record_service_pb2.DeleteRecordRequest(collection=collection, id=record_id)
        await self.call(self.records.DeleteRecord, request)

    async def restore(self, collection: str, record_id: str) -> dict[str, Any]:
        """Undo a soft delete (within the retention); the record as it is now live."""
        request = record_service_pb2.RestoreRecordRequest(collection=collection, id=record_id)
        return orjson.loads((await self.call(self.records.RestoreRecord, request)).record.json)

    # --- key-value ---

    async def kv_get(self, key: str, default: Any = None) -> Any:
        """The value of `key`, or `default` when it is absent or expired."""
        try:
            entry = await self.key_entry(key)
        except PlinthError as error:
            if error.code == "NOT_FOUND":
                return default
            raise
        return orjson.loads(entry.value)

    async def key_entry(self, key: str, *, metadata: Metadata = ()) -> kv_service_pb2.KeyValueEntry:
        """GetKey's entry (PlinthError NOT_FOUND when there is none), coalesced."""
        if not self._coalesce:
            request = kv_service_pb2.GetKeyRequest(key=key)
            return (await self.call(self.kv.GetKey, request, metadata=metadata)).entry
        return await self._key_lookups.call(_credentials(metadata), (key, metadata))

    async def _send_key_lookups(
        self, credentials: Metadata, items: list[tuple[str, Metadata]]
    ) -> list[Any]:
        request = kv_service_pb2.GetKeysRequest(keys=[key for key, _ in items])
        answer = await self.call(
            self.kv.GetKeys, request, metadata=_batch_metadata(credentials, items)
        )
        return [
            PlinthError.from_status(lookup.error) if lookup.HasField("error") else lookup.entry
            for lookup in answer.lookups
        ]

    async def kv_set(self, key: str, value: Any, *, ttl_ms: int = 0) -> None:
        request = kv_service_pb2.SetKeyRequest(key=key, value=orjson.dumps(value), ttl_ms=ttl_ms)
        await self.set_entry(request)

    async def set_entry(
        self, request: kv_service_pb2.SetKeyRequest, *, metadata: Metadata = ()
    ) -> kv_service_pb2.KeyValueEntry:
        """SetKey's entry, coalesced."""
        if not self._coalesce:
            return await self._set_one(request, metadata)
        return await self._key_writes.call(_credentials(metadata), (request, metadata))

    async def _set_one(
        self, request: kv_service_pb2.SetKeyRequest, metadata: Metadata
    ) -> kv_service_pb2.KeyValueEntry:
        return (await self.call(self.kv.SetKey, request, metadata=metadata)).entry

    async def _send_key_writes(
        self, credentials: Metadata, items: list[tuple[kv_service_pb2.SetKeyRequest, Metadata]]
    ) -> list[Any]:
        async def send() -> list[Any]:
            request = kv_service_pb2.SetKeysRequest(entries=[entry for entry, _ in items])
            answer = await self.call(
                self.kv.SetKeys, request, metadata=_batch_metadata(credentials, items)
            )
            return [
                PlinthError.from_status(write.error) if write.HasField("error") else write.entry
                for write in answer.writes
            ]

        return await _batched(items, self._set_one, send)

    async def kv_delete(self, key: str) -> bool:
        """True when the key existed."""
        try:
            await self.call(self.kv.DeleteKey, kv_service_pb2.DeleteKeyRequest(key=key))
        except PlinthError as error:
            if error.code == "NOT_FOUND":
                return False
            raise
        return True

    async def kv_incr(self, key: str, by: int = 1) -> int | float:
        request = kv_service_pb2.IncrementKeyRequest(key=key, by=by)
        return orjson.loads((await self.call(self.kv.IncrementKey, request)).value)

    async def kv_list(self, prefix: str = "", *, page_size: int = 0) -> dict[str, Any]:
        """Every live entry under `prefix` as {key: value}, following the pages."""
        found: dict[str, Any] = {}
        token = ""
        while True:
            request = kv_service_pb2.ListKeysRequest(
                prefix=prefix, page_size=page_size, page_token=token
            )
            answer = await self.call(self.kv.ListKeys, request)
            found.update((e.key, orjson.loads(e.value)) for e in answer.entries)
            token = answer.next_page_token
            if not token:
                return found

    # --- queue (see docs/queue.md; plinth.worker for the worker helper) ---

    async def enqueue(
        self, topic: str, payload: Any = None, *, delay_ms: int = 0, max_attempts: int = 0
    ) -> dict[str, Any]:
        request = queue_service_pb2.EnqueueRequest(
            topic=topic,
            payload=orjson.dumps(payload),
            delay_ms=delay_ms,
            max_attempts=max_attempts,
        )
        return job_to_dict(await self.enqueue_job(request))

    async def enqueue_job(
        self, request: queue_service_pb2.EnqueueRequest, *, metadata: Metadata = ()
    ) -> queue_service_pb2.Job:
        """Enqueue's job, coalesced."""
        if not self._coalesce:
            return await self._enqueue_one(request, metadata)
        return await self._enqueues.call(_credentials(metadata), (request, metadata))

    async def _enqueue_one(
        self, request: queue_service_pb2.EnqueueRequest, metadata: Metadata
    ) -> queue_service_pb2.Job:
        return (await self.call(self.queue.Enqueue, request, metadata=metadata)).job

    async def _send_enqueues(
        self, credentials: Metadata, items: list[tuple[queue_service_pb2.EnqueueRequest, Metadata]]
    ) -> list[Any]:
        async def send() -> list[Any]:
            request = queue_service_pb2.EnqueueBatchRequest(jobs=[job for job, _ in items])
            answer = await self.call(
                self.queue.EnqueueBatch, request, metadata=_batch_metadata(credentials, items)
            )
            return list(answer.jobs)

        return await _batched(items, self._enqueue_one, send)

    async def enqueue_batch(
        self, topic: str, payloads: Sequence[Any], *, delay_ms: int = 0, max_attempts: int = 0
    ) -> list[str]:
        """Enqueue up to 1000 jobs in one call (all or none); returns their ids in order."""
        request = queue_service_pb2.EnqueueBatchRequest(
            jobs=[
                queue_service_pb2.EnqueueRequest(
                    topic=topic,
                    payload=orjson.dumps(payload),
                    delay_ms=delay_ms,
                    max_attempts=max_attempts,
                )
                for payload in payloads
            ]
        )
        return list((await self.call(self.queue.EnqueueBatch, request)).ids)

    async def get_job(self, job_id: str) -> dict[str, Any]:
        request = queue_service_pb2.GetJobRequest(id=job_id)
        return job_to_dict((await self.call(self.queue.GetJob, request)).job)

    async def lease(
        self, topic: str, *, max_jobs: int = 1, visibility_ms: int = 0, wait_ms: int = 0
    ) -> list[dict[str, Any]]:
        request = queue_service_pb2.LeaseRequest(
            topic=topic, max_jobs=max_jobs, visibility_ms=visibility_ms, wait_ms=wait_ms
        )
        answer = await self.call(self.queue.Lease, request, timeout=self._timeout + wait_ms / 1000)
        return [job_to_dict(job) for job in answer.jobs]

    async def ack(self, job_id: str, lease_id: str, result: Any = None) -> dict[str, Any]:
        request = queue_service_pb2.AckRequest(
            id=job_id, lease_id=lease_id, result=orjson.dumps(result) if result is not None else b""
        )
        return job_to_dict((await self.call(self.queue.Ack, request)).job)

    async def nack(
        self,
        job_id: str,
        lease_id: str,
        error: str = "",
        *,
        retry_in_ms: int = 0,
        retry: bool = True,
    ) -> dict[str, Any]:
        request = queue_service_pb2.NackRequest(
            id=job_id, lease_id=lease_id, error=error, retry_in_ms=retry_in_ms, no_retry=not retry
        )
        return job_to_dict((await self.call(self.queue.Nack, request)).job)

    async def extend_lease(
        self, job_id: str, lease_id: str, visibility_ms: int = 0
    ) -> dict[str, Any]:
        """Hold a leased job for visibility_ms more from now (0: the default, 30 s)."""
        request = queue_service_pb2.ExtendLeaseRequest(
            id=job_id, lease_id=lease_id, visibility_ms=visibility_ms
        )
        return job_to_dict((await self.call(self.queue.ExtendLease, request)).job)

    async def queue_stats(self, topic: str) -> dict[str, int]:
        answer = await self.call(self.queue.Stats, queue_service_pb2.StatsRequest(topic=topic))
        return {
            name: getattr(answer, name) for name in ("queued", "leased", "done", "failed", "dead")
        }

    async def dead_jobs(self, topic: str, *, limit: int = 0) -> list[dict[str, Any]]:
        request = queue_service_pb2.ListDeadJobsRequest(topic=topic, page_size=limit)
        return [
            job_to_dict(job) for job in (await self.call(self.queue.ListDeadJobs, request)).jobs
        ]

    async def requeue_job(self, job_id: str) -> dict[str, Any]:
        request = queue_service_pb2.RequeueJobRequest(id=job_id)
        return job_to_dict((await self.call(self.queue.RequeueJob, request)).job)

    # --- files (see docs/files.md) ---

    async def create_upload_url(
        self,
        file_name: str,
        mime_type: str,
        size_bytes: int,
        *,
        collection: str = "",
        record_id: str = "",
        field: str = "",
    ) -> dict[str, Any]:
        """{"file_id", "upload_url", "method", "headers", "expires_at"}: PUT the bytes there
        (a path is the REST gateway's), then confirm_upload."""
        request = file_service_pb2.CreateUploadUrlRequest(
            file_name=file_name,
            mime_type=mime_type,
            size_bytes=size_bytes,
            collection=collection,
            record_id=record_id,
            field=field,
        )
        return upload_url_to_dict(await self.call(self.files.CreateUploadUrl, request))

    async def confirm_upload(self, file_id: str) -> dict[str, Any]:
        request = file_service_pb2.ConfirmUploadRequest(file_id=file_id)
        return file_to_dict((await self.call(self.files.ConfirmUpload, request)).file)

    async def download_url(self, file_id: str) -> dict[str, Any]:
        """{"url", "file_name", "mime_type", "expires_at"} of a confirmed file."""
        request = file_service_pb2.GetDownloadUrlRequest(file_id=file_id)
        return download_url_to_dict(await self.call(self.files.GetDownloadUrl, request))

    async def get_file(self, file_id: str) -> dict[str, Any]:
        request = file_service_pb2.GetFileRequest(file_id=file_id)
        return file_to_dict((await self.call(self.files.GetFile, request)).file)

    async def list_files(
        self, collection: str = "", *, limit: int = 0, page_token: str = ""
    ) -> tuple[list[dict[str, Any]], str]:
        """One page of files, newest first, and the token of the next ("" at the end)."""
        request = file_service_pb2.ListFilesRequest(
            collection=collection, page_size=limit, page_token=page_token
        )
        answer = await self.call(self.files.ListFiles, request)
        return [file_to_dict(file) for file in answer.files], answer.next_page_token

    async def delete_file(self, file_id: str) -> None:
        await self.call(self.files.DeleteFile, file_service_pb2.DeleteFileRequest(file_id=file_id))


class Client:
    """The blocking client: AsyncClient's methods, run on a private event-loop thread."""

    def __init__(self, target: str, *, api_key: str | None = None, timeout: float = 30.0) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name="plinth-client"
        )
        self._thread.start()
        self._async = self._run(self._make(target, api_key, timeout))

    @staticmethod
    async def _make(target: str, api_key: str | None, timeout: float) -> AsyncClient:
        return AsyncClient(target, api_key=api_key, timeout=timeout)

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def __getattr__(self, name: str):
        method = getattr(self._async, name)
        if not asyncio.iscoroutinefunction(method):
            return method
        return lambda *args, **kwargs: self._run(method(*args, **kwargs))

    def close(self) -> None:
        self._run(self._async.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
