"""The store contract on the embedded DuckDB store, plus what only it promises."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pandas as pd
import pytest

from vigileos_analytics.errors import ConfigurationError, StoreConnectionError, WriteError
from vigileos_analytics.stores import open_store
from vigileos_analytics.stores.base import Selection
from vigileos_analytics.stores.embedded import EmbeddedStore

from .store_contract import HOUR, T0, StoreContract, points_frame


class TestEmbeddedContract(StoreContract):
    @pytest.fixture
    def store(self, store_path):
        return open_store(f"duckdb:///{store_path}")


def _runs(store: EmbeddedStore) -> pd.DataFrame:
    con = duckdb.connect(str(store.path), read_only=True)
    try:
        return con.execute("SELECT * FROM availability_runs ORDER BY equipment_id, start_time").df()
    finally:
        con.close()


def test_runs_condense_samples_and_stay_right_after_out_of_order_writes(embedded_store):
    minutes = list(range(0, 120))
    values = [1 if m < 60 or m >= 90 else 0 for m in minutes]
    embedded_store.write_frame(points_frame("EQ-1", "availability", minutes, values))
    assert len(_runs(embedded_store)) == 3
    # Overwrite a stretch in the middle of the first run, out of order.
    embedded_store.write_frame(points_frame("EQ-1", "availability", [30, 20, 25], [0, 0, 0]))
    runs = _runs(embedded_store)
    assert runs["state"].tolist() == [1, 0, 1, 0, 1, 0, 1, 0, 1]
    assert runs["samples"].sum() == 120


@pytest.mark.parametrize("staleness_min", [1, 10, 30])
def test_runs_and_samples_give_the_same_intervals(store_path, staleness_min):
    """Runs are an optimisation: for every staleness they must equal the raw-sample answer."""
    store = EmbeddedStore(store_path, run_gap=timedelta(minutes=10))
    minutes = [0, 1, 2, 3, 15, 16, 40, 41, 42, 70, 71]
    store.write_frame(points_frame("EQ-1", "availability", minutes, [1, 1, 0, 0, 0, 1, 1, 1, 0, 1, 1]))
    staleness = timedelta(minutes=staleness_min)
    got = store.availability_intervals(T0, T0 + 2 * HOUR, staleness)
    from vigileos_analytics.stores.intervals import intervals_from_samples

    raw = store.query(Selection(T0 - staleness, T0 + 2 * HOUR))
    expected = intervals_from_samples(pd.DataFrame({
        "equipment_id": raw["equipment_id"], "time": raw["time"].astype("int64"), "value": raw["value"]}),
        pd.Timestamp(T0).value, pd.Timestamp(T0 + 2 * HOUR).value, int(staleness.total_seconds() * 1e9))
    for frame in (got, expected):
        frame["seconds"] = (frame["end"] - frame["start"]) / 1e9
    assert got.groupby("state")["seconds"].sum().to_dict() == expected.groupby("state")["seconds"].sum().to_dict()


def test_delete_rebuilds_runs(embedded_store):
    embedded_store.write_frame(points_frame("EQ-1", "availability", list(range(60)), [1] * 30 + [0] * 30))
    embedded_store.delete(Selection(T0 + timedelta(minutes=25), T0 + timedelta(minutes=35)))
    got = embedded_store.availability_intervals(T0, T0 + HOUR, timedelta(minutes=2))
    seconds = ((got["end"] - got["start"]) / 1e9).groupby(got["state"]).sum().to_dict()
    # 0..24 up (+1 min of the last sample), 35..59 down (+1 min), 26..35 unknown except 2 min staleness
    assert seconds == {1: 26 * 60.0, 0: 25 * 60.0}


def test_latest_comes_from_series_facts_kept_at_write_time(embedded_store):
    embedded_store.write_frame(points_frame("EQ-1", "cpu_usage", [5, 1], [2.0, 1.0]))
    embedded_store.write_frame(points_frame("EQ-1", "cpu_usage", [3], [9.0]))
    assert embedded_store.latest()["value"].tolist() == [2.0]
    embedded_store.delete(Selection(T0 + timedelta(minutes=4), T0 + HOUR))
    assert embedded_store.latest()["value"].tolist() == [9.0]


def test_read_session_reuses_one_connection_and_refuses_writes(embedded_store):
    embedded_store.write_frame(points_frame("EQ-1", "cpu_usage", [0], [1.0]))
    with embedded_store.session():
        assert len(embedded_store.query(Selection(T0, T0 + HOUR))) == 1
        with pytest.raises(WriteError, match="read session"):
            embedded_store.write_frame(points_frame("EQ-1", "cpu_usage", [1], [1.0]))


@pytest.mark.parametrize("url, message", [
    ("postgres://x", "scheme must be one of"),
    ("duckdb://host/x.duckdb", "no host"),
    ("duckdb:///", "names no file"),
    ("duckdb:///x.duckdb?speed=fast", "Unknown option"),
])
def test_bad_store_urls(url, message):
    with pytest.raises(ConfigurationError, match=message):
        open_store(url)


def test_a_folder_is_not_a_store(tmp_path):
    with pytest.raises(StoreConnectionError, match="is a folder"):
        open_store(f"duckdb:///{tmp_path}")


def test_relative_and_absolute_urls(tmp_path):
    relative = open_store("duckdb:///rel/m.duckdb")
    assert relative.path == (tmp_path / "rel" / "m.duckdb").relative_to(tmp_path)
    absolute = open_store(f"duckdb:///{tmp_path}/abs.duckdb")
    assert absolute.path == tmp_path / "abs.duckdb"
