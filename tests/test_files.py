"""Files end to end through the REST gateway, over both backends (local disk, and S3 as
moto's server): upload URL, PUT, confirm, download, metadata, list, delete, limits; the
local backend's signed URLs refused when tampered, expired or of another space."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from plinth import Client, PlinthError

from core.errors import Code, CoreError
from core.files.rules import FileRules
from core.files.signing import KEY_FILE, Signer
from core.files.sniff import HEAD_BYTES, sniff
from launcher.processes import free_port
from tests.conftest import Stack
from tests.s3_backend import s3_gateway, s3_server

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
MAX_FILE_BYTES = 100 * 1024 * 1024


@dataclass
class Files:
    """The REST files API of one space, and a client without credentials for the URLs."""

    api: httpx.Client
    anon: httpx.Client

    def upload_url(self, size: int, name: str = "a.bin", mime: str = "image/png", **scope):
        body = {"file_name": name, "mime_type": mime, "size_bytes": size, **scope}
        return self.api.post("/api/v1/files/upload-url", json=body)

    def put(self, target: dict, content: bytes) -> httpx.Response:
        return self.anon.request(
            target["method"], target["upload_url"], content=content, headers=target["headers"]
        )

    def upload(self, content: bytes, **declared) -> dict:
        """A confirmed file's metadata."""
        answer = self.upload_url(len(content), **declared)
        assert answer.status_code == 200, answer.text
        target = answer.json()["data"]
        assert self.put(target, content).status_code in (200, 204)
        confirmed = self.api.post(f"/api/v1/files/{target['file_id']}/confirm")
        assert confirmed.status_code == 200, confirmed.text
        return confirmed.json()["data"]

    def download(self, file_id: str) -> httpx.Response:
        answer = self.api.get(f"/api/v1/files/{file_id}/download-url")
        assert answer.status_code == 200, answer.text
        return self.anon.get(answer.json()["data"]["url"])


@contextlib.contextmanager
def files_api(url: str, key: str) -> Iterator[Files]:
    headers = {"Authorization": f"Bearer {key}"}
    with (
        httpx.Client(base_url=url, headers=headers, timeout=60) as api,
        httpx.Client(timeout=60) as anon,
    ):
        yield Files(api, anon)


def confirmed_file(rest: httpx.Client, content: bytes = b"hello") -> str:
    """The id of a new confirmed file, through a REST client with credentials."""
    body = {"file_name": "f.txt", "mime_type": "text/plain", "size_bytes": len(content)}
    target = rest.post("/api/v1/files/upload-url", json=body).json()["data"]
    assert rest.put(target["upload_url"], content=content, headers=target["headers"]).is_success
    assert rest.post(f"/api/v1/files/{target['file_id']}/confirm").is_success
    return target["file_id"]


@pytest.fixture(scope="session")
def s3_rest_url(stack: Stack) -> Iterator[str]:
    """The REST gateway of a core that keeps files in S3."""
    with s3_server() as endpoint, s3_gateway(stack, endpoint) as url:
        yield url


@pytest.fixture(params=["local", "s3"])
def any_files(request: pytest.FixtureRequest, stack: Stack) -> Iterator[Files]:
    """The files API over each backend in turn."""
    url = stack.rest_url if request.param == "local" else request.getfixturevalue("s3_rest_url")
    with files_api(url, stack.admin_key) as api:
        yield api


@pytest.fixture
def files(stack: Stack) -> Iterator[Files]:
    """The files API over the local backend."""
    with files_api(stack.rest_url, stack.admin_key) as api:
        yield api


def code(answer: httpx.Response) -> tuple[int, str]:
    return answer.status_code, answer.json()["error"]["code"]


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_upload_confirm_download_list_delete(any_files: Files) -> None:
    collection = "c_" + uuid.uuid4().hex[:8]
    file = any_files.upload(PNG, name="cover one.png", mime="image/png", collection=collection)
    assert file["confirmed"] is True
    assert file["size_bytes"] == len(PNG)
    assert (file["file_name"], file["mime_type"]) == ("cover one.png", "image/png")
    assert file["detected_mime_type"] == "image/png"
    assert file["collection"] == collection and file["record_id"] is None

    downloaded = any_files.download(file["id"])
    assert downloaded.status_code == 200
    assert downloaded.content == PNG
    assert downloaded.headers["content-type"].startswith("image/png")

    answer = any_files.api.get(f"/api/v1/files/{file['id']}/download-url").json()["data"]
    assert (answer["file_name"], answer["mime_type"]) == ("cover one.png", "image/png")
    assert answer["expires_at"]
    assert any_files.api.get(f"/api/v1/files/{file['id']}").json()["data"] == file

    deleted = any_files.api.delete(f"/api/v1/files/{file['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert code(any_files.api.get(f"/api/v1/files/{file['id']}")) == (404, "NOT_FOUND")
    assert code(any_files.api.delete(f"/api/v1/files/{file['id']}")) == (404, "NOT_FOUND")


def test_list_filters_by_collection_and_pages(any_files: Files) -> None:
    collection = "c_" + uuid.uuid4().hex[:8]
    made = [any_files.upload(b"x" * n, mime="text/plain", collection=collection) for n in (1, 2, 3)]
    any_files.upload(b"other", mime="text/plain", collection=collection + "_other")
    seen, cursor = [], None
    while True:
        query = {"collection": collection, "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = any_files.api.get("/api/v1/files", params=query).json()
        seen += [f["id"] for f in page["data"]]
        assert page["meta"]["limit"] == 2
        if not page["meta"]["has_more"]:
            break
        cursor = page["meta"]["next_cursor"]
    assert seen == [f["id"] for f in reversed(made)]  # newest first
    other = any_files.api.get(
        "/api/v1/files", params={"collection": collection + "_x", "cursor": cursor}
    )
    assert code(other) == (400, "BAD_REQUEST")  # a cursor of another listing
    assert code(any_files.api.get("/api/v1/files", params={"limit": 0})) == (400, "BAD_REQUEST")


def test_size_over_the_limit_is_413(any_files: Files) -> None:
    assert code(any_files.upload_url(MAX_FILE_BYTES + 1)) == (413, "PAYLOAD_TOO_LARGE")
    assert any_files.upload_url(MAX_FILE_BYTES).status_code == 200


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"file_name": "a", "mime_type": "text/plain"}, 400),  # no size
        ({"file_name": "a", "mime_type": "text/plain", "size_bytes": -1}, 400),
        ({"file_name": "a", "mime_type": "text/plain", "size_bytes": "3"}, 400),
        ({"file_name": "a/b", "mime_type": "text/plain", "size_bytes": 3}, 400),
        ({"file_name": "", "mime_type": "text/plain", "size_bytes": 3}, 400),
        ({"file_name": "a", "mime_type": "not a type", "size_bytes": 3}, 400),
        ({"file_name": "a", "mime_type": "text/plain", "size_bytes": 3, "x": 1}, 400),
        ({"file_name": "a", "mime_type": "text/plain", "size_bytes": 2**70}, 400),
    ],
)
def test_bad_upload_requests(files: Files, body: dict, expected: int) -> None:
    assert code(files.api.post("/api/v1/files/upload-url", json=body)) == (expected, "BAD_REQUEST")


def test_confirm_without_upload_or_with_the_wrong_size_is_400(any_files: Files) -> None:
    target = any_files.upload_url(10).json()["data"]
    confirm = f"/api/v1/files/{target['file_id']}/confirm"
    assert code(any_files.api.post(confirm)) == (400, "BAD_REQUEST")
    assert any_files.put(target, b"short").status_code == 200
    answer = any_files.api.post(confirm)
    assert code(answer) == (400, "BAD_REQUEST") and "5 bytes" in answer.json()["error"]["message"]
    meta = any_files.api.get(f"/api/v1/files/{target['file_id']}").json()["data"]
    assert meta["confirmed"] is False and meta["detected_mime_type"] is None
    # Unconfirmed: no download URL.
    answer = any_files.api.get(f"/api/v1/files/{target['file_id']}/download-url")
    assert code(answer) == (404, "NOT_FOUND")
    # Fixed by uploading again, then confirming.
    assert any_files.put(target, b"0123456789").status_code == 200
    assert any_files.api.post(confirm).json()["data"]["confirmed"] is True
    assert any_files.api.post(confirm).json()["data"]["confirmed"] is True  # idempotent


def test_more_bytes_than_declared_are_refused(stack: Stack, files: Files) -> None:
    target = files.upload_url(4).json()["data"]
    assert code(files.put(target, b"0123456789")) == (413, "PAYLOAD_TOO_LARGE")
    assert code(files.api.post(f"/api/v1/files/{target['file_id']}/confirm"))[0] == 400


def test_unknown_ids_are_404(files: Files) -> None:
    for file_id in (str(uuid.uuid4()), "nope", "x" * 300):
        assert code(files.api.get(f"/api/v1/files/{file_id}")) == (404, "NOT_FOUND")
        assert code(files.api.post(f"/api/v1/files/{file_id}/confirm")) == (404, "NOT_FOUND")
        assert code(files.api.get(f"/api/v1/files/{file_id}/download-url"))[0] == 404


def test_local_urls_carry_no_credentials_and_refuse_tampering(files: Files) -> None:
    file = files.upload(PNG)
    url = files.api.get(f"/api/v1/files/{file['id']}/download-url").json()["data"]["url"]
    assert "plk_" not in url
    for part in ("signature", "expires", "space"):
        tampered = with_query(url, **{part: "1" + parse_qs(urlsplit(url).query)[part][0]})
        assert code(files.anon.get(tampered)) == (403, "FORBIDDEN")
    unsigned = urlunsplit(urlsplit(url)._replace(query=""))
    assert code(files.anon.get(unsigned)) == (403, "FORBIDDEN")
    # A download URL does not upload, and an upload URL does not download.
    assert code(files.anon.put(url, content=b"x")) == (403, "FORBIDDEN")
    target = files.upload_url(3).json()["data"]
    assert code(files.anon.get(target["upload_url"])) == (403, "FORBIDDEN")


def test_expired_urls_are_refused(stack: Stack, files: Files) -> None:
    file = files.upload(PNG)
    url = files.api.get(f"/api/v1/files/{file['id']}/download-url").json()["data"]["url"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    signer = Signer((stack.data_dir / KEY_FILE).read_text().strip().encode())
    past = int(time.time()) - 1
    signature = signer.sign("get", query["space"], file["id"], past)
    answer = files.anon.get(with_query(url, expires=str(past), signature=signature))
    assert code(answer) == (403, "FORBIDDEN") and "expired" in answer.json()["error"]["message"]


def test_another_spaces_file_is_not_found(stack: Stack, any_files: Files) -> None:
    url = str(any_files.api.base_url)
    with files_api(url, stack.other_space_key()) as theirs:
        their_file = theirs.upload(b"their secret", mime="text/plain")
        assert theirs.download(their_file["id"]).content == b"their secret"
    for answer in (
        any_files.api.get(f"/api/v1/files/{their_file['id']}"),
        any_files.api.get(f"/api/v1/files/{their_file['id']}/download-url"),
        any_files.api.post(f"/api/v1/files/{their_file['id']}/confirm"),
        any_files.api.delete(f"/api/v1/files/{their_file['id']}"),
    ):
        assert code(answer) == (404, "NOT_FOUND")


def test_a_url_of_one_space_never_serves_another(stack: Stack, files: Files) -> None:
    with files_api(stack.rest_url, stack.other_space_key()) as theirs:
        their_file = theirs.upload(b"their secret", mime="text/plain")
        assert theirs.download(their_file["id"]).content == b"their secret"
        mine = files.upload(PNG)
    url = files.api.get(f"/api/v1/files/{mine['id']}/download-url").json()["data"]["url"]
    # Their id in my URL: the signature covers the id.
    swapped = url.replace(mine["id"], their_file["id"])
    assert code(files.anon.get(swapped)) == (403, "FORBIDDEN")
    # Their file through my credentials: not found, as any other tenant's id.
    assert code(files.api.get(f"/api/v1/files/{their_file['id']}")) == (404, "NOT_FOUND")
    assert code(files.api.delete(f"/api/v1/files/{their_file['id']}")) == (404, "NOT_FOUND")


def test_signing_key_is_private(stack: Stack) -> None:
    assert (stack.data_dir / KEY_FILE).stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"%PDF-1.7\n", "application/pdf"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"\x00\x00\x00\x18ftypmp42", "video/mp4"),
        (b"PK\x03\x04\x14\x00", "application/zip"),
        (b"  <!DOCTYPE html><html>", "text/html"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml"),
        (b'{"a": 1}', "application/json"),
        ("héllo wörld".encode(), "text/plain"),
        ("é".encode() * 256, "text/plain"),  # a character cut at the end of the head
        (b"\x00\x01\x02\xfe", "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
)
def test_sniffed_types(head: bytes, mime: str) -> None:
    assert sniff(head[:HEAD_BYTES]) == mime


def test_allow_list_rules() -> None:
    rules = FileRules(100, ("image/*", "application/pdf"))
    assert rules.check_mime("Image/PNG") == "image/png"
    assert rules.check_mime("application/pdf; charset=binary") == "application/pdf"
    with pytest.raises(CoreError) as caught:
        rules.check_mime("text/html")
    assert caught.value.code == Code.BAD_REQUEST
    assert FileRules(100).allows("text/html")


def test_allow_list_and_limit_from_the_environment(stack: Stack) -> None:
    addr = f"127.0.0.1:{free_port()}"
    env = {"PLINTH_FILES_ALLOWED_MIME_TYPES": "image/*", "PLINTH_MAX_FILE_BYTES": "1000"}
    other = stack.start_core("core-files", addr=addr, **env)
    try:
        with Client(addr, api_key=stack.admin_key) as client:
            assert client.create_upload_url("a.png", "image/png", 1000)["method"] == "PUT"
            for mime, size, expected in (
                ("text/html", 10, "BAD_REQUEST"),
                ("image/png", 1001, "PAYLOAD_TOO_LARGE"),
            ):
                with pytest.raises(PlinthError) as caught:
                    client.create_upload_url("a", mime, size)
                assert caught.value.code == expected
    finally:
        other.stop()


def test_grpc_client_methods(stack: Stack, files: Files, grpc_client: Client) -> None:
    collection = "c_" + uuid.uuid4().hex[:8]
    target = grpc_client.create_upload_url("n.txt", "text/plain", 2, collection=collection)
    url = target["upload_url"]
    assert url.startswith("/api/v1/files/")  # the REST gateway's path
    assert files.anon.put(stack.rest_url + url, content=b"hi").status_code == 200
    file = grpc_client.confirm_upload(target["file_id"])
    assert file["detected_mime_type"] == "text/plain"
    assert grpc_client.get_file(file["id"]) == file
    listed, token = grpc_client.list_files(collection)
    assert [f["id"] for f in listed] == [file["id"]] and token == ""
    assert grpc_client.download_url(file["id"])["file_name"] == "n.txt"
    grpc_client.delete_file(file["id"])
    with pytest.raises(PlinthError) as caught:
        grpc_client.get_file(file["id"])
    assert caught.value.code == "NOT_FOUND"


def test_s3_urls_are_presigned_s3_urls(stack: Stack, s3_rest_url: str) -> None:
    with files_api(s3_rest_url, stack.admin_key) as s3:
        target = s3.upload_url(3, mime="text/plain").json()["data"]
        assert "X-Amz-Signature=" in target["upload_url"] and "/api/v1/" not in target["upload_url"]
        assert s3.put(target, b"abc").status_code == 200
        assert s3.api.post(f"/api/v1/files/{target['file_id']}/confirm").status_code == 200
        url = s3.api.get(f"/api/v1/files/{target['file_id']}/download-url").json()["data"]["url"]
        assert "X-Amz-Signature=" in url and "plk_" not in url
        assert s3.anon.get(url).content == b"abc"
        # The gateway's content route is the local backend's; this core refuses it.
        local = f"{s3_rest_url}/api/v1/files/{target['file_id']}/content"
        assert code(s3.anon.get(local)) == (403, "FORBIDDEN")
