"""Is the store there, and does it keep what it is given? The library side of ``vigileos check``.

:func:`check_store` runs timed steps through the store protocol, on any backend:

=======  ============================================================================
reach    ``store.health()``: the server answers, its version, the database or bucket
write    one probe point: equipment ``_vigileos_check``, metric ``check_probe``, now
read     the probe read back (its value is random, so it is this check's own point)
delete   the probe deleted again; a refusal (InfluxDB 2.x's v1 API has no DELETE) is
         a warning, not a failure: the probe stays as a harmless point
=======  ============================================================================

A failing step stops the check and is diagnosed (:mod:`.diagnosis`) into a problem
kind and one line saying what to do. The probe never goes to the outage spool
(``write_frame(..., spool=False)``): a spooled probe would be replayed after its own
delete, and would prove nothing.
"""

from __future__ import annotations

import re
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ..config import Settings, load_settings, mask_url
from ..errors import StoreError
from ..schema import Point
from ..stores import open_store
from ..stores.base import MetricsStore, Selection
from .diagnosis import Diagnosis, diagnose, one_line, unreachable

PROBE_EQUIPMENT = "_vigileos_check"
PROBE_METRIC = "check_probe"
READ_BACK_TIMEOUT_S = 2.0

_URL_RE = re.compile(r"https?://[^\s,;]+")
T = TypeVar("T")


@dataclass(frozen=True)
class CheckStep:
    """One timed step: ``status`` is ``ok``, ``warning`` or ``failed``; ``latency_ms`` in milliseconds."""

    name: str
    status: str
    latency_ms: float
    message: str = ""


@dataclass(frozen=True)
class CheckReport:
    """The outcome of :func:`check_store`. ``problem`` and ``message`` say what failed, if anything."""

    ok: bool
    backend: str
    location: str
    version: str = ""
    steps: tuple[CheckStep, ...] = ()
    problem: str = ""
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def latency_ms(self) -> float:
        """Time of all steps together, in milliseconds."""
        return round(sum(step.latency_ms for step in self.steps), 1)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``: never holds a secret."""
        return {"ok": self.ok, "backend": self.backend, "location": self.location, "version": self.version,
                "problem": self.problem or None, "message": self.message, "latency_ms": self.latency_ms,
                "steps": [vars(step) for step in self.steps], **self.details}


def _timed(call: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = call()
    return result, round((time.perf_counter() - started) * 1000, 1)


def server_of(location: str) -> str:
    """'InfluxDB at http://host:port' from a health location, or the location itself."""
    match = _URL_RE.search(location)
    if not match:
        return f"the store at {location}"
    parts = urlsplit(match.group(0))
    return f"InfluxDB at {parts.scheme}://{parts.netloc}"


def tcp_reason(location: str, timeout_s: float = 3.0) -> str:
    """Why a TCP connection to the server named in ``location`` fails, or '' when it works."""
    match = _URL_RE.search(location)
    if not match:
        return ""
    parts = urlsplit(match.group(0))
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout_s):
            return ""
    except ConnectionRefusedError:
        return "connection refused"
    except socket.gaierror:
        return f"the host name {parts.hostname!r} does not resolve"
    except TimeoutError:
        return f"no answer within {timeout_s:g} s"
    except OSError as exc:
        return exc.strerror or str(exc)


def _failed(report: dict[str, Any], steps: list[CheckStep], name: str, latency_ms: float,
            diagnosis: Diagnosis) -> CheckReport:
    steps.append(CheckStep(name, "failed", latency_ms, diagnosis.message))
    return CheckReport(ok=False, steps=tuple(steps), problem=diagnosis.problem, message=diagnosis.message, **report)


def check_store(store: MetricsStore, *, round_trip: bool = True, now: datetime | None = None,
                read_timeout_s: float = READ_BACK_TIMEOUT_S) -> CheckReport:
    """Reach ``store`` and, with ``round_trip``, write, read back and delete a probe point at
    ``now`` (aware; default the current time, UTC). Never raises for a store failure: the
    report says what failed."""
    steps: list[CheckStep] = []
    try:
        health, latency = _timed(store.health)
    except StoreError as exc:  # the protocol's health() reports instead of raising; be safe anyway
        report: dict[str, Any] = {"backend": store.backend, "location": repr(store)}
        return _failed(report, steps, "reach", 0.0, diagnose(exc, server_of(repr(store))))
    where = server_of(health.location)
    report = {"backend": health.backend, "location": health.location, "version": health.version,
              "details": dict(health.details)}
    if not health.ok:
        error = health.error
        diagnosis = diagnose(error if error is not None else health.message, where)
        if diagnosis.problem == "unreachable" and getattr(error, "detail", None) is None:
            reason = tcp_reason(health.location)  # the store could not say why: ask the network
            if reason:
                diagnosis = unreachable(where, reason)
        return _failed(report, steps, "reach", latency, diagnosis)
    steps.append(CheckStep("reach", "ok", latency, f"version {health.version}" if health.version else "answered"))
    if round_trip:
        failure = _round_trip(store, now or datetime.now(UTC), steps, where, read_timeout_s)
        if failure is not None:
            return CheckReport(ok=False, steps=tuple(steps), problem=failure.problem, message=failure.message,
                               **report)
    return CheckReport(ok=True, steps=tuple(steps), message="ok", **report)


def _round_trip(store: MetricsStore, at: datetime, steps: list[CheckStep], where: str,
                read_timeout_s: float) -> Diagnosis | None:
    """Write, read back and delete the probe; appends steps; the diagnosis of a failure, else None."""
    value = float(secrets.randbelow(1_000_000_000))
    selection = Selection(at, at + timedelta(seconds=1), equipment_ids=[PROBE_EQUIPMENT], metric_types=[PROBE_METRIC])
    probe = Point(PROBE_EQUIPMENT, PROBE_METRIC, value, at)
    started = time.perf_counter()
    try:
        store.write_points([probe], spool=False)
    except StoreError as exc:
        return _step_failed(steps, "write", started, diagnose(exc, where))
    steps.append(CheckStep("write", "ok", _since(started), f"{PROBE_EQUIPMENT} {PROBE_METRIC}={value:.0f}"))
    started = time.perf_counter()
    try:
        found = _read_back(store, selection, value, read_timeout_s)
    except StoreError as exc:
        return _step_failed(steps, "read", started, diagnose(exc, where))
    if not found:
        return _step_failed(steps, "read", started, Diagnosis(
            "readback", f"{where} took the probe point ({PROBE_EQUIPMENT} {PROBE_METRIC}={value:.0f} at "
                        f"{at.isoformat()}) but did not return it within {read_timeout_s:g} s. Expected the value "
                        "back: check that reads and writes go to the same database, retention policy or bucket."))
    steps.append(CheckStep("read", "ok", _since(started), "probe read back"))
    started = time.perf_counter()
    try:
        deleted = store.delete(selection)
    except StoreError as exc:
        steps.append(CheckStep("delete", "warning", _since(started),
                               f"the probe could not be deleted and stays as equipment {PROBE_EQUIPMENT} (harmless): "
                               f"{one_line(str(exc), 200)}"))
        return None
    steps.append(CheckStep("delete", "ok", _since(started), f"{deleted} probe point(s) deleted"))
    return None


def _read_back(store: MetricsStore, selection: Selection, value: float, timeout_s: float) -> bool:
    """True once the probe's value is read back; polls briefly for servers that index asynchronously."""
    deadline = time.monotonic() + timeout_s
    while True:
        frame = store.query(selection)
        if (frame["value"] == value).any():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _step_failed(steps: list[CheckStep], name: str, started: float, diagnosis: Diagnosis) -> Diagnosis:
    steps.append(CheckStep(name, "failed", _since(started), diagnosis.message))
    return diagnosis


def check_url(url: str | None = None, settings: Settings | None = None, *, round_trip: bool = True,
              now: datetime | None = None) -> CheckReport:
    """Open the store at ``url`` (default: the configured one), check it, close it.

    A wrong URL or setting raises ``ConfigurationError``; a store that cannot even be
    opened gives a failed report, like one that cannot be reached."""
    settings = settings or load_settings()
    url = url or settings.store_url
    started = time.perf_counter()
    try:
        store = open_store(url, settings)
    except StoreError as exc:
        location = mask_url(url.split("?", 1)[0])
        diagnosis = diagnose(exc, server_of(location))
        step = CheckStep("open", "failed", _since(started), diagnosis.message)
        return CheckReport(ok=False, backend=urlsplit(url).scheme, location=location, steps=(step,),
                           problem=diagnosis.problem, message=diagnosis.message)
    try:
        return check_store(store, round_trip=round_trip, now=now)
    finally:
        try:
            store.close()
        except StoreError:
            pass  # the report already says what is wrong with the store
