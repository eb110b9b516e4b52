"""Query-string parameters of the record routes -> request fields for core.

Structure only: values stay text and core coerces them to each field's type.
"""

from __future__ import annotations

from plinth.client import sort_keys
from plinth.v1 import query_pb2
from plinth.wire import INT64_MAX
from sanic import Request
from sanic.request import RequestParameters

from gateways.rest.errors import bad_request

NO_VERSION = -1  # an expected_version no record has


def query_args(request: Request) -> RequestParameters:
    """The query string with blank values kept: `cursor=` (the first page) and
    `filter[f]=` (equal to "") mean something."""
    return request.get_args(keep_blank_values=True)


def integer(args: RequestParameters, name: str, minimum: int, maximum: int) -> int | None:
    text = args.get(name)
    if text is None or text == "":
        return None
    try:
        number = int(text)
    except ValueError:
        raise bad_request(f"{name} must be an integer, not {text!r}") from None
    return bounded(name, number, minimum, maximum)


def bounded(name: str, number: int, minimum: int, maximum: int) -> int:
    if number < minimum:
        raise bad_request(f"{name} must be at least {minimum}")
    if number > maximum:
        raise bad_request(f"{name} must be at most {maximum}")
    return number


def csv(args: RequestParameters, name: str) -> list[str]:
    """`name=a,b&name=c` -> ["a", "b", "c"]."""
    return [part.strip() for text in args.getlist(name) for part in text.split(",") if part.strip()]


def sort(args: RequestParameters) -> list[query_pb2.SortField]:
    return sort_keys(csv(args, "sort"))


def if_match(request: Request) -> int:
    """The version an If-Match header asks for: 0 when absent or '*' (any version), and
    NO_VERSION for a tag this API never issued, which matches no record (412, RFC 9110)."""
    header = request.headers.get("if-match", "").strip()
    if header in ("", "*"):
        return 0
    tag = header.removeprefix("W/").strip('"')
    return int(tag) if tag.isdigit() and 0 < int(tag) <= INT64_MAX else NO_VERSION


def if_match_any(request: Request) -> bool:
    """If-Match: * (the record must exist, at any version)."""
    return request.headers.get("if-match", "").strip() == "*"


def etag(version: int) -> str:
    return f'"{version}"'
