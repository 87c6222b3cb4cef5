"""Batch reports: one report per equipment or per site, run in parallel by a bounded
number of workers with one progress bar.

Workers are threads: the work happens in kernels and Chromium processes. Each worker
starts one kernel and runs its reports on it one after the other, and every PDF is
printed by one Chromium (see :mod:`.session`); kernels use Unix sockets, so parallel
runs never clash on ports. A failed item does not stop the others; the batch raises one
ReportError naming every failure once all items are done.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import queue
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..errors import ReportError, ValidationError, VigileosError
from . import BATCH_MODES
from .context import _service
from .parameters import check_report_scope, parse_parameters
from .runner import ReportOutputs, prepare, run_report
from .session import ReportSession

MAX_WORKERS = 8


@dataclass(frozen=True)
class BatchOutputs:
    """Every report of a batch, in item order; ``folder`` holds them all."""

    folder: Path
    reports: tuple[ReportOutputs, ...]


def batch_items(name: str, raw: Mapping[str, Any], by: str) -> list[tuple[str, dict[str, Any]]]:
    """(item key, parameters) per equipment (``by='equipment'``) or per site (``'site'``)
    of the selection given by ``raw``."""
    if by not in BATCH_MODES:
        raise ValidationError(f"batch must be one of {', '.join(BATCH_MODES)}; got {by!r}.", field="batch", value=by)
    params, ids = prepare(name, raw)
    check_report_scope(name, params, batch=by)
    # Every item covers the same period, resolved once (also when it came from the data).
    fixed = {k: v for k, v in raw.items() if k not in ("start", "end", "month")}
    if params.month:
        fixed["month"] = params.month
    else:
        assert params.start is not None and params.end is not None  # prepare() resolves the period
        fixed |= {"start": params.start.isoformat(), "end": params.end.isoformat()}
    if by == "equipment":
        return [(eq, fixed | {"equipment": [eq]}) for eq in ids]
    inventory = _service(parse_parameters(raw)).equipment().set_index("equipment_id")
    sites = sorted({inventory.at[e, "location"] for e in ids if inventory.at[e, "location"]})
    if not sites:
        raise ValidationError("No selected equipment has a location: batch by site needs an inventory with a "
                              "location column (set inventory or VIGILEOS_INVENTORY).", field="batch", value=by)
    return [(site, fixed | {"site": site}) for site in sites]


def _worker(name: str, todo: queue.SimpleQueue[tuple[str, dict[str, Any]] | None], output_dir: str | Path,
            session: ReportSession, report: Callable[[str, ReportOutputs | VigileosError], None]) -> None:
    """Run items from ``todo`` until a None, on this thread's kernel of ``session``."""
    try:
        while (item := todo.get()) is not None:
            key, params = item
            try:
                outcome: ReportOutputs | VigileosError = run_report(
                    name, params, output_dir, subfolder=item_folder_name(key), progress=False, session=session)
            except VigileosError as exc:
                outcome = exc
            report(key, outcome)
    finally:
        session.close_kernel()


def _in_own_context(work: Callable[..., None], *args: Any) -> None:
    """``work`` in a copied context, closing the event loop jupyter_core made for it (it
    lives in a context variable and would otherwise be left unclosed)."""
    context = contextvars.copy_context()
    try:
        context.run(work, *args)
    finally:
        for value in context.values():
            if isinstance(value, asyncio.AbstractEventLoop) and not value.is_closed():
                value.close()
        asyncio.set_event_loop(None)


#: Longest item folder name in UTF-8 bytes, hash suffix included (file systems allow 255).
MAX_FOLDER_BYTES = 96


def item_folder_name(key: str) -> str:
    """The folder of a batch item (an equipment id or a site name, which come from the
    inventory): one plain name that stays inside the batch folder. Path separators, NUL
    and other unsafe characters become ``_``, leading dots too (``..``, hidden folders),
    and a long name is cut; a name changed that way ends in ``-`` and 8 hex digits of its
    key's SHA-1, so that two keys never share a folder."""
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
    name = "_" * (len(name) - len(name.lstrip("."))) + name.lstrip(".")
    if name == key and len(name.encode()) <= MAX_FOLDER_BYTES:
        return name
    suffix = "-" + hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    kept = name.encode()[:MAX_FOLDER_BYTES - len(suffix)].decode(errors="ignore")
    return kept + suffix


def run_batch(name: str, raw: Mapping[str, Any] | None, by: str, output_dir: str | Path = "reports", *,
              workers: int = 2, progress: bool = True) -> BatchOutputs:
    """Run report ``name`` once per equipment or site with at most ``workers`` at a time.
    Reports land in ``<output_dir>/<name>/<period>/<item>/``."""
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        raise ValidationError(f"workers must be a whole number from 1 to {MAX_WORKERS}; got {workers!r}.",
                              field="workers", value=workers)
    items = batch_items(name, raw or {}, by)
    done: dict[str, ReportOutputs] = {}
    failed: dict[str, str] = {}
    todo: queue.SimpleQueue[tuple[str, dict[str, Any]] | None] = queue.SimpleQueue()
    for item in items:
        todo.put(item)
    threads = min(workers, len(items))
    for _ in range(threads):
        todo.put(None)
    lock = threading.Lock()
    with ReportSession() as session, \
            tqdm(total=len(items), desc=f"{name} by {by}", unit="report", disable=not progress) as bar:

        def report(key: str, outcome: ReportOutputs | VigileosError) -> None:
            with lock:
                if isinstance(outcome, ReportOutputs):
                    done[key] = outcome
                else:
                    failed[key] = str(outcome)
                bar.update(1)

        # Each worker keeps one kernel for all its reports; every PDF goes through one Chromium.
        with ThreadPoolExecutor(max_workers=threads or 1, thread_name_prefix="vg-report") as pool:
            for future in [pool.submit(_in_own_context, _worker, name, todo, output_dir, session, report)
                           for _ in range(threads)]:
                future.result()
    if failed:
        details = "; ".join(f"{k}: {v}" for k, v in sorted(failed.items()))
        raise ReportError(f"{len(failed)} of {len(items)} reports failed ({details}). The others are in "
                          f"{Path(output_dir) / name}.")
    reports = tuple(done[k] for k, _ in items)
    return BatchOutputs(folder=reports[0].folder.parent if reports else Path(output_dir) / name, reports=reports)
