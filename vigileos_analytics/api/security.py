"""Who may read and write through the HTTP API: bearer tokens from the settings.

``VIGILEOS_API_TOKEN`` guards reads and ``VIGILEOS_API_WRITE_TOKEN`` writes (the write
token reads too). With no read token, reads are open: ``vigileos serve`` then binds
loopback addresses only. With no write token, writes are refused. Tokens are
compared with :func:`hmac.compare_digest` and never logged.
"""

from __future__ import annotations

import hmac

from fastapi import Request

from ..config import Secret, Settings
from ..errors import ApiAuthError


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _matches(given: str, secret: Secret) -> bool:
    return bool(secret) and hmac.compare_digest(given.encode("utf-8"), secret.get().encode("utf-8"))


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def may_read(settings: Settings, authorization: str) -> bool:
    """Whether a request with this ``Authorization`` header may read (the rule of :func:`require_read`)."""
    if not settings.api_token:
        return True
    scheme, _, token = authorization.partition(" ")
    given = token.strip()
    return scheme.lower() == "bearer" and bool(given) and (
        _matches(given, settings.api_token) or _matches(given, settings.api_write_token))


async def require_read(request: Request) -> None:
    """A FastAPI dependency: the read token or the write token, unless no read token is set.
    A coroutine: it only compares strings, so it runs on the event loop, not in a thread."""
    settings = _settings(request)
    if not settings.api_token:
        return
    given = _bearer(request)
    if given is None:
        raise ApiAuthError(401, "This endpoint needs the header Authorization: Bearer <VIGILEOS_API_TOKEN>.")
    if not (_matches(given, settings.api_token) or _matches(given, settings.api_write_token)):
        raise ApiAuthError(401, "The bearer token is not valid.")


def require_write(request: Request) -> None:
    """A FastAPI dependency: the write token; refused when none is set."""
    settings = _settings(request)
    if not settings.api_write_token:
        raise ApiAuthError(403, "Writes are off: VIGILEOS_API_WRITE_TOKEN is not set.")
    given = _bearer(request)
    if given is None:
        raise ApiAuthError(401, "This endpoint needs the header Authorization: Bearer <VIGILEOS_API_WRITE_TOKEN>.")
    if _matches(given, settings.api_write_token):
        return
    if _matches(given, settings.api_token):
        raise ApiAuthError(403, "The read token cannot write; use VIGILEOS_API_WRITE_TOKEN.")
    raise ApiAuthError(401, "The bearer token is not valid.")
