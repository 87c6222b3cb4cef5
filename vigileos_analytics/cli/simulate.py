"""``vigileos simulate``: fill the store with a realistic simulated fleet."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import click

from .common import DURATION, TIME, AppContext, console, handle_errors, pass_app


@click.command("simulate")
@click.option("--equipment", "-n", type=click.IntRange(1, 100_000), default=25, show_default=True,
              help="How many equipment to simulate.")
@click.option("--days", type=click.FloatRange(0, 3660, min_open=True), default=30.0, show_default=True,
              help="How many days of history, ending at --end.")
@click.option("--resolution", type=DURATION, default="1m", show_default=True,
              help="Availability sampling interval.")
@click.option("--metrics-resolution", type=DURATION, default="5m", show_default=True,
              help="Interval of CPU / memory / response time / temperature / power / traffic.")
@click.option("--end", type=TIME, default=None, help="End of the history (default: now).")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed: same seed, same fleet.")
@click.option("--truth-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write failures / maintenance / gaps CSV (default: beside the inventory, in truth/).")
@click.option("--overwrite-inventory", is_flag=True,
              help="Replace the inventory CSV (VIGILEOS_INVENTORY) even if the simulator did not write it; "
                   "without this, an inventory of your own is refused and left as it is.")
@click.option("--follow", "follow_live", is_flag=True,
              help="After the history, keep writing live points at wall-clock pace until Ctrl-C.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@pass_app
@handle_errors
def simulate(app: AppContext, equipment: int, days: float, resolution: timedelta, metrics_resolution: timedelta,
             end: datetime | None, seed: int, truth_dir: Path | None, overwrite_inventory: bool, follow_live: bool,
             quiet: bool) -> None:
    """Simulate a fleet (seasonality, noise, maintenance, failures with degradation)
    into the store, and write its inventory and the truth beside it.

    An existing inventory CSV is replaced only if the simulator wrote it (and it was
    not edited since), or with --overwrite-inventory; otherwise nothing is written
    and the exit code is 3."""
    # imported here, not at the top: `vigileos --help` must not pay for pandas
    from ..ingest.simulate import FleetSpec
    from ..ingest.simulation_io import check_inventory_replaceable, follow, simulate_into_store

    if not overwrite_inventory:  # before the store is opened: a refusal leaves nothing behind
        check_inventory_replaceable(app.settings.inventory_path)
    spec = FleetSpec(equipment=equipment, days=days, resolution=resolution, metrics_resolution=metrics_resolution,
                     end=end, seed=seed)
    inventory_path = app.settings.inventory_path
    truth_dir = truth_dir or inventory_path.parent / "truth"
    outcome = simulate_into_store(app.store, spec, inventory_path, truth_dir, progress=not quiet,
                                  overwrite_inventory=overwrite_inventory)
    console.print(f"Simulated {equipment} equipment over {days:g} days: {outcome.points:,} points in "
                  f"{outcome.seconds:.1f} s ({outcome.points / max(outcome.seconds, 1e-9):,.0f} points/s) into "
                  f"{app.store_url}.\nInventory: {inventory_path}   truth: {truth_dir}")
    if follow_live:
        console.print("Following: writing live points every "
                      f"{resolution.total_seconds():g} s. Press Ctrl-C to stop.")
        written = follow(app.store, spec)
        console.print(f"Stopped; {written:,} live points written.")
