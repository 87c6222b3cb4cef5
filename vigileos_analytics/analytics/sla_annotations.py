"""Corrections after the fact: an annotation reclassifies an equipment's time as planned,
unplanned or excluded, with a reason and an author.

An annotation is a point of the ``sla_annotation`` metric, so every backend, backup,
export and restore carries it like any other point: time = the annotation's start,
value = its length in seconds, tags ``classification``, ``reason``, ``author``.
Annotating the same equipment, start, classification, reason and author again replaces
the earlier one (the store's rule for a point with the same series and time); anything
else adds one. Nothing is ever deleted: the list is the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from ..errors import ValidationError
from ..schema import SLA_ANNOTATION, Point, to_utc
from ..stores.base import MetricsStore, Selection
from ..stores.tiered import TieredStore
from .sla_sweep import CLASSIFICATIONS

__all__ = [
    "ANNOTATION_METRIC",
    "MAX_ANNOTATION_LENGTH",
    "Annotation",
    "annotate",
    "read_annotations",
]

ANNOTATION_METRIC = SLA_ANNOTATION
#: An annotation spans at most this long: readers look this far back for ones that reach into a period.
MAX_ANNOTATION_LENGTH = timedelta(days=366)
_COLUMNS = ["equipment_id", "start", "end", "classification", "reason", "author"]


@dataclass(frozen=True)
class Annotation:
    """What ``annotate`` stored."""

    equipment_id: str
    start: datetime
    end: datetime
    classification: str
    reason: str
    author: str


def annotate(store: MetricsStore, equipment_id: str, start: datetime, end: datetime, classification: str,
             reason: str, author: str = "") -> Annotation:
    """Store an annotation; every argument is validated first (nothing is written on error)."""
    start, end = to_utc(start, "start"), to_utc(end, "end")
    if end <= start:
        raise ValidationError(f"The annotation must end after it starts ({start.isoformat()} .. {end.isoformat()}).",
                              field="end", value=end)
    if end - start > MAX_ANNOTATION_LENGTH:
        raise ValidationError(f"An annotation spans at most {MAX_ANNOTATION_LENGTH.days} days; split a longer one.",
                              field="end", value=end)
    if classification not in CLASSIFICATIONS:
        raise ValidationError(f"classification must be one of {', '.join(CLASSIFICATIONS)}; got {classification!r}.",
                              field="classification", value=classification)
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError("An annotation needs a reason (who asked, which ticket, why).", field="reason",
                              value=reason)
    tags = {"classification": classification, "reason": reason.strip()}
    if author and author.strip():
        tags["author"] = author.strip()
    point = Point(equipment_id, ANNOTATION_METRIC, (end - start).total_seconds(), start, tags)
    store.write_points([point], spool=False)
    return Annotation(point.equipment_id, start, end, classification, tags["reason"], tags.get("author", ""))


def read_annotations(store: MetricsStore | TieredStore, equipment_ids: list[str] | None, start: datetime,
                     end: datetime) -> pd.DataFrame:
    """Annotations overlapping [start, end): equipment_id, start, end (int ns UTC),
    classification, reason, author; oldest first."""
    raw = store.query(Selection(start - MAX_ANNOTATION_LENGTH, end, equipment_ids=equipment_ids,
                                metric_types=(ANNOTATION_METRIC,)))
    if raw.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("start", "end") else object) for c in _COLUMNS})
    begins = raw["time"].to_numpy("datetime64[ns]").view("int64")
    lengths = np.round(raw["value"].to_numpy("float64") * 1e9).astype("int64")
    tags = raw["tags"].tolist()
    frame = pd.DataFrame({
        "equipment_id": raw["equipment_id"].astype(str).to_numpy(), "start": begins, "end": begins + lengths,
        "classification": [t.get("classification", "") for t in tags],
        "reason": [t.get("reason", "") for t in tags], "author": [t.get("author", "") for t in tags],
    })
    lo, hi = pd.Timestamp(start).value, pd.Timestamp(end).value
    frame = frame[(frame["end"] > lo) & (frame["start"] < hi) & frame["classification"].isin(CLASSIFICATIONS)]
    return frame.sort_values(["start", "equipment_id"], kind="stable").reset_index(drop=True)
