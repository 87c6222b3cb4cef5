"""Voila dashboards for managers: the fleet overview and the equipment detail page.

Notebooks in ``notebooks/dashboards/`` only wire these together::

    from vigileos_analytics.dashboards import OverviewPage, parse_params, read_query_string
    OverviewPage.open(parse_params(read_query_string())).show()

Modules, one job each: :mod:`.params` (URL parameters, time ranges),
:mod:`.context` (settings, store, analytics service), :mod:`.models` (view models),
:mod:`.figures` (plotly), :mod:`.panels` (HTML tables and cards), :mod:`.feedback`
(friendly errors), :mod:`.controls` and :mod:`.pages` (widgets), :mod:`.live` (auto-refresh),
:mod:`.heartbeat` (is the page
still open?), :mod:`.server` (running Voila).
"""

from __future__ import annotations

from .._imports import skip_slow_iri_checker

skip_slow_iri_checker()  # before plotly's first figure reaches jsonschema; see vigileos_analytics._imports

from .models import DetailModel, OverviewModel, build_detail, build_overview  # noqa: E402  (after the tweak above)
from .params import PageParams, TimeRange, parse_params, read_query_string, resolve_range  # noqa: E402

__all__ = [
    "DetailModel",
    "DetailPage",
    "OverviewModel",
    "OverviewPage",
    "PageParams",
    "TimeRange",
    "build_detail",
    "build_overview",
    "parse_params",
    "read_query_string",
    "resolve_range",
]


def __getattr__(name: str):
    # The widget pages import ipywidgets and plotly: load them only when asked.
    if name in ("OverviewPage", "DetailPage"):
        from . import pages

        return getattr(pages, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
