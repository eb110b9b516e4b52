"""Calls that arrive together go to core as one batch call.

While a batch call is in flight, new calls with the same credentials wait and then go
together in the next one. A lone call leaves at once, so nothing waits when the client
is idle; under load one RPC carries many calls, which is where the Python gRPC hop
spends most of its time (one call's overhead instead of many).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Outcome = Any  # a result, or the exception for that item alone
Send = Callable[[Hashable, list[Item]], Awaitable[list[Outcome]]]


class Coalescer(Generic[Item]):
    """`send(key, items)` makes one batch call and returns one outcome per item, in order;
    an exception it raises belongs to every item of that batch.

    `in_flight` batch calls of a key may run at once: more than one keeps both ends busy
    when the calls are cheap next to a round trip (with one, the client idles while core
    works and the other way round), at the price of smaller batches."""

    def __init__(
        self, send: Send, *, max_items: int, max_bytes: int = 0, size=len, in_flight: int = 1
    ) -> None:
        self._send = send
        self._max_items = max_items
        self._max_bytes = max_bytes  # 0: no limit; else a batch holds at least one item
        self._size = size
        self._in_flight = in_flight
        self._waiting: dict[Hashable, list[tuple[Item, asyncio.Future]]] = {}
        self._senders: dict[Hashable, set[asyncio.Task]] = {}

    async def call(self, key: Hashable, item: Item) -> Any:
        future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append((item, future))
        senders = self._senders.setdefault(key, set())
        if len(senders) < self._in_flight:
            senders.add(asyncio.create_task(self._send_all(key)))
        return await future

    def _next_batch(self, key: Hashable) -> list[tuple[Item, asyncio.Future]]:
        waiting = self._waiting[key]
        count, total = 0, 0
        for item, _ in waiting[: self._max_items]:
            if self._max_bytes:
                total += self._size(item)
                if count and total > self._max_bytes:
                    break
            count += 1
        batch, self._waiting[key] = waiting[:count], waiting[count:]
        return batch

    async def _send_all(self, key: Hashable) -> None:
        batch: list[tuple[Item, asyncio.Future]] = []
        try:
            while self._waiting.get(key):
                batch = self._next_batch(key)
                try:
                    outcomes = await self._send(key, [item for item, _ in batch])
                except Exception as exc:
                    outcomes = [exc] * len(batch)
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():  # its caller was cancelled
                        continue
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            senders = self._senders[key]
            senders.discard(asyncio.current_task())
            left = []
            if not senders:  # the last sender of the key
                del self._senders[key]
                left = self._waiting.pop(key, [])
            for _, future in batch + left:
                future.cancel()  # only when this task was cancelled: the rest are done
