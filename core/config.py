"""What core needs to run: filled by whoever starts it (the launcher reads it from the
environment, see docs/configuration.md). Core itself reads no environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from plinth.wire import DEFAULT_CORE_ADDR

DAY_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class CoreConfig:
    data_dir: Path
    addr: str = DEFAULT_CORE_ADDR
    database_url: str | None = None  # None: the embedded PostgreSQL under data_dir
    admin_key: str | None = None  # None: generated on first boot into data_dir/admin.key
    pool_min: int = 2
    pool_max: int = 16
    max_batch_mutation: int = 1000
    import_id_buffer: int = 10_000
    redis_url: str | None = None  # the shared key-value cache; None: one per process
    kv_cache_ttl: float = 60.0  # 0 switches the key-value cache off
    kv_sweep_seconds: float = 60.0  # 0 switches the expiry sweep off
    queue_keep_done_seconds: float = 7 * DAY_SECONDS  # 0 keeps done jobs forever
    restore_within_seconds: float = 30 * DAY_SECONDS  # how long a soft delete can be undone
    metrics_addr: str = ""  # where /metrics is served ("host:port"); "" serves none
    files_max_bytes: int = 100 * 1024 * 1024
    files_allowed_mime_types: str = ""  # comma-separated, `image/*` for a whole type; "": any
    files_secret: str | None = None  # signs local file URLs; None: data_dir/files.key
    files_url_seconds: int = 3600  # how long an upload or download URL stays valid
    files_base_url: str = ""  # local file URLs under it; "": paths the REST gateway completes
    s3_bucket: str | None = None  # files in this S3 bucket; None: on local disk under data_dir
    s3_endpoint_url: str | None = None  # an S3-compatible store (MinIO, …); None: AWS
    jwt_secret: str | None = None  # None: generated on first boot into data_dir/jwt.secret
    access_token_seconds: int = 900  # lifetime of a user's access token
    refresh_token_seconds: float = 30 * DAY_SECONDS  # lifetime of an unused refresh token
