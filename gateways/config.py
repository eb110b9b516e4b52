"""What a gateway needs to run: filled by whoever starts it (the launcher reads it from
the environment, see docs/configuration.md). Gateways read no environment themselves."""

from __future__ import annotations

from dataclasses import dataclass

from plinth.wire import DEFAULT_CORE_ADDR


@dataclass(frozen=True)
class GatewayConfig:
    addr: str
    core_addr: str = DEFAULT_CORE_ADDR
    max_body_bytes: int = 10 * 1024 * 1024
    workers: int = 1  # Sanic worker processes
