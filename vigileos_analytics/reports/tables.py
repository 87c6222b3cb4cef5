"""The tables the report notebooks show, built from the analytics service.

Each builder returns a :class:`ReportTable`: raw values under raw column names,
plus the kind of each column (``pct`` in %, ``duration`` in seconds, ``datetime``
in UTC, ...). :mod:`.display` turns it into translated, formatted HTML and
:mod:`.excel` into a sheet with readable headers; the numbers are the service's,
untouched. All times are UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from ..plots.labels import UNITS
from ..schema import AVAILABILITY, OFFLINE, PERFORMANCE_METRICS, STATUS_CHANGE
from ..stores.base import Selection
from .context import ReportContext


@dataclass(frozen=True)
class ReportTable:
    """``key`` names the table (``tables.<key>`` in the catalogue, one Excel sheet);
    ``kinds`` maps a column to text, int, number, pct, duration, datetime, date,
    status or metric."""

    key: str
    frame: pd.DataFrame
    kinds: dict[str, str]


def _availability(ctx: ReportContext) -> pd.DataFrame:
    return ctx.cached("availability", lambda: ctx.service.fleet_availability(
        ctx.start, ctx.end, ctx.ids, exclude_maintenance=ctx.params.exclude_maintenance))


def daily_availability(ctx: ReportContext) -> pd.DataFrame:
    """Availability per equipment per UTC day: equipment_id, name, window_start, availability_pct, ..."""
    daily = ctx.cached("daily", lambda: ctx.service.fleet_availability(
        ctx.start, ctx.end, ctx.ids, freq="1D", exclude_maintenance=ctx.params.exclude_maintenance))
    return daily.assign(name=daily["equipment_id"].map(ctx.names()))


def fleet_kpis(ctx: ReportContext) -> dict[str, float | int | None]:
    """Fleet figures over the period: availability % (time-weighted over all
    equipment), downtime (s), outages, MTBF / MTTR (s), coverage %."""
    table = _availability(ctx)
    up, down = table["uptime_s"].sum(), table["downtime_s"].sum()
    outages = int(table["outages"].sum())
    considered = (table["uptime_s"] + table["downtime_s"] + table["unknown_s"]).sum()
    below = (table["availability_pct"] < ctx.params.thresholds["availability"]).sum()
    return {
        "equipment": len(table),
        "availability_pct": 100.0 * up / (up + down) if up + down > 0 else None,
        "downtime_s": float(down),
        "outages": outages,
        "mtbf_s": float(up / outages) if outages else None,
        "mttr_s": float(down / outages) if outages else None,
        "coverage_pct": 100.0 * (up + down) / considered if considered > 0 else None,
        "below_target": int(below),
    }


def equipment_kpis(ctx: ReportContext) -> dict[str, float | int | None]:
    """:func:`fleet_kpis` without the fleet counts, for a one-equipment report."""
    kpis = fleet_kpis(ctx)
    return {k: v for k, v in kpis.items() if k not in ("equipment", "below_target")}


def availability_table(ctx: ReportContext) -> ReportTable:
    """Per equipment: availability, downtime, outages, MTBF, MTTR, coverage, maintenance;
    ranked best first (rank 1 = highest availability)."""
    table = _availability(ctx)
    info = ctx.equipment.set_index("equipment_id")
    frame = pd.DataFrame({
        "equipment_id": table["equipment_id"],
        "name": table["equipment_id"].map(info["name"]),
        "location": table["equipment_id"].map(info["location"]),
        "availability_pct": table["availability_pct"],
        "downtime_s": table["downtime_s"],
        "outages": table["outages"],
        "mtbf_s": table["mtbf_s"],
        "mttr_s": table["mttr_s"],
        "maintenance_s": table["maintenance_s"],
        "coverage_pct": table["coverage_pct"],
    })
    frame = frame.sort_values(["availability_pct", "equipment_id"], ascending=[False, True], na_position="last",
                              kind="stable")
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    kinds = {"rank": "int", "equipment_id": "text", "name": "text", "location": "text", "availability_pct": "pct",
             "downtime_s": "duration", "outages": "int", "mtbf_s": "duration", "mttr_s": "duration",
             "maintenance_s": "duration", "coverage_pct": "pct"}
    return ReportTable("availability", frame.reset_index(drop=True), kinds)


def daily_table(ctx: ReportContext) -> ReportTable:
    """Availability per equipment per UTC day (long format, for the workbook)."""
    daily = daily_availability(ctx)
    frame = daily[["equipment_id", "name", "window_start", "availability_pct", "downtime_s", "outages",
                   "coverage_pct"]].rename(columns={"window_start": "day"})
    kinds = {"equipment_id": "text", "name": "text", "day": "date", "availability_pct": "pct",
             "downtime_s": "duration", "outages": "int", "coverage_pct": "pct"}
    return ReportTable("daily_availability", frame.reset_index(drop=True), kinds)


def status_periods(ctx: ReportContext) -> pd.DataFrame:
    """Status intervals in the period with aware UTC ``start`` / ``end`` and ``duration_s``."""
    def compute() -> pd.DataFrame:
        iv = ctx.service.status_intervals(ctx.ids, ctx.start, ctx.end)
        return pd.DataFrame({
            "equipment_id": iv["equipment_id"], "name": iv["equipment_id"].map(ctx.names()), "status": iv["status"],
            "start": pd.to_datetime(iv["start"], utc=True), "end": pd.to_datetime(iv["end"], utc=True),
            "duration_s": (iv["end"] - iv["start"]) / 1e9,
        })
    return ctx.cached("status_periods", compute)


def worst_incidents(ctx: ReportContext, n: int = 10) -> ReportTable:
    """The ``n`` longest offline periods (clipped to the report period), longest first."""
    periods = status_periods(ctx)
    offline = periods[periods["status"] == OFFLINE].sort_values(["duration_s", "start"], ascending=[False, True],
                                                                kind="stable").head(n)
    frame = offline[["equipment_id", "name", "start", "end", "duration_s"]].reset_index(drop=True)
    kinds = {"equipment_id": "text", "name": "text", "start": "datetime", "end": "datetime", "duration_s": "duration"}
    return ReportTable("incidents", frame, kinds)


def status_changes(ctx: ReportContext) -> ReportTable:
    """Status changes in the period, oldest first, with how long each new status lasted (s)."""
    periods = status_periods(ctx)
    history = ctx.service.status_history(ctx.ids, ctx.start, ctx.end)
    history = history.merge(periods[["equipment_id", "start", "duration_s"]].rename(columns={"start": "time"}),
                            on=["equipment_id", "time"], how="left")
    frame = history[["time", "equipment_id", "previous_status", "new_status", "duration_s"]].reset_index(drop=True)
    kinds = {"time": "datetime", "equipment_id": "text", "previous_status": "status", "new_status": "status",
             "duration_s": "duration"}
    return ReportTable("status_changes", frame, kinds)


def performance_series(ctx: ReportContext, every: timedelta = timedelta(hours=1),
                       metrics: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Mean and max per equipment, metric and window of ``every`` (UTC-aligned), from the store."""
    metrics = metrics or PERFORMANCE_METRICS
    return ctx.service.reader.aggregate(Selection(ctx.start, ctx.end, equipment_ids=ctx.ids, metric_types=metrics),
                                       every=every, functions=("mean", "max"))


def performance_table(ctx: ReportContext) -> ReportTable:
    """Mean, p95, max per equipment and metric (every metric but availability and
    status changes), with the threshold of the metric when one is set."""
    stats = ctx.cached("perf_stats", lambda: ctx.service.reader.aggregate(
        Selection(ctx.start, ctx.end, equipment_ids=ctx.ids), functions=("count", "mean", "p95", "max")))
    stats = stats[~stats["metric_type"].isin([AVAILABILITY, STATUS_CHANGE])]
    frame = pd.DataFrame({
        "equipment_id": stats["equipment_id"], "name": stats["equipment_id"].map(ctx.names()),
        "metric_type": stats["metric_type"], "unit": stats["metric_type"].map(UNITS).fillna(""),
        "mean": stats["mean"], "p95": stats["p95"], "max": stats["max"],
        "threshold": stats["metric_type"].map(ctx.params.thresholds).astype("float64"), "count": stats["count"],
    })
    kinds = {"equipment_id": "text", "name": "text", "metric_type": "metric", "unit": "text", "mean": "number",
             "p95": "number", "max": "number", "threshold": "number", "count": "int"}
    return ReportTable("performance", frame.reset_index(drop=True), kinds)


def other_metrics(ctx: ReportContext) -> tuple[str, ...]:
    """Metric types with data in the period beside availability, status and CPU / memory / response time."""
    metrics = performance_table(ctx).frame["metric_type"]
    return tuple(dict.fromkeys(m for m in metrics if m not in PERFORMANCE_METRICS))


def comparison_table(ctx: ReportContext) -> ReportTable:
    """Side by side per equipment: availability figures and mean / p95 of CPU, memory
    and response time over the same period."""
    avail = availability_table(ctx).frame.sort_values("equipment_id").set_index("equipment_id")
    perf = performance_table(ctx).frame
    perf = perf[perf["metric_type"].isin(PERFORMANCE_METRICS)]
    wide = perf.pivot_table(index="equipment_id", columns="metric_type", values=["mean", "p95"], aggfunc="first")
    wide.columns = [f"{metric}_{stat}" for stat, metric in wide.columns]
    frame = avail[["name", "location", "availability_pct", "downtime_s", "outages", "mtbf_s", "mttr_s"]].join(wide)
    kinds = {"equipment_id": "text", "name": "text", "location": "text", "availability_pct": "pct",
             "downtime_s": "duration", "outages": "int", "mtbf_s": "duration", "mttr_s": "duration"}
    order = [f"{m}_{s}" for m in PERFORMANCE_METRICS for s in ("mean", "p95")]
    for column in order:
        if column not in frame:
            frame[column] = np.nan
        kinds[column] = "number"
    frame = frame[["name", "location", "availability_pct", "downtime_s", "outages", "mtbf_s", "mttr_s", *order]]
    return ReportTable("comparison", frame.reset_index(), kinds)


#: The comparison table is shown in these two parts, each narrow enough for a portrait page.
COMPARISON_PARTS = (
    ("equipment_id", "name", "location", "availability_pct", "downtime_s", "outages", "mtbf_s", "mttr_s"),
    ("equipment_id", "name", *(f"{m}_{s}" for m in PERFORMANCE_METRICS for s in ("mean", "p95"))),
)


def trend_analysis(ctx: ReportContext):
    """Trends over the 7 and 30 days before the period's end (see :mod:`vigileos_analytics.analytics.trends`)."""
    from ..analytics.trends import analyze_trends

    return ctx.cached("trends", lambda: analyze_trends(ctx.service, ctx.ids, ctx.end, ctx.params.thresholds,
                                                       exclude_maintenance=ctx.params.exclude_maintenance))


def trend_table(ctx: ReportContext) -> ReportTable:
    """Per equipment and metric: last window mean, and the change over 7 and 30 days
    (in the metric's unit and in % of the mean)."""
    trends = trend_analysis(ctx).trends
    wide = trends.pivot_table(index=["equipment_id", "metric_type"], columns="window_days",
                              values=["change", "change_pct"], aggfunc="first")
    wide.columns = [f"{stat}_{days}d" for stat, days in wide.columns]
    last = trends.sort_values("window_days").groupby(["equipment_id", "metric_type"])["last"].first()
    frame = wide.join(last).reset_index()
    frame.insert(2, "unit", frame["metric_type"].map(UNITS).fillna(""))
    columns = ["equipment_id", "metric_type", "unit", "last"] + [
        c for c in ("change_7d", "change_pct_7d", "change_30d", "change_pct_30d") if c in frame]
    kinds = {"equipment_id": "text", "name": "text", "metric_type": "metric", "unit": "text", "last": "number",
             "change_7d": "signed", "change_pct_7d": "signed_pct", "change_30d": "signed",
             "change_pct_30d": "signed_pct"}
    return ReportTable("trends", frame[columns], {c: kinds[c] for c in columns})


def breach_table(ctx: ReportContext) -> ReportTable:
    """Time beyond thresholds per equipment and metric, longest first."""
    breaches = trend_analysis(ctx).breaches
    frame = breaches.assign(name=breaches["equipment_id"].map(ctx.names()),
                            unit=breaches["metric_type"].map(UNITS).fillna(""))
    columns = ["equipment_id", "name", "metric_type", "unit", "threshold", "breach_s", "worst", "first_breach",
               "last_breach"]
    kinds = {"equipment_id": "text", "name": "text", "metric_type": "metric", "unit": "text", "threshold": "number",
             "breach_s": "duration", "worst": "number", "first_breach": "datetime", "last_breach": "datetime"}
    return ReportTable("breaches", frame[columns].reset_index(drop=True), kinds)


def worsening_table(ctx: ReportContext) -> ReportTable:
    """Equipment getting worse (see :func:`vigileos_analytics.analytics.trends.worsening`), worst first."""
    worse = trend_analysis(ctx).worsening
    frame = worse.assign(name=worse["equipment_id"].map(ctx.names()), unit=worse["metric_type"].map(UNITS).fillna(""))
    columns = ["equipment_id", "name", "metric_type", "unit", "window_days", "change", "change_pct", "last"]
    kinds = {"equipment_id": "text", "name": "text", "metric_type": "metric", "unit": "text", "window_days": "int",
             "change": "signed", "change_pct": "signed_pct", "last": "number"}
    return ReportTable("worsening", frame[columns].reset_index(drop=True), kinds)
