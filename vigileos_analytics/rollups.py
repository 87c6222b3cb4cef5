"""Rollups: raw points older than a horizon condensed into per-window aggregates,
and reads that combine them with the raw points kept after the horizon.

``vigileos optimize`` (:mod:`.lifecycle.optimize`) writes them. They live in a
*rollup store* beside the raw one: the measurement ``equipment_metrics_1h`` on
InfluxDB, the file ``<store>.equipment_metrics_1h.duckdb`` beside an embedded
store; ``1h`` is the window (``--every``). A rollup is itself a set of points, so
every backend stores and aggregates it with the code it already has:

- per equipment, metric and window (start time, aligned to the UTC epoch), one
  point per statistic, metric type ``<metric>__<stat>``: ``count``, ``sum``,
  ``min``, ``max``, ``last`` and ``p95`` of the raw values;
- for availability, also ``availability__available_s`` and
  ``availability__unavailable_s``: the time-weighted seconds known up / down in
  the window, and ``availability__state`` *state events*: a point at each instant
  the state changes, valued 1 (available), 0 (unavailable) or -1 (unknown from
  here), plus one at every UTC midnight inside a known stretch, so a read can start
  at any day without looking further back. The events reproduce the raw state
  intervals exactly, so availability, downtime, outages, MTBF and MTTR over
  rolled-up time are the figures the raw points gave;
- one marker point, equipment ``__rollup__``, metric ``horizon``, at the
  *horizon*: raw points of rolled-up metrics before it have been rolled up (and
  removed). Its value is the staleness (seconds) the state events were built with.

Status changes and alerts are events, not measurements: they are never rolled up.

:class:`TieredStore` wraps a store so that ``aggregate`` and
``availability_intervals`` read rollups before the horizon and raw points after
it; everything else passes through. Over rolled-up time ``count``, ``mean``,
``min``, ``max`` and ``last`` are exact; ``p95`` is the p95 of the windows' p95s (an
estimate, on the high side: a percentile does not combine exactly; where rolled-up
and raw time meet, the two parts' p95s are weighted by their counts); a window
belongs to a period by its start; tag filters see raw points only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from . import availability as av
from .errors import ValidationError
from .intervals import INTERVAL_COLUMNS, empty_intervals
from .schema import AVAILABILITY, STATUS_CHANGE, rollup_every_s
from .stores.base import AGGREGATE_FUNCTIONS, MetricsStore, Selection

SEP = "__"
STATS = ("count", "sum", "min", "max", "last", "p95")
AVAILABLE_S, UNAVAILABLE_S, STATE = "available_s", "unavailable_s", "state"
AVAILABILITY_STATS = (AVAILABLE_S, UNAVAILABLE_S, STATE)
HORIZON_EQUIPMENT, HORIZON_METRIC = "__rollup__", "horizon"
#: Event metric types: kept raw, never rolled up.
EVENT_METRICS = (STATUS_CHANGE, "alert")
#: Longest metric name that can be rolled up (metric types are at most 64 characters).
MAX_ROLLED_METRIC_LENGTH = 64 - len(SEP + UNAVAILABLE_S)
UNKNOWN_STATE = -1
DAY_NS = 86_400 * 10**9


def stat_metric(metric_type: str, stat: str) -> str:
    return f"{metric_type}{SEP}{stat}"


@dataclass(frozen=True)
class RollupInfo:
    """A store's rollups: their store and window; ``horizon`` is None until the first
    optimize has finished (rollups written but raw points still in force)."""

    measurement: str
    every: timedelta
    store: MetricsStore
    horizon: datetime | None
    staleness: timedelta | None

    @property
    def every_ns(self) -> int:
        return int(self.every.total_seconds()) * 10**9

    @property
    def horizon_ns(self) -> int | None:
        return None if self.horizon is None else int(pd.Timestamp(self.horizon).value)


def find_rollups(store: MetricsStore) -> RollupInfo | None:
    """The store's rollups, or None when it has none. Several rollup measurements
    (one per ``--every`` ever used) are not supported: the newest horizon wins."""
    if isinstance(store, TieredStore):
        store = store.raw
    names = store.rollup_measurements()
    found = [info for info in (_read_info(store, name) for name in names) if info is not None]
    if not found:
        return None
    return max(found, key=lambda i: (i.horizon is not None, i.horizon_ns or 0))


def _read_info(store: MetricsStore, measurement: str) -> RollupInfo | None:
    rollup = store.rollup_store(measurement)
    if rollup is None:
        return None
    marker = rollup.latest(equipment_ids=[HORIZON_EQUIPMENT], metric_types=[HORIZON_METRIC])
    every = timedelta(seconds=rollup_every_s(measurement))
    if marker.empty:
        return RollupInfo(measurement, every, rollup, None, None)
    row = marker.iloc[-1]
    return RollupInfo(measurement, every, rollup, pd.Timestamp(row["time"]).to_pydatetime(),
                      timedelta(seconds=float(row["value"])))


# -- building rollups -----------------------------------------------------------------------


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
        parts.append(_seconds_points(intervals, every_ns, start_ns, end_ns))
        parts.append(_state_events(intervals))
    if not parts:
        return pd.DataFrame({"time": pd.Series([], dtype="datetime64[ns, UTC]"), "equipment_id": [],
                             "metric_type": [], "value": pd.Series([], dtype="float64")})
    frame = pd.concat(parts, ignore_index=True)  # times as int ns: one conversion at the end
    frame["time"] = pd.to_datetime(frame["time"].to_numpy("int64"), unit="ns", utc=True)
    return frame


def _seconds_points(intervals: pd.DataFrame, every_ns: int, start_ns: int, end_ns: int) -> pd.DataFrame:
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


def _state_events(intervals: pd.DataFrame) -> pd.DataFrame:
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


def horizon_point(horizon: datetime, staleness: timedelta) -> pd.DataFrame:
    return pd.DataFrame({"time": [pd.Timestamp(horizon)], "equipment_id": [HORIZON_EQUIPMENT],
                         "metric_type": [HORIZON_METRIC], "value": [staleness.total_seconds()]})


# -- reading through rollups -----------------------------------------------------------------


def intervals_from_events(events: pd.DataFrame, start_ns: int, end_ns: int) -> pd.DataFrame:
    """Availability intervals from state events (a query frame), clipped to [start, end):
    each event's state holds until the equipment's next event; the last one until end."""
    if events.empty:
        return empty_intervals()
    ev = events.sort_values(["equipment_id", "time"], kind="stable")
    eq = ev["equipment_id"].to_numpy(dtype=object)
    t = ev["time"].to_numpy("datetime64[ns]").view("int64")
    state = np.rint(ev["value"].to_numpy("float64")).astype("int64")
    same_next = np.append(eq[1:] == eq[:-1], False)
    nxt = np.where(same_next, np.append(t[1:], 0), end_ns)
    lo, hi = np.maximum(t, start_ns), np.minimum(nxt, end_ns)
    keep = (state != UNKNOWN_STATE) & (hi > lo)
    return pd.DataFrame({"equipment_id": eq[keep], "state": state[keep].astype("int8"),
                         "start": lo[keep].astype("int64"), "end": hi[keep].astype("int64")})[INTERVAL_COLUMNS]


def _combine(parts: list[pd.DataFrame], keys: list[str], functions: Sequence[str]) -> pd.DataFrame:
    """Per key: count and sum add up, min / max / last combine, p95 is count-weighted."""
    frame = pd.concat([p for p in parts if not p.empty], ignore_index=True)
    frame = frame.assign(p95_weight=frame["p95"] * frame["count"] if "p95" in frame else 0.0)
    grouped = frame.groupby(keys, sort=True)
    out = grouped.agg(count=("count", "sum"), sum=("sum", "sum"))
    if "min" in frame:
        out["min"] = grouped["min"].min()
    if "max" in frame:
        out["max"] = grouped["max"].max()
    if "last" in frame:
        out["last"] = grouped["last"].last()  # parts are in time order: the newer part's last wins
    if "p95" in frame:
        out["p95"] = grouped["p95_weight"].sum() / out["count"]
    out["mean"] = out["sum"] / out["count"]
    out = out.reset_index()
    out["count"] = out["count"].astype("int64")
    return out[keys + list(functions)]


class TieredStore:
    """A store whose ``aggregate`` and ``availability_intervals`` read rollups before
    the rollup horizon and raw points after it (see the module docstring). Every
    other attribute is the wrapped store's."""

    def __init__(self, raw: MetricsStore) -> None:
        self.raw = raw.raw if isinstance(raw, TieredStore) else raw
        self._local = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)

    def __repr__(self) -> str:
        return f"TieredStore({self.raw!r})"

    @contextmanager
    def session(self) -> Iterator["TieredStore"]:
        """The wrapped store's session; the rollup horizon is looked up once per session."""
        if getattr(self._local, "depth", 0):
            self._local.depth += 1
            try:
                yield self
            finally:
                self._local.depth -= 1
            return
        with self.raw.session(), ExitStack() as held:
            self._local.depth, self._local.info, self._local.held = 1, _UNSET, held
            self._local.equipment_ids = None
            try:
                yield self
            finally:
                self._local.depth, self._local.info, self._local.held = 0, _UNSET, None
                self._local.equipment_ids = None

    def rollups(self) -> RollupInfo | None:
        """The rollups in force (looked up once per session, whose connection to the
        rollup store is then held too)."""
        if getattr(self._local, "depth", 0):
            if self._local.info is _UNSET:
                self._local.info = find_rollups(self.raw)
                if self._local.info is not None:
                    self._local.held.enter_context(self._local.info.store.session())
            return self._local.info
        return find_rollups(self.raw)

    def aggregate(self, selection: Selection, every: timedelta | None = None,
                  functions: Sequence[str] = AGGREGATE_FUNCTIONS) -> pd.DataFrame:
        functions = list(functions)
        unknown = [f for f in functions if f not in AGGREGATE_FUNCTIONS]
        if unknown or not functions:
            raise ValidationError(f"aggregate functions must be among {list(AGGREGATE_FUNCTIONS)}; got {functions!r}.",
                                  field="functions", value=functions)
        info = None if selection.tags else self.rollups()
        if info is None or info.horizon is None or selection.start >= info.horizon:
            return self.raw.aggregate(selection, every, functions)
        keys = ["equipment_id", "metric_type"] + (["time"] if every is not None else [])
        before = replace(selection, end=min(selection.end, info.horizon))
        needed = sorted(set(functions) | {"count", "mean"}, key=AGGREGATE_FUNCTIONS.index)
        raw_parts = []
        # Events (status changes, alerts) are never rolled up: before the horizon they are still raw.
        events = EVENT_METRICS if selection.metric_types is None else tuple(
            m for m in selection.metric_types if m in EVENT_METRICS)
        if events:
            raw_parts.append(self.raw.aggregate(replace(before, metric_types=events), every, needed))
        if selection.end > info.horizon:
            raw_parts.append(self.raw.aggregate(replace(selection, start=info.horizon), every, needed))
        parts = [_rollup_aggregate(info, before, every, functions)]
        parts += [p.assign(sum=p["mean"] * p["count"]) for p in raw_parts if not p.empty]
        if all(p.empty for p in parts):
            return pd.DataFrame({c: [] for c in keys + functions})
        return _combine(parts, keys, functions)

    def equipment_ids(self) -> list[str]:
        """Equipment with raw points or rollups (looked up once per session)."""
        in_session = getattr(self._local, "depth", 0)
        if in_session and self._local.equipment_ids is not None:
            return list(self._local.equipment_ids)
        info = self.rollups()
        ids = set(self.raw.equipment_ids())
        if info is not None:
            ids |= set(info.store.equipment_ids()) - {HORIZON_EQUIPMENT}
        if in_session:
            self._local.equipment_ids = sorted(ids)
        return sorted(ids)

    def availability_intervals(self, start: datetime, end: datetime, staleness: timedelta,
                               equipment_ids: Sequence[str] | None = None) -> pd.DataFrame:
        info = self.rollups()
        window = Selection(start, end, equipment_ids=equipment_ids)
        if info is None or info.horizon is None or window.start >= info.horizon + info.staleness:
            return self.raw.availability_intervals(start, end, staleness, equipment_ids)
        horizon_ns = info.horizon_ns
        # State events carry past the horizon by at most their staleness (the last sample's hold).
        read_end = min(window.end_ns, horizon_ns + int(info.staleness.total_seconds() * 1e9) + 1)
        events = info.store.query(Selection(
            _utc(window.start_ns // DAY_NS * DAY_NS), _utc(read_end), equipment_ids=window.equipment_ids,
            metric_types=(stat_metric(AVAILABILITY, STATE),)))
        parts = [intervals_from_events(events, window.start_ns, min(window.end_ns, read_end))]
        if window.end_ns > horizon_ns:
            parts.append(self.raw.availability_intervals(_utc(max(window.start_ns, horizon_ns)), end, staleness,
                                                         equipment_ids))
        frame = pd.concat([p for p in parts if not p.empty] or [empty_intervals()], ignore_index=True)
        return frame.sort_values(["equipment_id", "start"], kind="stable").reset_index(drop=True)[INTERVAL_COLUMNS]


_UNSET = object()


def _utc(ns: int) -> datetime:
    return pd.Timestamp(ns, unit="ns", tz="UTC").to_pydatetime(warn=False)


#: The rollup statistics each aggregate function needs.
_STATS_NEEDED = {"count": ("count",), "mean": ("count", "sum"), "min": ("min",), "max": ("max",),
                 "last": ("last",), "p95": ("count", "p95")}


def _rollup_aggregate(info: RollupInfo, selection: Selection, every: timedelta | None,
                      functions: Sequence[str]) -> pd.DataFrame:
    """count, sum, min, max, last, p95 per equipment and metric (and window) from rollups;
    with explicit metric types, only the statistics ``functions`` need are read."""
    keys = ["equipment_id", "metric_type"] + (["time"] if every is not None else [])
    if selection.metric_types is None:
        agg = info.store.aggregate(selection, every, ("count", "mean", "min", "max", "last", "p95"))
    else:
        # One query per engine function: a percentile costs far more than a sum, so it
        # runs over the p95 points only.
        stats = {"count"} | {s for f in functions for s in _STATS_NEEDED[f]}
        parts = []
        for stat_group, engine_functions in ((("count", "sum", "min", "max", "last"), ("count", "mean", "min", "max",
                                                                                       "last")),
                                             (("p95",), ("count", "p95"))):
            wanted = [s for s in stat_group if s in stats]
            if wanted:
                metrics = tuple(stat_metric(m, s) for m in selection.metric_types for s in wanted)
                parts.append(info.store.aggregate(replace(selection, metric_types=metrics), every, engine_functions))
        parts = [p for p in parts if not p.empty]
        agg = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if agg.empty:
        return pd.DataFrame(columns=keys + list(STATS))
    agg = agg[agg["equipment_id"] != HORIZON_EQUIPMENT]
    split = agg["metric_type"].str.rsplit(SEP, n=1, expand=True)
    agg = agg.assign(metric_type=split[0], stat=split[1])
    agg = agg[agg["stat"].isin(STATS)]
    def column(name: str) -> np.ndarray:
        return agg[name].to_numpy("float64") if name in agg else np.full(len(agg), np.nan)

    # Which aggregate of each stat's points gives the stat over the period.
    picked = np.select(
        [agg["stat"].isin(["count", "sum"]), agg["stat"] == "min", agg["stat"] == "max", agg["stat"] == "last",
         agg["stat"] == "p95"],
        [column("mean") * column("count"), column("min"), column("max"), column("last"), column("p95")],
        default=np.nan)
    wide = agg.assign(value=picked).set_index(keys + ["stat"])["value"].unstack("stat")
    wide = wide.reindex(columns=list(STATS)).reset_index()
    wide = wide[wide["count"].fillna(0) > 0]
    wide["count"] = np.rint(wide["count"]).astype("int64")
    wide.columns.name = None
    return wide[keys + list(STATS)]

