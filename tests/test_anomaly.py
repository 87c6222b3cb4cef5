"""The causal anomaly scorer: causality and score range (hypothesis), detection of each
kind at the injected position, few false alarms on clean data, clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigileos_analytics.analytics.anomaly import (
    THRESHOLD,
    AnomalyParams,
    anomaly_windows,
    detect_anomalies,
    score_series,
)
from vigileos_analytics.errors import ValidationError

SMALL = AnomalyParams(window=20, local=3, short=3, drift=6, drift_lag=12, noise_window=6, min_history=10,
                      stuck_points=5)
N = 1200
TIMES = pd.date_range("2024-01-01", periods=N, freq="5min", tz="UTC")


def clean(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(N)
    return 50 + 2 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 1, N)


values = st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
                  min_size=1, max_size=80)


@settings(max_examples=60, deadline=None)
@given(values, st.integers(min_value=1, max_value=80), st.booleans())
def test_scores_of_a_prefix_equal_the_first_scores_of_the_whole(xs, cut, repeat_some) -> None:
    if repeat_some and len(xs) > 4:
        xs = xs[:2] + [xs[2]] * 6 + xs[3:]  # runs of repeats exercise the stuck detector
    cut = min(cut, len(xs))
    times = pd.date_range("2024-01-01", periods=len(xs), freq="1min", tz="UTC")
    whole = score_series(times, xs, SMALL)
    prefix = score_series(times[:cut], xs[:cut], SMALL)
    np.testing.assert_allclose(prefix["score"].to_numpy(), whole["score"].to_numpy()[:cut], rtol=1e-9, atol=1e-12)
    assert ((whole["score"] >= 0) & (whole["score"] <= 1)).all()


def test_prefix_equality_with_default_parameters_on_a_long_series() -> None:
    x = clean()
    x[700:760] = x[700]
    whole = score_series(TIMES, x)["score"].to_numpy()
    for cut in (150, 500, 731, 1000):
        np.testing.assert_allclose(score_series(TIMES[:cut], x[:cut])["score"].to_numpy(), whole[:cut], atol=1e-12)


def _first_alarm_at_or_after(x: np.ndarray, start: int) -> int:
    score = score_series(TIMES, x)["score"].to_numpy()
    hot = np.flatnonzero(score[start:] >= THRESHOLD)
    return int(hot[0]) if len(hot) else -1


def test_a_spike_is_flagged_at_its_own_point() -> None:
    x = clean()
    x[640] += 12.0
    scored, windows = detect_anomalies(TIMES, x)
    assert scored["score"].iloc[640] >= THRESHOLD and scored["kind"].iloc[640] == "spike"
    assert (windows["start"] <= TIMES[640]).any() and (windows["kind"] == "spike").any()


def test_level_shift_noise_rise_and_stuck_sensor_are_found_soon_after_they_start() -> None:
    shift = clean()
    # The baseline's values spread about sqrt(1 + 2**2 / 2) = 1.7 (noise and daily cycle);
    # 4 of those is the level limit, so a shift of 10 is clearly beyond it.
    shift[600:] += 10.0
    assert 0 <= _first_alarm_at_or_after(shift, 600) <= 6
    noisy = clean()
    noisy[600:800] += np.random.default_rng(9).normal(0, 4, 200)
    assert 0 <= _first_alarm_at_or_after(noisy, 600) <= 48
    stuck = clean()
    stuck[600:680] = stuck[600]
    # 12 identical points is the stuck limit: the 13th point of the run (a 12-step run) is flagged.
    assert _first_alarm_at_or_after(stuck, 600) == 12


def test_a_slow_drift_is_found_before_it_is_large() -> None:
    x = clean()
    x[500:] += (np.arange(N - 500)) * 6.0 / 300  # +6 standard deviations after 25 h
    delay = _first_alarm_at_or_after(x, 500)
    assert 0 <= delay <= 300


def test_clean_series_raise_few_false_alarms() -> None:
    flagged = sum(int((score_series(TIMES, clean(seed))["score"] >= THRESHOLD).sum()) for seed in range(5))
    assert flagged / (5 * N) < 0.005


def test_warm_up_points_score_zero() -> None:
    x = clean()
    x[10] += 100
    assert (score_series(TIMES, x)["score"].iloc[: AnomalyParams().min_history] == 0).all()


def test_windows_are_runs_of_scores_at_or_above_the_threshold() -> None:
    scored = pd.DataFrame({"time": TIMES[:12], "score": [0, .6, .7, 0, 0, 0, 0, 0, .9, 0, .55, 0],
                           "kind": ["", "spike", "level", "", "", "", "", "", "stuck", "", "noise", ""]})
    windows = anomaly_windows(scored, merge_gap=1)
    assert windows["start"].tolist() == [TIMES[1], TIMES[8]]
    assert windows["end"].tolist() == [TIMES[2], TIMES[10]]
    assert windows["points"].tolist() == [2, 2] and windows["kind"].tolist() == ["level", "stuck"]
    assert anomaly_windows(scored.assign(score=0.0)).empty


@pytest.mark.parametrize("times, values, field", [
    (TIMES[:3], [1.0, float("nan"), 2.0], "values"),
    (TIMES[:3][::-1], [1.0, 2.0, 3.0], "times"),
    (TIMES[:2], [1.0, 2.0, 3.0], "times"),
])
def test_bad_series_are_refused_with_the_field_named(times, values, field) -> None:
    with pytest.raises(ValidationError) as info:
        score_series(times, values)
    assert info.value.field == field


def test_bad_parameters_name_the_parameter() -> None:
    with pytest.raises(ValidationError, match="window"):
        AnomalyParams(window=0)
    with pytest.raises(ValidationError, match="noise_ratio"):
        AnomalyParams(noise_ratio=1.0)
