"""Validation of the data model, time rules and settings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from vigileos_analytics import __all__ as exported
from vigileos_analytics.config import SETTINGS, Secret, load_settings
from vigileos_analytics.errors import ConfigurationError, ValidationError
from vigileos_analytics.schema import normalize_points_frame, to_utc
from vigileos_analytics.stores.base import Selection
from vigileos_analytics.timeparse import parse_duration, parse_time_text


def frame(**overrides):
    base = {"time": [pd.Timestamp("2024-01-01", tz="UTC")], "equipment_id": ["EQ-1"],
            "metric_type": ["cpu_usage"], "value": [1.0]}
    base.update(overrides)
    return pd.DataFrame(base)


@pytest.mark.parametrize("overrides, message", [
    ({"value": [float("inf")]}, "finite number; got inf in row 0"),
    ({"value": ["high"]}, "value must be a finite number; got 'high'"),
    ({"equipment_id": [""]}, "equipment_id must be a non-empty string"),
    ({"equipment_id": ["x" * 65]}, "at most 64"),
    ({"metric_type": ["cpu-usage"]}, "metric_type must start"),
    ({"time": [pd.Timestamp("2024-01-01")]}, "naive"),
    ({"site": ["a\nb"]}, "without control characters"),
    ({"Bad Tag": ["x"]}, "tag names must start"),
])
def test_points_frame_validation_names_field_and_value(overrides, message):
    with pytest.raises(ValidationError, match=message):
        normalize_points_frame(frame(**overrides))


def test_missing_columns():
    with pytest.raises(ValidationError, match="missing \\['value'\\]"):
        normalize_points_frame(frame().drop(columns="value"))


def test_time_rule_converts_aware_and_refuses_naive():
    paris = timezone(timedelta(hours=1))
    assert to_utc(datetime(2024, 1, 1, 1, tzinfo=paris)) == datetime(2024, 1, 1, tzinfo=timezone.utc)
    with pytest.raises(ValidationError, match="timezone-aware"):
        to_utc(datetime(2024, 1, 1))
    with pytest.raises(ValidationError, match="start_time must be before end_time"):
        Selection(datetime(2024, 1, 2, tzinfo=timezone.utc), datetime(2024, 1, 1, tzinfo=timezone.utc))


def test_text_times_and_durations():
    now = datetime(2024, 1, 10, tzinfo=timezone.utc)
    assert parse_time_text("now-7d", now=now) == datetime(2024, 1, 3, tzinfo=timezone.utc)
    assert parse_time_text("2024-01-01 12:00") == datetime(2024, 1, 1, 12, tzinfo=timezone.utc)
    assert parse_time_text("2024-01-01 12:00", tz="Europe/Paris") == datetime(2024, 1, 1, 11, tzinfo=timezone.utc)
    assert parse_duration("15m") == timedelta(minutes=15)
    for bad in ("15 minutes", "-1h", "0s"):
        with pytest.raises(ValidationError):
            parse_duration(bad)


def test_settings_from_env_and_dotenv_with_secrets_hidden(tmp_path):
    (tmp_path / ".env").write_text("INFLUXDB_URL=http://influx:8086\nINFLUXDB_TOKEN=abc123\nVIGILEOS_STALENESS=5m\n")
    settings = load_settings(environ={"INFLUXDB_ORG": "acme"}, dotenv_path=tmp_path / ".env")
    assert settings.store_url == "influxdb2+http://influx:8086" and settings.influxdb_org == "acme"
    assert settings.staleness == timedelta(minutes=5)
    assert settings.influxdb_token.get() == "abc123"
    for text in (repr(settings), str(settings), str(settings.public_items())):
        assert "abc123" not in text
    assert repr(Secret("x")) == "Secret('********')"


def test_default_store_and_bad_settings():
    assert load_settings(environ={}, dotenv_path=None).store_url == "duckdb:///data/metrics.duckdb"
    with pytest.raises(ConfigurationError, match="VIGILEOS_STALENESS"):
        load_settings(environ={"VIGILEOS_STALENESS": "soon"}, dotenv_path=None)


def test_public_surface():
    import vigileos_analytics

    assert sorted(exported) == sorted(set(exported))
    for name in exported:
        assert hasattr(vigileos_analytics, name), name
    assert {"open_store", "EquipmentAnalyticsService", "EquipmentMetricsService", "VigileosError"} <= set(exported)


def test_every_setting_is_documented_in_the_readme():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for spec in SETTINGS:
        assert f"`{spec.env}`" in readme, spec.env
