"""Importing metrics from CSV files, in long or wide form.

- long: one row per point, with columns for time, equipment id, metric type, value
  and optional tags;
- wide: one row per instant, one column per metric (the equipment id from a column
  or given once for the whole file).

Timestamps may be ISO 8601 (with or without offset), day-first dates such as
``31/01/2024 14:00`` (``dayfirst=True``), an explicit strftime format, or epoch
numbers (seconds, milliseconds, microseconds or nanoseconds, told apart by size).
Text without an offset is read in ``timezone`` (UTC by default).

Bad rows are reported by line number (the header is line 1); with
``on_error="skip"`` they are left out and counted, with ``"refuse"`` (default)
nothing is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ValidationError
from ..schema import validate_equipment_id, validate_metric_type, validate_tag_key, validate_tag_value

_MAX_REPORTED = 20


@dataclass(frozen=True)
class CsvMapping:
    """Which CSV columns hold what. ``metric_columns`` (wide form) default to every
    column that is not time, equipment or tag."""

    layout: str = "long"
    time: str = "time"
    equipment_id: str = "equipment_id"
    metric_type: str = "metric_type"
    value: str = "value"
    tags: tuple[str, ...] = ()
    metric_columns: tuple[str, ...] | None = None
    fixed_equipment_id: str | None = None
    timezone: str = "UTC"
    time_format: str | None = None
    dayfirst: bool = False

    def __post_init__(self) -> None:
        if self.layout not in ("long", "wide"):
            raise ValidationError(f"layout must be 'long' or 'wide'; got {self.layout!r}.", field="layout",
                                  value=self.layout)
        for tag in self.tags:
            validate_tag_key(tag)
        if self.fixed_equipment_id is not None:
            validate_equipment_id(self.fixed_equipment_id)


@dataclass(frozen=True)
class ImportResult:
    """Points ready to write, and the rows that were refused (line, reason)."""

    frame: pd.DataFrame
    bad_rows: pd.DataFrame
    total_rows: int


def read_metrics_csv(path: str | Path, mapping: CsvMapping = CsvMapping(), on_error: str = "refuse") -> ImportResult:
    """Read and validate a metrics CSV into a points frame (see module docstring)."""
    if on_error not in ("refuse", "skip"):
        raise ValidationError(f"on_error must be 'refuse' or 'skip'; got {on_error!r}.", field="on_error",
                              value=on_error)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError as exc:
        raise ValidationError(f"No such file: {path}.", field="path", value=str(path)) from exc
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise ValidationError(f"{path} is not a readable CSV file: {exc}", field="path", value=str(path)) from exc
    _require_columns(raw, mapping, path)
    long = _to_long(raw, mapping)
    frame, problems = _validate_rows(long, mapping)
    bad = pd.DataFrame(problems, columns=["line", "reason"]).drop_duplicates("line").sort_values("line")
    if not bad.empty and on_error == "refuse":
        shown = "; ".join(f"line {line}: {reason}" for line, reason in bad.head(_MAX_REPORTED).itertuples(index=False))
        more = f" (and {len(bad) - _MAX_REPORTED} more)" if len(bad) > _MAX_REPORTED else ""
        raise ValidationError(
            f"{path}: {len(bad)} bad row(s), nothing imported: {shown}{more}. "
            "Fix them, or import the good rows with --skip-bad-rows.", field="rows", value=bad)
    good = frame[~frame["line"].isin(bad["line"])].drop(columns="line").reset_index(drop=True)
    return ImportResult(good, bad.reset_index(drop=True), len(raw))


def _require_columns(raw: pd.DataFrame, mapping: CsvMapping, path) -> None:
    needed = [mapping.time, *mapping.tags]
    if mapping.fixed_equipment_id is None:
        needed.append(mapping.equipment_id)
    if mapping.layout == "long":
        needed += [mapping.metric_type, mapping.value]
    elif mapping.metric_columns:
        needed += list(mapping.metric_columns)
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        raise ValidationError(f"{path} lacks the column(s) {missing}; it has {list(raw.columns)}. "
                              "Name the right ones with the column options.", field="columns", value=missing)


def _to_long(raw: pd.DataFrame, m: CsvMapping) -> pd.DataFrame:
    raw = raw.assign(_line=np.arange(2, len(raw) + 2))
    if m.fixed_equipment_id is not None:
        raw = raw.assign(**{m.equipment_id: m.fixed_equipment_id})
    keep = {m.time: "time", m.equipment_id: "equipment_id", "_line": "line", **{t: t for t in m.tags}}
    if m.layout == "long":
        keep.update({m.metric_type: "metric_type", m.value: "value"})
        return raw[list(keep)].rename(columns=keep)
    metrics = list(m.metric_columns or [c for c in raw.columns if c not in keep])
    long = raw.melt(id_vars=list(keep), value_vars=metrics, var_name="metric_type", value_name="value")
    long = long.rename(columns=keep)
    return long[long["value"].str.strip() != ""]  # an empty cell in wide form is simply no point


def _validate_rows(long: pd.DataFrame, m: CsvMapping) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    """Parse and check every row; return the frame (with its line numbers) and the problems found."""
    problems: list[tuple[int, str]] = []
    lines = long["line"].to_numpy()

    def flag(mask: np.ndarray, reasons: pd.Series) -> None:
        problems.extend(zip(lines[mask].tolist(), reasons[mask].tolist(), strict=True))

    times = parse_times(long["time"], m)
    flag(times.isna().to_numpy(), "unreadable time " + long["time"].map(repr))
    values = pd.to_numeric(long["value"].str.strip(), errors="coerce").to_numpy(dtype="float64")
    flag(~np.isfinite(values), "value " + long["value"].map(repr) + " is not a finite number")
    checks: list[tuple[str, Callable[[str], object]]] = [("equipment_id", validate_equipment_id),
                                                          ("metric_type", validate_metric_type)]
    checks += [(t, partial(validate_tag_value, t)) for t in m.tags]
    for column, check in checks:
        # An empty tag cell means "tag absent", not an invalid tag value.
        present = long[column] if column in ("equipment_id", "metric_type") else long[column][long[column] != ""]
        invalid = _invalid_values(present, check)
        if invalid:
            flag(long[column].isin(invalid).to_numpy(), long[column].map(invalid))
    frame = pd.DataFrame({"time": times, "equipment_id": long["equipment_id"].to_numpy(),
                          "metric_type": long["metric_type"].to_numpy(), "value": values, "line": lines})
    for t in m.tags:
        frame[t] = long[t].replace("", None).to_numpy()
    return frame, problems


def _invalid_values(column: pd.Series, check) -> dict[str, str]:
    invalid = {}
    for value in column.unique():
        try:
            check(value)
        except ValidationError as exc:
            invalid[value] = str(exc)
    return invalid


def parse_times(text: pd.Series, m: CsvMapping) -> pd.Series:
    """Parse a column of timestamps to UTC; unreadable entries become NaT."""
    stripped = text.str.strip()
    numbers = pd.to_numeric(stripped, errors="coerce")
    if m.time_format is None and len(stripped) and numbers.notna().all():
        magnitude = numbers.abs().max()
        unit = "s" if magnitude < 1e11 else "ms" if magnitude < 1e14 else "us" if magnitude < 1e17 else "ns"
        return pd.to_datetime(numbers, unit=unit, utc=True, errors="coerce")
    kwargs = {"format": m.time_format} if m.time_format else {"format": "mixed", "dayfirst": m.dayfirst}
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    try:
        with_offset = stripped.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True)
        if with_offset.any():
            parsed[with_offset] = pd.to_datetime(stripped[with_offset], utc=True, errors="coerce", **kwargs)
        naive = ~with_offset
        if naive.any():
            local = pd.to_datetime(stripped[naive], errors="coerce", **kwargs)
            if isinstance(local.dtype, pd.DatetimeTZDtype):
                local = local.dt.tz_convert("UTC")
            else:
                local = local.dt.tz_localize(m.timezone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
            parsed[naive] = local
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"timestamps could not be read with format {m.time_format!r}: {exc}",
                              field="time_format", value=m.time_format) from exc
    return parsed


def mapping_from_options(layout: str, columns: Mapping[str, str], tags: Sequence[str], **extra) -> CsvMapping:
    """A :class:`CsvMapping` from command-line style options (column renames as a mapping)."""
    known = {"time", "equipment_id", "metric_type", "value"}
    unknown = set(columns) - known
    if unknown:
        raise ValidationError(f"--column takes one of {sorted(known)}=CSV_COLUMN; got {sorted(unknown)}.",
                              field="column", value=sorted(unknown))
    return CsvMapping(layout=layout, tags=tuple(tags), **columns, **extra)  # type: ignore[arg-type]  # names checked above

