"""The dashboard payload, computed in a worker process and served as ready JSON bytes.

``fleet_summary`` over 100 equipment takes a few hundred milliseconds of Python; run in
the serving process it holds the GIL, and every request arriving meanwhile waits.
:class:`DashboardSnapshots` runs it in one worker process (its own store connection, its
own GIL), which also validates and encodes the response there, so the serving process
only hands out bytes.

Freshness, per ``hours``:

- while a period is asked for (within ``keep_warm_s``, 60 s, of the last request), its
  snapshot is recomputed ``ttl_s`` (1.5 s) after the last one was made, so a request
  finds it at most ``ttl_s`` plus one computation old (about 2 s);
- a snapshot younger than ``ttl_s`` is served as is; an older one, up to ``max_age_s``
  (30 s, reached only when computations are very slow), is served while a new one is
  computed (refresh-ahead: no request waits for a recomputation it did not need);
- older still, or not asked for ``keep_warm_s``, or none: the request waits for a new one;
- a write through the API makes every snapshot stale: the next read waits for a
  snapshot computed after that write. Writes in a burst share one recomputation.

At most one computation per ``hours`` runs at a time and at most one waits behind it.
The worker starts with the first dashboard request (a server never asked for one does
not pay for it), which waits a few seconds for it. A dashboard at a past time (``at``)
runs in a second worker, started on first use, so it never delays the current one.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from .. import errors
from ..analytics.service import EquipmentAnalyticsService
from ..config import Settings
from ..errors import StoreError, ValidationError, VigileosError
from .models import DashboardResponse
from .security import may_read

#: The dashboard's path; :class:`DashboardFastPath` answers it when it can.
DASHBOARD_PATH = "/api/influxdb/dashboard/"

__all__ = ["DashboardFastPath", "DashboardSnapshots", "Snapshot", "dashboard_body", "encode_dashboard"]


def dashboard_body(payload: dict[str, Any], hours: int) -> dict[str, Any]:
    """The seed's dashboard payload (and its extra fields) from ``fleet_summary``'s."""
    rows = [{
        "equipment_id": row["equipment_id"], "name": row["name"], "current_status": row["status"],
        "availability_24h": row["availability_24h"], "last_metric": row["last_metric_time"],
        "performance": {"cpu_avg": row["performance"]["cpu_usage"],
                        "memory_avg": row["performance"]["memory_usage"],
                        "response_time_avg": row["performance"]["response_time"]},
        "type": row["type"], "location": row["location"], "coverage_24h": row["coverage_24h"],
    } for row in payload["equipment"]]
    return {"summary": payload["summary"], "equipment_metrics": rows, "hours": hours,
            "generated_at": payload["generated_at"]}


def encode_dashboard(payload: dict[str, Any], hours: int) -> bytes:
    """The dashboard response's JSON, checked against its model once."""
    return DashboardResponse.model_validate(dashboard_body(payload, hours)).model_dump_json().encode()


# -- the worker process --------------------------------------------------------------------

_worker: dict[str, Any] = {}


def _start_worker(settings: Settings) -> None:
    _worker["settings"] = settings


def _service() -> EquipmentAnalyticsService:
    """The worker's service, over its own store (opened at the first call, so that a store
    failure is answered like any other, not by a broken worker)."""
    service = _worker.get("service")
    if service is None:
        from ..stores import open_store

        settings: Settings = _worker["settings"]
        service = _worker["service"] = EquipmentAnalyticsService(
            open_store(settings.store_url, settings), inventory=settings.inventory_path, staleness=settings.staleness)
    return service


def _compute(hours: int, at: datetime | None) -> tuple[str, Any, Any]:
    """("ok", payload, body), or an error as plain values (not every one of the package's
    errors pickles): ("store", message, (class name, kind)), ("invalid", message, (field,
    value as text)) or ("error", message, None)."""
    try:
        payload = _service().fleet_summary(now=at, period=timedelta(hours=hours))
    except StoreError as exc:
        return "store", str(exc), (type(exc).__name__, exc.kind())
    except ValidationError as exc:
        return "invalid", str(exc), (exc.field, None if exc.value is None else str(exc.value))
    except VigileosError as exc:
        return "error", f"{type(exc).__name__}: {exc}", None
    return "ok", payload, encode_dashboard(payload, hours)


def _raise_from_worker(kind: str, message: str, detail: Any) -> None:
    """Raise in the serving process the error the worker described: the same class for
    store failures (so the answer says busy, unauthorized, ...), a ValidationError (400)."""
    if kind == "store":
        name, store_kind = detail
        error_class = getattr(errors, name, StoreError)
        if not (isinstance(error_class, type) and issubclass(error_class, StoreError)):
            error_class = StoreError
        try:
            raise error_class(message, **store_kind)
        except TypeError:  # a subclass with a signature of its own
            raise StoreError(message, **store_kind) from None
    if kind == "invalid":
        field, value = detail
        raise ValidationError(message, field=field, value=value)
    raise VigileosError(message)


# -- the serving side ----------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """One computed dashboard: ``payload`` (``fleet_summary``'s), ``body`` (the response's
    JSON), when it was made (monotonic) and the write generation it saw."""

    payload: dict[str, Any]
    body: bytes
    made: float
    generation: int


@dataclass
class _Job:
    generation: int | None = None  # set when its computation starts
    task: asyncio.Task[Snapshot] = field(init=False)


#: At most this many periods (``hours`` values) are kept warm at once; others are computed on request.
MAX_WARM = 4


class DashboardSnapshots:
    """Dashboard snapshots per period, computed by one worker process (see the module doc).
    Use from the event loop; :meth:`close` stops the workers."""

    def __init__(self, settings: Settings, ttl_s: float = 1.5, max_age_s: float = 30.0,
                 keep_warm_s: float = 60.0) -> None:
        self.settings, self.ttl_s, self.max_age_s, self.keep_warm_s = settings, ttl_s, max_age_s, keep_warm_s
        self.computed = 0
        self._generation = 0
        self._entries: dict[int, Snapshot] = {}
        self._jobs: dict[int, _Job] = {}
        self._asked: dict[int, float] = {}  # hours -> when last asked (monotonic)
        self._pools: dict[str, Executor] = {}
        self._closed = False

    def _executor(self, role: str = "current") -> Executor:
        pool = self._pools.get(role)
        if pool is None:
            # spawn, not fork: the serving process has threads (and maybe store connections).
            pool = self._pools[role] = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                                           initializer=_start_worker, initargs=(self.settings,))
        return pool

    def close(self, role: str | None = None) -> None:
        """Stop the workers (or the one of ``role``)."""
        self._closed = self._closed or role is None
        for name in [role] if role else list(self._pools):
            pool = self._pools.pop(name, None)
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)

    def invalidate(self) -> None:
        """Points were written: the next read waits for a snapshot computed after now."""
        self._generation += 1

    def fresh(self, hours: int) -> Snapshot | None:
        """The snapshot of ``hours`` if it can be served without any work (younger than
        ``ttl_s``, after the last write), else None; counts as a request for keeping warm."""
        now = time.monotonic()
        self._asked[hours] = now
        entry = self._entries.get(hours)
        if entry is not None and entry.generation == self._generation and now - entry.made < self.ttl_s:
            return entry
        return None

    def _warm(self, hours: int, now: float) -> bool:
        """Whether ``hours`` is among the :data:`MAX_WARM` periods asked for most recently
        (within ``keep_warm_s``): only those are recomputed ahead of requests."""
        recent = sorted((t, h) for h, t in self._asked.items() if now - t < self.keep_warm_s)[-MAX_WARM:]
        return any(h == hours for _, h in recent)

    def _forget_unasked(self, now: float) -> None:
        """Drop the snapshots of periods nobody asked for within ``keep_warm_s``: memory
        stays bounded however many ``hours`` values clients cycle through."""
        for hours, asked in list(self._asked.items()):
            if now - asked >= self.keep_warm_s:
                del self._asked[hours]
                self._entries.pop(hours, None)
                job = self._jobs.get(hours)
                if job is not None and job.task.done():
                    del self._jobs[hours]

    async def get(self, hours: int = 24) -> Snapshot:
        """The dashboard of the last ``hours``, as fresh as the module doc says."""
        now = time.monotonic()
        self._forget_unasked(now)
        kept_warm = hours in self._asked and self._warm(hours, now)
        self._asked[hours] = now
        entry = self._entries.get(hours)
        if entry is not None and entry.generation == self._generation:
            age = now - entry.made
            if age < self.ttl_s:
                return entry
            if kept_warm and age < self.max_age_s:
                self._job(hours)  # refresh ahead; this request does not wait
                return entry
        return await asyncio.shield(self._job(hours).task)

    async def at(self, hours: int, at: datetime) -> Snapshot:
        """The dashboard as it was at ``at`` (computed every time, never kept)."""
        return await self._run(hours, at, role="past")

    def _job(self, hours: int) -> _Job:
        """The computation that will see every write so far: the newest one if it has not
        started or started after the last write, else a new one queued behind it."""
        newest = self._jobs.get(hours)
        if newest is not None and not newest.task.done() and (
                newest.generation is None or newest.generation >= self._generation):
            return newest
        job = _Job()
        job.task = asyncio.create_task(self._refresh(hours, job, newest), name=f"vigileos-dashboard-{hours}h")
        job.task.add_done_callback(_retrieve)
        self._jobs[hours] = job
        return job

    async def _refresh(self, hours: int, job: _Job, previous: _Job | None) -> Snapshot:
        if previous is not None and not previous.task.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(previous.task)
        job.generation = self._generation
        snapshot = await self._run(hours, None, job.generation)
        current = self._entries.get(hours)
        if current is None or current.made <= snapshot.made:
            self._entries[hours] = snapshot
        self.computed += 1
        asyncio.get_running_loop().call_later(self.ttl_s, self._keep_warm, hours)
        return snapshot

    def _keep_warm(self, hours: int) -> None:
        """Recompute a period still asked for, unless a newer snapshot came meanwhile."""
        now, entry = time.monotonic(), self._entries.get(hours)
        if (not self._closed and hours in self._asked and self._warm(hours, now)
                and (entry is None or now - entry.made >= self.ttl_s * 0.99)):
            self._job(hours)

    async def _run(self, hours: int, at: datetime | None, generation: int = -1, role: str = "current") -> Snapshot:
        loop = asyncio.get_running_loop()
        try:
            outcome = await loop.run_in_executor(self._executor(role), _compute, hours, at)
        except BrokenProcessPool:  # the worker died (killed, out of memory): a new one, once
            self.close(role)
            outcome = await loop.run_in_executor(self._executor(role), _compute, hours, at)
        kind, payload, body = outcome
        if kind != "ok":
            _raise_from_worker(kind, payload, body)
        return Snapshot(payload, body, time.monotonic(), generation)


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a refresh's failure as seen: it reaches the requests that waited for it."""
    if not task.cancelled():
        task.exception()


class DashboardFastPath:
    """ASGI middleware: ``GET /api/influxdb/dashboard/`` (optionally ``?hours=N``) with a
    fresh snapshot is answered here with its bytes, before the framework's routing,
    dependencies and parameter parsing (most of a request's cost once the payload is
    ready). Anything else, or no fresh snapshot, goes on to the route, which has the
    same answer and the error messages."""

    def __init__(self, app: ASGIApp, snapshots: DashboardSnapshots, settings: Settings) -> None:
        self.app, self.snapshots, self.settings = app, snapshots, settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        snapshot = self._answer(scope) if scope["type"] == "http" else None
        if snapshot is None:
            await self.app(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-length", str(len(snapshot.body)).encode()), (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": snapshot.body})

    def _answer(self, scope: Scope) -> Snapshot | None:
        if scope["method"] != "GET" or scope["path"] != DASHBOARD_PATH:
            return None
        query: bytes = scope.get("query_string", b"")
        hours = 24
        if query:
            name, _, value = query.partition(b"=")
            if name != b"hours" or not value.isdigit() or not 1 <= int(value) <= 24 * 366:
                return None  # other parameters (at=...) or a bad value: the route's business
            hours = int(value)
        authorization = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        if not may_read(self.settings, authorization.decode("latin-1")):
            return None
        return self.snapshots.fresh(hours)
