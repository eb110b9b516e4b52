"""The one error type of core, its codes, and the SQLSTATE -> code table.

A code names the public API.md code; its gRPC status is the default mapping
(an error may override it, e.g. a stale version is ABORTED on gRPC but keeps
the PRECONDITION_FAILED reason that the gateways turn into HTTP 412).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import grpc
import psycopg.errors as pg
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

DOMAIN = "plinth"
# Error text quotes the caller's input; the whole status must fit gRPC's 8 KiB metadata.
MAX_MESSAGE = 1000
MAX_DETAIL = 200
MAX_VIOLATIONS = 20


class Code(enum.StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    BAD_REQUEST = "BAD_REQUEST"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    PRECONDITION_FAILED = "PRECONDITION_FAILED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    RATE_LIMITED = "RATE_LIMITED"
    INTERNAL = "INTERNAL"
    UNAVAILABLE = "UNAVAILABLE"

    @property
    def status(self) -> grpc.StatusCode:
        return _GRPC_STATUS[self]


_GRPC_STATUS = {
    Code.VALIDATION_ERROR: grpc.StatusCode.INVALID_ARGUMENT,
    Code.BAD_REQUEST: grpc.StatusCode.INVALID_ARGUMENT,
    Code.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    Code.FORBIDDEN: grpc.StatusCode.PERMISSION_DENIED,
    Code.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    Code.CONFLICT: grpc.StatusCode.ALREADY_EXISTS,
    Code.PRECONDITION_FAILED: grpc.StatusCode.FAILED_PRECONDITION,
    Code.PAYLOAD_TOO_LARGE: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Code.RATE_LIMITED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Code.INTERNAL: grpc.StatusCode.INTERNAL,
    Code.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
}


@dataclass(frozen=True)
class Violation:
    field: str
    reason: str


@dataclass
class CoreError(Exception):
    code: Code
    message: str
    violations: list[Violation] = field(default_factory=list)
    permission: str | None = None
    status: grpc.StatusCode | None = None

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"

    def to_status(self) -> status_pb2.Status:
        """The google.rpc.Status with ErrorInfo (and BadRequest for violations)."""
        grpc_status = self.status or self.code.status
        info = error_details_pb2.ErrorInfo(reason=self.code.value, domain=DOMAIN)
        if self.permission:
            info.metadata["permission"] = self.permission
        details = [info]
        if self.violations:
            details.append(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=_clip(v.field, MAX_DETAIL),
                            description=_clip(v.reason, MAX_DETAIL),
                        )
                        for v in self.violations[:MAX_VIOLATIONS]
                    ]
                )
            )
        packed = []
        for detail in details:
            any_msg = any_pb2.Any()
            any_msg.Pack(detail)
            packed.append(any_msg)
        return status_pb2.Status(
            code=getattr(code_pb2, grpc_status.name),
            message=_clip(self.message, MAX_MESSAGE),
            details=packed,
        )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bad_request(message: str) -> CoreError:
    return CoreError(Code.BAD_REQUEST, message)


def not_found(message: str) -> CoreError:
    return CoreError(Code.NOT_FOUND, message)


def conflict(message: str) -> CoreError:
    return CoreError(Code.CONFLICT, message)


def invalid(violations: list[Violation]) -> CoreError:
    """VALIDATION_ERROR listing every violation at once."""
    summary = "; ".join(f"{v.field}: {v.reason}" for v in violations)
    return CoreError(Code.VALIDATION_ERROR, f"invalid record: {summary}", violations)


# SQLSTATE class or exact state -> (code, message). Checked exact first, then class.
_SQLSTATE: dict[str, tuple[Code, str]] = {
    "23505": (Code.CONFLICT, "a record with this value already exists"),
    "23503": (Code.VALIDATION_ERROR, "a referenced record does not exist"),
    "23001": (Code.CONFLICT, "the record is still referenced"),
    "23502": (Code.CONFLICT, "existing records have no value for a required field"),
    "23514": (Code.VALIDATION_ERROR, "a value violates a check constraint"),
    "22P02": (Code.BAD_REQUEST, "a value has the wrong format for its field"),
    "22003": (Code.BAD_REQUEST, "a number is out of range for its field"),
    "22007": (Code.BAD_REQUEST, "a date or time value is malformed"),
    "22008": (Code.BAD_REQUEST, "a date or time value is out of range"),
    "2201B": (Code.BAD_REQUEST, "invalid regular expression"),
    "42P07": (Code.CONFLICT, "the name is already taken"),
    "42701": (Code.CONFLICT, "the name is already taken"),
    "42804": (Code.CONFLICT, "existing values cannot be converted to the new type"),
    "40001": (Code.CONFLICT, "concurrent update; retry"),
    "40P01": (Code.CONFLICT, "concurrent update; retry"),
    "08": (Code.UNAVAILABLE, "the database is unreachable"),
    "57P": (Code.UNAVAILABLE, "the database is shutting down"),
    "53": (Code.UNAVAILABLE, "the database is out of resources"),
}


def from_database(exc: pg.Error) -> CoreError | None:
    """Translate a database error whose cause is the caller's input or a conflict."""
    state = exc.sqlstate or ""
    column = exc.diag.column_name
    if state == "23503" and column:  # a relation's trigger: the field and the missing id
        return invalid([Violation(column, exc.diag.message_primary or "")])
    if state == "23001":  # a relation's trigger: which relation still refers to the record
        return CoreError(Code.CONFLICT, exc.diag.message_primary or "")
    for key in (state, state[:3], state[:2]):
        if key in _SQLSTATE:
            code, message = _SQLSTATE[key]
            detail = exc.diag.message_detail
            if code is Code.CONFLICT and detail and state == "23505":
                message = f"{message}: {_redact_key_detail(detail)}"
            return CoreError(code, message)
    return None


def _redact_key_detail(detail: str) -> str:
    # 'Key (sku)=(A-1) already exists.' -> 'field sku' (no values from other rows).
    if detail.startswith("Key (") and ")=" in detail:
        return "field " + detail[5 : detail.index(")=")]
    return "duplicate value"
