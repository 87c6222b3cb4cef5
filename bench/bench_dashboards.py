"""Dashboard speed in a real browser: time to the first complete render of the fleet
overview, and the time of one refresh, for 25 and 100 equipment x 30 days.

"Complete" means the page's first render is done (the 'updated at' line carries
its refresh counter) and the ranking chart is drawn. A refresh is timed from a
click on the Refresh button to the counter's next value. Goal: under 5 s for 100
equipment. Run::

    .venv/bin/python bench/bench_dashboards.py [--equipment 25 100] [--days 30] [--repeat 3]

Numbers depend heavily on other load on the machine: the script prints the load
average beside them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import sync_playwright

from vigileos_analytics.dashboards.server import start_dashboard_server
from vigileos_analytics.ingest.simulate import FleetSpec
from vigileos_analytics.ingest.simulation_io import simulate_into_store
from vigileos_analytics.stores import open_store

END = datetime(2024, 2, 1, tzinfo=UTC)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
READY = ".vigileos-updated [data-refreshes]"


def seed(folder: Path, equipment: int, days: float) -> float:
    started = time.perf_counter()
    store = open_store(f"duckdb:///{folder / 'metrics.duckdb'}")
    simulate_into_store(store, FleetSpec(equipment=equipment, days=days, end=END, seed=5),
                        folder / "inventory.csv", None, progress=False)
    return time.perf_counter() - started


def measure(browser, url: str) -> tuple[float, float]:
    """(seconds to the first complete render, seconds of one refresh)."""
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.set_default_timeout(300_000)
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(READY)
    page.wait_for_selector(".vigileos-ranking .js-plotly-plot")
    first = time.perf_counter() - started
    count = int(page.get_attribute(READY, "data-refreshes"))
    started = time.perf_counter()
    page.click(".vigileos-overview button")
    page.wait_for_function(f"() => Number(document.querySelector('{READY}').dataset.refreshes) > {count}")
    refresh = time.perf_counter() - started
    page.close(run_before_unload=True)
    return first, refresh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--equipment", type=int, nargs="+", default=[25, 100])
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--settle", type=float, default=10.0,
                        help="seconds between two page loads, for the pool's next preheated kernel to get ready")
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for equipment in args.equipment:
            with tempfile.TemporaryDirectory(prefix="vigileos-bench-") as tmp:
                folder = Path(tmp)
                seeded = seed(folder, equipment, args.days)
                env = {**os.environ, "VIGILEOS_STORE_URL": f"duckdb:///{folder / 'metrics.duckdb'}",
                       "VIGILEOS_INVENTORY": str(folder / "inventory.csv"), "VIGILEOS_DASHBOARD_REFRESH": "0"}
                with start_dashboard_server(env=env, log_path=folder / "voila.log") as server:
                    for period in ("24h", "30d"):
                        url = f"{server.overview_url}?now=2024-02-01T00:00Z&range={period}&refresh=0"
                        runs = []
                        for _ in range(args.repeat):
                            time.sleep(args.settle)  # let the pool's next preheated kernel finish its imports
                            runs.append(measure(browser, url))
                        firsts, refreshes = zip(*runs, strict=True)
                        print(f"{equipment:4d} equipment x {args.days:g} d, range {period:>3}: first render "
                              f"median {statistics.median(firsts):5.2f} s (min {min(firsts):.2f}), refresh median "
                              f"{statistics.median(refreshes):5.2f} s   [seeded in {seeded:.1f} s; load average "
                              f"{os.getloadavg()[0]:.1f}]", flush=True)
        browser.close()


if __name__ == "__main__":
    main()
