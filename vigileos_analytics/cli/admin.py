"""Looking after the installation: ``check`` and ``config``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from .common import (
    EXIT_STORE,
    AppContext,
    console,
    emit_json,
    emit_table,
    error_console,
    handle_errors,
    json_option,
    pass_app,
    say,
    styled,
)

if TYPE_CHECKING:
    from ..check.connectivity import CheckReport
    from ..check.facts import StoreFacts


@click.command("check")
@click.option("--no-round-trip", "round_trip", is_flag=True, flag_value=False, default=True,
              help="Only reach the store and read its facts; write nothing.")
@click.option("--verbose", "-v", is_flag=True,
              help="Also show what the store holds: size, series, and per equipment the oldest and newest point, "
                   "points and write lag; and what waits in the outage spool.")
@json_option
@pass_app
@handle_errors
def check(app: AppContext, round_trip: bool, verbose: bool, as_json: bool) -> None:
    """Check the store (the seed's test_connection): reachable, server version, a
    write / read / delete round trip of a probe point, latency per step.

    With --verbose, once the check passed, also what the store holds: its size and
    series, per equipment the oldest and newest point, the points and the write lag
    (how long before now its newest point is), and what waits in an InfluxDB store's
    outage spool; under "facts" with --json.

    Exit code 5, with one line saying what to do, when the store cannot be reached,
    refuses the credentials, lacks the database, bucket or organisation, or loses
    the probe."""
    # imported here, not at the top: `vigileos --help` must not pay for pandas and the stores
    from ..check.connectivity import check_url
    from ..check.facts import gather_facts_at

    report = check_url(app.store_url, app.settings, round_trip=round_trip)
    facts = gather_facts_at(app.store_url, app.settings) if verbose and report.ok else None
    if as_json:
        emit_json({**report.to_dict(), **({"facts": facts.to_dict()} if facts is not None else {})})
    else:
        _print_report(report)
        if facts is not None:
            _print_facts(facts)
    if not report.ok:
        if not as_json:
            error_console.print(styled(("Error:", "bold red"), f" {report.message}"), highlight=False, soft_wrap=True)
        raise SystemExit(EXIT_STORE)


def _print_report(report: CheckReport) -> None:
    mark = ("OK", "green") if report.ok else ("FAILED", "red")
    version = f", version {report.version}" if report.version else ""
    console.print(styled(mark, f" {report.backend} store at {report.location}{version}; "
                               f"{report.latency_ms:.0f} ms in all."), highlight=False, soft_wrap=True)
    colours = {"ok": "green", "warning": "yellow", "failed": "red"}
    for step in report.steps:
        console.print(styled(f"  {step.name:<7} ", (f"{step.status:<7}", colours[step.status]),
                             f" {step.latency_ms:>8.1f} ms  {step.message}"), highlight=False, soft_wrap=True)
    for key, value in report.details.items():
        console.print(f"  {key}: {value:,}" if isinstance(value, int) else f"  {key}: {value}", highlight=False)


def _bytes_text(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit} ({size:,} bytes)"
    return f"{size:,} bytes"


def _lag_text(seconds: float) -> str:
    from ..i18n import format_duration

    return format_duration(seconds) if seconds >= 0 else f"{format_duration(-seconds)} ahead"


def _print_facts(facts: StoreFacts) -> None:
    import pandas as pd

    size = facts.size_note if facts.size_bytes is None else f"{_bytes_text(facts.size_bytes)}, {facts.size_note}"
    series = "unknown" if facts.series is None else f"{facts.series:,}"
    console.print(say("cli.check.size", size=size), highlight=False, soft_wrap=True)
    console.print(say("cli.check.facts", series=series, points=facts.points, equipment=len(facts.equipment)),
                  highlight=False)
    if facts.rollups is not None:
        horizon = ("not in force yet" if facts.rollup_horizon is None
                   else f"raw points from {facts.rollup_horizon:%Y-%m-%d %H:%M} UTC on, older time from rollups")
        console.print(f"Rollups: {facts.rollups} ({horizon}).", highlight=False)
    if facts.spool is not None:
        console.print(f"Spool: {facts.spool.points:,} points ({facts.spool.records:,} requests, "
                      f"{_bytes_text(facts.spool.bytes)}) wait in {facts.spool.directory}.",
                      highlight=False, soft_wrap=True)
    rows = facts.equipment
    emit_table(pd.DataFrame({"equipment": rows["equipment_id"], "oldest point": rows["first"],
                             "newest point": rows["last"], "points": rows["points"],
                             "write lag": rows["lag_s"].map(_lag_text)}),
               title=say("cli.check.per_equipment", time=facts.now))


@click.command("config")
@json_option
@pass_app
@handle_errors
def config(app: AppContext, as_json: bool) -> None:
    """Show the settings in force (secrets masked) and where each comes from."""
    from ..config import SETTINGS

    values = app.settings.public_items()
    rows = [{"setting": s.env, "value": values[s.name], "meaning": s.help} for s in SETTINGS]
    if as_json:
        emit_json(rows)
    else:
        emit_table(rows, title="Settings (environment or .env)")
