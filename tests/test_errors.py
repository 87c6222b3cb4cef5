"""The exception tree and the typed errors the drivers raise.

The drivers (requests for InfluxQL, influxdb-client for InfluxDB 2.x) are real; the
server they talk to is a loopback HTTP server answering with InfluxDB's statuses and
bodies, because InfluxDB 2.x cannot run on these machines and 1.6.7 cannot be made to
answer 5xx, 429 or slowly on demand. tests/test_check.py covers the same kinds
against a real influxd where it can.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import threading
import time
import warnings
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

import vigileos_analytics
from vigileos_analytics import errors
from vigileos_analytics.check.connectivity import check_url
from vigileos_analytics.check.diagnosis import diagnose
from vigileos_analytics.cli import main
from vigileos_analytics.dashboards import resolve_range
from vigileos_analytics.errors import (
    PROBLEMS,
    EmptyStoreError,
    NoEquipmentChosen,
    QueryError,
    RetryableError,
    StoreAuthError,
    StoreBusyError,
    StoreConnectionError,
    StoreError,
    StoreNotFoundError,
    StoreTimeoutError,
    ValidationError,
    VigileosError,
    WriteError,
)
from vigileos_analytics.stores import influxql_http
from vigileos_analytics.stores.base import Selection
from vigileos_analytics.stores.influx2 import Influx2Store, _Settled, is_retryable
from vigileos_analytics.stores.influxql import InfluxQLStore
from vigileos_analytics.stores.influxql_http import InfluxHttp
from vigileos_analytics.stores.spool import Spool

from .influx_server import free_port
from .store_contract import HOUR, T0, points_frame

WHERE = "InfluxDB at http://db:8086"
NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
EXIT_STORE, EXIT_INTERNAL = 5, 1

# -- the tree -------------------------------------------------------------------------------------


def test_kinds_sit_where_callers_already_catch():
    assert issubclass(StoreTimeoutError, RetryableError) and issubclass(RetryableError, StoreConnectionError)
    for kind in (StoreAuthError, StoreNotFoundError, StoreBusyError):
        assert issubclass(kind, StoreConnectionError) and issubclass(kind, StoreError)
    assert issubclass(StoreError, VigileosError) and issubclass(ValidationError, ValueError)
    assert issubclass(EmptyStoreError, VigileosError) and issubclass(NoEquipmentChosen, VigileosError)


def test_old_import_paths_still_give_the_same_classes():
    from vigileos_analytics.dashboards.feedback import EmptyStoreError as FeedbackEmpty
    from vigileos_analytics.dashboards.feedback import NoEquipmentChosen as FeedbackNoEquipment
    from vigileos_analytics.stores.influxql_http import RetryableError as HttpRetryable

    assert HttpRetryable is RetryableError
    assert (FeedbackEmpty, FeedbackNoEquipment) == (EmptyStoreError, NoEquipmentChosen)


def test_every_exception_of_the_package_is_defined_in_errors():
    outside = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for info in pkgutil.walk_packages(vigileos_analytics.__path__, "vigileos_analytics."):
            if ".templates." in info.name or info.name.endswith("__main__"):  # __main__ runs the CLI
                continue
            module = importlib.import_module(info.name)
            outside += [f"{info.name}.{name}" for name, obj in vars(module).items()
                        if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == info.name
                        and info.name != "vigileos_analytics.errors"]
    assert outside == []
    for name in errors.__all__:
        obj = getattr(errors, name)
        assert name in ("PROBLEMS", "exception_chain") or issubclass(obj, VigileosError), name


def test_kind_attributes_defaults_and_wrapping():
    assert (StoreTimeoutError().problem, RetryableError().problem, StoreAuthError().problem,
            StoreNotFoundError().problem, StoreBusyError("locked").problem) == (
        "timeout", "unreachable", "unauthorized", "not_found", "busy")
    assert StoreError("x").problem is None and QueryError("x").status is None
    forbidden = StoreAuthError("no", status=403, server=WHERE, problem="forbidden", detail="insufficient permissions")
    assert forbidden.kind() == {"status": 403, "server": WHERE, "problem": "forbidden",
                                "detail": "insufficient permissions"}
    wrapped = WriteError("2 points left", unwritten=[1, 2], written=3, **forbidden.kind())
    assert (wrapped.problem, wrapped.status, wrapped.server, wrapped.written) == ("forbidden", 403, WHERE, 3)
    for kind in (StoreTimeoutError, RetryableError, StoreAuthError, StoreNotFoundError, StoreBusyError):
        assert kind.default_problem in PROBLEMS


def test_dashboard_ranges_raise_validation_errors_that_are_still_value_errors():
    with pytest.raises(ValidationError, match="range must be one of") as caught:
        resolve_range("90d", NOW)
    assert caught.value.field == "range" and caught.value.value == "90d"
    with pytest.raises(ValueError, match="needs both a start date and an end date"):
        resolve_range("custom", NOW)


# -- a loopback server that answers as InfluxDB does ------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.server.bodies.append((self.path, self.rfile.read(length) if length else b""))  # type: ignore[attr-defined]
        status, body, delay = self.server.routes.get(  # type: ignore[attr-defined]
            (self.command, urlsplit(self.path).path), (404, "404 page not found", 0.0))
        time.sleep(delay)
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("X-Influxdb-Version", "fake-2.7")
        self.send_header("Content-Type", "application/json" if data[:1] in (b"{", b"[") else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def fake():
    """Set ``fake.routes[(method, path)] = (status, body, delay_s)``; any other path answers 404."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.routes = {("GET", "/ping"): (204, b"", 0.0)}
    server.bodies = []  # (path, request body) as received
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def _raised(call) -> BaseException:
    with pytest.raises(StoreError) as caught:
        call()
    return caught.value


# -- InfluxQL over requests -----------------------------------------------------------------------

@pytest.mark.parametrize("status, body, kind, problem, detail", [
    (401, '{"error":"authorization failed"}', StoreAuthError, "unauthorized", "authorization failed"),
    (403, '{"error":"error authorizing query: requires admin privilege"}', StoreAuthError, "forbidden",
     "error authorizing query: requires admin privilege"),
    (404, "404 page not found", StoreNotFoundError, "wrong_api", "404 page not found"),
    (500, '{"error":"engine failure"}', RetryableError, "server_error", "engine failure"),
    (429, '{"error":"too many requests"}', RetryableError, "server_error", "too many requests"),
    (400, '{"error":"error parsing query: found EOF"}', QueryError, "failed", "error parsing query: found EOF"),
])
def test_influxql_query_answers_become_typed_errors(fake, status, body, kind, problem, detail):
    fake.routes[("POST", "/query")] = (status, body, 0.0)
    error = _raised(lambda: InfluxHttp(fake.url).query("SHOW DATABASES", database=None))
    assert type(error) is kind
    assert (error.status, error.problem, error.server, error.detail) == (status, problem, f"InfluxDB at {fake.url}",
                                                                         detail)


@pytest.mark.parametrize("status, body, kind, problem", [
    (404, '{"error":"database not found: \\"vig\\""}', StoreNotFoundError, "missing_database"),
    (401, '{"error":"authorization failed"}', StoreAuthError, "unauthorized"),
    (400, '{"error":"unable to parse \'x y\': invalid field format"}', WriteError, "failed"),
    (503, '{"error":"service unavailable"}', RetryableError, "server_error"),
])
def test_influxql_write_answers_become_typed_errors(fake, status, body, kind, problem):
    fake.routes[("POST", "/write")] = (status, body, 0.0)
    error = _raised(lambda: InfluxHttp(fake.url).write(b"m v=1 0\n", database="vig"))
    assert type(error) is kind and (error.status, error.problem) == (status, problem)


def test_a_refused_store_write_keeps_its_points_and_its_kind(fake):
    fake.routes[("POST", "/write")] = (401, '{"error":"authorization failed"}', 0.0)
    store = InfluxQLStore(InfluxHttp(fake.url, gzip=False), "vig")
    error = _raised(lambda: store.write_frame(points_frame("EQ-1", "cpu_usage", [0, 1], [1.0, 2.0])))
    assert isinstance(error, WriteError) and len(error.unwritten) == 2 and error.written == 0
    assert (error.problem, error.status) == ("unauthorized", 401)
    assert isinstance(error.__cause__, StoreAuthError)


def test_an_error_inside_a_200_answer_is_named_from_the_servers_words(fake):
    fake.routes[("POST", "/query")] = (200, '{"results":[{"statement_id":0,"error":"database not found: vig"}]}', 0.0)
    error = _raised(lambda: InfluxHttp(fake.url).query("SELECT * FROM m", database="vig"))
    assert type(error) is QueryError and (error.status, error.problem) == (None, "missing_database")


def test_a_slow_server_is_a_timeout(fake):
    fake.routes[("POST", "/query")] = (200, '{"results":[]}', 1.0)
    error = _raised(lambda: InfluxHttp(fake.url, timeout_s=0.2).query("SHOW DATABASES", database=None))
    assert type(error) is StoreTimeoutError and error.problem == "timeout" and error.status is None
    assert "0.2 s" in str(error)


def test_a_closed_port_is_unreachable_with_its_reason():
    url = f"http://127.0.0.1:{free_port()}"
    error = _raised(lambda: InfluxHttp(url).ping())
    assert type(error) is RetryableError
    assert (error.problem, error.detail, error.server) == ("unreachable", "connection refused", f"InfluxDB at {url}")
    health = InfluxQLStore(InfluxHttp(url), "vig").health()
    assert not health.ok and isinstance(health.error, RetryableError) and health.message == str(health.error)


# -- InfluxDB 2.x over influxdb-client --------------------------------------------------------------

_BUCKET = '{"buckets":[{"id":"0123456789abcdef","name":"b","orgID":"0123456789abcdef","retentionRules":[]}]}'
_COUNT_CSV = ("#datatype,string,long,long\r\n#group,false,false,false\r\n#default,_result,,\r\n"
              ",result,table,_value\r\n,,0,3\r\n\r\n")


@pytest.fixture
def influx2(fake):
    store = Influx2Store(fake.url, token="t", org="o", bucket="b", timeout_s=2.0)
    yield store
    store.close()


@pytest.mark.parametrize("status, body, kind, problem", [
    (401, '{"code":"unauthorized","message":"unauthorized access"}', StoreAuthError, "unauthorized"),
    (404, '{"code":"not found","message":"organization name \\"o\\" not found"}', StoreNotFoundError, "wrong_org"),
    (200, '{"buckets":[]}', StoreNotFoundError, "missing_bucket"),
    (503, '{"code":"unavailable","message":"service unavailable"}', RetryableError, "server_error"),
])
def test_influx2_health_carries_the_typed_error(fake, influx2, status, body, kind, problem):
    fake.routes[("GET", "/api/v2/buckets")] = (status, body, 0.0)
    health = influx2.health()
    assert not health.ok and type(health.error) is kind and health.error.problem == problem
    assert health.message == str(health.error) and health.error.server == f"InfluxDB 2 at {fake.url}"


def test_influx2_health_of_a_server_without_that_api(fake, influx2):
    fake.routes.pop(("GET", "/ping"))
    health = influx2.health()
    assert type(health.error) is StoreNotFoundError and (health.error.status, health.error.problem) == (
        404, "wrong_api")


def test_influx2_health_on_a_closed_port_says_connection_refused():
    store = Influx2Store(f"http://127.0.0.1:{free_port()}", token="t", org="o", bucket="b")
    try:
        health = store.health()
    finally:
        store.close()
    assert type(health.error) is RetryableError and health.error.detail == "connection refused"


@pytest.mark.parametrize("status, body, kind, problem", [
    (400, '{"code":"invalid","message":"compilation failed: error at @1:1-1:5"}', QueryError, "failed"),
    (404, '{"code":"not found","message":"failed to initialize execute state: could not find bucket \\"b\\""}',
     StoreNotFoundError, "missing_bucket"),
    (403, '{"code":"forbidden","message":"insufficient permissions"}', StoreAuthError, "forbidden"),
    (500, '{"code":"internal error","message":"panic"}', RetryableError, "server_error"),
])
def test_influx2_query_answers_become_typed_errors(fake, influx2, status, body, kind, problem):
    fake.routes[("POST", "/api/v2/query")] = (status, body, 0.0)
    error = _raised(lambda: influx2.query(Selection(T0, T0 + HOUR)))
    assert type(error) is kind and (error.status, error.problem) == (status, problem)
    assert type(error.__cause__).__name__ == "ApiException"


def test_influx2_delete_refusals_are_mapped(fake, influx2):
    fake.routes[("POST", "/api/v2/query")] = (200, _COUNT_CSV, 0.0)
    fake.routes[("POST", "/api/v2/delete")] = (404, '{"code":"not found","message":"bucket \\"b\\" not found"}', 0.0)
    error = _raised(lambda: influx2.delete(Selection(T0, T0 + HOUR, equipment_ids=["EQ-1"])))
    assert type(error) is StoreNotFoundError and (error.status, error.problem) == (404, "missing_bucket")
    [(_, body)] = [b for b in fake.bodies if b[0].startswith("/api/v2/delete")]
    # The delete API's stop is inclusive: one nanosecond before the selection's end.
    assert json.loads(body)["stop"].startswith("2024-01-01T00:59:59.999999999"), body


def test_influx2_refused_write_keeps_its_points_and_its_kind(fake, influx2):
    fake.routes[("POST", "/api/v2/write")] = (400, '{"code":"invalid","message":"unable to parse"}', 0.0)
    error = _raised(lambda: influx2.write_frame(points_frame("EQ-1", "cpu_usage", [0], [1.0]), spool=False))
    assert type(error) is WriteError and len(error.unwritten) == 1
    assert (error.status, error.problem, error.detail) == (400, "failed", "unable to parse")


# -- a reworded message does not change the diagnosis -----------------------------------------------

@pytest.mark.parametrize("make, problem", [
    (lambda fake: InfluxHttp(f"http://127.0.0.1:{free_port()}").ping(), "unreachable"),
    (lambda fake: InfluxHttp(fake.url, timeout_s=0.2).query("SHOW DATABASES", database=None), "timeout"),
    (lambda fake: InfluxHttp(fake.url).write(b"m v=1 0\n", database="vig"), "missing_database"),
    (lambda fake: InfluxHttp(fake.url).query("SHOW USERS", database=None), "unauthorized"),
])
def test_a_reworded_error_gives_the_same_diagnosis(fake, make, problem):
    fake.routes[("POST", "/write")] = (404, '{"error":"database not found: \\"vig\\""}', 0.0)
    fake.routes[("POST", "/query")] = (401, '{"error":"authorization failed"}', 0.0)
    if problem == "timeout":
        fake.routes[("POST", "/query")] = (200, '{"results":[]}', 1.0)
    error = _raised(lambda: make(fake))
    reworded = type(error)("Quelque chose s'est mal passé.", **error.kind())
    assert diagnose(error, WHERE) == diagnose(reworded, WHERE)
    assert diagnose(reworded, WHERE).problem == problem


def _reword(make):
    def reworded(*args, **kwargs):
        error = make(*args, **kwargs)
        return type(error)("A message worded some other way.", **error.kind())
    return reworded


def test_vigileos_check_does_not_read_the_stores_messages(fake, monkeypatch):
    """The drivers' messages are all replaced; the diagnoses stay as they were."""
    fake.routes[("POST", "/query")] = (401, '{"error":"authorization failed"}', 0.0)
    closed = f"influxdb1+http://127.0.0.1:{free_port()}/vig?spool=off"
    before = [check_url(url, round_trip=False) for url in (f"influxdb1+{fake.url}/vig?spool=off", closed)]
    monkeypatch.setattr(influxql_http, "answer_error", _reword(influxql_http.answer_error))
    monkeypatch.setattr(influxql_http, "network_error", _reword(influxql_http.network_error))
    after = [check_url(url, round_trip=False) for url in (f"influxdb1+{fake.url}/vig?spool=off", closed)]
    assert [(r.problem, r.message) for r in after] == [(r.problem, r.message) for r in before]
    assert [r.problem for r in after] == ["unauthorized", "unreachable"]
    assert "answered 401 (authorization failed)" in after[0].message and "connection refused" in after[1].message


# -- a bug inside a driver call is a bug, not an outage ---------------------------------------------

def _bug(*args, **kwargs):
    raise TypeError("unsupported operand type(s) for +: 'int' and 'str'")


def test_a_type_error_in_the_influx2_client_propagates(fake, influx2, monkeypatch):
    monkeypatch.setattr(influx2._client, "version", _bug)
    with pytest.raises(TypeError):
        influx2.health()
    monkeypatch.setattr(influx2._client, "query_api", lambda: type("Api", (), {"query_raw": _bug})())
    with pytest.raises(TypeError):
        influx2.query(Selection(T0, T0 + HOUR))
    assert not is_retryable(TypeError("bug"))


def test_a_type_error_in_a_batched_write_is_refused_not_spooled(tmp_path):
    settled = _Settled(Spool(tmp_path / "spool"))
    settled.error(None, b"m v=1 0\n", TypeError("bug"))
    assert not settled.spool and [type(exc) for _, exc in settled.refused] == [TypeError]


@pytest.mark.parametrize("scheme", ["influxdb1+http", "influxdb2+http"])
def test_vigileos_check_reports_a_driver_bug_as_internal_not_unreachable(fake, scheme, monkeypatch):
    import influxdb_client
    import requests

    monkeypatch.setenv("INFLUXDB_TOKEN", "t")
    monkeypatch.setenv("INFLUXDB_ORG", "o")
    monkeypatch.setattr(requests.Session, "request", _bug)
    monkeypatch.setattr(influxdb_client.InfluxDBClient, "version", _bug)
    url = f"{scheme}://{fake.url.split('://')[1]}" + ("/vig" if scheme.startswith("influxdb1") else "")
    result = CliRunner().invoke(main, ["--store", f"{url}?spool=off", "check"])
    assert result.exit_code == EXIT_INTERNAL, result.output
    assert "Internal error: TypeError" in result.output and "Cannot reach" not in result.output


def test_a_reachable_store_error_still_exits_as_a_store_failure(fake):
    fake.routes[("POST", "/query")] = (401, '{"error":"authorization failed"}', 0.0)
    result = CliRunner().invoke(main, ["--store", f"influxdb1+{fake.url}/vig?spool=off", "check", "--json"])
    assert result.exit_code == EXIT_STORE
    assert json.loads(result.output)["problem"] == "unauthorized"
