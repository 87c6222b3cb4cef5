"""Parameterized report notebooks run by papermill into HTML, PDF and Excel.

Public calls::

    from vigileos_analytics.reports import run_report, run_batch
    run_report("monthly_availability", {"month": "2024-01", "language": "fr"})
    run_batch("equipment_detail", {"month": "2024-01"}, by="equipment", workers=2)

Inside a report notebook: ``ctx = open_report(name, notebook_parameters(globals()))`` then the table
builders of :mod:`.tables`, the figures of :mod:`.charts` and the ``show_*``
helpers of :mod:`.display`. Parameters are described in :mod:`.parameters`.

Names are imported on first use: a report kernel that only needs tables and
charts does not pay for papermill and nbformat (seconds of import time).
"""

from __future__ import annotations

from .._imports import lazy_exports

#: The report notebooks, and the ways a batch splits a selection: here so that the
#: CLI can offer them as choices without importing any report module.
REPORTS = ("monthly_availability", "equipment_detail", "trend_analysis", "equipment_comparison",
           "sla_report")
BATCH_MODES = ("equipment", "site")

_EXPORTS = {
    "BatchOutputs": ".batch", "run_batch": ".batch",
    "ReportContext": ".context", "open_report": ".context",
    "DEFAULT_THRESHOLDS": ".parameters", "FORMATS": ".parameters", "ReportParameters": ".parameters",
    "apply_overrides": ".parameters", "parse_parameters": ".parameters", "read_parameter_file": ".parameters",
    "ReportOutputs": ".runner", "run_report": ".runner",
}

__all__ = sorted([*_EXPORTS, "BATCH_MODES", "REPORTS"])


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
