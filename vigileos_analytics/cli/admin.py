"""Looking after the installation: ``check`` and ``config``."""

from __future__ import annotations

import time

import click

from ..config import SETTINGS
from .common import EXIT_STORE, AppContext, console, emit_json, emit_table, handle_errors, json_option, pass_app


@click.command("check")
@json_option
@pass_app
@handle_errors
def check(app: AppContext, as_json: bool) -> None:
    """Check that the store answers (the seed's test_connection): backend, version,
    size, latency. Exit code 5 when it does not."""
    started = time.perf_counter()
    health = app.store.health()
    latency_ms = (time.perf_counter() - started) * 1000
    data = {"ok": health.ok, "backend": health.backend, "location": health.location, "version": health.version,
            "message": health.message, "latency_ms": round(latency_ms, 1), **health.details}
    if as_json:
        emit_json(data)
    else:
        mark = "[green]OK[/]" if health.ok else "[red]FAILED[/]"
        console.print(f"{mark} {health.backend} store at {health.location} (version {health.version}), "
                      f"answered in {latency_ms:.0f} ms. {health.message}")
        for key, value in health.details.items():
            console.print(f"  {key}: {value:,}" if isinstance(value, int) else f"  {key}: {value}")
    if not health.ok:
        raise SystemExit(EXIT_STORE)


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
