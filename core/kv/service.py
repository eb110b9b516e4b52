"""KeyValueService: entries of the caller's space, read through the cache."""

from __future__ import annotations

from plinth.v1 import kv_service_pb2 as pb
from plinth.v1 import kv_service_pb2_grpc as rpc
from psycopg_pool import AsyncConnectionPool

from core.auth.principal import current
from core.errors import Code, CoreError, conflict, not_found
from core.kv import keys, store
from core.kv.cache import CHANNEL, Found, KvCache


def _entry(key: str, value: str, expires_ms: int | None) -> pb.KeyValueEntry:
    entry = pb.KeyValueEntry(key=key, value=value.encode())
    if expires_ms is not None:
        entry.expires_at.FromMilliseconds(expires_ms)
    return entry


def _only(outcomes: list) -> pb.KeyValueEntry:
    """A single-key call's answer: its entry, or its error raised."""
    (entry,) = outcomes
    if isinstance(entry, CoreError):
        raise entry
    return entry


def _check_batch(count: int, what: str) -> None:
    if count > keys.MAX_BATCH_KEYS:
        raise CoreError(Code.PAYLOAD_TOO_LARGE, f"at most {keys.MAX_BATCH_KEYS} {what} per call")


def _add_outcomes(answers, outcomes: list) -> None:
    """A batch call's answers (KeyLookup, KeyWrite): each entry, or its own error as a
    serialized google.rpc.Status."""
    for outcome in outcomes:
        if isinstance(outcome, CoreError):
            answers.add(error=outcome.to_status().SerializeToString())
        else:
            answers.add(entry=outcome)


class KeyValueServicer(rpc.KeyValueServiceServicer):
    def __init__(self, pool: AsyncConnectionPool, cache: KvCache) -> None:
        self._pool = pool
        self._cache = cache
        self._writes = store.Statements(notify=cache.notifies)

    async def _write(self, statement, params: dict) -> list[tuple]:
        """One write statement, then the cache invalidation of what it wrote, before
        answering; its rows are (key, value, expires_ms)."""
        params["channel"] = CHANNEL
        async with self._pool.connection() as conn:
            cur = await conn.execute(statement, params)
            rows = await cur.fetchall()
        try:
            await self._cache.written(params["space"], [row[0] for row in rows])
        except Exception as exc:
            raise CoreError(
                Code.UNAVAILABLE, f"the write was saved but the cache could not be cleared: {exc}"
            ) from None
        return rows

    async def _set(
        self, requests: list[pb.SetKeyRequest]
    ) -> list[pb.KeyValueEntry | CoreError | None]:
        """Each request's stored entry, or the error SetKey answers for it alone. A key
        given again goes in a later statement, so requests apply in order."""
        space = current().space_id
        out: list[pb.KeyValueEntry | CoreError | None] = []
        # Statements in order, each writing a key at most once: key -> (index, value, ttl).
        rounds: list[dict[str, tuple[int, str, int | None]]] = []
        for index, request in enumerate(requests):
            try:
                key = keys.check_key(request.key)
                entry = (index, keys.check_value(request.value), keys.check_ttl(request.ttl_ms))
            except CoreError as exc:
                out.append(exc)
                continue
            out.append(None)  # the entry, once written
            free = next((r for r in rounds if key not in r), None)  # after the key's last
            if free is None:
                free = {}
                rounds.append(free)
            free[key] = entry
        for batch in rounds:
            params = {
                "space": space,
                "keys": list(batch),
                "values": [value for _, value, _ in batch.values()],
                "ttls": [ttl for _, _, ttl in batch.values()],
            }
            for key, value, expires_ms, *_ in await self._write(self._writes.set, params):
                out[batch[key][0]] = _entry(key, value, expires_ms)
        return out

    async def _lookup(self, requested: list[str]) -> list[pb.KeyValueEntry | CoreError]:
        """Each requested key's entry, or the error GetKey answers for it alone."""
        space = current().space_id
        checked: list[str | CoreError] = []
        for key in requested:
            try:
                checked.append(keys.check_key(key))
            except CoreError as exc:
                checked.append(exc)

        async def load(wanted: list[str]) -> dict[str, Found]:
            async with self._pool.connection() as conn:
                cur = await conn.execute(store.GET, {"space": space, "keys": wanted})
                return {key: (value, expires) for key, value, expires in await cur.fetchall()}

        valid = [key for key in checked if isinstance(key, str)]
        found = await self._cache.read(space, valid, load) if valid else {}
        out: list[pb.KeyValueEntry | CoreError] = []
        for key in checked:
            if isinstance(key, CoreError):
                out.append(key)
            elif key in found:
                out.append(_entry(key, *found[key]))
            else:
                out.append(not_found(f"no key {key!r}"))
        return out

    async def GetKey(self, request: pb.GetKeyRequest, context) -> pb.GetKeyResponse:
        return pb.GetKeyResponse(entry=_only(await self._lookup([request.key])))

    async def GetKeys(self, request: pb.GetKeysRequest, context) -> pb.GetKeysResponse:
        _check_batch(len(request.keys), "keys")
        answer = pb.GetKeysResponse()
        _add_outcomes(answer.lookups, await self._lookup(list(request.keys)))
        return answer

    async def SetKey(self, request: pb.SetKeyRequest, context) -> pb.SetKeyResponse:
        return pb.SetKeyResponse(entry=_only(await self._set([request])))

    async def SetKeys(self, request: pb.SetKeysRequest, context) -> pb.SetKeysResponse:
        _check_batch(len(request.entries), "entries")
        answer = pb.SetKeysResponse()
        _add_outcomes(answer.writes, await self._set(list(request.entries)))
        return answer

    async def DeleteKey(self, request: pb.DeleteKeyRequest, context) -> pb.DeleteKeyResponse:
        key = keys.check_key(request.key)
        rows = await self._write(self._writes.delete, {"space": current().space_id, "key": key})
        if not rows or not rows[0][1]:
            raise not_found(f"no key {key!r}")
        return pb.DeleteKeyResponse(key=key, deleted=True)

    async def IncrementKey(
        self, request: pb.IncrementKeyRequest, context
    ) -> pb.IncrementKeyResponse:
        key = keys.check_key(request.key)
        by = request.by if request.HasField("by") else 1
        params = {"space": current().space_id, "key": key, "by": by}
        rows = await self._write(self._writes.increment, params)
        if not rows:
            raise conflict(f"the value of {key!r} is not a number")
        return pb.IncrementKeyResponse(key=key, value=rows[0][1].encode())

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
            entries=[_entry(k, v, expires_ms) for k, v, expires_ms in rows[:size]], page_size=size
        )
        if len(rows) > size:
            answer.next_page_token = keys.page_token(prefix, rows[size - 1][0])
        return answer
