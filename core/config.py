"""Settings read once from the environment (see docs/configuration.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    data_dir: Path
    admin_key: str | None
    core_addr: str
    rest_addr: str
    graphql_addr: str
    pool_min: int
    pool_max: int
    max_body_bytes: int
    max_batch_mutation: int
    import_id_buffer: int

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            database_url=env.get("PLINTH_DATABASE_URL") or None,
            data_dir=Path(env.get("PLINTH_DATA_DIR", ".plinth")).resolve(),
            admin_key=env.get("PLINTH_ADMIN_KEY") or None,
            core_addr=env.get("PLINTH_CORE_ADDR", "127.0.0.1:50051"),
            rest_addr=env.get("PLINTH_REST_ADDR", "127.0.0.1:8080"),
            graphql_addr=env.get("PLINTH_GRAPHQL_ADDR", "127.0.0.1:8081"),
            pool_min=int(env.get("PLINTH_DB_POOL_MIN", "2")),
            pool_max=int(env.get("PLINTH_DB_POOL_MAX", "16")),
            max_body_bytes=int(env.get("PLINTH_MAX_BODY_BYTES", str(10 * 1024 * 1024))),
            max_batch_mutation=int(env.get("PLINTH_MAX_BATCH_MUTATION", "1000")),
            import_id_buffer=int(env.get("PLINTH_IMPORT_ID_BUFFER", "10000")),
        )


def split_addr(addr: str) -> tuple[str, int]:
    """'127.0.0.1:8080' -> ('127.0.0.1', 8080)."""
    host, _, port = addr.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)
