"""One reader of URL query options for store URLs and dashboard pages. The cases are
where the three former copies disagreed: surrounding spaces, empty values, options
given twice, flag words, and ``verify`` as a flag or a CA bundle path."""

from __future__ import annotations

from datetime import timedelta
from socket import socket

import pytest

from vigileos_analytics.config import Secret, Settings
from vigileos_analytics.dashboards import parse_params
from vigileos_analytics.errors import ConfigurationError
from vigileos_analytics.stores import open_store
from vigileos_analytics.urloptions import read_url_options

STORE_OPTIONS = {"timeout", "verify", "gzip", "spool", "run_gap"}


def free_port() -> int:
    with socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_values_are_decoded_and_stripped():
    options = read_url_options("spool=%2Fvar%2Fspool+dir&timeout=%205s%20", STORE_OPTIONS)
    assert dict(options.values) == {"spool": "/var/spool dir", "timeout": "5s"}
    assert options.problems == ()


@pytest.mark.parametrize("query", ["spool=", "spool", "spool=%20", "spool=&timeout=&verify"])
def test_an_empty_value_counts_as_not_given(query):
    options = read_url_options(query, STORE_OPTIONS)
    assert "spool" not in options and options.get("spool", "default") == "default"
    assert options.problems == ()


def test_an_option_given_twice_with_different_values_is_a_problem_and_the_first_is_kept():
    options = read_url_options("timeout=5s&timeout=9s", STORE_OPTIONS, source="the store URL")
    assert options.get("timeout") == "5s"
    assert options.problems == ("The option timeout is given twice in the store URL ('5s' and '9s'); give it once.",)


def test_an_option_repeated_with_the_same_value_is_fine():
    assert read_url_options("gzip=true&gzip=true", STORE_OPTIONS).problems == ()


def test_unknown_names_are_listed_even_without_a_value():
    options = read_url_options("colour=red&speed&timeout=5s", STORE_OPTIONS)
    assert options.problems == (f"Unknown option(s) ['colour', 'speed'] in the URL; known: {sorted(STORE_OPTIONS)}.",)
    assert dict(options.values) == {"timeout": "5s"}


def test_without_known_names_every_option_is_kept():
    assert dict(read_url_options("lang=fr&voila-theme=dark").values) == {"lang": "fr", "voila-theme": "dark"}


def test_names_are_case_sensitive():
    assert read_url_options("Timeout=5s", STORE_OPTIONS).problems[0].startswith("Unknown option(s) ['Timeout']")


@pytest.mark.parametrize(("text", "value"), [
    ("true", True), ("TRUE", True), ("1", True), ("yes", True), ("On", True),
    ("false", False), ("0", False), ("no", False), ("OFF", False),
])
def test_flag_words(text, value):
    assert read_url_options(f"gzip={text}").flag("gzip", not value) is value


def test_a_flag_that_is_no_flag_word_is_an_error():
    with pytest.raises(ConfigurationError, match="The option gzip in the store URL must be true or false"):
        read_url_options("gzip=maybe", source="the store URL").flag("gzip", True)


@pytest.mark.parametrize(("text", "value"), [
    (None, True), ("no", False), ("yes", True), ("0", False), ("/etc/ssl/ca.pem", "/etc/ssl/ca.pem"),
])
def test_verify_is_a_flag_or_a_ca_bundle_path(text, value):
    """``verify=yes`` was a CA bundle named "yes" for both InfluxDB backends; now a flag."""
    query = f"verify={text}" if text else ""
    assert read_url_options(query).flag_or_text("verify", True) == value


def test_raise_problems_names_every_problem():
    options = read_url_options("colour=red&timeout=1s&timeout=2s", STORE_OPTIONS, source="the store URL")
    with pytest.raises(ConfigurationError) as caught:
        options.raise_problems()
    assert "Unknown option(s) ['colour']" in str(caught.value) and "timeout is given twice" in str(caught.value)


# The same rules where the options are used.

def test_embedded_store_url(tmp_path):
    url = f"duckdb:///{tmp_path / 'm.duckdb'}"
    with pytest.raises(ConfigurationError, match="run_gap is given twice"):
        open_store(f"{url}?run_gap=5m&run_gap=10m")
    store = open_store(f"{url}?run_gap=%2010m%20")
    try:
        assert store.run_gap_ns == timedelta(minutes=10) // timedelta(microseconds=1) * 1000
    finally:
        store.close()


def test_influxql_store_url_reads_verify_and_flags_by_the_same_rules():
    """No server needed: opening an InfluxQL store sends nothing."""
    url = f"influxdb1+http://127.0.0.1:{free_port()}/db?spool=off&verify=no&gzip=off&create_database="
    store = open_store(url, Settings())
    try:
        assert store.http.gzip is False and store.http._session.verify is False
    finally:
        store.close()


def test_influx2_store_url_refuses_a_repeated_option():
    settings = Settings(influxdb_token=Secret("t"), influxdb_org="o", influxdb_bucket="metrics")
    with pytest.raises(ConfigurationError, match="verify is given twice"):
        open_store("influxdb2+http://127.0.0.1:9?spool=off&verify=true&verify=/ca.pem", settings)


def test_dashboard_page_reads_the_same_way_and_shows_problems():
    params = parse_params("lang=fr&range=%207d%20&range=30d&refresh=&voila-theme=dark")
    assert (params.lang, params.range_key) == ("fr", "7d")
    assert params.problems == ("The option range is given twice in the page's address ('7d' and '30d'); "
                               "give it once.",)
