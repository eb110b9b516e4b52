"""HMAC signatures of the local backend's URLs: what a URL may do (put or get), for which
file of which space, until when. A URL carries no credentials, only this signature."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

from core.errors import Code, CoreError

KEY_FILE = "files.key"


def load_or_create_key(data_dir: Path) -> bytes:
    """The data dir's signing key, generated on first boot (mode 0600). Core processes
    sharing the data dir race to link a complete file into place; all read the winner's."""
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        temp = data_dir / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
        temp.unlink()
    return path.read_text().strip().encode()


class Signer:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def sign(self, action: str, space_id: str, file_id: str, expires: int) -> str:
        message = f"{action}\n{space_id}\n{file_id}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def verify(
        self, action: str, space_id: str, file_id: str, expires: int, signature: str
    ) -> None:
        """FORBIDDEN unless the signature is this key's for exactly these values and has
        not expired. Tampering with any part of the URL changes the message signed."""
        expected = self.sign(action, space_id, file_id, expires)
        if not hmac.compare_digest(expected, signature):
            raise CoreError(Code.FORBIDDEN, "the URL's signature is not valid")
        if expires < time.time():
            raise CoreError(Code.FORBIDDEN, "the URL has expired; ask for a new one")
