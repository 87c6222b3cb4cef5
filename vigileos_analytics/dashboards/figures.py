"""Plotly figures of the dashboards, built from the view models.

Each builder returns a plain ``go.Figure``; pages send it as plotly JSON (:func:`to_plotly_json`).
Times on the x axes are UTC, sent as text (see :func:`_utc_text`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from ..i18n import Translator
from ..schema import OFFLINE
from ..theme import ACCENT, MUTED, STATE_COLOURS, STATUS_COLOURS, UNKNOWN, availability_colour
from .models import DetailModel, OverviewModel

RANKING_ROWS = 15
#: The mime type plotly's renderer draws (the jupyterlab-plotly extension).
PLOTLY_MIME = "application/vnd.plotly.v1+json"
#: Plotly's options for every chart: sized by its slot, no mode bar logo.
CONFIG = {"responsive": True, "displaylogo": False}

_LAYOUT = dict(template="plotly_white", margin=dict(l=10, r=10, t=40, b=10), font=dict(size=12),
               hovermode="closest")


def to_plotly_json(figure: go.Figure) -> dict[str, Any]:
    """``figure`` as the JSON plotly.js draws (``data``, ``layout``, ``config``), numbers
    packed as plotly's typed arrays."""
    payload = json.loads(pio.to_json(figure, validate=False))
    payload["config"] = dict(CONFIG)
    return payload


def _utc_text(times: pd.Series) -> list[str]:
    """UTC timestamps as plain text: plotly.js reads it exactly, whatever the transport
    (a FigureWidget sends datetime64 arrays as raw integers)."""
    return pd.to_datetime(times, utc=True).dt.strftime("%Y-%m-%d %H:%M:%S").tolist()


def _period(model: DetailModel) -> list[str]:
    return [pd.Timestamp(model.period.start).strftime("%Y-%m-%d %H:%M:%S"),
            pd.Timestamp(model.period.end).strftime("%Y-%m-%d %H:%M:%S")]


def ranking_figure(model: OverviewModel, text: Translator, rows: int = RANKING_ROWS) -> go.Figure:
    """Horizontal bars of the ``rows`` lowest availabilities (%), worst on top."""
    worst = model.equipment.head(rows)
    labels = [f"{name} ({eq})" for eq, name in zip(worst["equipment_id"], worst["name"], strict=True)]
    values = worst["availability_pct"]
    figure = go.Figure(go.Bar(
        x=values.fillna(0).round(2).tolist(), y=labels, orientation="h",
        marker_color=[availability_colour(v) for v in values],
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
            marker_color=colours.get(value, STATUS_COLOURS[UNKNOWN]), legendgroup=str(value),
            customdata=list(zip(part["start"].dt.strftime("%Y-%m-%d %H:%M"), part["end"].dt.strftime("%Y-%m-%d %H:%M"),
                                strict=True)),
            hovertemplate="%{customdata[0]} → %{customdata[1]}<extra>" + names.get(value, str(value)) + "</extra>",
        ))
    return bars


def timeline_figure(model: DetailModel, text: Translator) -> go.Figure:
    """Two rows over the period: availability state (available / unavailable; blank is
    no data) and status (operational / maintenance / offline / others)."""
    state_names = {1: text.t("dashboard.state.available"), 0: text.t("dashboard.state.unavailable")}
    statuses = model.status_intervals["status"].unique()
    status_names = {s: text.label("dashboard.status", s) for s in statuses}
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


def metric_figure(model: DetailModel, metric_type: str, text: Translator,
                  threshold: float | None = None) -> go.Figure:
    """Mean and maximum of ``metric_type`` per chart window, with the threshold line."""
    points = model.metric(metric_type)
    label = text.label("dashboard.metric", metric_type)
    figure = go.Figure([
        go.Scatter(x=_utc_text(points["time"]), y=points["max"].round(3).tolist(), mode="lines", name="max",
                   line=dict(width=1, color=MUTED)),
        go.Scatter(x=_utc_text(points["time"]), y=points["mean"].round(3).tolist(), mode="lines", name="mean",
                   line=dict(width=2, color=ACCENT)),
    ])
    if threshold is not None:
        figure.add_hline(y=threshold, line=dict(color=STATUS_COLOURS[OFFLINE], dash="dash", width=1.5),
                         annotation_text=text.t("dashboard.detail.threshold", value=f"{threshold:g}"),
                         annotation_position="top left")
    if points.empty:
        figure.add_annotation(text=text.t("dashboard.detail.no_points"), showarrow=False, x=0.5, y=0.5,
                              xref="paper", yref="paper")
    figure.update_layout(**_LAYOUT, title=label, height=260, showlegend=False)
    figure.update_xaxes(type="date", range=_period(model))
    return figure


def custom_metrics_figure(model: DetailModel, text: Translator) -> go.Figure:
    """One small chart per other metric type (temperature, power, traffic, custom names)."""
    metrics = model.custom_metrics
    if not metrics:
        figure = go.Figure()
        figure.add_annotation(text=text.t("dashboard.detail.no_custom"), showarrow=False, x=0.5, y=0.5,
                              xref="paper", yref="paper")
        figure.update_layout(**_LAYOUT, height=120, xaxis_visible=False, yaxis_visible=False)
        return figure
    figure = make_subplots(rows=len(metrics), cols=1, shared_xaxes=True, vertical_spacing=0.08,
                           subplot_titles=[text.label("dashboard.metric", m) for m in metrics])
    for row, metric in enumerate(metrics, start=1):
        points = model.metric(metric)
        figure.add_trace(go.Scatter(x=_utc_text(points["time"]), y=points["mean"].round(3).tolist(), mode="lines",
                                    name=text.label("dashboard.metric", metric), line=dict(width=1.5)), row=row, col=1)
    figure.update_layout(**_LAYOUT, title=text.t("dashboard.detail.custom"), height=90 + 170 * len(metrics),
                         showlegend=False)
    figure.update_xaxes(type="date", range=_period(model))
    return figure
