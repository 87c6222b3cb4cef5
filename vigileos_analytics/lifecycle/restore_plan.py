"""What a restore does when an archive's rollups and horizon meet a store's.

Before the rollup horizon the analytics read rollups only, so a restore that puts
raw points before a horizon, or brings a later horizon than the store's, or rollups
of another window, could hide points. The rules, applied by :func:`.backup.restore`:

1. **One window.** A store has rollups of one window. When the archive's and the
   store's differ, both are regrouped into the smallest window both divide
   (15 min and 1 h give 1 h; :func:`.rollup_points.regroup`).
2. **The later horizon.** The horizon after the restore is the later of the two
   (rounded up to a whole window), so every rollup stays in force.
3. **Nothing left behind it.** Raw points of rolled-up metrics that would then lie
   before the horizon (the store's since its own horizon, the archive's) are
   rolled up into the rollups and removed as raw (:mod:`.settle`), as
   ``vigileos optimize`` would, so every analytics command sees them.
4. **The archive's rollups win** over the store's for the same equipment, metric
   and window, as restored raw points replace those of the same series and time.

Rules 1 and 3 give up detail (finer windows; raw points), so restore does not
apply them on its own: :func:`plan_restore` counts what they would touch before
anything is written, and the restore refuses, saying so, unless asked
(``roll_up=True``, ``vigileos restore --roll-up``). A restore that needs neither
(no rollups, or rollups of the same window and raw points only after the horizon)
just writes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from ..schema import rollup_every_s, rollup_measurement
from ..stores.base import MetricsStore, Selection
from ..stores.rollups import EVENT_METRICS, HORIZON_EQUIPMENT, HORIZON_METRIC, find_rollups
from ..stores.tiered import TieredStore
from .archive import ArchiveReader
from .chunks import ALL_TIME_END, ALL_TIME_START, utc_from_ns
from .rollup_points import regroup
from .settle import raw_counts

__all__ = ["RestorePlan", "plan_restore", "regroup_measurement"]


@dataclass(frozen=True)
class RestorePlan:
    """The rollups after a restore: ``measurement`` (None: none), ``horizon`` and
    ``staleness``; ``store_regroup`` / ``archive_regroup``: rollup measurements of the
    store / archive to regroup into ``measurement``; ``store_hidden`` /
    ``archive_hidden``: raw points of the store / archive that would lie before the
    horizon; ``store_horizon`` / ``archive_horizon``: the horizons they had."""

    measurement: str | None = None
    horizon: datetime | None = None
    staleness: timedelta | None = None
    store_regroup: list[str] = field(default_factory=list)
    archive_regroup: list[str] = field(default_factory=list)
    store_hidden: int = 0
    archive_hidden: int = 0
    store_horizon: datetime | None = None
    archive_horizon: datetime | None = None

    @property
    def needs_roll_up(self) -> bool:
        return bool(self.store_hidden or self.archive_hidden or self.store_regroup or self.archive_regroup)


def _archive_markers(reader: ArchiveReader, manifest: dict[str, Any]) -> dict[str, tuple[int, float]]:
    """Per rollup measurement of the archive: (horizon in ns, staleness in s) of its newest marker."""
    markers: dict[str, tuple[int, float]] = {}
    for entry in manifest["files"]:
        measurement = entry.get("measurement")
        if measurement is None or entry["equipment_id"] != HORIZON_EQUIPMENT:
            continue
        with reader.open(entry["name"]) as stream:
            frame = pq.read_table(stream, columns=["time", "metric_type", "value"]).to_pandas()
        frame = frame[frame["metric_type"] == HORIZON_METRIC]
        if frame.empty:
            continue
        row = frame.loc[frame["time"].idxmax()]
        found = (int(pd.Timestamp(row["time"]).value), float(row["value"]))
        if measurement not in markers or found[0] > markers[measurement][0]:
            markers[measurement] = found
    return markers


def _archive_points_before(reader: ArchiveReader, manifest: dict[str, Any], horizon_ns: int) -> int:
    """Raw points of rolled-up metrics in the archive before ``horizon_ns``."""
    total = 0
    for entry in manifest["files"]:
        if entry.get("measurement") is not None or entry["start_ns"] >= horizon_ns:
            continue
        if entry["end_ns"] <= horizon_ns:
            total += sum(n for m, n in entry["counts"].items() if m not in EVENT_METRICS)
            continue
        with reader.open(entry["name"]) as stream:
            frame = pq.read_table(stream, columns=["time", "metric_type"]).to_pandas()
        times = frame["time"].to_numpy("datetime64[ns]").view("int64")
        total += int(((times < horizon_ns) & ~frame["metric_type"].isin(EVENT_METRICS).to_numpy()).sum())
    return total


def plan_restore(store: MetricsStore, path: Any, manifest: dict[str, Any]) -> RestorePlan:
    """What restoring the (verified) archive at ``path`` into ``store`` does to rollups,
    per the module's rules; reads the store's counts and the archive's markers only."""
    raw = store.raw if isinstance(store, TieredStore) else store
    archive_measurements = [m for m, r in manifest.get("rollups", {}).items() if r.get("points")]
    with raw.session():
        info = find_rollups(raw)
    with ArchiveReader(path) as reader:
        markers = _archive_markers(reader, manifest)
        if info is None and not archive_measurements:
            return RestorePlan()
        windows = [w for w in (rollup_every_s(m) for m in archive_measurements) if w]
        if info is not None:
            windows.append(int(info.every.total_seconds()))
        every_s = math.lcm(*windows)
        measurement = rollup_measurement(every_s)
        horizons = [ns for ns, _ in markers.values()]
        stalenesses = [s for _, s in markers.values()]
        store_horizon_ns = info.horizon_ns if info is not None else None
        if store_horizon_ns is not None and info is not None and info.staleness is not None:
            horizons.append(store_horizon_ns)
            stalenesses.append(info.staleness.total_seconds())
        store_regroup = [m for m in raw.rollup_names() if m != measurement and _has_points(raw, m)]
        archive_regroup = [m for m in archive_measurements if m != measurement]
        if not horizons:
            return RestorePlan(measurement, None, None, store_regroup, archive_regroup)
        every_ns = every_s * 10**9
        horizon_ns = -(-max(horizons) // every_ns) * every_ns
        horizon = utc_from_ns(horizon_ns)
        since = utc_from_ns(store_horizon_ns) if store_horizon_ns is not None else ALL_TIME_START
        store_hidden = 0
        if since < horizon:
            store_hidden = int(raw_counts(raw, Selection(since, horizon))["points"].sum())
        archive_hidden = _archive_points_before(reader, manifest, horizon_ns)
    archive_horizon = utc_from_ns(max(ns for ns, _ in markers.values())) if markers else None
    return RestorePlan(measurement, horizon, timedelta(seconds=max(stalenesses)), store_regroup, archive_regroup,
                       store_hidden, archive_hidden, info.horizon if info is not None else None, archive_horizon)


def _has_points(store: MetricsStore, measurement: str) -> bool:
    rollup = store.open_rollup(measurement)
    return rollup is not None and bool(rollup.equipment_ids())


def regroup_measurement(store: MetricsStore, source: str, target: str) -> int:
    """Regroup the rollups of ``source`` into the (coarser) windows of ``target``, one
    equipment at a time, then empty ``source``; returns the points written."""
    raw = store.raw if isinstance(store, TieredStore) else store
    rollup = raw.open_rollup(source)
    every_s = rollup_every_s(target)
    if rollup is None or every_s is None:
        return 0
    into = raw.create_rollup(target)
    written = 0
    for equipment_id in rollup.equipment_ids():
        if equipment_id == HORIZON_EQUIPMENT:
            continue
        points = rollup.query(Selection(ALL_TIME_START, ALL_TIME_END, equipment_ids=(equipment_id,)))
        frame = regroup(points[["time", "equipment_id", "metric_type", "value"]], every_s * 10**9)
        if not frame.empty:
            into.write_frame(frame)
            written += len(frame)
    rollup.delete(Selection(ALL_TIME_START, ALL_TIME_END))
    return written
