"""The one exception tree of VIGILEOS Analytics.

Every error the package raises on purpose is a ``VigileosError``::

    VigileosError
    ├── ConfigurationError        a setting, URL or parameter file is wrong
    ├── ValidationError           a value given by the caller is wrong (also a ValueError)
    ├── StoreError                the storage backend could not do what was asked
    │   ├── StoreConnectionError  the store cannot be reached or opened
    │   │   └── StoreBusyError    the store stayed locked by other processes too long
    │   ├── QueryError            a read failed
    │   ├── WriteError            a write failed; ``unwritten`` holds what was not written
    │   └── RollupError           rollups did not read back as written (raw points kept)
    ├── ReportError               a report notebook failed or could not be rendered
    └── DashboardServerError      the dashboard server could not start

Driver exceptions (duckdb, HTTP clients) are translated where they enter, with
``raise ... from exc`` so the original stays in the traceback.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "VigileosError",
    "ConfigurationError",
    "ValidationError",
    "StoreError",
    "StoreConnectionError",
    "StoreBusyError",
    "QueryError",
    "WriteError",
    "RollupError",
    "ReportError",
    "DashboardServerError",
]


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
    """The storage backend failed."""


class StoreConnectionError(StoreError):
    """The store cannot be reached or opened."""


class StoreBusyError(StoreConnectionError):
    """Other processes held the store's lock for longer than the wait limit."""


class QueryError(StoreError):
    """A read from the store failed."""


class WriteError(StoreError):
    """A write failed. Nothing is dropped silently: ``unwritten`` holds the points
    (a DataFrame in the store's write format) that were not written, and
    ``written`` how many points of the same call did reach the store."""

    def __init__(self, message: str, *, unwritten: Any = None, written: int = 0) -> None:
        super().__init__(message)
        self.unwritten = unwritten
        self.written = written


class RollupError(StoreError):
    """Rollups written by ``optimize`` did not read back as written; the raw points
    they were to replace were kept."""


class ReportError(VigileosError):
    """A report notebook failed, or its output could not be rendered."""


class DashboardServerError(VigileosError):
    """The Voila dashboard server could not start or did not answer."""
