"""Auto-refresh inside the kernel: a task on the kernel's asyncio loop.

The work of a refresh (store reads, pandas) runs in one worker thread so the
kernel keeps answering the browser meanwhile; widgets are updated back on the loop,
where ipywidgets expects it. Refreshes never overlap: a tick that comes while one
is running is skipped.

Timed refreshes run only while the page is open (``alive``, a
:class:`~.heartbeat.PageHeartbeat`'s): a kernel whose tab was closed must fall
silent, or Jupyter's idle culler never shuts it down. Pokes (the refresh button, a
new choice) always run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
#: How often the loop checks whether a refresh is due or was asked for (seconds).
POLL_S = 0.25


class AutoRefresh:
    """Call ``refresh`` (a coroutine function) every ``interval_s`` seconds while
    ``enabled`` and ``alive()``; ``interval_s`` and ``enabled`` may change at any time.

    A refresh that falls due while ``alive()`` is false waits, and runs as soon as it
    turns true again. ``sleep`` waits between checks (tests pass a fake clock's).
    """

    def __init__(self, refresh: Callable[[], Awaitable[Any]], interval_s: float, enabled: bool = True, *,
                 alive: Callable[[], bool] | None = None,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive seconds; got {interval_s!r}.")
        self.refresh = refresh
        self.interval_s = float(interval_s)
        self.enabled = enabled
        self.alive = alive
        self.ticks = 0
        #: True while a due refresh waits for the page to come back.
        self.paused = False
        self._sleep = sleep
        self._poked = False
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> AutoRefresh:
        """Start ticking on the current event loop (the kernel's, in a notebook)."""
        if not self.running:
            self._task = asyncio.get_event_loop().create_task(self._run())
        return self

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def poke(self) -> None:
        """Refresh now, whatever the interval (at the next check with a fake ``sleep``). Safe
        to call from any thread, such as a widget callback's."""
        self._poked = True
        if self._loop is not None and self._wake is not None:
            try:
                self._loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:  # the loop is closed: nothing left to refresh
                pass

    def _watched(self) -> bool:
        watched = self.alive is None or bool(self.alive())
        if watched == self.paused:
            self.paused = not watched
            log.info("auto-refresh %s", "paused: the page stopped beating" if self.paused else "resumed")
        return watched

    async def _pause(self) -> bool:
        """Wait ``POLL_S``, or less when poked (a click should not wait for the next check);
        True when a poke cut it short."""
        if self._sleep is not asyncio.sleep or self._wake is None:
            await self._sleep(POLL_S)
            return False
        try:
            await asyncio.wait_for(self._wake.wait(), POLL_S)
            return True
        except TimeoutError:
            return False
        finally:
            self._wake.clear()

    async def _run(self) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        waited = 0.0
        while True:
            if not await self._pause():
                waited += POLL_S
            due = self.enabled and waited >= self.interval_s and self._watched()
            if not (due or self._poked):
                continue
            self._poked, waited = False, 0.0
            self.ticks += 1
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a failed tick must not stop the next ones
                log.exception("auto-refresh tick failed")


class Worker:
    """One background thread that runs a page's computations, one at a time."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vigileos-dashboard")
        self._busy = False

    @property
    def busy(self) -> bool:
        return self._busy

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        self._busy = True
        try:
            return await asyncio.get_event_loop().run_in_executor(self._executor, function, *args)
        finally:
            self._busy = False

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
