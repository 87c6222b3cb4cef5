"""Recording metrics: the seed's ``EquipmentMetricsService``, buffered and loss-free.

Points are validated when recorded, kept in a buffer, and written in batches of
``batch_size`` or on :meth:`flush`; ``close()``, the context manager and
interpreter exit all flush. What a failed flush does with the points depends on
who said no:

- the store refused them (a value it does not accept, credentials refused, no such
  database: :data:`REFUSALS`): they are dropped, and the error says so. Trying again
  would only fail again, so nothing retries them behind the caller's back;
- anything else (unreachable, busy, unknown): they stay buffered, the error says
  so, and the next flush retries them.

``close()`` stops the service even when its flush fails: a closed service is never
flushed again at exit (its error said what was not written).
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from ..errors import StoreError, ValidationError, WriteError
from ..schema import (
    AVAILABILITY,
    CPU_USAGE,
    MEMORY_USAGE,
    RESPONSE_TIME,
    STATUS_CHANGE,
    Point,
    StatusRegistry,
    validate_value,
)
from ..stores.base import MetricsStore, WriteResult

logger = logging.getLogger(__name__)

#: ``problem`` kinds of a write the store refused: the same points would be refused again.
REFUSALS = frozenset({"unauthorized", "forbidden", "wrong_org", "missing_bucket", "missing_database", "missing_dbrp",
                      "wrong_api", "not_found"})


#: 4xx answers that are about the moment, not the points: a timeout (408), a batch too
#: large for the server's body limit (413: the next flush may be smaller), too many requests (429).
_WORTH_RETRYING = frozenset({408, 413, 429})


def refused_by_store(error: StoreError) -> bool:
    """Whether a failed write is the store saying no to the points (trying again would
    fail again), rather than the store being busy, unreachable or failing."""
    status = error.status or 0
    return error.problem in REFUSALS or (400 <= status < 500 and status not in _WORTH_RETRYING)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class EquipmentMetricsService:
    """Record equipment metrics into a store.

    ``clock`` gives the time of points recorded without one (UTC); inject it in tests.
    """

    def __init__(self, store: MetricsStore, *, batch_size: int = 5000,
                 clock: Callable[[], datetime] = _utc_now, statuses: StatusRegistry | None = None) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValidationError(f"batch_size must be a positive whole number; got {batch_size!r}.",
                                  field="batch_size", value=batch_size)
        self.store = store
        self.batch_size = batch_size
        self._clock = clock
        self._statuses = statuses or StatusRegistry()
        self._buffer: list[Point] = []
        self._lock = threading.RLock()
        self._closed = False
        # Flush at interpreter exit without keeping the service alive.
        self._finalizer = weakref.finalize(self, EquipmentMetricsService._flush_at_exit, self._buffer, store,
                                           self._lock)
        atexit.register(self._finalizer)

    # -- the seed's API ----------------------------------------------------------------

    def record_metric(self, equipment_id: str, metric_type: str, value: float,
                      tags: Mapping[str, str] | None = None, time: datetime | None = None) -> None:
        """Record one value (unit of the metric type) at ``time`` (aware; default now, UTC)."""
        self._add(Point(equipment_id, metric_type, value, time if time is not None else self._clock(),
                        dict(tags or {})))

    def record_availability(self, equipment_id: str, is_available: bool, reason: str = "",
                            time: datetime | None = None) -> None:
        """Record available (1) or unavailable (0), with an optional reason tag."""
        if not isinstance(is_available, bool):
            raise ValidationError(f"is_available must be True or False; got {is_available!r}.",
                                  field="is_available", value=is_available)
        self.record_metric(equipment_id, AVAILABILITY, 1.0 if is_available else 0.0,
                           {"reason": reason} if reason else None, time)

    def record_performance(self, equipment_id: str, cpu_usage: float, memory_usage: float, response_time: float,
                           time: datetime | None = None) -> None:
        """Record CPU (%), memory (%) and response time (ms) at one instant."""
        for name, value, upper in (("cpu_usage", cpu_usage, 100), ("memory_usage", memory_usage, 100),
                                   ("response_time", response_time, None)):
            number = validate_value(value, name)
            if number < 0 or (upper is not None and number > upper):
                limit = f"between 0 and {upper}" if upper else "at least 0"
                raise ValidationError(f"{name} must be {limit}; got {value!r}.", field=name, value=value)
        at = time if time is not None else self._clock()
        points = [Point(equipment_id, metric, value, at) for metric, value in
                  ((CPU_USAGE, cpu_usage), (MEMORY_USAGE, memory_usage), (RESPONSE_TIME, response_time))]
        self._add(*points)

    def record_status_change(self, equipment_id: str, previous_status: str, new_status: str,
                             time: datetime | None = None) -> None:
        """Record a status change (value 1, tags previous_status / new_status)."""
        self._statuses.validate(previous_status, "previous_status")
        self._statuses.validate(new_status, "new_status")
        self.record_metric(equipment_id, STATUS_CHANGE, 1.0,
                           {"previous_status": previous_status, "new_status": new_status}, time)

    def record_frame(self, frame: pd.DataFrame) -> WriteResult:
        """Write a points frame directly (bulk); buffered points are flushed first."""
        self.flush()
        return self.store.write_frame(frame)

    # -- buffering ---------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """How many recorded points are not written yet."""
        return len(self._buffer)

    def _add(self, *points: Point) -> None:
        with self._lock:
            if self._closed:
                raise ValidationError("This EquipmentMetricsService is closed; create a new one.", field="service")
            self._buffer.extend(points)
            full = len(self._buffer) >= self.batch_size
        if full:
            self.flush()

    def flush(self) -> WriteResult:
        """Write every buffered point. Points the store refused (a ``ValidationError``,
        or a ``WriteError`` whose ``problem`` is in :data:`REFUSALS` or a 4xx answer)
        are dropped; after any other failure they stay buffered. Either way the error
        raised says which."""
        with self._lock:
            if not self._buffer:
                return WriteResult(0, 0)
            batch = list(self._buffer)
            try:
                result = self.store.write_points(batch)
            except ValidationError as exc:
                del self._buffer[:len(batch)]
                raise ValidationError(f"{len(batch)} recorded points were refused and dropped (not retried): {exc}",
                                      field=exc.field, value=exc.value) from exc
            except WriteError as exc:
                if not refused_by_store(exc):
                    raise WriteError(f"{len(batch)} buffered points were not written and stay buffered for the next "
                                     f"flush: {exc}", unwritten=exc.unwritten, written=exc.written,
                                     **exc.kind()) from exc
                del self._buffer[:len(batch)]
                raise WriteError(f"{len(batch) - exc.written} recorded points were dropped (not retried): {exc}",
                                 unwritten=exc.unwritten, written=exc.written,
                                 **exc.kind()) from exc
            del self._buffer[:len(batch)]
            return result

    def close(self) -> None:
        """Flush and stop accepting points. Raises the flush's error if it fails; the
        service is closed all the same and never flushed again at exit."""
        with self._lock:
            if self._closed:
                return
            try:
                self.flush()
            finally:
                self._closed = True
                self._finalizer.detach()

    def __enter__(self) -> EquipmentMetricsService:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @staticmethod
    def _flush_at_exit(buffer: list[Point], store: MetricsStore, lock: threading.RLock) -> None:
        with lock:
            if not buffer:
                return
            try:
                store.write_points(list(buffer))
                buffer.clear()
            except (StoreError, ValidationError) as exc:  # at exit, logging is the only channel left
                logger.error("%d buffered points could not be written at exit: %s", len(buffer), exc)
