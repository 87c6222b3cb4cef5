"""Write the ``parameters`` cell of every report notebook from the one declaration,
``NOTEBOOK_PARAMETERS`` in vigileos_analytics/reports/parameters.py.

Run after adding, removing or changing a report parameter there::

    .venv/bin/python scripts/write_parameter_cells.py

then ``scripts/refresh_report_outputs.py`` if what the notebooks show changed.
``tests/test_report_parameters.py`` fails while a cell differs from the declaration.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from vigileos_analytics.reports.parameters import parameters_cell_source

HERE = Path(__file__).resolve().parents[1] / "notebooks" / "reports"


def write_cells(folder: Path = HERE) -> list[Path]:
    """Rewrite the cell tagged ``parameters`` in each notebook of ``folder``; return the
    notebooks that changed. A notebook without such a cell is an error."""
    source, changed = parameters_cell_source(), []
    for path in sorted(folder.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        cells = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
        if len(cells) != 1:
            raise SystemExit(f"{path} has {len(cells)} cells tagged 'parameters'; it needs exactly one.")
        if cells[0].source != source:
            cells[0].source = source
            nbformat.write(notebook, path)
            changed.append(path)
    return changed


if __name__ == "__main__":
    for changed_path in write_cells(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        sys.stdout.write(f"rewrote {changed_path}\n")
