"""Importing metrics from CSV, Parquet and line-protocol files.

Formats (chosen by ``format``, else by the file's suffix: ``.csv``; ``.parquet``,
``.pq``; ``.lp``, ``.line``, ``.txt``):

- CSV and Parquet, in long or wide layout (:mod:`.tables`):

  - long: one row per point, with columns for time, equipment id, metric type, value
    and optional tags; the equipment id and the metric type may instead be given once
    for the whole file (a plain ``timestamp,value`` file is one series);
  - wide: one row per instant, one column per metric (the equipment id from a column
    or given once for the whole file).

  A Parquet file in the long layout keeps its other columns as tags unless tags are
  named, as ``vigileos export`` writes them.
- line protocol as ``vigileos export`` writes it (:mod:`.lineprotocol`).

Timestamps may be ISO 8601 (with or without offset), day-first dates such as
``31/01/2024 14:00`` (``dayfirst=True``), an explicit strftime format, or epoch
numbers (seconds below 1e11, milliseconds below 1e14, microseconds below 1e17, else
nanoseconds: each number by its own size; the units used are counted). Text without
an offset is read in ``timezone`` (UTC by default). A time outside the range every
store holds (:data:`..schema.TIME_MIN` to :data:`..schema.TIME_MAX`) is a bad row.

Bad rows are reported by line number (the CSV header is line 1; Parquet rows count
from 1); with ``on_error="skip"`` they are left out and counted, with ``"refuse"``
(default) nothing is imported. Points of one series (equipment, metric, tags) at the
same time are counted and reported; the last one in the file wins, as in InfluxDB.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from ..errors import ValidationError
from ..schema import CORE_COLUMNS, validate_equipment_id, validate_metric_type, validate_tag_key
from .lineprotocol import read_line_protocol
from .rows import check_rows
from .tables import read_table, stage

FORMATS = ("csv", "parquet", "lp")
SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".lp": "lp", ".line": "lp", ".txt": "lp"}
_MAX_REPORTED = 20


@dataclass(frozen=True)
class CsvMapping:
    """Which columns of a CSV or Parquet file hold what. ``time`` and ``value`` are found
    when not named (see :mod:`.tables`); ``metric_columns`` (wide layout) default to
    every column that is not time, equipment or tag. ``fixed_equipment_id`` and
    ``fixed_metric_type`` (long layout) hold for the whole file."""

    layout: str = "long"
    time: str | None = None
    equipment_id: str = "equipment_id"
    metric_type: str = "metric_type"
    value: str | None = None
    tags: tuple[str, ...] = ()
    metric_columns: tuple[str, ...] | None = None
    fixed_equipment_id: str | None = None
    fixed_metric_type: str | None = None
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
        if self.fixed_metric_type is not None:
            validate_metric_type(self.fixed_metric_type)
            if self.layout == "wide":
                raise ValidationError("A metric type for the whole file (--metric-type) needs the long layout; the "
                                      "wide layout takes metric types from its column names.", field="metric_type",
                                      value=self.fixed_metric_type)
        try:
            pd.Timestamp("2024-01-01").tz_localize(self.timezone)
        except Exception as exc:  # zone names come from the user; pytz and zoneinfo raise differently
            raise ValidationError(f"unknown time zone {self.timezone!r}; use a name such as UTC or Europe/Paris.",
                                  field="timezone", value=self.timezone) from exc


@dataclass(frozen=True)
class ImportResult:
    """Points ready to write (one per series and time), the rows refused (line, reason),
    the points that repeated a series' time (``duplicates``, the first of their lines in
    ``duplicate_lines``; the last one in the file was kept), and how many times had no
    offset and were read in ``timezone``; ``epoch_units`` counts the epoch numbers read in
    each unit (``s``, ``ms``, ``us``, ``ns``)."""

    frame: pd.DataFrame
    bad_rows: pd.DataFrame
    total_rows: int
    format: str = "csv"
    duplicates: int = 0
    duplicate_lines: tuple[int, ...] = ()
    naive_times: int = 0
    timezone: str = "UTC"
    epoch_units: Mapping[str, int] = field(default_factory=dict)


def import_format(path: str | Path, format: str | None = None) -> str:
    """The format asked for, or the one the file's suffix names."""
    if format is None:
        format = SUFFIXES.get(Path(path).suffix.lower())
        if format is None:
            raise ValidationError(f"Cannot tell the format of {Path(path).name} from its name; give --format "
                                  f"{'|'.join(FORMATS)} or a name ending in {', '.join(SUFFIXES)}.",
                                  field="format", value=Path(path).suffix)
    if format not in FORMATS:
        raise ValidationError(f"format must be one of {list(FORMATS)}; got {format!r}.", field="format", value=format)
    return format


def read_metrics_file(path: str | Path, mapping: CsvMapping = CsvMapping(), on_error: str = "refuse",
                      format: str | None = None) -> ImportResult:
    """Read and validate a metrics file into a points frame (see module docstring)."""
    if on_error not in ("refuse", "skip"):
        raise ValidationError(f"on_error must be 'refuse' or 'skip'; got {on_error!r}.", field="on_error",
                              value=on_error)
    format = import_format(path, format)
    if format == "lp":
        staged, problems = _line_protocol(path, mapping)
        total = len(staged)
    else:
        raw, lines = read_table(path, format)
        if format == "parquet" and mapping.layout == "long" and not mapping.tags:
            mapping = replace(mapping, tags=tuple(_parquet_tags(raw, mapping)))
        staged, problems, total = stage(raw, lines, mapping, path), [], len(raw)
    tags = [c for c in staged.columns if c not in (*CORE_COLUMNS, "_line")]
    frame, found, naive = check_rows(staged, tags, timezone=mapping.timezone, time_format=mapping.time_format,
                                     dayfirst=mapping.dayfirst)
    problems += found
    bad = pd.DataFrame(problems, columns=["line", "reason"]).drop_duplicates("line").sort_values("line")
    if not bad.empty and on_error == "refuse":
        raise ValidationError(_refusal(path, bad, "row" if format == "parquet" else "line"), field="rows", value=bad)
    good = frame[~frame["_line"].isin(bad["line"])]
    repeated = good.duplicated([*CORE_COLUMNS[:3], *tags], keep="first").to_numpy()
    kept = ~good.duplicated([*CORE_COLUMNS[:3], *tags], keep="last").to_numpy()
    return ImportResult(good[kept].drop(columns="_line").reset_index(drop=True), bad.reset_index(drop=True), total,
                        format=format, duplicates=int(repeated.sum()),
                        duplicate_lines=tuple(good["_line"][repeated].head(_MAX_REPORTED).tolist()),
                        naive_times=naive, timezone=mapping.timezone, epoch_units=frame.attrs.get("epoch_units", {}))


def read_metrics_csv(path: str | Path, mapping: CsvMapping = CsvMapping(), on_error: str = "refuse") -> ImportResult:
    """Read and validate a metrics CSV file (see :func:`read_metrics_file`)."""
    return read_metrics_file(path, mapping, on_error, format="csv")


def _refusal(path: str | Path, bad: pd.DataFrame, unit: str) -> str:
    shown = "; ".join(f"{unit} {line}: {reason}" for line, reason in bad.head(_MAX_REPORTED).itertuples(index=False))
    more = f" (and {len(bad) - _MAX_REPORTED} more)" if len(bad) > _MAX_REPORTED else ""
    return (f"{path}: {len(bad)} bad {unit}(s), nothing imported: {shown}{more}. "
            "Fix them, or import the good rows with --skip-bad-rows.")


def _parquet_tags(raw: pd.DataFrame, m: CsvMapping) -> list[str]:
    """The columns a long Parquet file has besides time, ids and value: its tags."""
    used = {m.time or "time", m.value or "value", m.equipment_id, m.metric_type}
    return [str(c) for c in raw.columns if str(c) not in used]


def _line_protocol(path: str | Path, m: CsvMapping) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    if m.layout != "long" or m.tags or m.metric_columns or m.time or m.value:
        raise ValidationError("Line protocol names its own tags and field: --layout wide, --column, --tag and "
                              "--metric are for CSV and Parquet files.", field="format", value="lp")
    staged, problems = read_line_protocol(path)
    for core, fixed in (("equipment_id", m.fixed_equipment_id), ("metric_type", m.fixed_metric_type)):
        if fixed is not None:
            staged[core] = fixed
    return staged, problems


def mapping_from_options(layout: str, columns: Mapping[str, str], tags: Sequence[str], **extra) -> CsvMapping:
    """A :class:`CsvMapping` from command-line style options (column renames as a mapping)."""
    known = {"time", "equipment_id", "metric_type", "value"}
    unknown = set(columns) - known
    if unknown:
        raise ValidationError(f"--column takes one of {sorted(known)}=COLUMN; got {sorted(unknown)}.",
                              field="column", value=sorted(unknown))
    return CsvMapping(layout=layout, tags=tuple(tags), **columns, **extra)  # type: ignore[arg-type]  # names checked above
