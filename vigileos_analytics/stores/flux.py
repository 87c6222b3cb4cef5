"""Flux queries for the InfluxDB 2.x store, and the one escaping function.

Every string that enters a Flux query (bucket, ids, metric types, tag values)
goes through :func:`flux_string`, which returns a complete Flux string literal.
Tag *names* are never quoted: they must be identifiers (letters, digits, '_')
or the query is not built. Times are formatted here from integers (nanoseconds
since the epoch, UTC), durations from integers; nothing a user typed is spliced
into the text any other way.

Flux string literals treat ``\\``, ``"`` and ``${`` (interpolation) specially, and
a raw newline would end nothing but still change the text's shape: all are
escaped, as are other control characters (``\\xNN`` per UTF-8 byte).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

from ..errors import ValidationError
from ..schema import MEASUREMENT
from .influx_common import Filters

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SPECIAL_RE = re.compile(r'[\\"\n\r\t]|\$\{|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]')
_IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Flux aggregate for each protocol function (p95: exact_selector picks a stored
#: value, like InfluxQL's nearest-rank PERCENTILE; DuckDB interpolates instead).
FLUX_FUNCTIONS = {
    "count": "count",
    "mean": "mean",
    "min": "min",
    "max": "max",
    "p95": '(column, tables=<-) => tables |> quantile(q: 0.95, column: column, method: "exact_selector")',
    "last": "last",
}
FAR_PAST_NS = 0
FAR_FUTURE_NS = 9_000_000_000_000_000_000  # 2255-03-14, inside Flux's time range


def flux_string(value: str) -> str:
    """``value`` as a Flux string literal, quotes included: the only way strings enter Flux."""
    if not isinstance(value, str):
        raise ValidationError(f"a Flux string must be a str; got {type(value).__name__}.", value=value)

    def escape(match: re.Match) -> str:
        text = match.group(0)
        if text == "${":
            return "\\${"
        if text in _ESCAPES:
            return _ESCAPES[text]
        return "".join(f"\\x{byte:02x}" for byte in text.encode())

    return '"' + _SPECIAL_RE.sub(escape, value) + '"'


def flux_identifier(name: str) -> str:
    if not _IDENTIFIER_RE.match(name):
        raise ValidationError(f"a Flux column name must be letters, digits and '_'; got {name!r}.", value=name)
    return name


def flux_time(ns: int) -> str:
    """An RFC 3339 time literal with nanoseconds, from int nanoseconds since the epoch (UTC)."""
    stamp = pd.Timestamp(int(ns), unit="ns", tz="UTC")
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond:06d}{stamp.nanosecond:03d}Z"


def flux_duration(ns: int) -> str:
    if int(ns) <= 0:
        raise ValidationError(f"a Flux duration must be positive; got {ns} ns.", value=ns)
    return f"{int(ns)}ns"


def _any_of(column: str, values: Sequence[str]) -> str:
    return " or ".join(f"r.{flux_identifier(column)} == {flux_string(v)}" for v in values)


def source(bucket: str, start_ns: int, stop_ns: int, filters: Filters, measurement: str = MEASUREMENT) -> str:
    """from |> range |> filter: the points of the selection (field ``value`` only)."""
    lines = [
        f"from(bucket: {flux_string(bucket)})",
        f"  |> range(start: {flux_time(start_ns)}, stop: {flux_time(stop_ns)})",
        f'  |> filter(fn: (r) => r._measurement == {flux_string(measurement)} and r._field == "value")',
    ]
    if filters.equipment_ids is not None:
        lines.append(f"  |> filter(fn: (r) => {_any_of('equipment_id', filters.equipment_ids)})")
    if filters.metric_types is not None:
        lines.append(f"  |> filter(fn: (r) => {_any_of('metric_type', filters.metric_types)})")
    for key, value in filters.tags:
        lines.append(f"  |> filter(fn: (r) => r.{flux_identifier(key)} == {flux_string(value)})")
    return "\n".join(lines)


def raw_query(bucket: str, start_ns: int, stop_ns: int, filters: Filters, measurement: str = MEASUREMENT) -> str:
    """Raw points: one table per series, columns _time, _value and the tags."""
    return (source(bucket, start_ns, stop_ns, filters, measurement)
            + '\n  |> drop(columns: ["_start", "_stop", "_measurement", "_field"])')


def aggregate_query(bucket: str, start_ns: int, stop_ns: int, filters: Filters, functions: Sequence[str],
                    every_ns: int | None, measurement: str = MEASUREMENT) -> str:
    """One row per equipment, metric (and window start, aligned to the epoch): a
    column per function, built as one stream per function, unioned and pivoted."""
    unknown = [f for f in functions if f not in FLUX_FUNCTIONS]
    if unknown or not functions:
        raise ValidationError(f"aggregate functions must be among {list(FLUX_FUNCTIONS)}; got {list(functions)!r}.",
                              field="functions", value=functions)
    group = '["equipment_id", "metric_type"]'
    lines = ["data = " + source(bucket, start_ns, stop_ns, filters, measurement), f"  |> group(columns: {group})"]
    streams = []
    for function in functions:
        if every_ns is not None:
            step = (f"aggregateWindow(every: {flux_duration(every_ns)}, fn: {FLUX_FUNCTIONS[function]}, "
                    'createEmpty: false, timeSrc: "_start")')
            keep = '["equipment_id", "metric_type", "_time", "_value"]'
        else:
            fn = FLUX_FUNCTIONS[function]
            step = f"{fn}()" if fn.isidentifier() else 'quantile(q: 0.95, method: "exact_selector")'
            keep = '["equipment_id", "metric_type", "_value"]'
        lines.append(f"{function}_ = data |> {step} |> toFloat() |> keep(columns: {keep}) "
                     f"|> set(key: \"_field\", value: {flux_string(function)})")
        streams.append(f"{function}_")
    row_key = '["equipment_id", "metric_type", "_time"]' if every_ns is not None else group
    lines.append(f"union(tables: [{', '.join(streams)}])\n  |> group()\n"
                 f'  |> pivot(rowKey: {row_key}, columnKey: ["_field"], valueColumn: "_value")')
    return "\n".join(lines)


def latest_query(bucket: str, filters: Filters, before_ns: int | None, measurement: str = MEASUREMENT) -> str:
    """The newest point of every series (strictly before ``before_ns`` if given)."""
    stop = FAR_FUTURE_NS if before_ns is None else before_ns
    return (source(bucket, FAR_PAST_NS, stop, filters, measurement) + "\n  |> last()"
            '\n  |> drop(columns: ["_start", "_stop", "_measurement", "_field"])')


def equipment_ids_query(bucket: str, measurement: str = MEASUREMENT) -> str:
    return ('import "influxdata/influxdb/schema"\n'
            f'schema.tagValues(bucket: {flux_string(bucket)}, tag: "equipment_id", '
            f"predicate: (r) => r._measurement == {flux_string(measurement)}, start: {flux_time(FAR_PAST_NS)})")


def count_query(bucket: str, start_ns: int, stop_ns: int, filters: Filters, measurement: str = MEASUREMENT) -> str:
    return source(bucket, start_ns, stop_ns, filters, measurement) + '\n  |> group()\n  |> count()'


def measurements_query(bucket: str) -> str:
    """The names of every measurement in the bucket."""
    return ('import "influxdata/influxdb/schema"\n'
            f"schema.measurements(bucket: {flux_string(bucket)}, start: {flux_time(FAR_PAST_NS)})")




def equipment_spans_query(bucket: str, measurement: str = MEASUREMENT) -> str:
    """One row per equipment: ``first`` and ``last`` (times of its oldest and newest
    point, int nanoseconds since the epoch, UTC), ``points`` and ``series`` (counts).

    ``first()`` / ``last()`` / ``count()`` run per series right after the filter (a
    pattern InfluxDB can push down to storage), and only their one row per series is
    grouped by equipment: a regrouped table is not in time order, so a ``first()``
    there would not give the oldest point. Times become integers so that every
    stream has an integer ``_value`` and they pivot into one table."""
    points = source(bucket, FAR_PAST_NS, FAR_FUTURE_NS, Filters(None, None, ()), measurement)

    def per_equipment(per_series: str, value: str) -> str:
        return (f"{points}\n  |> {per_series}()\n"
                f"  |> map(fn: (r) => ({{equipment_id: r.equipment_id, _value: {value}}}))\n"
                '  |> group(columns: ["equipment_id"])')

    def named(field: str) -> str:
        return f'set(key: "_field", value: {flux_string(field)})'

    return "\n".join([
        f"first_ = {per_equipment('first', 'int(v: r._time)')}\n  |> min()\n  |> {named('first')}",
        f"last_ = {per_equipment('last', 'int(v: r._time)')}\n  |> max()\n  |> {named('last')}",
        f"counts = {per_equipment('count', 'int(v: r._value)')}",
        f"points_ = counts |> sum() |> {named('points')}",
        f"series_ = counts |> count() |> {named('series')}",
        "union(tables: [first_, last_, points_, series_])\n  |> group()\n"
        '  |> pivot(rowKey: ["equipment_id"], columnKey: ["_field"], valueColumn: "_value")',
    ])
