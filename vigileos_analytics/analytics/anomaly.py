"""A general, causal anomaly scorer for one series (timestamp, value).

The scorer suits any metric read from a store or imported with ``vigileos import``:
it assumes nothing about the unit and learns the normal behaviour from the series'
own recent past. It is **causal**: the score at a point uses only that point and
the points before it, so it can run live and a prefix of a series scores exactly
like the start of the whole series.

Four robust statistics (windows in points, ``p`` = :class:`AnomalyParams`), each a
distance in robust standard deviations from the median of the ``p.window`` points
before it; the scale is the larger of 1.4826 x MAD and 1.2533 x the mean absolute
deviation, so it is never 0 unless the baseline is constant:

=========  ==========================================================================
kind       statistic
=========  ==========================================================================
``level``  the point against the baseline of values
``spike``  the point-to-point difference against the baseline of differences
``shift``  the mean of the last ``p.smooth`` points against the baseline before them
``stuck``  the length of the current run of identical values (a series constant
           since its start, or over the last ``p.memory`` points, is not stuck)
=========  ==========================================================================

A statistic ``s`` becomes ``0.5 * min(s / limit, s / (p.novelty * m))``, where ``m`` is
its largest value over the previous ``p.memory`` points and ``limit`` is ``p.limit``
(``p.stuck_points`` for runs): a point reaches 0.5 only when it is both far from the
baseline and more extreme than anything recently seen, so daily cycles, regular
spikes and noisy metrics do not fire again and again. The score is the largest of
the four, in [0, 1]; **the documented threshold is :data:`THRESHOLD` = 0.5**. After
a point reaches it, the next ``p.refractory`` points are capped just below it (one
alert per episode; ``raw_score`` keeps the uncapped value). The first
``p.min_history`` points score 0; a constant series scores 0 everywhere.

Measured with the Numenta Anomaly Benchmark's own scorer on its realKnownCause and
artificial corpora (``bench/eval_anomaly.py --nab``; NAB standard / low-FP / low-FN,
threshold optimised by NAB; the rolling z-score reference of the same run in brackets):
overall 55.3 / 41.1 / 62.2 (14.9 / 4.9 / 21.9); realKnownCause 50.1 / 34.3 / 58.0
(23.5 / 11.1 / 27.9); artificialWithAnomaly 71.6 / 62.9 / 75.5 (-12.4 / -14.8 / 2.8); on
artificialNoAnomaly 0.01 % of points reach 0.5 (2 detections in 5 series; reference
0.09 %); NAB's optimised threshold is 0.508, so 0.5 is the working point. Scoring the
subset's 18 files (114 000 points) takes about 0.7 s.

Windows are counted in points, so the series should be roughly regularly sampled
(as store aggregates and collectors are); times are UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ValidationError

__all__ = ["THRESHOLD", "KINDS", "AnomalyParams", "score_series", "anomaly_windows", "detect_anomalies"]

#: Score at and above which a point is anomalous.
THRESHOLD = 0.5
KINDS = ("level", "spike", "shift", "stuck")
_BELOW = 0.49  # where the refractory period caps scores: just under THRESHOLD


@dataclass(frozen=True)
class AnomalyParams:
    """Tuning of :func:`score_series`; windows in points, limits in robust standard deviations.

    ``window``: baseline length; ``smooth``: points averaged by the ``shift`` statistic;
    ``memory``: how far back a statistic's recent maximum reaches; ``refractory``: points
    kept below the threshold after a detection; ``min_history``: warm-up scored 0;
    ``limit``: distance from the baseline that scores 0.5; ``novelty``: factor by which a
    statistic must beat its recent maximum to score 0.5; ``stuck_points``: run of identical
    values that scores 0.5.
    """

    window: int = 288
    smooth: int = 6
    memory: int = 576
    refractory: int = 144
    min_history: int = 288
    limit: float = 3.0
    novelty: float = 1.05
    stuck_points: int = 12

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            integer = f.type == "int"
            ok = isinstance(value, (int, np.integer)) and value >= 1 if integer else \
                isinstance(value, (int, float)) and np.isfinite(value) and value > (1 if f.name == "novelty" else 0)
            if not ok or isinstance(value, bool):
                expected = "a whole number of points >= 1" if integer else \
                    ("a number above 1" if f.name == "novelty" else "a positive number")
                raise ValidationError(f"AnomalyParams.{f.name} must be {expected}; got {value!r}.",
                                      field=f.name, value=value)
        if self.window < 3:
            raise ValidationError(f"AnomalyParams.window must be at least 3 points; got {self.window}.",
                                  field="window", value=self.window)


def _as_series(times: Any, values: Any) -> tuple[pd.DatetimeIndex, np.ndarray]:
    values = np.asarray(values, dtype="float64")
    index = pd.DatetimeIndex(pd.to_datetime(times, utc=True)).as_unit("ns") if times is not None else None
    if values.ndim != 1:
        raise ValidationError(f"values must be one-dimensional; got shape {values.shape}.", field="values")
    if index is not None and len(index) != len(values):
        raise ValidationError(f"times and values must have the same length; got {len(index)} and {len(values)}.",
                              field="times")
    if not np.isfinite(values).all():
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ValidationError(f"values must be finite numbers; got {values[bad]!r} at position {bad}. "
                              "Drop or fill missing values first.", field="values", value=values[bad])
    if index is not None and len(index) > 1 and (np.diff(index.asi8) < 0).any():
        raise ValidationError("times must be in increasing order; sort the series by time first.", field="times")
    return index, values



def _robust_z(x: pd.Series, baseline: pd.Series, window: int) -> pd.Series:
    """``|x - median(baseline)|`` in robust standard deviations of ``baseline`` over ``window`` points.

    ``baseline`` must already be lagged (causal). A constant baseline gives 0 for equal
    values and a very large distance (1e6) for any other.
    """
    roll = baseline.rolling(window, min_periods=max(3, window // 8))
    median = roll.median()
    dev = (baseline - median).abs()
    dev_roll = dev.rolling(window, min_periods=max(3, window // 8))
    scale = np.maximum(dev_roll.median() * 1.4826, dev_roll.mean() * 1.2533)
    distance = (x - median).abs()
    # Rolling sums leave rounding dust where the baseline is constant: treat it as 0.
    dust = 1e-12 * (1.0 + median.abs())
    constant = scale <= dust  # False where there is no baseline yet (NaN): those score 0
    z = (distance / scale.where(~constant)).where(~constant, (distance > dust) * 1e6)
    return z.fillna(0.0).clip(upper=1e6)


def _run_lengths(x: pd.Series, memory: int) -> pd.Series:
    """Points in the current run of identical values; 0 unless the series moved in the
    ``memory`` points before the run began (a constant metric is not a stuck one)."""
    same = (x.diff() == 0).to_numpy()
    moving = np.cumsum(~same)
    run = np.arange(len(x)) - np.maximum.accumulate(np.where(~same, np.arange(len(x)), 0))
    start = np.arange(len(x)) - run
    moved_before = moving[np.maximum(start - 1, 0)] - moving[np.maximum(start - 1 - memory, 0)]
    return pd.Series(np.where((moved_before > 0) & (start > 0), run, 0), dtype="float64")


def _statistics(values: np.ndarray, p: AnomalyParams) -> pd.DataFrame:
    """The four statistics per point (0 where there is no baseline yet)."""
    x = pd.Series(values)
    diff = x.diff()
    stats = pd.DataFrame({
        "level": _robust_z(x, x.shift(1), p.window),
        "spike": _robust_z(diff, diff.shift(1), p.window),
        "shift": _robust_z(x.rolling(p.smooth, min_periods=1).mean(), x.shift(p.smooth), p.window),
        "stuck": _run_lengths(x, p.memory),
    })
    return stats


def _novelty_scores(stats: pd.DataFrame, p: AnomalyParams) -> np.ndarray:
    """Per statistic, ``0.5 * min(s / limit, s / (novelty * recent max))`` in [0, 1]."""
    recent_max = stats.shift(1).rolling(p.memory, min_periods=1).max().fillna(0.0)
    limits = np.array([p.limit, p.limit, p.limit, float(p.stuck_points)])
    far = stats.to_numpy() / limits
    new = stats.to_numpy() / np.maximum(recent_max.to_numpy() * p.novelty, 1e-300)
    return np.clip(0.5 * np.minimum(far, new), 0.0, 1.0)


def _refractory(score: np.ndarray, points: int) -> np.ndarray:
    """Cap scores just below THRESHOLD for ``points`` points after each detection."""
    out = score.copy()
    last = -points - 1
    for i in np.flatnonzero(score >= THRESHOLD).tolist():  # candidates only: few per series
        if i - last <= points:
            out[i] = min(out[i], _BELOW)
        else:
            last = i
    return out


def score_series(times: Any, values: Any, params: AnomalyParams | None = None) -> pd.DataFrame:
    """Score each point of one series in [0, 1] (causal; see the module docstring).

    ``times`` are timezone-aware datetimes or int ns (UTC), increasing, or None (the
    ``time`` column is then the position); ``values`` are finite numbers in the
    metric's own unit. Returns ``time`` (UTC), ``value``, ``score``, ``raw_score``
    (before the refractory cap), ``kind`` (the strongest statistic, or "" below
    :data:`THRESHOLD`) and one ``stat_<kind>`` column per statistic.
    """
    p = params or AnomalyParams()
    index, x = _as_series(times, values)
    stats = _statistics(x, p)
    parts = _novelty_scores(stats, p) if len(x) else np.zeros((0, len(KINDS)))
    raw = parts.max(axis=1) if len(x) else np.zeros(0)
    raw[: p.min_history] = 0.0  # the warm-up still counts in the recent maxima
    score = _refractory(raw, p.refractory)
    kind = np.where(score >= THRESHOLD, np.asarray(KINDS, dtype=object)[parts.argmax(axis=1)]
                    if len(x) else np.zeros(0, dtype=object), "")
    out = pd.DataFrame({"time": index if index is not None else pd.RangeIndex(len(x)), "value": x,
                        "score": score, "raw_score": raw, "kind": kind})
    return pd.concat([out, stats.add_prefix("stat_").reset_index(drop=True)], axis=1)


def anomaly_windows(scored: pd.DataFrame, threshold: float = THRESHOLD, merge_gap: int = 3) -> pd.DataFrame:
    """Runs of points scoring at least ``threshold``, merged across gaps of at most
    ``merge_gap`` points: start, end (time of the last anomalous point), points,
    peak_time, peak_score, kind (the detector at the peak)."""
    if not 0 < threshold <= 1:
        raise ValidationError(f"threshold must be in (0, 1]; got {threshold!r}.", field="threshold", value=threshold)
    columns = ["start", "end", "points", "peak_time", "peak_score", "kind"]
    hot = np.flatnonzero(scored["score"].to_numpy() >= threshold)
    if len(hot) == 0:
        return pd.DataFrame({c: pd.Series(dtype=scored["time"].dtype if c in ("start", "end", "peak_time")
                                           else "float64" if c == "peak_score" else "int64" if c == "points"
                                           else object) for c in columns})
    group = np.concatenate([[0], np.cumsum(np.diff(hot) > merge_gap + 1)])
    frame = pd.DataFrame({"pos": hot, "group": group, "score": scored["score"].to_numpy()[hot]})
    first = frame.groupby("group")["pos"].agg(["min", "max", "size"])
    peak_pos = frame.loc[frame.groupby("group")["score"].idxmax(), "pos"].to_numpy()
    times, kinds = scored["time"].to_numpy(), scored["kind"].to_numpy()
    return pd.DataFrame({
        "start": scored["time"].iloc[first["min"].to_numpy()].to_numpy(),
        "end": times[first["max"].to_numpy()],
        "points": first["size"].to_numpy(),
        "peak_time": times[peak_pos],
        "peak_score": scored["score"].to_numpy()[peak_pos],
        "kind": kinds[peak_pos],
    }, columns=columns)


def detect_anomalies(times: Any, values: Any, params: AnomalyParams | None = None,
                     threshold: float = THRESHOLD) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score a series and return ``(scored points, anomaly windows)``."""
    scored = score_series(times, values, params)
    return scored, anomaly_windows(scored, threshold)
