"""The SLA engine's sweep: every equipment's service time cut into segments, each with
its class (excluded, planned, up, degraded, unplanned, unknown), from one sort of the
instants where a window of some kind opens or closes (see :mod:`.sla` for the rules and
the figures built from these segments)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import ValidationError

if TYPE_CHECKING:
    from .sla import SlaRules

__all__ = ["CLASSIFICATIONS", "NS", "apply_minimum_outage", "bucket_sums", "classify", "with_codes"]

NS = 1_000_000_000
CLASSIFICATIONS = ("planned", "unplanned", "excluded")
#: The counters of the sweep: window kinds, plus ``run``, which numbers the outages.
_COLUMNS = ("service", "excluded", "planned", "override", "up", "down", "degraded", "run")


def classify(intervals: pd.DataFrame, equipment_ids: list[str], rules: SlaRules, lo: int, hi: int, cut: int,
             edges: np.ndarray, *, maintenance: pd.DataFrame | None = None, annotations: pd.DataFrame | None = None,
             degraded: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The classified segments of every equipment over [lo, hi) (ns; time after ``cut`` is
    not lived yet), split at ``edges``; the annotations by equipment code; the outages
    (``eq``, start, end: down runs that last at least the minimum outage)."""
    codes = pd.Index(equipment_ids, dtype=object)
    events = _Events(len(equipment_ids))
    events.everyone(*rules.calendar.windows(lo, hi), "service")
    events.everyone(edges, edges, None)
    for schedule in rules.maintenance:
        events.everyone(*schedule.windows(lo, hi), "planned")
    if maintenance is not None and not maintenance.empty:
        events.each(maintenance, codes, "planned")
    note = _annotations(annotations, codes)
    for kind, column in (("planned", "planned"), ("unplanned", "override"), ("excluded", "excluded")):
        events.each(note[note["classification"] == kind], codes, column)
    if rules.degraded is not None and degraded is not None and not degraded.empty:
        events.each(degraded, codes, "degraded")
    iv = with_codes(intervals, codes)
    iv = iv[(iv["end"] > lo) & (iv["start"] < cut)]
    up, down = apply_minimum_outage(iv, rules.minimum_outage)
    events.each(up, codes, "up")
    events.each(down, codes, "down")
    events.each(down, codes, "run", starts_only=True)
    spends = rules.degraded is not None and rules.degraded.spends_budget
    return _segments(events, cut, lo, hi, spends), note, down


class _Events:
    """Counter changes at instants, per equipment: +1 where a window of some kind opens,
    -1 where it closes. ``run`` only counts up, once per outage, so its running sum
    numbers the outages and every segment of one outage carries the same number."""

    def __init__(self, n_eq: int) -> None:
        self.n_eq = n_eq
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, eq: np.ndarray, starts: np.ndarray, ends: np.ndarray, counter: str | None,
            starts_only: bool = False) -> None:
        code = _COLUMNS.index(counter) if counter else -1
        ones = np.ones(len(eq), "int64")
        if starts_only:
            self.parts.append((eq, starts, np.full(len(eq), code, "int8"), ones))
            return
        self.parts.append((np.concatenate([eq, eq]), np.concatenate([starts, ends]),
                           np.full(2 * len(eq), code, "int8"), np.concatenate([ones, -ones])))

    def everyone(self, starts: np.ndarray, ends: np.ndarray, counter: str | None) -> None:
        """The same windows for every equipment."""
        count = len(starts)
        self.add(np.repeat(np.arange(self.n_eq), count), np.tile(np.asarray(starts, "int64"), self.n_eq),
                 np.tile(np.asarray(ends, "int64"), self.n_eq), counter)

    def each(self, windows: pd.DataFrame, codes: pd.Index, counter: str, starts_only: bool = False) -> None:
        w = windows if "eq" in windows else with_codes(windows, codes)
        if len(w):
            self.add(w["eq"].to_numpy("int64"), w["start"].to_numpy("int64"),
                     w["end"].to_numpy("int64"), counter, starts_only)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        eq, t, code, delta = (np.concatenate([p[k] for p in self.parts]) for k in range(4))
        # By equipment, then time. Events of one equipment at one instant may come in any
        # order (only the counters after the last of them are read), so a quick sort on time
        # and a stable radix sort on the small equipment codes do (2-3x faster than lexsort).
        order = np.argsort(t)
        by_eq = eq[order].astype(np.int16) if self.n_eq < 2**15 else eq[order]
        order = order[np.argsort(by_eq, kind="stable")]
        return eq[order], t[order], code[order], delta[order]


def with_codes(frame: pd.DataFrame, codes: pd.Index) -> pd.DataFrame:
    """The rows of ``frame`` whose equipment_id is in ``codes``, with its position there as ``eq``."""
    # Factorized first: the ids come as Arrow strings, whose conversion to Python objects
    # row by row cost more than the whole classification.
    inverse, uniques = pd.factorize(frame["equipment_id"])
    lookup = codes.get_indexer(np.asarray(uniques, dtype=object))
    eq = np.where(inverse >= 0, lookup[inverse], -1) if len(uniques) else np.full(len(frame), -1)
    keep = eq >= 0
    return frame[keep].assign(eq=eq[keep])


def _annotations(annotations: pd.DataFrame | None, codes: pd.Index) -> pd.DataFrame:
    if annotations is None or annotations.empty:
        return pd.DataFrame({"equipment_id": pd.Series(dtype=object), "start": pd.Series(dtype="int64"),
                             "end": pd.Series(dtype="int64"), "classification": pd.Series(dtype=object)})
    bad = ~annotations["classification"].isin(CLASSIFICATIONS)
    if bad.any():
        raise ValidationError(f"annotation classification must be one of {', '.join(CLASSIFICATIONS)}; got "
                              f"{annotations.loc[bad, 'classification'].iloc[0]!r}.", field="classification")
    return with_codes(annotations, codes)


def apply_minimum_outage(iv: pd.DataFrame, minimum: timedelta) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Up intervals and outages (down runs, touching intervals merged), by equipment code
    ``eq``; a run shorter than ``minimum`` counts as up. The intervals end where the data
    read ends, so an outage still open counts once it has lasted ``minimum``."""
    cols = ["eq", "start", "end"]
    up = iv.loc[iv["state"] == 1, cols]
    down = iv.loc[iv["state"] == 0, cols].sort_values(["eq", "start"], kind="stable")
    if down.empty:
        return up, down
    eq = down["eq"].to_numpy()
    starts, ends = down["start"].to_numpy("int64"), down["end"].to_numpy("int64")
    new = np.ones(len(down), bool)
    new[1:] = (eq[1:] != eq[:-1]) | (starts[1:] != ends[:-1])
    first = np.flatnonzero(new)
    runs = pd.DataFrame({"eq": eq[first], "start": starts[first], "end": np.maximum.reduceat(ends, first)})
    short = (runs["end"] - runs["start"]) < int(minimum.total_seconds() * NS)
    return pd.concat([up, runs.loc[short, cols]], ignore_index=True), runs.loc[~short, cols]


def _segments(events: _Events, cut: int, lo: int, hi: int, spends: bool) -> pd.DataFrame:
    """Each [t, next t) of one equipment within [lo, hi), with its class. Time after
    ``cut`` (not yet lived) is only service, planned or excluded: its state is not known yet.
    ``spent`` is unplanned time, and degraded time when ``spends``."""
    eq, t, code, delta = events.arrays()
    # The counters after every event at an instant: the last event of each (equipment, t).
    last = np.concatenate([(eq[1:] != eq[:-1]) | (t[1:] != t[:-1]), np.ones(min(len(t), 1), bool)])
    count = {name: np.cumsum(np.where(code == k, delta, 0))[last] for k, name in enumerate(_COLUMNS)}
    eq, t = eq[last], t[last]
    level = {name: values > 0 for name, values in count.items() if name != "run"}
    end = np.clip(np.concatenate([t[1:], t[-1:]]), lo, hi)
    t = np.clip(t, lo, hi)
    valid = np.concatenate([eq[1:] == eq[:-1], np.zeros(min(len(eq), 1), bool)]) & (end > t)
    in_service = valid & level["service"] & ~level["excluded"]
    planned = in_service & level["planned"] & ~level["override"]
    lived = t < cut
    available = in_service & ~planned & level["up"] & lived
    degraded = available & level["degraded"]
    unplanned = in_service & ~planned & ~available & level["down"] & lived
    unknown = in_service & ~planned & ~available & ~unplanned & lived
    return pd.DataFrame({
        "eq": eq, "t": t, "end": end, "duration": np.where(valid, end - t, 0), "service": in_service,
        "planned": planned, "up": available & ~degraded, "degraded": degraded, "unplanned": unplanned,
        "unknown": unknown, "spent": unplanned | degraded if spends else unplanned,
        "down_slot": unplanned & level["degraded"],
        "eligible": in_service & ~planned, "down": valid & level["down"] & lived, "run": count["run"],
    })


def bucket_sums(seg: pd.DataFrame, bucket: np.ndarray, n_eq: int, n_buckets: int,
                names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Nanoseconds of each class in ``names`` per (equipment code, bucket)."""
    key = seg["eq"].to_numpy() * n_buckets + bucket
    duration = seg["duration"].to_numpy("float64")
    return {name: np.bincount(key, weights=np.where(seg[name].to_numpy(), duration, 0.0),
                              minlength=n_eq * n_buckets).reshape(n_eq, n_buckets)
            for name in names}
