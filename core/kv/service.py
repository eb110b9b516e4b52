"""KeyValueService: entries of the caller's space, read through the cache."""

from __future__ import annotations

from plinth.v1 import kv_service_pb2 as pb
from plinth.v1 import kv_service_pb2_grpc as rpc
from psycopg_pool import AsyncConnectionPool

from core.auth.principal import current
from core.errors import Code, PlinthError, conflict, not_found
from core.kv import keys, store
from core.kv.cache import CHANNEL, Found, KvCache


def _entry(key: str, value: str, expires_ms: int | None) -> pb.KeyValueEntry:
    entry = pb.KeyValueEntry(key=key, value=value.encode())
    if expires_ms is not None:
        entry.expires_at.FromMilliseconds(expires_ms)
    return entry


class KeyValueServicer(rpc.KeyValueServiceServicer):
    def __init__(self, pool: AsyncConnectionPool, cache: KvCache) -> None:
        self._pool = pool
        self._cache = cache
        self._writes = store.Statements(notify=cache.notifies)

    async def _fetchone(self, query, params) -> tuple | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(query, params)
            return await cur.fetchone()

    async def _write(self, statement, params: dict) -> tuple | None:
        """One write statement, then the cache invalidation, before answering."""
        params["channel"] = CHANNEL
        row = await self._fetchone(statement, params)
        try:
            await self._cache.written(params["space"], params["key"])
        except Exception as exc:
            raise PlinthError(
                Code.UNAVAILABLE, f"the write was saved but the cache could not be cleared: {exc}"
            ) from None
        return row

    async def _lookup(self, requested: list[str]) -> list[pb.KeyValueEntry | PlinthError]:
        """Each requested key's entry, or the error GetKey answers for it alone."""
        space = current().space_id
        checked: list[str | PlinthError] = []
        for key in requested:
            try:
                checked.append(keys.check_key(key))
            except PlinthError as exc:
                checked.append(exc)

        async def load(wanted: list[str]) -> dict[str, Found]:
            async with self._pool.connection() as conn:
                cur = await conn.execute(store.GET, {"space": space, "keys": wanted})
                return {key: (value, expires) for key, value, expires in await cur.fetchall()}

        valid = [key for key in checked if isinstance(key, str)]
        found = await self._cache.read(space, valid, load) if valid else {}
        out: list[pb.KeyValueEntry | PlinthError] = []
        for key in checked:
            if isinstance(key, PlinthError):
                out.append(key)
            elif key in found:
                out.append(_entry(key, *found[key]))
            else:
                out.append(not_found(f"no key {key!r}"))
        return out

    async def GetKey(self, request: pb.GetKeyRequest, context) -> pb.GetKeyResponse:
        (entry,) = await self._lookup([request.key])
        if isinstance(entry, PlinthError):
            raise entry
        return pb.GetKeyResponse(entry=entry)

    async def GetKeys(self, request: pb.GetKeysRequest, context) -> pb.GetKeysResponse:
        if len(request.keys) > keys.MAX_BATCH_KEYS:
            raise PlinthError(
                Code.PAYLOAD_TOO_LARGE, f"at most {keys.MAX_BATCH_KEYS} keys per call"
            )
        answer = pb.GetKeysResponse()
        for entry in await self._lookup(list(request.keys)):
            if isinstance(entry, PlinthError):
                answer.lookups.add(error=entry.to_status().SerializeToString())
            else:
                answer.lookups.add(entry=entry)
        return answer

    async def SetKey(self, request: pb.SetKeyRequest, context) -> pb.SetKeyResponse:
        key = keys.check_key(request.key)
        value = keys.check_value(request.value)
        ttl = keys.check_ttl(request.ttl_ms)
        params = {"space": current().space_id, "key": key, "value": value, "ttl": ttl}
        row = await self._write(self._writes.set, params)
        return pb.SetKeyResponse(entry=_entry(key, row[0], row[1]))

    async def DeleteKey(self, request: pb.DeleteKeyRequest, context) -> pb.DeleteKeyResponse:
        key = keys.check_key(request.key)
        row = await self._write(self._writes.delete, {"space": current().space_id, "key": key})
        if row is None or not row[0]:
            raise not_found(f"no key {key!r}")
        return pb.DeleteKeyResponse(key=key, deleted=True)

    async def IncrementKey(
        self, request: pb.IncrementKeyRequest, context
    ) -> pb.IncrementKeyResponse:
        key = keys.check_key(request.key)
        by = request.by if request.HasField("by") else 1
        params = {"space": current().space_id, "key": key, "by": by}
        row = await self._write(self._writes.increment, params)
        if row is None:
            raise conflict(f"the value of {key!r} is not a number")
        return pb.IncrementKeyResponse(key=key, value=row[0].encode())

    async def ListKeys(self, request: pb.ListKeysRequest, context) -> pb.ListKeysResponse:
        prefix = keys.check_prefix(request.prefix)
        size = keys.check_page_size(request.page_size)
        after = keys.after_key(prefix, request.page_token)
        params = {"space": current().space_id, "prefix": prefix, "limit": size + 1}
        if after is not None:
            params["after"] = after
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                store.LIST_FIRST if after is None else store.LIST_AFTER, params
            )
            rows = await cur.fetchall()
        answer = pb.ListKeysResponse(
            entries=[_entry(k, v, expires_ms) for k, v, expires_ms in rows[:size]]
        )
        if len(rows) > size:
            answer.next_page_token = keys.page_token(prefix, rows[size - 1][0])
        return answer
