"""Refresh the outputs nbval checks (cells marked NBVAL_CHECK_OUTPUT) in the report notebooks.

Run after changing a report notebook or what it shows::

    .venv/bin/python scripts/refresh_report_outputs.py

It first writes each notebook's ``parameters`` cell from the declaration
(scripts/write_parameter_cells.py), then fills a temporary store with NBVAL_FLEET
(the same fleet tests/test_reports.py builds), executes every notebook with its
default parameters against it, and keeps in each source notebook only the outputs
of the checked cells.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import papermill
from write_parameter_cells import write_cells  # beside this script

from vigileos_analytics.ingest.simulate import FleetSpec
from vigileos_analytics.ingest.simulation_io import simulate_into_store
from vigileos_analytics.stores import open_store

HERE = Path(__file__).resolve().parents[1] / "notebooks" / "reports"  # the source notebooks
#: Keep in step with tests/test_reports.py.
NBVAL_FLEET = FleetSpec(equipment=4, days=10, end=datetime(2024, 1, 15, tzinfo=UTC), seed=11,
                        gaps_per_month=0.0)


def seed(folder: Path) -> dict[str, str]:
    """Fill ``folder`` with the nbval fleet; return the environment that points notebooks at it."""
    store = open_store(f"duckdb:///{folder / 'metrics.duckdb'}")
    simulate_into_store(store, NBVAL_FLEET, folder / "inventory.csv", folder / "truth", progress=False)
    return {"VIGILEOS_STORE_URL": f"duckdb:///{folder / 'metrics.duckdb'}",
            "VIGILEOS_INVENTORY": str(folder / "inventory.csv")}


def main() -> None:
    write_cells(HERE)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(seed(Path(tmp)))
        for path in sorted(HERE.glob("*.ipynb")):
            executed = papermill.execute_notebook(str(path), str(Path(tmp) / path.name), kernel_name="python3",
                                                  progress_bar=False)
            source = nbformat.read(path, as_version=4)
            for cell, done in zip(source.cells, executed.cells, strict=True):
                if cell.cell_type != "code":
                    continue
                checked = "NBVAL_CHECK_OUTPUT" in cell.source
                cell.outputs = done.outputs if checked else []
                cell.execution_count = done.execution_count if checked else None
                cell.metadata.pop("papermill", None)
                cell.metadata.pop("execution", None)
            nbformat.write(source, path)


if __name__ == "__main__":
    main()
