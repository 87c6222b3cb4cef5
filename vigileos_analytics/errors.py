"""The one exception tree of VIGILEOS Analytics.

Every error the package raises on purpose is a ``VigileosError``::

    VigileosError
    ├── ConfigurationError            a setting, URL or parameter file is wrong
    ├── ValidationError               a value given by the caller is wrong (also a ValueError)
    ├── StoreError                    the storage backend could not do what was asked
    │   ├── StoreConnectionError      the store cannot be reached or opened
    │   │   ├── StoreBusyError        the store stayed locked by other processes too long
    │   │   ├── RetryableError        unreachable, or answered 5xx / 429: worth trying again later
    │   │   │   └── StoreTimeoutError no answer within the timeout
    │   │   ├── StoreAuthError        credentials refused (401) or lacking a right (403)
    │   │   └── StoreNotFoundError    no such database, bucket, organisation or API (404)
    │   ├── QueryError                a read failed
    │   ├── WriteError                a write failed; ``unwritten`` holds what was not written
    │   └── RollupError               rollups did not read back as written (raw points kept)
    ├── ReportError                   a report notebook failed or could not be rendered
    ├── DashboardServerError          the dashboard server could not start
    ├── EmptyStoreError               a dashboard found no measurement yet (a state, not a fault)
    └── NoEquipmentChosen             a detail page was opened without an equipment

A ``StoreError`` says what kind of failure it is in attributes, so callers branch
on classes and attributes, never on message text:

- ``problem``: a kind from :data:`PROBLEMS` (``"unreachable"``, ``"timeout"``,
  ``"unauthorized"``, ...), or None when unknown;
- ``status``: the HTTP status the server answered, or None;
- ``server``: where, e.g. ``"InfluxDB at http://host:8086"``, or None;
- ``detail``: what the other side said: the server's own error message, or the
  network's reason (``"connection refused"``), or None.

Driver exceptions (duckdb, requests, influxdb-client, urllib3) are translated
where they enter, with ``raise ... from exc`` so the original stays in the
traceback. An error that wraps another (a ``WriteError`` holding the points a
refusal left unwritten) copies its kind with ``**cause.kind()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = [
    "PROBLEMS",
    "VigileosError",
    "ConfigurationError",
    "ValidationError",
    "StoreError",
    "StoreConnectionError",
    "StoreBusyError",
    "RetryableError",
    "StoreTimeoutError",
    "StoreAuthError",
    "StoreNotFoundError",
    "QueryError",
    "WriteError",
    "RollupError",
    "ReportError",
    "DashboardServerError",
    "EmptyStoreError",
    "NoEquipmentChosen",
    "LineProtocolError",
    "ApiError",
    "ApiAuthError",
    "UnknownEquipmentError",
    "RequestTooLargeError",
    "exception_chain",
]

def exception_chain(error: BaseException) -> Iterator[BaseException]:
    """``error``, then what it was raised from or while handling, and so on; each once."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


#: Every kind of store failure a ``problem`` attribute (and ``vigileos check``) can name.
PROBLEMS = ("unreachable", "timeout", "unauthorized", "forbidden", "wrong_org", "missing_bucket", "missing_database",
            "missing_dbrp", "wrong_api", "not_found", "server_error", "busy", "readback", "failed")


class VigileosError(Exception):
    """Root of every error raised by VIGILEOS Analytics."""


class ConfigurationError(VigileosError):
    """A setting, store URL or parameter file is invalid."""


class ValidationError(VigileosError, ValueError):
    """A value given by the caller does not satisfy the data model.

    ``field`` names what was wrong and ``value`` holds what was given.
    """

    def __init__(self, message: str, *, field: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class StoreError(VigileosError):
    """The storage backend failed; ``problem``, ``status``, ``server`` and ``detail``
    say how (see the module docstring). ``problem`` defaults to the class's own."""

    default_problem: str | None = None

    def __init__(self, message: str = "", *, status: int | None = None, server: str | None = None,
                 problem: str | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.server = server
        self.problem = problem or self.default_problem
        self.detail = detail

    def kind(self) -> dict[str, Any]:
        """``status``, ``server``, ``problem`` and ``detail`` as keyword arguments, for an
        error that wraps this one."""
        return {"status": self.status, "server": self.server, "problem": self.problem, "detail": self.detail}


class StoreConnectionError(StoreError):
    """The store cannot be reached or opened."""


class StoreBusyError(StoreConnectionError):
    """Other processes held the store's lock for longer than the wait limit."""

    default_problem = "busy"


class RetryableError(StoreConnectionError):
    """The server is unreachable, timed out, or answered 5xx / 429: try again later
    (writes go to the outage spool)."""

    default_problem = "unreachable"


class StoreTimeoutError(RetryableError):
    """The server did not answer within the timeout."""

    default_problem = "timeout"


class StoreAuthError(StoreConnectionError):
    """The server refused the credentials (``problem`` ``"unauthorized"``, 401) or they
    lack a right this needs (``"forbidden"``, 403)."""

    default_problem = "unauthorized"


class StoreNotFoundError(StoreConnectionError):
    """What the settings name is not there: ``problem`` is ``"missing_database"``,
    ``"missing_bucket"``, ``"missing_dbrp"``, ``"wrong_org"``, ``"wrong_api"`` (no such
    API at that URL) or ``"not_found"``."""

    default_problem = "not_found"


class QueryError(StoreError):
    """A read from the store failed."""


class WriteError(StoreError):
    """A write failed. Nothing is dropped silently: ``unwritten`` holds the points
    (a DataFrame in the store's write format) that were not written, and
    ``written`` how many points of the same call did reach the store."""

    def __init__(self, message: str, *, unwritten: Any = None, written: int = 0, **kind: Any) -> None:
        super().__init__(message, **kind)
        self.unwritten = unwritten
        self.written = written


class RollupError(StoreError):
    """Rollups written by ``optimize`` did not read back as written; the raw points
    they were to replace were kept."""


class ReportError(VigileosError):
    """A report notebook failed, or its output could not be rendered."""


class DashboardServerError(VigileosError):
    """The Voila dashboard server could not start or did not answer."""


class EmptyStoreError(VigileosError):
    """A dashboard found no measurement in the store (a state, not a fault)."""


class NoEquipmentChosen(VigileosError):
    """A dashboard's detail page was opened without an equipment."""


class LineProtocolError(ValidationError):
    """A refused line-protocol batch; ``problems`` are (line number, reason), ``total`` the
    lines read. Nothing of the batch was written."""

    def __init__(self, problems: list[tuple[int, str]], total: int, shown: int = 20) -> None:
        listed = "; ".join(f"line {line}: {reason}" for line, reason in problems[:shown])
        more = f" (and {len(problems) - shown} more)" if len(problems) > shown else ""
        super().__init__(f"{len(problems)} bad line(s) of {total}, nothing written: {listed}{more}.",
                         field="body", value=problems[:shown])
        self.problems = problems
        self.total = total


class ApiError(VigileosError):
    """An HTTP API answer other than 2xx (``vigileos serve``): ``status``, ``detail`` and, for
    a bad parameter, ``parameter`` and ``value``; ``kind`` names the problem type."""

    def __init__(self, status: int, detail: str, *, kind: str | None = None, parameter: str | None = None,
                 value: Any = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.kind = status, detail, kind
        self.parameter, self.value = parameter, value


class ApiAuthError(ApiError):
    """A request without the token it needs: 401 (missing or wrong) or 403 (a read token on a
    write, or writes off)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(status, detail, kind="unauthorized" if status == 401 else "forbidden")


class UnknownEquipmentError(ApiError):
    """404: an equipment id neither in the inventory nor in the store."""

    def __init__(self, equipment_id: str, parameter: str = "equipment_id") -> None:
        super().__init__(404, f"unknown equipment {equipment_id!r} ({parameter}): neither in the inventory "
                              "nor in the store.", kind="unknown-equipment", parameter=parameter, value=equipment_id)


class RequestTooLargeError(ApiError):
    """413: a request body over the API's size limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit:,} bytes.", kind="too-large")
