"""Remaining useful life from run-to-failure tables: one row per unit and time (or cycle),
sensor columns, and each unit's last row is its failure.

- :func:`read_run_table`: CSV, Parquet or whitespace-separated text (C-MAPSS's ``.txt``),
  validated (unit and time columns present, numeric sensors, at least two rows per unit);
- :func:`run_features`: per row, from that row and the ones before it of the same unit
  only: each sensor's value, rolling means over ``windows``, its slope over the longest
  window, its drift from the unit's first ``baseline`` rows, and the elapsed time;
- :func:`rul_target`: ``min(last time - time, cap)``;
- :func:`cross_validate_rul`: folds by unit; each held-out unit is cut at a random row,
  as in an official test split, and scored on its last kept row (RMSE and MAE over units)
  for the model and the constant baseline;
- :func:`train_rul`, :func:`score_rul`: a saved model with metadata; one prediction per unit.

Times are in the table's own unit (cycles, hours, ...); so is the remaining life.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import GroupKFold

from .. import __version__
from ..errors import ValidationError
from .models import ConstantRULRegressor
from .persist import TrainedModel

__all__ = ["RunSpec", "read_run_table", "validate_run_table", "informative_sensors", "run_features", "rul_target",
           "rul_regressor", "cross_validate_rul",
           "train_rul", "score_rul"]

_TEXT_SUFFIXES = (".txt", ".dat", ".tsv", ".ssv")


@dataclass(frozen=True)
class RunSpec:
    """Which columns are what, and the feature windows (in rows) and RUL cap (time unit)."""

    unit: str
    time: str
    sensors: tuple[str, ...] = ()
    cap: float = 125.0
    windows: tuple[int, ...] = (5, 20)
    baseline: int = 20

    def __post_init__(self) -> None:
        if not self.cap > 0:
            raise ValidationError(f"cap must be a positive number; got {self.cap!r}.", field="cap", value=self.cap)
        if not self.windows or min(self.windows) < 1 or self.baseline < 1:
            raise ValidationError(f"windows and baseline must be at least 1 row; got {self.windows!r} and "
                                  f"{self.baseline!r}.", field="windows")


def read_run_table(path: str | Path, unit: str, time: str, *, header: bool = True,
                   columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a run-to-failure table, sorted by unit and time. Without a header row, columns are
    named by ``columns`` or ``c1``, ``c2``, ... Raises ValidationError on anything unusable."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"run-to-failure table {path} does not exist.", field="path", value=str(path))
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            sep = r"\s+" if path.suffix.lower() in _TEXT_SUFFIXES else ","
            frame = pd.read_csv(path, sep=sep, header=0 if header else None)
    except (OSError, ValueError, ImportError) as exc:
        raise ValidationError(f"cannot read {path} as a table ({type(exc).__name__}: {exc}).",
                              field="path", value=str(path)) from exc
    if columns:
        if len(columns) != frame.shape[1]:
            raise ValidationError(f"--columns names {len(columns)} columns but {path.name} has {frame.shape[1]}.",
                                  field="columns")
        frame.columns = list(columns)
    elif not header:
        frame.columns = [f"c{i + 1}" for i in range(frame.shape[1])]
    frame.columns = [str(c) for c in frame.columns]
    return validate_run_table(frame, unit, time)


def validate_run_table(frame: pd.DataFrame, unit: str, time: str,
                       sensors: Sequence[str] | None = None) -> pd.DataFrame:
    """The table sorted by (unit, time), after checking columns, types and row counts."""
    missing = [c for c in (unit, time, *(sensors or ())) if c not in frame.columns]
    if missing:
        raise ValidationError(f"the table has no column {', '.join(map(repr, missing))}; its columns are "
                              f"{', '.join(map(str, frame.columns[:30]))}.", field="columns")
    if not pd.api.types.is_numeric_dtype(frame[time]):
        raise ValidationError(f"time column {time!r} must be numeric (a cycle or elapsed time); got "
                              f"{frame[time].dtype}.", field="time")
    others = [c for c in (sensors or frame.columns) if c not in (unit, time)]
    bad = [c for c in others if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise ValidationError(f"sensor columns must be numeric; {', '.join(map(repr, bad[:10]))} are not. "
                              "Choose the unit and time columns, or drop these columns.", field="sensors")
    if frame.empty:
        raise ValidationError("the run-to-failure table has no rows.", field="rows")
    counts = frame.groupby(unit, sort=False)[time].size()
    short = counts[counts < 2]
    if len(short):
        raise ValidationError(f"every unit needs at least 2 rows; unit(s) {', '.join(map(str, short.index[:10]))} "
                              "have 1.", field="rows")
    out = frame.sort_values([unit, time], kind="stable").reset_index(drop=True)
    if out.duplicated([unit, time]).any():
        raise ValidationError(f"a unit has two rows at the same {time!r}; each (unit, time) must be unique.",
                              field="time")
    return out


def _sensors(frame: pd.DataFrame, spec: RunSpec) -> list[str]:
    return list(spec.sensors) or [c for c in frame.columns if c not in (spec.unit, spec.time)]


def informative_sensors(frame: pd.DataFrame, spec: RunSpec) -> tuple[str, ...]:
    """The sensors that vary within units (constant ones carry no information)."""
    cols = _sensors(frame, spec)
    spread = frame.groupby(spec.unit, sort=False)[cols].std().mean()
    scale = frame[cols].abs().mean().replace(0, 1.0)
    return tuple(c for c in cols if spread[c] > 1e-6 * scale[c])


def run_features(frame: pd.DataFrame, spec: RunSpec) -> pd.DataFrame:
    """One feature row per table row (same order), using only rows of the same unit up to it."""
    sensors = _sensors(frame, spec)
    by = frame[spec.unit].to_numpy()
    grouped = frame.groupby(by, sort=False)
    step = grouped.cumcount().to_numpy("float64")
    elapsed = frame[spec.time] - grouped[spec.time].transform("first")
    parts: dict[str, Any] = {"elapsed": elapsed.to_numpy("float64")}
    values = frame[sensors].astype("float64")
    base = values.where(pd.Series(step < spec.baseline, index=frame.index), np.nan).groupby(by).transform("mean")
    longest = max(spec.windows)
    for w in spec.windows:
        rolled = values.groupby(by).rolling(w, min_periods=1).mean().reset_index(level=0, drop=True)
        for c in sensors:
            parts[f"{c}_mean{w}"] = rolled[c].to_numpy()
    # Least-squares slope over the last `longest` rows per unit, from rolling sums.
    t = pd.Series(step, index=frame.index)
    sums = lambda f: f.groupby(by).rolling(longest, min_periods=2).sum().reset_index(level=0, drop=True)  # noqa: E731
    n = sums(pd.DataFrame({"n": 1.0}, index=frame.index))["n"]
    st, stt = sums(t.to_frame("t"))["t"], sums((t * t).to_frame("t"))["t"]
    sy, sty = sums(values), sums(values.mul(t, axis=0))
    denom = (stt - st ** 2 / n).where(lambda d: d > 1e-9)
    early = step < spec.baseline
    for c in sensors:
        parts[f"{c}_now"] = values[c].to_numpy()
        parts[f"{c}_slope"] = ((sty[c] - st * sy[c] / n) / denom).to_numpy()
        drift = parts[f"{c}_mean{spec.windows[0]}"] - base[c].to_numpy()
        parts[f"{c}_drift"] = np.where(early, np.nan, drift)
    return pd.DataFrame(parts, index=frame.index)


def rul_target(frame: pd.DataFrame, spec: RunSpec) -> np.ndarray:
    """Remaining life of each row, capped: ``min(unit's last time - time, cap)``."""
    last = frame.groupby(spec.unit, sort=False)[spec.time].transform("max")
    return np.minimum((last - frame[spec.time]).to_numpy("float64"), spec.cap)


def rul_regressor(random_state: int = 0) -> HistGradientBoostingRegressor:
    """The gradient boosting used for run-to-failure tables (squared error: scored by RMSE)."""
    return HistGradientBoostingRegressor(max_iter=150, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=40,
                                         l2_regularization=1.0, random_state=random_state)


def _truncate(frame: pd.DataFrame, spec: RunSpec, rng: np.random.Generator, min_rows: int) -> np.ndarray:
    """Index of one random row per unit (at least ``min_rows`` into it when the unit is that long)."""
    starts = frame.groupby(spec.unit, sort=False).indices
    picks = []
    for rows in starts.values():  # one draw per unit
        low = min(min_rows, len(rows)) - 1
        picks.append(rows[rng.integers(low, len(rows))])
    return np.sort(np.asarray(picks))


def _scores(truth: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    err = pred - truth
    return float(np.sqrt(np.mean(err ** 2))), float(np.mean(np.abs(err)))


def cross_validate_rul(frame: pd.DataFrame, spec: RunSpec, *, folds: int = 5, random_state: int = 0,
                       min_rows: int = 31) -> pd.DataFrame:
    """Cross-validation by unit: per fold and model ("model", "constant"), RMSE and MAE over the
    held-out units, each cut at a random row (at least ``min_rows`` in) and compared with its
    capped remaining life there. The last row is the mean over folds (fold "mean")."""
    frame = validate_run_table(frame, spec.unit, spec.time, spec.sensors or None)
    units = frame[spec.unit].unique()
    if not 2 <= folds <= len(units):
        raise ValidationError(f"cross-validation needs 2 to {len(units)} folds (one unit per fold at most); "
                              f"got {folds}.", field="cv", value=folds)
    spec = _with_sensors(frame, spec)
    X, y = run_features(frame, spec).to_numpy("float64"), rul_target(frame, spec)
    rng = np.random.default_rng(random_state)
    order = rng.permutation(len(units))
    fold_of = dict(zip(units[order], np.arange(len(units)) % folds, strict=True))
    groups = frame[spec.unit].map(fold_of).to_numpy()
    rows = []
    for fold, (fit_idx, test_idx) in enumerate(GroupKFold(n_splits=folds).split(X, y, groups)):
        test = frame.iloc[test_idx].reset_index(drop=True)
        cut = test_idx[_truncate(test, spec, rng, min_rows)]
        for name, model in (("model", rul_regressor(random_state)), ("constant", ConstantRULRegressor("mean"))):
            pred = clone(model).fit(X[fit_idx], y[fit_idx]).predict(X[cut])
            rmse, mae = _scores(y[cut], np.clip(pred, 0, spec.cap))
            rows.append({"fold": str(fold + 1), "model": name, "units": len(cut), "rmse": rmse, "mae": mae})
    table = pd.DataFrame(rows)
    mean = table.groupby("model", sort=False)[["units", "rmse", "mae"]].mean().reset_index().assign(fold="mean")
    mean["units"] = table.groupby("model", sort=False)["units"].sum().to_numpy()
    return pd.concat([table, mean[table.columns]], ignore_index=True)


def _with_sensors(frame: pd.DataFrame, spec: RunSpec) -> RunSpec:
    sensors = informative_sensors(frame, spec)
    if not sensors:
        raise ValidationError("no sensor column varies within a unit; nothing to learn remaining life from.",
                              field="sensors")
    return RunSpec(spec.unit, spec.time, sensors, spec.cap, spec.windows, spec.baseline)


def train_rul(frame: pd.DataFrame, spec: RunSpec, *, folds: int | None = 5, random_state: int = 0) -> TrainedModel:
    """Fit the regressor on every row of every unit; with ``folds``, first cross-validate by
    unit (the table goes into the metadata's ``scores``). Save it with ``save_model``."""
    frame = validate_run_table(frame, spec.unit, spec.time, spec.sensors or None)
    scores = cross_validate_rul(frame, spec, folds=folds, random_state=random_state) if folds else None
    spec = _with_sensors(frame, spec)
    features = run_features(frame, spec)
    estimator = rul_regressor(random_state).fit(features.to_numpy("float64"), rul_target(frame, spec))
    metadata = {
        "kind": "run_to_failure", "model": "gradient_boosting", "target": "rul",
        "unit": spec.unit, "time": spec.time, "sensors": list(spec.sensors), "cap": spec.cap,
        "windows": list(spec.windows), "baseline": spec.baseline, "features": list(features.columns),
        "rows": int(len(frame)), "units": int(frame[spec.unit].nunique()),
        "scores": [] if scores is None else scores.to_dict(orient="records"),
        "versions": {"vigileos_analytics": __version__, "scikit-learn": sklearn.__version__},
    }
    return TrainedModel(estimator, metadata)


def score_rul(model: TrainedModel, frame: pd.DataFrame, *, unit: str | None = None,
              time: str | None = None) -> pd.DataFrame:
    """Remaining life of each unit from its last row: unit, last_time, rul (the time column's
    unit, capped like training), ordered by remaining life (shortest first)."""
    meta = model.metadata
    if meta.get("kind") != "run_to_failure":
        raise ValidationError("this model was not trained on a run-to-failure table; train one with "
                              "`vigileos predict rul train`.", field="model")
    spec = RunSpec(unit or meta["unit"], time or meta["time"], tuple(meta["sensors"]), float(meta["cap"]),
                   tuple(meta["windows"]), int(meta["baseline"]))
    frame = validate_run_table(frame, spec.unit, spec.time, spec.sensors)
    features = run_features(frame, spec)
    last = frame.groupby(spec.unit, sort=False).tail(1).index
    pred = np.clip(model.estimator.predict(features.loc[last, meta["features"]].to_numpy("float64")), 0, spec.cap)
    out = pd.DataFrame({"unit": frame.loc[last, spec.unit].to_numpy(), "last_time": frame.loc[last, spec.time]
                        .to_numpy(), "rul": pred})
    return out.sort_values(["rul", "unit"], kind="stable").reset_index(drop=True)
