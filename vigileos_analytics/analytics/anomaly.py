"""A general, causal anomaly scorer for one series (timestamp, value).

The scorer suits any metric read from a store or imported with ``vigileos import``:
it assumes nothing about the unit and learns the normal behaviour from the series'
own recent past. It is **causal**: the score at a point uses only that point and
the points before it, so it can run live and a prefix of a series scores exactly
like the start of the whole series.

Five detectors run side by side, each a robust statistic normalised so that 1.0
is its decision limit:

=============  =========================================================================
kind           statistic (windows are counted in points, ``p`` = :class:`AnomalyParams`)
=============  =========================================================================
``spike``      ``|x_t - median(previous p.local points)| / noise``, limit ``p.spike_z``;
               ``noise`` is the robust spread of point-to-point differences over the
               baseline window (insensitive to seasonality and slow trends)
``level``      ``|median(last p.short) - median(baseline)| / spread(baseline)``, limit
               ``p.level_z``; the baseline is the ``p.window`` points before the recent ones
``drift``      the same with the recent block ``p.drift`` points long and the baseline
               taken before it, limit ``p.drift_z`` (slow changes a short block misses)
``noise``      ``|log(noise_recent / noise_baseline)|``, limit ``log(p.noise_ratio)``
``stuck``      length of the current run of identical values, limit ``p.stuck_points``
               (lengthened when the baseline itself often repeats values)
=============  =========================================================================

Each statistic ``s`` becomes ``s**4 / (1 + s**4)`` (0.5 exactly at the limit) and the
point's score is the largest of the five, in [0, 1]. **The documented threshold is
:data:`THRESHOLD` = 0.5**: a point scores at least 0.5 exactly when one detector
passes its limit. Points in the warm-up (fewer than ``p.min_history`` earlier
points) score 0. Windows are counted in points, so the series should be roughly
regularly sampled (as store aggregates and collectors are); times are UTC.
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
KINDS = ("spike", "level", "drift", "noise", "stuck")
_MAD_TO_SIGMA = 1.4826
_DIFF_TO_SIGMA = _MAD_TO_SIGMA / np.sqrt(2.0)  # the difference of two noisy points has sqrt(2) x the spread


@dataclass(frozen=True)
class AnomalyParams:
    """Tuning of :func:`score_series`; windows in points, limits in robust standard deviations."""

    window: int = 144
    local: int = 5
    short: int = 6
    drift: int = 72
    drift_lag: int = 288
    noise_window: int = 48
    min_history: int = 144
    spike_z: float = 6.0
    level_z: float = 4.0
    drift_z: float = 5.0
    noise_ratio: float = 2.5
    stuck_points: int = 12

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            integer = f.type == "int"
            ok = isinstance(value, (int, np.integer)) and value >= 1 if integer else \
                isinstance(value, (int, float)) and np.isfinite(value) and value > (1 if f.name == "noise_ratio" else 0)
            if not ok or isinstance(value, bool):
                expected = "a whole number of points >= 1" if integer else \
                    ("a number above 1" if f.name == "noise_ratio" else "a positive number")
                raise ValidationError(f"AnomalyParams.{f.name} must be {expected}; got {value!r}.",
                                      field=f.name, value=value)
        if self.min_history < self.short + 2:
            raise ValidationError(f"AnomalyParams.min_history must be at least short + 2 = {self.short + 2} points; "
                                  f"got {self.min_history}.", field="min_history", value=self.min_history)


def _rolling_median(series: pd.Series, window: int, lag: int = 0, min_periods: int | None = None) -> pd.Series:
    """Median of the ``window`` points ending ``lag`` points before each point (causal)."""
    shifted = series.shift(lag) if lag else series
    return shifted.rolling(window, min_periods=min_periods or max(2, window // 2)).median()


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


def _statistics(values: np.ndarray, p: AnomalyParams) -> pd.DataFrame:
    """The five normalised statistics per point (NaN where there is too little history)."""
    x = pd.Series(values)
    diff = x.diff().abs()
    tiny = 1e-9 * max(1.0, float(np.nanmedian(np.abs(values))) if len(values) else 1.0)
    moving = diff.where(diff > tiny)  # repeats (a stuck sensor) must not shrink the noise scale
    # Noise scale from point-to-point differences over the baseline, excluding the recent block.
    noise_base = (_rolling_median(moving, p.window, lag=p.short) * _DIFF_TO_SIGMA).clip(lower=tiny)
    local = _rolling_median(x, p.local, lag=1, min_periods=1)
    jump = (x - local).abs()
    # A point's distance from its local median, scaled by how far points usually are.
    spike_scale = np.maximum(_rolling_median(jump.where(diff > tiny), p.window, lag=p.short) * _MAD_TO_SIGMA,
                             noise_base)
    spike = jump / spike_scale / p.spike_z

    base = _rolling_median(x, p.window, lag=p.short)
    spread = (_rolling_median((x - base).abs(), p.window, lag=p.short) * _MAD_TO_SIGMA)
    spread = np.maximum(spread, noise_base)
    level = (x.rolling(p.short).median() - base).abs() / spread / p.level_z

    # Drift: the recent block against a block one cycle (drift_lag points) earlier, so a
    # daily pattern compares like with like and a slow change has had time to add up.
    drift_base = _rolling_median(x, p.drift, lag=p.drift_lag)
    change = x.rolling(p.drift, min_periods=p.drift // 2).median() - drift_base
    # Scaled by how much that change usually is (its own robust spread, before the recent block),
    # floored by the noise a median of ``drift`` points still carries.
    drift_spread = np.maximum(_rolling_median(change.abs(), p.drift_lag, lag=p.drift) * _MAD_TO_SIGMA,
                              noise_base / np.sqrt(p.drift) * 2)
    drift = change.abs() / drift_spread / p.drift_z

    # Noise: only a rise is flagged (a collapse to repeats is the stuck detector's job).
    noise_recent = diff.rolling(p.noise_window, min_periods=p.noise_window // 2).median() * _DIFF_TO_SIGMA
    noise_old = _rolling_median(moving, p.window, lag=p.noise_window) * _DIFF_TO_SIGMA
    ratio = noise_recent.clip(lower=tiny) / noise_old.clip(lower=tiny)
    noise = np.log(ratio.clip(lower=1.0)) / np.log(p.noise_ratio)

    same = (diff <= tiny).astype("int64")
    run = same.groupby((same == 0).cumsum()).cumsum()  # points in the current run of repeats
    repeat_rate = same.shift(p.short).rolling(p.window, min_periods=2).mean()
    # Under independent repeats at rate q, a run of k has probability q**k: demand q**k < 1e-4.
    expected = np.log(1e-4) / np.log(repeat_rate.clip(lower=1e-6, upper=0.99))
    stuck = run / np.maximum(p.stuck_points, expected)

    stats = pd.DataFrame({"spike": spike, "level": level, "drift": drift, "noise": noise, "stuck": stuck})
    stats.iloc[: p.min_history] = np.nan
    return stats


def score_series(times: Any, values: Any, params: AnomalyParams | None = None) -> pd.DataFrame:
    """Score each point of one series in [0, 1] (causal; see the module docstring).

    ``times`` are timezone-aware datetimes or int ns (UTC), increasing; ``values`` are
    finite numbers in the metric's own unit. Returns ``time`` (UTC), ``value``,
    ``score`` and ``kind`` (the strongest detector, or "" below :data:`THRESHOLD`),
    plus one column per detector statistic (1.0 = at its limit).
    """
    p = params or AnomalyParams()
    index, x = _as_series(times, values)
    stats = _statistics(x, p)
    strongest = stats.fillna(0.0).to_numpy()
    peak = strongest.max(axis=1) if len(x) else np.zeros(0)
    score = peak ** 4 / (1.0 + peak ** 4)
    kind = np.where(score >= THRESHOLD, np.asarray(KINDS, dtype=object)[strongest.argmax(axis=1)]
                    if len(x) else np.zeros(0, dtype=object), "")
    out = pd.DataFrame({"time": index if index is not None else pd.RangeIndex(len(x)), "value": x,
                        "score": score, "kind": kind})
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
