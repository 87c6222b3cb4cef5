"""The Voila process of ``vigileos dashboard``: Voila with its kernels bounded and its pages guarded.

Each page served holds a kernel of about 300 MB, so this process bounds them:

- **a maximum**: at most ``--max-kernels`` pages are served at once; a request beyond
  it gets an HTTP 503 page saying so at once, instead of one more kernel (the
  preheated pool, one standby kernel per page, comes on top);
- **culling of unconnected kernels**: a page's kernel with no browser connected
  (a ``curl``, a closed tab: Voila 0.5.13 cannot shut a kernel down when its tab
  closes, voila#1458) is shut down ``--unconnected-timeout`` seconds after it
  finished rendering the page or its last browser left; a connected page is never culled;
- **the charts' plotly.js** served at ``/vigileos/static/`` (:mod:`.plotly_chart`);
- **a token**: with ``VIGILEOS_DASHBOARD_TOKEN`` set, a request without it (``?token=``
  once, then the cookie it leaves) is refused with HTTP 403 instead of Jupyter's login
  redirect, so scripts and proxies see a plain refusal.

Run as ``python -m vigileos_analytics.dashboards.voila_app [--max-kernels N]
[--unconnected-timeout S] VOILA-OPTIONS...`` (see :func:`.server.voila_command`).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ..config import read_setting

__all__ = ["BoundedKernels", "main"]

TOKEN_REFUSAL = ("This dashboard needs its token: open the address given by `vigileos dashboard` "
                 "(it ends in ?token=...).")


class BoundedKernels:
    """Placed above Voila's kernel manager: a maximum of pages served, culling of unconnected kernels."""

    max_kernels: int = 8
    unconnected_timeout_s: float = 60.0

    def _pooled_ids(self) -> set[str]:
        """Kernels preheated and waiting in Voila's pools (never culled, not counted as serving)."""
        pooled = set()
        for pool in getattr(self, "_pools", {}).values():
            for task in pool:
                if task.done() and not task.cancelled() and task.exception() is None:
                    pooled.add(task.result()["kernel_id"])
        return pooled

    def serving_ids(self) -> set[str]:
        """Kernels handed to a page."""
        return set(self.list_kernel_ids()) - self._pooled_ids()  # type: ignore[attr-defined]

    def _check_capacity(self) -> None:
        from tornado.web import HTTPError

        serving = len(self.serving_ids())
        if serving >= self.max_kernels:
            self.log.warning("Refused a page: %d pages are served, the maximum", serving)  # type: ignore[attr-defined]
            raise HTTPError(503, reason=f"Too many dashboard pages open ({serving}, the maximum); "
                                        "close one or try again in a minute")

    def _handed_out(self, kernel_id: str) -> None:
        self._unconnected_since()[kernel_id] = time.monotonic()

    def _unconnected_since(self) -> dict[str, float]:
        if not hasattr(self, "_vigileos_unconnected"):
            self._vigileos_unconnected: dict[str, float] = {}
        return self._vigileos_unconnected

    async def get_rendered_notebook(self, *args: Any, **kwargs: Any) -> Any:
        """A preheated page, if fewer than ``max_kernels`` pages are served (else HTTP 503)."""
        self._check_capacity()
        render_task, cache, kernel_id = await super().get_rendered_notebook(*args, **kwargs)  # type: ignore[misc]
        self._handed_out(kernel_id)
        return render_task, cache, kernel_id

    async def start_kernel(self, *args: Any, **kwargs: Any) -> str:
        """A kernel for a page served without preheating (bounded the same way)."""
        self._check_capacity()
        kernel_id = await super().start_kernel(*args, **kwargs)  # type: ignore[misc]
        self._handed_out(kernel_id)
        return kernel_id

    async def cull_kernel_if_idle(self, kernel_id: str) -> None:
        """Shut a page's kernel down once no browser was connected to it for ``unconnected_timeout_s``;
        otherwise Jupyter's idle rule applies."""
        if kernel_id in self._pooled_ids():
            return
        since = self._unconnected_since()
        now = time.monotonic()
        kernel = self._kernels[kernel_id]  # type: ignore[attr-defined]
        # The clock starts once the page is rendered: a kernel runs the page's cells before any browser connects.
        connections = self._kernel_connections.get(kernel_id, 0)  # type: ignore[attr-defined]
        if connections > 0 or getattr(kernel, "execution_state", "") == "busy":
            since[kernel_id] = now
        elif now - since.setdefault(kernel_id, now) >= self.unconnected_timeout_s:
            self.log.info("Culling kernel %s: no page connected for %.0f s", kernel_id,  # type: ignore[attr-defined]
                          now - since.pop(kernel_id))
            await self.shutdown_kernel(kernel_id)  # type: ignore[attr-defined]
            return
        await super().cull_kernel_if_idle(kernel_id)  # type: ignore[misc]


def _bounded(kernel_manager_class: type) -> type:
    return type(f"Bounded{kernel_manager_class.__name__}", (BoundedKernels, kernel_manager_class), {})


def _refusing_login(handler_class: type) -> type:
    """``handler_class`` answering 403 to a request without the token, instead of redirecting to a login form."""
    from tornado.web import HTTPError

    def get_login_url(self: Any) -> str:
        raise HTTPError(403, reason=TOKEN_REFUSAL)

    return type(handler_class.__name__, (handler_class,), {"get_login_url": get_login_url})


def _voila_class() -> Any:
    import voila.app as voila_app
    from jupyter_server.base.handlers import APIHandler, JupyterHandler
    from jupyter_server.utils import url_path_join
    from tornado.web import StaticFileHandler

    from .plotly_chart import LIBRARY_DIR, LIBRARY_ROUTE

    original_factory = voila_app.voila_kernel_manager_factory

    def bounded_factory(*args: Any, **kwargs: Any) -> type:
        return _bounded(original_factory(*args, **kwargs))

    # Voila builds its kernel manager class in init_settings from this module-level factory:
    # this process runs nothing else, so the factory is swapped for one that adds the bounds.
    voila_app.voila_kernel_manager_factory = bounded_factory

    class BoundedVoila(voila_app.Voila):
        def init_handlers(self) -> list:
            # The charts' plotly.js, cached by the browser for as long as its ?v= is the same.
            handlers: list = [(url_path_join(self.server_url, LIBRARY_ROUTE + "(.*)"), StaticFileHandler,
                               {"path": str(LIBRARY_DIR)})]
            for spec in super().init_handlers():
                pattern, handler, *rest = spec
                if (isinstance(handler, type) and issubclass(handler, JupyterHandler)
                        and not issubclass(handler, APIHandler)):
                    handler = _refusing_login(handler)
                handlers.append((pattern, handler, *rest))
            return handlers

    return BoundedVoila


def main(argv: list[str] | None = None) -> None:
    """Run Voila with the bounds given on the command line and the token of ``VIGILEOS_DASHBOARD_TOKEN``."""
    parser = argparse.ArgumentParser(prog="python -m vigileos_analytics.dashboards.voila_app", add_help=False)
    parser.add_argument("--max-kernels", type=int, default=read_setting("dashboard_max_kernels"))
    parser.add_argument("--unconnected-timeout", type=float, default=read_setting("dashboard_unconnected_timeout"))
    options, voila_args = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    BoundedKernels.max_kernels = options.max_kernels
    BoundedKernels.unconnected_timeout_s = options.unconnected_timeout
    token = read_setting("dashboard_token").get()
    if token:
        voila_args.append(f"--Voila.token={token}")
    voila = _voila_class()
    voila.launch_instance(argv=voila_args)


if __name__ == "__main__":
    main()
