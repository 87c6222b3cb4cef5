"""The predictive-maintenance notebook runs on a real kernel under nbval against a copy
of the seeded fleet (store URL from VIGILEOS_STORE_URL)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "predictive_maintenance.ipynb"


@pytest.mark.notebook
def test_predictive_notebook_runs_under_nbval(seeded_store_dir: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIGILEOS_", "INFLUXDB_"))}
    env["VIGILEOS_STORE_URL"] = f"duckdb:///{seeded_store_dir / 'metrics.duckdb'}"
    notebook = tmp_path / NOTEBOOK.name
    shutil.copy(NOTEBOOK, notebook)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                           "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"), str(notebook)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
