"""How a figure is dressed for where it is shown, and how it travels.

Two looks share every chart: ``"report"`` (sized for an A4 page, titles from the
``charts`` catalogue section, white template) and ``"dashboard"`` (sized by its slot in a
Voila page, titles from ``dashboard``, times sent as text). A notebook gets the report look.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from ..i18n import Translator
from ..theme import NOTE, SERIES_PALETTE

__all__ = ["CONFIG", "DASHBOARD", "DASHBOARD_LAYOUT", "HEIGHT", "PLOTLY_MIME", "REPORT", "Look", "finish_report",
           "has_points", "period_text", "to_plotly_json", "utc_text"]

Look = Literal["report", "dashboard"]
REPORT: Look = "report"
DASHBOARD: Look = "dashboard"

#: Height (px) of a report chart of one panel.
HEIGHT = 380
#: The mime type plotly's renderer draws (the jupyterlab-plotly extension).
PLOTLY_MIME = "application/vnd.plotly.v1+json"
#: Plotly's options for every dashboard chart: sized by its slot, no mode bar logo.
CONFIG = {"responsive": True, "displaylogo": False}
#: Layout of every dashboard chart.
DASHBOARD_LAYOUT: dict[str, Any] = dict(template="plotly_white", margin=dict(l=10, r=10, t=40, b=10),
                                        font=dict(size=12), hovermode="closest")


def finish_report(fig: go.Figure, tr: Translator, title: str, height: int = HEIGHT) -> go.Figure:
    """The report look: title, size, palette, legend below; a chart without points says so."""
    fig.update_layout(title={"text": title, "x": 0.01, "font": {"size": 16}}, height=height, template="plotly_white",
                      margin={"l": 60, "r": 20, "t": 50, "b": 40}, colorway=list(SERIES_PALETTE),
                      legend={"orientation": "h", "y": -0.15}, font={"family": "Segoe UI, Helvetica, Arial"})
    if not any(has_points(trace) for trace in fig.data):
        # Empty axes would read as data (plotly spans an arbitrary year 2000): say there is none.
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        fig.add_annotation(text=tr.t("common.no_rows"), showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
                           font={"size": 14, "color": NOTE})
    return fig


def has_points(trace: Any) -> bool:
    """Whether ``trace`` draws anything."""
    return any(getattr(trace, axis, None) is not None and len(getattr(trace, axis)) > 0 for axis in ("x", "y", "z"))


def utc_text(times: Any) -> list[str]:
    """UTC timestamps as plain text: plotly.js reads it exactly, whatever the transport
    (a FigureWidget sends datetime64 arrays as raw integers)."""
    return pd.to_datetime(pd.Series(times), utc=True).dt.strftime("%Y-%m-%d %H:%M:%S").tolist()


def period_text(period: tuple[Any, Any]) -> list[str]:
    """``(start, end)`` as the text range of a time axis."""
    return [pd.Timestamp(edge).strftime("%Y-%m-%d %H:%M:%S") for edge in period]


def to_plotly_json(figure: go.Figure) -> dict[str, Any]:
    """``figure`` as the JSON plotly.js draws (``data``, ``layout``, ``config``), numbers
    packed as plotly's typed arrays."""
    payload = json.loads(pio.to_json(figure, validate=False))
    payload["config"] = dict(CONFIG)
    return payload
