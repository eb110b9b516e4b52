"""Process start-up shared by every Plinth process: one log format, one event loop.

PLINTH_LOG_FORMAT=json writes one JSON object per line (ts, level, process, logger,
message, request_id, exc), for log shippers; the request id is that of the request
being served (the gateway's X-Request-Id, which core receives in gRPC metadata).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson


class JsonFormatter(logging.Formatter):
    def __init__(self, process: str) -> None:
        super().__init__()
        self._process = process

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "process": self._process,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


class RequestIdFilter(logging.Filter):
    """Stamps each record with the request id of the task that logs it."""

    def __init__(self, request_id: ContextVar[str]) -> None:
        super().__init__()
        self._request_id = request_id

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = self._request_id.get()
        return True


def configure(process: str, request_id: ContextVar[str] | None = None) -> None:
    handler = logging.StreamHandler()
    if os.environ.get("PLINTH_LOG_FORMAT", "text").lower() == "json":
        handler.setFormatter(JsonFormatter(process))
    else:
        text = f"%(asctime)s %(levelname)s {process} %(name)s: %(message)s"
        handler.setFormatter(logging.Formatter(text))
    if request_id is not None:
        handler.addFilter(RequestIdFilter(request_id))
    logging.basicConfig(
        level=os.environ.get("PLINTH_LOG_LEVEL", "INFO").upper(), handlers=[handler], force=True
    )
    # pgserver narrates every step of starting Postgres at INFO.
    logging.getLogger("pgserver").setLevel(logging.WARNING)


def run(main: Coroutine[Any, Any, None]) -> None:
    """asyncio.run on uvloop where it is installed."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)
