"""What reports run one after the other share: one Chromium for every PDF, one warm
kernel per thread.

A single report opens a :class:`ReportSession` of its own and closes it when done;
a batch opens one for all its reports, so the browser starts once and each worker
starts one kernel (see :mod:`.kernels`). The browser is launched as soon as it is
asked for and boots while the notebook runs.
"""

from __future__ import annotations

import threading
from pathlib import Path

from .chromium import ChromiumSession
from .kernels import ReportKernel


class ReportSession:
    """Shared report resources; thread-safe. Each thread that used :meth:`kernel` calls
    :meth:`close_kernel` before it ends (a kernel belongs to its thread's event loop)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._browser: ChromiumSession | None = None
        self._local = threading.local()

    def __enter__(self) -> ReportSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close_kernel()
        self.close()

    def browser(self) -> ChromiumSession:
        """The session's Chromium, launched on first call."""
        from .export import PRINT_WINDOW, chromium_path

        with self._lock:
            if self._browser is None:
                self._browser = ChromiumSession(chromium_path(), PRINT_WINDOW)
            return self._browser

    def kernel(self) -> ReportKernel:
        """This thread's report kernel (not started yet on first call)."""
        kernel = getattr(self._local, "kernel", None)
        if kernel is None:
            kernel = self._local.kernel = ReportKernel(str(Path.cwd()))
        return kernel

    def close_kernel(self) -> None:
        """Stop this thread's kernel."""
        kernel = getattr(self._local, "kernel", None)
        if kernel is not None:
            self._local.kernel = None
            kernel.shutdown()

    def close(self) -> None:
        """Stop the browser."""
        with self._lock:
            browser, self._browser = self._browser, None
        if browser is not None:
            browser.close()


__all__ = ["ReportSession"]
