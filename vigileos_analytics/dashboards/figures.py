"""Plotly figures of the dashboards, built from the view models.

Each builder returns a plain ``go.Figure``; pages show it in a ``FigureWidget``.
Times on the x axes are UTC, sent as text (see :func:`_utc_text`).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..schema import CPU_USAGE, MAINTENANCE, MEMORY_USAGE, OFFLINE, OPERATIONAL, RESPONSE_TIME
from .messages import DashboardText
from .models import DetailModel, OverviewModel

#: Alert thresholds drawn on the performance curves (%, %, ms).
DEFAULT_THRESHOLDS: Mapping[str, float] = {CPU_USAGE: 85.0, MEMORY_USAGE: 90.0, RESPONSE_TIME: 1000.0}

STATUS_COLOURS = {OPERATIONAL: "#2e9d57", MAINTENANCE: "#e0a100", OFFLINE: "#c9302c", "unknown": "#9aa0a6"}
STATE_COLOURS = {1: "#2e9d57", 0: "#c9302c"}
GOOD_PCT, FAIR_PCT = 99.0, 95.0
RANKING_ROWS = 15

_LAYOUT = dict(template="plotly_white", margin=dict(l=10, r=10, t=40, b=10), font=dict(size=12),
               hovermode="closest")


def _utc_text(times: pd.Series) -> list[str]:
    """UTC timestamps as plain text: plotly.js reads it exactly, whatever the transport
    (a FigureWidget sends datetime64 arrays as raw integers)."""
    return pd.to_datetime(times, utc=True).dt.strftime("%Y-%m-%d %H:%M:%S").tolist()


def _period(model: DetailModel) -> list[str]:
    return [pd.Timestamp(model.period.start).strftime("%Y-%m-%d %H:%M:%S"),
            pd.Timestamp(model.period.end).strftime("%Y-%m-%d %H:%M:%S")]


def _availability_colour(value: float) -> str:
    if pd.isna(value):
        return STATUS_COLOURS["unknown"]
    if value >= GOOD_PCT:
        return STATUS_COLOURS[OPERATIONAL]
    return STATUS_COLOURS[MAINTENANCE] if value >= FAIR_PCT else STATUS_COLOURS[OFFLINE]


def ranking_figure(model: OverviewModel, text: DashboardText, rows: int = RANKING_ROWS) -> go.Figure:
    """Horizontal bars of the ``rows`` lowest availabilities (%), worst on top."""
    worst = model.equipment.head(rows)
    labels = [f"{name} ({eq})" for eq, name in zip(worst["equipment_id"], worst["name"])]
    values = worst["availability_pct"]
    figure = go.Figure(go.Bar(
        x=values.fillna(0).round(2).tolist(), y=labels, orientation="h",
        marker_color=[_availability_colour(v) for v in values],
        text=[text.percent(v) for v in values], textposition="auto",
        customdata=worst["equipment_id"].tolist(),
        hovertemplate="%{y}: %{text}<extra></extra>", name=text.t("dashboard.ranking.axis"),
    ))
    low = float(values.min()) if values.notna().any() else 0.0
    figure.update_layout(**_LAYOUT, title=text.t("dashboard.ranking.title"), height=120 + 24 * max(len(worst), 1),
                         showlegend=False)
    figure.update_xaxes(title=text.t("dashboard.ranking.axis"), range=[max(0.0, min(low - 2.0, 90.0)), 100.5])
    figure.update_yaxes(autorange="reversed", automargin=True)
    return figure


def _timeline_bars(frame: pd.DataFrame, row: str, key: str, colours: Mapping, names: Mapping) -> list[go.Bar]:
    bars = []
    for value, part in frame.groupby(key, sort=False):
        durations_ms = (part["end"] - part["start"]).dt.total_seconds() * 1000.0
        bars.append(go.Bar(
            base=_utc_text(part["start"]), x=durations_ms.tolist(),
            y=[row] * len(part), orientation="h", name=names.get(value, str(value)),
            marker_color=colours.get(value, STATUS_COLOURS["unknown"]), legendgroup=str(value),
            customdata=list(zip(part["start"].dt.strftime("%Y-%m-%d %H:%M"), part["end"].dt.strftime("%Y-%m-%d %H:%M"))),
            hovertemplate="%{customdata[0]} → %{customdata[1]}<extra>" + names.get(value, str(value)) + "</extra>",
        ))
    return bars


def timeline_figure(model: DetailModel, text: DashboardText) -> go.Figure:
    """Two rows over the period: availability state (available / unavailable; blank is
    no data) and status (operational / maintenance / offline / others)."""
    state_names = {1: text.t("dashboard.state.available"), 0: text.t("dashboard.state.unavailable")}
    statuses = model.status_intervals["status"].unique()
    status_names = {s: text.label("status", s) for s in statuses}
    figure = go.Figure(
        _timeline_bars(model.availability_intervals, text.t("dashboard.detail.availability"), "state",
                       STATE_COLOURS, state_names)
        + _timeline_bars(model.status_intervals, text.t("dashboard.detail.status"), "status",
                         STATUS_COLOURS, status_names))
    figure.update_layout(**_LAYOUT, title=text.t("dashboard.detail.timeline"), barmode="overlay", height=230,
                         legend=dict(orientation="h", y=-0.25))
    figure.update_xaxes(type="date", range=_period(model))
    figure.update_yaxes(categoryorder="array", automargin=True,
                        categoryarray=[text.t("dashboard.detail.status"), text.t("dashboard.detail.availability")])
    return figure


def metric_figure(model: DetailModel, metric_type: str, text: DashboardText,
                  threshold: float | None = None) -> go.Figure:
    """Mean and maximum of ``metric_type`` per chart window, with the threshold line."""
    points = model.metric(metric_type)
    label = text.label("metric", metric_type)
    figure = go.Figure([
        go.Scatter(x=_utc_text(points["time"]), y=points["max"].round(3).tolist(), mode="lines", name="max",
                   line=dict(width=1, color="rgba(31,95,168,0.35)")),
        go.Scatter(x=_utc_text(points["time"]), y=points["mean"].round(3).tolist(), mode="lines", name="mean",
                   line=dict(width=2, color="#1f5fa8")),
    ])
    if threshold is not None:
        figure.add_hline(y=threshold, line=dict(color="#c9302c", dash="dash", width=1.5),
                         annotation_text=text.t("dashboard.detail.threshold", value=f"{threshold:g}"),
                         annotation_position="top left")
    if points.empty:
        figure.add_annotation(text=text.t("dashboard.detail.no_points"), showarrow=False, x=0.5, y=0.5,
                              xref="paper", yref="paper")
    figure.update_layout(**_LAYOUT, title=label, height=260, showlegend=False)
    figure.update_xaxes(type="date", range=_period(model))
    return figure


def custom_metrics_figure(model: DetailModel, text: DashboardText) -> go.Figure:
    """One small chart per other metric type (temperature, power, traffic, custom names)."""
    metrics = model.custom_metrics
    if not metrics:
        figure = go.Figure()
        figure.add_annotation(text=text.t("dashboard.detail.no_custom"), showarrow=False, x=0.5, y=0.5,
                              xref="paper", yref="paper")
        figure.update_layout(**_LAYOUT, height=120, xaxis_visible=False, yaxis_visible=False)
        return figure
    figure = make_subplots(rows=len(metrics), cols=1, shared_xaxes=True, vertical_spacing=0.08,
                           subplot_titles=[text.label("metric", m) for m in metrics])
    for row, metric in enumerate(metrics, start=1):
        points = model.metric(metric)
        figure.add_trace(go.Scatter(x=_utc_text(points["time"]), y=points["mean"].round(3).tolist(), mode="lines",
                                    name=text.label("metric", metric), line=dict(width=1.5)), row=row, col=1)
    figure.update_layout(**_LAYOUT, title=text.t("dashboard.detail.custom"), height=90 + 170 * len(metrics),
                         showlegend=False)
    figure.update_xaxes(type="date", range=_period(model))
    return figure
