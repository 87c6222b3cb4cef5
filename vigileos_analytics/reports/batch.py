"""Batch reports: one report per equipment or per site, run in parallel by a bounded
number of workers with one progress bar.

Workers are threads: the work happens in each report's own kernel and Chromium
processes, and kernels use Unix sockets (see :mod:`.runner`), so parallel runs
never clash on ports. A failed item does not stop the others; the batch raises one
ReportError naming every failure once all items are done.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..errors import ReportError, ValidationError, VigileosError
from . import BATCH_MODES
from .context import _service
from .parameters import parse_parameters
from .runner import ReportOutputs, prepare, run_report

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


def _in_own_context(name: str, params: dict[str, Any], output_dir: str | Path, key: str) -> ReportOutputs:
    """run_report in a copied context, closing the event loop jupyter_core made for this
    thread (it lives in a context variable and would otherwise be left unclosed)."""
    context = contextvars.copy_context()
    try:
        return context.run(run_report, name, params, output_dir, subfolder=_folder_name(key), progress=False)
    finally:
        for value in context.values():
            if isinstance(value, asyncio.AbstractEventLoop) and not value.is_closed():
                value.close()
        asyncio.set_event_loop(None)


def _folder_name(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in key)


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
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vg-report") as pool, \
            tqdm(total=len(items), desc=f"{name} by {by}", unit="report", disable=not progress) as bar:
        futures = {pool.submit(_in_own_context, name, params, output_dir, key): key
                   for key, params in items}
        for future in as_completed(futures):
            key = futures[future]
            try:
                done[key] = future.result()
            except VigileosError as exc:
                failed[key] = str(exc)
            bar.update(1)
    if failed:
        details = "; ".join(f"{k}: {v}" for k, v in sorted(failed.items()))
        raise ReportError(f"{len(failed)} of {len(items)} reports failed ({details}). The others are in "
                          f"{Path(output_dir) / name}.")
    reports = tuple(done[k] for k, _ in items)
    return BatchOutputs(folder=reports[0].folder.parent if reports else Path(output_dir) / name, reports=reports)
