"""The charts of the package, built from the frames the analytics return: one builder
per chart, used by the report notebooks, the dashboards and :mod:`.service`.

Each builder takes a frame and a :class:`~vigileos_analytics.i18n.Translator` (texts come
from the catalogue, times are UTC) and returns a ``go.Figure``; ``look`` dresses it for a
report page or a dashboard slot (:mod:`.layout`). Curves longer than two points a pixel
column are thinned to each column's extremes (:mod:`.downsample`): every value drawn is
one the analytics returned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..i18n import Translator
from ..schema import MAINTENANCE, OFFLINE, OPERATIONAL
from ..theme import (
    ACCENT,
    MUTED,
    NOTE,
    SERIES_PALETTE,
    STATE_COLOURS,
    STATUS_COLOURS,
    UNKNOWN,
    availability_colour,
    status_colour,
)
from .downsample import COLUMNS, downsample_index
from .labels import metric_title
from .layout import DASHBOARD, DASHBOARD_LAYOUT, HEIGHT, REPORT, Look, finish_report, period_text, utc_text

__all__ = ["RANKING_ROWS", "availability_ranking", "comparison_bars", "custom_metrics", "daily_heatmap",
           "daily_lines", "performance", "state_timeline", "thin", "trend_heatmap", "trend_lines"]

#: Rows of the dashboard's ranking: the lowest availabilities.
RANKING_ROWS = 15


def thin(part: pd.DataFrame, column: str, columns: int = COLUMNS) -> pd.DataFrame:
    """The rows of ``part`` (ordered by ``time``) that draw its ``column`` curve at
    ``columns`` pixel columns: all of them for a short curve."""
    return part.iloc[downsample_index(part["time"], part[column], columns)]


def _labels(frame: pd.DataFrame) -> pd.Series:
    return frame["name"].fillna(frame["equipment_id"]) + " (" + frame["equipment_id"] + ")"


def availability_ranking(table: pd.DataFrame, tr: Translator, target: float | None = None, *, look: Look = REPORT,
                         rows: int = RANKING_ROWS) -> go.Figure:
    """Horizontal bars of availability (%) per equipment (``equipment_id``, ``name``,
    ``availability_pct``). Report: every equipment, best at the top, red below ``target``
    with the target line. Dashboard: the ``rows`` first of ``table`` (sorted worst first),
    worst on top, coloured green / amber / red."""
    if look == DASHBOARD:
        return _dashboard_ranking(table.head(rows), tr, target)
    data = table.dropna(subset=["availability_pct"]).sort_values("availability_pct")
    colors = [STATUS_COLOURS[OFFLINE] if target is not None and v < target else STATUS_COLOURS[OPERATIONAL]
              for v in data["availability_pct"]]
    fig = go.Figure(go.Bar(x=data["availability_pct"], y=_labels(data), orientation="h", marker_color=colors,
                           text=[tr.percent(v, 2) for v in data["availability_pct"]], textposition="auto",
                           hovertemplate="%{y}: %{x:.2f} %<extra></extra>"))
    low = float(data["availability_pct"].min()) if len(data) else 0.0
    fig.update_xaxes(title=tr.t("charts.availability_axis"), range=[max(0.0, min(low, target or 100) - 2), 100.5])
    if target is not None:
        fig.add_vline(x=target, line_dash="dash", line_color=NOTE, annotation_yanchor="bottom",
                      annotation_text=tr.t("charts.target", value=tr.percent(target)))  # above the bars
    return finish_report(fig, tr, tr.t("charts.ranking"), height=max(HEIGHT, 22 * len(data) + 110))


def _dashboard_ranking(worst: pd.DataFrame, tr: Translator, target: float | None) -> go.Figure:
    values = worst["availability_pct"]
    colour = (lambda v: availability_colour(v, target)) if target is not None else availability_colour
    figure = go.Figure(go.Bar(
        x=values.fillna(0).round(2).tolist(), y=_labels(worst).tolist(), orientation="h",
        marker_color=[colour(v) for v in values], text=[tr.percent(v) for v in values], textposition="auto",
        customdata=worst["equipment_id"].tolist(),
        hovertemplate="%{y}: %{text}<extra></extra>", name=tr.t("dashboard.ranking.axis"),
    ))
    low = float(values.min()) if values.notna().any() else 0.0
    figure.update_layout(**DASHBOARD_LAYOUT, title=tr.t("dashboard.ranking.title"),
                         height=120 + 24 * max(len(worst), 1), showlegend=False)
    figure.update_xaxes(title=tr.t("dashboard.ranking.axis"), range=[max(0.0, min(low - 2.0, 90.0)), 100.5])
    figure.update_yaxes(autorange="reversed", automargin=True)
    return figure


def daily_heatmap(daily: pd.DataFrame, tr: Translator) -> go.Figure:
    """Availability (%) per equipment (rows) and UTC day (columns), from a daily
    ``fleet_availability`` frame with a ``name`` column."""
    grid = daily.assign(day=daily["window_start"].dt.strftime("%Y-%m-%d"), label=_labels(daily))
    matrix = grid.pivot_table(index="label", columns="day", values="availability_pct", aggfunc="first", dropna=False)
    matrix = matrix.sort_index(ascending=False)
    days = [tr.date(pd.Timestamp(d)) for d in matrix.columns]
    fig = go.Figure(go.Heatmap(z=matrix.to_numpy(), x=days, y=matrix.index, zmin=90, zmax=100,
                               colorscale=[[0, STATUS_COLOURS[OFFLINE]], [0.5, STATUS_COLOURS[MAINTENANCE]],
                                           [1, STATUS_COLOURS[OPERATIONAL]]],
                               colorbar={"title": "%"}, hovertemplate="%{y}<br>%{x}: %{z:.2f} %<extra></extra>"))
    fig.update_xaxes(type="category", tickangle=-90, tickfont_size=10)  # one label a day, even on a page
    fig = finish_report(fig, tr, tr.t("charts.heatmap"), height=max(HEIGHT, 20 * len(matrix) + 150))
    return fig.update_layout(margin={"b": 80})


def state_timeline(periods: pd.DataFrame, tr: Translator, *, states: pd.DataFrame | None = None,
                   period: tuple[Any, Any] | None = None, look: Look = REPORT) -> go.Figure:
    """Status over time: one bar segment per status period (``equipment_id``, ``name``,
    ``status``, aware UTC ``start`` / ``end``). Report: one row per equipment. Dashboard
    (one equipment): a status row and, from ``states`` (``state`` 1 / 0 periods), an
    availability row, over ``period``."""
    if look == DASHBOARD:
        return _dashboard_timeline(periods, states, period, tr)
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
    return finish_report(fig, tr, tr.t("charts.timeline"), height=max(220, 40 * labels.nunique() + 140))


def _timeline_bars(frame: pd.DataFrame, row: str, key: str, colours: Mapping, names: Mapping) -> list[go.Bar]:
    bars = []
    for value, part in frame.groupby(key, sort=False):
        durations_ms = (part["end"] - part["start"]).dt.total_seconds() * 1000.0
        bars.append(go.Bar(
            base=utc_text(part["start"]), x=durations_ms.tolist(),
            y=[row] * len(part), orientation="h", name=names.get(value, str(value)),
            marker_color=colours.get(value, STATUS_COLOURS[UNKNOWN]), legendgroup=str(value),
            customdata=list(zip(part["start"].dt.strftime("%Y-%m-%d %H:%M"), part["end"].dt.strftime("%Y-%m-%d %H:%M"),
                                strict=True)),
            hovertemplate="%{customdata[0]} → %{customdata[1]}<extra>" + names.get(value, str(value)) + "</extra>",
        ))
    return bars


def _dashboard_timeline(periods: pd.DataFrame, states: pd.DataFrame | None, period: tuple[Any, Any] | None,
                        tr: Translator) -> go.Figure:
    state_names = {1: tr.t("dashboard.state.available"), 0: tr.t("dashboard.state.unavailable")}
    status_names = {s: tr.label("dashboard.status", s) for s in periods["status"].unique()}
    bars = [] if states is None else _timeline_bars(states, tr.t("dashboard.detail.availability"), "state",
                                                    STATE_COLOURS, state_names)
    figure = go.Figure(bars + _timeline_bars(periods, tr.t("dashboard.detail.status"), "status", STATUS_COLOURS,
                                             status_names))
    figure.update_layout(**DASHBOARD_LAYOUT, title=tr.t("dashboard.detail.timeline"), barmode="overlay", height=230,
                         legend=dict(orientation="h", y=-0.25))
    figure.update_xaxes(type="date", range=period_text(period) if period else None)
    figure.update_yaxes(categoryorder="array", automargin=True,
                        categoryarray=[tr.t("dashboard.detail.status"), tr.t("dashboard.detail.availability")])
    return figure


def performance(series: pd.DataFrame, tr: Translator, thresholds: Mapping[str, float] | None = None, *,
                metrics: Sequence[str] | None = None, look: Look = REPORT, period: tuple[Any, Any] | None = None,
                columns: int = COLUMNS) -> go.Figure:
    """Mean and max per window of each metric (``metric_type``, ``time``, ``mean``, ``max``;
    ``metrics`` default to those in ``series``), with its threshold as a dashed line.
    Report: one panel per metric. Dashboard: the one metric of ``metrics`` over ``period``."""
    thresholds = thresholds or {}
    metrics = list(metrics) if metrics is not None else list(dict.fromkeys(series["metric_type"]))
    if look == DASHBOARD:
        (metric,) = metrics
        return _dashboard_metric(series[series["metric_type"] == metric], metric, tr, thresholds.get(metric), period,
                                 columns)
    fig = make_subplots(rows=max(len(metrics), 1), cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=[metric_title(tr, m) for m in metrics])
    for row, metric in enumerate(metrics, start=1):
        part = series[series["metric_type"] == metric]
        highest, mean = thin(part, "max", columns), thin(part, "mean", columns)
        fig.add_trace(go.Scatter(x=highest["time"], y=highest["max"], name=tr.t("charts.max"), mode="lines",
                                 line={"color": MUTED, "width": 1}, showlegend=row == 1), row=row, col=1)
        fig.add_trace(go.Scatter(x=mean["time"], y=mean["mean"], name=tr.t("charts.mean"), mode="lines",
                                 line={"color": SERIES_PALETTE[0], "width": 1.6}, showlegend=row == 1), row=row, col=1)
        if metric in thresholds:
            fig.add_hline(y=thresholds[metric], line_dash="dash", line_color=STATUS_COLOURS[OFFLINE], row=row, col=1,
                          annotation_text=tr.t("charts.threshold", value=tr.number(thresholds[metric], 0)))
    return finish_report(fig, tr, tr.t("charts.performance"), height=230 * max(len(metrics), 1) + 80)


def _dashboard_metric(points: pd.DataFrame, metric: str, tr: Translator, threshold: float | None,
                      period: tuple[Any, Any] | None, columns: int) -> go.Figure:
    highest, mean = thin(points, "max", columns), thin(points, "mean", columns)
    figure = go.Figure([
        go.Scatter(x=utc_text(highest["time"]), y=highest["max"].round(3).tolist(), mode="lines", name="max",
                   line=dict(width=1, color=MUTED)),
        go.Scatter(x=utc_text(mean["time"]), y=mean["mean"].round(3).tolist(), mode="lines", name="mean",
                   line=dict(width=2, color=ACCENT)),
    ])
    if threshold is not None:
        figure.add_hline(y=threshold, line=dict(color=STATUS_COLOURS[OFFLINE], dash="dash", width=1.5),
                         annotation_text=tr.t("dashboard.detail.threshold", value=f"{threshold:g}"),
                         annotation_position="top left")
    if points.empty:
        figure.add_annotation(text=tr.t("dashboard.detail.no_points"), showarrow=False, x=0.5, y=0.5,
                              xref="paper", yref="paper")
    figure.update_layout(**DASHBOARD_LAYOUT, title=tr.label("dashboard.metric", metric), height=260, showlegend=False)
    figure.update_xaxes(type="date", range=period_text(period) if period else None)
    return figure


def custom_metrics(series: pd.DataFrame, tr: Translator, metrics: Sequence[str],
                   period: tuple[Any, Any] | None = None, columns: int = COLUMNS) -> go.Figure:
    """Dashboard look: one small panel of window means per metric of ``metrics``
    (temperature, power, traffic, custom names)."""
    if not metrics:
        figure = go.Figure()
        figure.add_annotation(text=tr.t("dashboard.detail.no_custom"), showarrow=False, x=0.5, y=0.5,
                              xref="paper", yref="paper")
        figure.update_layout(**DASHBOARD_LAYOUT, height=120, xaxis_visible=False, yaxis_visible=False)
        return figure
    figure = make_subplots(rows=len(metrics), cols=1, shared_xaxes=True, vertical_spacing=0.08,
                           subplot_titles=[tr.label("dashboard.metric", m) for m in metrics])
    for row, metric in enumerate(metrics, start=1):
        points = thin(series[series["metric_type"] == metric], "mean", columns)
        figure.add_trace(go.Scatter(x=utc_text(points["time"]), y=points["mean"].round(3).tolist(), mode="lines",
                                    name=tr.label("dashboard.metric", metric), line=dict(width=1.5)), row=row, col=1)
    figure.update_layout(**DASHBOARD_LAYOUT, title=tr.t("dashboard.detail.custom"), height=90 + 170 * len(metrics),
                         showlegend=False)
    figure.update_xaxes(type="date", range=period_text(period) if period else None)
    return figure


def daily_lines(daily: pd.DataFrame, tr: Translator) -> go.Figure:
    """Daily availability (%) per equipment, one line each."""
    fig = go.Figure()
    labels = _labels(daily)
    for label, part in daily.assign(label=labels).groupby("label", sort=True):  # one trace per line drawn
        fig.add_trace(go.Scatter(x=part["window_start"], y=part["availability_pct"], name=label, mode="lines+markers"))
    fig.update_yaxes(title=tr.t("charts.availability_axis"))
    fig.update_xaxes(title=tr.t("charts.day_utc"))
    rows = -(-labels.nunique() // 3)  # legend rows, about three entries a row on a page
    fig = finish_report(fig, tr, tr.t("charts.daily_lines"), height=HEIGHT + 20 * rows)
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
    fig = finish_report(fig, tr, tr.t("charts.comparison"), height=max(HEIGHT, 28 * len(table) + 150))
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
    return finish_report(fig, tr, tr.t("charts.trend_heatmap", count=window_days),
                         height=max(HEIGHT, 24 * len(matrix) + 140))


def trend_lines(series: pd.DataFrame, worse: pd.DataFrame, tr: Translator, top: int = 4,
                columns: int = COLUMNS) -> go.Figure:
    """The metric series of the ``top`` worsening (equipment, metric) pairs, each in its own panel."""
    pairs = worse.head(top)[["equipment_id", "metric_type"]]
    chosen = series.merge(pairs, on=["equipment_id", "metric_type"])
    titles = [f"{e} · {metric_title(tr, m)}" for e, m in pairs.itertuples(index=False)]
    fig = make_subplots(rows=max(len(pairs), 1), cols=1, shared_xaxes=True, vertical_spacing=0.1,
                        subplot_titles=titles or None)
    for row, (eq, metric) in enumerate(pairs.itertuples(index=False), start=1):  # at most ``top`` panels
        part = thin(chosen[(chosen["equipment_id"] == eq) & (chosen["metric_type"] == metric)], "mean", columns)
        colour = SERIES_PALETTE[row % len(SERIES_PALETTE)]
        fig.add_trace(go.Scatter(x=part["time"], y=part["mean"], mode="lines", line={"color": colour},
                                 showlegend=False, name=f"{eq} {metric}"), row=row, col=1)
    return finish_report(fig, tr, tr.t("charts.worsening"), height=200 * max(len(pairs), 1) + 80)

