"""InfluxDB answers and network failures as the package's typed errors.

Both InfluxDB stores meet the same failures; this module names their kind once,
at the point where it is known (see :mod:`vigileos_analytics.errors`):

=========================  ======================  =====================================
what happened              class                   ``problem``
=========================  ======================  =====================================
no answer in time          ``StoreTimeoutError``   ``timeout``
refused, DNS, reset, TLS   ``RetryableError``      ``unreachable`` (TLS: not retryable,
                                                   a ``StoreConnectionError``)
answered 5xx or 429        ``RetryableError``      ``server_error``
answered 401 or 403        ``StoreAuthError``      ``unauthorized`` / ``forbidden``
answered 404               ``StoreNotFoundError``  ``wrong_org``, ``missing_bucket``, ...
any other refusal          the operation's class   from the server's words, else ``failed``
=========================  ======================  =====================================

The class follows the HTTP status; ``problem`` follows the status and the
server's own error message (:func:`problem_of_answer`): InfluxDB 2.x says
``organization name "x" not found`` where 1.x says ``database not found``.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import urllib3

from ..errors import (
    RetryableError,
    StoreAuthError,
    StoreConnectionError,
    StoreError,
    StoreNotFoundError,
    StoreTimeoutError,
    exception_chain,
)

__all__ = [
    "NETWORK_ERRORS",
    "REFUSED",
    "answer_error",
    "client_error",
    "client_errors",
    "network_error",
    "one_line",
    "problem_of_answer",
    "server_message",
]

#: ``detail`` of an error whose connection was refused: nothing listens there.
REFUSED = "connection refused"

#: Exceptions of influxdb-client's transport that mean the server was not reached.
NETWORK_ERRORS = (urllib3.exceptions.HTTPError, OSError)


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line, at most ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def server_message(body: str | bytes | None) -> str:
    """The human part of an InfluxDB error body: ``message`` (2.x) or ``error`` (1.x), else the text."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    text = (body or "").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return one_line(text)
    if isinstance(data, dict):
        return one_line(str(data.get("message") or data.get("error") or text))
    return one_line(text)


def problem_of_answer(status: int | None, message: str) -> str:
    """The problem kind of an InfluxDB refusal: its HTTP ``status`` (None: an error
    inside a 200 answer) and the server's ``message``."""
    low = message.lower()
    not_found = "not found" in low or "could not find" in low or "does not exist" in low
    if status == 403 or (status == 401 and " is unauthorized" in low):
        return "forbidden"
    if status == 401 or "unauthorized" in low or "authorization failed" in low:
        return "unauthorized"
    if ("organization" in low or "org " in low) and not_found:
        return "wrong_org"
    if "dbrp" in low:
        return "missing_dbrp"
    if "bucket" in low and not_found:
        return "missing_bucket"
    if "database" in low and not_found:
        return "missing_database"
    if status == 404:
        return "wrong_api"
    if status is not None and (status >= 500 or status == 429):
        return "server_error"
    return "failed"


def answer_error(status: int, body: str | bytes | None, server: str, *, refused: type[StoreError],
                 advice: str = "") -> StoreError:
    """The error for an HTTP error answer; ``refused`` is the operation's class
    (``QueryError``, ``WriteError``, ...) for statuses with no class of their own."""
    message = server_message(body)
    error: type[StoreError] = refused
    if status >= 500 or status == 429:
        error = RetryableError
    elif status in (401, 403):
        error = StoreAuthError
    elif status == 404:
        error = StoreNotFoundError
    return error(f"{server} answered {status}: {message[:300]}" + (f". {advice}" if advice else ""), status=status,
                 server=server, problem=problem_of_answer(status, message), detail=message or None)


def _reason(exc: BaseException, host: str) -> str | None:
    """Why the connection failed, from the first socket-level cause in ``exc``'s chain."""
    for link in exception_chain(exc):
        if isinstance(link, ConnectionRefusedError):
            return REFUSED
        if isinstance(link, socket.gaierror):
            return f"the host name {host!r} does not resolve"
        if isinstance(link, OSError) and link.strerror:
            return link.strerror
    return None


def _timed_out(link: BaseException) -> bool:
    # urllib3's NewConnectionError subclasses its ConnectTimeoutError for history's sake:
    # a refused connection or an unknown host is not a timeout
    return isinstance(link, TimeoutError) or (isinstance(link, urllib3.exceptions.TimeoutError)
                                              and not isinstance(link, urllib3.exceptions.NewConnectionError))


def network_error(exc: BaseException, server: str, timeout_s: float | None = None) -> StoreConnectionError:
    """The error for a request that got no HTTP answer (``exc`` from requests, urllib3 or a socket)."""
    links = list(exception_chain(exc))
    if any(_timed_out(link) for link in links):
        within = f"within {timeout_s:g} s" if timeout_s is not None else "in time"
        return StoreTimeoutError(f"{server} did not answer {within} (raise ?timeout= in the store URL if the "
                                 "server is just slow).", server=server, detail="timed out")
    if any(isinstance(link, urllib3.exceptions.SSLError) for link in links):
        return StoreConnectionError(
            f"TLS handshake with {server} failed: {exc}. Check the certificate, or give a CA bundle with "
            "?verify=/path/to/ca.pem in the store URL.", server=server, problem="unreachable",
            detail="TLS handshake failed")
    answer = next((link for link in links if isinstance(link, urllib3.exceptions.ResponseError)), None)
    if answer is not None:  # urllib3 gave up retrying on 5xx / 429 answers
        return RetryableError(f"{server} kept failing: {answer}", server=server, problem="server_error",
                              detail=str(answer))
    url = server.rsplit(" at ", 1)[-1]
    reason = _reason(exc, urlsplit(url).hostname or url)
    return RetryableError(f"Cannot reach {server} ({reason or 'connection failed'}). Is it running? "
                          "Try `vigileos check`.", server=server, detail=reason)


def client_error(exc: BaseException, server: str, *, refused: type[StoreError], timeout_s: float | None = None,
                 advice: str = "") -> StoreError | None:
    """The error for an exception of influxdb-client (``ApiException``, ``InfluxDBError``)
    or its transport (urllib3, sockets), with ``exc`` as its cause; None for any other
    exception: that is a bug, not a store failure. ``advice`` follows an HTTP refusal."""
    from influxdb_client.client.exceptions import InfluxDBError
    from influxdb_client.rest import ApiException

    error: StoreError | None = None
    if isinstance(exc, ApiException) and isinstance(exc.status, int):
        error = answer_error(exc.status, exc.body, server, refused=refused, advice=advice)
    elif isinstance(exc, InfluxDBError) and getattr(exc.response, "status", None) is not None:
        error = answer_error(exc.response.status, exc.response.data, server, refused=refused, advice=advice)
    elif isinstance(exc, InfluxDBError):  # raised by the client itself, e.g. an organisation it cannot find
        problem = problem_of_answer(None, exc.message)
        error = (StoreNotFoundError if problem in ("wrong_org", "missing_bucket") else refused)(
            f"{server}: {exc.message}", server=server, problem=problem, detail=exc.message)
    elif isinstance(exc, NETWORK_ERRORS):
        error = network_error(exc, server, timeout_s)
    if error is not None:
        error.__cause__ = exc
    return error


@contextmanager
def client_errors(server: str, *, refused: type[StoreError], timeout_s: float | None = None,
                  advice: str = "") -> Iterator[None]:
    """Raise the package's error for influxdb-client / transport exceptions raised in
    the block (see :func:`client_error`); anything else propagates unchanged."""
    from influxdb_client.client.exceptions import InfluxDBError

    try:
        yield
    except (InfluxDBError, *NETWORK_ERRORS) as exc:
        error = client_error(exc, server, refused=refused, timeout_s=timeout_s, advice=advice)
        if error is None:  # an ApiException without a status: not an answer we can read
            raise
        raise error from exc
