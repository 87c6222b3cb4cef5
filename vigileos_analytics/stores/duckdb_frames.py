"""Frame helpers of the embedded store: series factorization, ordering and
de-duplication of points, and the public shape of query results."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd


def sorted_unique_points(series_ids: np.ndarray, times: np.ndarray, values: np.ndarray) -> pd.DataFrame:
    """Points sorted by (series, time), keeping the last of duplicates (last write wins)."""
    order = np.argsort(series_ids, kind="stable")
    sid, t, v = series_ids[order], times[order], values[order]
    same_series = sid[1:] == sid[:-1]
    if not np.all(~same_series | (t[1:] >= t[:-1])):
        order = np.lexsort((np.arange(len(t)), t, sid))  # stable by input position
        sid, t, v = sid[order], t[order], v[order]
        same_series = sid[1:] == sid[:-1]
    duplicate_of_next = np.append(same_series & (t[1:] == t[:-1]), False)
    if duplicate_of_next.any():
        keep = ~duplicate_of_next
        sid, t, v = sid[keep], t[keep], v[keep]
    return pd.DataFrame({"series_id": sid, "time": t, "value": v})


def factorize_series(frame: pd.DataFrame, tag_columns: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Per row, the index of its series among the distinct (equipment, metric, tags) combinations."""
    columns = ["equipment_id", "metric_type", *tag_columns]
    codes = np.zeros(len(frame), dtype="int64")
    for column in columns:
        cat = frame[column].cat
        codes = codes * (len(cat.categories) + 1) + (cat.codes.to_numpy().astype("int64") + 1)
    combo_codes, _ = pd.factorize(codes)
    # Codes number combinations by first appearance: a combination's first row is where
    # the running maximum of the codes steps up (linear, no sort or group-by).
    running = np.maximum.accumulate(combo_codes) if len(combo_codes) else combo_codes
    first_rows = np.flatnonzero(np.diff(running, prepend=-1) > 0)
    sample = frame.iloc[first_rows]
    tags = [
        {k: v for k, v in zip(tag_columns, row, strict=True) if isinstance(v, str)}
        for row in (sample[tag_columns].astype(object).itertuples(index=False, name=None) if tag_columns
                    else [()] * len(sample))
    ]
    combos = pd.DataFrame({
        "equipment_id": sample["equipment_id"].astype(str).to_numpy(),
        "metric_type": sample["metric_type"].astype(str).to_numpy(),
        "tags": tags,
    })
    return combo_codes, combos


def points_with_series(points: pd.DataFrame, series: pd.DataFrame) -> pd.DataFrame:
    """Raw (series_id, time, value) rows to the public points frame."""
    lookup = series.set_index("series_id")
    position = lookup.index.get_indexer(points["series_id"])
    # Few distinct tag sets serve many series: parse each once, one dict per series.
    tag_codes, tag_texts = pd.factorize(lookup["tags"].to_numpy(dtype=object))
    parsed = [json.loads(t) for t in tag_texts]
    tags = np.empty(len(lookup), dtype=object)
    tags[:] = [dict(parsed[c]) for c in tag_codes.tolist()]
    return pd.DataFrame({
        # From datetime64 values: pandas converts plain int64 through a much slower path.
        "time": pd.to_datetime(points["time"].to_numpy("int64").view("datetime64[ns]"), utc=True),
        "equipment_id": lookup["equipment_id"].to_numpy(dtype=object)[position],
        "metric_type": lookup["metric_type"].to_numpy(dtype=object)[position],
        "value": points["value"].to_numpy("float64"),
        "tags": tags[position],
    })
