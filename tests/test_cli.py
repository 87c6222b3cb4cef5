"""The command line, run as a user would: one-line errors, documented exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from vigileos_analytics.cli import main

from .conftest import SMALL_FLEET


def run(*args: str, store: str | None = None):
    runner = CliRunner()
    full = (["--store", store] if store else []) + list(args)
    return runner.invoke(main, full, catch_exceptions=False)


@pytest.fixture
def seeded_url(seeded_store_dir: Path, monkeypatch) -> str:
    monkeypatch.setenv("VIGILEOS_INVENTORY", str(seeded_store_dir / "inventory.csv"))
    return f"duckdb:///{seeded_store_dir / 'metrics.duckdb'}"


END = SMALL_FLEET.end.strftime("%Y-%m-%dT%H:%M:%S")


def test_availability_json_matches_the_truth_of_the_simulated_fleet(seeded_url, seeded_store_dir):
    import numpy as np
    import pandas as pd

    start, end = pd.Timestamp("2024-01-22", tz="UTC"), pd.Timestamp(END, tz="UTC")
    result = run("availability", "--start", "2024-01-22", "--end", END, "--json", store=seeded_url)
    assert result.exit_code == 0, result.output
    rows = {r["equipment_id"]: r for r in json.loads(result.output)}
    assert len(rows) == SMALL_FLEET.equipment
    truth = {name: pd.read_csv(seeded_store_dir / "truth" / f"{name}.csv")
             for name in ("failures", "maintenance", "gaps")}
    grid = pd.date_range(start, end, freq="1min", inclusive="left")
    checked = 0
    for eq, row in rows.items():
        gaps = truth["gaps"][truth["gaps"].equipment_id == eq]
        if ((pd.to_datetime(gaps["end"], utc=True) > start) & (pd.to_datetime(gaps["start"], utc=True) < end)).any():
            continue  # gaps make time unknown; checked by the availability tests
        # Independent arithmetic: a minute is down when a failure or maintenance covers it.
        down = np.zeros(len(grid), dtype=bool)
        for name, a, b in (("failures", "failure_time", "repair_time"), ("maintenance", "start", "end")):
            events = truth[name][truth[name].equipment_id == eq]
            for s, e in zip(pd.to_datetime(events[a], utc=True), pd.to_datetime(events[b], utc=True), strict=True):
                down |= (grid >= s.ceil("min")) & (grid < e.ceil("min"))
        assert row["downtime_s"] == pytest.approx(down.sum() * 60.0), eq
        assert row["coverage_pct"] == 100.0
        checked += 1
    assert checked >= 3


def test_summary_and_stats_and_metrics(seeded_url):
    summary = json.loads(run("summary", "--at", END, "--json", store=seeded_url).output)
    assert summary["summary"]["total_equipment"] == SMALL_FLEET.equipment
    assert sum(summary["summary"][k] for k in ("operational", "maintenance", "offline")) == SMALL_FLEET.equipment
    assert summary["equipment"][0]["name"] and summary["equipment"][0]["last_metric_time"].startswith("2024-01-31")
    stats = json.loads(run("stats", "--start", "2024-01-30", "--end", END, "--json", store=seeded_url).output)
    assert {s["metric_type"] for s in stats} == {"cpu_usage", "memory_usage", "response_time"}
    assert all(s["mean"] <= s["p95"] <= s["max"] for s in stats)
    payload = json.loads(run("metrics", "EQ-0001", "--start", "2024-01-31T23:00", "--end", END, "--metric",
                             "availability", "--json", store=seeded_url).output)
    assert payload["equipment_id"] == "EQ-0001" and payload["count"] == len(payload["metrics"]) == 60
    table = run("availability", "EQ-0001", "--start", "2024-01-30", "--end", END, "--daily", store=seeded_url)
    assert table.exit_code == 0 and "EQ-0001" in table.output


def test_record_then_read_back(tmp_path):
    url = f"duckdb:///{tmp_path / 'm.duckdb'}"
    assert run("record", "EQ-7", "cpu_usage", "42.5", "--time", "2024-01-01T00:00:00Z", "-t", "site=Paris",
               store=url).exit_code == 0
    out = json.loads(run("metrics", "EQ-7", "--start", "2023-12-31", "--end", "2024-01-02", "--json", store=url).output)
    assert out["metrics"] == [{"time": "2024-01-01T00:00:00+00:00", "metric_type": "cpu_usage", "value": 42.5,
                               "tags": {"site": "Paris"}}]


@pytest.mark.parametrize("args, code, message", [
    (["record", "", "cpu_usage", "1"], 3, "equipment_id must be a non-empty string"),
    (["record", "EQ-1", "Bad Metric", "1"], 3, "metric_type must start"),
    (["record", "EQ-1", "cpu_usage", "abc"], 2, "is not a valid float"),
    (["availability", "--start", "2024-02-01", "--end", "2024-01-01"], 3, "start_time must be before end_time"),
    (["availability", "--start", "yesterday-ish"], 2, "must be a date or time"),
    (["availability", "EQ-404", "--start", "2024-01-01", "--end", "2024-01-02"], 3, "unknown equipment 'EQ-404'"),
    (["simulate", "--equipment", "0"], 2, "0 is not in the range"),
    (["simulate", "--resolution", "5m", "--metrics-resolution", "7m"], 3, "whole multiple"),
])
def test_user_mistakes_give_one_line_and_an_exit_code(tmp_path, args, code, message):
    result = CliRunner().invoke(main, ["--store", f"duckdb:///{tmp_path / 'm.duckdb'}", *args])
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_unknown_store_scheme_is_a_configuration_error():
    result = CliRunner().invoke(main, ["--store", "mysql://x", "check"])
    assert result.exit_code == 4 and "scheme must be one of" in result.output


def test_config_masks_secrets(monkeypatch):
    monkeypatch.setenv("INFLUXDB_TOKEN", "s3cr3t-token")
    monkeypatch.setenv("INFLUXDB_PASSWORD", "hunter2")
    result = run("config", "--json")
    assert "s3cr3t" not in result.output and "hunter2" not in result.output
    values = {r["setting"]: r["value"] for r in json.loads(result.output)}
    assert values["INFLUXDB_TOKEN"] == "********"


def test_check_reports_the_store(tmp_path):
    result = run("check", "--json", store=f"duckdb:///{tmp_path / 'm.duckdb'}")
    data = json.loads(result.output)
    assert result.exit_code == 0 and data["ok"] and data["backend"] == "duckdb"


def test_import_long_csv_reports_bad_rows_by_line(tmp_path):
    csv = tmp_path / "m.csv"
    csv.write_text("time,equipment,metric,value,site\n"
                   "2024-01-01 00:00,EQ-1,cpu_usage,10,Paris\n"
                   "2024-01-01T00:01:00+01:00,EQ-1,cpu_usage,11,Paris\n"
                   "not a time,EQ-1,cpu_usage,12,Paris\n"
                   "2024-01-01 00:03,EQ-1,cpu_usage,n/a,Paris\n"
                   "2024-01-01 00:04,,cpu_usage,14,Paris\n")
    url = f"duckdb:///{tmp_path / 'm.duckdb'}"
    common = ["import", str(csv), "-c", "equipment_id=equipment", "-c", "metric_type=metric", "--tag", "site"]
    refused = run(*common, store=url)
    assert refused.exit_code == 3
    assert "line 4: unreadable time" in refused.output and "line 5: value 'n/a'" in refused.output
    assert "line 6:" in refused.output
    skipped = run(*common, "--skip-bad-rows", "--json", store=url)
    assert json.loads(skipped.output)["points_written"] == 2 and json.loads(skipped.output)["bad_lines"] == [4, 5, 6]
    got = json.loads(run("metrics", "EQ-1", "--start", "2023-12-31", "--end", "2024-01-02", "--json", store=url).output)
    # "00:01+01:00" is 23:01 UTC the day before; text without offset is UTC.
    assert [m["time"] for m in got["metrics"]] == ["2023-12-31T23:01:00+00:00", "2024-01-01T00:00:00+00:00"]


def test_import_wide_csv_with_day_first_dates_and_epoch(tmp_path):
    wide = tmp_path / "wide.csv"
    wide.write_text("stamp,cpu_usage,temperature\n31/01/2024 10:00,50,40.5\n31/01/2024 10:05,55,\n")
    url = f"duckdb:///{tmp_path / 'm.duckdb'}"
    out = run("import", str(wide), "--layout", "wide", "-c", "time=stamp", "--equipment-id", "EQ-W", "--dayfirst",
              "--timezone", "Europe/Paris", "--json", store=url)
    assert json.loads(out.output)["points_written"] == 3
    epoch = tmp_path / "epoch.csv"
    epoch.write_text("time,equipment_id,metric_type,value\n1706695200000,EQ-E,cpu_usage,1\n")
    assert json.loads(run("import", str(epoch), "--json", store=url).output)["points_written"] == 1
    got = json.loads(run("metrics", "EQ-W", "--start", "2024-01-31", "--end", "2024-02-01", "--json", store=url).output)
    assert got["metrics"][0]["time"] == "2024-01-31T09:00:00+00:00"


def test_simulate_command_writes_store_inventory_and_truth(tmp_path):
    url = f"duckdb:///{tmp_path / 'sim.duckdb'}"
    result = run("simulate", "-n", "3", "--days", "1", "--end", "2024-01-02", "--quiet", store=url)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "inventory.csv").is_file() and (tmp_path / "data" / "truth" / "failures.csv").is_file()


def test_simulate_refuses_to_replace_an_inventory_of_the_users_own(tmp_path):
    inventory = tmp_path / "data" / "inventory.csv"
    inventory.parent.mkdir()
    own = "equipment_id,name\nSRV-PROD-1,Web\nSRV-PROD-2,Database\n"
    inventory.write_text(own, encoding="utf-8")
    url = f"duckdb:///{tmp_path / 'sim.duckdb'}"
    simulate = ("simulate", "-n", "3", "--days", "1", "--end", "2024-01-02", "--quiet")
    refused = run(*simulate, store=url)
    assert refused.exit_code == 3
    assert refused.output.startswith(f"Error: The inventory {Path('data/inventory.csv')} exists and was not written by "
                                     "the simulator") and "--overwrite-inventory" in refused.output
    assert inventory.read_text(encoding="utf-8") == own and not (tmp_path / "sim.duckdb").exists()

    assert run(*simulate, "--overwrite-inventory", store=url).exit_code == 0
    assert inventory.read_text(encoding="utf-8").splitlines()[1].startswith("EQ-0001,")
    # The simulator's own inventory it replaces without asking; once edited, it is the user's again.
    assert run(*simulate, "--seed", "7", store=url).exit_code == 0
    inventory.write_text(inventory.read_text(encoding="utf-8").replace("EQ-0003", "SRV-PROD-3"), encoding="utf-8")
    assert run(*simulate, store=url).exit_code == 3


def test_config_and_check_mask_credentials_in_influxdb_url(tmp_path, monkeypatch):
    monkeypatch.setenv("INFLUXDB_URL", "http://admin:pw-9f3@127.0.0.1:9/")
    shown = run("config", "--json")
    assert shown.exit_code == 0 and "pw-9f3" not in shown.output and "admin" not in shown.output
    values = {row["setting"]: row["value"] for row in json.loads(shown.output)}
    assert values["INFLUXDB_URL"] == "http://***@127.0.0.1:9/"
    assert values["VIGILEOS_STORE_URL"] == "influxdb2+http://***@127.0.0.1:9/"
    table = run("config")
    assert table.exit_code == 0 and "pw-9f3" not in table.output and "http://***@127.0.0.1:9/" in table.output
    for command in (("check",), ("check", "--json"), ("summary",)):
        result = run(*command)
        assert result.exit_code == 4, result.output
        assert "pw-9f3" not in result.output and "admin" not in result.output
        assert "influxdb2+http://***@127.0.0.1:9/ holds a user name or password" in result.output
        assert "INFLUXDB_USERNAME and INFLUXDB_PASSWORD" in result.output


def test_help_lists_every_command_and_exit_codes():
    out = subprocess.run([sys.executable, "-m", "vigileos_analytics", "--help"], capture_output=True, text=True,
                         check=True).stdout
    for command in ("simulate", "record", "import", "metrics", "availability", "stats", "summary", "check", "collect"):
        assert command in out
    assert "Exit codes" in out
