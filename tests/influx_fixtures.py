"""Fixtures for tests that need a real influxd (Debian's InfluxDB 1.6.7, see
tests/influx_server.py). Import them into a test module::

    from .influx_fixtures import influxd  # noqa: F401  (a pytest fixture)

Each importing module gets its own server for the session (pytest keys fixtures by
the module that defines them); starting one takes about a second.
"""

from __future__ import annotations

import os

import pytest
import requests

from .influx_server import InfluxServer, find_influxd

ADMIN_USER, ADMIN_PASSWORD = "admin", "s3cret"


def require_influxd() -> None:
    """Skip (or fail on CI) when influxd is not installed."""
    if find_influxd() is None:
        if os.environ.get("CI"):
            pytest.fail("influxd is missing on CI: `make test` installs Debian's influxdb package.")
        pytest.skip("influxd is not installed: `apt-get install -y influxdb` (Debian's InfluxDB 1.6.7) to run "
                    "the InfluxQL backend tests.")


@pytest.fixture(scope="session")
def influxd(tmp_path_factory):
    """One real influxd for the session."""
    require_influxd()
    with InfluxServer(tmp_path_factory.mktemp("influxd")) as server:
        yield server


@pytest.fixture(scope="module")
def influxd_auth(tmp_path_factory):
    """A real influxd with authentication on, and one admin user (ADMIN_USER / ADMIN_PASSWORD)."""
    require_influxd()
    with InfluxServer(tmp_path_factory.mktemp("influxd_auth"), auth_enabled=True) as server:
        requests.post(f"{server.url}/query", timeout=10, data={
            "q": f"CREATE USER {ADMIN_USER} WITH PASSWORD '{ADMIN_PASSWORD}' WITH ALL PRIVILEGES"}).raise_for_status()
        yield server
