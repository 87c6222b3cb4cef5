"""The embedded store: one DuckDB file, no server. The default backend.

Layout of the file:

- ``series``: one row per series (equipment_id, metric_type, tags) with an integer
  ``series_id`` and running facts kept at write time (first / last time, last
  value, point count), so "latest value" and "last metric time" need no scan;
- ``series_tags``: the tags of each series, one row per tag, matched with bound
  parameters;
- ``points``: (series_id, time as int nanoseconds UTC, value): three fixed-width
  columns that DuckDB scans and aggregates at full speed;
- ``availability_runs``: availability samples condensed at write time into runs
  of one state (see :mod:`vigileos_analytics.stores.intervals`), so time-weighted
  availability over months reads a few rows per state change.

Processes coordinate through :class:`~.locking.StoreLock`: every operation opens
the file for the time it needs (read-only under the shared lock, read-write under
the exclusive one) and closes it again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from ..errors import QueryError, StoreConnectionError, ValidationError, WriteError
from ..schema import (
    AVAILABILITY,
    check_availability_values,
    normalize_points_frame,
    rollup_every_s,
    to_ns,
)
from .base import (
    AGGREGATE_FUNCTIONS,
    ClosesOnExit,
    Health,
    Retention,
    Selection,
    StorageFacts,
    WriteResult,
    WritesPointsAsFrames,
)
from .duckdb_frames import points_with_series
from .duckdb_runs import rebuild_runs
from .duckdb_writes import recount_series, write_points_locked
from .intervals import intervals_from_runs, intervals_from_store
from .locking import StoreLock
from .retention import embedded_retention, set_embedded_retention
from .rollups import check_rollup_name

SCHEMA_VERSION = "1"
DEFAULT_RUN_GAP = timedelta(minutes=10)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR, value VARCHAR);
CREATE TABLE IF NOT EXISTS series (
    series_id INTEGER, series_key VARCHAR, equipment_id VARCHAR, metric_type VARCHAR,
    tags VARCHAR, min_time BIGINT, max_time BIGINT, last_value DOUBLE, points BIGINT);
CREATE TABLE IF NOT EXISTS series_tags (series_id INTEGER, key VARCHAR, value VARCHAR);
CREATE TABLE IF NOT EXISTS points (series_id INTEGER, time BIGINT, value DOUBLE);
CREATE TABLE IF NOT EXISTS availability_runs (
    equipment_id VARCHAR, state TINYINT, start_time BIGINT, last_time BIGINT,
    next_time BIGINT, samples BIGINT);
"""

_SQL_FUNCTIONS = {
    "count": "count(p.value)",
    "mean": "avg(p.value)",
    "min": "min(p.value)",
    "max": "max(p.value)",
    "p95": "quantile_cont(p.value, 0.95)",
    "last": "arg_max(p.value, p.time)",
}


class EmbeddedStore(WritesPointsAsFrames, ClosesOnExit):
    """Metrics in a DuckDB file at ``path``. Safe to share between processes.

    It has no outage spool (:attr:`spool` is None) and no server to expire points:
    its retention is a setting ``vigileos cleanup`` applies (:mod:`.retention`)."""

    backend = "duckdb"
    enforces_retention = False

    @property
    def spool(self) -> None:
        """No outage spool: a local file is never "down"."""
        return None

    def __init__(self, path: str | Path, *, lock_timeout: timedelta = timedelta(seconds=60),
                 run_gap: timedelta = DEFAULT_RUN_GAP) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise StoreConnectionError(f"The store path {self.path} is a folder; "
                                       f"give a file such as {self.path}/metrics.duckdb.")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreConnectionError(f"Cannot create the folder for the store {self.path}: {exc}") from exc
        self._lock = StoreLock(self.path, lock_timeout.total_seconds())
        self._local = threading.local()
        self._ensure_schema(int(run_gap.total_seconds() * 1e9))

    # -- connections -----------------------------------------------------------------

    @contextmanager
    def _connect(self, write: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        session = getattr(self._local, "session", None)
        if session is not None:
            if write:
                raise StoreConnectionError("Cannot write inside a read session; close the session first.")
            yield session
            return
        lock = self._lock.exclusive() if write else self._lock.shared()
        with lock:
            try:
                con = duckdb.connect(str(self.path), read_only=not write)
            except duckdb.Error as exc:
                raise StoreConnectionError(f"Cannot open the store {self.path}: {exc}") from exc
            try:
                yield con
            finally:
                con.close()

    @contextmanager
    def session(self) -> Iterator[EmbeddedStore]:
        """Hold one read connection (and the shared lock) across several reads."""
        if getattr(self._local, "session", None) is not None:
            yield self
            return
        with self._connect(write=False) as con:
            self._local.session = con
            try:
                yield self
            finally:
                self._local.session = None

    def _ensure_schema(self, run_gap_ns: int) -> None:
        with self._connect(write=True) as con:
            con.execute(_SCHEMA)
            rows = dict(con.execute("SELECT key, value FROM meta").fetchall())
            if not rows:
                con.executemany("INSERT INTO meta VALUES (?, ?)",
                                [("schema_version", SCHEMA_VERSION), ("run_gap_ns", str(run_gap_ns))])
                rows = {"schema_version": SCHEMA_VERSION, "run_gap_ns": str(run_gap_ns)}
        if rows.get("schema_version") != SCHEMA_VERSION:
            raise StoreConnectionError(
                f"The store {self.path} has schema version {rows.get('schema_version')!r}; "
                f"this version of vigileos reads version {SCHEMA_VERSION}."
            )
        self.run_gap_ns = int(rows["run_gap_ns"])

    def close(self) -> None:
        """Nothing stays open between operations; present for the protocol."""

    # -- retention ---------------------------------------------------------------------

    def retention(self) -> Retention:
        """The setting in ``<store>.retention.json`` (see :mod:`.retention`)."""
        return embedded_retention(self)

    def set_retention(self, days: int) -> Retention:
        """Write the setting; ``vigileos cleanup`` applies it."""
        return set_embedded_retention(self, days)

    # -- rollups -----------------------------------------------------------------------

    def _rollup_path(self, name: str) -> Path:
        return self.path.with_name(f"{self.path.stem}.{name}{self.path.suffix or '.duckdb'}")

    def rollup_names(self) -> list[str]:
        """Names of the rollup files beside this one (``<stem>.equipment_metrics_1h.duckdb``)."""
        prefix = f"{self.path.stem}."
        names = (p.name[len(prefix):-len(p.suffix) or None] for p in self.path.parent.glob(f"{prefix}*")
                 if p.is_file() and p.suffix == (self.path.suffix or ".duckdb"))
        return sorted(n for n in names if rollup_every_s(n) is not None)

    def open_rollup(self, name: str) -> EmbeddedStore | None:
        """The rollup ``name``: a DuckDB file beside this one with its own lock; None
        when that file does not exist."""
        return self.create_rollup(name) if self._rollup_path(check_rollup_name(name)).exists() else None

    def create_rollup(self, name: str) -> EmbeddedStore:
        """The rollup ``name``, its file created when missing."""
        path = self._rollup_path(check_rollup_name(name))
        # Opened once per store object: opening checks (and on first use creates) the schema.
        opened = self.__dict__.setdefault("_rollup_stores", {})
        if name not in opened or not path.exists():
            opened[name] = EmbeddedStore(path, lock_timeout=timedelta(seconds=self._lock.timeout_s),
                                         run_gap=timedelta(microseconds=self.run_gap_ns / 1000))
        return opened[name]

    def __repr__(self) -> str:
        return f"EmbeddedStore({str(self.path)!r})"

    # -- writing -----------------------------------------------------------------------

    def write_frame(self, frame: pd.DataFrame, *, spool: bool = True) -> WriteResult:
        """See :meth:`MetricsStore.write_frame`; ``spool`` changes nothing here (no spool)."""
        frame = normalize_points_frame(frame)
        if frame.empty:
            return WriteResult(0, 0)
        check_availability_values(frame)
        try:
            with self._connect(write=True) as con:
                con.execute("BEGIN TRANSACTION")
                try:
                    result = write_points_locked(con, frame, self.run_gap_ns)
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
        except (duckdb.Error, OSError, StoreConnectionError) as exc:
            raise WriteError(
                f"Nothing of this batch of {len(frame)} points was written to {self.path}: {exc}",
                unwritten=frame, written=0,
            ) from exc
        return result

    # -- reading -----------------------------------------------------------------------

    def _series_frame(self, con: duckdb.DuckDBPyConnection, equipment_ids: Sequence[str] | None,
                      metric_types: Sequence[str] | None, tags: Mapping[str, str] | None = None) -> pd.DataFrame:
        clauses: list[str] = ["TRUE"]
        params: list[Any] = []
        if equipment_ids is not None:
            params.append(list(equipment_ids))
            clauses.append(f"equipment_id IN (SELECT unnest(${len(params)}))")
        if metric_types is not None:
            params.append(list(metric_types))
            clauses.append(f"metric_type IN (SELECT unnest(${len(params)}))")
        for key, value in (tags or {}).items():
            params.extend([key, value])
            clauses.append(
                f"series_id IN (SELECT series_id FROM series_tags "
                f"WHERE key = ${len(params) - 1} AND value = ${len(params)})"
            )
        return con.execute(
            "SELECT series_id, equipment_id, metric_type, tags, min_time, max_time, last_value, points "
            f"FROM series WHERE {' AND '.join(clauses)} AND points > 0 ORDER BY series_id",
            params,
        ).df()

    def _read(self, sql_fn):
        try:
            with self._connect(write=False) as con:
                return sql_fn(con)
        except duckdb.Error as exc:
            raise QueryError(f"Query on the store {self.path} failed: {exc}") from exc

    def query(self, selection: Selection) -> pd.DataFrame:
        def run(con):
            series = self._series_frame(con, selection.equipment_ids, selection.metric_types, selection.tags)
            con.register("selected_series", series[["series_id"]])
            try:
                points = con.execute(
                    "SELECT p.series_id, p.time, p.value FROM points p "
                    "WHERE p.series_id IN (SELECT series_id FROM selected_series) AND p.time >= $1 AND p.time < $2 "
                    "ORDER BY p.time, p.series_id",
                    [selection.start_ns, selection.end_ns],
                ).df()
            finally:
                con.unregister("selected_series")
            return points_with_series(points, series)
        return self._read(run)

    def aggregate(self, selection: Selection, every: timedelta | None = None,
                  functions: Sequence[str] = AGGREGATE_FUNCTIONS) -> pd.DataFrame:
        unknown = [f for f in functions if f not in _SQL_FUNCTIONS]
        if unknown or not functions:
            raise ValidationError(
                f"aggregate functions must be among {list(_SQL_FUNCTIONS)}; got {list(functions)!r}.",
                field="functions", value=functions,
            )
        every_ns = None
        if every is not None:
            every_ns = int(every.total_seconds() * 1e9)
            if every_ns <= 0:
                raise ValidationError(f"every must be positive; got {every!r}.", field="every", value=every)
        selected = ", ".join(f"{_SQL_FUNCTIONS[f]} AS {f}" for f in functions)
        window = "(p.time // $3) * $3" if every_ns else "NULL"
        group = "s.grp" + (", window_start" if every_ns else "")

        def run(con):
            series = self._series_frame(con, selection.equipment_ids, selection.metric_types, selection.tags)
            # Group on a small integer per (equipment, metric): much cheaper than on strings.
            series["grp"] = series.groupby(["equipment_id", "metric_type"], sort=True).ngroup().astype("int32")
            con.register("selected_series", series[["series_id", "grp"]])
            try:
                params = [selection.start_ns, selection.end_ns] + ([every_ns] if every_ns else [])
                frame = con.execute(
                    f"SELECT s.grp, {window} AS window_start, {selected} "
                    "FROM points p JOIN selected_series s ON p.series_id = s.series_id "
                    f"WHERE p.time >= $1 AND p.time < $2 GROUP BY {group} ORDER BY {group}",
                    params,
                ).df()
            finally:
                con.unregister("selected_series")
            names = series.drop_duplicates("grp").set_index("grp")
            frame.insert(0, "equipment_id", names["equipment_id"].reindex(frame["grp"]).to_numpy(dtype=object))
            frame.insert(1, "metric_type", names["metric_type"].reindex(frame["grp"]).to_numpy(dtype=object))
            frame = frame.drop(columns="grp")
            if every_ns:
                frame.insert(2, "time", pd.to_datetime(  # via datetime64: int64 takes a much slower path
                    frame.pop("window_start").to_numpy("int64").view("datetime64[ns]"), utc=True))
            else:
                frame = frame.drop(columns="window_start")
            if "count" in frame:
                frame["count"] = frame["count"].astype("int64")
            return frame.reset_index(drop=True)
        return self._read(run)

    def latest(self, equipment_ids: Sequence[str] | None = None, metric_types: Sequence[str] | None = None,
               before: datetime | None = None) -> pd.DataFrame:
        before_ns = to_ns(before, "before") if before is not None else None

        def run(con):
            series = self._series_frame(con, equipment_ids, metric_types)
            if before_ns is None:
                points = pd.DataFrame({"series_id": series["series_id"], "time": series["max_time"],
                                       "value": series["last_value"]})
            else:
                con.register("selected_series", series[["series_id"]])
                try:
                    points = con.execute(
                        "SELECT series_id, max(time) AS time, arg_max(value, time) AS value FROM points "
                        "WHERE series_id IN (SELECT series_id FROM selected_series) AND time < $1 GROUP BY series_id "
                        "ORDER BY series_id", [before_ns]).df()
                finally:
                    con.unregister("selected_series")
            return points_with_series(points, series)
        return self._read(run)

    def equipment_ids(self) -> list[str]:
        return self._read(lambda con: [r[0] for r in con.execute(
            "SELECT DISTINCT equipment_id FROM series WHERE points > 0 ORDER BY 1").fetchall()])

    def availability_intervals(self, start: datetime, end: datetime, staleness: timedelta,
                               equipment_ids: Sequence[str] | None = None) -> pd.DataFrame:
        window = Selection(start, end, equipment_ids=equipment_ids)
        staleness_ns = int(staleness.total_seconds() * 1e9)
        if staleness_ns <= 0:
            raise ValidationError(f"staleness must be positive; got {staleness!r}.", field="staleness", value=staleness)
        if staleness_ns < self.run_gap_ns:
            # Runs may hide gaps shorter than their build gap: read the samples instead.
            return intervals_from_store(self, start, end, staleness, equipment_ids)

        def run(con):
            clauses, params = ["start_time < $1", "coalesce(least(next_time, last_time + $2), last_time + $2) > $3"], \
                [window.end_ns, staleness_ns, window.start_ns]
            if equipment_ids is not None:
                params.append(list(window.equipment_ids))
                clauses.append(f"equipment_id IN (SELECT unnest(${len(params)}))")
            runs = con.execute(
                "SELECT equipment_id, state, start_time, last_time, coalesce(next_time, -1) AS next_time, samples "
                f"FROM availability_runs WHERE {' AND '.join(clauses)} ORDER BY equipment_id, start_time", params
            ).df()
            return intervals_from_runs(runs, window.start_ns, window.end_ns, staleness_ns)
        return self._read(run)

    # -- deleting and health -----------------------------------------------------------

    def delete(self, selection: Selection) -> int:
        try:
            with self._connect(write=True) as con:
                con.execute("BEGIN TRANSACTION")
                try:
                    series = self._series_frame(con, selection.equipment_ids, selection.metric_types, selection.tags)
                    ids = series["series_id"].tolist()
                    deleted = con.execute(
                        "DELETE FROM points WHERE series_id IN (SELECT unnest($1)) AND time >= $2 AND time < $3",
                        [ids, selection.start_ns, selection.end_ns],
                    ).fetchall()[0][0] if ids else 0
                    if deleted:
                        recount_series(con, ids)
                        changed = series.loc[series["metric_type"] == AVAILABILITY, ["equipment_id"]].drop_duplicates()
                        if not changed.empty:
                            changed = changed.assign(from_time=selection.start_ns)
                            rebuild_runs(con, changed, self.run_gap_ns)
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
        except duckdb.Error as exc:
            raise QueryError(f"Delete on the store {self.path} failed; nothing was deleted: {exc}") from exc
        return int(deleted)

    def health(self) -> Health:
        try:
            facts = self._read(lambda con: con.execute(
                "SELECT count(*), coalesce(sum(points), 0), count(DISTINCT equipment_id) FROM series WHERE points > 0"
            ).fetchall()[0])
        except (QueryError, StoreConnectionError) as exc:
            return Health(ok=False, backend=self.backend, location=str(self.path), version=duckdb.__version__,
                          message=str(exc), error=exc)
        size = self.path.stat().st_size if self.path.exists() else 0
        return Health(ok=True, backend=self.backend, location=str(self.path), version=duckdb.__version__,
                      message="ok", details={"series": facts[0], "points": int(facts[1]), "equipment": facts[2],
                                             "file_bytes": size})

    def storage_facts(self) -> StorageFacts:
        """See :meth:`MetricsStore.storage_facts`: read from the running facts of the
        ``series`` table, so no point is scanned."""
        spans, series = self._read(lambda con: (con.execute(
            "SELECT equipment_id, min(min_time) AS first, max(max_time) AS last, sum(points)::BIGINT AS points "
            "FROM series WHERE points > 0 GROUP BY equipment_id ORDER BY equipment_id").df(),
            con.execute("SELECT count(*) FROM series WHERE points > 0").fetchall()[0][0]))
        for column in ("first", "last"):
            spans[column] = pd.to_datetime(spans[column].to_numpy("int64"), unit="ns", utc=True)
        spans["equipment_id"] = spans["equipment_id"].astype(object)
        return StorageFacts(equipment=spans.astype({"points": "int64"}), series=int(series),
                            size_bytes=self.path.stat().st_size, size_note=f"the DuckDB file {self.path}")
