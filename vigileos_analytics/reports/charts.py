"""The figures of the report notebooks: the charts of :mod:`vigileos_analytics.plots.charts`
in their report look (sized for an A4 page, texts from the catalogue, times UTC). Each
takes a frame from :mod:`.tables` or :mod:`vigileos_analytics.analytics.trends` and a
:class:`~vigileos_analytics.i18n.Translator`.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go

from ..i18n import Translator
from ..plots.charts import (
    availability_ranking,
    comparison_bars,
    daily_heatmap,
    daily_lines,
    performance,
    state_timeline,
    trend_heatmap,
    trend_lines,
)

__all__ = ["availability_ranking", "comparison_bars", "daily_heatmap", "daily_lines", "performance_curves",
           "state_timeline", "trend_heatmap", "trend_lines"]


def performance_curves(series: pd.DataFrame, thresholds: Mapping[str, float], tr: Translator) -> go.Figure:
    """One panel per metric: hourly mean and max (UTC), with the threshold as a dashed line."""
    return performance(series, tr, thresholds)
