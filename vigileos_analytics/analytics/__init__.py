"""Reading metrics back as answers.

:mod:`.service` (``EquipmentAnalyticsService``: availability, performance, status and
fleet figures over the store), :mod:`.availability` (the time-weighted rules),
:mod:`.trends` (slopes and threshold breaches), :mod:`.anomaly` (scores and windows),
:mod:`.alert_rules` and :mod:`.alerts` (rules evaluated over the fleet, alert events
kept in the store).

``from vigileos_analytics.analytics import EquipmentAnalyticsService`` (the 0.1 module
of that name) still works: the service's names are exported here on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._imports import lazy_exports

if TYPE_CHECKING:
    from .service import ALERT_METRIC_TYPE, UNKNOWN_STATUS, AvailabilityResult, EquipmentAnalyticsService

__all__ = ["ALERT_METRIC_TYPE", "UNKNOWN_STATUS", "AvailabilityResult", "EquipmentAnalyticsService"]

__getattr__, __dir__ = lazy_exports(__name__, dict.fromkeys(__all__, ".service"))
