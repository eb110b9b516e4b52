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
    an exception it raises belongs to every item of that batch."""

    def __init__(self, send: Send, *, max_items: int, max_bytes: int = 0, size=len) -> None:
        self._send = send
        self._max_items = max_items
        self._max_bytes = max_bytes  # 0: no limit; else a batch holds at least one item
        self._size = size
        self._waiting: dict[Hashable, list[tuple[Item, asyncio.Future]]] = {}
        self._senders: dict[Hashable, asyncio.Task] = {}

    async def call(self, key: Hashable, item: Item) -> Any:
        future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append((item, future))
        if key not in self._senders:
            self._senders[key] = asyncio.create_task(self._send_all(key))
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
            del self._senders[key]
            for _, future in batch + self._waiting.pop(key, []):
                future.cancel()  # only when this task was cancelled: the rest are done
