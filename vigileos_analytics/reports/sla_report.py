"""What the ``sla_report`` notebook shows: each SLA of the definition file over the report
period, from :mod:`vigileos_analytics.analytics.sla_timeline` (figures, budget timeline,
annotated outages), as tables for the page and the workbook, KPI cards, and the
definitions and formula written out.

The period: with ``month`` each SLA's calendar month in its own time zone (as
``vigileos sla status --period month``); with ``start`` / ``end`` or ``days``, that
span. Percentages show three decimals: an SLA's target is often 99.9 %.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from IPython.display import HTML, display

from ..analytics.sla import BURN_WINDOWS, DegradedRule
from ..analytics.sla_calendar import RecurringWindow, ServiceCalendar
from ..analytics.sla_definitions import SlaDefinition
from ..analytics.sla_status import sla_period
from ..analytics.sla_timeline import SlaReportEntry, annotated_outages, pick_definitions, sla_report_entries
from ..i18n import Translator
from .context import ReportContext
from .display import header, save_table
from .tables import ReportTable

__all__ = [
    "KPI_BURN_WINDOWS",
    "budget_table",
    "outages_table",
    "show_sla_definitions",
    "show_sla_formula",
    "show_sla_heading",
    "show_sla_kpis",
    "show_sla_table",
    "sla_entries",
    "sla_plans",
    "summary_table",
]

#: The burn windows the KPI cards show (the workbook has every window).
KPI_BURN_WINDOWS = ("1h", "24h", "3d")
_PCT_DECIMALS = 3
_NUMERIC_KINDS = {"pct", "duration", "rate", "int"}


def sla_plans(ctx: ReportContext) -> list[tuple[SlaDefinition, datetime, datetime]]:
    """The SLAs the report covers (``sla_names``, else every SLA of the ``slas`` file) with their period."""
    definitions = pick_definitions(ctx.params.slas, ctx.params.sla_names)
    plans = []
    for definition in definitions:
        if ctx.params.month:
            # The middle of the UTC month lies in the same month in every time zone.
            start, end = sla_period("month", ctx.start + timedelta(days=14), definition.rules.calendar.timezone)
        else:
            start, end = ctx.start, ctx.end
        plans.append((definition, start, end))
    return plans


def sla_entries(ctx: ReportContext) -> list[SlaReportEntry]:
    """Every SLA's figures, budget timeline and annotations (computed once per report)."""
    return ctx.cached("sla_entries", lambda: sla_report_entries(ctx.service, sla_plans(ctx)))


def summary_table(entries: list[SlaReportEntry]) -> ReportTable:
    """One row per SLA: target against achieved, the error budget, burn rates, when it ran or runs out."""
    rows = []
    for entry in entries:
        d, f = entry.status.definition, entry.status.figures
        rows.append({
            "sla": d.name, "description": d.description, "scope": d.scope_text,
            "equipment": len(entry.status.equipment_ids),
            "period_start": f.period_start, "period_end": f.period_end, "target_pct": f.target_pct,
            "achieved_pct": f.achieved_pct, "coverage_pct": f.coverage_pct, "sla_state": f.state,
            "service_s": f.service_s, "planned_s": f.planned_s, "up_s": f.up_s, "degraded_s": f.degraded_s,
            "unplanned_s": f.unplanned_s,
            "unknown_s": f.unknown_s, "budget_allowed_s": f.budget_allowed_s, "budget_spent_s": f.budget_spent_s,
            "budget_remaining_s": f.budget_remaining_s, "budget_remaining_pct": f.budget_remaining_pct,
            **{f"burn_{name}": f.burn_rates.get(name) for name, _ in BURN_WINDOWS},
            "budget_exhausted_at": f.budget_exhausted_at, "budget_forecast_at": f.budget_forecast_exhausted_at,
            "outages": f.outages, "annotations": f.annotations,
        })
    kinds = {"sla": "text", "description": "text", "scope": "text", "equipment": "int",
             "period_start": "datetime", "period_end": "datetime", "target_pct": "pct", "achieved_pct": "pct",
             "coverage_pct": "pct", "sla_state": "sla_state", "service_s": "duration", "planned_s": "duration",
             "up_s": "duration", "degraded_s": "duration", "unplanned_s": "duration", "unknown_s": "duration",
             "budget_allowed_s": "duration",
             "budget_spent_s": "duration", "budget_remaining_s": "duration", "budget_remaining_pct": "pct",
             **{f"burn_{name}": "rate" for name, _ in BURN_WINDOWS}, "budget_exhausted_at": "datetime",
             "budget_forecast_at": "datetime", "outages": "int", "annotations": "int"}
    return ReportTable("sla_summary", pd.DataFrame(rows, columns=list(kinds)), kinds)


def budget_table(entries: list[SlaReportEntry]) -> ReportTable:
    """The error budget of every SLA at each step of its period (the chart's points)."""
    kinds = {"sla": "text", "time": "datetime", "budget_allowed_s": "duration", "budget_spent_s": "duration",
             "budget_remaining_s": "duration", "budget_remaining_pct": "pct"}
    frames = [entry.timeline.rename(columns={"allowed_s": "budget_allowed_s", "spent_s": "budget_spent_s",
                                             "remaining_s": "budget_remaining_s",
                                             "remaining_pct": "budget_remaining_pct"})
              .assign(sla=entry.status.definition.name) for entry in entries]
    frame = pd.concat(frames, ignore_index=True)[list(kinds)] if frames else pd.DataFrame(columns=list(kinds))
    return ReportTable("sla_budget", frame, kinds)


def outages_table(entries: list[SlaReportEntry]) -> ReportTable:
    """Every outage of every SLA: its span, its service time counted unplanned / planned /
    outside service, how it was classified, and the annotation (reason, author) covering it."""
    columns = ["sla", "equipment_id", "start", "end", "unplanned_s", "planned_s", "outside_service_s",
               "classification", "annotation", "reason", "author"]
    frames = [annotated_outages(entry.status.figures.outage_list, entry.annotations)
              .assign(sla=entry.status.definition.name) for entry in entries]
    frames = [f for f in frames if len(f)]
    frame = pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
    kinds = {"start": "datetime", "end": "datetime", "unplanned_s": "duration", "planned_s": "duration",
             "outside_service_s": "duration", "classification": "outage_class", "annotation": "outage_class"}
    return ReportTable("sla_outages", frame, kinds)


def _text(value: Any, kind: str, tr: Translator) -> str:
    """A cell as the page shows it: SLA percentages to three decimals, signed budgets."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    if kind == "pct":
        return tr.percent(value, _PCT_DECIMALS)
    if kind == "duration":
        return ("−" if value < 0 else "") + tr.duration(abs(value))
    if kind == "rate":
        return tr.number(value, 2)
    if kind == "sla_state":
        return tr.t(f"sla_report.state.{value.replace(' ', '_')}")
    if kind == "outage_class":
        return "; ".join(tr.t(f"sla_report.class.{v.strip().replace(' ', '_')}") for v in value.split(";") if v)
    if kind == "datetime":
        return tr.datetime(value)
    if kind == "int":
        return tr.number(value, 0)
    return str(value)


def show_sla_heading(ctx: ReportContext, key: str, level: int = 2, **fmt: Any) -> None:
    """A section title of the SLA report (``sla_report.sections.<key>``); level 3 within an SLA."""
    text = html.escape(ctx.tr.t(f"sla_report.sections.{key}", **fmt))
    style = "" if level == 2 else " style=\"font-size: 1.05em; margin: .9em 0 .2em 0; color: #1f2933;\""
    display(HTML(f"<div class=\"vg-report\"><h{level}{style}>{text}</h{level}></div>"))


def show_sla_table(ctx: ReportContext, table: ReportTable, rows: pd.Series | None = None,
                   columns: list[str] | None = None) -> None:
    """Show ``table`` (only ``rows`` / ``columns`` when given) with the SLA formats, and
    save it whole, raw numbers, for the workbook."""
    frame = table.frame if rows is None else table.frame[rows]
    columns = columns or list(frame.columns)
    numeric = {c for c in columns if table.kinds.get(c) in _NUMERIC_KINDS}
    heads = "".join(f"<th class=\"{'num' if c in numeric else ''}\">{html.escape(header(ctx.tr, c))}</th>"
                    for c in columns)
    rows_html = "".join(
        "<tr>" + "".join(f"<td class=\"{'num' if c in numeric else ''}\">"
                         f"{html.escape(_text(v, table.kinds.get(c, 'text'), ctx.tr))}</td>"
                         for c, v in zip(columns, record, strict=True)) + "</tr>"
        for record in frame[columns].itertuples(index=False, name=None))
    body = (f"<table class=\"vg-table\"><thead><tr>{heads}</tr></thead><tbody>{rows_html}</tbody></table>"
            if rows_html else f"<p class=\"vg-note\">{html.escape(ctx.tr.t('common.no_rows'))}</p>")
    display(HTML(body))
    save_table(ctx, table)


def show_sla_kpis(ctx: ReportContext, entry: SlaReportEntry) -> None:
    """Cards: target, achieved, coverage, the budget allowed / spent / left, burn rates and
    when the budget ran out (or, at the last day's rate, runs out)."""
    f, tr = entry.status.figures, ctx.tr
    out = f.budget_exhausted_at or f.budget_forecast_exhausted_at
    cards = [("target", _text(f.target_pct, "pct", tr), False),
             ("achieved", _text(f.achieved_pct, "pct", tr), f.met is False),
             ("coverage", _text(f.coverage_pct, "pct", tr), False),
             ("state", _text(f.state, "sla_state", tr), f.state in ("breached", "at risk")),
             ("allowed", _text(f.budget_allowed_s, "duration", tr), False),
             ("spent", _text(f.budget_spent_s, "duration", tr), False),
             # The degraded time inside spent (counts_as: down) or beside it, so spent can be reconciled.
             *((("degraded_down" if rule.counts_as == "down" else "degraded"), _text(f.degraded_s, "duration", tr),
                False) for rule in (entry.status.definition.rules.degraded,) if rule is not None),
             ("remaining", _text(f.budget_remaining_s, "duration", tr), f.budget_remaining_s < 0),
             *((f"burn_{w}", _text(f.burn_rates.get(w), "rate", tr), (f.burn_rates.get(w) or 0) > 1)
               for w in KPI_BURN_WINDOWS),
             ("ran_out" if f.budget_exhausted_at else "runs_out", _text(out, "datetime", tr), out is not None)]
    body = "".join(f"<div class=\"vg-kpi{' bad' if bad else ''}\"><div class=\"v\">{html.escape(value)}</div>"
                   f"<div class=\"l\">{html.escape(tr.t(f'sla_report.kpi.{key}'))}</div></div>"
                   for key, value, bad in cards)
    display(HTML(f"<div class=\"vg-kpis\">{body}</div>"))


def _days(days: tuple[int, ...], tr: Translator) -> str:
    names = [n.strip() for n in tr.t("sla_report.weekdays").split(",")]
    return ", ".join(names[d] for d in days)


def _clock(moment: timedelta, tr: Translator) -> str:
    """A time of day; an end past midnight (hours "22:00-02:00") as the next day's time."""
    minutes = int(moment.total_seconds() // 60)
    if minutes <= 24 * 60:  # 24:00 is the end of the day itself
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
    minutes -= 24 * 60
    return tr.t("sla_report.definitions.next_day", time=f"{minutes // 60:02d}:{minutes % 60:02d}")


def _calendar_text(calendar: ServiceCalendar, tr: Translator) -> str:
    hours = "; ".join(f"{_days(h.days, tr)} {_clock(h.start, tr)}–{_clock(h.end, tr)}" for h in calendar.hours)
    text = tr.t("sla_report.definitions.calendar_text", name=calendar.name, timezone=calendar.timezone, hours=hours)
    if calendar.holidays:
        text += " " + tr.t("sla_report.definitions.holidays", count=len(calendar.holidays),
                           dates=", ".join(tr.date(day) for day in sorted(calendar.holidays)))
    return text


def _window_text(window: RecurringWindow, tr: Translator) -> str:
    if window.at is not None and window.until is not None:
        start, end = (tr.datetime(pd.Timestamp(ns, tz="UTC")) for ns in (window.at, window.until))
        return tr.t("sla_report.definitions.one_off", name=window.name, start=start, end=end)
    return tr.t("sla_report.definitions.recurring", name=window.name, days=_days(window.days, tr),
                start=_clock(window.start, tr), end=_clock(window.end, tr), timezone=window.timezone)


def _degraded_text(rule: DegradedRule | None, tr: Translator) -> str:
    if rule is None:
        return tr.t("sla_report.definitions.none")
    return tr.t(f"sla_report.definitions.degraded_{rule.counts_as}", function=rule.function,
                metric=tr.label("metrics", rule.metric), every=tr.duration(rule.every.total_seconds()),
                operator=tr.t(f"sla_report.definitions.{rule.operator}"), threshold=_as_written(rule.threshold, tr))


def _as_written(value: float, tr: Translator) -> str:
    """A threshold with the decimals it was written with (0.05 stays 0.05), in the report's language."""
    exponent = Decimal(repr(float(value))).normalize().as_tuple().exponent
    return tr.number(value, min(max(0, -exponent), 12) if isinstance(exponent, int) else 0)


def show_sla_definitions(ctx: ReportContext, entry: SlaReportEntry) -> None:
    """The SLA's definition written out: scope, target, period, calendar, minimum outage, maintenance."""
    d, f, tr = entry.status.definition, entry.status.figures, ctx.tr
    tz = d.rules.calendar.timezone
    local = [pd.Timestamp(t).tz_convert(tz).strftime("%Y-%m-%d %H:%M") for t in (f.period_start, f.period_end)]
    maintenance = [_window_text(w, tr) for w in d.rules.maintenance]
    items = [
        ("scope", tr.t("sla_report.definitions.scope_text", scope=d.scope_text,
                       equipment=tr.t("common.scope", count=len(entry.status.equipment_ids)))),
        ("target", _text(f.target_pct, "pct", tr)),
        ("period", tr.t("sla_report.definitions.period_text", start=local[0], end=local[1], timezone=tz)),
        ("calendar", _calendar_text(d.rules.calendar, tr)),
        ("minimum_outage", tr.duration(d.rules.minimum_outage.total_seconds())
         if d.rules.minimum_outage > timedelta(0) else tr.t("sla_report.definitions.none")),
        ("maintenance", "; ".join(maintenance) if maintenance else tr.t("sla_report.definitions.none")),
        ("degraded", _degraded_text(d.rules.degraded, tr)),
    ]
    rows = "".join(f"<tr><th>{html.escape(tr.t(f'sla_report.definitions.{key}'))}</th>"
                   f"<td>{html.escape(text)}</td></tr>" for key, text in items)
    display(HTML(f"<table class=\"vg-table vg-definitions\"><tbody>{rows}</tbody></table>"))


def show_sla_formula(ctx: ReportContext) -> None:
    """How every figure of the report is counted, in the report's language."""
    tr = ctx.tr
    lines = "".join(f"<li>{html.escape(tr.t(f'sla_report.formula.{key}'))}</li>"
                    for key in ("classes", "achieved", "coverage", "budget", "burn", "run_out", "outage",
                                "group"))
    display(HTML(f"<div class=\"vg-report\"><ul class=\"vg-formula\">{lines}</ul></div>"))
