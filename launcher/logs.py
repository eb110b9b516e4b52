"""Process start-up shared by every Plinth process: one log format, one event loop."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine
from typing import Any


def configure(process: str) -> None:
    logging.basicConfig(
        level=os.environ.get("PLINTH_LOG_LEVEL", "INFO").upper(),
        format=f"%(asctime)s %(levelname)s {process} %(name)s: %(message)s",
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
