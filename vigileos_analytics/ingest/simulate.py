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
#: Points per frame that :meth:`SimulatedFleet.frames` aims at by default.
CHUNK_POINTS = 1_000_000

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

    def points_per_equipment(self) -> int:
        """Upper bound of the points one equipment yields over the whole period."""
        return max(self.total_points_estimate // self.spec.equipment, 1)

    def frames(self, chunk_equipment: int | None = None) -> Iterator[pd.DataFrame]:
        """Points frames, ``chunk_equipment`` equipment at a time, in equipment order.

        By default a chunk holds about :data:`CHUNK_POINTS` points, whatever the fleet
        and period: fixed costs per frame (and per store write) stay small beside the
        work, and memory stays bounded. Metric values are drawn per chunk, so the chunk
        size picks which (equally distributed) values a seed gives; keys never change.
        """
        if chunk_equipment is None:
            chunk_equipment = max(CHUNK_POINTS // self.points_per_equipment(), 1)
        if not isinstance(chunk_equipment, int) or chunk_equipment < 1:
            raise ValidationError(f"chunk_equipment must be a positive whole number; got {chunk_equipment!r}.",
                                  field="chunk_equipment", value=chunk_equipment)
        ids = self.inventory["equipment_id"].to_numpy()
        events = self._events()
        for first in range(0, len(ids), chunk_equipment):
            yield self._chunk(first, min(first + chunk_equipment, len(ids)), events)

    def _events(self) -> dict[str, _Windows]:
        """The truth's windows with each one's equipment position, looked up once for all chunks."""
        position = pd.Index(self.inventory["equipment_id"])
        degraded = self.failures[self.failures["degraded"]]
        return {
            "maintenance": _Windows.of(self.maintenance, position, "start", "end"),
            "failures": _Windows.of(self.failures, position, "failure_time", "repair_time"),
            "gaps": _Windows.of(self.gaps, position, "start", "end"),
            "ramps": _Windows.of(degraded, position, "degradation_start", "failure_time"),
        }

    def _chunk(self, first: int, last: int, events: dict[str, _Windows]) -> pd.DataFrame:
        spec = self.spec
        step = int(spec.resolution.total_seconds() * NS_PER_S)
        times = np.arange(spec.start_ns, spec.end_ns, step, dtype="int64")
        n_eq, n_t = last - first, len(times)
        ids = self.inventory["equipment_id"].to_numpy()[first:last]
        state = np.full((n_eq, n_t), _UP, dtype="int8")
        present = np.ones((n_eq, n_t), dtype=bool)
        _paint(state, times, events["maintenance"].rows(first, last), _MAINT)
        _paint(state, times, events["failures"].rows(first, last), _DOWN)
        _paint(present, times, events["gaps"].rows(first, last), False)

        parts = [self._availability(ids, times, state, present), self._status_changes(ids, times, state)]
        ratio = int(spec.metrics_resolution / spec.resolution)
        m_idx = np.arange(0, n_t, ratio)
        m_times = times[m_idx]
        # The ramp only matters at metric times: painting those alone gives the same values.
        ramp = np.zeros((n_eq, len(m_idx)), dtype="float64")
        _paint_ramps(ramp, m_times, events["ramps"].rows(first, last))
        parts.extend(self._metrics(first, ids, m_times, state[:, m_idx], present[:, m_idx], ramp))
        return _frame(ids, parts)

    def _availability(self, ids, times, state, present) -> _Part:
        eq_idx, t_idx = np.nonzero(present)
        s = state[eq_idx, t_idx]
        return _Part(eq_idx, times[t_idx], AVAILABILITY, (s == _UP).astype("float64"), {"reason": s})

    def _status_changes(self, ids, times, state) -> _Part:
        change = np.zeros_like(state, dtype=bool)
        change[:, 1:] = state[:, 1:] != state[:, :-1]
        previous = np.zeros_like(state)
        previous[:, 1:] = state[:, :-1]
        if self.spec.initial_status:
            change[:, 0] = state[:, 0] != _DOWN
            previous[:, 0] = _DOWN
        eq_idx, t_idx = np.nonzero(change)
        return _Part(eq_idx, times[t_idx], STATUS_CHANGE, np.ones(len(eq_idx)),
                     {"previous_status": previous[eq_idx, t_idx], "new_status": state[eq_idx, t_idx]})

    def _metrics(self, first, ids, times, state, present, ramp) -> list[_Part]:
        rng = np.random.default_rng([self.spec.seed, 7, first])
        prof = self._profiles.iloc[first:first + len(ids)]
        shape = state.shape
        hours = (times // NS_PER_S % 86400) / 3600.0
        weekday = (times // (86400 * NS_PER_S) + 3) % 7  # 1970-01-01 was a Thursday
        daily = np.clip(np.sin((hours - 8.0) / 24.0 * 2 * np.pi), -0.4, 1.0)
        weekly = np.where(weekday >= 5, 0.6, 1.0)
        load = (daily * weekly)[None, :]
        col = lambda name: prof[name].to_numpy()[:, None]  # noqa: E731
        # Drawn in this fixed order (later metrics reuse cpu); draws after the last wanted
        # metric are skipped, which leaves every earlier draw, hence every value, unchanged.
        wanted = [m for m in METRICS if m in self.spec.metrics]
        needed = max(METRICS.index(m) for m in wanted) + 1 if wanted else 0
        values: dict[str, np.ndarray] = {}
        draws = [
            (CPU_USAGE, lambda: np.clip(col("cpu_base") * (0.6 + 0.8 * load * weekly) + rng.normal(0, 3, shape)
                                        + 10 * ramp, 0, 100)),
            (MEMORY_USAGE, lambda: np.clip(col("memory_base") + 4 * load + rng.normal(0, 1.5, shape) + 35 * ramp,
                                           0, 100)),
            (RESPONSE_TIME, lambda: col("response_base") * (1 + values[CPU_USAGE] / 100)
             * rng.lognormal(0, 0.12, shape) * (1 + 2.5 * ramp)),
            (TEMPERATURE, lambda: col("temp_base") + 0.15 * values[CPU_USAGE] + rng.normal(0, 0.6, shape) + 18 * ramp),
            (POWER_CONSUMPTION, lambda: col("power_base") * (0.7 + 0.006 * values[CPU_USAGE])
             + rng.normal(0, 5, shape)),
            (NETWORK_TRAFFIC, lambda: np.maximum(col("traffic_base") * (0.3 + 0.7 * np.clip(load, 0, None))
                                                 * rng.lognormal(0, 0.2, shape), 0)),
        ]
        for metric, draw in draws[:needed]:
            values[metric] = draw()
        keep = present & (state == _UP)
        eq_idx, t_idx = np.nonzero(keep)
        point_times = times[t_idx]
        return [_Part(eq_idx, point_times, metric, values[metric][eq_idx, t_idx]) for metric in wanted]


_TAG_DTYPES = {"reason": pd.CategoricalDtype(list(REASONS)), "previous_status": pd.CategoricalDtype(list(STATUSES)),
               "new_status": pd.CategoricalDtype(list(STATUSES))}
_METRIC_DTYPE = pd.CategoricalDtype(METRIC_TYPES)


@dataclass(frozen=True)
class _Part:
    """Points of one metric type in a chunk: equipment positions, times (int ns), values, tag codes."""

    eq_idx: np.ndarray
    times: np.ndarray
    metric: str
    values: np.ndarray
    tag_codes: dict[str, np.ndarray] = field(default_factory=dict)


def _frame(ids: np.ndarray, parts: list[_Part]) -> pd.DataFrame:
    """One points frame from a chunk's parts, in their order, with fixed categories so
    that chunks concatenate without copies. Built from whole arrays at once: joining
    categorical frames costs more than generating the points."""
    sizes = [len(p.eq_idx) for p in parts]
    times = np.concatenate([np.asarray(p.times, dtype="int64") for p in parts])
    metric_codes = np.repeat(np.array([METRIC_TYPES.index(p.metric) for p in parts], dtype="int8"), sizes)
    data = {
        # From datetime64 values: pandas converts plain int64 through a much slower path.
        "time": pd.to_datetime(times.view("datetime64[ns]"), utc=True),
        "equipment_id": pd.Categorical.from_codes(np.concatenate([p.eq_idx for p in parts]),
                                                  dtype=pd.CategoricalDtype(ids)),
        "metric_type": pd.Categorical.from_codes(metric_codes, dtype=_METRIC_DTYPE),
        "value": np.concatenate([np.asarray(p.values, dtype="float64") for p in parts]),
    }
    for name in TAG_COLUMNS:
        codes = np.concatenate([p.tag_codes.get(name, np.full(len(p.eq_idx), -1, dtype="int8")).astype("int8")
                                for p in parts])
        data[name] = pd.Categorical.from_codes(codes, dtype=_TAG_DTYPES[name])
    return pd.DataFrame(data)


@dataclass(frozen=True)
class _Windows:
    """[start, end) windows (int ns) of the truth, with each one's equipment position."""

    position: np.ndarray
    start: np.ndarray
    end: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame, equipment: pd.Index, start: str, end: str) -> _Windows:
        return cls(equipment.get_indexer(frame["equipment_id"]), frame[start].to_numpy("int64"),
                   frame[end].to_numpy("int64"))

    def rows(self, first: int, last: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Windows of equipment positions [first, last): (row in the chunk, start, end), in order."""
        inside = (self.position >= first) & (self.position < last)
        return self.position[inside] - first, self.start[inside], self.end[inside]


def _paint(grid: np.ndarray, times: np.ndarray, windows: tuple[np.ndarray, np.ndarray, np.ndarray], value) -> None:
    """Set ``grid[row, t] = value`` for t in each [start, end) window (events, not points)."""
    rows, starts, ends = windows
    lo, hi = np.searchsorted(times, starts), np.searchsorted(times, ends)
    for r, a, b in zip(rows.tolist(), lo.tolist(), hi.tolist(), strict=True):
        grid[r, a:b] = value


def _paint_ramps(ramp: np.ndarray, times: np.ndarray, windows: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    rows, starts, ends = windows
    lo, hi = np.searchsorted(times, starts), np.searchsorted(times, ends)
    for r, a, b, s, e in zip(rows.tolist(), lo.tolist(), hi.tolist(), starts.tolist(), ends.tolist(), strict=True):
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
