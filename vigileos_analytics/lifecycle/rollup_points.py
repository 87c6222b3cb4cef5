"""Building rollups (the format is in :mod:`vigileos_analytics.stores.rollups`): the points
that condense one batch of equipment's raw points, written by :mod:`.optimize`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..analytics import availability as av
from ..schema import AVAILABILITY
from ..stores.rollups import (
    AVAILABLE_S,
    DAY_NS,
    HORIZON_EQUIPMENT,
    SEP,
    STATE,
    STATS,
    UNAVAILABLE_S,
    UNKNOWN_STATE,
    stat_metric,
)

__all__ = ["regroup", "rollup_points", "seconds_points", "state_events"]


def rollup_points(aggregates: pd.DataFrame, intervals: pd.DataFrame, every_ns: int, start_ns: int,
                  end_ns: int) -> pd.DataFrame:
    """The rollup points of one batch of equipment, as a points frame.

    ``aggregates``: ``store.aggregate(..., every, functions=("count", "mean", "min",
    "max", "last", "p95"))`` of the rolled-up period; ``intervals``: availability
    intervals over [start_ns, end_ns) plus any stretch that carries past end_ns
    (the last sample's state holds until the next sample or staleness).
    """
    parts = []
    if not aggregates.empty:
        agg = aggregates[aggregates["count"] > 0].assign(sum=lambda f: f["mean"] * f["count"])
        time_ns = agg["time"].to_numpy("datetime64[ns]").view("int64")
        for stat in STATS:
            parts.append(pd.DataFrame({"time": time_ns, "equipment_id": agg["equipment_id"].to_numpy(dtype=object),
                                       "metric_type": agg["metric_type"].to_numpy(dtype=object) + SEP + stat,
                                       "value": agg[stat].to_numpy("float64")}))
    if not intervals.empty:
        parts.append(seconds_points(intervals, every_ns, start_ns, end_ns))
        parts.append(state_events(intervals))
    if not parts:
        return pd.DataFrame({"time": pd.Series([], dtype="datetime64[ns, UTC]"), "equipment_id": [],
                             "metric_type": [], "value": pd.Series([], dtype="float64")})
    frame = pd.concat(parts, ignore_index=True)  # times as int ns: one conversion at the end
    frame["time"] = pd.to_datetime(frame["time"].to_numpy("int64"), unit="ns", utc=True)
    return frame


def seconds_points(intervals: pd.DataFrame, every_ns: int, start_ns: int, end_ns: int) -> pd.DataFrame:
    inside = intervals[(intervals["end"] > start_ns) & (intervals["start"] < end_ns)]
    if inside.empty:
        return pd.DataFrame({"time": np.array([], dtype="int64"), "equipment_id": [], "metric_type": [],
                             "value": np.array([], dtype="float64")})
    first = max(int(inside["start"].min()), start_ns) // every_ns * every_ns
    edges = np.arange(first, end_ns + every_ns, every_ns, dtype="int64")
    edges = edges[edges <= end_ns] if edges[-1] > end_ns else edges
    if edges[-1] < end_ns:
        edges = np.append(edges, end_ns)
    ids = sorted(inside["equipment_id"].unique())
    table = av.summarize(inside, ids, edges)
    table = table[(table["uptime_s"] + table["downtime_s"]) > 0]
    time = table["window_start"].to_numpy("datetime64[ns]").view("int64")
    eq = table["equipment_id"].to_numpy(dtype=object)
    return pd.DataFrame({
        "time": np.concatenate([time, time]),
        "equipment_id": np.concatenate([eq, eq]),
        "metric_type": [stat_metric(AVAILABILITY, AVAILABLE_S)] * len(table)
                       + [stat_metric(AVAILABILITY, UNAVAILABLE_S)] * len(table),
        "value": np.concatenate([table["uptime_s"].to_numpy(), table["downtime_s"].to_numpy()]),
    })


def state_events(intervals: pd.DataFrame) -> pd.DataFrame:
    """State events for intervals (non-overlapping per equipment): one at each start,
    one at every UTC midnight inside an interval, and -1 where known time stops."""
    iv = _coalesce(intervals)
    eq = iv["equipment_id"].to_numpy(dtype=object)
    start = iv["start"].to_numpy("int64")
    end = iv["end"].to_numpy("int64")
    state = iv["state"].to_numpy().astype("float64")
    # Midnights strictly inside each interval.
    first_midnight = (start // DAY_NS + 1) * DAY_NS
    n_mid = np.maximum(0, (end - 1 - first_midnight) // DAY_NS + 1)
    rep = np.repeat(np.arange(len(iv)), n_mid)
    offset = np.arange(len(rep)) - np.repeat(np.cumsum(n_mid) - n_mid, n_mid)
    mid_time = first_midnight[rep] + offset * DAY_NS
    # Known time stops at an interval's end unless the next interval of the equipment starts there.
    same_next = np.append(eq[1:] == eq[:-1], False)
    next_start = np.append(start[1:], -1)
    stops = ~(same_next & (next_start == end))
    return pd.DataFrame({
        "time": np.concatenate([start, mid_time, end[stops]]).astype("int64"),
        "equipment_id": np.concatenate([eq, eq[rep], eq[stops]]),
        "metric_type": stat_metric(AVAILABILITY, STATE),
        "value": np.concatenate([state, state[rep], np.full(int(stops.sum()), float(UNKNOWN_STATE))]),
    })


def _coalesce(intervals: pd.DataFrame) -> pd.DataFrame:
    """Touching intervals of one equipment and state merged into one (a backend may
    give one interval per sample)."""
    iv = intervals.sort_values(["equipment_id", "start"], kind="stable").reset_index(drop=True)
    eq = iv["equipment_id"].to_numpy(dtype=object)
    start, end = iv["start"].to_numpy("int64"), iv["end"].to_numpy("int64")
    state = iv["state"].to_numpy()
    continues = np.zeros(len(iv), dtype=bool)
    continues[1:] = (eq[1:] == eq[:-1]) & (state[1:] == state[:-1]) & (start[1:] == end[:-1])
    first = np.flatnonzero(~continues)
    last = np.append(first[1:], len(iv)) - 1
    return pd.DataFrame({"equipment_id": eq[first], "state": state[first], "start": start[first], "end": end[last]})


def regroup(points: pd.DataFrame, every_ns: int) -> pd.DataFrame:
    """Rollup points (write format, whole windows of a size dividing ``every_ns``) as the
    points of windows of ``every_ns``: counts, sums and seconds add, min / max
    combine, ``last`` is the latest window's, p95 the count-weighted mean of the p95s
    (an estimate, as every rolled-up p95). State events are instants: kept as they
    are. The horizon marker is left out: the caller writes it."""
    points = points[points["equipment_id"] != HORIZON_EQUIPMENT]
    split = points["metric_type"].str.rsplit(SEP, n=1, expand=True)
    time = points["time"].to_numpy("datetime64[ns]").view("int64")
    frame = pd.DataFrame({"time": time, "window": time // every_ns * every_ns,
                          "equipment_id": points["equipment_id"].to_numpy(dtype=object),
                          "metric": split[0].to_numpy(dtype=object) if len(points) else [],
                          "stat": split[1].to_numpy(dtype=object) if len(points) else [],
                          "value": points["value"].to_numpy("float64")})
    events = frame[frame["stat"] == STATE]
    frame = frame[frame["stat"] != STATE]
    counts = frame[frame["stat"] == "count"][["time", "equipment_id", "metric", "value"]].rename(
        columns={"value": "weight"})
    frame = frame.merge(counts, on=["time", "equipment_id", "metric"], how="left")
    frame["weighted"] = frame["value"] * frame["weight"].fillna(0)
    frame = frame.sort_values("time", kind="stable")
    keys = ["window", "equipment_id", "metric", "stat"]
    grouped = frame.groupby(keys, sort=False)
    out = grouped.agg(total=("value", "sum"), low=("value", "min"), high=("value", "max"), latest=("value", "last"),
                      weighted=("weighted", "sum"), weight=("weight", "sum")).reset_index()
    stat = out["stat"]
    p95 = out["weighted"] / out["weight"].where(out["weight"] > 0)
    value = np.select([stat == "min", stat == "max", stat == "last", stat == "p95"],
                      [out["low"], out["high"], out["latest"], p95], default=out["total"])
    parts = [pd.DataFrame({"time": out["window"].to_numpy("int64"), "equipment_id": out["equipment_id"].to_numpy(),
                           "metric_type": (out["metric"] + SEP + out["stat"]).to_numpy(dtype=object),
                           "value": value.astype("float64")}),
             pd.DataFrame({"time": events["time"].to_numpy("int64"), "equipment_id": events["equipment_id"].to_numpy(),
                           "metric_type": (events["metric"] + SEP + events["stat"]).to_numpy(dtype=object),
                           "value": events["value"].to_numpy("float64")})]
    result = pd.concat(parts, ignore_index=True)
    result["time"] = pd.to_datetime(result["time"].to_numpy("int64"), unit="ns", utc=True)
    return result
