"""Dashboard speed in a real browser, beside the in-process time of the same analytics calls.

For each fleet (default 100 equipment x 30 days; ``--equipment 1000`` for the large
one), page (fleet overview, equipment detail) and range (24 h, 30 d), in Chromium:

- **first render**: from navigation to the page complete (its 'updated at' line carries
  the refresh counter and every chart is drawn);
- **refresh**: from a click on Refresh to the counter's next value with the charts redrawn;
- **in-process**: in a fresh process, on the same store, what the page reads and computes
  (its ``compute``: the overview's or detail's model, SLAs included: the data work) and the whole page render without
  a browser (the data work plus figures, HTML panels and widgets);

and the breakdown of a first render: the server's answer (HTML complete: the preheated
kernel ran the request's cells), the widgets drawn (scripts loaded, websocket connected,
first render done), the charts drawn, the CPU seconds Chromium spent on it (all its
processes; the machine's load stretches wall time, not this), and the bytes the page
received over its websocket.
Loads share one browser profile (a returning visitor's cache); the first load of a run,
with an empty cache, is printed on its own. A cold kernel's imports are timed once in a subprocess
(what a page would wait for without a preheated kernel). Goals: first render
at most 2x the in-process data work and 2 s, refresh 1 s, 1,000 equipment 4 s. Run::

    .venv/bin/python bench/bench_dashboards.py [--equipment 100 1000] [--days 30] [--repeat 3]

The machine is shared: numbers move with its load (printed beside them); compare the
ratios, which are measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
from playwright.sync_api import sync_playwright

from vigileos_analytics.dashboards.server import start_dashboard_server
from vigileos_analytics.ingest.simulate import FleetSpec
from vigileos_analytics.ingest.simulation_io import simulate_into_store
from vigileos_analytics.stores import open_store

END = datetime(2024, 2, 1, tzinfo=UTC)
PINNED = "now=2024-02-01T00:00Z"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
READY = ".vigileos-updated [data-refreshes]"
#: Charts each page draws (overview: the ranking; detail: timeline, three metrics, other metrics).
CHARTS = {"overview": 1, "detail": 5}
_CHARTS_DRAWN = """n => document.querySelectorAll('.vigileos-slot .js-plotly-plot .main-svg').length >= n"""
_COUNTER_ABOVE = "n => Number(document.querySelector('.vigileos-updated [data-refreshes]')?.dataset.refreshes) > n"


def seed(folder: Path, equipment: int, days: float) -> float:
    started = time.perf_counter()
    store = open_store(f"duckdb:///{folder / 'metrics.duckdb'}")
    simulate_into_store(store, FleetSpec(equipment=equipment, days=days, end=END, seed=5),
                        folder / "inventory.csv", None, progress=False)
    return time.perf_counter() - started


def cold_imports_s(env: dict[str, str]) -> float:
    """Seconds a fresh Python takes to import what a page imports (a kernel that was not preheated)."""
    code = ("import time; t = time.perf_counter(); from vigileos_analytics.dashboards import OverviewPage; "
            "print(time.perf_counter() - t)")
    return float(subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True,
                                text=True).stdout)


def in_process(env: dict[str, str], page_name: str, query: str, repeat: int) -> tuple[float, float]:
    """(median seconds of the page's analytics calls, median seconds of the whole page render), both
    in a fresh subprocess on the same store, after one warm-up call (as the preheated kernel has imported)."""
    code = f"""
import statistics, sys, time
from vigileos_analytics.dashboards import DetailPage, OverviewPage, parse_params
params = parse_params({query!r})
page = {'OverviewPage' if page_name == 'overview' else 'DetailPage'}.open(params)
def data():
    page.compute(page.context.now())  # what the page reads and computes (SLAs included), no widgets
def timed(f):
    t = time.perf_counter(); f(); return time.perf_counter() - t
page.refresh_sync()
data_s = statistics.median(timed(data) for _ in range({repeat}))
page_s = statistics.median(timed(page.refresh_sync) for _ in range({repeat}))
print(data_s, page_s)
"""
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True).stdout
    data_s, page_s = (float(x) for x in out.split())
    return data_s, page_s


def browser_cpu_s() -> float:
    """CPU seconds used so far by this process's Chromium processes: the browser's own work,
    which the machine's load stretches in wall time but does not change."""
    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            if "chrom" in child.name():
                times = child.cpu_times()
                total += times.user + times.system
        except psutil.Error:
            pass
    return total


def measure(context, url: str, page_name: str) -> dict[str, float]:
    """One page load and one refresh; seconds of each phase, the browser's CPU seconds for the
    first render and the websocket bytes received."""
    tab = context.new_page()
    tab.set_default_timeout(120_000)
    received = [0]
    tab.on("websocket", lambda ws: ws.on("framereceived", lambda frame: received.__setitem__(
        0, received[0] + len(frame if isinstance(frame, (bytes, str)) else b""))))
    cpu_before = browser_cpu_s()
    started = time.perf_counter()
    response = tab.goto(url, wait_until="commit")
    response.finished()
    html = time.perf_counter() - started
    tab.wait_for_selector(READY)
    widgets = time.perf_counter() - started
    tab.wait_for_function(_CHARTS_DRAWN, arg=CHARTS[page_name])
    first = time.perf_counter() - started
    first_cpu = browser_cpu_s() - cpu_before
    first_bytes = received[0]
    count = int(tab.get_attribute(READY, "data-refreshes"))
    started = time.perf_counter()
    tab.click(".vigileos-refresh")
    tab.wait_for_function(_COUNTER_ABOVE, arg=count)
    tab.wait_for_function(_CHARTS_DRAWN, arg=CHARTS[page_name])
    refresh = time.perf_counter() - started
    tab.close(run_before_unload=True)
    return {"html": html, "widgets": widgets - html, "charts": first - widgets, "first": first,
            "refresh": refresh, "mb": first_bytes / 1e6, "cpu": first_cpu}


def run_fleet(browser, folder: Path, equipment: int, args: argparse.Namespace) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("VIGILEOS_")},
           "VIGILEOS_STORE_URL": f"duckdb:///{folder / 'metrics.duckdb'}",
           "VIGILEOS_INVENTORY": str(folder / "inventory.csv"), "VIGILEOS_DASHBOARD_REFRESH": "0"}
    print(f"cold kernel imports (a page without a preheated kernel would wait for them): "
          f"{cold_imports_s(env):.2f} s", flush=True)
    with start_dashboard_server(env=env, log_path=folder / "voila.log") as server:
        # One browser profile, as a returning visitor's: its first load fetches the page's
        # scripts (about 10 MB), later ones take them from the cache.
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        time.sleep(args.settle)
        cold = measure(context, f"{server.overview_url}?{PINNED}&range=24h&refresh=0", "overview")
        print(f"first load with an empty browser cache (overview, 24h): {cold['first']:.2f} s "
              f"(server HTML {cold['html']:.2f} s)", flush=True)
        for page_name in args.pages:
            base = server.overview_url if page_name == "overview" else server.detail_url
            for period in args.ranges:
                query = f"{PINNED}&range={period}&refresh=0"
                query += "&equipment_id=EQ-0001" if page_name == "detail" else ""
                data_s, page_s = in_process(env, page_name, query, args.repeat)
                runs = []
                for _ in range(args.repeat):
                    time.sleep(args.settle)  # the pool's next preheated kernel finishes its imports meanwhile
                    runs.append(measure(context, f"{base}?{query}", page_name))
                med = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
                print(f"{equipment} eq x {args.days:g} d  {page_name:8s} {period:>3}: "
                      f"first render {med['first']:5.2f} s "
                      f"({med['first'] / data_s:4.1f}x data work), refresh {med['refresh']:5.2f} s "
                      f"({med['refresh'] / data_s:4.1f}x) | in-process: data work {data_s:5.2f} s, whole page "
                      f"{page_s:5.2f} s | breakdown: server HTML {med['html']:5.2f} s, "
                      f"widgets +{med['widgets']:4.2f} s, "
                      f"charts +{med['charts']:4.2f} s, browser CPU {med['cpu']:4.2f} s, "
                      f"websocket {med['mb']:5.2f} MB  "
                      f"[load {os.getloadavg()[0]:.1f}]",
                      flush=True)
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--equipment", type=int, nargs="+", default=[100], help="fleet sizes (e.g. 100 1000)")
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pages", nargs="+", choices=["overview", "detail"], default=["overview", "detail"])
    parser.add_argument("--ranges", nargs="+", choices=["24h", "7d", "30d"], default=["24h", "30d"])
    parser.add_argument("--settle", type=float, default=8.0,
                        help="seconds between two page loads, for the pool's next preheated kernel to get ready")
    parser.add_argument("--store-dir", type=Path, default=None,
                        help="reuse (or create) the seeded store in DIR/<equipment>x<days>d instead of a temporary one")
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for equipment in args.equipment:
            with tempfile.TemporaryDirectory(prefix="vigileos-bench-") as tmp:
                folder = (args.store_dir / f"{equipment}x{args.days:g}d") if args.store_dir else Path(tmp)
                if not (folder / "metrics.duckdb").exists():
                    folder.mkdir(parents=True, exist_ok=True)
                    seconds = seed(folder, equipment, args.days)
                    print(f"seeded {equipment} equipment x {args.days:g} d in {seconds:.1f} s", flush=True)
                run_fleet(browser, folder, equipment, args)
        browser.close()


if __name__ == "__main__":
    main()
