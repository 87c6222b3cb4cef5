"""Backup and restore: a store's points to a portable archive and back, on any backend.

:func:`backup` reads the store in bounded chunks (one equipment over one period,
see :mod:`.chunks`), writes each chunk as one Parquet file, then the manifest
(see :mod:`.archive` for the format). Everything is written under a hidden
``.NAME.partial-*`` name beside the target and renamed to the target only once
complete, so an interrupted backup never leaves an archive that looks complete.
A path ending in ``.tar`` gets an uncompressed tar of the same files (the Parquet
parts are compressed already); any other path a folder.

:func:`restore` verifies the archive first, then writes it to the store one
Parquet row group batch at a time (``write_frame``). Writes are idempotent, so
restoring twice gives the same data.

A store that was optimized (:mod:`.optimize`) keeps part of its history as
rollups: a backup carries them too (parts named after the rollup measurement,
with the horizon marker, whatever the selected period), and a restore writes them
back into the target store's rollup store, so the restored store gives the same
figures. Where the archive's rollups and horizon meet the store's, the rules of
:mod:`.restore_plan` apply: a restore never leaves points hidden behind a horizon.

A backup killed outright (``kill -9``, power loss) cannot remove its ``.partial``
folder; the next backup into the same folder removes those whose process is gone
(:mod:`.partials`).
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from ..errors import ValidationError
from ..stores.base import MetricsStore, Selection
from ..stores.rollups import (
    AVAILABILITY_STATS,
    HORIZON_EQUIPMENT,
    HORIZON_METRIC,
    STATS,
    find_rollups,
    horizon_point,
    stat_metric,
)
from .archive import FORMAT, FORMAT_VERSION, MANIFEST, ArchiveReader, VerifyResult, sha256_of, verify
from .chunks import DEFAULT_CHUNK_POINTS, all_time, plan_chunks, read_chunks, to_write_frame
from .partials import release_owner, remove_stale_partials, write_owner
from .restore_plan import RestorePlan, plan_restore, regroup_measurement
from .settle import SettleResult, settle

__all__ = ["BackupResult", "RestoreResult", "backup", "restore", "verify"]


@dataclass(frozen=True)
class BackupResult:
    path: Path
    files: int
    points: int
    counts: pd.DataFrame
    rollup_points: dict[str, int] = field(default_factory=dict)
    removed_partials: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class RestoreResult:
    """What a restore wrote; ``plan``: the rollups and horizon after it (see
    :mod:`.restore_plan`); ``settled``: raw points it rolled up behind the horizon."""

    path: Path
    files: int
    points: int
    rollup_points: dict[str, int] = field(default_factory=dict)
    plan: RestorePlan = field(default_factory=RestorePlan)
    settled: SettleResult = field(default_factory=SettleResult)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as stream:
        os.fsync(stream.fileno())


def _selection_text(selection: Selection) -> dict[str, Any]:
    return {"start": selection.start.isoformat(), "end": selection.end.isoformat(),
            "equipment_ids": list(selection.equipment_ids) if selection.equipment_ids is not None else None,
            "metric_types": list(selection.metric_types) if selection.metric_types is not None else None,
            "tags": dict(selection.tags)}


def _write_part(folder: Path, index: int, frame: pd.DataFrame, start_ns: int, end_ns: int,
                measurement: str | None = None) -> dict[str, Any]:
    name = f"part-{index:06d}.parquet" if measurement is None else f"{measurement}-{index:06d}.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / name, compression="zstd")
    _fsync_file(folder / name)
    with open(folder / name, "rb") as stream:
        digest, size = sha256_of(stream)
    entry = {"name": name, "bytes": size, "sha256": digest, "points": len(frame),
             "equipment_id": str(frame["equipment_id"].iloc[0]), "start_ns": start_ns, "end_ns": end_ns,
             "counts": {str(k): int(v) for k, v in frame["metric_type"].value_counts(sort=False).items()}}
    if measurement is not None:
        entry["measurement"] = measurement
    return entry


def _rollup_selection(selection: Selection) -> Selection | None:
    """What of the rollups belongs with a selection of raw points (None: nothing, as
    rollups carry no tags); the horizon marker always goes along."""
    if selection.tags:
        return None
    equipment = None if selection.equipment_ids is None else (*selection.equipment_ids, HORIZON_EQUIPMENT)
    metrics = None if selection.metric_types is None else (
        *(stat_metric(m, s) for m in selection.metric_types for s in (*STATS, *AVAILABILITY_STATS)), HORIZON_METRIC)
    return replace(selection, equipment_ids=equipment, metric_types=metrics)


def _backup_rollups(store: MetricsStore, selection: Selection, work: Path, entries: list[dict],
                    chunk_points: int, progress: bool) -> dict[str, dict[str, int]]:
    """Rollup parts of every rollup measurement of the store; returns their manifest section."""
    within = _rollup_selection(selection)
    section: dict[str, dict[str, int]] = {}
    if within is None:
        return section
    for measurement in store.rollup_names():
        rollup = store.open_rollup(measurement)
        if rollup is None:  # removed since it was listed
            continue
        chunks = plan_chunks(rollup, within, chunk_points)
        points = 0
        with tqdm(total=sum(c.points for c in chunks), unit="pt", unit_scale=True, desc=f"backup {measurement}",
                  disable=not progress) as bar:
            for chunk, frame in read_chunks(rollup, within, chunks):
                if not frame.empty:
                    entries.append(_write_part(work, len(entries) + 1, frame, chunk.start_ns, chunk.end_ns,
                                               measurement))
                    points += len(frame)
                bar.update(len(frame))
        marker = rollup.latest(equipment_ids=[HORIZON_EQUIPMENT], metric_types=[HORIZON_METRIC])
        if not marker.empty and not within.start <= pd.Timestamp(marker["time"].iloc[-1]) < within.end:
            # The horizon goes along whatever the period: without it the rollups are not in force.
            frame = to_write_frame(marker)
            entries.append(_write_part(work, len(entries) + 1, frame, within.start_ns, within.end_ns, measurement))
            points += len(frame)
        section[measurement] = {"points": points}
    return section


def _check_target(target: Path) -> None:
    if target.exists():
        raise ValidationError(f"{target} already exists; a backup never overwrites one. Choose a new path or move "
                              "the old archive away.", field="path", value=str(target))
    if not target.parent.is_dir():
        raise ValidationError(f"The folder {target.parent} does not exist; create it first.", field="path",
                              value=str(target))


def backup(store: MetricsStore, path: str | Path, selection: Selection | None = None, *,
           chunk_points: int = DEFAULT_CHUNK_POINTS, progress: bool = False,
           now: datetime | None = None) -> BackupResult:
    """Write the points of ``selection`` (default: all time, see :mod:`.chunks`) to a
    new archive at ``path`` (a folder, or a ``.tar`` file). At most about
    ``chunk_points`` points are held in memory. ``now`` (UTC, default: the clock)
    is only recorded in the manifest."""
    target = Path(path)
    _check_target(target)
    selection = selection or all_time()
    removed = remove_stale_partials(target.parent)
    work = target.parent / f".{target.name}.partial-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    write_owner(work)
    tar_work = work.with_name(work.name + ".tar")
    try:
        chunks = plan_chunks(store, selection, chunk_points)
        entries: list[dict[str, Any]] = []
        totals: Counter[tuple[str, str]] = Counter()
        first_ns, last_ns = None, None
        with tqdm(total=sum(c.points for c in chunks), unit="pt", unit_scale=True, desc="backup",
                  disable=not progress) as bar:
            for chunk, frame in read_chunks(store, selection, chunks):
                if not frame.empty:
                    entries.append(_write_part(work, len(entries) + 1, frame, chunk.start_ns, chunk.end_ns))
                    totals.update({(chunk.equipment_id, m): n for m, n in entries[-1]["counts"].items()})
                    times = frame["time"].to_numpy("datetime64[ns]").view("int64")
                    first_ns = min(int(times.min()), first_ns if first_ns is not None else int(times.min()))
                    last_ns = max(int(times.max()), last_ns if last_ns is not None else int(times.max()))
                bar.update(len(frame))
        rollups = _backup_rollups(store, selection, work, entries, chunk_points, progress)
        manifest = _manifest(store, selection, entries, totals, first_ns, last_ns, now)
        if rollups:
            manifest["rollups"] = rollups
        (work / MANIFEST).write_text(json.dumps(manifest, indent=1))
        _fsync_file(work / MANIFEST)
        release_owner(work)
        if target.suffix == ".tar":
            _tar_folder(work, tar_work)
            os.rename(tar_work, target)
            shutil.rmtree(work)
        else:
            os.rename(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        tar_work.unlink(missing_ok=True)
        raise
    counts = pd.DataFrame(manifest["counts"], columns=["equipment_id", "metric_type", "points"])
    return BackupResult(target, len(entries), manifest["points"], counts,
                        {m: r["points"] for m, r in manifest.get("rollups", {}).items()}, removed)


def _manifest(store: MetricsStore, selection: Selection, entries: list[dict], totals: Counter,
              first_ns: int | None, last_ns: int | None, now: datetime | None) -> dict[str, Any]:
    def iso(ns: int | None) -> str | None:
        return None if ns is None else pd.Timestamp(ns, unit="ns", tz="UTC").isoformat()

    created = now or datetime.now(UTC)
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "created_at": created.isoformat(),
        "source": {"backend": store.backend, "location": repr(store)},
        "selection": _selection_text(selection),
        "points": int(sum(totals.values())),
        "time_range": {"first": iso(first_ns), "last": iso(last_ns), "first_ns": first_ns, "last_ns": last_ns},
        "counts": [{"equipment_id": e, "metric_type": m, "points": int(n)} for (e, m), n in sorted(totals.items())],
        "files": entries,
    }


def _tar_folder(folder: Path, tar_path: Path) -> None:
    """An uncompressed tar of the folder's files, manifest first (readable as a stream)."""
    names = [MANIFEST] + sorted(p.name for p in folder.iterdir() if p.name != MANIFEST)
    with tarfile.open(tar_path, "w:", format=tarfile.PAX_FORMAT) as tar:
        for name in names:
            tar.add(folder / name, arcname=name, recursive=False)
    _fsync_file(tar_path)


def restore(store: MetricsStore, path: str | Path, *, roll_up: bool = False,
            batch_points: int = DEFAULT_CHUNK_POINTS, progress: bool = False) -> RestoreResult:
    """Verify the archive at ``path``, then write its points to ``store`` in batches of
    at most ``batch_points``. Nothing is written from an archive that fails verification,
    nor when the rules of :mod:`.restore_plan` would roll points up (finer rollups into
    coarser windows, raw points behind a horizon) and ``roll_up`` is False: then a
    ``ValidationError`` says what and how much."""
    checked: VerifyResult = verify(path)
    plan = plan_restore(store, path, checked.manifest)
    if plan.needs_roll_up and not roll_up:
        raise ValidationError(_refusal(plan), field="roll_up")
    for measurement in plan.store_regroup:
        assert plan.measurement is not None
        regroup_measurement(store, measurement, plan.measurement)
    written: Counter = Counter()
    pending: list[pd.DataFrame] = []
    target: list[str | None] = [None]  # the measurement the pending points go to (None: raw)

    def flush(bar: tqdm) -> None:
        if not pending:
            return
        frame = pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0]
        pending.clear()
        measurement = target[0]
        (store if measurement is None else store.create_rollup(measurement)).write_frame(frame)
        bar.update(len(frame))
        written[measurement] += len(frame)

    # Small parts are gathered into writes of up to batch_points: each write is a transaction.
    total = checked.points + sum(r["points"] for r in checked.manifest.get("rollups", {}).values())
    with ArchiveReader(path) as reader, tqdm(total=total, unit="pt", unit_scale=True, desc="restore",
                                               disable=not progress) as bar:
        for entry in checked.manifest["files"]:
            if entry.get("measurement") != target[0]:
                flush(bar)
                target[0] = entry.get("measurement")
            with reader.open(entry["name"]) as stream:
                for batch in pq.ParquetFile(stream).iter_batches(batch_size=batch_points):
                    if sum(map(len, pending)) + batch.num_rows > batch_points:
                        flush(bar)
                    pending.append(batch.to_pandas())
        flush(bar)
    rollups = {m: n for m, n in written.items() if m is not None}
    settled = _apply_plan(store, plan, roll_up)
    return RestoreResult(Path(path), checked.files, written[None], rollups, plan, settled)


def _apply_plan(store: MetricsStore, plan: RestorePlan, roll_up: bool) -> SettleResult:
    """After the archive's points are in: its rollups regrouped into the store's window,
    the horizon set, raw points behind it rolled up (with ``roll_up``)."""
    if plan.measurement is None:
        return SettleResult()
    for measurement in plan.archive_regroup:
        regroup_measurement(store, measurement, plan.measurement)
    if plan.horizon is None or plan.staleness is None:
        return SettleResult()
    store.create_rollup(plan.measurement).write_frame(horizon_point(plan.horizon, plan.staleness))
    info = find_rollups(store)
    if not roll_up or info is None:
        return SettleResult()
    return settle(store, info)


def _refusal(plan: RestorePlan) -> str:
    """Why a restore would roll points up, and the ways on."""
    horizon = f"{plan.horizon:%Y-%m-%d %H:%M} UTC" if plan.horizon is not None else ""
    reasons = []
    if plan.store_regroup or plan.archive_regroup:
        reasons.append(f"the rollups ({', '.join(plan.store_regroup + plan.archive_regroup)}) would be regrouped into "
                       f"the windows of {plan.measurement}, the store keeping one window size")
    if plan.store_hidden:
        reasons.append(f"{plan.store_hidden:,} raw points of the store would lie before the rollup horizon {horizon} "
                       "and be rolled up")
    if plan.archive_hidden:
        reasons.append(f"{plan.archive_hidden:,} raw points of the archive would lie before the rollup horizon "
                       f"{horizon} and be rolled up")
    return ("Nothing was restored: " + "; ".join(reasons) + ". Analytics read rollups only before the horizon, so "
            "restore does this only when asked: run it again with --roll-up (roll_up=True), or restore into a new "
            "store to keep every raw point.")
