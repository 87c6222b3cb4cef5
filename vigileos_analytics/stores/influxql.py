"""The InfluxQL store: line protocol on ``/write``, InfluxQL on ``/query``.

Speaks to InfluxDB 1.x, to InfluxDB 3 (no Flux there) and to InfluxDB 2.x through
its v1-compatible API (a bucket with a DBRP mapping; 2.x refuses ``DELETE``
through that API). URL::

    influxdb1+http://host:8086/DATABASE?option=value&...
    influxdb3+https://host:8181/DATABASE

How a store URL opens one: :mod:`.influxql_url`.

Writes: the frame is encoded once (:mod:`.lineprotocol`) and posted in batches
with ``precision=ns``. When the server is unreachable or answers 5xx / 429, the
batches not yet written go to the spool (:mod:`.spool`) and are replayed, in
order, before the next write or read. Every user-given value in a query is a
bound parameter (``params=``); only numbers this module formats and identifiers
it validated are part of the query text.
"""

from __future__ import annotations

import gzip
import logging
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ..errors import (
    ConfigurationError,
    StoreAuthError,
    StoreConnectionError,
    StoreError,
    StoreNotFoundError,
    ValidationError,
    WriteError,
)
from ..schema import (
    MEASUREMENT,
    check_availability_values,
    normalize_points_frame,
    rollup_every_s,
    to_ns,
)
from . import influxql_facts
from .base import (
    AGGREGATE_FUNCTIONS,
    ClosesOnExit,
    Health,
    NoSessionNeeded,
    Retention,
    Selection,
    StorageFacts,
    WriteResult,
    WritesPointsAsFrames,
)
from .influx_common import (
    Filters,
    count_series,
    empty_points,
    literal_filters,
    points_from_series,
)
from .influxql_http import InfluxHttp, RetryableError
from .intervals import intervals_from_store
from .lineprotocol import encode_lines
from .retention import influxql_retention, set_influxql_retention
from .rollups import check_rollup_name
from .spool import Spool

logger = logging.getLogger(__name__)

_IDENTIFIER_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")

#: InfluxQL for each aggregate function of the protocol.
_FUNCTIONS = {
    "count": "count(value)",
    "mean": "mean(value)",
    "min": "min(value)",
    "max": "max(value)",
    "p95": "percentile(value, 95)",
    "last": "last(value)",
}


def quote_identifier(name: str, what: str) -> str:
    """A database or retention policy name, checked and double-quoted for InfluxQL."""
    if not isinstance(name, str) or not _IDENTIFIER_RE.match(name):
        raise ConfigurationError(
            f"The InfluxDB {what} name must be 1 to 128 letters, digits, '_', '.' or '-'; got {name!r}."
        )
    return f'"{name}"'


def where_clause(start_ns: int, end_ns: int, filters: Filters) -> tuple[str, dict[str, Any]]:
    """``WHERE`` text with ``$name`` placeholders, and the values to bind to them."""
    clauses = ["time >= $start", "time < $end"]
    params: dict[str, Any] = {"start": int(start_ns), "end": int(end_ns)}
    for column, values, prefix in (("equipment_id", filters.equipment_ids, "e"),
                                   ("metric_type", filters.metric_types, "m")):
        if values is not None:
            names = [f"{prefix}{i}" for i in range(len(values))]
            params.update(zip(names, values, strict=True))
            clauses.append("(" + " OR ".join(f'"{column}" = ${n}' for n in names) + ")")
    for i, (key, value) in enumerate(filters.tags):
        params[f"t{i}"] = value
        clauses.append(f'"{key}" = $t{i}')  # key checked by literal_filters: letters, digits, '_'
    return " AND ".join(clauses), params


class InfluxQLStore(WritesPointsAsFrames, NoSessionNeeded, ClosesOnExit):
    """Metrics in an InfluxDB database reached over HTTP (``/write``, ``/query``, ``/ping``).

    Aggregation is pushed down to InfluxDB. ``p95`` is InfluxDB's ``PERCENTILE(value,
    95)``, the *nearest-rank* percentile: the value at rank ceil(0.95 * n) of the
    sorted window (a value that was actually measured), where the embedded store's
    DuckDB ``quantile_cont`` interpolates linearly between the two ranks around
    0.95 * (n - 1). Both lie between the same two neighbouring samples; on few
    points they can differ by up to the gap between them (for 1..100: 95.0 here,
    95.05 embedded).
    """

    backend = "influxql"
    enforces_retention = True

    def __init__(self, http: InfluxHttp, database: str, *, retention_policy: str = "", batch_size: int = 10_000,
                 spool: Spool | None = None, create_database: bool = False,
                 retention: timedelta | None = None, measurement: str = MEASUREMENT) -> None:
        self.http = http
        if measurement != MEASUREMENT and rollup_every_s(measurement) is None:
            raise ConfigurationError(f"{measurement!r} is neither {MEASUREMENT} nor a rollup measurement name.")
        self.measurement = measurement
        self.database = database
        self.retention_policy = retention_policy
        quote_identifier(database, "database")
        self._source = (f'{quote_identifier(database, "database")}.'
                        f'{quote_identifier(retention_policy, "retention policy")}.'
                        if retention_policy else "") + measurement
        if batch_size <= 0:
            raise ConfigurationError(f"batch_size must be a positive number of points; got {batch_size}.")
        self.batch_size = batch_size
        self.spool: Spool | None = spool
        if create_database:
            self.create_database(retention)

    def __repr__(self) -> str:
        return f"InfluxQLStore({self.http.base_url!r}, database={self.database!r})"

    # -- administration -----------------------------------------------------------------

    def create_database(self, retention: timedelta | None = None) -> None:
        """Create the database (no-op when it exists), with the retention policy if one is set."""
        statement = f"CREATE DATABASE {quote_identifier(self.database, 'database')}"
        if self.retention_policy and retention is not None:
            hours = max(1, int(retention.total_seconds() // 3600))
            statement += f" WITH DURATION {hours}h NAME {quote_identifier(self.retention_policy, 'retention policy')}"
        self.http.query(statement, database=None, write=True)

    # -- writing ------------------------------------------------------------------------

    def write_frame(self, frame: pd.DataFrame, *, spool: bool = True) -> WriteResult:
        """Write a points frame; see the module docstring for batching and the spool.
        With ``spool=False`` the batches are posted at once, whatever waits in the
        spool, and an outage raises ``WriteError``."""
        frame = normalize_points_frame(frame)
        if frame.empty:
            return WriteResult(0, 0)
        check_availability_values(frame)
        lines = encode_lines(frame, self.measurement)
        written = 0
        spooling = spool and not self.replay_spool(raise_errors=False)
        for start, stop in lines.batches(self.batch_size):
            body = lines.body(start, stop)
            if not spooling:
                try:
                    self._post(body)
                    written += stop - start
                    continue
                except RetryableError as exc:
                    if self.spool is None or not spool:
                        why = "no spool is configured" if self.spool is None else "this write bypasses the spool"
                        raise WriteError(
                            f"{written} of {len(frame)} points were written; the server failed on the rest and {why}: "
                            f"{exc}", unwritten=frame.iloc[start:], written=written, **exc.kind()) from exc
                    logger.warning("InfluxDB at %s failed (%s): spooling writes to %s.", self.http.base_url, exc,
                                   self.spool.directory)
                    spooling = True
                except (WriteError, StoreAuthError, StoreNotFoundError) as exc:  # a refusal, not an outage
                    raise WriteError(f"{written} of {len(frame)} points were written; the rest were refused: {exc}",
                                     unwritten=frame.iloc[start:], written=written, **exc.kind()) from exc
            assert self.spool is not None  # spooling starts only with a spool
            try:
                self.spool.append(body, stop - start)
            except WriteError as exc:
                raise WriteError(f"{written} of {len(frame)} points were written and {start - written} spooled; "
                                 f"the rest are in .unwritten. {exc}", unwritten=frame.iloc[start:],
                                 written=written) from exc
        return WriteResult(points=len(frame), series=count_series(frame))

    def _post(self, body: bytes) -> None:
        self.http.write(gzip.compress(body, compresslevel=1) if self.http.gzip else body, database=self.database,
                        retention_policy=self.retention_policy)

    def replay_spool(self, raise_errors: bool = True) -> bool:
        """Post what the spool holds, oldest first. True when the spool is now empty.

        A server still down leaves the spool as it is (an error only when
        ``raise_errors``); a server that refuses a spooled batch outright raises
        ``WriteError``, as that batch would otherwise block the spool for ever.
        """
        if self.spool is None or not self.spool:
            return True
        try:
            self.spool.replay(self._post)
        except RetryableError as exc:
            if raise_errors:
                raise StoreConnectionError(f"The spool {self.spool.directory} could not be replayed: {exc}",
                                           **exc.kind()) from exc
            return False
        except (WriteError, StoreAuthError, StoreNotFoundError) as exc:
            raise WriteError(
                f"The server refuses a batch held in the write spool {self.spool.directory}, so the spool cannot be "
                f"replayed: {exc} Inspect or move that folder aside.", **exc.kind()
            ) from exc
        return True

    # -- reading ------------------------------------------------------------------------

    def _select(self, statement: str, params: dict[str, Any]) -> list[dict]:
        self.replay_spool(raise_errors=False)
        return self.http.query(statement, database=self.database, params=params,
                               retention_policy=self.retention_policy)

    def query(self, selection: Selection) -> pd.DataFrame:
        filters = literal_filters(selection.equipment_ids, selection.metric_types, selection.tags)
        if filters is None:
            return empty_points()
        where, params = where_clause(selection.start_ns, selection.end_ns, filters)
        series = self._select(f"SELECT value FROM {self._source} WHERE {where} GROUP BY *", params)
        return points_from_series([_block(s) for s in series])

    def aggregate(self, selection: Selection, every: timedelta | None = None,
                  functions: Sequence[str] = AGGREGATE_FUNCTIONS) -> pd.DataFrame:
        unknown = [f for f in functions if f not in _FUNCTIONS]
        if unknown or not functions:
            raise ValidationError(
                f"aggregate functions must be among {list(_FUNCTIONS)}; got {list(functions)!r}.",
                field="functions", value=functions,
            )
        group = '"equipment_id", "metric_type"'
        if every is not None:
            every_ns = int(every.total_seconds() * 1e9)
            if every_ns <= 0:
                raise ValidationError(f"every must be positive; got {every!r}.", field="every", value=every)
            group = f"time({every_ns // 1000}u), " + group if every_ns % 1000 == 0 else f"time({every_ns}ns), " + group
        columns = ["equipment_id", "metric_type"] + (["time"] if every is not None else []) + list(functions)
        filters = literal_filters(selection.equipment_ids, selection.metric_types, selection.tags)
        if filters is None:
            return pd.DataFrame({c: [] for c in columns})
        where, params = where_clause(selection.start_ns, selection.end_ns, filters)
        selected = ", ".join(f"{_FUNCTIONS[f]} AS {f}" for f in functions)
        series = self._select(f"SELECT {selected} FROM {self._source} WHERE {where} GROUP BY {group} fill(none)",
                              params)
        return _aggregate_frame(series, columns, list(functions), windowed=every is not None)

    def latest(self, equipment_ids: Sequence[str] | None = None, metric_types: Sequence[str] | None = None,
               before: datetime | None = None) -> pd.DataFrame:
        filters = literal_filters(equipment_ids, metric_types)
        if filters is None:
            return empty_points()
        end_ns = to_ns(before, "before") if before is not None else np.iinfo("int64").max - 1
        where, params = where_clause(np.iinfo("int64").min + 2, end_ns, filters)
        series = self._select(f"SELECT last(value) AS value FROM {self._source} WHERE {where} GROUP BY *", params)
        frame = points_from_series([_block(s) for s in series])
        return frame.sort_values(["equipment_id", "metric_type"], kind="stable").reset_index(drop=True)

    def equipment_ids(self) -> list[str]:
        series = self._select(f'SHOW TAG VALUES FROM {self._source} WITH KEY = "equipment_id"', {})
        return sorted({row[1] for s in series for row in s.get("values") or []})

    def availability_intervals(self, start: datetime, end: datetime, staleness: timedelta,
                               equipment_ids: Sequence[str] | None = None) -> pd.DataFrame:
        return intervals_from_store(self, start, end, staleness, equipment_ids)

    # -- deleting, health, closing --------------------------------------------------------

    def delete(self, selection: Selection) -> int:
        """Delete the selected points; returns how many there were (counted just before)."""
        filters = literal_filters(selection.equipment_ids, selection.metric_types, selection.tags)
        if filters is None:
            return 0
        where, params = where_clause(selection.start_ns, selection.end_ns, filters)
        counted = self._select(f"SELECT count(value) FROM {self._source} WHERE {where}", params)
        total = int(sum(row[1] for s in counted for row in s.get("values") or []))
        if total:
            self.http.query(f"DELETE FROM {self.measurement} WHERE {where}", database=self.database, params=params,
                            write=True)
        return total

    def health(self) -> Health:
        location = f"{self.http.base_url} database {self.database}"
        try:
            version, latency_ms = self.http.ping()
            databases = self.http.query("SHOW DATABASES", database=None)
        except StoreError as exc:
            return Health(ok=False, backend=self.backend, location=location, message=str(exc), error=exc)
        names = {row[0] for s in databases for row in s.get("values") or []}
        details: dict[str, Any] = {"latency_ms": round(latency_ms, 1)}
        if self.spool is not None:
            state = self.spool.state()
            details.update(spooled_points=state.points, spool=str(self.spool.directory))
        if databases and self.database not in names:  # an empty answer: the server cannot list them
            missing = StoreNotFoundError(
                f"The database {self.database!r} does not exist on {self.http.base_url}; create it (add "
                "?create_database=true to the store URL) or set INFLUXDB_BUCKET.", server=self.http.server,
                problem="missing_database")
            return Health(ok=False, backend=self.backend, location=location, version=version, details=details,
                          message=str(missing), error=missing)
        return Health(ok=True, backend=self.backend, location=location, version=version, message="ok",
                      details=details)

    def storage_facts(self) -> StorageFacts:
        """See :meth:`MetricsStore.storage_facts` and :mod:`.influxql_facts`."""
        return influxql_facts.storage_facts(self)

    def retention(self) -> Retention:
        """The retention policy in use (see :mod:`.retention`)."""
        return influxql_retention(self)

    def set_retention(self, days: int) -> Retention:
        """Alter the retention policy in use; the server expires points by itself."""
        return set_influxql_retention(self, days)

    # -- rollups ------------------------------------------------------------------------

    def rollup_names(self) -> list[str]:
        """Names of the rollup measurements in the database (see :mod:`.rollups`)."""
        series = self._select("SHOW MEASUREMENTS", {})
        return sorted(row[0] for s in series for row in s.get("values") or [] if rollup_every_s(row[0]) is not None)

    def open_rollup(self, name: str) -> InfluxQLStore | None:
        """The same database's rollup measurement ``name``, sharing this store's
        connection (close this one only); None when it holds nothing yet."""
        return self.create_rollup(name) if check_rollup_name(name) in self.rollup_names() else None

    def create_rollup(self, name: str) -> InfluxQLStore:
        """The rollup measurement ``name`` (InfluxDB creates it on the first write)."""
        check_rollup_name(name)
        return InfluxQLStore(self.http, self.database, retention_policy=self.retention_policy,
                             batch_size=self.batch_size, measurement=name)

    def close(self) -> None:
        """Try once more to empty the spool (it stays on disk otherwise), then close connections."""
        try:
            self.replay_spool(raise_errors=False)
        finally:
            self.http.close()


def _block(series: dict) -> tuple[dict[str, str], np.ndarray, np.ndarray]:
    values = series.get("values") or []
    table = pd.DataFrame(values, columns=series["columns"]) if values else None
    if table is None:
        return series.get("tags") or {}, np.zeros(0, dtype="int64"), np.zeros(0)
    return (series.get("tags") or {}, table["time"].to_numpy("int64"),
            pd.to_numeric(table["value"], errors="coerce").to_numpy("float64"))


def _aggregate_frame(series: list[dict], columns: list[str], functions: list[str], windowed: bool) -> pd.DataFrame:
    parts = []
    for s in series:
        table = pd.DataFrame(s.get("values") or [], columns=s["columns"])
        tags = s.get("tags") or {}
        table.insert(0, "equipment_id", tags.get("equipment_id", ""))
        table.insert(1, "metric_type", tags.get("metric_type", ""))
        parts.append(table)
    if not parts:
        return pd.DataFrame({c: [] for c in columns})
    frame = pd.concat(parts, ignore_index=True)
    if windowed:
        frame["time"] = pd.to_datetime(frame["time"].to_numpy("int64"), utc=True)
    for function in functions:
        frame[function] = pd.to_numeric(frame[function]).astype("int64" if function == "count" else "float64")
    order = ["equipment_id", "metric_type"] + (["time"] if windowed else [])
    return frame[columns].sort_values(order, kind="stable").reset_index(drop=True)
