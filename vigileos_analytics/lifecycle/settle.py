"""Raw points found before the rollup horizon, taken into the rollups and removed.

Before the horizon the analytics read rollups only (:mod:`..stores.tiered`), so a raw
point of a rolled-up metric lying there is invisible until it is rolled up. Such
points come from an optimize run stopped after it moved the horizon (its rollups
already count them), from writes into old time after the horizon was set, and from
``vigileos restore --roll-up`` (see :mod:`.restore_plan`).

:func:`settle` takes them in, per equipment, metric and window:

- a window whose rollup has the raw points' count, sum, min and max already counts
  them (an interrupted run's): nothing is written for it;
- any other window gets the raw points added: counts and sums add, min / max
  combine, ``last`` becomes the raw points' last, p95 the count-weighted mean of the
  two p95s (an estimate, like every rolled-up p95);
- availability: over the stretch an equipment's raw samples cover, their states
  replace the rollup's state events; the available / unavailable seconds of the
  windows in that time are recomputed from the result.

The rollups are read back and checked, then the raw points are removed batch by
batch, each after a recount shows nobody wrote into that time meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from ..errors import RollupError
from ..schema import AVAILABILITY
from ..stores.base import MetricsStore, Selection
from ..stores.intervals import INTERVAL_COLUMNS, empty_intervals
from ..stores.rollups import (
    AVAILABLE_S,
    EVENT_METRICS,
    SEP,
    STATE,
    STATS,
    UNAVAILABLE_S,
    UNKNOWN_STATE,
    RollupInfo,
    intervals_from_events,
    stat_metric,
)
from ..stores.tiered import TieredStore
from .chunks import ALL_TIME_START, utc_from_ns
from .cleanup import counts_frame
from .rollup_points import rollup_points, seconds_points, state_events

__all__ = ["SettleResult", "first_day_with_data", "hold_past", "raw_counts", "same_counts", "settle"]

FUNCTIONS = ("count", "mean", "min", "max", "last", "p95")
_COARSE = timedelta(days=1024)
_KEYS = ["time", "equipment_id", "metric_type"]


@dataclass(frozen=True)
class SettleResult:
    """Raw points found before the horizon (``points``): ``already_held`` of them in
    windows the rollups already counted, ``added`` to the rollups; ``deleted`` raw
    points removed; ``kept``: equipment whose raw points changed meanwhile and stay."""

    points: int = 0
    already_held: int = 0
    added: int = 0
    deleted: int = 0
    kept: list[str] = field(default_factory=list)


def raw_counts(store: MetricsStore, selection: Selection) -> pd.DataFrame:
    """Raw points per equipment and metric that rollups hold (events stay raw)."""
    frame = counts_frame(store.aggregate(selection, functions=("count",)))
    return frame[~frame["metric_type"].isin(EVENT_METRICS)].reset_index(drop=True)


def same_counts(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    key = ["equipment_id", "metric_type"]
    left = a.set_index(key)["points"].sort_index()
    right = b.set_index(key)["points"].sort_index()
    return left.index.equals(right.index) and bool((left.to_numpy() == right.to_numpy()).all())


def first_day_with_data(store: MetricsStore, end: datetime) -> datetime | None:
    """The UTC day of the oldest point before ``end`` (two count queries, coarse then
    daily: a windowed read from 1970 costs servers more than it should)."""
    coarse = store.aggregate(Selection(ALL_TIME_START, end), every=_COARSE, functions=("count",))
    coarse = coarse[coarse["count"] > 0]
    if coarse.empty:
        return None
    first = pd.Timestamp(coarse["time"].min()).to_pydatetime()
    daily = store.aggregate(Selection(first, min(first + _COARSE, end)), every=timedelta(days=1),
                            functions=("count",))
    daily = daily[daily["count"] > 0]
    return pd.Timestamp(daily["time"].min()).to_pydatetime() if not daily.empty else first


def hold_past(store: MetricsStore, ids: list[str], cutoff: datetime, staleness: timedelta) -> pd.DataFrame:
    """The last sample before the cutoff holds its state past it, until the next
    sample or staleness: that stretch goes into the rollups with it, since the sample
    itself will be gone when the raw points after the cutoff are read."""
    last = store.latest(equipment_ids=ids, metric_types=(AVAILABILITY,), before=cutoff)
    if last.empty:
        return empty_intervals()
    after = store.query(Selection(cutoff, cutoff + staleness, equipment_ids=ids, metric_types=(AVAILABILITY,)))
    first_after = after.groupby("equipment_id")["time"].min() if not after.empty else pd.Series(dtype=object)
    cutoff_ns, stale_ns = pd.Timestamp(cutoff).value, int(staleness.total_seconds() * 1e9)
    last_ns = last["time"].to_numpy("datetime64[ns]").view("int64")
    hold = last_ns + stale_ns
    nxt = first_after.reindex(last["equipment_id"])
    has_next = nxt.notna().to_numpy()
    next_ns = np.full(len(last), np.iinfo("int64").max, dtype="int64")
    if has_next.any():
        next_ns[has_next] = pd.to_datetime(nxt[has_next], utc=True).to_numpy("datetime64[ns]").view("int64")
    end = np.minimum(hold, next_ns)
    keep = end > cutoff_ns
    return pd.DataFrame({"equipment_id": last["equipment_id"].to_numpy(dtype=object)[keep],
                         "state": (last["value"].to_numpy()[keep] >= 0.5).astype("int8"),
                         "start": np.full(int(keep.sum()), cutoff_ns, dtype="int64"), "end": end[keep]})


def settle(store: MetricsStore, info: RollupInfo, *, batch_equipment: int = 50) -> SettleResult:
    """Take the raw points of rolled-up metrics before ``info.horizon`` into the
    rollups and remove them (see the module docstring)."""
    raw = store.raw if isinstance(store, TieredStore) else store
    if info.horizon is None or info.staleness is None:
        return SettleResult()
    horizon = info.horizon
    with raw.session():
        counts = raw_counts(raw, Selection(ALL_TIME_START, horizon))
        start = first_day_with_data(raw, horizon) if not counts.empty else None
    if start is None:
        return SettleResult()
    ids = sorted(counts["equipment_id"].unique())
    held = added = deleted = 0
    kept: list[str] = []
    for batch in (ids[i:i + batch_equipment] for i in range(0, len(ids), batch_equipment)):
        batch_counts = counts[counts["equipment_id"].isin(batch)]
        batch_held, batch_added = _settle_batch(raw, info, batch_counts, start)
        held, added = held + batch_held, added + batch_added
        metrics = tuple(sorted(batch_counts["metric_type"].unique()))
        selection = Selection(ALL_TIME_START, horizon, equipment_ids=batch, metric_types=metrics)
        if not same_counts(raw_counts(raw, selection), batch_counts):
            kept.extend(batch)
            continue
        deleted += raw.delete(selection)
    return SettleResult(int(counts["points"].sum()), held, added, deleted, kept)


def _settle_batch(raw: MetricsStore, info: RollupInfo, counts: pd.DataFrame, start: datetime) -> tuple[int, int]:
    """Merge one batch's raw points before the horizon into the rollups and check them;
    returns (raw points already held, raw points added)."""
    assert info.horizon is not None
    ids = sorted(counts["equipment_id"].unique())
    metrics = tuple(sorted(counts["metric_type"].unique()))
    rollup = info.store
    with_availability = sorted(counts.loc[counts["metric_type"] == AVAILABILITY, "equipment_id"].unique())
    with raw.session(), rollup.session():  # every read first, on one connection each
        raw_windows = raw.aggregate(Selection(start, info.horizon, equipment_ids=ids, metric_types=metrics),
                                    info.every, FUNCTIONS)
        have = _rollup_windows(rollup, ids, metrics, start, info.horizon)
        availability = _availability_inputs(raw, info, with_availability, start) if with_availability else None
    raw_windows = raw_windows[raw_windows["count"] > 0]
    merged, held, added = _merge(raw_windows, have)
    start_ns, horizon_ns = pd.Timestamp(start).value, int(info.horizon_ns or 0)
    points = rollup_points(merged, empty_intervals(), info.every_ns, start_ns, horizon_ns)
    if not points.empty:
        rollup.write_frame(points)
    if availability is not None:
        _rebuild_availability(info, with_availability, start, *availability)
    key = ["equipment_id", "metric_type"]
    expected = pd.concat([have[key + ["count"]], merged[key].assign(count=merged["raw_count"])], ignore_index=True)
    _check_counts(rollup, ids, metrics, start, info.horizon, expected.groupby(key)["count"].sum())
    return held, added


def _rollup_windows(rollup: MetricsStore, ids: list[str], metrics: tuple[str, ...], start: datetime,
                    end: datetime) -> pd.DataFrame:
    """The rollup statistics per window (time in ns), one column per statistic."""
    points = rollup.query(Selection(start, end, equipment_ids=ids,
                                    metric_types=tuple(stat_metric(m, s) for m in metrics for s in STATS)))
    if points.empty:
        return pd.DataFrame({"time": np.array([], dtype="int64"), "equipment_id": pd.Series([], dtype=object),
                             "metric_type": pd.Series([], dtype=object),
                             **{s: np.array([], dtype="float64") for s in STATS}})
    split = points["metric_type"].str.rsplit(SEP, n=1, expand=True)
    frame = pd.DataFrame({"time": points["time"].to_numpy("datetime64[ns]").view("int64"),
                          "equipment_id": points["equipment_id"].to_numpy(dtype=object),
                          "metric_type": split[0].to_numpy(dtype=object), "stat": split[1].to_numpy(dtype=object),
                          "value": points["value"].to_numpy("float64")})
    wide = frame.pivot_table(index=_KEYS, columns="stat", values="value", aggfunc="last").reset_index()
    wide.columns.name = None
    return wide.reindex(columns=_KEYS + list(STATS))


def _merge(raw_windows: pd.DataFrame, have: pd.DataFrame) -> tuple[pd.DataFrame, int, int]:
    """The windows to write (an aggregate frame, plus ``raw_count``) and the raw points
    (already held, added)."""
    raw = pd.DataFrame({"time": raw_windows["time"].to_numpy("datetime64[ns]").view("int64"),
                        "equipment_id": raw_windows["equipment_id"].to_numpy(dtype=object),
                        "metric_type": raw_windows["metric_type"].to_numpy(dtype=object),
                        "count": raw_windows["count"].to_numpy("float64"),
                        "sum": (raw_windows["mean"] * raw_windows["count"]).to_numpy("float64"),
                        **{s: raw_windows[s].to_numpy("float64") for s in ("min", "max", "last", "p95")}})
    both = raw.merge(have.astype({s: "float64" for s in STATS}), on=_KEYS, how="left", suffixes=("", "_have"))
    present = both["count_have"].notna().to_numpy()

    def close(stat: str) -> np.ndarray:
        return np.isclose(both[stat].to_numpy(), both[f"{stat}_have"].to_numpy(), rtol=1e-9, atol=1e-12)

    same = present & (both["count"].to_numpy() == both["count_have"].to_numpy()) & close("sum") & close(
        "min") & close("max")
    add = both[~same]
    held = int(both.loc[same, "count"].sum())
    count_have = add["count_have"].fillna(0).to_numpy()
    count = add["count"].to_numpy() + count_have
    total = add["sum"].to_numpy() + add["sum_have"].fillna(0).to_numpy()
    p95_have = add["p95_have"].fillna(0).to_numpy()
    merged = pd.DataFrame({
        "time": pd.to_datetime(add["time"].to_numpy("int64"), unit="ns", utc=True),
        "equipment_id": add["equipment_id"].to_numpy(dtype=object),
        "metric_type": add["metric_type"].to_numpy(dtype=object),
        "count": count, "mean": total / count,
        "min": np.fmin(add["min"].to_numpy(), add["min_have"].to_numpy()),
        "max": np.fmax(add["max"].to_numpy(), add["max_have"].to_numpy()),
        "last": add["last"].to_numpy(),
        "p95": (add["p95"].to_numpy() * add["count"].to_numpy() + p95_have * count_have) / count,
        "raw_count": add["count"].to_numpy(),
    })
    return merged, held, int(add["count"].sum())


def _availability_inputs(raw: MetricsStore, info: RollupInfo, ids: list[str],
                         start: datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The raw samples' intervals from ``start`` to the horizon (and their hold past it),
    and the rollup's state events from ``start`` to the horizon plus staleness."""
    assert info.horizon is not None and info.staleness is not None
    end_ns = int(info.horizon_ns or 0) + int(info.staleness.total_seconds() * 1e9)
    fresh = pd.concat([raw.availability_intervals(start, info.horizon, info.staleness, equipment_ids=ids),
                       hold_past(raw, ids, info.horizon, info.staleness)], ignore_index=True)
    old_events = info.store.query(Selection(start, utc_from_ns(end_ns + 1), equipment_ids=ids,
                                            metric_types=(stat_metric(AVAILABILITY, STATE),)))
    return fresh, old_events


def _rebuild_availability(info: RollupInfo, ids: list[str], start: datetime, fresh: pd.DataFrame,
                          old_events: pd.DataFrame) -> None:
    """Rewrite the state events (and the windows' seconds) of ``ids`` from ``start`` to
    the horizon plus staleness: the raw samples' states over the stretch they cover,
    the rollup's state elsewhere."""
    assert info.horizon is not None and info.staleness is not None
    rollup, horizon, staleness = info.store, info.horizon, info.staleness
    start_ns, horizon_ns = pd.Timestamp(start).value, int(info.horizon_ns or 0)
    end_ns = horizon_ns + int(staleness.total_seconds() * 1e9)
    state_metric = stat_metric(AVAILABILITY, STATE)
    old = intervals_from_events(old_events, start_ns, end_ns)
    combined = pd.concat([_outside(old, fresh), fresh[INTERVAL_COLUMNS]], ignore_index=True)
    events = state_events(combined) if not combined.empty else pd.DataFrame(
        {"time": np.array([], dtype="int64"), "equipment_id": [], "metric_type": [], "value": []})
    events = events[(events["time"] >= start_ns) & (events["time"] < end_ns)]
    bounds = _boundary_events(events, old_events, combined, ids, start_ns, end_ns)
    events = pd.concat([events, bounds], ignore_index=True)
    seconds = seconds_points(combined.assign(start=combined["start"].clip(upper=horizon_ns),
                                             end=combined["end"].clip(upper=horizon_ns)), info.every_ns, start_ns,
                             horizon_ns) if not combined.empty else events.iloc[:0]
    rollup.delete(Selection(start, utc_from_ns(end_ns), equipment_ids=ids, metric_types=(state_metric,)))
    rollup.delete(Selection(start, horizon, equipment_ids=ids, metric_types=(
        stat_metric(AVAILABILITY, AVAILABLE_S), stat_metric(AVAILABILITY, UNAVAILABLE_S))))
    written = pd.concat([events, seconds], ignore_index=True)
    if not written.empty:
        written["time"] = pd.to_datetime(written["time"].to_numpy("int64"), unit="ns", utc=True)
        rollup.write_frame(written[["time", "equipment_id", "metric_type", "value"]])


def _outside(old: pd.DataFrame, fresh: pd.DataFrame) -> pd.DataFrame:
    """The parts of ``old`` intervals outside the stretch each equipment's ``fresh`` ones span."""
    if old.empty or fresh.empty:
        return old[INTERVAL_COLUMNS]
    span = fresh.groupby("equipment_id").agg(lo=("start", "min"), hi=("end", "max"))
    joined = old.join(span, on="equipment_id")
    lo = joined["lo"].fillna(np.iinfo("int64").max).to_numpy("int64")
    hi = joined["hi"].fillna(np.iinfo("int64").max).to_numpy("int64")
    before = joined.assign(end=np.minimum(joined["end"].to_numpy("int64"), lo))
    after = joined.assign(start=np.maximum(joined["start"].to_numpy("int64"), hi))
    parts = pd.concat([before[before["end"] > before["start"]], after[after["end"] > after["start"]]],
                      ignore_index=True)
    return parts[INTERVAL_COLUMNS]


def _boundary_events(events: pd.DataFrame, old_events: pd.DataFrame, combined: pd.DataFrame, ids: list[str],
                     start_ns: int, end_ns: int) -> pd.DataFrame:
    """Events that keep the states outside [start, end) as they were: unknown at the
    start unless an event says otherwise; at the end, the old state again where it
    went on past the end, or unknown where a rebuilt stretch reaches it."""
    rows = []
    old_times = old_events["time"].to_numpy("datetime64[ns]").view("int64") if not old_events.empty else None
    for equipment_id in ids:
        if not (events.loc[events["equipment_id"] == equipment_id, "time"] == start_ns).any():
            rows.append((start_ns, equipment_id, float(UNKNOWN_STATE)))
        state = float(UNKNOWN_STATE)
        if old_times is not None:
            own = (old_events["equipment_id"] == equipment_id).to_numpy()
            if (own & (old_times == end_ns)).any():
                continue  # an event at the end is kept as it is
            before_end = own & (old_times < end_ns)
            if before_end.any():
                state = float(old_events["value"].to_numpy()[before_end][np.argmax(old_times[before_end])])
        reaches = bool(((combined["equipment_id"] == equipment_id) & (combined["end"] >= end_ns)).any())
        if state != UNKNOWN_STATE or reaches:
            rows.append((end_ns, equipment_id, state))
    return pd.DataFrame({"time": np.array([r[0] for r in rows], dtype="int64"),
                         "equipment_id": [r[1] for r in rows], "metric_type": stat_metric(AVAILABILITY, STATE),
                         "value": np.array([r[2] for r in rows], dtype="float64")})


def _check_counts(rollup: MetricsStore, ids: list[str], metrics: tuple[str, ...], start: datetime, end: datetime,
                  expected: pd.Series) -> None:
    back = rollup.aggregate(Selection(start, end, equipment_ids=ids,
                                      metric_types=tuple(stat_metric(m, "count") for m in metrics)),
                            functions=("count", "mean"))
    got = pd.Series(np.rint(back["mean"] * back["count"]).to_numpy("int64"),
                    index=pd.MultiIndex.from_arrays([back["equipment_id"],
                                                     back["metric_type"].str.rsplit(SEP, n=1).str[0]]))
    want = expected[expected > 0].round().astype("int64").sort_index()
    got = got[got > 0].sort_index()
    if not (want.index.equals(got.index) and (want.to_numpy() == got.to_numpy()).all()):
        raise RollupError(f"The rollups of {len(ids)} equipment do not count their raw points after taking in the "
                          "raw points before the horizon; no raw point was removed.")
