"""Rich notebook display: availability results, fleet tables and alert lists as HTML,
and their plain-text repr as before.

IPython's own display formatter is what Jupyter calls, so the tests ask it for the
HTML and the text, as a notebook would.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from IPython.core.formatters import DisplayFormatter

from vigileos_analytics import AvailabilityResult, show
from vigileos_analytics.analytics.alert_rules import parse_rules
from vigileos_analytics.analytics.alerts import check_alerts, list_alerts, replay_alerts
from vigileos_analytics.analytics.html_display import LOW_COVERAGE_PCT, RichDisplay
from vigileos_analytics.analytics.service import EquipmentAnalyticsService
from vigileos_analytics.errors import ValidationError

T0 = datetime(2024, 1, 1, tzinfo=UTC)
NBSP = "\u00a0"  # the catalogue's space before %: a percentage never breaks across lines


def formats(value) -> dict:
    data, _ = DisplayFormatter().format(value)
    return data


def result(**fields) -> AvailabilityResult:
    """A day of one equipment: 7,740 s of downtime is 2 h 09 min; 99.5 % available."""
    base = dict(equipment_id="EQ-1", start=T0, end=T0 + timedelta(days=1), availability_pct=99.5,
                uptime_s=1_540_260.0, downtime_s=7_740.0, unknown_s=6_000.0, maintenance_s=0.0, outages=3,
                mtbf_s=513_420.0, mttr_s=2_580.0, coverage_pct=85.0, samples=1_380)
    return AvailabilityResult(**{**base, **fields})


def test_an_availability_result_shows_durations_percentages_and_low_coverage() -> None:
    html = formats(result())["text/html"]
    assert "Availability of EQ-1" in html
    assert "2024-01-01 00:00 to 2024-01-02 00:00 (UTC)" in html
    assert f"99.50{NBSP}%" in html
    assert "2 h 09 min" in html          # downtime
    assert "43 min" in html              # MTTR, 2,580 s
    assert "5 d 22 h" in html            # MTBF, 513,420 s
    assert f"85.00{NBSP}%" in html and "low coverage" in html
    assert f"Coverage below 90{NBSP}%" in html
    assert "1,380" in html               # samples


def test_coverage_at_the_threshold_is_not_flagged() -> None:
    assert LOW_COVERAGE_PCT == 90.0
    html = formats(result(coverage_pct=90.0))["text/html"]
    assert f"90.00{NBSP}%" in html and "low coverage" not in html


def test_missing_figures_are_dashes_and_text_is_escaped() -> None:
    html = formats(result(equipment_id="<b>EQ&1</b>", availability_pct=None, mtbf_s=None, coverage_pct=None))[
        "text/html"]
    assert "&lt;b&gt;EQ&amp;1&lt;/b&gt;" in html and "<b>" not in html
    assert "low coverage" not in html and "–" in html


def test_numpy_nan_is_a_dash_and_under_100_never_reads_100() -> None:
    """float32 cells as a user's own frame may hold them: NaN is a dash (not "nan %"); a
    share of 0.996 is 99.60 %, and 99.996 % is 99.99 %, never 100.00 %."""
    frame = pd.DataFrame({"equipment_id": ["EQ-1", "EQ-2", "EQ-3"],
                          "availability_pct": np.array([np.nan, 99.996, 99.5], dtype="float32"),
                          "coverage": np.array([0.996, 1.0, np.nan], dtype="float32"),
                          "samples": np.array([np.nan, 12, 3], dtype="float32")})
    cells = re.findall(r"<td[^>]*>(.*?)</td>", show(frame)._repr_html_())
    assert cells == ["EQ-1", "–", f"99.60{NBSP}%", "–", "EQ-2", f"99.99{NBSP}%", f"100.00{NBSP}%", "12",
                     "EQ-3", f"99.50{NBSP}%", "–", "3"]
    assert f"99.99{NBSP}%" in formats(result(availability_pct=99.999))["text/html"]


def test_the_plain_repr_is_unchanged() -> None:
    value = result(start=datetime(2024, 1, 1, tzinfo=UTC), end=datetime(2024, 1, 2, tzinfo=UTC))
    expected = ("AvailabilityResult(equipment_id='EQ-1', start=datetime.datetime(2024, 1, 1, 0, 0, "
                "tzinfo=datetime.timezone.utc), end=datetime.datetime(2024, 1, 2, 0, 0, tzinfo=datetime.timezone.utc), "
                "availability_pct=99.5, uptime_s=1540260.0, downtime_s=7740.0, unknown_s=6000.0, maintenance_s=0.0, "
                "outages=3, mtbf_s=513420.0, mttr_s=2580.0, coverage_pct=85.0, samples=1380)")
    assert repr(value) == expected
    assert formats(value)["text/plain"] == expected


def fleet_table() -> pd.DataFrame:
    """What fleet_availability returns, two equipment (one with a name to escape)."""
    return pd.DataFrame({
        "equipment_id": ["EQ-1", "<EQ-2>"],
        "window_start": pd.to_datetime([T0, T0], utc=True), "window_end": pd.to_datetime([T0 + timedelta(days=1)] * 2,
                                                                                           utc=True),
        "availability_pct": [99.5, np.nan], "uptime_s": [1_540_260.0, 0.0], "downtime_s": [7_740.0, 0.0],
        "unknown_s": [6_000.0, 86_400.0], "maintenance_s": [0.0, 0.0], "outages": [3, 0],
        "mtbf_s": [513_420.0, np.nan], "mttr_s": [2_580.0, np.nan], "coverage_pct": [85.0, 0.0], "samples": [1380, 0],
    })


def test_show_draws_a_fleet_table_and_prints_the_frame_as_before() -> None:
    frame = fleet_table()
    shown = show(frame)
    assert isinstance(shown, RichDisplay)
    html = formats(shown)["text/html"]
    assert "<th>Availability</th>" in html and "<th>Downtime</th>" in html and "<th>Uptime</th>" in html
    assert f"99.50{NBSP}%" in html and "2 h 09 min" in html and "2024-01-02 00:00" in html
    assert html.count("low coverage") == 2
    assert "&lt;EQ-2&gt;" in html and "<EQ-2>" not in html
    assert formats(shown)["text/plain"] == repr(frame)


def test_show_in_french_and_with_a_row_limit() -> None:
    html = show(fleet_table(), lang="fr", limit=1)._repr_html_()
    assert f"99,50{NBSP}%" in html and "2 h 09 min" in html and "couverture faible" in html
    assert "Disponibilité" in html
    assert "… et 1 ligne de plus." in html and "EQ-2" not in html


def test_show_refuses_what_it_cannot_draw() -> None:
    with pytest.raises(ValidationError, match="got dict"):
        show({"summary": {}})
    with pytest.raises(ValidationError, match="language"):
        show(fleet_table(), lang="de")
    with pytest.raises(ValidationError, match="limit must be a positive number"):
        show(fleet_table(), limit=0)


def cpu(equipment_id: str, start: datetime, hours: int, value: float) -> pd.DataFrame:
    times = pd.date_range(start, periods=hours * 12, freq="5min", tz="UTC")
    return pd.DataFrame({"time": times, "equipment_id": equipment_id, "metric_type": "cpu_usage", "value": value})


RULES = {"rules": [{"name": "cpu<high>", "kind": "threshold", "metric": "cpu_usage", "severity": "warning",
                    "window": "1h", "threshold": 80}]}


def test_an_alert_check_and_the_alert_list_render_as_tables(embedded_store) -> None:
    embedded_store.write_frame(cpu("EQ-A", T0, 3, 95.0))
    check = check_alerts(embedded_store, parse_rules(RULES), T0 + timedelta(hours=2))
    html = formats(check)["text/html"]
    assert "Alert check at 2024-01-01 02:00 (UTC)" in html
    assert "1 raised, 0 still firing, 0 resolved" in html and "Raised (1)" in html
    assert "cpu&lt;high&gt;" in html and "cpu<high>" not in html
    assert "95.00" in html                          # the rule's value
    assert f"100.00{NBSP}%" in html                 # its window's coverage (a share of 1)
    assert formats(check)["text/plain"].startswith("AlertCheck(now=")

    listed = show(list_alerts(embedded_store, T0, T0 + timedelta(days=1)))._repr_html_()
    assert "<th>Rule</th>" in listed and "<th>Severity</th>" in listed and "<th>Message</th>" in listed
    assert "2024-01-01 02:00" in listed and "firing" in listed
    assert "mean cpu_usage over 1h is 95.00, above 80" in listed and "cpu&lt;high&gt;" in listed


def test_an_alert_replay_says_what_it_wrote(embedded_store) -> None:
    embedded_store.write_frame(cpu("EQ-A", T0, 3, 95.0))
    replay = replay_alerts(embedded_store, parse_rules(RULES), T0 + timedelta(hours=1), T0 + timedelta(hours=5),
                           timedelta(hours=1), dry_run=True)
    html = formats(replay)["text/html"]
    assert "Alert replay from 2024-01-01 01:00 to 2024-01-01 05:00 (UTC), every 1 h" in html
    assert "Dry run: 2 alert points would be written (4 instants evaluated)" in html
    # A header and two points: raised at 01:00, resolved at 04:00 (the 03:00-04:00 window has no data).
    assert html.count("<tr>") == 3 and "2024-01-01 04:00" in html


def test_a_result_from_the_service_renders(embedded_store) -> None:
    times = pd.date_range(T0, periods=12, freq="5min", tz="UTC")
    embedded_store.write_frame(pd.DataFrame({"time": times, "equipment_id": "EQ-1", "metric_type": "availability",
                                             "value": [1.0] * 6 + [0.0] * 6}))
    value = EquipmentAnalyticsService(embedded_store).calculate_availability("EQ-1", T0, T0 + timedelta(hours=1))
    html = formats(value)["text/html"]
    # up 00:00-00:30, down 00:30-01:00 (the 00:55 sample holds to the end): 50 %, one 30 min outage.
    assert f"50.00{NBSP}%" in html and "30 min" in html and f"100.00{NBSP}%" in html
    assert "low coverage" not in html


def test_the_fleet_summary_renders_its_counts_and_rows(embedded_store) -> None:
    times = pd.date_range(T0, periods=12, freq="5min", tz="UTC")
    embedded_store.write_frame(pd.DataFrame({"time": times, "equipment_id": "EQ-1", "metric_type": "availability",
                                             "value": [1.0] * 6 + [0.0] * 6}))
    embedded_store.write_frame(pd.DataFrame({"time": times, "equipment_id": "EQ-1", "metric_type": "cpu_usage",
                                             "value": 42.0}))
    payload = EquipmentAnalyticsService(embedded_store).fleet_summary(now=T0 + timedelta(hours=1),
                                                                      period=timedelta(hours=1))
    html = show(payload)._repr_html_()
    assert "Fleet at 2024-01-01 01:00 (UTC)" in html
    assert f"1 equipment: 0 operational, 0 in maintenance, 0 offline; average availability 50.00{NBSP}%" in html
    assert "<th>CPU (%)</th>" in html and "42.00" in html and "Unknown" in html
    assert "2024-01-01 00:55" in html  # the latest point
    assert repr(show(payload)) == repr(payload)


def test_a_column_that_does_not_hold_what_its_name_says_is_shown_as_it_is() -> None:
    html = show(pd.DataFrame({"availability_pct": ["n/a"], "downtime_s": ["<long>"]}))._repr_html_()
    assert "<td class=\"\">n/a</td>" in html and "&lt;long&gt;" in html
