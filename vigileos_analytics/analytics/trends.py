"""Trends of metrics per equipment: least-squares slopes over the last 7 and 30 days,
threshold breaches, and the equipment getting worse.

Everything works on windowed aggregates computed by the store (hourly means and
maxima by default; daily availability from the analytics service), and every
figure is a vectorized group-by: no loop over equipment or points.

Conventions: times are UTC; slopes are in the metric's unit per day; a change is
the slope times the window length, also given in % of the window's mean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from ..schema import AVAILABILITY, PERFORMANCE_METRICS, TEMPERATURE
from ..stores.base import Selection
from .service import EquipmentAnalyticsService

__all__ = ["TrendAnalysis", "LOWER_IS_WORSE", "analyze_trends", "metric_windows", "slopes", "threshold_breaches",
           "worsening"]

#: Metrics where a falling value is bad; for every other metric a rising one is.
LOWER_IS_WORSE = frozenset({AVAILABILITY})
TREND_METRICS = (*PERFORMANCE_METRICS, TEMPERATURE)
DAY_NS = 86_400 * 1_000_000_000


@dataclass(frozen=True)
class TrendAnalysis:
    """``series``: equipment_id, metric_type, time (window start, UTC), mean, max, window_s;
    ``trends``: one row per equipment, metric and window length (days);
    ``breaches``: time spent beyond each threshold; ``worsening``: equipment getting worse."""

    series: pd.DataFrame
    trends: pd.DataFrame
    breaches: pd.DataFrame
    worsening: pd.DataFrame


def metric_windows(service: EquipmentAnalyticsService, equipment_ids: Sequence[str], start: datetime, end: datetime,
                   metrics: Sequence[str] = TREND_METRICS, every: timedelta = timedelta(hours=1),
                   exclude_maintenance: bool = True) -> pd.DataFrame:
    """Windowed means and maxima of ``metrics`` (from the store) plus daily availability
    (%, from the service) over [start, end): equipment_id, metric_type, time, mean, max, window_s."""
    selection = Selection(start, end, equipment_ids=list(equipment_ids), metric_types=tuple(metrics))
    agg = service.reader.aggregate(selection, every=every, functions=("mean", "max"))
    agg = agg.assign(window_s=every.total_seconds())
    daily = service.fleet_availability(start, end, list(equipment_ids), freq="1D",
                                       exclude_maintenance=exclude_maintenance)
    daily = daily.dropna(subset=["availability_pct"])
    avail = pd.DataFrame({
        "equipment_id": daily["equipment_id"], "metric_type": AVAILABILITY, "time": daily["window_start"],
        "mean": daily["availability_pct"], "max": daily["availability_pct"],
        "window_s": (daily["window_end"] - daily["window_start"]).dt.total_seconds(),
    })
    frame = pd.concat([agg[["equipment_id", "metric_type", "time", "mean", "max", "window_s"]], avail],
                      ignore_index=True)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame.sort_values(["equipment_id", "metric_type", "time"], kind="stable").reset_index(drop=True)


def slopes(series: pd.DataFrame, end: datetime, windows_days: Sequence[int] = (7, 30)) -> pd.DataFrame:
    """Least-squares slope of ``mean`` against time per equipment and metric, over each
    of the last ``windows_days`` days before ``end``.

    Columns: equipment_id, metric_type, window_days, points, mean, last, slope_per_day,
    change (slope × window length, in the metric's unit), change_pct (of the mean).
    Fewer than 3 points give NaN slopes.
    """
    end_ns = pd.Timestamp(end).value
    x_all = (series["time"].to_numpy("datetime64[ns]").view("int64") - end_ns) / DAY_NS
    parts = []
    for days in windows_days:  # a handful of window lengths, not equipment
        keep = x_all >= -days
        part = series.loc[keep, ["equipment_id", "metric_type", "mean"]].rename(columns={"mean": "y"})
        part = part.assign(x=x_all[keep], window_days=days)
        part = part.assign(xx=part["x"] ** 2, xy=part["x"] * part["y"])
        g = part.groupby(["equipment_id", "metric_type", "window_days"], sort=True)
        sums = g.agg(points=("y", "size"), sx=("x", "sum"), sy=("y", "sum"), sxx=("xx", "sum"), sxy=("xy", "sum"),
                     last=("y", "last"))
        parts.append(sums)
    if not parts or all(p.empty for p in parts):
        return pd.DataFrame(columns=["equipment_id", "metric_type", "window_days", "points", "mean", "last",
                                     "slope_per_day", "change", "change_pct"])
    s = pd.concat(parts)
    n = s["points"].astype("float64")
    denom = n * s["sxx"] - s["sx"] ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where((n >= 3) & (denom > 1e-12), (n * s["sxy"] - s["sx"] * s["sy"]) / denom, np.nan)
        mean = s["sy"] / n
        change = slope * s.index.get_level_values("window_days").to_numpy()
        change_pct = np.where(np.abs(mean) > 1e-12, 100.0 * change / np.abs(mean), np.nan)
    out = pd.DataFrame({"points": s["points"].astype("int64"), "mean": mean, "last": s["last"],
                        "slope_per_day": slope, "change": change, "change_pct": change_pct}, index=s.index)
    return out.reset_index()


def threshold_breaches(series: pd.DataFrame, thresholds: Mapping[str, float]) -> pd.DataFrame:
    """Time beyond each threshold per equipment and metric: a window breaches when its
    mean is above the threshold (below it for availability).

    Columns: equipment_id, metric_type, threshold, breach_windows, breach_s (seconds),
    worst (the worst window mean), first_breach, last_breach (UTC). Only breaching rows.
    """
    limits = series["metric_type"].map(dict(thresholds))
    lower = series["metric_type"].isin(LOWER_IS_WORSE)
    breached = limits.notna() & np.where(lower, series["mean"] < limits, series["mean"] > limits)
    hits = series[breached].assign(threshold=limits[breached],
                                   signed=np.where(lower[breached], -series["mean"][breached],
                                                   series["mean"][breached]))
    if hits.empty:
        return pd.DataFrame(columns=["equipment_id", "metric_type", "threshold", "breach_windows", "breach_s",
                                     "worst", "first_breach", "last_breach"])
    g = hits.groupby(["equipment_id", "metric_type"], sort=True)
    out = g.agg(threshold=("threshold", "first"), breach_windows=("mean", "size"), breach_s=("window_s", "sum"),
                worst_signed=("signed", "max"), first_breach=("time", "min"), last_breach=("time", "max")).reset_index()
    lower_out = out["metric_type"].isin(LOWER_IS_WORSE)
    out.insert(5, "worst", np.where(lower_out, -out["worst_signed"], out["worst_signed"]))
    return out.drop(columns="worst_signed").sort_values(["breach_s", "equipment_id"], ascending=[False, True],
                                                         kind="stable").reset_index(drop=True)


def worsening(trends: pd.DataFrame, min_change_pct: float = 5.0) -> pd.DataFrame:
    """Equipment whose metric moved the bad way by more than ``min_change_pct`` % of its
    mean over a window (7 or 30 days). One row per equipment and metric, keeping the
    window with the largest bad change; sorted worst first.

    Columns: equipment_id, metric_type, window_days, change, change_pct, slope_per_day, last.
    """
    sign = np.where(trends["metric_type"].isin(LOWER_IS_WORSE), -1.0, 1.0)
    bad = trends.assign(bad_pct=sign * trends["change_pct"])
    bad = bad[bad["bad_pct"] > min_change_pct]
    bad = bad.sort_values(["bad_pct", "equipment_id"], ascending=[False, True], kind="stable")
    bad = bad.drop_duplicates(["equipment_id", "metric_type"], keep="first")
    return bad[["equipment_id", "metric_type", "window_days", "change", "change_pct", "slope_per_day",
                "last"]].reset_index(drop=True)


def analyze_trends(service: EquipmentAnalyticsService, equipment_ids: Sequence[str], end: datetime,
                   thresholds: Mapping[str, float], windows_days: Sequence[int] = (7, 30),
                   every: timedelta = timedelta(hours=1), min_change_pct: float = 5.0,
                   exclude_maintenance: bool = True) -> TrendAnalysis:
    """Windowed series over the longest window before ``end`` (UTC), then slopes,
    threshold breaches and worsening equipment."""
    start = end - timedelta(days=max(windows_days))
    series = metric_windows(service, equipment_ids, start, end, every=every, exclude_maintenance=exclude_maintenance)
    trends = slopes(series, end, windows_days)
    return TrendAnalysis(series=series, trends=trends, breaches=threshold_breaches(series, thresholds),
                         worsening=worsening(trends, min_change_pct))

