"""The data lifecycle: ``backup`` (create, verify), ``restore``, ``export``,
``cleanup``, ``retention`` (show, set), ``optimize`` (downsampling) and ``maintain``
(both on a schedule)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..lifecycle import FORMATS
from .common import (
    DURATION,
    TIME,
    AppContext,
    console,
    emit_json,
    emit_table,
    handle_errors,
    json_option,
    pass_app,
    say,
)

if TYPE_CHECKING:
    from ..lifecycle.maintain import MaintenanceRun
    from ..stores.base import Selection

quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bar.")


def _selection(start: datetime | None, end: datetime | None, equipment: tuple[str, ...],
               metric: tuple[str, ...]) -> Selection:
    # imported here, not at the top: `vigileos --help` must not pay for pandas and pyarrow
    from ..lifecycle.chunks import ALL_TIME_END, ALL_TIME_START
    from ..stores.base import Selection

    return Selection(start or ALL_TIME_START, end or ALL_TIME_END, equipment_ids=equipment or None,
                     metric_types=metric or None)


def selection_options(func):
    func = click.option("--metric", "metric", multiple=True, help="Only this metric type; repeat for several.")(func)
    func = click.option("--equipment", "equipment", multiple=True,
                        help="Only this equipment id; repeat for several.")(func)
    func = click.option("--end", type=TIME, default=None,
                        help="End (exclusive; default: all). Text without offset is UTC.")(func)
    func = click.option("--start", type=TIME, default=None,
                        help="Start (default: all, from 1970). e.g. 2024-01-01, now-30d.")(func)
    return func


class _DefaultCreate(click.Group):
    """``vigileos backup PATH`` means ``vigileos backup create PATH``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["create", *args]
        return super().parse_args(ctx, args)


@click.group("backup", cls=_DefaultCreate)
def backup() -> None:
    """Back the store up to a portable archive, or verify one.

    \b
    vigileos backup PATH            same as: vigileos backup create PATH
    vigileos backup verify PATH
    """


@backup.command("create")
@click.argument("path", type=click.Path(path_type=Path))
@selection_options
@quiet_option
@json_option
@pass_app
@handle_errors
def backup_create(app: AppContext, path: Path, start: datetime | None, end: datetime | None,
                  equipment: tuple[str, ...], metric: tuple[str, ...], quiet: bool, as_json: bool) -> None:
    """Write the store (or a selection) to PATH: a folder, or a .tar file, of Parquet
    parts plus manifest.json (counts, time range, sha256 of every file)."""
    from ..lifecycle import backup as backup_store

    result = backup_store(app.store, path, _selection(start, end, equipment, metric), progress=not quiet)
    if as_json:
        emit_json({"path": str(result.path), "files": result.files, "points": result.points,
                   "removed_partials": [str(p) for p in result.removed_partials]})
        return
    console.print(f"Backed up {result.points:,} points of {result.counts['equipment_id'].nunique()} equipment "
                  f"in {result.files} files to {result.path}.")
    if result.removed_partials:
        console.print(say("cli.backup.removed_partials", count=len(result.removed_partials),
                          names=", ".join(p.name for p in result.removed_partials)), highlight=False, soft_wrap=True)


@backup.command("verify")
@click.argument("path", type=click.Path(path_type=Path))
@json_option
@handle_errors
def backup_verify(path: Path, as_json: bool) -> None:
    """Check an archive's manifest, checksums and counts (exit code 3 when damaged)."""
    from ..lifecycle import verify

    result = verify(path)
    if as_json:
        emit_json({"path": str(result.path), "ok": True, "files": result.files, "points": result.points,
                   "time_range": result.manifest.get("time_range")})
        return
    span = result.manifest.get("time_range", {})
    console.print(f"{path} is intact: {result.files} files, {result.points:,} points from {span.get('first')} "
                  f"to {span.get('last')}.")


@click.command("restore")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--roll-up", "roll_up", is_flag=True,
              help="Allow rolling points up to fit the rollups: raw points that would lie before the rollup horizon, "
                   "and rollups of a finer window (see README, Restore rules). Without it such a restore is refused.")
@quiet_option
@json_option
@pass_app
@handle_errors
def restore(app: AppContext, path: Path, roll_up: bool, quiet: bool, as_json: bool) -> None:
    """Verify the archive at PATH, then load it into the store (any backend).
    Points already there with the same series and time are replaced. A restore never
    hides points behind a rollup horizon: when it would have to roll some up, it
    refuses and says how many, unless --roll-up is given."""
    from ..lifecycle import restore as restore_archive

    result = restore_archive(app.store, path, roll_up=roll_up, progress=not quiet and not as_json)
    plan, settled = result.plan, result.settled
    if as_json:
        emit_json({"path": str(result.path), "files": result.files, "points": result.points,
                   "rollup_points": result.rollup_points, "rollups": plan.measurement,
                   "horizon": plan.horizon.isoformat() if plan.horizon else None,
                   "regrouped": plan.store_regroup + plan.archive_regroup, "rolled_up": settled.added,
                   "already_in_rollups": settled.already_held, "raw_removed": settled.deleted,
                   "kept_equipment": settled.kept})
        return
    console.print(say("cli.restore.done", points=result.points, path=result.path, store=app.store_url),
                  highlight=False, soft_wrap=True)
    if plan.horizon is not None:
        console.print(say("cli.restore.horizon", measurement=plan.measurement, time=plan.horizon),
                      highlight=False, soft_wrap=True)
    for measurement in plan.store_regroup + plan.archive_regroup:
        console.print(say("cli.restore.regrouped", source=measurement, measurement=plan.measurement),
                      highlight=False, soft_wrap=True)
    if settled.points:
        console.print(say("cli.restore.rolled_up", count=settled.points, added=settled.added,
                          held=settled.already_held, deleted=settled.deleted, measurement=plan.measurement),
                      highlight=False, soft_wrap=True)
    if settled.kept:
        console.print(say("cli.restore.kept", names=", ".join(settled.kept[:10])), highlight=False, soft_wrap=True)


@click.command("export")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="csv, parquet or lp (line protocol); default: from PATH's suffix.")
@selection_options
@click.option("--overwrite", is_flag=True, help="Replace PATH if it exists.")
@quiet_option
@json_option
@pass_app
@handle_errors
def export(app: AppContext, path: Path, fmt: str | None, start: datetime | None, end: datetime | None,
           equipment: tuple[str, ...], metric: tuple[str, ...], overwrite: bool, quiet: bool, as_json: bool) -> None:
    """Export points (all, or a selection) to one CSV, Parquet or line-protocol file."""
    from ..lifecycle import export as export_points
    from ..stores.rollups import find_rollups

    result = export_points(app.store, _selection(start, end, equipment, metric), path, fmt, progress=not quiet,
                           overwrite=overwrite)
    if as_json:
        emit_json({"path": str(result.path), "format": result.format, "points": result.points,
                   "tag_columns": list(result.tag_columns)})
        return
    console.print(f"Exported {result.points:,} points to {result.path} ({result.format}).")
    rollups = find_rollups(app.store)
    if rollups is not None and rollups.horizon is not None and (start is None or start < rollups.horizon):
        console.print(f"Raw points before {rollups.horizon:%Y-%m-%d %H:%M} UTC were rolled up into "
                      f"{rollups.measurement} (vigileos optimize); export holds raw points only. `vigileos backup` "
                      "carries the rollups.", highlight=False)
    if result.format == "csv" and result.tag_columns:
        console.print("Import it again with: vigileos import " + str(result.path) + "".join(
            f" --tag {t}" for t in result.tag_columns))


@click.command("cleanup")
@click.option("--older-than", type=DURATION, default=None,
              help="Delete points older than this (e.g. 90d). Default: the embedded store's retention setting.")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted, per equipment and metric.")
@click.option("--equipment", multiple=True, help="Only this equipment id; repeat for several.")
@click.option("--metric", multiple=True, help="Only this metric type; repeat for several.")
@json_option
@pass_app
@handle_errors
def cleanup(app: AppContext, older_than: timedelta | None, dry_run: bool, equipment: tuple[str, ...],
            metric: tuple[str, ...], as_json: bool) -> None:
    """Delete points older than --older-than (UTC clock), or count them with --dry-run."""
    from ..lifecycle import cleanup as cleanup_store

    result = cleanup_store(app.store, older_than, dry_run=dry_run, equipment_ids=equipment or None,
                           metric_types=metric or None)
    verb = "Would delete" if result.dry_run else "Deleted"
    if as_json:
        emit_json({"dry_run": result.dry_run, "cutoff": result.cutoff.isoformat(), "rule": result.rule,
                   "points": result.points, "counts": result.counts.to_dict(orient="records")})
        return
    if not result.counts.empty:
        emit_table(result.counts, title=f"{verb}: points before {result.cutoff:%Y-%m-%d %H:%M:%S} UTC")
    console.print(f"{verb} {result.points:,} points before {result.cutoff.isoformat()} ({result.rule}).")


@click.group("retention")
def retention() -> None:
    """Show or set how long the store keeps points."""


@retention.command("show")
@json_option
@pass_app
@handle_errors
def retention_show(app: AppContext, as_json: bool) -> None:
    """The store's retention (InfluxQL: retention policy; InfluxDB 2: bucket rule; embedded: setting file)."""
    from ..lifecycle import show_retention

    _emit_retention(show_retention(app.store), as_json)


@retention.command("set")
@click.option("--days", type=click.IntRange(0, 36_500), required=True,
              help="Keep points this many days; 0 keeps them for ever.")
@json_option
@pass_app
@handle_errors
def retention_set(app: AppContext, days: int, as_json: bool) -> None:
    """Set the retention. Embedded stores apply it on `vigileos cleanup`; InfluxDB by itself."""
    from ..lifecycle import set_retention

    _emit_retention(set_retention(app.store, days), as_json)


def _emit_retention(info, as_json: bool) -> None:
    if as_json:
        emit_json({"backend": info.backend, "days": info.days, "where": info.where, **info.details})
        return
    kept = "for ever" if info.days is None else f"{info.days:g} days"
    console.print(f"Retention: {kept} ({info.where}, {info.backend}).")
    if not info.enforced_by_store and info.days is not None:
        console.print("This store applies it when `vigileos cleanup` runs (e.g. daily from cron).")


@click.command("optimize")
@click.option("--older-than", type=DURATION, required=True,
              help="Roll up raw points older than this (e.g. 7d); newer ones stay raw.")
@click.option("--every", type=DURATION, default="1h", show_default=True,
              help="Rollup window: whole minutes that divide a day (15m, 1h, 1d...).")
@click.option("--dry-run", is_flag=True, help="Only count the raw points that would be rolled up and removed.")
@quiet_option
@json_option
@pass_app
@handle_errors
def optimize(app: AppContext, older_than: timedelta, every: timedelta, dry_run: bool, quiet: bool,
             as_json: bool) -> None:
    """Downsample: roll raw points older than --older-than up into per-window rollups
    (count, sum, min, max, last, p95; for availability the time-weighted seconds and
    the exact state changes) in equipment_metrics_<every>, verify them, then remove
    the raw points. Status changes and alerts stay raw. Analytics read the rollups
    for older time, so availability figures stay exact."""
    from ..lifecycle.optimize import DEFAULT_EVERY
    from ..lifecycle.optimize import optimize as optimize_store

    result = optimize_store(app.store, older_than, every or DEFAULT_EVERY, staleness=app.settings.staleness,
                            dry_run=dry_run, progress=not quiet and not as_json)
    if as_json:
        emit_json({"measurement": result.measurement, "every_s": result.every.total_seconds(),
                   "cutoff": result.cutoff.isoformat(), "dry_run": result.dry_run,
                   "previous_horizon": result.previous_horizon.isoformat() if result.previous_horizon else None,
                   "raw_points": result.raw_points, "rollup_points": result.rollup_points, "deleted": result.deleted,
                   "late_points": result.late_points, "resumed": result.resumed, "kept_equipment": result.kept,
                   "counts": result.counts.to_dict(orient="records")})
        return
    since = f"from {result.previous_horizon:%Y-%m-%d %H:%M} " if result.previous_horizon else ""
    if result.raw_points == 0:
        console.print(f"Nothing to roll up {since}before {result.cutoff:%Y-%m-%d %H:%M} UTC.")
    elif result.dry_run:
        emit_table(result.counts, title=f"Would roll up: raw points {since}before {result.cutoff:%Y-%m-%d %H:%M} UTC")
        console.print(f"Would roll {result.raw_points:,} raw points up into {result.measurement} and remove them.")
    else:
        console.print(f"Rolled {result.raw_points:,} raw points {since}before {result.cutoff:%Y-%m-%d %H:%M} UTC up "
                      f"into {result.rollup_points:,} rollup points in {result.measurement}; removed "
                      f"{result.deleted:,} raw points.")
    if result.kept:
        console.print(f"Raw points of {len(result.kept)} equipment changed while this ran and were kept: "
                      f"{', '.join(result.kept[:10])}. Run optimize again.")
    if result.resumed:
        console.print(say("cli.optimize.resumed", count=result.resumed), highlight=False, soft_wrap=True)
    if result.late_points:
        console.print(say("cli.optimize.late_dry" if result.dry_run else "cli.optimize.late",
                          count=result.late_points), highlight=False, soft_wrap=True)


@click.command("maintain")
@click.option("--every", type=DURATION, default="24h", show_default=True, help="Time between two runs.")
@click.option("--optimize-older-than", type=DURATION, default=None,
              help="Also roll up raw points older than this on each run (e.g. 7d). Default: no optimize.")
@click.option("--rollup-every", type=DURATION, default="1h", show_default=True, help="Rollup window for optimize.")
@click.option("--count", type=click.IntRange(min=1), default=None,
              help="Stop after this many runs (default: run until SIGINT / SIGTERM).")
@json_option
@pass_app
@handle_errors
def maintain(app: AppContext, every: timedelta, optimize_older_than: timedelta | None, rollup_every: timedelta,
             count: int | None, as_json: bool) -> None:
    """Run maintenance now and then every --every: apply the embedded store's retention
    (`vigileos retention set`; InfluxDB servers apply theirs themselves) and, with
    --optimize-older-than, downsample. A failed run is reported; the next one still
    happens. Stops cleanly on Ctrl-C or SIGTERM."""
    from ..ingest.collect import stop_on_signals
    from ..lifecycle.maintain import run_maintenance

    stop = threading.Event()
    runs: list[dict] = []

    def show(run: MaintenanceRun) -> None:
        line = {"started": run.started.isoformat(), "error": run.error,
                "deleted": None if run.cleanup is None else run.cleanup.points,
                "rolled_up": None if run.optimize is None else run.optimize.raw_points}
        runs.append(line)
        if as_json:
            return
        parts = [f"{run.started:%Y-%m-%d %H:%M:%S}Z"]
        parts.append("retention: not set" if run.cleanup is None else
                     f"retention: deleted {run.cleanup.points:,} points ({run.cleanup.rule})")
        if run.optimize is not None:
            parts.append(f"optimize: rolled up {run.optimize.raw_points:,} raw points before "
                         f"{run.optimize.cutoff:%Y-%m-%d %H:%M} UTC")
        if run.error:
            parts.append(f"FAILED: {run.error}")
        console.print("; ".join(parts), highlight=False, soft_wrap=True)

    with stop_on_signals(stop):
        run_maintenance(app.store, every, optimize_older_than=optimize_older_than, rollup_every=rollup_every,
                        staleness=app.settings.staleness, count=count, stop=stop, on_run=show)
    if as_json:
        emit_json({"runs": runs})
