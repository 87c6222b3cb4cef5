"""``vigileos report``: run a report notebook (or a batch of them) and say where the files are."""

from __future__ import annotations

from pathlib import Path

import click

from ..reports import BATCH_MODES, REPORTS
from .common import AppContext, console, handle_errors, pass_app, say


@click.command("report")
@click.argument("name", type=click.Choice(REPORTS))
@click.option("--param-file", "-f", "param_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="YAML parameter file (see parameters/*.yaml).")
@click.option("--param", "-p", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Set or override a parameter, e.g. -p month=2024-01 -p language=fr -p thresholds.cpu_usage=90.")
@click.option("--output-dir", "-o", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="Where reports land: <output-dir>/<name>/<period>/.")
@click.option("--batch", type=click.Choice(BATCH_MODES), default=None,
              help="One report per equipment or per site of the selection.")
@click.option("--workers", type=click.IntRange(1, 8), default=2, show_default=True,
              help="Reports run at the same time in batch mode.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@pass_app
@handle_errors
def report(app: AppContext, name: str, param_file: Path | None, overrides: tuple[str, ...], output_dir: Path,
           batch: str | None, workers: int, quiet: bool) -> None:
    """Run report NAME into HTML, PDF and Excel beside the executed notebook.

    The store is --store / VIGILEOS_STORE_URL unless the parameters name one.
    Exit codes: 3 bad parameter, 6 the report failed (the partial notebook is kept).
    """
    # imported here, not at the top: papermill, nbconvert and pandas cost seconds at startup
    from ..reports import apply_overrides, read_parameter_file, run_batch, run_report

    raw = apply_overrides(read_parameter_file(param_file) if param_file else {}, overrides)
    raw.setdefault("store_url", app.store_url)
    if batch:
        outcome = run_batch(name, raw, batch, output_dir, workers=workers, progress=not quiet)
        console.print(say("cli.report.batch", count=len(outcome.reports), name=name, batch=batch,
                          folder=outcome.folder))
        for item in outcome.reports:
            console.print(f"  {item.folder}")
        return
    outcome = run_report(name, raw, output_dir, progress=not quiet)
    console.print(say("cli.report.written", name=name, seconds=outcome.seconds, folder=outcome.folder))
    for path in outcome.files:
        console.print(f"  {path}")
