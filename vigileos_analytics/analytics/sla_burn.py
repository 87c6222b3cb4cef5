"""SLA burn rates per equipment at many instants, for burn-rate alert rules.

At an instant ``e`` the burn rate over a window ``w`` is the *bad* seconds (unplanned,
plus degraded when the SLA's degraded rule counts it as down) in [e − w, e), over the
eligible seconds there (service time less planned), over the error-budget share
(1 − target): 1 spends the budget exactly by the end of any period.

The figures are what a check at ``e`` would see, even when the data were read up to a
later instant (a replay): an outage counts once it has lasted the SLA's minimum outage
(before that its time is up, as a blip's), and a degraded slot once it is complete.
One classification of the whole span (:func:`.sla.classify`) serves every instant:
cumulative sums at the window edges, with the few instants an outage or a slot was
still pending corrected from the same sums.
With degraded time counted as down, the seconds of an outage not yet as long as the
minimum are up for the check, so degraded where a breached slot complete by then
covers them: they are added back from the unplanned time inside breached slots.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from .sla import SlaRules
from .sla_sweep import NS, apply_minimum_outage, bucket_sums, classify, with_codes

__all__ = ["WindowSums", "burn_window_sums", "burn_rate"]

_NAMES = ("eligible", "up", "degraded", "unplanned", "spent", "down_slot")


@dataclass(frozen=True)
class WindowSums:
    """Seconds per (instant, equipment) in the window ending at each instant: ``spent``
    (bad), ``eligible`` (service less planned) and ``known`` (up, degraded or unplanned)."""

    spent_s: np.ndarray
    eligible_s: np.ndarray
    known_s: np.ndarray


def burn_rate(sums: WindowSums, target_pct: float) -> np.ndarray:
    """The burn rate of each window; NaN where the window holds no eligible time."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sums.eligible_s > 0, sums.spent_s / sums.eligible_s / (1 - target_pct / 100), np.nan)


def burn_window_sums(intervals: pd.DataFrame, equipment_ids: list[str], rules: SlaRules, ends: np.ndarray,
                     windows: Sequence[timedelta], *, maintenance: pd.DataFrame | None = None,
                     annotations: pd.DataFrame | None = None,
                     degraded: pd.DataFrame | None = None) -> dict[timedelta, WindowSums]:
    """Per window length, the :class:`WindowSums` at each of ``ends`` (int ns, increasing).

    The inputs are those of :func:`.sla.evaluate_sla`, covering at least
    [ends[0] − the longest window − the minimum outage, ends[-1])."""
    ends = np.asarray(ends, dtype="int64")
    widths = {w: int(w.total_seconds() * NS) for w in windows}
    minimum = int(rules.minimum_outage.total_seconds() * NS)
    lo, hi = int(ends[0]) - max(widths.values()) - minimum, int(ends[-1])
    pending = _pending(intervals, equipment_ids, rules, degraded, lo, hi)
    edges = np.unique(np.concatenate([ends, *(ends - width for width in widths.values()),
                                      np.clip(pending["start"].to_numpy("int64"), lo, hi), [lo, hi]]))
    seg, _, _ = classify(intervals, equipment_ids, rules, lo, hi, hi, edges, maintenance=maintenance,
                         annotations=annotations, degraded=degraded)
    bucket = np.clip(np.searchsorted(edges, seg["t"], side="right") - 1, 0, len(edges) - 2)
    per = bucket_sums(seg, bucket, len(equipment_ids), len(edges) - 1, _NAMES)
    # cumulative[name][eq, i]: nanoseconds of ``name`` before edges[i]
    cumulative = {name: np.hstack([np.zeros((len(equipment_ids), 1)), np.cumsum(v, axis=1)])
                  for name, v in per.items()}

    def between(name: str, eq: np.ndarray | slice, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
        c = cumulative[name]
        return c[eq, np.searchsorted(edges, stop)] - c[eq, np.searchsorted(edges, start)]

    out = {}
    at_end = np.searchsorted(edges, ends)
    for window, width in widths.items():
        start = np.searchsorted(edges, ends - width)
        sums = {name: (c[:, at_end] - c[:, start]).T for name, c in cumulative.items()}
        spent = sums["spent"].copy()
        if len(pending):
            k, eq, extra = _not_seen_yet(pending, ends, width, len(equipment_ids), between,
                                         rules.degraded is not None and rules.degraded.spends_budget)
            np.subtract.at(spent, (k, eq), extra)
        known = sums["up"] + sums["degraded"] + sums["unplanned"]
        out[window] = WindowSums(spent_s=np.maximum(spent, 0) / NS, eligible_s=sums["eligible"] / NS,
                                 known_s=known / NS)
    return out


def _not_seen_yet(pending: pd.DataFrame, ends: np.ndarray, width: int, n_eq: int, between: Callable,
                  spends: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(end index, equipment code, nanoseconds) to take from the spent time of the window
    ``width`` ending at each end, for what the full read counts but a check then would not."""
    item, k = _pairs(pending, ends)
    eq = pending["eq"].to_numpy()[item]
    start, column = pending["start"].to_numpy("int64")[item], pending["column"].to_numpy()[item]
    stop = ends[k]
    since = np.maximum(start, stop - width)
    extra = np.zeros(len(item))
    for name in ("unplanned", "degraded"):
        chosen = column == name
        extra[chosen] = between(name, eq[chosen], since[chosen], stop[chosen])
    outage = column == "unplanned"
    if spends and outage.any():
        # Up for the check: degraded (spent) inside breached slots, but not inside the
        # slot still pending at that end (at most one per equipment and end).
        slot = ~outage
        key = k * n_eq + eq
        order = np.argsort(key[slot], kind="stable")
        slot_keys, slot_starts = key[slot][order], start[slot][order]
        at = np.clip(np.searchsorted(slot_keys, key[outage]), 0, max(len(slot_keys) - 1, 0))
        found = (slot_keys[at] == key[outage]) if len(slot_keys) else np.zeros(int(outage.sum()), bool)
        pending_from = np.where(found, slot_starts[at] if len(slot_keys) else 0, stop[outage])
        lo, hi = since[outage], stop[outage]
        counted = between("down_slot", eq[outage], lo, hi) - between(
            "down_slot", eq[outage], np.minimum(np.maximum(lo, pending_from), hi), hi)
        extra[outage] -= counted
    return k, eq, extra


def _pending(intervals: pd.DataFrame, equipment_ids: list[str], rules: SlaRules, degraded: pd.DataFrame | None,
             lo: int, hi: int) -> pd.DataFrame:
    """What counts only from some instant on (``active``): an outage once it lasted the
    minimum (its time was up until then), a degraded slot once complete (when it spends the
    budget). ``column`` is the class its time has in the classification."""

    codes = pd.Index(equipment_ids, dtype=object)
    parts = []
    minimum = int(rules.minimum_outage.total_seconds() * NS)
    if minimum > 0:
        iv = with_codes(intervals, codes)
        _, runs = apply_minimum_outage(iv[(iv["end"] > lo) & (iv["start"] < hi)], rules.minimum_outage)
        parts.append(pd.DataFrame({"eq": runs["eq"].to_numpy("int64"), "start": runs["start"].to_numpy("int64"),
                                   "active": runs["start"].to_numpy("int64") + minimum, "column": "unplanned"}))
    if rules.degraded is not None and rules.degraded.spends_budget and degraded is not None and len(degraded):
        slots = with_codes(degraded, codes)
        parts.append(pd.DataFrame({"eq": slots["eq"].to_numpy("int64"), "start": slots["start"].to_numpy("int64"),
                                   "active": slots["end"].to_numpy("int64"), "column": "degraded"}))
    if not parts:
        return pd.DataFrame({"eq": pd.Series(dtype="int64"), "start": pd.Series(dtype="int64"),
                             "active": pd.Series(dtype="int64"), "column": pd.Series(dtype=object)})
    frame = pd.concat(parts, ignore_index=True)
    return frame[(frame["active"] > lo) & (frame["start"] < hi)].reset_index(drop=True)


def _pairs(pending: pd.DataFrame, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pending item, end index) for every end at which an item has started but is not active yet."""
    first = np.searchsorted(ends, pending["start"].to_numpy("int64"), side="left")
    stop = np.searchsorted(ends, pending["active"].to_numpy("int64"), side="left")
    counts = np.maximum(stop - first, 0)
    item = np.repeat(np.arange(len(pending)), counts)
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    return item, first[item] + np.arange(len(item)) - offsets
