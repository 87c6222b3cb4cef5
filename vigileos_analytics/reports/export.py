"""Executed notebook → HTML without code (interactive plotly charts) → PDF.

The HTML embeds plotly.js (the kernel runs with ``PLOTLY_RENDERER=notebook``), so it
opens offline; :func:`count_figures` checks that every figure the notebook drew is
in it. The PDF is that HTML printed by headless Chromium (path from
``VIGILEOS_CHROMIUM``, else ``chromium`` / ``chromium-browser`` / ``google-chrome``
on the PATH; driven as :mod:`.chromium` says) on portrait A4, so the charts in the PDF are the same drawings, drawn
at the width of the page (see PRINT_WINDOW); the print rules of display.STYLE fit
tables to the page and keep headings with what follows them.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

from ..errors import ReportError
from .chromium import ChromiumSession

PLOTLY_MIME = "application/vnd.plotly.v1+json"
#: The content box of the printed page in CSS px (96 an inch): A4 less the 12 mm margins of
#: the ``@page`` rule in display.STYLE. Chromium lays the page out in a window this size
#: before it prints, and the report CSS lays out a window this narrow as the printed page,
#: so plotly draws every chart at the printed width (plotly does not redraw for printing:
#: drawn in a wider window, charts lose their right side and their x axis on paper).
PRINT_WINDOW = (703, 1032)


def figures_in_notebook(nb: nbformat.NotebookNode) -> int:
    """How many plotly figures the executed notebook displayed."""
    return sum(1 for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
               if PLOTLY_MIME in out.get("data", {})
               or "plotly-graph-div" in str(out.get("data", {}).get("text/html", "")))


def count_figures(html_text: str) -> int:
    """How many plotly figures an HTML page draws (one ``Plotly.newPlot`` call each)."""
    return html_text.count("Plotly.newPlot(")


_exporters = threading.local()


def _exporter() -> HTMLExporter:
    """This thread's exporter: building one loads and compiles its templates (a batch makes one per worker)."""
    exporter = getattr(_exporters, "html", None)
    if exporter is None:
        exporter = _exporters.html = HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True,
                                                  exclude_output_prompt=True)
    return exporter


def to_html(nb: nbformat.NotebookNode, target: Path, title: str) -> Path:
    """Write ``nb`` as HTML without code cells or prompts; raise ReportError when a figure
    the notebook drew is missing from the page."""
    body, _ = _exporter().from_notebook_node(nb, resources={"metadata": {"name": title}})
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
    """Print ``html_path`` to ``target`` (A4) with a headless Chromium of its own (a batch
    shares one: see :class:`~.session.ReportSession`)."""
    with ChromiumSession(chromium_path(), PRINT_WINDOW) as browser:
        return browser.print_pdf(html_path, target)
