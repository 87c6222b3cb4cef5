"""Shared fixtures: a clean environment for every test, real DuckDB files, and one
deterministic simulated fleet."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vigileos_analytics.ingest.simulate import FleetSpec
from vigileos_analytics.ingest.simulation_io import simulate_into_store
from vigileos_analytics.stores import open_store

#: The fixed end of every seeded fleet: tests never depend on the wall clock.
FLEET_END = datetime(2024, 2, 1, tzinfo=UTC)
SMALL_FLEET = FleetSpec(equipment=6, days=10, end=FLEET_END, seed=7)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No INFLUXDB_* / VIGILEOS_* variable leaks in, and no .env is read from the checkout."""
    for name in list(os.environ):
        if name.startswith(("INFLUXDB_", "VIGILEOS_")) and not name.startswith("VIGILEOS_TEST_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "metrics.duckdb"


@pytest.fixture
def embedded_store(store_path: Path):
    return open_store(f"duckdb:///{store_path}")


@pytest.fixture(scope="session")
def seeded_fleet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store filled once per session with SMALL_FLEET, plus its inventory and truth."""
    folder = tmp_path_factory.mktemp("seeded")
    store = open_store(f"duckdb:///{folder / 'metrics.duckdb'}")
    simulate_into_store(store, SMALL_FLEET, folder / "inventory.csv", folder / "truth", progress=False)
    return folder


@pytest.fixture
def seeded_store_dir(seeded_fleet_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the seeded fleet's folder, safe to modify."""
    target = tmp_path / "seeded"
    shutil.copytree(seeded_fleet_dir, target)
    return target
