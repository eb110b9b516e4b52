"""Every PLINTH_* variable, read once, into the configs core and the gateways take
(see docs/configuration.md). The defaults live beside the code that uses them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from core.config import CoreConfig
from gateways.config import GatewayConfig

GATEWAY_ADDRS = {"rest": "127.0.0.1:8080", "graphql": "127.0.0.1:8081"}


def _read(env: Mapping[str, str], config: type, names: dict[str, str]) -> dict[str, Any]:
    """{field: value} for each field whose variable is set, cast to the field's default type."""
    defaults = {f.name: f.default for f in fields(config)}
    values: dict[str, Any] = {}
    for field, variable in names.items():
        text = env.get(variable)
        if not text:
            continue
        default = defaults.get(field)
        values[field] = type(default)(text) if isinstance(default, int | float) else text
    return values


def core_config(env: Mapping[str, str] = os.environ) -> CoreConfig:
    values = _read(
        env,
        CoreConfig,
        {
            "addr": "PLINTH_CORE_ADDR",
            "database_url": "PLINTH_DATABASE_URL",
            "admin_key": "PLINTH_ADMIN_KEY",
            "pool_min": "PLINTH_DB_POOL_MIN",
            "pool_max": "PLINTH_DB_POOL_MAX",
            "max_batch_mutation": "PLINTH_MAX_BATCH_MUTATION",
            "import_id_buffer": "PLINTH_IMPORT_ID_BUFFER",
            "redis_url": "PLINTH_REDIS_URL",
            "kv_cache_ttl": "PLINTH_KV_CACHE_TTL",
            "kv_sweep_seconds": "PLINTH_KV_SWEEP_SECONDS",
            "queue_keep_done_seconds": "PLINTH_QUEUE_KEEP_DONE_SECONDS",
            "restore_within_seconds": "PLINTH_RESTORE_WITHIN_SECONDS",
            "metrics_addr": "PLINTH_CORE_METRICS_ADDR",
            "files_max_bytes": "PLINTH_MAX_FILE_BYTES",
            "files_allowed_mime_types": "PLINTH_FILES_ALLOWED_MIME_TYPES",
            "files_secret": "PLINTH_FILES_SECRET",
            "files_url_seconds": "PLINTH_FILES_URL_SECONDS",
            "files_base_url": "PLINTH_FILES_BASE_URL",
            "s3_bucket": "PLINTH_S3_BUCKET",
            "s3_endpoint_url": "PLINTH_S3_ENDPOINT_URL",
            "jwt_secret": "PLINTH_JWT_SECRET",
            "access_token_seconds": "PLINTH_ACCESS_TOKEN_SECONDS",
            "refresh_token_seconds": "PLINTH_REFRESH_TOKEN_SECONDS",
        },
    )
    return CoreConfig(data_dir=data_dir(env), **values)


def gateway_config(name: str, env: Mapping[str, str] = os.environ) -> GatewayConfig:
    """The config of the `rest` or `graphql` gateway."""
    values = _read(
        env,
        GatewayConfig,
        {
            "core_addr": "PLINTH_CORE_ADDR",
            "max_body_bytes": "PLINTH_MAX_BODY_BYTES",
            "workers": "PLINTH_GATEWAY_WORKERS",
        },
    )
    addr = env.get(f"PLINTH_{name.upper()}_ADDR") or GATEWAY_ADDRS[name]
    return GatewayConfig(addr=addr, **values)


def data_dir(env: Mapping[str, str] = os.environ) -> Path:
    return Path(env.get("PLINTH_DATA_DIR", ".plinth")).resolve()


@dataclass(frozen=True)
class Credentials:
    """How the CLI's own calls reach core and who they are."""

    core_addr: str
    api_key: str | None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Credentials:
        """PLINTH_API_KEY, else the admin key (PLINTH_ADMIN_KEY or the data dir's admin.key)."""
        core = core_config(env)
        key = env.get("PLINTH_API_KEY") or core.admin_key
        path = core.data_dir / "admin.key"
        if not key and path.exists():
            key = path.read_text().strip()
        return cls(core.addr, key)
