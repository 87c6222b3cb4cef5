"""Downsampling: roll raw points older than a cutoff up into per-window rollups
(see :mod:`vigileos_analytics.stores.rollups` for what a rollup holds), verify them, then
remove the raw points they replace.

One run covers [previous horizon, cutoff), cutoff = ``now - older_than`` rounded
down to a whole window, in batches of equipment:

1. count the raw points per equipment and metric (status changes and alerts are
   events and stay raw);
2. per batch: aggregate per window in the engine, build the availability state
   events from the store's intervals (plus the last sample's hold past the cutoff),
   write them all to the rollup store, read them back and check that every raw
   point is counted and every state event is there;
3. only when every batch checked out: move the horizon marker to the cutoff
   (from then on the analytics read rollups before it), then delete the raw points
   batch by batch, each after a recount shows nobody wrote into that old time
   meanwhile (a batch that changed keeps its raw points and is reported).

A run first takes in raw points found before the previous horizon
(:mod:`.settle`): those a stopped run left behind (its rollups already count them:
they are removed, ``resumed``) and those written into old time since
(``late_points``: added to the rollups, then removed). So a run killed after it
moved the horizon is finished by the next one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..errors import RollupError, ValidationError
from ..schema import AVAILABILITY, rollup_measurement, to_utc
from ..stores.base import MetricsStore, Selection
from ..stores.rollups import (
    MAX_ROLLED_METRIC_LENGTH,
    SEP,
    STATE,
    find_rollups,
    horizon_point,
    stat_metric,
)
from .chunks import ALL_TIME_START
from .cleanup import counts_frame
from .rollup_points import rollup_points
from .settle import FUNCTIONS, SettleResult, first_day_with_data, hold_past, raw_counts, same_counts, settle

logger = logging.getLogger(__name__)

DEFAULT_EVERY = timedelta(hours=1)
DEFAULT_BATCH_EQUIPMENT = 50


@dataclass(frozen=True)
class OptimizeResult:
    """What a run rolled up (or, on a dry run, would roll up).

    ``counts``: equipment_id, metric_type, points (raw points rolled up);
    ``kept``: equipment ids whose raw points stayed because they changed during the run;
    ``late_points``: raw points found before the previous horizon and added to the rollups;
    ``resumed``: raw points a stopped run left before the horizon, already in the rollups
    (both are removed and counted in ``deleted``).
    """

    measurement: str
    every: timedelta
    cutoff: datetime
    previous_horizon: datetime | None
    dry_run: bool
    raw_points: int
    rollup_points: int
    deleted: int
    late_points: int
    counts: pd.DataFrame
    kept: list[str] = field(default_factory=list)
    resumed: int = 0


def check_every(every: timedelta) -> int:
    """Seconds per rollup window; raises ValidationError unless whole minutes dividing a day."""
    seconds = every.total_seconds() if isinstance(every, timedelta) else None
    if seconds is None or seconds < 60 or seconds != int(seconds) or 86_400 % int(seconds):
        raise ValidationError(f"every must be whole minutes that divide a day (1m, 5m, 15m, 1h, 6h, 1d...); "
                              f"got {every!r}.", field="every", value=every)
    return int(seconds)


def optimize(store: MetricsStore, older_than: timedelta, every: timedelta = DEFAULT_EVERY, *,
             staleness: timedelta = timedelta(minutes=10), dry_run: bool = False, now: datetime | None = None,
             batch_equipment: int = DEFAULT_BATCH_EQUIPMENT, progress: bool = False) -> OptimizeResult:
    """Roll raw points older than ``older_than`` (before ``now``, default the clock) up
    into windows of ``every``; see the module docstring."""
    if not isinstance(older_than, timedelta) or older_than <= timedelta(0):
        raise ValidationError(f"older_than must be a positive duration such as 7d; got {older_than!r}.",
                              field="older_than", value=older_than)
    if not isinstance(staleness, timedelta) or staleness <= timedelta(0):
        raise ValidationError(f"staleness must be a positive duration; got {staleness!r}.", field="staleness",
                              value=staleness)
    if not isinstance(batch_equipment, int) or batch_equipment < 1:
        raise ValidationError(f"batch_equipment must be a positive whole number; got {batch_equipment!r}.",
                              field="batch_equipment", value=batch_equipment)
    every_s = check_every(every)
    every_ns = every_s * 10**9
    measurement = rollup_measurement(every_s)
    now = to_utc(now, "now") if now is not None else datetime.now(UTC)
    cutoff_ns = (pd.Timestamp(now - older_than).value // every_ns) * every_ns
    cutoff = pd.Timestamp(cutoff_ns, unit="ns", tz="UTC").to_pydatetime()

    info = find_rollups(store)
    if info is not None and info.measurement != measurement:
        used = _every_text(info.every)
        raise ValidationError(f"This store's rollups are {info.measurement} (windows of {used}); optimize keeps one "
                              f"window size, so use --every {used}.", field="every", value=every)
    previous = info.horizon if info is not None else None
    if info is not None and info.staleness is not None and info.staleness != staleness:
        logger.warning("The rollups were built with a staleness of %s; keeping it (asked: %s).", info.staleness,
                       staleness)
        staleness = info.staleness
    settled = SettleResult()
    if info is not None and previous is not None and not dry_run:
        settled = settle(store, info, batch_equipment=batch_equipment)
        if settled.points:
            logger.info("Took %d raw points found before the horizon %s into the rollups (%d already there).",
                        settled.points, previous, settled.already_held)
    late = settled.added
    with store.session():
        start = previous or first_day_with_data(store, cutoff)
        counts = raw_counts(store, Selection(start, cutoff)) if start is not None and cutoff > start else (
            counts_frame(None))
        if dry_run and previous is not None:
            late = int(raw_counts(store, Selection(ALL_TIME_START, previous))["points"].sum())
    if start is None or cutoff <= start or counts.empty:
        return OptimizeResult(measurement, every, cutoff, previous, dry_run, 0, 0, settled.deleted, late, counts,
                              settled.kept, settled.already_held)
    too_long = sorted({m for m in counts["metric_type"] if len(m) > MAX_ROLLED_METRIC_LENGTH})
    if too_long:
        raise ValidationError(f"metric names longer than {MAX_ROLLED_METRIC_LENGTH} characters cannot be rolled up: "
                              f"{too_long}. Rename them, or keep them raw with cleanup.", field="metric_type",
                              value=too_long[0])
    raw_points = int(counts["points"].sum())
    if dry_run:
        return OptimizeResult(measurement, every, cutoff, previous, dry_run, raw_points, 0, 0, late, counts)

    rollup = store.create_rollup(measurement)
    ids = sorted(counts["equipment_id"].unique())
    batches = [ids[i:i + batch_equipment] for i in range(0, len(ids), batch_equipment)]
    written = 0
    with tqdm(total=raw_points, unit="pt", unit_scale=True, desc="roll up", disable=not progress) as bar:
        for batch in batches:
            batch_counts = counts[counts["equipment_id"].isin(batch)]
            written += _roll_up_batch(store, rollup, batch_counts, start, cutoff, every, staleness)
            bar.update(int(batch_counts["points"].sum()))
    rollup.write_frame(horizon_point(cutoff, staleness))

    deleted, kept = settled.deleted, list(settled.kept)
    with tqdm(total=raw_points, unit="pt", unit_scale=True, desc="remove raw", disable=not progress) as bar:
        for batch in batches:
            batch_counts = counts[counts["equipment_id"].isin(batch)]
            metrics = tuple(sorted(batch_counts["metric_type"].unique()))
            selection = Selection(start, cutoff, equipment_ids=batch, metric_types=metrics)
            now_counts = raw_counts(store, selection)
            if not same_counts(now_counts, batch_counts):
                logger.warning("Raw points of %s changed during optimize; they stay raw. Run optimize again.", batch)
                kept.extend(batch)
                continue
            deleted += store.delete(selection)
            bar.update(int(batch_counts["points"].sum()))
    return OptimizeResult(measurement, every, cutoff, previous, False, raw_points, written, deleted, late, counts,
                          kept, settled.already_held)


def _roll_up_batch(store: MetricsStore, rollup: MetricsStore, counts: pd.DataFrame, start: datetime,
                   cutoff: datetime, every: timedelta, staleness: timedelta) -> int:
    """Write and verify the rollups of one batch of equipment; returns the rollup points written."""
    ids = sorted(counts["equipment_id"].unique())
    metrics = tuple(sorted(counts["metric_type"].unique()))
    start_ns, cutoff_ns = pd.Timestamp(start).value, pd.Timestamp(cutoff).value
    with store.session():
        aggregates = store.aggregate(Selection(start, cutoff, equipment_ids=ids, metric_types=metrics), every,
                                     FUNCTIONS)
        with_availability = sorted(counts.loc[counts["metric_type"] == AVAILABILITY, "equipment_id"].unique())
        intervals = pd.DataFrame()
        if with_availability:
            intervals = store.availability_intervals(start, cutoff, staleness, equipment_ids=with_availability)
            intervals = pd.concat([intervals, hold_past(store, with_availability, cutoff, staleness)],
                                  ignore_index=True)
    points = rollup_points(aggregates, intervals, int(every.total_seconds()) * 10**9, start_ns, cutoff_ns)
    if points.empty:
        return 0
    rollup.write_frame(points)
    _verify(rollup, counts, points, start, cutoff, staleness)
    return len(points)


def _verify(rollup: MetricsStore, counts: pd.DataFrame, points: pd.DataFrame, start: datetime, cutoff: datetime,
            staleness: timedelta) -> None:
    """Read the batch's rollups back: every raw point counted, every state event stored."""
    ids = sorted(counts["equipment_id"].unique())
    metrics = tuple(sorted(counts["metric_type"].unique()))
    back = rollup.aggregate(Selection(start, cutoff, equipment_ids=ids,
                                      metric_types=tuple(stat_metric(m, "count") for m in metrics)),
                            functions=("count", "mean"))
    rolled = pd.DataFrame({"equipment_id": back["equipment_id"],
                           "metric_type": back["metric_type"].str.rsplit(SEP, n=1).str[0],
                           "points": np.rint(back["mean"] * back["count"]).astype("int64")})
    if not same_counts(rolled, counts):
        merged = counts.merge(rolled, on=["equipment_id", "metric_type"], how="outer", suffixes=("_raw", "_rollup"))
        bad = merged[merged["points_raw"].fillna(0) != merged["points_rollup"].fillna(0)].head(3)
        raise RollupError(f"The rollups of {len(ids)} equipment do not count the raw points (e.g. "
                          f"{bad.to_dict(orient='records')}); no raw point was removed.")
    state = stat_metric(AVAILABILITY, STATE)
    events = points[points["metric_type"] == state]
    if events.empty:
        return
    stored = rollup.query(Selection(start, cutoff + staleness + timedelta(microseconds=1), equipment_ids=ids,
                                    metric_types=(state,)))
    key = ["equipment_id", "time"]
    check = events[key + ["value"]].merge(stored[key + ["value"]], on=key, how="left", suffixes=("", "_stored"))
    if len(check) != len(events) or not np.array_equal(check["value"].to_numpy(), check["value_stored"].to_numpy()):
        raise RollupError(f"The availability state events of {len(ids)} equipment did not read back as written; "
                          "no raw point was removed.")


def _every_text(every: timedelta) -> str:
    seconds = int(every.total_seconds())
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
