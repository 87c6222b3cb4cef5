"""Trend slopes, threshold breaches and worsening equipment on series with known answers,
and on a real store filled by the simulator."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from vigileos_analytics.analytics.service import EquipmentAnalyticsService
from vigileos_analytics.analytics.trends import analyze_trends, slopes, threshold_breaches, worsening
from vigileos_analytics.ingest.simulate import FleetSpec
from vigileos_analytics.ingest.simulation_io import simulate_into_store
from vigileos_analytics.stores import open_store

END = datetime(2024, 1, 31, tzinfo=UTC)


def _series(values_per_eq: dict[tuple[str, str], np.ndarray], every_h: float = 1.0) -> pd.DataFrame:
    frames = []
    for (eq, metric), values in values_per_eq.items():
        times = pd.Timestamp(END) - pd.to_timedelta(np.arange(len(values))[::-1] * every_h + every_h, unit="h")
        frames.append(pd.DataFrame({"equipment_id": eq, "metric_type": metric, "time": times, "mean": values,
                                    "max": values, "window_s": every_h * 3600}))
    return pd.concat(frames, ignore_index=True)


def test_slopes_recover_known_lines() -> None:
    hours = np.arange(30 * 24)
    series = _series({("A", "cpu_usage"): 20 + 0.5 * hours / 24,        # +0.5 %/day
                      ("B", "cpu_usage"): np.full(len(hours), 40.0),    # flat
                      ("A", "availability"): 99.0 - 0.1 * hours / 24})  # falling
    out = slopes(series, END, (7, 30)).set_index(["equipment_id", "metric_type", "window_days"])
    assert out.loc[("A", "cpu_usage", 7), "slope_per_day"] == pytest.approx(0.5)
    assert out.loc[("A", "cpu_usage", 30), "change"] == pytest.approx(15.0)
    assert out.loc[("B", "cpu_usage", 30), "slope_per_day"] == pytest.approx(0.0, abs=1e-9)
    assert out.loc[("A", "cpu_usage", 7), "points"] == 7 * 24
    worse = worsening(slopes(series, END, (7, 30)), min_change_pct=5)
    assert set(zip(worse["equipment_id"], worse["metric_type"], strict=True)) == {("A", "cpu_usage")}
    # availability falls 3 points over 30 days on ~97.5: about 3 %, under the 5 % bar; at 2 % it counts.
    worse2 = worsening(slopes(series, END, (7, 30)), min_change_pct=2)
    assert ("A", "availability") in set(zip(worse2["equipment_id"], worse2["metric_type"], strict=True))


def test_threshold_breaches_count_time_beyond() -> None:
    values = np.array([50, 90, 95, 60, 91], dtype=float)
    series = _series({("A", "cpu_usage"): values, ("A", "availability"): np.array([100, 98.0, 99.5])})
    out = threshold_breaches(series, {"cpu_usage": 85, "availability": 99}).set_index("metric_type")
    assert out.loc["cpu_usage", "breach_windows"] == 3
    assert out.loc["cpu_usage", "breach_s"] == 3 * 3600
    assert out.loc["cpu_usage", "worst"] == 95
    assert out.loc["availability", "breach_windows"] == 1 and out.loc["availability", "worst"] == 98.0


def test_analyze_trends_on_a_simulated_store(tmp_path) -> None:
    store = open_store(f"duckdb:///{tmp_path / 'm.duckdb'}")
    spec = FleetSpec(equipment=3, days=8, end=END, seed=5, gaps_per_month=0.0)
    fleet = simulate_into_store(store, spec, tmp_path / "inv.csv", progress=False).fleet
    service = EquipmentAnalyticsService(store, inventory=tmp_path / "inv.csv")
    analysis = analyze_trends(service, fleet.inventory["equipment_id"].tolist(), END, {"cpu_usage": 85})
    hourly = analysis.series[analysis.series["metric_type"] == "cpu_usage"]
    # 8 days of hourly windows per equipment, fewer only where the equipment was down a whole hour.
    assert hourly.groupby("equipment_id").size().between(8 * 24 - 48, 8 * 24).all()
    assert set(analysis.trends["window_days"]) == {7, 30}
    assert analysis.trends["slope_per_day"].notna().all()
