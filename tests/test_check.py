"""``vigileos check``: reach the store, round-trip a probe point, say clearly what is wrong.

Against a real DuckDB file and a real influxd (Debian's 1.6.7, with and without
authentication). InfluxDB 2.x cannot run here, so its answers are covered by unit
tests of the message mapping (:func:`diagnose_http`) on the status and bodies
InfluxDB 2.x sends, plus a real refused connection for an influxdb2+ URL.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from influxdb_client.rest import ApiException

from vigileos_analytics.cli import main
from vigileos_analytics.connectivity import PROBE_EQUIPMENT, PROBE_METRIC, check_store, check_url
from vigileos_analytics.diagnosis import PROBLEMS, diagnose, diagnose_http
from vigileos_analytics.errors import QueryError, WriteError
from vigileos_analytics.stores import open_store
from vigileos_analytics.stores.base import Selection

from .influx_fixtures import ADMIN_PASSWORD, ADMIN_USER, influxd, influxd_auth  # noqa: F401  (pytest fixtures)
from .influx_server import free_port
from .store_contract import HOUR, T0, points_frame

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


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

    def write_points(self, points):
        return None if self._drop_writes else self._store.write_points(points)

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


def test_store_messages_keep_their_own_advice():
    missing = diagnose("The database 'x' does not exist on http://db:8086; create it (add ?create_database=true to "
                       "the store URL) or set INFLUXDB_BUCKET.", WHERE)
    assert missing.problem == "missing_database" and "dbrp" in missing.message
    bucket = diagnose("The bucket 'b' does not exist in the org 'o', or the token cannot see it.", WHERE)
    assert bucket.problem == "missing_bucket"
    assert diagnose("something odd\nhappened", WHERE) == type(bucket)("failed", "something odd happened")


def test_report_as_dict_is_plain_json(tmp_path):
    report = check_url(f"duckdb:///{tmp_path / 'm.duckdb'}", now=NOW)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["steps"][0]["name"] == "reach" and data["ok"] is True
