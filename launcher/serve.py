"""`python -m launcher.serve core|rest|graphql` (what `plinth core|rest|graphql` runs):
one Plinth process, configured from the environment, until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from core.config import CoreConfig
from launcher import logs
from launcher.settings import core_config, gateway_config

PROCESSES = ("core", "rest", "graphql")

log = logging.getLogger("plinth.core")


async def _serve_core(config: CoreConfig) -> None:
    from core.server import start_core

    core = await start_core(config)
    log.info("core listening on %s", config.addr)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("core stopping")
    await core.stop()


def serve(process: str) -> None:
    if process == "core":
        from core.interceptors import request_id

        logs.configure(process, request_id)
        logs.run(_serve_core(core_config()))
        return
    # Imported here: each process loads only its own stack.
    from gateways.core_client import current_request_id
    from gateways.serve import serve as serve_gateway

    logs.configure(process, current_request_id)

    if process == "rest":
        from gateways.rest.app import create_app
    else:
        from gateways.graphql.app import create_app
    config = gateway_config(process)
    serve_gateway(create_app(config), config)


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in PROCESSES:
        sys.exit(f"usage: python -m launcher.serve {{{','.join(PROCESSES)}}}")
    serve(sys.argv[1])
