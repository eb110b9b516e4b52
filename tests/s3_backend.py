"""An S3-backed core and REST gateway beside the test stack: moto's S3 server on a free
loopback port, reached over real HTTP (no patching of boto)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import boto3
from moto.server import ThreadedMotoServer

from launcher.processes import free_port, spawn_process, wait_for_http
from tests.conftest import Stack

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextlib.contextmanager
def s3_server() -> Iterator[str]:
    """moto's S3 on a free port; yields its endpoint URL."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@contextlib.contextmanager
def s3_gateway(stack: Stack, endpoint: str) -> Iterator[str]:
    """A core storing files in a new bucket at `endpoint`, and a REST gateway in front of
    it, on the stack's database; yields the gateway's URL."""
    bucket = f"plinth-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, **_boto_credentials()).create_bucket(Bucket=bucket)
    core_addr, rest_addr = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    env = {"PLINTH_S3_BUCKET": bucket, "PLINTH_S3_ENDPOINT_URL": endpoint, **AWS_ENV}
    core = stack.start_core("core-s3", addr=core_addr, **env)
    rest = spawn_process(
        "rest-s3",
        "rest",
        {**stack.env, "PLINTH_CORE_ADDR": core_addr, "PLINTH_REST_ADDR": rest_addr},
        stack.data_dir,
    )
    stack.processes["rest-s3"] = rest
    try:
        wait_for_http(f"http://{rest_addr}/healthz", rest)
        yield f"http://{rest_addr}"
    finally:
        rest.stop()
        core.stop()


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": AWS_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        "region_name": AWS_ENV["AWS_DEFAULT_REGION"],
    }
