"""``vigileos collect``: sample this host into the store until stopped."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta
from typing import TYPE_CHECKING

import click

from .common import DURATION, AppContext, console, emit_json, handle_errors, json_option, pass_app

if TYPE_CHECKING:
    from ..ingest.collect import Sample


@click.command("collect")
@click.option("--equipment-id", "equipment_id", default=None, metavar="ID",
              help="Equipment id the points are recorded under (default: this host's name).")
@click.option("--interval", type=DURATION, default="10s", show_default=True,
              help="Time between samples, e.g. 10s, 1m. CPU use is averaged over it.")
@click.option("--probe-url", metavar="URL", default=None,
              help="GET this URL every sample: availability (1/0, reason tag) and response time (ms).")
@click.option("--probe-tcp", metavar="HOST:PORT", default=None,
              help="Or open a TCP connection to HOST:PORT every sample (availability and connect time).")
@click.option("--probe-timeout", type=DURATION, default="5s", show_default=True,
              help="How long the probe waits before the target counts as unavailable (reason timeout).")
@click.option("--count", type=click.IntRange(min=1), default=None,
              help="Stop after this many samples (default: run until SIGINT / SIGTERM).")
@click.option("--quiet", is_flag=True, help="Print only the summary, not a line per sample.")
@json_option
@pass_app
@handle_errors
def collect(app: AppContext, equipment_id: str | None, interval: timedelta, probe_url: str | None,
            probe_tcp: str | None, probe_timeout: timedelta, count: int | None, quiet: bool, as_json: bool) -> None:
    """Record this host's CPU (%) and memory (%) use, and optionally the availability and
    response time (ms) of a URL or TCP port, every --interval into the store.

    Stops cleanly on Ctrl-C or SIGTERM (or after --count samples) with every sample
    written; on InfluxDB, samples taken while the server is down wait in the spool.
    Prints how many samples and points it wrote."""
    # imported here, not at the top: `vigileos --help` must not pay for pandas and requests
    from ..ingest.collect import http_probe, run_collector, stop_on_signals, tcp_probe

    if probe_url and probe_tcp:
        raise click.UsageError("Give --probe-url or --probe-tcp, not both.")
    timeout_s = probe_timeout.total_seconds()
    probe = http_probe(probe_url, timeout_s) if probe_url else tcp_probe(probe_tcp, timeout_s) if probe_tcp else None
    equipment_id = equipment_id or socket.gethostname()
    stop = threading.Event()

    def show(sample: Sample) -> None:
        if quiet or as_json:
            return
        line = f"{sample.time:%Y-%m-%d %H:%M:%S}Z {equipment_id} cpu {sample.cpu_usage:.1f}% " \
               f"memory {sample.memory_usage:.1f}%"
        if sample.probe is not None:
            took = sample.probe.response_time_ms
            answered = f" in {took:.1f} ms" if took is not None else ""
            line += f" probe {'up' if sample.probe.available else 'DOWN'} ({sample.probe.reason}){answered}"
        console.print(line, highlight=False, soft_wrap=True)

    store = app.store
    try:
        with stop_on_signals(stop):
            summary = run_collector(store, equipment_id, interval, probe=probe, count=count, stop=stop,
                                    on_sample=show)
    finally:
        store.close()
    if as_json:
        emit_json(summary.to_dict())
        return
    spooled = f"; {summary.spooled_points} points wait in the outage spool" if summary.spooled_points else ""
    console.print(f"Wrote {summary.samples} samples ({summary.points} points) for {equipment_id} to "
                  f"{app.store_url}{spooled}.", highlight=False, soft_wrap=True)
