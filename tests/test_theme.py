"""One theme for reports and dashboards: the same status colours and the same default
thresholds on both, and no colour defined anywhere else in their figure modules."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from vigileos_analytics import theme
from vigileos_analytics.dashboards import figures
from vigileos_analytics.dashboards.models import OverviewModel
from vigileos_analytics.dashboards.params import TimeRange
from vigileos_analytics.i18n import Translator
from vigileos_analytics.reports import charts
from vigileos_analytics.reports.parameters import parse_parameters
from vigileos_analytics.schema import AVAILABILITY, MAINTENANCE, OFFLINE, OPERATIONAL, RESPONSE_TIME

PACKAGE = Path(theme.__file__).parent
HEX = re.compile(r"#[0-9a-fA-F]{6}\b")


@pytest.mark.parametrize("module", ["reports/charts.py", "dashboards/figures.py"])
def test_figure_modules_take_every_colour_from_the_theme(module):
    assert HEX.findall((PACKAGE / module).read_text(encoding="utf-8")) == []


def test_reports_and_dashboards_default_to_the_same_thresholds():
    report = parse_parameters({}).thresholds
    assert report == dict(theme.DEFAULT_THRESHOLDS)
    assert report[RESPONSE_TIME] == 600.0


def test_a_report_parameter_file_still_overrides_a_default_threshold():
    assert parse_parameters({"thresholds": {"response_time": 1000}}).thresholds[RESPONSE_TIME] == 1000.0
    assert theme.DEFAULT_THRESHOLDS[RESPONSE_TIME] == 600.0  # the shared table is not changed


@pytest.mark.parametrize(("value", "status"), [
    (99.5, OPERATIONAL), (theme.DEFAULT_THRESHOLDS[AVAILABILITY], OPERATIONAL), (97.0, MAINTENANCE),
    (theme.FAIR_AVAILABILITY_PCT, MAINTENANCE), (90.0, OFFLINE), (None, theme.UNKNOWN), (math.nan, theme.UNKNOWN),
])
def test_availability_colour(value, status):
    assert theme.availability_colour(value) == theme.STATUS_COLOURS[status]


def test_an_unlisted_status_is_grey():
    assert theme.status_colour("calibrating") == theme.STATUS_COLOURS[theme.UNKNOWN]


def test_the_ranking_bars_of_a_report_and_a_dashboard_use_the_same_colours():
    table = pd.DataFrame({"equipment_id": ["EQ-1", "EQ-2"], "name": ["A", "B"], "availability_pct": [99.9, 90.0]})
    report = charts.availability_ranking(table, Translator("en"), target=99.0)
    now = datetime(2024, 1, 2, tzinfo=UTC)
    overview = OverviewModel(period=TimeRange(now - timedelta(days=1), now), generated_at=now, total=2, counts={},
                             average_availability=95.0, equipment=table.sort_values("availability_pct"),
                             changes=pd.DataFrame(), alerts=pd.DataFrame(), alerts_total=0)
    dashboard = figures.ranking_figure(overview, Translator("en"))
    expected = {theme.STATUS_COLOURS[OPERATIONAL], theme.STATUS_COLOURS[OFFLINE]}
    assert set(report.data[0].marker.color) == set(dashboard.data[0].marker.color) == expected
