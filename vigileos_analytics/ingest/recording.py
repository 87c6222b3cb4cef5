"""Recording metrics: the seed's ``EquipmentMetricsService``, buffered and loss-free.

Points are validated when recorded, kept in a buffer, and written in batches of
``batch_size`` or on :meth:`flush`. A failed write keeps the points in the buffer
(and re-raises) so the next flush retries them; ``close()``, the context manager
and interpreter exit all flush.
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

from ..errors import ValidationError, WriteError
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
        """Write every buffered point. On failure the points stay buffered and the
        ``WriteError`` says how many are waiting."""
        with self._lock:
            if not self._buffer:
                return WriteResult(0, 0)
            batch = list(self._buffer)
            try:
                result = self.store.write_points(batch)
            except WriteError as exc:
                raise WriteError(f"{len(batch)} buffered points were not written and stay buffered for the next "
                                 f"flush: {exc}", unwritten=exc.unwritten, written=exc.written) from exc
            del self._buffer[:len(batch)]
            return result

    def close(self) -> None:
        """Flush and stop accepting points. Raises ``WriteError`` if the flush fails."""
        with self._lock:
            if self._closed:
                return
            self.flush()
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
            except Exception:  # at exit, logging is the only channel left
                logger.exception("%d buffered points could not be written at exit", len(buffer))
