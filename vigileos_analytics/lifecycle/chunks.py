"""Reading a store in bounded chunks, through the protocol only.

Backup, export and restore must not hold a whole store in memory, and they must
work on every backend. So a read is planned first with point counts, which every
backend computes in its engine (``store.aggregate(..., functions=("count",))``):

1. count the points per equipment in coarse windows (1,024 days, aligned to the
   UTC epoch) over the selection;
2. a window holding more than ``max_points`` points of one equipment is counted
   again in windows 32 times finer, nested in it (32 days, 1 day, 45 min, ...),
   down to 84.375 s;
3. consecutive windows of one equipment are merged while their total stays within
   ``max_points``.

Each :class:`Chunk` is then one ``store.query`` of one equipment over a half-open
UTC period, so at most about ``max_points`` points are in memory at a time.

"All time" is [1970-01-01, 2262-01-01) UTC, the time range every store holds
(:data:`..schema.TIME_MIN` .. :data:`..schema.TIME_MAX`; no point outside it is
ever accepted). A selection reaching beyond it is read within it, and window ends
are computed so that they never pass the int64 nanosecond range.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from ..errors import ValidationError
from ..schema import CORE_COLUMNS, TIME_MAX, TIME_MIN
from ..stores.base import MetricsStore, Selection

ALL_TIME_START = TIME_MIN
ALL_TIME_END = TIME_MAX
DEFAULT_CHUNK_POINTS = 500_000
SESSION_HOLD_S = 1.0

_COARSE_NS = 1024 * 86_400 * 10**9
_REFINE = 32
_FINEST_NS = 10**9


@dataclass(frozen=True)
class Chunk:
    """One equipment over [start_ns, end_ns) (int nanoseconds, UTC); ``points`` as counted when planned."""

    equipment_id: str
    start_ns: int
    end_ns: int
    points: int

    def selection(self, within: Selection) -> Selection:
        """The query of this chunk: ``within``'s metric and tag filters, this chunk's equipment and period."""
        return replace(within, start=utc_from_ns(self.start_ns), end=utc_from_ns(self.end_ns),
                       equipment_ids=(self.equipment_id,))


def utc_from_ns(ns: int) -> datetime:
    """An int64 nanosecond count as an aware UTC datetime (microseconds: what a datetime holds)."""
    return pd.Timestamp(ns, unit="ns", tz="UTC").to_pydatetime(warn=False)


def all_time(equipment_ids=None, metric_types=None, tags=None) -> Selection:
    """A selection of every point from 1970 to 2262 (UTC), with optional filters."""
    return Selection(ALL_TIME_START, ALL_TIME_END, equipment_ids=equipment_ids, metric_types=metric_types,
                     tags=tags or {})


def _window_counts(store: MetricsStore, selection: Selection, every_ns: int) -> pd.DataFrame:
    """Points per (equipment_id, window start in ns) over the selection."""
    counts = store.aggregate(selection, every=timedelta(microseconds=every_ns / 1000), functions=("count",))
    if counts.empty:
        return pd.DataFrame({"equipment_id": [], "start_ns": np.array([], dtype="int64"),
                             "count": np.array([], dtype="int64")})
    frame = pd.DataFrame({
        "equipment_id": counts["equipment_id"].astype(str).to_numpy(),
        "start_ns": counts["time"].to_numpy("datetime64[ns]").view("int64"),
        "count": counts["count"].to_numpy("int64"),
    })
    frame = frame[frame["count"] > 0]
    return frame.groupby(["equipment_id", "start_ns"], as_index=False, sort=True)["count"].sum()


def _windows(store: MetricsStore, selection: Selection, max_points: int) -> pd.DataFrame:
    """(equipment_id, start_ns, end_ns, count) windows with data, refined where one
    holds too many points: one count query per level of refinement, not per window."""
    every_ns, done = _COARSE_NS, []
    level = _window_counts(store, selection, every_ns)
    while not level.empty:
        # min(start + every, end), written so that start + every cannot overflow int64 near 2262
        level = level.assign(end_ns=np.minimum(level["start_ns"], selection.end_ns - every_ns) + every_ns,
                             start_ns=np.maximum(level["start_ns"], selection.start_ns))
        finer = every_ns // _REFINE
        # Finer windows must nest and stay whole microseconds (what timedelta holds).
        if finer < _FINEST_NS or every_ns % _REFINE or finer % 1000:
            done.append(level)
            break
        big = level["count"] > max_points
        done.append(level[~big])
        if not big.any():
            break
        parents = level[big]
        inner = replace(selection, start=utc_from_ns(int(parents["start_ns"].min())),
                        end=utc_from_ns(int(parents["end_ns"].max())),
                        equipment_ids=tuple(sorted(set(parents["equipment_id"]))))
        candidates = _window_counts(store, inner, finer)
        # Keep the finer windows that lie in a too-big parent of the same equipment.
        parent_start = candidates["start_ns"] - candidates["start_ns"] % every_ns
        keys = pd.MultiIndex.from_arrays([parents["equipment_id"],
                                          parents["start_ns"] - parents["start_ns"] % every_ns])
        level = candidates[pd.MultiIndex.from_arrays([candidates["equipment_id"], parent_start]).isin(keys)]
        every_ns = finer
    if not done:  # no point in the selection
        return pd.DataFrame({"equipment_id": [], "start_ns": [], "end_ns": [], "count": []})
    return pd.concat(done, ignore_index=True).sort_values(["equipment_id", "start_ns"], kind="stable")


def plan_chunks(store: MetricsStore, selection: Selection, max_points: int = DEFAULT_CHUNK_POINTS) -> list[Chunk]:
    """Chunks covering every point of ``selection``, each of one equipment and at most
    ``max_points`` points (unless 84.375 s of one equipment alone hold more)."""
    if not isinstance(max_points, int) or isinstance(max_points, bool) or max_points < 1:
        raise ValidationError(f"max_points must be a positive whole number of points; got {max_points!r}.",
                              field="max_points", value=max_points)
    start, end = max(selection.start, ALL_TIME_START), min(selection.end, ALL_TIME_END)
    if start >= end:
        return []
    selection = replace(selection, start=start, end=end)
    with store.session():
        windows = _windows(store, selection, max_points)
    chunks: list[Chunk] = []
    for equipment_id, start_ns, end_ns, count in windows[["equipment_id", "start_ns", "end_ns", "count"]].itertuples(
            index=False, name=None):  # one step per window
        start_ns, end_ns, count = int(start_ns), int(end_ns), int(count)
        last = chunks[-1] if chunks else None
        if last is not None and last.equipment_id == equipment_id and last.points + count <= max_points:
            chunks[-1] = Chunk(equipment_id, last.start_ns, end_ns, last.points + count)
        else:
            chunks.append(Chunk(equipment_id, start_ns, end_ns, count))
    return chunks


def read_chunks(store: MetricsStore, selection: Selection, chunks: list[Chunk],
                hold_s: float = SESSION_HOLD_S) -> Iterator[tuple[Chunk, pd.DataFrame]]:
    """Each chunk with its points, in the write format (see :func:`to_write_frame`).

    Reads share one store session (one connection, the embedded store's shared
    lock) for at most about ``hold_s`` seconds, then let go of it, so a writer
    waits at most about that long behind a backup or export of any size.
    """
    position = 0
    while position < len(chunks):
        with store.session():
            started = time.monotonic()
            batch = []
            while position < len(chunks) and time.monotonic() - started < hold_s:
                batch.append((chunks[position], store.query(chunks[position].selection(selection))))
                position += 1
        for chunk, points in batch:  # converted outside the session: the lock is held for reads only
            yield chunk, to_write_frame(points)


def to_write_frame(points: pd.DataFrame) -> pd.DataFrame:
    """A query frame (with a ``tags`` dict column) in the write format: ``time``
    (UTC), ``equipment_id``, ``metric_type``, ``value`` and one column per tag key,
    missing (None) where a point lacks that tag. Sorted by equipment, metric, time.

    Tags are expanded once per distinct dict object (stores share one per series),
    not once per point.
    """
    tags = points["tags"].to_numpy(dtype=object)
    codes, _ = pd.factorize(np.fromiter(map(id, tags), dtype=np.int64, count=len(tags)))
    first = np.unique(codes, return_index=True)[1] if len(codes) else np.array([], dtype="int64")
    uniques = tags[first]
    keys = sorted(set().union(*uniques)) if len(uniques) else []
    out = pd.DataFrame({
        "time": pd.to_datetime(points["time"], utc=True).astype("datetime64[ns, UTC]").reset_index(drop=True),
        "equipment_id": points["equipment_id"].astype(str).to_numpy(dtype=object),
        "metric_type": points["metric_type"].astype(str).to_numpy(dtype=object),
        "value": points["value"].to_numpy("float64"),
    })
    for key in keys:
        per_unique = np.array([u.get(key) for u in uniques], dtype=object)
        out[key] = per_unique[codes]
    out = out.sort_values(["equipment_id", "metric_type", "time"], kind="stable").reset_index(drop=True)
    return out


def tag_columns(frame: pd.DataFrame) -> list[str]:
    """The tag columns of a write-format frame."""
    return [c for c in frame.columns if c not in CORE_COLUMNS]
