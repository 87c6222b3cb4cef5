"""The charts in one call from an :class:`~vigileos_analytics.EquipmentAnalyticsService`:
each function reads what its chart needs through the service, then draws it with the
builder of :mod:`.charts` the reports and dashboards use.

Times are aware ``datetime`` or text (UTC unless it says otherwise) such as ``"2024-01-01"`` or ``"now-7d"``;
unknown equipment, an empty period or an unknown language raise ``ValidationError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pandas as pd
import plotly.graph_objects as go

from ..errors import ValidationError
from ..i18n import Translator
from ..inventory import require_known_equipment
from ..schema import AVAILABILITY, PERFORMANCE_METRICS, TIME_MAX, check_time_range, to_utc, validate_range
from ..stores.base import Selection
from ..theme import DEFAULT_THRESHOLDS
from ..timeparse import parse_time_text
from . import charts

if TYPE_CHECKING:
    from ..analytics.service import EquipmentAnalyticsService

__all__ = ["availability_ranking", "daily_heatmap", "equipment_ids_of", "performance", "resolve_period",
           "state_timeline", "trend", "trend_heatmap"]

Time = datetime | str
#: The window of the performance curves: the legend says "hourly".
PERFORMANCE_WINDOW = timedelta(hours=1)


def _instant(value: Time, field: str) -> datetime:
    """``value`` as an aware UTC datetime in the stored time range (naive ones refused, as
    everywhere in the Python API); a period may end at the range's end."""
    if not isinstance(value, datetime):
        return parse_time_text(value, field=field)
    moment = to_utc(value, field)
    return moment if moment == TIME_MAX else check_time_range(moment, field)


def resolve_period(start: Time, end: Time) -> tuple[datetime, datetime]:
    """``start`` and ``end`` (aware datetimes or text) as UTC datetimes, ``start`` before ``end``."""
    return validate_range(_instant(start, "start"), _instant(end, "end"))


def equipment_ids_of(service: EquipmentAnalyticsService, equipment_ids: Sequence[str] | str | None) -> list[str]:
    """``equipment_ids`` as a list, every equipment for None; unknown ids raise ``ValidationError``."""
    known = service.equipment()["equipment_id"].tolist()
    if equipment_ids is None:
        return known
    ids = [equipment_ids] if isinstance(equipment_ids, str) else list(equipment_ids)
    require_known_equipment(ids, known)
    return ids


def _names(service: EquipmentAnalyticsService) -> dict[str, str]:
    equipment = service.equipment()
    return dict(zip(equipment["equipment_id"], equipment["name"], strict=True))


def state_timeline(service: EquipmentAnalyticsService, equipment_ids: Sequence[str] | str | None, start: Time,
                   end: Time, *, language: str = "en") -> go.Figure:
    """Status over [start, end) per equipment (one id, a list, or None for every one)."""
    tr, (start_utc, end_utc) = Translator(language), resolve_period(start, end)
    intervals = service.status_intervals(equipment_ids_of(service, equipment_ids), start_utc, end_utc)
    periods = pd.DataFrame({
        "equipment_id": intervals["equipment_id"], "name": intervals["equipment_id"].map(_names(service)),
        "status": intervals["status"], "start": pd.to_datetime(intervals["start"], utc=True),
        "end": pd.to_datetime(intervals["end"], utc=True), "duration_s": (intervals["end"] - intervals["start"]) / 1e9,
    })
    return charts.state_timeline(periods, tr)


def performance(service: EquipmentAnalyticsService, equipment_id: str, start: Time, end: Time, *,
                metrics: Sequence[str] | None = None, thresholds: Mapping[str, float] | None = None,
                language: str = "en") -> go.Figure:
    """Hourly mean and max of ``metrics`` (default CPU, memory, response time) of one
    equipment over [start, end), one panel each, with the thresholds (default the
    theme's) as dashed lines. Long periods are drawn from each pixel column's extremes."""
    tr, (start_utc, end_utc) = Translator(language), resolve_period(start, end)
    equipment_ids_of(service, [equipment_id])
    wanted = tuple(metrics or PERFORMANCE_METRICS)
    series = service.reader.aggregate(Selection(start_utc, end_utc, equipment_ids=(equipment_id,),
                                                metric_types=wanted), every=PERFORMANCE_WINDOW,
                                      functions=("mean", "max"))
    drawn = [m for m in wanted if m in set(series["metric_type"])]
    limits = dict(DEFAULT_THRESHOLDS) if thresholds is None else dict(thresholds)
    return charts.performance(series, tr, limits, metrics=drawn)


def _with_names(service: EquipmentAnalyticsService, table: pd.DataFrame) -> pd.DataFrame:
    return table.assign(name=table["equipment_id"].map(_names(service)))


def availability_ranking(service: EquipmentAnalyticsService, start: Time, end: Time, *,
                         equipment_ids: Sequence[str] | None = None,
                         target: float | None = DEFAULT_THRESHOLDS[AVAILABILITY], exclude_maintenance: bool = False,
                         language: str = "en") -> go.Figure:
    """Availability (%) over [start, end) per equipment, best at the top, red below ``target``."""
    tr, (start_utc, end_utc) = Translator(language), resolve_period(start, end)
    table = service.fleet_availability(start_utc, end_utc, equipment_ids_of(service, equipment_ids),
                                       exclude_maintenance=exclude_maintenance)
    return charts.availability_ranking(_with_names(service, table), tr, target)


def daily_heatmap(service: EquipmentAnalyticsService, start: Time, end: Time, *,
                  equipment_ids: Sequence[str] | None = None, exclude_maintenance: bool = False,
                  language: str = "en") -> go.Figure:
    """Availability (%) per equipment and UTC day over [start, end)."""
    tr, (start_utc, end_utc) = Translator(language), resolve_period(start, end)
    daily = service.fleet_availability(start_utc, end_utc, equipment_ids_of(service, equipment_ids), freq="1D",
                                       exclude_maintenance=exclude_maintenance)
    return charts.daily_heatmap(_with_names(service, daily), tr)


def trend(service: EquipmentAnalyticsService, end: Time, *, equipment_ids: Sequence[str] | None = None,
          top: int = 4, thresholds: Mapping[str, float] | None = None, language: str = "en") -> go.Figure:
    """The hourly series of the ``top`` equipment metrics getting worse fastest over the
    7 and 30 days before ``end`` (see :mod:`vigileos_analytics.analytics.trends`)."""
    from ..analytics.trends import analyze_trends

    tr, end_utc = Translator(language), to_utc(_instant(end, "end"), "end")
    analysis = analyze_trends(service, equipment_ids_of(service, equipment_ids), end_utc,
                              dict(DEFAULT_THRESHOLDS) if thresholds is None else dict(thresholds))
    return charts.trend_lines(analysis.series, analysis.worsening, tr, top=top)


def trend_heatmap(service: EquipmentAnalyticsService, end: Time, *, equipment_ids: Sequence[str] | None = None,
                  window_days: int = 7, language: str = "en") -> go.Figure:
    """Change over the ``window_days`` before ``end`` in % of the mean, per equipment and metric."""
    from ..analytics.trends import analyze_trends

    if isinstance(window_days, bool) or not isinstance(window_days, int) or window_days < 1:
        raise ValidationError(f"window_days must be a whole number of days, at least 1; got {window_days!r}.",
                              field="window_days", value=window_days)
    tr, end_utc = Translator(language), to_utc(_instant(end, "end"), "end")
    analysis = analyze_trends(service, equipment_ids_of(service, equipment_ids), end_utc, dict(DEFAULT_THRESHOLDS),
                              windows_days=(window_days,))
    return charts.trend_heatmap(analysis.trends, tr, window_days)
