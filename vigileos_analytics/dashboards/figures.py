"""The figures of the dashboards: the charts of :mod:`vigileos_analytics.plots.charts` in
their dashboard look, built from the view models.

Each builder returns a plain ``go.Figure``; pages send it as plotly JSON (:func:`to_plotly_json`).
Times on the x axes are UTC, sent as text.
"""

from __future__ import annotations

import plotly.graph_objects as go

from ..i18n import Translator
from ..plots import charts
from ..plots.layout import CONFIG, DASHBOARD, PLOTLY_MIME, to_plotly_json
from .models import DetailModel, OverviewModel

__all__ = ["CONFIG", "PLOTLY_MIME", "RANKING_ROWS", "custom_metrics_figure", "metric_figure", "ranking_figure",
           "timeline_figure", "to_plotly_json"]

RANKING_ROWS = charts.RANKING_ROWS


def _period(model: DetailModel) -> tuple:
    return (model.period.start, model.period.end)


def ranking_figure(model: OverviewModel, text: Translator, rows: int = RANKING_ROWS) -> go.Figure:
    """Horizontal bars of the ``rows`` lowest availabilities (%), worst on top."""
    return charts.availability_ranking(model.equipment, text, look=DASHBOARD, rows=rows)


def timeline_figure(model: DetailModel, text: Translator) -> go.Figure:
    """Two rows over the period: availability state (available / unavailable; blank is
    no data) and status (operational / maintenance / offline / others)."""
    return charts.state_timeline(model.status_intervals, text, states=model.availability_intervals,
                                 period=_period(model), look=DASHBOARD)


def metric_figure(model: DetailModel, metric_type: str, text: Translator,
                  threshold: float | None = None) -> go.Figure:
    """Mean and maximum of ``metric_type`` per chart window, with the threshold line."""
    thresholds = {} if threshold is None else {metric_type: threshold}
    return charts.performance(model.series, text, thresholds, metrics=[metric_type], period=_period(model),
                              look=DASHBOARD)


def custom_metrics_figure(model: DetailModel, text: Translator) -> go.Figure:
    """One small chart per other metric type (temperature, power, traffic, custom names)."""
    return charts.custom_metrics(model.series, text, model.custom_metrics, period=_period(model))
