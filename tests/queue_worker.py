"""A queue worker process for the tests: `python -m tests.queue_worker` with the
environment TOPIC, MODE, OUT, KEY, SLOTS and PLINTH_CORE_ADDR.

MODE `hold` takes jobs and never finishes them (to be killed); `ack` acks each job.
Every job received is appended to OUT as "<job id> <lease id>".
"""

from __future__ import annotations

import asyncio
import os

from plinth import AsyncClient
from plinth.worker import Job, run_workers, worker


def record(path: str, line: str) -> None:
    with open(path, "a") as f:
        f.write(line)


async def main(topic: str, mode: str, out: str) -> None:
    async with AsyncClient(os.environ["PLINTH_CORE_ADDR"], api_key=os.environ["KEY"]) as client:

        @worker(topic, concurrency=int(os.environ.get("SLOTS", "4")), visibility_ms=1500)
        async def handle(job: Job) -> dict:
            record(out, f"{job.id} {job.lease_id}\n")
            if mode == "hold":
                await asyncio.Event().wait()
            return {"by": os.getpid()}

        await run_workers(client, handle)


if __name__ == "__main__":
    asyncio.run(main(os.environ["TOPIC"], os.environ["MODE"], os.environ["OUT"]))
