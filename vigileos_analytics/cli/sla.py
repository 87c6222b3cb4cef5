"""SLAs: ``sla status``, ``sla annotate`` and ``sla annotations``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import click

from .common import TIME, AppContext, console, emit_json, emit_table, handle_errors, json_option, pass_app, say

if TYPE_CHECKING:
    from ..analytics.sla import DegradedRule

_PERIOD_HELP = "day, week, month, quarter or year in each SLA's time zone, or a rolling length such as 30d."
_CLASSES = ("planned", "unplanned", "excluded")


@click.group("sla")
def sla() -> None:
    """SLA status, error budgets and burn rates (definitions: VIGILEOS_SLAS or --slas), and
    annotations that reclassify an equipment's time after the fact."""


@sla.command("status")
@click.argument("names", nargs=-1)
@click.option("--period", default="month", show_default=True, help=_PERIOD_HELP)
@click.option("--at", "at", type=TIME, default=None, help="An instant inside the period (default: now).")
@click.option("--slas", "slas_path", type=click.Path(dir_okay=False), default=None,
              help="SLA definition file (default: VIGILEOS_SLAS, else the example that comes with the package).")
@json_option
@pass_app
@handle_errors
def status(app: AppContext, names: tuple[str, ...], period: str, at: datetime | None, slas_path: str | None,
           as_json: bool) -> None:
    """Target, achieved, error budget left, burn rates and whether each SLA is at risk
    (all SLAs unless NAMES are given); degraded time when an SLA has a degraded rule
    ("(down)" when it spends the budget). --json adds coverage, planned / up / degraded /
    unplanned / unknown seconds, the degraded rule, every burn window and the forecast date."""
    from ..analytics.sla_definitions import load_slas
    from ..analytics.sla_status import sla_status
    from ..errors import ValidationError

    definitions = load_slas(slas_path)
    if names:
        known = {d.name for d in definitions}
        missing = [n for n in names if n not in known]
        if missing:
            raise ValidationError(f"No SLA named {missing[0]!r}; defined: {', '.join(sorted(known))}.", field="names",
                                  value=missing[0])
        definitions = [d for d in definitions if d.name in names]
    results = sla_status(app.analytics(), definitions, period=period, at=at)
    if as_json:
        emit_json([r.to_dict() for r in results])
        return

    def pct(value: float | None) -> str:
        return "–" if value is None else f"{value:.3f}"

    rows = []
    any_degraded = any(r.definition.rules.degraded is not None for r in results)
    for r in results:
        f = r.figures
        row = {
            "SLA": r.definition.name, "eq": len(r.equipment_ids), "target %": f"{f.target_pct:g}",
            "achieved %": pct(f.achieved_pct), "budget left": _signed_duration(f.budget_remaining_s),
            "burn 1h · 24h": f"{_rate(f.burn_rates['1h'])} · {_rate(f.burn_rates['24h'])}", "outages": f.outages,
        }
        if any_degraded:
            row["degraded"] = _degraded(r.definition.rules.degraded, f.degraded_s)
        rows.append({**row, "notes": f.annotations, "status": say(f"cli.sla.state.{f.state.replace(' ', '_')}")})
    first = results[0].figures if results else None
    title = say("cli.sla.title", period=period) if first is None else say(
        "cli.sla.title_period", period=period, start=f"{first.period_start:%Y-%m-%d %H:%M}",
        end=f"{first.period_end:%Y-%m-%d %H:%M}")
    emit_table(rows, title=title)
    for r in results:
        forecast = r.figures.budget_exhausted_at or r.figures.budget_forecast_exhausted_at
        if (r.figures.at_risk or r.figures.breached) and forecast is not None:
            key = "cli.sla.exhausted" if r.figures.budget_exhausted_at else "cli.sla.forecast"
            console.print(say(key, name=r.definition.name, at=f"{forecast:%Y-%m-%d %H:%M} UTC"), highlight=False,
                          markup=False, soft_wrap=True)
        elif r.figures.state == "no data":
            key = "cli.sla.no_equipment" if not r.equipment_ids else "cli.sla.no_samples"
            console.print(say(key, name=r.definition.name, scope=r.definition.scope_text, count=len(r.equipment_ids)),
                          highlight=False, markup=False, soft_wrap=True)


def _degraded(rule: DegradedRule | None, seconds: float) -> str:
    if rule is None:
        return "–"
    return _signed_duration(seconds) + (" (down)" if rule.spends_budget else "")


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def _signed_duration(seconds: float) -> str:
    from ..i18n import format_duration

    return ("-" if seconds < 0 else "") + format_duration(abs(seconds))


@sla.command("annotate")
@click.argument("equipment_id")
@click.option("--start", "start", type=TIME, required=True, help="Start of the time to reclassify (no offset: UTC).")
@click.option("--end", "end", type=TIME, required=True, help="End of the time to reclassify (exclusive).")
@click.option("--as", "classification", type=click.Choice(_CLASSES), required=True,
              help="planned (leaves the error budget alone), unplanned (counts even in a maintenance window) or "
                   "excluded (not service time at all).")
@click.option("--reason", required=True, help="Why: a ticket, a change request, who asked.")
@click.option("--author", default="", help="Who annotates (kept in the audit trail).")
@pass_app
@handle_errors
def annotate_command(app: AppContext, equipment_id: str, start: datetime, end: datetime, classification: str,
                     reason: str, author: str) -> None:
    """Reclassify EQUIPMENT_ID's time from --start to --end, with a reason; kept in the store
    as an audit trail that every SLA figure and report counts."""
    from ..analytics.sla_annotations import annotate
    from ..inventory import require_known_equipment

    require_known_equipment([equipment_id], app.analytics().equipment()["equipment_id"].tolist())
    note = annotate(app.store, equipment_id, start, end, classification, reason, author)
    console.print(say("cli.sla.annotated", equipment=note.equipment_id, start=f"{note.start:%Y-%m-%d %H:%M}",
                      end=f"{note.end:%Y-%m-%d %H:%M}", classification=note.classification), highlight=False,
                  markup=False, soft_wrap=True)




@sla.command("annotations")
@click.argument("equipment_ids", nargs=-1)
@click.option("--start", "start", type=TIME, default="now-90d", show_default=True, help="From (no offset: UTC).")
@click.option("--end", "end", type=TIME, default="now", show_default=True, help="To (exclusive).")
@json_option
@pass_app
@handle_errors
def list_annotations(app: AppContext, equipment_ids: tuple[str, ...], start: datetime, end: datetime,
                as_json: bool) -> None:
    """Annotations overlapping the period, oldest first (all equipment unless EQUIPMENT_IDS)."""
    import pandas as pd

    from ..analytics.sla_annotations import read_annotations
    from ..inventory import require_known_equipment

    if equipment_ids:
        require_known_equipment(list(equipment_ids), app.analytics().equipment()["equipment_id"].tolist())
    frame = read_annotations(app.store, list(equipment_ids) or None, start, end)
    shown = pd.DataFrame({
        "equipment": frame["equipment_id"], "start (UTC)": pd.to_datetime(frame["start"], utc=True),
        "end (UTC)": pd.to_datetime(frame["end"], utc=True), "as": frame["classification"],
        "reason": frame["reason"], "author": frame["author"],
    })
    if as_json:
        emit_json(shown.rename(columns={"equipment": "equipment_id", "start (UTC)": "start", "end (UTC)": "end",
                                        "as": "classification"}))
        return
    emit_table(shown, title=say("cli.sla.annotations_title"))
