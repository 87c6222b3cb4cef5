""":class:`TieredStore` wraps a store so that ``aggregate``,
``availability_intervals`` and ``equipment_ids`` read rollups before the horizon
and raw points after it; every other protocol method is the wrapped store's. Over
rolled-up time ``count``, ``mean``, ``min``, ``max`` and ``last`` are exact; ``p95`` is the p95 of the windows' p95s (an
estimate, on the high side: a percentile does not combine exactly; where rolled-up
and raw time meet, the two parts' p95s are weighted by their counts); a window
belongs to a period by its start; tag filters see raw points only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import ValidationError
from ..schema import AVAILABILITY, Point
from .base import (
    AGGREGATE_FUNCTIONS,
    ClosesOnExit,
    Health,
    MetricsStore,
    Retention,
    Selection,
    StorageFacts,
    WriteResult,
)
from .intervals import INTERVAL_COLUMNS, empty_intervals
from .rollups import (
    DAY_NS,
    EVENT_METRICS,
    HORIZON_EQUIPMENT,
    SEP,
    STATE,
    STATS,
    RollupInfo,
    find_rollups,
    intervals_from_events,
    stat_metric,
)

if TYPE_CHECKING:
    from .spool import Spool


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


class TieredStore(ClosesOnExit):
    """A store whose ``aggregate``, ``availability_intervals`` and ``equipment_ids``
    read rollups before the rollup horizon and raw points after it (see the module
    docstring). Raw point queries, ``latest``, writes, deletes and the rest are the
    wrapped store's (``raw``); ``close`` closes it."""

    def __init__(self, raw: MetricsStore) -> None:
        self.raw = raw.raw if isinstance(raw, TieredStore) else raw
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"TieredStore({self.raw!r})"

    # -- the wrapped store's -------------------------------------------------------------

    @property
    def backend(self) -> str:
        return self.raw.backend

    @property
    def spool(self) -> Spool | None:
        return self.raw.spool

    @property
    def enforces_retention(self) -> bool:
        return self.raw.enforces_retention

    def write_frame(self, frame: pd.DataFrame, *, spool: bool = True) -> WriteResult:
        return self.raw.write_frame(frame, spool=spool)

    def write_points(self, points: Iterable[Point], *, spool: bool = True) -> WriteResult:
        return self.raw.write_points(points, spool=spool)

    def query(self, selection: Selection) -> pd.DataFrame:
        """Raw points only: rolled-up time has none."""
        return self.raw.query(selection)

    def latest(self, equipment_ids: Sequence[str] | None = None, metric_types: Sequence[str] | None = None,
               before: datetime | None = None) -> pd.DataFrame:
        return self.raw.latest(equipment_ids, metric_types, before)

    def delete(self, selection: Selection) -> int:
        """Deletes raw points; rollups stay."""
        return self.raw.delete(selection)

    def health(self) -> Health:
        return self.raw.health()

    def storage_facts(self) -> StorageFacts:
        return self.raw.storage_facts()

    def retention(self) -> Retention:
        return self.raw.retention()

    def set_retention(self, days: int) -> Retention:
        return self.raw.set_retention(days)

    def rollup_names(self) -> list[str]:
        return self.raw.rollup_names()

    def open_rollup(self, name: str) -> MetricsStore | None:
        return self.raw.open_rollup(name)

    def create_rollup(self, name: str) -> MetricsStore:
        return self.raw.create_rollup(name)

    def close(self) -> None:
        self.raw.close()

    # -- tiered reads --------------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[TieredStore]:
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
        if (info is None or info.horizon is None or info.staleness is None
                or window.start >= info.horizon + info.staleness):
            return self.raw.availability_intervals(start, end, staleness, equipment_ids)
        horizon_ns, rollup_staleness = info.horizon_ns, info.staleness
        assert horizon_ns is not None and rollup_staleness is not None  # both come with the horizon marker
        # State events carry past the horizon by at most their staleness (the last sample's hold).
        read_end = min(window.end_ns, horizon_ns + int(rollup_staleness.total_seconds() * 1e9) + 1)
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

