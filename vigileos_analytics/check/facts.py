"""What a store holds and how fresh it is: the facts behind ``vigileos check --verbose``.

The store computes its part in the engine (:meth:`MetricsStore.storage_facts`, a
:class:`~..stores.base.StorageFacts`: size, series, oldest and newest point and
points per equipment); this module adds the write lag of each equipment (how long
before ``now`` its newest point is) and what waits in the store's outage spool
(:attr:`MetricsStore.spool`; the InfluxDB stores have one).

A lag is the sign of a collector that stopped writing, or of a clock that is off: a
negative lag is a newest point later than ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from ..config import Settings, load_settings
from ..schema import to_utc
from ..stores import open_store
from ..stores.base import MetricsStore
from ..stores.rollups import find_rollups


@dataclass(frozen=True)
class SpoolBacklog:
    """Writes that wait in a store's outage spool, to be replayed when the server answers."""

    directory: str
    records: int
    points: int
    bytes: int


@dataclass(frozen=True)
class StoreFacts:
    """What :func:`gather_facts` found.

    ``equipment`` has one row per equipment: ``equipment_id``, ``first`` and ``last``
    (its oldest and newest point, datetime64[ns, UTC]), ``points`` and ``lag_s``
    (seconds from ``last`` to ``now``). ``series`` and ``size_bytes`` are None when
    the store does not say; ``size_note`` says what the size covers or why it is
    unknown. ``spool`` is None for a store without one. ``rollups`` names the rollup
    measurement of an optimized store, and ``rollup_horizon`` is where its raw points
    start (the per-equipment facts are about raw points).
    """

    now: datetime
    equipment: pd.DataFrame
    series: int | None
    size_bytes: int | None
    size_note: str
    spool: SpoolBacklog | None
    rollups: str | None = None
    rollup_horizon: datetime | None = None

    @property
    def points(self) -> int:
        """Points of every equipment together."""
        return int(self.equipment["points"].sum())

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``: times as ISO 8601 text (UTC), the lag in seconds."""
        rows = [{"equipment_id": row.equipment_id, "first": row.first.isoformat(), "last": row.last.isoformat(),
                 "points": int(row.points), "lag_s": float(row.lag_s)}
                for row in self.equipment.itertuples(index=False)]
        return {"now": self.now.isoformat(), "size_bytes": self.size_bytes, "size_note": self.size_note,
                "series": self.series, "points": self.points, "equipment": rows,
                "spool": None if self.spool is None else vars(self.spool), "rollups": self.rollups,
                "rollup_horizon": None if self.rollup_horizon is None else self.rollup_horizon.isoformat()}


def spool_backlog(store: MetricsStore) -> SpoolBacklog | None:
    """What waits in the store's outage spool, or None when it has no spool."""
    spool = store.spool
    if spool is None:
        return None
    state = spool.state()
    return SpoolBacklog(str(spool.directory), state.records, state.points, state.bytes)


def gather_facts(store: MetricsStore, *, now: datetime | None = None) -> StoreFacts:
    """The facts of ``store`` at ``now`` (aware; default the current time, UTC).

    Raises the store's errors (``StoreError``) when it cannot be read."""
    now = to_utc(now or datetime.now(UTC), "now")
    facts = store.storage_facts()
    spans = facts.equipment
    lag_s = (pd.Timestamp(now).value - spans["last"].to_numpy("datetime64[ns]").view("int64")) / 1e9
    # The spool is read last: the store's queries first replay what they can, so this
    # is what still waits.
    rollups = find_rollups(store)
    return StoreFacts(now=now, equipment=spans.assign(lag_s=lag_s), series=facts.series,
                      size_bytes=facts.size_bytes, size_note=facts.size_note, spool=spool_backlog(store),
                      rollups=None if rollups is None else rollups.measurement,
                      rollup_horizon=None if rollups is None else rollups.horizon)


def gather_facts_at(url: str | None = None, settings: Settings | None = None, *,
                    now: datetime | None = None) -> StoreFacts:
    """Open the store at ``url`` (default: the configured one), gather its facts, close it."""
    settings = settings or load_settings()
    store = open_store(url or settings.store_url, settings)
    try:
        return gather_facts(store, now=now)
    finally:
        store.close()
