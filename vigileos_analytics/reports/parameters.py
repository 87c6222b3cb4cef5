"""Report parameters: read a YAML parameter file, apply ``key=value`` overrides, and
check everything before a kernel starts.

Known keys (all optional)::

    store_url: duckdb:////abs/metrics.duckdb   # default: VIGILEOS_STORE_URL / the configured store
    inventory: data/inventory.csv              # default: VIGILEOS_INVENTORY
    month: 2024-01                             # a calendar month in UTC ...
    start: 2024-01-01                          # ... or start / end (end exclusive, UTC without offset)
    end: 2024-02-01
    days: 30                                   # no month and no start / end: the last `days` full UTC
                                               # days before the newest availability data
    equipment: [EQ-0001, EQ-0002]              # default: every equipment
    site: Paris-DC1                            # only equipment at this location
    thresholds: {cpu_usage: 85, availability: 99}
    language: fr                               # en (default) or fr
    exclude_maintenance: true                  # planned maintenance counts neither up nor down
    formats: [html, pdf, xlsx]                 # the executed .ipynb is always kept
    slas: parameters/slas.yaml                 # sla_report: the SLA definition file (default: VIGILEOS_SLAS)
    sla_names: [fleet]                         # sla_report: these SLAs only (default: every SLA of the file)

The report notebooks' ``parameters`` cell is generated from :data:`NOTEBOOK_PARAMETERS`
(``scripts/write_parameter_cells.py``; ``tests/test_report_parameters.py`` checks the
cells match), and the next cell hands them to ``open_report`` in one line::

    ctx = open_report("monthly_availability", notebook_parameters(globals()))

Every mistake raises :class:`~vigileos_analytics.errors.ValidationError` saying
what was expected, what came and what to do.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..errors import ValidationError
from ..i18n import check_language
from ..schema import validate_equipment_id, validate_metric_type
from ..theme import DEFAULT_THRESHOLDS
from ..timeparse import parse_time_text

FORMATS = ("html", "pdf", "xlsx")
KNOWN_KEYS = ("store_url", "inventory", "month", "start", "end", "days", "equipment", "site", "thresholds",
              "language", "exclude_maintenance", "formats", "slas", "sla_names")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class ReportParameters:
    """Checked parameters. Times are aware UTC datetimes; ``equipment`` is ``None`` for all."""

    store_url: str | None = None
    inventory: str | None = None
    month: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    days: int = 30
    equipment: tuple[str, ...] | None = None
    site: str | None = None
    thresholds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    language: str = "en"
    exclude_maintenance: bool = True
    formats: tuple[str, ...] = FORMATS
    slas: str | None = None
    sla_names: tuple[str, ...] | None = None

    def to_notebook(self) -> dict[str, Any]:
        """Plain values for papermill (JSON-able; times as ISO text in UTC)."""
        return {
            "store_url": self.store_url, "inventory": self.inventory, "month": self.month,
            "start": self.start.isoformat() if self.start and not self.month else None,
            "end": self.end.isoformat() if self.end and not self.month else None,
            "days": self.days, "equipment": list(self.equipment) if self.equipment else None, "site": self.site,
            "thresholds": dict(self.thresholds), "language": self.language,
            "exclude_maintenance": self.exclude_maintenance, "slas": self.slas,
            "sla_names": list(self.sla_names) if self.sla_names else None,
        }

    def with_period(self, start: datetime, end: datetime) -> ReportParameters:
        return replace(self, start=start, end=end)


@dataclass(frozen=True)
class NotebookParameter:
    """One line of a report notebook's ``parameters`` cell: ``name = default  # comment``."""

    name: str
    default: Any = None
    comment: str = ""


_DEFAULTS = ReportParameters()
#: The report notebooks' parameters, in the order of their ``parameters`` cell. Papermill
#: sets these names; every key of :meth:`ReportParameters.to_notebook` is one of them.
NOTEBOOK_PARAMETERS: tuple[NotebookParameter, ...] = (
    NotebookParameter("store_url", None, "None: VIGILEOS_STORE_URL, else the configured store"),
    NotebookParameter("inventory", None, "None: VIGILEOS_INVENTORY"),
    NotebookParameter("month", None, 'a UTC calendar month such as "2024-01"'),
    NotebookParameter("start", None, 'or start / end such as "2024-01-01" / "2024-02-01" (end exclusive, UTC)'),
    NotebookParameter("end", None),
    NotebookParameter("days", _DEFAULTS.days, "no month nor start / end: the last `days` days of data"),
    NotebookParameter("equipment", None, "a list of equipment ids; None: every equipment"),
    NotebookParameter("site", None, "only equipment at this location"),
    NotebookParameter("thresholds", None, 'e.g. {"cpu_usage": 85, "availability": 99}; None: the defaults'),
    NotebookParameter("language", _DEFAULTS.language, '"en" or "fr"'),
    NotebookParameter("exclude_maintenance", _DEFAULTS.exclude_maintenance,
                      "planned maintenance counts neither as up nor as down"),
    NotebookParameter("slas", None, "sla_report: the SLA definition file; None: VIGILEOS_SLAS"),
    NotebookParameter("sla_names", None, "sla_report: a list of SLA names; None: every SLA of the file"),
    NotebookParameter("tables_dir", None,
                      "set by `vigileos report`: where shown tables are kept for the Excel workbook"),
)
_CELL_HEADER = ("# Parameters (papermill's injected cell overrides them). Generated from NOTEBOOK_PARAMETERS in\n"
                "# vigileos_analytics/reports/parameters.py by scripts/write_parameter_cells.py: edit them there.")


def _literal(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else repr(value)


def parameters_cell_source() -> str:
    """The source of every report notebook's ``parameters`` cell."""
    lines = [_CELL_HEADER]
    for p in NOTEBOOK_PARAMETERS:
        assignment = f"{p.name} = {_literal(p.default)}"
        lines.append(f"{assignment:<26} # {p.comment}" if p.comment else assignment)
    return "\n".join(lines)


def notebook_parameters(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The values of :data:`NOTEBOOK_PARAMETERS` in a notebook's ``namespace`` (its
    ``globals()``), for :func:`~vigileos_analytics.reports.context.open_report`."""
    return {p.name: namespace[p.name] for p in NOTEBOOK_PARAMETERS if p.name in namespace}


def _fail(key: str, expected: str, value: Any) -> ValidationError:
    return ValidationError(f"The report parameter '{key}' must be {expected}; got {value!r}. "
                           "Fix it in the parameter file or with -p.", field=key, value=value)


def month_period(text: Any) -> tuple[datetime, datetime]:
    """``'2024-01'`` → [2024-01-01, 2024-02-01) in UTC."""
    match = _MONTH_RE.match(str(text)) if isinstance(text, str) else None
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise _fail("month", "a month written YYYY-MM such as 2024-01", text)
    start = datetime(int(match.group(1)), int(match.group(2)), 1, tzinfo=UTC)
    end = (pd.Timestamp(start) + pd.offsets.MonthBegin(1)).to_pydatetime()
    return start, end


def _time(key: str, value: Any) -> datetime | None:
    if value is None:
        return None
    if hasattr(value, "year") and not isinstance(value, datetime):  # a YAML date
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # YAML timestamps without offset are UTC, as text is
    try:
        return parse_time_text(value, field=key)
    except ValidationError as exc:
        raise _fail(key, "a date or time such as 2024-01-31 or 2024-01-31T12:00:00+01:00", value) from exc


def _equipment(value: Any) -> tuple[str, ...] | None:
    if value is None or value == []:
        return None
    items = [f.strip() for f in value.split(",")] if isinstance(value, str) else value  # -p formats=html,xlsx
    if not isinstance(items, (list, tuple)) or not items:
        raise _fail("equipment", "an equipment id or a list of ids", value)
    try:
        return tuple(validate_equipment_id(v) for v in items)
    except ValidationError as exc:
        raise _fail("equipment", "a list of equipment ids such as [EQ-0001, EQ-0002]", value) from exc


def _thresholds(value: Any) -> dict[str, float]:
    if value is None:
        return dict(DEFAULT_THRESHOLDS)
    if not isinstance(value, Mapping):
        raise _fail("thresholds", "a mapping of metric name to number, e.g. {cpu_usage: 85}", value)
    merged = dict(DEFAULT_THRESHOLDS)
    for metric, limit in value.items():
        try:
            validate_metric_type(metric)
        except ValidationError as exc:
            raise _fail("thresholds", "keyed by metric names such as cpu_usage", metric) from exc
        if isinstance(limit, bool) or not isinstance(limit, (int, float)):
            raise _fail(f"thresholds.{metric}", "a number", limit)
        try:
            number = float(limit)
        except OverflowError:  # an integer past the float range
            number = math.inf
        if not math.isfinite(number):  # YAML's .nan / .inf: every comparison with them is False
            raise _fail(f"thresholds.{metric}", "a finite number", limit)
        merged[metric] = number
    return merged


def _sla_names(value: Any) -> tuple[str, ...] | None:
    if value is None or value == []:
        return None
    items = [f.strip() for f in value.split(",")] if isinstance(value, str) else value  # -p sla_names=a,b
    if not isinstance(items, (list, tuple)) or not all(isinstance(v, str) and v.strip() for v in items):
        raise _fail("sla_names", "an SLA name or a list of names such as [fleet, paris-dc1]", value)
    return tuple(dict.fromkeys(v.strip() for v in items))


def _formats(value: Any) -> tuple[str, ...]:
    items = [f.strip() for f in value.split(",")] if isinstance(value, str) else value  # -p formats=html,xlsx
    if not isinstance(items, (list, tuple)) or not items or not all(f in FORMATS for f in items):
        raise _fail("formats", f"a list drawn from {', '.join(FORMATS)}", value)
    return tuple(dict.fromkeys(items))


def parse_parameters(raw: Mapping[str, Any] | None) -> ReportParameters:
    """Check raw parameters (from YAML, ``-p`` or papermill) without touching the store."""
    raw = dict(raw or {})
    unknown = sorted(set(raw) - set(KNOWN_KEYS))
    if unknown:
        raise ValidationError(f"Unknown report parameter(s) {', '.join(map(repr, unknown))}; "
                              f"known: {', '.join(KNOWN_KEYS)}.", field=unknown[0], value=raw[unknown[0]])
    month = raw.get("month")
    start, end = _time("start", raw.get("start")), _time("end", raw.get("end"))
    if month is not None:
        if start is not None or end is not None:
            raise ValidationError("Give either month or start / end, not both; got "
                                  f"month={month!r}, start={raw.get('start')!r}, end={raw.get('end')!r}.",
                                  field="month", value=month)
        start, end = month_period(month)
    elif (start is None) != (end is None):
        raise ValidationError("Give both start and end (or a month); got only "
                              f"{'start' if start else 'end'}.", field="start" if start is None else "end")
    if start is not None and end is not None and end <= start:
        raise ValidationError(f"The report period ends before it starts: start {start.isoformat()}, end "
                              f"{end.isoformat()}. Give an end after the start.", field="end", value=raw.get("end"))
    days = raw.get("days", 30)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3660:
        raise _fail("days", "a whole number of days from 1 to 3660", days)
    for key in ("store_url", "inventory", "site", "slas"):
        if raw.get(key) is not None and not (isinstance(raw[key], str) and raw[key].strip()):
            raise _fail(key, "a non-empty text", raw[key])
    exclude = raw.get("exclude_maintenance", True)
    if not isinstance(exclude, bool):
        raise _fail("exclude_maintenance", "true or false", exclude)
    try:
        language = check_language(raw.get("language", "en"))
    except ValidationError as exc:
        raise _fail("language", "en or fr", raw.get("language")) from exc
    sla_names = _sla_names(raw.get("sla_names"))
    if raw.get("slas") is not None or sla_names:
        from ..analytics.sla_timeline import pick_definitions  # reads the SLA file: only when one is named

        pick_definitions(raw.get("slas"), sla_names)
    return ReportParameters(
        store_url=raw.get("store_url"), inventory=raw.get("inventory"), month=month, start=start, end=end, days=days,
        equipment=_equipment(raw.get("equipment")), site=raw.get("site"), thresholds=_thresholds(raw.get("thresholds")),
        language=language, exclude_maintenance=exclude, formats=_formats(raw.get("formats", list(FORMATS))),
        slas=raw.get("slas"), sla_names=sla_names,
    )


def check_report_scope(name: str, params: ReportParameters, batch: str | None = None) -> None:
    """Refuse ``equipment`` / ``site`` (or a batch by either) for a report that covers its
    own scope: the SLA report shows each SLA over the equipment its definition names."""
    if name != "sla_report":
        return
    given = next((key for key in ("equipment", "site") if getattr(params, key) or batch == key), None)
    if given is not None:
        shown = f"--batch {batch}" if batch == given else f"the report parameter '{given}'"
        raise ValidationError(f"sla_report does not take {shown}: the SLA report covers each SLA's own scope; "
                              "pick SLAs with sla_names.", field="batch" if batch == given else given,
                              value=batch if batch == given else getattr(params, given))


def read_parameter_file(path: str | Path) -> dict[str, Any]:
    """The mapping in a YAML parameter file (an empty file gives ``{}``)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValidationError(f"Cannot read the parameter file {path}: {exc.strerror}. Check the path.",
                              field="param_file", value=str(path)) from exc
    except yaml.YAMLError as exc:
        raise ValidationError(f"The parameter file {path} is not valid YAML: {exc}", field="param_file",
                              value=str(path)) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValidationError(f"The parameter file {path} must hold a mapping of key: value lines; got a "
                              f"{type(data).__name__}.", field="param_file", value=str(path))
    return data


def apply_overrides(raw: Mapping[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Apply ``key=value`` texts (values read as YAML; ``thresholds.cpu_usage=90`` sets a nested key)."""
    merged: dict[str, Any] = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in raw.items()}
    for text in overrides:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"A parameter override must look like key=value (e.g. month=2024-01); got {text!r}.",
                                  field="parameter", value=text)
        try:
            parsed = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            parsed = value
        if isinstance(parsed, (datetime,)) or (hasattr(parsed, "year") and not isinstance(parsed, str)):
            parsed = value  # keep dates as text: parse_parameters reads them in UTC
        head, _, tail = key.strip().partition(".")
        if tail:
            target = merged.setdefault(head, {})
            if not isinstance(target, dict):
                raise ValidationError(f"Cannot set {key!r}: {head!r} is not a mapping.", field=head, value=text)
            target[tail] = parsed
        else:
            merged[head] = parsed
    return merged


def period_label(params: ReportParameters) -> str:
    """Folder name of the period: ``2024-01`` for a month, else ``2024-01-05_2024-01-15``
    (with ``THHMM`` when a bound is not at midnight UTC)."""
    if params.month:
        return params.month
    if params.start is None or params.end is None:
        raise ValidationError("The report period is not resolved yet.", field="start")

    def text(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%d" if moment.time() == datetime.min.time() else "%Y-%m-%dT%H%M")
    return f"{text(params.start)}_{text(params.end)}"


def default_period(newest: datetime | None, days: int, now: datetime) -> tuple[datetime, datetime]:
    """``days`` UTC days ending at the midnight after ``newest`` (the store's newest data;
    ``now`` when the store is empty)."""
    anchor = pd.Timestamp(newest if newest is not None else now).tz_convert("UTC")
    end = anchor.floor("D") + (pd.Timedelta(days=1) if anchor != anchor.floor("D") else pd.Timedelta(0))
    return (end - timedelta(days=days)).to_pydatetime(), end.to_pydatetime()
