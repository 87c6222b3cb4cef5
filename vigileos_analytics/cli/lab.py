"""``vigileos lab``: JupyterLab in this environment, its kernels pointed at the configured store.

JupyterLab runs as a child (``python -m jupyterlab`` of this interpreter, so its kernels
see the installed package) in its own session: Ctrl-C reaches this command, which stops
the child with SIGTERM (JupyterLab then shuts its kernels down) instead of JupyterLab
asking for confirmation. The token is passed in the child's environment, never on its
command line, where other users of the machine could read it.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import webbrowser
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

import click

from ..errors import DashboardServerError, ValidationError
from .common import AppContext, console, handle_errors, pass_app, say, wait_for_stop

NOTEBOOK = "getting_started.ipynb"
STARTUP_TIMEOUT_S = 90.0
STOP_GRACE_S = 10.0


def copy_getting_started(folder: Path) -> tuple[Path, bool]:
    """``folder/getting_started.ipynb``, copied from the package when absent (a user's copy is never
    overwritten); the path and whether it was copied."""
    from ..templates import bundled_dir

    target = folder / NOTEBOOK
    if target.exists():
        return target, False
    shutil.copyfile(bundled_dir("notebooks") / NOTEBOOK, target)
    return target, True


def require_jupyterlab() -> None:
    """Raise DashboardServerError, saying how to install it, when JupyterLab is not importable here."""
    if importlib.util.find_spec("jupyterlab") is None:
        raise DashboardServerError(f"JupyterLab is not installed in this environment ({sys.prefix}): install it with "
                                   f"`{sys.executable} -m pip install jupyterlab`, or reinstall vigileos-analytics.")


def lab_command(folder: Path, port: int) -> list[str]:
    """The command line of JupyterLab serving ``folder`` on loopback ``port`` (no browser: this command opens it)."""
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={folder}",
               # Nothing fetched from the Internet: no Jupyter news feed, no check for updates.
               "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Containers often run as root; JupyterLab refuses that unless told. It listens on loopback with a token.
        command.append("--ServerApp.allow_root=True")
    return command


@dataclass
class LabServer:
    """A running JupyterLab: ``url`` opens ``notebook`` with the token."""

    port: int
    token: str
    notebook: str
    process: subprocess.Popen
    log_path: Path
    _log_file: IO[bytes] | None = None

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def url(self) -> str:
        return f"{self.root}lab/tree/{self.notebook}?token={self.token}"

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace_s: float = STOP_GRACE_S) -> int | None:
        """SIGTERM (JupyterLab stops its kernels and exits), SIGKILL after ``grace_s``; the exit code."""
        from ..dashboards.server import stop_child

        stop_child(self.process, grace_s)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return self.process.returncode


def _answers(server: LabServer) -> bool:
    try:
        with urllib.request.urlopen(f"{server.root}api/status?token={server.token}", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _wait_until_up(server: LabServer, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not server.running:
            raise DashboardServerError(f"JupyterLab stopped while starting (exit code {server.process.returncode}); "
                                       f"its log says:\n{server.log_tail()}")
        if _answers(server):
            return
        time.sleep(0.25)
    raise DashboardServerError(f"JupyterLab did not answer at {server.root} within {timeout_s:.0f} s; "
                               f"its log says:\n{server.log_tail()}")


def start_lab(folder: Path, env: dict[str, str], port: int = 0, timeout_s: float = STARTUP_TIMEOUT_S) -> LabServer:
    """Start JupyterLab on ``folder`` with ``env`` (its kernels inherit it) on loopback ``port``
    (0: a free one) and wait until it answers. Raises DashboardServerError when JupyterLab is
    missing or does not come up."""
    from ..dashboards.server import check_port_free, free_port

    require_jupyterlab()
    if port:
        check_port_free("127.0.0.1", port)
    port = port or free_port()
    token = secrets.token_hex(24)
    log_path = Path(tempfile.mkstemp(prefix="vigileos-lab-", suffix=".log")[1])
    log_file = open(log_path, "ab")  # noqa: SIM115 - closed by LabServer.stop
    process = subprocess.Popen(lab_command(folder, port), cwd=folder, env={**env, "JUPYTER_TOKEN": token},
                               stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               start_new_session=True)
    server = LabServer(port=port, token=token, notebook=NOTEBOOK, process=process, log_path=log_path,
                       _log_file=log_file)
    try:
        _wait_until_up(server, timeout_s)
    except BaseException:
        server.stop()
        raise
    return server


@click.command("lab")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default="a free port",
              help="Port JupyterLab listens on (always 127.0.0.1).")
@click.option("--no-browser", is_flag=True, help="Do not open a web browser; the address is printed.")
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default="the current folder",
              help="Folder JupyterLab opens; getting_started.ipynb is copied there when absent (never overwritten).")
@pass_app
@handle_errors
def lab(app: AppContext, port: int, no_browser: bool, folder: Path) -> None:
    """Start JupyterLab on the getting-started notebook until Ctrl-C or SIGTERM.

    Its kernels get the store given by --store / VIGILEOS_STORE_URL and the inventory
    VIGILEOS_INVENTORY, relative paths resolved against the current folder, and the
    settings of the current folder's .env, so `load_settings()` in a notebook opens the
    same store as this command.
    """
    from ..config import read_dotenv
    from ..dashboards.server import absolute_store_env

    require_jupyterlab()
    settings = replace(app.settings, store_url=app.store_url)
    store_env = absolute_store_env(settings, Path.cwd())
    # Kernels run in --dir, where this folder's .env (an InfluxDB token, the language...) would not be read.
    env = {**read_dotenv(Path(".env")), **os.environ, **store_env}
    folder = folder.resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        notebook, copied = copy_getting_started(folder)
    except OSError as exc:
        raise ValidationError(f"Cannot put the getting-started notebook in {folder} ({exc.strerror}); name a folder "
                              "you can write to with --dir.", field="dir", value=str(folder)) from exc
    console.print(say("cli.lab.copied" if copied else "cli.lab.kept", path=notebook), highlight=False, soft_wrap=True)
    with console.status(say("cli.lab.starting")):
        server = start_lab(folder, env, port)
    try:
        console.print(say("cli.lab.running", url=server.url, store=store_env["VIGILEOS_STORE_URL"],
                          inventory=store_env["VIGILEOS_INVENTORY"]), highlight=False, soft_wrap=True)
        if not no_browser:
            webbrowser.open(server.url)
        wait_for_stop(server)
    finally:
        code = server.stop()
    console.print(say("cli.lab.stopped", code=code), highlight=False)
