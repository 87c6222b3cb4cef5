"""The read endpoints: the seed's three (metrics, dashboard, availability report) and
availability, equipment, alerts and health.

Routes are plain functions: FastAPI runs them in its thread pool, so a slow store
read never blocks the event loop. Every equipment id is checked against the
inventory and the store before any read: an id that is neither is a 404, taken
literally.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from ..analytics.alerts import current_alerts, list_alerts
from ..analytics.service import EquipmentAnalyticsService
from ..check.connectivity import check_store
from ..errors import UnknownEquipmentError, ValidationError
from ..schema import METRIC_UNITS, NOT_MEASUREMENTS, validate_metric_type, validate_range
from ..timeparse import parse_duration, parse_time_text
from .models import (
    AlertsResponse,
    AvailabilityReportResponse,
    AvailabilityResponse,
    DashboardResponse,
    EquipmentResponse,
    HealthResponse,
    MetricsResponse,
    ProblemDetails,
)
from .paging import first_points
from .security import require_read
from .snapshots import DashboardSnapshots

DEFAULT_LIMIT = 10_000
MAX_LIMIT = 100_000
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ProblemDetails, "description": text} for code, text in (
        (400, "A parameter is invalid"), (401, "Missing or wrong bearer token"),
        (404, "Unknown equipment"), (422, "The request could not be parsed"), (503, "The store failed"))}

router = APIRouter(prefix="/api", dependencies=[Depends(require_read)], responses=_ERRORS)


def _service(request: Request) -> EquipmentAnalyticsService:
    service: EquipmentAnalyticsService = request.app.state.analytics
    return service


Service = Annotated[EquipmentAnalyticsService, Depends(_service)]
Format = Annotated[Literal["json", "csv"], Query(description="json (default) or csv.")]


def _time(text: str | None, name: str, default: datetime | None = None) -> datetime:
    if text is None or not text.strip():
        if default is None:
            raise ValidationError(f"{name} is required.", field=name, value=text)
        return default
    return parse_time_text(text, field=name)


def _period(start: str | None, end: str | None, names: tuple[str, str],
            default: timedelta = timedelta(hours=24)) -> tuple[datetime, datetime]:
    end_time = _time(end, names[1], pd.Timestamp.now(tz="UTC").to_pydatetime())
    start_time = _time(start, names[0], end_time - default)
    if start_time >= end_time:
        raise ValidationError(f"{names[0]} ({start_time.isoformat()}) must be before {names[1]} "
                              f"({end_time.isoformat()}).", field=names[0], value=start)
    return validate_range(start_time, end_time)


def _cursor(text: str) -> datetime:
    """A page cursor at full (nanosecond) precision: a datetime would drop the nanoseconds
    and hand out the same page again."""
    bound = _time(text, "cursor")  # the checks and errors of every time parameter
    try:
        stamp = pd.Timestamp(text.strip())
    except (ValueError, TypeError):
        return bound
    if stamp.tzinfo is None or stamp.floor("us") != pd.Timestamp(bound):
        return bound
    return stamp.tz_convert("UTC")


def _known(service: EquipmentAnalyticsService, equipment_id: str) -> str:
    if equipment_id not in set(service.equipment()["equipment_id"]):
        raise UnknownEquipmentError(equipment_id)
    return equipment_id


def _iso(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return None
    return pd.Timestamp(value).isoformat()


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _csv(rows: list[dict[str, Any]], columns: list[str], filename: str) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else json.dumps(v) if isinstance(v, dict) else v for k, v in row.items()})
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# -- the seed's endpoints ---------------------------------------------------------------


@router.get("/equipment/{equipment_id}/metrics/", response_model=MetricsResponse,
            responses={200: {"content": {"text/csv": {}}}})
def equipment_metrics(
    request: Request, service: Service, equipment_id: str,
    start_time: Annotated[str | None, Query(description="ISO 8601 time (default: end_time - 24 h).")] = None,
    end_time: Annotated[str | None, Query(description="ISO 8601 time, excluded (default: now).")] = None,
    metric_type: Annotated[str | None, Query(description="Only this metric type.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Most points per page.")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(description="Points after this time (the `next` link sets it).")] = None,
    format: Format = "json",
) -> Any:
    """Raw points of one equipment over [start_time, end_time), oldest first, a page at a time.
    Only about the page is read from the store, however long the period (see :mod:`.paging`)."""
    start, end = _period(start_time, end_time, ("start_time", "end_time"))
    _known(service, equipment_id)
    if metric_type:
        validate_metric_type(metric_type)
        if metric_type not in METRIC_UNITS and metric_type not in NOT_MEASUREMENTS and service.reader.latest(
                equipment_ids=(equipment_id,), metric_types=(metric_type,)).empty:
            raise ValidationError(f"unknown metric type {metric_type!r} (metric_type): not a known metric and "
                                  f"no such points for {equipment_id!r}. Known: {', '.join(METRIC_UNITS)}.",
                                  field="metric_type", value=metric_type)
    after = _cursor(cursor) if cursor else None
    if after is not None and after >= start:
        if after >= end:
            raise ValidationError(f"cursor ({after.isoformat()}) must be before end_time.", field="cursor",
                                  value=cursor)
        start = after
    frame, complete = first_points(service, equipment_id, start, end, metric_type, limit + 1, after)
    page, more = frame.iloc[:limit], len(frame) > limit
    if more:  # end the page on a whole instant, so the cursor (its last time) loses no point
        boundary = frame["time"].iloc[limit]
        whole = page[page["time"] < boundary]
        page = whole if len(whole) else frame[frame["time"] <= boundary]
        more = len(frame) > len(page) or not complete
    metrics = [{"time": pd.Timestamp(t).isoformat(), "metric_type": m, "value": float(v), "tags": dict(tags)}
               for t, m, v, tags in zip(page["time"], page["metric_type"], page["value"], page["tags"], strict=True)]
    link = str(request.url.include_query_params(cursor=metrics[-1]["time"])) if more and metrics else None
    if format == "csv":
        response = _csv(metrics, ["time", "metric_type", "value", "tags"], f"{equipment_id}-metrics.csv")
        if link:
            response.headers["Link"] = f'<{link}>; rel="next"'
        return response
    return {"equipment_id": equipment_id, "metrics": metrics, "count": len(metrics), "limit": limit, "next": link}


@router.get("/influxdb/dashboard/", response_model=DashboardResponse)
async def dashboard(
    request: Request,
    hours: Annotated[int, Query(ge=1, le=24 * 366, description="Period of availability and averages.")] = 24,
    at: Annotated[str | None, Query(description="The dashboard as it was at this time (default: now).")] = None,
) -> Any:
    """The fleet at a glance: status counts, availability and performance averages per equipment.
    Without ``at``, a snapshot shared by every request, recomputed every 1.5 s while asked for
    (so about 2 s old at most); after a write through this API, the next answer includes it
    (``generated_at`` says when it was computed)."""
    snapshots: DashboardSnapshots = request.app.state.dashboards
    if at:
        snapshot = await snapshots.at(hours, _time(at, "at"))
    else:
        snapshot = await snapshots.get(hours)
    return Response(snapshot.body, media_type="application/json")


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{name} must be a date YYYY-MM-DD; got {text!r}.", field=name, value=text) from None


def _availability_rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [{
        "equipment_id": str(row["equipment_id"]), "start": _iso(row["window_start"]), "end": _iso(row["window_end"]),
        "availability_pct": _number(row["availability_pct"]), "uptime_s": float(row["uptime_s"]),
        "downtime_s": float(row["downtime_s"]), "unknown_s": float(row["unknown_s"]),
        "maintenance_s": float(row["maintenance_s"]), "outages": int(row["outages"]),
        "mtbf_s": _number(row["mtbf_s"]), "mttr_s": _number(row["mttr_s"]),
        "coverage_pct": _number(row["coverage_pct"]), "samples": int(row["samples"]),
    } for row in table.to_dict(orient="records")]


@router.get("/influxdb/availability-report/", response_model=AvailabilityReportResponse)
def availability_report(
    service: Service,
    start_date: Annotated[str, Query(description="First day, YYYY-MM-DD (UTC).")],
    end_date: Annotated[str, Query(description="Last day, YYYY-MM-DD (UTC), included.")],
    equipment_id: Annotated[str | None, Query(description="One equipment (default: the fleet).")] = None,
) -> dict[str, Any]:
    """Availability per equipment per UTC day, from start_date to end_date included."""
    first, last = _day(start_date, "start_date"), _day(end_date, "end_date")
    if first > last:
        raise ValidationError(f"start_date ({start_date}) must not be after end_date ({end_date}).",
                              field="start_date", value=start_date)
    if equipment_id is not None:
        _known(service, equipment_id)
    start = pd.Timestamp(first, tz="UTC").to_pydatetime()
    end = pd.Timestamp(last, tz="UTC").to_pydatetime() + timedelta(days=1)
    rows = _availability_rows(service.availability_report(start, end, equipment_id))
    for row in rows:
        row["date"] = row["start"][:10]
    return {"start_date": first.isoformat(), "end_date": last.isoformat(), "equipment_id": equipment_id,
            "report": rows, "count": len(rows)}


# -- beyond the seed --------------------------------------------------------------------


@router.get("/availability", response_model=AvailabilityResponse, responses={200: {"content": {"text/csv": {}}}})
def availability(
    service: Service,
    start: Annotated[str | None, Query(description="ISO 8601 time or now-7d (default: end - 24 h).")] = None,
    end: Annotated[str | None, Query(description="ISO 8601 time, excluded (default: now).")] = None,
    equipment_id: Annotated[str | None, Query(description="One equipment (default: the fleet).")] = None,
    exclude_maintenance: Annotated[bool, Query(description="Leave maintenance time out.")] = False,
    staleness: Annotated[str | None, Query(description="How long a sample holds, e.g. 10m "
                                                       "(default: VIGILEOS_STALENESS).")] = None,
    format: Format = "json",
) -> Any:
    """Availability, downtime, outages, MTBF, MTTR and coverage over [start, end), per equipment."""
    start_time, end_time = _period(start, end, ("start", "end"))
    stale = parse_duration(staleness, "staleness") if staleness else service.staleness
    if stale <= timedelta(0):
        raise ValidationError(f"staleness must be positive; got {staleness!r}.", field="staleness", value=staleness)
    if equipment_id is not None:
        _known(service, equipment_id)
    table = service.fleet_availability(start_time, end_time, [equipment_id] if equipment_id else None,
                                       staleness=stale, exclude_maintenance=exclude_maintenance)
    rows = _availability_rows(table)
    if format == "csv":
        return _csv(rows, list(rows[0]) if rows else ["equipment_id"], "availability.csv")
    return {"start": start_time.isoformat(), "end": end_time.isoformat(), "exclude_maintenance": exclude_maintenance,
            "staleness_s": stale.total_seconds(), "equipment": rows, "count": len(rows)}


@router.get("/equipment", response_model=EquipmentResponse)
def equipment(service: Service) -> dict[str, Any]:
    """Every equipment (the inventory and any other with data) with its current status."""
    table = service.equipment()
    status = service.current_status(table["equipment_id"].tolist())
    rows = [{"equipment_id": str(e), "name": str(n), "type": str(t), "location": str(loc),
             "current_status": str(status.get(e))}
            for e, n, t, loc in zip(table["equipment_id"], table["name"], table["type"], table["location"],
                                    strict=True)]
    return {"equipment": rows, "count": len(rows)}


@router.get("/alerts", response_model=AlertsResponse)
def alerts(
    service: Service,
    state: Annotated[Literal["firing", "all"], Query(description="firing (default) or all.")] = "firing",
    start: Annotated[str | None, Query(description="With start: the alert events of [start, end).")] = None,
    end: Annotated[str | None, Query(description="End of the events' period, or the time of the current "
                                                 "alerts (default: now).")] = None,
) -> dict[str, Any]:
    """The current alerts (newest state per equipment and rule), or the alert events of a period."""
    if start:
        start_time, end_time = _period(start, end, ("start", "end"))
        frame = list_alerts(service.store, start_time, end_time, state="firing" if state == "firing" else None)
        bounds: tuple[str | None, str | None] = (start_time.isoformat(), end_time.isoformat())
    else:
        at = _time(end, "end") if end else None
        frame = current_alerts(service.store, at, firing_only=state == "firing")
        bounds = (None, at.isoformat() if at else None)
    rows = [{"time": _iso(t), "equipment_id": e, "rule": r, "severity": s, "state": st, "value": _number(v),
             "message": m}
            for t, e, r, s, st, v, m in zip(frame["time"], frame["equipment_id"], frame["rule"], frame["severity"],
                                            frame["state"], frame["value"], frame["message"], strict=True)]
    return {"state": state, "start": bounds[0], "end": bounds[1], "alerts": rows, "count": len(rows)}


@router.get("/health", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
def health(service: Service) -> Any:
    """Whether the store answers (no write round trip); 503 with the same body when it does not."""
    report = check_store(service.store, round_trip=False).to_dict()
    return report if report["ok"] else JSONResponse(report, status_code=503)
