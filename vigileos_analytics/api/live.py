"""Live push over WebSocket.

- ``/ws/equipment/{id}/metrics?interval=5``: ``{"equipment_id", "metrics": [{"time",
  "metric_type", "value", "tags"}], "newest"}``, the latest value of each of the
  equipment's series, every ``interval`` seconds (default 5, at least 1) and as soon
  as a poll sees the newest point time change (polls every ``LiveHub.poll_s``, 1 s).
- ``/ws/dashboard?interval=5&hours=24``: ``analytics.fleet_summary()`` every ``interval``, from
  the dashboard snapshots the REST endpoint serves (:mod:`.snapshots`).

One poller task per topic (an equipment, or the dashboard of a period) serves every
subscriber of it; it starts with the first subscriber and stops with the last. Each
subscriber keeps only the newest payload not yet sent, so a slow client skips
payloads instead of growing a queue. The token comes as ``?token=`` (browsers cannot
set headers on a WebSocket) or ``Authorization: Bearer``, with the rules of
:func:`.security.require_read`; a refused handshake is answered with a problem
document (401 / 400) where the server supports it, else closed with 1008.
``GET /api/live/stats`` shows topics, subscribers, pollers started and polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect

from ..analytics.service import EquipmentAnalyticsService
from .problems import problem_response
from .security import _matches, require_read
from .snapshots import DashboardSnapshots

logger = logging.getLogger(__name__)
router = APIRouter()

DEFAULT_INTERVAL_S = 5.0
MIN_INTERVAL_S = 1.0
MAX_INTERVAL_S = 3600.0


class Subscriber:
    """One client of a topic: its interval and the newest payload not yet sent."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.last_sent = float("-inf")
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1)

    def offer(self, payload: dict[str, Any], now: float) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(payload)
        self.last_sent = now

    async def next(self) -> dict[str, Any]:
        return await self._queue.get()


@dataclass
class Topic:
    """What one poller reads (``fetch``, run in a thread, or ``fetch_async`` awaited on the
    loop) and who gets it; ``version`` tells a new payload from the last one; ``poll_s``
    None polls at the shortest interval."""

    key: str
    fetch: Callable[[], dict[str, Any]] | None
    version: Callable[[dict[str, Any]], Hashable]
    poll_s: float | None
    subscribers: set[Subscriber] = field(default_factory=set)
    task: asyncio.Task | None = None
    last: dict[str, Any] | None = None
    polls: int = 0
    fetch_async: Callable[[], Awaitable[dict[str, Any]]] | None = None


class LiveHub:
    """The topics being watched, one poller task each."""

    def __init__(self, analytics: EquipmentAnalyticsService, dashboards: DashboardSnapshots,
                 poll_s: float = 1.0) -> None:
        self.analytics = analytics
        self.poll_s = poll_s
        self.dashboards = dashboards
        self.topics: dict[str, Topic] = {}
        self.pollers_started = 0

    def subscribe(self, key: str, make: Callable[[], Topic], interval_s: float) -> Subscriber:
        topic = self.topics.get(key)
        if topic is None:
            topic = self.topics[key] = make()
        subscriber = Subscriber(interval_s)
        topic.subscribers.add(subscriber)
        if topic.last is not None:
            subscriber.offer(topic.last, asyncio.get_running_loop().time())
        if topic.task is None:
            self.pollers_started += 1
            topic.task = asyncio.create_task(self._poll(topic), name=f"vigileos-live-{key}")
        return subscriber

    def unsubscribe(self, key: str, subscriber: Subscriber) -> None:
        topic = self.topics.get(key)
        if topic is None:
            return
        topic.subscribers.discard(subscriber)
        if not topic.subscribers:
            del self.topics[key]
            if topic.task is not None:
                topic.task.cancel()

    async def _poll(self, topic: Topic) -> None:
        loop = asyncio.get_running_loop()
        last_version: Hashable = object()
        while topic.subscribers:
            started = loop.time()
            try:
                if topic.fetch_async is not None:
                    payload = await topic.fetch_async()
                else:
                    assert topic.fetch is not None
                    payload = await asyncio.to_thread(topic.fetch)
            except Exception as exc:  # a failed poll (store busy, down) is retried at the next one
                logger.warning("live poll of %s failed: %s", topic.key, exc)
                payload = None
            topic.polls += 1
            if payload is not None:
                version = topic.version(payload)
                changed, last_version, topic.last = version != last_version, version, payload
                now = loop.time()
                for subscriber in list(topic.subscribers):
                    if changed or now - subscriber.last_sent >= subscriber.interval_s - 0.05:
                        subscriber.offer(payload, now)
            period = topic.poll_s or min((s.interval_s for s in topic.subscribers), default=DEFAULT_INTERVAL_S)
            await asyncio.sleep(max(period - (loop.time() - started), 0.05))

    def stats(self) -> dict[str, Any]:
        return {"pollers_started": self.pollers_started, "summaries_computed": self.dashboards.computed,
                "topics": {key: {"subscribers": len(t.subscribers), "polls": t.polls, "polling": t.task is not None
                                 and not t.task.done()} for key, t in self.topics.items()}}


def _hub(connection: Request | WebSocket) -> LiveHub:
    hub: LiveHub = connection.app.state.live
    return hub


def _refusal(websocket: WebSocket) -> tuple[int, str] | None:
    """Why this handshake is refused (status, detail), or None: the rules of ``require_read``."""
    settings = websocket.app.state.settings
    if not settings.api_token:
        return None
    given = websocket.query_params.get("token")
    if not given:
        scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
        given = token.strip() if scheme.lower() == "bearer" else None
    if not given:
        return 401, "This socket needs ?token=<VIGILEOS_API_TOKEN> or the header Authorization: Bearer <token>."
    if _matches(given, settings.api_token) or _matches(given, settings.api_write_token):
        return None
    return 401, "The token is not valid."


def _number(websocket: WebSocket, name: str, default: float, low: float, high: float) -> float | str:
    text = websocket.query_params.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        return f"{name} must be a number of seconds from {low:g} to {high:g}; got {text!r}."
    return value


async def _deny(websocket: WebSocket, status: int, detail: str) -> None:
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(problem_response(status, detail))
    else:
        await websocket.close(code=1008, reason=detail[:120])


async def _serve(websocket: WebSocket, key: str, make: Callable[[], Topic], invalid: str | None = None) -> None:
    refused = _refusal(websocket) or ((400, invalid) if invalid else None)
    if refused is not None:
        await _deny(websocket, *refused)
        return
    interval = _number(websocket, "interval", DEFAULT_INTERVAL_S, MIN_INTERVAL_S, MAX_INTERVAL_S)
    if isinstance(interval, str):
        await _deny(websocket, 400, interval)
        return
    await websocket.accept()
    hub = _hub(websocket)
    subscriber = hub.subscribe(key, make, interval)

    async def send() -> None:
        while True:
            await websocket.send_text(json.dumps(await subscriber.next()))

    async def receive() -> None:
        while True:  # nothing is expected from the client; this notices it leaving
            if (await websocket.receive())["type"] == "websocket.disconnect":
                return

    tasks = [asyncio.create_task(send()), asyncio.create_task(receive())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        hub.unsubscribe(key, subscriber)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError, OSError):
                await task


def _latest_metrics(hub: LiveHub, equipment_id: str) -> dict[str, Any]:
    frame = hub.analytics.store.latest(equipment_ids=[equipment_id]).sort_values(["metric_type", "time"])
    metrics = [{"time": t.isoformat(), "metric_type": m, "value": float(v), "tags": dict(tags)}
               for t, m, v, tags in zip(frame["time"], frame["metric_type"], frame["value"], frame["tags"],
                                        strict=True)]
    newest = frame["time"].max().isoformat() if len(frame) else None
    return {"equipment_id": equipment_id, "metrics": metrics, "newest": newest}


@router.websocket("/ws/equipment/{equipment_id}/metrics")
async def equipment_metrics(websocket: WebSocket, equipment_id: str) -> None:
    """The equipment's latest metrics, at each interval and when a newer point arrives."""
    hub = _hub(websocket)
    await _serve(websocket, f"equipment:{equipment_id}", lambda: Topic(
        f"equipment:{equipment_id}", lambda: _latest_metrics(hub, equipment_id),
        lambda p: (p["newest"], len(p["metrics"])), hub.poll_s))


@router.websocket("/ws/dashboard")
async def dashboard(websocket: WebSocket) -> None:
    """The fleet summary (``fleet_summary``) at each interval; ``hours`` is its period."""
    hours = _number(websocket, "hours", 24, 1, 24 * 366)
    invalid = hours.replace("a number of seconds", "a number of hours") if isinstance(hours, str) else None
    period = 24 if isinstance(hours, str) else int(hours)
    hub = _hub(websocket)

    async def summary() -> dict[str, Any]:
        return (await hub.dashboards.get(period)).payload

    await _serve(websocket, f"dashboard:{period}h", lambda: Topic(
        f"dashboard:{period}h", None, lambda p: p.get("generated_at"), None, fetch_async=summary), invalid)


@router.get("/api/live/stats", dependencies=[Depends(require_read)])
def live_stats(request: Request) -> dict[str, Any]:
    """The live topics: subscribers and polls of each, pollers started since the start."""
    return _hub(request).stats()
