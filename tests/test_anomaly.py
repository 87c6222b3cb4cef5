"""The causal anomaly scorer: causality and score range (hypothesis), quiet on constant,
short and clean series, detection of spikes, shifts and a stuck sensor, clear errors."""

from __future__ import annotations

from pathlib import Path

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

SMALL = AnomalyParams(window=20, smooth=3, memory=40, refractory=10, min_history=10, stuck_points=5)
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
        xs = xs[:2] + [xs[2]] * 6 + xs[3:]  # runs of repeats exercise the stuck statistic
    cut = min(cut, len(xs))
    times = pd.date_range("2024-01-01", periods=len(xs), freq="1min", tz="UTC")
    whole = score_series(times, xs, SMALL)
    prefix = score_series(times[:cut], xs[:cut], SMALL)
    np.testing.assert_allclose(prefix["score"].to_numpy(), whole["score"].to_numpy()[:cut], rtol=1e-9, atol=1e-12)
    assert ((whole["score"] >= 0) & (whole["score"] <= 1)).all()


def test_prefix_equality_with_default_parameters_on_a_long_series() -> None:
    x = clean()
    x[700:760] = x[700]
    x[900] += 15
    whole = score_series(TIMES, x)["score"].to_numpy()
    for cut in (150, 500, 731, 901, 1000):
        np.testing.assert_allclose(score_series(TIMES[:cut], x[:cut])["score"].to_numpy(), whole[:cut], atol=1e-12)


def test_a_constant_series_scores_zero_everywhere() -> None:
    for level in (0.0, 42.5, -1e6):
        scored = score_series(TIMES, np.full(N, level))
        assert (scored["score"] == 0).all() and (scored["raw_score"] == 0).all()


def test_a_short_series_without_a_baseline_scores_low_and_never_nan() -> None:
    x = clean()[:100]  # shorter than the default warm-up (min_history = 288 points)
    x[50] += 100
    for n in (0, 1, 2, 5, 100):
        score = score_series(TIMES[:n], x[:n])["score"]
        assert not score.isna().any() and (score < THRESHOLD).all()


def test_a_clean_spike_after_a_long_stable_stretch_is_flagged_at_its_own_point() -> None:
    x = clean()
    x[640] += 12.0
    scored, windows = detect_anomalies(TIMES, x)
    assert scored["score"].iloc[640] >= THRESHOLD and scored["kind"].iloc[640] in ("level", "spike")
    assert (windows["start"] == TIMES[640]).any()


def test_a_level_shift_and_a_stuck_sensor_are_found_soon_after_they_start() -> None:
    shift = clean()
    shift[600:] += 10.0
    hot = np.flatnonzero(score_series(TIMES, shift)["score"].to_numpy()[600:] >= THRESHOLD)
    assert len(hot) and hot[0] <= 6
    stuck = clean()
    stuck[600:680] = stuck[600]
    scored = score_series(TIMES, stuck)
    hot = np.flatnonzero(scored["score"].to_numpy()[600:] >= THRESHOLD)
    # 12 identical points is the stuck limit, reached at the 13th point of the run.
    assert len(hot) and hot[0] == 12 and scored["kind"].iloc[612] == "stuck"


def test_noisy_series_without_anomalies_have_few_points_at_the_threshold() -> None:
    """A point reaches the threshold only as a new maximum of its statistic over the last
    ``memory`` points (576) and beyond 3 robust SDs: in Gaussian noise that is about one
    point in several hundred at most, and the refractory period keeps it from repeating,
    so 0.2 % (2.4 points per 1200) is a loose bound."""
    flagged = sum(int((score_series(TIMES, clean(seed))["score"] >= THRESHOLD).sum()) for seed in range(5))
    assert flagged / (5 * N) < 0.002


def test_the_scorer_beats_the_rolling_z_score_reference_on_a_labelled_case() -> None:
    """Daily cycle with regular load spikes (normal) and one level shift at 900 (labelled
    900-960): the reference (|z| / 8 over 288 points) flags the regular spikes too."""
    x = clean()
    x[100::100] += 30.0  # from the warm-up on: regular, hence normal
    x[900:] += 8.0
    label = np.zeros(N, dtype=bool)
    label[900:960] = True
    roll = pd.Series(x).rolling(288, min_periods=2)
    reference = np.nan_to_num(np.clip(((pd.Series(x) - roll.mean()) / roll.std()).abs().to_numpy() / 8, 0, 1))
    ours = score_series(TIMES, x)["score"].to_numpy()

    def f_score(score: np.ndarray) -> float:
        hot = score >= THRESHOLD
        true_pos = float((hot & label).any())
        false_pos = int((hot & ~label).sum())
        return 2 * true_pos / (2 * true_pos + false_pos + (1 - true_pos))

    assert f_score(ours) == 1.0
    assert f_score(ours) > f_score(reference)


def test_few_points_reach_the_threshold_on_a_nab_series_without_anomalies() -> None:
    """NAB's art_daily_small_noise (MIT licence): a daily cycle with noise, no anomaly."""
    path = Path(__file__).resolve().parents[1].parent / "shared/benchmarks/nab/data/artificialNoAnomaly" \
        / "art_daily_small_noise.csv"
    if not path.exists():
        pytest.skip(f"the NAB subset is not at {path}")
    frame = pd.read_csv(path)
    score = score_series(pd.to_datetime(frame["timestamp"]).dt.tz_localize("UTC"), frame["value"])["score"]
    assert (score >= THRESHOLD).mean() < 0.001  # at most 4 of 4032 points


def test_windows_are_runs_of_scores_at_or_above_the_threshold() -> None:
    scored = pd.DataFrame({"time": TIMES[:12], "score": [0, .6, .7, 0, 0, 0, 0, 0, .9, 0, .55, 0],
                           "kind": ["", "spike", "level", "", "", "", "", "", "stuck", "", "shift", ""]})
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
    with pytest.raises(ValidationError, match="novelty"):
        AnomalyParams(novelty=1.0)
