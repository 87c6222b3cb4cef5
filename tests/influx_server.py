"""A real ``influxd`` (InfluxDB 1.x) for tests and benches, on loopback ports, with
every file in a temporary folder.

Debian's ``influxdb`` package (1.6.7) gives ``/usr/bin/influxd``; the CI script
installs it with ``apt-get install -y influxdb``. ``VIGILEOS_INFLUXD`` names another
binary. Usage::

    with InfluxServer(tmp_path) as server:
        server.url  # http://127.0.0.1:PORT

:meth:`InfluxServer.kill` stops the server abruptly (SIGKILL) and :meth:`start`
brings it back on the same port and data folder, which is how the outage tests
simulate a crash.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


def find_influxd() -> str | None:
    """Path of the influxd binary, or None when it is not installed."""
    for candidate in (os.environ.get("VIGILEOS_INFLUXD"), shutil.which("influxd"), "/usr/bin/influxd"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_CONFIG = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{root}/meta"
  logging-enabled = false

[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
  index-version = "inmem"

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = {auth}
  log-enabled = false
  pprof-enabled = false
  flux-enabled = false

[logging]
  level = "warn"
  suppress-logo = true
"""


class InfluxServer:
    """One influxd process whose config, data, meta, WAL and log live under ``root``."""

    def __init__(self, root: Path, *, auth_enabled: bool = False, binary: str | None = None) -> None:
        self.binary = binary or find_influxd()
        if self.binary is None:
            raise RuntimeError("influxd is not installed; install it with `apt-get install -y influxdb` "
                               "or set VIGILEOS_INFLUXD to its path.")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.http_port = free_port()
        self.rpc_port = free_port()
        self.auth_enabled = auth_enabled
        self.config_path = self.root / "influxdb.conf"
        self.log_path = self.root / "influxd.log"
        self.config_path.write_text(_CONFIG.format(root=self.root, http_port=self.http_port, rpc_port=self.rpc_port,
                                                   auth="true" if auth_enabled else "false"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> InfluxServer:
        """Start influxd and wait until /ping answers (at most START_TIMEOUT_S)."""
        if self.process is not None and self.process.poll() is None:
            return self
        log = open(self.log_path, "ab")
        try:
            self.process = subprocess.Popen([self.binary, "-config", str(self.config_path)], stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"influxd exited with code {self.process.returncode} while starting; "
                                   f"its log ends with:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/ping", timeout=0.5).status_code == 204:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"influxd did not answer /ping on {self.url} within {START_TIMEOUT_S:.0f} s; "
                           f"its log ends with:\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop influxd gracefully (SIGTERM), then SIGKILL after STOP_TIMEOUT_S."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """Crash influxd (SIGKILL): what a power cut or an OOM kill looks like to a client."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def query(self, q: str, db: str | None = None, method: str = "POST", **params: str) -> dict:
        """Run InfluxQL directly (test setup and assertions only)."""
        data = {"q": q, **({"db": db} if db else {}), **params}
        response = requests.request(method, f"{self.url}/query", params=data if method == "GET" else None,
                                    data=data if method == "POST" else None, timeout=30)
        response.raise_for_status()
        return response.json()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> InfluxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
