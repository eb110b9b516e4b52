"""The server secret: signs access tokens and keys the API-key hashes.

Given (PLINTH_JWT_SECRET), or generated on first boot into the data dir with mode
0600. Every core process of a deployment needs the same one; changing it ends every
access token and every API key made since.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

FILE_NAME = "jwt.secret"


def load_secret(data_dir: Path, given: str | None) -> bytes:
    if given:
        return given.encode()
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / FILE_NAME
    try:
        # O_EXCL: of core processes starting together, one writes and all read the same.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip().encode()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48) + "\n")
    return path.read_text().strip().encode()


def subkey(secret: bytes, purpose: str) -> bytes:
    """One key per use, so a token signature never doubles as a key hash."""
    return hmac.new(secret, purpose.encode(), hashlib.sha256).digest()
