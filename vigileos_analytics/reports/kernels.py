"""Report kernels: started once, kept warm, and reused by the reports run one after the other.

Starting a kernel and importing pandas, plotly and the package in it costs seconds; a
batch pays it once per worker. :class:`ReportKernel` hands a started kernel to
papermill (the ``vigileos`` engine passes it to nbclient as its kernel manager, which
nbclient then leaves running) and, between two reports, empties the namespace, sets
the execution count back to 1 and re-arms plotly so that the next notebook embeds
plotly.js again: an executed notebook is the same as one run in a fresh kernel.
A report that fails takes its kernel down with it; the next one starts a new kernel.

Kernels talk over Unix sockets (``transport=ipc``, one socket folder per kernel),
so reports running in parallel never race for TCP ports; they run with
``PLOTLY_RENDERER=notebook`` so plotly.js is embedded in the outputs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from traitlets import default

#: Variables set in every report kernel.
KERNEL_ENV = {"PLOTLY_RENDERER": "notebook", "MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
#: Seconds a kernel may take to start.
START_TIMEOUT = 60
#: Run silently between two reports (silent: it takes no execution count of its own).
_RESET = """\
get_ipython().reset(new_session=True)  # empty namespace, execution count back to 1
import plotly.io as _pio
_pio.renderers.default = _pio.renderers.default  # embeds plotly.js again with the next figure
del _pio
"""


class ReportKernelManager(AsyncKernelManager):
    """A kernel manager on Unix sockets with the report environment (see KERNEL_ENV)."""

    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"

    @default("ip")
    def _default_ip(self) -> str:
        # Socket files are <ip>-<port>: a private folder per kernel, never shared by two kernels.
        return os.path.join(tempfile.mkdtemp(prefix="vg-kernel-"), "k")

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(os.path.dirname(self.ip), ignore_errors=True)

    cleanup_resources = _async_cleanup_resources

    async def _async_start_kernel(self, **kw: Any) -> None:
        env = dict(kw.pop("env", None) or os.environ)
        env.update(KERNEL_ENV)
        try:
            await super()._async_start_kernel(env=env, **kw)
        except BaseException:
            shutil.rmtree(os.path.dirname(self.ip), ignore_errors=True)  # the socket folder of a kernel that never ran
            raise

    start_kernel = _async_start_kernel


class ReportKernel:
    """A python3 report kernel for one thread (its event loop): :meth:`start`, run notebooks
    through the ``vigileos`` papermill engine with ``kernel=self``, :meth:`shutdown`."""

    def __init__(self, cwd: str) -> None:
        self.cwd = cwd
        self.km: ReportKernelManager | None = None
        self.reports = 0

    def start(self) -> float:
        """Start the kernel unless it runs; returns the seconds it took (0 when warm)."""
        if self.km is not None and self.km.has_kernel:
            return 0.0
        started = time.perf_counter()
        km = ReportKernelManager(kernel_name="python3")
        # No history database: reports never read it, and kernels in parallel would share one.
        run_sync(km.start_kernel)(cwd=self.cwd, extra_arguments=["--HistoryManager.enabled=False"])
        self.km, self.reports = km, 0
        client = km.client()
        client.start_channels()
        try:  # counted here: the kernel's own start-up, before it answers
            run_sync(client.wait_for_ready)(timeout=START_TIMEOUT)
        except RuntimeError:
            self.shutdown()
            raise
        finally:
            client.stop_channels()
        return time.perf_counter() - started

    def finish(self, client: PapermillNotebookClient, succeeded: bool) -> None:
        """After a notebook: make the kernel ready for the next one, or stop it after a failure."""
        try:
            if succeeded and client.kc is not None:
                reply = client.wait_for_reply(client.kc.execute(_RESET, silent=True, store_history=False))
                succeeded = bool(reply) and reply["content"]["status"] == "ok"
        finally:
            if client.kc is not None:
                client.kc.stop_channels()
        self.reports += 1
        if not succeeded:
            self.shutdown()

    def shutdown(self) -> None:
        """Stop the kernel (a no-op when none runs)."""
        km, self.km = self.km, None
        if km is not None and km.has_kernel:
            run_sync(km.shutdown_kernel)(now=True)


class ReportEngine(NBClientEngine):
    """papermill's nbclient engine on the :class:`ReportKernel` given as ``kernel``."""

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, log_output: bool = False,
                                 stdout_file: Any = None, stderr_file: Any = None, start_timeout: int = START_TIMEOUT,
                                 execution_timeout: int | None = None, *, kernel: ReportKernel, **kwargs: Any) -> Any:
        kernel.start()
        client = PapermillNotebookClient(nb_man, km=kernel.km, kernel_name=kernel_name, log_output=log_output,
                                         startup_timeout=start_timeout, timeout=execution_timeout)
        succeeded = False
        try:
            nb = client.execute()
            succeeded = not any(cell.metadata.get("papermill", {}).get("exception") for cell in nb.cells)
            return nb
        finally:
            kernel.finish(client, succeeded)


papermill_engines.register("vigileos", ReportEngine)

__all__ = ["KERNEL_ENV", "START_TIMEOUT", "ReportEngine", "ReportKernel", "ReportKernelManager"]
