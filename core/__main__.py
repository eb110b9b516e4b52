"""`python -m core`: serve core until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal

from core.config import Settings
from core.logs import configure, run
from core.server import start_core

log = logging.getLogger("plinth.core")


async def serve() -> None:
    settings = Settings.from_env()
    core = await start_core(settings)
    log.info("core listening on %s", settings.core_addr)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("core stopping")
    await core.stop()


def main() -> None:
    configure("core")
    run(serve())


if __name__ == "__main__":
    main()
