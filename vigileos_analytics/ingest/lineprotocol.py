"""Reading InfluxDB line protocol, as ``vigileos export --format lp`` writes it.

One point per line::

    equipment_metrics,equipment_id=EQ-1,metric_type=cpu_usage,site=Lyon\\ 2 value=42.5 1704067200000000000

- measurement ``equipment_metrics`` (other measurements are refused line by line);
- tags ``equipment_id`` and ``metric_type`` (unless given for the whole file), the
  other tags kept as free tags; in keys and values ``\\,``, ``\\=`` and ``\\ `` stand
  for a comma, an equals sign and a space, every other backslash is literal;
- one field ``value``, a float or an integer (``42i``, ``42u``);
- a timestamp in nanoseconds since the epoch (UTC), required, in the range every store
  holds (from 0, 1970-01-01, up to 2262-01-01; see :mod:`..schema`).

Blank lines and lines starting with ``#`` are skipped. The lines are matched and
split with whole-column string operations, not a loop per line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ValidationError
from ..schema import MEASUREMENT
from .tables import check_line_lengths

_NAME = r"(?:[^,=\s\\]|\\.)+"
_LINE = (rf"^(?P<measurement>(?:[^,\s\\]|\\.)+)(?P<tags>(?:,{_NAME}={_NAME})*)"
         r"\s+(?P<fields>(?:[^\s\"\\]|\\.|\"(?:[^\"\\]|\\.)*\")+)(?:\s+(?P<time>\S+))?\s*$")
_TAG = rf",(?P<key>{_NAME})=(?P<value>{_NAME})"
_UNESCAPE = r"\\([,= ])"


#: Tag keys that would collide with a point's own columns.
RESERVED_TAG_KEYS = ("time", "value", "_line")


def read_line_protocol(path: str | Path) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    """:func:`parse_lines` of a file written as ``vigileos export`` writes it (nanosecond
    timestamps, required)."""
    try:
        check_line_lengths(path)
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ValidationError(f"No such file: {path}.", field="path", value=str(path)) from exc
    except (UnicodeDecodeError, IsADirectoryError) as exc:
        raise ValidationError(f"{path} is not a readable UTF-8 text file: {exc}", field="path",
                              value=str(path)) from exc
    return parse_lines(text)


def parse_lines(text: str, unit_ns: int = 1, now_ns: int | None = None) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    """One row per line of ``text`` (blank and ``#`` lines skipped, lines numbered from 1 over
    the whole text): ``time`` (datetime64[ns, UTC]), ``value`` (float), ``_line``,
    ``equipment_id`` and ``metric_type`` ('' where the line lacks the tag) and one column
    per free tag key (None where absent); and the refused lines as (line number, reason).

    Timestamps count ``unit_ns`` nanoseconds; a line without one gets ``now_ns``, or is
    refused when ``now_ns`` is None."""
    lines = pd.Series(text.split("\n"), dtype=object)
    numbers = np.arange(1, len(lines) + 1)
    stripped = lines.str.strip()
    kept = ((stripped != "") & ~stripped.str.startswith("#")).to_numpy()
    lines, numbers = lines[kept].reset_index(drop=True), numbers[kept]
    problems: list[tuple[int, str]] = []

    def refuse(mask: np.ndarray, reason: str | pd.Series) -> None:
        reasons = reason[mask].tolist() if isinstance(reason, pd.Series) else [reason] * int(mask.sum())
        problems.extend(zip(numbers[mask].tolist(), reasons, strict=True))

    parts = lines.str.extract(_LINE)
    unmatched = parts["measurement"].isna().to_numpy()
    refuse(unmatched, "not line protocol (MEASUREMENT,TAG=VALUE value=NUMBER TIMESTAMP)")
    measurement = parts["measurement"].fillna("").str.replace(r"\\([, ])", r"\1", regex=True)
    other = (~unmatched) & (measurement != MEASUREMENT).to_numpy()
    refuse(other, f"measurement {MEASUREMENT!r} expected; got " + measurement.map(repr))
    value_text = parts["fields"].fillna("").str.extract(r"^value=([^,]*)$")[0]
    no_value = (~unmatched) & value_text.isna().to_numpy()
    refuse(no_value, "one field, value, expected; got " + parts["fields"].fillna("").map(repr))
    value_text = value_text.fillna("").str.replace(r"^([-+]?\d+)[iu]$", r"\1", regex=True)
    values = pd.to_numeric(value_text, errors="coerce").to_numpy(dtype="float64")
    refuse((~unmatched) & (~no_value) & np.isnan(values), "value " + value_text.map(repr) + " is not a number")
    times = _times(parts["time"], unmatched, unit_ns, now_ns, refuse)
    tags = _tags(parts["tags"].fillna(""), numbers, refuse)
    clashing = [key for key in tags.columns if key in RESERVED_TAG_KEYS]
    for key in clashing:
        refuse(tags[key].notna().to_numpy(), f"{key!r} cannot be a tag key")
    frame = pd.DataFrame({"time": times, "value": values, "_line": numbers}).join(tags.drop(columns=clashing))
    for core in ("equipment_id", "metric_type"):
        frame[core] = frame[core].fillna("") if core in frame else ""
    return frame, problems


def _times(text: pd.Series, unmatched: np.ndarray, unit_ns: int, now_ns: int | None, refuse) -> pd.Series:
    digits = text.where(text.fillna("").str.fullmatch(r"-?\d{1,19}"))
    number = pd.to_numeric(digits, errors="coerce", dtype_backend="numpy_nullable")
    given = text.notna().to_numpy()
    valid = number.notna().to_numpy()
    if now_ns is None:
        refuse((~unmatched) & ~given, "no timestamp (nanoseconds since the epoch)")
    refuse((~unmatched) & given & ~valid, "timestamp " + text.fillna("").map(repr) + " is not an integer")
    approx = number.astype("Float64").to_numpy(dtype="float64", na_value=np.nan) * unit_ns
    too_big = valid & ~(np.abs(approx) < 9.22e18)  # int64 holds up to 9.223e18: no overflow below
    refuse((~unmatched) & too_big, "timestamp " + text.fillna("").map(repr) + " is out of range for this precision")
    ns = np.zeros(len(text), dtype="int64")
    ok = valid & ~too_big
    ns[ok] = number[ok].astype("int64").to_numpy() * unit_ns  # exact integers, no float rounding
    if now_ns is not None:
        ns[~given] = now_ns
    return pd.Series(pd.to_datetime(ns, unit="ns", utc=True))


def _tags(tags: pd.Series, numbers: np.ndarray, refuse) -> pd.DataFrame:
    """One column per tag key; a key repeated on a line keeps its last value."""
    pairs = tags.str.extractall(_TAG)
    if pairs.empty:
        return pd.DataFrame(index=tags.index)
    rows = pairs.index.get_level_values(0)
    pairs = pd.DataFrame({"row": rows, "key": pairs["key"].str.replace(_UNESCAPE, r"\1", regex=True).to_numpy(),
                          "value": pairs["value"].str.replace(_UNESCAPE, r"\1", regex=True).to_numpy()})
    pairs = pairs.drop_duplicates(["row", "key"], keep="last")
    wide = pairs.pivot(index="row", columns="key", values="value").reindex(tags.index)
    wide.columns = [str(c) for c in wide.columns]
    return wide.astype(object).where(wide.notna(), None)
