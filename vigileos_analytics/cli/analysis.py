"""Answers: ``availability``, ``stats`` and ``summary``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import click

from ..timeparse import parse_time_text
from .common import (
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


def _when(moment: datetime, *, day: bool | None = None) -> str:
    """A UTC date, with hours and minutes unless ``day`` (None: unless midnight)."""
    if day is None:
        day = (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0)
    return f"{moment:%Y-%m-%d}" if day else f"{moment:%Y-%m-%d %H:%M}"


def explain_empty(app: AppContext, equipment_ids: Sequence[str], metric_types: Sequence[str], start: datetime,
                  end: datetime, *, to_stderr: bool = False) -> None:
    """Say in one line that [start, end) holds no points for the selection, and which
    period the store does hold for it (through ``analytics.span.stored_period``)."""
    from ..analytics.span import stored_period
    from .common import error_console

    ids = list(equipment_ids) or None
    period = stored_period(app.store, ids, list(metric_types) or None)
    key = "cli.empty.period"
    if period is None and metric_types:
        period = stored_period(app.store, ids)
        key = "cli.empty.other_metrics"
    who = ", ".join(equipment_ids) if equipment_ids else say("cli.empty.fleet")
    selection = f"{who} ({', '.join(metric_types)})" if metric_types else who
    fields = {"selection": selection, "start": _when(start), "end": _when(end), "count": len(equipment_ids) or 1}
    if period is None:
        text = say("cli.empty.never", **fields)
    else:
        day = period[1] - period[0] >= timedelta(days=2)
        text = say(key, first=_when(period[0], day=day), last=_when(period[1], day=day), **fields)
    (error_console if to_stderr else console).print(text, highlight=False, soft_wrap=True)


@click.command("availability")
@click.argument("equipment_ids", nargs=-1)
@period_options("now-30d")
@click.option("--daily", is_flag=True, help="One row per equipment per day (UTC days).")
@click.option("--exclude-maintenance", is_flag=True, help="Leave planned maintenance out of the figures.")
@json_option
@pass_app
@handle_errors
def availability(app: AppContext, equipment_ids: tuple[str, ...], start: datetime, end: datetime, daily: bool,
                 exclude_maintenance: bool, as_json: bool) -> None:
    """Time-weighted availability, downtime, outages, MTBF, MTTR and coverage
    (all equipment unless EQUIPMENT_IDS are given)."""
    import pandas as pd  # here, not at the top: `vigileos --help` must not pay for pandas

    table = app.analytics().fleet_availability(start, end, list(equipment_ids) or None, freq="1D" if daily else None,
                                               exclude_maintenance=exclude_maintenance)
    if table.empty or (table["samples"].sum() == 0 and (table["coverage_pct"].fillna(0) == 0).all()):
        if as_json:
            emit_json([])
        explain_empty(app, equipment_ids, ("availability",), start, end, to_stderr=as_json)
        return
    if as_json:
        emit_json(table)
        return
    shown = pd.DataFrame({
        "equipment": table["equipment_id"],
        **({"day": table["window_start"].dt.strftime("%Y-%m-%d")} if daily else {}),
        "avail %": table["availability_pct"],
        "down h": table["downtime_s"] / 3600,
        "outages": table["outages"],
        "MTBF h": table["mtbf_s"] / 3600,
        "MTTR h": table["mttr_s"] / 3600,
        "cover %": table["coverage_pct"],
    })
    emit_table(shown, title=say("cli.availability.title", start=start, end=end))


@click.command("stats")
@click.argument("equipment_ids", nargs=-1)
@period_options("now-24h")
@click.option("--metric", "metric_types", multiple=True, help="Metric types (default: cpu, memory, response time).")
@json_option
@pass_app
@handle_errors
def stats(app: AppContext, equipment_ids: tuple[str, ...], start: datetime, end: datetime,
          metric_types: tuple[str, ...], as_json: bool) -> None:
    """Performance statistics (mean, p95, max) per equipment and metric."""
    from ..schema import PERFORMANCE_METRICS

    metric_types = metric_types or PERFORMANCE_METRICS
    table = app.analytics().get_performance_stats(start, end, list(equipment_ids) or None, metric_types=metric_types)
    if as_json:
        emit_json(table)
    if table.empty:
        explain_empty(app, equipment_ids, metric_types, start, end, to_stderr=as_json)
    elif not as_json:
        emit_table(table, title=say("cli.stats.title"))


@click.command("summary")
@click.option("--at", "now", default="now", show_default=True, help="The instant the summary describes.")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True,
              help="Equipment rows shown in the table (--json has them all).")
@json_option
@pass_app
@handle_errors
def summary(app: AppContext, now: str, limit: int, as_json: bool) -> None:
    """Fleet summary: counts by status, 24 h availability, last metric time."""
    import pandas as pd

    payload = app.analytics().fleet_summary(now=parse_time_text(now, field="at"))
    if as_json:
        emit_json(payload)
        return
    s = payload["summary"]
    average = "–" if s["average_availability"] is None else f"{s['average_availability']:.2f} %"
    console.print(say("cli.summary.line", count=s["total_equipment"], operational=s["operational"],
                      maintenance=s["maintenance"], offline=s["offline"], average=average))
    rows = pd.DataFrame([{
        "equipment": r["equipment_id"], "name": r["name"], "status": r["status"],
        "avail 24h %": r["availability_24h"],
        "last metric (UTC)": (r["last_metric_time"] or "")[:16].replace("T", " "),
        "cpu %": r["performance"]["cpu_usage"], "mem %": r["performance"]["memory_usage"],
        "resp ms": r["performance"]["response_time"],
    } for r in payload["equipment"]])
    if not rows.empty:
        emit_table(rows, title=say("cli.summary.title"), limit=limit)
