"""Input widgets shared by the pages: the time range picker and the refresh controls."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import date, datetime

import ipywidgets as w

from ..config import MIN_REFRESH_S
from ..i18n import Translator
from .params import DEFAULT_REFRESH_S, RANGE_KEYS, PageParams, TimeRange, resolve_range


class RangePicker:
    """24 h / 7 d / 30 d / custom (two dates, UTC, end inclusive)."""

    def __init__(self, text: Translator, params: PageParams) -> None:
        self.key = w.Dropdown(options=[(text.t(f"dashboard.range.{k}"), k) for k in RANGE_KEYS],
                              value=params.range_key, description=text.t("dashboard.range.label"),
                              layout=w.Layout(width="260px"))
        self.key.add_class("vigileos-range")
        self.start = w.DatePicker(description=text.t("dashboard.range.from"), value=params.custom_start,
                                  layout=w.Layout(width="230px"))
        self.end = w.DatePicker(description=text.t("dashboard.range.to"), value=params.custom_end,
                                layout=w.Layout(width="250px"))
        self.widget = w.HBox([self.key, self.start, self.end])
        self.key.observe(lambda _: self._show_dates(), "value")
        self._show_dates()

    def _show_dates(self) -> None:
        display = None if self.key.value == "custom" else "none"
        self.start.layout.display = self.end.layout.display = display

    def on_change(self, callback: Callable[[], None]) -> None:
        for widget in (self.key, self.start, self.end):
            widget.observe(lambda change: callback(), "value")

    def period(self, now: datetime) -> TimeRange:
        """The chosen period; a custom one missing a date falls back to the last 24 hours."""
        start, end = self.start.value, self.end.value
        if self.key.value == "custom":
            if isinstance(start, date) and isinstance(end, date) and end >= start:
                return resolve_range("custom", now, start, end)
            return resolve_range("24h", now)
        return resolve_range(self.key.value, now)


class RefreshControls:
    """Auto-refresh switch, its interval in seconds, a refresh button and the 'updated at' line."""

    def __init__(self, text: Translator, params: PageParams) -> None:
        self.text = text
        interval = params.refresh_s or DEFAULT_REFRESH_S
        self.auto = w.Checkbox(value=params.refresh_s > 0, description=text.t("dashboard.refresh.auto"),
                               indent=False, layout=w.Layout(width="150px"))
        self.interval = w.BoundedFloatText(value=interval, min=MIN_REFRESH_S, max=3600, step=1,
                                           description=text.t("dashboard.refresh.every"),
                                           style={"description_width": "initial"},
                                           layout=w.Layout(width="190px"))
        self.button = w.Button(description=text.t("dashboard.refresh.now"), icon="refresh",
                               layout=w.Layout(width="120px"))
        self.button.add_class("vigileos-refresh")
        self.status = w.HTML()
        self.status.add_class("vigileos-updated")
        self.refreshes = 0
        self.widget = w.HBox([self.auto, self.interval, self.button, self.status],
                             layout=w.Layout(align_items="center"))

    def mark_updated(self, when: datetime, failure: str | None = None) -> None:
        self.refreshes += 1
        line = self.text.t("dashboard.refresh.updated", time=self.text.time(when))
        if failure:
            line += " — " + self.text.t("dashboard.refresh.failed", message=failure)
        self.status.value = (f'<span class="vigileos-sub" data-refreshes="{self.refreshes}">'
                             f'{html.escape(line)}</span>')
