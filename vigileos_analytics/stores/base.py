"""The storage protocol every backend implements, and the value objects it speaks.

Analytics call only what is here; they never ask which backend they talk to.
Heavy work (filtering, windowed aggregation, percentiles, latest values) is pushed
down to the engine behind the protocol.

Frames returned by a store use these columns:

- raw points: ``time`` (datetime64[ns, UTC]), ``equipment_id``, ``metric_type``,
  ``value`` (float), ``tags`` (dict of the point's free tags);
- aggregates: ``equipment_id``, ``metric_type``, ``time`` (window start, only when
  windowed), then one column per requested function;
- availability intervals: ``equipment_id``, ``state`` (1 available, 0 not),
  ``start``, ``end`` (int nanoseconds since the epoch, UTC, half-open).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from ..errors import ValidationError
from ..schema import Point, points_to_frame, validate_range

AGGREGATE_FUNCTIONS = ("count", "mean", "min", "max", "p95", "last")


def _string_tuple(value: Any, field_name: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, Iterable) or not all(isinstance(v, str) for v in value):
        raise ValidationError(
            f"{field_name} must be a string or a list of strings; got {value!r}.",
            field=field_name,
            value=value,
        )
    return tuple(value)


@dataclass(frozen=True)
class Selection:
    """Which points: a half-open UTC period [start, end) and optional filters.

    Filter values are matched literally; a value that matches nothing gives an
    empty result, never an error or a broader match.
    """

    start: datetime
    end: datetime
    equipment_ids: tuple[str, ...] | None = None
    metric_types: tuple[str, ...] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        start, end = validate_range(self.start, self.end)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        object.__setattr__(self, "equipment_ids", _string_tuple(self.equipment_ids, "equipment_ids"))
        object.__setattr__(self, "metric_types", _string_tuple(self.metric_types, "metric_types"))
        if not isinstance(self.tags, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.tags.items()
        ):
            raise ValidationError(
                f"tags must map tag names to string values; got {self.tags!r}.", field="tags", value=self.tags
            )
        object.__setattr__(self, "tags", dict(self.tags))

    @property
    def start_ns(self) -> int:
        return int(pd.Timestamp(self.start).value)

    @property
    def end_ns(self) -> int:
        return int(pd.Timestamp(self.end).value)


@dataclass(frozen=True)
class WriteResult:
    """What a write did: points accepted and series touched."""

    points: int
    series: int


@dataclass(frozen=True)
class Health:
    """Outcome of a store health check; ``details`` never holds secrets."""

    ok: bool
    backend: str
    location: str
    version: str = ""
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class WritesPointsAsFrames:
    """Mixin: ``write_points`` validates :class:`Point` objects and hands them to ``write_frame``."""

    def write_points(self, points: Iterable[Point]) -> WriteResult:
        points = list(points)
        if not all(isinstance(p, Point) for p in points):
            raise ValidationError("write_points takes Point objects.", field="points")
        if not points:
            return WriteResult(0, 0)
        return self.write_frame(points_to_frame(points))  # type: ignore[attr-defined]


class NoSessionNeeded:
    """Mixin for backends whose requests share nothing worth holding: ``session()``
    is a no-op that keeps the protocol whole."""

    @contextmanager
    def session(self) -> Iterator[Any]:
        yield self


@runtime_checkable
class MetricsStore(Protocol):
    """The operations every storage backend offers."""

    backend: str

    def write_frame(self, frame: pd.DataFrame) -> WriteResult:
        """Write a points frame (see :func:`schema.normalize_points_frame`).

        Idempotent: a point with the same series (equipment, metric, tags) and time
        as a stored one replaces it. Raises ``WriteError`` naming what was not written.
        """

    def write_points(self, points: Iterable[Point]) -> WriteResult:
        """Write :class:`Point` objects; same rules as :meth:`write_frame`."""

    def query(self, selection: Selection) -> pd.DataFrame:
        """Raw points of the selection, ordered by time."""

    def aggregate(
        self, selection: Selection, every: timedelta | None = None, functions: Sequence[str] = AGGREGATE_FUNCTIONS
    ) -> pd.DataFrame:
        """Per equipment and metric type (and per window of ``every``, aligned to the
        UTC epoch, when given): the requested functions of ``value``."""

    def latest(
        self,
        equipment_ids: Sequence[str] | None = None,
        metric_types: Sequence[str] | None = None,
        before: datetime | None = None,
    ) -> pd.DataFrame:
        """The newest point of every matching series (strictly before ``before`` if given)."""

    def delete(self, selection: Selection) -> int:
        """Delete the selected points; returns how many were deleted."""

    def availability_intervals(
        self, start: datetime, end: datetime, staleness: timedelta, equipment_ids: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Known availability state over [start, end): each sample holds until the next
        one or ``staleness`` after it, whichever comes first."""

    def equipment_ids(self) -> list[str]:
        """Every equipment id with at least one stored point."""

    def health(self) -> Health:
        """Reachability and basic facts about the store."""

    def storage_facts(self) -> dict[str, Any]:
        """What the store holds, computed in the engine (``vigileos check --verbose``):

        - ``equipment``: one row per equipment with points in this measurement:
          ``equipment_id``, ``first`` and ``last`` (times of its oldest and newest
          point, datetime64[ns, UTC]), ``points`` (int); ordered by equipment_id;
        - ``series``: how many series the measurement holds, or None when the engine
          does not say;
        - ``size_bytes``: bytes on disk, or None when the engine does not say;
        - ``size_note``: what those bytes cover, or why they are unknown.
        """

    def session(self) -> AbstractContextManager[Any]:
        """Hold connections across several reads (a no-op where that gains nothing)."""

    def rollup_measurements(self) -> list[str]:
        """Names of the rollup measurements this store has (``equipment_metrics_1h``...)."""

    def rollup_store(self, measurement: str, create: bool = False) -> "MetricsStore | None":
        """The same backend's store of a rollup measurement (see :mod:`...rollups`),
        sharing this store's connection; None when it is absent and ``create`` is False."""

    def close(self) -> None:
        """Release connections and files."""
