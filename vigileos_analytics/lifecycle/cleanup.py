"""Delete points older than a cutoff, with a dry run that counts exactly what would go.

The cutoff is ``now - older_than`` (UTC); a point is deleted when its time is
strictly before the cutoff (and from 1970 on, see :mod:`.chunks`). Without
``older_than``, the retention of a store that does not enforce it itself
(:attr:`~..stores.base.MetricsStore.enforces_retention` False: the embedded store's
``vigileos retention set``) gives it. InfluxDB servers expire points by their own
retention policy.

The counts come from the engine (``store.aggregate(..., functions=("count",))``);
a real cleanup deletes one equipment at a time (``store.delete``) and reports what
each delete removed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd

from ..errors import ValidationError
from ..schema import to_utc
from ..stores.base import MetricsStore, Selection
from .chunks import ALL_TIME_START

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CleanupResult:
    """What was (or, on a dry run, would be) deleted: ``counts`` has columns
    ``equipment_id``, ``metric_type``, ``points``; ``cutoff`` is UTC."""

    cutoff: datetime
    dry_run: bool
    points: int
    counts: pd.DataFrame
    rule: str


def _cutoff(store: MetricsStore, older_than: timedelta | None, now: datetime) -> tuple[datetime, str]:
    if older_than is not None:
        if older_than <= timedelta(0):
            raise ValidationError(f"older_than must be a positive duration such as 90d; got {older_than!r}.",
                                  field="older_than", value=older_than)
        return now - older_than, f"older than {_duration_text(older_than)}"
    # A store that expires points by itself needs no cleanup to apply its retention.
    retention = None if store.enforces_retention else store.retention()
    if retention is None or retention.duration is None:
        raise ValidationError("Say how old points must be to go: give --older-than (e.g. 90d), or set the embedded "
                              "store's retention with `vigileos retention set --days N`.", field="older_than")
    return now - retention.duration, f"retention of {retention.days:g} days ({retention.where})"


def _duration_text(duration: timedelta) -> str:
    seconds = duration.total_seconds()
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def cleanup(store: MetricsStore, older_than: timedelta | None = None, *, dry_run: bool = False,
            now: datetime | None = None, equipment_ids: Sequence[str] | None = None,
            metric_types: Sequence[str] | None = None) -> CleanupResult:
    """Delete (or with ``dry_run`` only count) points older than ``older_than``
    before ``now`` (UTC, default: the clock); see the module docstring."""
    now = to_utc(now, "now") if now is not None else datetime.now(UTC)
    cutoff, rule = _cutoff(store, older_than, now)
    if cutoff <= ALL_TIME_START:
        return CleanupResult(cutoff, dry_run, 0, counts_frame(None), rule)
    selection = Selection(ALL_TIME_START, cutoff, equipment_ids=equipment_ids, metric_types=metric_types)
    counts = counts_frame(store.aggregate(selection, functions=("count",)))
    if dry_run or counts.empty:
        return CleanupResult(cutoff, dry_run, int(counts["points"].sum()), counts, rule)
    deleted = 0
    for equipment_id, expected in counts.groupby("equipment_id", sort=True)["points"].sum().items():
        removed = store.delete(Selection(ALL_TIME_START, cutoff, equipment_ids=(equipment_id,),
                                         metric_types=metric_types))
        if removed != expected:
            logger.warning("Cleanup of %s removed %d points where %d were counted (a write in between?).",
                           equipment_id, removed, expected)
        deleted += removed
    return CleanupResult(cutoff, False, deleted, counts, rule)


def counts_frame(aggregate: pd.DataFrame | None) -> pd.DataFrame:
    """Points per equipment and metric (``points`` > 0) from a ``count`` aggregate, sorted."""
    if aggregate is None or aggregate.empty:
        return pd.DataFrame({"equipment_id": pd.Series([], dtype=object), "metric_type": pd.Series([], dtype=object),
                             "points": pd.Series([], dtype="int64")})
    frame = aggregate.rename(columns={"count": "points"})[["equipment_id", "metric_type", "points"]]
    frame = frame[frame["points"] > 0].astype({"points": "int64"})
    return frame.sort_values(["equipment_id", "metric_type"], kind="stable").reset_index(drop=True)
