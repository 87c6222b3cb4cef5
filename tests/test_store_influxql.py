"""The store contract and the InfluxQL backend's own promises, on a real influxd.

The server (Debian's influxdb 1.6.7, see tests/influx_server.py) starts once per
session on a free loopback port with its data in a temporary folder; each test
gets a fresh database.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, timedelta

import pandas as pd
import pytest
import requests

from vigileos_analytics.config import Secret, Settings
from vigileos_analytics.errors import ConfigurationError, QueryError, StoreConnectionError, ValidationError, WriteError
from vigileos_analytics.stores import open_store
from vigileos_analytics.stores.base import Selection
from vigileos_analytics.stores.influxql import InfluxQLStore
from vigileos_analytics.stores.influxql_url import open_influxql_store

from .influx_fixtures import influxd  # noqa: F401  (a pytest fixture, shared with tests/test_check.py)
from .influx_server import InfluxServer
from .store_contract import HOUR, INJECTIONS, T0, StoreContract, points_frame

pytestmark = pytest.mark.influxdb

_counter = itertools.count()


@pytest.fixture
def database(influxd):
    name = f"test_{next(_counter)}"
    yield name
    influxd.query(f'DROP DATABASE "{name}"')


@pytest.fixture
def influx_store(influxd, database):
    store = open_store(f"influxdb1+{influxd.url}/{database}?create_database=true")
    yield store
    store.close()


class TestInfluxQLContract(StoreContract):
    @pytest.fixture
    def store(self, influx_store):
        return influx_store


def test_url_opens_an_influxql_store_with_its_options(influxd, database, tmp_path):
    store = open_store(f"influxdb1+{influxd.url}/{database}?create_database=true&batch_size=2&gzip=false"
                       f"&timeout=3s&spool={tmp_path}/sp")
    assert isinstance(store, InfluxQLStore)
    assert (store.batch_size, store.http.gzip, store.http.timeout_s) == (2, False, 3.0)
    assert store.spool.directory == tmp_path / "sp"
    store.write_frame(points_frame("EQ-1", "cpu_usage", [0, 1, 2, 3, 4], [1.0, 2, 3, 4, 5]))
    assert len(store.query(Selection(T0, T0 + HOUR))) == 5


def test_database_defaults_to_the_bucket_setting(influxd, database):
    store = open_influxql_store(f"influxdb1+{influxd.url}?create_database=true",
                                Settings(influxdb_bucket=database))
    assert store.database == database
    assert store.health().ok


@pytest.mark.parametrize("url, message", [
    ("influxdb1+http://user:pw@localhost:8086/db", "not in the store URL"),
    ("influxdb1+http://localhost:8086/db?colour=red", "Unknown option"),
    ("influxdb1+http://localhost:8086/db?gzip=maybe", "true or false"),
    ("influxdb1+http://localhost:8086/bad%20name", "database name"),
    ("influxdb1+http://localhost:8086/db?spool_max=lots", "spool_max"),
    ("influxdb1+http://localhost:8086/db?timeout=soon", "timeout"),
])
def test_bad_urls_are_configuration_errors(url, message):
    with pytest.raises(ConfigurationError, match=message):
        open_store(url)


def test_health_reports_version_latency_and_a_missing_database(influxd):
    health = open_store(f"influxdb1+{influxd.url}/absent_db").health()
    assert not health.ok and "does not exist" in health.message and health.version.startswith("1.")
    assert health.details["latency_ms"] >= 0


def test_unreachable_server_is_a_clear_health_failure_and_a_spooled_write(tmp_path):
    from .influx_server import free_port

    store = open_store(f"influxdb1+http://127.0.0.1:{free_port()}/db?timeout=2s&spool={tmp_path}/sp")
    health = store.health()
    assert not health.ok and "connection refused" in health.message and "vigileos check" in health.message
    result = store.write_frame(points_frame("EQ-1", "cpu_usage", [0, 1], [1.0, 2.0]))
    assert result.points == 2 and store.spool.state().points == 2


def test_without_spool_an_outage_raises_with_the_unwritten_points():
    from .influx_server import free_port

    store = open_store(f"influxdb1+http://127.0.0.1:{free_port()}/db?spool=off")
    frame = points_frame("EQ-1", "cpu_usage", [0, 1], [1.0, 2.0])
    with pytest.raises(WriteError, match="no spool") as caught:
        store.write_frame(frame)
    assert len(caught.value.unwritten) == 2 and caught.value.written == 0
    with pytest.raises(StoreConnectionError, match="connection refused"):
        store.query(Selection(T0, T0 + HOUR))


def test_missing_database_refuses_writes_with_what_to_do(influxd):
    store = open_store(f"influxdb1+{influxd.url}/never_created")
    with pytest.raises(WriteError, match="create_database=true") as caught:
        store.write_frame(points_frame("EQ-1", "cpu_usage", [0], [1.0]))
    assert len(caught.value.unwritten) == 1
    assert not store.spool  # a refusal is not an outage: nothing spooled


def test_batches_split_a_large_frame_and_all_arrive(influxd, database):
    store = open_store(f"influxdb1+{influxd.url}/{database}?create_database=true&batch_size=1000")
    minutes = list(range(5000))
    store.write_frame(points_frame("EQ-1", "cpu_usage", minutes, [float(m) for m in minutes]))
    agg = store.aggregate(Selection(T0, T0 + timedelta(days=10)), functions=("count", "max"))
    assert agg["count"].tolist() == [5000] and agg["max"].tolist() == [4999.0]


@pytest.mark.parametrize("hostile", [h for h in INJECTIONS if "\n" not in h])  # the model refuses newlines
def test_hostile_values_are_stored_and_matched_literally(influx_store, hostile):
    """Hostile ids and tags that InfluxDB can store come back exactly and match only themselves."""
    influx_store.write_frame(points_frame("EQ-1", "cpu_usage", [0], [1.0], location="Paris"))
    if hostile.endswith("\\"):
        with pytest.raises(ValidationError, match="backslash"):
            influx_store.write_frame(points_frame(hostile, "cpu_usage", [1], [2.0]))
        return
    influx_store.write_frame(points_frame(hostile, "cpu_usage", [1], [2.0], location=hostile))
    got = influx_store.query(Selection(T0, T0 + HOUR, equipment_ids=[hostile]))
    assert got["equipment_id"].tolist() == [hostile] and got["tags"].iloc[0] == {"location": hostile}
    assert influx_store.query(Selection(T0, T0 + HOUR, tags={"location": hostile}))["value"].tolist() == [2.0]
    assert hostile in influx_store.equipment_ids()
    assert influx_store.delete(Selection(T0, T0 + HOUR, equipment_ids=[hostile])) == 1
    assert influx_store.query(Selection(T0, T0 + HOUR))["equipment_id"].tolist() == ["EQ-1"]


def test_queries_carry_user_values_only_as_bound_parameters(influx_store, monkeypatch):
    sent = []
    original = influx_store.http.query

    def spy(statement, **kwargs):
        sent.append((statement, kwargs.get("params")))
        return original(statement, **kwargs)

    monkeypatch.setattr(influx_store.http, "query", spy)
    marker = "Zz9-marker"
    influx_store.query(Selection(T0, T0 + HOUR, equipment_ids=[marker], metric_types=["cpu_usage"],
                                 tags={"location": marker}))
    influx_store.aggregate(Selection(T0, T0 + HOUR, equipment_ids=[marker]), every=timedelta(minutes=5))
    influx_store.latest(equipment_ids=[marker])
    influx_store.delete(Selection(T0, T0 + HOUR, equipment_ids=[marker]))
    assert sent and all(marker not in statement for statement, _ in sent)
    assert all(marker in json.dumps(params) for _, params in sent)


def test_empty_and_unknown_tag_filters_match_nothing(influx_store):
    influx_store.write_frame(points_frame("EQ-1", "cpu_usage", [0], [1.0]))  # no location tag
    assert influx_store.query(Selection(T0, T0 + HOUR, tags={"location": ""})).empty
    assert influx_store.query(Selection(T0, T0 + HOUR, tags={'x" = \'\' OR "y': "1"})).empty
    assert influx_store.query(Selection(T0, T0 + HOUR, equipment_ids=[""])).empty
    assert influx_store.delete(Selection(T0, T0 + HOUR, equipment_ids=[""])) == 0
    assert len(influx_store.query(Selection(T0, T0 + HOUR))) == 1


def test_p95_is_nearest_rank(influx_store):
    """InfluxDB's PERCENTILE picks a measured value (nearest rank); DuckDB interpolates."""
    influx_store.write_frame(points_frame("EQ-1", "cpu_usage", [0, 1, 2, 3], [10.0, 20.0, 30.0, 40.0]))
    p95 = influx_store.aggregate(Selection(T0, T0 + HOUR), functions=("p95",))["p95"].iloc[0]
    assert p95 == 40.0  # quantile_cont would give 38.5


def test_aggregate_windows_not_a_multiple_of_a_microsecond(influx_store):
    influx_store.write_frame(points_frame("EQ-1", "cpu_usage", [0, 1], [1.0, 2.0]))
    agg = influx_store.aggregate(Selection(T0, T0 + HOUR), every=timedelta(seconds=90), functions=("count",))
    assert agg["count"].sum() == 2


def test_aggregate_with_no_data_has_the_expected_columns(influx_store):
    agg = influx_store.aggregate(Selection(T0, T0 + HOUR), every=timedelta(minutes=5), functions=("mean", "count"))
    assert agg.empty and list(agg.columns) == ["equipment_id", "metric_type", "time", "mean", "count"]


def test_user_and_password_auth(tmp_path):
    with InfluxServer(tmp_path / "auth", auth_enabled=True) as server:
        requests.post(f"{server.url}/query", data={"q": "CREATE USER admin WITH PASSWORD 's3cret' WITH ALL PRIVILEGES"},
                      timeout=10).raise_for_status()
        good = Settings(influxdb_username="admin", influxdb_password=Secret("s3cret"))
        store = open_influxql_store(f"influxdb1+{server.url}/authdb?create_database=true", good)
        store.write_frame(points_frame("EQ-1", "cpu_usage", [0], [1.0]))
        assert len(store.query(Selection(T0, T0 + HOUR))) == 1
        bad = Settings(influxdb_username="admin", influxdb_password=Secret("wrong"))
        store = open_influxql_store(f"influxdb1+{server.url}/authdb?spool=off", bad)
        with pytest.raises(StoreConnectionError, match="INFLUXDB_PASSWORD") as caught:
            store.query(Selection(T0, T0 + HOUR))
        assert "wrong" not in str(caught.value) and "s3cret" not in repr(store.http)
        with pytest.raises(WriteError, match="INFLUXDB_USERNAME"):
            store.write_frame(points_frame("EQ-1", "cpu_usage", [1], [1.0]))


def test_retention_policy_is_created_and_used(influxd, database):
    store = open_store(f"influxdb1+{influxd.url}/{database}?create_database=true&retention_policy=decade"
                       "&retention=3650d")
    rps = influxd.query(f'SHOW RETENTION POLICIES ON "{database}"')["results"][0]["series"][0]["values"]
    assert any(r[0] == "decade" and r[1] == "87600h0m0s" for r in rps)
    store.write_frame(points_frame("EQ-1", "cpu_usage", [0], [1.0]))
    assert len(store.query(Selection(T0, T0 + HOUR))) == 1


def test_a_bad_statement_is_a_query_error(influx_store):
    with pytest.raises(QueryError, match="statement was"):
        influx_store.http.query("SELECT nonsense FROM", database=influx_store.database)


def test_latest_with_free_tags_keeps_each_series(influx_store):
    influx_store.write_frame(points_frame("EQ-1", "temperature", [0, 1], [1.0, 2.0], sensor="a"))
    influx_store.write_frame(points_frame("EQ-1", "temperature", [0], [5.0], sensor="b"))
    latest = influx_store.latest()
    assert sorted(zip(latest["tags"].map(lambda t: t["sensor"]), latest["value"],
                      strict=True)) == [("a", 2.0), ("b", 5.0)]
    assert str(latest["time"].dtype) == "datetime64[ns, UTC]"


def test_analytics_give_the_same_answers_on_influxql_and_embedded(influx_store, seeded_fleet_dir):
    """The seeded fleet copied into influxd: availability and performance figures match the embedded store's."""
    from datetime import datetime

    from vigileos_analytics.analytics.service import EquipmentAnalyticsService

    embedded = open_store(f"duckdb:///{seeded_fleet_dir / 'metrics.duckdb'}")
    start, end = datetime(2024, 1, 29, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC)
    copied = embedded.query(Selection(datetime(2024, 1, 1, tzinfo=UTC), end))
    tags = pd.DataFrame(list(copied["tags"])).set_index(copied.index)
    influx_store.write_frame(pd.concat([copied.drop(columns="tags"), tags], axis=1))
    inventory = seeded_fleet_dir / "inventory.csv"
    results = [EquipmentAnalyticsService(s, inventory=inventory) for s in (embedded, influx_store)]
    avail = [r.fleet_availability(start, end, freq="1D").drop(columns="samples") for r in results]
    pd.testing.assert_frame_equal(avail[0], avail[1])
    stats = [r.get_performance_stats(start, end).sort_values(["equipment_id", "metric_type"]).reset_index(drop=True)
             for r in results]
    pd.testing.assert_frame_equal(stats[0].drop(columns="p95"), stats[1].drop(columns="p95"))
    summaries = [r.fleet_summary(now=end) for r in results]
    assert summaries[0]["summary"] == summaries[1]["summary"]
