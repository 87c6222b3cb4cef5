"""InfluxDB line protocol from a points frame, column by column.

One line per point::

    equipment_metrics,equipment_id=EQ-1,location=Lyon\\ 2,metric_type=cpu_usage value=42.5 1704067200000000000

- measurement ``equipment_metrics``; tags ``equipment_id``, ``metric_type`` and the
  free tags, keys in byte order (InfluxDB's preferred order), an absent free tag
  (missing in the frame) left out of the line;
- one float field ``value``, written as Python's ``repr`` writes the float (so
  ``10.0``, ``1e-05``, ``1.5e+16``): the same text as influxdb-client's own
  serializer, which the tests check byte for byte;
- the timestamp in nanoseconds since the epoch (UTC): post with ``precision=ns``.

Escaping: in tag keys and values, a comma, an equals sign and a space are preceded
by a backslash. InfluxDB keeps every other backslash literally, so a tag value
ending in a backslash, or with a backslash right before a comma, equals sign or
space, cannot be written at all: such values are refused with a
``ValidationError`` rather than stored as something else. Control characters are
refused by the data model before they get here.

Speed: the work is done on whole columns with pyarrow compute kernels. Ids and tag
values are escaped once per distinct value (the frame's columns are categorical)
and gathered by their codes; floats are formatted by Arrow's shortest round-trip
formatter, with numpy's (identical to ``repr``) on the magnitudes where the two
disagree on the notation; lines are joined by one element-wise kernel whose
output buffer *is* the request body. No Python code runs per point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ValidationError
from ..schema import CORE_COLUMNS, MEASUREMENT

#: Rows encoded per Arrow kernel call: keeps each string buffer far below 2 GiB.
_CHUNK_ROWS = 1_000_000
#: Magnitudes where Arrow writes scientific notation and repr does not, or where
#: repr pads the exponent to two digits (1e-05) and Arrow does not (1e-5).
_REPR_ONLY_RANGES = ((1e-9, 1e-4), (1e10, 1e16))
_UNWRITABLE_TAG = r"\\([ ,=]|$)"


@dataclass(frozen=True)
class EncodedLines:
    """Line protocol of a frame: row ``i`` is ``buffer[offsets[i]:offsets[i + 1]]``,
    each line ending in a newline, so any row range is one contiguous request body."""

    buffer: memoryview
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def nbytes(self) -> int:
        return int(self.offsets[-1] - self.offsets[0])

    def body(self, start: int = 0, stop: int | None = None) -> bytes:
        """The lines of rows [start, stop) as one request body."""
        stop = len(self) if stop is None else min(stop, len(self))
        return bytes(self.buffer[self.offsets[start]:self.offsets[stop]])

    def batches(self, rows: int) -> list[tuple[int, int]]:
        """Row ranges [start, stop) of at most ``rows`` rows covering every line."""
        return [(start, min(start + rows, len(self))) for start in range(0, len(self), rows)]


def escape_tag(values: pa.Array) -> pa.Array:
    """Tag keys or values escaped for line protocol (comma, equals sign, space)."""
    for char in (",", "=", " "):
        values = pc.replace_substring(values, char, "\\" + char)
    return values


def _check_writable(key: str, values: pa.Array) -> None:
    bad = pc.match_substring_regex(values, _UNWRITABLE_TAG)
    if pc.any(bad).as_py():
        value = values.filter(bad)[0].as_py()
        raise ValidationError(
            f"tag {key!r} has the value {value!r}, which ends in a backslash or has one right before a comma, "
            "equals sign or space: InfluxDB line protocol cannot store that exactly. Remove or replace that backslash.",
            field=key, value=value,
        )


def _tag_piece(key: str, column: pd.Series) -> pa.Array:
    """Per row ``,key=value`` (escaped), or '' where the tag is absent."""
    cat = column if isinstance(column.dtype, pd.CategoricalDtype) else column.astype("category")
    categories = pa.array(cat.cat.categories.astype(object), type=pa.string())
    _check_writable(key, categories)
    prefix = "," + escape_tag(pa.array([key]))[0].as_py() + "="
    dictionary = pa.concat_arrays([pc.binary_join_element_wise(prefix, escape_tag(categories), ""),
                                   pa.array([""], type=pa.string())])
    codes = cat.cat.codes.to_numpy()
    codes = np.where(codes < 0, len(categories), codes).astype("int32")
    return dictionary.take(pa.array(codes))


def format_floats(values: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """Float text as ``repr`` writes it: (digits, suffix) where suffix is '.0' for
    integral values Arrow writes without a decimal point, else ''."""
    values = np.asarray(values, dtype="float64")
    text = pc.cast(pa.array(values), pa.string())
    magnitude = np.abs(values)
    repr_only = np.zeros(len(values), dtype=bool)
    for low, high in _REPR_ONLY_RANGES:
        repr_only |= (magnitude >= low) & (magnitude < high)
    if repr_only.any():
        text = pc.replace_with_mask(text, pa.array(repr_only),
                                    pa.array(values[repr_only].astype(str), type=pa.string()))
    integral = (values == np.trunc(values)) & (magnitude < _REPR_ONLY_RANGES[1][0])
    suffix = pc.if_else(pa.array(integral), ".0", "")
    return text, suffix


def _encode_chunk(frame: pd.DataFrame, tag_columns: list[str], measurement: str) -> pa.Array:
    pieces: list = [measurement]
    pieces += [_tag_piece(key, frame[key]) for key in tag_columns]
    digits, suffix = format_floats(frame["value"].to_numpy(dtype="float64"))
    times = frame["time"]
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        times = times.dt.tz_convert("UTC")
    ns = times.to_numpy("datetime64[ns]").view("int64")
    pieces += [" value=", digits, suffix, " ", pc.cast(pa.array(ns), pa.string()), "\n"]
    return pc.binary_join_element_wise(*pieces, "")


def encode_lines(frame: pd.DataFrame, measurement: str = MEASUREMENT) -> EncodedLines:
    """Line protocol of a normalized points frame (see ``schema.normalize_points_frame``)."""
    tag_columns = sorted(["equipment_id", "metric_type"] + [c for c in frame.columns if c not in CORE_COLUMNS])
    measurement_text = measurement.replace(",", "\\,").replace(" ", "\\ ")
    if frame.empty:
        return EncodedLines(memoryview(b""), np.zeros(1, dtype="int64"))
    chunks = [_encode_chunk(frame.iloc[start:start + _CHUNK_ROWS], tag_columns, measurement_text)
              for start in range(0, len(frame), _CHUNK_ROWS)]
    if len(chunks) == 1:
        lines = chunks[0]
    else:
        lines = pa.concat_arrays([chunk.cast(pa.large_string()) for chunk in chunks])
    offset_type = "int64" if pa.types.is_large_string(lines.type) else "int32"
    _, offsets_buffer, data_buffer = lines.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=offset_type, count=len(lines) + 1, offset=lines.offset * np.dtype(
        offset_type).itemsize).astype("int64")
    return EncodedLines(memoryview(data_buffer) if data_buffer is not None else memoryview(b""), offsets)


def encode_frame(frame: pd.DataFrame, measurement: str = MEASUREMENT) -> bytes:
    """The whole frame as one line-protocol body (bytes, newline-terminated lines)."""
    return encode_lines(frame, measurement).body()
