"""SLA status from a store: each definition's scope resolved against the inventory, its
period found in its calendar's zone, the intervals, maintenance and annotations read
once, the slots of each degraded rule aggregated once per (metric, slot, function), and
the engine run (:func:`vigileos_analytics.analytics.sla.evaluate_sla`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import ValidationError
from ..inventory import require_known_equipment
from ..schema import MAINTENANCE, TIME_MIN, to_utc
from ..stores.base import MetricsStore, Selection
from ..stores.tiered import TieredStore
from ..timeparse import parse_duration
from .sla import BURN_WINDOWS, DegradedRule, SlaFigures, evaluate_sla
from .sla_annotations import read_annotations
from .sla_calendar import PERIOD_KINDS, period_bounds
from .sla_definitions import SlaDefinition, scope_members

if TYPE_CHECKING:
    from .service import EquipmentAnalyticsService

__all__ = ["SlaInputs", "SlaStatus", "degraded_windows", "read_sla_inputs", "sla_period", "sla_status"]


@dataclass
class SlaStatus:
    """One SLA's definition, the equipment it covered and its figures."""

    definition: SlaDefinition
    equipment_ids: list[str]
    figures: SlaFigures

    def to_dict(self) -> dict[str, Any]:
        d = self.definition
        return {"name": d.name, "scope": d.scope_text, "equipment": len(self.equipment_ids),
                "calendar": d.rules.calendar.name, "timezone": d.rules.calendar.timezone,
                "minimum_outage_s": d.rules.minimum_outage.total_seconds(),
                "maintenance": [w.name for w in d.rules.maintenance],
                "degraded": None if d.rules.degraded is None else d.rules.degraded.to_dict(), **self.figures.to_dict()}


def sla_period(period: str, at: datetime, tz: str) -> tuple[datetime, datetime]:
    """A calendar period (day, week, month, quarter, year) containing ``at`` in zone
    ``tz``, or a rolling one (``30d``: the 30 days ending at ``at``)."""
    if period in PERIOD_KINDS:
        return period_bounds(period, at, tz)
    try:
        length = parse_duration(period, "period")
    except ValidationError:
        raise ValidationError(f"period: expected {', '.join(PERIOD_KINDS)} or a rolling length such as 30d; "
                              f"got {period!r}.", field="period", value=period) from None
    if length > at - TIME_MIN:
        raise ValidationError(f"period: a rolling {period} before {at:%Y-%m-%d} would start before "
                              f"{TIME_MIN:%Y-%m-%d}, the start of the time range the store holds.",
                              field="period", value=period)
    return at - length, at


def sla_status(service: EquipmentAnalyticsService, definitions: list[SlaDefinition], *, period: str = "month",
               at: datetime | None = None, now: datetime | None = None) -> list[SlaStatus]:
    """Every SLA's figures over its ``period`` containing ``at`` (default: now), seen at ``now``.

    The store is read once for all SLAs (one session; intervals, maintenance and
    annotations over the union of their scopes and periods), then each SLA is evaluated."""
    now = to_utc(now, "now") if now is not None else datetime.now(UTC)
    at = to_utc(at, "at") if at is not None else now
    if at > now:
        raise ValidationError(f"at ({at.isoformat()}) is in the future; SLA figures are for periods that have "
                              "started.", field="at", value=at)
    with service.reader.session():
        inventory = service.equipment()
        plans = []
        for definition in definitions:
            ids = scope_members(definition, inventory)
            if definition.scope_kind == "equipment":
                # Unknown ids are named, not silently counted as unknown time.
                require_known_equipment(ids, inventory["equipment_id"].tolist(),
                                        field=f"SLA {definition.name!r} scope")
            start, end = sla_period(period, at, definition.rules.calendar.timezone)
            plans.append((definition, ids, start, end))
        if not plans:
            return []
        everyone = sorted({eq for _, ids, _, _ in plans for eq in ids})
        lookback = min(min(start for _, _, start, _ in plans), now - BURN_WINDOWS[-1][1])
        cut = max(min(max(now, start), end) for _, _, start, end in plans)
        last = max(end for _, _, _, end in plans)
        intervals, maintenance, notes = _inputs(service, everyone, lookback, cut, last)
        slots: dict[tuple, pd.DataFrame] = {}
        for definition, *_ in plans:
            rule = definition.rules.degraded
            if rule is not None and (rule.metric, rule.every, rule.function) not in slots:
                slots[rule.metric, rule.every, rule.function] = _slot_values(service.reader, rule, everyone,
                                                                             lookback, cut)
    return [SlaStatus(definition, ids, evaluate_sla(
        intervals, ids, definition.rules, start, end, now, maintenance=maintenance, annotations=notes,
        degraded=_breached(definition.rules.degraded, slots))) for definition, ids, start, end in plans]


@dataclass
class SlaInputs:
    """What the engine reads from a store for a set of equipment (frames as
    :func:`~.sla.evaluate_sla` takes them)."""

    intervals: pd.DataFrame
    maintenance: pd.DataFrame
    annotations: pd.DataFrame
    degraded: pd.DataFrame | None


def read_sla_inputs(service: EquipmentAnalyticsService, ids: list[str], start: datetime, end: datetime,
                    degraded: DegradedRule | None = None, annotations_until: datetime | None = None) -> SlaInputs:
    """Availability intervals, maintenance-status time, annotations and (given a rule) the
    degraded slots of ``ids`` over [start, end) (UTC), in one store session. Annotations
    are read up to ``annotations_until`` when given (a planned one ahead lowers the budget)."""
    with service.reader.session():
        intervals, maintenance, notes = _inputs(service, ids, start, end, annotations_until or end)
        slots = None if degraded is None else degraded_windows(service.reader, degraded, ids, start, end)
    return SlaInputs(intervals, maintenance, notes, slots)


def degraded_windows(store: MetricsStore | TieredStore, rule: DegradedRule, ids: list[str], start: datetime,
                     end: datetime) -> pd.DataFrame:
    """The complete ``rule.every``-slots in [start, end) (UTC) where the rule breached: equipment_id,
    start, end (int ns). One store aggregation."""
    return _breached(rule, {(rule.metric, rule.every, rule.function): _slot_values(store, rule, ids, start, end)})


def _slot_values(store: MetricsStore | TieredStore, rule: DegradedRule, ids: list[str], start: datetime,
                 end: datetime) -> pd.DataFrame:
    """The rule's function per complete slot in [start, end): equipment_id, start, end (ns), value."""
    step = int(rule.every.total_seconds() * 1e9)
    lo = pd.Timestamp(start).value // step * step
    columns = {"equipment_id": pd.Series(dtype=object), "start": pd.Series(dtype="int64"),
               "end": pd.Series(dtype="int64"), "value": pd.Series(dtype="float64")}
    if not ids or pd.Timestamp(end).value <= lo:
        return pd.DataFrame(columns)
    selection = Selection(pd.Timestamp(lo, tz="UTC").to_pydatetime(), end, equipment_ids=tuple(ids),
                          metric_types=(rule.metric,))
    agg = store.aggregate(selection, every=rule.every, functions=("count", rule.function))
    if agg.empty:
        return pd.DataFrame(columns)
    agg = agg[agg["count"].to_numpy("float64") > 0]
    begins = pd.DatetimeIndex(pd.to_datetime(agg["time"], utc=True)).as_unit("ns").asi8
    frame = pd.DataFrame({"equipment_id": agg["equipment_id"].astype(str).to_numpy(dtype=object), "start": begins,
                          "end": begins + step, "value": agg[rule.function].to_numpy("float64")})
    # A slot is judged once complete: a check inside it and a later replay agree.
    return frame[frame["end"] <= pd.Timestamp(end).value].reset_index(drop=True)


def _breached(rule: DegradedRule | None, slots: dict[tuple, pd.DataFrame]) -> pd.DataFrame | None:
    if rule is None:
        return None
    values = slots[rule.metric, rule.every, rule.function]
    hit = rule.breached(values["value"].to_numpy("float64"))
    return values.loc[hit, ["equipment_id", "start", "end"]].reset_index(drop=True)


def _inputs(service: EquipmentAnalyticsService, ids: list[str], lookback: datetime, cut: datetime,
            end: datetime) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    empty = pd.DataFrame({"equipment_id": pd.Series(dtype=object), "start": pd.Series(dtype="int64"),
                          "end": pd.Series(dtype="int64")})
    if not ids:
        nothing = empty.assign(classification=pd.Series(dtype=object))
        return empty.assign(state=pd.Series(dtype="int64")), empty, nothing
    if cut <= lookback:
        cut = lookback + timedelta(microseconds=1)
    intervals = service.reader.availability_intervals(lookback, cut, service.staleness, equipment_ids=ids)
    status = service.status_intervals(ids, lookback, cut)
    maintenance = status.loc[status["status"] == MAINTENANCE, ["equipment_id", "start", "end"]]
    notes = read_annotations(service.reader, ids, lookback, end)
    return intervals, maintenance, notes
