"""From availability samples to state intervals, vectorized with numpy.

A sample at time t with state s (1 available, 0 not) holds s over
[t, min(next sample, t + staleness)). Time covered by no sample is unknown.

Two ways to the same intervals:

- :func:`intervals_from_samples` works on raw samples (any backend);
- :func:`build_runs` condenses samples into *runs* (consecutive samples of one
  state, no gap longer than ``gap``) once, at write time; for any staleness
  >= gap, :func:`intervals_from_runs` then gives exactly the same covered time
  from a few rows per state change instead of one row per sample.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

INTERVAL_COLUMNS = ["equipment_id", "state", "start", "end"]
RUN_COLUMNS = ["equipment_id", "state", "start_time", "last_time", "next_time", "samples"]


def empty_intervals() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "equipment_id": pd.Series([], dtype="object"),
            "state": pd.Series([], dtype="int8"),
            "start": pd.Series([], dtype="int64"),
            "end": pd.Series([], dtype="int64"),
        }
    )


def dedupe_stream(equipment, times: np.ndarray, values: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sort samples by equipment and time; several samples at one instant keep the
    lowest state (unavailable wins: the conservative reading).

    ``equipment`` may be any array of ids (a ``pandas.Categorical`` is fastest).
    Returns (equipment codes, equipment labels, times, states).
    """
    codes, labels = pd.factorize(equipment, sort=True)
    labels = np.asarray(labels, dtype=object)
    states = (np.asarray(values) >= 0.5).astype("int8")
    times = np.asarray(times, dtype="int64")
    in_order = len(times) < 2 or bool(np.all(
        (codes[1:] > codes[:-1]) | ((codes[1:] == codes[:-1]) & (times[1:] > times[:-1]))))
    if not in_order:
        order = np.lexsort((states, times, codes))
        codes, times, states = codes[order], times[order], states[order]
        first = np.ones(len(times), dtype=bool)
        first[1:] = (codes[1:] != codes[:-1]) | (times[1:] != times[:-1])
        codes, times, states = codes[first], times[first], states[first]
    return codes, labels, times, states


def build_runs(codes: np.ndarray, labels: np.ndarray, times: np.ndarray, states: np.ndarray,
               gap_ns: int) -> pd.DataFrame:
    """Runs of equal state from samples sorted by (equipment, time), deduplicated
    (the output of :func:`dedupe_stream`).

    A new run starts at a new equipment, a change of state, or a gap > ``gap_ns``.
    ``next_time`` is the first sample after the run of the same equipment (or -1).
    """
    n = len(times)
    if n == 0:
        return pd.DataFrame({c: pd.Series([], dtype="int64") for c in RUN_COLUMNS}).astype(
            {"equipment_id": "object", "state": "int8"}
        )
    same_eq = np.zeros(n, dtype=bool)
    same_eq[1:] = codes[1:] == codes[:-1]
    breaks = ~same_eq
    breaks[1:] |= states[1:] != states[:-1]
    breaks[1:] |= (times[1:] - times[:-1]) > gap_ns
    starts = np.flatnonzero(breaks)
    ends = np.append(starts[1:], n) - 1  # index of the last sample of each run
    next_index = ends + 1
    has_next = next_index < n
    has_next[has_next] = same_eq[next_index[has_next]]
    next_time = np.full(len(starts), -1, dtype="int64")
    next_time[has_next] = times[next_index[has_next]]
    return pd.DataFrame(
        {
            "equipment_id": labels[codes[starts]],
            "state": states[starts].astype("int8"),
            "start_time": times[starts].astype("int64"),
            "last_time": times[ends].astype("int64"),
            "next_time": next_time,
            "samples": (ends - starts + 1).astype("int64"),
        }
    )


def _clip(equipment: np.ndarray, states: np.ndarray, starts: np.ndarray, ends: np.ndarray, start_ns: int,
          end_ns: int) -> pd.DataFrame:
    lo = np.maximum(starts, start_ns)
    hi = np.minimum(ends, end_ns)
    keep = hi > lo
    return pd.DataFrame(
        {
            "equipment_id": equipment[keep],
            "state": states[keep].astype("int8"),
            "start": lo[keep].astype("int64"),
            "end": hi[keep].astype("int64"),
        }
    )


def intervals_from_runs(runs: pd.DataFrame, start_ns: int, end_ns: int, staleness_ns: int) -> pd.DataFrame:
    """Covered intervals from runs built with a gap <= staleness, clipped to [start, end)."""
    if runs.empty:
        return empty_intervals()
    last = runs["last_time"].to_numpy()
    nxt = runs["next_time"].to_numpy()
    cover_end = last + staleness_ns
    has_next = nxt >= 0
    cover_end[has_next] = np.minimum(cover_end[has_next], nxt[has_next])
    return _clip(
        runs["equipment_id"].to_numpy(), runs["state"].to_numpy(), runs["start_time"].to_numpy(), cover_end,
        start_ns, end_ns
    )


def intervals_from_samples(samples: pd.DataFrame, start_ns: int, end_ns: int, staleness_ns: int) -> pd.DataFrame:
    """Covered intervals from raw samples (columns equipment_id, time as int ns, value).

    The samples must include those in [start - staleness, end) so the state at the
    window's start is carried in.
    """
    if samples.empty:
        return empty_intervals()
    stream = dedupe_stream(samples["equipment_id"].to_numpy(), samples["time"].to_numpy("int64"),
                           samples["value"].to_numpy())
    # The runs of a gap of 0 are the samples themselves, so one code path serves both.
    runs = build_runs(*stream, gap_ns=0)
    return intervals_from_runs(runs, start_ns, end_ns, staleness_ns)


def intervals_from_store(store, start, end, staleness, equipment_ids=None) -> pd.DataFrame:
    """``availability_intervals`` for any store, from its raw availability samples:
    reads [start - staleness, end) so the state at ``start`` is carried in."""
    from ..errors import ValidationError
    from ..schema import AVAILABILITY
    from .base import Selection

    window = Selection(start, end, equipment_ids=equipment_ids)
    staleness_ns = int(staleness.total_seconds() * 1e9)
    if staleness_ns <= 0:
        raise ValidationError(f"staleness must be positive; got {staleness!r}.", field="staleness", value=staleness)
    samples = store.query(Selection(window.start - staleness, window.end, equipment_ids=equipment_ids,
                                    metric_types=(AVAILABILITY,)))
    return intervals_from_samples(pd.DataFrame({
        "equipment_id": samples["equipment_id"].astype(str).to_numpy(),
        "time": samples["time"].to_numpy("datetime64[ns]").view("int64"),
        "value": samples["value"].to_numpy(),
    }), window.start_ns, window.end_ns, staleness_ns)
