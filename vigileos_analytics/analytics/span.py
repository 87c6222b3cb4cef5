"""The period a store holds points for: first and last point time of a selection.

Read through the store protocol only. Without a metric filter the store's own
per-equipment facts answer (:meth:`MetricsStore.storage_facts`, kept at write time by
the embedded store). With one, the last time is the newest of :meth:`latest` and the
first is found by counting points in ever finer windows (1,024 days, 1 day, 1 minute,
1 second) inside the first window that holds any, then reading that one second.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pandas as pd

from ..stores.base import MetricsStore, Selection

_ALL_TIME_START = datetime(1970, 1, 1, tzinfo=UTC)
_ALL_TIME_END = datetime(2262, 1, 1, tzinfo=UTC)
_WINDOWS = (timedelta(days=1024), timedelta(days=1), timedelta(minutes=1), timedelta(seconds=1))


def stored_period(store: MetricsStore, equipment_ids: Sequence[str] | None = None,
                  metric_types: Sequence[str] | None = None) -> tuple[datetime, datetime] | None:
    """First and last point time (aware, UTC) the store holds for the selection, or
    None when it holds none. Raw points from 1970 on; rollups of an optimized store
    are not counted."""
    wanted = None if equipment_ids is None else list(equipment_ids)
    if metric_types is None:
        spans = store.storage_facts().equipment
        if wanted is not None:
            spans = spans[spans["equipment_id"].isin(wanted)]
        if spans.empty:
            return None
        return _utc(spans["first"].min()), _utc(spans["last"].max())
    newest = store.latest(wanted, list(metric_types))
    if newest.empty:
        return None
    first = _first_time(store, wanted, list(metric_types))
    return (first or _utc(newest["time"].min())), _utc(newest["time"].max())


def _first_time(store: MetricsStore, equipment_ids: list[str] | None, metric_types: list[str]) -> datetime | None:
    start, end = _ALL_TIME_START, _ALL_TIME_END
    for every in _WINDOWS:
        counts = store.aggregate(Selection(start, end, equipment_ids, metric_types), every=every, functions=("count",))
        counts = counts[counts["count"] > 0]
        if counts.empty:
            return None
        start = _utc(counts["time"].min())
        end = start + every
    points = store.query(Selection(start, end, equipment_ids, metric_types))
    return None if points.empty else _utc(points["time"].min())


def _utc(value: object) -> datetime:
    return pd.Timestamp(value).tz_convert("UTC").to_pydatetime(warn=False)
