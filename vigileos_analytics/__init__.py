"""VIGILEOS Analytics: equipment monitoring analytics and reporting.

Typical use::

    from vigileos_analytics import open_store, EquipmentAnalyticsService
    store = open_store("duckdb:///data/metrics.duckdb")
    analytics = EquipmentAnalyticsService(store, inventory="data/inventory.csv")
    analytics.calculate_availability("EQ-0001", start, end)

The package is laid out by layer (``docs/architecture.md`` draws it): ``ingest``
(recording, importing, collecting, simulating), ``analytics`` (availability, trends,
anomalies, alerts), ``check`` (is the store reachable and healthy), ``stores`` (the
backends), ``plots``, ``reports``, ``dashboards``, ``lifecycle``, ``predictive`` and ``cli``.

Names are imported on first use, so the ``vigileos`` command starts without
loading pandas, the stores and the analytics it does not need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._imports import install_moved_modules, lazy_exports

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .analytics.frame_availability import availability_of
    from .analytics.html_display import show
    from .analytics.service import AvailabilityResult, EquipmentAnalyticsService
    from .config import Settings, load_settings
    from .errors import (
        ConfigurationError,
        QueryError,
        ReportError,
        StoreBusyError,
        StoreConnectionError,
        StoreError,
        ValidationError,
        VigileosError,
        WriteError,
    )
    from .ingest.recording import EquipmentMetricsService
    from .ingest.simulate import FleetSpec, simulate_fleet
    from .plots.explore import explore
    from .schema import Point
    from .stores import open_store
    from .stores.base import MetricsStore, Selection

_EXPORTS = {
    "AvailabilityResult": ".analytics.service", "EquipmentAnalyticsService": ".analytics.service",
    "availability_of": ".analytics.frame_availability", "show": ".analytics.html_display",
    "Settings": ".config", "load_settings": ".config",
    "ConfigurationError": ".errors", "QueryError": ".errors", "ReportError": ".errors",
    "StoreBusyError": ".errors", "StoreConnectionError": ".errors", "StoreError": ".errors",
    "ValidationError": ".errors", "VigileosError": ".errors", "WriteError": ".errors",
    "EquipmentMetricsService": ".ingest.recording",
    "Point": ".schema",
    "FleetSpec": ".ingest.simulate", "simulate_fleet": ".ingest.simulate",
    "open_store": ".stores",
    "explore": ".plots.explore",
    "MetricsStore": ".stores.base", "Selection": ".stores.base",
}

__all__ = [
    "__version__",
    "AvailabilityResult",
    "ConfigurationError",
    "EquipmentAnalyticsService",
    "EquipmentMetricsService",
    "FleetSpec",
    "MetricsStore",
    "Point",
    "QueryError",
    "ReportError",
    "Selection",
    "Settings",
    "StoreBusyError",
    "StoreConnectionError",
    "StoreError",
    "ValidationError",
    "VigileosError",
    "WriteError",
    "availability_of",
    "explore",
    "load_settings",
    "open_store",
    "show",
    "simulate_fleet",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
install_moved_modules(__name__)
