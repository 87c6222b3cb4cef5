"""The report parameters are declared once (``NOTEBOOK_PARAMETERS``): every report
notebook's ``parameters`` cell is generated from it, and each notebook hands them to
``open_report`` in one line."""

from __future__ import annotations

import importlib.util
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest

from vigileos_analytics.errors import ValidationError
from vigileos_analytics.ingest.simulate import FleetSpec
from vigileos_analytics.ingest.simulation_io import simulate_into_store
from vigileos_analytics.reports.context import open_report
from vigileos_analytics.reports.parameters import (
    KNOWN_KEYS,
    NOTEBOOK_PARAMETERS,
    ReportParameters,
    notebook_parameters,
    parameters_cell_source,
    parse_parameters,
)
from vigileos_analytics.stores import open_store

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks" / "reports").glob("*.ipynb"))
NAMES = [p.name for p in NOTEBOOK_PARAMETERS]


def _write_cells_script():
    path = ROOT / "scripts" / "write_parameter_cells.py"
    spec = importlib.util.spec_from_file_location("write_parameter_cells", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _parameter_cells(path: Path) -> list:
    notebook = nbformat.read(path, as_version=4)
    return [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_parameters_cell_is_what_the_declaration_generates(path):
    cells = _parameter_cells(path)
    assert len(cells) == 1, "papermill injects after the one cell tagged 'parameters'"
    assert cells[0].source == parameters_cell_source(), (
        f"{path.name}: run `.venv/bin/python scripts/write_parameter_cells.py`")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_passes_the_parameters_to_open_report_in_one_line(path):
    notebook = nbformat.read(path, as_version=4)
    calls = [line for cell in notebook.cells for line in cell.source.splitlines() if "open_report(" in line]
    assert calls == [f'ctx = open_report("{path.stem}", notebook_parameters(globals()))']


def test_the_declaration_covers_every_report_parameter_once():
    assert len(NAMES) == len(set(NAMES))
    assert set(NAMES) == set(ReportParameters().to_notebook()) | {"tables_dir"}
    assert set(NAMES) == set(KNOWN_KEYS) - {"formats"} | {"tables_dir"}  # formats: the runner's, not a kernel's


def test_the_declared_defaults_mean_the_same_as_no_parameters():
    """A cell left as generated reports what an empty parameter file does (None: the default)."""
    declared = {p.name: p.default for p in NOTEBOOK_PARAMETERS if p.default is not None and p.name != "tables_dir"}
    assert declared and parse_parameters(declared) == parse_parameters({})


def test_the_generated_cell_defines_every_parameter_and_notebook_parameters_collects_them():
    namespace: dict = {"In": [], "Out": {}, "charts": object()}  # what else a kernel's globals hold
    exec(parameters_cell_source(), namespace)  # noqa: S102 - the generated cell, as the kernel runs it
    assert notebook_parameters(namespace) == {p.name: p.default for p in NOTEBOOK_PARAMETERS}


def test_the_script_rewrites_a_stale_cell_and_leaves_a_current_one(tmp_path):
    script = _write_cells_script()
    for path in NOTEBOOKS[:2]:
        shutil.copy(path, tmp_path / path.name)
    stale = tmp_path / NOTEBOOKS[0].name
    notebook = nbformat.read(stale, as_version=4)
    cell = _parameter_cells(stale)[0]
    notebook.cells[notebook.cells.index(cell)].source = "month = None\n"
    nbformat.write(notebook, stale)
    assert script.write_cells(tmp_path) == [stale]
    assert _parameter_cells(stale)[0].source == parameters_cell_source()
    assert script.write_cells(tmp_path) == []


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("params-fleet")
    store = open_store(f"duckdb:///{folder / 'metrics.duckdb'}")
    spec = FleetSpec(equipment=2, days=2, end=datetime(2024, 1, 3, tzinfo=UTC), seed=5, gaps_per_month=0.0)
    simulate_into_store(store, spec, folder / "inventory.csv", progress=False)
    store.close()
    return {"store_url": f"duckdb:///{folder / 'metrics.duckdb'}", "inventory": str(folder / "inventory.csv")}


def test_open_report_takes_the_parameters_as_one_mapping(small_store, tmp_path):
    namespace = {p.name: p.default for p in NOTEBOOK_PARAMETERS}
    namespace.update(small_store, start="2024-01-01", end="2024-01-03", language="fr", tables_dir=str(tmp_path))
    ctx = open_report("monthly_availability", notebook_parameters(namespace))
    assert ctx.params.language == "fr" and ctx.tables_dir == tmp_path
    assert (ctx.start, ctx.end) == (datetime(2024, 1, 1, tzinfo=UTC),
                                    datetime(2024, 1, 3, tzinfo=UTC))
    assert ctx.params.thresholds["response_time"] == 600.0  # None in the cell: the defaults


def test_open_report_still_rejects_an_unknown_parameter(small_store):
    with pytest.raises(ValidationError, match=re.escape("Unknown report parameter(s) 'colour'")):
        open_report("monthly_availability", {**small_store, "colour": "red"})


@pytest.mark.parametrize(("source", "key", "shown"), [
    ("file", "availability", "nan"), ("file", "cpu_usage", "inf"), ("-p", "response_time", "-inf"),
])
def test_a_threshold_that_is_not_a_finite_number_is_refused_by_the_cli(source, key, shown, tmp_path):
    """YAML reads .nan / .inf as floats; a nan threshold compares False with everything, so no
    equipment was ever flagged. The CLI now stops with exit 3 before any kernel, naming the key."""
    from click.testing import CliRunner

    from vigileos_analytics.cli.common import AppContext
    from vigileos_analytics.cli.report import report

    param_file = tmp_path / "p.yaml"
    yaml_value = {"nan": ".nan", "inf": ".inf", "-inf": "-.inf"}[shown]
    args = ["monthly_availability", "-o", str(tmp_path / "out"), "-q"]
    if source == "file":
        param_file.write_text(f"month: 2024-01\nthresholds:\n  {key}: {yaml_value}\n")
        args += ["-f", str(param_file)]
    else:
        args += ["-p", "month=2024-01", "-p", f"thresholds.{key}={yaml_value}"]
    result = CliRunner().invoke(report, args, obj=AppContext(f"duckdb:///{tmp_path / 'none.duckdb'}"))
    assert result.exit_code == 3, result.output
    text = " ".join(result.output.split())
    assert f"The report parameter 'thresholds.{key}' must be a finite number; got {shown}." in text
    assert not (tmp_path / "out").exists() and not (tmp_path / "none.duckdb").exists()


def test_a_threshold_past_the_float_range_is_refused():
    with pytest.raises(ValidationError, match=re.escape("'thresholds.cpu_usage' must be a finite number")):
        parse_parameters({"thresholds": {"cpu_usage": 10**400}})
    assert parse_parameters({"thresholds": {"cpu_usage": 90}}).thresholds["cpu_usage"] == 90.0
