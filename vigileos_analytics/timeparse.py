"""Reading times and durations written as text (command line, CSV, parameter files).

Text without a UTC offset is read in the zone given by ``tz`` (UTC unless the user
names another); text with an offset keeps it. Both end as UTC datetimes, within the
time range every store holds (see :mod:`vigileos_analytics.schema`): a time outside it
is refused here, where the user typed it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .errors import ValidationError

if TYPE_CHECKING:
    import pandas as pd

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d|w)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | timedelta, field: str = "duration") -> timedelta:
    """'90s', '15m', '1h', '7d', '2w' (or a timedelta) to a positive timedelta."""
    if isinstance(text, timedelta):
        duration = text
    else:
        match = _DURATION_RE.match(str(text))
        if not match:
            raise ValidationError(
                f"{field} must be a number followed by ms, s, m, h, d or w (e.g. '15m', '7d'); got {text!r}.",
                field=field,
                value=text,
            )
        try:
            duration = timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
        except OverflowError as exc:
            raise ValidationError(f"{field} is too long; got {text!r}.", field=field, value=text) from exc
    if duration <= timedelta(0):
        raise ValidationError(f"{field} must be positive; got {text!r}.", field=field, value=text)
    return duration


def parse_time_text(text: str | datetime, tz: str = "UTC", now: datetime | None = None,
                    field: str = "time") -> datetime:
    """Parse an ISO-like timestamp, 'now', or 'now-7d' style text to an aware UTC datetime.

    Text without an offset is interpreted in ``tz``. The result lies in
    [``TIME_MIN``, ``TIME_MAX``]: the end of the stored range is a valid period end.
    """
    import pandas as pd

    from .schema import TIME_MAX, TIME_MIN, TIME_RANGE_TEXT

    stamp = _parse_stamp(text, tz, now, field)
    # Compared as Timestamps: a datetime cannot hold every year pandas parses.
    if not pd.Timestamp(TIME_MIN) <= stamp <= pd.Timestamp(TIME_MAX):
        raise ValidationError(f"{field} {stamp.isoformat()} is outside the time range vigileos stores: "
                              f"{TIME_RANGE_TEXT}.", field=field, value=text)
    return stamp.tz_convert("UTC").to_pydatetime()


def _parse_stamp(text: str | datetime, tz: str, now: datetime | None, field: str) -> pd.Timestamp:
    import pandas as pd  # here, not at the top: settings and the CLI parse durations without pandas

    if isinstance(text, datetime):
        stamp = pd.Timestamp(text)
    else:
        raw = str(text).strip()
        relative = re.match(r"^now\s*(?:([+-])\s*(.+))?$", raw)
        if relative:
            base = pd.Timestamp(now) if now is not None else pd.Timestamp.now(tz="UTC")
            if relative.group(1):
                delta = parse_duration(relative.group(2), field)
                base = base + delta if relative.group(1) == "+" else base - delta
            return base.tz_convert("UTC")
        try:
            stamp = pd.Timestamp(raw)
        except (ValueError, TypeError) as exc:
            raise ValidationError(
                f"{field} must be a date or time such as 2024-01-31, '2024-01-31T12:00:00+01:00' "
                f"or 'now-7d'; got {text!r}.",
                field=field,
                value=text,
            ) from exc
    if pd.isna(stamp):
        raise ValidationError(f"{field} is empty; got {text!r}.", field=field, value=text)
    if stamp.tzinfo is None:
        try:
            stamp = stamp.tz_localize(tz)
        except Exception as exc:  # unknown zone names come from the user
            raise ValidationError(f"unknown time zone {tz!r}.", field="timezone", value=tz) from exc
    return stamp.tz_convert("UTC")
