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
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

import pandas as pd

from ..errors import StoreError, ValidationError
from ..schema import Point, points_to_frame, validate_range

if TYPE_CHECKING:
    from .spool import Spool

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
    # Any sequence of strings is accepted; __post_init__ stores a tuple.
    equipment_ids: Sequence[str] | None = None
    metric_types: Sequence[str] | None = None
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
    """Outcome of a store health check; ``details`` never holds secrets. When not
    ``ok``, ``error`` is the typed error that says why (its ``problem``, ``status``, ...)
    and ``message`` its text."""

    ok: bool
    backend: str
    location: str
    version: str = ""
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    error: StoreError | None = None


@dataclass(frozen=True)
class StorageFacts:
    """What a store holds, computed in its engine (``vigileos check --verbose``).

    ``equipment``: one row per equipment with points in the store's measurement:
    ``equipment_id``, ``first`` and ``last`` (times of its oldest and newest point,
    datetime64[ns, UTC]), ``points`` (int); ordered by equipment_id. ``series``: how
    many series it holds; ``size_bytes``: bytes on disk; both None when the engine
    does not say. ``size_note``: what those bytes cover, or why they are unknown.
    """

    equipment: pd.DataFrame
    series: int | None
    size_bytes: int | None
    size_note: str


@dataclass(frozen=True)
class Retention:
    """How long a store keeps points: ``days`` (None: for ever), where that is kept
    (``where``, e.g. "retention policy 'autogen'") and backend facts (``details``).
    ``enforced_by_store`` is False where ``vigileos cleanup`` applies it (embedded)."""

    backend: str
    days: float | None
    where: str
    details: dict[str, Any] = field(default_factory=dict)
    enforced_by_store: bool = True

    @property
    def duration(self) -> timedelta | None:
        return None if self.days is None else timedelta(days=self.days)


class WritesPointsAsFrames:
    """Mixin: ``write_points`` validates :class:`Point` objects and hands them to ``write_frame``."""

    def write_points(self, points: Iterable[Point], *, spool: bool = True) -> WriteResult:
        points = list(points)
        if not all(isinstance(p, Point) for p in points):
            raise ValidationError("write_points takes Point objects.", field="points")
        if not points:
            return WriteResult(0, 0)
        return self.write_frame(points_to_frame(points), spool=spool)  # type: ignore[attr-defined]


class ClosesOnExit:
    """Mixin: ``with store:`` closes the store on the way out."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()  # type: ignore[attr-defined]


class NoSessionNeeded:
    """Mixin for backends whose requests share nothing worth holding: ``session()``
    is a no-op that keeps the protocol whole."""

    @contextmanager
    def session(self) -> Iterator[Any]:
        yield self


@runtime_checkable
class MetricsStore(Protocol):
    """The operations every storage backend offers.

    Capabilities a caller might otherwise test the backend name for are members
    here: :attr:`spool`, :attr:`enforces_retention`, :meth:`retention`. ``backend``
    is a name to display, not to branch on.
    """

    backend: str

    @property
    def spool(self) -> Spool | None:
        """The outage spool that holds writes while the server is down, or None
        (the embedded store, a rollup store, or a URL with ``spool=off``)."""

    @property
    def enforces_retention(self) -> bool:
        """True when the engine deletes points past the retention by itself
        (InfluxDB); False when ``vigileos cleanup`` has to (embedded)."""

    def write_frame(self, frame: pd.DataFrame, *, spool: bool = True) -> WriteResult:
        """Write a points frame (see :func:`schema.normalize_points_frame`).

        Idempotent: a point with the same series (equipment, metric, tags) and time
        as a stored one replaces it. Raises ``WriteError`` naming what was not written.
        With ``spool=False`` the write bypasses the outage spool: it is neither
        queued behind a backlog nor spooled on an outage, which raises instead
        (``vigileos check``'s probe must reach the server or fail).
        """

    def write_points(self, points: Iterable[Point], *, spool: bool = True) -> WriteResult:
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

    def storage_facts(self) -> StorageFacts:
        """What the store holds, computed in the engine (see :class:`StorageFacts`)."""

    def retention(self) -> Retention:
        """How long the store keeps points (InfluxQL: the retention policy; InfluxDB 2:
        the bucket's expire rule; embedded: a setting applied by ``vigileos cleanup``)."""

    def set_retention(self, days: int) -> Retention:
        """Keep points ``days`` whole days (0: for ever, up to 36,500); returns the
        retention as read back."""

    def session(self) -> AbstractContextManager[Any]:
        """Hold connections across several reads (a no-op where that gains nothing)."""

    def rollup_names(self) -> list[str]:
        """Names of the rollups this store holds (``equipment_metrics_1h``..., see
        :mod:`.rollups`): a measurement on InfluxDB, a file beside an embedded store."""

    def open_rollup(self, name: str) -> MetricsStore | None:
        """The store of the rollup ``name``, sharing this store's connection (close
        this store only); None when there is no such rollup."""

    def create_rollup(self, name: str) -> MetricsStore:
        """The store of the rollup ``name``, created when it does not exist yet."""

    def close(self) -> None:
        """Release connections and files."""

    def __enter__(self) -> Self:
        """``with store:`` closes the store on the way out."""

    def __exit__(self, *exc: Any) -> None:
        """Close the store."""
