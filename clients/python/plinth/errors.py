"""The client's one error type, translated once from a gRPC status."""

from __future__ import annotations

from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

# Used when a status carries no ErrorInfo (transport errors, deadlines).
_FROM_GRPC = {
    grpc.StatusCode.INVALID_ARGUMENT: "BAD_REQUEST",
    grpc.StatusCode.UNAUTHENTICATED: "UNAUTHENTICATED",
    grpc.StatusCode.PERMISSION_DENIED: "FORBIDDEN",
    grpc.StatusCode.NOT_FOUND: "NOT_FOUND",
    grpc.StatusCode.ALREADY_EXISTS: "CONFLICT",
    grpc.StatusCode.ABORTED: "CONFLICT",
    grpc.StatusCode.FAILED_PRECONDITION: "PRECONDITION_FAILED",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "PAYLOAD_TOO_LARGE",  # rate limits carry an ErrorInfo
    grpc.StatusCode.UNAVAILABLE: "UNAVAILABLE",
    grpc.StatusCode.DEADLINE_EXCEEDED: "UNAVAILABLE",
}


_CODES = {code.value[0]: code for code in grpc.StatusCode}

_TRANSPORT_MESSAGES = {
    grpc.StatusCode.UNAVAILABLE: "Plinth core is unreachable; retry later",
    grpc.StatusCode.DEADLINE_EXCEEDED: "Plinth core did not answer in time; retry later",
}


class PlinthError(Exception):
    """An error answered by Plinth. `code` is one of the API codes (e.g. "NOT_FOUND")."""

    def __init__(
        self,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        grpc_code: grpc.StatusCode | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self._code = code
        self._message = message
        self._details = details or []
        self._grpc_code = grpc_code

    @property
    def code(self) -> str:
        return self._code

    @property
    def message(self) -> str:
        return self._message

    @property
    def details(self) -> list[dict[str, Any]]:
        """Field violations as {"field", "reason"}, or {"permission"} for FORBIDDEN."""
        return self._details

    @property
    def grpc_code(self) -> grpc.StatusCode | None:
        return self._grpc_code

    @classmethod
    def from_rpc(cls, error: grpc.RpcError) -> PlinthError:
        grpc_code = error.code()
        message = error.details() or grpc_code.name.lower()
        try:
            status = rpc_status.from_call(error)
        except ValueError:
            status = None
        if status is None and grpc_code in _TRANSPORT_MESSAGES:
            # gRPC's own text names addresses and internals; say what it means instead.
            message = _TRANSPORT_MESSAGES[grpc_code]
        return cls._from(grpc_code, message, status)

    @classmethod
    def from_status(cls, data: bytes) -> PlinthError:
        """From a serialized google.rpc.Status (a batch answer's error for one item)."""
        status = status_pb2.Status.FromString(data)
        grpc_code = _CODES.get(status.code, grpc.StatusCode.UNKNOWN)
        return cls._from(grpc_code, status.message or grpc_code.name.lower(), status)

    @classmethod
    def _from(
        cls, grpc_code: grpc.StatusCode, message: str, status: status_pb2.Status | None
    ) -> PlinthError:
        code = _FROM_GRPC.get(grpc_code, "INTERNAL")
        details: list[dict[str, Any]] = []
        for any_detail in status.details if status else ():
            if any_detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                any_detail.Unpack(info)
                code = info.reason or code
                if "permission" in info.metadata:
                    details.append({"permission": info.metadata["permission"]})
            elif any_detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                any_detail.Unpack(bad)
                details += [
                    {"field": v.field, "reason": v.description} for v in bad.field_violations
                ]
        return cls(code, message, details, grpc_code)
