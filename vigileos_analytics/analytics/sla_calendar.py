"""Calendars for SLAs: service hours, recurring and one-off maintenance windows, and
calendar periods, all read in a named time zone and returned as UTC nanoseconds.

Rules:

- a weekly rule ``mon-fri: "08:00-18:00"`` opens the service on those local days at
  those local times; ``"00:00-24:00"`` is the whole day; an end earlier than the
  start crosses midnight and ends on the next local day;
- a holiday is a local date: windows that *start* on it are dropped;
- local times are converted with the zone's rules of that day: a start in the hour a
  DST change skips moves forward to the first existing instant, a start in the hour
  that repeats takes the first occurrence and an end the second, so a window is never
  shorter than the clock says;
- a period (day, week, month, quarter, year) starts at local midnight of its first
  day: a month in Europe/Paris starts at 23:00 UTC in winter and 22:00 UTC in summer.

Everything is vectorized over days; nothing loops over windows in Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from ..errors import ValidationError

__all__ = [
    "DAY_NAMES",
    "PERIOD_KINDS",
    "WeeklyHours",
    "ServiceCalendar",
    "RecurringWindow",
    "parse_days",
    "parse_hours",
    "zone",
    "local_windows",
    "period_bounds",
    "merge_intervals",
]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PERIOD_KINDS = ("day", "week", "month", "quarter", "year")
_HOURS_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
NS_PER_DAY = 86_400 * 10**9


def zone(name: str, field_name: str = "timezone") -> ZoneInfo:
    """The IANA time zone ``name`` (``Europe/Paris``), or a ValidationError naming the field."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"{field_name}: expected an IANA time zone such as Europe/Paris; got {name!r}.",
                              field=field_name, value=name)
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"{field_name}: unknown time zone {name!r} (expected an IANA name such as "
                              "Europe/Paris or UTC).", field=field_name, value=name) from exc


def parse_days(text: str, field_name: str = "days") -> tuple[int, ...]:
    """``"mon-fri"``, ``"sat,sun"``, ``"daily"`` or ``"sunday"`` as weekday numbers (Monday 0)."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(f"{field_name}: expected days such as mon-fri, sat,sun or daily; got {text!r}.",
                              field=field_name, value=text)
    days: list[int] = []
    for part in text.lower().replace(" ", "").split(","):
        if part in ("daily", "everyday", "mon-sun"):
            days.extend(range(7))
            continue
        ends = part.split("-")
        if len(ends) > 2 or not all(_day_number(e) is not None for e in ends):
            raise ValidationError(f"{field_name}: {part!r} is not a day or a day range (mon, tue, ... sun; "
                                  "mon-fri; daily).", field=field_name, value=text)
        first, last = (_day_number(e) for e in (ends[0], ends[-1]))
        assert first is not None and last is not None
        days.extend((first + k) % 7 for k in range((last - first) % 7 + 1))
    return tuple(sorted(set(days)))


_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _day_number(name: str) -> int | None:
    for number, (short, full) in enumerate(zip(DAY_NAMES, _FULL_DAY_NAMES, strict=True)):
        if name in (short, full):
            return number
    return None


def parse_hours(text: str, field_name: str = "hours") -> tuple[timedelta, timedelta]:
    """``"08:00-18:00"`` as (start, end) offsets from local midnight; an end at or before
    the start crosses midnight (``"22:00-02:00"``), ``"00:00-24:00"`` is the whole day."""
    match = _HOURS_RE.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValidationError(f"{field_name}: expected HH:MM-HH:MM such as 08:00-18:00; got {text!r}.",
                              field=field_name, value=text)
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise ValidationError(f"{field_name}: {text!r} is not a time range within a day (00:00 to 24:00).",
                              field=field_name, value=text)
    start, end = timedelta(hours=h1, minutes=m1), timedelta(hours=h2, minutes=m2)
    if end == start:
        raise ValidationError(f"{field_name}: {text!r} is empty (start equals end); for the whole day write "
                              "00:00-24:00.", field=field_name, value=text)
    if end < start:
        end += timedelta(days=1)
    return start, end


@dataclass(frozen=True)
class WeeklyHours:
    """Local hours on some weekdays: ``days`` (Monday 0) from ``start`` to ``end`` after midnight."""

    days: tuple[int, ...]
    start: timedelta
    end: timedelta


@dataclass(frozen=True)
class ServiceCalendar:
    """When the service is due: weekly hours in a time zone, minus holidays (local dates)."""

    name: str
    timezone: str = "UTC"
    hours: tuple[WeeklyHours, ...] = (WeeklyHours(tuple(range(7)), timedelta(0), timedelta(days=1)),)
    holidays: frozenset[date] = field(default_factory=frozenset)

    def windows(self, start_ns: int, end_ns: int) -> tuple[np.ndarray, np.ndarray]:
        """Service windows clipped to [start_ns, end_ns), merged, as UTC ns arrays."""
        parts = [local_windows(self.timezone, rule.days, rule.start, rule.end, start_ns, end_ns, self.holidays)
                 for rule in self.hours]
        return merge_intervals(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                               start_ns, end_ns)


@dataclass(frozen=True)
class RecurringWindow:
    """A maintenance window: recurring on ``days`` from ``start`` to ``end`` local time,
    or one-off from ``at`` to ``until`` (UTC ns) when those are set."""

    name: str
    timezone: str = "UTC"
    days: tuple[int, ...] = ()
    start: timedelta = timedelta(0)
    end: timedelta = timedelta(0)
    at: int | None = None
    until: int | None = None

    def windows(self, start_ns: int, end_ns: int) -> tuple[np.ndarray, np.ndarray]:
        if self.at is not None and self.until is not None:
            lo, hi = max(self.at, start_ns), min(self.until, end_ns)
            return (np.array([lo], "int64"), np.array([hi], "int64")) if hi > lo else _no_windows()
        return merge_intervals(*local_windows(self.timezone, self.days, self.start, self.end, start_ns, end_ns),
                               start_ns, end_ns)


def _no_windows() -> tuple[np.ndarray, np.ndarray]:
    return np.empty(0, "int64"), np.empty(0, "int64")


def local_windows(tz_name: str, days: tuple[int, ...], start: timedelta, end: timedelta, start_ns: int,
                  end_ns: int, holidays: frozenset[date] = frozenset()) -> tuple[np.ndarray, np.ndarray]:
    """Windows opening on each local day in ``days`` at ``start`` and closing at ``end``
    (offsets from that day's local midnight), that overlap [start_ns, end_ns); UTC ns."""
    tz = zone(tz_name)
    if end_ns <= start_ns or not days:
        return _no_windows()
    # One day of margin each side: a window that opened the local day before can reach in.
    first = pd.Timestamp(start_ns, tz="UTC").tz_convert(tz).normalize().tz_localize(None) - pd.Timedelta(days=2)
    last = pd.Timestamp(end_ns, tz="UTC").tz_convert(tz).normalize().tz_localize(None) + pd.Timedelta(days=1)
    local_days = pd.date_range(first, last, freq="D")
    keep = np.isin(local_days.day_of_week, days)
    if holidays:
        keep &= ~np.isin(local_days.date, np.array(sorted(holidays), dtype=object))
    local_days = local_days[keep]
    opens = _localize(local_days + pd.Timedelta(start), tz, first_occurrence=True)
    closes = _localize(local_days + pd.Timedelta(end), tz, first_occurrence=False)
    lo, hi = np.maximum(opens, start_ns), np.minimum(closes, end_ns)
    overlap = hi > lo
    return lo[overlap], hi[overlap]


def _localize(local: pd.DatetimeIndex, tz: ZoneInfo, *, first_occurrence: bool) -> np.ndarray:
    ambiguous = np.full(len(local), first_occurrence)
    stamped = local.tz_localize(tz, ambiguous=ambiguous, nonexistent="shift_forward")
    return stamped.tz_convert("UTC").asi8


def merge_intervals(starts: np.ndarray, ends: np.ndarray, lo: int | None = None,
                    hi: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sorted, disjoint union of [start, end) intervals, clipped to [lo, hi) when given."""
    starts = np.asarray(starts, "int64")
    ends = np.asarray(ends, "int64")
    if lo is not None:
        starts = np.maximum(starts, lo)
    if hi is not None:
        ends = np.minimum(ends, hi)
    keep = ends > starts
    starts, ends = starts[keep], ends[keep]
    if not len(starts):
        return _no_windows()
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    running_end = np.maximum.accumulate(ends)
    new = np.ones(len(starts), bool)
    new[1:] = starts[1:] > running_end[:-1]
    return starts[new], np.maximum.reduceat(ends, np.flatnonzero(new))


def period_bounds(kind: str, at: datetime, tz_name: str) -> tuple[datetime, datetime]:
    """The calendar period of ``kind`` containing ``at``, in zone ``tz_name``, as UTC datetimes."""
    if kind not in PERIOD_KINDS:
        raise ValidationError(f"period: expected one of {', '.join(PERIOD_KINDS)}; got {kind!r}.",
                              field="period", value=kind)
    tz = zone(tz_name)
    local = at.astimezone(tz).date()
    if kind == "day":
        first, nxt = local, local + timedelta(days=1)
    elif kind == "week":
        first = local - timedelta(days=local.weekday())
        nxt = first + timedelta(days=7)
    elif kind == "month":
        first = local.replace(day=1)
        nxt = (first + timedelta(days=32)).replace(day=1)
    elif kind == "quarter":
        first = local.replace(month=3 * ((local.month - 1) // 3) + 1, day=1)
        nxt = (first + timedelta(days=95)).replace(day=1)
    else:
        first = local.replace(month=1, day=1)
        nxt = first.replace(year=first.year + 1)
    return _midnight(first, tz), _midnight(nxt, tz)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    stamp = pd.Timestamp(datetime.combine(day, time())).tz_localize(tz, ambiguous=True, nonexistent="shift_forward")
    return stamp.tz_convert("UTC").to_pydatetime()
