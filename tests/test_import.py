"""`vigileos import` of CSV, Parquet and line-protocol files, real NAB files included,
and the one-line answers of `stats`, `metrics` and `availability` over an empty period."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from vigileos_analytics.analytics.span import stored_period
from vigileos_analytics.cli import main
from vigileos_analytics.stores import open_store
from vigileos_analytics.stores.base import Selection

NAB = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks" / "nab" / "data"
ALL_TIME = Selection(datetime(1970, 1, 1, tzinfo=UTC), datetime(2262, 1, 1, tzinfo=UTC))


def run(*args: str, store: str):
    return CliRunner().invoke(main, ["--store", store, *args], catch_exceptions=False)


def stored(url: str) -> pd.DataFrame:
    with open_store(url) as store:
        return store.query(ALL_TIME)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"duckdb:///{tmp_path / 'm.duckdb'}"


def distinct_timestamps(path: Path) -> tuple[int, int]:
    """Rows and distinct first-column values of a CSV file, read with the csv module."""
    with open(path, newline="") as stream:
        stamps = [row[0] for row in list(csv.reader(stream))[1:]]
    return len(stamps), len(set(stamps))


needs_nab = pytest.mark.skipif(not NAB.is_dir(), reason=f"the NAB benchmark files are not at {NAB} (../shared "
                                                        "beside the repository)")


@needs_nab
def test_every_nab_file_imports_one_point_per_distinct_timestamp(tmp_path, url):
    files = sorted(NAB.glob("*/*.csv"))
    assert len(files) >= 15
    expected = {}
    for index, path in enumerate(files):
        equipment = f"NAB-{index}"
        result = run("import", str(path), "--equipment-id", equipment, "--metric-type", "temperature", "--json",
                     store=url)
        assert result.exit_code == 0, (path, result.output)
        rows, distinct = distinct_timestamps(path)
        summary = json.loads(result.stdout)
        assert (summary["rows"], summary["points_written"], summary["duplicates"]) == (rows, distinct,
                                                                                       rows - distinct)
        assert summary["assumed_timezone"] == "UTC" and summary["naive_times"] == rows
        expected[equipment] = distinct
    with open_store(url) as store:
        counts = store.aggregate(ALL_TIME, functions=("count",)).set_index("equipment_id")["count"]
    assert counts.to_dict() == expected


@needs_nab
def test_nab_summary_line_names_the_repeated_times_the_rule_and_the_zone(url):
    path = NAB / "realKnownCause" / "machine_temperature_system_failure.csv"
    out = run("import", str(path), "--equipment-id", "X", "--metric-type", "temperature", store=url).stdout
    assert "12 points repeated the time of an earlier one" in out and "lines 10151, 10152" in out
    assert "the last one wins, as in InfluxDB" in out and "read as UTC" in out
    wide = run("import", str(path), "--layout", "wide", "--equipment-id", "W", "--json", store=url)
    assert wide.exit_code == 0 and json.loads(wide.stdout)["points_written"] == 22683
    assert set(stored(url).query("equipment_id == 'W'")["metric_type"]) == {"value"}


def test_last_repeated_point_wins_and_tags_make_series_distinct(tmp_path, url):
    path = tmp_path / "d.csv"
    path.write_text("time,equipment_id,metric_type,value,site\n"
                    "2024-01-01 00:00,EQ-1,cpu_usage,1,A\n"
                    "2024-01-01 00:00,EQ-1,cpu_usage,2,B\n"
                    "2024-01-01 00:00,EQ-1,cpu_usage,3,A\n"
                    "2024-01-01 00:00:00Z,EQ-1,cpu_usage,4,A\n")
    summary = json.loads(run("import", str(path), "--tag", "site", "--json", store=url).stdout)
    assert (summary["points_written"], summary["duplicates"], summary["duplicate_lines"]) == (2, 2, [4, 5])
    assert summary["duplicate_rule"] == "last wins" and summary["naive_times"] == 3
    points = stored(url)
    assert sorted(zip(points["value"], [t["site"] for t in points["tags"]], strict=True)) == [(2.0, "B"), (4.0, "A")]


def test_timestamp_value_file_with_a_time_zone(tmp_path, url):
    path = tmp_path / "t.csv"
    path.write_text("Date,reading\n2024-07-01 10:00,20.5\n2024-07-01 10:05,21\n")
    out = run("import", str(path), "--equipment-id", "EQ-1", "--metric-type", "temperature",
              "--timezone", "Europe/Paris", store=url).stdout
    assert "Imported 2 points" in out and "2 times without an offset were read as Europe/Paris." in out
    points = stored(url)
    assert points["time"].dt.strftime("%H:%M").tolist() == ["08:00", "08:05"]
    assert points["value"].tolist() == [20.5, 21.0] and set(points["metric_type"]) == {"temperature"}


def test_time_column_given_or_the_only_other_column(tmp_path, url):
    path = tmp_path / "t.csv"
    path.write_text("when,value\n2024-01-01T00:00:00Z,1\n")
    common = ["import", str(path), "--equipment-id", "E", "--metric-type", "cpu_usage"]
    assert json.loads(run(*common, "--json", store=url).stdout)["points_written"] == 1
    assert json.loads(run(*common, "-c", "time=when", "--json", store=url).stdout)["assumed_timezone"] is None
    two = tmp_path / "two.csv"
    two.write_text("a,b,c\n2024-01-01,1,2\n")
    refused = run("import", str(two), "--equipment-id", "E", "--metric-type", "cpu_usage", store=url)
    assert refused.exit_code == 3 and "Cannot tell which column" in refused.output
    assert "Internal error" not in refused.output


def test_user_columns_named_like_the_fields_in_the_long_layout(tmp_path, url):
    path = tmp_path / "swapped.csv"
    path.write_text("value,time,tags,equipment_id,metric_type\n"
                    "2024-01-01T00:00:00Z,7.5,EQ-9,cpu_usage,ignored\n")
    result = run("import", str(path), "-c", "time=value", "-c", "value=time", "-c", "equipment_id=tags",
                 "-c", "metric_type=equipment_id", store=url)
    assert result.exit_code == 0, result.output
    points = stored(url)
    assert points[["equipment_id", "metric_type", "value"]].values.tolist() == [["EQ-9", "cpu_usage", 7.5]]
    assert points["time"].tolist() == [pd.Timestamp("2024-01-01", tz="UTC")]


def test_user_columns_named_like_the_fields_in_the_wide_layout(tmp_path, url):
    path = tmp_path / "wide.csv"
    path.write_text("stamp,value,time,metric_type,equipment_id,tags\n2024-01-01T00:00:00Z,1,2,3,4,5\n")
    result = run("import", str(path), "--layout", "wide", "-c", "time=stamp", "--equipment-id", "EQ-W", store=url)
    assert result.exit_code == 0, result.output
    points = stored(url)
    assert dict(zip(points["metric_type"], points["value"], strict=True)) == {
        "value": 1.0, "time": 2.0, "metric_type": 3.0, "equipment_id": 4.0, "tags": 5.0}


def test_reserved_names_as_tags_are_refused_in_one_line(tmp_path, url):
    path = tmp_path / "t.csv"
    path.write_text("time,value,tags\n2024-01-01,1,x\n")
    result = run("import", str(path), "--equipment-id", "E", "--metric-type", "cpu_usage", "--tag", "tags", store=url)
    assert result.exit_code == 3 and "tag names must" in result.output


@pytest.fixture
def source(tmp_path: Path) -> str:
    url = f"duckdb:///{tmp_path / 'source.duckdb'}"
    frame = pd.DataFrame({
        "time": pd.to_datetime([1704067200_123456789, 1704067260_000000000, 1704067320_000000000], utc=True),
        "equipment_id": ["EQ-1", "EQ-1", "EQ 2,x"],
        "metric_type": ["cpu_usage", "temperature", "cpu_usage"],
        "value": [0.1, -1e-05, 1.5e16],
        "site": ["Lyon 2", None, "a=b,c"],
    })
    with open_store(url) as store:
        store.write_frame(frame)
    return url


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".lp"])
def test_export_then_import_gives_the_same_points(tmp_path, source, suffix):
    exported = tmp_path / f"out{suffix}"
    assert run("export", str(exported), "-q", store=source).exit_code == 0
    target = f"duckdb:///{tmp_path / 'target.duckdb'}"
    tags = ["--tag", "site"] if suffix == ".csv" else []
    result = run("import", str(exported), *tags, "--json", store=target)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["points_written"] == 3
    pd.testing.assert_frame_equal(stored(target), stored(source))


def test_format_override_and_unknown_suffix(tmp_path, source, url):
    exported = tmp_path / "out.lp"
    run("export", str(exported), "-q", store=source)
    renamed = exported.rename(tmp_path / "points.dat")
    refused = run("import", str(renamed), store=url)
    assert refused.exit_code == 3 and "Cannot tell the format of points.dat" in refused.output
    assert json.loads(run("import", str(renamed), "--format", "lp", "--json", store=url).stdout)["format"] == "lp"


def test_bad_line_protocol_lines_are_reported_by_number(tmp_path, url):
    path = tmp_path / "bad.lp"
    path.write_text("# a comment\n"
                    "equipment_metrics,equipment_id=EQ-1,metric_type=cpu_usage value=1 1704067200000000000\n"
                    "cpu,host=a value=1 1704067200000000000\n"
                    "equipment_metrics,equipment_id=EQ-1,metric_type=cpu_usage value=2\n"
                    "equipment_metrics,equipment_id=EQ-1,metric_type=cpu_usage value=\"x\" 1704067200000000000\n"
                    "\n"
                    "equipment_metrics,equipment_id=EQ-1,metric_type=cpu_usage value=3i 1704067260000000000\n"
                    "no fields here\n"
                    "equipment_metrics,equipment_id=EQ-1,metric_type=Bad value=4 1704067200000000000\n")
    refused = run("import", str(path), store=url)
    assert refused.exit_code == 3, refused.output
    for line in (3, 4, 5, 8, 9):
        assert f"line {line}:" in refused.output
    assert "line 2:" not in refused.output and "line 7:" not in refused.output
    skipped = json.loads(run("import", str(path), "--skip-bad-rows", "--json", store=url).stdout)
    assert (skipped["points_written"], skipped["bad_lines"]) == (2, [3, 4, 5, 8, 9])
    assert stored(url)["value"].tolist() == [1.0, 3.0]


def test_a_line_protocol_tag_named_like_a_point_column_is_refused_on_its_line(tmp_path, url):
    path = tmp_path / "tags.lp"
    path.write_text("equipment_metrics,equipment_id=EQ-1,metric_type=cpu_usage value=1 1704067200000000000\n"
                    "equipment_metrics,equipment_id=EQ-1,metric_type=cpu_usage,value=x value=2 1704067260000000000\n"
                    "equipment_metrics,equipment_id=EQ-1,metric_type=cpu_usage,time=y value=3 1704067320000000000\n")
    refused = run("import", str(path), store=url)
    assert refused.exit_code == 3, refused.output
    assert "line 2: 'value' cannot be a tag key" in refused.output
    assert "line 3: 'time' cannot be a tag key" in refused.output
    assert "line 1:" not in refused.output


def test_line_protocol_takes_the_ids_for_the_whole_file(tmp_path, url):
    path = tmp_path / "plain.lp"
    path.write_text("equipment_metrics,site=x value=21.5 1704067200000000000\n")
    refused = run("import", str(path), store=url)
    assert refused.exit_code == 3 and "line 1:" in refused.output
    assert run("import", str(path), "--equipment-id", "E", "--metric-type", "temperature", store=url).exit_code == 0
    points = stored(url)
    assert points[["equipment_id", "metric_type"]].values.tolist() == [["E", "temperature"]]
    assert points["tags"].tolist() == [{"site": "x"}]


def test_stored_period_per_equipment_and_metric(tmp_path, source):
    with open_store(source) as store:
        assert stored_period(store) == (datetime(2024, 1, 1, 0, 0, 0, 123456, tzinfo=UTC),
                                        datetime(2024, 1, 1, 0, 2, tzinfo=UTC))
        assert stored_period(store, ["EQ-1"], ["temperature"]) == (datetime(2024, 1, 1, 0, 1, tzinfo=UTC),
                                                                    datetime(2024, 1, 1, 0, 1, tzinfo=UTC))
        assert stored_period(store, ["EQ 2,x"], ["cpu_usage"])[0] == datetime(2024, 1, 1, 0, 2, tzinfo=UTC)
        assert stored_period(store, ["EQ-1"])[1] == datetime(2024, 1, 1, 0, 1, tzinfo=UTC)
        assert stored_period(store, ["nobody"]) is None
        assert stored_period(store, ["EQ-1"], ["memory_usage"]) is None


def test_empty_periods_name_the_period_the_store_holds(source):
    period = ["--start", "2024-05-01", "--end", "2024-05-08"]
    held = "from 2024-05-01 to 2024-05-08 UTC; the store holds 2024-01-01 00:00 to 2024-01-01 00:01"
    out = run("metrics", "EQ-1", *period, store=source).stdout
    assert out.strip() == f"No points for EQ-1 {held} for it."
    out = run("stats", "EQ-1", *period, "--metric", "cpu_usage", store=source).stdout
    assert out.strip() == f"No points for EQ-1 (cpu_usage) {held.replace('00:01', '00:00')} for it."
    out = run("stats", *period, "--metric", "cpu_usage", store=source).stdout
    assert out.strip() == ("No points for any equipment (cpu_usage) from 2024-05-01 to 2024-05-08 UTC; "
                           "the store holds 2024-01-01 00:00 to 2024-01-01 00:02 for it.")
    out = run("stats", "EQ-1", *period, "--metric", "memory_usage", store=source).stdout
    assert "the store holds other metrics for it, from 2024-01-01 00:00 to 2024-01-01 00:01." in out
    out = run("availability", "EQ-1", *period, store=source).stdout
    assert out.strip() == ("No points for EQ-1 (availability) from 2024-05-01 to 2024-05-08 UTC; "
                           "the store holds other metrics for it, from 2024-01-01 00:00 to 2024-01-01 00:01.")
    with open_store(source) as store:
        store.write_frame(pd.DataFrame({"time": [pd.Timestamp("2024-01-02", tz="UTC")], "equipment_id": ["EQ-3"],
                                        "metric_type": ["memory_usage"], "value": [1.0]}))
    out = run("stats", "EQ-3", *period, "--metric", "response_time", store=source).stdout
    assert out.strip().endswith("the store holds other metrics for it, from 2024-01-02 00:00 to 2024-01-02 00:00.")
    for command in (["stats"], ["availability"], ["metrics", "EQ-1"]):
        result = run(*command, *period, "--json", store=source)
        assert result.exit_code == 0
        payload = json.loads(result.stdout)
        assert (payload["metrics"] if command[0] == "metrics" else payload) == []
        assert result.stderr.startswith("No points for ")
