"""Scheduled maintenance: apply the retention and roll old points up, every interval.

An embedded store has no server to expire points by itself: ``vigileos maintain``
(or :func:`run_maintenance` from a scheduler) runs :func:`.cleanup.cleanup` with the
store's retention setting and, when asked, :func:`.optimize.optimize`, then sleeps
until the next run. On InfluxDB the server applies the retention itself, so a run
there only optimizes. A failed run is reported and the next one still happens.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..errors import ValidationError, VigileosError
from ..stores.base import MetricsStore
from .cleanup import CleanupResult, cleanup
from .optimize import DEFAULT_EVERY, OptimizeResult, check_every, optimize

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MaintenanceRun:
    """One run: what cleanup and optimize did (None when not run), or the error that stopped it."""

    started: datetime
    cleanup: CleanupResult | None
    optimize: OptimizeResult | None
    error: str | None = None


def maintain_once(store: MetricsStore, *, optimize_older_than: timedelta | None = None,
                  rollup_every: timedelta = DEFAULT_EVERY, staleness: timedelta = timedelta(minutes=10),
                  now: datetime | None = None) -> MaintenanceRun:
    """Apply the retention of a store that does not enforce it itself (the embedded
    store's, if one is set) and optimize (if
    ``optimize_older_than`` is given). Store and input errors are caught into the run."""
    started = now or datetime.now(UTC)
    cleaned = rolled = None
    try:
        if not store.enforces_retention and store.retention().days is not None:
            cleaned = cleanup(store, now=started)
        if optimize_older_than is not None:
            rolled = optimize(store, optimize_older_than, rollup_every, staleness=staleness, now=started)
    except VigileosError as exc:
        logger.error("Maintenance run failed: %s", exc)
        return MaintenanceRun(started, cleaned, rolled, str(exc))
    return MaintenanceRun(started, cleaned, rolled)


def run_maintenance(store: MetricsStore, every: timedelta, *, optimize_older_than: timedelta | None = None,
                    rollup_every: timedelta = DEFAULT_EVERY, staleness: timedelta = timedelta(minutes=10),
                    count: int | None = None, stop: threading.Event | None = None,
                    on_run: Callable[[MaintenanceRun], None] | None = None) -> list[MaintenanceRun]:
    """Run :func:`maintain_once` now and then every ``every`` until ``stop`` is set or
    ``count`` runs are done; returns the runs."""
    if not isinstance(every, timedelta) or every <= timedelta(0):
        raise ValidationError(f"every must be a positive duration such as 24h; got {every!r}.", field="every",
                              value=every)
    if optimize_older_than is not None and (not isinstance(optimize_older_than, timedelta)
                                            or optimize_older_than <= timedelta(0)):
        raise ValidationError(f"optimize_older_than must be a positive duration such as 7d; got "
                              f"{optimize_older_than!r}.", field="optimize_older_than", value=optimize_older_than)
    check_every(rollup_every)
    if count is not None and (not isinstance(count, int) or count < 1):
        raise ValidationError(f"count must be a positive whole number; got {count!r}.", field="count", value=count)
    stop = stop or threading.Event()
    runs: list[MaintenanceRun] = []
    while not stop.is_set():
        run = maintain_once(store, optimize_older_than=optimize_older_than, rollup_every=rollup_every,
                            staleness=staleness)
        runs.append(run)
        if on_run is not None:
            on_run(run)
        if count is not None and len(runs) >= count:
            break
        stop.wait(every.total_seconds())
    return runs
