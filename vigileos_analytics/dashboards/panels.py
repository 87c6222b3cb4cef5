"""HTML panels of the dashboards: KPI cards and tables, built from the view models.

Every value that reaches the page goes through ``html.escape``; links to the detail
page carry the equipment id URL-encoded. CSS class names (``vigileos-*``) are
stable: the browser tests select on them.
"""

from __future__ import annotations

import html
from urllib.parse import urlencode

import pandas as pd

from ..i18n import Translator
from ..theme import ACCENT, STATUS_COLOURS
from .models import DetailModel, OverviewModel

#: Badge colours of alert severities (the same red / amber as the statuses, blue for info).
SEVERITY_COLOURS = {"critical": STATUS_COLOURS["offline"], "warning": STATUS_COLOURS["maintenance"],
                    "info": ACCENT}

DETAIL_NOTEBOOK = "equipment_detail.ipynb"
OVERVIEW_NOTEBOOK = "fleet_overview.ipynb"

STYLE = """<style>
.vigileos-kpis{display:flex;gap:12px;flex-wrap:wrap;margin:6px 0 10px}
.vigileos-kpi{background:#f6f8fa;border-radius:6px;padding:10px 16px;min-width:130px;border-top:4px solid #1f5fa8}
.vigileos-kpi .value{font-size:26px;font-weight:600}
.vigileos-kpi .label{font-size:12px;color:#555;text-transform:uppercase;letter-spacing:.03em}
table.vigileos-table{border-collapse:collapse;width:100%;font-size:13px}
table.vigileos-table th{text-align:left;background:#f0f2f5;padding:5px 8px;position:sticky;top:0}
table.vigileos-table td{padding:4px 8px;border-bottom:1px solid #eceff3}
table.vigileos-table td.num{text-align:right;font-variant-numeric:tabular-nums}
.vigileos-badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px}
.vigileos-title{font-size:22px;font-weight:600;margin:4px 0}
.vigileos-sub{color:#555;font-size:13px}
.vigileos-scroll{max-height:420px;overflow:auto}
.vigileos-figure{flex:1 1 auto;width:100%;min-width:0}
table.vigileos-alerts td.message{white-space:normal;max-width:520px}
.vigileos-alerts-empty{color:#2e9d57}
.vigileos-slas-ok{color:#2e9d57}
</style>"""


def detail_link(equipment_id: str, lang: str) -> str:
    """Relative link from the overview to the detail page of ``equipment_id``."""
    return f"{DETAIL_NOTEBOOK}?{urlencode({'equipment_id': equipment_id, 'lang': lang})}"


def overview_link(lang: str) -> str:
    return f"{OVERVIEW_NOTEBOOK}?{urlencode({'lang': lang})}"


def status_badge(status: str, text: Translator) -> str:
    colour = STATUS_COLOURS.get(status, STATUS_COLOURS["unknown"])
    return (f'<span class="vigileos-badge vigileos-status-{html.escape(status)}" style="background:{colour}">'
            f'{html.escape(text.label("dashboard.status", status))}</span>')


def header(title: str, subtitle: str = "") -> str:
    sub = f'<div class="vigileos-sub">{html.escape(subtitle)}</div>' if subtitle else ""
    return f'{STYLE}<div class="vigileos-title">{html.escape(title)}</div>{sub}'


def kpi_cards(model: OverviewModel, text: Translator) -> str:
    """Equipment count, one card per status present or known, and average availability."""
    cards = [("total", text.t("dashboard.kpi.total", count=model.total), str(model.total), "#1f5fa8")]
    for status, count in model.counts.items():
        if count or status != "unknown":
            cards.append((status, text.label("dashboard.status", status), str(count),
                          STATUS_COLOURS.get(status, STATUS_COLOURS["unknown"])))
    cards.append(("availability", text.t("dashboard.kpi.average_availability"),
                  text.percent(model.average_availability), "#1f5fa8"))
    body = "".join(
        f'<div class="vigileos-kpi vigileos-kpi-{html.escape(key)}" style="border-top-color:{colour}">'
        f'<div class="value" data-value="{html.escape(value)}">{html.escape(value)}</div>'
        f'<div class="label">{html.escape(label)}</div></div>'
        for key, label, value, colour in cards)
    return f'<div class="vigileos-kpis">{body}</div>'


def _table(headers: list[tuple[str, bool]], rows: list[list[str]], css: str) -> str:
    head = "".join(f'<th{" class=num" if num else ""}>{html.escape(h)}</th>' for h, num in headers)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=num" if num else ""}>{cell}</td>'
                         for cell, (_, num) in zip(row, headers, strict=True))
        + "</tr>" for row in rows)
    return f'<div class="vigileos-scroll"><table class="vigileos-table {css}"><thead><tr>{head}</tr></thead>' \
           f'<tbody>{body}</tbody></table></div>'


def equipment_table(model: OverviewModel, text: Translator) -> str:
    """Every equipment, worst availability first, each linking to its detail page."""
    headers = [(text.t(f"dashboard.table.{k}"), k in ("availability", "coverage"))
               for k in ("equipment", "name", "type", "location", "status", "availability", "coverage",
                         "last_metric")]
    rows = []
    for row in model.equipment.itertuples(index=False):
        link = html.escape(detail_link(row.equipment_id, text.lang))
        rows.append([
            f'<a class="vigileos-detail-link" href="{link}" target="_self">{html.escape(row.equipment_id)}</a>',
            html.escape(str(row.name)), html.escape(str(row.type)), html.escape(str(row.location)),
            status_badge(row.status, text), html.escape(text.percent(row.availability_pct)),
            html.escape(text.percent(row.coverage_pct, 0)),
            html.escape(text.datetime(None if pd.isna(row.last_metric_time) else row.last_metric_time)),
        ])
    return _table(headers, rows, "vigileos-equipment")


def _changes_rows(changes: pd.DataFrame, text: Translator, with_equipment: bool) -> list[list[str]]:
    rows = []
    for row in changes.itertuples(index=False):
        cells = [html.escape(text.datetime(row.time))]
        if with_equipment:
            link = html.escape(detail_link(row.equipment_id, text.lang))
            cells.append(f'<a href="{link}" target="_self">{html.escape(str(row.name or row.equipment_id))}</a>')
        cells += [status_badge(row.previous_status, text), status_badge(row.new_status, text)]
        rows.append(cells)
    return rows


def changes_table(model: OverviewModel, text: Translator) -> str:
    """The newest status changes of the fleet, newest first."""
    if model.changes.empty:
        return f'<p class="vigileos-sub vigileos-changes-empty">{html.escape(text.t("dashboard.changes.none"))}</p>'
    headers = [(text.t("dashboard.changes.time"), False), (text.t("dashboard.table.equipment"), False),
               (text.t("dashboard.changes.from"), False), (text.t("dashboard.changes.to"), False)]
    return _table(headers, _changes_rows(model.changes, text, True), "vigileos-changes")


def severity_badge(severity: str, text: Translator) -> str:
    colour = SEVERITY_COLOURS.get(severity, STATUS_COLOURS["unknown"])
    return (f'<span class="vigileos-badge vigileos-severity-{html.escape(severity)}" style="background:{colour}">'
            f'{html.escape(text.label("dashboard.alerts.severity", severity))}</span>')


def alerts_table(model: OverviewModel, text: Translator) -> str:
    """The alerts firing at the end of the period, newest first (as many as the model holds),
    or a one-line empty state. Rows carry ``data-equipment``, ``data-rule`` and ``data-severity``."""
    if model.alerts.empty:
        return f'<p class="vigileos-sub vigileos-alerts-empty">{html.escape(text.t("dashboard.alerts.none"))}</p>'
    shown = len(model.alerts)
    summary = (text.t("dashboard.alerts.count", count=shown) if model.alerts_total <= shown
               else text.t("dashboard.alerts.more", count=shown, total=model.alerts_total))
    headers = [(text.t(f"dashboard.alerts.column.{k}"), False)
               for k in ("severity", "equipment", "rule", "message", "since")]
    head = "".join(f"<th>{html.escape(h)}</th>" for h, _ in headers)
    end = pd.Timestamp(model.period.end)
    rows = []
    for row in model.alerts.itertuples(index=False):
        link = html.escape(detail_link(row.equipment_id, text.lang))
        seconds = (end - row.time).total_seconds()
        age = (text.t("dashboard.alerts.age", duration=text.duration(seconds)) if seconds >= 60
               else text.t("dashboard.alerts.just_now"))
        rows.append(
            f'<tr data-equipment="{html.escape(row.equipment_id)}" data-rule="{html.escape(row.rule)}" '
            f'data-severity="{html.escape(row.severity)}">'
            f"<td>{severity_badge(row.severity, text)}</td>"
            f'<td><a href="{link}" target="_self" title="{html.escape(row.equipment_id)}">'
            f"{html.escape(str(row.name))}</a></td>"
            f"<td><code>{html.escape(row.rule)}</code></td>"
            f'<td class="message">{html.escape(row.message)}</td>'
            f'<td class="since">{html.escape(text.datetime(row.time))}<br>'
            f'<span class="vigileos-sub">{html.escape(age)}</span></td></tr>')
    return (f'<div class="vigileos-sub vigileos-alerts-summary" data-total="{model.alerts_total}">'
            f"{html.escape(summary)}</div>"
            f'<div class="vigileos-scroll"><table class="vigileos-table vigileos-alerts"><thead><tr>{head}</tr>'
            f'</thead><tbody>{"".join(rows)}</tbody></table></div>')


def history_table(model: DetailModel, text: Translator) -> str:
    """Status changes of one equipment, newest first."""
    if model.history.empty:
        return f'<p class="vigileos-sub">{html.escape(text.t("dashboard.changes.none"))}</p>'
    headers = [(text.t("dashboard.changes.time"), False), (text.t("dashboard.changes.from"), False),
               (text.t("dashboard.changes.to"), False)]
    return _table(headers, _changes_rows(model.history, text, False), "vigileos-history")


def detail_summary(model: DetailModel, text: Translator) -> str:
    """Name, type, location, current status and the period's availability figures."""
    result = model.availability
    facts = text.t("dashboard.detail.summary", availability=text.percent(result.availability_pct),
                   coverage=text.percent(result.coverage_pct, 0), count=result.outages,
                   downtime=text.duration(result.downtime_s))
    info = " · ".join(html.escape(v) for v in (model.info["name"], model.info["type"], model.info["location"]) if v)
    return (f'<div class="vigileos-detail-summary" data-equipment="{html.escape(model.equipment_id)}">'
            f'<div style="font-size:18px;font-weight:600">{html.escape(model.equipment_id)} '
            f'{status_badge(model.status, text)}</div><div class="vigileos-sub">{info}</div>'
            f'<div style="margin-top:4px">{html.escape(facts)}</div></div>')


#: Badge colours of SLA states: spent budget red, at risk amber, on course green, no data grey.
SLA_STATE_COLOURS = {"breached": STATUS_COLOURS["offline"], "at risk": STATUS_COLOURS["maintenance"],
                     "met": STATUS_COLOURS["operational"], "no data": STATUS_COLOURS["unknown"]}


def sla_badge(state: str, text: Translator) -> str:
    colour = SLA_STATE_COLOURS.get(state, STATUS_COLOURS["unknown"])
    label = text.label("dashboard.slas.state", state.replace(" ", "_"))
    return f'<span class="vigileos-badge vigileos-sla-state" style="background:{colour}">{html.escape(label)}</span>'


def slas_panel(model: OverviewModel, text: Translator) -> str:
    """The SLAs needing attention (breached, at risk) with their budget, and one line for the
    others; the definitions file's problem instead when it has one. Rows carry ``data-sla``
    and ``data-state``."""
    if model.slas_problem:
        return (f'<p class="vigileos-sub vigileos-slas-problem">'
                f'{html.escape(text.t("dashboard.slas.problem", message=model.slas_problem))}</p>')
    if model.slas.empty:
        return f'<p class="vigileos-sub vigileos-slas-none">{html.escape(text.t("dashboard.slas.none"))}</p>'
    attention = model.slas[model.slas["state"].isin(("breached", "at risk"))]
    on_course = int((model.slas["state"] == "met").sum())
    no_data = int((model.slas["state"] == "no data").sum())
    lines = [text.t("dashboard.slas.on_course", count=on_course)]
    if no_data:
        lines.append(text.t("dashboard.slas.no_data", count=no_data))
    css = "vigileos-slas-ok" if attention.empty else ""
    summary = (f'<p class="vigileos-sub vigileos-slas-summary {css}" data-attention="{len(attention)}">'
               f'{html.escape(" · ".join(lines))}</p>')
    if attention.empty:
        return summary
    headers = [(text.t(f"dashboard.slas.column.{k}"), k in ("target", "achieved", "budget"))
               for k in ("state", "sla", "target", "achieved", "budget", "runs_out")]
    rows = []
    for row in attention.itertuples(index=False):
        budget = text.t("dashboard.slas.budget", duration=text.duration(max(row.budget_remaining_s, 0.0)),
                        percent=text.percent(row.budget_remaining_pct))
        runs_out = "" if row.runs_out_at is None or pd.isna(row.runs_out_at) else text.datetime(row.runs_out_at)
        rows.append([sla_badge(row.state, text),
                     f'<span data-sla="{html.escape(row.name)}" title="{html.escape(str(row.description))}">'
                     f"{html.escape(row.name)}</span>",
                     html.escape(text.percent(row.target_pct, 2)), html.escape(text.percent(row.achieved_pct, 2)),
                     html.escape(budget), html.escape(runs_out)])
    return summary + _table(headers, rows, "vigileos-slas")
