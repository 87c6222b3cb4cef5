"""Reading the first points of a period without reading all of it.

A page of ``limit`` points from a month of data must not load the month. The store
protocol reads whole periods, but it counts points per time window cheaply (in the
store, as ``aggregate(..., every=..., functions=("count",))``). :func:`first_points`
uses the counts to find where the first ``want`` points end, to the window, refining
the window when one holds many more than needed, then reads only up to there. A read
holds at most about twice ``want`` points (plus the points of one second); windows
are whole seconds, so the points of one instant are never split between reads.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pandas as pd

from ..analytics.service import EquipmentAnalyticsService
from ..stores.base import Selection

__all__ = ["first_points"]

#: Windows per count query: more finds the end closer, at the price of a larger answer.
WINDOWS = 64
_SECOND = timedelta(seconds=1)


def _window(start: datetime, end: datetime) -> timedelta:
    return max(_SECOND, timedelta(seconds=math.ceil((end - start).total_seconds() / WINDOWS)))


def _read_end(service: EquipmentAnalyticsService, selection: Selection, want: int) -> datetime:
    """The end of the shortest run of whole windows from ``selection.start`` holding at least
    ``want`` points (``selection.end`` when the period holds fewer)."""
    # The page reads raw points: count them in the service's own store (its reader's
    # aggregates would also count rolled-up time, which has no raw points).
    counter = service.store
    low, high, need, taken = selection.start, selection.end, want, 0  # taken: points before `low`
    while True:
        every = _window(low, high)
        counts = counter.aggregate(Selection(low, high, selection.equipment_ids, selection.metric_types),
                                   every=every, functions=("count",))
        if counts.empty:
            return high
        per_window = counts.groupby("time")["count"].sum().sort_index()
        reached = per_window.cumsum() >= need
        if not reached.any():
            return high
        first = int(reached.to_numpy().argmax())
        window_start = pd.Timestamp(per_window.index[first]).to_pydatetime()
        in_window = int(per_window.iloc[first])
        window_end = min(window_start + every, high)
        before = int(per_window.iloc[:first].sum())
        if every <= _SECOND or taken + before + in_window <= 2 * want:
            return window_end
        # Far more points in that window than needed: look inside it with finer windows.
        low, high, need, taken = max(window_start, low), window_end, need - before, taken + before


def first_points(service: EquipmentAnalyticsService, equipment_id: str, start: datetime, end: datetime,
                 metric_type: str | None, want: int, after: datetime | None = None) -> tuple[pd.DataFrame, bool]:
    """Points of ``equipment_id`` over [start, end) (and later than ``after``, if given),
    oldest first: at least the first ``want`` (all of them if fewer), and all the points
    at the time of the last; and whether they are all the period's points."""
    selection = Selection(start, end, equipment_ids=(equipment_id,),
                          metric_types=(metric_type,) if metric_type else None)
    frames: list[pd.DataFrame] = []
    got, low = 0, selection.start
    while got < want and low < selection.end:
        high = _read_end(service, Selection(low, selection.end, selection.equipment_ids, selection.metric_types),
                         want - got + (1 if after is not None and low <= after else 0))
        frame = service.get_equipment_metrics(equipment_id, low, high, metric_type)
        if after is not None:
            frame = frame[frame["time"] > pd.Timestamp(after)]
        frames.append(frame)
        got, low = got + len(frame), high
    return (pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]), low >= selection.end
