"""Auto-refresh and the page heartbeat without a browser, on a fake clock.

The ticker runs on a real asyncio loop, but its ``sleep`` advances a fake clock
instead of waiting, so a minute of refreshes takes milliseconds and every tick
lands at a known time. Browser beats arrive as ipywidgets applies a front-end
update (``set_state``); tests/test_dashboards.py has them come from a real page.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from vigileos_analytics.dashboards import DetailPage, OverviewPage, parse_params
from vigileos_analytics.dashboards.heartbeat import (
    DEFAULT_GRACE_S,
    GRACE_ENV,
    MAX_PERIOD_S,
    PageHeartbeat,
    grace_from_environment,
)
from vigileos_analytics.dashboards.live import POLL_S, AutoRefresh
from vigileos_analytics.dashboards.server import voila_command


class FakeClock:
    """Seconds on a monotonic scale that only ``sleep`` moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)  # lets the test run between two checks of the ticker
        self.now += seconds


class FakeHeartbeat:
    """A page whose liveness the test sets."""

    def __init__(self) -> None:
        self.beating = True

    def alive(self) -> bool:
        return self.beating


async def advance(clock: FakeClock, seconds: float) -> None:
    """Let the ticker run until the fake clock moved ``seconds`` on (its checks up to then done)."""
    end = clock.now + seconds
    for _ in range(1_000_000):
        if clock.now >= end:
            return
        await asyncio.sleep(0)
    raise AssertionError("the ticker stopped moving the clock")


def _ticker(clock: FakeClock, calls: list[float], interval_s: float = 1.0, **kwargs) -> AutoRefresh:
    async def refresh() -> None:
        calls.append(clock.now)

    return AutoRefresh(refresh, interval_s, sleep=clock.sleep, **kwargs)


def _beat(heartbeat: PageHeartbeat) -> None:
    """What the page's JavaScript does: bump ``beat`` (ipywidgets applies it with set_state)."""
    heartbeat.set_state({"beat": heartbeat.beat + 1})


# -- AutoRefresh --------------------------------------------------------------------------


def test_timed_refreshes_pause_while_the_page_is_gone_and_resume_at_once():
    async def scenario() -> None:
        clock, calls, page = FakeClock(), [], FakeHeartbeat()
        ticker = _ticker(clock, calls, alive=page.alive).start()
        await advance(clock, 3)
        assert calls == [1.0, 2.0, 3.0] and not ticker.paused

        page.beating = False
        await advance(clock, 5)
        assert calls == [1.0, 2.0, 3.0] and ticker.paused

        page.beating = True  # the overdue refresh runs at the next check
        await advance(clock, POLL_S)
        assert calls[3:] == [8.0 + POLL_S] and not ticker.paused
        await advance(clock, 2)
        assert calls[4:] == [9.0 + POLL_S, 10.0 + POLL_S]
        ticker.stop()

    asyncio.run(scenario())


def test_a_poke_refreshes_even_while_paused():
    async def scenario() -> None:
        clock, calls, page = FakeClock(), [], FakeHeartbeat()
        page.beating = False
        ticker = _ticker(clock, calls, alive=page.alive).start()
        await advance(clock, 4)
        assert calls == [] and ticker.paused
        ticker.poke()  # the refresh button
        await advance(clock, POLL_S)
        assert calls == [4.0 + POLL_S]
        await advance(clock, 4)
        assert calls == [4.0 + POLL_S]
        ticker.stop()

    asyncio.run(scenario())


def test_without_a_heartbeat_every_tick_refreshes_and_disabled_means_none():
    async def scenario() -> None:
        clock, calls = FakeClock(), []
        ticker = _ticker(clock, calls, interval_s=2.0).start()
        await advance(clock, 6)
        assert calls == [2.0, 4.0, 6.0]
        ticker.enabled = False
        await advance(clock, 6)
        assert calls == [2.0, 4.0, 6.0]
        ticker.stop()

    asyncio.run(scenario())


def test_refreshes_follow_a_real_heartbeat_from_page_load_to_closed_tab():
    async def scenario() -> None:
        clock, calls = FakeClock(), []
        heartbeat = PageHeartbeat(6.0, clock=clock)
        ticker = _ticker(clock, calls, alive=heartbeat.alive).start()
        # Loading: no beat yet, the startup grace counts from the heartbeat's creation.
        await advance(clock, 10)
        assert calls == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0] and ticker.paused

        _beat(heartbeat)  # the page has drawn: refresh at once, then every second
        await advance(clock, POLL_S)
        assert calls[-1] == 10.0 + POLL_S and not ticker.paused
        for _ in range(5):
            await advance(clock, heartbeat.period_s)
            _beat(heartbeat)
        assert heartbeat.received == 6 and heartbeat.last_beat == 20.0 + POLL_S
        assert len(calls) == 6 + 11

        # The tab closes: refreshes go on for the grace, then stop for good.
        await advance(clock, 60)
        assert calls[-1] == heartbeat.last_beat + heartbeat.grace_s
        assert len(calls) == 6 + 11 + 6 and ticker.paused
        ticker.stop()

    asyncio.run(scenario())


# -- PageHeartbeat ------------------------------------------------------------------------


def test_heartbeat_counts_as_alive_while_loading_then_only_within_the_grace_of_a_beat():
    clock = FakeClock()
    heartbeat = PageHeartbeat(9.0, clock=clock)
    assert heartbeat.period_s == 3.0 and heartbeat.last_beat is None
    clock.now = 9.0
    assert heartbeat.alive()  # the page may still be loading
    clock.now = 9.5
    assert not heartbeat.alive() and heartbeat.silent_for() == 9.5

    _beat(heartbeat)
    assert heartbeat.alive() and heartbeat.last_beat == 9.5 and heartbeat.received == 1
    clock.now = 18.5
    assert heartbeat.alive() and not heartbeat.alive(grace_s=5.0)
    clock.now = 18.75
    assert not heartbeat.alive() and heartbeat.alive(grace_s=60.0)
    _beat(heartbeat)
    _beat(heartbeat)
    assert heartbeat.alive() and heartbeat.received == heartbeat.beat == 3


def test_heartbeat_is_invisible_and_beats_a_third_of_its_grace_at_most_every_20_s():
    default = PageHeartbeat()
    assert default.grace_s == DEFAULT_GRACE_S == 180.0 and default.period_s == MAX_PERIOD_S == 20.0
    assert default.layout.display == "none" and "vigileos-heartbeat" in default._dom_classes
    assert PageHeartbeat(30.0).period_s == 10.0
    with pytest.raises(ValueError, match=r"grace_s must be at least 3 seconds; got 2\.0\."):
        PageHeartbeat(2.0)
    with pytest.raises(ValueError, match="grace_s"):
        PageHeartbeat(float("nan"))


@pytest.mark.parametrize(("value", "grace_s", "problem"), [
    (None, DEFAULT_GRACE_S, None),
    ("", DEFAULT_GRACE_S, None),
    ("600", 600.0, None),
    ("3", 3.0, None),
    ("2", DEFAULT_GRACE_S, f"{GRACE_ENV} must be at least 3 seconds; got '2'. Using 180."),
    ("soon", DEFAULT_GRACE_S, f"{GRACE_ENV} must be at least 3 seconds; got 'soon'. Using 180."),
])
def test_grace_comes_from_the_environment(value, grace_s, problem):
    environ = {} if value is None else {GRACE_ENV: value}
    assert grace_from_environment(environ) == (grace_s, problem)


# -- the pages and the server -------------------------------------------------------------


@pytest.mark.parametrize("page_class", [OverviewPage, DetailPage])
def test_pages_carry_their_heartbeat_and_refresh_only_while_it_beats(page_class, monkeypatch):
    monkeypatch.setenv(GRACE_ENV, "12")
    page = page_class(parse_params(""), None, RuntimeError("no store in this test"))
    assert page.widget.children[-1] is page.heartbeat and page.heartbeat.grace_s == 12.0
    assert page.ticker.alive == page.heartbeat.alive
    assert page.problems.value == ""


def test_a_malformed_grace_is_shown_on_the_page_and_the_default_used(monkeypatch):
    monkeypatch.setenv(GRACE_ENV, "often")
    page = OverviewPage(parse_params(""), None, RuntimeError("no store in this test"))
    assert page.heartbeat.grace_s == DEFAULT_GRACE_S
    assert f"{GRACE_ENV} must be at least 3 seconds; got &#x27;often&#x27;" in page.problems.value


def test_voila_runs_bounded_culls_silent_kernels_after_10_minutes_but_never_a_connected_one(tmp_path):
    command = voila_command(tmp_path, "127.0.0.1", 8866, max_kernels=8, unconnected_timeout_s=60)
    assert command[1:3] == ["-m", "vigileos_analytics.dashboards.voila_app"]
    assert "--max-kernels=8" in command and "--unconnected-timeout=60" in command
    assert "--preheat_kernel=True" in command and "--pool_size=1" in command
    assert "--MappingKernelManager.cull_idle_timeout=600" in command
    # The culler looks four times per unconnected timeout (here every 15 s), at most once a minute.
    assert "--MappingKernelManager.cull_interval=15" in command
    assert not [arg for arg in command if "cull_connected" in arg or "cull_busy" in arg or "token" in arg]
    short = voila_command(tmp_path, "127.0.0.1", 8866, cull_idle_s=5, cull_interval_s=1, max_kernels=2,
                          unconnected_timeout_s=3)
    assert "--MappingKernelManager.cull_idle_timeout=5" in short and "--MappingKernelManager.cull_interval=1" in short
    assert "--max-kernels=2" in short and "--unconnected-timeout=3" in short
    assert "--MappingKernelManager.cull_interval=60" in voila_command(tmp_path, "127.0.0.1", 8866,
                                                                       unconnected_timeout_s=3600)


def test_a_chart_travels_as_plotly_json_in_one_widget_kept_across_refreshes():
    """The figure's JSON only, in the slot's one chart widget: no plotly.js bundle per chart
    (the library comes once per page from the server, or from the kernel when asked)."""
    import plotly.graph_objects as go

    from vigileos_analytics.dashboards.pages import FigureSlot
    from vigileos_analytics.dashboards.plotly_chart import LIBRARY_FILE

    slot = FigureSlot("vigileos-ranking")
    chart = slot.chart
    slot.show(go.Figure(go.Bar(x=[1.5, 2.5], y=["a", "b"], orientation="h")))
    slot.show(go.Figure(go.Bar(x=[3.0, 4.0], y=["c", "d"], orientation="h")))
    assert slot.chart is chart and slot.widget.children == (chart,)
    assert chart.figure["data"][0]["y"] == ["c", "d"] and chart.figure["config"]["responsive"] is True
    state = chart.get_state()
    assert len(json.dumps({k: state[k] for k in ("figure", "library")})) < 20_000  # the template included
    assert state["library"] == ""
    chart.library_wanted = True  # the browser found no server route for the library
    assert chart.library == LIBRARY_FILE.read_text(encoding="utf-8") and "plotly.js (basic" in chart.library[:200]


def test_a_poke_from_another_thread_wakes_the_ticker_at_once(monkeypatch):
    """A click (a widget callback, possibly off the loop's thread) must not wait for the next check."""
    import threading

    from vigileos_analytics.dashboards import live

    monkeypatch.setattr(live, "POLL_S", 30.0)  # without the wake-up, the refresh would come 30 s later
    refreshed = []

    async def refresh():
        refreshed.append(True)

    async def scenario():
        ticker = AutoRefresh(refresh, interval_s=3600, enabled=False).start()
        await asyncio.sleep(0.05)  # the ticker waits for its next check
        threading.Thread(target=ticker.poke).start()
        for _ in range(100):
            if refreshed:
                break
            await asyncio.sleep(0.05)
        ticker.stop()

    asyncio.run(scenario())
    assert refreshed == [True]


def test_the_charts_plotly_js_is_the_version_the_python_plotly_writes_for():
    """The vendored plotly.js "basic" draws the JSON of the environment's plotly package: a
    newer plotly (pyproject allows one) needs the matching bundle in dashboards/static/."""
    import plotly.offline

    from vigileos_analytics.dashboards.plotly_chart import LIBRARY_FILE, PLOTLY_JS_VERSION

    assert PLOTLY_JS_VERSION == plotly.offline.get_plotlyjs_version()
    assert f"plotly.js (basic - minified) v{PLOTLY_JS_VERSION}" in LIBRARY_FILE.read_text(encoding="utf-8")[:200]
