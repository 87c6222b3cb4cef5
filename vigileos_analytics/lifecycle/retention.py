"""How long a store keeps points: show and set, through the store protocol.

Each backend keeps its retention its own way (:mod:`vigileos_analytics.stores.retention`):
InfluxDB expires points by itself; the embedded store's setting is applied by
``vigileos cleanup`` (see :func:`.cleanup.cleanup`), as
:attr:`Retention.enforced_by_store` says. ``days = 0`` means "keep for ever".
"""

from __future__ import annotations

from ..stores.base import MetricsStore, Retention
from ..stores.retention import MAX_DAYS, validate_days

__all__ = ["MAX_DAYS", "Retention", "set_retention", "show_retention", "validate_days"]


def show_retention(store: MetricsStore) -> Retention:
    """The store's current retention (``days`` None: points are kept for ever)."""
    return store.retention()


def set_retention(store: MetricsStore, days: int) -> Retention:
    """Keep points ``days`` days (0: for ever); returns the retention as read back."""
    return store.set_retention(validate_days(days))
