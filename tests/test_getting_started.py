"""The getting-started notebook runs top to bottom on a real kernel under nbval against a copy
of the seeded fleet (store and inventory from VIGILEOS_STORE_URL / VIGILEOS_INVENTORY, as
``vigileos lab`` passes them), and its Excel export is a workbook with readable headers.

The README's screenshot is that notebook executed, rendered by nbconvert's lab template
and photographed by Debian's Chromium (playwright), as tests/test_dashboards.py does for
the dashboards: it lands in docs/images/getting_started.png.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "getting_started.ipynb"
README_IMAGE = ROOT / "docs" / "images" / "getting_started.png"
CHROMIUM = "/usr/bin/chromium"


def _kernel_env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIGILEOS_", "INFLUXDB_"))}
    return env | {"VIGILEOS_STORE_URL": f"duckdb:///{folder / 'metrics.duckdb'}",
                  "VIGILEOS_INVENTORY": str(folder / "inventory.csv")}


@pytest.mark.notebook
@pytest.mark.slow
def test_getting_started_runs_under_nbval_and_writes_the_workbook(seeded_store_dir: Path, tmp_path: Path) -> None:
    import openpyxl

    work = tmp_path / "work"
    work.mkdir()
    notebook = work / NOTEBOOK.name
    shutil.copy(NOTEBOOK, notebook)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                           "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg"), "--rootdir", str(ROOT),
                           "-c", str(ROOT / "pyproject.toml"), str(notebook)],
                          cwd=work, env=_kernel_env(seeded_store_dir), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
    # The last section exported the picked equipment's 7 days (the fleet ends at midnight): 7 rows and a header.
    sheet = openpyxl.load_workbook(work / "daily_availability.xlsx").active
    headers = [cell.value for cell in sheet[1]]
    assert sheet.max_row == 8
    assert headers == ["Equipment", "Day (UTC)", "Availability (%)", "Downtime (h)", "Outages", "Maintenance (h)",
                       "Coverage (%)"], headers


def test_the_notebook_is_shipped_clean_and_reads_the_configured_store() -> None:
    """No outputs from someone's run travel in the source, and the store comes from the settings."""
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    assert "parameters" in code[0].metadata.get("tags", [])
    assert "load_settings()" in code[1].source and "store_url or settings.store_url" in code[1].source


@pytest.mark.notebook
@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(),
                    reason="Debian's chromium is not installed (apt-get install -y chromium)")
def test_readme_screenshot_of_the_executed_notebook(seeded_store_dir: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    sync_api = pytest.importorskip("playwright.sync_api")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # The kernel inherits this process's environment; the notebook renderer embeds plotly.js in the page.
    for name in ("VIGILEOS_STORE_URL", "VIGILEOS_INVENTORY"):
        monkeypatch.setenv(name, _kernel_env(seeded_store_dir)[name])
    monkeypatch.setenv("PLOTLY_RENDERER", "notebook")
    NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    html, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    page = tmp_path / "getting_started.html"
    page.write_text(html, encoding="utf-8")
    assert "Traceback" not in html
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            tab = browser.new_page(viewport={"width": 1100, "height": 860})
            tab.goto(page.as_uri(), wait_until="load")
            tab.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .main-svg').length > 0")
            # The page from the state timeline on: code, a table and a chart, as a newcomer sees them.
            tab.evaluate("() => [...document.querySelectorAll('h2')].find(h => h.textContent.startsWith('4. '))"
                         ".scrollIntoView()")
            README_IMAGE.parent.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(README_IMAGE), full_page=False)
        finally:
            browser.close()
    assert README_IMAGE.stat().st_size > 20_000
