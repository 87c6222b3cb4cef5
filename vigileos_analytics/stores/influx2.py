"""The InfluxDB 2.x store: ``influxdb-client``, Flux queries, batching writes.

URL: ``influxdb2+http(s)://host:8086?option=value`` with ``INFLUXDB_TOKEN``,
``INFLUXDB_ORG`` and ``INFLUXDB_BUCKET``. Options: ``timeout`` (10s), ``verify``
(true), ``batch_size`` (10000 points per request), ``spool`` (folder, or ``off``),
``spool_max`` (1GiB), as for :mod:`.influxql_url`.

Writes: the frame is encoded once to line protocol (:mod:`.lineprotocol`) and
handed to the client's batching ``WriteApi`` one request body at a time. Its
errors are never silent: the success, error and retry callbacks are wired; a batch
the server could not take because it was down (connection error, 5xx, 429 after
the client's own retries) goes to the outage spool; any other refusal is kept
and raised as ``WriteError`` with the points concerned. ``write_frame`` returns
only after its batches are settled: the client's ``flush()`` is a no-op, so the
store closes the ``WriteApi`` (which waits for every pending batch) and opens a
new one. The client's exceptions become the package's typed errors where they
enter (:mod:`.influx_errors`).

Queries are Flux built by :mod:`.flux`; results are read as annotated CSV with
pandas (``query_raw``): on 30 days of 1-minute points (43,200 rows) that was 2.5x
faster than the client's ``query_data_frame`` in bench/bench_influx.py.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from ..config import Settings, mask_url, refuse_url_credentials
from ..errors import (
    ConfigurationError,
    QueryError,
    RetryableError,
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
from ..timeparse import parse_duration
from ..urloptions import read_url_options
from . import flux
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
    NO_FILTERS,
    count_series,
    empty_points,
    literal_filters,
    points_from_series,
)
from .influx_errors import client_error, client_errors
from .intervals import intervals_from_store
from .lineprotocol import encode_lines
from .retention import influx2_retention, set_influx2_retention
from .rollups import check_rollup_name
from .spool import DEFAULT_MAX_BYTES, Spool, parse_size

logger = logging.getLogger(__name__)

_OPTIONS = {"timeout", "verify", "batch_size", "spool", "spool_max"}


def predicate_string(value: str) -> str:
    """A string in a /api/v2/delete predicate (not Flux: no interpolation there)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def is_retryable(exc: BaseException) -> bool:
    """True for outages (connection errors, timeouts, 5xx, 429), False for refusals and
    for exceptions that are neither the package's nor the client's (a bug is not an outage)."""
    if not isinstance(exc, StoreError):
        exc = client_error(exc, "InfluxDB 2", refused=WriteError) or exc
    return isinstance(exc, RetryableError)


class _Settled:
    """The client's write callbacks: what succeeded, what was spooled, what was refused."""

    def __init__(self, spool: Spool | None) -> None:
        self.spool = spool
        self.refused: list[tuple[bytes, BaseException]] = []
        self.lock = threading.Lock()

    def success(self, conf: Any, data: Any) -> None:
        logger.debug("InfluxDB 2 batch written (%d bytes).", len(data))

    def retry(self, conf: Any, data: Any, exc: BaseException) -> None:
        logger.warning("InfluxDB 2 write retried after: %s", exc)

    def error(self, conf: Any, data: Any, exc: BaseException) -> None:
        body = data if isinstance(data, bytes) else str(data).encode()
        with self.lock:
            if self.spool is not None and is_retryable(exc):
                try:
                    self.spool.append(body, body.count(b"\n") or 1)
                    return
                except WriteError as spool_exc:
                    exc = spool_exc
            self.refused.append((body, exc))


class Influx2Store(WritesPointsAsFrames, NoSessionNeeded, ClosesOnExit):
    """Metrics in an InfluxDB 2.x bucket. See the module docstring."""

    backend = "influxdb2"
    enforces_retention = True
    spool: Spool | None

    def __init__(self, url: str, *, token: str, org: str, bucket: str, timeout_s: float = 10.0,
                 verify: bool | str = True, batch_size: int = 10_000, spool: Spool | None = None,
                 measurement: str = MEASUREMENT, client: Any = None) -> None:
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        if not token or not org or not bucket:
            raise ConfigurationError(
                "The InfluxDB 2 store needs INFLUXDB_TOKEN, INFLUXDB_ORG and INFLUXDB_BUCKET; "
                f"missing: {[n for n, v in (('token', token), ('org', org), ('bucket', bucket)) if not v]}.")
        self.url, self.org, self.bucket, self.batch_size, self.spool = url, org, bucket, batch_size, spool
        self.measurement = measurement
        self._owns_client = client is None
        self._client = client or InfluxDBClient(url=url, token=token, org=org, timeout=int(timeout_s * 1000),
                                                verify_ssl=verify is not False,
                                                ssl_ca_cert=verify if isinstance(verify, str) else None)
        self._sync = self._client.write_api(write_options=SYNCHRONOUS)
        self._settled = _Settled(spool)
        self._write_api = self._new_write_api()

    def __repr__(self) -> str:
        return f"Influx2Store({self.url!r}, org={self.org!r}, bucket={self.bucket!r})"

    def _new_write_api(self, settled: _Settled | None = None):
        from influxdb_client import WriteOptions

        options = WriteOptions(batch_size=1, flush_interval=1_000, max_retries=2, retry_interval=1_000,
                               max_retry_delay=5_000, max_retry_time=15_000)
        settled = settled or self._settled
        return self._client.write_api(write_options=options, success_callback=settled.success,
                                      error_callback=settled.error, retry_callback=settled.retry)

    def flush(self) -> None:
        """Wait until every batch handed to the client is written, spooled or refused."""
        self._write_api.close()  # the client's flush() does nothing; close() drains the queue
        self._write_api = self._new_write_api()

    # -- writing ------------------------------------------------------------------------

    def write_frame(self, frame: pd.DataFrame, *, spool: bool = True) -> WriteResult:
        """See the module docstring. With ``spool=False`` the batches go through a write
        API of their own whose failures are all refusals: nothing is spooled."""
        frame = normalize_points_frame(frame)
        if frame.empty:
            return WriteResult(0, 0)
        check_availability_values(frame)
        lines = encode_lines(frame, self.measurement)
        if spool and self.spool is not None and self.spool and not self.replay_spool(raise_errors=False):
            for start, stop in lines.batches(self.batch_size):  # keep the order: behind what waits
                self.spool.append(lines.body(start, stop), stop - start)
            return WriteResult(points=len(frame), series=count_series(frame))
        settled = self._settled if spool else _Settled(None)
        write_api = self._write_api if spool else self._new_write_api(settled)
        for start, stop in lines.batches(self.batch_size):
            write_api.write(bucket=self.bucket, org=self.org, record=lines.body(start, stop), write_precision="ns")
        if spool:
            self.flush()
        else:
            write_api.close()  # waits for its batches
        refused, settled.refused = settled.refused, []
        if refused:
            cause = refused[0][1]
            if not isinstance(cause, StoreError):  # what the client's batching thread met, typed here
                cause = client_error(cause, self._server, refused=WriteError) or cause
            raise WriteError(
                f"InfluxDB 2 at {self.url} refused {len(refused)} batch(es) of this write: {cause}",
                unwritten=_frame_of_bodies([body for body, _ in refused], frame, self.batch_size), written=0,
                **(cause.kind() if isinstance(cause, StoreError) else {}),
            ) from cause
        return WriteResult(points=len(frame), series=count_series(frame))

    def replay_spool(self, raise_errors: bool = True) -> bool:
        """Post what the spool holds, oldest first. True when it is now empty."""
        if self.spool is None or not self.spool:
            return True

        def send(body: bytes) -> None:
            with client_errors(self._server, refused=WriteError):
                self._sync.write(bucket=self.bucket, org=self.org, record=body,
                                 write_precision="ns")  # type: ignore[arg-type]  # the client's constants are str

        try:
            self.spool.replay(send)
        except RetryableError as exc:
            if not raise_errors:
                return False
            raise StoreConnectionError(f"The spool {self.spool.directory} could not be replayed to {self.url}: "
                                       f"{exc}", **exc.kind()) from exc
        except StoreConnectionError as exc:  # refused credentials, no such bucket: the spool waits as it is
            raise StoreConnectionError(f"The spool {self.spool.directory} could not be replayed to {self.url}: "
                                       f"{exc}", **exc.kind()) from exc
        except WriteError as exc:
            raise WriteError(f"InfluxDB 2 at {self.url} refuses a batch held in the write spool "
                             f"{self.spool.directory}, so the spool cannot be replayed: {exc} Inspect or move that "
                             "folder aside.", **exc.kind()) from exc
        return True

    # -- reading ------------------------------------------------------------------------

    def _tables(self, query: str) -> list[pd.DataFrame]:
        """Run Flux; one DataFrame per result table (annotated CSV read by pandas)."""
        self.replay_spool(raise_errors=False)
        with client_errors(self._server, refused=QueryError, advice=f"The query was:\n{query}"):
            text = self._client.query_api().query_raw(query, org=self.org).data.decode()
        return read_annotated_csv(text)

    def query(self, selection: Selection) -> pd.DataFrame:
        filters = literal_filters(selection.equipment_ids, selection.metric_types, selection.tags)
        if filters is None:
            return empty_points()
        return _points(self._tables(flux.raw_query(self.bucket, selection.start_ns, selection.end_ns, filters,
                                                          self.measurement)))

    def aggregate(self, selection: Selection, every: timedelta | None = None,
                  functions: Sequence[str] = AGGREGATE_FUNCTIONS) -> pd.DataFrame:
        every_ns = None if every is None else int(every.total_seconds() * 1e9)
        columns = ["equipment_id", "metric_type"] + (["time"] if every is not None else []) + list(functions)
        filters = literal_filters(selection.equipment_ids, selection.metric_types, selection.tags)
        query = flux.aggregate_query(self.bucket, selection.start_ns, selection.end_ns,
                                     filters or NO_FILTERS, functions, every_ns, self.measurement)
        if filters is None:
            return pd.DataFrame({c: [] for c in columns})
        tables = [t for t in self._tables(query) if not t.empty]
        if not tables:
            return pd.DataFrame({c: [] for c in columns})
        frame = pd.concat(tables, ignore_index=True).rename(columns={"_time": "time"})
        if every is not None:
            frame["time"] = pd.to_datetime(frame["time"], utc=True).astype("datetime64[ns, UTC]")
        if "count" in frame:
            frame["count"] = frame["count"].astype("int64")
        order = ["equipment_id", "metric_type"] + (["time"] if every is not None else [])
        return frame[columns].sort_values(order, kind="stable").reset_index(drop=True)

    def latest(self, equipment_ids: Sequence[str] | None = None, metric_types: Sequence[str] | None = None,
               before: datetime | None = None) -> pd.DataFrame:
        filters = literal_filters(equipment_ids, metric_types)
        if filters is None:
            return empty_points()
        before_ns = to_ns(before, "before") if before is not None else None
        frame = _points(self._tables(flux.latest_query(self.bucket, filters, before_ns, self.measurement)))
        return frame.sort_values(["equipment_id", "metric_type"], kind="stable").reset_index(drop=True)

    def equipment_ids(self) -> list[str]:
        tables = self._tables(flux.equipment_ids_query(self.bucket, self.measurement))
        return sorted({v for t in tables if "_value" in t for v in t["_value"].astype(str)})

    def availability_intervals(self, start: datetime, end: datetime, staleness: timedelta,
                               equipment_ids: Sequence[str] | None = None) -> pd.DataFrame:
        return intervals_from_store(self, start, end, staleness, equipment_ids)

    def delete(self, selection: Selection) -> int:
        """Delete through /api/v2/delete. Its predicates know no OR: one call per
        (equipment, metric) pair of the selection. Returns the points counted first."""
        filters = literal_filters(selection.equipment_ids, selection.metric_types, selection.tags)
        if filters is None:
            return 0
        tables = self._tables(flux.count_query(self.bucket, selection.start_ns, selection.end_ns, filters,
                                                        self.measurement))
        total = int(sum(t["_value"].sum() for t in tables if "_value" in t))
        if not total:
            return 0
        base = [f"_measurement={predicate_string(self.measurement)}"] + [
            f"{key}={predicate_string(value)}" for key, value in filters.tags]
        for eq in filters.equipment_ids or (None,):
            for metric in filters.metric_types or (None,):
                parts = base + ([f"equipment_id={predicate_string(eq)}"] if eq is not None else []) + (
                    [f"metric_type={predicate_string(metric)}"] if metric is not None else [])
                with client_errors(self._server, refused=QueryError):
                    # The delete API's stop is inclusive; RFC 3339 text keeps the nanoseconds a
                    # datetime would drop.
                    self._client.delete_api().delete(
                        pd.Timestamp(selection.start_ns, unit="ns", tz="UTC").isoformat(),
                        pd.Timestamp(selection.end_ns - 1, unit="ns", tz="UTC").isoformat(),
                        " AND ".join(parts), bucket=self.bucket, org=self.org)
        return total

    @property
    def _server(self) -> str:
        return f"InfluxDB 2 at {self.url}"

    def health(self) -> Health:
        try:
            with client_errors(self._server, refused=StoreConnectionError):
                version = self._client.version()  # GET /ping; the client's ping() hides why it failed
                bucket = self._client.buckets_api().find_bucket_by_name(self.bucket)
        except StoreError as exc:
            return Health(ok=False, backend=self.backend, location=self.url, message=str(exc), error=exc)
        if bucket is None:
            missing = StoreNotFoundError(
                f"The bucket {self.bucket!r} does not exist in the org {self.org!r}, or the token cannot see it. "
                "Check INFLUXDB_BUCKET, INFLUXDB_ORG and the token's rights.", server=self._server,
                problem="missing_bucket")
            return Health(ok=False, backend=self.backend, location=self.url, version=version, message=str(missing),
                          error=missing)
        return Health(ok=True, backend=self.backend, location=self.url, version=version, message="ok",
                      details={"bucket": self.bucket, "org": self.org})

    def storage_facts(self) -> StorageFacts:
        """See :meth:`MetricsStore.storage_facts`: one Flux query
        (:func:`.flux.equipment_spans_query`); the series are summed from its per-equipment
        counts. The size stays unknown: the query API does not report a bucket's bytes."""
        tables = [t for t in self._tables(flux.equipment_spans_query(self.bucket, self.measurement)) if not t.empty]
        rows = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(
            {c: [] for c in ("equipment_id", "first", "last", "points", "series")})
        rows = rows.sort_values("equipment_id", kind="stable").reset_index(drop=True)
        spans = pd.DataFrame({
            "equipment_id": rows["equipment_id"].astype(str).astype(object),
            "first": pd.to_datetime(rows["first"].to_numpy("int64"), unit="ns", utc=True),
            "last": pd.to_datetime(rows["last"].to_numpy("int64"), unit="ns", utc=True),
            "points": rows["points"].to_numpy("int64"),
        })
        return StorageFacts(spans, int(rows["series"].sum()), None,
                            "unknown: InfluxDB 2.x does not report a bucket's size through its query API")

    def retention(self) -> Retention:
        """The bucket's expire rule (see :mod:`.retention`)."""
        return influx2_retention(self)

    def set_retention(self, days: int) -> Retention:
        """Change the bucket's expire rule; the server expires points by itself."""
        return set_influx2_retention(self, days)

    def close(self) -> None:
        """Flush pending batches (spooling what the server could not take), then close."""
        try:
            self._write_api.close()
            self.replay_spool(raise_errors=False)
        finally:
            if self._owns_client:
                self._client.close()

    # -- rollups ------------------------------------------------------------------------

    def rollup_names(self) -> list[str]:
        """Names of the rollup measurements in the bucket (see :mod:`.rollups`)."""
        tables = self._tables(flux.measurements_query(self.bucket))
        names = {v for t in tables if "_value" in t for v in t["_value"].astype(str)}
        return sorted(n for n in names if rollup_every_s(n) is not None)

    def open_rollup(self, name: str) -> Influx2Store | None:
        """The same bucket's rollup measurement ``name``, sharing this store's client
        (close this one only); None when it holds nothing yet."""
        return self.create_rollup(name) if check_rollup_name(name) in self.rollup_names() else None

    def create_rollup(self, name: str) -> Influx2Store:
        """The rollup measurement ``name`` (InfluxDB creates it on the first write)."""
        check_rollup_name(name)
        return Influx2Store(self.url, token="-", org=self.org, bucket=self.bucket, batch_size=self.batch_size,
                            measurement=name, client=self._client)


def read_annotated_csv(text: str) -> list[pd.DataFrame]:
    """Flux's annotated CSV (one or more tables, each with #datatype / #group /
    #default rows and a header) into DataFrames, typed from the #datatype row."""
    frames = []
    for block in (b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()):
        lines = block.split("\n")
        datatypes = next((line.split(",") for line in lines if line.startswith("#datatype")), None)
        body = "\n".join(line for line in lines if not line.startswith("#"))
        table = pd.read_csv(io.StringIO(body), dtype=str, keep_default_na=False)
        if datatypes is not None:
            for column, kind in zip(table.columns, datatypes, strict=True):
                if kind.startswith("dateTime"):
                    table[column] = pd.to_datetime(table[column], utc=True, format="ISO8601")
                elif kind in ("double", "long", "unsignedLong"):
                    table[column] = pd.to_numeric(table[column])
        if "error" in table.columns and "reference" in table.columns and len(table):
            raise QueryError(f"InfluxDB 2 reported an error inside the result: {table['error'].iloc[0]}")
        frames.append(table.drop(columns=[c for c in ("", "Unnamed: 0", "result", "table") if c in table.columns]))
    return frames


def _points(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Raw-point tables (one per series and CSV block) to the public points frame."""
    blocks = []
    for table in tables:
        if table.empty or "_value" not in table:
            continue
        tag_columns = [c for c in table.columns if not c.startswith("_")]
        times = pd.to_datetime(table["_time"], utc=True).astype("datetime64[ns, UTC]").to_numpy("datetime64[ns]")
        keys = table[tag_columns].astype(str)
        codes, uniques = pd.factorize(pd.MultiIndex.from_frame(keys)) if tag_columns else (
            np.zeros(len(table), dtype="int64"), [()])
        for code, key in enumerate(uniques):  # one step per series
            rows = codes == code
            blocks.append((dict(zip(tag_columns, key, strict=True)), times[rows].view("int64"),
                           table["_value"].to_numpy("float64")[rows]))
    return points_from_series(blocks)


def _frame_of_bodies(bodies: list[bytes], frame: pd.DataFrame, batch_size: int) -> pd.DataFrame:
    """The rows of ``frame`` whose lines are in ``bodies`` (batches are whole row ranges)."""
    lines = encode_lines(frame)
    wanted = set(bodies)
    keep = np.zeros(len(frame), dtype=bool)
    for start, stop in lines.batches(batch_size):
        keep[start:stop] = lines.body(start, stop) in wanted
    if not keep.any():
        return frame
    return frame[keep]


def open_influx2_store(url: str, settings: Settings) -> Influx2Store:
    """Open ``influxdb2+http(s)://host:port`` URLs with the INFLUXDB_* settings."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ConfigurationError(f"The store URL {mask_url(url)!r} names no host; "
                                 "e.g. influxdb2+http://localhost:8086.")
    refuse_url_credentials(url)
    query = read_url_options(parts.query, _OPTIONS, source="the store URL").raise_problems()
    try:
        timeout = parse_duration(query.get("timeout", "10s"), "timeout")
        batch_size = int(query.get("batch_size", "10000"))
    except (ValidationError, ValueError) as exc:
        raise ConfigurationError(f"Bad option in the store URL {mask_url(url)!r}: {exc}") from exc
    verify = query.flag_or_text("verify", True)
    spool_text = query.get("spool", "")
    spool = None
    if spool_text.lower() != "off":

        folder = Path(spool_text) if spool_text else settings.spool_dir / (
            f"{parts.hostname}_{parts.port or ''}_{settings.influxdb_org}_{settings.influxdb_bucket}".replace("/", "_"))
        max_text = query.get("spool_max")
        spool = Spool(folder, max_bytes=parse_size(max_text) if max_text else DEFAULT_MAX_BYTES)
    base_url = f"{parts.scheme.split('+', 1)[1]}://{parts.netloc}"
    return Influx2Store(base_url, token=settings.influxdb_token.get(), org=settings.influxdb_org,
                        bucket=settings.influxdb_bucket, timeout_s=timeout.total_seconds(), verify=verify,
                        batch_size=batch_size, spool=spool)
