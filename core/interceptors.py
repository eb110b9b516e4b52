"""The one server interceptor: request id, authentication and error mapping.

It wraps each handler rather than acting around it, so the principal and the
request id are set in the task that runs the handler.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar

import grpc
import psycopg
from grpc_status import rpc_status

from core.auth.principal import Principal, set_principal
from core.errors import Code, PlinthError, from_database

log = logging.getLogger("plinth.core")

PUBLIC_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")

request_id: ContextVar[str] = ContextVar("plinth_request_id", default="-")

Authenticate = Callable[[dict[str, str]], Awaitable[Principal]]


def _as_plinth_error(exc: Exception, on_schema_drift: Callable[[], None]) -> PlinthError:
    if isinstance(exc, PlinthError):
        return exc
    if isinstance(exc, psycopg.errors.UndefinedTable | psycopg.errors.UndefinedColumn):
        # This process's schema cache is behind another process's change.
        on_schema_drift()
        return PlinthError(Code.CONFLICT, "the schema changed while the request ran; retry")
    if isinstance(exc, psycopg.Error):
        mapped = from_database(exc)
        if mapped is not None:
            return mapped
    if isinstance(exc, psycopg.OperationalError | OSError) or type(exc).__name__ == "PoolTimeout":
        log.error("database unavailable: %s", exc)
        return PlinthError(Code.UNAVAILABLE, "the database is unreachable; retry later")
    log.exception("internal error (request id %s)", request_id.get())
    return PlinthError(Code.INTERNAL, f"internal error (request id {request_id.get()})")


class CoreInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, authenticate: Authenticate, on_schema_drift: Callable[[], None]) -> None:
        self._authenticate = authenticate
        self._on_schema_drift = on_schema_drift

    async def intercept_service(self, continuation, details: grpc.HandlerCallDetails):
        handler = await continuation(details)
        if handler is None or details.method.startswith(PUBLIC_PREFIXES):
            return handler
        metadata = {k: v for k, v in details.invocation_metadata if isinstance(v, str)}
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(handler.unary_unary, metadata),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._streaming(handler.unary_stream, metadata),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._unary(handler.stream_unary, metadata),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return grpc.stream_stream_rpc_method_handler(
            self._streaming(handler.stream_stream, metadata),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    async def _begin(self, metadata: dict[str, str]) -> None:
        request_id.set(metadata.get("x-request-id") or uuid.uuid4().hex)
        set_principal(await self._authenticate(metadata))

    async def _abort(self, context: grpc.aio.ServicerContext, exc: Exception) -> None:
        error = _as_plinth_error(exc, self._on_schema_drift)
        status = rpc_status.to_status(error.to_status())
        await context.abort(status.code, status.details, status.trailing_metadata)

    def _unary(self, behavior, metadata):
        async def wrapped(request, context):
            try:
                await self._begin(metadata)
                return await behavior(request, context)
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await self._abort(context, exc)

        return wrapped

    def _streaming(self, behavior, metadata):
        async def wrapped(request, context):
            try:
                await self._begin(metadata)
                async for response in behavior(request, context):
                    yield response
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await self._abort(context, exc)

        return wrapped
