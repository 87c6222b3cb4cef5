"""What the SLA report shows beside the status: the error budget step by step over the
period, and the outages with the annotations that cover them.

Every figure comes from the engine (:mod:`vigileos_analytics.analytics.sla`): the status
is :func:`~.sla.evaluate_sla`; the budget timeline sums the engine's classified time
(:func:`~.sla.classify`, split at the steps) that spends the budget, so its last step is
the status's budget spent. The store is read once, with the readers ``vigileos sla
status`` uses, and shared by every SLA.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import ValidationError
from ..inventory import require_known_equipment
from ..schema import to_utc
from .sla import BURN_WINDOWS, SlaFigures, SlaRules, evaluate_sla
from .sla_definitions import SlaDefinition, load_slas, scope_members
from .sla_status import SlaStatus, degraded_windows, read_sla_inputs
from .sla_sweep import NS, bucket_sums, classify

if TYPE_CHECKING:
    from .service import EquipmentAnalyticsService

__all__ = ["SlaReportEntry", "annotated_outages", "budget_timeline", "pick_definitions", "sla_report_entries",
           "timeline_steps"]

#: At most this many steps in a budget timeline: daily up to it, then coarser.
MAX_STEPS = 120


@dataclass
class SlaReportEntry:
    """One SLA over its report period: the status (definition, equipment, figures), the
    budget at each step, and the annotations of its equipment that touch the period."""

    status: SlaStatus
    timeline: pd.DataFrame
    annotations: pd.DataFrame


def pick_definitions(path: str | None, names: tuple[str, ...] | list[str] | None) -> list[SlaDefinition]:
    """The SLAs of the definition file ``path`` (default: VIGILEOS_SLAS, else the example
    that comes with the package) named in ``names`` (all when None), in the file's order."""
    definitions = load_slas(path)
    if names:
        known = [d.name for d in definitions]
        missing = [n for n in names if n not in known]
        if missing:
            raise ValidationError(f"The report parameter 'sla_names' names no SLA {missing[0]!r}; defined: "
                                  f"{', '.join(known) or 'none'}. Fix it in the parameter file or with -p.",
                                  field="sla_names", value=missing[0])
        definitions = [d for d in definitions if d.name in names]
    return definitions


def timeline_steps(period_start: datetime, period_end: datetime, now: datetime, tz: str = "UTC") -> list[datetime]:
    """The period's start, then the same local time every day in zone ``tz`` (every few
    days on long periods, so that there are at most :data:`MAX_STEPS` steps) up to the end
    or ``now``, whichever comes first, and that last instant (UTC datetimes)."""
    first = pd.Timestamp(period_start).tz_convert("UTC")
    last = pd.Timestamp(min(period_end, max(now, period_start))).tz_convert("UTC")
    wall = first.tz_convert(tz).tz_localize(None)
    days = max(1, math.ceil((last - first) / pd.Timedelta(days=MAX_STEPS)))
    while True:
        # Calendar days on the local wall clock: a DST change moves the UTC instant, not the local time.
        local = pd.DatetimeIndex([wall + pd.Timedelta(days=k * days)
                                  for k in range(int((last - first) / pd.Timedelta(days=days)) + 2)])
        points = local.tz_localize(tz, ambiguous=np.zeros(len(local), dtype=bool),
                                   nonexistent="shift_forward").tz_convert("UTC")
        points = points[(points > first) & (points < last)]
        if len(points) < MAX_STEPS:
            break
        days += 1
    return [t.to_pydatetime() for t in (first, *points, last)] if last > first else [last.to_pydatetime()]


def budget_timeline(intervals: pd.DataFrame, equipment_ids: list[str], rules: SlaRules, figures: SlaFigures, *,
                    maintenance: pd.DataFrame | None = None, annotations: pd.DataFrame | None = None,
                    degraded: pd.DataFrame | None = None) -> pd.DataFrame:
    """The error budget at each of :func:`timeline_steps` of the period of ``figures`` (the
    engine's answer for these inputs): time, allowed_s, spent_s, remaining_s, remaining_pct
    (None when nothing is allowed). The inputs are those of :func:`~.sla.evaluate_sla`."""
    p0, p1, t_now = (pd.Timestamp(x).value for x in (figures.period_start, figures.period_end, figures.evaluated_at))
    steps = timeline_steps(figures.period_start, figures.period_end, figures.evaluated_at,
                           rules.calendar.timezone)
    lo = min(p0, t_now - int(BURN_WINDOWS[-1][1].total_seconds() * NS))  # as the engine reads: outages the same
    edges = np.unique(np.array([lo, *(pd.Timestamp(t).value for t in steps), p1], dtype="int64"))
    cut = min(max(t_now, p0), p1)
    seg, _, _ = classify(intervals, equipment_ids, rules, lo, p1, cut, edges, maintenance=maintenance,
                         annotations=annotations, degraded=degraded)
    bucket = np.clip(np.searchsorted(edges, seg["t"].to_numpy(), side="right") - 1, 0, len(edges) - 2)
    per_bucket = bucket_sums(seg, bucket, len(equipment_ids), len(edges) - 1, ("spent",))["spent"].sum(axis=0)
    spent_by_edge = np.concatenate([[0.0], np.cumsum(np.where(edges[:-1] >= p0, per_bucket, 0.0))]) / NS
    spent = spent_by_edge[np.searchsorted(edges, [pd.Timestamp(t).value for t in steps])]
    allowed = figures.budget_allowed_s
    return pd.DataFrame({
        "time": pd.to_datetime([pd.Timestamp(t).value for t in steps], utc=True), "allowed_s": allowed,
        "spent_s": spent, "remaining_s": allowed - spent,
        "remaining_pct": 100 * (allowed - spent) / allowed if allowed > 0 else None,
    })


def annotated_outages(outages: pd.DataFrame, annotations: pd.DataFrame) -> pd.DataFrame:
    """The engine's outage list with what annotated it: ``annotation`` (the classifications
    of the annotations overlapping the outage on its equipment), ``reason`` and ``author``
    (joined with "; " when several), empty when none did."""
    frame = outages.reset_index(drop=True)
    extra = {"annotation": "", "reason": "", "author": ""}
    if frame.empty or annotations.empty:
        return frame.assign(**extra)
    starts, ends = (pd.to_datetime(frame[c], utc=True).dt.as_unit("ns").astype("int64") for c in ("start", "end"))
    pairs = (frame.assign(row=frame.index, s=starts, e=ends)[["row", "equipment_id", "s", "e"]]
             .merge(annotations, on="equipment_id"))
    pairs = pairs[(pairs["start"] < pairs["e"]) & (pairs["end"] > pairs["s"])]

    def joined(values: pd.Series) -> str:
        return "; ".join(dict.fromkeys(v for v in values if v))
    found = pairs.groupby("row").agg(annotation=("classification", joined), reason=("reason", joined),
                                     author=("author", joined))
    return frame.assign(**{k: found[k].reindex(frame.index, fill_value="") for k in extra})


def sla_report_entries(service: EquipmentAnalyticsService,
                       plans: list[tuple[SlaDefinition, datetime, datetime]],
                       now: datetime | None = None) -> list[SlaReportEntry]:
    """Each SLA of ``plans`` (definition, period start, period end) as seen at ``now``
    (default: now): its status, budget timeline and annotations. Unlike ``sla status``
    the periods are given, so a report can cover any span; one that has not started
    yet is refused."""
    now = to_utc(now, "now") if now is not None else datetime.now(UTC)
    if not plans:
        return []
    with service.reader.session():
        inventory = service.equipment()
        scoped = []
        for definition, start, end in plans:
            if start > now:
                raise ValidationError(f"The period of SLA {definition.name!r} starts at {start.isoformat()}, after "
                                      "now; SLA figures are for periods that have started.", field="start", value=start)
            ids = scope_members(definition, inventory)
            if definition.scope_kind == "equipment":
                require_known_equipment(ids, inventory["equipment_id"].tolist(),
                                        field=f"SLA {definition.name!r} scope")
            scoped.append((definition, ids, start, end))
        everyone = sorted({eq for _, ids, _, _ in scoped for eq in ids})
        lookback = min(min(start for _, _, start, _ in scoped), now) - BURN_WINDOWS[-1][1]
        # As ``sla status``: states and slots only up to now (an open outage or slot is not judged
        # early), annotations up to the latest period end (a planned one ahead lowers the budget).
        cut = max(min(max(now, start), end) for _, _, start, end in scoped)
        last = max(end for _, _, _, end in scoped)
        inputs = read_sla_inputs(service, everyone, lookback, cut, annotations_until=last)
        slots = {d.rules.degraded: degraded_windows(service.reader, d.rules.degraded, everyone, lookback, cut)
                 for d, *_ in scoped if d.rules.degraded is not None}
    entries = []
    for definition, ids, start, end in scoped:
        inputs_of = {"maintenance": inputs.maintenance, "annotations": inputs.annotations,
                     "degraded": slots.get(definition.rules.degraded) if definition.rules.degraded else None}
        figures = evaluate_sla(inputs.intervals, ids, definition.rules, start, end, now, **inputs_of)
        timeline = budget_timeline(inputs.intervals, ids, definition.rules, figures, **inputs_of)
        notes = inputs.annotations
        mine = notes[notes["equipment_id"].isin(ids) & (notes["start"] < pd.Timestamp(end).value)
                     & (notes["end"] > pd.Timestamp(start).value)].reset_index(drop=True)
        entries.append(SlaReportEntry(SlaStatus(definition, ids, figures), timeline, mine))
    return entries
