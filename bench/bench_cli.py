"""CLI start-up: wall time of ``vigileos`` commands beside ``python -c "import click"``.

    .venv/bin/python bench/bench_cli.py [--repeats 5]

Every run is a fresh process, as a user's shell would start it; the reference is
measured in the same run. Goals: ``vigileos --help`` within 3x the reference,
``vigileos record`` within 6x. Runs on a temporary embedded store and without
VIGILEOS_* / INFLUXDB_* settings. Prints a table; not a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOALS = {"--help": 3.0, "record": 6.0}


def vigileos_command() -> list[str]:
    script = Path(sys.executable).with_name("vigileos")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "vigileos_analytics"]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("VIGILEOS_", "INFLUXDB_"))}


def wall_time(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="vigileos-bench-cli-"))
    store = ["--store", f"duckdb:///{(folder / 'bench.duckdb').resolve()}"]
    vigileos = vigileos_command()
    cases = [
        ('python -c "import click"', [sys.executable, "-c", "import click"]),
        ("--help", [*vigileos, "--help"]),
        ("report --help", [*vigileos, "report", "--help"]),
        ("record", [*vigileos, *store, "record", "EQ-B", "cpu_usage", "1"]),
        ("check --no-round-trip", [*vigileos, *store, "check", "--no-round-trip"]),
        ("config", [*vigileos, "config"]),
    ]
    env = clean_env()
    try:
        subprocess.run(cases[3][1], env=env, cwd=folder, check=True, stdout=subprocess.DEVNULL)  # create the store
        print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; {args.repeats} runs each; "
              f"vigileos = {' '.join(vigileos)}")
        print(f"{'command':<28}{'median s':>10}{'min s':>9}{'x ref':>8}  goal")
        # Round-robin: a burst of load from elsewhere hits every command, not just one.
        times: dict[str, list[float]] = {name: [] for name, _ in cases}
        for _ in range(args.repeats):
            for name, command in cases:
                times[name].append(wall_time(command, env, folder))
        reference = None
        for name, _ in cases:
            median, best = statistics.median(times[name]), min(times[name])
            reference = reference or median
            ratio = median / reference
            goal = GOALS.get(name)
            verdict = "" if goal is None else f"<= {goal:g}x: {'met' if ratio <= goal else 'not met'}"
            print(f"{name:<28}{median:>10.3f}{best:>9.3f}{ratio:>8.1f}  {verdict}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
