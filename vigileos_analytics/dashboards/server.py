"""Run Voila on localhost with the two dashboards, and stop it cleanly.

``start_dashboard_server()`` starts ``python -m voila`` on the dashboards folder
with preheated kernels (the imports of each notebook have already run when a
visitor arrives; only the request-dependent cells wait), waits until it answers
and returns a :class:`DashboardServer` holding the URL. ``stop()`` (or leaving the
``with`` block) asks Voila to shut down its kernels and, past a grace period,
kills it.

Relative store URLs and inventory paths are made absolute first: Voila runs each
kernel in the notebook's folder, not where the command was typed.

Voila runs as :mod:`.voila_app`, which bounds the kernels: one preheated kernel per
page waits (``pool_size``), at most ``max_kernels`` pages are served at once (HTTP 503
beyond), and a page's kernel with no browser connected for ``unconnected_timeout_s``
is shut down (Voila 0.5.13's own shutdown on tab close is refused, voila#1458).
Jupyter's idle culler also shuts down a kernel silent for ``cull_idle_s`` (a page
whose heartbeat stopped stops refreshing, :mod:`.heartbeat`). A page still connected
is never culled (``cull_connected`` stays False).

An address other than loopback is refused without a token (``VIGILEOS_DASHBOARD_TOKEN``):
the pages would be open to anyone who can reach the port.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ..config import Settings, load_settings, read_setting
from ..errors import ConfigurationError, DashboardServerError
from ..templates import dashboards_dir
from ..urloptions import is_loopback

DEFAULT_HOST = "127.0.0.1"
OVERVIEW = "fleet_overview.ipynb"
DETAIL = "equipment_detail.ipynb"
NOTEBOOKS_ENV = "VIGILEOS_DASHBOARDS_DIR"
#: A kernel with no page connected and no message for this long is shut down (seconds):
#: with the heartbeat's 3-minute grace, a closed tab's kernel goes within about 15 minutes.
CULL_IDLE_S = 600
#: How often the culler looks (seconds); more often when unconnected kernels go sooner.
CULL_INTERVAL_S = 60
TOKEN_ENV = "VIGILEOS_DASHBOARD_TOKEN"
#: The JupyterLab extensions the pages need: the widget managers and anywidget (the
#: heartbeat, the charts of :mod:`.plotly_chart`). Voila would load every extension
#: installed in the environment into every page (JupyterLab's plotly renderer alone is
#: 4.8 MB of script); each one costs the browser a script to fetch and run before the page shows.
PAGE_EXTENSIONS = ("@jupyter-widgets/jupyterlab-manager", "@voila-dashboards/widgets-manager8", "anywidget")


def default_notebooks_dir() -> Path:
    """``VIGILEOS_DASHBOARDS_DIR``, else the dashboards that come with the package."""
    return dashboards_dir()


def free_port(host: str = DEFAULT_HOST) -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def check_port_free(host: str, port: int) -> None:
    """Raise :class:`DashboardServerError` when ``host:port`` is taken (another server answers there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise DashboardServerError(f"Port {port} on {host} is already in use ({exc.strerror}); "
                                       "choose another with --port, or leave it out to take a free one.") from exc


def check_exposure(host: str, token: str) -> None:
    """Raise :class:`ConfigurationError` when ``host`` is not loopback and there is no token."""
    if not token and not is_loopback(host):
        raise ConfigurationError(
            f"Refusing to serve the dashboards on {host} without {TOKEN_ENV}: anyone reaching the port could open "
            f"pages (a kernel of about 300 MB each). Set {TOKEN_ENV} (e.g. openssl rand -hex 24), or listen on "
            "127.0.0.1 behind a reverse proxy that authenticates (README, Dashboards).")


def local_address(host: str) -> str:
    """The address this machine reaches a server listening on ``host`` at (a wildcard means loopback)."""
    return {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host, host)


def absolute_store_env(settings: Settings, cwd: Path) -> dict[str, str]:
    """``VIGILEOS_STORE_URL`` and ``VIGILEOS_INVENTORY`` with relative paths resolved against ``cwd``."""
    url = settings.store_url
    if url.startswith("duckdb:///") and not url.startswith("duckdb:////"):
        path, _, query = url[len("duckdb:///"):].partition("?")
        url = f"duckdb:///{(cwd / path).resolve()}" + (f"?{query}" if query else "")
    inventory = settings.inventory_path if settings.inventory_path.is_absolute() else cwd / settings.inventory_path
    return {"VIGILEOS_STORE_URL": url, "VIGILEOS_INVENTORY": str(inventory.resolve())}


def stop_child(process: subprocess.Popen, grace_s: float) -> int | None:
    """SIGTERM (a Jupyter server stops its kernels and exits), SIGKILL after ``grace_s``; the exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    return process.returncode


@dataclass
class DashboardServer:
    """A running Voila: ``url`` is its root, ``overview_url`` / ``detail_url`` the pages."""

    url: str
    port: int
    process: subprocess.Popen
    log_path: Path
    _log_file: IO[bytes] | None = field(repr=False, default=None)
    token: str = field(repr=False, default="")

    @property
    def overview_url(self) -> str:
        return f"{self.url}voila/render/{OVERVIEW}{self.token_query}"

    @property
    def detail_url(self) -> str:
        return f"{self.url}voila/render/{DETAIL}{self.token_query}"

    @property
    def token_query(self) -> str:
        """``?token=...`` when the server asks for a token (a page keeps it as a cookie), else empty."""
        return f"?token={self.token}" if self.token else ""

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace_s: float = 10.0) -> int | None:
        """Shut Voila down (SIGTERM: it stops its kernels and exits; SIGKILL after
        ``grace_s``); returns its exit code."""
        code = stop_child(self.process, grace_s)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return code

    def __enter__(self) -> DashboardServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def voila_command(notebooks_dir: Path, host: str, port: int, *, preheat: bool = True, pool_size: int = 1,
                  cull_idle_s: int = CULL_IDLE_S, cull_interval_s: int | None = None, max_kernels: int | None = None,
                  unconnected_timeout_s: float | None = None) -> list[str]:
    """The command line of the Voila process (:mod:`.voila_app`) used by :func:`start_dashboard_server`;
    ``cull_idle_s`` and ``cull_interval_s`` in whole seconds (the interval defaults to a quarter of the
    unconnected timeout, at most ``CULL_INTERVAL_S``). ``max_kernels`` and ``unconnected_timeout_s``
    default to their settings."""
    if max_kernels is None:
        max_kernels = read_setting("dashboard_max_kernels")
    if unconnected_timeout_s is None:
        unconnected_timeout_s = read_setting("dashboard_unconnected_timeout")
    if cull_interval_s is None:
        cull_interval_s = max(1, min(CULL_INTERVAL_S, int(unconnected_timeout_s / 4)))
    command = [sys.executable, "-m", "vigileos_analytics.dashboards.voila_app", f"--max-kernels={max_kernels}",
               f"--unconnected-timeout={unconnected_timeout_s:g}", str(notebooks_dir), "--no-browser", f"--port={port}",
               f"--Voila.ip={host}", "--Voila.port_retries=0", "--show_tracebacks=False", "--strip_sources=True",
               f"--MappingKernelManager.cull_idle_timeout={int(cull_idle_s)}",
               f"--MappingKernelManager.cull_interval={int(cull_interval_s)}",
               "--VoilaConfiguration.extension_allowlist=" + json.dumps(list(PAGE_EXTENSIONS))]
    if preheat and pool_size > 0:
        command += ["--preheat_kernel=True", f"--pool_size={pool_size}"]
    return command


def _wait_until_up(server: DashboardServer, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not server.running:
            raise DashboardServerError(
                f"Voila stopped while starting (exit code {server.process.returncode}). Is port {server.port} "
                f"already in use? Its log says:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url + server.token_query, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    server.stop()
    raise DashboardServerError(f"Voila did not answer at {server.url} within {timeout_s:.0f} s; "
                               f"its log says:\n{server.log_tail()}")


def start_dashboard_server(*, port: int | None = None, host: str = DEFAULT_HOST, notebooks_dir: Path | None = None,
                           env: Mapping[str, str] | None = None, preheat: bool = True, pool_size: int = 1,
                           timeout_s: float = 60.0, log_path: Path | None = None, cull_idle_s: int = CULL_IDLE_S,
                           cull_interval_s: int | None = None, max_kernels: int | None = None,
                           unconnected_timeout_s: float | None = None) -> DashboardServer:
    """Start Voila serving the dashboards on ``host:port`` (a free port when ``None``).

    ``env`` replaces the environment given to Voila and its kernels (default: this
    process's, with the store URL and inventory path made absolute); its
    ``VIGILEOS_DASHBOARD_TOKEN``, when set, is the token pages ask for. ``pool_size``
    preheated kernels wait per page; at most ``max_kernels`` pages are served at once;
    a kernel with no page connected goes after ``unconnected_timeout_s``, a silent one
    after ``cull_idle_s`` (checked every ``cull_interval_s``). Raises
    :class:`ConfigurationError` for an address other than loopback without a token,
    :class:`DashboardServerError` when Voila does not come up.
    """
    notebooks_dir = Path(notebooks_dir or default_notebooks_dir()).resolve()
    missing = [name for name in (OVERVIEW, DETAIL) if not (notebooks_dir / name).is_file()]
    if missing:
        raise DashboardServerError(f"The dashboards folder {notebooks_dir} lacks {', '.join(missing)}; "
                                   f"set {NOTEBOOKS_ENV} to the folder holding {OVERVIEW} and {DETAIL} "
                                   "(`vigileos templates copy DIR` makes editable copies), or unset it to use the "
                                   "ones that come with the package.")
    if env is None:
        env = {**os.environ, **absolute_store_env(load_settings(), Path.cwd())}
    token = read_setting("dashboard_token", env).get()
    check_exposure(host, token)
    if max_kernels is None:
        max_kernels = read_setting("dashboard_max_kernels", env)
    if unconnected_timeout_s is None:
        unconnected_timeout_s = read_setting("dashboard_unconnected_timeout", env)
    if port:
        check_port_free(host, port)
    port = port or free_port(host)
    log_path = log_path or Path(tempfile.mkstemp(prefix="vigileos-voila-", suffix=".log")[1])
    log_file = open(log_path, "ab")  # noqa: SIM115 - closed by DashboardServer.stop
    command = voila_command(notebooks_dir, host, port, preheat=preheat, pool_size=pool_size,
                            cull_idle_s=cull_idle_s, cull_interval_s=cull_interval_s, max_kernels=max_kernels,
                            unconnected_timeout_s=unconnected_timeout_s)
    process = subprocess.Popen(command, cwd=notebooks_dir, env=dict(env), stdout=log_file, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL)
    server = DashboardServer(url=f"http://{local_address(host)}:{port}/", port=port, process=process, log_path=log_path,
                             _log_file=log_file, token=token)
    try:
        _wait_until_up(server, timeout_s)
    except BaseException:
        server.stop()
        raise
    return server
