"""The two dashboard pages as widget trees: build, show, refresh.

A notebook does ``page = OverviewPage.open(params)`` then ``page.show()``: the page's
frame goes out with the cell, and every render, the first included, runs from a worker
thread (the first at once, later ones on the auto-refresh tick while the page's
heartbeat says the tab is still open, see :mod:`.heartbeat`), so the browser loads and
connects while the store is read. Any failure becomes a friendly notice in the
page (see :mod:`.feedback`); the last good content stays hidden behind it.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

import ipywidgets as w
import plotly.graph_objects as go
from IPython.display import display

from ..analytics.sla_definitions import SlaDefinition, load_slas
from ..errors import VigileosError
from ..i18n import Translator
from ..schema import PERFORMANCE_METRICS
from ..templates import slas_path
from ..theme import DEFAULT_THRESHOLDS
from . import figures, panels
from .context import DashboardContext
from .controls import RangePicker, RefreshControls
from .feedback import EmptyStoreError, NoEquipmentChosen, Notice, notice_for
from .heartbeat import PageHeartbeat
from .live import AutoRefresh, Worker
from .models import build_detail, build_overview, equipment_choices
from .params import PageParams
from .plotly_chart import PlotlyChart


class FigureSlot:
    """A place in the page for one plotly figure, drawn in the browser by a
    :class:`~.plotly_chart.PlotlyChart` kept for the life of the page: a refresh sends
    only the figure's JSON, and the chart redraws what changed."""

    def __init__(self, css: str) -> None:
        self.css = css
        self.chart = PlotlyChart(layout=w.Layout(width="100%", margin="0"))
        self.chart.add_class("vigileos-figure")
        self.widget = w.Box([self.chart], layout=w.Layout(width="100%"))
        self.widget.add_class(css)
        self.widget.add_class("vigileos-slot")

    @property
    def figure(self) -> dict[str, Any]:
        return self.chart.figure

    def show(self, figure: go.Figure) -> None:
        """Show ``figure``; the browser sizes it to the slot (see :mod:`.plotly_chart`)."""
        self.chart.figure = figures.to_plotly_json(figure)


class _Page:
    """What both pages share: context, text, notice area, refresh machinery.

    ``heartbeat`` defaults to one with the grace of ``VIGILEOS_DASHBOARD_HEARTBEAT_GRACE``;
    subclasses put it, invisible, into :attr:`widget`.
    """

    title_key = ""

    def __init__(self, params: PageParams, context: DashboardContext | None,
                 context_error: BaseException | None = None, *, heartbeat: PageHeartbeat | None = None) -> None:
        self.params = params
        self.text = Translator(params.lang)
        self.context = context
        self._context_error = context_error
        self.notice = w.HTML()
        self.notice.add_class("vigileos-notice-area")
        self._setup_problems: tuple[str, ...] = ()
        if heartbeat is None:
            heartbeat, problem = PageHeartbeat.from_environment()
            self._setup_problems = (problem,) if problem else ()
        self.heartbeat = heartbeat
        self.problems = w.HTML(self._problems_html())
        self.range = RangePicker(self.text, params)
        self.refresh_controls = RefreshControls(self.text, params)
        self.worker = Worker()
        self._pending = False
        self.ticker = AutoRefresh(self.refresh, self.refresh_controls.interval.value,
                                  enabled=self.refresh_controls.auto.value, alive=self.heartbeat.alive)
        self.refresh_controls.auto.observe(lambda c: setattr(self.ticker, "enabled", bool(c["new"])), "value")
        self.refresh_controls.interval.observe(lambda c: setattr(self.ticker, "interval_s", float(c["new"])), "value")
        self.refresh_controls.button.on_click(lambda _: self.schedule())
        self.range.on_change(self.schedule)
        self.header = w.HTML(panels.header(self.text.t(self.title_key)))
        self.content = w.VBox(layout=w.Layout(display="none"))  # shown by the first render
        self.widget = w.VBox()

    @classmethod
    def open(cls, params: PageParams, **overrides: Any) -> _Page:
        """The page for ``params`` with settings from the environment (never raises)."""
        try:
            context: DashboardContext | None = DashboardContext.from_environment(params.now, **overrides)
            error = None
        except Exception as exc:  # noqa: BLE001 - shown in the page instead
            context, error = None, exc
        return cls(params, context, error)

    def _problems_html(self) -> str:
        problems = (*self.params.problems, *self._setup_problems)
        if not problems:
            return ""
        return Notice("warning", self.text.t("dashboard.error.invalid.title"), " ".join(problems)).to_html()

    # -- rendering ---------------------------------------------------------------------

    def compute(self, now: datetime) -> Any:
        """Read the store and build the page's model (runs in the worker thread)."""
        raise NotImplementedError

    def render(self, model: Any) -> None:
        """Put ``model`` into the widgets (runs on the kernel's loop)."""
        raise NotImplementedError

    def _compute_safely(self) -> tuple[Any, BaseException | None]:
        if self.context is None:
            return None, self._context_error
        try:
            return self.compute(self.context.now()), None
        except Exception as exc:  # noqa: BLE001 - every failure becomes a notice
            return None, exc

    def _apply(self, model: Any, error: BaseException | None) -> None:
        if error is None:
            self.render(model)
            self.notice.value = ""
            self.content.layout.display = None
        else:
            store = self.context.store_label if self.context is not None else ""
            self.notice.value = notice_for(error, self.text, store=store,
                                           equipment=self.params.equipment_id).to_html()
            self.content.layout.display = "none"
        self.refresh_controls.mark_updated(datetime.now(UTC))

    def refresh_sync(self) -> None:
        """Refresh now, in the calling thread (the first render, while the cell runs)."""
        self._apply(*self._compute_safely())

    async def refresh(self) -> None:
        """Refresh from the worker thread. Asked while one runs (a tick, a new choice),
        it runs once more right after, so the latest choice is always shown."""
        if self.worker.busy:
            self._pending = True
            return
        self._pending = True
        while self._pending:
            self._pending = False
            model, error = await self.worker.run(self._compute_safely)
            self._apply(model, error)

    def schedule(self) -> None:
        """Refresh soon. Called from widget callbacks, which may run outside the
        kernel's event loop: the ticker's loop picks the request up."""
        self.ticker.poke()

    def show(self) -> _Page:
        """Display the page and start auto-refresh; the first render follows at once from
        the worker thread, so the browser loads the page's scripts and connects while the
        store is read instead of after (the 'updated' line appears with the first render)."""
        display(self.widget)
        self.ticker.start()
        self.ticker.poke()
        return self


class OverviewPage(_Page):
    """Counts by status, average availability, active alerts, ranking, recent changes, equipment table."""

    title_key = "dashboard.overview.title"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kpis = w.HTML()
        self.kpis.add_class("vigileos-kpi-area")
        self.period_line = w.HTML()
        self.ranking = FigureSlot("vigileos-ranking")
        self.changes = w.HTML()
        self.changes.add_class("vigileos-changes-area")
        self.alerts = w.HTML()
        self.alerts.add_class("vigileos-alerts-area")
        self.slas = w.HTML()
        self.slas.add_class("vigileos-slas-area")
        self.table = w.HTML()
        self.table.add_class("vigileos-equipment-area")
        t = self.text.t
        self.content.children = [
            self.period_line, self.kpis,
            w.HTML(f"<h3>{html.escape(t('dashboard.alerts.title'))}</h3>"), self.alerts,
            w.HTML(f"<h3>{html.escape(t('dashboard.slas.title'))}</h3>"), self.slas,
            w.HBox([w.Box([self.ranking.widget], layout=w.Layout(width="55%")),
                    w.VBox([w.HTML(f"<h3>{html.escape(t('dashboard.changes.title'))}</h3>"), self.changes],
                           layout=w.Layout(width="45%"))]),
            w.HTML(f"<h3>{html.escape(t('dashboard.table.title'))}</h3>"), self.table,
        ]
        self.widget.children = [self.header, self.problems, w.HBox([self.range.widget]),
                                self.refresh_controls.widget, self.notice, self.content, self.heartbeat]
        self.widget.add_class("vigileos-overview")

    def compute(self, now: datetime) -> Any:
        assert self.context is not None  # compute runs only with a context (_compute_safely)
        try:  # read at every refresh: the file may have been edited
            slas: list[SlaDefinition] | BaseException = load_slas(slas_path(self.context.settings))
        except VigileosError as exc:
            slas = exc
        return build_overview(self.context.service(), self.range.period(now), slas=slas)

    def render(self, model: Any) -> None:
        text = self.text
        self.period_line.value = ('<div class="vigileos-sub">' + html.escape(text.t(
            "dashboard.range.shown", start=text.datetime(model.period.start), end=text.datetime(model.period.end)))
            + "</div>")
        self.kpis.value = panels.kpi_cards(model, text)
        self.alerts.value = panels.alerts_table(model, text)
        self.slas.value = panels.slas_panel(model, text)
        self.ranking.show(figures.ranking_figure(model, text))
        self.changes.value = panels.changes_table(model, text)
        self.table.value = panels.equipment_table(model, text)


class DetailPage(_Page):
    """One equipment: state timeline, performance curves with thresholds, other
    metrics, status history; chosen by ``?equipment_id=`` or the selector."""

    title_key = "dashboard.detail.title"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.selector = w.Dropdown(description=self.text.t("dashboard.detail.select"), options=[], value=None,
                                   layout=w.Layout(width="360px"))
        self.selector.add_class("vigileos-equipment-select")
        self.equipment_id = self.params.equipment_id
        self.selector.observe(self._on_select, "value")
        self.summary = w.HTML()
        self.timeline = FigureSlot("vigileos-timeline")
        self.metrics = {m: FigureSlot(f"vigileos-metric-{m.replace('_', '-')}") for m in PERFORMANCE_METRICS}
        self.custom = FigureSlot("vigileos-custom-metrics")
        self.history = w.HTML()
        self.history.add_class("vigileos-history-area")
        t = self.text.t
        back = (f'<a href="{html.escape(panels.overview_link(self.text.lang))}" target="_self">'
                f'{html.escape(t("dashboard.detail.back"))}</a>')
        self.content.children = [
            self.summary, self.timeline.widget,
            w.HTML(f"<h3>{html.escape(t('dashboard.detail.performance'))}</h3>"),
            w.GridBox([slot.widget for slot in self.metrics.values()],
                      layout=w.Layout(grid_template_columns="repeat(3, 33%)")),
            self.custom.widget,
            w.HTML(f"<h3>{html.escape(t('dashboard.detail.history'))}</h3>"), self.history,
        ]
        self.widget.children = [self.header, w.HTML(back), self.problems,
                                w.HBox([self.selector, self.range.widget]), self.refresh_controls.widget,
                                self.notice, self.content, self.heartbeat]
        self.widget.add_class("vigileos-detail")

    def _on_select(self, change: dict) -> None:
        if change["new"] and change["new"] != self.equipment_id:
            self.equipment_id = change["new"]
            self.schedule()

    def compute(self, now: datetime) -> Any:
        assert self.context is not None  # compute runs only with a context (_compute_safely)
        service = self.context.service()
        choices = equipment_choices(service)
        if not self.equipment_id:
            raise EmptyStoreError("no equipment") if not choices else NoEquipmentChosen()
        try:
            return choices, build_detail(service, self.equipment_id, self.range.period(now))
        except Exception as exc:
            exc.choices = choices  # type: ignore[attr-defined]  # keeps the selector usable under the notice
            raise

    def _apply(self, model: Any, error: BaseException | None) -> None:
        choices = model[0] if model is not None else getattr(error, "choices", None)
        if choices is not None and list(self.selector.options) != choices:
            self.selector.options = choices
        known = {eq for _, eq in (choices or [])}
        self.selector.value = self.equipment_id if self.equipment_id in known else None
        super()._apply(model[1] if model is not None else None, error)

    def render(self, model: Any) -> None:
        text = self.text
        self.summary.value = panels.detail_summary(model, text)
        self.timeline.show(figures.timeline_figure(model, text))
        for metric, widget in self.metrics.items():
            widget.show(figures.metric_figure(model, metric, text, DEFAULT_THRESHOLDS.get(metric)))
        self.custom.show(figures.custom_metrics_figure(model, text))
        self.history.value = panels.history_table(model, text)
