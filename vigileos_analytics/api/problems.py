"""Errors of the HTTP API as RFC 9457 problem details: ``type``, ``title``, ``status``,
``detail`` (naming the parameter and value) and, where known, ``parameter`` / ``value``.

The package's :class:`~..errors.ValidationError` is 400, unknown equipment 404, a
missing or wrong token 401 / 403, a request FastAPI could not parse 422, a store
failure 503, a body too large 413; anything else is a 500 without internals.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import ApiAuthError, ApiError, StoreError, ValidationError, VigileosError

PROBLEM_JSON = "application/problem+json"
_log = logging.getLogger(__name__)

_TITLES = {400: "Invalid parameter", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
           405: "Method not allowed", 413: "Request too large", 422: "Invalid request", 500: "Internal error",
           503: "Store unavailable"}


def problem_response(status: int, detail: str, *, kind: str | None = None, parameter: str | None = None,
                     value: Any = None, headers: dict[str, str] | None = None) -> JSONResponse:
    """A problem-details answer."""
    title = _TITLES.get(status, "Error")
    body: dict[str, Any] = {"type": f"urn:vigileos:problem:{kind or title.lower().replace(' ', '-')}",
                            "title": title, "status": status, "detail": detail}
    if parameter is not None:
        body["parameter"] = parameter
        body["value"] = value if value is None or isinstance(value, (str, int, float, bool)) else str(value)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("query", "path", "body", "header")]
    return ".".join(parts) or "request"


def install_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` as problem details."""

    @app.exception_handler(ApiError)
    async def _problem(request: Request, exc: ApiError) -> JSONResponse:
        return problem_response(exc.status, exc.detail, kind=exc.kind, parameter=exc.parameter, value=exc.value)

    @app.exception_handler(ApiAuthError)
    async def _auth(request: Request, exc: ApiAuthError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem_response(exc.status, exc.detail, headers=headers)

    @app.exception_handler(ValidationError)
    async def _invalid(request: Request, exc: ValidationError) -> JSONResponse:
        return problem_response(400, str(exc), kind="invalid-parameter", parameter=exc.field, value=exc.value)

    @app.exception_handler(RequestValidationError)
    async def _unparsed(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        parameter = _location(first.get("loc", ()))
        details = "; ".join(f"{_location(e.get('loc', ()))}: {e.get('msg', 'invalid')} (got {e.get('input')!r})"
                            for e in errors)
        return problem_response(422, details or "The request is not valid.", kind="invalid-request",
                                parameter=parameter, value=first.get("input"))

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> JSONResponse:
        return problem_response(503, f"The store failed: {exc}", kind="store-unavailable")

    @app.exception_handler(VigileosError)
    async def _other(request: Request, exc: VigileosError) -> JSONResponse:
        _log.error("%s: %s", type(exc).__name__, exc)
        return problem_response(500, f"{type(exc).__name__}: {exc}", kind="internal-error")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        _log.exception("Unexpected error answering %s %s", request.method, request.url.path)
        return problem_response(500, "An unexpected error occurred; the server log has the details.",
                                kind="internal-error")
