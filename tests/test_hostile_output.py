"""Stored text is printed as it is: ids, tags and paths that look like rich markup,
emoji codes or terminal escapes never crash a command, restyle the terminal or
print as something else.

Each hostile id is stored the way a user (or another writer of the store) would:
``vigileos record`` into a real DuckDB file, or raw line protocol posted to a real
influxd for what ``record`` refuses (an ESC byte, as a Telegraf of someone else's
could write). Then every read command runs on it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from vigileos_analytics.cli import main

from .influx_fixtures import influxd  # noqa: F401  (a pytest fixture)

PERIOD = ("--start", "2025-06-01", "--end", "2025-06-02")
T0 = "2025-06-01T12:00:00Z"
T1 = "2025-06-01T12:10:00Z"
RULES = """rules:
  - name: cpu_high
    kind: threshold
    metric: cpu_usage
    window: 15m
    function: max
    threshold: 50
    min_coverage: 0.1
    severity: warning
    description: CPU above 50 %
"""
ESC = "\x1b"


def run(store: str, *args: str):
    return CliRunner().invoke(main, ["--store", store, *args], catch_exceptions=False)


def read_commands(equipment_id: str) -> dict[str, tuple[str, ...]]:
    return {
        "availability": ("availability", *PERIOD),
        "summary": ("summary", "--at", T1),
        "stats": ("stats", *PERIOD, "--metric", "cpu_usage"),
        "metrics": ("metrics", equipment_id, *PERIOD),
        "check --verbose": ("check", "--verbose"),
        "alerts list": ("alerts", "list", *PERIOD),
    }


def assert_shown_literally(output: str, shown: str) -> None:
    assert "Traceback" not in output and "Internal error" not in output, output
    assert shown in output, output
    # Nothing that moves the cursor or sets a style reaches the terminal (rich adds none: not a tty).
    assert not any(ch in output for ch in (ESC, "\x9b", "\r", "\x07")), repr(output)


def fill_by_cli(store: str, equipment_id: str, rules: Path) -> None:
    for args in (("availability", "1", "--time", T0),
                 ("availability", "0", "--time", T1, "-t", f"reason={equipment_id}"),
                 ("cpu_usage", "99", "--time", T0)):
        result = run(store, "record", equipment_id, *args)
        assert result.exit_code == 0, result.output
    alerts = run(store, "alerts", "check", "--rules", str(rules), "--at", T1)
    assert alerts.exit_code == 0, alerts.output


# (stored id, how it must be shown)
RECORDED = [
    pytest.param("[/x]", "[/x]", id="closing-tag"),
    pytest.param("[blink red]EQ", "[blink red]EQ", id="style-tag"),
    pytest.param("\x9b31mEQ", "\\x9b31mEQ", id="c1-csi"),
    pytest.param(":warning: EQ", ":warning: EQ", id="emoji-code"),
]


@pytest.mark.parametrize(("equipment_id", "shown"), RECORDED)
def test_recorded_hostile_ids_print_literally_in_every_read_command(tmp_path, monkeypatch, equipment_id, shown):
    monkeypatch.chdir(tmp_path)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    store = f"duckdb:///{tmp_path / 'metrics.duckdb'}"
    recorded = run(store, "record", equipment_id, "memory_usage", "1", "--time", T0)
    assert recorded.exit_code == 0
    assert recorded.output == f"Recorded memory_usage=1 for {shown}.\n"
    fill_by_cli(store, equipment_id, rules)
    for name, args in read_commands(equipment_id).items():
        result = run(store, *args)
        assert result.exit_code == 0, (name, result.output)
        assert_shown_literally(result.output, shown)
    # --json keeps the stored id exactly (as JSON escapes)
    raw = run(store, "metrics", equipment_id, *PERIOD, "--json").stdout
    assert "\x9b" not in raw  # JSON escapes C1 controls too (\u009b)
    answer = json.loads(raw)
    assert answer["equipment_id"] == equipment_id
    assert sorted(m["metric_type"] for m in answer["metrics"]) == [
        "alert", "availability", "availability", "cpu_usage", "memory_usage"]


@pytest.mark.influxdb
def test_an_escape_sequence_written_by_another_client_prints_as_text(influxd, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    store = f"influxdb1+{influxd.url}/hostile?create_database=true&spool=off"
    assert run(store, "check", "--no-round-trip").exit_code == 0  # creates the database
    eq = "\x1b[31mEQ"
    ns = 1_748_779_200_000_000_000  # 2025-06-01T12:00:00Z
    lines = "\n".join([
        f"equipment_metrics,equipment_id={eq},metric_type=availability,reason={ESC}]0;pwned\x07 value=1 {ns}",
        f"equipment_metrics,equipment_id={eq},metric_type=cpu_usage value=99 {ns}",
    ])
    requests.post(f"{influxd.url}/write", params={"db": "hostile"}, data=lines.encode(), timeout=10).raise_for_status()
    for name, args in read_commands(eq).items():
        if name == "alerts list":
            continue  # no alert was written to this store
        result = run(store, *args)
        assert result.exit_code == 0, (name, result.output)
        assert_shown_literally(result.output, "\\x1b[31mEQ")
    tags = run(store, "metrics", eq, *PERIOD).output
    assert "reason=\\x1b]0;pwned\\x07" in tags, tags  # an OSC title-setting sequence, shown as text


def test_a_csv_path_with_brackets_imports_and_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "in[/x]" / "[bold]"
    folder.mkdir(parents=True)
    csv = folder / "points[red].csv"
    csv.write_text("time,equipment_id,metric_type,value\n2025-06-01T12:00:00Z,EQ-1,cpu_usage,5\n", encoding="utf-8")
    store_dir = tmp_path / "st[/b]"
    store_dir.mkdir(parents=True)
    store = f"duckdb:///{store_dir / 'metrics.duckdb'}"
    result = run(store, "import", str(csv))
    assert result.exit_code == 0, result.output
    assert f"from {csv} " in result.output
    verbose = run(store, "check", "--verbose")
    assert verbose.exit_code == 0, verbose.output
    assert str(store_dir / "metrics.duckdb") in verbose.output.replace("\n", "")


def test_an_error_naming_a_hostile_id_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = f"duckdb:///{tmp_path / 'metrics.duckdb'}"
    too_long = "[/x]" * 20
    result = run(store, "record", too_long, "cpu_usage", "1")
    assert result.exit_code == 3, result.output
    assert result.output.startswith("Error: equipment_id must be") and f"got '{too_long}'" in result.output
