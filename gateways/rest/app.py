"""The REST gateway: HTTP in, gRPC to core, the API.md envelopes out. No business rules."""

from __future__ import annotations

from sanic import Sanic

from gateways.app_base import new_app
from gateways.config import GatewayConfig
from gateways.rest import errors
from gateways.rest.routes import (
    auth,
    export,
    files,
    kv,
    query,
    queue,
    records,
    relationships,
    schema,
    spec,
    writes,
)


def create_app(config: GatewayConfig, name: str = "plinth-rest") -> Sanic:
    app = new_app(name, config, errors.handle)
    # Static segments (schema, …/count, …/query, …/export) win over /<collection>/<id>.
    app.blueprint(schema.bp)
    app.blueprint(spec.bp)  # /api/v1/docs: `docs` is not reachable as a collection list
    app.blueprint(auth.bp)  # /api/v1/auth/…: `auth` is not reachable as a collection
    app.blueprint(kv.bp)  # /api/v1/kv/<key:path>: `kv` is not reachable as a collection
    app.blueprint(queue.bp)  # /api/v1/queue/…: `queue` is not reachable as a collection
    app.blueprint(files.bp)  # /api/v1/files/…: `files` is not reachable as a collection
    app.blueprint(query.bp)
    app.blueprint(export.bp)
    app.blueprint(writes.bp)  # …/batch, …/bulk, …/import before /<collection>/<id>
    app.blueprint(relationships.bp)  # …/{id}/relationships/… before /<collection>/<id>
    app.blueprint(records.bp)
    return app
