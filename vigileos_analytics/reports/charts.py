"""Plotly figures of the reports. Each builder takes a frame from :mod:`.tables` or
:mod:`vigileos_analytics.analytics.trends` and a :class:`~vigileos_analytics.i18n.Translator`;
texts come from the catalogue, times are UTC. Figures are sized for an A4 page.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..i18n import Translator
from ..schema import MAINTENANCE, OFFLINE, OPERATIONAL
from ..theme import MUTED, NOTE, SERIES_PALETTE, STATUS_COLOURS, status_colour
from .tables import UNITS

HEIGHT = 380


def _layout(fig: go.Figure, tr: Translator, title: str, height: int = HEIGHT) -> go.Figure:
    fig.update_layout(title={"text": title, "x": 0.01, "font": {"size": 16}}, height=height, template="plotly_white",
                      margin={"l": 60, "r": 20, "t": 50, "b": 40}, colorway=list(SERIES_PALETTE),
                      legend={"orientation": "h", "y": -0.15}, font={"family": "Segoe UI, Helvetica, Arial"})
    if not any(_has_points(trace) for trace in fig.data):
        # Empty axes would read as data (plotly spans an arbitrary year 2000): say there is none.
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        fig.add_annotation(text=tr.t("common.no_rows"), showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
                           font={"size": 14, "color": NOTE})
    return fig


def _has_points(trace: Any) -> bool:
    return any(getattr(trace, axis, None) is not None and len(getattr(trace, axis)) > 0 for axis in ("x", "y", "z"))


def _metric_title(tr: Translator, metric: str) -> str:
    unit = UNITS.get(metric, "")
    return f"{tr.label('metrics', metric)} ({unit})" if unit else tr.label("metrics", metric)


def availability_ranking(table: pd.DataFrame, tr: Translator, target: float | None) -> go.Figure:
    """Horizontal bars of availability (%) per equipment, best at the top, with the target line."""
    data = table.dropna(subset=["availability_pct"]).sort_values("availability_pct")
    labels = data["name"].fillna(data["equipment_id"]) + " (" + data["equipment_id"] + ")"
    colors = [STATUS_COLOURS[OFFLINE] if target is not None and v < target else STATUS_COLOURS[OPERATIONAL]
              for v in data["availability_pct"]]
    fig = go.Figure(go.Bar(x=data["availability_pct"], y=labels, orientation="h", marker_color=colors,
                           text=[tr.percent(v, 2) for v in data["availability_pct"]], textposition="auto",
                           hovertemplate="%{y}: %{x:.2f} %<extra></extra>"))
    low = float(data["availability_pct"].min()) if len(data) else 0.0
    fig.update_xaxes(title=tr.t("charts.availability_axis"), range=[max(0.0, min(low, target or 100) - 2), 100.5])
    if target is not None:
        fig.add_vline(x=target, line_dash="dash", line_color=NOTE, annotation_yanchor="bottom",
                      annotation_text=tr.t("charts.target", value=tr.percent(target)))  # above the bars
    return _layout(fig, tr, tr.t("charts.ranking"), height=max(HEIGHT, 22 * len(data) + 110))


def daily_heatmap(daily: pd.DataFrame, tr: Translator) -> go.Figure:
    """Availability (%) per equipment (rows) and UTC day (columns)."""
    grid = daily.assign(day=daily["window_start"].dt.strftime("%Y-%m-%d"),
                        label=daily["name"].fillna(daily["equipment_id"]) + " (" + daily["equipment_id"] + ")")
    matrix = grid.pivot_table(index="label", columns="day", values="availability_pct", aggfunc="first", dropna=False)
    matrix = matrix.sort_index(ascending=False)
    days = [tr.date(pd.Timestamp(d)) for d in matrix.columns]
    fig = go.Figure(go.Heatmap(z=matrix.to_numpy(), x=days, y=matrix.index, zmin=90, zmax=100,
                               colorscale=[[0, STATUS_COLOURS[OFFLINE]], [0.5, STATUS_COLOURS[MAINTENANCE]],
                                           [1, STATUS_COLOURS[OPERATIONAL]]],
                               colorbar={"title": "%"}, hovertemplate="%{y}<br>%{x}: %{z:.2f} %<extra></extra>"))
    fig.update_xaxes(type="category", tickangle=-90, tickfont_size=10)  # one label a day, even on a page
    fig = _layout(fig, tr, tr.t("charts.heatmap"), height=max(HEIGHT, 20 * len(matrix) + 150))
    return fig.update_layout(margin={"b": 80})


def state_timeline(periods: pd.DataFrame, tr: Translator) -> go.Figure:
    """Status over time per equipment: one bar segment per status period (UTC)."""
    fig = go.Figure()
    labels = periods["name"].fillna(periods["equipment_id"])
    for status in periods["status"].unique():  # a few statuses, not equipment
        part = periods[periods["status"] == status]
        fig.add_trace(go.Bar(
            base=part["start"], x=(part["end"] - part["start"]).dt.total_seconds() * 1000, y=labels[part.index],
            orientation="h", name=tr.label("status", status), marker_color=status_colour(status),
            customdata=part["duration_s"] / 3600.0,
            hovertemplate=("%{base|%Y-%m-%d %H:%M} UTC, %{customdata:.1f} h<extra>"
                           + tr.label("status", status) + "</extra>")))
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(type="date", title=tr.t("charts.time_utc"))
    return _layout(fig, tr, tr.t("charts.timeline"), height=max(220, 40 * labels.nunique() + 140))


def performance_curves(series: pd.DataFrame, thresholds: dict[str, float], tr: Translator) -> go.Figure:
    """One panel per metric: hourly mean and max (UTC), with the threshold as a dashed line."""
    metrics = list(dict.fromkeys(series["metric_type"]))
    fig = make_subplots(rows=max(len(metrics), 1), cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=[_metric_title(tr, m) for m in metrics])
    for row, metric in enumerate(metrics, start=1):
        part = series[series["metric_type"] == metric]
        fig.add_trace(go.Scatter(x=part["time"], y=part["max"], name=tr.t("charts.max"), mode="lines",
                                 line={"color": MUTED, "width": 1}, showlegend=row == 1), row=row, col=1)
        fig.add_trace(go.Scatter(x=part["time"], y=part["mean"], name=tr.t("charts.mean"), mode="lines",
                                 line={"color": SERIES_PALETTE[0], "width": 1.6}, showlegend=row == 1), row=row, col=1)
        if metric in thresholds:
            fig.add_hline(y=thresholds[metric], line_dash="dash", line_color=STATUS_COLOURS[OFFLINE], row=row, col=1,
                          annotation_text=tr.t("charts.threshold", value=tr.number(thresholds[metric], 0)))
    return _layout(fig, tr, tr.t("charts.performance"), height=230 * max(len(metrics), 1) + 80)


def daily_lines(daily: pd.DataFrame, tr: Translator) -> go.Figure:
    """Daily availability (%) per equipment, one line each."""
    fig = go.Figure()
    labels = daily["name"].fillna(daily["equipment_id"]) + " (" + daily["equipment_id"] + ")"
    for label, part in daily.assign(label=labels).groupby("label", sort=True):  # one trace per line drawn
        fig.add_trace(go.Scatter(x=part["window_start"], y=part["availability_pct"], name=label, mode="lines+markers"))
    fig.update_yaxes(title=tr.t("charts.availability_axis"))
    fig.update_xaxes(title=tr.t("charts.day_utc"))
    rows = -(-labels.nunique() // 3)  # legend rows, about three entries a row on a page
    fig = _layout(fig, tr, tr.t("charts.daily_lines"), height=HEIGHT + 20 * rows)
    return fig.update_layout(legend={"yanchor": "top", "y": -0.2})  # below the axis title, however many rows


def comparison_bars(table: pd.DataFrame, tr: Translator) -> go.Figure:
    """Availability (%), mean CPU (%), mean memory (%) and p95 response time (ms) side by side."""
    panels = [("availability_pct", tr.t("columns.availability_pct")),
              ("cpu_usage_mean", tr.t("columns.cpu_usage_mean")),
              ("memory_usage_mean", tr.t("columns.memory_usage_mean")),
              ("response_time_p95", tr.t("columns.response_time_p95"))]
    # The unit on a second line: four titles side by side fit the width of a page.
    titles = [title.replace(" (", "<br>(", 1) for _, title in panels]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=titles, horizontal_spacing=0.06)
    labels = table["name"].fillna(table["equipment_id"])
    for col, (column, _) in enumerate(panels, start=1):
        fig.add_trace(go.Bar(x=table[column], y=labels, orientation="h", marker_color=SERIES_PALETTE[col - 1],
                             showlegend=False, hovertemplate="%{y}: %{x:.1f}<extra></extra>"), row=1, col=col)
        if col > 1:
            fig.update_yaxes(showticklabels=False, row=1, col=col)
    fig.update_annotations(font_size=13)  # the subplot titles
    fig = _layout(fig, tr, tr.t("charts.comparison"), height=max(HEIGHT, 28 * len(table) + 150))
    return fig.update_layout(margin={"t": 80})


def trend_heatmap(trends: pd.DataFrame, tr: Translator, window_days: int = 7) -> go.Figure:
    """Change over ``window_days`` in % of the mean, per equipment (rows) and metric (columns).
    Red is bad: rising for load metrics, falling for availability."""
    part = trends[trends["window_days"] == window_days]
    sign = part["metric_type"].eq("availability").map({True: -1.0, False: 1.0})
    grid = part.assign(bad=sign * part["change_pct"], metric=part["metric_type"].map(lambda m: tr.label("metrics", m)))
    matrix = grid.pivot_table(index="equipment_id", columns="metric", values="bad", aggfunc="first")
    fig = go.Figure(go.Heatmap(z=matrix.to_numpy(), x=list(matrix.columns), y=list(matrix.index), zmid=0,
                               zmin=-30, zmax=30, colorscale="RdYlGn_r", colorbar={"title": "%"},
                               hovertemplate="%{y} · %{x}: %{z:+.1f} %<extra></extra>"))
    return _layout(fig, tr, tr.t("charts.trend_heatmap", count=window_days), height=max(HEIGHT, 24 * len(matrix) + 140))


def trend_lines(series: pd.DataFrame, worse: pd.DataFrame, tr: Translator, top: int = 4) -> go.Figure:
    """The metric series of the ``top`` worsening (equipment, metric) pairs, each in its own panel."""
    pairs = worse.head(top)[["equipment_id", "metric_type"]]
    chosen = series.merge(pairs, on=["equipment_id", "metric_type"])
    titles = [f"{e} · {_metric_title(tr, m)}" for e, m in pairs.itertuples(index=False)]
    fig = make_subplots(rows=max(len(pairs), 1), cols=1, shared_xaxes=True, vertical_spacing=0.1,
                        subplot_titles=titles or None)
    for row, (eq, metric) in enumerate(pairs.itertuples(index=False), start=1):  # at most ``top`` panels
        part = chosen[(chosen["equipment_id"] == eq) & (chosen["metric_type"] == metric)]
        colour = SERIES_PALETTE[row % len(SERIES_PALETTE)]
        fig.add_trace(go.Scatter(x=part["time"], y=part["mean"], mode="lines", line={"color": colour},
                                 showlegend=False, name=f"{eq} {metric}"), row=row, col=1)
    return _layout(fig, tr, tr.t("charts.worsening"), height=200 * max(len(pairs), 1) + 80)
