"""Host metrics into the store, every interval: the library side of ``vigileos collect``.

Each sample, taken at ``start + k * interval`` (k = 1, 2, ...; UTC times), records
for one equipment id:

- ``cpu_usage`` (%): CPU use of the whole host averaged over the interval just
  ended (psutil measures since its previous reading, primed at start);
- ``memory_usage`` (%): memory in use at the sample time;
- with a probe (an HTTP GET of a URL, or a TCP connect to host:port):
  ``availability`` 1 or 0 with a ``reason`` tag (``ok``, ``connection_refused``,
  ``timeout``, ``dns_error``, ``connection_error``, ``http_<status>``), and
  ``response_time`` (ms) whenever the target answered at all.

Points go through :class:`~vigileos_analytics.ingest.recording.EquipmentMetricsService`,
flushed after every sample, so an InfluxDB outage sends them to the store's
outage spool rather than losing them. A flush that fails for another reason (the
embedded store busy for too long) keeps the points buffered for the next one; the
final flush, when the collector stops, raises if it still fails.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil
import requests

from ..errors import StoreError, ValidationError
from ..schema import AVAILABILITY, CPU_USAGE, MEMORY_USAGE, RESPONSE_TIME, validate_equipment_id
from ..stores.base import MetricsStore
from .recording import EquipmentMetricsService

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProbeResult:
    """Whether the target answered well, why not, and how fast (ms; None when it did not answer)."""

    available: bool
    reason: str
    response_time_ms: float | None


Probe = Callable[[], ProbeResult]


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _failure_reason(exc: BaseException) -> str:
    text = str(exc).lower()
    if isinstance(exc, (requests.exceptions.Timeout, TimeoutError)) or "timed out" in text:
        return "timeout"
    if isinstance(exc, ConnectionRefusedError) or "refused" in text:
        return "connection_refused"
    if "name or service not known" in text or "nodename nor servname" in text or "resolve" in text:
        return "dns_error"
    return "connection_error"


def http_probe(url: str, timeout_s: float = 5.0) -> Probe:
    """A probe that GETs ``url``: available when it answers below 400 within ``timeout_s``."""
    if not url.startswith(("http://", "https://")):
        raise ValidationError(f"The probe URL must start with http:// or https://; got {url!r}.", field="probe_url",
                              value=url)
    session = requests.Session()

    def probe() -> ProbeResult:
        started = time.perf_counter()
        try:
            response = session.get(url, timeout=timeout_s)
            response.close()
        except requests.exceptions.RequestException as exc:
            return ProbeResult(False, _failure_reason(exc), None)
        elapsed = _elapsed_ms(started)
        if response.status_code >= 400:
            return ProbeResult(False, f"http_{response.status_code}", elapsed)
        return ProbeResult(True, "ok", elapsed)
    return probe


def parse_tcp_target(text: str) -> tuple[str, int]:
    """'host:port' (or '[v6addr]:port') to (host, port)."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValidationError(f"The TCP probe target must be host:port with a port from 1 to 65535, e.g. "
                              f"db.example.com:5432; got {text!r}.", field="probe_tcp", value=text)
    return host, int(port)


def tcp_probe(target: str, timeout_s: float = 5.0) -> Probe:
    """A probe that opens a TCP connection to ``host:port``: available when it connects."""
    import socket

    host, port = parse_tcp_target(target)

    def probe() -> ProbeResult:
        started = time.perf_counter()
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                elapsed = _elapsed_ms(started)
        except socket.gaierror:
            return ProbeResult(False, "dns_error", None)
        except OSError as exc:
            return ProbeResult(False, _failure_reason(exc), None)
        return ProbeResult(True, "ok", elapsed)
    return probe


@dataclass(frozen=True)
class Sample:
    """One reading of the host (UTC ``time``, percentages) and of the probe, if any."""

    time: datetime
    cpu_usage: float
    memory_usage: float
    probe: ProbeResult | None = None

    @property
    def points(self) -> int:
        """How many points this sample records."""
        if self.probe is None:
            return 2
        return 3 + (self.probe.response_time_ms is not None)


class HostSampler:
    """Reads this host through psutil; the CPU figure covers the time since the previous reading."""

    def __init__(self, probe: Probe | None = None) -> None:
        self.probe = probe

    def prime(self) -> None:
        """Start the CPU measurement (psutil's first reading has nothing to compare with)."""
        psutil.cpu_percent(interval=None)

    def sample(self, at: datetime) -> Sample:
        cpu = float(min(100.0, max(0.0, psutil.cpu_percent(interval=None))))
        memory = float(psutil.virtual_memory().percent)
        return Sample(at, cpu, memory, self.probe() if self.probe is not None else None)


def record_sample(recorder: EquipmentMetricsService, equipment_id: str, sample: Sample) -> None:
    """Buffer the points of ``sample`` (see the module docstring) in ``recorder``."""
    recorder.record_metric(equipment_id, CPU_USAGE, sample.cpu_usage, time=sample.time)
    recorder.record_metric(equipment_id, MEMORY_USAGE, sample.memory_usage, time=sample.time)
    if sample.probe is not None:
        recorder.record_metric(equipment_id, AVAILABILITY, 1.0 if sample.probe.available else 0.0,
                               {"reason": sample.probe.reason}, time=sample.time)
        if sample.probe.response_time_ms is not None:
            recorder.record_metric(equipment_id, RESPONSE_TIME, sample.probe.response_time_ms, time=sample.time)


@dataclass(frozen=True)
class CollectSummary:
    """What a collector run wrote: samples, points, the first and last sample times (UTC),
    flushes that failed and were retried, and points waiting in an outage spool at the end."""

    equipment_id: str
    samples: int
    points: int
    first: datetime | None
    last: datetime | None
    failed_flushes: int = 0
    spooled_points: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"equipment_id": self.equipment_id, "samples": self.samples, "points": self.points,
                "first": self.first.isoformat() if self.first else None,
                "last": self.last.isoformat() if self.last else None,
                "failed_flushes": self.failed_flushes, "spooled_points": self.spooled_points}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def run_collector(store: MetricsStore, equipment_id: str, interval: timedelta, *, probe: Probe | None = None,
                  count: int | None = None, stop: threading.Event | None = None,
                  on_sample: Callable[[Sample], None] | None = None, clock: Callable[[], datetime] = _utc_now,
                  sampler: HostSampler | None = None) -> CollectSummary:
    """Sample the host every ``interval`` into ``store`` until ``stop`` is set or ``count``
    samples are taken; everything recorded is flushed before this returns."""
    validate_equipment_id(equipment_id)
    interval_s = interval.total_seconds()
    if interval_s <= 0:
        raise ValidationError(f"interval must be positive; got {interval!r}.", field="interval", value=interval)
    if count is not None and count < 1:
        raise ValidationError(f"count must be at least 1; got {count!r}.", field="count", value=count)
    stop = stop or threading.Event()
    sampler = sampler or HostSampler(probe)
    sampler.prime()
    recorder = EquipmentMetricsService(store, batch_size=100_000, clock=clock)
    samples = points = failed = 0
    first = last = None
    next_tick = time.monotonic() + interval_s
    try:
        while count is None or samples < count:
            if stop.wait(max(0.0, next_tick - time.monotonic())):
                break
            next_tick = _next_tick(next_tick, interval_s)
            sample = sampler.sample(clock())
            record_sample(recorder, equipment_id, sample)
            samples, points, last = samples + 1, points + sample.points, sample.time
            first = first or sample.time
            try:
                recorder.flush()
            except StoreError as exc:  # kept buffered; the next flush tries again
                failed += 1
                logger.warning("Could not write sample %d (%d points wait in memory): %s", samples,
                               recorder.pending, exc)
            if on_sample is not None:
                on_sample(sample)
    finally:
        recorder.close()
    return CollectSummary(equipment_id, samples, points, first, last, failed, _spooled_points(store))


def _next_tick(tick: float, interval_s: float) -> float:
    """The next tick after ``tick``, skipping those already missed (a slow probe or store)."""
    tick += interval_s
    now = time.monotonic()
    if tick < now:
        tick += ((now - tick) // interval_s + 1) * interval_s
    return tick


def _spooled_points(store: MetricsStore) -> int:
    spool = store.spool
    return spool.state().points if spool is not None else 0


@contextmanager
def stop_on_signals(stop: threading.Event,
                    signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[None]:
    """Set ``stop`` on SIGINT / SIGTERM while inside; the previous handlers come back after."""
    previous = {number: signal.signal(number, lambda *_: stop.set()) for number in signals}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
