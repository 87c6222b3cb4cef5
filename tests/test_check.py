"""``vigileos check``: reach the store, round-trip a probe point, say clearly what is wrong;
with ``--verbose``, what the store holds and how fresh it is.

Against a real DuckDB file and a real influxd (Debian's 1.6.7, with and without
authentication). InfluxDB 2.x cannot run here, so its answers are covered by unit
tests of the message mapping (:func:`diagnose_http`) on the status and bodies
InfluxDB 2.x sends, plus a real refused connection for an influxdb2+ URL, and its
store facts by a test of the Flux text it sends.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from click.testing import CliRunner
from influxdb_client.rest import ApiException

from vigileos_analytics.check.connectivity import PROBE_EQUIPMENT, PROBE_METRIC, check_store, check_url
from vigileos_analytics.check.diagnosis import PROBLEMS, diagnose, diagnose_http
from vigileos_analytics.check.facts import gather_facts, gather_facts_at, spool_backlog
from vigileos_analytics.cli import main
from vigileos_analytics.errors import QueryError, StoreError, StoreNotFoundError, WriteError
from vigileos_analytics.stores import flux, open_store
from vigileos_analytics.stores.base import Selection
from vigileos_analytics.stores.influx2 import Influx2Store, read_annotated_csv

from .influx_fixtures import ADMIN_PASSWORD, ADMIN_USER, influxd, influxd_auth  # noqa: F401  (pytest fixtures)
from .influx_server import free_port
from .store_contract import HOUR, INJECTIONS, T0, points_frame

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def run_check(url: str, *args: str):
    return CliRunner().invoke(main, ["--store", url, "check", *args])


def assert_one_line_failure(result, *needles: str) -> None:
    assert result.exit_code == 5, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    for needle in needles:
        assert needle in errors[0], errors[0]


# -- embedded store -------------------------------------------------------------------------

def test_embedded_round_trip_leaves_the_data_as_it_was(tmp_path):
    url = f"duckdb:///{tmp_path / 'm.duckdb'}"
    open_store(url).write_frame(points_frame("EQ-1", "cpu_usage", [0, 1], [1.0, 2.0]))
    report = check_url(url, now=NOW)
    assert report.ok and report.problem == "" and report.version
    assert [(s.name, s.status) for s in report.steps] == [("reach", "ok"), ("write", "ok"), ("read", "ok"),
                                                         ("delete", "ok")]
    assert all(s.latency_ms >= 0 for s in report.steps)
    store = open_store(url)
    assert store.equipment_ids() == ["EQ-1"] and len(store.query(Selection(T0, T0 + HOUR))) == 2


def test_healthy_json_output(tmp_path):
    result = run_check(f"duckdb:///{tmp_path / 'm.duckdb'}", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["ok"] is True and data["backend"] == "duckdb" and data["problem"] is None
    assert [s["name"] for s in data["steps"]] == ["reach", "write", "read", "delete"]
    assert {s["status"] for s in data["steps"]} == {"ok"} and data["latency_ms"] >= 0


def test_no_round_trip_only_reaches_the_store(tmp_path):
    url = f"duckdb:///{tmp_path / 'm.duckdb'}"
    result = run_check(url, "--no-round-trip")
    assert result.exit_code == 0 and "reach" in result.output and "write" not in result.output
    assert open_store(url).equipment_ids() == []


class _Forgetful:
    """A real embedded store that drops writes and refuses deletes: a stand-in for a
    server that loses points, which no real store here does."""

    def __init__(self, store, *, drop_writes: bool = False):
        self._store, self._drop_writes = store, drop_writes

    def __getattr__(self, name):
        return getattr(self._store, name)

    def write_points(self, points, *, spool=True):
        return None if self._drop_writes else self._store.write_points(points, spool=spool)

    def delete(self, selection):
        raise QueryError("DELETE is not supported through this API")


def test_a_lost_probe_fails_and_a_refused_delete_only_warns(tmp_path):
    store = open_store(f"duckdb:///{tmp_path / 'm.duckdb'}")
    lost = check_store(_Forgetful(store, drop_writes=True), now=NOW, read_timeout_s=0.2)
    assert not lost.ok and lost.problem == "readback" and "did not return it within 0.2 s" in lost.message
    kept = check_store(_Forgetful(store), now=NOW)
    assert kept.ok and kept.steps[-1].status == "warning" and PROBE_EQUIPMENT in kept.steps[-1].message


# -- a real influxd ---------------------------------------------------------------------------

@pytest.mark.influxdb
def test_influxd_healthy_round_trip(influxd):
    result = run_check(f"influxdb1+{influxd.url}/checkdb?create_database=true", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["ok"] and data["backend"] == "influxql" and data["version"].startswith("1.")
    assert [(s["name"], s["status"]) for s in data["steps"]] == [("reach", "ok"), ("write", "ok"), ("read", "ok"),
                                                                ("delete", "ok")]
    left = influxd.query(f"SELECT count(value) FROM equipment_metrics WHERE metric_type = '{PROBE_METRIC}'",
                         db="checkdb")
    assert "series" not in left["results"][0]


@pytest.mark.influxdb
def test_missing_database(influxd):
    result = run_check(f"influxdb1+{influxd.url}/never_created", "--json")
    assert result.exit_code == 5
    data = json.loads(result.output)
    assert data["problem"] == "missing_database" and "create_database=true" in data["message"]


@pytest.mark.influxdb
def test_bad_password_and_no_credentials_are_401(influxd_auth, monkeypatch):
    url = f"influxdb1+{influxd_auth.url}/authdb?create_database=true&spool=off"
    monkeypatch.setenv("INFLUXDB_USERNAME", ADMIN_USER)
    monkeypatch.setenv("INFLUXDB_PASSWORD", "wrong-pw")
    result = run_check(url)
    assert_one_line_failure(result, "answered 401", "INFLUXDB_PASSWORD")
    assert "wrong-pw" not in result.output
    monkeypatch.delenv("INFLUXDB_USERNAME")
    monkeypatch.delenv("INFLUXDB_PASSWORD")
    assert json.loads(run_check(url, "--json").output)["problem"] == "unauthorized"
    monkeypatch.setenv("INFLUXDB_USERNAME", ADMIN_USER)
    monkeypatch.setenv("INFLUXDB_PASSWORD", ADMIN_PASSWORD)
    assert run_check(url).exit_code == 0


@pytest.mark.influxdb
def test_with_a_token_and_a_user_both_set_influxdb1_urls_send_the_user(influxd_auth, monkeypatch):
    url = f"influxdb1+{influxd_auth.url}/bothdb?create_database=true&spool=off"
    monkeypatch.setenv("INFLUXDB_TOKEN", "a-token-for-influxdb2")
    assert_one_line_failure(run_check(url), "answered 401")  # InfluxDB 1.x knows no tokens
    monkeypatch.setenv("INFLUXDB_USERNAME", ADMIN_USER)
    monkeypatch.setenv("INFLUXDB_PASSWORD", ADMIN_PASSWORD)
    result = run_check(url)
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("INFLUXDB_PASSWORD", "wrong-pw")
    assert_one_line_failure(run_check(url), "answered 401")


def test_credentials_in_the_store_url_are_refused_and_never_shown(monkeypatch):
    for url in ("influxdb1+http://admin:pw-9f3@127.0.0.1:9/db", "influxdb2+http://admin:pw-9f3@127.0.0.1:9",
                "influxdb3+https://tok:pw-9f3@127.0.0.1:9/db"):
        for args in ((), ("--json",)):
            result = run_check(url, *args)
            assert result.exit_code == 4, result.output
            assert "pw-9f3" not in result.output and "admin" not in result.output and "tok:" not in result.output
            assert "://***@127.0.0.1:9" in result.output and "INFLUXDB_USERNAME and INFLUXDB_PASSWORD" in result.output


@pytest.mark.influxdb
def test_an_influxdb2_url_on_a_1x_server_says_which_url_to_use(influxd, monkeypatch):
    monkeypatch.setenv("INFLUXDB_TOKEN", "some-token")
    monkeypatch.setenv("INFLUXDB_ORG", "acme")
    data = json.loads(run_check(f"influxdb2+{influxd.url}?spool=off", "--json").output)
    assert data["problem"] == "wrong_api" and "influxdb1+http://" in data["message"]


@pytest.mark.parametrize("scheme", ["influxdb1+http", "influxdb2+http"])
def test_connection_refused(scheme, monkeypatch):
    monkeypatch.setenv("INFLUXDB_TOKEN", "some-token")
    monkeypatch.setenv("INFLUXDB_ORG", "acme")
    port = free_port()
    result = run_check(f"{scheme}://127.0.0.1:{port}/db?spool=off" if scheme.startswith("influxdb1")
                       else f"{scheme}://127.0.0.1:{port}?spool=off")
    assert_one_line_failure(result, f"http://127.0.0.1:{port}", "connection refused", "is it running")


# -- the message mapping (InfluxDB 2.x cannot run here) ---------------------------------------

WHERE = "InfluxDB at http://db:8086"


@pytest.mark.parametrize("status, body, problem, needle", [
    (401, '{"code":"unauthorized","message":"unauthorized access"}', "unauthorized", "INFLUXDB_TOKEN"),
    (401, '{"error":"authorization failed"}', "unauthorized", "INFLUXDB_PASSWORD"),
    (401, '{"code":"unauthorized","message":"write:orgs/0a/buckets/0b is unauthorized"}', "forbidden", "lack a right"),
    (403, '{"code":"forbidden","message":"insufficient permissions"}', "forbidden", "read and write"),
    (404, '{"code":"not found","message":"organization name \\"acme\\" not found"}', "wrong_org", "'acme'"),
    (400, '{"code":"invalid","message":"failed to decode request body: organization name \\"acme\\" not found"}',
     "wrong_org", "INFLUXDB_ORG"),
    (404, '{"code":"not found","message":"bucket \\"metrics\\" not found"}', "missing_bucket", "'metrics'"),
    (404, '{"code":"not found","message":"failed to initialize execute state: could not find bucket \\"m\\""}',
     "missing_bucket", "INFLUXDB_BUCKET"),
    (404, '{"error":"database not found: \\"vig\\""}', "missing_database", "create_database=true"),
    (404, '{"code":"not found","message":"no dbrp mapping found for database \\"vig\\""}', "missing_dbrp",
     "influx v1 dbrp create"),
    (404, "404 page not found", "wrong_api", "influxdb1+http://"),
    (503, '{"code":"unavailable","message":"service unavailable"}', "server_error", "log"),
    (429, b'{"code":"too many requests"}', "server_error", "spool"),
    (400, '{"code":"invalid","message":"unable to parse"}', "failed", "answered 400 (unable to parse)"),
])
def test_http_answers_map_to_a_problem_and_what_to_do(status, body, problem, needle):
    """Bodies as InfluxDB 1.x and 2.x send them; no 2.x server can run on these machines."""
    diagnosis = diagnose_http(status, body, WHERE)
    assert diagnosis.problem == problem and diagnosis.problem in PROBLEMS
    assert needle in diagnosis.message and "\n" not in diagnosis.message
    assert diagnosis.message.startswith(f"{WHERE} answered {status}")


def _api_exception(status: int, body: str) -> ApiException:
    exc = ApiException(status=status, reason="Not Found" if status == 404 else "Unauthorized")
    exc.body = body
    return exc


def test_influxdb_client_errors_are_read_through_their_cause_and_as_text():
    """The influx2 store raises WriteError from the client's ApiException, and its health()
    reports ``ApiException: ...`` as text; both shapes are understood. (No 2.x server here.)"""
    api = _api_exception(404, '{"code":"not found","message":"organization name \\"acme\\" not found"}')
    try:
        try:
            raise api
        except ApiException as cause:
            raise WriteError("InfluxDB 2 at http://db:8086 refused 1 batch(es) of this write") from cause
    except WriteError as exc:
        assert diagnose(exc, WHERE).problem == "wrong_org"
    unauthorized = _api_exception(401, '{"code":"unauthorized","message":"unauthorized access"}')
    text = f"ApiException: {unauthorized}"  # as Influx2Store.health() words it
    assert diagnose(text, WHERE).problem == "unauthorized"


def test_store_errors_keep_their_own_advice():
    """Errors with no HTTP answer behind them (raised as the stores' health checks raise
    them) keep the store's own words; the kind comes from the type and ``problem``."""
    missing = diagnose(StoreNotFoundError(
        "The database 'x' does not exist on http://db:8086; create it (add ?create_database=true to the store URL) "
        "or set INFLUXDB_BUCKET.", problem="missing_database"), WHERE)
    assert missing.problem == "missing_database" and "dbrp" in missing.message
    assert "create_database=true" in missing.message
    bucket = diagnose(StoreNotFoundError("The bucket 'b' does not exist in the org 'o', or the token cannot see it.",
                                         problem="missing_bucket"), WHERE)
    assert bucket.problem == "missing_bucket" and "'b'" in bucket.message
    assert diagnose(StoreError("something odd\nhappened"), WHERE) == type(bucket)("failed", "something odd happened")
    assert diagnose("something odd\nhappened", WHERE) == type(bucket)("failed", "something odd happened")


def test_report_as_dict_is_plain_json(tmp_path):
    report = check_url(f"duckdb:///{tmp_path / 'm.duckdb'}", now=NOW)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["steps"][0]["name"] == "reach" and data["ok"] is True


# -- store facts (check --verbose) --------------------------------------------------------------

#: (equipment, metric, minutes after T0, tags): the points the facts tests write.
SPAN_POINTS = [
    ("EQ-1", "cpu_usage", [0, 30, 90], {}),
    ("EQ-1", "temperature", [15], {"sensor": "inlet"}),
    ("EQ-1", "temperature", [120], {"sensor": "outlet"}),
    ("EQ-2", "cpu_usage", [-120, 600], {}),
]
#: What those points say, worked out by hand: (first, last, points) per equipment; 4 series.
EXPECTED_SPANS = {
    "EQ-1": (T0, T0 + timedelta(minutes=120), 5),
    "EQ-2": (T0 - timedelta(minutes=120), T0 + timedelta(minutes=600), 2),
}
EXPECTED_SERIES = 4


def write_span_points(store) -> None:
    for equipment_id, metric, minutes, tags in SPAN_POINTS:
        store.write_frame(points_frame(equipment_id, metric, minutes, [float(m) for m in minutes], **tags))


def assert_expected_spans(equipment: pd.DataFrame) -> None:
    assert list(equipment.columns[:4]) == ["equipment_id", "first", "last", "points"]
    assert str(equipment["first"].dtype) == str(equipment["last"].dtype) == "datetime64[ns, UTC]"
    assert equipment["points"].dtype == "int64"
    got = {row.equipment_id: (row.first, row.last, row.points) for row in equipment.itertuples(index=False)}
    assert got == {eq: (pd.Timestamp(first), pd.Timestamp(last), n) for eq, (first, last, n) in EXPECTED_SPANS.items()}
    assert list(equipment["equipment_id"]) == sorted(EXPECTED_SPANS)


def test_embedded_facts_come_from_the_written_points(tmp_path):
    path = tmp_path / "m.duckdb"
    store = open_store(f"duckdb:///{path}")
    write_span_points(store)
    facts = gather_facts(store, now=NOW)
    assert_expected_spans(facts.equipment)
    lags = dict(zip(facts.equipment["equipment_id"], facts.equipment["lag_s"], strict=True))
    assert lags == {eq: (NOW - last).total_seconds() for eq, (_, last, _) in EXPECTED_SPANS.items()}
    assert facts.series == EXPECTED_SERIES and facts.points == 7
    assert facts.size_bytes == path.stat().st_size and str(path) in facts.size_note
    assert facts.spool is None


def test_embedded_facts_of_an_empty_store(tmp_path):
    facts = gather_facts(open_store(f"duckdb:///{tmp_path / 'm.duckdb'}"), now=NOW)
    assert facts.equipment.empty and facts.series == 0 and facts.points == 0
    assert str(facts.equipment["last"].dtype) == "datetime64[ns, UTC]"
    assert json.loads(json.dumps(facts.to_dict()))["equipment"] == []


def test_a_lag_ahead_of_now_is_negative(tmp_path):
    store = open_store(f"duckdb:///{tmp_path / 'm.duckdb'}")
    store.write_frame(points_frame("EQ-9", "cpu_usage", [90], [1.0]))
    assert gather_facts(store, now=T0).equipment["lag_s"].tolist() == [-5400.0]


def test_verbose_json_adds_the_facts_after_the_round_trip(tmp_path):
    url = f"duckdb:///{tmp_path / 'm.duckdb'}"
    write_span_points(open_store(url))
    result = run_check(url, "--verbose", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    facts = data["facts"]
    assert data["ok"] and facts["series"] == EXPECTED_SERIES and facts["points"] == 7 and facts["spool"] is None
    assert facts["size_bytes"] == (tmp_path / "m.duckdb").stat().st_size
    now = datetime.fromisoformat(facts["now"])
    for row in facts["equipment"]:  # the probe was deleted again: only the written equipment
        first, last, points = EXPECTED_SPANS[row["equipment_id"]]
        assert (row["first"], row["last"], row["points"]) == (first.isoformat(), last.isoformat(), points)
        assert row["lag_s"] == pytest.approx((now - last).total_seconds(), abs=1e-3)
    assert [row["equipment_id"] for row in facts["equipment"]] == ["EQ-1", "EQ-2"]


def test_verbose_prints_store_facts_and_a_table_per_equipment(tmp_path):
    url = f"duckdb:///{tmp_path / 'm.duckdb'}"
    write_span_points(open_store(url))
    result = run_check(url, "-v", "--no-round-trip")
    assert result.exit_code == 0, result.output
    assert "Series: 4; points: 7; equipment: 2." in result.output
    assert "the DuckDB file" in result.output and "write lag" in result.output
    eq2 = next(line for line in result.output.splitlines() if "EQ-2" in line)
    assert "2023-12-31 22:00:00" in eq2 and "2024-01-01 10:00:00" in eq2 and " 2 " in eq2
    assert "facts" not in run_check(url, "--json", "--no-round-trip").output


def test_verbose_on_an_unreachable_store_fails_with_one_line():
    port = free_port()
    result = run_check(f"influxdb1+http://127.0.0.1:{port}/db?spool=off", "--verbose")
    assert_one_line_failure(result, "connection refused")
    assert "write lag" not in result.output


def test_spool_backlog_counts_what_waits(tmp_path):
    """No server is needed to read a spool: the store is opened on a closed port and
    never asked anything; the records are appended to its real spool."""
    store = open_store(f"influxdb1+http://127.0.0.1:{free_port()}/db?spool={tmp_path / 'spool'}")
    store.spool.append(b"equipment_metrics,equipment_id=EQ-1,metric_type=m value=1 0\n"
                       b"equipment_metrics,equipment_id=EQ-1,metric_type=m value=2 1\n", 2)
    store.spool.append(b"equipment_metrics,equipment_id=EQ-1,metric_type=m value=3 2\n", 1)
    backlog = spool_backlog(store)
    assert (backlog.records, backlog.points, backlog.directory) == (2, 3, str(tmp_path / "spool"))
    assert backlog.bytes > 0
    assert spool_backlog(open_store(f"duckdb:///{tmp_path / 'm.duckdb'}")) is None


_databases = itertools.count()


@pytest.mark.influxdb
@pytest.mark.parametrize("retention_policy", ["", "keep"])
def test_influxd_facts_come_from_the_written_points(influxd, retention_policy, tmp_path):
    database = f"facts_{next(_databases)}"
    rp = f"&retention_policy={retention_policy}&retention=3650d" if retention_policy else ""
    url = f"influxdb1+{influxd.url}/{database}?create_database=true&spool={tmp_path / 'spool'}{rp}"
    store = open_store(url)
    write_span_points(store)
    store.write_frame(points_frame("EQ-3", "other", [0], [1.0]).assign(time=T0))  # then gone again
    store.delete(Selection(T0, T0 + HOUR, equipment_ids=["EQ-3"]))
    facts = gather_facts(store, now=NOW)
    assert_expected_spans(facts.equipment)
    assert facts.series == EXPECTED_SERIES and facts.points == 7
    assert isinstance(facts.size_bytes, int) and facts.size_bytes > 0 and database in facts.size_note
    assert facts.spool is not None and facts.spool.points == 0
    embedded = open_store(f"duckdb:///{tmp_path / 'm.duckdb'}")
    write_span_points(embedded)
    pd.testing.assert_frame_equal(facts.equipment, gather_facts(embedded, now=NOW).equipment)
    influxd.query(f'DROP DATABASE "{database}"')


@pytest.mark.influxdb
def test_influxd_verbose_json_after_the_round_trip(influxd, tmp_path):
    database = f"facts_{next(_databases)}"
    url = f"influxdb1+{influxd.url}/{database}?create_database=true&spool={tmp_path / 'spool'}"
    write_span_points(open_store(url))
    result = run_check(url, "--verbose", "--json")
    assert result.exit_code == 0, result.output
    facts = json.loads(result.output)["facts"]
    assert [row["equipment_id"] for row in facts["equipment"]] == ["EQ-1", "EQ-2"]  # no probe left
    assert facts["series"] == EXPECTED_SERIES and facts["points"] == 7 and facts["size_bytes"] > 0
    assert facts["spool"] == {"directory": str(tmp_path / "spool"), "records": 0, "points": 0, "bytes": 0}
    influxd.query(f'DROP DATABASE "{database}"')


@pytest.mark.influxdb
def test_influxd_size_is_unknown_without_admin_rights(influxd_auth, monkeypatch):
    url = f"influxdb1+{influxd_auth.url}/factsdb?create_database=true&spool=off"
    monkeypatch.setenv("INFLUXDB_USERNAME", ADMIN_USER)
    monkeypatch.setenv("INFLUXDB_PASSWORD", ADMIN_PASSWORD)
    admin = open_store(url)
    write_span_points(admin)
    admin.http.query("CREATE USER reader WITH PASSWORD 'r34der'", database=None, write=True)
    admin.http.query('GRANT READ ON "factsdb" TO reader', database=None, write=True)
    monkeypatch.setenv("INFLUXDB_USERNAME", "reader")
    monkeypatch.setenv("INFLUXDB_PASSWORD", "r34der")
    facts = gather_facts_at(f"influxdb1+{influxd_auth.url}/factsdb?spool=off", now=NOW)
    assert_expected_spans(facts.equipment)
    assert facts.series == EXPECTED_SERIES
    assert facts.size_bytes is None and facts.size_note.startswith("unknown") and "admin" in facts.size_note


def test_influx2_spans_flux_escapes_and_groups_per_series_first():
    """No InfluxDB 2.x server can run here: the Flux text is what can be checked."""
    query = flux.equipment_spans_query('vig"bucket', "equipment_metrics")
    assert query.count('from(bucket: "vig\\"bucket")') == 3
    assert query.count('r._measurement == "equipment_metrics" and r._field == "value"') == 3
    assert query.count("range(start: 1970-01-01T00:00:00.000000000Z, stop: 2255-03-14T16:00:00.000000000Z)") == 3
    for selector, combine in (("first", "min"), ("last", "max")):
        assert (f'filter(fn: (r) => r._measurement == "equipment_metrics" and r._field == "value")\n  |> {selector}()\n'
                '  |> map(fn: (r) => ({equipment_id: r.equipment_id, _value: int(v: r._time)}))\n'
                f'  |> group(columns: ["equipment_id"])\n  |> {combine}()\n  |> set(key: "_field", value: "{selector}")'
                ) in query
    assert 'points_ = counts |> sum() |> set(key: "_field", value: "points")' in query
    assert 'series_ = counts |> count() |> set(key: "_field", value: "series")' in query
    assert query.endswith('union(tables: [first_, last_, points_, series_])\n  |> group()\n'
                          '  |> pivot(rowKey: ["equipment_id"], columnKey: ["_field"], valueColumn: "_value")')


@pytest.mark.parametrize("hostile", INJECTIONS)
def test_influx2_spans_flux_keeps_hostile_names_inside_strings(hostile):
    query = flux.equipment_spans_query(hostile, hostile)
    assert query.count(f"from(bucket: {flux.flux_string(hostile)})") == 3
    assert query.count(f"r._measurement == {flux.flux_string(hostile)}") == 3


def test_influx2_store_facts_from_the_pivoted_table(monkeypatch):
    """No InfluxDB 2.x server can run here: the store is handed the annotated CSV of
    the pivoted table (as :func:`read_annotated_csv` tests read it) instead of asking."""
    text = (
        "#datatype,string,long,string,long,long,long,long\r\n"
        "#group,false,false,false,false,false,false,false\r\n"
        "#default,_result,,,,,,\r\n"
        ",result,table,equipment_id,first,last,points,series\r\n"
        f",,0,EQ-2,{pd.Timestamp(T0 - 2 * HOUR).value},{pd.Timestamp(T0 + 10 * HOUR).value},2,1\r\n"
        f",,0,EQ-1,{pd.Timestamp(T0).value},{pd.Timestamp(T0 + 2 * HOUR).value},5,3\r\n"
    )
    store = Influx2Store(f"http://127.0.0.1:{free_port()}", token="t", org="o", bucket="b")
    try:
        asked = []
        monkeypatch.setattr(store, "_tables", lambda query: asked.append(query) or read_annotated_csv(text))
        facts = gather_facts(store, now=NOW)
    finally:
        store.close()
    assert asked == [flux.equipment_spans_query("b", "equipment_metrics"), flux.measurements_query("b")]
    assert_expected_spans(facts.equipment)
    assert facts.series == EXPECTED_SERIES and facts.size_bytes is None and facts.size_note.startswith("unknown")
