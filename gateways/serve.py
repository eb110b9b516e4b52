"""Run a gateway's Sanic app on its address until SIGINT/SIGTERM."""

from __future__ import annotations

import os

from sanic import Sanic

from core.config import split_addr


def serve(app: Sanic, addr: str) -> None:
    host, port = split_addr(addr)
    workers = int(os.environ.get("PLINTH_GATEWAY_WORKERS", "1"))
    app.run(
        host=host,
        port=port,
        single_process=workers == 1,
        workers=workers if workers > 1 else 1,
        access_log=False,
        motd=False,
    )
