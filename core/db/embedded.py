"""The embedded PostgreSQL 16 + pgvector from the pgserver wheel (no URL configured)."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("plinth.db")


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the embedded server under data_dir/pg and return its URL.

    pgserver counts the processes using a data directory and stops the
    server when the last one exits, so several core processes may share it.
    """
    import pgserver  # imported lazily: only needed without PLINTH_DATABASE_URL

    pgdata = data_dir / "pg"
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    url = server.get_uri()
    log.info("embedded PostgreSQL ready in %s", pgdata)
    return url
