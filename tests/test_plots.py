"""vigileos_analytics.plots: the one implementation of the charts, its service-level calls on
a real DuckDB store, the downsampling of long curves, and the notebook explorer."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vigileos_analytics import EquipmentAnalyticsService, EquipmentMetricsService, ValidationError, open_store
from vigileos_analytics.i18n import Translator
from vigileos_analytics.theme import STATUS_COLOURS

DAY = datetime(2024, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
INVENTORY = pd.DataFrame({"equipment_id": ["EQ-1", "EQ-2"], "name": ["Pump", "Fan"], "type": ["machine", "machine"],
                          "location": ["Lyon", "Lyon"]})


@pytest.fixture
def service(tmp_path: Path) -> EquipmentAnalyticsService:
    """Two equipment over 2024-01-01 (UTC). EQ-1: operational, offline 06:00-12:00, operational
    again; available every hour but 06:00-11:00 (18 of 24 h: 75 %); CPU 10 and 30 % in the
    00:00 hour, 50 % at 01:10. EQ-2: operational and available all day (100 %)."""
    store = open_store(f"duckdb:///{tmp_path / 'metrics.duckdb'}")
    recorder = EquipmentMetricsService(store)
    recorder.record_status_change("EQ-1", "offline", "operational", time=DAY)
    recorder.record_status_change("EQ-1", "operational", "offline", time=DAY + 6 * HOUR)
    recorder.record_status_change("EQ-1", "offline", "operational", time=DAY + 12 * HOUR)
    recorder.record_status_change("EQ-2", "offline", "operational", time=DAY)
    for hour in range(24):
        recorder.record_availability("EQ-1", not 6 <= hour < 12, time=DAY + hour * HOUR)
        recorder.record_availability("EQ-2", True, time=DAY + hour * HOUR)
    for minutes, cpu in ((10, 10.0), (40, 30.0), (70, 50.0)):
        recorder.record_metric("EQ-1", "cpu_usage", cpu, time=DAY + timedelta(minutes=minutes))
    recorder.close()
    return EquipmentAnalyticsService(store, inventory=INVENTORY, staleness=HOUR)


# -- downsampling --------------------------------------------------------------------------


def _columns_series() -> tuple[np.ndarray, np.ndarray]:
    """10,000 points, 100 columns of 100: in column c the values are c, except c + 1000 at
    offset 37 and c - 1000 at offset 71; 3 at the first point and -3 at the last."""
    x = np.arange(10_000)
    y = (x // 100).astype(float)
    y[x % 100 == 37] += 1000
    y[x % 100 == 71] -= 1000
    y[0], y[-1] = 3.0, -3.0
    return x, y


def test_downsampling_keeps_each_columns_extremes_and_both_ends():
    from vigileos_analytics.plots import downsample_minmax

    x, y = _columns_series()
    kept_x, kept_y = downsample_minmax(x, y, columns=100)
    expected = sorted({0, 9_999} | {100 * c + 37 for c in range(100)} | {100 * c + 71 for c in range(100)})
    assert kept_x.tolist() == expected
    assert len(kept_x) == 202 <= 2 * 100 + 2
    assert kept_y[kept_x.tolist().index(5_037)] == 1050.0 and kept_y[kept_x.tolist().index(5_071)] == -950.0
    assert (kept_y[0], kept_y[-1]) == (3.0, -3.0)


def test_downsampling_works_on_times_and_leaves_short_curves_alone():
    from vigileos_analytics.plots.downsample import downsample_index

    x, y = _columns_series()
    times = pd.Series(pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(x, unit="s"))
    assert downsample_index(times, y, columns=100).tolist() == downsample_index(x, y, columns=100).tolist()
    assert downsample_index(x[:200], y[:200], columns=100).tolist() == list(range(200))  # 2 a column: all kept
    with_gaps = y.copy()
    with_gaps[5_037] = np.nan  # a gap where column 50's maximum was: one of its next highest (50) is kept
    kept = downsample_index(x, with_gaps, columns=100).tolist()
    column_50 = [k for k in kept if 5_000 <= k < 5_100]
    assert len(column_50) == 2 and column_50[0] == 5_071 and with_gaps[column_50[1]] == 50.0 and len(kept) == 202


def test_a_long_performance_curve_sends_at_most_two_points_a_column_with_its_peak():
    from vigileos_analytics.plots import charts

    times = pd.date_range("2024-01-01", periods=8_760, freq="h", tz="UTC")  # a year, hourly
    mean = np.full(len(times), 40.0)
    mean[4_000] = 97.5
    series = pd.DataFrame({"metric_type": "cpu_usage", "time": times, "mean": mean, "max": mean + 5})
    figure = charts.performance(series, Translator("en"), {"cpu_usage": 85.0})
    highest, average = figure.data
    assert len(highest.y) <= 2_002 and len(average.y) <= 2_002
    assert max(average.y) == 97.5 and max(highest.y) == 102.5
    naive = times.tz_localize(None)  # plotly holds UTC times without their zone
    assert pd.Timestamp(average.x[list(average.y).index(97.5)]) == naive[4_000]
    assert pd.Timestamp(average.x[0]) == naive[0] and pd.Timestamp(average.x[-1]) == naive[-1]


# -- one implementation ----------------------------------------------------------------------


def test_reports_and_dashboards_draw_with_the_plots_builders():
    from vigileos_analytics.dashboards import figures
    from vigileos_analytics.plots import charts, layout
    from vigileos_analytics.reports import charts as report_charts

    for name in ("availability_ranking", "daily_heatmap", "state_timeline", "daily_lines", "comparison_bars",
                 "trend_heatmap", "trend_lines"):
        assert getattr(report_charts, name) is getattr(charts, name), name
    assert figures.to_plotly_json is layout.to_plotly_json and figures.PLOTLY_MIME == layout.PLOTLY_MIME
    package = Path(charts.__file__).parent
    for module in sorted(package.glob("*.py")):  # every colour from the theme
        assert re.findall(r"#[0-9a-fA-F]{6}\b", module.read_text(encoding="utf-8")) == [], module.name


def test_importing_the_plots_package_or_the_units_does_not_load_plotly():
    script = ("import sys, vigileos_analytics, vigileos_analytics.plots, vigileos_analytics.plots.labels\n"
              "assert 'plotly' not in sys.modules and 'ipywidgets' not in sys.modules\n"
              "print(callable(vigileos_analytics.explore), 'plotly' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]  # the explorer, once asked for, brings plotly


# -- from the service, on a real store -------------------------------------------------------


def test_state_timeline_from_the_service(service):
    from vigileos_analytics import plots

    figure = plots.state_timeline(service, "EQ-1", "2024-01-01", "2024-01-02")
    bars = {trace.name: trace for trace in figure.data}
    assert sorted(bars) == ["Offline", "Operational"]
    operational, offline = bars["Operational"], bars["Offline"]
    assert [pd.Timestamp(b) for b in operational.base] == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-01 12:00")]
    assert list(operational.x) == [6 * 3_600_000, 12 * 3_600_000] and list(offline.x) == [6 * 3_600_000]
    assert list(operational.y) == ["Pump", "Pump"] and operational.marker.color == STATUS_COLOURS["operational"]
    both = plots.state_timeline(service, None, "2024-01-01", "2024-01-02", language="fr")
    assert {y for trace in both.data for y in trace.y} == {"Pump", "Fan"}
    assert both.layout.title.text == Translator("fr").t("charts.timeline")


def test_performance_from_the_service_draws_hourly_mean_max_and_threshold(service):
    from vigileos_analytics import plots

    figure = plots.performance(service, "EQ-1", "2024-01-01", "2024-01-02")
    highest, mean = figure.data  # only CPU has points
    assert list(highest.y) == [30.0, 50.0] and list(mean.y) == [20.0, 50.0]
    assert [pd.Timestamp(t) for t in mean.x] == [pd.Timestamp("2024-01-01 00:00"), pd.Timestamp("2024-01-01 01:00")]
    assert [shape.y0 for shape in figure.layout.shapes] == [85.0]  # the theme's CPU threshold
    own = plots.performance(service, "EQ-1", "2024-01-01", "2024-01-02", thresholds={"cpu_usage": 25})
    assert [shape.y0 for shape in own.layout.shapes] == [25.0]
    empty = plots.performance(service, "EQ-2", "2024-01-01", "2024-01-02")
    assert [a.text for a in empty.layout.annotations] == [Translator("en").t("common.no_rows")]


def test_availability_ranking_and_daily_heatmap_from_the_service(service):
    from vigileos_analytics import plots

    ranking = plots.availability_ranking(service, "2024-01-01", "2024-01-02")
    bars = ranking.data[0]
    assert list(bars.y) == ["Pump (EQ-1)", "Fan (EQ-2)"]  # plotly draws the first at the bottom: best on top
    assert list(bars.x) == pytest.approx([75.0, 100.0])
    assert list(bars.marker.color) == [STATUS_COLOURS["offline"], STATUS_COLOURS["operational"]]  # target 99 %
    heatmap = plots.daily_heatmap(service, "2024-01-01", "2024-01-02").data[0]
    assert list(heatmap.y) == ["Pump (EQ-1)", "Fan (EQ-2)"]
    assert [row[0] for row in heatmap.z] == pytest.approx([75.0, 100.0]) and heatmap.x == ("2024-01-01",)


@pytest.mark.parametrize(("call", "field"), [
    (lambda plots, s: plots.state_timeline(s, "EQ-9", "2024-01-01", "2024-01-02"), "equipment_id"),
    (lambda plots, s: plots.performance(s, "EQ-1", "2024-01-02", "2024-01-01"), "start_time"),
    (lambda plots, s: plots.performance(s, "EQ-1", "2024-01-01", datetime(9999, 1, 1, tzinfo=UTC)), "end"),
    (lambda plots, s: plots.availability_ranking(s, "yesterday-ish", "2024-01-02"), "start"),
    (lambda plots, s: plots.daily_heatmap(s, "2024-01-01", "2024-01-02", language="de"), "language"),
    (lambda plots, s: plots.state_timeline(s, None, datetime(2024, 1, 1), "2024-01-02"), "start"),  # naive
    (lambda plots, s: plots.trend_heatmap(s, "2024-01-02", window_days=0), "window_days"),
])
def test_bad_arguments_raise_a_validation_error(service, call, field):
    from vigileos_analytics import plots

    with pytest.raises(ValidationError) as raised:
        call(plots, service)
    assert raised.value.field == field


# -- the explorer ----------------------------------------------------------------------------


def test_explorer_builds_and_follows_its_pickers(service):
    from vigileos_analytics import explore
    from vigileos_analytics.plots.layout import PLOTLY_MIME

    explorer = explore(service, start="2024-01-01", end=date(2024, 1, 1))
    assert [label for label, _ in explorer.equipment.options] == ["EQ-1 — Pump", "EQ-2 — Fan"]
    assert explorer.period() == (DAY, DAY + 24 * HOUR)  # the last day is included
    assert sorted(explorer.figures) == ["performance", "ranking", "timeline"] and explorer.message == ""
    assert [o["output_type"] for o in explorer.output.outputs] == ["display_data"] * 3
    drawn = [o["data"][PLOTLY_MIME] for o in explorer.output.outputs]
    assert {y for trace in drawn[0]["data"] for y in trace["y"]} == {"Pump"}

    explorer.equipment.value = "EQ-2"  # what a pick in the dropdown does
    assert {y for trace in explorer.figures["timeline"].data for y in trace.y} == {"Fan"}
    explorer.end.value = date(2023, 12, 31)  # before the first day
    assert explorer.figures == {} and explorer.message == Translator("en").t("explore.bad_period")
    assert explorer.output.outputs[0]["text"].strip() == explorer.message
    explorer.end.value = date(2024, 1, 1)
    assert sorted(explorer.figures) == ["performance", "ranking", "timeline"]


def test_explorer_speaks_french_and_shows_a_store_problem_as_a_sentence(service):
    from vigileos_analytics.plots import Explorer

    explorer = Explorer(service, start="2024-01-01", end="2024-01-01", language="fr")
    assert explorer.equipment.description == "Équipement" and explorer.end.description == "Au (inclus)"
    explorer.start.value = date(1500, 1, 1)  # outside the time range vigileos stores
    assert explorer.figures == {} and "outside the time range" in explorer.message
    explorer.start.value, explorer.end.value = date(2024, 1, 1), date.max
    assert explorer.figures == {} and "outside the time range" in explorer.message
    with pytest.raises(ValidationError):
        Explorer(service, start=datetime(2024, 1, 1))  # naive: refused as everywhere in the Python API
