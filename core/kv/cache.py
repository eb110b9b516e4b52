"""The read-through cache of key-value entries (aiocache: in-memory, or Redis).

The guarantee: once a write (set, delete, increment) has been acknowledged to
its caller, no core process answers a read that started afterwards with the
value from before it. Entries may otherwise stay cached for `ttl` seconds.

How, per backend:

* Redis (`PLINTH_REDIS_URL`): the cache is shared. A write deletes the cached
  entry after its transaction commits and before it answers.
* In-memory (default): every process has its own cache. A write NOTIFYs
  `plinth_kv` in its own statement, so the notice is queued exactly when the
  write commits; each process LISTENs and drops the entry. Postgres delivers
  notices in commit order, so before answering from its cache a process sends
  a NOTIFY of its own (a read barrier) and waits until its listener has seen
  it: every write acknowledged before the read started has then been applied.
  Concurrent reads share one barrier (group commit), so under load it costs
  far less than one round trip per read.

Filling after a miss could store a value that a concurrent write has already
replaced. A miss therefore first places a lease in the cache (add = set if
absent), reads the database, and stores the value only if its lease is still
there (compare-and-set). Every invalidation deletes whatever is cached,
leases included, so a read that raced with a write never stores its result.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import urllib.parse
from collections.abc import Awaitable, Callable

import psycopg
from aiocache import RedisCache, SimpleMemoryCache
from aiocache.base import BaseCache
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from core import metrics

log = logging.getLogger("plinth.kv")

CHANNEL = "plinth_kv"
SEPARATOR = "\x1f"  # a control character, which keys may not contain
LEASE_SECONDS = 5.0
BARRIER_TIMEOUT = 2.0  # a read waits this long for its barrier, then reads the database

Found = tuple[str | None, int | None]  # (JSON text, or None when absent; expiry in epoch ms)
Loader = Callable[[list[str]], Awaitable[dict[str, Found]]]  # keys -> the live entries


def cache_key(space_id: str, key: str) -> str:
    return space_id + SEPARATOR + key


def _now_ms() -> int:
    return int(time.time() * 1000)


class Barrier:
    """Waits until the listener has seen every NOTIFY committed before `wait` was called."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self._id = secrets.token_hex(6)
        self._count = 0
        self._waiting: asyncio.Future[bool] | None = None  # the next barrier, not yet sent
        self._sent: dict[str, asyncio.Future[bool]] = {}
        self._sender: asyncio.Task | None = None

    def owns(self, payload: str) -> bool:
        return payload.startswith("s:")

    async def wait(self) -> bool:
        """True when passed; False when the barrier failed or timed out."""
        if self._waiting is None:
            self._waiting = asyncio.get_running_loop().create_future()
        future = self._waiting
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_all(), name="kv-barrier")
        try:
            return await asyncio.wait_for(asyncio.shield(future), BARRIER_TIMEOUT)
        except TimeoutError:
            return False

    async def _send_all(self) -> None:
        # One barrier in flight at a time; reads arriving meanwhile share the next one.
        while self._waiting is not None:
            future, self._waiting = self._waiting, None
            self._count += 1
            token = f"s:{self._id}:{self._count}"
            self._sent[token] = future
            try:
                async with self._pool.connection() as conn:
                    await conn.execute("SELECT pg_notify(%s, %s)", [CHANNEL, token])
                await asyncio.wait_for(asyncio.shield(future), BARRIER_TIMEOUT)
            except Exception as exc:  # the readers fall back to the database
                log.warning("kv read barrier failed: %s", exc)
            finally:
                self._sent.pop(token, None)
                if not future.done():
                    future.set_result(False)

    def arrived(self, payload: str) -> None:
        future = self._sent.pop(payload, None)
        if future is not None and not future.done():
            future.set_result(True)

    def release_all(self) -> None:
        """The cache was just emptied, so every pending read may use it."""
        for token in list(self._sent):
            self.arrived(token)


class KvCache:
    def __init__(self, pool: AsyncConnectionPool, redis_url: str | None, ttl: float) -> None:
        self.shared = bool(redis_url)
        self.ttl = ttl
        self._cache: BaseCache = _redis(redis_url) if redis_url else SimpleMemoryCache(timeout=None)
        self._barrier = Barrier(pool)
        self._listening = False

    @property
    def notifies(self) -> bool:
        """Whether writes must NOTIFY: without Redis, always (even with this process's
        cache off), so processes configured otherwise stay coherent."""
        return not self.shared

    def _enabled(self) -> bool:
        return self.ttl > 0 and (self.shared or self._listening)

    async def read(self, space_id: str, keys: list[str], load: Loader) -> dict[str, Found]:
        """Each key's entry from the cache, or loaded from the database (one `load` of
        the keys the cache lacks) and cached. A key without a live entry is absent."""
        wanted = list(dict.fromkeys(keys))
        if not self._enabled():
            return await load(wanted)
        names = [cache_key(space_id, key) for key in wanted]
        try:
            if not self.shared and not await self._barrier.wait():
                return await load(wanted)
            cached = await self._cache.multi_get(names)
        except Exception as exc:  # an unreachable cache is only slower
            log.warning("kv cache read failed: %s", exc)
            return await load(wanted)
        out: dict[str, Found] = {}
        now = _now_ms()
        missing: list[tuple[str, str, bool]] = []  # (key, cache key, free to fill)
        for key, name, found in zip(wanted, names, cached, strict=True):
            if isinstance(found, list):
                value, expires_ms = found
                if value is not None and (expires_ms is None or expires_ms > now):
                    out[key] = (value, expires_ms)
            else:  # absent, or another read's lease: that read fills it
                missing.append((key, name, found is None))
        metrics.CACHE_LOOKUPS.labels("kv", "hit").inc(len(wanted) - len(missing))
        metrics.CACHE_LOOKUPS.labels("kv", "miss").inc(len(missing))
        if missing:
            leases = {name: await self._lease(name) for _, name, free in missing if free}
            loaded = await load([key for key, _, _ in missing])
            out.update(loaded)
            for key, name, _ in missing:
                if leases.get(name) is not None:
                    await self._fill(name, leases[name], loaded.get(key, (None, None)))
        return out

    async def _lease(self, name: str) -> str | None:
        lease = "lease:" + secrets.token_hex(8)
        try:
            await self._cache.add(name, lease, ttl=LEASE_SECONDS)
        except ValueError:
            return None  # another read is filling it
        except Exception as exc:
            log.warning("kv cache lease failed: %s", exc)
            return None
        return lease

    async def _fill(self, name: str, lease: str, found: Found) -> None:
        """Store what was read, unless a write removed the lease meanwhile."""
        value, expires_ms = found
        ttl = self.ttl
        if expires_ms is not None:
            ttl = min(ttl, max((expires_ms - _now_ms()) / 1000, 0.001))
        try:
            await self._cache.set(
                name,
                [value, expires_ms],
                ttl=float(ttl),
                _cas_token=self._cache.serializer.dumps(lease),
            )
        except Exception as exc:
            log.warning("kv cache fill failed: %s", exc)

    async def written(self, space_id: str, keys: list[str]) -> None:
        """After a write committed, before it is acknowledged. Raises when the shared
        cache cannot be cleared (the caller must not be told the write is visible)."""
        if self.shared or self.ttl > 0:
            await asyncio.gather(*(self._cache.delete(cache_key(space_id, k)) for k in keys))

    async def listen(self, url: str) -> None:
        """Follow other processes' writes until cancelled (in-memory cache only)."""
        if self.shared or self.ttl <= 0:
            return
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    # Writes may have been missed while not listening.
                    await self._cache.clear()
                    self._listening = True
                    self._barrier.release_all()
                    async for notice in conn.notifies():
                        payload = notice.payload
                        if self._barrier.owns(payload):
                            self._barrier.arrived(payload)
                        else:
                            await self._cache.delete(payload[2:])
            except psycopg.OperationalError as exc:
                log.warning("kv listener lost its connection (%s); retrying", exc)
            finally:
                self._listening = False
            await self._cache.clear()
            await asyncio.sleep(1)

    async def close(self) -> None:
        await self._cache.close()


def _redis(url: str) -> RedisCache:
    parsed = urllib.parse.urlparse(url)
    db = parsed.path.strip("/") or "0"
    return RedisCache(
        endpoint=parsed.hostname or "127.0.0.1",
        port=parsed.port or 6379,
        db=int(db),
        password=parsed.password,
        namespace="plinth:kv",
        # redis-py's socket timeouts rather than aiocache's asyncio.wait_for per call,
        # which costs about a third of a GET's CPU.
        timeout=None,
        create_connection_timeout=2,
        connection_pool_kwargs={"socket_timeout": 2},
    )
