"""The SLA engine: availability within service time, planned and unplanned downtime,
error budgets, burn rates and the date the budget runs out, from state intervals.

Time inside the period's service windows falls in exactly one class, in this order:

1. *excluded*: an annotation ``excluded`` removes it from service time altogether;
2. *planned*: a maintenance window (scheduled, or the equipment's ``maintenance``
   status, or an annotation ``planned``), unless an annotation ``unplanned`` covers it;
3. *up*: the equipment was available (an outage shorter than the SLA's minimum
   counts as up: a blip is not an outage);
4. *degraded*: it was available, but a slot of the SLA's degraded rule
   (:class:`DegradedRule`, e.g. the 5-minute mean response time above 500 ms) breached;
5. *unplanned*: it was unavailable;
6. *unknown*: no data said either (lowers coverage, never availability).

So planned + up + degraded + unplanned + unknown = service time, and, with *bad* =
unplanned, plus degraded when the rule says ``counts_as: down``:

- achieved % = (known − bad) / known, known = up + degraded + unplanned: up / known
  when degraded counts as down, (up + degraded) / known when it is only shown;
- coverage % = (up + degraded + unplanned) / (service time − planned);
- error budget = (1 − target) × (service time − planned) over the *whole* period
  (known at its start: the calendar and the schedules say it); spent = bad;
- burn rate over the last ``w`` = (bad / (service − planned) in that window)
  / (1 − target): 1 spends the budget exactly by the period's end;
- a group's figures add its equipment's seconds before dividing (time-weighted: an
  equipment with more service time weighs more).

An outage is a run of unavailable time (touching intervals merged); it counts once in
the period however many service windows it crosses, and only its service time is
downtime. Everything is one sweep over sorted event times for all equipment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ValidationError
from .sla_calendar import RecurringWindow, ServiceCalendar
from .sla_degraded import COUNTS_AS, DEGRADED_FUNCTIONS, DegradedRule
from .sla_sweep import NS, bucket_sums, classify

__all__ = [
    "BURN_WINDOWS",
    "COUNTS_AS",
    "DEGRADED_FUNCTIONS",
    "DegradedRule",
    "SUMMED",
    "SlaRules",
    "SlaFigures",
    "evaluate_sla",
]

#: The windows burn rates are given over (name, length).
BURN_WINDOWS: tuple[tuple[str, timedelta], ...] = (
    ("5m", timedelta(minutes=5)), ("30m", timedelta(minutes=30)), ("1h", timedelta(hours=1)),
    ("6h", timedelta(hours=6)), ("24h", timedelta(hours=24)), ("3d", timedelta(days=3)),
)
#: What an annotation can make of the time it covers.
_FORECAST_WINDOW = "24h"
#: Seconds below which figures are equal (the budget's product with the target is a float).
_EPSILON_S = 1e-6
#: What the seconds of service time are summed as.
SUMMED = ("service", "planned", "up", "degraded", "unplanned", "unknown", "spent")


@dataclass(frozen=True)
class SlaRules:
    """What one SLA counts: its target, service calendar, minimum outage, maintenance schedules."""

    target_pct: float
    calendar: ServiceCalendar = ServiceCalendar("always")
    minimum_outage: timedelta = timedelta(0)
    maintenance: tuple[RecurringWindow, ...] = ()
    degraded: DegradedRule | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.target_pct, int | float) and 0 < float(self.target_pct) < 100):
            raise ValidationError(f"target: expected a percentage strictly between 0 and 100 (e.g. 99.5); "
                                  f"got {self.target_pct!r}.", field="target", value=self.target_pct)
        if self.minimum_outage < timedelta(0):
            raise ValidationError("minimum_outage must not be negative.", field="minimum_outage",
                                  value=self.minimum_outage)


@dataclass
class SlaFigures:
    """An SLA's figures over one period. Seconds are service seconds; ``None`` when a
    ratio has nothing to divide by. ``per_equipment`` and ``outages`` are the detail."""

    period_start: datetime
    period_end: datetime
    evaluated_at: datetime
    target_pct: float
    service_s: float
    planned_s: float
    up_s: float
    unplanned_s: float
    unknown_s: float
    outages: int
    achieved_pct: float | None
    coverage_pct: float | None
    budget_allowed_s: float
    budget_spent_s: float
    budget_remaining_s: float
    budget_remaining_pct: float | None
    burn_rates: dict[str, float | None]
    budget_exhausted_at: datetime | None
    budget_forecast_exhausted_at: datetime | None
    annotations: int
    per_equipment: pd.DataFrame = field(repr=False)
    outage_list: pd.DataFrame = field(repr=False)
    #: Available service seconds a degraded rule's slots breached (0 without a rule).
    degraded_s: float = 0.0

    @property
    def met(self) -> bool | None:
        """Whether achieved meets the target so far (None without known time)."""
        return None if self.achieved_pct is None else self.achieved_pct >= self.target_pct - 1e-9

    @property
    def breached(self) -> bool:
        """More than the period's budget is spent: the target cannot be met any more."""
        return self.budget_remaining_s < -_EPSILON_S

    @property
    def at_risk(self) -> bool:
        """Not breached yet, but the budget is spent before the period ends, or at the last
        24 h's rate it runs out before then."""
        if self.breached:
            return False
        spent_early = (self.budget_allowed_s > 0 or self.budget_spent_s > 0) and (
            self.budget_remaining_s <= _EPSILON_S and self.evaluated_at < self.period_end)
        return spent_early or (self.budget_forecast_exhausted_at is not None
                               and self.budget_forecast_exhausted_at < self.period_end)

    @property
    def state(self) -> str:
        """``breached``, ``at risk``, ``met`` (on course) or ``no data``."""
        if self.breached:
            return "breached"
        if self.at_risk:
            return "at risk"
        return "no data" if self.met is None else "met"

    def to_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()
        return {
            "period_start": iso(self.period_start), "period_end": iso(self.period_end),
            "evaluated_at": iso(self.evaluated_at), "target_pct": self.target_pct,
            "achieved_pct": self.achieved_pct, "coverage_pct": self.coverage_pct, "met": self.met,
            "at_risk": self.at_risk, "breached": self.breached, "state": self.state, "service_s": self.service_s,
            "planned_s": self.planned_s, "up_s": self.up_s, "degraded_s": self.degraded_s,
            "unplanned_s": self.unplanned_s, "unknown_s": self.unknown_s, "outages": self.outages,
            "budget": {"allowed_s": self.budget_allowed_s, "spent_s": self.budget_spent_s,
                       "remaining_s": self.budget_remaining_s, "remaining_pct": self.budget_remaining_pct,
                       "exhausted_at": iso(self.budget_exhausted_at),
                       "forecast_exhausted_at": iso(self.budget_forecast_exhausted_at)},
            "burn_rates": self.burn_rates, "annotations": self.annotations,
        }


def evaluate_sla(intervals: pd.DataFrame, equipment_ids: list[str], rules: SlaRules, period_start: datetime,
                 period_end: datetime, now: datetime, *, maintenance: pd.DataFrame | None = None,
                 annotations: pd.DataFrame | None = None, degraded: pd.DataFrame | None = None) -> SlaFigures:
    """Evaluate one SLA over [period_start, period_end) as seen at ``now``.

    ``intervals``: equipment_id, state (1 up / 0 down), start, end (int ns; non-overlapping
    per equipment) covering at least [min(period_start, now - 3 days), now).
    ``maintenance``: equipment_id, start, end of maintenance-status time (planned).
    ``annotations``: equipment_id, start, end, classification (planned / unplanned / excluded).
    ``degraded``: equipment_id, start, end of the slots where ``rules.degraded`` breached
    (ignored without a degraded rule).
    """
    for name, value in (("period_start", period_start), ("period_end", period_end), ("now", now)):
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValidationError(f"{name} must be a datetime with a time zone; got {value!r}.", field=name,
                                  value=value)
    p0, p1, t_now = (pd.Timestamp(x).value for x in (period_start, period_end, now))
    if p1 <= p0:
        raise ValidationError("The SLA period must end after it starts.", field="period")
    cut = min(max(t_now, p0), p1)
    lookback = min(p0, t_now - int(BURN_WINDOWS[-1][1].total_seconds() * NS))
    n_eq = len(equipment_ids)
    edges = np.unique(np.array([lookback, p0, cut, p1, t_now] + [
        t_now - int(w.total_seconds() * NS) for _, w in BURN_WINDOWS], dtype="int64"))
    edges = edges[(edges >= lookback) & (edges <= max(p1, t_now))]
    seg, note, _ = classify(intervals, equipment_ids, rules, lookback, max(p1, t_now), cut, edges,
                            maintenance=maintenance, annotations=annotations, degraded=degraded)
    bucket = np.clip(np.searchsorted(edges, seg["t"], side="right") - 1, 0, len(edges) - 2)
    per = bucket_sums(seg, bucket, n_eq, len(edges) - 1, SUMMED)

    def span(lo: int, hi: int) -> dict[str, np.ndarray]:
        chosen = (edges[:-1] >= lo) & (edges[1:] <= hi)
        return {name: values[:, chosen].sum(axis=1) for name, values in per.items()}

    elapsed, whole = span(p0, cut), span(p0, p1)
    table = _equipment_table(equipment_ids, elapsed, whole, rules, seg, p0, cut)
    totals = {name: float(values.sum()) / NS for name, values in elapsed.items()}
    allowed = round((1 - rules.target_pct / 100) * float((whole["service"] - whole["planned"]).sum()) / NS, 6)
    spent = totals["spent"]
    burn = {}
    for name, length in BURN_WINDOWS:
        recent = span(t_now - int(length.total_seconds() * NS), t_now)
        eligible = float((recent["service"] - recent["planned"]).sum())
        burn[name] = (None if eligible <= 0 or t_now > p1 else
                      float(recent["spent"].sum()) / eligible / (1 - rules.target_pct / 100))
    exhausted = spent > 0 and spent >= allowed - _EPSILON_S
    exhausted_at = _crossing(seg, "spent", p0, cut, allowed * NS) if exhausted else None
    forecast = None
    rate = burn.get(_FORECAST_WINDOW)
    if not exhausted and rate and cut < p1:
        fraction = rate * (1 - rules.target_pct / 100)
        forecast = _crossing(seg, "eligible", cut, p1, (allowed - spent) * NS / fraction)
    outages = _outage_list(seg, equipment_ids, p0, cut)
    known = totals["up"] + totals["degraded"] + totals["unplanned"]
    considered = totals["service"] - totals["planned"]
    return SlaFigures(
        period_start=_dt(p0), period_end=_dt(p1), evaluated_at=_dt(t_now), target_pct=float(rules.target_pct),
        service_s=totals["service"], planned_s=totals["planned"], up_s=totals["up"],
        unplanned_s=totals["unplanned"], unknown_s=totals["unknown"], outages=int(table["outages"].sum()),
        achieved_pct=100 * (known - spent) / known if known > 0 else None,
        coverage_pct=100 * known / considered if considered > 0 else None,
        budget_allowed_s=allowed, budget_spent_s=spent, budget_remaining_s=allowed - spent,
        budget_remaining_pct=100 * (allowed - spent) / allowed if allowed > 0 else None,
        burn_rates=burn, budget_exhausted_at=exhausted_at, budget_forecast_exhausted_at=forecast,
        annotations=_annotation_count(note, p0, p1), per_equipment=table, outage_list=outages,
        degraded_s=totals["degraded"],
    )


def _dt(ns: int) -> datetime:
    # Python datetimes stop at microseconds.
    return pd.Timestamp(ns, tz="UTC").round("us").to_pydatetime()


def _annotation_count(note: pd.DataFrame, p0: int, p1: int) -> int:
    return int(((note["start"] < p1) & (note["end"] > p0)).sum()) if len(note) else 0


def _equipment_table(ids: list[str], elapsed: dict[str, np.ndarray], whole: dict[str, np.ndarray],
                     rules: SlaRules, seg: pd.DataFrame, p0: int, cut: int) -> pd.DataFrame:
    in_period = (seg["t"].to_numpy() >= p0) & (seg["t"].to_numpy() < cut)
    hit = seg[in_period & seg["unplanned"].to_numpy()]
    outages = hit.groupby("eq")["run"].nunique().reindex(range(len(ids)), fill_value=0).to_numpy()
    known = elapsed["up"] + elapsed["degraded"] + elapsed["unplanned"]
    considered = elapsed["service"] - elapsed["planned"]
    with np.errstate(invalid="ignore", divide="ignore"):
        achieved = np.where(known > 0, 100 * (known - elapsed["spent"]) / np.where(known > 0, known, 1), np.nan)
        coverage = np.where(considered > 0, 100 * known / np.where(considered > 0, considered, 1), np.nan)
    allowed = (1 - rules.target_pct / 100) * (whole["service"] - whole["planned"]) / NS
    return pd.DataFrame({
        "equipment_id": ids, "service_s": elapsed["service"] / NS, "planned_s": elapsed["planned"] / NS,
        "up_s": elapsed["up"] / NS, "degraded_s": elapsed["degraded"] / NS, "unplanned_s": elapsed["unplanned"] / NS,
        "unknown_s": elapsed["unknown"] / NS, "outages": outages, "achieved_pct": achieved, "coverage_pct": coverage,
        "budget_allowed_s": allowed, "budget_remaining_s": allowed - elapsed["spent"] / NS,
    })


def _outage_list(seg: pd.DataFrame, ids: list[str], p0: int, cut: int) -> pd.DataFrame:
    """One row per outage touching the period: its span and how its time was counted."""
    down = seg[seg["down"].to_numpy() & (seg["t"].to_numpy() < cut) & (seg["end"].to_numpy() > p0)]
    columns = ["equipment_id", "start", "end", "unplanned_s", "planned_s", "outside_service_s", "classification"]
    if down.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    d = down["duration"].to_numpy("float64") / NS
    frame = pd.DataFrame({
        "eq": down["eq"].to_numpy(), "run": down["run"].to_numpy(), "start": down["t"].to_numpy(),
        "end": down["end"].to_numpy(), "unplanned_s": np.where(down["unplanned"], d, 0.0),
        "planned_s": np.where(down["planned"], d, 0.0),
        "outside_service_s": np.where(~down["service"].to_numpy(), d, 0.0),
    })
    runs = frame.groupby(["eq", "run"], as_index=False).agg(
        start=("start", "min"), end=("end", "max"), unplanned_s=("unplanned_s", "sum"),
        planned_s=("planned_s", "sum"), outside_service_s=("outside_service_s", "sum"))
    runs["equipment_id"] = np.asarray(ids, dtype=object)[runs["eq"].to_numpy()]
    runs["classification"] = np.select([runs["unplanned_s"] > 0, runs["planned_s"] > 0],
                                       ["unplanned", "planned"], "outside service")
    runs["start"] = pd.to_datetime(runs["start"], utc=True)
    runs["end"] = pd.to_datetime(runs["end"], utc=True)
    return runs.sort_values(["start", "equipment_id"], kind="stable")[columns].reset_index(drop=True)


def _crossing(seg: pd.DataFrame, kind: str, lo: int, hi: int, amount_ns: float) -> datetime | None:
    """The instant in [lo, hi) at which the ``kind`` time summed over all equipment
    (each counting one second per second) reaches ``amount_ns``; None if it does not."""
    chosen = seg[seg[kind].to_numpy()]
    starts = np.clip(chosen["t"].to_numpy("int64"), lo, hi)
    ends = np.clip(chosen["end"].to_numpy("int64"), lo, hi)
    keep = ends > starts
    starts, ends = starts[keep], ends[keep]
    if amount_ns <= 0:
        return _dt(int(starts.min())) if len(starts) else None
    times = np.concatenate([starts, ends])
    steps = np.concatenate([np.ones(len(starts)), -np.ones(len(ends))])
    order = np.argsort(times, kind="stable")
    times, steps = times[order], steps[order]
    rate = np.cumsum(steps)[:-1]
    accumulated = np.concatenate([[0.0], np.cumsum(rate * np.diff(times))])
    reached = np.flatnonzero(accumulated >= amount_ns - 0.5)
    if not len(reached):
        return None
    k = reached[0]
    if k == 0:
        return _dt(int(times[0]))
    at = times[k - 1] + (amount_ns - accumulated[k - 1]) / rate[k - 1]
    return _dt(int(round(at)))

