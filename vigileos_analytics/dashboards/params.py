"""What a dashboard page is asked for: URL query parameters, environment, time ranges.

Voila hands the page's query string to the kernel (``QUERY_STRING``, or
``voila.utils.get_query_string()`` with preheated kernels). Recognised parameters:

==============  ===================================================================
``lang``        ``en`` (default) or ``fr``
``equipment_id`` the equipment shown by the detail page
``range``       ``24h`` (default), ``7d``, ``30d`` or ``custom`` (with ``start``/``end``)
``start``/``end`` dates (``2024-01-01``) or times with offset for a custom range
``refresh``     auto-refresh interval in seconds (default ``VIGILEOS_DASHBOARD_REFRESH``
                or 30; ``0`` turns auto-refresh off)
``now``         pin the end of relative ranges to this UTC time (demos, tests);
                default: the wall clock at every refresh
==============  ===================================================================

The query string is read by the package's one set of URL option rules
(:mod:`vigileos_analytics.urloptions`); options the page does not know are ignored
(Voila and the Jupyter server add their own). Malformed values never break a page:
they fall back to the default and the reason is kept in :attr:`PageParams.problems`
for the page to show.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pandas as pd

from ..config import read_setting, setting_default, setting_spec
from ..errors import ConfigurationError, ValidationError
from ..i18n import DEFAULT_LANGUAGE, LANGUAGES
from ..urloptions import URLOptions, read_url_options

RANGES: dict[str, timedelta] = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
RANGE_KEYS = (*RANGES, "custom")
DEFAULT_RANGE = "24h"
DEFAULT_REFRESH_S: float = setting_default("dashboard_refresh")


@dataclass(frozen=True)
class TimeRange:
    """A half-open UTC period [start, end) with the picker key that made it."""

    start: datetime
    end: datetime
    key: str = DEFAULT_RANGE

    @property
    def length(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True)
class PageParams:
    """The parsed request of one page; see the module docstring for each field."""

    lang: str = DEFAULT_LANGUAGE
    equipment_id: str | None = None
    range_key: str = DEFAULT_RANGE
    custom_start: date | None = None
    custom_end: date | None = None
    refresh_s: float = DEFAULT_REFRESH_S
    now: datetime | None = None
    problems: tuple[str, ...] = field(default_factory=tuple)


def _first(query: URLOptions, name: str) -> str | None:
    return query.get(name)


def _parse_time(text: str) -> datetime:
    stamp = pd.Timestamp(text)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


def _refresh_seconds(text: str | None, environ: Mapping[str, str] | None) -> tuple[float, str | None]:
    """``?refresh=`` if given, else the ``dashboard_refresh`` setting; a malformed value
    gives the default and the reason."""
    try:
        if text is None:
            return read_setting("dashboard_refresh", environ), None
        return setting_spec("dashboard_refresh").parse(text, "refresh"), None
    except (ConfigurationError, ValidationError) as exc:
        return DEFAULT_REFRESH_S, f"{exc} Using {DEFAULT_REFRESH_S:g}."


def parse_params(query_string: str | None, environ: Mapping[str, str] | None = None) -> PageParams:
    """Read a page's request from its URL query string (and ``VIGILEOS_DASHBOARD_REFRESH``)."""
    query = read_url_options(query_string, source="the page's address")
    problems: list[str] = list(query.problems)
    lang = (_first(query, "lang") or DEFAULT_LANGUAGE).lower()[:2]
    if lang not in LANGUAGES:
        problems.append(f"lang must be one of {', '.join(LANGUAGES)}; got {lang!r}. Showing English.")
        lang = DEFAULT_LANGUAGE
    range_key = _first(query, "range") or DEFAULT_RANGE
    if range_key not in RANGE_KEYS:
        problems.append(f"range must be one of {', '.join(RANGE_KEYS)}; got {range_key!r}. Showing {DEFAULT_RANGE}.")
        range_key = DEFAULT_RANGE
    custom: dict[str, date | None] = {"start": None, "end": None}
    for name in custom:
        text = _first(query, name)
        if text:
            try:
                custom[name] = _parse_time(text).date()
            except (ValueError, TypeError):
                problems.append(f"{name} must be a date such as 2024-01-31; got {text!r}. Ignored.")
    if range_key == "custom" and not (custom["start"] and custom["end"]):
        range_key = DEFAULT_RANGE
    refresh_s, problem = _refresh_seconds(_first(query, "refresh"), environ)
    if problem:
        problems.append(problem)
    now = None
    if (now_text := _first(query, "now")) is not None:
        try:
            now = _parse_time(now_text)
        except (ValueError, TypeError):
            problems.append(f"now must be a time such as 2024-02-01T00:00Z; got {now_text!r}. Using the clock.")
    return PageParams(lang=lang, equipment_id=_first(query, "equipment_id"), range_key=range_key,
                      custom_start=custom["start"], custom_end=custom["end"], refresh_s=refresh_s, now=now,
                      problems=tuple(problems))


def resolve_range(key: str, now: datetime, custom_start: date | None = None,
                  custom_end: date | None = None) -> TimeRange:
    """The period for a picker choice. Relative ranges end at ``now`` (UTC); a custom
    range runs from ``custom_start`` 00:00 UTC to the end of ``custom_end`` (inclusive)."""
    if key in RANGES:
        return TimeRange(now - RANGES[key], now, key)
    if key != "custom":
        raise ValidationError(f"range must be one of {', '.join(RANGE_KEYS)}; got {key!r}.", field="range", value=key)
    if custom_start is None or custom_end is None:
        raise ValidationError("a custom range needs both a start date and an end date.", field="range",
                              value=(custom_start, custom_end))
    start = datetime.combine(custom_start, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(custom_end, datetime.min.time(), tzinfo=UTC) + timedelta(days=1)
    if end <= start:
        raise ValidationError(f"the custom range must end after it starts; got {custom_start} to {custom_end}.",
                              field="range", value=(custom_start, custom_end))
    return TimeRange(start, end, key)


def read_query_string() -> str:
    """The page's query string inside a Voila kernel (waits for it when the kernel
    was preheated); empty outside Voila."""
    try:
        from voila.utils import get_query_string
    except ImportError:  # pragma: no cover - voila is a dependency
        return os.environ.get("QUERY_STRING", "")
    return get_query_string() or ""
