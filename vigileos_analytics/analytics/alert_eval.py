"""Alert rules evaluated at many window ends with one store aggregation per rule.

A rule reads its metric in ``every``-slots aligned to the UTC epoch (see
:mod:`.alert_rules`). For a set of window ends (multiples of ``every``), one
``aggregate`` call over ``[first end - history, last end)`` gives every slot of every
equipment as dense (slot x equipment) arrays; a window is ``rule.slots`` consecutive
slots, read with cumulative sums (counts, sums, least-squares sums) and pandas
rolling extremes along the slot axis. A single check is the same computation with
one end, so a replay and repeated checks agree.

Three exceptions: ``p95`` has no exact form over slots, so a ``p95`` rule also reads the
raw points of the period once and takes each window's percentile from them; an
``anomaly`` rule calls the scorer once per equipment and UTC-aligned history block; a
``burn_rate`` rule reads its SLA's inputs (availability intervals, maintenance,
annotations, degraded slots) for its scope once over the period, and
:func:`.sla_burn.burn_window_sums` gives both windows at every end. Its SLA and the
inventory come from an :class:`SlaSource`; an id of the SLA's scope that neither the
inventory nor the store knows is an ``error`` row of its own, the others are evaluated.

The result has one row per (end, equipment): ``end``, ``equipment_id``, ``state``
(:data:`STATES`), ``value``, ``coverage`` (share of the window's slots with data,
0 to 1), ``detail`` (a second number for the message) and ``error``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import ConfigurationError, ValidationError
from ..stores.base import MetricsStore, Selection
from .alert_rules import AlertRule

if TYPE_CHECKING:
    from .service import EquipmentAnalyticsService
    from .sla_definitions import SlaDefinition
    from .sla_status import SlaInputs

__all__ = ["FIRING", "OK", "LOW_COVERAGE", "NO_DATA", "ERROR", "STATES", "SlaSource", "evaluate_ends"]

FIRING, OK, LOW_COVERAGE, NO_DATA, ERROR = "firing", "ok", "low coverage", "no data", "error"
STATES = (FIRING, OK, LOW_COVERAGE, NO_DATA, ERROR)
DAY_NS = 86_400 * 10**9
COLUMNS = ["end", "equipment_id", "state", "value", "coverage", "detail", "error"]


@dataclass
class _Slots:
    """A rule's metric per slot: ``count`` and the other functions as (slot, equipment) arrays."""

    lo: int  # ns since the epoch of slot 0
    step: int  # ns per slot
    ids: list[str]
    count: np.ndarray
    values: dict[str, np.ndarray]

    def index(self, ends: np.ndarray) -> np.ndarray:
        """Slot index just after each end (ns), i.e. the exclusive end of its window."""
        return ((ends - self.lo) // self.step).astype("int64")


def _read_slots(store: MetricsStore, rule: AlertRule, lo: int, hi: int, ids: Sequence[str] | None,
                extra_ids: Sequence[str], functions: tuple[str, ...]) -> _Slots:
    selection = Selection(pd.Timestamp(lo, tz="UTC").to_pydatetime(), pd.Timestamp(hi, tz="UTC").to_pydatetime(),
                          equipment_ids=tuple(ids) if ids else None, metric_types=(rule.metric,))
    agg = store.aggregate(selection, every=rule.every, functions=("count", *functions))
    count = agg["count"].to_numpy("float64") if len(agg) else np.zeros(0)
    agg = agg[count > 0]
    eq_ids = sorted(set(agg["equipment_id"].astype(str)) | set(extra_ids))
    step = int(rule.every.total_seconds() * 10**9)
    n = (hi - lo) // step
    times = pd.DatetimeIndex(pd.to_datetime(agg["time"], utc=True)).as_unit("ns").asi8
    row = (times - lo) // step
    col = pd.Index(eq_ids).get_indexer(agg["equipment_id"].astype(str))
    keep = (row >= 0) & (row < n)
    row, col = row[keep], col[keep]
    counts = np.zeros((n, len(eq_ids)))
    counts[row, col] = agg["count"].to_numpy("float64")[keep]
    values = {}
    for name in functions:
        grid = np.full((n, len(eq_ids)), np.nan)
        grid[row, col] = agg[name].to_numpy("float64")[keep]
        values[name] = grid
    return _Slots(lo, step, eq_ids, counts, values)


def _window_sum(a: np.ndarray, stop: np.ndarray, width: int) -> np.ndarray:
    """Sums of ``width`` rows ending before each ``stop`` (one row per stop)."""
    cs = np.vstack([np.zeros((1, a.shape[1])), np.cumsum(a, axis=0)])
    return cs[stop] - cs[stop - width]


def _frame(ends: np.ndarray, ids: list[str], state: np.ndarray, value: np.ndarray, coverage: np.ndarray,
           detail: np.ndarray | None = None, error: np.ndarray | None = None) -> pd.DataFrame:
    k, m = len(ends), len(ids)
    return pd.DataFrame({
        "end": pd.to_datetime(np.repeat(ends, m), utc=True),
        "equipment_id": np.tile(np.asarray(ids, dtype=object), k),
        "state": state.ravel(), "value": value.ravel(), "coverage": coverage.ravel(),
        "detail": (detail if detail is not None else np.full((k, m), np.nan)).ravel(),
        "error": (error if error is not None else np.full((k, m), "", dtype=object)).ravel(),
    }, columns=COLUMNS)


def _states(rule: AlertRule, counts: np.ndarray, coverage: np.ndarray, firing: np.ndarray,
            enough: np.ndarray | None = None) -> np.ndarray:
    state = np.where(firing, FIRING, OK).astype(object)
    low = coverage < rule.min_coverage
    if enough is not None:
        low |= ~enough
    state[low] = LOW_COVERAGE
    state[counts == 0] = NO_DATA
    return state


def _coverage(slots: _Slots, stop: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    counts = _window_sum(slots.count, stop, width)
    return counts, _window_sum((slots.count > 0).astype("float64"), stop, width) / width


def _threshold(store: MetricsStore, rule: AlertRule, ends: np.ndarray, ids: Sequence[str] | None,
               extra_ids: Sequence[str]) -> pd.DataFrame:
    width, step = rule.slots, int(rule.every.total_seconds() * 10**9)
    lo = int(ends[0]) - width * step
    fn = rule.function
    slots = _read_slots(store, rule, lo, int(ends[-1]), ids, extra_ids, () if fn == "p95" else (fn,))
    stop = slots.index(ends)
    counts, coverage = _coverage(slots, stop, width)
    if fn == "mean":
        value = _window_sum(np.nan_to_num(slots.values["mean"] * slots.count), stop, width) / np.where(
            counts > 0, counts, np.nan)
    elif fn in ("min", "max"):
        rolled = pd.DataFrame(slots.values[fn]).rolling(width, min_periods=1)
        value = (rolled.max() if fn == "max" else rolled.min()).to_numpy()[stop - 1]
    elif fn == "last":
        value = pd.DataFrame(slots.values["last"]).ffill().to_numpy()[stop - 1]
    else:
        value = _p95(store, rule, ends, ids, slots)
    value = np.where(counts > 0, value, np.nan)
    assert rule.threshold is not None  # a threshold rule always has one
    firing = value > rule.threshold if rule.operator == "above" else value < rule.threshold
    return _frame(ends, slots.ids, _states(rule, counts, coverage, firing), value, coverage)


def _p95(store: MetricsStore, rule: AlertRule, ends: np.ndarray, ids: Sequence[str] | None,
         slots: _Slots) -> np.ndarray:
    """p95 (linear interpolation) of each whole window, from one raw query: a p95 has no
    exact form over slots, and the backends' own percentiles differ (InfluxQL takes the
    nearest rank)."""
    value = np.full((len(ends), len(slots.ids)), np.nan)
    window = int(rule.window.total_seconds() * 10**9)
    raw = store.query(Selection(pd.Timestamp(int(ends[0]) - window, tz="UTC").to_pydatetime(),
                                pd.Timestamp(int(ends[-1]), tz="UTC").to_pydatetime(),
                                equipment_ids=tuple(ids) if ids else None, metric_types=(rule.metric,)))
    if raw.empty:
        return value
    raw = raw.assign(ns=pd.DatetimeIndex(pd.to_datetime(raw["time"], utc=True)).as_unit("ns").asi8,
                     equipment_id=raw["equipment_id"].astype(str)).sort_values(["equipment_id", "ns"])
    for equipment, points in raw.groupby("equipment_id", sort=False):
        j = slots.ids.index(str(equipment))
        times, values = points["ns"].to_numpy(), points["value"].to_numpy("float64")
        lo, hi = np.searchsorted(times, ends - window), np.searchsorted(times, ends)
        for k in np.flatnonzero(hi > lo):  # one window at a time: a percentile needs its own points
            value[k, j] = np.percentile(values[lo[k]:hi[k]], 95)
    return value


def _trend(store: MetricsStore, rule: AlertRule, ends: np.ndarray, ids: Sequence[str] | None,
           extra_ids: Sequence[str]) -> pd.DataFrame:
    width, step = rule.slots, int(rule.every.total_seconds() * 10**9)
    lo = int(ends[0]) - width * step
    slots = _read_slots(store, rule, lo, int(ends[-1]), ids, extra_ids, ("mean",))
    stop = slots.index(ends)
    counts, coverage = _coverage(slots, stop, width)
    has = (slots.count > 0).astype("float64")
    x = (np.arange(len(slots.count), dtype="float64") * step / DAY_NS)[:, None] * has  # slot start, days from lo
    y = np.nan_to_num(slots.values["mean"]) * has
    n, sx, sy = _window_sum(has, stop, width), _window_sum(x, stop, width), _window_sum(y, stop, width)
    sxx, sxy = _window_sum(x * x, stop, width), _window_sum(x * y, stop, width)
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = sxx - sx * sx / n
        slope = (sxy - sx * sy / n) / np.where(denom > 1e-12, denom, np.nan)  # unit per day
        x_end = ((ends - lo) / DAY_NS)[:, None]
        at_end = sy / n + slope * (x_end - sx / n)  # the fitted line at the window's end
        sign = 1.0 if rule.direction == "rising" else -1.0
        firing = sign * slope > rule.rate_per_day
        days = np.full(slope.shape, np.nan)
        if rule.threshold is not None:
            days = np.where(sign * slope > 0, (rule.threshold - at_end) / slope, np.nan)
            days = np.where(days < 0, 0.0, days)
            if rule.horizon is not None:
                firing &= days <= rule.horizon.total_seconds() / 86_400
    enough = (n >= rule.min_points) & np.isfinite(slope)
    return _frame(ends, slots.ids, _states(rule, counts, coverage, firing, enough), slope, coverage, detail=days)


def _anomaly(store: MetricsStore, rule: AlertRule, ends: np.ndarray, ids: Sequence[str] | None,
             extra_ids: Sequence[str]) -> pd.DataFrame:
    from .anomaly import score_series

    width, step = rule.slots, int(rule.every.total_seconds() * 10**9)
    window_ns = width * step
    origins = (ends - window_ns) // window_ns * window_ns  # each end's history block starts here
    lo = int(origins[0])
    slots = _read_slots(store, rule, lo, int(ends[-1]), ids, extra_ids, ("mean",))
    stop = slots.index(ends)
    counts, coverage = _coverage(slots, stop, width)
    score = np.full(counts.shape, np.nan)
    mean = np.full(counts.shape, np.nan)
    error = np.full(counts.shape, "", dtype=object)
    slot_times = lo + np.arange(len(slots.count), dtype="int64") * step
    for origin in np.unique(origins):
        rows = np.flatnonzero(origins == origin)
        first, last = int((origin - lo) // step), int(stop[rows].max())
        for j in np.flatnonzero(counts[rows].sum(axis=0) > 0):
            has = slots.count[first:last, j] > 0
            scored = np.full(last - first, np.nan)
            try:  # one equipment's failure must not stop the others
                scored[has] = score_series(slot_times[first:last][has], slots.values["mean"][first:last, j][has])[
                    "score"].to_numpy("float64")
            except Exception as exc:
                error[rows, j] = f"{type(exc).__name__}: {exc}"
                continue
            newest = pd.Series(np.where(has, np.arange(last - first), np.nan)).ffill().to_numpy()
            at = newest[stop[rows] - first - 1]
            ok = np.isfinite(at)
            score[rows[ok], j] = scored[at[ok].astype("int64")]
            mean[rows[ok], j] = slots.values["mean"][first + at[ok].astype("int64"), j]
    state = _states(rule, counts, coverage, score >= rule.threshold)
    state[(error != "") & (counts > 0)] = ERROR
    return _frame(ends, slots.ids, state, score, coverage, detail=mean, error=error)


@dataclass
class SlaSource:
    """Where burn-rate rules find their SLA and equipment: ``slas`` (an SLA file, default
    ``VIGILEOS_SLAS`` else the example that comes with the package, or definitions
    already read) and ``service`` (the inventory and staleness), or ``make_service`` that
    builds it when a burn-rate rule first asks (default: from the settings, over the store
    being checked). A service given or made must read the store being checked: the SLA
    inputs and the alerts written must be the same store's. The file is read once per
    source; an SLA's inputs once per evaluation when rules share it (the longest window
    first)."""

    slas: str | Path | Sequence[SlaDefinition] | None = None
    service: EquipmentAnalyticsService | None = None
    make_service: Callable[[], EquipmentAnalyticsService] | None = None
    _read: list[SlaDefinition] | None = field(default=None, init=False, repr=False)
    _from_settings: bool = field(default=False, init=False, repr=False)
    _inputs: dict[tuple, tuple[int, SlaInputs]] = field(default_factory=dict, init=False, repr=False)

    def definition(self, name: str) -> SlaDefinition:
        from .sla_definitions import load_slas

        if self._read is None:
            given = self.slas
            self._read = load_slas(given) if given is None or isinstance(given, str | Path) else list(given)
        found = {d.name: d for d in self._read}
        if name not in found:
            where = self.slas if isinstance(self.slas, str | Path) else "the SLA file"
            raise ConfigurationError(f"no SLA named {name!r} in {where} (defined: {', '.join(found) or 'none'}); "
                                     "fix the rule's 'sla' field or the SLA file.")
        return found[name]

    def analytics(self, store: MetricsStore) -> EquipmentAnalyticsService:
        if self._from_settings and self.service is not None and self.service.store is not store:
            self.service = None  # built here from the settings: build it again over this store
        if self.service is None and self.make_service is not None:
            self.service = self.make_service()
        if self.service is None:
            from ..config import load_settings
            from .service import EquipmentAnalyticsService

            settings = load_settings()
            self.service = EquipmentAnalyticsService(store, inventory=settings.inventory_path,
                                                     staleness=settings.staleness)
            self._from_settings = True
        if self.service.store is not store and repr(self.service.store) != repr(store):  # a repr names the database
            raise ValidationError(f"the SlaSource's service reads {self.service.store!r}, not the store being "
                                  f"checked ({store!r}): burn-rate rules would read their SLA inputs from one store "
                                  "and write alerts to the other. Pass a service over the store being checked.",
                                  field="slas")
        return self.service

    def clear_inputs(self) -> None:
        """Forget the inputs read: the next evaluation reads the store again."""
        self._inputs.clear()

    def inputs(self, store: MetricsStore, definition: SlaDefinition, members: list[str], lo: int,
               hi: int) -> SlaInputs:
        """The SLA's inputs for ``members`` over [lo, hi) (ns), or over a longer span read before."""
        from .sla_status import read_sla_inputs

        key = (definition.name, tuple(members), hi)
        held = self._inputs.get(key)
        if held is None or held[0] > lo:
            inputs = read_sla_inputs(self.analytics(store), members, pd.Timestamp(lo, tz="UTC").to_pydatetime(),
                                     pd.Timestamp(hi, tz="UTC").to_pydatetime(), definition.rules.degraded)
            held = self._inputs[key] = (lo, inputs)
        return held[1]


def _burn_rate(store: MetricsStore, rule: AlertRule, ends: np.ndarray, ids: Sequence[str] | None,
               extra_ids: Sequence[str], source: SlaSource) -> pd.DataFrame:
    """value = burn rate over the long window (0 without eligible time: alert points hold
    finite values), detail = over the short one (NaN without eligible time); coverage =
    the known share of the long window's eligible time (1 without any: nothing is missing)."""
    from .sla_burn import burn_rate, burn_window_sums
    from .sla_definitions import scope_members

    definition = source.definition(rule.sla)
    service = source.analytics(store)
    inventory = service.equipment()
    scope = scope_members(definition, inventory)
    if ids:
        scope = [eq for eq in scope if eq in set(ids)]
    # An id nobody knows (a typo in the SLA's scope) fails alone: the rest of the scope is still evaluated.
    known = set(inventory["equipment_id"].astype(str))
    unknown = sorted({eq for eq in [*scope, *extra_ids] if eq not in known})
    members = sorted((set(scope) | set(extra_ids)) - set(unknown))
    assert rule.short_window is not None  # a burn_rate rule always has one
    rules = definition.rules
    lo = int(ends[0]) - int((rule.window + rules.minimum_outage).total_seconds() * 10**9)
    inputs = source.inputs(store, definition, members, lo, int(ends[-1]))
    sums = burn_window_sums(inputs.intervals, members, rules, ends, (rule.window, rule.short_window),
                            maintenance=inputs.maintenance, annotations=inputs.annotations, degraded=inputs.degraded)
    long, short = sums[rule.window], sums[rule.short_window]
    rate_long, rate_short = burn_rate(long, rules.target_pct), burn_rate(short, rules.target_pct)
    idle = long.eligible_s <= 0  # no service time in the window: nothing can burn
    with np.errstate(divide="ignore", invalid="ignore"):
        coverage = np.where(idle, 1.0, long.known_s / long.eligible_s)
    firing = (rate_long >= rule.factor) & (rate_short >= rule.factor)
    state = _states(rule, long.known_s, coverage, firing)
    state[idle] = OK
    frame = _frame(ends, members, state, np.where(idle, 0.0, rate_long), coverage, detail=rate_short)
    if not unknown:
        return frame
    errors = [f"unknown equipment {eq!r}" + (f" in the scope of SLA {definition.name!r}" if eq in scope else "")
              + ": neither in the inventory nor in the store." for eq in unknown]
    shape = (len(ends), len(unknown))
    failed = _frame(ends, unknown, np.full(shape, ERROR, dtype=object), np.full(shape, np.nan),
                    np.full(shape, np.nan), error=np.tile(np.asarray(errors, dtype=object), (len(ends), 1)))
    return pd.concat([frame, failed], ignore_index=True) if members else failed


_EVALUATORS = {"threshold": _threshold, "trend": _trend, "anomaly": _anomaly}


def evaluate_ends(store: MetricsStore, rule: AlertRule, ends: Sequence[pd.Timestamp] | np.ndarray,
                  equipment_ids: Sequence[str] | None = None, extra_ids: Sequence[str] = (), *,
                  slas: SlaSource | None = None) -> pd.DataFrame:
    """The rule at each window end (UTC, multiples of ``rule.every``, increasing), for every
    equipment with data in the rows read (a burn-rate rule: of its SLA's scope), plus
    ``extra_ids`` (in state ``no data`` if they have none); see the module docstring for
    the columns. ``slas`` serves burn-rate rules (default: :class:`SlaSource` ())."""
    ends_ns = np.unique(pd.DatetimeIndex(pd.to_datetime(ends, utc=True)).as_unit("ns").asi8)
    if rule.kind == "burn_rate":
        return _burn_rate(store, rule, ends_ns, equipment_ids, list(extra_ids), slas or SlaSource())
    return _EVALUATORS[rule.kind](store, rule, ends_ns, equipment_ids, list(extra_ids))
