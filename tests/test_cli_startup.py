"""The CLI starts light: help, ``record``, ``check --no-round-trip`` and ``config`` never
import the report, dashboard or model stacks, and help does not even import pandas.

Each case runs in a fresh interpreter and reports which top-level packages it
imported; the package's lazy exports are checked here as well.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest

import vigileos_analytics
from vigileos_analytics.cli import main
from vigileos_analytics.schema import Point
from vigileos_analytics.stores import open_store
from vigileos_analytics.stores.base import Selection

#: Never imported by the light commands: each costs from 0.3 s to seconds.
HEAVY = {"sklearn", "scipy", "papermill", "nbconvert", "plotly", "voila", "jupyter_server"}
#: Not imported by any --help either.
NOT_FOR_HELP = HEAVY | {"pandas", "duckdb", "pyarrow", "rich", "yaml", "requests"}

# Runs each argument list of argv[2] in turn and writes, per run, its exit code and the
# top-level packages it imported first, to the file argv[1].
_PROBE = """
import json, sys
from vigileos_analytics.cli import main

def packages():
    return {name.partition(".")[0] for name in sys.modules}

results = []
for args in json.loads(sys.argv[2]):
    before = packages()
    try:
        code = main(args, prog_name="vigileos", standalone_mode=False)
    except SystemExit as exc:
        code = exc.code
    results.append({"args": args, "code": code or 0, "imported": sorted(packages() - before)})
with open(sys.argv[1], "w") as out:
    json.dump(results, out)
"""


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("VIGILEOS_", "INFLUXDB_"))}


def run_cli(tmp_path: Path, *cases: list[str]) -> list[dict]:
    report = tmp_path / "probe.json"
    done = subprocess.run([sys.executable, "-c", _PROBE, str(report), json.dumps(cases)], env=clean_env(),
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(report.read_text())


def help_cases() -> list[list[str]]:
    cases = [["--help"]]
    for name, command in sorted(main.commands.items()):
        cases.append([name, "--help"])
        if isinstance(command, click.Group):
            cases.extend([name, sub, "--help"] for sub in sorted(command.commands))
    return cases


def store_url(tmp_path: Path) -> str:
    return f"duckdb:///{(tmp_path / 'metrics.duckdb').resolve()}"


def test_help_imports_neither_pandas_nor_heavy_stacks(tmp_path):
    results = run_cli(tmp_path, *help_cases())
    assert [r["code"] for r in results] == [0] * len(results)
    assert {" ".join(r["args"]): sorted(NOT_FOR_HELP & set(r["imported"])) for r in results
            if NOT_FOR_HELP & set(r["imported"])} == {}
    assert len(results) > len(main.commands)  # every command and subcommand was asked


def test_record_writes_without_heavy_stacks(tmp_path):
    url = store_url(tmp_path)
    [result] = run_cli(tmp_path, ["--store", url, "record", "EQ-T", "cpu_usage", "1"])
    assert result["code"] == 0
    assert not HEAVY & set(result["imported"])
    store = open_store(url)
    try:
        now = datetime.now(UTC)
        frame = store.query(Selection(now - timedelta(hours=1), now + timedelta(minutes=1), equipment_ids=("EQ-T",)))
    finally:
        store.close()
    assert frame["metric_type"].tolist() == ["cpu_usage"] and frame["value"].tolist() == [1.0]


def test_check_without_round_trip_skips_heavy_stacks(tmp_path):
    url = store_url(tmp_path)
    store = open_store(url)
    try:
        store.write_points([Point("EQ-T", "cpu_usage", 1.0, datetime.now(UTC))])
    finally:
        store.close()
    [result] = run_cli(tmp_path, ["--store", url, "check", "--no-round-trip"])
    assert result["code"] == 0
    assert not HEAVY & set(result["imported"])


def test_config_imports_only_rich(tmp_path):
    [result] = run_cli(tmp_path, ["config"])
    assert result["code"] == 0
    assert not (NOT_FOR_HELP - {"rich"}) & set(result["imported"])


def test_package_exports_resolve_lazily(tmp_path):
    done = subprocess.run([sys.executable, "-c", "import sys, vigileos_analytics; print('pandas' in sys.modules)"],
                          env=clean_env(), cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr
    for name in vigileos_analytics.__all__:
        assert getattr(vigileos_analytics, name) is not None, name
    assert set(vigileos_analytics.__all__) <= set(dir(vigileos_analytics))
    with pytest.raises(AttributeError):
        vigileos_analytics.no_such_name  # noqa: B018


def test_lifecycle_functions_stay_functions_once_their_modules_are_imported():
    import vigileos_analytics.lifecycle.backup  # noqa: F401  (binds the submodule on its package)
    import vigileos_analytics.lifecycle.maintain  # noqa: F401  (imports .cleanup)
    from vigileos_analytics.lifecycle import backup, cleanup, export

    assert all(callable(f) and f.__name__ == n for f, n in ((backup, "backup"), (cleanup, "cleanup"),
                                                               (export, "export")))


def test_model_names_offered_by_the_cli_are_the_zoo():
    from vigileos_analytics.predictive import CLASSIFIERS, SUPERVISED, UNSUPERVISED
    from vigileos_analytics.predictive.models import classifier_zoo

    assert list(classifier_zoo()) == list(CLASSIFIERS) == [*SUPERVISED, *UNSUPERVISED]
