"""Running a report: check parameters, execute the notebook with papermill, then write
HTML, PDF and Excel beside the executed notebook in ``<output_dir>/<name>/<period>/``.

Kernels talk over Unix sockets (``transport=ipc``, one socket folder per kernel),
so reports running in parallel never race for TCP ports; they run with
``PLOTLY_RENDERER=notebook`` so plotly.js is embedded in the outputs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from tqdm.auto import tqdm
from traitlets import default

from ..errors import ReportError
from ..i18n import Translator
from ..templates import reports_dir
from .._imports import skip_slow_iri_checker
from .context import _service, check_report_name, resolve

skip_slow_iri_checker()  # before papermill imports nbformat; see the function's docstring
from .excel import write_workbook
from .export import to_html, to_pdf
from .parameters import ReportParameters, parse_parameters, period_label

import nbformat  # noqa: E402  (after skip_slow_iri_checker)
import papermill  # noqa: E402
from papermill.exceptions import PapermillExecutionError  # noqa: E402

#: Variables set in every report kernel.
KERNEL_ENV = {"PLOTLY_RENDERER": "notebook", "MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}


def notebooks_dir() -> Path:
    """Where the report notebooks are: VIGILEOS_REPORTS_DIR, else the ones that come with the package."""
    return reports_dir()


class ReportKernelManager(AsyncKernelManager):
    """A kernel manager on Unix sockets with the report environment (see KERNEL_ENV)."""

    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"

    @default("ip")
    def _default_ip(self) -> str:
        # Socket files are <ip>-<port>: a private folder per kernel, never shared by two kernels.
        return os.path.join(tempfile.mkdtemp(prefix="vg-kernel-"), "k")

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(os.path.dirname(self.ip), ignore_errors=True)

    cleanup_resources = _async_cleanup_resources

    async def _async_start_kernel(self, **kw: Any) -> None:
        env = dict(kw.pop("env", None) or os.environ)
        env.update(KERNEL_ENV)
        await super()._async_start_kernel(env=env, **kw)

    start_kernel = _async_start_kernel


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


def prepare(name: str, raw: Mapping[str, Any]) -> tuple[ReportParameters, list[str]]:
    """Check the parameters and resolve the period and equipment against the store
    (before any kernel starts). Returns the parameters and the equipment in scope."""
    check_report_name(name)
    params = parse_parameters(raw)
    params, equipment = resolve(params, _service(params))
    return params, equipment["equipment_id"].tolist()


def _failure(exc: PapermillExecutionError, nb_path: Path, name: str) -> ReportError:
    first = next((line for line in (exc.source or "").splitlines() if line.strip() and not line.startswith("#")), "")
    return ReportError(f"The report {name!r} failed in cell In [{exc.exec_count}] ({first.strip()[:80]!r}): "
                       f"{exc.ename}: {str(exc.evalue).rstrip('.')}. The partial notebook is kept at {nb_path}.")


def execute(name: str, params: ReportParameters, folder: Path, tables_dir: Path | None,
            progress: bool = False) -> Path:
    """Execute ``notebooks/reports/<name>.ipynb`` with ``params`` into ``folder``."""
    source = notebooks_dir() / f"{name}.ipynb"
    if not source.is_file():
        raise ReportError(f"The report notebook {source} does not exist; set VIGILEOS_REPORTS_DIR to the folder "
                          "that holds the report notebooks (`vigileos templates copy DIR` makes editable copies), "
                          "or unset it to use the ones that come with the package.")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.ipynb"
    values = params.to_notebook() | {"tables_dir": str(tables_dir) if tables_dir else None}
    try:
        papermill.execute_notebook(str(source), str(target), parameters=values, kernel_name="python3",
                                   language="python", progress_bar=progress, kernel_manager_class=ReportKernelManager,
                                   cwd=str(Path.cwd()), log_output=False)
    except PapermillExecutionError as exc:
        raise _failure(exc, target, name) from exc
    except (RuntimeError, OSError) as exc:
        raise ReportError(f"The report {name!r} could not run its kernel: {exc}. Is ipykernel installed "
                          "(`python -m ipykernel install --sys-prefix`)?") from exc
    return target


def run_report(name: str, raw: Mapping[str, Any] | None = None, output_dir: str | Path = "reports", *,
               subfolder: str | None = None, progress: bool = True) -> ReportOutputs:
    """Run report ``name`` with ``raw`` parameters (as read from a parameter file).

    Writes ``<output_dir>/<name>/<period>[/<subfolder>]/``: ``<name>.ipynb`` always, plus
    ``<name>.html`` / ``.pdf`` / ``.xlsx`` as ``formats`` asks. Raises ValidationError
    for bad parameters (before a kernel starts) and ReportError when a cell or an
    export fails (the partial notebook is kept).
    """
    started = time.perf_counter()
    params, _ = prepare(name, raw or {})
    folder = Path(output_dir) / name / period_label(params)
    folder = folder / subfolder if subfolder else folder
    tables_dir = Path(tempfile.mkdtemp(prefix="vg-tables-"))
    steps = ["execute", *params.formats]
    try:
        with tqdm(total=len(steps), desc=f"{name} {subfolder or ''}".strip(), unit="step", disable=not progress,
                  leave=False) as bar:
            notebook = execute(name, params, folder, tables_dir, progress=False)
            bar.update(1)
            outputs = _export(name, params, notebook, tables_dir, bar)
    finally:
        shutil.rmtree(tables_dir, ignore_errors=True)
    files = tuple(p for p in (notebook, outputs.get("html"), outputs.get("pdf"), outputs.get("xlsx")) if p)
    return ReportOutputs(folder=folder, notebook=notebook, html=outputs.get("html"), pdf=outputs.get("pdf"),
                         xlsx=outputs.get("xlsx"), sheets=tuple(outputs.get("sheets", ())),
                         seconds=time.perf_counter() - started, files=files)


def _export(name: str, params: ReportParameters, notebook: Path, tables_dir: Path, bar: tqdm) -> dict[str, Any]:
    tr = Translator(params.language)
    nb = nbformat.read(notebook, as_version=4)
    out: dict[str, Any] = {}
    html_path = notebook.with_suffix(".html")
    if "html" in params.formats or "pdf" in params.formats:
        to_html(nb, html_path, tr.t(f"{name}.title"))
        if "html" in params.formats:
            out["html"] = html_path
            bar.update(1)
    if "pdf" in params.formats:
        out["pdf"] = to_pdf(html_path, notebook.with_suffix(".pdf"))
        if "html" not in params.formats:
            html_path.unlink()
        bar.update(1)
    if "xlsx" in params.formats:
        out["xlsx"] = notebook.with_suffix(".xlsx")
        out["sheets"] = write_workbook(tables_dir, out["xlsx"], tr)
        bar.update(1)
    return out


__all__ = ["KERNEL_ENV", "ReportKernelManager", "ReportOutputs", "execute", "notebooks_dir", "prepare", "run_report"]
