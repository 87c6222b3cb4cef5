"""What a report notebook works with: checked parameters resolved against the store
(period, equipment), the analytics service, the translator, and the tables it saved.

``open_report(name, notebook_parameters(globals()))`` is the one call at the top of
every report notebook; the runner calls :func:`resolve` with the same parameters
before it starts a kernel, so a bad parameter fails fast with the same message in
both places.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from .._imports import skip_slow_iri_checker
from ..analytics.service import EquipmentAnalyticsService
from ..config import load_settings
from ..errors import ValidationError
from ..i18n import Translator
from ..inventory import require_known_equipment
from ..schema import AVAILABILITY
from ..stores import open_store
from . import REPORTS
from .parameters import ReportParameters, default_period, parse_parameters, period_label


def check_report_name(name: str) -> str:
    if name not in REPORTS:
        raise ValidationError(f"Unknown report {name!r}; known reports: {', '.join(REPORTS)}.", field="name",
                              value=name)
    return name


@dataclass
class ReportContext:
    """A resolved report: ``start`` / ``end`` are aware UTC datetimes; ``equipment``
    the inventory rows in scope (equipment_id, name, type, location)."""

    name: str
    params: ReportParameters
    service: EquipmentAnalyticsService
    equipment: pd.DataFrame
    tr: Translator
    tables_dir: Path | None = None
    saved_tables: list[str] = field(default_factory=list)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def start(self) -> datetime:
        assert self.params.start is not None
        return self.params.start

    @property
    def end(self) -> datetime:
        assert self.params.end is not None
        return self.params.end

    @property
    def ids(self) -> list[str]:
        return self.equipment["equipment_id"].tolist()

    @property
    def label(self) -> str:
        return period_label(self.params)

    def cached(self, key: str, compute: Any) -> Any:
        """``compute()`` once per context (several cells use the same figures)."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def names(self) -> dict[str, str]:
        """equipment_id → display name."""
        return dict(zip(self.equipment["equipment_id"], self.equipment["name"], strict=True))


def _service(params: ReportParameters) -> EquipmentAnalyticsService:
    settings = load_settings()
    store = open_store(params.store_url or settings.store_url, settings)
    inventory = params.inventory or settings.inventory_path
    return EquipmentAnalyticsService(store, inventory=inventory, staleness=settings.staleness)


def _select_equipment(params: ReportParameters, everything: pd.DataFrame) -> pd.DataFrame:
    known = everything["equipment_id"].tolist()
    if not known:
        raise ValidationError("The store holds no equipment and the inventory is empty: nothing to report. "
                              "Fill the store first (e.g. `vigileos simulate`) or check store_url.",
                              field="store_url", value=params.store_url)
    selected = everything
    if params.equipment is not None:
        require_known_equipment(params.equipment, known, field="equipment")
        order = {e: i for i, e in enumerate(params.equipment)}
        selected = everything[everything["equipment_id"].isin(order)].copy()
        selected = selected.iloc[selected["equipment_id"].map(order).argsort()]
    if params.site is not None:
        sites = sorted(s for s in everything["location"].unique() if s)
        if params.site not in sites:
            raise ValidationError(f"Unknown site {params.site!r}; known sites: {', '.join(sites) or 'none'}.",
                                  field="site", value=params.site)
        selected = selected[selected["location"] == params.site]
        if selected.empty:
            raise ValidationError(f"No selected equipment is at site {params.site!r}.", field="site", value=params.site)
    return selected.reset_index(drop=True)


def resolve(params: ReportParameters, service: EquipmentAnalyticsService,
            now: datetime | None = None) -> tuple[ReportParameters, pd.DataFrame]:
    """Fill the period (the last ``days`` days of data when none is given) and check
    the equipment and site against the inventory and the store."""
    equipment = _select_equipment(params, service.equipment())
    if params.start is None:
        latest = service.store.latest(equipment_ids=equipment["equipment_id"].tolist(), metric_types=(AVAILABILITY,))
        newest = latest["time"].max() if not latest.empty else None
        start, end = default_period(newest, params.days, now or datetime.now(UTC))
        params = params.with_period(start, end)
    return params, equipment


def open_report(name: str, parameters: Mapping[str, Any] | None = None, /, **more: Any) -> ReportContext:
    """Check the report parameters (the notebook's parameters cell, as one mapping;
    keywords add to it), open the store and return the context every table and chart
    function takes. ``tables_dir`` is where shown tables are saved for the workbook;
    a value of None means the default."""
    check_report_name(name)
    skip_slow_iri_checker()
    raw = {k: v for k, v in {**(parameters or {}), **more}.items() if v is not None}
    tables_dir = raw.pop("tables_dir", None)
    params = parse_parameters(raw)
    service = _service(params)
    params, equipment = resolve(params, service)
    if name == "equipment_detail":
        equipment = equipment.head(1)
        params = replace(params, equipment=tuple(equipment["equipment_id"]))
    return ReportContext(name=name, params=params, service=service, equipment=equipment,
                         tr=Translator(params.language), tables_dir=Path(tables_dir) if tables_dir else None)
