"""Response models of the HTTP API: the OpenAPI schema is generated from them.

The seed's payloads keep their field names and types (``MetricsResponse``,
``DashboardResponse``); fields beside them carry what the analytics also know
(coverage, sample counts, type and location).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

# -- metrics (seed) -------------------------------------------------------------------


class MetricPoint(BaseModel):
    time: str = Field(description="Time of the point, ISO 8601, UTC.")
    metric_type: str
    value: float
    tags: dict[str, str] = Field(default_factory=dict)


class MetricsResponse(BaseModel):
    """The seed's metrics payload, one page of it; ``next`` is the next page's URL when more remain."""

    equipment_id: str
    metrics: list[MetricPoint]
    count: int = Field(description="Points in this page.")
    limit: int = Field(description="Most points a page holds.")
    next: str | None = Field(None, description="URL of the next page (cursor = last time of this one), or null.")


# -- dashboard (seed) -----------------------------------------------------------------


class DashboardSummary(BaseModel):
    total_equipment: int
    operational: int
    maintenance: int
    offline: int
    average_availability: float | None = Field(description="Mean availability (%) of the equipment with data.")


class Performance(BaseModel):
    cpu_avg: float | None
    memory_avg: float | None
    response_time_avg: float | None


class DashboardEquipment(BaseModel):
    equipment_id: str
    name: str
    current_status: str
    availability_24h: float | None = Field(description="Availability (%) over the period (`hours`).")
    last_metric: str | None = Field(description="Time of the newest measurement, ISO 8601, UTC.")
    performance: Performance
    type: str = ""
    location: str = ""
    coverage_24h: float | None = Field(None, description="Share (%) of the period with known availability.")


class DashboardResponse(BaseModel):
    summary: DashboardSummary
    equipment_metrics: list[DashboardEquipment]
    hours: int
    generated_at: str


# -- availability ---------------------------------------------------------------------


class AvailabilityRow(BaseModel):
    """Availability of one equipment over one window: durations in seconds, percentages 0-100."""

    equipment_id: str
    start: str
    end: str
    availability_pct: float | None
    uptime_s: float
    downtime_s: float
    unknown_s: float
    maintenance_s: float
    outages: int
    mtbf_s: float | None
    mttr_s: float | None
    coverage_pct: float | None
    samples: int = Field(description="Availability samples in the window.")


class AvailabilityReportDay(AvailabilityRow):
    date: str = Field(description="The UTC day, YYYY-MM-DD.")


class AvailabilityReportResponse(BaseModel):
    start_date: str
    end_date: str = Field(description="Last day of the report (included).")
    equipment_id: str | None
    report: list[AvailabilityReportDay]
    count: int


class AvailabilityResponse(BaseModel):
    start: str
    end: str
    exclude_maintenance: bool
    staleness_s: float
    equipment: list[AvailabilityRow]
    count: int


# -- equipment, alerts, health --------------------------------------------------------


class EquipmentItem(BaseModel):
    equipment_id: str
    name: str
    type: str
    location: str
    current_status: str


class EquipmentResponse(BaseModel):
    equipment: list[EquipmentItem]
    count: int


class Alert(BaseModel):
    time: str = Field(description="When the condition started or cleared, ISO 8601, UTC.")
    equipment_id: str
    rule: str
    severity: str
    state: str
    value: float | None
    message: str


class AlertsResponse(BaseModel):
    state: str
    start: str | None
    end: str | None
    alerts: list[Alert]
    count: int


class HealthStep(BaseModel):
    name: str
    status: str
    latency_ms: float
    message: str = ""


class HealthResponse(BaseModel):
    """The store's health (``vigileos check`` without the write round trip); 503 when not ``ok``."""

    model_config = {"extra": "allow"}

    ok: bool
    backend: str
    location: str
    version: str
    problem: str | None
    message: str
    latency_ms: float
    steps: list[HealthStep]


class SlaBudget(BaseModel):
    """An SLA's error budget over its whole period, in service seconds."""

    allowed_s: float
    spent_s: float
    remaining_s: float
    remaining_pct: float | None
    exhausted_at: str | None
    forecast_exhausted_at: str | None


class SlaDegradedRule(BaseModel):
    """When available time counts as degraded: the ``function`` of ``metric`` over
    ``every_s``-second slots ``operator`` ``threshold``; ``counts_as`` down spends the budget."""

    metric: str
    function: str
    operator: str
    threshold: float
    every_s: float
    counts_as: str


class Sla(BaseModel):
    """One SLA's status (``vigileos sla status --json``); the README's SLA section gives the rules."""

    name: str
    scope: str
    equipment: int
    calendar: str
    timezone: str
    minimum_outage_s: float
    maintenance: list[str]
    degraded: SlaDegradedRule | None = None
    period_start: str
    period_end: str
    evaluated_at: str
    target_pct: float
    achieved_pct: float | None
    coverage_pct: float | None
    met: bool | None
    at_risk: bool
    breached: bool
    state: str
    service_s: float
    planned_s: float
    up_s: float
    degraded_s: float = 0.0
    unplanned_s: float
    unknown_s: float
    outages: int
    budget: SlaBudget
    burn_rates: dict[str, float | None]
    annotations: int


class SlaStatusResponse(BaseModel):
    period: str
    slas: list[Sla]
    count: int


class SlaAnnotation(BaseModel):
    equipment_id: str
    start: str
    end: str
    classification: str
    reason: str
    author: str


class SlaAnnotationsResponse(BaseModel):
    start: str
    end: str
    annotations: list[SlaAnnotation]
    count: int


class ProblemDetails(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    parameter: str | None = None
    value: Any = None
