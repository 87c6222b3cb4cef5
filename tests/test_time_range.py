"""The time range every store holds, [1970-01-01, 2262-01-01) UTC, on every path: what is
accepted survives backup, restore and export; what is outside is refused where it enters."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from vigileos_analytics.cli import main
from vigileos_analytics.errors import ValidationError
from vigileos_analytics.lifecycle import export
from vigileos_analytics.lifecycle.chunks import plan_chunks
from vigileos_analytics.schema import Point, normalize_points_frame
from vigileos_analytics.stores import open_store
from vigileos_analytics.stores.base import Selection
from vigileos_analytics.timeparse import parse_time_text

RANGE = "outside the time range vigileos stores: from 1970-01-01T00:00:00Z up to (not including) 2262-01-01T00:00:00Z"
EDGES = ("time,equipment_id,metric_type,value\n"
         "1970-01-01T00:00:00Z,EQ,cpu_usage,1\n"
         "2024-01-01T00:00:00Z,EQ,cpu_usage,2\n"
         "2261-12-31T23:59:59.999999999Z,EQ,cpu_usage,3\n")
#: The same points as line protocol, written by hand: 2261-12-31T23:59:59.999999999Z is
#: 9_214_646_400 s after the epoch, less one nanosecond.
EDGES_LP = ("equipment_metrics,equipment_id=EQ,metric_type=cpu_usage value=1.0 0\n"
            "equipment_metrics,equipment_id=EQ,metric_type=cpu_usage value=2.0 1704067200000000000\n"
            "equipment_metrics,equipment_id=EQ,metric_type=cpu_usage value=3.0 9214646399999999999\n")


def run(url: str, *args: str):
    return CliRunner().invoke(main, ["--store", url, *args])


@pytest.fixture
def edges(tmp_path: Path) -> str:
    url = f"duckdb:///{tmp_path / 'edges.duckdb'}"
    source = tmp_path / "edges.csv"
    source.write_text(EDGES)
    result = run(url, "import", str(source))
    assert result.exit_code == 0, result.output
    return url


def test_points_at_both_edges_survive_backup_restore_and_export(edges, tmp_path):
    backup = run(edges, "backup", "create", "-q", str(tmp_path / "bk"))
    assert backup.exit_code == 0 and "Backed up 3 points" in backup.output, backup.output
    restored = f"duckdb:///{tmp_path / 'restored.duckdb'}"
    restore = run(restored, "restore", "-q", str(tmp_path / "bk"))
    assert restore.exit_code == 0 and "Restored 3 points" in restore.output, restore.output
    exported = run(restored, "export", "-q", str(tmp_path / "all.lp"))
    assert exported.exit_code == 0, exported.output
    assert (tmp_path / "all.lp").read_text() == EDGES_LP


def test_export_between_the_stored_range_ends(edges, tmp_path):
    result = run(edges, "export", "-q", "--start", "1970-01-01", "--end", "2262-01-01", str(tmp_path / "all.lp"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "all.lp").read_text() == EDGES_LP


@pytest.mark.parametrize("args,option", [
    (("--start", "1899-12-31", "--end", "2262-04-10"), "--start"),
    (("--start", "1900-01-01"), "--start"),
    (("--end", "2262-04-10"), "--end"),
])
def test_export_bounds_outside_the_range_are_refused(edges, tmp_path, args, option):
    result = run(edges, "export", "-q", *args, str(tmp_path / "x.csv"))
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in result.output and RANGE in " ".join(result.output.split())
    assert not (tmp_path / "x.csv").exists()


def test_record_before_1970_is_refused(edges):
    result = run(edges, "record", "EQ", "cpu_usage", "1", "--time", "1950-06-01")
    assert result.exit_code == 2, result.output
    assert "1950-06-01T00:00:00+00:00 is " + RANGE in " ".join(result.output.split())


def test_python_export_of_a_wider_selection_reads_the_whole_range(edges, tmp_path):
    wide = Selection(datetime(1900, 1, 1, tzinfo=UTC), datetime(2262, 4, 10, tzinfo=UTC))
    with open_store(edges) as store:
        assert sum(c.points for c in plan_chunks(store, wide)) == 3
        assert plan_chunks(store, Selection(datetime(1900, 1, 1, tzinfo=UTC), datetime(1950, 1, 1, tzinfo=UTC))) == []
        assert export(store, wide, tmp_path / "all.lp").points == 3
    assert (tmp_path / "all.lp").read_text() == EDGES_LP


@pytest.mark.parametrize("when", [datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(2262, 1, 1, tzinfo=UTC)])
def test_points_outside_the_range_are_refused_by_the_python_api(when, tmp_path):
    with pytest.raises(ValidationError, match="outside the time range vigileos stores"):
        Point("EQ", "cpu_usage", 1.0, when)
    frame = pd.DataFrame({"time": [pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp(when)],
                          "equipment_id": ["EQ", "EQ"], "metric_type": ["cpu_usage"] * 2, "value": [1.0, 2.0]})
    with pytest.raises(ValidationError, match="in row 1 is outside the time range"):
        normalize_points_frame(frame)
    with open_store(f"duckdb:///{tmp_path / 'api.duckdb'}") as store, pytest.raises(ValidationError):
        store.write_frame(frame)


@pytest.mark.parametrize("text,ok", [
    ("1970-01-01", True), ("2262-01-01", True), ("1969-12-31T23:59:59.999999999Z", False),
    ("2262-01-01T00:00:00.000000001Z", False), ("3000-01-01", False), ("now-100000000d", False),
    ("now-1000000000d", False),
])
def test_time_text_is_read_within_the_range(text, ok):
    if ok:
        assert parse_time_text(text) == datetime.fromisoformat(text).replace(tzinfo=UTC)
    else:
        with pytest.raises(ValidationError):
            parse_time_text(text)


def test_export_never_overwrites_the_store_or_a_duckdb_file(edges, tmp_path):
    store_file = tmp_path / "edges.duckdb"
    result = run(edges, "export", "-q", "--format", "csv", "--overwrite", str(store_file))
    assert result.exit_code == 3 and "is a DuckDB database" in result.output, result.output
    lock = Path(f"{store_file}.lock")
    assert lock.exists()
    result = run(edges, "export", "-q", "--format", "csv", "--overwrite", str(lock))
    assert result.exit_code == 3 and "one of the store's own files" in result.output, result.output
    other = tmp_path / "other.duckdb"
    other.write_bytes(store_file.read_bytes())
    result = run(edges, "export", "-q", "--format", "csv", "--overwrite", str(other))
    assert result.exit_code == 3 and "is a DuckDB database" in result.output, result.output
    assert other.read_bytes() == store_file.read_bytes()
    with open_store(edges) as store:
        assert len(store.query(Selection(datetime(1970, 1, 1, tzinfo=UTC), datetime(2262, 1, 1, tzinfo=UTC)))) == 3


def test_exact_epoch_values_per_unit(tmp_path):
    url = f"duckdb:///{tmp_path / 'epoch.duckdb'}"
    source = tmp_path / "epoch.csv"
    # 1700000000 s, 1700000060000 ms, 1700000120000000 us and 1700000180123456789 ns after the epoch
    source.write_text("ts,value\n1700000000,1\n1700000060000,2\n1700000120000000,3\n1700000180123456789,4\n")
    result = run(url, "import", str(source), "--equipment-id", "EQ", "--metric-type", "cpu_usage", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["epoch_units"] == {"s": 1, "ms": 1, "us": 1, "ns": 1}
    with open_store(url) as store:
        times = store.query(Selection(datetime(1970, 1, 1, tzinfo=UTC), datetime(2262, 1, 1, tzinfo=UTC)))["time"]
    assert [t.isoformat() for t in sorted(times)] == [
        "2023-11-14T22:13:20+00:00", "2023-11-14T22:14:20+00:00", "2023-11-14T22:15:20+00:00",
        "2023-11-14T22:16:20.123456789+00:00"]


def test_parquet_times_outside_the_range_are_bad_rows(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = tmp_path / "points.parquet"
    stamps = [datetime(1900, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)]
    pq.write_table(pa.table({"time": pa.array(stamps, pa.timestamp("us", tz="UTC")), "equipment_id": ["EQ"] * 3,
                             "metric_type": ["cpu_usage"] * 3, "value": [1.0, 2.0, 3.0]}), source)
    url = f"duckdb:///{tmp_path / 'parquet.duckdb'}"
    result = run(url, "import", str(source))
    assert result.exit_code == 3, result.output
    flat = " ".join(result.output.split())
    assert "row 1: time '1900-01-01 00:00:00+00:00' is " + RANGE in flat
    assert "row 3: time '3000-01-01 00:00:00+00:00' is " + RANGE in flat
    result = run(url, "import", str(source), "--skip-bad-rows", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["points_written"] == 1, result.output


@pytest.mark.parametrize("times", [
    pd.Series(pd.to_datetime(["2300-01-01"]).as_unit("us")).dt.tz_localize("UTC"),
    pd.Series(["2300-01-01T00:00:00Z"]),
], ids=["microsecond column", "text"])
def test_a_frame_time_nanoseconds_cannot_hold_is_a_validation_error(times):
    frame = pd.DataFrame({"time": times, "equipment_id": ["A"], "metric_type": ["cpu_usage"], "value": [1.0]})
    with pytest.raises(ValidationError, match="outside the time range"):
        normalize_points_frame(frame)
