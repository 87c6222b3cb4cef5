"""Availability of samples that never entered a store: :func:`availability_of`.

The figures come from the same code as the store path: the samples become state
intervals through :mod:`..stores.intervals` (runs of samples, as the embedded store
keeps them, then intervals) and the intervals
become figures through :func:`.availability.summarize`, so a frame and a store holding
the same samples give the same :class:`AvailabilityResult` (``tests/test_frame_availability.py``
checks it field by field). What this module adds is reading a user's frame: its
columns, its values and its mistakes, each refused with a ``ValidationError`` that names
the column and the row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from ..errors import ValidationError
from ..schema import (
    DEFAULT_STATUSES,
    OPERATIONAL,
    TIME_RANGE_TEXT,
    check_time_range,
    times_out_of_range,
    validate_equipment_id,
)
from ..schema import validate_range as _validate_range
from ..stores.intervals import build_runs, dedupe_stream, intervals_from_runs
from . import availability as av
from .service import DEFAULT_STALENESS, AvailabilityResult, _explicit_windows, _window_edges

__all__ = ["availability_of"]

#: Status text accepted in the value column: only ``operational`` is available (the
#: simulator's rule too: maintenance and offline time are unavailable unless excluded).
STATUS_STATES = {status: int(status == OPERATIONAL) for status in DEFAULT_STATUSES}

Maintenance: TypeAlias = Sequence[tuple[datetime, datetime]] | pd.DataFrame


def availability_of(frame: pd.DataFrame, *, time: str = "time", value: str = "value", equipment: str | None = None,
                    equipment_id: str | None = None, start: datetime | None = None, end: datetime | None = None,
                    staleness: timedelta = DEFAULT_STALENESS, maintenance: Maintenance | None = None,
                    freq: str | None = None) -> AvailabilityResult | pd.DataFrame:
    """Time-weighted availability of the samples in ``frame`` (one row per sample), by the
    rules of ``EquipmentAnalyticsService.calculate_availability``.

    - ``time``: the column of sample times, timezone-aware (naive times are refused);
    - ``value``: 1 / 0, True / False, or a status (``operational`` is available,
      ``maintenance`` and ``offline`` are not);
    - ``equipment``: the column of equipment ids; leave it out for one equipment
      (``equipment_id`` then names it in the result);
    - ``start`` / ``end``: the period [start, end) (aware; UTC in the result), by default
      from the first to the last sample time;
    - ``staleness``: how long a sample holds without a newer one (10 min by default, as
      the service);
    - ``maintenance``: time excluded from every figure: (start, end) pairs for every
      equipment, or a frame with ``start``, ``end`` and, with ``equipment``, ``equipment_id``
      (each window counts for its equipment only; an id the frame does not hold is refused);
    - ``freq``: windows such as ``'1D'`` aligned to UTC midnight, as ``availability_report``.

    Returns an :class:`AvailabilityResult` for one equipment without ``freq`` (no
    ``equipment`` column, or ``equipment_id`` picking one out of it), else a frame shaped like
    ``fleet_availability``: one row per equipment (and window), durations in seconds,
    percentages in %, ``samples`` in the window. Rows in any order are fine.
    """
    samples = _samples(frame, time, value, equipment, equipment_id)
    # A frame of windows may name any equipment of the frame, even one equipment_id leaves out.
    known = [] if not isinstance(maintenance, pd.DataFrame) else \
        sorted(samples["equipment_id"].unique().tolist()) if equipment is not None else \
        [equipment_id] if equipment_id is not None else []
    if equipment is not None and equipment_id is not None:
        samples = samples[samples["equipment_id"] == equipment_id]
    ids = [equipment_id or ""] if equipment is None or equipment_id is not None else \
        sorted(samples["equipment_id"].unique().tolist())
    start, end = _period(samples, start, end, time)
    staleness_ns = _staleness_ns(staleness)
    edges = _window_edges(start, end, freq)
    start_ns, end_ns = int(edges[0]), int(edges[-1])
    # The samples the store path reads: those that can carry a state into the period.
    times = samples["time"].to_numpy("int64")
    read = samples[(times >= start_ns - staleness_ns) & (times < end_ns)]
    codes, labels, times, states = dedupe_stream(read["equipment_id"].array, read["time"].to_numpy("int64"),
                                                 read["value"].to_numpy())
    # Runs with a gap of the staleness, as the embedded store keeps them: the same covered
    # time as one interval per sample, in a few rows per change of state.
    runs = build_runs(codes, labels, times, states, gap_ns=staleness_ns)
    intervals = intervals_from_runs(runs, start_ns, end_ns, staleness_ns)
    table = av.summarize(intervals, ids, edges, _maintenance(maintenance, ids, known, equipment is not None))
    table["samples"] = _counts(pd.Index(ids).get_indexer(labels)[codes], times, len(ids), edges)
    if freq is None and (equipment is None or equipment_id is not None):
        return AvailabilityResult.from_row(table.iloc[0])
    return table


def _samples(frame: Any, time: str, value: str, equipment: str | None, equipment_id: str | None) -> pd.DataFrame:
    """equipment_id, time (int ns UTC), value (0 / 1) of every row of ``frame``, validated."""
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(f"availability_of needs a pandas DataFrame of samples; got {type(frame).__name__}.",
                              field="frame")
    for parameter, column in (("time", time), ("value", value), ("equipment", equipment)):
        if column is not None and column not in frame.columns:
            raise ValidationError(f"the {parameter} column {column!r} is not in the frame; its columns are "
                                  f"{[str(c) for c in frame.columns]}. Name it with {parameter}=...",
                                  field=parameter, value=column)
        if column is not None and list(frame.columns).count(column) > 1:
            raise ValidationError(f"the frame has several columns named {column!r}; the {parameter} column must be "
                                  "one.", field=parameter, value=column)
    if equipment is None:
        ids: Any = equipment_id if equipment_id is not None else ""
        if equipment_id is not None:
            validate_equipment_id(equipment_id)
    else:
        ids = _equipment(frame[equipment], equipment)
        if equipment_id is not None and equipment_id not in set(ids):
            raise ValidationError(f"equipment_id {equipment_id!r} has no sample in the column {equipment!r}.",
                                  field="equipment_id", value=equipment_id)
    return pd.DataFrame({"equipment_id": ids, "time": _times(frame[time], time),
                         "value": _states(frame[value], value)}, index=pd.RangeIndex(len(frame)))


def _row(column: pd.Series, mask: np.ndarray) -> Any:
    """The index label of the first row where ``mask`` holds."""
    return _label(column.index[int(np.flatnonzero(mask)[0])])


def _label(label: Any) -> Any:
    """A row label as the user wrote it: ``0``, not numpy's ``np.int64(0)``."""
    return label.item() if isinstance(label, np.generic) else label


def _times(column: pd.Series, name: str) -> np.ndarray:
    if pd.api.types.is_datetime64_dtype(column.dtype) and not isinstance(column.dtype, pd.DatetimeTZDtype):
        raise ValidationError(f"the time column {name!r} holds naive datetimes; localize them first "
                              f"(frame[{name!r}].dt.tz_localize('UTC')).", field="time", value=name)
    try:
        parsed = column if isinstance(column.dtype, pd.DatetimeTZDtype) else pd.to_datetime(column, utc=False)
    except (TypeError, ValueError, OverflowError) as exc:  # pandas' OutOfBoundsDatetime is a ValueError
        raise ValidationError(f"the time column {name!r} could not be read as datetimes: {exc}. Times with "
                              f"several UTC offsets can be converted first: pd.to_datetime(frame[{name!r}], utc=True).",
                              field="time", value=name) from exc
    if not isinstance(parsed.dtype, pd.DatetimeTZDtype):
        naive = parsed.notna().to_numpy()
        where = f" (row {_row(column, naive)!r})" if naive.any() else ""
        raise ValidationError(f"the time column {name!r} must hold timezone-aware times; got naive values{where}.",
                              field="time", value=name)
    missing = parsed.isna().to_numpy()
    if missing.any():
        raise ValidationError(f"the time column {name!r} has no time in row {_row(column, missing)!r}.",
                              field="time", value=name)
    try:
        ns = parsed.dt.tz_convert("UTC").astype("datetime64[ns, UTC]").to_numpy("datetime64[ns]").view("int64")
    except (OverflowError, ValueError) as exc:
        raise ValidationError(f"the time column {name!r} holds a time outside {TIME_RANGE_TEXT}.", field="time",
                              value=name) from exc
    outside = times_out_of_range(ns)
    if outside.any():
        raise ValidationError(f"time {parsed.iloc[int(np.flatnonzero(outside)[0])].isoformat()} in row "
                              f"{_row(column, outside)!r} of {name!r} is outside {TIME_RANGE_TEXT}.", field="time",
                              value=name)
    return ns


def _states(column: pd.Series, name: str) -> np.ndarray:
    """1 (available) or 0 per row, from 1 / 0, booleans or status text."""
    missing = column.isna().to_numpy()
    if missing.any():
        raise ValidationError(f"the value column {name!r} has no value (NaN or None) in row {_row(column, missing)!r}; "
                              "drop the row or give 1 / 0.", field="value", value=name)
    if pd.api.types.is_bool_dtype(column.dtype):
        return column.to_numpy("int8")
    if pd.api.types.is_numeric_dtype(column.dtype):
        numbers = column.astype("float64").to_numpy()
        bad = (numbers != 0) & (numbers != 1)
        if bad.any():
            raise ValidationError(f"the value column {name!r} must hold 1 (available) or 0 (unavailable); got "
                                  f"{float(numbers[bad][0])!r} in row {_row(column, bad)!r}.", field="value",
                                  value=name)
        return numbers.astype("int8")
    states = {}
    for text in pd.unique(column.to_numpy(object)):  # a few distinct values, each looked at once
        state = _state_of(text)
        if state is None:
            at = _row(column, column.to_numpy(object) == text)
            raise ValidationError(f"the value column {name!r} must hold 1 / 0, True / False or a status "
                                  f"({', '.join(STATUS_STATES)}); got {text!r} in row {at!r}.", field="value",
                                  value=name)
        states[text] = state
    return column.map(states).to_numpy("int8")


def _state_of(value: Any) -> int | None:
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, str):
        return STATUS_STATES.get(value)
    if isinstance(value, (int, float, np.integer, np.floating)) and value in (0, 1):
        return int(value)
    return None


def _equipment(column: pd.Series, name: str) -> Any:
    missing = column.isna().to_numpy()
    if missing.any():
        raise ValidationError(f"the equipment column {name!r} has no id in row {_row(column, missing)!r}.",
                              field="equipment", value=name)
    for text in column.unique():  # each distinct id checked once, in the column's own storage
        try:
            validate_equipment_id(text)
        except ValidationError as exc:
            raise ValidationError(f"the equipment column {name!r}, row {_row(column, (column == text).to_numpy())!r}: "
                                  f"{exc}", field="equipment", value=text) from exc
    return column.array


def _period(samples: pd.DataFrame, start: datetime | None, end: datetime | None, time: str) -> tuple[datetime,
                                                                                                    datetime]:
    """[start, end), by default from the first to the last sample."""
    if (start is None or end is None) and samples.empty:
        raise ValidationError("the frame holds no sample, so it has no span: pass start= and end=.", field="start")
    times = samples["time"]
    first = start if start is not None else pd.Timestamp(int(times.min()), tz="UTC").to_pydatetime()
    last = end if end is not None else pd.Timestamp(int(times.max()), tz="UTC").to_pydatetime()
    if start is None and end is None and first == last:
        raise ValidationError(f"every sample of the {time!r} column is at {first.isoformat()}, so the frame spans "
                              "no time: pass end=.", field="end")
    try:
        first, last = _validate_range(first, last)
    except ValidationError as exc:
        raise ValidationError(f"{exc} (start and end default to the first and last sample time)", field=exc.field,
                              value=exc.value) from exc
    return check_time_range(first, "start"), check_time_range(last, "end")


def _staleness_ns(staleness: Any) -> int:
    if not isinstance(staleness, timedelta) or staleness <= timedelta(0):
        raise ValidationError(f"staleness must be a positive timedelta; got {staleness!r}.", field="staleness",
                              value=staleness)
    return int(pd.Timedelta(staleness).value)


def _maintenance(windows: Maintenance | None, ids: list[str], known: list[str],
                 by_equipment: bool) -> pd.DataFrame | None:
    """The windows as summarize takes them (equipment_id, start, end in int ns): those of
    ``ids``, the equipment figured; a window of an id not in ``known`` (the frame's
    equipment) is refused, as a typo would otherwise drop it silently."""
    if windows is None:
        return None
    if not isinstance(windows, pd.DataFrame):
        if isinstance(windows, (str, bytes)) or not isinstance(windows, Sequence):
            raise ValidationError(f"maintenance must be a list of (start, end) pairs or a frame of windows; got "
                                  f"{type(windows).__name__}.", field="maintenance")
        for number, pair in enumerate(windows, start=1):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValidationError(f"maintenance window {number} must be a (start, end) pair; got {pair!r}.",
                                      field="maintenance", value=pair)
        return _explicit_windows(windows, ids)
    needed = ["start", "end"] + (["equipment_id"] if by_equipment else [])
    absent = [c for c in needed if c not in windows.columns]
    if absent:
        raise ValidationError(f"a maintenance frame needs the columns {needed}; missing {absent}.",
                              field="maintenance", value=[str(c) for c in windows.columns])
    for label, row in windows.iterrows():  # a handful of windows
        label = _label(label)
        try:
            _validate_range(row["start"], row["end"])
        except ValidationError as exc:
            raise ValidationError(f"maintenance window in row {label!r}: {exc}", field="maintenance",
                                  value=(row["start"], row["end"])) from exc
        if "equipment_id" in windows.columns and row["equipment_id"] not in known:
            raise ValidationError(f"maintenance window in row {label!r} is for equipment_id {row['equipment_id']!r}, "
                                  f"which is not {_known_text(known)}.", field="maintenance",
                                  value=row["equipment_id"])
    frame = windows if "equipment_id" in windows.columns else windows.assign(equipment_id=ids[0])
    return _explicit_windows(frame[frame["equipment_id"].isin(ids)], ids)


def _known_text(known: list[str]) -> str:
    if not known:
        return "named by the frame: pass equipment_id= to name its equipment"
    return f"among the frame's equipment {known}" if len(known) > 1 else f"the frame's equipment {known[0]!r}"


def _counts(positions: np.ndarray, times: np.ndarray, n_ids: int, edges: np.ndarray) -> np.ndarray:
    """Samples per equipment and window, from deduplicated samples (one per equipment and
    instant, as a store keeps them) and each one's equipment position in the table."""
    inside = (times >= edges[0]) & (times < edges[-1]) & (positions >= 0)
    n_windows = len(edges) - 1
    window = np.searchsorted(edges, times[inside], side="right") - 1
    key = positions[inside] * n_windows + window
    return np.bincount(key, minlength=n_ids * n_windows).astype("int64")
