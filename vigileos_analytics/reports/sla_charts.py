"""The SLA report's figure: an SLA's error budget remaining over its period."""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

from ..analytics.sla_timeline import SlaReportEntry
from ..i18n import Translator
from ..schema import OFFLINE, OPERATIONAL
from ..theme import ACCENT, NOTE, STATUS_COLOURS

__all__ = ["budget_chart"]

HEIGHT = 320


def budget_chart(entry: SlaReportEntry, tr: Translator) -> go.Figure:
    """Budget remaining (minutes, cumulative) at each step of the period: the allowed
    budget at the start, a zero line, and where the budget ran out."""
    timeline, figures = entry.timeline, entry.status.figures
    minutes = timeline["remaining_s"] / 60.0
    times = pd.to_datetime(timeline["time"], utc=True).dt.tz_localize(None)
    fig = go.Figure(go.Scatter(
        x=times, y=minutes, mode="lines+markers", line={"color": ACCENT, "shape": "linear"},
        name=tr.t("sla_report.chart.remaining"), hovertemplate="%{x|%Y-%m-%d %H:%M}: %{y:.1f} min<extra></extra>"))
    fig.add_hline(y=0, line_color=STATUS_COLOURS[OFFLINE], line_dash="dash")
    if len(timeline):
        fig.add_hline(y=figures.budget_allowed_s / 60.0, line_color=STATUS_COLOURS[OPERATIONAL], line_dash="dot",
                      annotation_text=tr.t("sla_report.chart.allowed"), annotation_position="top left")
    if figures.budget_exhausted_at is not None:
        at = pd.Timestamp(figures.budget_exhausted_at).tz_convert("UTC").tz_localize(None)
        fig.add_shape(type="line", x0=at, x1=at, y0=0, y1=1, yref="paper", line={"color": NOTE, "dash": "dot"})
        fig.add_annotation(x=at, y=1, yref="paper", showarrow=False, yanchor="bottom", font={"color": NOTE},
                           text=tr.t("sla_report.chart.ran_out", at=tr.datetime(figures.budget_exhausted_at)))
    fig.update_xaxes(title=tr.t("sla_report.chart.time_axis"))
    fig.update_yaxes(title=tr.t("sla_report.chart.minutes_axis"), zeroline=False)
    # Plotly renders tags in titles (<b>, <a href>): the SLA name is the user's text, shown as written.
    title = tr.t("sla_report.chart.title", name=html.escape(entry.status.definition.name, quote=False))
    fig.update_layout(title={"text": title, "x": 0.01,
                             "font": {"size": 15}}, height=HEIGHT, template="plotly_white", showlegend=False,
                      margin={"l": 60, "r": 20, "t": 60, "b": 40}, font={"family": "Segoe UI, Helvetica, Arial"})
    return fig
