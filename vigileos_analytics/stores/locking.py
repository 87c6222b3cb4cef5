"""A readers-writer lock between processes, on two lock files beside the store.

DuckDB lets one process hold a database file read-write, or many read-only, never
both. Rather than letting processes collide inside DuckDB and retry, every access
first takes this lock: readers share it, a writer has it alone, and a waiting
writer stops new readers from entering (the "turnstile"), so a busy dashboard
cannot starve the simulator. Waits are bounded; past the limit a clear
``StoreBusyError`` names the store and the setting to change.

``flock`` locks belong to an open file description, so two threads of one
process exclude each other exactly as two processes do.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import StoreBusyError


class StoreLock:
    def __init__(self, store_path: Path, timeout_s: float) -> None:
        self.data_path = Path(f"{store_path}.lock")
        self.turnstile_path = Path(f"{store_path}.turnstile")
        self.timeout_s = timeout_s
        self.store_path = store_path

    @contextmanager
    def shared(self) -> Iterator[None]:
        deadline = time.monotonic() + self.timeout_s
        # Pass through the turnstile: blocks while a writer is waiting or writing.
        with self._flock(self.turnstile_path, fcntl.LOCK_SH, deadline):
            pass
        with self._flock(self.data_path, fcntl.LOCK_SH, deadline):
            yield

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        deadline = time.monotonic() + self.timeout_s
        with self._flock(self.turnstile_path, fcntl.LOCK_EX, deadline):
            with self._flock(self.data_path, fcntl.LOCK_EX, deadline):
                yield

    @contextmanager
    def _flock(self, path: Path, mode: int, deadline: float) -> Iterator[None]:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o664)
        try:
            delay = 0.002
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StoreBusyError(
                            f"The store {self.store_path} stayed locked by another process for "
                            f"{self.timeout_s:.0f} s. Is a long import or query running? "
                            "Wait for it, or raise VIGILEOS_LOCK_TIMEOUT."
                        ) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.05)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
