"""Reading metrics back as answers: the seed's ``EquipmentAnalyticsService``.

Every figure for a period also says how much data it saw (sample counts and
coverage). Availability follows the rules in :mod:`vigileos_analytics.analytics.availability`;
the store does the heavy lifting (filtering, aggregation, percentiles, availability
intervals), so nothing here depends on the backend.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ValidationError
from ..inventory import load_inventory, require_known_equipment, validate_inventory
from ..schema import ALERT as ALERT_METRIC_TYPE  # noqa: F401  (a public name of this module since 0.1)
from ..schema import (
    AVAILABILITY,
    MAINTENANCE,
    NOT_MEASUREMENTS,
    OFFLINE,
    OPERATIONAL,
    PERFORMANCE_METRICS,
    STATUS_CHANGE,
    to_utc,
    validate_range,
)
from ..stores.base import MetricsStore, Selection
from ..stores.tiered import TieredStore
from . import availability as av

UNKNOWN_STATUS = "unknown"
#: How long an availability sample holds without a newer one, unless the caller says otherwise.
DEFAULT_STALENESS = timedelta(minutes=10)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AvailabilityResult:
    """Time-weighted availability of one equipment over [start, end) (UTC).

    Durations in seconds; ``availability_pct`` and ``mtbf_s`` / ``mttr_s`` are
    ``None`` when nothing is known or there was no outage.
    """

    equipment_id: str
    start: datetime
    end: datetime
    availability_pct: float | None
    uptime_s: float
    downtime_s: float
    unknown_s: float
    maintenance_s: float
    outages: int
    mtbf_s: float | None
    mttr_s: float | None
    coverage_pct: float | None
    samples: int

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        return data

    @classmethod
    def from_row(cls, row: pd.Series) -> AvailabilityResult:
        """The result of one row of a ``fleet_availability`` table."""
        return cls(
            equipment_id=str(row["equipment_id"]), start=row["window_start"].to_pydatetime(),
            end=row["window_end"].to_pydatetime(), availability_pct=_none_if_nan(float(row["availability_pct"])),
            uptime_s=float(row["uptime_s"]), downtime_s=float(row["downtime_s"]), unknown_s=float(row["unknown_s"]),
            maintenance_s=float(row["maintenance_s"]), outages=int(row["outages"]),
            mtbf_s=_none_if_nan(float(row["mtbf_s"])), mttr_s=_none_if_nan(float(row["mttr_s"])),
            coverage_pct=_none_if_nan(float(row["coverage_pct"])), samples=int(row["samples"]),
        )

    def _repr_html_(self) -> str:
        from .html_display import result_html

        return result_html(self)


def _one_session(method: Callable) -> Callable:
    """Run a public method inside one store session: one connection for all its reads."""
    @functools.wraps(method)
    def wrapper(self: EquipmentAnalyticsService, *args: Any, **kwargs: Any) -> Any:
        with self.reader.session():
            return method(self, *args, **kwargs)
    return wrapper


def _none_if_nan(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def _nan_to_none(values: np.ndarray) -> list[float | None]:
    """Python floats, with None where a value is missing (NaN)."""
    return [None if v != v else v for v in values.tolist()]


class EquipmentAnalyticsService:
    """Analytics over a store. ``inventory`` is a frame or a CSV path (may be missing).

    ``store`` is the store given, unchanged. Every read goes through ``reader``, a
    :class:`~..stores.tiered.TieredStore` over it: aggregates, availability intervals
    and equipment ids over time older than the rollup horizon come from the rollups
    ``vigileos optimize`` wrote (see :mod:`..stores.rollups`), the rest from raw
    points. Code that reads beside the service uses ``service.reader`` to see the
    same figures.
    """

    def __init__(self, store: MetricsStore, *, inventory: pd.DataFrame | str | Path | None = None,
                 staleness: timedelta = DEFAULT_STALENESS, clock: Callable[[], datetime] = _utc_now) -> None:
        if not isinstance(staleness, timedelta) or staleness <= timedelta(0):
            raise ValidationError(f"staleness must be a positive timedelta; got {staleness!r}.",
                                  field="staleness", value=staleness)
        self.store = store
        self.reader = TieredStore(store)
        self.staleness = staleness
        self._clock = clock
        if isinstance(inventory, pd.DataFrame):
            self.inventory = validate_inventory(inventory)
        else:
            self.inventory = load_inventory(inventory)

    # -- equipment ---------------------------------------------------------------------

    @_one_session
    def equipment(self) -> pd.DataFrame:
        """The inventory, plus any equipment that has data but no inventory row."""
        known = set(self.inventory["equipment_id"])
        extra = [e for e in self.reader.equipment_ids() if e not in known]
        if not extra:
            return self.inventory.copy()
        rows = pd.DataFrame({"equipment_id": extra, "name": extra, "type": "", "location": ""})
        return pd.concat([self.inventory, rows], ignore_index=True)

    def _resolve_ids(self, equipment_ids: Sequence[str] | str | None) -> list[str]:
        everything = self.equipment()["equipment_id"].tolist()
        if equipment_ids is None:
            return everything
        ids = [equipment_ids] if isinstance(equipment_ids, str) else list(equipment_ids)
        require_known_equipment(ids, everything)
        return ids

    @staticmethod
    def _store_ids(equipment_ids: Sequence[str] | str | None, ids: list[str]) -> list[str] | None:
        """The equipment filter for store reads: none when the caller asked for every
        equipment (the store holds no other), which spares sending thousands of ids."""
        return None if equipment_ids is None else ids

    # -- raw metrics -------------------------------------------------------------------

    @_one_session
    def get_equipment_metrics(self, equipment_id: str, start_time: datetime, end_time: datetime,
                              metric_type: str | None = None) -> pd.DataFrame:
        """Raw points of one equipment over [start_time, end_time), ordered by time (UTC)."""
        self._resolve_ids([equipment_id])
        return self.reader.query(Selection(start_time, end_time, equipment_ids=(equipment_id,),
                                          metric_types=(metric_type,) if metric_type else None))

    def metrics_payload(self, equipment_id: str, start_time: datetime, end_time: datetime,
                        metric_type: str | None = None) -> dict[str, Any]:
        """The seed's REST payload: ``{equipment_id, metrics: [{time, metric_type, value, tags}], count}``."""
        frame = self.get_equipment_metrics(equipment_id, start_time, end_time, metric_type)
        metrics = [
            {"time": t.isoformat(), "metric_type": m, "value": float(v), "tags": dict(tags)}
            for t, m, v, tags in zip(frame["time"], frame["metric_type"], frame["value"], frame["tags"], strict=True)
        ]
        return {"equipment_id": equipment_id, "metrics": metrics, "count": len(metrics)}

    # -- status ------------------------------------------------------------------------

    @_one_session
    def status_history(self, equipment_ids: Sequence[str] | str | None, start_time: datetime,
                       end_time: datetime) -> pd.DataFrame:
        """Status changes in the period: time, equipment_id, previous_status, new_status."""
        ids = self._resolve_ids(equipment_ids)
        raw = self.reader.query(Selection(start_time, end_time, equipment_ids=self._store_ids(equipment_ids, ids),
                                          metric_types=(STATUS_CHANGE,)))
        return pd.DataFrame({
            "time": raw["time"],
            "equipment_id": raw["equipment_id"],
            "previous_status": [t.get("previous_status", UNKNOWN_STATUS) for t in raw["tags"]],
            "new_status": [t.get("new_status", UNKNOWN_STATUS) for t in raw["tags"]],
        })

    @_one_session
    def current_status(self, equipment_ids: Sequence[str] | None = None, at: datetime | None = None) -> pd.Series:
        """Status per equipment from its latest status change (before ``at`` if given)."""
        ids = self._resolve_ids(equipment_ids)
        latest = self.reader.latest(equipment_ids=self._store_ids(equipment_ids, ids), metric_types=(STATUS_CHANGE,),
                                    before=at)
        status = pd.Series(UNKNOWN_STATUS, index=pd.Index(ids, name="equipment_id"), dtype=object)
        if not latest.empty:
            latest = latest.assign(new_status=[t.get("new_status", UNKNOWN_STATUS) for t in latest["tags"]])
            newest = latest.sort_values("time").groupby("equipment_id").last()["new_status"]
            status.loc[newest.index] = newest
        return status

    @_one_session
    def status_intervals(self, equipment_ids: Sequence[str] | str | None, start_time: datetime,
                         end_time: datetime) -> pd.DataFrame:
        """Status timeline clipped to the period: equipment_id, status, start, end (int ns UTC).
        The status before the period is carried in; each status lasts until the next change."""
        ids = self._resolve_ids(equipment_ids)
        start, end = validate_range(start_time, end_time)
        before = self.current_status(ids, at=start)
        changes = self.status_history(ids, start, end)
        start_ns, end_ns = pd.Timestamp(start).value, pd.Timestamp(end).value
        frame = pd.concat([
            pd.DataFrame({"equipment_id": before.index, "status": before.to_numpy(), "start": start_ns}),
            pd.DataFrame({"equipment_id": changes["equipment_id"], "status": changes["new_status"],
                          "start": changes["time"].to_numpy("datetime64[ns]").view("int64")}),
        ], ignore_index=True).sort_values(["equipment_id", "start"], kind="stable")
        nxt = frame.groupby("equipment_id")["start"].shift(-1)
        frame["end"] = nxt.fillna(end_ns).astype("int64")
        frame = frame[frame["end"] > frame["start"]]
        return frame[frame["status"] != UNKNOWN_STATUS].reset_index(drop=True)

    # -- availability ------------------------------------------------------------------

    def _maintenance(self, ids: list[str], start: datetime, end: datetime, exclude_maintenance: bool,
                     maintenance_windows: Sequence[tuple[datetime, datetime]] | pd.DataFrame | None,
                     ) -> pd.DataFrame | None:
        parts = []
        if exclude_maintenance:
            status = self.status_intervals(ids, start, end)
            parts.append(status.loc[status["status"] == MAINTENANCE, ["equipment_id", "start", "end"]])
        if maintenance_windows is not None:
            parts.append(_explicit_windows(maintenance_windows, ids))
        return pd.concat(parts, ignore_index=True) if parts else None

    @_one_session
    def fleet_availability(self, start_time: datetime, end_time: datetime,
                           equipment_ids: Sequence[str] | None = None, *, freq: str | None = None,
                           staleness: timedelta | None = None, exclude_maintenance: bool = False,
                           maintenance_windows: Sequence[tuple[datetime, datetime]] | pd.DataFrame | None = None,
                           ) -> pd.DataFrame:
        """Availability figures per equipment (and per window of ``freq`` such as '1D',
        aligned to UTC midnight, when given) over [start_time, end_time).

        Columns: see :data:`availability.SUMMARY_COLUMNS`, plus ``samples``.
        """
        start, end = validate_range(start_time, end_time)
        ids = self._resolve_ids(equipment_ids)
        stale = staleness or self.staleness
        edges = _window_edges(start, end, freq)
        store_ids = self._store_ids(equipment_ids, ids)
        intervals = self.reader.availability_intervals(start, end, stale, equipment_ids=store_ids)
        maintenance = self._maintenance(ids, start, end, exclude_maintenance, maintenance_windows)
        table = av.summarize(intervals, ids, edges, maintenance)
        counts = self.reader.aggregate(Selection(start, end, equipment_ids=store_ids, metric_types=(AVAILABILITY,)),
                                      every=pd.Timedelta(freq).to_pytimedelta() if freq else None, functions=("count",))
        keys = ["equipment_id", "window_start"]
        counts = counts.rename(columns={"time": "window_start", "count": "samples"})
        if "window_start" not in counts:
            counts["window_start"] = pd.Timestamp(start)
        counts["window_start"] = counts["window_start"].astype(table["window_start"].dtype)
        table = table.merge(counts[keys + ["samples"]], on=keys, how="left")
        table["samples"] = table["samples"].fillna(0).astype("int64")
        return table

    @_one_session
    def calculate_availability(self, equipment_id: str, start_time: datetime, end_time: datetime, *,
                               staleness: timedelta | None = None, exclude_maintenance: bool = False,
                               maintenance_windows: Sequence[tuple[datetime, datetime]] | None = None,
                               ) -> AvailabilityResult:
        """Time-weighted availability of one equipment over [start_time, end_time)."""
        row = self.fleet_availability(start_time, end_time, [equipment_id], staleness=staleness,
                                      exclude_maintenance=exclude_maintenance,
                                      maintenance_windows=maintenance_windows).iloc[0]
        return AvailabilityResult.from_row(row)

    @_one_session
    def availability_report(self, start_time: datetime, end_time: datetime, equipment_id: str | None = None,
                            *, freq: str = "1D", **options: Any) -> pd.DataFrame:
        """Availability per equipment per day (or per ``freq``), optionally one equipment."""
        return self.fleet_availability(start_time, end_time, [equipment_id] if equipment_id else None,
                                       freq=freq, **options)

    # -- performance -------------------------------------------------------------------

    @_one_session
    def get_performance_stats(self, start_time: datetime, end_time: datetime,
                              equipment_ids: Sequence[str] | str | None = None,
                              metric_types: Sequence[str] = PERFORMANCE_METRICS) -> pd.DataFrame:
        """Mean, p95 and max per equipment and metric over [start_time, end_time), computed
        in the store; ``count`` says how many points each figure saw."""
        ids = self._resolve_ids(equipment_ids)
        return self.reader.aggregate(Selection(start_time, end_time, equipment_ids=self._store_ids(equipment_ids, ids),
                                               metric_types=metric_types),
                                    functions=("count", "mean", "p95", "max"))

    # -- fleet -------------------------------------------------------------------------

    @_one_session
    def fleet_summary(self, now: datetime | None = None, period: timedelta = timedelta(hours=24)) -> dict[str, Any]:
        """The seed's dashboard payload: ``summary`` counts and ``equipment`` rows with
        name, type, location, current status, availability over ``period``, last metric
        time and performance averages over ``period``."""
        now = to_utc(now, "now") if now is not None else self._clock()
        start = now - period
        equipment = self.equipment()
        ids = equipment["equipment_id"].tolist()
        if not ids:
            return {"summary": {"total_equipment": 0, OPERATIONAL: 0, MAINTENANCE: 0, OFFLINE: 0,
                                "average_availability": None}, "equipment": [], "generated_at": now.isoformat()}
        # Every equipment: the reads need no equipment filter (see _store_ids).
        status = self.current_status(None, at=now + timedelta(microseconds=1))
        avail = self.fleet_availability(start, now, None).set_index("equipment_id")
        perf = self.reader.aggregate(Selection(start, now, equipment_ids=None, metric_types=PERFORMANCE_METRICS),
                                    functions=("mean",))
        perf = (perf.pivot(index="equipment_id", columns="metric_type", values="mean") if not perf.empty
                else pd.DataFrame())
        latest = self.reader.latest(equipment_ids=None)
        latest = latest[~latest["metric_type"].isin(NOT_MEASUREMENTS)]  # alerts, annotations
        last_time = latest.groupby("equipment_id")["time"].max() if not latest.empty else pd.Series(dtype=object)
        # Whole columns first, then plain Python values: a lookup per equipment and figure
        # costs more than everything else at fleet scale.
        avail = avail.reindex(ids)
        perf = perf.reindex(index=ids, columns=list(PERFORMANCE_METRICS))
        last_time = last_time.reindex(ids)
        performance = {m: _nan_to_none(perf[m].to_numpy("float64")) for m in PERFORMANCE_METRICS}
        columns = {
            "equipment_id": ids, "name": equipment["name"].tolist(), "type": equipment["type"].tolist(),
            "location": equipment["location"].tolist(),
            "status": status.reindex(ids).fillna(UNKNOWN_STATUS).tolist(),
            "availability_24h": _nan_to_none(avail["availability_pct"].to_numpy("float64")),
            "coverage_24h": _nan_to_none(avail["coverage_pct"].to_numpy("float64")),
            "last_metric_time": [None if pd.isna(t) else t.isoformat() for t in last_time.tolist()],
        }
        rows = [
            {**dict(zip(columns, values, strict=True)),
             "performance": {m: performance[m][i] for m in PERFORMANCE_METRICS}}
            for i, values in enumerate(zip(*columns.values(), strict=True))
        ]
        known = [r["availability_24h"] for r in rows if r["availability_24h"] is not None]
        counts = pd.Series([r["status"] for r in rows]).value_counts()
        return {
            "summary": {
                "total_equipment": len(rows),
                OPERATIONAL: int(counts.get(OPERATIONAL, 0)),
                MAINTENANCE: int(counts.get(MAINTENANCE, 0)),
                OFFLINE: int(counts.get(OFFLINE, 0)),
                "average_availability": float(np.mean(known)) if known else None,
            },
            "equipment": rows,
            "generated_at": now.isoformat(),
        }


def _window_edges(start: datetime, end: datetime, freq: str | None) -> np.ndarray:
    start_ns, end_ns = pd.Timestamp(start).value, pd.Timestamp(end).value
    if not freq:
        return np.array([start_ns, end_ns], dtype="int64")
    try:
        step = pd.Timedelta(freq).value
    except ValueError as exc:
        raise ValidationError(f"freq must be a duration such as '1D' or '1h'; got {freq!r}.", field="freq",
                              value=freq) from exc
    if step <= 0:
        raise ValidationError(f"freq must be positive; got {freq!r}.", field="freq", value=freq)
    inner = np.arange((start_ns // step + 1) * step, end_ns, step, dtype="int64")
    return np.concatenate([[start_ns], inner, [end_ns]]).astype("int64")


def _explicit_windows(windows: Sequence[tuple[datetime, datetime]] | pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    """Maintenance windows given by the caller: pairs (for every equipment) or a frame
    with equipment_id, start, end."""
    if isinstance(windows, pd.DataFrame):
        frame = windows
        starts = [to_utc(s, "maintenance start") for s in frame["start"]]
        ends = [to_utc(e, "maintenance end") for e in frame["end"]]
        eq = frame["equipment_id"].tolist()
    else:
        pairs = []
        for number, (s, e) in enumerate(windows, start=1):
            try:
                pairs.append(validate_range(s, e))
            except ValidationError as exc:
                raise ValidationError(f"maintenance window {number}: {exc}", field="maintenance_windows",
                                      value=(s, e)) from exc
        eq = [e for e in ids for _ in pairs]
        starts = [p[0] for _ in ids for p in pairs]
        ends = [p[1] for _ in ids for p in pairs]
    return pd.DataFrame({"equipment_id": eq,
                         "start": (pd.to_datetime(starts, utc=True).as_unit("ns").asi8 if starts
                                   else np.array([], "int64")),
                         "end": pd.to_datetime(ends, utc=True).as_unit("ns").asi8 if ends else np.array([], "int64")})
