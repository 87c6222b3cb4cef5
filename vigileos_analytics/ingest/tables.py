"""CSV and Parquet files to staged rows: which column holds what, long or wide.

The staged frame is built column by column under fixed names (``time``,
``equipment_id``, ``metric_type``, ``value``, ``_line``, then the tags), never by
renaming the file's columns, so a file's own column names cannot clash with them.

The time column is the one named by the mapping, else the first column called
``time``, ``timestamp``, ``datetime``, ``date`` or ``ts`` (any case), else the only
column left once value, ids, tags and metrics are taken. In the long layout the value
column is the one named, else ``value``, else the only column left.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import ValidationError

if TYPE_CHECKING:
    from .importing import CsvMapping

TIME_NAMES = ("time", "timestamp", "datetime", "date", "ts")
#: No line of a metrics file comes near this (ids hold 64 characters, tag values 256); a
#: longer one is refused before it is read, so a hostile file cannot exhaust memory.
MAX_LINE_BYTES = 1 << 20
_SCAN_BLOCK = 1 << 22


def check_line_lengths(path: str | Path, limit: int = MAX_LINE_BYTES) -> None:
    """Refuse a text file with a line longer than ``limit`` bytes, reading it in bounded blocks."""
    try:
        stream = open(path, "rb")
    except FileNotFoundError as exc:
        raise ValidationError(f"No such file: {path}.", field="path", value=str(path)) from exc
    with stream:
        line, run = 1, 0  # run: bytes since the last newline
        while block := stream.read(_SCAN_BLOCK):
            ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 0x0A)
            if len(ends):
                gaps = np.diff(ends, prepend=-1)
                gaps[0] += run
                longest = int(np.argmax(gaps))
                if gaps[longest] > limit:
                    _too_long(path, line + longest, limit)
                line += len(ends)
                run = len(block) - int(ends[-1]) - 1
            else:
                run += len(block)
            if run > limit:
                _too_long(path, line, limit)


def _too_long(path: str | Path, line: int, limit: int) -> None:
    raise ValidationError(f"{path}: line {line} is longer than {limit // (1 << 20)} MiB; no field of a metrics "
                          "file is that long, so the file is refused without reading it.", field="path",
                          value=str(path))


def read_table(path: str | Path, format: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The file's cells (CSV: text; Parquet: typed) and each row's line number (CSV:
    the header is line 1, blank lines skipped but counted; Parquet: row number from 1)."""
    try:
        if format == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            try:
                raw = pq.read_table(path).to_pandas()
            except (pa.ArrowException, OSError) as exc:
                raise ValidationError(f"{path} is not a readable Parquet file: {exc}", field="path",
                                      value=str(path)) from exc
            return raw.reset_index(drop=True), np.arange(1, len(raw) + 1)
        check_line_lengths(path)
        _check_header(path)
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False)
    except FileNotFoundError as exc:
        raise ValidationError(f"No such file: {path}.", field="path", value=str(path)) from exc
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise ValidationError(f"{path} is not a readable CSV file: {exc}", field="path", value=str(path)) from exc
    lines = np.arange(2, len(raw) + 2)
    blank = (raw.fillna("") == "").all(axis=1).to_numpy()
    return raw[~blank].reset_index(drop=True), lines[~blank]


def _check_header(path: str | Path) -> None:
    """Refuse a header naming a column twice (pandas would rename the second one, ``name.1``)."""
    with open(path, encoding="utf-8", newline="") as stream:
        try:
            header = next(csv.reader(stream), [])
        except csv.Error as exc:
            raise ValidationError(f"{path} is not a readable CSV file: {exc}", field="path", value=str(path)) from exc
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        raise ValidationError(f"{path} has the column(s) {duplicated} more than once in its header (line 1); "
                              "give each column its own name.", field="columns", value=duplicated)


def stage(raw: pd.DataFrame, lines: np.ndarray, m: CsvMapping, path: str | Path) -> pd.DataFrame:
    """The staged rows of ``raw`` under ``m`` (see module docstring)."""
    columns = [str(c) for c in raw.columns]
    raw = raw.set_axis(columns, axis=1)
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise ValidationError(f"{path} has the column(s) {duplicated} more than once; give each column its own name.",
                              field="columns", value=duplicated)
    taken = list(m.tags)
    if m.fixed_equipment_id is None:
        taken.append(m.equipment_id)
    if m.layout == "long" and m.fixed_metric_type is None:
        taken.append(m.metric_type)
    _require(columns, taken, path)
    ids = {"equipment_id": m.fixed_equipment_id if m.fixed_equipment_id is not None else raw[m.equipment_id]}
    tags = {t: raw[t] for t in m.tags}
    if m.layout == "long":
        time, value = _long_columns(columns, taken, m, path)
        return pd.DataFrame({"time": raw[time], **ids,
                             "metric_type": raw[m.metric_type] if m.fixed_metric_type is None else m.fixed_metric_type,
                             "value": raw[value], "_line": lines, **tags}, index=raw.index)
    time = m.time or _time_column(columns, [*taken, *(m.metric_columns or ())], path,
                                  needs_single=m.metric_columns is not None)
    metrics = list(m.metric_columns or [c for c in columns if c not in {*taken, time}])
    _require(columns, [time, *metrics], path)
    if not metrics:
        raise ValidationError(f"{path} has no metric column: the wide layout needs one column per metric besides "
                              f"{[time, *taken]}.", field="columns", value=columns)
    parts = [pd.DataFrame({"time": raw[time], **ids, "metric_type": name, "value": raw[name], "_line": lines, **tags},
                          index=raw.index)
             for name in metrics]
    long = pd.concat(parts, ignore_index=True)
    # An empty cell in the wide layout is simply no point.
    empty = long["value"].isna() | (long["value"].astype(str).str.strip() == "")
    return long[~empty.to_numpy()].reset_index(drop=True)


def _long_columns(columns: list[str], taken: list[str], m: CsvMapping, path: str | Path) -> tuple[str, str]:
    value = m.value or ("value" if "value" in columns and "value" not in (*taken, m.time) else None)
    time = m.time or _time_column(columns, [*taken, *([value] if value else [])], path, needs_single=bool(value))
    if value is None:
        rest = [c for c in columns if c not in {*taken, time}]
        if len(rest) != 1:
            raise ValidationError(f"Cannot tell which column of {path} holds the value: none is named 'value' and "
                                  f"{rest} are left; name it with -c value=COLUMN.", field="columns", value=columns)
        value = rest[0]
    _require(columns, [time, value], path)
    return time, value


def _time_column(columns: list[str], taken: Sequence[str], path: str | Path, *, needs_single: bool) -> str:
    lowered = {c.lower(): c for c in reversed(columns) if c not in taken}
    for name in TIME_NAMES:
        if name in lowered:
            return lowered[name]
    rest = [c for c in columns if c not in taken]
    if needs_single and len(rest) == 1:
        return rest[0]
    raise ValidationError(f"Cannot tell which column of {path} holds the time: none is named "
                          f"{', '.join(TIME_NAMES)}; name it with -c time=COLUMN (columns: {columns}).",
                          field="columns", value=columns)


def _require(columns: list[str], needed: Sequence[str], path: str | Path) -> None:
    missing = [c for c in needed if c not in columns]
    if missing:
        raise ValidationError(f"{path} lacks the column(s) {missing}; it has {columns}. "
                              "Name the right ones with the column options (-c FIELD=COLUMN), or give "
                              "--equipment-id / --metric-type for the whole file.", field="columns", value=missing)
