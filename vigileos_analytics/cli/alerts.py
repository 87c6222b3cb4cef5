"""``vigileos alerts check`` and ``vigileos alerts list``: thin over :mod:`vigileos_analytics.analytics.alerts`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .common import (
    TIME,
    AppContext,
    console,
    emit_json,
    emit_table,
    handle_errors,
    json_option,
    pass_app,
    period_options,
    say,
)

if TYPE_CHECKING:
    import pandas as pd

_SHOWN = ["time", "equipment_id", "rule", "severity", "state", "value", "message"]


@click.group("alerts")
def alerts() -> None:
    """Trend, threshold and anomaly alerts (rules: VIGILEOS_ALERT_RULES, else the default rules)."""


@alerts.command("check")
@click.option("--rules", "rules_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              show_default="VIGILEOS_ALERT_RULES, else the rules that come with the package",
              help="Alert rules file (YAML).")
@click.option("--at", "now", type=TIME, default="now", show_default=True,
              help="The instant the rules are evaluated at (text without an offset is UTC).")
@click.option("--equipment", "equipment_ids", multiple=True, help="Only these equipment (default: all).")
@json_option
@pass_app
@handle_errors
def check(app: AppContext, rules_path: Path | None, now: datetime, equipment_ids: tuple[str, ...],
          as_json: bool) -> None:
    """Evaluate the rules over the fleet; record new and resolved alerts in the store."""
    from ..analytics.alert_rules import load_rules
    from ..analytics.alerts import check_alerts
    from ..templates import alert_rules_path

    rules_path = rules_path or alert_rules_path(app.settings)
    result = check_alerts(app.store, load_rules(rules_path), now, list(equipment_ids) or None)
    if as_json:
        emit_json({"now": result.now, "rules": str(rules_path), "raised": _records(result.raised),
                   "ongoing": _records(result.ongoing),
                   "resolved": _records(result.resolved)})
        return
    console.print(say("cli.alerts.rules", path=rules_path), highlight=False, soft_wrap=True)
    console.print(say("cli.alerts.summary", time=result.now, raised=len(result.raised), ongoing=len(result.ongoing),
                      resolved=len(result.resolved)))
    for key, frame in (("cli.alerts.raised", result.raised), ("cli.alerts.resolved", result.resolved)):
        if not frame.empty:
            emit_table(frame[["equipment_id", "rule", "severity", "value", "message"]], title=say(key))


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: v for k, v in row.items()} for row in frame.to_dict(orient="records")]


@alerts.command("list")
@period_options("now-7d")
@click.option("--open", "open_only", is_flag=True, help="Only alerts firing now (at --end), whenever they started.")
@click.option("--state", type=click.Choice(["firing", "resolved"]), help="Only events of this state.")
@click.option("--limit", type=int, default=50, show_default=True, help="Rows shown in the table.")
@json_option
@pass_app
@handle_errors
def list_(app: AppContext, start: datetime, end: datetime, open_only: bool, state: str | None, limit: int,
          as_json: bool) -> None:
    """Alert events (raised and resolved) of the period, newest first."""
    from ..analytics.alerts import current_alerts, list_alerts

    frame = current_alerts(app.store, end) if open_only else list_alerts(app.store, start, end, state=state)
    if as_json:
        emit_json(frame[_SHOWN])
        return
    title = say("cli.alerts.open_title", time=end) if open_only else \
        say("cli.alerts.period_title", start=start, end=end)
    emit_table(frame[_SHOWN], title=title, limit=limit)  # no rows: "<title>: none."
