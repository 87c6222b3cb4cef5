"""One headless Chromium that prints many reports: the DevTools protocol over a pipe.

Starting Chromium costs about a second; a batch prints every PDF through one
:class:`ChromiumSession` (one tab per report, several at a time). The protocol runs
over ``--remote-debugging-pipe`` (file descriptors 3 and 4 of the browser, messages
ending in NUL), so no TCP port is opened and nothing beyond the standard library is
needed. Each page is laid out in a window the size of the printed page (see
export.PRINT_WINDOW), printed once every plotly chart has drawn, on the A4 page of the
report CSS's ``@page`` rule.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from ..errors import ReportError

#: Seconds Chromium may take to print one report.
PDF_TIMEOUT = 120
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                  "--disable-extensions", "--mute-audio", "--remote-debugging-pipe",
                  "--host-resolver-rules=MAP * ~NOTFOUND")
#: Resolves once every plotly chart of the page has drawn (at most 5 s), two frames later.
_CHARTS_DRAWN = """new Promise(resolve => {
  const deadline = Date.now() + 5000;
  const drawn = () => [...document.querySelectorAll('.plotly-graph-div')]
    .every(d => d._fullLayout && d.querySelector('.main-svg'));
  const tick = () => (drawn() || Date.now() > deadline)
    ? requestAnimationFrame(() => requestAnimationFrame(() => resolve(true))) : setTimeout(tick, 20);
  document.fonts.ready.then(tick);
})"""


class ChromiumSession:
    """A headless Chromium for :meth:`print_pdf`; thread-safe; close it (or use ``with``)."""

    def __init__(self, executable: str, window: tuple[int, int]) -> None:
        self.window = window
        self._profile = tempfile.mkdtemp(prefix="vg-chromium-")
        self._log = tempfile.TemporaryFile()
        to_browser, self._write_fd = os.pipe()
        self._read_fd, from_browser = os.pipe()
        # The browser reads commands on its fd 3 and writes answers on fd 4: handed over as
        # stdin / stdout and moved by the shell (its redirections take one-digit fds only).
        shell = 'exec "$@" 3<&0 4>&1 0</dev/null 1>/dev/null'
        cmd = ["/bin/sh", "-c", shell, "sh", executable, *CHROMIUM_FLAGS, f"--user-data-dir={self._profile}",
               f"--window-size={window[0]},{window[1]}", "about:blank"]
        try:
            self._process = subprocess.Popen(cmd, stdin=to_browser, stdout=from_browser, stderr=self._log)
        finally:
            os.close(to_browser)
            os.close(from_browser)
        self._ids = itertools.count(1)
        self._pending: dict[int, Future[dict[str, Any]]] = {}
        self._loads: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, name="vg-chromium", daemon=True)
        self._reader.start()

    def __enter__(self) -> ChromiumSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self) -> None:
        partial: list[bytes] = []  # a message spans many reads (a PDF is megabytes of base64)
        with os.fdopen(self._read_fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(1 << 20):
                *complete, rest = chunk.split(b"\0")
                if complete:
                    complete[0] = b"".join([*partial, complete[0]])
                    partial = []
                    for raw in complete:
                        self._dispatch(json.loads(raw))
                partial.append(rest)
        with self._lock:  # the browser went away: nothing pending will be answered
            waiting: list[Future[Any]] = [*self._pending.values(), *self._loads.values()]
            self._pending.clear()
            self._loads.clear()
        for future in waiting:
            if not future.done():
                future.set_exception(ReportError(f"Chromium stopped while printing: {self._log_tail()}"))

    def _dispatch(self, message: dict[str, Any]) -> None:
        with self._lock:
            if "id" in message:
                future: Future[Any] | None = self._pending.pop(message["id"], None)
            elif message.get("method") == "Page.loadEventFired":
                future = self._loads.pop(message.get("sessionId", ""), None)
            else:
                return
        if future is None or future.done():
            return
        if "error" in message:
            future.set_exception(ReportError(f"Chromium refused a command: {message['error'].get('message')}"))
        else:
            future.set_result(message.get("result", {}))

    def _send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Future[Any]:
        future: Future[dict[str, Any]] = Future()
        message: dict[str, Any] = {"id": next(self._ids), "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        with self._lock:
            self._pending[message["id"]] = future
        try:
            os.write(self._write_fd, json.dumps(message).encode() + b"\0")
        except OSError as exc:
            raise ReportError(f"Chromium is not running: {self._log_tail()}") from exc
        return future

    def _call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        try:
            return self._send(method, params, session).result(timeout=PDF_TIMEOUT)
        except TimeoutError as exc:
            raise ReportError(f"Chromium did not answer {method} within {PDF_TIMEOUT} s.") from exc

    def print_pdf(self, html_path: Path, target: Path) -> Path:
        """Print ``html_path`` to ``target`` once its charts have drawn."""
        tab = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = None
        try:
            session = self._call("Target.attachToTarget", {"targetId": tab, "flatten": True})["sessionId"]
            self._call("Page.enable", session=session)
            width, height = self.window
            self._call("Emulation.setDeviceMetricsOverride",
                       {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session)
            loaded: Future[None] = Future()
            with self._lock:
                self._loads[session] = loaded
            navigated = self._call("Page.navigate", {"url": html_path.resolve().as_uri()}, session)
            if navigated.get("errorText"):
                raise ReportError(f"Chromium could not open {html_path}: {navigated['errorText']}")
            loaded.result(timeout=PDF_TIMEOUT)
            self._call("Runtime.evaluate", {"expression": _CHARTS_DRAWN, "awaitPromise": True}, session)
            printed = self._call("Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True}, session)
        except TimeoutError as exc:
            raise ReportError(f"Chromium did not load {html_path.name} within {PDF_TIMEOUT} s.") from exc
        finally:
            with self._lock:
                self._loads.pop(session or "", None)
            with contextlib.suppress(ReportError):  # the browser gone: the error above says more
                self._send("Target.closeTarget", {"targetId": tab})
        target.write_bytes(base64.b64decode(printed["data"]))
        return target

    def _log_tail(self) -> str:
        self._log.seek(0)
        return " | ".join(self._log.read().decode(errors="replace").strip().splitlines()[-3:])

    def close(self) -> None:
        """Stop the browser and remove its profile folder."""
        try:
            os.close(self._write_fd)  # the browser exits when its command pipe closes
        except OSError:
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._reader.join(timeout=5)
        self._log.close()
        shutil.rmtree(self._profile, ignore_errors=True)


__all__ = ["CHROMIUM_FLAGS", "PDF_TIMEOUT", "ChromiumSession"]
