"""Time-weighted availability from state intervals: uptime, downtime, unknown time,
outages, MTBF, MTTR and coverage per equipment and window.

Rules (the same for every backend, since they work on the store's intervals):

- available / unavailable time comes from the known intervals; time covered by
  none is *unknown* and lowers coverage, never availability;
- excluded maintenance time counts neither as up nor down nor unknown;
- availability % = uptime / (uptime + downtime); ``None`` when nothing is known;
- coverage % = (uptime + downtime) / (window length − excluded maintenance);
- an outage is a stretch of unbroken downtime; one that spans several windows
  counts in each window it touches; MTTR = downtime / outages and
  MTBF = uptime / outages (``None`` without outages).

Everything is vectorized: one sweep over sorted interval edges for the whole fleet.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NS = 1_000_000_000

SUMMARY_COLUMNS = [
    "equipment_id", "window_start", "window_end", "availability_pct", "uptime_s", "downtime_s",
    "unknown_s", "maintenance_s", "outages", "mtbf_s", "mttr_s", "coverage_pct",
]


def merge_windows(windows: pd.DataFrame) -> pd.DataFrame:
    """Merge overlapping or touching [start, end) windows per equipment_id."""
    if windows.empty:
        return windows[["equipment_id", "start", "end"]].copy()
    w = windows.sort_values(["equipment_id", "start"], kind="stable").reset_index(drop=True)
    same = w["equipment_id"].eq(w["equipment_id"].shift())
    running_end = w.groupby("equipment_id", sort=False)["end"].cummax()
    new_group = ~same | (w["start"] > running_end.groupby(w["equipment_id"], sort=False).shift())
    group = new_group.cumsum()
    return w.groupby(group).agg(equipment_id=("equipment_id", "first"), start=("start", "min"),
                                end=("end", "max")).reset_index(drop=True)


def summarize(intervals: pd.DataFrame, equipment_ids: list[str], edges: np.ndarray,
              maintenance: pd.DataFrame | None = None) -> pd.DataFrame:
    """Availability figures per equipment and per window [edges[k], edges[k+1]).

    ``intervals``: equipment_id, state (1/0), start, end (int ns, non-overlapping
    per equipment). ``maintenance``: equipment_id, start, end of time to exclude.
    Every equipment in ``equipment_ids`` gets a row per window, data or not.
    """
    edges = np.asarray(edges, dtype="int64")
    n_windows = len(edges) - 1
    codes = {eq: i for i, eq in enumerate(equipment_ids)}
    n_eq = len(equipment_ids)

    parts = [_interval_events(intervals, codes)]
    if maintenance is not None and not maintenance.empty:
        parts.append(_maintenance_events(merge_windows(maintenance), codes))
    # Window edges for every equipment, so segments split at each edge.
    parts.append(pd.DataFrame({
        "eq": np.repeat(np.arange(n_eq), len(edges)), "t": np.tile(edges, n_eq),
        "up": 0, "down": 0, "maint": 0,
    }))
    events = pd.concat(parts, ignore_index=True)
    events = events.groupby(["eq", "t"], sort=True, as_index=False)[["up", "down", "maint"]].sum()

    eq = events["eq"].to_numpy()
    t = events["t"].to_numpy("int64")
    up = events["up"].to_numpy().cumsum()
    down = events["down"].to_numpy().cumsum()
    maint = events["maint"].to_numpy().cumsum()
    # Segment i runs from t[i] to t[i+1] within one equipment.
    seg_end = np.append(t[1:], t[-1] if len(t) else 0)
    same_eq_next = np.append(eq[1:] == eq[:-1], False)
    lo = np.clip(t, edges[0], edges[-1])
    hi = np.clip(seg_end, edges[0], edges[-1])
    valid = same_eq_next & (hi > lo)
    duration = np.where(valid, hi - lo, 0)
    window = np.clip(np.searchsorted(edges, lo, side="right") - 1, 0, max(n_windows - 1, 0))
    is_maint = maint > 0
    is_up = ~is_maint & (up > 0)
    is_down = ~is_maint & ~is_up & (down > 0)

    # An outage piece starts at a down segment whose predecessor (same equipment,
    # same window) is not down.
    down_valid = is_down & valid
    prev_down = np.append(False, down_valid[:-1]) & np.append(False, same_eq_next[:-1])
    prev_same_window = np.append(False, window[1:] == window[:-1])
    outage_start = down_valid & ~(prev_down & prev_same_window)

    key = eq * max(n_windows, 1) + window
    size = n_eq * max(n_windows, 1)
    uptime = np.bincount(key, weights=np.where(is_up, duration, 0), minlength=size)
    downtime = np.bincount(key, weights=np.where(is_down, duration, 0), minlength=size)
    maint_time = np.bincount(key, weights=np.where(is_maint, duration, 0), minlength=size)
    outages = np.bincount(key, weights=outage_start.astype("float64"), minlength=size).astype("int64")

    window_len = np.tile(np.diff(edges).astype("float64"), n_eq)
    known = uptime + downtime
    considered = window_len - maint_time
    with np.errstate(invalid="ignore", divide="ignore"):
        availability = np.where(known > 0, 100.0 * uptime / np.where(known > 0, known, 1), np.nan)
        coverage = np.where(considered > 0, 100.0 * known / np.where(considered > 0, considered, 1), np.nan)
        mtbf = np.where(outages > 0, uptime / np.maximum(outages, 1), np.nan)
        mttr = np.where(outages > 0, downtime / np.maximum(outages, 1), np.nan)
    return pd.DataFrame({
        "equipment_id": np.repeat(np.asarray(equipment_ids, dtype=object), max(n_windows, 1)),
        "window_start": _utc_times(np.tile(edges[:-1], n_eq)),
        "window_end": _utc_times(np.tile(edges[1:], n_eq)),
        "availability_pct": availability,
        "uptime_s": uptime / NS,
        "downtime_s": downtime / NS,
        "unknown_s": (considered - known) / NS,
        "maintenance_s": maint_time / NS,
        "outages": outages,
        "mtbf_s": mtbf / NS,
        "mttr_s": mttr / NS,
        "coverage_pct": coverage,
    })[SUMMARY_COLUMNS]


def _utc_times(ns: np.ndarray) -> pd.DatetimeIndex:
    # From datetime64 values: pandas converts plain int64 through a much slower path.
    return pd.to_datetime(np.asarray(ns, dtype="int64").view("datetime64[ns]"), utc=True)


def _positions(equipment: pd.Series, codes: dict[str, int]) -> np.ndarray:
    """Each row's equipment code (-1 for equipment not asked for), by one hash lookup
    of the whole column rather than one per row."""
    if not codes or equipment.empty:
        return np.full(len(equipment), -1, dtype="int64")
    at = pd.Index(list(codes)).get_indexer(equipment)
    values = np.fromiter(codes.values(), dtype="int64", count=len(codes))
    return np.where(at >= 0, values[at], -1)


def _interval_events(intervals: pd.DataFrame, codes: dict[str, int]) -> pd.DataFrame:
    position = _positions(intervals["equipment_id"], codes)
    keep = position >= 0
    eq = position[keep]
    state = intervals["state"].to_numpy()[keep]
    one_up = (state == 1).astype("int64")
    one_down = (state == 0).astype("int64")
    return pd.DataFrame({
        "eq": np.concatenate([eq, eq]),
        "t": np.concatenate([intervals["start"].to_numpy("int64")[keep], intervals["end"].to_numpy("int64")[keep]]),
        "up": np.concatenate([one_up, -one_up]),
        "down": np.concatenate([one_down, -one_down]),
        "maint": 0,
    })


def _maintenance_events(maintenance: pd.DataFrame, codes: dict[str, int]) -> pd.DataFrame:
    position = _positions(maintenance["equipment_id"], codes)
    keep = position >= 0
    eq = position[keep]
    ones = np.ones(len(eq), dtype="int64")
    return pd.DataFrame({
        "eq": np.concatenate([eq, eq]),
        "t": np.concatenate([maintenance["start"].to_numpy("int64")[keep], maintenance["end"].to_numpy("int64")[keep]]),
        "up": 0, "down": 0,
        "maint": np.concatenate([ones, -ones]),
    })
