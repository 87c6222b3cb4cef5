"""Validation of the data model, time rules and settings."""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from vigileos_analytics import __all__ as exported
from vigileos_analytics.config import SETTINGS, Secret, Settings, load_settings, read_setting
from vigileos_analytics.errors import ConfigurationError, ValidationError
from vigileos_analytics.schema import check_availability_values, normalize_points_frame, to_utc
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
    ({"equipment_id": ["EQ\\"]}, "equipment_id 'EQ\\\\\\\\' has a backslash at the end"),
    ({"site": ["Lyon\\,2"]}, "tag 'site' value 'Lyon\\\\\\\\,2' has a backslash"),
    ({"time": [pd.Timestamp("1969-12-31T23:59:59.999999999", tz="UTC")]},
     re.escape("time 1969-12-31T23:59:59.999999999+00:00 in row 0 is outside the time range vigileos stores: "
               "from 1970-01-01T00:00:00Z up to (not including) 2262-01-01T00:00:00Z.")),
])
def test_points_frame_validation_names_field_and_value(overrides, message):
    with pytest.raises(ValidationError, match=message):
        normalize_points_frame(frame(**overrides))


def test_availability_refusal_shows_a_plain_number():
    points = normalize_points_frame(frame(metric_type=["availability", "availability"], value=[1.0, 0.5],
                                          time=[pd.Timestamp("2024-01-01", tz="UTC")] * 2, equipment_id=["EQ"] * 2))
    with pytest.raises(ValidationError) as caught:
        check_availability_values(points)
    assert str(caught.value) == ("availability values must be 1 (available) or 0 (unavailable); got 0.5 in row 1.")


def test_missing_columns():
    with pytest.raises(ValidationError, match="missing \\['value'\\]"):
        normalize_points_frame(frame().drop(columns="value"))


def test_time_rule_converts_aware_and_refuses_naive():
    paris = timezone(timedelta(hours=1))
    assert to_utc(datetime(2024, 1, 1, 1, tzinfo=paris)) == datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(ValidationError, match="timezone-aware"):
        to_utc(datetime(2024, 1, 1))
    with pytest.raises(ValidationError, match="start_time must be before end_time"):
        Selection(datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC))


def test_text_times_and_durations():
    now = datetime(2024, 1, 10, tzinfo=UTC)
    assert parse_time_text("now-7d", now=now) == datetime(2024, 1, 3, tzinfo=UTC)
    assert parse_time_text("2024-01-01 12:00") == datetime(2024, 1, 1, 12, tzinfo=UTC)
    assert parse_time_text("2024-01-01 12:00", tz="Europe/Paris") == datetime(2024, 1, 1, 11, tzinfo=UTC)
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


ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented_in_the_readme_with_its_default():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `([A-Z0-9_]+)` \|([^|]*)\|", section, flags=re.MULTILINE))
    assert sorted(rows) == sorted(spec.env for spec in SETTINGS)
    for spec in SETTINGS:
        expected = {f"`{spec.default}`"} if spec.default else {"", "(see meaning)"}
        assert rows[spec.env].strip() in expected, spec.env


def test_settings_are_defined_once_and_the_dataclass_follows_the_table():
    assert [spec.name for spec in SETTINGS] == [f.name for f in fields(Settings)]
    assert len({spec.env for spec in SETTINGS}) == len(SETTINGS)
    # Settings() takes its defaults from the table, exactly as load_settings reads them.
    assert Settings() == load_settings(environ={}, dotenv_path=None)
    assert Settings().store_url == "duckdb:///data/metrics.duckdb"
    assert Settings(influxdb_url="http://influx:8086").store_url == "influxdb2+http://influx:8086"


@pytest.mark.parametrize(("env", "name", "text", "value"), [
    ("VIGILEOS_DEBUG", "debug", "", False),
    ("VIGILEOS_DEBUG", "debug", "1", True),
    ("VIGILEOS_DEBUG", "debug", "Yes", True),
    ("VIGILEOS_DEBUG", "debug", "off", False),
    ("VIGILEOS_DASHBOARD_REFRESH", "dashboard_refresh", "", 30.0),
    ("VIGILEOS_DASHBOARD_REFRESH", "dashboard_refresh", "0", 0.0),
    ("VIGILEOS_DASHBOARD_REFRESH", "dashboard_refresh", " 2.5 ", 2.5),
    ("VIGILEOS_DASHBOARD_HEARTBEAT_GRACE", "dashboard_heartbeat_grace", "", 180.0),
    ("VIGILEOS_DASHBOARD_HEARTBEAT_GRACE", "dashboard_heartbeat_grace", "3", 3.0),
    ("VIGILEOS_STALENESS", "staleness", " ", timedelta(minutes=10)),
])
def test_new_settings_parse_and_blank_means_default(env, name, text, value):
    assert getattr(load_settings(environ={env: text}, dotenv_path=None), name) == value
    assert read_setting(name, environ={env: text}, dotenv_path=None) == value


@pytest.mark.parametrize(("env", "text", "expected"), [
    ("VIGILEOS_DEBUG", "maybe", "one of 1, true, yes, on, 0, false, no, off; got 'maybe'"),
    ("VIGILEOS_DEBUG", "2", "one of 1, true, yes, on, 0, false, no, off; got '2'"),
    ("VIGILEOS_DASHBOARD_REFRESH", "often", r"0 \(off\) or at least 1 second; got 'often'"),
    ("VIGILEOS_DASHBOARD_REFRESH", "0.5", r"0 \(off\) or at least 1 second; got '0.5'"),
    ("VIGILEOS_DASHBOARD_REFRESH", "-5", r"0 \(off\) or at least 1 second; got '-5'"),
    ("VIGILEOS_DASHBOARD_REFRESH", "inf", r"0 \(off\) or at least 1 second; got 'inf'"),
    ("VIGILEOS_DASHBOARD_HEARTBEAT_GRACE", "2", "at least 3 seconds; got '2'"),
    ("VIGILEOS_DASHBOARD_HEARTBEAT_GRACE", "0", "at least 3 seconds; got '0'"),
    ("VIGILEOS_DASHBOARD_HEARTBEAT_GRACE", "nan", "at least 3 seconds; got 'nan'"),
    ("VIGILEOS_DASHBOARD_HEARTBEAT_GRACE", "soon", "at least 3 seconds; got 'soon'"),
])
def test_a_bad_new_setting_is_a_configuration_error_naming_its_variable(env, text, expected, tmp_path):
    with pytest.raises(ConfigurationError, match=f"^{env} must be {expected}\\.$"):
        load_settings(environ={env: text}, dotenv_path=None)
    (tmp_path / ".env").write_text(f"{env}={text}\n")  # the same from a .env file
    with pytest.raises(ConfigurationError, match=env):
        load_settings(environ={}, dotenv_path=tmp_path / ".env")


def test_a_bad_setting_is_a_one_line_cli_error_with_exit_code_4():
    from click.testing import CliRunner

    from vigileos_analytics.cli import main

    result = CliRunner().invoke(main, ["config"], env={"VIGILEOS_DASHBOARD_REFRESH": "soon"})
    assert result.exit_code == 4, result.output
    assert "VIGILEOS_DASHBOARD_REFRESH must be 0 (off) or at least 1 second; got 'soon'." in result.output
    assert "Traceback" not in result.output


def test_debug_shows_the_traceback_of_an_internal_error_from_the_environment_or_dotenv(monkeypatch, tmp_path):
    from vigileos_analytics.cli.common import EXIT_INTERNAL, handle_errors

    @handle_errors
    def broken() -> None:
        raise RuntimeError("a bug")

    with pytest.raises(SystemExit) as exited:
        broken()
    assert exited.value.code == EXIT_INTERNAL
    monkeypatch.setenv("VIGILEOS_DEBUG", "1")
    with pytest.raises(RuntimeError, match="a bug"):
        broken()
    monkeypatch.delenv("VIGILEOS_DEBUG")
    (tmp_path / ".env").write_text("VIGILEOS_DEBUG=yes\n")  # the tests run in tmp_path
    with pytest.raises(RuntimeError, match="a bug"):
        broken()


def test_a_dashboard_page_shows_a_bad_refresh_setting_and_uses_the_default():
    from vigileos_analytics.dashboards.params import parse_params

    params = parse_params("", environ={"VIGILEOS_DASHBOARD_REFRESH": "soon"})
    assert params.refresh_s == 30.0
    assert params.problems == ("VIGILEOS_DASHBOARD_REFRESH must be 0 (off) or at least 1 second; got 'soon'. "
                               "Using 30.",)
    assert parse_params("refresh=0", environ={"VIGILEOS_DASHBOARD_REFRESH": "soon"}).refresh_s == 0.0
    assert parse_params("", environ={"VIGILEOS_DASHBOARD_REFRESH": "5"}).refresh_s == 5.0
    assert parse_params("refresh=0.5", environ={}).problems == (
        "refresh must be 0 (off) or at least 1 second; got '0.5'. Using 30.",)


# A read of one variable by name: os.environ["X"], os.environ.get("X"), os.getenv("X").
_ENV_READ = re.compile(r"os\.(?:environ\s*\[|environ\.get\s*\(|getenv\s*\()\s*([^,)\]]*)")


def test_no_module_but_config_reads_a_setting_from_the_environment():
    """Settings go through config.SETTINGS: elsewhere, a read by name is of a literal
    that is not a setting's variable (QUERY_STRING, Voila's request)."""
    package = ROOT / "vigileos_analytics"
    offenders = []
    for path in sorted(package.rglob("*.py")):
        if path == package / "config.py":
            continue
        text = path.read_text()
        for match in _ENV_READ.finditer(text):
            key = match.group(1).strip()
            literal = re.fullmatch(r"[\"']([A-Za-z0-9_]+)[\"']", key)
            if not literal or literal.group(1).startswith(("VIGILEOS_", "INFLUXDB_")):
                line = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {match.group(0)}")
        offenders += [f"{path.relative_to(ROOT)}: click envvar {m}"
                      for m in re.findall(r"envvar\s*=\s*[\"']((?:VIGILEOS|INFLUXDB)_\w+)", text)]
    assert not offenders, "read these through vigileos_analytics.config (SETTINGS):\n" + "\n".join(offenders)
