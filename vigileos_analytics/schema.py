"""The data model: metric names, statuses, the point, and their validation.

Layout (kept from the seed's InfluxDB schema so existing data keeps working):
measurement ``equipment_metrics``; tags ``equipment_id``, ``metric_type`` and free
tags; one float field ``value``; UTC timestamps with nanosecond precision.

Time rule, the same everywhere in the Python API: a datetime must carry a time
zone and is converted to UTC; a naive datetime is rejected with a
``ValidationError``. Only text read by the command line and by CSV import may
omit the offset; it is then read in the zone the user names (UTC by default),
see :func:`vigileos_analytics.timeparse.parse_time_text`.

Time range, the same for every backend and every command: a point's time lies in
[1970-01-01T00:00:00Z, 2262-01-01T00:00:00Z) (``TIME_MIN`` .. ``TIME_MAX``), so every
stored time is a non-negative int64 count of nanoseconds that pandas, DuckDB and
InfluxDB all hold exactly. A point outside it is refused where it enters
(:func:`check_time_range`), never stored and dropped later.

Text rule for ids and tag values, also the same for every backend: no control
characters, and no backslash at the end or right before a comma, equals sign or
space, which InfluxDB line protocol cannot carry.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from .errors import ValidationError

MEASUREMENT = "equipment_metrics"
#: Rollups of ``every`` live beside the raw points under ``equipment_metrics_<every>``
#: (e.g. ``equipment_metrics_1h``); see :mod:`vigileos_analytics.stores.rollups`.
ROLLUP_MEASUREMENT_RE = re.compile(r"^equipment_metrics_([1-9][0-9]{0,4})([smhd])$")

STATUS_CHANGE = "status_change"
AVAILABILITY = "availability"
CPU_USAGE = "cpu_usage"
MEMORY_USAGE = "memory_usage"
RESPONSE_TIME = "response_time"
TEMPERATURE = "temperature"
POWER_CONSUMPTION = "power_consumption"
NETWORK_TRAFFIC = "network_traffic"
#: Alert state changes written by ``vigileos alerts check`` (1 firing, 0 resolved): an event,
#: not a measurement.
ALERT = "alert"
#: SLA annotations written by ``vigileos sla annotate`` (value: length in seconds): an event too.
SLA_ANNOTATION = "sla_annotation"
#: Points written about an equipment rather than measured on it: neither its "last
#: metric" nor a metric type it reports.
NOT_MEASUREMENTS = (ALERT, SLA_ANNOTATION)

#: Known metric types and their units. Any other name that passes
#: :func:`validate_metric_type` is accepted as a custom metric.
METRIC_UNITS: dict[str, str] = {
    STATUS_CHANGE: "",
    AVAILABILITY: "1 available / 0 unavailable",
    CPU_USAGE: "%",
    MEMORY_USAGE: "%",
    RESPONSE_TIME: "ms",
    TEMPERATURE: "°C",
    POWER_CONSUMPTION: "W",
    NETWORK_TRAFFIC: "bytes/s",
}
PERFORMANCE_METRICS = (CPU_USAGE, MEMORY_USAGE, RESPONSE_TIME)

OPERATIONAL = "operational"
MAINTENANCE = "maintenance"
OFFLINE = "offline"
DEFAULT_STATUSES = (OPERATIONAL, MAINTENANCE, OFFLINE)

#: Columns of a points frame that are not tags.
CORE_COLUMNS = ("time", "equipment_id", "metric_type", "value")
RESERVED_TAG_KEYS = frozenset(CORE_COLUMNS) | {"tags", "measurement", "_field", "_value", "_time"}

MAX_ID_LENGTH = 64
MAX_TAG_VALUE_LENGTH = 256
_METRIC_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_TAG_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
#: A backslash that InfluxDB line protocol would read as an escape (or a dangling one).
_UNWRITABLE_BACKSLASH_RE = re.compile(r"\\([ ,=]|$)")

#: The first time a point may carry (included) and the end of the range (excluded).
TIME_MIN = datetime(1970, 1, 1, tzinfo=UTC)
TIME_MAX = datetime(2262, 1, 1, tzinfo=UTC)
TIME_MIN_NS = 0
TIME_MAX_NS = 9_214_646_400 * 10**9
TIME_RANGE_TEXT = "from 1970-01-01T00:00:00Z up to (not including) 2262-01-01T00:00:00Z"


_UNWRITABLE_BACKSLASH = ("has a backslash at the end or right before a comma, equals sign or space, "
                         "which InfluxDB line protocol cannot store; remove or replace that backslash")


def validate_equipment_id(value: Any, field_name: str = "equipment_id") -> str:
    """Return ``value`` if it is a valid equipment id, else raise ValidationError."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_LENGTH or _CONTROL_RE.search(value):
        raise ValidationError(
            f"{field_name} must be a non-empty string of at most {MAX_ID_LENGTH} characters "
            f"without control characters; got {value!r}.",
            field=field_name,
            value=value,
        )
    if _UNWRITABLE_BACKSLASH_RE.search(value):
        raise ValidationError(f"{field_name} {value!r} {_UNWRITABLE_BACKSLASH}.", field=field_name, value=value)
    return value


def validate_metric_type(value: Any) -> str:
    """Metric types are lower-case identifiers: a letter, then letters, digits or '_'."""
    if not isinstance(value, str) or not _METRIC_TYPE_RE.match(value):
        raise ValidationError(
            "metric_type must start with a lower-case letter and contain only a-z, 0-9 "
            f"and '_' (at most 64 characters), e.g. 'cpu_usage'; got {value!r}.",
            field="metric_type",
            value=value,
        )
    return value


def validate_tag_key(key: Any) -> str:
    if not isinstance(key, str) or not _TAG_KEY_RE.match(key) or key in RESERVED_TAG_KEYS:
        raise ValidationError(
            "tag names must start with a letter, contain only letters, digits and '_' "
            f"(at most 64 characters) and not be one of {sorted(RESERVED_TAG_KEYS)}; got {key!r}.",
            field="tags",
            value=key,
        )
    return key


def validate_tag_value(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_TAG_VALUE_LENGTH or _CONTROL_RE.search(value):
        raise ValidationError(
            f"tag {key!r} must be a non-empty string of at most {MAX_TAG_VALUE_LENGTH} "
            f"characters without control characters; got {value!r}.",
            field=f"tags.{key}",
            value=value,
        )
    if _UNWRITABLE_BACKSLASH_RE.search(value):
        raise ValidationError(f"tag {key!r} value {value!r} {_UNWRITABLE_BACKSLASH}.", field=f"tags.{key}",
                              value=value)
    return value


def validate_tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise ValidationError(
            f"tags must be a mapping of tag name to string; got {type(tags).__name__}.",
            field="tags",
            value=tags,
        )
    return {validate_tag_key(k): validate_tag_value(k, v) for k, v in sorted(tags.items())}


def validate_value(value: Any, field_name: str = "value") -> float:
    """Values are finite numbers; bools are accepted as 1.0 / 0.0."""
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
        if math.isfinite(number):
            return number
    raise ValidationError(
        f"{field_name} must be a finite number; got {value!r}.", field=field_name, value=value
    )


class StatusRegistry:
    """The statuses an equipment can be in; extendable by configuration."""

    def __init__(self, extra: tuple[str, ...] = ()) -> None:
        self.statuses = tuple(dict.fromkeys(DEFAULT_STATUSES + tuple(extra)))

    def validate(self, value: Any, field_name: str = "status") -> str:
        if value not in self.statuses:
            raise ValidationError(
                f"{field_name} must be one of {', '.join(self.statuses)}; got {value!r}.",
                field=field_name,
                value=value,
            )
        return value


def to_utc(value: Any, field_name: str = "time") -> datetime:
    """Return ``value`` as a timezone-aware UTC datetime.

    Accepts aware ``datetime`` / ``pandas.Timestamp``; naive ones are rejected (see the
    module docstring for the rule).
    """
    if isinstance(value, (datetime, pd.Timestamp)) and not pd.isna(value):
        if value.tzinfo is None:
            raise ValidationError(
                f"{field_name} must be timezone-aware (e.g. datetime(..., tzinfo=timezone.utc)); "
                f"got the naive datetime {value!r}.",
                field=field_name,
                value=value,
            )
        return pd.Timestamp(value).tz_convert("UTC").to_pydatetime(warn=False)
    raise ValidationError(
        f"{field_name} must be a timezone-aware datetime; got {value!r}.",
        field=field_name,
        value=value,
    )


def check_time_range(value: datetime, field_name: str = "time") -> datetime:
    """Return the aware ``value`` if a point may carry it (see the module docstring), else raise."""
    if not TIME_MIN <= value < TIME_MAX:
        raise ValidationError(
            f"{field_name} {value.isoformat()} is outside the time range vigileos stores: {TIME_RANGE_TEXT}.",
            field=field_name,
            value=value,
        )
    return value


def times_out_of_range(ns: np.ndarray) -> np.ndarray:
    """Which of these int64 nanosecond times a point may not carry."""
    return (ns < TIME_MIN_NS) | (ns >= TIME_MAX_NS)


def to_ns(value: Any, field_name: str = "time") -> int:
    """Nanoseconds since the epoch (UTC) of an aware datetime."""
    return int(pd.Timestamp(to_utc(value, field_name)).value)


def validate_range(start: Any, end: Any) -> tuple[datetime, datetime]:
    """Validate a half-open period [start, end): both aware, start strictly before end."""
    start_utc, end_utc = to_utc(start, "start_time"), to_utc(end, "end_time")
    if start_utc >= end_utc:
        raise ValidationError(
            f"start_time must be before end_time; got start {start_utc.isoformat()} "
            f">= end {end_utc.isoformat()}.",
            field="start_time",
            value=(start, end),
        )
    return start_utc, end_utc


@dataclass(frozen=True)
class Point:
    """One measurement: ``value`` of ``metric_type`` for ``equipment_id`` at ``time`` (UTC)."""

    equipment_id: str
    metric_type: str
    value: float
    time: datetime
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "equipment_id", validate_equipment_id(self.equipment_id))
        object.__setattr__(self, "metric_type", validate_metric_type(self.metric_type))
        object.__setattr__(self, "value", validate_value(self.value))
        object.__setattr__(self, "time", check_time_range(to_utc(self.time)))
        object.__setattr__(self, "tags", validate_tags(self.tags))


def points_to_frame(points: list[Point]) -> pd.DataFrame:
    """A points frame (see :func:`normalize_points_frame`) from validated points."""
    tag_keys = sorted({key for p in points for key in p.tags})
    data: dict[str, Any] = {
        "time": pd.to_datetime([p.time for p in points], utc=True),
        "equipment_id": [p.equipment_id for p in points],
        "metric_type": [p.metric_type for p in points],
        "value": np.array([p.value for p in points], dtype="float64"),
    }
    for key in tag_keys:
        data[key] = [p.tags.get(key) for p in points]
    return pd.DataFrame(data)


def normalize_points_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Validate a long-format points frame and return it in canonical form.

    Expected columns: ``time`` (timezone-aware datetimes), ``equipment_id``,
    ``metric_type``, ``value`` (finite numbers) and any number of tag columns
    (strings; missing = tag absent). Validation is vectorized: each distinct id and
    tag value is checked once. Returns a frame with ``time`` as
    ``datetime64[ns, UTC]``, ``value`` as float64 and categorical id/tag columns.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(
            f"expected a pandas DataFrame of points; got {type(frame).__name__}.", field="frame"
        )
    missing = [c for c in CORE_COLUMNS if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"a points frame needs the columns {list(CORE_COLUMNS)}; missing {missing}.",
            field="frame",
            value=list(frame.columns),
        )
    tag_columns = [c for c in frame.columns if c not in CORE_COLUMNS]
    for key in tag_columns:
        validate_tag_key(key)

    out: dict[str, Any] = {"time": _normalize_time_column(frame["time"])}
    for column, check in (("equipment_id", validate_equipment_id), ("metric_type", validate_metric_type)):
        col = frame[column]
        if col.isna().any():
            row = int(np.flatnonzero(col.isna().to_numpy())[0])
            raise ValidationError(f"{column} is missing in row {row}.", field=column, value=None)
        col = col.astype("category")
        for value in col.cat.categories:
            check(value)
        out[column] = col.reset_index(drop=True)
    out["value"] = _normalize_value_column(frame["value"])
    for key in tag_columns:
        col = frame[key].astype("category")
        for value in col.cat.categories:
            validate_tag_value(key, value)
        out[key] = col.reset_index(drop=True)
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


def _in_nanoseconds(col: pd.Series) -> pd.Series:
    """An aware column in UTC nanoseconds; a time nanoseconds cannot hold is out of the range."""
    try:
        return col.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    except (pd.errors.OutOfBoundsDatetime, OverflowError) as exc:
        raise ValidationError(f"the time column holds a time outside the time range vigileos stores: "
                              f"{TIME_RANGE_TEXT}.", field="time") from exc


def _normalize_time_column(col: pd.Series) -> pd.Series:
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        result = _in_nanoseconds(col)
    elif pd.api.types.is_datetime64_dtype(col.dtype):
        raise ValidationError(
            "the time column holds naive datetimes; localize them first "
            "(e.g. frame['time'].dt.tz_localize('UTC')).",
            field="time",
        )
    else:
        try:
            converted = pd.to_datetime(col, utc=False)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"the time column could not be read as datetimes: {exc}", field="time") from exc
        if not isinstance(converted.dtype, pd.DatetimeTZDtype):
            raise ValidationError(
                "the time column must hold timezone-aware datetimes; got naive values.", field="time"
            )
        result = _in_nanoseconds(converted)
    if result.isna().any():
        row = int(np.flatnonzero(result.isna().to_numpy())[0])
        raise ValidationError(f"time is missing in row {row}.", field="time")
    outside = times_out_of_range(result.to_numpy("datetime64[ns]").view("int64"))
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise ValidationError(
            f"time {result.iloc[row].isoformat()} in row {row} is outside the time range vigileos stores: "
            f"{TIME_RANGE_TEXT}.",
            field="time",
            value=result.iloc[row],
        )
    return result.reset_index(drop=True)


def _normalize_value_column(col: pd.Series) -> np.ndarray:
    if col.dtype == bool:
        return col.to_numpy(dtype="float64")
    try:
        values = pd.to_numeric(col, errors="raise").to_numpy(dtype="float64")
    except (TypeError, ValueError) as exc:
        bad = col[pd.to_numeric(col, errors="coerce").isna()]
        row = int(np.flatnonzero(col.index == bad.index[0])[0]) if len(bad) else 0
        raise ValidationError(
            f"value must be a finite number; got {bad.iloc[0]!r} in row {row}.",
            field="value",
            value=bad.iloc[0] if len(bad) else None,
        ) from exc
    finite = np.isfinite(values)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise ValidationError(
            f"value must be a finite number; got {float(values[row])!r} in row {row}.",
            field="value",
            value=values[row],
        )
    return values


def check_availability_values(frame: pd.DataFrame) -> None:
    """Availability samples of a normalized points frame are 1 (available) or 0 (unavailable)."""
    is_availability = (frame["metric_type"] == AVAILABILITY).to_numpy()
    if is_availability.any():
        values = frame["value"].to_numpy()[is_availability]
        bad = (values != 0) & (values != 1)
        if bad.any():
            row = int(np.flatnonzero(is_availability)[np.flatnonzero(bad)[0]])
            raise ValidationError(
                f"availability values must be 1 (available) or 0 (unavailable); got {float(values[bad][0])!r} "
                f"in row {row}.",
                field="value", value=float(values[bad][0]),
            )


def rollup_measurement(every_s: int) -> str:
    """The name of the rollup measurement for windows of ``every_s`` seconds: the
    largest whole unit (``equipment_metrics_1h``, ``equipment_metrics_15m``)."""
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)):
        if every_s % size == 0:
            return f"{MEASUREMENT}_{every_s // size}{unit}"
    raise ValidationError(f"every must be whole seconds; got {every_s!r}.", field="every", value=every_s)


def rollup_every_s(measurement: str) -> int | None:
    """Seconds per window of a rollup measurement name, or None if it is not one."""
    match = ROLLUP_MEASUREMENT_RE.match(measurement)
    if not match:
        return None
    return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86_400}[match.group(2)]
