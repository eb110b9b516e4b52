"""The storage backend core's config asks for: S3 with a bucket, else local disk."""

from __future__ import annotations

from core.config import CoreConfig
from core.files.local import LocalStorage
from core.files.rules import FileRules
from core.files.s3 import S3Storage
from core.files.signing import Signer, load_or_create_key
from core.files.storage import Storage


async def open_storage(config: CoreConfig) -> Storage:
    if config.s3_bucket:
        return await S3Storage(config.s3_bucket, config.s3_endpoint_url).open()
    key = config.files_secret.encode() if config.files_secret else None
    signer = Signer(key or load_or_create_key(config.data_dir))
    return LocalStorage(config.data_dir / "files", signer, config.files_base_url)


def file_rules(config: CoreConfig) -> FileRules:
    allowed = (part.strip().lower() for part in config.files_allowed_mime_types.split(","))
    return FileRules(config.files_max_bytes, tuple(part for part in allowed if part))
