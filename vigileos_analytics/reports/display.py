"""Showing a report in a notebook: title block, KPI cards, formatted tables and charts.

Tables are shown with translated headers and numbers formatted for the report's
language; the same table is saved (raw numbers) to the context's ``tables_dir``
when the runner set one, and becomes a sheet of the Excel workbook.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import pandas as pd
from IPython.display import HTML, display

from ..i18n import Translator
from .context import ReportContext
from .tables import ReportTable

STYLE = """
<style>
.vg-report {font-family: "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2933;}
.vg-report h1 {font-size: 1.7em; margin: 0 0 .2em 0; color: #0b3d91;}
.vg-report h2 {font-size: 1.25em; margin: 1.2em 0 .3em 0; color: #0b3d91; border-bottom: 2px solid #dbe4f0;}
.vg-report .vg-meta {color: #52606d; font-size: .92em;}
.vg-kpis {display: flex; flex-wrap: wrap; gap: 10px; margin: .6em 0;}
.vg-kpi {border: 1px solid #dbe4f0; border-radius: 6px; padding: 6px 12px; min-width: 110px; background: #f7f9fc;}
.vg-kpi .v {font-size: 1.45em; font-weight: 600; color: #0b3d91;}
.vg-kpi .l {font-size: .82em; color: #52606d;}
.vg-kpi.bad .v {color: #b42318;}
table.vg-table {border-collapse: collapse; font-size: .84em; margin: .3em 0 1em 0;}
table.vg-table td, table.vg-table th {white-space: nowrap;}
table.vg-table th {background: #0b3d91; color: white; padding: 4px 8px; vertical-align: bottom;}
table.vg-table td {padding: 3px 8px; border-bottom: 1px solid #e4e7eb;}
.jp-RenderedHTMLCommon table.vg-table th, .jp-RenderedHTMLCommon table.vg-table td {text-align: left;}
.jp-RenderedHTMLCommon table.vg-table th.num, .jp-RenderedHTMLCommon table.vg-table td.num {text-align: right;}
table.vg-table td.num {font-variant-numeric: tabular-nums;}
table.vg-table tr:nth-child(even) td {background: #f7f9fc;}
table.vg-table td.bad {color: #b42318; font-weight: 600;}
.vg-note {color: #52606d; font-size: .85em; font-style: italic;}
/* The printed page: A4 with 12 mm margins leaves 703 CSS px of width, the window
   width export.py prints with, so plotly draws every chart at the printed width. */
@media print, screen and (max-width: 703px) {
  body.jp-Notebook {margin: 0; padding: 0;}
  body.jp-Notebook .jp-Cell {padding: 0;}
  body.jp-Notebook .jp-OutputArea-output {margin: 0; padding: 0;}
}
@media print {
  @page {size: A4; margin: 12mm;}
  body {-webkit-print-color-adjust: exact; print-color-adjust: exact;}
  .jp-OutputArea-child, .jp-OutputArea-output {display: block;}
  .jp-Cell, .jp-OutputArea-child {break-inside: auto;}
  .jp-OutputArea-child:has(.vg-report h2) {break-after: avoid;}
  .vg-report, .vg-kpis, .js-plotly-plot, table.vg-table tr {break-inside: avoid;}
  .vg-report h2 {break-after: avoid;}
  table.vg-table tbody tr:nth-child(-n+2), table.vg-table tbody tr:last-child,
  table.vg-table + .vg-note {break-before: avoid;}
  .vg-kpis {gap: 6px;}
  .vg-kpi {padding: 4px 10px; min-width: 90px;}
  .vg-kpi .v {font-size: 1.2em;}
  table.vg-table {font-size: 10px; max-width: 100%;}
  table.vg-table th {white-space: normal; padding: 3px 4px; font-size: 9px;}
  table.vg-table th.num {width: 48px;}  /* a number column as wide as its values (48 px at least): the heading wraps */
  table.vg-table td {padding: 2px 4px;}
  table.vg-table td:not(.num) {white-space: normal;}
  .modebar-container, .modebar {display: none !important;}
}
</style>
"""

_NUMERIC_KINDS = {"int", "number", "pct", "duration", "signed", "signed_pct"}


def format_value(value: Any, kind: str, tr: Translator) -> str:
    """One cell as text in the translator's language (see ReportTable.kinds)."""
    if kind == "pct":
        return tr.percent(value)
    if kind == "duration":
        return tr.duration(value)
    if kind == "int":
        return tr.number(value, 0)
    if kind == "number":
        return tr.number(value, 1)
    if kind in ("signed", "signed_pct"):
        text = tr.percent(value) if kind == "signed_pct" else tr.number(value, 2)
        return f"+{text}" if isinstance(value, (int, float)) and value > 0 else text
    if kind == "datetime":
        return tr.datetime(value)
    if kind == "date":
        return tr.date(value)
    if kind == "status":
        return tr.label("status", value)
    if kind == "metric":
        return tr.label("metrics", value)
    return "–" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def header(tr: Translator, column: str) -> str:
    return tr.label("columns", column)


def table_html(table: ReportTable, tr: Translator, limit: int | None = None,
               bad: dict[str, Any] | None = None, columns: Sequence[str] | None = None) -> str:
    """An HTML table with translated headers and formatted cells (only ``columns`` when
    given). ``bad`` maps a column to a predicate on the raw value: matching cells are
    shown in red."""
    frame = table.frame if limit is None else table.frame.head(limit)
    frame = frame if columns is None else frame[list(columns)]
    heads = "".join(f"<th class=\"{'num' if table.kinds.get(c, 'text') in _NUMERIC_KINDS else ''}\">"
                    f"{html.escape(header(tr, c))}</th>" for c in frame.columns)
    rows = []
    for record in frame.itertuples(index=False, name=None):
        cells = []
        for column, value in zip(frame.columns, record, strict=True):
            kind = table.kinds.get(column, "text")
            classes = ["num"] if kind in _NUMERIC_KINDS else []
            if bad and column in bad and not pd.isna(value) and bad[column](value):
                classes.append("bad")
            cells.append(f"<td class=\"{' '.join(classes)}\">{html.escape(format_value(value, kind, tr))}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    if not rows:
        return f"<p class=\"vg-note\">{html.escape(tr.t('common.no_rows'))}</p>"
    more = (f"<p class=\"vg-note\">{html.escape(tr.t('common.more_rows', count=len(table.frame) - limit))}</p>"
            if limit is not None and len(table.frame) > limit else "")
    return f"<table class=\"vg-table\"><thead><tr>{heads}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"


def save_table(ctx: ReportContext, table: ReportTable) -> None:
    """Keep ``table`` (raw values) for the workbook when the runner asked for it."""
    if ctx.tables_dir is None or table.key in ctx.saved_tables:
        return
    ctx.tables_dir.mkdir(parents=True, exist_ok=True)
    number = len(ctx.saved_tables) + 1
    table.frame.to_pickle(ctx.tables_dir / f"{number:02d}_{table.key}.pkl")
    pd.Series(table.kinds).to_json(ctx.tables_dir / f"{number:02d}_{table.key}.kinds.json")
    ctx.saved_tables.append(table.key)


def show_title(ctx: ReportContext, subject: str | None = None) -> None:
    """Style, report title, period, scope and language-independent facts."""
    tr = ctx.tr
    period = tr.month(ctx.start) if ctx.params.month else tr.t(
        "common.period_range", start=tr.date(ctx.start), end=tr.date(ctx.end - pd.Timedelta(seconds=1)))
    if subject is None and len(ctx.ids) == 1:
        row = ctx.equipment.iloc[0]
        subject = f"{row['name']} ({row['equipment_id']})" + (f" — {row['location']}" if row["location"] else "")
    scope = subject or tr.t("common.scope", count=len(ctx.ids))
    if ctx.params.site:
        scope += f" — {tr.t('common.site')} {ctx.params.site}"
    body = (f"<div class=\"vg-report\"><h1>{html.escape(tr.t(f'{ctx.name}.title'))}</h1>"
            f"<div class=\"vg-meta\">{html.escape(period)} · {html.escape(scope)} · "
            f"{html.escape(tr.t('common.times_utc'))}</div>"
            f"<p>{html.escape(tr.t(f'{ctx.name}.intro'))}</p></div>")
    display(HTML(STYLE + body))


def show_heading(ctx: ReportContext, key: str, **fmt: Any) -> None:
    """A section title from the catalogue (``sections.<key>``) and its note if any."""
    note_key = f"sections.{key}_note"
    note = f"<p class=\"vg-note\">{html.escape(ctx.tr.t(note_key, **fmt))}</p>" if ctx.tr.has(note_key) else ""
    display(HTML(f"<div class=\"vg-report\"><h2>{html.escape(ctx.tr.t(f'sections.{key}', **fmt))}</h2>{note}</div>"))


def show_kpis(ctx: ReportContext, kpis: dict[str, Any]) -> None:
    """KPI cards: availability and coverage in %, durations in seconds, counts."""
    kinds = {"availability_pct": "pct", "coverage_pct": "pct", "downtime_s": "duration", "mtbf_s": "duration",
             "mttr_s": "duration", "outages": "int", "equipment": "int", "below_target": "int"}
    target = ctx.params.thresholds.get("availability")
    cards = []
    for key, value in kpis.items():
        low = key == "availability_pct" and value is not None and target is not None and value < target
        cls = "vg-kpi bad" if low or (key == "below_target" and value) else "vg-kpi"
        shown = html.escape(format_value(value, kinds.get(key, "number"), ctx.tr))
        cards.append(f"<div class=\"{cls}\"><div class=\"v\">{shown}"
                     f"</div><div class=\"l\">{html.escape(ctx.tr.t(f'kpis.{key}', count=value))}</div></div>")
    display(HTML(f"<div class=\"vg-kpis\">{''.join(cards)}</div>"))


def show_table(ctx: ReportContext, table: ReportTable, limit: int | None = None, save: bool = True,
               columns: Sequence[str] | None = None) -> None:
    """Show ``table`` formatted (first ``limit`` rows, only ``columns`` when given) and save
    it whole for the workbook."""
    target = ctx.params.thresholds.get("availability", 0.0)
    bad = {"availability_pct": lambda v: v < target, "change_pct_7d": lambda v: False}
    display(HTML(table_html(table, ctx.tr, limit, bad, columns)))
    if save:
        save_table(ctx, table)


def show_figure(figure: Any) -> None:
    """Display a plotly figure (the kernel's PLOTLY_RENDERER decides how it is embedded)."""
    display(figure)
