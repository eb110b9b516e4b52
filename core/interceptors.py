"""The one server interceptor: request id, authentication and error mapping.

It wraps each handler rather than acting around it, so the principal and the
request id are set in the task that runs the handler.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar

import grpc
import psycopg
from grpc_status import rpc_status

from core import metrics
from core.auth.principal import ADMIN, Principal, set_principal
from core.errors import Code, CoreError, from_database

log = logging.getLogger("plinth.core")

PUBLIC_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")
# Calls that take no credentials (they are how a user gets some).
ANONYMOUS = frozenset(("/plinth.v1.AuthService/Login", "/plinth.v1.AuthService/RefreshToken"))
# What a role other than admin may call until roles carry permissions: its own session.
SELF_SERVICE = frozenset(("/plinth.v1.AuthService/GetMe", "/plinth.v1.AuthService/Logout"))

request_id: ContextVar[str] = ContextVar("plinth_request_id", default="-")

Authenticate = Callable[[dict[str, str]], Awaitable[Principal]]


def _as_plinth_error(exc: Exception, on_schema_drift: Callable[[], None]) -> CoreError:
    if isinstance(exc, CoreError):
        return exc
    if isinstance(exc, psycopg.errors.UndefinedTable | psycopg.errors.UndefinedColumn):
        # This process's schema cache is behind another process's change.
        on_schema_drift()
        return CoreError(Code.CONFLICT, "the schema changed while the request ran; retry")
    if isinstance(exc, psycopg.DataError) and exc.sqlstate is None:
        # Refused by psycopg before sending: a value Postgres cannot hold (a NUL in text).
        return CoreError(Code.BAD_REQUEST, f"a value cannot be used: {exc}")
    if isinstance(exc, psycopg.Error):
        mapped = from_database(exc)
        if mapped is not None:
            return mapped
    if isinstance(exc, psycopg.OperationalError | OSError) or type(exc).__name__ == "PoolTimeout":
        log.error("database unavailable: %s", exc)
        return CoreError(Code.UNAVAILABLE, "the database is unreachable; retry later")
    log.exception("internal error (request id %s)", request_id.get())
    return CoreError(Code.INTERNAL, f"internal error (request id {request_id.get()})")


_HANDLER_FACTORIES = {
    "unary_unary": grpc.unary_unary_rpc_method_handler,
    "unary_stream": grpc.unary_stream_rpc_method_handler,
    "stream_unary": grpc.stream_unary_rpc_method_handler,
    "stream_stream": grpc.stream_stream_rpc_method_handler,
}


class CoreInterceptor(grpc.aio.ServerInterceptor):
    def __init__(
        self,
        authenticate: Authenticate,
        on_schema_drift: Callable[[], None],
        signed_methods: frozenset[str] = frozenset(),
    ) -> None:
        self._authenticate = authenticate
        self._on_schema_drift = on_schema_drift
        # Methods authorized by a signature in the request (a signed URL), not credentials.
        self._signed_methods = signed_methods
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}  # per method, built once

    async def intercept_service(self, continuation, details: grpc.HandlerCallDetails):
        wrapped = self._wrapped.get(details.method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(details)
        if handler is None or details.method.startswith(PUBLIC_PREFIXES):
            return handler
        kind = next(k for k in _HANDLER_FACTORIES if getattr(handler, k))
        streaming = kind.endswith("_stream")
        # Signed file URLs carry their own proof; no credentials to check.
        authenticate = details.method not in self._signed_methods
        wrap = self._streaming if streaming else self._unary
        behavior = wrap(getattr(handler, kind), details.method, authenticate)
        wrapped = self._wrapped[details.method] = _HANDLER_FACTORIES[kind](
            behavior,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        return wrapped

    async def _begin(
        self, context: grpc.aio.ServicerContext, method: str, authenticate: bool
    ) -> None:
        metadata = {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
        request_id.set(metadata.get("x-request-id") or uuid.uuid4().hex)
        if not authenticate or method in ANONYMOUS:
            return
        principal = await self._authenticate(metadata)
        if principal.role != ADMIN and method not in SELF_SERVICE:
            name = method.rsplit("/", 1)[-1]
            raise CoreError(
                Code.FORBIDDEN,
                f"the role {principal.role!r} has no permission for {name}",
                permission=name,
            )
        set_principal(principal)

    def _status(self, exc: Exception):
        error = _as_plinth_error(exc, self._on_schema_drift)
        return rpc_status.to_status(error.to_status())

    def _unary(self, behavior, method: str, authenticate: bool):
        name = method.rsplit("/", 1)[-1]

        async def wrapped(request, context):
            started, code = time.perf_counter(), "OK"
            try:
                await self._begin(context, method, authenticate)
                return await behavior(request, context)
            except grpc.aio.AbortError:
                code = _code_name(context)
                raise
            except Exception as exc:
                status = self._status(exc)
                code = status.code.name
                await context.abort(status.code, status.details, status.trailing_metadata)
            finally:
                _observe(name, code, started)

        return wrapped

    def _streaming(self, behavior, method: str, authenticate: bool):
        name = method.rsplit("/", 1)[-1]

        async def wrapped(request, context):
            started, code = time.perf_counter(), "OK"
            try:
                await self._begin(context, method, authenticate)
                async for response in behavior(request, context):
                    yield response
            except grpc.aio.AbortError:
                code = _code_name(context)
                raise
            except Exception as exc:
                status = self._status(exc)
                code = status.code.name
                await context.abort(status.code, status.details, status.trailing_metadata)
            finally:
                _observe(name, code, started)

        return wrapped


def _code_name(context: grpc.aio.ServicerContext) -> str:
    code = context.code()
    return code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"


def _observe(method: str, code: str, started: float) -> None:
    seconds = time.perf_counter() - started
    metrics.GRPC_CALLS.labels(method, code).inc()
    metrics.GRPC_SECONDS.labels(method).observe(seconds)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("%s %s in %.1f ms", method, code, seconds * 1000)
