"""Running the simulator against a store: bulk history with a progress bar, and a
live mode that writes points at wall-clock pace for dashboards."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..inventory import write_inventory
from ..schema import AVAILABILITY, STATUS_CHANGE
from ..stores.base import MetricsStore
from .simulate import FleetSpec, SimulatedFleet, simulate_fleet, truth_frames


@dataclass(frozen=True)
class SimulationOutcome:
    fleet: SimulatedFleet
    points: int
    seconds: float


def simulate_into_store(store: MetricsStore, spec: FleetSpec, inventory_path: Path | None = None,
                        truth_dir: Path | None = None, progress: bool = True,
                        chunk_equipment: int = 25) -> SimulationOutcome:
    """Simulate ``spec`` into ``store``; write the inventory CSV and truth CSVs if paths are given."""
    started = time.perf_counter()
    fleet = simulate_fleet(spec)
    if inventory_path is not None:
        write_inventory(fleet.inventory, inventory_path)
    if truth_dir is not None:
        truth_dir.mkdir(parents=True, exist_ok=True)
        for name, frame in truth_frames(fleet).items():
            frame.to_csv(truth_dir / f"{name}.csv", index=False)
    written = 0
    with tqdm(total=fleet.total_points_estimate, unit="pt", unit_scale=True, disable=not progress,
              desc="simulating", leave=False) as bar:
        for frame in fleet.frames(chunk_equipment):
            written += store.write_frame(frame).points
            bar.update(len(frame))
    return SimulationOutcome(fleet, written, time.perf_counter() - started)


def follow(store: MetricsStore, spec: FleetSpec, *, stop: threading.Event | None = None,
           clock: Callable[[], datetime] = lambda: datetime.now(UTC), block: timedelta = timedelta(hours=1),
           max_blocks: int | None = None) -> int:
    """Write live points until ``stop`` is set (or SIGINT / SIGTERM in the main thread).

    The fleet is simulated one ``block`` ahead at a time; every tick (the spec's
    resolution) the points whose time has come are written. Returns the number of
    points written.
    """
    stop = stop or threading.Event()
    restore = _stop_on_signals(stop)
    tick = spec.resolution.total_seconds()
    written, blocks = 0, 0
    last_state: pd.Series | None = None
    try:
        cursor = pd.Timestamp(clock()).floor(pd.Timedelta(spec.resolution))
        while not stop.is_set() and (max_blocks is None or blocks < max_blocks):
            block_end = cursor + pd.Timedelta(block)
            block_spec = replace(spec, end=block_end.to_pydatetime(), days=block / timedelta(days=1),
                                 seed=spec.seed + 1 + blocks, gaps_per_month=0.0,
                                 initial_status=blocks == 0)
            points = pd.concat(list(simulate_fleet(block_spec).frames()), ignore_index=True)
            points, last_state = _continue_status(points, last_state)
            points = points.sort_values("time", kind="stable")
            times = points["time"]
            while not stop.is_set():
                now = pd.Timestamp(clock())
                due = (times >= cursor) & (times <= now)
                if due.any():
                    written += store.write_frame(points[due]).points
                cursor = max(cursor, now + pd.Timedelta(1, "ns"))
                if cursor >= block_end:
                    break
                stop.wait(tick)
            blocks += 1
            cursor = block_end
    finally:
        restore()
    return written


def _continue_status(points: pd.DataFrame, last_state: pd.Series | None) -> tuple[pd.DataFrame, pd.Series]:
    """Add a status change at the start of a block where the state differs from the end
    of the previous one, so the store's status history stays continuous."""
    availability = points[points["metric_type"] == AVAILABILITY].sort_values("time")
    first = availability.groupby("equipment_id", observed=True)["reason"].first().astype(str)
    final = availability.groupby("equipment_id", observed=True)["reason"].last().astype(str)
    status_of = {"ok": "operational", "maintenance": "maintenance", "failure": "offline"}
    if last_state is not None:
        previous = last_state.reindex(first.index)
        changed = previous.notna() & (previous != first)
        if changed.any():
            start = availability.groupby("equipment_id", observed=True)["time"].min()[changed[changed].index]
            extra = pd.DataFrame({
                "time": start.to_numpy(), "equipment_id": start.index.astype(str), "metric_type": STATUS_CHANGE,
                "value": np.ones(len(start)),
                "previous_status": [status_of[r] for r in previous[changed]],
                "new_status": [status_of[r] for r in first[changed]],
            })
            base = points.astype({c: object for c in points.columns
                                  if isinstance(points[c].dtype, pd.CategoricalDtype)})
            points = pd.concat([base, extra], ignore_index=True)
    return points, final


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda *_: stop.set())

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return restore
