"""Checking imported rows: times, values, ids and tags, every problem kept with its line.

The rows come as a staged frame: ``time``, ``equipment_id``, ``metric_type``,
``value``, ``_line`` and one column per tag (tag keys start with a letter, so they
never meet ``_line``). Cells are text (CSV), typed (Parquet) or already parsed (line
protocol); each check accepts all three.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ValidationError
from ..schema import (
    AVAILABILITY,
    TIME_MAX,
    TIME_MIN,
    TIME_RANGE_TEXT,
    validate_equipment_id,
    validate_metric_type,
    validate_tag_key,
    validate_tag_value,
)

_OFFSET = r"(?:Z|[+-]\d\d:?\d\d)$"
#: Epoch units, in the order of the magnitudes that tell them apart.
_EPOCH_UNITS = ("s", "ms", "us", "ns")
#: Below this many nanoseconds (in magnitude) an epoch number fits int64 with room to spare.
_INT64_SAFE = 9.22e18
_NS_FIRST, _NS_LAST = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
_NS_FIRST_NAIVE, _NS_LAST_NAIVE = pd.Timestamp.min, pd.Timestamp.max
_OUT_OF_RANGE = f"is outside the time range vigileos stores: {TIME_RANGE_TEXT}"


def check_rows(staged: pd.DataFrame, tags: Sequence[str], *, timezone: str = "UTC", time_format: str | None = None,
               dayfirst: bool = False) -> tuple[pd.DataFrame, list[tuple[int, str]], int]:
    """The points frame (with ``_line``), the problems found as (line, reason), and how
    many times had no offset (read in ``timezone``). The epoch units the times were read
    in (unit to count, see :func:`parse_times`) are in ``frame.attrs["epoch_units"]``."""
    problems: list[tuple[int, str]] = []
    lines = staged["_line"].to_numpy()

    def flag(mask: np.ndarray, reasons: pd.Series | str) -> None:
        shown = reasons[mask].tolist() if isinstance(reasons, pd.Series) else [reasons] * int(mask.sum())
        problems.extend(zip(lines[mask].tolist(), shown, strict=True))

    parsed = parse_times(staged["time"], timezone=timezone, time_format=time_format, dayfirst=dayfirst)
    times, shown_times = parsed.times, staged["time"].map(_shown)
    flag(parsed.beyond, "time " + shown_times + " " + _OUT_OF_RANGE)
    flag(times.isna().to_numpy() & ~parsed.beyond, "unreadable time " + shown_times)
    flag((times.notna() & ((times < TIME_MIN) | (times >= TIME_MAX))).to_numpy(),
         "time " + shown_times + " " + _OUT_OF_RANGE)
    values = _numbers(staged["value"])
    flag(~np.isfinite(values), "value " + staged["value"].map(_shown) + " is not a finite number")
    metric_types = _text(staged["metric_type"]).to_numpy()
    flag((metric_types == AVAILABILITY) & np.isfinite(values) & (values != 0) & (values != 1),
         "availability " + staged["value"].map(_shown) + " must be 1 (available) or 0 (unavailable)")
    frame = pd.DataFrame({"time": times.to_numpy(), "equipment_id": _text(staged["equipment_id"]).to_numpy(),
                          "metric_type": metric_types, "value": values, "_line": lines})
    checks: list[tuple[str, Callable[[str], object]]] = [("equipment_id", validate_equipment_id),
                                                          ("metric_type", validate_metric_type)]
    for tag in tags:
        frame[tag] = _text(staged[tag]).replace("", None).to_numpy()
        try:
            validate_tag_key(tag)
        except ValidationError as exc:
            flag(frame[tag].notna().to_numpy(), str(exc))
            continue
        checks.append((tag, partial(validate_tag_value, tag)))
    for column, check in checks:
        # An absent tag (None) is no tag, not an invalid tag value.
        invalid = _invalid_values(frame[column].dropna(), check)
        if invalid:
            flag(frame[column].isin(list(invalid)).to_numpy(), frame[column].map(invalid))
    frame.attrs["epoch_units"] = parsed.units
    return frame, problems, parsed.naive


def _shown(value: Any) -> str:
    return repr(value if isinstance(value, str) else str(value))


def _text(column: pd.Series) -> pd.Series:
    """Cells as text; a missing cell is ''."""
    if column.dtype == object and column.map(lambda v: isinstance(v, str) or v is None).all():
        return column.fillna("")
    return column.astype(object).where(column.notna(), "").astype(str)


def _numbers(column: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype="float64", na_value=np.nan)
    return pd.to_numeric(_text(column).str.strip(), errors="coerce").to_numpy(dtype="float64")


def _invalid_values(column: pd.Series, check: Callable[[str], object]) -> dict[str, str]:
    invalid = {}
    for value in column.unique():
        try:
            check(value)
        except ValidationError as exc:
            invalid[value] = str(exc)
    return invalid


@dataclass(frozen=True)
class ParsedTimes:
    """``times`` as datetime64[ns, UTC] (NaT where unreadable or beyond what nanoseconds
    hold), how many were ``naive`` (read in the import's zone), which were ``beyond``
    the nanosecond range (readable, but far out of range), and the epoch ``units`` used
    (unit name to count of values)."""

    times: pd.Series
    naive: int
    beyond: np.ndarray
    units: dict[str, int] = field(default_factory=dict)


def parse_times(column: pd.Series, *, timezone: str = "UTC", time_format: str | None = None,
                dayfirst: bool = False) -> ParsedTimes:
    """Times to UTC nanoseconds (see :class:`ParsedTimes`). Text is ISO 8601, day-first dates,
    ``time_format`` or epoch numbers (each number's unit told apart by its own magnitude:
    seconds below 1e11, milliseconds below 1e14, microseconds below 1e17, else nanoseconds);
    typed datetimes keep their zone, naive ones are in ``timezone``."""
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return _typed_times(column.dt.tz_convert("UTC"), 0)
    if pd.api.types.is_datetime64_dtype(column):
        return _typed_times(_localize(column, timezone), int(column.notna().sum()))
    text = _text(column).str.strip()
    given = text != ""
    numbers = pd.to_numeric(text, errors="coerce")  # '' is NaN
    if time_format is None and given.any() and (numbers.notna() | ~given).all():
        return _epoch_times(text, numbers)
    kwargs: dict[str, Any] = {"format": time_format} if time_format else {"format": "mixed", "dayfirst": dayfirst}
    with_offset = text.str.contains(_OFFSET, regex=True)
    naive = ~with_offset & given
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    beyond = pd.Series(False, index=text.index)
    for mask, local in ((with_offset, False), (naive, True)):
        if mask.any():
            part, part_beyond = _text_times(text[mask], local, timezone, time_format, kwargs)
            parsed[mask], beyond[mask] = part, part_beyond
    return ParsedTimes(parsed, int((naive & parsed.notna()).sum()), beyond.to_numpy(dtype=bool))


def _typed_times(column: pd.Series, naive: int) -> ParsedTimes:
    beyond = (column.notna() & ((column < _NS_FIRST) | (column > _NS_LAST))).to_numpy(dtype=bool)
    times = column.where(~beyond).astype("datetime64[ns, UTC]")
    return ParsedTimes(times.reset_index(drop=True).set_axis(column.index), naive, beyond)


def _epoch_times(text: pd.Series, numbers: pd.Series) -> ParsedTimes:
    """Epoch numbers to nanoseconds, each in the unit its magnitude says; integers exactly."""
    values = numbers.to_numpy(dtype="float64", na_value=np.nan)
    magnitude = np.abs(values)
    unit = np.select([magnitude < 1e11, magnitude < 1e14, magnitude < 1e17], [0, 1, 2], 3)
    factor = np.array([10**9, 10**6, 10**3, 1], dtype="int64")[unit]
    approx = values * factor
    readable = np.isfinite(approx)
    beyond = readable & ~(np.abs(approx) < _INT64_SAFE)
    ok = readable & ~beyond
    ns = np.zeros(len(text), dtype="int64")
    # int64 arithmetic for whole numbers: a float would round 19-digit nanoseconds
    if pd.api.types.is_integer_dtype(numbers.dtype):
        whole = ok
        ns[whole] = numbers.to_numpy(dtype="int64")[whole] * factor[whole]
    else:
        whole = ok & text.str.fullmatch(r"[-+]?\d{1,19}").to_numpy(dtype=bool)
        if whole.any():
            ns[whole] = pd.to_numeric(text[whole]).to_numpy(dtype="int64") * factor[whole]
    fraction = ok & ~whole
    ns[fraction] = np.round(approx[fraction]).astype("int64")
    times = pd.Series(pd.to_datetime(ns, unit="ns", utc=True), index=text.index)
    times[~ok] = pd.NaT
    counts = np.bincount(unit[readable], minlength=len(_EPOCH_UNITS))
    units = {name: int(count) for name, count in zip(_EPOCH_UNITS, counts, strict=True) if count}
    return ParsedTimes(times, 0, beyond, units)


def _text_times(text: pd.Series, local: bool, timezone: str, time_format: str | None,
                kwargs: dict[str, Any]) -> tuple[pd.Series, np.ndarray]:
    """Dates written as text, whole-column; one distinct value at a time only when the
    column holds a date nanoseconds cannot (pandas then refuses the whole column)."""
    try:
        return _text_column(text, local, timezone, kwargs), np.zeros(len(text), dtype=bool)
    except (ValueError, TypeError, OverflowError) as exc:
        failure = exc
    parsed: dict[str, Any] = {}
    beyond: dict[str, bool] = {}
    for value in text.unique():
        try:
            stamp = pd.to_datetime(pd.Series([value]), errors="raise", **kwargs).iloc[0]
        except (ValueError, TypeError, OverflowError):
            parsed[value], beyond[value] = pd.NaT, False
            continue
        beyond[value] = bool(not pd.isna(stamp) and not _NS_FIRST_NAIVE <= stamp.tz_localize(None) <= _NS_LAST_NAIVE)
        parsed[value] = pd.NaT if beyond[value] else stamp
    if time_format and not any(beyond.values()) and all(pd.isna(v) for v in parsed.values()):
        raise ValidationError(f"timestamps could not be read with format {time_format!r}: {failure}",
                              field="time_format", value=time_format) from failure
    readable = text[~text.map(beyond).to_numpy(dtype=bool)]
    times = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    if len(readable):
        try:
            times[readable.index] = _text_column(readable, local, timezone, kwargs)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ValidationError(f"timestamps could not be read: {exc}", field="time", value=time_format) from exc
    return times, text.map(beyond).to_numpy(dtype=bool)


def _text_column(text: pd.Series, local: bool, timezone: str, kwargs: dict[str, Any]) -> pd.Series:
    if not local:
        return pd.to_datetime(text, utc=True, errors="coerce", **kwargs).astype("datetime64[ns, UTC]")
    parsed = pd.to_datetime(text, errors="coerce", **kwargs)
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return parsed.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    return _localize(parsed, timezone).astype("datetime64[ns, UTC]")


def _localize(column: pd.Series, timezone: str) -> pd.Series:
    return column.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
