"""An explorer for any notebook: pick an equipment and a period, see its charts.

``explore(service)`` returns an ipywidgets box: an equipment dropdown and two date
pickers (whole UTC days, both included) driving the state timeline, the performance
curves and the fleet's availability ranking of :mod:`.service`, drawn in an ``Output``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import plotly.graph_objects as go

from ..errors import VigileosError
from ..i18n import Translator
from ..schema import to_utc
from ..timeparse import parse_time_text
from . import service as plots
from .layout import PLOTLY_MIME, to_plotly_json

if TYPE_CHECKING:
    from ..analytics.service import EquipmentAnalyticsService

__all__ = ["DEFAULT_DAYS", "Explorer", "explore"]

#: Days shown when no period is given: the last week, today included.
DEFAULT_DAYS = 7


def _day(value: date | datetime | str | None, default: date, field: str) -> date:
    if value is None:
        return default
    if isinstance(value, datetime):
        return to_utc(value, field).date()  # a naive one is refused, as in the rest of the Python API
    if isinstance(value, date):
        return value
    return parse_time_text(value, field=field).date()


class Explorer(w.VBox):
    """The explorer box. ``figures`` holds the charts last drawn (by name: ``timeline``,
    ``performance``, ``ranking``); ``message`` the problem shown instead, if any."""

    def __init__(self, service: EquipmentAnalyticsService, *, start: date | datetime | str | None = None,
                 end: date | datetime | str | None = None, language: str = "en") -> None:
        self.service = service
        self.tr = Translator(language)
        today = datetime.now(UTC).date()
        last = _day(end, today, "end")
        first = _day(start, last - timedelta(days=DEFAULT_DAYS - 1), "start")
        equipment = service.equipment()
        choices = [(f"{eq} — {name}" if name and name != eq else eq, eq)
                   for eq, name in zip(equipment["equipment_id"], equipment["name"], strict=True)]
        self.equipment = w.Dropdown(options=choices, description=self.tr.t("explore.equipment"))
        self.start = w.DatePicker(value=first, description=self.tr.t("explore.start"))
        self.end = w.DatePicker(value=last, description=self.tr.t("explore.end"))
        self.output = w.Output(layout=w.Layout(width="100%"))
        self.figures: dict[str, go.Figure] = {}
        self.message = ""
        super().__init__([w.HBox([self.equipment, self.start, self.end]), self.output])
        for control in (self.equipment, self.start, self.end):
            control.observe(self._changed, names="value")
        self.refresh()

    def _changed(self, _change: dict[str, Any]) -> None:
        self.refresh()

    def period(self) -> tuple[datetime, datetime]:
        """The picked days as [start, end) in UTC: the end day is included."""
        last = min(self.end.value, date.max - timedelta(days=1))  # beyond the stored range: refused, not overflowing
        return (datetime.combine(self.start.value, time(), UTC),
                datetime.combine(last + timedelta(days=1), time(), UTC))

    def _problem(self) -> str:
        if self.equipment.value is None:
            return self.tr.t("explore.no_equipment")
        if self.start.value is None or self.end.value is None or self.end.value < self.start.value:
            return self.tr.t("explore.bad_period")
        return ""

    def refresh(self) -> None:
        """Redraw the charts for the picked equipment and days; a problem (no equipment,
        no days, the end before the start) is shown as a sentence instead."""
        problem = self._problem()
        if problem:
            self._show_message(problem)
            return
        equipment_id, (start, end), language = self.equipment.value, self.period(), self.tr.lang
        try:
            self.figures = {
                "timeline": plots.state_timeline(self.service, equipment_id, start, end, language=language),
                "performance": plots.performance(self.service, equipment_id, start, end, language=language),
                "ranking": plots.availability_ranking(self.service, start, end, language=language),
            }
        except VigileosError as error:
            self._show_message(str(error))
            return
        self.message = ""
        self.output.outputs = tuple(
            {"output_type": "display_data", "metadata": {},
             "data": {PLOTLY_MIME: to_plotly_json(figure), "text/plain": f"<{name} chart>"}}
            for name, figure in self.figures.items())

    def _show_message(self, text: str) -> None:
        self.figures, self.message = {}, text
        self.output.outputs = ({"output_type": "stream", "name": "stdout", "text": text + "\n"},)


def explore(service: EquipmentAnalyticsService, *, start: date | datetime | str | None = None,
            end: date | datetime | str | None = None, language: str = "en") -> Explorer:
    """An :class:`Explorer` over ``service``: the last :data:`DEFAULT_DAYS` days by
    default, or the UTC days from ``start`` to ``end`` (both included)."""
    return Explorer(service, start=start, end=end, language=language)
