"""``GET /api/sla``: every SLA's status (``vigileos sla status --json``), and
``GET /api/sla/annotations``: the annotations that reclassified time (the audit trail).

The definitions are read from ``VIGILEOS_SLAS`` (or the example that comes with the
package) on each request, so an edited file takes effect without a restart."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request

from ..analytics.sla_annotations import read_annotations
from ..analytics.sla_definitions import load_slas
from ..analytics.sla_status import sla_status
from ..errors import ValidationError
from .models import ProblemDetails, SlaAnnotationsResponse, SlaStatusResponse
from .read import Service, _period, _time
from .security import require_read

router = APIRouter(prefix="/api/sla", dependencies=[Depends(require_read)], responses={
    code: {"model": ProblemDetails, "description": text} for code, text in (
        (400, "A parameter is invalid"), (401, "Missing or wrong bearer token"),
        (500, "The SLA definition file is wrong"), (503, "The store failed"))})


@router.get("", response_model=SlaStatusResponse)
def status(
    request: Request,
    service: Service,
    period: Annotated[str, Query(description="day, week, month, quarter, year (in each SLA's time zone) or a "
                                             "rolling length such as 30d.")] = "month",
    at: Annotated[str | None, Query(description="An instant inside the period (default: now).")] = None,
    name: Annotated[list[str] | None, Query(description="Only these SLAs (repeat the parameter).")] = None,
) -> dict[str, Any]:
    """Target, achieved, coverage, error budget (allowed, spent, remaining, when it ran or
    runs out), burn rates and at-risk state of every SLA."""
    definitions = load_slas(request.app.state.settings.slas or None)
    if name:
        known = {d.name for d in definitions}
        missing = [n for n in name if n not in known]
        if missing:
            raise ValidationError(f"No SLA named {missing[0]!r}; defined: {', '.join(sorted(known))}.",
                                  field="name", value=missing[0])
        definitions = [d for d in definitions if d.name in name]
    results = sla_status(service, definitions, period=period, at=_time(at, "at") if at else None)
    return {"period": period, "slas": [r.to_dict() for r in results], "count": len(results)}


@router.get("/annotations", response_model=SlaAnnotationsResponse)
def list_annotations(
    service: Service,
    start: Annotated[str | None, Query(description="Start of the period (default: 90 days before end).")] = None,
    end: Annotated[str | None, Query(description="End of the period (default: now).")] = None,
    equipment_id: Annotated[list[str] | None, Query(description="Only these equipment (repeat).")] = None,
) -> dict[str, Any]:
    """Annotations overlapping [start, end), oldest first."""
    start_time, end_time = _period(start, end, ("start", "end"), default=pd.Timedelta(days=90).to_pytimedelta())
    frame = read_annotations(service.reader, list(equipment_id) if equipment_id else None, start_time, end_time)
    rows = [{"equipment_id": e, "start": pd.Timestamp(s, tz="UTC").isoformat(),
             "end": pd.Timestamp(t, tz="UTC").isoformat(), "classification": c, "reason": r, "author": a}
            for e, s, t, c, r, a in zip(frame["equipment_id"], frame["start"], frame["end"], frame["classification"],
                                        frame["reason"], frame["author"], strict=True)]
    return {"start": start_time.isoformat(), "end": end_time.isoformat(), "annotations": rows, "count": len(rows)}
