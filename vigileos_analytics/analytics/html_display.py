"""Notebook display of availability results, fleet tables and alert lists, as HTML.

Jupyter draws an object as HTML when it has ``_repr_html_``: ``AvailabilityResult``,
``AlertCheck`` and ``AlertReplay`` take theirs from here. ``fleet_availability``,
``availability_report``, ``list_alerts`` and ``current_alerts`` return plain pandas
frames and ``fleet_summary`` a dict, so :func:`show` wraps one in a :class:`RichDisplay`, which Jupyter draws as a
formatted table and a terminal prints as the frame itself. Plain-text reprs stay as
they were.

Cells are formatted by their column's name, with the project's text formats
(:mod:`..i18n`): durations (``*_s``) as ``2 h 09 min``, percentages (``*_pct``, and
shares of 1 such as an alert's ``coverage``) with two decimals (``99.50 %``; a value
under 100 % never reads ``100.00 %``), times in UTC to the minute. Coverage below
:data:`LOW_COVERAGE_PCT` is flagged "low coverage": the figures beside it rest on a
small part of the period. Availability takes the status colours of :mod:`..theme`.
Every text, ids and alert messages included, is escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import ValidationError
from ..i18n import DEFAULT_LANGUAGE, Translator
from ..theme import availability_colour

if TYPE_CHECKING:
    from .alerts import AlertCheck, AlertReplay
    from .service import AvailabilityResult

__all__ = ["DEFAULT_LIMIT", "LOW_COVERAGE_PCT", "RichDisplay", "alert_check_html", "alert_replay_html",
           "frame_html", "result_html", "show", "summary_html"]

#: Coverage (%) under which a figure is flagged: more than a tenth of the period had no
#: sample, so availability, MTBF and MTTR describe only part of it.
LOW_COVERAGE_PCT = 90.0
#: Rows of a frame shown before "… and N more rows".
DEFAULT_LIMIT = 50

_STYLE = """<style>
.vg-rich {font-family: "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2933;}
.vg-rich .vg-title {font-weight: 600; font-size: 1.1em; color: #0b3d91;}
.vg-rich .vg-meta, .vg-rich .vg-note {color: #52606d; font-size: .9em;}
.vg-rich table {border-collapse: collapse; font-size: .9em; margin: .3em 0;}
.vg-rich th {text-align: left; padding: 2px 10px 2px 0; color: #52606d; font-weight: 600;}
.vg-rich td {padding: 2px 8px; border-bottom: 1px solid #e4e7eb; white-space: nowrap;}
.vg-rich td.num {text-align: right; font-variant-numeric: tabular-nums;}
.vg-rich td.msg {white-space: normal;}
.vg-rich .vg-flag {color: #b42318; font-weight: 600; margin-left: .4em;}
</style>"""

#: Column name → how its cells are written.
_KINDS = {
    "status": "status", "cpu_usage": "number", "memory_usage": "number", "response_time": "number",
    "availability_24h": "pct", "coverage_24h": "pct", "coverage": "share",
    "time": "datetime", "window_start": "datetime", "window_end": "datetime", "since": "datetime",
    "start": "datetime", "end": "datetime", "last_metric_time": "datetime",
    "outages": "int", "samples": "int", "count": "int", "value": "number", "message": "message",
}
_NUMERIC = {"pct", "share", "duration", "int", "number"}
_COVERAGE = {"coverage_pct", "coverage_24h"}
_AVAILABILITY = {"availability_pct", "availability_24h"}


def _kind(column: str) -> str:
    if column in _KINDS:
        return _KINDS[column]
    if column.endswith("_pct"):
        return "pct"
    return "duration" if column.endswith("_s") else "text"


def _missing(value: Any) -> bool:
    """None, NA, NaT and NaN of any float type (numpy's float32 included)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, (float, np.floating, np.datetime64, np.timedelta64)) and bool(pd.isna(value))


def _percent(value: float, tr: Translator) -> str:
    """Two decimals, rounded down just under 100: 99.996 % reads 99.99 %, not 100.00 %."""
    if 99.995 <= value < 100:
        value = math.floor(value * 100) / 100
    return tr.percent(value, 2)


def _cell_text(value: Any, kind: str, tr: Translator) -> str:
    if _missing(value):
        return "–"
    if kind == "pct":
        return _percent(float(value), tr)
    if kind == "share":
        return _percent(float(value) * 100, tr)
    if kind == "duration":
        return tr.duration(value)
    if kind == "int":
        return tr.number(value, 0)
    if kind == "number":
        return tr.number(value, 2)
    if kind == "datetime":
        return tr.datetime(value)
    if kind == "status":
        return tr.label("status", value)
    return str(value)


def _is_low(value: Any) -> bool:
    return not _missing(value) and float(value) < LOW_COVERAGE_PCT


def _flag(tr: Translator) -> str:
    return f"<span class=\"vg-flag\">{html.escape(tr.t('display.low_coverage'))}</span>"


def _cell(column: str, value: Any, tr: Translator) -> str:
    """One ``<td>``: the formatted value, escaped, its colour or flag when it tells something."""
    kind = _kind(column)
    try:
        text = html.escape(_cell_text(value, kind, tr))
    except (TypeError, ValueError):  # a value its column's name does not suit: shown as it is
        kind, text = "text", html.escape(str(value))
    classes = "num" if kind in _NUMERIC else ("msg" if kind == "message" else "")
    style = ""
    if column in _AVAILABILITY and kind == "pct":
        style = f" style=\"color: {availability_colour(None if _missing(value) else float(value))}\""
    if column in _COVERAGE and kind == "pct" and _is_low(value):
        text += _flag(tr)
    return f"<td class=\"{classes}\"{style}>{text}</td>"


def _header(column: str, tr: Translator) -> str:
    name = str(column)
    for group in ("display.columns", "columns"):
        if tr.has(f"{group}.{name}"):
            return tr.t(f"{group}.{name}")
    return name.replace("_", " ").capitalize()


def _table(frame: pd.DataFrame, tr: Translator, limit: int | None) -> str:
    if frame.empty:
        return f"<p class=\"vg-note\">{html.escape(tr.t('display.no_rows'))}</p>"
    shown = frame if limit is None else frame.head(limit)
    heads = "".join(f"<th>{html.escape(_header(c, tr))}</th>" for c in shown.columns)
    rows = "".join("<tr>" + "".join(_cell(str(c), v, tr) for c, v in zip(shown.columns, record, strict=True))
                   + "</tr>" for record in shown.itertuples(index=False, name=None))
    more = len(frame) - len(shown)
    note = f"<p class=\"vg-note\">{html.escape(tr.t('display.more_rows', count=more))}</p>" if more else ""
    return f"<table><thead><tr>{heads}</tr></thead><tbody>{rows}</tbody></table>{note}"


def _page(*parts: str) -> str:
    return f"<div class=\"vg-rich\">{_STYLE}{''.join(parts)}</div>"


def _title(text: str) -> str:
    return f"<div class=\"vg-title\">{html.escape(text)}</div>"


def _meta(text: str) -> str:
    return f"<div class=\"vg-meta\">{html.escape(text)}</div>"


def frame_html(frame: pd.DataFrame, lang: str = DEFAULT_LANGUAGE, limit: int | None = DEFAULT_LIMIT) -> str:
    """A fleet table or an alert list (any frame) as an HTML table: headers from the
    catalogue, cells formatted by column name, low coverage flagged; the first ``limit``
    rows (all with None)."""
    return _page(_table(frame, Translator(lang), limit))


def result_html(result: AvailabilityResult, lang: str = DEFAULT_LANGUAGE) -> str:
    """One equipment's availability: the period, then each figure on its own line."""
    tr = Translator(lang)
    title = tr.t("display.availability_of", equipment=result.equipment_id) if result.equipment_id else \
        tr.t("display.availability")
    period = tr.t("display.period", start=tr.datetime(result.start), end=tr.datetime(result.end))
    figures = ["availability_pct", "uptime_s", "downtime_s", "unknown_s", "maintenance_s", "outages", "mtbf_s",
               "mttr_s", "coverage_pct", "samples"]
    rows = "".join(f"<tr><th>{html.escape(_header(name, tr))}</th>{_cell(name, getattr(result, name), tr)}</tr>"
                   for name in figures)
    note = ""
    if _is_low(result.coverage_pct):
        text = tr.t("display.low_coverage_note", threshold=tr.percent(LOW_COVERAGE_PCT, 0))
        note = f"<p class=\"vg-note\">{html.escape(text)}</p>"
    return _page(_title(title), _meta(period), f"<table><tbody>{rows}</tbody></table>", note)


def _section(key: str, frame: pd.DataFrame, tr: Translator, limit: int | None) -> str:
    if frame.empty:
        return ""
    heading = f"<div class=\"vg-title\">{html.escape(tr.t(key, count=len(frame)))}</div>"
    return heading + _table(frame, tr, limit)


def summary_html(summary: dict[str, Any], lang: str = DEFAULT_LANGUAGE, limit: int | None = DEFAULT_LIMIT) -> str:
    """``fleet_summary``'s payload: the counts per status, then one row per equipment with
    its availability and coverage over the period and its performance averages."""
    tr = Translator(lang)
    counts = summary["summary"]
    line = tr.t("display.fleet_summary", count=counts["total_equipment"], operational=counts["operational"],
                maintenance=counts["maintenance"], offline=counts["offline"],
                availability=tr.percent(counts["average_availability"], 2))
    rows = [{**{k: v for k, v in row.items() if k != "performance"}, **row.get("performance", {})}
            for row in summary["equipment"]]
    return _page(_title(tr.t("display.fleet_at", time=tr.datetime(summary["generated_at"]))), _meta(line),
                 _table(pd.DataFrame(rows), tr, limit))


def _is_fleet_summary(value: Any) -> bool:
    return isinstance(value, dict) and {"summary", "equipment", "generated_at"} <= set(value)


def alert_check_html(check: AlertCheck, lang: str = DEFAULT_LANGUAGE, limit: int | None = DEFAULT_LIMIT) -> str:
    """What a check raised, found still firing, resolved and could not evaluate."""
    from .alert_eval import LOW_COVERAGE

    tr = Translator(lang)
    low = int((check.conditions["state"] == LOW_COVERAGE).sum())
    summary = tr.t("display.alert_check_summary", raised=len(check.raised), ongoing=len(check.ongoing),
                   resolved=len(check.resolved), no_data=len(check.no_data), low_coverage=low,
                   failed=len(check.failures))
    return _page(_title(tr.t("display.alert_check", time=tr.datetime(check.now))), _meta(summary),
                 _section("display.raised", check.raised, tr, limit),
                 _section("display.ongoing", check.ongoing, tr, limit),
                 _section("display.resolved", check.resolved, tr, limit),
                 _section("display.failures", check.failures, tr, limit))


def alert_replay_html(replay: AlertReplay, lang: str = DEFAULT_LANGUAGE, limit: int | None = DEFAULT_LIMIT) -> str:
    """The alert points a replay wrote (or, dry, would write), oldest first."""
    tr = Translator(lang)
    title = tr.t("display.alert_replay", start=tr.datetime(replay.start), end=tr.datetime(replay.end),
                 every=tr.duration(replay.every.total_seconds()))
    summary = tr.t("display.replay_dry" if replay.dry_run else "display.replay_written", count=len(replay.events),
                   instants=replay.instants)
    events = _table(replay.events, tr, limit)
    return _page(_title(title), _meta(summary), events, _section("display.failures", replay.failures, tr, limit))


@dataclass(frozen=True)
class RichDisplay:
    """What :func:`show` returns: HTML for Jupyter, the shown object's own repr elsewhere."""

    value: Any
    html: str

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return repr(self.value)


def show(value: Any, *, lang: str = DEFAULT_LANGUAGE, limit: int | None = DEFAULT_LIMIT) -> RichDisplay:
    """``value`` drawn as HTML in a notebook: a frame the service or the alert functions
    return (fleet availability, availability report, alert lists), ``fleet_summary``'s
    payload, an ``AvailabilityResult``, an ``AlertCheck`` or an ``AlertReplay``; in
    language ``lang`` (``en`` or ``fr``), at most ``limit`` rows per table."""
    from .alerts import AlertCheck, AlertReplay
    from .service import AvailabilityResult

    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ValidationError(f"limit must be a positive number of rows or None (every row); got {limit!r}.",
                              field="limit", value=limit)
    renderers: dict[type, Callable[[Any], str]] = {
        pd.DataFrame: lambda v: frame_html(v, lang, limit),
        AvailabilityResult: lambda v: result_html(v, lang),
        AlertCheck: lambda v: alert_check_html(v, lang, limit),
        AlertReplay: lambda v: alert_replay_html(v, lang, limit),
    }
    for kind, render in renderers.items():
        if isinstance(value, kind):
            return RichDisplay(value, render(value))
    if _is_fleet_summary(value):
        return RichDisplay(value, summary_html(value, lang, limit))
    raise ValidationError(f"show takes a pandas DataFrame, fleet_summary()'s payload, an AvailabilityResult, an "
                          f"AlertCheck or an AlertReplay; got {type(value).__name__}.", field="value",
                          value=type(value).__name__)
