"""Writes over HTTP: the seed's four record calls as JSON, and InfluxDB's ``/write``.

- ``POST /api/equipment/{id}/metrics | availability | performance | status``: one
  record call of :class:`..ingest.recording.EquipmentMetricsService` (the same
  validation), then a flush, so a 204 means the points are in the store. When the
  flush fails (the embedded store busy past its lock timeout) the points stay in the
  recorder's buffer, written with the next flush, and the answer is 202.
- ``POST /write`` (InfluxDB 1.x: ``db``, ``precision``) and ``POST /api/v2/write``
  (InfluxDB 2: ``org``, ``bucket``, ``precision``): a line-protocol body, gzip or not,
  in the store's convention (measurement ``equipment_metrics``, tags ``equipment_id``
  and ``metric_type``, one field ``value``; see :mod:`..ingest.lineprotocol`). A line
  without a timestamp takes the server's time, as in InfluxDB. The whole batch is
  checked first; one bad line refuses all of it (400 naming each bad line), else it
  is one ``write_frame``. ``db`` / ``bucket`` are required, as InfluxDB requires them,
  but name nothing: the server writes to its one store.

Every write needs the write token: ``Authorization: Bearer`` (or ``Token``, as InfluxDB
2 clients send it), or for InfluxDB 1.x clients the password of Basic auth or ``p``.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
import zlib
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StrictBool

from ..errors import ApiAuthError, LineProtocolError, ValidationError, WriteError
from ..ingest.lineprotocol import parse_lines
from ..ingest.recording import EquipmentMetricsService, refused_by_store
from ..ingest.rows import check_rows
from ..schema import AVAILABILITY, CORE_COLUMNS, CPU_USAGE, MEMORY_USAGE, RESPONSE_TIME, StatusRegistry
from ..stores.base import MetricsStore
from .problems import PROBLEM_JSON, problem_response
from .security import _matches, require_write

router = APIRouter()

#: Nanoseconds per unit of each ``precision`` InfluxDB accepts.
PRECISIONS = {"ns": 1, "n": 1, "us": 1_000, "u": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
              "m": 60_000_000_000, "h": 3_600_000_000_000}
#: Largest line-protocol body accepted after gzip decoding (the app's body limit applies before it).
MAX_BODY_BYTES = 64 * 1024 * 1024
#: Bad lines named in a refusal (the count says how many there were).
MAX_REPORTED = 20
_RESERVED_COLUMNS = (*CORE_COLUMNS, "_line")
#: Columns of the staged frame a tag key cannot be.


# -- JSON writes ---------------------------------------------------------------------------

class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    time: datetime | None = None


class MetricBody(_Body):
    metric_type: str
    value: float
    tags: dict[str, str] | None = None


class AvailabilityBody(_Body):
    available: StrictBool
    reason: str = ""


class PerformanceBody(_Body):
    cpu_usage: float | None = None
    memory_usage: float | None = None
    response_time: float | None = None


class StatusBody(_Body):
    previous_status: str
    new_status: str
    reason: str | None = None


def _recorded(request: Request, record) -> Response:
    """Run one record call and flush: 204 when written, 202 when left buffered."""
    recorder: EquipmentMetricsService = request.app.state.recorder
    record(recorder)
    try:
        recorder.flush()
    except WriteError as exc:
        if refused_by_store(exc):
            raise  # dropped, not buffered: answered as the store's error
        return JSONResponse({"status": "buffered", "pending": recorder.pending, "detail": str(exc)}, status_code=202)
    finally:
        request.app.state.dashboards.invalidate()
    return Response(status_code=204)


@router.post("/api/equipment/{equipment_id}/metrics", status_code=204, dependencies=[Depends(require_write)])
def post_metric(equipment_id: str, body: MetricBody, request: Request) -> Response:
    """Record one metric value (``record_metric``)."""
    return _recorded(request, lambda r: r.record_metric(equipment_id, body.metric_type, body.value, body.tags,
                                                         body.time))


@router.post("/api/equipment/{equipment_id}/availability", status_code=204, dependencies=[Depends(require_write)])
def post_availability(equipment_id: str, body: AvailabilityBody, request: Request) -> Response:
    """Record available or not (``record_availability``)."""
    return _recorded(request, lambda r: r.record_availability(equipment_id, body.available, body.reason, body.time))


_PERFORMANCE_LIMITS = ((CPU_USAGE, 100.0), (MEMORY_USAGE, 100.0), (RESPONSE_TIME, None))


@router.post("/api/equipment/{equipment_id}/performance", status_code=204, dependencies=[Depends(require_write)])
def post_performance(equipment_id: str, body: PerformanceBody, request: Request) -> Response:
    """Record CPU (%), memory (%) and response time (ms); all three through
    ``record_performance``, fewer one by one with the same limits."""
    given = {name: getattr(body, name) for name, _ in _PERFORMANCE_LIMITS if getattr(body, name) is not None}
    if not given:
        raise ValidationError("Give at least one of cpu_usage, memory_usage, response_time.", field="body")
    if len(given) == len(_PERFORMANCE_LIMITS):
        return _recorded(request, lambda r: r.record_performance(equipment_id, body.cpu_usage, body.memory_usage,
                                                                 body.response_time, body.time))
    for name, upper in _PERFORMANCE_LIMITS:
        value = given.get(name)
        if value is not None and (value < 0 or (upper is not None and value > upper)):
            limit = f"between 0 and {upper:g}" if upper else "at least 0"
            raise ValidationError(f"{name} must be {limit}; got {value!r}.", field=name, value=value)
    at = body.time if body.time is not None else datetime.now(UTC)

    def record(recorder: EquipmentMetricsService) -> None:
        for name, value in given.items():
            recorder.record_metric(equipment_id, name, value, None, at)
    return _recorded(request, record)


@router.post("/api/equipment/{equipment_id}/status", status_code=204, dependencies=[Depends(require_write)])
def post_status(equipment_id: str, body: StatusBody, request: Request) -> Response:
    """Record a status change (``record_status_change``); a ``reason`` is kept as a tag."""
    if not body.reason:
        return _recorded(request, lambda r: r.record_status_change(equipment_id, body.previous_status,
                                                                    body.new_status, body.time))
    statuses = StatusRegistry()
    statuses.validate(body.previous_status, "previous_status")
    statuses.validate(body.new_status, "new_status")
    tags = {"previous_status": body.previous_status, "new_status": body.new_status, "reason": body.reason}
    return _recorded(request, lambda r: r.record_metric(equipment_id, "status_change", 1.0, tags, body.time))


# -- line protocol ---------------------------------------------------------------------------

def parse_line_protocol(text: str, precision: str = "ns", now_ns: int | None = None) -> pd.DataFrame:
    """The points of a line-protocol body as a points frame (free tags as columns), or
    :class:`LineProtocolError` naming every bad line. Lines are numbered from 1 over the
    whole body (blank and ``#`` lines included); a line without a timestamp gets
    ``now_ns`` (default: now).

    A body whose every line is well formed takes a fast path (Arrow's RE2 kernels on the
    whole column; ids and tags parsed and checked once per distinct series key); any
    doubt sends the body to the line-by-line checks, which name the bad lines."""
    if precision not in PRECISIONS:
        raise ValidationError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}.",
                              field="precision", value=precision)
    now_ns = now_ns if now_ns is not None else time.time_ns()
    fast = _parse_fast(text, PRECISIONS[precision], now_ns)
    return fast if fast is not None else _parse_checked(text, precision, now_ns)


_VALUE = r"^(?:[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?\d+[iu])$"
_FAST_LINE = (r"^(?P<head>(?:[^ \\]|\\.)+) +value=(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?\d+[iu])"
              r"(?: +(?P<time>-?\d{1,19}))? *\r?$")


def _parse_fast(text: str, unit_ns: int, now_ns: int) -> pd.DataFrame | None:
    """The points of a body with no bad line, or None when any line needs the full checks."""
    lines = pa.array(text.split("\n"), type=pa.string())
    stripped = pc.utf8_trim_whitespace(lines)
    lines = lines.filter(pc.and_(pc.not_equal(stripped, ""), pc.invert(pc.starts_with(stripped, "#"))))
    if len(lines) == 0:
        return None
    columns = _split_columns(lines)
    if columns is None:
        return None
    head, value_text, time_text = columns
    try:
        values = pc.cast(pc.utf8_rtrim(value_text, "iu"), pa.float64()).to_numpy(zero_copy_only=False)
        given = pc.not_equal(time_text, "").to_numpy(zero_copy_only=False)
        stamps = pc.cast(pc.if_else(pc.equal(time_text, ""), "0", time_text), pa.int64()).to_numpy(
            zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if not np.isfinite(values).all() or (np.abs(stamps) > 9.2e18 / unit_ns).any():
        return None
    heads = pc.dictionary_encode(head)
    codes = heads.indices.to_numpy(zero_copy_only=False)
    try:
        keys = _series_keys(heads.dictionary.to_pylist())
    except ValidationError:
        return None
    metric = keys["metric_type"].to_numpy(dtype=object)[codes]
    if ((metric == AVAILABILITY) & (values != 0) & (values != 1)).any():
        return None
    out = {"time": pd.to_datetime(np.where(given, stamps * unit_ns, now_ns), unit="ns", utc=True)}
    for column in keys.columns:
        if column not in ("time", "value"):
            cat = keys[column].astype("category")
            out[column] = pd.Categorical.from_codes(cat.cat.codes.to_numpy()[codes], cat.cat.categories)
    out["value"] = values
    return pd.DataFrame(out)


class _SeriesKeys:
    """Series keys (``measurement,tag=value...``) already parsed and checked, so a stream
    of bodies from the same writers (Telegraf, a collector) checks each series once.
    Bounded: emptied when it would pass ``limit`` keys."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._known: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def __call__(self, heads: list[str]) -> pd.DataFrame:
        """One row per head (equipment_id, metric_type, tags), or ValidationError."""
        with self._lock:
            missing = [h for h in heads if h not in self._known]
        parsed: dict[str, dict[str, Any]] = {}
        if missing:
            frame = _parse_checked("\n".join(f"{head} value=0 0" for head in missing), "ns", 0)
            columns = [c for c in frame.columns if c not in ("time", "value")]
            for head, row in zip(missing, frame[columns].to_dict("records"), strict=True):
                parsed[head] = {k: v for k, v in row.items() if isinstance(v, str)}
        with self._lock:
            if len(self._known) + len(parsed) > self.limit:
                self._known.clear()
            self._known.update(parsed)
            rows = [parsed.get(h) or self._known[h] for h in heads]
        return pd.DataFrame(rows)


_series_keys = _SeriesKeys()


def _split_columns(lines: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array] | None:
    """(series key, value text, time text) of every line, or None when a line does not fit."""
    parts = pc.split_pattern(lines, " ", max_splits=2, reverse=True)
    if pc.all(pc.equal(pc.list_value_length(parts), 3)).as_py():  # the common case: timestamps, no extra spaces
        flat = pc.list_flatten(parts)
        head, fields, stamp = (flat.take(pa.array(np.arange(i, len(flat), 3))) for i in range(3))
        if (pc.all(pc.starts_with(fields, "value=")).as_py() and not pc.any(pc.ends_with(head, "\\")).as_py()
                and pc.all(pc.match_substring_regex(pc.utf8_slice_codeunits(fields, 6), _VALUE)).as_py()):
            return head, pc.utf8_slice_codeunits(fields, 6), stamp
    matched = pc.extract_regex(lines, _FAST_LINE)
    if matched.null_count:
        return None
    return matched.field("head"), matched.field("value"), matched.field("time")


def _parse_checked(text: str, precision: str, now_ns: int) -> pd.DataFrame:
    """:func:`parse_line_protocol` line by line (:func:`..ingest.lineprotocol.parse_lines`,
    then the points' own checks), every problem kept with its line."""
    staged, problems = parse_lines(text, PRECISIONS[precision], now_ns)
    frame, found, _ = check_rows(staged, [c for c in staged.columns if c not in _RESERVED_COLUMNS])
    problems += found
    availability = (frame["metric_type"] == AVAILABILITY).to_numpy() & ~np.isin(frame["value"].to_numpy(), (0, 1))
    problems += zip(frame["_line"][availability].tolist(),
                    ("availability values are 1 (available) or 0 (unavailable); got " + frame["value"].map(repr))[
                        availability].tolist(), strict=True)
    if problems:
        first: dict[int, str] = {}
        for line, reason in sorted(problems, key=lambda p: p[0]):
            first.setdefault(line, reason)
        raise LineProtocolError(sorted(first.items()), len(staged), MAX_REPORTED)
    return frame.drop(columns="_line")


def read_body(raw: bytes, encoding: str | None) -> str:
    """The request body as text: gzip decoded when ``Content-Encoding`` says so."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "gzip":
        decoder = zlib.decompressobj(wbits=31)
        try:
            raw = decoder.decompress(raw, MAX_BODY_BYTES + 1)
        except zlib.error as exc:
            raise ValidationError(f"The body is not valid gzip: {exc}.", field="Content-Encoding",
                                  value=encoding) from exc
        if len(raw) > MAX_BODY_BYTES or decoder.unconsumed_tail:
            raise ValidationError(f"The decoded body is over {MAX_BODY_BYTES} bytes; send smaller batches.",
                                  field="body")
    elif encoding != "identity":
        raise ValidationError(f"Content-Encoding must be gzip or identity; got {encoding!r}.",
                              field="Content-Encoding", value=encoding)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"The body is not UTF-8 text: {exc}.", field="body") from exc


def _influx_token(request: Request) -> str | None:
    """The credential an InfluxDB client sends: Bearer / Token header, Basic password, or ``p``."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme in ("bearer", "token") and value:
        return value
    if scheme == "basic" and value:
        try:
            return base64.b64decode(value, validate=True).decode("utf-8").partition(":")[2] or None
        except (binascii.Error, UnicodeDecodeError):
            return None
    return request.query_params.get("p") or None


def require_influx_write(request: Request) -> None:
    """:func:`.security.require_write` for InfluxDB clients' ways of sending the token."""
    settings = request.app.state.settings
    if not settings.api_write_token:
        raise ApiAuthError(403, "Writes are off: VIGILEOS_API_WRITE_TOKEN is not set.")
    given = _influx_token(request)
    if given is None:
        raise ApiAuthError(401, "This endpoint needs the write token (Authorization: Bearer or Token "
                             "<VIGILEOS_API_WRITE_TOKEN>, or as the Basic auth password).")
    if _matches(given, settings.api_write_token):
        return
    if _matches(given, settings.api_token):
        raise ApiAuthError(403, "The read token cannot write; use VIGILEOS_API_WRITE_TOKEN.")
    raise ApiAuthError(401, "The token is not valid.")


def write_line_protocol(store: MetricsStore, raw: bytes, encoding: str | None, precision: str) -> int:
    """Decode, check and write one body in one ``write_frame``; the points written."""
    frame = parse_line_protocol(read_body(raw, encoding), precision)
    if frame.empty:
        return 0
    return store.write_frame(frame).points


def _influx_error(exc: ValidationError, status: int, v2: bool) -> JSONResponse:
    """Problem details that InfluxDB clients also read (1.x ``error``; 2.x ``code`` / ``message``),
    with each bad line of a refused batch under ``lines``."""
    answer = problem_response(status, str(exc), kind="invalid-line-protocol" if status == 400 else None,
                              parameter=exc.field, value=None if isinstance(exc, LineProtocolError) else exc.value)
    content: dict[str, Any] = json.loads(bytes(answer.body))
    if isinstance(exc, LineProtocolError):
        content["lines"] = [{"line": line, "reason": reason} for line, reason in exc.problems[:MAX_REPORTED]]
        content["bad_lines"] = len(exc.problems)
    content.update({"code": "invalid", "message": str(exc)} if v2 else {"error": str(exc)})
    return JSONResponse(content, status_code=status, media_type=PROBLEM_JSON)


async def _write(request: Request, precision: str, v2: bool) -> Response:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        return _influx_error(ValidationError(f"The body is over {MAX_BODY_BYTES} bytes; send smaller batches."),
                             413, v2)
    try:
        await run_in_threadpool(write_line_protocol, request.app.state.store, raw,
                                request.headers.get("content-encoding"), precision)
    except ValidationError as exc:
        return _influx_error(exc, 400, v2)
    finally:
        request.app.state.dashboards.invalidate()
    return Response(status_code=204)


@router.post("/write", status_code=204, dependencies=[Depends(require_influx_write)])
async def influx_write(request: Request, db: str | None = None, precision: str = "ns",
                       rp: str | None = None) -> Response:
    """InfluxDB 1.x's write endpoint."""
    if not db:
        return _influx_error(ValidationError("database is required (query parameter db).", field="db"), 400, False)
    return await _write(request, precision, v2=False)


@router.post("/api/v2/write", status_code=204, dependencies=[Depends(require_influx_write)])
async def influx2_write(request: Request, bucket: str | None = None, org: str | None = None,
                        precision: str = "ns") -> Response:
    """InfluxDB 2's write endpoint."""
    if not bucket:
        return _influx_error(ValidationError("bucket is required (query parameter bucket).", field="bucket"),
                             400, True)
    return await _write(request, precision, v2=True)
