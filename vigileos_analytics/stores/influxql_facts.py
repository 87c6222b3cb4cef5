"""What an InfluxQL store holds, for ``vigileos check --verbose``
(:meth:`~.base.MetricsStore.storage_facts`), from the server's own introspection."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import QueryError, StoreConnectionError
from .base import StorageFacts

if TYPE_CHECKING:
    from .influxql import InfluxQLStore


def storage_facts(store: InfluxQLStore) -> StorageFacts:
    """Equipment spans, series and size of ``store``'s database (see :meth:`~.base.MetricsStore.storage_facts`).
    ``first`` and ``last`` take a query
    each: given two selectors, InfluxDB 1.x answers time 0 instead of the points'
    times. Series: the keys ``SHOW SERIES`` lists (1.6's ``SHOW SERIES EXACT
    CARDINALITY`` still counts series whose points were all deleted, such as the
    check's probe). Size: the database's shards (TSM files and WAL, every
    measurement) from ``SHOW STATS``, which needs admin rights on InfluxDB 1.x and
    which InfluxDB 2.x and 3 do not offer."""
    def per_equipment(fn: str) -> dict[str, list]:  # equipment_id -> [time, value]
        series = store._select(f'SELECT {fn}(value) FROM {store._source} GROUP BY "equipment_id"', {})
        return {s["tags"]["equipment_id"]: s["values"][0] for s in series}

    counts, firsts, lasts = per_equipment("count"), per_equipment("first"), per_equipment("last")
    ids = sorted(counts)
    spans = pd.DataFrame({
        "equipment_id": pd.Series(ids, dtype=object),
        "first": pd.to_datetime(np.array([firsts[i][0] for i in ids], dtype="int64"), unit="ns", utc=True),
        "last": pd.to_datetime(np.array([lasts[i][0] for i in ids], dtype="int64"), unit="ns", utc=True),
        "points": np.array([counts[i][1] for i in ids], dtype="int64"),
    })
    try:
        keys = store._select(f"SHOW SERIES FROM {store._source}", {})
        series: int | None = sum(len(s.get("values") or []) for s in keys)
    except QueryError:
        series = None
    try:
        shards = store._select("SHOW STATS FOR 'shard'", {})
    except (QueryError, StoreConnectionError) as exc:
        return StorageFacts(spans, series, None,
                            f"unknown: the server did not answer SHOW STATS ({str(exc).splitlines()[0][:200]})")
    mine = [s for s in shards if (s.get("tags") or {}).get("database") == store.database and (
        not store.retention_policy or s["tags"].get("retentionPolicy") == store.retention_policy)]
    size = sum(int(dict(zip(s["columns"], s["values"][0], strict=True)).get("diskBytes", 0)) for s in mine)
    return StorageFacts(spans, series, size,
                        f"the shards of database {store.database} (TSM files and WAL, every measurement)")
