"""Running a report: check parameters, execute the notebook with papermill, then write
HTML, PDF and Excel beside the executed notebook in ``<output_dir>/<name>/<period>/``.

The notebook runs on a kernel of a :class:`~.session.ReportSession` (see :mod:`.kernels`);
the PDF is printed by the session's Chromium while the Excel workbook is written. The
executed notebook is written once, when the run ends (also when a cell failed).
``ReportOutputs.timings`` says where the seconds went.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .._imports import skip_slow_iri_checker
from ..errors import ReportError, ValidationError
from ..i18n import Translator
from ..templates import reports_dir
from .context import _service, check_report_name, resolve

skip_slow_iri_checker()  # before papermill imports nbformat; see the function's docstring
import nbformat  # noqa: E402  (after skip_slow_iri_checker)
import papermill  # noqa: E402
from papermill.exceptions import PapermillExecutionError  # noqa: E402

from .excel import write_workbook  # noqa: E402
from .export import to_html  # noqa: E402
from .kernels import KERNEL_ENV, ReportKernel, ReportKernelManager  # noqa: E402
from .parameters import ReportParameters, check_report_scope, parse_parameters, period_label  # noqa: E402
from .session import ReportSession  # noqa: E402

#: The steps of ``ReportOutputs.timings``, in the order they run.
STEPS = ("kernel", "cells", "html", "pdf", "xlsx")


def notebooks_dir() -> Path:
    """Where the report notebooks are: VIGILEOS_REPORTS_DIR, else the ones that come with the package."""
    return reports_dir()


@dataclass(frozen=True)
class ReportOutputs:
    """Where a report's files are; ``seconds`` is the wall time of the whole run."""

    folder: Path
    notebook: Path
    html: Path | None = None
    pdf: Path | None = None
    xlsx: Path | None = None
    sheets: tuple[str, ...] = ()
    seconds: float = 0.0
    files: tuple[Path, ...] = field(default=())
    #: Seconds per step of :data:`STEPS` that ran (``kernel`` is 0 on a warm kernel; pdf
    #: and xlsx run at the same time).
    timings: dict[str, float] = field(default_factory=dict)


def prepare(name: str, raw: Mapping[str, Any]) -> tuple[ReportParameters, list[str]]:
    """Check the parameters and resolve the period and equipment against the store
    (before any kernel starts). Returns the parameters and the equipment in scope."""
    check_report_name(name)
    params = parse_parameters(raw)
    check_report_scope(name, params)
    params, equipment = resolve(params, _service(params))
    return params, equipment["equipment_id"].tolist()


def _failure(exc: PapermillExecutionError, nb_path: Path, name: str) -> ReportError:
    first = next((line for line in (exc.source or "").splitlines() if line.strip() and not line.startswith("#")), "")
    return ReportError(f"The report {name!r} failed in cell In [{exc.exec_count}] ({first.strip()[:80]!r}): "
                       f"{exc.ename}: {str(exc.evalue).rstrip('.')}. The partial notebook is kept at {nb_path}.")


def execute(name: str, params: ReportParameters, folder: Path, tables_dir: Path | None, progress: bool = False,
            kernel: ReportKernel | None = None, timings: dict[str, float] | None = None) -> Path:
    """Execute ``notebooks/reports/<name>.ipynb`` with ``params`` into ``folder`` on ``kernel``
    (a kernel of its own when None); ``timings`` gets the kernel and cells seconds."""
    return _execute(name, params, folder, tables_dir, progress, kernel, timings)[0]


def _execute(name: str, params: ReportParameters, folder: Path, tables_dir: Path | None, progress: bool,
             kernel: ReportKernel | None, timings: dict[str, float] | None) -> tuple[Path, nbformat.NotebookNode]:
    source = notebooks_dir() / f"{name}.ipynb"
    if not source.is_file():
        raise ReportError(f"The report notebook {source} does not exist; set VIGILEOS_REPORTS_DIR to the folder "
                          "that holds the report notebooks (`vigileos templates copy DIR` makes editable copies), "
                          "or unset it to use the ones that come with the package.")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.ipynb"
    values = params.to_notebook() | {"tables_dir": str(tables_dir) if tables_dir else None}
    own = kernel is None
    kernel = kernel or ReportKernel(str(Path.cwd()))
    timings = {} if timings is None else timings
    started = time.perf_counter()
    try:
        timings["kernel"] = kernel.start()
        nb = papermill.execute_notebook(str(source), str(target), parameters=values, kernel_name="python3",
                                   language="python", progress_bar=progress, engine_name="vigileos", kernel=kernel,
                                   request_save_on_cell_execute=False, cwd=kernel.cwd, log_output=False)
    except PapermillExecutionError as exc:
        raise _failure(exc, target, name) from exc
    except (RuntimeError, OSError) as exc:
        kernel.shutdown()
        raise ReportError(f"The report {name!r} could not run its kernel: {exc}. Is ipykernel installed "
                          "(`python -m ipykernel install --sys-prefix`)?") from exc
    finally:
        timings["cells"] = time.perf_counter() - started - timings.get("kernel", 0.0)
        if own:
            kernel.shutdown()
    return target, nb


def run_report(name: str, raw: Mapping[str, Any] | None = None, output_dir: str | Path = "reports", *,
               subfolder: str | None = None, progress: bool = True,
               session: ReportSession | None = None) -> ReportOutputs:
    """Run report ``name`` with ``raw`` parameters (as read from a parameter file).

    Writes ``<output_dir>/<name>/<period>[/<subfolder>]/``: ``<name>.ipynb`` always, plus
    ``<name>.html`` / ``.pdf`` / ``.xlsx`` as ``formats`` asks. Raises ValidationError
    for bad parameters (before a kernel starts) and ReportError when a cell or an
    export fails (the partial notebook is kept). Reports run one after the other share
    a kernel and a browser when given the same ``session`` (see :mod:`.session`).
    """
    started = time.perf_counter()
    if subfolder is not None and (subfolder in ("", ".", "..") or Path(subfolder).name != subfolder
                                  or "\\" in subfolder or "\0" in subfolder):
        raise ValidationError(f"subfolder must be one folder name without a path separator; got {subfolder!r}.",
                              field="subfolder", value=subfolder)
    params, _ = prepare(name, raw or {})
    folder = Path(output_dir) / name / period_label(params)
    folder = folder / subfolder if subfolder else folder
    if session is None:
        with ReportSession() as own:
            return _run(name, params, folder, progress, own, started)
    return _run(name, params, folder, progress, session, started)


def _run(name: str, params: ReportParameters, folder: Path, progress: bool, session: ReportSession,
         started: float) -> ReportOutputs:
    if "pdf" in params.formats:
        session.browser()  # boots while the notebook runs
    tables_dir = Path(tempfile.mkdtemp(prefix="vg-tables-"))
    steps = ["execute", *params.formats]
    timings: dict[str, float] = {}
    try:
        with tqdm(total=len(steps), desc=f"{name} {folder.name}", unit="step", disable=not progress,
                  leave=False) as bar:
            notebook, nb = _execute(name, params, folder, tables_dir, False, session.kernel(), timings)
            bar.update(1)
            outputs = _export(name, params, notebook, nb, tables_dir, bar, session, timings)
    finally:
        shutil.rmtree(tables_dir, ignore_errors=True)
    files = tuple(p for p in (notebook, outputs.get("html"), outputs.get("pdf"), outputs.get("xlsx")) if p)
    return ReportOutputs(folder=folder, notebook=notebook, html=outputs.get("html"), pdf=outputs.get("pdf"),
                         xlsx=outputs.get("xlsx"), sheets=tuple(outputs.get("sheets", ())),
                         seconds=time.perf_counter() - started, files=files, timings=timings)


def _timed(timings: dict[str, float], step: str, work: Any, *args: Any) -> Any:
    started = time.perf_counter()
    try:
        return work(*args)
    finally:
        timings[step] = time.perf_counter() - started


def _export(name: str, params: ReportParameters, notebook: Path, nb: nbformat.NotebookNode, tables_dir: Path,
            bar: tqdm, session: ReportSession, timings: dict[str, float]) -> dict[str, Any]:
    tr = Translator(params.language)
    out: dict[str, Any] = {}
    html_path = notebook.with_suffix(".html")
    if "html" in params.formats or "pdf" in params.formats:
        _timed(timings, "html", to_html, nb, html_path, tr.t(f"{name}.title"))
        if "html" in params.formats:
            out["html"] = html_path
            bar.update(1)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vg-pdf") as printer:
        # Chromium prints in its own processes while this thread writes the workbook.
        printing = (printer.submit(_timed, timings, "pdf", session.browser().print_pdf, html_path,
                                   notebook.with_suffix(".pdf")) if "pdf" in params.formats else None)
        if "xlsx" in params.formats:
            out["xlsx"] = notebook.with_suffix(".xlsx")
            out["sheets"] = _timed(timings, "xlsx", write_workbook, tables_dir, out["xlsx"], tr)
            bar.update(1)
        if printing is not None:
            out["pdf"] = printing.result()
            if "html" not in params.formats:
                html_path.unlink()
            bar.update(1)
    return out


__all__ = ["KERNEL_ENV", "STEPS", "ReportKernelManager", "ReportOutputs", "execute", "notebooks_dir", "prepare",
           "run_report"]
