"""Evaluate the causal anomaly scorer on series with labelled anomalies.

Five kinds (spikes, level shifts, slow drifts, changed noise, a stuck sensor) are
injected into noisy series with a daily cycle (5-minute points), plus clean series
for false alarms. An anomaly counts as detected when an anomaly window starts inside
its labelled span; precision is the share of anomaly windows that start inside a
labelled span or its 12-hour aftermath; the delay is from the anomaly's start to the first anomalous point.

    .venv/bin/python bench/eval_anomaly.py --series 40
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from vigileos_analytics.analytics.anomaly import THRESHOLD, anomaly_windows, score_series

STEP_MIN = 5
N = 1500
#: Windows starting up to this many points (12 h) after a labelled span are its aftermath
#: (the baseline still holds the anomaly), not separate false alarms.
AFTERMATH = 144
KINDS = ("spike", "level", "drift", "noise", "stuck", "none")


def labelled_series(kind: str, rng: np.random.Generator) -> tuple[np.ndarray, int, int]:
    """(values, label start, label end) with the anomaly of ``kind`` injected at a random point."""
    t = np.arange(N)
    sigma = 1.0
    noise = np.zeros(N)
    e = rng.normal(0, sigma, N)
    phi = rng.uniform(0.0, 0.5)
    for i in range(1, N):  # AR(1) noise: real metrics are mildly autocorrelated
        noise[i] = phi * noise[i - 1] + e[i]
    cycle = rng.uniform(0, 4) * np.sin(2 * np.pi * t / (24 * 60 / STEP_MIN) + rng.uniform(0, 6.3))
    x = 50 + cycle + noise
    a = int(rng.integers(600, 1100))
    if kind == "spike":
        x[a] += rng.choice([-1, 1]) * rng.uniform(8, 15)
        return x, a, a + 1
    if kind == "level":
        x[a:] += rng.choice([-1, 1]) * rng.uniform(4, 8)
        return x, a, a + 144
    if kind == "drift":
        x[a:] += (t[a:] - a) * rng.uniform(4, 8) / 300.0
        return x, a, N
    if kind == "noise":
        x[a:a + 200] += noise[a:a + 200] * (rng.uniform(3, 5) - 1)
        return x, a, a + 200
    if kind == "stuck":
        x[a:a + 60] = x[a]
        return x, a, a + 60
    return x, -1, -1


def evaluate(n_series: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    times = pd.date_range("2024-01-01", periods=N, freq=f"{STEP_MIN}min", tz="UTC").as_unit("ns")
    for kind in KINDS:
        hits = windows = good_windows = 0
        delays = []
        for _ in range(n_series):
            x, a, b = labelled_series(kind, rng)
            scored = score_series(times, x)
            found = anomaly_windows(scored)
            starts = np.searchsorted(times.asi8, found["start"].to_numpy("datetime64[ns]").astype("int64"))
            ends = np.searchsorted(times.asi8, found["end"].to_numpy("datetime64[ns]").astype("int64"))
            windows += len(found)
            if a < 0:
                continue
            inside = (ends >= a) & (starts < b + AFTERMATH)
            good_windows += int(inside.sum())
            if inside.any():
                hits += 1
                hot = np.flatnonzero(scored["score"].to_numpy()[a:b] >= THRESHOLD)
                delays.append(hot[0] * STEP_MIN)
        rows.append({
            "kind": kind, "series": n_series,
            "recall": hits / n_series if kind != "none" else np.nan,
            "precision": good_windows / windows if windows and kind != "none" else np.nan,
            "false windows / 1000 pts": (windows - good_windows) / (n_series * N) * 1000,
            "median delay (min)": float(np.median(delays)) if delays else np.nan,
            "mean delay (min)": float(np.mean(delays)) if delays else np.nan,
        })
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=40, help="series per kind")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    table = evaluate(args.series, args.seed)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"threshold {THRESHOLD}; {args.series} series of {N} points per kind; {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
