"""``vigileos alerts check``, ``replay`` and ``list``: thin over :mod:`vigileos_analytics.analytics.alerts`."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .common import (
    DURATION,
    EXIT_PARTIAL,
    TIME,
    AppContext,
    console,
    emit_json,
    emit_table,
    error_console,
    handle_errors,
    json_option,
    pass_app,
    period_options,
    say,
)

if TYPE_CHECKING:
    import pandas as pd

    from ..analytics.alerts import SlaSource

_SHOWN = ["time", "equipment_id", "rule", "severity", "state", "value", "message"]
_STATE_SHOWN = ["equipment_id", "rule", "state", "coverage", "message"]


@click.group("alerts")
def alerts() -> None:
    """Threshold, trend, anomaly and SLA burn-rate alerts (rules: VIGILEOS_ALERT_RULES, else the default rules)."""


_RULES_OPTION = click.option("--rules", "rules_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                             show_default="VIGILEOS_ALERT_RULES, else the rules that come with the package",
                             help="Alert rules file (YAML).")
_SLAS_OPTION = click.option("--slas", "slas_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                            show_default="VIGILEOS_SLAS, else the example that comes with the package",
                            help="SLA definition file that burn_rate rules name their SLA in.")
_EQUIPMENT_OPTION = click.option("--equipment", "equipment_ids", multiple=True,
                                 help="Only these equipment (default: all).")


@alerts.command("check")
@_RULES_OPTION
@_SLAS_OPTION
@click.option("--at", "now", type=TIME, default="now", show_default=True,
              help="The instant the rules are evaluated at (text without an offset is UTC).")
@_EQUIPMENT_OPTION
@json_option
@pass_app
@handle_errors
def check(app: AppContext, rules_path: Path | None, slas_path: Path | None, now: datetime,
          equipment_ids: tuple[str, ...], as_json: bool) -> None:
    """Evaluate the rules over the fleet; record new and resolved alerts in the store.

    Exit code 8 when some rules or equipment could not be evaluated (listed; the others were)."""
    from ..analytics.alert_rules import load_rules
    from ..analytics.alerts import LOW_COVERAGE, check_alerts
    from ..templates import alert_rules_path

    rules_path = rules_path or alert_rules_path(app.settings)
    result = check_alerts(app.store, load_rules(rules_path), now, list(equipment_ids) or None,
                          slas=_sla_source(app, slas_path))
    low = result.conditions[result.conditions["state"] == LOW_COVERAGE]
    if as_json:
        emit_json({"now": result.now, "rules": str(rules_path), "raised": _records(result.raised),
                   "ongoing": _records(result.ongoing), "resolved": _records(result.resolved),
                   "no_data": _records(result.no_data[_STATE_SHOWN]), "low_coverage": _records(low[_STATE_SHOWN]),
                   "failures": _records(result.failures)})
    else:
        console.print(say("cli.alerts.rules", path=rules_path), highlight=False, soft_wrap=True)
        console.print(say("cli.alerts.summary", time=result.now, raised=len(result.raised),
                          ongoing=len(result.ongoing), resolved=len(result.resolved)))
        console.print(say("cli.alerts.not_evaluated", no_data=len(result.no_data), low_coverage=len(low),
                          failed=len(result.failures)))
        for key, frame in (("cli.alerts.raised", result.raised), ("cli.alerts.resolved", result.resolved)):
            if not frame.empty:
                emit_table(frame[["equipment_id", "rule", "severity", "value", "message"]], title=say(key))
        if not result.no_data.empty:
            emit_table(result.no_data[["equipment_id", "rule", "message"]], title=say("cli.alerts.no_data"),
                       limit=20)
    _exit_if_failed(result.failures, as_json)


def _sla_source(app: AppContext, slas_path: Path | None) -> SlaSource:
    """Burn-rate rules' SLAs and inventory, read only if such a rule asks."""
    from ..analytics.alerts import SlaSource

    return SlaSource(slas=slas_path, make_service=app.analytics)


def _exit_if_failed(failures: pd.DataFrame, as_json: bool) -> None:
    """Failures are part of the result (table or JSON); exit code 8 says some were."""
    if failures.empty:
        return
    if not as_json:
        emit_table(failures, title=say("cli.alerts.failed"))
    error_console.print(say("cli.alerts.partial", count=len(failures)), highlight=False, soft_wrap=True)
    sys.exit(EXIT_PARTIAL)


@alerts.command("replay")
@click.option("--start", "start", type=TIME, required=True,
              help="First instant evaluated, e.g. 2024-01-01 (text without an offset is UTC).")
@click.option("--end", "end", type=TIME, required=True, help="End of the period (exclusive).")
@click.option("--every", "every", type=DURATION, default="1h", show_default=True,
              help="Time between two evaluated instants.")
@_RULES_OPTION
@_SLAS_OPTION
@_EQUIPMENT_OPTION
@click.option("--dry-run", is_flag=True, help="Show the alert points a replay would write; write nothing.")
@json_option
@pass_app
@handle_errors
def replay(app: AppContext, start: datetime, end: datetime, every: timedelta, rules_path: Path | None,
           slas_path: Path | None, equipment_ids: tuple[str, ...], dry_run: bool, as_json: bool) -> None:
    """Evaluate the rules over history, at every instant from --start to --end, and write the alerts
    a check at each instant would have (one store aggregation per rule for the whole period).

    Exit code 8 when some rules or equipment could not be evaluated (listed; the others were)."""
    from ..analytics.alert_rules import load_rules
    from ..analytics.alerts import replay_alerts
    from ..templates import alert_rules_path

    rules_path = rules_path or alert_rules_path(app.settings)
    result = replay_alerts(app.store, load_rules(rules_path), start, end, every, list(equipment_ids) or None,
                           dry_run=dry_run, slas=_sla_source(app, slas_path))
    raised = int((result.events["state"] == "firing").sum())
    if as_json:
        emit_json({"start": result.start, "end": result.end, "every_s": every.total_seconds(),
                   "rules": str(rules_path), "instants": result.instants, "dry_run": dry_run,
                   "events": _records(result.events), "failures": _records(result.failures)})
    else:
        console.print(say("cli.alerts.rules", path=rules_path), highlight=False, soft_wrap=True)
        console.print(say("cli.alerts.replay_dry" if dry_run else "cli.alerts.replay_done", start=result.start,
                          end=result.end, instants=result.instants, raised=raised,
                          resolved=len(result.events) - raised))
        if not result.events.empty:
            emit_table(result.events[_SHOWN], title=say("cli.alerts.events"), limit=50)
    _exit_if_failed(result.failures, as_json)


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
        emit_json(frame[_SHOWN])  # none: []
        return
    if frame.empty:
        console.print(_none_line(app, start, end, open_only), highlight=False, soft_wrap=True)
        return
    title = say("cli.alerts.open_title", time=end) if open_only else \
        say("cli.alerts.period_title", start=start, end=end)
    emit_table(frame[_SHOWN], title=title, limit=limit)


def _none_line(app: AppContext, start: datetime, end: datetime, open_only: bool) -> str:
    """No alert in the period: one line, naming the period the store holds alerts for."""
    from ..analytics.alerts import ALERT_METRIC
    from ..analytics.span import stored_period

    if open_only:
        return say("cli.alerts.none_open", time=end)
    held = stored_period(app.store, metric_types=(ALERT_METRIC,))
    if held is None:
        return say("cli.alerts.none_at_all", start=start, end=end)
    return say("cli.alerts.none_in_period", start=start, end=end, first=held[0], last=held[1])
