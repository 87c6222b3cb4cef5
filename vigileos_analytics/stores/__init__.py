"""Storage backends behind one protocol, chosen by the scheme of a store URL.

``open_store("duckdb:///data/metrics.duckdb")`` and friends. Three slashes after
``duckdb:`` give a path relative to the working folder, four an absolute one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..config import Settings, load_settings, mask_url
from ..errors import ConfigurationError
from ..timeparse import parse_duration
from ..urloptions import read_url_options
from .base import MetricsStore, Selection

StoreFactory = Callable[[str, Settings], MetricsStore]
_FACTORIES: dict[str, StoreFactory] = {}


def register_backend(scheme: str, factory: StoreFactory) -> None:
    """Make ``scheme://...`` URLs open stores built by ``factory(url, settings)``."""
    _FACTORIES[scheme] = factory


def known_schemes() -> list[str]:
    return sorted(_FACTORIES)


def open_store(url: str | None = None, settings: Settings | None = None) -> MetricsStore:
    """Open the store at ``url`` (default: the configured store URL)."""
    settings = settings or load_settings()
    url = url or settings.store_url
    scheme = urlsplit(url).scheme if "://" in url else ""
    factory = _FACTORIES.get(scheme)
    if factory is None:
        raise ConfigurationError(
            f"Unknown store URL {mask_url(url)!r}: the scheme must be one of {', '.join(known_schemes())} "
            "(e.g. duckdb:///data/metrics.duckdb)."
        )
    return factory(url, settings)


def _open_embedded(url: str, settings: Settings) -> MetricsStore:
    from .embedded import DEFAULT_RUN_GAP, EmbeddedStore

    parts = urlsplit(url)
    if parts.netloc:
        raise ConfigurationError(
            f"A duckdb URL has no host: use duckdb:///relative/path.duckdb or duckdb:////absolute/path.duckdb; "
            f"got {mask_url(url)!r}."
        )
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    if not path:
        raise ConfigurationError(f"The store URL {mask_url(url)!r} names no file; e.g. duckdb:///data/metrics.duckdb.")
    options: dict[str, Any] = {}
    query = read_url_options(parts.query, {"run_gap"}, source=f"the store URL {mask_url(url)!r}").raise_problems()
    run_gap: timedelta = parse_duration(text, "run_gap") if (text := query.get("run_gap")) else DEFAULT_RUN_GAP
    return EmbeddedStore(Path(path), lock_timeout=settings.lock_timeout, run_gap=run_gap, **options)


def _lazy(module: str, function: str) -> StoreFactory:
    """A factory that imports its backend module only when a URL asks for it."""
    def factory(url: str, settings: Settings) -> MetricsStore:
        import importlib

        return getattr(importlib.import_module(module, __name__), function)(url, settings)
    return factory


register_backend("duckdb", _open_embedded)
for _scheme in ("influxdb1+http", "influxdb1+https", "influxdb3+http", "influxdb3+https"):
    register_backend(_scheme, _lazy(".influxql_url", "open_influxql_store"))
for _scheme in ("influxdb2+http", "influxdb2+https"):
    register_backend(_scheme, _lazy(".influx2", "open_influx2_store"))

__all__ = ["MetricsStore", "Selection", "open_store", "register_backend", "known_schemes"]
