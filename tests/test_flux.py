"""The Flux the InfluxDB 2 store builds, and its one escaping function.

InfluxDB 2 cannot run on these machines: these tests check the query text (a
Flux string literal must keep every hostile value inside its quotes). The same
store runs the shared contract suite against a live server when
VIGILEOS_TEST_INFLUXDB2_URL, _TOKEN and _ORG are set (see the end of this file).
"""

from __future__ import annotations

import os
import re
import uuid
from datetime import timedelta

import pytest

from vigileos_analytics.config import Secret, Settings
from vigileos_analytics.errors import ConfigurationError, ValidationError
from vigileos_analytics.stores import flux
from vigileos_analytics.stores.influx2 import predicate_string, read_annotated_csv
from vigileos_analytics.stores.influx_common import literal_filters

from .store_contract import INJECTIONS, StoreContract

#: A Flux string literal: quotes around anything but a bare quote, backslash or
#: raw newline, where every backslash starts an escape and no ${ is unescaped.
_LITERAL = re.compile(r'"(?:[^"\\\n\r$]|\\.|\$(?!\{))*"')


def _unescape(literal: str) -> str:
    body = literal[1:-1]
    out, i = bytearray(), 0
    while i < len(body):
        if body[i] == "\\":
            nxt = body[i + 1]
            if nxt == "x":
                out.append(int(body[i + 2:i + 4], 16))
                i += 4
                continue
            out += {"n": b"\n", "r": b"\r", "t": b"\t"}.get(nxt, nxt.encode())
            i += 2
        else:
            out += body[i].encode()
            i += 1
    return out.decode()


@pytest.mark.parametrize("value", INJECTIONS + ["plain", "", "tab\there", "a${b}${", "\\\\", "nul\x00", "é ünïcode"])
def test_flux_string_is_one_literal_that_reads_back_as_the_value(value):
    literal = flux.flux_string(value)
    assert _LITERAL.fullmatch(literal), literal
    assert "\n" not in literal and "${" not in literal.replace("\\${", "")
    assert _unescape(literal) == value


def test_flux_string_refuses_non_strings():
    with pytest.raises(ValidationError):
        flux.flux_string(3)  # type: ignore[arg-type]


@pytest.mark.parametrize("hostile", INJECTIONS)
def test_hostile_filter_values_stay_inside_their_literals(hostile):
    filters = literal_filters([hostile, "EQ-1"], [hostile], {"location": hostile})
    query = flux.raw_query("bucket", 0, 10**18, filters)
    stripped = _LITERAL.sub('""', query)
    # Nothing of the hostile value survives outside string literals.
    assert "DROP" not in stripped and "OR 1=1" not in stripped and "_value\"" not in stripped
    assert stripped.count("|> filter") == 4 and stripped.count("\n") == query.count("\n") - 0


def test_raw_query_shape():
    filters = literal_filters(["EQ-1", "EQ-2"], ["cpu_usage"], {"location": "Paris"})
    query = flux.raw_query("metrics", 1704067200000000001, 1704070800000000000, filters)
    assert query == (
        'from(bucket: "metrics")\n'
        "  |> range(start: 2024-01-01T00:00:00.000000001Z, stop: 2024-01-01T01:00:00.000000000Z)\n"
        '  |> filter(fn: (r) => r._measurement == "equipment_metrics" and r._field == "value")\n'
        '  |> filter(fn: (r) => r.equipment_id == "EQ-1" or r.equipment_id == "EQ-2")\n'
        '  |> filter(fn: (r) => r.metric_type == "cpu_usage")\n'
        '  |> filter(fn: (r) => r.location == "Paris")\n'
        '  |> drop(columns: ["_start", "_stop", "_measurement", "_field"])'
    )


def test_aggregate_query_pushes_windows_and_functions_down():
    filters = literal_filters(None, ["cpu_usage"])
    query = flux.aggregate_query("b", 0, 3_600_000_000_000, filters, ["mean", "p95", "count"],
                                 int(timedelta(minutes=30).total_seconds() * 1e9))
    assert 'aggregateWindow(every: 1800000000000ns, fn: mean, createEmpty: false, timeSrc: "_start")' in query
    assert 'quantile(q: 0.95, column: column, method: "exact_selector")' in query
    assert "union(tables: [mean_, p95_, count_])" in query
    assert 'pivot(rowKey: ["equipment_id", "metric_type", "_time"], columnKey: ["_field"], valueColumn: "_value")' \
        in query
    whole = flux.aggregate_query("b", 0, 1, filters, ["p95"], None)
    assert 'quantile(q: 0.95, method: "exact_selector")' in whole and "aggregateWindow" not in whole
    with pytest.raises(ValidationError, match="aggregate functions"):
        flux.aggregate_query("b", 0, 1, filters, ["median; DROP"], None)


def test_latest_and_tag_values_queries():
    latest = flux.latest_query("b", literal_filters(["EQ-1"], None), before_ns=1704067200000000000)
    assert "stop: 2024-01-01T00:00:00.000000000Z" in latest and "|> last()" in latest
    assert 'schema.tagValues(bucket: "b", tag: "equipment_id"' in flux.equipment_ids_query("b")


def test_rollup_measurements_are_queried_by_name():
    filters = literal_filters(["EQ-1"], ["cpu_usage__count"])
    for query in (flux.raw_query("b", 0, 1, filters, "equipment_metrics_1h"),
                  flux.aggregate_query("b", 0, 1, filters, ["mean"], None, "equipment_metrics_1h"),
                  flux.latest_query("b", filters, None, "equipment_metrics_1h"),
                  flux.count_query("b", 0, 1, filters, "equipment_metrics_1h")):
        assert 'r._measurement == "equipment_metrics_1h"' in query and '"equipment_metrics"' not in query
    assert flux.measurements_query("b") == ('import "influxdata/influxdb/schema"\n'
                                           'schema.measurements(bucket: "b", start: 1970-01-01T00:00:00.000000000Z)')


def test_influx2_rollup_shares_the_client_and_names_its_measurement(monkeypatch):
    # No InfluxDB 2.x server can run here: the measurement list is handed in.
    from vigileos_analytics.stores.influx2 import Influx2Store

    store = Influx2Store("http://127.0.0.1:9", token="t", org="o", bucket="b")
    try:
        monkeypatch.setattr(store, "rollup_names", lambda: ["equipment_metrics_1h"])
        rollup = store.open_rollup("equipment_metrics_1h")
        assert rollup.measurement == "equipment_metrics_1h" and rollup._client is store._client
        assert store.open_rollup("equipment_metrics_15m") is None
        created = store.create_rollup("equipment_metrics_15m")
        assert created.measurement == "equipment_metrics_15m" and created._client is store._client
        for method in (store.open_rollup, store.create_rollup):
            with pytest.raises(ValidationError, match="not a rollup measurement"):
                method("cpu; DROP")
        created.close()
        rollup.close()  # does not close the shared client
        assert store._client.api_client is not None
    finally:
        store.close()


def test_tag_names_must_be_identifiers():
    with pytest.raises(ValidationError, match="column name"):
        flux.flux_identifier('x == "" or r.y')
    assert literal_filters(None, None, {'x" or "1': "v"}) is None  # the store then skips the query


def test_delete_predicate_strings_escape_quotes_and_backslashes():
    assert predicate_string('a"b\\') == '"a\\"b\\\\"'


def test_annotated_csv_is_read_per_table_with_types():
    text = (
        "#datatype,string,long,dateTime:RFC3339,double,string,string\r\n"
        "#group,false,false,false,false,true,true\r\n"
        "#default,_result,,,,,\r\n"
        ",result,table,_time,_value,equipment_id,metric_type\r\n"
        ",,0,2024-01-01T00:00:00Z,1.5,EQ-1,cpu_usage\r\n"
        ",,0,2024-01-01T00:01:00.000000001Z,2,EQ-1,cpu_usage\r\n"
        "\r\n"
        "#datatype,string,long,dateTime:RFC3339,double,string,string,string\r\n"
        "#group,false,false,false,false,true,true,true\r\n"
        "#default,_result,,,,,,\r\n"
        ",result,table,_time,_value,equipment_id,location,metric_type\r\n"
        ",,1,2024-01-01T00:00:00Z,3,\"a,b\",Paris,cpu_usage\r\n"
    )
    tables = read_annotated_csv(text)
    assert len(tables) == 2
    assert tables[0]["_value"].tolist() == [1.5, 2.0]
    assert tables[0]["_time"].iloc[1].nanosecond == 1
    assert tables[1]["equipment_id"].tolist() == ["a,b"]


def test_influx2_url_needs_token_org_and_bucket():
    from vigileos_analytics.stores import open_store

    with pytest.raises(ConfigurationError, match="INFLUXDB_TOKEN"):
        open_store("influxdb2+http://localhost:8086", Settings(influxdb_org="", influxdb_token=Secret("")))


# Read at import: the autouse clean_environment fixture removes VIGILEOS_* variables before each test.
_LIVE_URL = os.environ.get("VIGILEOS_TEST_INFLUXDB2_URL", "")
_LIVE_TOKEN = os.environ.get("VIGILEOS_TEST_INFLUXDB2_TOKEN", "")
_LIVE_ORG = os.environ.get("VIGILEOS_TEST_INFLUXDB2_ORG", "")
_LIVE_REASON = ("no live InfluxDB 2: set VIGILEOS_TEST_INFLUXDB2_URL (e.g. http://localhost:8086), "
                "VIGILEOS_TEST_INFLUXDB2_TOKEN (an all-access token) and VIGILEOS_TEST_INFLUXDB2_ORG, "
                "e.g. after `docker compose up influxdb`")


@pytest.mark.influxdb2
@pytest.mark.skipif(not (_LIVE_URL and _LIVE_TOKEN and _LIVE_ORG), reason=_LIVE_REASON)
class TestInflux2Contract(StoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        from influxdb_client import InfluxDBClient

        from vigileos_analytics.stores.influx2 import Influx2Store

        token, org = _LIVE_TOKEN, _LIVE_ORG
        bucket = f"vigileos_test_{uuid.uuid4().hex[:12]}"
        admin = InfluxDBClient(url=_LIVE_URL, token=token, org=org)
        created = admin.buckets_api().create_bucket(bucket_name=bucket, org=org)
        store = Influx2Store(_LIVE_URL, token=token, org=org, bucket=bucket, spool=None)
        yield store
        store.close()
        admin.buckets_api().delete_bucket(created)
        admin.close()
