"""VIGILEOS Analytics: equipment monitoring analytics and reporting.

Typical use::

    from vigileos_analytics import open_store, EquipmentAnalyticsService
    store = open_store("duckdb:///data/metrics.duckdb")
    analytics = EquipmentAnalyticsService(store, inventory="data/inventory.csv")
    analytics.calculate_availability("EQ-0001", start, end)
"""

from __future__ import annotations

__version__ = "0.1.0"

from .analytics import AvailabilityResult, EquipmentAnalyticsService
from .config import Settings, load_settings
from .errors import (ConfigurationError, QueryError, ReportError, StoreBusyError, StoreConnectionError, StoreError,
                     ValidationError, VigileosError, WriteError)
from .recording import EquipmentMetricsService
from .schema import Point
from .simulate import FleetSpec, simulate_fleet
from .stores import open_store
from .stores.base import MetricsStore, Selection

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
    "load_settings",
    "open_store",
    "simulate_fleet",
]
