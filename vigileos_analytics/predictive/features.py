"""Features per equipment and snapshot time, and the labels "fails within horizon H".

A *snapshot* is an (equipment, time) pair on a regular UTC grid (every ``step``).
Its features use only data before the snapshot time:

- from hourly aggregates computed by the store (``store.aggregate``, ``every=1h``),
  for each of CPU (%), memory (%), response time (ms) and temperature (°C):
  ``<metric>_mean``, ``_std``, ``_slope`` (unit per day, least squares) and ``_max``
  over the last ``window``, and ``<metric>_rise``: the mean of the last ``recent``
  minus the mean of the ``baseline`` before it (how far the equipment has moved
  from its own normal);
- from status changes in the store: ``hours_since_maintenance`` and
  ``hours_since_failure`` (a failure is a change to ``offline``). Without an event
  in the data they read the hours since the data began (a lower bound).

Only snapshots where the equipment is ``operational`` (or never reported a status) are
kept: a model warns about equipment that is running. Labels come from the same status changes: ``failure_time``
is the next change to ``offline`` after the snapshot; ``label`` is 1 when it is within
``horizon``; ``label_known`` is false when the data ends before the horizon does and
no failure was seen; ``rul_hours`` is the time to that failure (NaN if none seen).
All rolling windows are computed on wide (time x equipment) frames: no loop over
equipment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ValidationError
from ..schema import (
    ALERT,
    AVAILABILITY,
    CPU_USAGE,
    MAINTENANCE,
    MEMORY_USAGE,
    OFFLINE,
    OPERATIONAL,
    RESPONSE_TIME,
    STATUS_CHANGE,
    TEMPERATURE,
    validate_range,
)
from ..stores.base import MetricsStore, Selection

__all__ = ["FeatureSpec", "FEATURE_METRICS", "feature_names", "build_features", "numeric_metrics", "status_events",
           "failure_events", "add_labels"]

FEATURE_METRICS = (CPU_USAGE, MEMORY_USAGE, RESPONSE_TIME, TEMPERATURE)
HOUR = pd.Timedelta(hours=1)


@dataclass(frozen=True)
class FeatureSpec:
    """Windows of the features (UTC grid; ``step`` and windows whole hours)."""

    step: timedelta = timedelta(hours=6)
    window: timedelta = timedelta(hours=24)
    recent: timedelta = timedelta(hours=6)
    baseline: timedelta = timedelta(days=3)
    metrics: tuple[str, ...] = FEATURE_METRICS

    def __post_init__(self) -> None:
        for name in ("step", "window", "recent", "baseline"):
            value = getattr(self, name)
            if not isinstance(value, timedelta) or value < timedelta(hours=1) or value % timedelta(hours=1):
                raise ValidationError(f"FeatureSpec.{name} must be a whole number of hours (at least 1 h); "
                                      f"got {value!r}.", field=name, value=value)

    @property
    def history(self) -> timedelta:
        """How much data before a snapshot its features read."""
        return max(self.window, self.recent + self.baseline)


def feature_names(spec: FeatureSpec = FeatureSpec()) -> list[str]:
    names = [f"{m}_{s}" for m in spec.metrics for s in ("mean", "std", "slope", "max", "rise")]
    return names + ["hours_since_maintenance", "hours_since_failure"]


def _rolling_slope(wide: pd.DataFrame, hours: int) -> pd.DataFrame:
    """Least-squares slope per day over the last ``hours`` rows, per column, NaN-aware."""
    t = pd.Series(np.arange(len(wide), dtype="float64") / 24.0, index=wide.index)
    present = wide.notna().astype("float64")
    tt = present.mul(t, axis=0)
    sums = lambda f: f.rolling(hours, min_periods=1).sum()  # noqa: E731
    n, sx, sy = sums(present), sums(tt), sums(wide.fillna(0.0))
    sxx, sxy = sums(tt.mul(t, axis=0)), sums(wide.fillna(0.0).mul(t, axis=0))
    denom = sxx - sx ** 2 / n.where(n > 0)
    slope = (sxy - sx * sy / n.where(n > 0)) / denom.where(denom > 1e-12)
    return slope.where(n >= max(3, hours // 4))


def _metric_features(store: MetricsStore, ids: Sequence[str] | None, start: pd.Timestamp, end: pd.Timestamp,
                     spec: FeatureSpec) -> pd.DataFrame:
    """Rolling features on the hourly grid; row at hour h describes data before h + 1 h."""
    agg = store.aggregate(Selection(start.to_pydatetime(), end.to_pydatetime(), equipment_ids=ids,
                                    metric_types=spec.metrics), every=timedelta(hours=1), functions=("mean", "max"))
    grid = pd.date_range(start, end - HOUR, freq="1h", tz="UTC").as_unit("ns")
    agg = agg.assign(time=pd.to_datetime(agg["time"], utc=True).dt.as_unit("ns"))
    w, r, b = (int(spec.window / timedelta(hours=1)), int(spec.recent / timedelta(hours=1)),
               int(spec.baseline / timedelta(hours=1)))
    parts = []
    for metric in spec.metrics:  # four metrics; each step is vectorized over equipment
        one = agg[agg["metric_type"] == metric]
        mean = one.pivot_table(index="time", columns="equipment_id", values="mean").reindex(grid)
        peak = one.pivot_table(index="time", columns="equipment_id", values="max").reindex(grid)
        minp = max(2, w // 4)
        frames = {
            "mean": mean.rolling(w, min_periods=minp).mean(),
            "std": mean.rolling(w, min_periods=minp).std(),
            "slope": _rolling_slope(mean, w),
            "max": peak.rolling(w, min_periods=minp).max(),
            "rise": mean.rolling(r, min_periods=1).mean()
            - mean.shift(r).rolling(b, min_periods=max(2, b // 4)).mean(),
        }
        for stat, frame in frames.items():
            long = frame.stack(future_stack=True).rename(f"{metric}_{stat}")
            parts.append(long)
    if not parts or agg.empty:
        return pd.DataFrame(columns=["hour", "equipment_id"])
    out = pd.concat(parts, axis=1)
    out.index = out.index.set_names(["hour", "equipment_id"])
    return out.reset_index()


def numeric_metrics(store: MetricsStore, equipment_ids: Sequence[str] | None = None) -> tuple[str, ...]:
    """Every metric the store holds for these equipment, except events (status changes,
    alerts) and availability, which would give the failures away."""
    latest = store.latest(equipment_ids)
    names = set(latest["metric_type"].astype(str)) if len(latest) else set()
    return tuple(sorted(names - {STATUS_CHANGE, ALERT, AVAILABILITY}))


def status_events(store: MetricsStore, start: datetime, end: datetime,
                  equipment_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Status changes over [start, end): time (UTC), equipment_id, new_status, previous_status."""
    raw = store.query(Selection(start, end, equipment_ids=equipment_ids, metric_types=(STATUS_CHANGE,)))
    tags = list(raw["tags"])
    return pd.DataFrame({
        "time": pd.to_datetime(raw["time"], utc=True).dt.as_unit("ns").reset_index(drop=True),
        "equipment_id": raw["equipment_id"].astype("str").reset_index(drop=True),
        "new_status": pd.Series([t.get("new_status", "") for t in tags], dtype="str"),
        "previous_status": pd.Series([t.get("previous_status", "") for t in tags], dtype="str"),
    }).sort_values("time", kind="stable").reset_index(drop=True)


def _last_event(snapshots: pd.DataFrame, events: pd.DataFrame, column: str, direction: str,
                allow_exact: bool) -> pd.Series:
    """Time of the last (or next) event per snapshot, matched per equipment."""
    if events.empty:
        return pd.Series(pd.NaT, index=snapshots.index, dtype="datetime64[ns, UTC]")
    # One key dtype on both sides: pivoted ids come back as object, stored ones as str.
    left = snapshots[["time", "equipment_id"]].reset_index().astype({"equipment_id": object})
    left = left.sort_values("time", kind="stable")
    right = events[["time", "equipment_id"]].assign(**{column: events["time"]}).astype({"equipment_id": object})
    right = right.sort_values("time", kind="stable")
    merged = pd.merge_asof(left, right, on="time", by="equipment_id", direction=direction,
                           allow_exact_matches=allow_exact)
    return merged.set_index("index")[column].reindex(snapshots.index)


def build_features(store: MetricsStore, start: datetime, end: datetime, spec: FeatureSpec = FeatureSpec(),
                   equipment_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Features of every operational (equipment, snapshot) with snapshot times in [start, end]
    on the ``spec.step`` grid (UTC). Reads data from ``start - spec.history`` to ``end``.

    Columns: equipment_id, time, status, the :func:`feature_names` columns.
    """
    start, end = validate_range(start, end)
    step = pd.Timedelta(spec.step)
    first = pd.Timestamp(start).ceil(step)
    last = pd.Timestamp(end).floor(step)
    data_start = (first - pd.Timedelta(spec.history)).floor("1h")
    with store.session():
        metrics = _metric_features(store, equipment_ids, data_start, max(last, first), spec)
        events = status_events(store, data_start.to_pydatetime(), (last + HOUR).to_pydatetime(), equipment_ids)
    snap_times = pd.date_range(first, last, freq=step, tz="UTC").as_unit("ns")
    names = feature_names(spec)
    if metrics.empty:
        return pd.DataFrame(columns=["equipment_id", "time", "status", *names])
    metrics["time"] = metrics["hour"] + HOUR
    frame = metrics[metrics["time"].isin(snap_times)].drop(columns="hour")
    frame = frame.sort_values(["equipment_id", "time"], kind="stable").reset_index(drop=True)
    # Status just before the snapshot: the last change strictly earlier.
    status_time = _last_event(frame, events, "t", "backward", allow_exact=False)
    status = events.set_index(["equipment_id", "time"])["new_status"]
    status = status[~status.index.duplicated(keep="last")]
    keys = pd.MultiIndex.from_arrays([frame["equipment_id"], status_time])
    # Equipment that never reported a status (a store of sensor readings only) counts as running.
    frame["status"] = pd.Series(status.reindex(keys).to_numpy(), index=frame.index).fillna(OPERATIONAL)
    for name, kind in (("maintenance", MAINTENANCE), ("failure", OFFLINE)):
        since = _last_event(frame, events[events["new_status"] == kind], "t", "backward", allow_exact=False)
        hours = (frame["time"] - since).dt.total_seconds() / 3600.0
        frame[f"hours_since_{name}"] = hours.fillna((frame["time"] - data_start).dt.total_seconds() / 3600.0)
    frame = frame[frame["status"] == OPERATIONAL]
    frame = frame.dropna(subset=[f"{m}_mean" for m in spec.metrics], how="all")
    return frame[["equipment_id", "time", "status", *names]].reset_index(drop=True)


def failure_events(path: str | Path) -> pd.DataFrame:
    """Failures from a CSV with columns ``equipment_id`` and ``time`` (text without an offset
    is UTC), as events changing to ``offline`` (the shape :func:`status_events` returns)."""
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype={"equipment_id": str})
    except (OSError, ValueError) as exc:
        raise ValidationError(f"cannot read the failures file {path} ({type(exc).__name__}: {exc}).",
                              field="failures", value=str(path)) from exc
    missing = {"equipment_id", "time"} - set(raw.columns)
    if missing:
        raise ValidationError(f"the failures file {path} needs columns equipment_id,time; it lacks "
                              f"{', '.join(sorted(missing))} (it has {', '.join(map(str, raw.columns))}).",
                              field="failures", value=str(path))
    try:
        times = pd.to_datetime(raw["time"], utc=True, format="mixed")
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"the failures file {path} has a time that is not a date and time ({exc}).",
                              field="failures", value=str(path)) from exc
    return pd.DataFrame({"time": times.dt.as_unit("ns"), "equipment_id": raw["equipment_id"].astype(str),
                         "new_status": OFFLINE, "previous_status": ""}).sort_values("time", kind="stable") \
        .reset_index(drop=True)


def add_labels(features: pd.DataFrame, events: pd.DataFrame, horizon: timedelta, data_end: datetime,
               rul_cap: timedelta = timedelta(days=3)) -> pd.DataFrame:
    """Add failure_time (next change to offline, UTC), rul_hours, label (fails within
    ``horizon``), label_known (the data reaches far enough to tell) and rul_capped_hours
    (``min(rul_hours, rul_cap)``; the cap also where no failure comes within it and the data
    shows so; NaN where the data ends first) to ``features``."""
    failures = events[events["new_status"] == OFFLINE]
    out = features.copy()
    out["failure_time"] = _last_event(out, failures, "t", "forward", allow_exact=False).to_numpy()
    out["failure_time"] = pd.to_datetime(out["failure_time"], utc=True)
    rul = (out["failure_time"] - out["time"]).dt.total_seconds() / 3600.0
    out["rul_hours"] = rul
    horizon_h = horizon.total_seconds() / 3600.0
    out["label"] = (rul <= horizon_h).fillna(False).astype("int64")
    reaches = out["time"] + pd.Timedelta(horizon) <= pd.Timestamp(data_end)
    out["label_known"] = (out["label"] == 1) | reaches
    cap_h = rul_cap.total_seconds() / 3600.0
    sees_cap = out["time"] + pd.Timedelta(rul_cap) <= pd.Timestamp(data_end)
    out["rul_capped_hours"] = rul.clip(upper=cap_h).where(rul.notna(), np.where(sees_cap, cap_h, np.nan))
    return out
