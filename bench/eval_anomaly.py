"""Evaluate the causal anomaly scorer on synthetic series and on the NAB subset.

Synthetic: five kinds (spikes, level shifts, slow drifts, changed noise, a stuck
sensor) are injected into noisy series with a daily cycle (5-minute points), plus
clean series for false alarms. An anomaly counts as detected when an anomaly window
starts inside its labelled span; precision is the share of anomaly windows that
start inside a labelled span or its 12-hour aftermath; the delay is from the
anomaly's start to the first anomalous point.

NAB: the package's scorer and a causal rolling z-score reference are scored in the
same run by the Numenta Anomaly Benchmark's own scorer (threshold optimised per
profile, as NAB does), on ``../shared/benchmarks/nab`` (see its README; its
``setup.sh`` makes the Python NAB's scorer needs). Per-corpus figures use NAB's
normalisation (100 = every window found at its start, 0 = the null detector).

    .venv/bin/python bench/eval_anomaly.py --series 40
    .venv/bin/python bench/eval_anomaly.py --series 0 --nab     # NAB only
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from vigileos_analytics.analytics.anomaly import THRESHOLD, anomaly_windows, score_series

STEP_MIN = 5
N = 1500
#: Windows starting up to this many points (12 h) after a labelled span are its aftermath
#: (the baseline still holds the anomaly), not separate false alarms.
AFTERMATH = 144
KINDS = ("spike", "level", "drift", "noise", "stuck", "none")
NAB_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks" / "nab"
PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
CORPORA = ("realKnownCause", "artificialWithAnomaly", "artificialNoAnomaly")


def labelled_series(kind: str, rng: np.random.Generator) -> tuple[np.ndarray, int, int]:
    """(values, label start, label end) with the anomaly of ``kind`` injected at a random point."""
    t = np.arange(N)
    sigma = 1.0
    noise = np.zeros(N)
    e = rng.normal(0, sigma, N)
    phi = rng.uniform(0.0, 0.5)
    for i in range(1, N):  # AR(1) noise: real metrics are mildly autocorrelated
        noise[i] = phi * noise[i - 1] + e[i]
    cycle = rng.uniform(0, 4) * np.sin(2 * np.pi * t / (24 * 60 / STEP_MIN) + rng.uniform(0, 6.3))
    x = 50 + cycle + noise
    a = int(rng.integers(600, 1100))
    if kind == "spike":
        x[a] += rng.choice([-1, 1]) * rng.uniform(8, 15)
        return x, a, a + 1
    if kind == "level":
        x[a:] += rng.choice([-1, 1]) * rng.uniform(4, 8)
        return x, a, a + 144
    if kind == "drift":
        x[a:] += (t[a:] - a) * rng.uniform(4, 8) / 300.0
        return x, a, N
    if kind == "noise":
        x[a:a + 200] += noise[a:a + 200] * (rng.uniform(3, 5) - 1)
        return x, a, a + 200
    if kind == "stuck":
        x[a:a + 60] = x[a]
        return x, a, a + 60
    return x, -1, -1


def evaluate(n_series: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    times = pd.date_range("2024-01-01", periods=N, freq=f"{STEP_MIN}min", tz="UTC").as_unit("ns")
    for kind in KINDS:
        hits = windows = good_windows = 0
        delays = []
        for _ in range(n_series):
            x, a, b = labelled_series(kind, rng)
            scored = score_series(times, x)
            found = anomaly_windows(scored)
            starts = np.searchsorted(times.asi8, found["start"].to_numpy("datetime64[ns]").astype("int64"))
            ends = np.searchsorted(times.asi8, found["end"].to_numpy("datetime64[ns]").astype("int64"))
            windows += len(found)
            if a < 0:
                continue
            inside = (ends >= a) & (starts < b + AFTERMATH)
            good_windows += int(inside.sum())
            if inside.any():
                hits += 1
                hot = np.flatnonzero(scored["score"].to_numpy()[a:b + AFTERMATH] >= THRESHOLD)
                delays.append(hot[0] * STEP_MIN)
        rows.append({
            "kind": kind, "series": n_series,
            "recall": hits / n_series if kind != "none" else np.nan,
            "precision": good_windows / windows if windows and kind != "none" else np.nan,
            "false windows / 1000 pts": (windows - good_windows) / (n_series * N) * 1000,
            "median delay (min)": float(np.median(delays)) if delays else np.nan,
            "mean delay (min)": float(np.mean(delays)) if delays else np.nan,
        })
    return pd.DataFrame(rows)


# --- NAB ---------------------------------------------------------------------------------

def zscore_reference(values: pd.Series) -> np.ndarray:
    """The reference: causal rolling z-score over 288 points, ``|z| / 8`` clipped to [0, 1]."""
    roll = values.rolling(288, min_periods=2)
    z = (values - roll.mean()) / roll.std()
    return np.nan_to_num(np.clip(z.abs().to_numpy() / 8.0, 0.0, 1.0))


def package_scorer(values: pd.Series) -> np.ndarray:
    """The package's scorer with its defaults."""
    # By position: one NAB file has a timestamp that steps back, which score_series refuses.
    return score_series(None, values.to_numpy())["score"].to_numpy()


def _write_results(nab: Path, name: str, detect: Callable[[pd.Series], np.ndarray],
                   windows: dict[str, list[list[str]]]) -> tuple[float, dict[str, np.ndarray]]:
    """Write NAB result files for one detector; returns (scoring seconds, scores per file)."""
    seconds, scores = 0.0, {}
    for rel, wins in sorted(windows.items()):
        frame = pd.read_csv(nab / "data" / rel)
        ts = pd.to_datetime(frame["timestamp"])
        started = time.perf_counter()
        score = np.clip(np.asarray(detect(pd.Series(frame["value"].to_numpy(float), index=ts)), float), 0, 1)
        seconds += time.perf_counter() - started
        scores[rel] = score
        label = np.zeros(len(frame), dtype=int)
        for s, e in wins:
            label[(ts >= pd.Timestamp(s)).to_numpy() & (ts <= pd.Timestamp(e)).to_numpy()] = 1
        corpus, fname = rel.split("/")
        (nab / "results" / name / corpus).mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"timestamp": frame["timestamp"], "value": frame["value"], "anomaly_score": score,
                      "label": label}).to_csv(nab / "results" / name / corpus / f"{name}_{fname}", index=False)
    return seconds, scores


def _per_corpus(nab: Path, name: str, windows: dict[str, list[list[str]]]) -> dict[tuple[str, str], float]:
    """NAB-normalised score per (profile, corpus); raw score for corpora without windows."""
    costs = json.loads((nab / "config" / "profiles.json").read_text())
    out = {}
    for profile in PROFILES:
        rows = pd.read_csv(nab / "results" / name / f"{name}_{profile}_scores.csv")
        rows = rows[rows["File"].astype(str).str.contains("/")]
        weights = costs[profile]["CostMatrix"]
        for corpus in CORPORA:
            mine = rows[rows["File"].str.startswith(corpus + "/")]
            n_windows = sum(len(w) for rel, w in windows.items() if rel.startswith(corpus + "/"))
            raw = float(mine["Score"].sum())
            if n_windows == 0:
                out[(profile, corpus)] = raw
                continue
            null = -weights["fnWeight"] * n_windows
            out[(profile, corpus)] = 100 * (raw - null) / (weights["tpWeight"] * n_windows - null)
    return out


def evaluate_nab(detectors: dict[str, Callable[[pd.Series], np.ndarray]], nab_python: str) -> pd.DataFrame:
    """Score each detector with NAB's own scorer in one run; one row per detector."""
    work = Path(tempfile.mkdtemp(prefix="nab-"))
    try:
        nab = work / "nab"
        shutil.copytree(NAB_DIR, nab)
        for path in nab.rglob("*"):
            path.chmod(path.stat().st_mode | 0o200)
        windows = json.loads((nab / "labels" / "combined_windows.json").read_text())
        thresholds = json.loads((nab / "config" / "thresholds.json").read_text())
        timing, scores = {}, {}
        for name, detect in detectors.items():
            timing[name], scores[name] = _write_results(nab, name, detect, windows)
            thresholds[name] = {p: {"score": 0.0, "threshold": THRESHOLD} for p in PROFILES}
        (nab / "config" / "thresholds.json").write_text(json.dumps(thresholds, indent=2))
        run = subprocess.run([nab_python, "run.py", "--optimize", "--score", "--normalize", "-n", "1",
                              "-d", ",".join(detectors), "--skipConfirmation"],
                             cwd=nab, capture_output=True, text=True, check=False)
        if run.returncode != 0 or "Final score" not in run.stdout:
            raise RuntimeError(run.stdout[-2000:] + run.stderr[-2000:])
        chosen = json.loads((nab / "config" / "thresholds.json").read_text())
        rows = []
        for name in detectors:
            row: dict[str, object] = {"detector": name}
            for line in run.stdout.splitlines():
                if f"'{name}' detector" in line and "Final score" in line:
                    profile = line.split("'")[3]
                    row[f"{profile} overall"] = float(line.rsplit("=", 1)[1])
            for (profile, corpus), value in _per_corpus(nab, name, windows).items():
                row[f"{profile} {corpus}"] = value
            for profile in PROFILES:
                row[f"{profile} threshold"] = chosen[name][profile]["threshold"]
            quiet = [s for rel, s in scores[name].items() if rel.startswith("artificialNoAnomaly/")]
            row["noAnomaly share >= THRESHOLD (%)"] = 100 * float(np.mean(np.concatenate(quiet) >= THRESHOLD))
            row["noAnomaly detections"] = sum(int(np.sum(np.diff(np.r_[0, s >= THRESHOLD].astype(int)) == 1))
                                              for s in quiet)
            row["scoring time (s)"] = timing[name]
            rows.append(row)
        return pd.DataFrame(rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def print_nab(table: pd.DataFrame) -> None:
    short = {"standard": "std", "reward_low_FP_rate": "lowFP", "reward_low_FN_rate": "lowFN"}
    for name, row in table.set_index("detector").iterrows():
        print(f"{name}: scoring {row['scoring time (s)']:.2f} s; artificialNoAnomaly: "
              f"{row['noAnomaly share >= THRESHOLD (%)']:.2f} % of points >= {THRESHOLD}, "
              f"{row['noAnomaly detections']} detections")
        for profile in PROFILES:
            parts = [f"{c} {row[f'{profile} {c}']:.1f}" for c in CORPORA]
            print(f"  {short[profile]:>5}: overall {row[f'{profile} overall']:.1f} | " + " | ".join(parts)
                  + f" | NAB threshold {row[f'{profile} threshold']:.3f}")
    print("(artificialNoAnomaly: NAB's raw score, 0 = no false positive; other corpora normalised, 100 = perfect)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=40, help="synthetic series per kind (0: skip)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--nab", action="store_true", help="also score the NAB subset")
    parser.add_argument("--nab-python", default=os.environ.get(
        "NAB_PYTHON", os.path.join(tempfile.gettempdir(), "nab-venv", "bin", "python")))
    args = parser.parse_args()
    if args.series:
        started = time.perf_counter()
        table = evaluate(args.series, args.seed)
        print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        print(f"threshold {THRESHOLD}; {args.series} series of {N} points per kind; "
              f"{time.perf_counter() - started:.1f} s")
    if args.nab:
        if not NAB_DIR.is_dir() or not os.path.exists(args.nab_python):
            raise SystemExit(f"NAB needs {NAB_DIR} and a NAB Python at {args.nab_python} (run its setup.sh).")
        print_nab(evaluate_nab({"vigileos": package_scorer, "zscoreref": zscore_reference}, args.nab_python))


if __name__ == "__main__":
    main()
