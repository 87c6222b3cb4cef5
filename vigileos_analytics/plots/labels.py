"""Units and titles of the metrics on chart axes and in table headers (no plotly here:
the report tables read the units without loading it)."""

from __future__ import annotations

from ..i18n import Translator

__all__ = ["UNITS", "metric_title"]

#: Unit of each known metric, for headers and axes.
UNITS = {"availability": "%", "cpu_usage": "%", "memory_usage": "%", "response_time": "ms", "temperature": "°C",
         "power_consumption": "W", "network_traffic": "B/s"}


def metric_title(tr: Translator, metric: str) -> str:
    """The metric's name in the report's language, with its unit when known: "CPU (%)"."""
    unit = UNITS.get(metric, "")
    return f"{tr.label('metrics', metric)} ({unit})" if unit else tr.label("metrics", metric)
