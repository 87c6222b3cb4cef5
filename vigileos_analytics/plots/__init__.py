"""Charts as plotly figures, for notebooks, reports and dashboards: one implementation.

In a notebook::

    from vigileos_analytics import plots, explore
    plots.state_timeline(service, "EQ-0001", "2024-01-01", "2024-02-01")
    plots.performance(service, "EQ-0001", "now-30d", "now")
    plots.availability_ranking(service, "2024-01-01", "2024-02-01")
    plots.daily_heatmap(service, "2024-01-01", "2024-02-01")
    plots.trend(service, "2024-02-01")
    explore(service)  # equipment and period pickers driving these charts

:mod:`.service` reads through the service and calls the frame builders of :mod:`.charts`,
which the report notebooks and the dashboards call with their own frames. Names are
imported on first use: the report tables read :mod:`.labels` without loading plotly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._imports import lazy_exports

if TYPE_CHECKING:
    from .downsample import downsample_minmax
    from .explore import Explorer, explore
    from .service import availability_ranking, daily_heatmap, performance, state_timeline, trend, trend_heatmap

_EXPORTS = {
    "availability_ranking": ".service", "daily_heatmap": ".service", "performance": ".service",
    "state_timeline": ".service", "trend": ".service", "trend_heatmap": ".service",
    "downsample_minmax": ".downsample",
    "Explorer": ".explore", "explore": ".explore",
}

__all__ = ["Explorer", "availability_ranking", "daily_heatmap", "downsample_minmax", "explore", "performance",
           "state_timeline", "trend", "trend_heatmap"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
