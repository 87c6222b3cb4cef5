"""What the two InfluxDB backends share: filter values, write checks, result frames.

Both backends match filter values literally and keep the embedded store's rules:
an empty string or a tag name that no point can carry matches nothing (InfluxDB
would read ``tag = ''`` as "tag absent", a broader match); an absent tag comes
back as a missing key of the ``tags`` dict, never as ``''``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..schema import RESERVED_TAG_KEYS

_TAG_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
POINT_COLUMNS = ["time", "equipment_id", "metric_type", "value", "tags"]


@dataclass(frozen=True)
class Filters:
    """Literal filter values ready for a query; ``None`` for "no filter"."""

    equipment_ids: tuple[str, ...] | None
    metric_types: tuple[str, ...] | None
    tags: tuple[tuple[str, str], ...]


#: No filter at all (the whole measurement).
NO_FILTERS = Filters(None, None, ())


def literal_filters(equipment_ids: Sequence[str] | None, metric_types: Sequence[str] | None,
                    tags: Mapping[str, str] | None = None) -> Filters | None:
    """The filters to send, or None when they can match nothing (skip the query)."""
    ids = None if equipment_ids is None else tuple(v for v in equipment_ids if v)
    metrics = None if metric_types is None else tuple(v for v in metric_types if v)
    if ids == () or metrics == ():
        return None
    pairs = []
    for key, value in (tags or {}).items():
        if not value or not _TAG_KEY_RE.match(key) or key in RESERVED_TAG_KEYS:
            return None
        pairs.append((key, value))
    return Filters(ids, metrics, tuple(pairs))


def count_series(frame: pd.DataFrame) -> int:
    """Distinct (equipment, metric, tags) combinations of a normalized points frame."""
    if frame.empty:
        return 0
    codes = np.zeros(len(frame), dtype="int64")
    for column in frame.columns:
        if column in ("time", "value"):
            continue
        cat = frame[column].cat
        codes = pd.factorize(codes * (len(cat.categories) + 1) + cat.codes.to_numpy().astype("int64") + 1)[0]
    return int(codes.max()) + 1


def empty_points() -> pd.DataFrame:
    return pd.DataFrame({
        "time": pd.Series([], dtype="datetime64[ns, UTC]"),
        "equipment_id": pd.Series([], dtype=object),
        "metric_type": pd.Series([], dtype=object),
        "value": pd.Series([], dtype="float64"),
        "tags": pd.Series([], dtype=object),
    })


def points_from_series(blocks: list[tuple[dict[str, str], np.ndarray, np.ndarray]]) -> pd.DataFrame:
    """The public points frame from per-series blocks (tags, int ns times, values),
    ordered by time, then series. Tags with an empty value are absent tags."""
    if not blocks:
        return empty_points()
    sizes = np.array([len(times) for _, times, _ in blocks])
    times = np.concatenate([t for _, t, _ in blocks]).astype("int64")
    values = np.concatenate([v for _, _, v in blocks]).astype("float64")
    block_of_row = np.repeat(np.arange(len(blocks)), sizes)
    order = np.lexsort((block_of_row, times))
    equipment, metric, tags = (np.empty(len(blocks), dtype=object) for _ in range(3))
    for index, (block_tags, _, _) in enumerate(blocks):  # one step per series, not per point
        free = {k: v for k, v in block_tags.items() if v and k not in ("equipment_id", "metric_type")}
        equipment[index], metric[index], tags[index] = block_tags.get("equipment_id", ""), \
            block_tags.get("metric_type", ""), dict(sorted(free.items()))
    rows = block_of_row[order]
    return pd.DataFrame({
        "time": pd.to_datetime(times[order], utc=True),
        "equipment_id": equipment[rows],
        "metric_type": metric[rows],
        "value": values[order],
        "tags": tags[rows],
    })
