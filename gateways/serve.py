"""Run a gateway's Sanic app on its address until SIGINT/SIGTERM."""

from __future__ import annotations

from sanic import Sanic

from gateways.config import GatewayConfig


def split_addr(addr: str) -> tuple[str, int]:
    """'127.0.0.1:8080' -> ('127.0.0.1', 8080)."""
    host, _, port = addr.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def serve(app: Sanic, config: GatewayConfig) -> None:
    host, port = split_addr(config.addr)
    app.run(
        host=host,
        port=port,
        single_process=config.workers == 1,
        workers=max(config.workers, 1),
        access_log=False,
        motd=False,
    )
