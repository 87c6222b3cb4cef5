"""The data lifecycle on real stores: backup / verify / restore, export, cleanup and
retention, on real DuckDB files and a real influxd (Debian's InfluxDB 1.6.7)."""

from __future__ import annotations

import gzip
import itertools
import json
import tarfile
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from vigileos_analytics.cli.common import AppContext
from vigileos_analytics.cli.lifecycle import backup as backup_cmd
from vigileos_analytics.cli.lifecycle import cleanup as cleanup_cmd
from vigileos_analytics.cli.lifecycle import export as export_cmd
from vigileos_analytics.cli.lifecycle import restore as restore_cmd
from vigileos_analytics.cli.lifecycle import retention as retention_cmd
from vigileos_analytics.errors import ConfigurationError, StoreConnectionError, ValidationError
from vigileos_analytics.ingest.importing import CsvMapping, read_metrics_csv
from vigileos_analytics.lifecycle import backup, cleanup, export, restore, set_retention, show_retention, verify
from vigileos_analytics.lifecycle.chunks import all_time, plan_chunks
from vigileos_analytics.stores import open_store
from vigileos_analytics.stores.base import Selection
from vigileos_analytics.stores.retention import retention_file, shard_duration_hours

from .conftest import FLEET_END
from .influx_fixtures import influxd  # noqa: F401  (a pytest fixture)

_databases = itertools.count()
CHUNK = 20_000  # small chunks, so the fleet spans many parts


def full_frame(store) -> pd.DataFrame:
    """Every point of the seeded fleet's period, in one canonical order, tags as sorted
    text. (A query from 1970 to 2262 takes influxd 1.6 about 8 s on its own.)"""
    frame = store.query(Selection(FLEET_END - timedelta(days=60), FLEET_END + timedelta(days=1)))
    frame["tags"] = frame["tags"].map(lambda tags: json.dumps(sorted(tags.items())))
    frame["equipment_id"] = frame["equipment_id"].astype(str)
    frame["metric_type"] = frame["metric_type"].astype(str)
    return frame.sort_values(["equipment_id", "metric_type", "tags", "time"], kind="stable").reset_index(drop=True)


@pytest.fixture
def seeded(seeded_store_dir: Path):
    return open_store(f"duckdb:///{seeded_store_dir / 'metrics.duckdb'}")


@pytest.fixture
def influx_url(influxd):
    name = f"lifecycle_{next(_databases)}"
    yield f"influxdb1+{influxd.url}/{name}?create_database=true&spool=off"
    influxd.query(f'DROP DATABASE "{name}"')


@pytest.fixture
def influx_store(influx_url):
    store = open_store(influx_url)
    yield store
    store.close()


# -- chunks ---------------------------------------------------------------------------------

def test_plan_covers_every_point_in_bounded_chunks(seeded):
    chunks = plan_chunks(seeded, all_time(), max_points=CHUNK)
    total = int(seeded.aggregate(all_time(), functions=("count",))["count"].sum())
    assert sum(c.points for c in chunks) == total
    assert len(chunks) > 6 and all(c.points <= CHUNK for c in chunks)
    assert all(a.end_ns <= b.start_ns for a, b in itertools.pairwise(chunks) if a.equipment_id == b.equipment_id)


# -- backup, verify, restore ------------------------------------------------------------------

@pytest.mark.influxdb
def test_round_trip_embedded_influxd_embedded_is_identical(seeded, influx_store, tmp_path):
    original = full_frame(seeded)
    first = backup(seeded, tmp_path / "one.tar", chunk_points=CHUNK)
    assert first.points == len(original) and first.files > 6
    assert verify(tmp_path / "one.tar").points == len(original)
    assert restore(influx_store, tmp_path / "one.tar", batch_points=CHUNK).points == len(original)
    pd.testing.assert_frame_equal(full_frame(influx_store), original)

    second = backup(influx_store, tmp_path / "two", chunk_points=CHUNK)  # a folder this time
    assert verify(tmp_path / "two").points == len(original)
    assert second.counts.equals(first.counts)
    back = open_store(f"duckdb:///{tmp_path / 'back.duckdb'}")
    restore(back, tmp_path / "two")
    pd.testing.assert_frame_equal(full_frame(back), original)


def test_manifest_has_counts_time_range_and_checksums(seeded, tmp_path):
    backup(seeded, tmp_path / "a", chunk_points=CHUNK)
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    counts = seeded.aggregate(all_time(), functions=("count",))
    assert {(c["equipment_id"], c["metric_type"]): c["points"] for c in manifest["counts"]} == {
        (e, m): n for e, m, n in counts[["equipment_id", "metric_type", "count"]].itertuples(index=False)}
    assert manifest["format_version"] == 1 and len(manifest["files"][0]["sha256"]) == 64
    assert pd.Timestamp(manifest["time_range"]["last"]) < pd.Timestamp(FLEET_END)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["manifest.json"] + [
        f["name"] for f in manifest["files"]]


def test_a_backup_selection_keeps_only_what_was_asked(seeded, tmp_path):
    selection = Selection(FLEET_END - timedelta(days=2), FLEET_END, equipment_ids=["EQ-0002"],
                          metric_types=["cpu_usage", "availability"])
    result = backup(seeded, tmp_path / "sel.tar", selection)
    assert set(result.counts["equipment_id"]) == {"EQ-0002"}
    assert set(result.counts["metric_type"]) == {"cpu_usage", "availability"}
    assert result.points == len(seeded.query(selection))


def test_a_corrupted_archive_fails_verify_and_restores_nothing(seeded, tmp_path):
    backup(seeded, tmp_path / "bad", chunk_points=CHUNK)
    part = sorted((tmp_path / "bad").glob("part-*.parquet"))[2]
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF
    part.write_bytes(bytes(data))
    with pytest.raises(ValidationError, match=rf"archive .* is damaged: {part.name} has .* sha256 .*Do not restore"):
        verify(tmp_path / "bad")
    target = open_store(f"duckdb:///{tmp_path / 'target.duckdb'}")
    with pytest.raises(ValidationError, match="damaged"):
        restore(target, tmp_path / "bad")
    assert target.health().details["points"] == 0


def test_a_missing_part_or_edited_manifest_fails_verify(seeded, tmp_path):
    backup(seeded, tmp_path / "a.tar", chunk_points=CHUNK)
    folder = tmp_path / "unpacked"
    with tarfile.open(tmp_path / "a.tar") as tar:
        tar.extractall(folder, filter="data")
    sorted(folder.glob("part-*.parquet"))[0].unlink()
    with pytest.raises(ValidationError, match="listed in the manifest but missing"):
        verify(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["format_version"] = 99
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValidationError, match="format version 99"):
        verify(folder)


class FailingStore:
    """The seeded store, except that its third chunk read raises (only the failure is
    injected: every other call goes to the real DuckDB store)."""

    def __init__(self, store) -> None:
        self._store, self.queries = store, 0

    def __getattr__(self, name):
        return getattr(self._store, name)

    def query(self, selection):
        self.queries += 1
        if self.queries == 3:
            raise StoreConnectionError("injected failure on the third chunk")
        return self._store.query(selection)


@pytest.mark.parametrize("name", ["interrupted", "interrupted.tar"])
def test_an_interrupted_backup_leaves_no_archive(seeded, tmp_path, name):
    store = FailingStore(seeded)
    with pytest.raises(StoreConnectionError, match="injected"):
        backup(store, tmp_path / name, chunk_points=CHUNK)
    assert store.queries == 3
    assert not (tmp_path / name).exists()
    assert [p.name for p in tmp_path.iterdir() if "interrupted" in p.name] == []
    with pytest.raises(ValidationError, match="No archive"):
        verify(tmp_path / name)


def test_backup_never_overwrites(seeded, tmp_path):
    (tmp_path / "there").mkdir()
    with pytest.raises(ValidationError, match="already exists"):
        backup(seeded, tmp_path / "there")


# -- export ---------------------------------------------------------------------------------

def _canonical(frame: pd.DataFrame, tags: list[str]) -> pd.DataFrame:
    out = pd.DataFrame({"time": pd.to_datetime(frame["time"], utc=True).astype("datetime64[ns, UTC]"),
                        "equipment_id": frame["equipment_id"].astype(str),
                        "metric_type": frame["metric_type"].astype(str),
                        "value": frame["value"].astype("float64")})
    for tag in tags:
        out[tag] = frame[tag].astype(object).where(frame[tag].notna(), None) if tag in frame else None
    return out.sort_values(["equipment_id", "metric_type", "time", *tags], kind="stable").reset_index(drop=True)


def test_export_csv_and_parquet_read_back_identically(seeded, tmp_path):
    selection = Selection(FLEET_END - timedelta(days=1), FLEET_END, metric_types=["cpu_usage", "temperature"])
    expected = full_frame(seeded)
    expected = expected[(expected["time"] >= pd.Timestamp(selection.start))
                        & expected["metric_type"].isin(selection.metric_types)].reset_index(drop=True)

    csv = export(seeded, selection, tmp_path / "out.csv", chunk_points=CHUNK)
    assert csv.points == len(expected)
    imported = read_metrics_csv(tmp_path / "out.csv", CsvMapping(tags=csv.tag_columns)).frame
    parquet = export(seeded, selection, tmp_path / "out.parquet", chunk_points=CHUNK)
    read_back = pd.read_parquet(tmp_path / "out.parquet")
    assert str(read_back["time"].dtype) == "datetime64[ns, UTC]" and parquet.points == csv.points

    rewritten = open_store(f"duckdb:///{tmp_path / 'csv.duckdb'}")
    rewritten.write_frame(imported)
    pd.testing.assert_frame_equal(full_frame(rewritten), expected)
    tags = list(csv.tag_columns)
    pd.testing.assert_frame_equal(_canonical(read_back, tags), _canonical(imported, tags))


def test_export_csv_with_partly_absent_tags_reads_back(seeded, tmp_path):
    selection = Selection(FLEET_END - timedelta(days=1), FLEET_END)
    csv = export(seeded, selection, tmp_path / "out.csv", chunk_points=CHUNK)
    imported = read_metrics_csv(tmp_path / "out.csv", CsvMapping(tags=csv.tag_columns)).frame
    rewritten = open_store(f"duckdb:///{tmp_path / 'csv.duckdb'}")
    rewritten.write_frame(imported)
    expected = full_frame(seeded)
    expected = expected[expected["time"] >= pd.Timestamp(selection.start)].reset_index(drop=True)
    pd.testing.assert_frame_equal(full_frame(rewritten), expected)


@pytest.mark.influxdb
def test_export_line_protocol_posts_back_identically(seeded, influxd, influx_store, tmp_path):
    selection = Selection(FLEET_END - timedelta(days=1), FLEET_END, equipment_ids=["EQ-0001", "EQ-0004"])
    result = export(seeded, selection, tmp_path / "out.lp", chunk_points=CHUNK)
    body = (tmp_path / "out.lp").read_bytes()
    assert result.points == body.count(b"\n") == len(seeded.query(selection))
    assert body.startswith(b"equipment_metrics,")
    influx_store.http.write(gzip.compress(body) if influx_store.http.gzip else body, database=influx_store.database)
    expected = full_frame(seeded)
    expected = expected[expected["equipment_id"].isin(["EQ-0001", "EQ-0004"])
                        & (expected["time"] >= pd.Timestamp(selection.start))].reset_index(drop=True)
    pd.testing.assert_frame_equal(full_frame(influx_store), expected)


def test_export_refuses_an_unknown_suffix(seeded, tmp_path):
    with pytest.raises(ValidationError, match="--format csv|parquet|lp"):
        export(seeded, all_time(), tmp_path / "out.xlsx")


# -- cleanup --------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["embedded", pytest.param("influxd", marks=pytest.mark.influxdb)])
def test_cleanup_dry_run_counts_exactly_what_cleanup_deletes(backend, seeded, request, tmp_path):
    store = seeded
    if backend == "influxd":
        store = request.getfixturevalue("influx_store")
        restore(store, backup(seeded, tmp_path / "a.tar").path)
    before = store.aggregate(all_time(), functions=("count",)).set_index(["equipment_id", "metric_type"])["count"]
    dry = cleanup(store, timedelta(days=4), dry_run=True, now=FLEET_END)
    assert 0 < dry.points < before.sum()
    assert store.aggregate(all_time(), functions=("count",))["count"].sum() == before.sum()  # nothing deleted yet

    real = cleanup(store, timedelta(days=4), now=FLEET_END)
    after = store.aggregate(all_time(), functions=("count",)).set_index(["equipment_id", "metric_type"])["count"]
    removed = (before - after.reindex(before.index, fill_value=0)).astype("int64")
    removed = removed[removed > 0]
    assert real.points == dry.points == int(removed.sum())
    assert dry.counts.set_index(["equipment_id", "metric_type"])["points"].to_dict() == removed.to_dict()
    assert store.query(Selection(FLEET_END - timedelta(days=30), dry.cutoff)).empty
    assert not store.query(Selection(dry.cutoff, FLEET_END)).empty


def test_embedded_retention_is_a_file_beside_the_store_enforced_by_cleanup(seeded):
    assert show_retention(seeded).days is None
    with pytest.raises(ValidationError, match="--older-than"):
        cleanup(seeded, dry_run=True, now=FLEET_END)
    info = set_retention(seeded, 5)
    assert info.days == 5 and retention_file(seeded).exists()
    result = cleanup(seeded, now=FLEET_END)
    assert result.cutoff == FLEET_END - timedelta(days=5) and "retention of 5 days" in result.rule
    assert seeded.query(Selection(FLEET_END - timedelta(days=30), FLEET_END - timedelta(days=5))).empty
    assert set_retention(seeded, 0).days is None
    retention_file(seeded).write_text("{not json")
    with pytest.raises(ConfigurationError, match="retention file .* is unreadable"):
        show_retention(seeded)


@pytest.mark.parametrize("days", [-1, 1.5, True, 40_000])
def test_retention_days_are_validated(seeded, days):
    with pytest.raises(ValidationError, match="whole number of days from 0"):
        set_retention(seeded, days)


# -- retention on influxd and InfluxDB 2 -------------------------------------------------------------

@pytest.mark.influxdb
def test_retention_show_and_set_on_influxd(influx_store, influxd):
    assert show_retention(influx_store).days is None  # autogen keeps for ever
    info = set_retention(influx_store, 30)
    assert info.days == 30 and info.details["policy"] == "autogen"
    policies = influxd.query(f'SHOW RETENTION POLICIES ON "{influx_store.database}"')["results"][0]["series"][0]
    row = dict(zip(policies["columns"], policies["values"][0], strict=True))
    assert (row["duration"], row["shardGroupDuration"]) == ("720h0m0s", "24h0m0s")
    assert set_retention(influx_store, 1).details["shard_group_duration"] == "1h0m0s"
    assert set_retention(influx_store, 0).days is None


def test_shard_durations_follow_influxdb_defaults():
    assert [shard_duration_hours(d) for d in (0, 1, 2, 180, 181)] == [168, 1, 24, 24, 168]


class FakeBucketsApi:
    """Stands in for influxdb-client's BucketsApi: no InfluxDB 2.x server can run here
    (see DESIGN.md). It keeps one bucket's state; the test checks that state."""

    def __init__(self, bucket) -> None:
        self.bucket = bucket

    def find_bucket_by_name(self, name):
        return self.bucket if name == self.bucket.name else None

    def update_bucket(self, bucket):
        self.bucket = bucket
        return bucket


def test_influx2_bucket_retention_rules(monkeypatch):
    from influxdb_client.domain.bucket import Bucket
    from influxdb_client.domain.bucket_retention_rules import BucketRetentionRules

    from vigileos_analytics.config import Secret, Settings

    store = open_store("influxdb2+http://127.0.0.1:9?spool=off",
                       Settings(influxdb_token=Secret("t"), influxdb_org="o", influxdb_bucket="metrics"))
    try:
        api = FakeBucketsApi(Bucket(name="metrics", retention_rules=[BucketRetentionRules(every_seconds=0)]))
        monkeypatch.setattr(store._client, "buckets_api", lambda: api)
        assert show_retention(store).days is None
        assert set_retention(store, 90).days == 90
        assert api.bucket.retention_rules[0].every_seconds == 90 * 86_400
        api.bucket.name = "other"
        with pytest.raises(StoreConnectionError, match="bucket 'metrics' does not exist"):
            show_retention(store)
    finally:
        store._client.close()


# -- the commands ---------------------------------------------------------------------------------

def _run(command, args, url):
    return CliRunner().invoke(command, args, obj=AppContext(url), catch_exceptions=False)


def test_cli_backup_verify_restore_export_cleanup_retention(seeded, tmp_path):
    url = f"duckdb:///{seeded.path}"
    result = _run(backup_cmd, [str(tmp_path / "b.tar"), "-q"], url)  # `vigileos backup PATH`
    assert result.exit_code == 0, result.output
    assert "Backed up" in result.output
    result = _run(backup_cmd, ["create", str(tmp_path / "c"), "-q", "--equipment", "EQ-0001", "--json"], url)
    assert json.loads(result.output)["points"] == len(seeded.query(all_time(equipment_ids=["EQ-0001"])))
    assert "is intact" in _run(backup_cmd, ["verify", str(tmp_path / "b.tar")], url).output

    part = next((tmp_path / "c").glob("part-*.parquet"))
    part.write_bytes(part.read_bytes()[:-10])
    damaged = CliRunner().invoke(backup_cmd, ["verify", str(tmp_path / "c")], obj=AppContext(url))
    assert damaged.exit_code == 3 and "is damaged" in damaged.output

    restored_url = f"duckdb:///{tmp_path / 'r.duckdb'}"
    result = _run(restore_cmd, [str(tmp_path / "b.tar"), "-q", "--json"], restored_url)
    assert json.loads(result.output)["points"] == len(seeded.query(all_time()))

    result = _run(export_cmd, [str(tmp_path / "e.txt"), "--format", "lp", "--metric", "cpu_usage", "-q"], url)
    assert result.exit_code == 0 and (tmp_path / "e.txt").read_text().count("metric_type=cpu_usage") > 0

    result = _run(cleanup_cmd, ["--older-than", "1d", "--dry-run", "--json"], url)
    assert json.loads(result.output)["points"] == len(seeded.query(all_time()))
    assert "Retention: 14 days" in _run(retention_cmd, ["set", "--days", "14"], url).output
    assert json.loads(_run(retention_cmd, ["show", "--json"], url).output)["days"] == 14
    bad = CliRunner().invoke(cleanup_cmd, ["--older-than", "soon"], obj=AppContext(url))
    assert bad.exit_code == 2
