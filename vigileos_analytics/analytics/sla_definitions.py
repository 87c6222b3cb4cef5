"""The SLA definition file (``parameters/slas.yaml``): calendars, maintenance schedules
and SLAs, validated into :class:`SlaDefinition` objects with errors that name the entry
and the field.

Precedence: a field an SLA sets wins over the same field under ``defaults:``, which
wins over the built-in default (around the clock in UTC, no minimum outage, no
maintenance schedule, no degraded rule). ``degraded`` is taken whole: an SLA's own
mapping replaces the default one, and ``degraded: none`` removes it. SLAs never
override each other: each is computed over its own scope with its own rules, so an
equipment in a site SLA and the fleet SLA counts in both.

A degraded rule (``degraded: {metric: response_time, above: 500, every: 5m, function:
mean, counts_as: down}``) makes available time degraded while the metric's slot mean
(or ``max``) breaches; ``counts_as: down`` spends the error budget with it, ``degraded``
(the default) only shows it. ``every`` defaults to 5m, ``function`` to mean.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..errors import ConfigurationError, ValidationError
from ..schema import validate_metric_type
from ..timeparse import parse_duration
from .sla import COUNTS_AS, DEGRADED_FUNCTIONS, DegradedRule, SlaRules
from .sla_calendar import RecurringWindow, ServiceCalendar, WeeklyHours, parse_days, parse_hours, zone

__all__ = [
    "SCOPE_KINDS",
    "SlaDefinition",
    "parse_slas",
    "load_slas",
    "scope_members",
]

#: How an SLA names its equipment: the whole fleet, a site (the inventory's location),
#: a type, or a list of ids.
SCOPE_KINDS = ("fleet", "site", "type", "equipment")
_TOP_KEYS = {"defaults", "calendars", "maintenance", "slas"}
_SLA_KEYS = {"name", "scope", "target", "calendar", "minimum_outage", "maintenance", "degraded", "description"}
_DEGRADED_KEYS = {"metric", "above", "below", "every", "function", "counts_as"}
_CALENDAR_KEYS = {"timezone", "hours", "holidays", "holidays_file"}
_WINDOW_KEYS = {"every", "hours", "start", "end", "timezone"}
_ALWAYS = ServiceCalendar("around the clock")
_ZERO_DURATIONS = {"0", "0s", "0m", "0h"}


@dataclass(frozen=True)
class SlaDefinition:
    """One SLA: its name, scope (kind and values) and rules."""

    name: str
    scope_kind: str
    scope_values: tuple[str, ...]
    rules: SlaRules
    description: str = ""

    @property
    def scope_text(self) -> str:
        return "fleet" if self.scope_kind == "fleet" else f"{self.scope_kind}: {', '.join(self.scope_values)}"


class _Reader:
    """Builds errors that say where in the file the problem is."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, message: str) -> ConfigurationError:
        return ConfigurationError(f"{self.source}: {where}: {message} Fix the SLA file and run the command again.")

    def mapping(self, value: Any, where: str, allowed: set[str]) -> Mapping:
        if not isinstance(value, Mapping):
            raise self.fail(where, f"expected a mapping; got {type(value).__name__}.")
        unknown = sorted(set(map(str, value)) - allowed)
        if unknown:
            raise self.fail(where, f"unknown field {unknown[0]!r} (known: {', '.join(sorted(allowed))}).")
        return value

    def checked(self, where: str, parse, *args):
        try:
            return parse(*args)
        except ValidationError as exc:
            raise self.fail(where, str(exc)) from None


def parse_slas(document: Any, source: str = "SLA file", base: Path | None = None) -> list[SlaDefinition]:
    """Validate a parsed YAML document into SLA definitions (relative holiday files are
    read from ``base``)."""
    r = _Reader(source)
    doc = r.mapping(document, "the file", _TOP_KEYS)
    calendars = {str(name): _calendar(r, str(name), raw, base)
                 for name, raw in r.mapping(doc.get("calendars") or {}, "calendars", _any_keys(doc.get("calendars"))
                                            ).items()}
    windows = {str(name): _window(r, str(name), raw)
               for name, raw in r.mapping(doc.get("maintenance") or {}, "maintenance",
                                          _any_keys(doc.get("maintenance"))).items()}
    defaults = r.mapping(doc.get("defaults") or {}, "defaults", _SLA_KEYS - {"name", "scope", "description"})
    raw_slas = doc.get("slas")
    if not isinstance(raw_slas, list) or not raw_slas:
        raise r.fail("slas", "expected a non-empty list of SLAs (name, scope, target, ...).")
    slas = [_sla(r, i, raw, defaults, calendars, windows) for i, raw in enumerate(raw_slas)]
    names = [s.name for s in slas]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise r.fail(f"sla {duplicate!r}", "SLA names must be unique; this one appears twice.")
    return slas


def _any_keys(value: Any) -> set[str]:
    return set(map(str, value)) if isinstance(value, Mapping) else set()


def load_slas(path: str | Path | None = None) -> list[SlaDefinition]:
    """Read and validate an SLA file (default: ``VIGILEOS_SLAS``, else the example that
    comes with the package)."""
    if path is None:
        from ..templates import slas_path

        path = slas_path()
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"SLA file {path} does not exist; pass --slas PATH, or unset VIGILEOS_SLAS to use "
                                 "the example that comes with the package (`vigileos templates copy DIR` makes an "
                                 "editable copy of it).") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path} is not valid YAML: {exc}") from exc
    return parse_slas(document, str(path), path.parent)


def _calendar(r: _Reader, name: str, raw: Any, base: Path | None) -> ServiceCalendar:
    where = f"calendar {name!r}"
    raw = r.mapping(raw, where, _CALENDAR_KEYS)
    tz = str(raw.get("timezone", "UTC"))
    r.checked(f"{where}, field 'timezone'", zone, tz)
    hours_raw = r.mapping(raw.get("hours") or {}, f"{where}, field 'hours'", _any_keys(raw.get("hours")))
    if not hours_raw:
        raise r.fail(f"{where}, field 'hours'", "expected days and hours such as {mon-fri: '08:00-18:00'}.")
    hours = []
    for days, span in hours_raw.items():
        spans = span if isinstance(span, list) else [span]
        for one in spans:
            start, end = r.checked(f"{where}, hours {days!r}", parse_hours, one)
            hours.append(WeeklyHours(r.checked(f"{where}, hours {days!r}", parse_days, str(days)), start, end))
    holidays = {_date(r, f"{where}, field 'holidays'", d) for d in _list(r, raw.get("holidays"), f"{where}, holidays")}
    if raw.get("holidays_file"):
        holidays |= _holidays_file(r, where, Path(str(raw["holidays_file"])), base)
    return ServiceCalendar(name, tz, tuple(hours), frozenset(holidays))


def _list(r: _Reader, value: Any, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise r.fail(where, f"expected a list; got {type(value).__name__}.")
    return value


def _date(r: _Reader, where: str, value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise r.fail(where, f"expected a date such as 2026-12-25; got {value!r}.") from None


def _holidays_file(r: _Reader, where: str, path: Path, base: Path | None) -> set[date]:
    full = path if path.is_absolute() or base is None else base / path
    try:
        lines = full.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise r.fail(f"{where}, field 'holidays_file'", f"cannot read {full}: {exc.strerror or exc}.") from None
    days = set()
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].split(",", 1)[0].strip()
        if text:
            days.add(_date(r, f"{where}, {full} line {number}", text))
    return days


def _window(r: _Reader, name: str, raw: Any) -> RecurringWindow:
    where = f"maintenance {name!r}"
    raw = r.mapping(raw, where, _WINDOW_KEYS)
    tz = str(raw.get("timezone", "UTC"))
    r.checked(f"{where}, field 'timezone'", zone, tz)
    if "every" in raw:
        if "start" in raw or "end" in raw:
            raise r.fail(where, "a window is either recurring (every + hours) or one-off (start + end), not both.")
        days = r.checked(f"{where}, field 'every'", parse_days, str(raw["every"]))
        start, end = r.checked(f"{where}, field 'hours'", parse_hours, raw.get("hours"))
        return RecurringWindow(name, tz, days, start, end)
    if "start" not in raw or "end" not in raw:
        raise r.fail(where, "expected every + hours (recurring) or start + end (one-off).")
    start, end = (_local_instant(r, f"{where}, field {k!r}", raw[k], tz) for k in ("start", "end"))
    if end <= start:
        raise r.fail(where, "end must come after start.")
    return RecurringWindow(name, tz, at=start, until=end)


def _local_instant(r: _Reader, where: str, value: Any, tz: str) -> int:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise r.fail(where, f"expected a date and time such as 2026-12-12T22:00; got {value!r}.") from None
    if stamp is pd.NaT:
        raise r.fail(where, f"expected a date and time; got {value!r}.")
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(tz, ambiguous=True, nonexistent="shift_forward")
    return int(stamp.tz_convert("UTC").value)


def _sla(r: _Reader, position: int, raw: Any, defaults: Mapping, calendars: dict[str, ServiceCalendar],
         windows: dict[str, RecurringWindow]) -> SlaDefinition:
    raw = r.mapping(raw, f"sla #{position + 1}", _SLA_KEYS)
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise r.fail(f"sla #{position + 1}", "field 'name' must be a non-empty text.")
    where = f"sla {name!r}"
    merged = {**defaults, **raw}
    target = merged.get("target")
    if isinstance(target, bool) or not isinstance(target, int | float) or not math.isfinite(target) or not (
            0 < target < 100):
        raise r.fail(f"{where}, field 'target'", f"expected a percentage strictly between 0 and 100 such as 99.5; "
                     f"got {target!r}.")
    calendar = _ALWAYS
    if "calendar" in merged:
        if merged["calendar"] not in calendars:
            raise r.fail(f"{where}, field 'calendar'", f"no calendar named {merged['calendar']!r} "
                         f"(defined: {', '.join(calendars) or 'none'}).")
        calendar = calendars[merged["calendar"]]
    minimum = timedelta(0)
    if str(merged.get("minimum_outage", "0")).strip() not in _ZERO_DURATIONS:
        minimum = r.checked(f"{where}, field 'minimum_outage'", parse_duration, str(merged["minimum_outage"]),
                            "minimum_outage")
    chosen = []
    for window in _list(r, merged.get("maintenance"), f"{where}, field 'maintenance'"):
        if window not in windows:
            raise r.fail(f"{where}, field 'maintenance'", f"no maintenance window named {window!r} "
                         f"(defined: {', '.join(windows) or 'none'}).")
        chosen.append(windows[window])
    kind, values = _scope(r, where, raw.get("scope", "fleet"))
    rules = SlaRules(float(target), calendar, minimum, tuple(chosen), _degraded(r, where, merged.get("degraded")))
    return SlaDefinition(name.strip(), kind, values, rules, str(raw.get("description", "")))


def _degraded(r: _Reader, where: str, raw: Any) -> DegradedRule | None:
    if raw is None or (isinstance(raw, str) and raw.strip().lower() == "none"):
        return None
    where = f"{where}, field 'degraded'"
    raw = r.mapping(raw, where, _DEGRADED_KEYS)
    try:
        metric = validate_metric_type(raw.get("metric"))
    except ValidationError:
        raise r.fail(where, f"'metric' must be a metric type such as response_time; got {raw.get('metric')!r}."
                     ) from None
    given = [k for k in ("above", "below") if k in raw]
    if len(given) != 1:
        raise r.fail(where, "expected exactly one of 'above' or 'below' with a number in the metric's unit "
                     f"(e.g. above: 500 for 500 ms); got {', '.join(given) or 'neither'}.")
    threshold = raw[given[0]]
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not math.isfinite(threshold):
        raise r.fail(where, f"'{given[0]}' must be a number; got {threshold!r}.")
    every = r.checked(f"{where}, 'every'", parse_duration, str(raw.get("every", "5m")), "every")
    if every < timedelta(seconds=1):  # slots finer than the stores' second precision, and far too many of them
        raise r.fail(where, f"'every' must be at least 1s (a slot such as 1m or 5m); got {raw.get('every')!r}.")
    for key, allowed in (("function", DEGRADED_FUNCTIONS), ("counts_as", COUNTS_AS)):
        if key in raw and raw[key] not in allowed:
            raise r.fail(where, f"'{key}' must be one of {', '.join(allowed)}; got {raw[key]!r}.")
    return DegradedRule(metric, float(threshold), every, given[0], raw.get("function", "mean"),
                        raw.get("counts_as", "degraded"))


def _scope(r: _Reader, where: str, raw: Any) -> tuple[str, tuple[str, ...]]:
    if raw == "fleet":
        return "fleet", ()
    if not isinstance(raw, Mapping) or len(raw) != 1 or next(iter(raw)) not in SCOPE_KINDS[1:]:
        raise r.fail(f"{where}, field 'scope'", "expected fleet, {site: NAME}, {type: NAME} or {equipment: [IDS]}; "
                     f"got {raw!r}.")
    kind, value = next(iter(raw.items()))
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str | int) and str(v).strip() for v in values):
        raise r.fail(f"{where}, field 'scope'", f"{kind} must name at least one {kind}; got {value!r}.")
    return kind, tuple(str(v).strip() for v in values)


def scope_members(definition: SlaDefinition, equipment: pd.DataFrame) -> list[str]:
    """The equipment ids an SLA covers, from the inventory (``location`` is the site)."""
    if definition.scope_kind == "fleet":
        return equipment["equipment_id"].astype(str).tolist()
    if definition.scope_kind == "equipment":
        return list(definition.scope_values)
    column = "location" if definition.scope_kind == "site" else "type"
    chosen = equipment[equipment[column].astype(str).isin(definition.scope_values)]
    return chosen["equipment_id"].astype(str).tolist()
