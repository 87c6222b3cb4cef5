"""``vigileos lab``: a real JupyterLab on a loopback port, started by the real command in a
subprocess (its output read as a user reads it), asked over HTTP, its kernels' environment
read from /proc through psutil, and stopped with Ctrl-C (SIGINT to the command)."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from vigileos_analytics.cli import main
from vigileos_analytics.cli.lab import NOTEBOOK, copy_getting_started
from vigileos_analytics.dashboards.server import free_port

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "notebooks" / NOTEBOOK
URL_LINE = re.compile(r"JupyterLab: (http://127\.0\.0\.1:(\d+)/lab/tree/getting_started\.ipynb\?token=(\w+))")


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("VIGILEOS_", "INFLUXDB_", "JUPYTER_TOKEN"))}


def _lines(process: subprocess.Popen) -> queue.Queue:
    """The command's output lines, read in a thread so a silent process cannot hang the test."""
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def _wait_for(lines: queue.Queue, pattern: re.Pattern, seen: list[str], timeout_s: float) -> re.Match:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if match := pattern.search(line):
            return match
    raise AssertionError("no match for " + pattern.pattern + " in:\n" + "".join(seen))


def _get(url: str, token: str | None = None, method: str = "GET") -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method, data=b"{}" if method == "POST" else None,
                                     headers={"Authorization": f"token {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def _cmdline(process: psutil.Process) -> list[str]:
    """A process's command line; empty for one that exited meanwhile (JupyterLab starts and
    reaps short-lived helpers while the test looks)."""
    try:
        return process.cmdline()
    except psutil.Error:
        return []


@pytest.mark.notebook
@pytest.mark.slow
def test_lab_serves_the_notebook_with_the_store_in_its_kernels_and_stops_on_ctrl_c(seeded_store_dir: Path,
                                                                                   tmp_path: Path) -> None:
    # Relative store and inventory, as a user in the project folder writes them: the kernels get them absolute,
    # and the rest of the folder's .env too (the kernels run in --dir, where it would not be read).
    (tmp_path / ".env").write_text("VIGILEOS_INVENTORY=seeded/inventory.csv\nINFLUXDB_TOKEN=from-dotenv\n",
                                   encoding="utf-8")
    env = _clean_env()
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "vigileos_analytics", "--store", "duckdb:///seeded/metrics.duckdb",
                                "lab", "--no-browser", "--port", str(port), "--dir", "work"],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: list[str] = []
    try:
        lines = _lines(process)
        url, printed_port, token = _wait_for(lines, URL_LINE, seen, timeout_s=120).groups()
        assert int(printed_port) == port
        assert (tmp_path / "work" / NOTEBOOK).read_bytes() == SOURCE.read_bytes()
        assert any(f"Copied the getting-started notebook to {tmp_path / 'work' / NOTEBOOK}" in s for s in seen), seen

        assert _get(url)[0] == 200
        assert _get(f"http://127.0.0.1:{port}/api/status")[0] == 403  # the token is required
        status, body = _get(f"http://127.0.0.1:{port}/api/contents/{NOTEBOOK}", token)
        assert status == 200 and json.loads(body)["type"] == "notebook"

        # A kernel started as the notebook page starts it carries the store and inventory, made absolute.
        status, body = _get(f"http://127.0.0.1:{port}/api/kernels", token, method="POST")
        assert status == 201, body
        kernel_id = json.loads(body)["id"]
        (server,) = psutil.Process(process.pid).children()
        kernels = [p for p in server.children(recursive=True) if kernel_id in " ".join(_cmdline(p))]
        assert len(kernels) == 1
        kernel_env = kernels[0].environ()
        assert kernel_env["VIGILEOS_STORE_URL"] == f"duckdb:///{tmp_path / 'seeded' / 'metrics.duckdb'}"
        assert kernel_env["VIGILEOS_INVENTORY"] == str(tmp_path / "seeded" / "inventory.csv")
        assert kernel_env["INFLUXDB_TOKEN"] == "from-dotenv"
        assert token not in " ".join(server.cmdline())  # the token travels in the environment only

        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        process.wait(30)
        stopped_in = time.monotonic() - started
        while (line := lines.get(timeout=10)) is not None:
            seen.append(line)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        process.stdout.close()
    assert process.returncode == 0, "".join(seen)
    assert "JupyterLab stopped (exit code 0)." in "".join(seen)
    assert stopped_in < 15, stopped_in
    assert not server.is_running() and not kernels[0].is_running()


def test_a_users_copy_of_the_notebook_is_never_overwritten(tmp_path: Path) -> None:
    mine = tmp_path / NOTEBOOK
    mine.write_text("my edits", encoding="utf-8")
    assert copy_getting_started(tmp_path) == (mine, False)
    assert mine.read_text(encoding="utf-8") == "my edits"
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert copy_getting_started(fresh) == (fresh / NOTEBOOK, True)
    assert (fresh / NOTEBOOK).read_bytes() == SOURCE.read_bytes()


def test_lab_without_jupyterlab_says_how_to_install_it(tmp_path: Path) -> None:
    """JupyterLab is installed here; the child hides it the way Python records a module that
    cannot be imported (``sys.modules[name] = None``), so ``find_spec`` finds nothing."""
    script = ("import sys; sys.modules['jupyterlab'] = None; from vigileos_analytics.cli import main; "
              "main(['lab', '--no-browser', '--dir', 'work'])")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=_clean_env(), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 7, done.stdout + done.stderr
    assert "JupyterLab is not installed in this environment" in done.stderr
    assert "-m pip install jupyterlab" in done.stderr
    assert "Traceback" not in done.stderr and "Internal error" not in done.stderr
    assert not (tmp_path / "work").exists()  # nothing copied when nothing can open it


def test_lab_on_a_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["lab", "--no-browser", "--port", str(port), "--dir", str(tmp_path)])
    assert result.exit_code == 7, result.output
    assert f"Port {port} on 127.0.0.1 is already in use" in result.output
    assert "Traceback" not in result.output


def test_lab_into_a_folder_it_cannot_create_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    result = CliRunner().invoke(main, ["lab", "--no-browser", "--dir", str(tmp_path / "a-file" / "work")])
    assert result.exit_code == 3, result.output
    assert f"Cannot put the getting-started notebook in {tmp_path / 'a-file' / 'work'}" in result.output
    assert "Traceback" not in result.output and "Internal error" not in result.output
