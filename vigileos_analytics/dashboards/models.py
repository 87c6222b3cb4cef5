"""View models: what each dashboard shows, computed from the analytics service.

They hold plain pandas frames and numbers, no widgets, so they are tested without
a browser and shared by the figure builders and the HTML panels. Times are UTC;
availability and coverage in percent; durations in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pandas as pd

from ..analytics.alert_rules import SEVERITIES
from ..analytics.alerts import current_alerts
from ..analytics.service import UNKNOWN_STATUS, AvailabilityResult, EquipmentAnalyticsService
from ..analytics.sla_definitions import SlaDefinition
from ..analytics.sla_status import sla_status
from ..errors import VigileosError
from ..schema import ALERT, AVAILABILITY, DEFAULT_STATUSES, PERFORMANCE_METRICS, STATUS_CHANGE
from ..stores.base import Selection
from .feedback import EmptyStoreError
from .params import TimeRange

#: Steps a chart may aggregate to, smallest first; the first giving at most
#: ``MAX_CHART_POINTS`` windows over the period is used.
CHART_STEPS = tuple(pd.Timedelta(s) for s in ("1min", "5min", "15min", "30min", "1h", "3h", "6h", "12h", "1D"))
MAX_CHART_POINTS = 720
RECENT_CHANGES = 15
#: Active alerts listed on the overview (newest first); the panel says how many more there are.
ACTIVE_ALERTS = 10

ALERT_COLUMNS = ["time", "equipment_id", "name", "rule", "severity", "value", "message"]

#: One row per SLA on the overview (its calendar month at the end of the shown period):
#: ``state`` is ``breached``, ``at risk``, ``met`` or ``no data``; the budget in seconds and
#: percent of the month's allowance; ``runs_out_at`` when it was or will be spent (UTC).
SLA_COLUMNS = ["name", "description", "state", "target_pct", "achieved_pct", "budget_remaining_s",
               "budget_remaining_pct", "runs_out_at"]
#: The order SLAs are listed in: the ones needing attention first.
SLA_STATE_ORDER = ("breached", "at risk", "met", "no data")

EQUIPMENT_COLUMNS = ["equipment_id", "name", "type", "location", "status", "availability_pct", "coverage_pct",
                     "last_metric_time"]


def chart_step(length: timedelta) -> timedelta:
    """The aggregation window for a chart over a period of ``length``."""
    for step in CHART_STEPS:
        if length / step <= MAX_CHART_POINTS:
            return step.to_pytimedelta()
    return CHART_STEPS[-1].to_pytimedelta()


@dataclass(frozen=True)
class OverviewModel:
    """The fleet overview over ``period``.

    ``counts``: equipment per current status (every known status, zeros included, plus
    ``unknown``); ``equipment``: one row per equipment (see ``EQUIPMENT_COLUMNS``),
    worst availability first; ``changes``: the newest status changes, newest first;
    ``alerts``: the alerts firing at the end of the period (see ``ALERT_COLUMNS``;
    ``time`` is when each started), newest first, at most ``ACTIVE_ALERTS`` of the
    ``alerts_total`` firing.
    """

    period: TimeRange
    generated_at: datetime
    total: int
    counts: dict[str, int]
    average_availability: float | None
    equipment: pd.DataFrame
    changes: pd.DataFrame
    alerts: pd.DataFrame
    alerts_total: int
    slas: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SLA_COLUMNS))
    slas_problem: str = ""


def sla_overview(service: EquipmentAnalyticsService, definitions: list[SlaDefinition], end: datetime) -> pd.DataFrame:
    """Each SLA's state, seen at ``end``, over its calendar month holding the last instant
    before ``end`` (a page ending at midnight on the 1st shows the month just ended), see
    ``SLA_COLUMNS``; breached first, then at risk, met, without data; by name within a state."""
    rows = []
    last = end - timedelta(microseconds=1)
    for status in sla_status(service, definitions, period="month", at=last, now=end):
        figures = status.figures
        runs_out = figures.budget_exhausted_at or figures.budget_forecast_exhausted_at
        rows.append({"name": status.definition.name, "description": status.definition.description,
                     "state": figures.state, "target_pct": figures.target_pct, "achieved_pct": figures.achieved_pct,
                     "budget_remaining_s": figures.budget_remaining_s,
                     "budget_remaining_pct": figures.budget_remaining_pct, "runs_out_at": runs_out})
    frame = pd.DataFrame(rows, columns=SLA_COLUMNS)
    order = frame["state"].map({state: i for i, state in enumerate(SLA_STATE_ORDER)})
    return frame.assign(_order=order).sort_values(["_order", "name"], kind="stable").drop(
        columns="_order").reset_index(drop=True)


def active_alerts(service: EquipmentAnalyticsService, at: datetime, names: dict[str, str],
                  limit: int = ACTIVE_ALERTS) -> tuple[pd.DataFrame, int]:
    """The alerts firing at ``at`` (newest start first; at equal times the most severe
    first, then by equipment and rule), at most ``limit`` of them, and how many fire."""
    firing = current_alerts(service.store, at)
    rank = {severity: -i for i, severity in enumerate(SEVERITIES)}  # critical first
    firing = firing.assign(_rank=[rank.get(s, 1) for s in firing["severity"]]).sort_values(
        ["time", "_rank", "equipment_id", "rule"], ascending=[False, True, True, True], kind="stable")
    shown = firing.head(limit)
    shown = shown.assign(name=[names.get(eq) or eq for eq in shown["equipment_id"]])
    return shown[ALERT_COLUMNS].reset_index(drop=True), len(firing)


def build_overview(service: EquipmentAnalyticsService, period: TimeRange,
                   recent_changes: int = RECENT_CHANGES, alerts_shown: int = ACTIVE_ALERTS,
                   slas: list[SlaDefinition] | BaseException | None = None) -> OverviewModel:
    """Everything the overview shows. Raises :class:`EmptyStoreError` when the store
    holds no measurement, store errors as they come.

    ``slas``: the SLA definitions to show, or the error their file gave (shown in the SLA
    panel, the rest of the page unharmed), or None for no SLA panel content."""
    if not service.reader.equipment_ids():
        raise EmptyStoreError("the store holds no measurement")
    payload = service.fleet_summary(now=period.end, period=period.length)
    rows = pd.DataFrame(payload["equipment"])
    equipment = pd.DataFrame({
        "equipment_id": rows["equipment_id"], "name": rows["name"], "type": rows["type"],
        "location": rows["location"], "status": rows["status"],
        "availability_pct": pd.to_numeric(rows["availability_24h"], errors="coerce"),
        "coverage_pct": pd.to_numeric(rows["coverage_24h"], errors="coerce"),
        "last_metric_time": pd.to_datetime(rows["last_metric_time"], utc=True, format="ISO8601"),
    }).sort_values(["availability_pct", "equipment_id"], na_position="last", kind="stable").reset_index(drop=True)
    counts = {status: 0 for status in (*DEFAULT_STATUSES, UNKNOWN_STATUS)}
    counts.update(equipment["status"].value_counts().astype(int).to_dict())
    history = service.status_history(None, period.start, period.end).tail(recent_changes).iloc[::-1]
    names = dict(zip(equipment["equipment_id"], equipment["name"], strict=True))
    changes = history.assign(name=history["equipment_id"].map(names)).reset_index(drop=True)
    alerts, alerts_total = active_alerts(service, period.end, names, alerts_shown)
    sla_rows, sla_problem = pd.DataFrame(columns=SLA_COLUMNS), ""
    if isinstance(slas, BaseException):
        sla_problem = str(slas)
    elif slas:
        try:
            sla_rows = sla_overview(service, slas, period.end)
        except VigileosError as exc:  # a definition the store cannot answer: said in its panel
            sla_problem = str(exc)
    return OverviewModel(period=period, generated_at=datetime.now(UTC), total=len(equipment),
                         counts=counts, average_availability=payload["summary"]["average_availability"],
                         equipment=equipment, changes=changes, alerts=alerts, alerts_total=alerts_total,
                         slas=sla_rows, slas_problem=sla_problem)


@dataclass(frozen=True)
class DetailModel:
    """One equipment over ``period``.

    ``status_intervals`` / ``availability_intervals``: start and end as UTC
    timestamps with ``status`` / ``state`` (1 available, 0 not; time in neither is
    unknown); ``series``: per metric type and window ``time``, the ``mean`` and
    ``max`` of the values, aggregated in the store at ``step``; ``history``: status
    changes, newest first.
    """

    equipment_id: str
    info: dict[str, str]
    period: TimeRange
    step: timedelta
    status: str
    availability: AvailabilityResult
    status_intervals: pd.DataFrame
    availability_intervals: pd.DataFrame
    series: pd.DataFrame
    history: pd.DataFrame

    @property
    def performance_metrics(self) -> list[str]:
        return list(PERFORMANCE_METRICS)

    @property
    def custom_metrics(self) -> list[str]:
        """Metric types with points in the period beside status, availability and performance."""
        skip = {STATUS_CHANGE, AVAILABILITY, ALERT, *PERFORMANCE_METRICS}
        return sorted(m for m in self.series["metric_type"].unique() if m not in skip)

    def metric(self, metric_type: str) -> pd.DataFrame:
        return self.series[self.series["metric_type"] == metric_type]


def equipment_choices(service: EquipmentAnalyticsService) -> list[tuple[str, str]]:
    """(label, equipment_id) pairs for a selector, in inventory order."""
    equipment = service.equipment()
    return [(f"{eq} — {name}" if name and name != eq else eq, eq)
            for eq, name in zip(equipment["equipment_id"], equipment["name"], strict=True)]


def _as_timestamps(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(start=pd.to_datetime(frame["start"].astype("int64"), utc=True),
                        end=pd.to_datetime(frame["end"].astype("int64"), utc=True))


def build_detail(service: EquipmentAnalyticsService, equipment_id: str, period: TimeRange) -> DetailModel:
    """Everything the detail page shows for ``equipment_id``. Raises ``ValidationError``
    (field ``equipment_id``) for an unknown equipment, store errors as they come."""
    start, end = period.start, period.end
    status = service.current_status([equipment_id], at=end).iloc[0]  # validates the id first
    equipment = service.equipment().set_index("equipment_id")
    info = {k: str(equipment.at[equipment_id, k]) for k in ("name", "type", "location")}
    availability = service.calculate_availability(equipment_id, start, end)
    statuses = _as_timestamps(service.status_intervals([equipment_id], start, end))
    states = service.reader.availability_intervals(start, end, service.staleness, equipment_ids=[equipment_id])
    step = chart_step(period.length)
    series = service.reader.aggregate(Selection(start, end, equipment_ids=(equipment_id,)), every=step,
                                     functions=("mean", "max"))
    series = series[~series["metric_type"].isin([STATUS_CHANGE, AVAILABILITY, ALERT])].reset_index(drop=True)
    history = service.status_history([equipment_id], start, end).iloc[::-1].reset_index(drop=True)
    return DetailModel(equipment_id=equipment_id, info=info, period=period, step=step, status=str(status),
                       availability=availability, status_intervals=statuses,
                       availability_intervals=_as_timestamps(states), series=series, history=history)
