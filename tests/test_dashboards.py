"""The Voila dashboards in a real browser: Debian's Chromium driven by playwright,
against real Voila servers (preheated kernels) reading real DuckDB files.

A small simulated fleet (6 equipment x 3 days, fixed end) is seeded once; pages
pin ``?now=`` to its end so nothing depends on the wall clock. New points are
written by a separate Python process while a page is open, and must appear after
an auto-refresh tick (``VIGILEOS_DASHBOARD_REFRESH=2`` seconds), and so must an
alert written meanwhile by ``vigileos alerts check``. Error states run
on their own servers (empty store, a store path that is a folder, an unknown URL
scheme). Screenshots land in ``test-artifacts/``; the two README images in
``docs/images/``.

The first tests need no browser: the overview's model and alert panel, built from
a seeded store where ``check_alerts`` wrote alerts. Browser tests carry the
``browser`` and ``slow`` marks and are skipped without Debian's chromium.

A page's heartbeat runs on its own server with the shortest grace (3 s) and a
culler that acts after 5 quiet seconds: an open page keeps refreshing, a page
whose timers stop (as a browser does to background tabs) lets its kernel fall
quiet but keeps it, and a closed page's kernel is culled, since Voila's own
shutdown on close is refused (voila#1458). The kernel's activity is read from
Jupyter's REST API.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml

from vigileos_analytics.analytics.alert_rules import parse_rules
from vigileos_analytics.analytics.alerts import check_alerts
from vigileos_analytics.analytics.service import EquipmentAnalyticsService
from vigileos_analytics.dashboards import build_detail, build_overview, resolve_range
from vigileos_analytics.dashboards.heartbeat import GRACE_ENV
from vigileos_analytics.dashboards.panels import alerts_table
from vigileos_analytics.dashboards.plotly_chart import PLOTLY_JS_VERSION
from vigileos_analytics.dashboards.server import (
    PAGE_EXTENSIONS,
    DashboardServer,
    default_notebooks_dir,
    free_port,
    start_dashboard_server,
)
from vigileos_analytics.i18n import Translator
from vigileos_analytics.ingest.simulate import FleetSpec
from vigileos_analytics.ingest.simulation_io import simulate_into_store
from vigileos_analytics.stores import open_store

from .conftest import FLEET_END

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
README_IMAGES = ROOT / "docs" / "images"
END = datetime(2024, 2, 1, tzinfo=UTC)
FLEET = FleetSpec(equipment=6, days=3, end=END, seed=11)
PINNED = "now=2024-02-01T00:00Z"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PAGE_TIMEOUT_MS = 240_000
VOILA_ERROR_TEXT = "There was an error when executing cell"



def browser_test(test):
    """Marks a test that drives Chromium (skipped when Debian's chromium is missing)."""
    for mark in (pytest.mark.browser, pytest.mark.slow,
                 pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                    reason="Debian's chromium is not installed (apt-get install -y chromium)")):
        test = mark(test)
    return test


def _threshold_rule(name: str, metric: str, severity: str, threshold: float = 0.0) -> dict:
    """A threshold rule on the last hour's mean; above 0 it fires for any equipment with data."""
    return {"name": name, "kind": "threshold", "metric": metric, "window": "1h", "function": "mean",
            "threshold": threshold, "severity": severity}


# -- without a browser: the overview's alerts ------------------------------------------------


def test_overview_model_and_panel_list_active_alerts_newest_first_escaped(seeded_store_dir: Path) -> None:
    store = open_store(f"duckdb:///{seeded_store_dir / 'metrics.duckdb'}")
    service = EquipmentAnalyticsService(store, inventory=seeded_store_dir / "inventory.csv")
    period = resolve_range("24h", FLEET_END)
    en, fr = Translator("en"), Translator("fr")

    empty = build_overview(service, period)
    assert empty.alerts.empty and empty.alerts_total == 0
    assert "No active alerts" in alerts_table(empty, en) and "Aucune alerte active" in alerts_table(empty, fr)

    hour = pd.Timedelta(hours=1).to_pytimedelta()
    cpu = parse_rules({"rules": [_threshold_rule("cpu_busy", "cpu_usage", "warning")]})
    memory = parse_rules({"rules": [_threshold_rule("memory_busy", "memory_usage", "critical")]})
    check_alerts(store, cpu, FLEET_END - 3 * hour, ["EQ-0002", "EQ-0001"])
    check_alerts(store, memory, FLEET_END - hour, ["EQ-0005"])
    # EQ-0001's alert clears an hour later: resolved alerts are not listed.
    cleared = check_alerts(store, parse_rules({"rules": [_threshold_rule("cpu_busy", "cpu_usage", "warning", 1e9)]}),
                           FLEET_END - 2 * hour, ["EQ-0001"])
    assert len(cleared.resolved) == 1

    model = build_overview(service, period)
    assert model.alerts_total == 2
    assert model.alerts[["equipment_id", "rule", "severity"]].values.tolist() == [
        ["EQ-0005", "memory_busy", "critical"], ["EQ-0002", "cpu_busy", "warning"]]
    assert model.alerts["time"].tolist() == [pd.Timestamp(FLEET_END - hour), pd.Timestamp(FLEET_END - 3 * hour)]
    names = pd.read_csv(seeded_store_dir / "inventory.csv").set_index("equipment_id")["name"]
    assert model.alerts["name"].tolist() == [names["EQ-0005"], names["EQ-0002"]]

    panel = alerts_table(model, en)
    assert panel.index('data-equipment="EQ-0005"') < panel.index('data-equipment="EQ-0002"')
    assert "EQ-0001" not in panel and "No active alerts" not in panel
    for expected in ("2 firing, newest first", "for 1 h", "for 3 h", names["EQ-0005"], "memory_busy", "critical",
                     "warning", "mean memory_usage over 1h is", "2024-01-31 23:00", "2024-01-31 21:00",
                     "equipment_detail.ipynb?equipment_id=EQ-0005&amp;lang=en"):
        assert expected in panel, expected
    french = alerts_table(model, fr)
    assert "Gravité" in french and "critique" in french and "31/01/2024 23:00" in french and "depuis 1 h" in french

    newest = build_overview(service, period, alerts_shown=1)
    assert newest.alerts["equipment_id"].tolist() == ["EQ-0005"] and newest.alerts_total == 2
    assert "The 1 newest of 2 active alerts" in alerts_table(newest, en)

    hostile = replace(model, alerts=model.alerts.assign(name="<b>Pump & co</b>",
                                                        message='<script>alert("x")</script>'))
    escaped = alerts_table(hostile, en)
    assert "<script>" not in escaped and "<b>" not in escaped
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in escaped and "&lt;b&gt;Pump &amp; co" in escaped

    # Alert points are not a metric of the detail page.
    assert "alert" not in build_detail(service, "EQ-0005", period).custom_metrics


def _server_env(store_url: str, inventory: Path, refresh_s: float = 2.0) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIGILEOS_", "INFLUXDB_"))}
    env.update(VIGILEOS_STORE_URL=store_url, VIGILEOS_INVENTORY=str(inventory),
               VIGILEOS_DASHBOARD_REFRESH=str(refresh_s), VIGILEOS_LOCK_TIMEOUT="20s")
    return env


def _installed_lab_extensions() -> set[str]:
    from jupyterlab_server.config import get_federated_extensions
    from voila.utils import get_voila_labextensions_path

    return set(get_federated_extensions(get_voila_labextensions_path()))


@pytest.fixture(scope="module")
def fleet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dashboard-fleet")
    store = open_store(f"duckdb:///{folder / 'metrics.duckdb'}")
    simulate_into_store(store, FLEET, folder / "inventory.csv", None, progress=False)
    return folder


@pytest.fixture(scope="module")
def server(fleet_dir: Path) -> Iterator[DashboardServer]:
    env = _server_env(f"duckdb:///{fleet_dir / 'metrics.duckdb'}", fleet_dir / "inventory.csv")
    with start_dashboard_server(env=env, log_path=fleet_dir / "voila.log") as running:
        yield running


@pytest.fixture(scope="module")
def broken_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, DashboardServer]]:
    """One server per error state, without preheated kernels (each serves one page)."""
    folder = tmp_path_factory.mktemp("dashboard-broken")
    (folder / "a-folder.duckdb").mkdir()
    urls = {"empty": f"duckdb:///{folder / 'empty.duckdb'}", "unreachable": f"duckdb:///{folder / 'a-folder.duckdb'}",
            "invalid": "nosuchdb://somewhere/metrics"}
    servers: dict[str, DashboardServer] = {}
    try:
        for name, url in urls.items():
            servers[name] = start_dashboard_server(env=_server_env(url, folder / "missing.csv"), preheat=False,
                                                   log_path=folder / f"voila-{name}.log")
        yield servers
    finally:
        for running in servers.values():
            running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(PAGE_TIMEOUT_MS)
    yield tab
    tab.close(run_before_unload=True)  # as a user closes it (Voila's shutdown beacon is refused, voila#1458)
    context.close()


def _open(tab, url: str) -> None:
    """Load ``url`` and wait for the page's first complete render."""
    tab.goto(url)
    tab.wait_for_selector(".vigileos-updated [data-refreshes]")


_CHARTS_FIT = """() => Array.from(document.querySelectorAll('.vigileos-figure')).every(figure => {
    if (figure.getClientRects().length === 0) return true;  // hidden behind a notice
    const svg = figure.querySelector('.main-svg');
    return svg !== null
        && Math.abs(svg.getBoundingClientRect().width - figure.parentElement.getBoundingClientRect().width) <= 2;
})"""


def _wait_for_charts_to_fit(tab) -> None:
    """Plotly draws a new chart at its default width, then sizes it to its slot: wait
    until every chart fills its slot."""
    tab.wait_for_function(_CHARTS_FIT)


def _shot(tab, name: str, readme: bool | str = False) -> None:
    """A full-page screenshot in test-artifacts/, once every chart fits its slot; with
    ``readme``, also the viewport as the README image ``name`` (or the name given)."""
    _wait_for_charts_to_fit(tab)
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    if readme:
        README_IMAGES.mkdir(parents=True, exist_ok=True)
        image = readme if isinstance(readme, str) else name
        tab.screenshot(path=str(README_IMAGES / f"{image}.png"), full_page=False)


def _trace(tab, css: str, index: int, axis: str) -> list:
    # A chart draws once plotly.js is loaded, which may be a moment after the page's first render.
    tab.wait_for_function(f"() => document.querySelector('{css} .js-plotly-plot')?.data?.[{index}]")
    return tab.evaluate(f"() => Array.from(document.querySelector('{css} .js-plotly-plot').data[{index}].{axis})")


def _no_traceback(tab) -> None:
    body = tab.inner_text("body")
    assert "Traceback" not in body and VOILA_ERROR_TEXT not in body, body[:2000]


def _write_live_points(store_url: str) -> None:
    """From another process: EQ-0006 goes into maintenance five minutes before the end."""
    script = textwrap.dedent("""
        import sys
        import pandas as pd
        from vigileos_analytics.stores import open_store
        store = open_store(sys.argv[1])
        when = pd.Timestamp("2024-01-31T23:55:00Z")
        store.write_frame(pd.DataFrame({
            "time": [when, when], "equipment_id": ["EQ-0006", "EQ-0006"],
            "metric_type": ["status_change", "availability"], "value": [1.0, 0.0],
            "previous_status": ["operational", None], "new_status": ["maintenance", None],
            "reason": [None, "maintenance"]}))
    """)
    subprocess.run([sys.executable, "-c", script, store_url], check=True, timeout=60,
                   env={k: v for k, v in os.environ.items() if not k.startswith("VIGILEOS_")})


def _start_alerts_check(store_url: str, folder: Path) -> subprocess.Popen:
    """``vigileos alerts check`` in another process: a critical memory rule that fires for EQ-0003 at the end."""
    rules = folder / "alert_rules.yaml"
    rules.write_text(yaml.safe_dump({"rules": [_threshold_rule("memory_busy", "memory_usage", "critical")]}),
                     encoding="utf-8")
    return subprocess.Popen([sys.executable, "-m", "vigileos_analytics", "--store", store_url, "alerts", "check",
                             "--rules", str(rules), "--at", "2024-02-01T00:00", "--equipment", "EQ-0003"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={k: v for k, v in os.environ.items() if not k.startswith("VIGILEOS_")})


def _kpi(tab, key: str) -> str:
    return tab.get_attribute(f".vigileos-kpi-{key} .value", "data-value")


@browser_test
def test_overview_shows_the_fleet_and_new_points_after_a_refresh_tick(page, server, fleet_dir, tmp_path):
    _open(page, f"{server.overview_url}?{PINNED}")
    assert page.inner_text(".vigileos-title") == "Fleet overview"
    assert _kpi(page, "total") == "6"
    # The figure widget may draw a moment after the first render's "updated" line.
    page.wait_for_function("() => document.querySelector('.vigileos-ranking .js-plotly-plot')?.data?.[0]",
                           timeout=60_000)
    assert len(_trace(page, ".vigileos-ranking", 0, "x")) == 6
    links = page.locator(".vigileos-equipment a.vigileos-detail-link")
    assert links.count() == 6
    assert links.first.get_attribute("href").startswith("equipment_detail.ipynb?equipment_id=EQ-")
    assert page.inner_text(".vigileos-alerts-area") == "No active alerts"
    # The SLAs of the example definitions that come with the package, this month.
    assert page.locator(".vigileos-slas-area .vigileos-slas-summary").count() == 1
    _no_traceback(page)
    _shot(page, "fleet_overview")
    # Only the extensions the pages need are loaded, though this environment has more
    # (jupyterlab_pygments comes with nbconvert).
    config = json.loads(page.text_content("#jupyter-config-data"))
    loaded = {extension["name"] for extension in config["federated_extensions"]}
    assert loaded == set(PAGE_EXTENSIONS) and "jupyterlab_pygments" in _installed_lab_extensions()

    before = int(_kpi(page, "maintenance"))
    store_url = f"duckdb:///{fleet_dir / 'metrics.duckdb'}"
    check = _start_alerts_check(store_url, tmp_path)  # runs while the points below are written
    _write_live_points(store_url)
    output, _ = check.communicate(timeout=60)
    assert check.returncode == 0 and "1 raised" in output, output
    # Ticks go on while the writer runs: count from now, so two more ticks mean at
    # least one whole refresh started after the points were written.
    ticks = int(page.get_attribute(".vigileos-updated [data-refreshes]", "data-refreshes"))
    page.wait_for_function(
        "n => Number(document.querySelector('.vigileos-updated [data-refreshes]').dataset.refreshes) > n + 1",
        arg=ticks, timeout=60_000)
    # Under load a refresh can take longer than a tick: wait for the new count itself.
    page.wait_for_function(
        "n => Number(document.querySelector('.vigileos-kpi-maintenance .value').dataset.value) === n + 1",
        arg=before, timeout=120_000)
    # The KPI cards are redrawn before the tables (separate widget messages): wait for the row.
    name = pd.read_csv(fleet_dir / "inventory.csv").set_index("equipment_id").at["EQ-0006", "name"]
    page.wait_for_function(
        "name => (document.querySelector('.vigileos-changes tbody tr')?.innerText ?? '').includes(name)",
        arg=name, timeout=30_000)
    first_change = page.inner_text(".vigileos-changes tbody tr")
    assert name in first_change
    assert "maintenance" in first_change
    page.wait_for_selector(".vigileos-alerts tbody tr[data-equipment='EQ-0003']", timeout=30_000)  # visible
    alert = page.locator(".vigileos-alerts tbody tr")
    assert alert.count() == 1 and alert.get_attribute("data-equipment") == "EQ-0003"
    eq3 = pd.read_csv(fleet_dir / "inventory.csv").set_index("equipment_id").at["EQ-0003", "name"]
    cells = [alert.locator("td").nth(i).inner_text() for i in range(5)]
    assert cells[:3] == ["critical", eq3, "memory_busy"], cells
    assert cells[3].startswith("mean memory_usage over 1h is") and cells[4].startswith("2024-02-01 00:00"), cells
    assert "just started" in cells[4], cells
    _no_traceback(page)
    _shot(page, "fleet_overview_after_refresh", readme="fleet_overview")


@browser_test
def test_detail_page_draws_charts_and_follows_the_selector(page, server):
    # Timed refreshes every 5 min (?refresh=300: none within the test). This page redraws every
    # chart on each tick, and ticks every 2 s queue redraws faster than a loaded 2-core machine
    # draws them, so the switch would wait behind them; the overview test covers timed refreshes.
    _open(page, f"{server.detail_url}?equipment_id=EQ-0001&refresh=300&{PINNED}")
    assert page.get_attribute(".vigileos-detail-summary", "data-equipment") == "EQ-0001"
    assert _trace(page, ".vigileos-timeline", 0, "x"), "the state timeline is empty"
    first_cpu = _trace(page, ".vigileos-metric-cpu-usage", 1, "y")
    assert len(first_cpu) > 100
    for metric in ("memory-usage", "response-time"):
        assert len(_trace(page, f".vigileos-metric-{metric}", 1, "y")) > 100
    page.wait_for_selector(".vigileos-metric-cpu-usage .shapelayer path", state="attached")  # the threshold line
    assert "Temperature" in page.inner_text(".vigileos-custom-metrics")
    # The heartbeat's script runs here too (beats reaching the kernel: the heartbeat test below).
    page.wait_for_selector(".vigileos-detail .vigileos-heartbeat[data-received]", state="attached")
    _no_traceback(page)
    _shot(page, "equipment_detail", readme=True)

    page.select_option(".vigileos-equipment-select select", index=1)  # EQ-0002, in inventory order
    page.wait_for_selector(".vigileos-detail-summary[data-equipment='EQ-0002']")
    page.wait_for_function(
        "old => { const gd = document.querySelector('.vigileos-metric-cpu-usage .js-plotly-plot');"
        " return gd && gd.data[1] && JSON.stringify(Array.from(gd.data[1].y).slice(0, 20))"
        " !== JSON.stringify(old.slice(0, 20)); }", arg=first_cpu)
    assert _trace(page, ".vigileos-metric-cpu-usage", 1, "y")[:20] != first_cpu[:20]
    _shot(page, "equipment_detail_switched")


@browser_test
def test_unknown_equipment_gets_a_friendly_message_in_french(page, server):
    _open(page, f"{server.detail_url}?equipment_id=NO-SUCH-THING&lang=fr&{PINNED}")
    notice = page.inner_text(".vigileos-notice")
    assert "Équipement inconnu" in notice and "NO-SUCH-THING" in notice
    assert page.locator(".vigileos-equipment-select option").count() >= 6  # the selector still offers the fleet
    _no_traceback(page)
    _shot(page, "equipment_detail_unknown_fr")


@browser_test
@pytest.mark.parametrize(("state", "title"), [
    ("empty", "No data yet"),
    ("unreachable", "The data store cannot be reached"),
    ("invalid", "The dashboard is not configured correctly"),
])
def test_error_states_show_a_message_and_no_traceback(page, broken_servers, state, title):
    _open(page, broken_servers[state].overview_url)
    assert title in page.inner_text(".vigileos-notice")
    assert not page.locator(".vigileos-ranking .js-plotly-plot").is_visible()
    _no_traceback(page)
    _shot(page, f"fleet_overview_{state}")


@browser_test
def test_cli_prints_the_address_and_stops_cleanly_on_ctrl_c(fleet_dir, tmp_path):
    """``python -m vigileos_analytics dashboard`` as a user runs it; SIGINT as Ctrl-C sends it."""
    import signal
    import urllib.request

    store = tmp_path / "copy.duckdb"
    shutil.copy(fleet_dir / "metrics.duckdb", store)
    env = _server_env(f"duckdb:///{store}", fleet_dir / "inventory.csv")
    process = subprocess.Popen([sys.executable, "-m", "vigileos_analytics", "dashboard", "--no-browser"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               cwd=tmp_path)
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Fleet overview:"):
                break
        url = lines[-1].split()[-1]
        assert url.startswith("http://127.0.0.1:") and url.endswith("fleet_overview.ipynb"), "".join(lines)
        with urllib.request.urlopen(url.split("voila/")[0], timeout=30) as response:
            assert response.status == 200
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, rest
    assert "Dashboards stopped" in rest


# -- the page heartbeat: refreshes while open, a culled kernel once closed ----------------------


def _kernel(server: DashboardServer, kernel_id: str) -> dict | None:
    """The kernel's model from Jupyter's REST API (``last_activity``, ``connections``); None once shut down."""
    try:
        with urllib.request.urlopen(f"{server.url}api/kernels/{kernel_id}", timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def _wait_until_quiet(server: DashboardServer, kernel_id: str, quiet_s: float, timeout_s: float) -> dict:
    """Wait until the kernel has sent nothing for ``quiet_s`` seconds; its model then."""
    deadline = time.monotonic() + timeout_s
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        model = _kernel(server, kernel_id)
        assert model is not None, "the kernel was shut down while its page was connected"
        if model["last_activity"] != last:
            last, since = model["last_activity"], time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return model
        time.sleep(0.25)
    raise AssertionError(f"the kernel never stayed quiet for {quiet_s} s within {timeout_s} s: "
                         "timed refreshes went on without heartbeats")


def _refreshes(tab) -> int:
    return int(tab.get_attribute(".vigileos-updated [data-refreshes]", "data-refreshes"))


def _received(tab) -> int:
    return int(tab.get_attribute(".vigileos-heartbeat", "data-received"))


@browser_test
def test_heartbeat_keeps_open_pages_refreshing_and_lets_closed_pages_kernels_be_culled(browser, fleet_dir, tmp_path):
    grace_s, cull_idle_s = 3, 5  # beats every second; refreshes every second
    shutil.copy(fleet_dir / "metrics.duckdb", tmp_path / "metrics.duckdb")
    env = {**_server_env(f"duckdb:///{tmp_path / 'metrics.duckdb'}", fleet_dir / "inventory.csv", refresh_s=1.0),
           GRACE_ENV: str(grace_s)}
    with start_dashboard_server(env=env, log_path=tmp_path / "voila.log", cull_idle_s=cull_idle_s,
                                cull_interval_s=1) as server:
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        tab = context.new_page()
        tab.set_default_timeout(PAGE_TIMEOUT_MS)
        try:
            tab.clock.install()  # lets the test stop the page's timers, as browsers do in background tabs
            _open(tab, f"{server.overview_url}?{PINNED}")
            kernel_id = tab.evaluate("() => JSON.parse(document.getElementById('jupyter-config-data').textContent)"
                                     ".kernelId")
            # Beats reach the kernel, which counts them back into the page.
            tab.wait_for_function("() => Number(document.querySelector('.vigileos-heartbeat').dataset.received) >= 3",
                                  timeout=60_000)
            _no_traceback(tab)
            _shot(tab, "fleet_overview_heartbeat")
            # Open for longer than grace and cull time together: still refreshing, never culled.
            tab.wait_for_function(
                "n => Number(document.querySelector('.vigileos-updated [data-refreshes]').dataset.refreshes) > n",
                arg=_refreshes(tab) + grace_s + cull_idle_s, timeout=60_000)
            assert _kernel(server, kernel_id)["connections"] == 1

            # Timers stopped: no beats, so after the grace no refresh; the kernel goes
            # quiet past the cull time but stays, as its page is still connected.
            tab.clock.pause_at(tab.evaluate("() => Date.now()") + 1000)
            model = _wait_until_quiet(server, kernel_id, quiet_s=cull_idle_s + 3, timeout_s=60)
            assert model["connections"] == 1
            paused_at, beats = _refreshes(tab), _received(tab)

            # A tab back in the foreground beats at once, timers or not; the overdue refresh follows.
            tab.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
            tab.wait_for_function(
                "n => Number(document.querySelector('.vigileos-updated [data-refreshes]').dataset.refreshes) > n",
                arg=paused_at, timeout=60_000)
            assert _received(tab) == beats + 1
            # Timers run again: beats come back and so do refreshes.
            tab.clock.resume()
            tab.wait_for_function(
                "n => Number(document.querySelector('.vigileos-updated [data-refreshes]').dataset.refreshes) > n + 2",
                arg=_refreshes(tab), timeout=60_000)
            assert _received(tab) > beats + 1
        finally:
            tab.close(run_before_unload=True)
            context.close()

        # Voila's shutdown beacon is refused (voila#1458): the kernel outlives its page...
        closed = time.monotonic()
        while (model := _kernel(server, kernel_id)) is not None and model["connections"]:
            assert time.monotonic() - closed < 30, "the closed page's websocket stayed connected"
            time.sleep(0.25)
        assert model is not None, "Voila shut the kernel down itself (voila#1458 fixed?): the heartbeat may go"
        # ...stops refreshing once the grace is over, and the culler shuts it down.
        while _kernel(server, kernel_id) is not None:
            assert time.monotonic() - closed < 60, f"the closed page's kernel was not culled:\n{server.log_tail()}"
            time.sleep(0.5)
        assert time.monotonic() - closed > cull_idle_s


# -- kernel bounds and the token: plain HTTP requests, no browser ---------------------------------

TOKEN = "dashboard-test-token"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"  # the page's widget tree, drawn by the browser


def _get(url: str) -> tuple[int, str, float]:
    """(status, body, seconds) of a GET that never opens a websocket, as ``curl`` does."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=180) as response:
            return response.status, response.read().decode(errors="replace"), time.monotonic() - started
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace"), time.monotonic() - started


def _kernel_processes(server: DashboardServer) -> int:
    """Kernels alive under the server (a shut-down kernel may linger a moment as a zombie: not counted)."""
    import psutil

    count = 0
    for child in psutil.Process(server.process.pid).children():
        try:
            count += child.status() != psutil.STATUS_ZOMBIE and "ipykernel" in " ".join(child.cmdline())
        except psutil.Error:  # gone meanwhile
            pass
    return count


@pytest.mark.slow
def test_page_loads_need_the_token_are_bounded_and_unconnected_kernels_are_culled(fleet_dir, tmp_path):
    max_kernels, pool, timeout_s = 2, 2, 3  # one preheated kernel per page (2 pages) waits on top of the maximum
    env = {**_server_env(f"duckdb:///{fleet_dir / 'metrics.duckdb'}", fleet_dir / "inventory.csv", refresh_s=0),
           "VIGILEOS_DASHBOARD_TOKEN": TOKEN}
    with start_dashboard_server(env=env, log_path=tmp_path / "voila.log", max_kernels=max_kernels,
                                unconnected_timeout_s=timeout_s, cull_interval_s=1) as server:
        page = f"{server.overview_url}&{PINNED}"
        assert server.overview_url.endswith(f"?token={TOKEN}")
        # The token: a request without it (or with a wrong one) is refused, and starts no kernel.
        bare = f"{server.url}voila/render/fleet_overview.ipynb?{PINNED}"
        for url in (bare, f"{bare}&token=wrong", server.url, f"{server.url}voila/files/fleet_overview.ipynb"):
            status, body, _ = _get(url)
            assert status == 403, (url, status, body[:500])
        assert "This dashboard needs its token" in _get(bare)[1]
        for _ in range(max_kernels):
            status, body, _ = _get(page)
            assert status == 200 and WIDGET_VIEW in body and VOILA_ERROR_TEXT not in body, body[:500]
        status, body, seconds = _get(page)
        assert status == 503 and "Too many dashboard pages open (2, the maximum)" in body, (status, body[:500])
        assert seconds < 5, f"the refusal took {seconds:.1f} s"
        assert _kernel_processes(server) <= max_kernels + pool
        # Nobody connects to these pages: their kernels go once the timeout has passed.
        deadline = time.monotonic() + 60
        while _kernel_processes(server) > pool:
            assert time.monotonic() < deadline, f"unconnected kernels were not culled:\n{server.log_tail()}"
            time.sleep(0.5)
        assert "no page connected for" in server.log_path.read_text()
        status, body, _ = _get(page)  # room again
        assert status == 200, body[:500]


def test_an_exposed_address_without_a_token_is_refused(fleet_dir):
    from click.testing import CliRunner

    from vigileos_analytics.cli import main
    from vigileos_analytics.errors import ConfigurationError

    env = _server_env(f"duckdb:///{fleet_dir / 'metrics.duckdb'}", fleet_dir / "inventory.csv")
    result = CliRunner().invoke(main, ["dashboard", "--host", "0.0.0.0", "--no-browser"], env={
        **{k: "" for k in os.environ if k.startswith("VIGILEOS_")}, **env, "VIGILEOS_DASHBOARD_TOKEN": ""})
    assert result.exit_code != 0
    assert "Refusing to serve the dashboards on 0.0.0.0 without VIGILEOS_DASHBOARD_TOKEN" in result.output
    assert "Traceback" not in result.output
    with pytest.raises(ConfigurationError, match="reverse proxy"):
        start_dashboard_server(host="192.0.2.1", env=env)


@browser_test
def test_a_page_served_by_plain_voila_draws_its_charts_with_the_library_the_kernel_sends(page, fleet_dir, tmp_path):
    """Without the dashboard server's route for plotly.js and without JupyterLab's plotly
    renderer (plain Voila, its plotly extension denied), the chart asks its kernel for the
    library and draws all the same."""
    port = free_port()
    env = _server_env(f"duckdb:///{fleet_dir / 'metrics.duckdb'}", fleet_dir / "inventory.csv", refresh_s=0)
    notebook = default_notebooks_dir() / "fleet_overview.ipynb"
    with (tmp_path / "voila.log").open("wb") as log:
        voila = subprocess.Popen([sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}",
                                  "--Voila.ip=127.0.0.1", "--show_tracebacks=False",
                                  '--VoilaConfiguration.extension_denylist=["jupyterlab-plotly"]'], env=env, stdout=log,
                                 stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}/"
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    urllib.request.urlopen(url + "voila/static/voila.js", timeout=2).close()
                    break
                except OSError:
                    time.sleep(0.5)
            missing = []
            # Plain Voila redirects the unknown address to its files handler, which refuses it.
            page.on("response", lambda r: missing.append(r.url) if r.status >= 400 and "plotly" in r.url else None)
            _open(page, f"{url}?{PINNED}&refresh=0")
            page.wait_for_function("() => document.querySelector('.vigileos-ranking .js-plotly-plot')?.data?.[0]",
                                   timeout=120_000)
            assert len(_trace(page, ".vigileos-ranking", 0, "x")) == 6
            assert missing and "vigileos/static/plotly-basic.min.js" in missing[0]  # the route was not there
            assert page.evaluate("window.Plotly.version") == PLOTLY_JS_VERSION
        finally:
            voila.terminate()
            voila.wait(timeout=30)
