"""Running the simulator against a store: bulk history with a progress bar, and a
live mode that writes points at wall-clock pace for dashboards.

The simulator writes its fleet's inventory CSV, and beside it a hidden mark
(``.inventory.csv.simulated``, the file's SHA-256). An existing inventory is
replaced only when the mark says the simulator wrote it, unedited since, or when
the caller says to (``overwrite_inventory``): a user's own inventory is never
replaced by accident.
"""

from __future__ import annotations

import hashlib
import logging
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

from ..errors import StoreError, ValidationError
from ..inventory import write_inventory
from ..schema import AVAILABILITY, STATUS_CHANGE
from ..stores.base import MetricsStore
from .recording import refused_by_store
from .simulate import FleetSpec, SimulatedFleet, simulate_fleet, truth_frames

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimulationOutcome:
    fleet: SimulatedFleet
    points: int
    seconds: float


def simulation_mark(inventory_path: Path) -> Path:
    """The hidden file beside ``inventory_path`` that says the simulator wrote it."""
    return inventory_path.with_name(f".{inventory_path.name}.simulated")


def _fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def written_by_simulator(inventory_path: Path) -> bool:
    """Whether ``inventory_path`` is the simulator's own, unedited since it was written."""
    try:
        return simulation_mark(inventory_path).read_text(encoding="utf-8").strip() == _fingerprint(inventory_path)
    except OSError:
        return False


def check_inventory_replaceable(inventory_path: Path) -> None:
    """Raise ``ValidationError`` when ``inventory_path`` exists and is not the simulator's own."""
    if inventory_path.exists() and not written_by_simulator(inventory_path):
        raise ValidationError(
            f"The inventory {inventory_path} exists and was not written by the simulator (or was edited since): "
            "simulating would replace it with the simulated fleet's. Point VIGILEOS_INVENTORY at another file, or "
            "pass --overwrite-inventory to replace it.",
            field="inventory", value=str(inventory_path))


def simulate_into_store(store: MetricsStore, spec: FleetSpec, inventory_path: Path | None = None,
                        truth_dir: Path | None = None, progress: bool = True,
                        chunk_equipment: int | None = None, *, overwrite_inventory: bool = True) -> SimulationOutcome:
    """Simulate ``spec`` into ``store``; write the inventory CSV and truth CSVs if paths are given.

    With ``overwrite_inventory=False`` an existing inventory that is not the
    simulator's own is refused (``ValidationError``) before anything is written."""
    if inventory_path is not None and not overwrite_inventory:
        check_inventory_replaceable(inventory_path)
    started = time.perf_counter()
    fleet = simulate_fleet(spec)
    if inventory_path is not None:
        write_inventory(fleet.inventory, inventory_path)
        simulation_mark(inventory_path).write_text(_fingerprint(inventory_path) + "\n", encoding="utf-8")
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
    resolution) the points whose time has come are written. A write that fails
    (store busy or unreachable) is tried again at the next tick with the points due
    by then, as ``vigileos collect`` does; points the store refuses are dropped with
    a warning. Returns the number of points written.
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
                    try:
                        written += store.write_frame(points[due]).points
                    except StoreError as exc:
                        if not refused_by_store(exc):
                            logger.warning("Could not write %d live points; trying again at the next tick: %s",
                                           int(due.sum()), exc)
                            stop.wait(tick)
                            continue
                        logger.warning("The store refused %d live points; they are dropped: %s", int(due.sum()), exc)
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
