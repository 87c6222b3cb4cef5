"""Rollups: raw points older than a horizon condensed into per-window aggregates,
and reads that combine them with the raw points kept after the horizon.

``vigileos optimize`` (:mod:`.lifecycle.optimize`) writes them. They live in a
*rollup store* beside the raw one: the measurement ``equipment_metrics_1h`` on
InfluxDB, the file ``<store>.equipment_metrics_1h.duckdb`` beside an embedded
store; ``1h`` is the window (``--every``). A rollup is itself a set of points, so
every backend stores and aggregates it with the code it already has:

- per equipment, metric and window (start time, aligned to the UTC epoch), one
  point per statistic, metric type ``<metric>__<stat>``: ``count``, ``sum``,
  ``min``, ``max``, ``last`` and ``p95`` of the raw values;
- for availability, also ``availability__available_s`` and
  ``availability__unavailable_s``: the time-weighted seconds known up / down in
  the window, and ``availability__state`` *state events*: a point at each instant
  the state changes, valued 1 (available), 0 (unavailable) or -1 (unknown from
  here), plus one at every UTC midnight inside a known stretch, so a read can start
  at any day without looking further back. The events reproduce the raw state
  intervals exactly, so availability, downtime, outages, MTBF and MTTR over
  rolled-up time are the figures the raw points gave;
- one marker point, equipment ``__rollup__``, metric ``horizon``, at the
  *horizon*: raw points of rolled-up metrics before it have been rolled up (and
  removed). Its value is the staleness (seconds) the state events were built with.

Status changes, alerts and SLA annotations are events, not measurements: they are never rolled up.

Reads through them: :mod:`.tiered`; building them: :mod:`vigileos_analytics.lifecycle.rollup_points`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from ..errors import ValidationError
from ..schema import NOT_MEASUREMENTS, STATUS_CHANGE, rollup_every_s
from .base import MetricsStore
from .intervals import INTERVAL_COLUMNS, empty_intervals

SEP = "__"
STATS = ("count", "sum", "min", "max", "last", "p95")
AVAILABLE_S, UNAVAILABLE_S, STATE = "available_s", "unavailable_s", "state"
AVAILABILITY_STATS = (AVAILABLE_S, UNAVAILABLE_S, STATE)
HORIZON_EQUIPMENT, HORIZON_METRIC = "__rollup__", "horizon"
#: Event metric types: kept raw, never rolled up.
EVENT_METRICS = (STATUS_CHANGE, *NOT_MEASUREMENTS)
#: Longest metric name that can be rolled up (metric types are at most 64 characters).
MAX_ROLLED_METRIC_LENGTH = 64 - len(SEP + UNAVAILABLE_S)
UNKNOWN_STATE = -1
DAY_NS = 86_400 * 10**9


def stat_metric(metric_type: str, stat: str) -> str:
    return f"{metric_type}{SEP}{stat}"


def check_rollup_name(name: str) -> str:
    """``name`` when it names a rollup (``equipment_metrics_<window>``), else ``ValidationError``."""
    if not isinstance(name, str) or rollup_every_s(name) is None:
        raise ValidationError(f"{name!r} is not a rollup measurement name.", field="measurement", value=name)
    return name


@dataclass(frozen=True)
class RollupInfo:
    """A store's rollups: their store and window; ``horizon`` is None until the first
    optimize has finished (rollups written but raw points still in force)."""

    measurement: str
    every: timedelta
    store: MetricsStore
    horizon: datetime | None
    staleness: timedelta | None

    @property
    def every_ns(self) -> int:
        return int(self.every.total_seconds()) * 10**9

    @property
    def horizon_ns(self) -> int | None:
        return None if self.horizon is None else int(pd.Timestamp(self.horizon).value)


def find_rollups(store: MetricsStore) -> RollupInfo | None:
    """The store's rollups, or None when it has none. Several rollup measurements
    (one per ``--every`` ever used) are not supported: the newest horizon wins."""
    from .tiered import TieredStore  # tiered reads through this module

    if isinstance(store, TieredStore):
        store = store.raw
    names = store.rollup_names()
    found = [info for info in (_read_info(store, name) for name in names) if info is not None]
    if not found:
        return None
    return max(found, key=lambda i: (i.horizon is not None, i.horizon_ns or 0))


def _read_info(store: MetricsStore, measurement: str) -> RollupInfo | None:
    rollup = store.open_rollup(measurement)
    if rollup is None:
        return None
    marker = rollup.latest(equipment_ids=[HORIZON_EQUIPMENT], metric_types=[HORIZON_METRIC])
    every_s = rollup_every_s(measurement)
    if every_s is None:  # not a rollup measurement's name
        return None
    every = timedelta(seconds=every_s)
    if marker.empty:
        return RollupInfo(measurement, every, rollup, None, None)
    row = marker.iloc[-1]
    return RollupInfo(measurement, every, rollup, pd.Timestamp(row["time"]).to_pydatetime(),
                      timedelta(seconds=float(row["value"])))


def horizon_point(horizon: datetime, staleness: timedelta) -> pd.DataFrame:
    return pd.DataFrame({"time": [pd.Timestamp(horizon)], "equipment_id": [HORIZON_EQUIPMENT],
                         "metric_type": [HORIZON_METRIC], "value": [staleness.total_seconds()]})


# -- reading through rollups -----------------------------------------------------------------


def intervals_from_events(events: pd.DataFrame, start_ns: int, end_ns: int) -> pd.DataFrame:
    """Availability intervals from state events (a query frame), clipped to [start, end):
    each event's state holds until the equipment's next event; the last one until end."""
    if events.empty:
        return empty_intervals()
    ev = events.sort_values(["equipment_id", "time"], kind="stable")
    eq = ev["equipment_id"].to_numpy(dtype=object)
    t = ev["time"].to_numpy("datetime64[ns]").view("int64")
    state = np.rint(ev["value"].to_numpy("float64")).astype("int64")
    same_next = np.append(eq[1:] == eq[:-1], False)
    nxt = np.where(same_next, np.append(t[1:], 0), end_ns)
    lo, hi = np.maximum(t, start_ns), np.minimum(nxt, end_ns)
    keep = (state != UNKNOWN_STATE) & (hi > lo)
    return pd.DataFrame({"equipment_id": eq[keep], "state": state[keep].astype("int8"),
                         "start": lo[keep].astype("int64"), "end": hi[keep].astype("int64")})[INTERVAL_COLUMNS]


