"""A realistic simulated fleet, vectorized with numpy and reproducible by seed.

Each equipment has a type with its own baselines; metrics follow daily and weekly
seasonality with noise. Failures arrive with exponential times between them
(mean ``mtbf_hours``) and last an exponential repair time (mean ``mttr_hours``);
planned maintenance recurs every ``maintenance_every_days`` at night; collector
dropouts leave short gaps with no data. A share of failures is preceded by
degradation (memory creeping up, temperature and response time rising) so that
predictive models have real signal. What happened is kept in ``truth``
(failures, maintenance windows, gaps) beside the generated points.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from ..errors import ValidationError
from ..schema import (
    AVAILABILITY,
    CPU_USAGE,
    MAINTENANCE,
    MEMORY_USAGE,
    NETWORK_TRAFFIC,
    OFFLINE,
    OPERATIONAL,
    POWER_CONSUMPTION,
    RESPONSE_TIME,
    STATUS_CHANGE,
    TEMPERATURE,
    to_utc,
)

NS_PER_S = 1_000_000_000
STATUSES = np.array([OPERATIONAL, MAINTENANCE, OFFLINE], dtype=object)
_UP, _MAINT, _DOWN = 0, 1, 2
REASONS = np.array(["ok", "maintenance", "failure"], dtype=object)
METRICS = [CPU_USAGE, MEMORY_USAGE, RESPONSE_TIME, TEMPERATURE, POWER_CONSUMPTION, NETWORK_TRAFFIC]
METRIC_TYPES = [AVAILABILITY, STATUS_CHANGE, *METRICS]
TAG_COLUMNS = ["reason", "previous_status", "new_status"]

# type, name prefix, cpu base, response base (ms), power base (W), traffic base (bytes/s)
EQUIPMENT_TYPES = [
    ("server", "Server", 35.0, 120.0, 320.0, 2.0e7),
    ("network_switch", "Switch", 15.0, 8.0, 90.0, 8.0e7),
    ("storage", "Storage", 25.0, 45.0, 450.0, 4.0e7),
    ("machine", "Machine", 45.0, 250.0, 1500.0, 1.0e6),
]
LOCATIONS = ["Paris-DC1", "Lyon-DC2", "Lille-Plant", "Nantes-Plant"]


@dataclass(frozen=True)
class FleetSpec:
    """What to simulate. Times are UTC; ``start`` defaults to ``days`` before ``end``."""

    equipment: int = 25
    days: float = 30.0
    resolution: timedelta = timedelta(minutes=1)
    metrics_resolution: timedelta = timedelta(minutes=5)
    end: datetime | None = None
    seed: int = 42
    mtbf_hours: float = 240.0
    mttr_hours: float = 2.0
    degradation_share: float = 0.6
    degradation_hours: float = 48.0
    maintenance_every_days: float = 14.0
    maintenance_hours: float = 4.0
    gaps_per_month: float = 1.0
    #: Which of the performance and environment metrics to generate (all by default).
    metrics: tuple[str, ...] = tuple(METRICS)
    #: Record each equipment's entry into service (offline -> its first status) at the start.
    initial_status: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.equipment, int) or not 1 <= self.equipment <= 100_000:
            raise ValidationError(f"equipment must be a whole number from 1 to 100000; got {self.equipment!r}.",
                                  field="equipment", value=self.equipment)
        if not 0 < float(self.days) <= 3660:
            raise ValidationError(f"days must be above 0 and at most 3660; got {self.days!r}.",
                                  field="days", value=self.days)
        for name in ("resolution", "metrics_resolution"):
            value = getattr(self, name)
            if not isinstance(value, timedelta) or value < timedelta(seconds=1):
                raise ValidationError(f"{name} must be a duration of at least 1 s; got {value!r}.",
                                      field=name, value=value)
        if self.metrics_resolution < self.resolution or self.metrics_resolution % self.resolution:
            raise ValidationError(
                f"metrics_resolution must be a whole multiple of resolution; "
                f"got {self.metrics_resolution} and {self.resolution}.",
                field="metrics_resolution", value=self.metrics_resolution)
        for name in ("mtbf_hours", "mttr_hours", "degradation_hours", "maintenance_every_days", "maintenance_hours"):
            if not float(getattr(self, name)) > 0:
                raise ValidationError(f"{name} must be positive; got {getattr(self, name)!r}.", field=name)
        if not 0 <= self.degradation_share <= 1:
            raise ValidationError(f"degradation_share must be between 0 and 1; got {self.degradation_share!r}.",
                                  field="degradation_share", value=self.degradation_share)
        unknown = [m for m in self.metrics if m not in METRICS]
        if unknown:
            raise ValidationError(f"metrics must be among {METRICS}; got {unknown}.", field="metrics", value=unknown)
        if self.end is not None:
            object.__setattr__(self, "end", to_utc(self.end, "end"))

    @property
    def end_ns(self) -> int:
        step = int(self.resolution.total_seconds() * NS_PER_S)
        end = pd.Timestamp(self.end) if self.end is not None else pd.Timestamp.now(tz="UTC")
        return int(end.value) // step * step

    @property
    def start_ns(self) -> int:
        step = int(self.resolution.total_seconds() * NS_PER_S)
        return (self.end_ns - int(self.days * 86400 * NS_PER_S)) // step * step


@dataclass
class SimulatedFleet:
    spec: FleetSpec
    inventory: pd.DataFrame
    failures: pd.DataFrame
    maintenance: pd.DataFrame
    gaps: pd.DataFrame
    _profiles: pd.DataFrame = field(repr=False)

    @property
    def total_points_estimate(self) -> int:
        steps = (self.spec.end_ns - self.spec.start_ns) // int(self.spec.resolution.total_seconds() * NS_PER_S)
        ratio = int(self.spec.metrics_resolution / self.spec.resolution)
        return int(self.spec.equipment * steps * (1 + len(self.spec.metrics) / ratio))

    def frames(self, chunk_equipment: int = 25) -> Iterator[pd.DataFrame]:
        """Points frames, ``chunk_equipment`` equipment at a time, in equipment order."""
        ids = self.inventory["equipment_id"].to_numpy()
        for first in range(0, len(ids), chunk_equipment):
            yield self._chunk(first, min(first + chunk_equipment, len(ids)))

    def _chunk(self, first: int, last: int) -> pd.DataFrame:
        spec = self.spec
        step = int(spec.resolution.total_seconds() * NS_PER_S)
        times = np.arange(spec.start_ns, spec.end_ns, step, dtype="int64")
        n_eq, n_t = last - first, len(times)
        ids = self.inventory["equipment_id"].to_numpy()[first:last]
        state = np.full((n_eq, n_t), _UP, dtype="int8")
        present = np.ones((n_eq, n_t), dtype=bool)
        ramp = np.zeros((n_eq, n_t), dtype="float64")
        _paint(state, times, self.maintenance, ids, _MAINT)
        _paint(state, times, self.failures.rename(columns={"failure_time": "start", "repair_time": "end"}), ids, _DOWN)
        _paint(present, times, self.gaps, ids, False)
        _paint_ramps(ramp, times, self.failures[self.failures["degraded"]], ids)

        parts = [self._availability(ids, times, state, present), self._status_changes(ids, times, state)]
        ratio = int(spec.metrics_resolution / spec.resolution)
        m_idx = np.arange(0, n_t, ratio)
        parts.append(self._metrics(first, ids, times[m_idx], state[:, m_idx], present[:, m_idx], ramp[:, m_idx]))
        return pd.concat(parts, ignore_index=True)

    def _availability(self, ids, times, state, present) -> pd.DataFrame:
        eq_idx, t_idx = np.nonzero(present)
        s = state[eq_idx, t_idx]
        return _frame(ids, eq_idx, times[t_idx], AVAILABILITY, (s == _UP).astype("float64"),
                      reason=s)

    def _status_changes(self, ids, times, state) -> pd.DataFrame:
        change = np.zeros_like(state, dtype=bool)
        change[:, 1:] = state[:, 1:] != state[:, :-1]
        previous = np.zeros_like(state)
        previous[:, 1:] = state[:, :-1]
        if self.spec.initial_status:
            change[:, 0] = state[:, 0] != _DOWN
            previous[:, 0] = _DOWN
        eq_idx, t_idx = np.nonzero(change)
        return _frame(ids, eq_idx, times[t_idx], STATUS_CHANGE, np.ones(len(eq_idx)),
                      previous_status=previous[eq_idx, t_idx], new_status=state[eq_idx, t_idx])

    def _metrics(self, first, ids, times, state, present, ramp) -> pd.DataFrame:
        rng = np.random.default_rng([self.spec.seed, 7, first])
        prof = self._profiles.iloc[first:first + len(ids)]
        shape = state.shape
        hours = (times // NS_PER_S % 86400) / 3600.0
        weekday = (times // (86400 * NS_PER_S) + 3) % 7  # 1970-01-01 was a Thursday
        daily = np.clip(np.sin((hours - 8.0) / 24.0 * 2 * np.pi), -0.4, 1.0)
        weekly = np.where(weekday >= 5, 0.6, 1.0)
        load = (daily * weekly)[None, :]
        col = lambda name: prof[name].to_numpy()[:, None]  # noqa: E731
        cpu = np.clip(col("cpu_base") * (0.6 + 0.8 * load * weekly) + rng.normal(0, 3, shape) + 10 * ramp, 0, 100)
        memory = np.clip(col("memory_base") + 4 * load + rng.normal(0, 1.5, shape) + 35 * ramp, 0, 100)
        response = col("response_base") * (1 + cpu / 100) * rng.lognormal(0, 0.12, shape) * (1 + 2.5 * ramp)
        temperature = col("temp_base") + 0.15 * cpu + rng.normal(0, 0.6, shape) + 18 * ramp
        power = col("power_base") * (0.7 + 0.006 * cpu) + rng.normal(0, 5, shape)
        traffic = np.maximum(col("traffic_base") * (0.3 + 0.7 * np.clip(load, 0, None))
                             * rng.lognormal(0, 0.2, shape), 0)
        keep = present & (state == _UP)
        eq_idx, t_idx = np.nonzero(keep)
        frames = [
            _frame(ids, eq_idx, times[t_idx], metric, values[eq_idx, t_idx])
            for metric, values in zip(METRICS, (cpu, memory, response, temperature, power, traffic), strict=True)
            if metric in self.spec.metrics
        ]
        return pd.concat(frames, ignore_index=True)


_TAG_CATEGORIES = {"reason": list(REASONS), "previous_status": list(STATUSES), "new_status": list(STATUSES)}


def _frame(ids, eq_idx, times, metric, values, **tag_codes) -> pd.DataFrame:
    """A points frame with fixed categories, so chunks concatenate without copies."""
    n = len(eq_idx)
    data = {
        "time": pd.to_datetime(times, utc=True),
        "equipment_id": pd.Categorical.from_codes(eq_idx, categories=ids),
        "metric_type": pd.Categorical.from_codes(np.full(n, METRIC_TYPES.index(metric), dtype="int8"),
                                                 categories=METRIC_TYPES),
        "value": values,
    }
    for name in TAG_COLUMNS:
        codes = tag_codes.get(name, np.full(n, -1, dtype="int8"))
        data[name] = pd.Categorical.from_codes(codes, categories=_TAG_CATEGORIES[name])
    return pd.DataFrame(data)


def _index_ranges(times: np.ndarray, windows: pd.DataFrame, ids: np.ndarray):
    sel = windows[windows["equipment_id"].isin(ids)]
    pos = {eq: i for i, eq in enumerate(ids)}
    lo = np.searchsorted(times, sel["start"].to_numpy("int64"))
    hi = np.searchsorted(times, sel["end"].to_numpy("int64"))
    return [pos[e] for e in sel["equipment_id"]], lo, hi, sel


def _paint(grid: np.ndarray, times: np.ndarray, windows: pd.DataFrame, ids: np.ndarray, value) -> None:
    """Set ``grid[eq, t] = value`` for t in each [start, end) window (events, not points)."""
    rows, lo, hi, _ = _index_ranges(times, windows, ids)
    for r, a, b in zip(rows, lo, hi, strict=True):
        grid[r, a:b] = value


def _paint_ramps(ramp: np.ndarray, times: np.ndarray, failures: pd.DataFrame, ids: np.ndarray) -> None:
    windows = failures.rename(columns={"degradation_start": "start", "failure_time": "end"})
    rows, lo, hi, sel = _index_ranges(times, windows, ids)
    for r, a, b, s, e in zip(rows, lo, hi, sel["start"].to_numpy("int64"), sel["end"].to_numpy("int64"), strict=True):
        if b > a:
            ramp[r, a:b] = np.maximum(ramp[r, a:b], ((times[a:b] - s) / max(e - s, 1)) ** 2)


def simulate_fleet(spec: FleetSpec | None = None) -> SimulatedFleet:
    """Draw the fleet's inventory and its events (failures, maintenance, gaps).

    Points are generated lazily by :meth:`SimulatedFleet.frames`.
    """
    spec = spec or FleetSpec()
    rng = np.random.default_rng(spec.seed)
    n = spec.equipment
    kinds = rng.integers(0, len(EQUIPMENT_TYPES), n)
    ids = [f"EQ-{i + 1:04d}" for i in range(n)]
    inventory = pd.DataFrame({
        "equipment_id": ids,
        "name": [f"{EQUIPMENT_TYPES[k][1]} {i + 1:02d}" for i, k in enumerate(kinds)],
        "type": [EQUIPMENT_TYPES[k][0] for k in kinds],
        "location": [LOCATIONS[i % len(LOCATIONS)] for i in range(n)],
    })
    jitter = rng.uniform(0.8, 1.2, (n, 5))
    profiles = pd.DataFrame({
        "cpu_base": [EQUIPMENT_TYPES[k][2] for k in kinds] * jitter[:, 0],
        "memory_base": rng.uniform(35, 60, n),
        "response_base": [EQUIPMENT_TYPES[k][3] for k in kinds] * jitter[:, 1],
        "temp_base": rng.uniform(30, 42, n),
        "power_base": [EQUIPMENT_TYPES[k][4] for k in kinds] * jitter[:, 2],
        "traffic_base": [EQUIPMENT_TYPES[k][5] for k in kinds] * jitter[:, 3],
    })
    failures: list[tuple] = []
    maintenance: list[tuple] = []
    gaps: list[tuple] = []
    start, end = spec.start_ns, spec.end_ns
    hour = 3600 * NS_PER_S
    for eq in ids:
        maint = _maintenance_windows(rng, spec, start, end)
        maintenance.extend((eq, a, b) for a, b in maint)
        t = start + int(rng.exponential(spec.mtbf_hours) * hour)
        while t < end:
            if any(a <= t < b for a, b in maint):  # no failure during maintenance: it starts after
                t = next(b for a, b in maint if a <= t < b) + int(rng.exponential(spec.mtbf_hours) * hour)
                continue
            repair = t + max(int(rng.exponential(spec.mttr_hours) * hour), 60 * NS_PER_S)
            degraded = bool(rng.random() < spec.degradation_share)
            deg_start = t - int(spec.degradation_hours * hour * rng.uniform(0.5, 1.0))
            failures.append((eq, t, repair, degraded, deg_start))
            t = repair + int(rng.exponential(spec.mtbf_hours) * hour)
        n_gaps = rng.poisson(spec.gaps_per_month * spec.days / 30.0)
        for g in rng.uniform(start, end, n_gaps).astype("int64"):
            gaps.append((eq, int(g), int(g + rng.uniform(0.25, 3) * hour)))
    return SimulatedFleet(
        spec=spec,
        inventory=inventory,
        failures=pd.DataFrame(failures, columns=["equipment_id", "failure_time", "repair_time", "degraded",
                                                 "degradation_start"]).astype({"degraded": bool}),
        maintenance=pd.DataFrame(maintenance, columns=["equipment_id", "start", "end"]),
        gaps=pd.DataFrame(gaps, columns=["equipment_id", "start", "end"]),
        _profiles=profiles,
    )


def _maintenance_windows(rng: np.random.Generator, spec: FleetSpec, start: int, end: int) -> list[tuple[int, int]]:
    day = 86400 * NS_PER_S
    every = int(spec.maintenance_every_days * day)
    first_day = start // day * day + int(rng.integers(0, max(int(spec.maintenance_every_days), 1))) * day
    length = int(spec.maintenance_hours * 3600 * NS_PER_S)
    begin_hour = int(rng.integers(1, 4)) * 3600 * NS_PER_S  # at night, 01:00 to 03:00 UTC
    return [(t, t + length) for t in range(first_day + begin_hour, end, every) if t >= start]


def truth_frames(fleet: SimulatedFleet) -> dict[str, pd.DataFrame]:
    """The fleet's events with readable UTC timestamps, for CSV files beside the data."""
    def readable(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        out = frame.copy()
        for c in columns:
            out[c] = pd.to_datetime(out[c], utc=True)
        return out
    return {
        "failures": readable(fleet.failures, ["failure_time", "repair_time", "degradation_start"]),
        "maintenance": readable(fleet.maintenance, ["start", "end"]),
        "gaps": readable(fleet.gaps, ["start", "end"]),
    }
