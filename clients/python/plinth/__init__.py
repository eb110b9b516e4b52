"""Plinth's Python client. The generated stubs live in plinth.v1."""

from plinth.client import AsyncClient, Client
from plinth.errors import PlinthError

__all__ = ["AsyncClient", "Client", "PlinthError"]
