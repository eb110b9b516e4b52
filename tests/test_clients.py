"""Clients in other languages: buf.gen.yaml's TypeScript stubs drive a running core from
Node.js, its Go stubs are generated, and `buf breaking` keeps the protos compatible."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from plinth import Client

from tests.conftest import Stack

ROOT = Path(__file__).resolve().parent.parent
TS = ROOT / "clients" / "typescript"
NODE_BIN = TS / "node_modules" / ".bin"
# npm ci runs once per package-lock; this stamp in node_modules says which one it ran.
STAMP = TS / "node_modules" / ".plinth-lock"
BUF = ["npx", "--yes", "@bufbuild/buf"]  # as `make lint` runs it


def run(args: list[str], cwd: Path = ROOT, timeout: float = 180) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args[:3]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def need_node() -> None:
    if not all(shutil.which(tool) for tool in ("node", "npm", "npx")):
        pytest.skip("Node.js (node, npm, npx) is not installed")


def template(out_prefix: str) -> str:
    """buf.gen.yaml with only the plugins writing under out_prefix, for --template."""
    spec = yaml.safe_load((ROOT / "buf.gen.yaml").read_text())
    spec["plugins"] = [p for p in spec["plugins"] if p["out"].startswith(out_prefix)]
    assert spec["plugins"], f"buf.gen.yaml has no plugin writing to {out_prefix}"
    return json.dumps(spec)


def npm_install() -> None:
    lock = hashlib.sha256((TS / "package-lock.json").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == lock:
        return
    run(["npm", "ci", "--no-audit", "--no-fund", "--prefer-offline"], cwd=TS, timeout=300)
    STAMP.write_text(lock)


def googleapis_rpc() -> Path:
    """google/rpc/error_details.proto as the googleapis-common-protos package ships it."""
    spec = importlib.util.find_spec("google.rpc.error_details_pb2")
    assert spec and spec.origin
    return Path(spec.origin).with_name("error_details.proto")


@pytest.fixture(scope="module")
def smoke_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smoke client compiled with its stubs: plinth.v1 and google.rpc's ErrorInfo."""
    need_node()
    npm_install()
    shutil.rmtree(TS / "gen", ignore_errors=True)
    shutil.rmtree(TS / "dist", ignore_errors=True)
    ts_template = template("clients/typescript/")
    buf = str(NODE_BIN / "buf")
    run([buf, "generate", "--template", ts_template])
    rpc = tmp_path_factory.mktemp("googleapis")
    (rpc / "google" / "rpc").mkdir(parents=True)
    shutil.copy(googleapis_rpc(), rpc / "google" / "rpc")
    run([buf, "generate", str(rpc), "--template", ts_template])
    run([str(NODE_BIN / "tsc"), "-p", "."], cwd=TS)
    return TS / "dist" / "smoke.js"


def test_typescript_client_creates_and_lists(stack: Stack, name: str, smoke_script: Path):
    with Client(stack.core_addr, api_key=stack.admin_key) as client:
        client.create_collection(
            name,
            [
                {"name": "title", "type": "string", "required": True},
                {"name": "count", "type": "integer"},
            ],
        )
    out = run(["node", str(smoke_script), stack.core_addr, stack.admin_key, name], timeout=60)
    seen = json.loads(out)
    created = seen["created"]
    assert created["title"] == "from TypeScript" and created["count"] == 3
    assert seen["version"] == 1
    assert [record["id"] for record in seen["listed"]] == [created["id"]]
    assert seen["total"] == 1
    # Errors are google.rpc.Status details whose ErrorInfo.reason is the REST code.
    assert seen["invalid"] == {
        "code": "InvalidArgument",
        "reason": "VALIDATION_ERROR",
        "domain": "plinth",
    }
    assert seen["unauthenticated"]["code"] == "Unauthenticated"
    assert seen["unauthenticated"]["reason"] == "UNAUTHENTICATED"


def test_go_stubs_generate(tmp_path: Path):
    plugins = ("protoc-gen-go", "protoc-gen-go-grpc")
    if not all(shutil.which(plugin) for plugin in plugins):
        pytest.skip("Go's protobuf plugins (protoc-gen-go, protoc-gen-go-grpc) are not installed")
    need_node()
    spec = json.loads(template("clients/go/"))
    for plugin in spec["plugins"]:
        plugin["out"] = str(tmp_path)  # the real out folder is for `make clients`
    run([*BUF, "generate", "--template", json.dumps(spec)])
    protos = sorted((ROOT / "protos" / "plinth" / "v1").glob("*.proto"))
    generated = {path.name for path in (tmp_path / "plinth" / "v1").iterdir()}
    assert {f"{proto.stem}.pb.go" for proto in protos} <= generated
    for proto in protos:
        if "\nservice " in proto.read_text():
            stub = (tmp_path / "plinth" / "v1" / f"{proto.stem}_grpc.pb.go").read_text()
            assert "package plinthv1" in stub and "ServiceClient interface" in stub


def git(*args: str) -> str:
    return run(["git", *args]).strip()


def before_last_proto_change() -> str:
    """The commit before the newest one (along the first parents, so a merge counts as
    one change) that touched protos/: the protos as they were before their last change."""
    if not (ROOT / ".git").exists():
        pytest.skip("no git history (.git) to compare the protos against")
    last = git("log", "--first-parent", "-1", "--format=%H", "--", "protos")
    parents = git("rev-list", "--parents", "-n", "1", last).split()[1:] if last else []
    if not parents:
        pytest.skip("the protos have no earlier commit to be compared against")
    return parents[0]


def test_protos_compatible_with_before_their_last_change():
    need_node()
    against = before_last_proto_change()
    # The whole workspace of buf.yaml (its modules and breaking rules) at both ends.
    run([*BUF, "breaking", ".", "--against", f".git#ref={against}"])


def test_breaking_check_refuses_an_incompatible_change(tmp_path: Path):
    need_node()
    shutil.copytree(ROOT / "protos", tmp_path / "protos")
    common = tmp_path / "protos" / "plinth" / "v1" / "common.proto"
    text = common.read_text()
    assert "  int64 version = 2;" in text
    common.write_text(text.replace("  int64 version = 2;", "  string version = 2;"))
    done = subprocess.run(
        [*BUF, "breaking", str(tmp_path / "protos"), "--against", "protos"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert 'changed type from "int64" to "string"' in done.stdout + done.stderr
