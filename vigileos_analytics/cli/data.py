"""Getting data in and out: ``record``, ``import`` and ``metrics``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from .common import (
    TIME,
    AppContext,
    console,
    emit_json,
    emit_table,
    handle_errors,
    json_option,
    pass_app,
    period_options,
    say,
)


def _key_values(pairs: tuple[str, ...], option: str) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE; got {pair!r}.", param_hint=option)
        out[key] = value
    return out


@click.command("record")
@click.argument("equipment_id")
@click.argument("metric_type")
@click.argument("value", type=float)
@click.option("--tag", "-t", "tags", multiple=True, metavar="KEY=VALUE", help="A tag; repeat for several.")
@click.option("--time", "at", type=TIME, default=None, help="When (default: now). Text without offset is UTC.")
@pass_app
@handle_errors
def record(app: AppContext, equipment_id: str, metric_type: str, value: float, tags: tuple[str, ...],
           at: datetime | None) -> None:
    """Record one VALUE of METRIC_TYPE for EQUIPMENT_ID.

    \b
    Examples:
      vigileos record EQ-0001 cpu_usage 42.5
      vigileos record EQ-0001 availability 0 -t reason=power_cut
    """
    # imported here, not at the top: `vigileos --help` must not pay for pandas and the stores
    from ..ingest.recording import EquipmentMetricsService

    with EquipmentMetricsService(app.store) as service:
        service.record_metric(equipment_id, metric_type, value, _key_values(tags, "--tag") or None, at)
    console.print(say("cli.record.done", metric_type=metric_type, value=value, equipment_id=equipment_id))


@click.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "file_format", type=click.Choice(["csv", "parquet", "lp"]), default=None,
              help="File format (default: from the name: .csv; .parquet, .pq; .lp, .line, .txt line protocol).")
@click.option("--layout", type=click.Choice(["long", "wide"]), default="long", show_default=True,
              help="CSV / Parquet. long: one row per point; wide: one column per metric.")
@click.option("--column", "-c", "columns", multiple=True, metavar="FIELD=COLUMN",
              help="Map a field (time, equipment_id, metric_type, value) to a column name (default: time is the "
                   "column named time, timestamp, datetime, date or ts; value the one named value).")
@click.option("--tag", "tags", multiple=True, metavar="COLUMN", help="A column to keep as a tag.")
@click.option("--metric", "metrics", multiple=True, metavar="COLUMN",
              help="Wide layout: a column holding a metric (default: every other column).")
@click.option("--equipment-id", default=None, help="The equipment of every row (when the file has no such column).")
@click.option("--metric-type", default=None,
              help="Long layout: the metric type of every row (when the file has no such column).")
@click.option("--timezone", default="UTC", show_default=True, help="Zone of timestamps written without offset.")
@click.option("--time-format", default=None, help="strftime format of the timestamps (default: detected).")
@click.option("--dayfirst", is_flag=True, help="Read 01/02/2024 as 1 February.")
@click.option("--skip-bad-rows", is_flag=True, help="Import the good rows and count the bad ones, "
              "instead of refusing the whole file.")
@json_option
@pass_app
@handle_errors
def import_csv(app: AppContext, path: Path, file_format: str | None, layout: str, columns: tuple[str, ...],
               tags: tuple[str, ...], metrics: tuple[str, ...], equipment_id: str | None, metric_type: str | None,
               timezone: str, time_format: str | None, dayfirst: bool, skip_bad_rows: bool, as_json: bool) -> None:
    """Import metrics from a CSV, Parquet or line-protocol file (bad rows are reported
    by line number; of points repeating a series' time, the last one wins).

    \b
    Examples:
      vigileos import machine_temperature.csv --equipment-id EQ-7 --metric-type temperature
      vigileos import export.parquet
      vigileos import wide.csv --layout wide -c time=stamp --equipment-id EQ-1
    """
    from ..ingest.importing import mapping_from_options, read_metrics_file

    mapping = mapping_from_options(layout, _key_values(columns, "--column"), tags,
                                   metric_columns=tuple(metrics) or None, fixed_equipment_id=equipment_id,
                                   fixed_metric_type=metric_type, timezone=timezone, time_format=time_format,
                                   dayfirst=dayfirst)
    result = read_metrics_file(path, mapping, on_error="skip" if skip_bad_rows else "refuse", format=file_format)
    written = app.store.write_frame(result.frame).points if not result.frame.empty else 0
    summary = {"file": str(path), "format": result.format, "rows": result.total_rows, "points_written": written,
               "bad_rows": len(result.bad_rows), "bad_lines": result.bad_rows["line"].head(50).tolist(),
               "duplicates": result.duplicates, "duplicate_lines": list(result.duplicate_lines),
               "duplicate_rule": "last wins", "naive_times": result.naive_times,
               "assumed_timezone": result.timezone if result.naive_times else None,
               "epoch_units": dict(result.epoch_units)}
    if as_json:
        emit_json(summary)
        return
    parts = [say("cli.import.done", points=say("cli.points", count=written), path=path,
                 rows=say("cli.rows", count=result.total_rows))]
    if result.naive_times:
        parts.append(say("cli.import.zone", count=result.naive_times, timezone=result.timezone))
    if result.epoch_units:
        parts.append(say("cli.import.epoch", units=", ".join(say(f"cli.import.epoch_unit.{unit}", count=count)
                                                             for unit, count in result.epoch_units.items())))
    if result.duplicates:
        parts.append(say("cli.import.duplicates", count=result.duplicates,
                         lines=", ".join(map(str, result.duplicate_lines[:5]))
                         + (", …" if result.duplicates > 5 else "")))
    console.print(" ".join(parts), highlight=False, soft_wrap=True)
    if len(result.bad_rows):
        console.print(say("cli.import.skipped", count=len(result.bad_rows)))
        emit_table(result.bad_rows, limit=20)


@click.command("metrics")
@click.argument("equipment_id")
@period_options("now-1h")
@click.option("--metric", "metric_type", default=None, help="Only this metric type.")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True, help="Rows shown in the table.")
@json_option
@pass_app
@handle_errors
def metrics(app: AppContext, equipment_id: str, start: datetime, end: datetime, metric_type: str | None,
            limit: int, as_json: bool) -> None:
    """Raw metrics of EQUIPMENT_ID over a period (the seed's REST payload with --json)."""
    from .analysis import explain_empty

    service = app.analytics()
    selected = (metric_type,) if metric_type else ()
    if as_json:
        payload = service.metrics_payload(equipment_id, start, end, metric_type)
        emit_json(payload)
        if not payload["metrics"]:
            explain_empty(app, (equipment_id,), selected, start, end, to_stderr=True)
        return
    frame = service.get_equipment_metrics(equipment_id, start, end, metric_type)
    if frame.empty:
        explain_empty(app, (equipment_id,), selected, start, end)
        return
    points = say("cli.points", count=len(frame))
    emit_table(frame, title=say("cli.metrics.title", equipment_id=equipment_id, points=points), limit=limit)


