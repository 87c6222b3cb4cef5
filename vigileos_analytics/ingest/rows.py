"""Checking imported rows: times, values, ids and tags, every problem kept with its line.

The rows come as a staged frame: ``time``, ``equipment_id``, ``metric_type``,
``value``, ``_line`` and one column per tag (tag keys start with a letter, so they
never meet ``_line``). Cells are text (CSV), typed (Parquet) or already parsed (line
protocol); each check accepts all three.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ValidationError
from ..schema import validate_equipment_id, validate_metric_type, validate_tag_key, validate_tag_value

_OFFSET = r"(?:Z|[+-]\d\d:?\d\d)$"


def check_rows(staged: pd.DataFrame, tags: Sequence[str], *, timezone: str = "UTC", time_format: str | None = None,
               dayfirst: bool = False) -> tuple[pd.DataFrame, list[tuple[int, str]], int]:
    """The points frame (with ``_line``), the problems found as (line, reason), and how
    many times had no offset (read in ``timezone``)."""
    problems: list[tuple[int, str]] = []
    lines = staged["_line"].to_numpy()

    def flag(mask: np.ndarray, reasons: pd.Series | str) -> None:
        shown = reasons[mask].tolist() if isinstance(reasons, pd.Series) else [reasons] * int(mask.sum())
        problems.extend(zip(lines[mask].tolist(), shown, strict=True))

    times, naive = parse_times(staged["time"], timezone=timezone, time_format=time_format, dayfirst=dayfirst)
    flag(times.isna().to_numpy(), "unreadable time " + staged["time"].map(_shown))
    values = _numbers(staged["value"])
    flag(~np.isfinite(values), "value " + staged["value"].map(_shown) + " is not a finite number")
    frame = pd.DataFrame({"time": times.to_numpy(), "equipment_id": _text(staged["equipment_id"]).to_numpy(),
                          "metric_type": _text(staged["metric_type"]).to_numpy(), "value": values, "_line": lines})
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
    return frame, problems, naive


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


def parse_times(column: pd.Series, *, timezone: str = "UTC", time_format: str | None = None,
                dayfirst: bool = False) -> tuple[pd.Series, int]:
    """Times to UTC (unreadable ones NaT), and how many were read in ``timezone`` for lack
    of an offset. Text is ISO 8601, day-first dates, ``time_format`` or epoch numbers
    (seconds, ms, us or ns, told apart by the largest magnitude); typed datetimes keep
    their zone, naive ones are in ``timezone``."""
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return column.dt.tz_convert("UTC"), 0
    if pd.api.types.is_datetime64_dtype(column):
        return _localize(column, timezone), int(column.notna().sum())
    text = _text(column).str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    if time_format is None and len(text) and numbers.notna().all():
        magnitude = numbers.abs().max()
        unit = "s" if magnitude < 1e11 else "ms" if magnitude < 1e14 else "us" if magnitude < 1e17 else "ns"
        return pd.to_datetime(numbers, unit=unit, utc=True, errors="coerce"), 0
    kwargs: dict[str, Any] = {"format": time_format} if time_format else {"format": "mixed", "dayfirst": dayfirst}
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    with_offset = text.str.contains(_OFFSET, regex=True)
    naive = ~with_offset & (text != "")
    try:
        if with_offset.any():
            parsed[with_offset] = pd.to_datetime(text[with_offset], utc=True, errors="coerce", **kwargs)
        if naive.any():
            local = pd.to_datetime(text[naive], errors="coerce", **kwargs)
            parsed[naive] = (local.dt.tz_convert("UTC") if isinstance(local.dtype, pd.DatetimeTZDtype)
                             else _localize(local, timezone))
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValidationError(f"timestamps could not be read with format {time_format!r}: {exc}",
                              field="time_format", value=time_format) from exc
    return parsed, int((naive & parsed.notna()).sum())


def _localize(column: pd.Series, timezone: str) -> pd.Series:
    return column.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
