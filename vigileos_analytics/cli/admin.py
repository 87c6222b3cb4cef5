"""Looking after the installation: ``check`` and ``config``."""

from __future__ import annotations

import click

from ..config import SETTINGS
from ..connectivity import CheckReport, check_url
from .common import (EXIT_STORE, AppContext, console, emit_json, emit_table, error_console, handle_errors, json_option,
                     pass_app)


@click.command("check")
@click.option("--no-round-trip", "round_trip", is_flag=True, flag_value=False, default=True,
              help="Only reach the store and read its facts; write nothing.")
@json_option
@pass_app
@handle_errors
def check(app: AppContext, round_trip: bool, as_json: bool) -> None:
    """Check the store (the seed's test_connection): reachable, server version, a
    write / read / delete round trip of a probe point, latency per step.

    Exit code 5, with one line saying what to do, when the store cannot be reached,
    refuses the credentials, lacks the database, bucket or organisation, or loses
    the probe."""
    report = check_url(app.store_url, app.settings, round_trip=round_trip)
    if as_json:
        emit_json(report.to_dict())
    else:
        _print_report(report)
    if not report.ok:
        if not as_json:
            error_console.print(f"[bold red]Error:[/] {report.message}", markup=True, highlight=False,
                                soft_wrap=True)
        raise SystemExit(EXIT_STORE)


def _print_report(report: CheckReport) -> None:
    mark = "[green]OK[/]" if report.ok else "[red]FAILED[/]"
    version = f", version {report.version}" if report.version else ""
    console.print(f"{mark} {report.backend} store at {report.location}{version}; {report.latency_ms:.0f} ms in all.",
                  highlight=False, soft_wrap=True)
    colours = {"ok": "green", "warning": "yellow", "failed": "red"}
    for step in report.steps:
        console.print(f"  {step.name:<7} [{colours[step.status]}]{step.status:<7}[/] {step.latency_ms:>8.1f} ms  "
                      f"{step.message}", highlight=False, soft_wrap=True)
    for key, value in report.details.items():
        console.print(f"  {key}: {value:,}" if isinstance(value, int) else f"  {key}: {value}", highlight=False)


@click.command("config")
@json_option
@pass_app
@handle_errors
def config(app: AppContext, as_json: bool) -> None:
    """Show the settings in force (secrets masked) and where each comes from."""
    import pandas as pd

    values = app.settings.public_items()
    rows = pd.DataFrame([{"setting": s.env, "value": values[s.name], "meaning": s.help} for s in SETTINGS])
    if as_json:
        emit_json(rows)
    else:
        emit_table(rows, title="Settings (environment or .env)")
