"""Fewer points for a long curve, drawn the same: per pixel column, the lowest and the
highest value (and the first and last point of the curve).

A figure sends every point it holds to the browser or the page; beyond about two points a
pixel column the extra ones change nothing that is drawn. Keeping each column's extremes
keeps every peak and dip a reader looks for, with the exact values of the analytics.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["COLUMNS", "downsample_index", "downsample_minmax"]

#: Pixel columns of a wide chart: a full-HD screen, or an A4 page at print resolution.
COLUMNS = 1000


def _as_numbers(x: Any) -> np.ndarray:
    """``x`` as float64: times (numpy, or pandas with a zone) as nanoseconds, read as a block
    (through numpy, aware pandas times would become one object per point)."""
    if getattr(getattr(x, "dtype", None), "kind", "") == "M" or np.asarray(x[:1]).dtype == object:
        import pandas as pd

        return pd.DatetimeIndex(x).asi8.astype("float64")
    return np.asarray(x, dtype="float64")


def downsample_index(x: Any, y: Any, columns: int = COLUMNS) -> np.ndarray:
    """The positions (ascending) of the points to draw of the curve ``(x, y)``, ``x``
    ascending (numbers or times): all of them when there are at most ``2 * columns``;
    otherwise, per column of equal width in ``x``, the points of lowest and highest ``y``,
    plus the first and last point. At most ``2 * columns + 2`` positions. Points with a
    missing ``y`` (NaN) are dropped from a downsampled curve: they draw nothing."""
    ys = np.asarray(y, dtype="float64")
    count = len(ys)
    if count <= 2 * columns:
        return np.arange(count)
    xs = _as_numbers(x)
    finite = np.flatnonzero(~np.isnan(ys))
    if len(finite) == 0:
        return np.array([0, count - 1])
    span = xs[-1] - xs[0]
    scale = columns / span if span > 0 else 0.0
    column = np.minimum(((xs[finite] - xs[0]) * scale).astype("int64"), columns - 1)
    # Sorted by column, then value: a column's first row is its minimum, its last its maximum.
    permutation = np.lexsort((ys[finite], column))
    order, sorted_columns = finite[permutation], column[permutation]
    starts = np.flatnonzero(np.r_[True, sorted_columns[1:] != sorted_columns[:-1]])
    ends = np.r_[starts[1:], len(order)] - 1
    keep = np.concatenate([order[starts], order[ends], [0, count - 1]])
    return np.unique(keep)


def downsample_minmax(x: Any, y: Any, columns: int = COLUMNS) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` reduced to the points :func:`downsample_index` keeps, as numpy arrays."""
    keep = downsample_index(x, y, columns)
    return np.asarray(x)[keep], np.asarray(y)[keep]
