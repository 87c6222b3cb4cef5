"""Evaluating alert rules over the fleet, and keeping alerts in the store.

**Evaluation** (:func:`evaluate_rules`) asks the store for windowed aggregates (one
``aggregate`` call per rule, all equipment at once) and computes each rule's value
per equipment with vectorized group-bys. It is deterministic given ``now`` (UTC):
windows end at ``now`` (threshold rules) or at the last complete ``every``-window
before ``now`` (trend and anomaly rules, aligned to the UTC epoch).

**Storage shape.** Alerts are ordinary points, so every backend keeps them through
the ``MetricsStore`` protocol alone:

- ``metric_type`` ``alert``, the alert's ``equipment_id``, ``time`` = the run's ``now``;
- ``value`` = the rule's value at that time (a mean in the metric's unit, a slope per
  day, or a z-score);
- tags ``rule``, ``severity``, ``state`` (``firing`` or ``resolved``) and ``message``
  (at most :data:`MAX_MESSAGE` characters).

One point is written when a condition starts (``firing``) and one when it clears
(``resolved``); nothing is written while it goes on, so repeated checks do not
raise it again. The current state of each (equipment, rule) is its newest alert
point, read with ``store.latest`` (no lookback limit). A rule that cannot be
evaluated for an equipment (no data) leaves its state unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from ..schema import ALERT as ALERT_METRIC
from ..schema import to_utc
from ..stores.base import MetricsStore, Selection
from .alert_rules import AlertRule

__all__ = ["ALERT_METRIC", "MAX_MESSAGE", "AlertCheck", "evaluate_rules", "check_alerts", "current_alerts",
           "list_alerts"]

MAX_MESSAGE = 200
FIRING, RESOLVED = "firing", "resolved"
DAY_S = 86_400.0
_CONDITION_COLUMNS = ["equipment_id", "rule", "severity", "value", "firing", "message"]


def _floor(now: datetime, every: timedelta) -> datetime:
    step = int(every.total_seconds() * 1e9)
    return pd.Timestamp(pd.Timestamp(now).value // step * step, tz="UTC").to_pydatetime()


def _selection(rule: AlertRule, start: datetime, end: datetime, ids: Sequence[str] | None) -> Selection:
    return Selection(start, end, equipment_ids=tuple(ids) if ids else None, metric_types=(rule.metric,))


def _threshold(store: MetricsStore, rule: AlertRule, now: datetime, ids: Sequence[str] | None) -> pd.DataFrame:
    agg = store.aggregate(_selection(rule, now - rule.window, now, ids), functions=("count", rule.function))
    agg = agg[agg["count"] > 0]
    value = agg[rule.function].astype("float64")
    firing = value > rule.threshold if rule.operator == "above" else value < rule.threshold
    unit_text = f"{rule.function} {rule.metric} over {_text(rule.window)}"
    message = [f"{unit_text} is {v:.2f}, {rule.operator} {rule.threshold:g}" for v in value]
    return pd.DataFrame({"equipment_id": agg["equipment_id"].to_numpy(), "value": value.to_numpy(),
                         "firing": firing.to_numpy(), "message": message})


def _windows(store: MetricsStore, rule: AlertRule, now: datetime, ids: Sequence[str] | None) -> pd.DataFrame:
    """Complete ``every``-window means over the rule's window (plus the last window for anomalies)."""
    end = _floor(now, rule.every)
    start = end - rule.window - (rule.every if rule.kind == "anomaly" else timedelta(0))
    agg = store.aggregate(_selection(rule, start, end, ids), every=rule.every, functions=("count", "mean"))
    agg = agg[agg["count"] > 0]
    x = (agg["time"].to_numpy("datetime64[ns]").astype("int64") - pd.Timestamp(end).value) / 1e9 / DAY_S
    return pd.DataFrame({"equipment_id": agg["equipment_id"].to_numpy(), "x": x,
                         "y": agg["mean"].to_numpy("float64")})


def _trend(store: MetricsStore, rule: AlertRule, now: datetime, ids: Sequence[str] | None) -> pd.DataFrame:
    w = _windows(store, rule, now, ids)
    w = w.assign(xx=w["x"] ** 2, xy=w["x"] * w["y"])
    s = w.groupby("equipment_id", sort=True)[["x", "y", "xx", "xy"]].agg("sum").join(
        w.groupby("equipment_id")["x"].size().rename("n"))
    s = s[s["n"] >= rule.min_points]
    denom = s["xx"] - s["x"] ** 2 / s["n"]
    slope = (s["xy"] - s["x"] * s["y"] / s["n"]) / denom.where(denom > 0)          # unit per day
    at_end = s["y"] / s["n"] + slope * (0.0 - s["x"] / s["n"])                    # fitted value at the window's end
    sign = 1.0 if rule.direction == "rising" else -1.0
    firing = sign * slope > rule.rate_per_day
    days_to_cross = pd.Series(np.nan, index=s.index)
    if rule.threshold is not None:
        days_to_cross = ((rule.threshold - at_end) / slope).where(sign * slope > 0)
        days_to_cross = days_to_cross.where(days_to_cross >= 0, 0.0)
        if rule.horizon is not None:
            firing &= days_to_cross <= rule.horizon.total_seconds() / DAY_S
    end = _floor(now, rule.every)
    message = []
    for eq_slope, days in zip(slope, days_to_cross, strict=True):
        text = f"{rule.metric} {rule.direction} {eq_slope:+.2f}/day over {_text(rule.window)}"
        if rule.threshold is not None and np.isfinite(days):
            when = pd.Timestamp(end) + pd.Timedelta(days=float(min(days, 3650)))
            text += f"; forecast to cross {rule.threshold:g} at {when:%Y-%m-%d %H:%M} UTC"
        message.append(text)
    keep = slope.notna().to_numpy()
    return pd.DataFrame({"equipment_id": s.index.to_numpy()[keep], "value": slope.to_numpy()[keep],
                         "firing": firing.to_numpy()[keep], "message": np.asarray(message, dtype=object)[keep]})


def _anomaly(store: MetricsStore, rule: AlertRule, now: datetime, ids: Sequence[str] | None) -> pd.DataFrame:
    w = _windows(store, rule, now, ids)
    last_x = -rule.every.total_seconds() / DAY_S
    current = w[np.isclose(w["x"], last_x)].set_index("equipment_id")["y"]
    base = w[w["x"] < last_x - 1e-12]
    median = base.groupby("equipment_id")["y"].median()
    mad = (base["y"] - base["equipment_id"].map(median)).abs().groupby(base["equipment_id"]).median()
    n = base.groupby("equipment_id").size()
    frame = pd.DataFrame({"current": current, "median": median, "mad": mad, "n": n}).dropna()
    frame = frame[frame["n"] >= rule.min_points]
    scale = (1.4826 * frame["mad"]).clip(lower=1e-9 * frame["median"].abs().clip(lower=1.0))
    z = (frame["current"] - frame["median"]) / scale
    message = [f"{rule.metric} mean of the last {_text(rule.every)} is {c:.2f} against a median of {m:.2f} "
               f"(robust z {v:+.1f}, limit {rule.z:g})"
               for c, m, v in zip(frame["current"], frame["median"], z, strict=True)]
    return pd.DataFrame({"equipment_id": frame.index.to_numpy(), "value": z.to_numpy(),
                         "firing": (z.abs() >= rule.z).to_numpy(), "message": message})


_EVALUATORS = {"threshold": _threshold, "trend": _trend, "anomaly": _anomaly}


def _text(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def evaluate_rules(store: MetricsStore, rules: Sequence[AlertRule], now: datetime,
                   equipment_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Each rule's value and condition per equipment at ``now`` (aware, converted to UTC).

    Columns: equipment_id, rule, severity, value, firing (bool), message. Equipment
    without data for a rule have no row for it.
    """
    now = to_utc(now, "now")
    parts = []
    with store.session():
        for rule in rules:  # a handful of rules; each is one aggregate over the whole fleet
            part = _EVALUATORS[rule.kind](store, rule, now, equipment_ids)
            parts.append(part.assign(rule=rule.name, severity=rule.severity))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=_CONDITION_COLUMNS)
    frame["message"] = frame["message"].astype(str).str.slice(0, MAX_MESSAGE)
    frame["firing"] = frame["firing"].astype(bool)
    return frame[_CONDITION_COLUMNS].sort_values(["equipment_id", "rule"], kind="stable").reset_index(drop=True)


def _alert_frame(raw: pd.DataFrame) -> pd.DataFrame:
    tags = list(raw["tags"]) if "tags" in raw else []

    def tag(name: str) -> pd.Series:
        return pd.Series([t.get(name, "") for t in tags], dtype="str")

    return pd.DataFrame({
        "time": pd.to_datetime(raw["time"], utc=True).reset_index(drop=True),
        "equipment_id": raw["equipment_id"].astype("str").reset_index(drop=True),
        "rule": tag("rule"), "severity": tag("severity"), "state": tag("state"),
        "value": raw["value"].astype("float64").reset_index(drop=True), "message": tag("message"),
    })


def current_alerts(store: MetricsStore, now: datetime | None = None, *, firing_only: bool = True) -> pd.DataFrame:
    """The newest alert point per (equipment, rule) before or at ``now``: time (when it
    started or cleared, UTC), equipment_id, rule, severity, state, value, message."""
    before = None if now is None else to_utc(now, "now") + timedelta(microseconds=1)
    latest = _alert_frame(store.latest(metric_types=(ALERT_METRIC,), before=before))
    latest = latest.sort_values("time", kind="stable").groupby(["equipment_id", "rule"], as_index=False).last()
    if firing_only:
        latest = latest[latest["state"] == FIRING]
    return latest.sort_values(["equipment_id", "rule"], kind="stable").reset_index(drop=True)


def list_alerts(store: MetricsStore, start: datetime, end: datetime, *, state: str | None = None,
                equipment_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Alert events (raised and resolved) over [start, end) (UTC), newest first."""
    raw = store.query(Selection(start, end, equipment_ids=tuple(equipment_ids) if equipment_ids else None,
                                metric_types=(ALERT_METRIC,)))
    events = _alert_frame(raw)
    if state is not None:
        events = events[events["state"] == state]
    return events.sort_values(["time", "equipment_id", "rule"], ascending=[False, True, True],
                              kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class AlertCheck:
    """Outcome of one check at ``now``: ``raised`` and ``resolved`` were written to the
    store; ``ongoing`` were already firing; ``conditions`` holds every evaluated value."""

    now: datetime
    raised: pd.DataFrame
    ongoing: pd.DataFrame
    resolved: pd.DataFrame
    conditions: pd.DataFrame


def check_alerts(store: MetricsStore, rules: Sequence[AlertRule], now: datetime,
                 equipment_ids: Sequence[str] | None = None) -> AlertCheck:
    """Evaluate ``rules`` at ``now`` and record state changes as alert points (see the module docstring)."""
    now = to_utc(now, "now")
    conditions = evaluate_rules(store, rules, now, equipment_ids)
    names = {r.name for r in rules}
    open_now = current_alerts(store, now)
    open_now = open_now[open_now["rule"].isin(names)]
    if equipment_ids:
        open_now = open_now[open_now["equipment_id"].isin(list(equipment_ids))]
    key = ["equipment_id", "rule"]
    merged = conditions.merge(open_now[key + ["time"]].rename(columns={"time": "since"}), on=key, how="left")
    was_open = merged["since"].notna()
    raised = merged[merged["firing"] & ~was_open]
    ongoing = merged[merged["firing"] & was_open]
    resolved = merged[~merged["firing"] & was_open]
    writes = pd.concat([raised.assign(state=FIRING), resolved.assign(state=RESOLVED)], ignore_index=True)
    if not writes.empty:
        resolved_text = writes["state"].eq(RESOLVED)
        writes.loc[resolved_text, "message"] = "cleared: " + writes.loc[resolved_text, "message"]
        store.write_frame(pd.DataFrame({
            "time": pd.Timestamp(now), "equipment_id": writes["equipment_id"].astype(str),
            "metric_type": ALERT_METRIC, "value": writes["value"].astype("float64"),
            "rule": writes["rule"], "severity": writes["severity"], "state": writes["state"],
            "message": writes["message"].str.slice(0, MAX_MESSAGE),
        }))
    drop = ["firing"]
    return AlertCheck(now=now, raised=raised.drop(columns=drop + ["since"]).reset_index(drop=True),
                      ongoing=ongoing.drop(columns=drop).reset_index(drop=True),
                      resolved=resolved.drop(columns=drop + ["since"]).reset_index(drop=True),
                      conditions=conditions)
