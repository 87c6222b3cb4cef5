"""Executed notebook → HTML without code (interactive plotly charts) → PDF.

The HTML embeds plotly.js (the kernel runs with ``PLOTLY_RENDERER=notebook``), so it
opens offline; :func:`count_figures` checks that every figure the notebook drew is
in it. The PDF is that HTML printed by headless Chromium (path from
``VIGILEOS_CHROMIUM``, else ``chromium`` / ``chromium-browser`` / ``google-chrome``
on the PATH) on portrait A4, so the charts in the PDF are the same drawings, drawn
at the width of the page (see PRINT_WINDOW); the print rules of display.STYLE fit
tables to the page and keep headings with what follows them.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

from ..errors import ReportError

PLOTLY_MIME = "application/vnd.plotly.v1+json"
#: The content box of the printed page in CSS px (96 an inch): A4 less the 12 mm margins of
#: the ``@page`` rule in display.STYLE. Chromium lays the page out in a window this size
#: before it prints, and the report CSS lays out a window this narrow as the printed page,
#: so plotly draws every chart at the printed width (plotly does not redraw for printing:
#: drawn in a wider window, charts lose their right side and their x axis on paper).
PRINT_WINDOW = (703, 1032)
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--no-pdf-header-footer",
                  "--hide-scrollbars", "--run-all-compositor-stages-before-draw", "--virtual-time-budget=5000",
                  f"--window-size={PRINT_WINDOW[0]},{PRINT_WINDOW[1]}")
#: Seconds Chromium may take to print one report.
PDF_TIMEOUT = 120


def figures_in_notebook(nb: nbformat.NotebookNode) -> int:
    """How many plotly figures the executed notebook displayed."""
    return sum(1 for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
               if PLOTLY_MIME in out.get("data", {}) or "plotly-graph-div" in str(out.get("data", {}).get("text/html", "")))


def count_figures(html_text: str) -> int:
    """How many plotly figures an HTML page draws (one ``Plotly.newPlot`` call each)."""
    return html_text.count("Plotly.newPlot(")


def to_html(nb: nbformat.NotebookNode, target: Path, title: str) -> Path:
    """Write ``nb`` as HTML without code cells or prompts; raise ReportError when a figure
    the notebook drew is missing from the page."""
    exporter = HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    expected, found = figures_in_notebook(nb), count_figures(body)
    if found < expected:
        raise ReportError(f"The HTML of {target.name} holds {found} of the {expected} charts the notebook drew: "
                          "the kernel did not run with PLOTLY_RENDERER=notebook. Run reports with `vigileos report`.")
    target.write_text(body, encoding="utf-8")
    return target


def chromium_path() -> str:
    """The Chromium to print with (``VIGILEOS_CHROMIUM``, else one on PATH); ReportError when none is there."""
    from ..config import load_settings

    configured = load_settings().chromium.strip()
    if configured:
        found = shutil.which(configured)
        if not found:
            raise ReportError(f"VIGILEOS_CHROMIUM is {configured!r}, which is not an executable program: set it to "
                              "the path of Chromium, or unset it to use the one on PATH.")
        return found
    for candidate in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(candidate)
        if found:
            return found
    raise ReportError("No Chromium found to print the PDF: install it (apt-get install -y chromium, or "
                      "`bash scripts/install-system-deps.sh chromium` in the repository) or set VIGILEOS_CHROMIUM "
                      "to its path, or leave pdf out of the report's formats (-p formats=html,xlsx).")


def to_pdf(html_path: Path, target: Path) -> Path:
    """Print ``html_path`` to ``target`` (A4) with headless Chromium."""
    with tempfile.TemporaryDirectory(prefix="vg-chromium-") as profile:
        cmd = [chromium_path(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={target}",
               html_path.resolve().as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=PDF_TIMEOUT, check=False)
        except subprocess.TimeoutExpired as exc:
            raise ReportError(f"Chromium did not print {html_path.name} within {PDF_TIMEOUT} s.") from exc
    if done.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
        tail = (done.stderr or "").strip().splitlines()[-3:]
        raise ReportError(f"Chromium could not print {html_path} to PDF (exit {done.returncode}): {' | '.join(tail)}")
    return target
