"""``vigileos predict train`` / ``score`` on the store, and ``vigileos predict rul train`` /
``score`` on run-to-failure tables: thin over :mod:`vigileos_analytics.predictive`."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import click

from ..predictive import CLASSIFIERS, TARGETS
from .common import (
    DURATION,
    TIME,
    AppContext,
    console,
    emit_json,
    emit_table,
    handle_errors,
    json_option,
    pass_app,
    period_options,
    say,
)

DEFAULT_MODEL_PATH = "models/failure_model.joblib"
DEFAULT_RUL_PATH = "models/rul_model.joblib"


@click.group("predict")
def predict() -> None:
    """Predictive maintenance: train a failure or remaining-life model, score the fleet with it."""


@predict.command("train")
@period_options("now-60d")
@click.option("--target", type=click.Choice(TARGETS), default="fails-within", show_default=True,
              help="fails-within: risk of failing within --horizon; rul: hours to the next failure.")
@click.option("--horizon", type=DURATION, default="24h", show_default=True,
              help="Predict failures within this time after each snapshot.")
@click.option("--rul-cap", type=DURATION, default="3d", show_default=True,
              help="With --target rul: remaining life is learned and predicted up to this cap.")
@click.option("--metric", "metrics", multiple=True,
              help="A metric to build features from (repeatable; default: every numeric metric in the store).")
@click.option("--failures", "failures_path", type=click.Path(dir_okay=False, path_type=Path),
              help="CSV of failures (columns equipment_id,time) instead of the store's status changes.")
@click.option("--model", "model_name", type=click.Choice(CLASSIFIERS), default="gradient_boosting",
              show_default=True, help="Which model to fit (with --target rul: constant or gradient_boosting).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_MODEL_PATH,
              show_default=True, help="Model file (joblib); its metadata goes beside it as .json.")
@click.option("--no-evaluate", is_flag=True, help="Skip the held-out comparison with the baselines.")
@json_option
@pass_app
@handle_errors
def train(app: AppContext, start: datetime, end: datetime, target: str, horizon: timedelta, rul_cap: timedelta,
          metrics: tuple[str, ...], failures_path: Path | None, model_name: str, output: Path, no_evaluate: bool,
          as_json: bool) -> None:
    """Fit a model on the period's snapshots and save it with its metadata."""
    # imported here, not at the top: scikit-learn and pandas cost seconds at startup
    import pandas as pd

    from ..predictive import failure_events, save_model, train_model

    failures = failure_events(failures_path) if failures_path else None
    model = train_model(app.store, start, end, horizon=horizon, model=model_name, evaluate=not no_evaluate,
                        metrics=list(metrics) or None, failures=failures, target=target, rul_cap=rul_cap)
    path = save_model(model, output)
    if as_json:
        emit_json({"path": str(path), **model.metadata})
        return
    meta = model.metadata
    console.print(say("cli.predict.saved", model=meta["model"], target=meta["target"], path=path, rows=meta["rows"],
                      failures=meta["failures"], equipment=meta["equipment"],
                      metrics=", ".join(meta["feature_spec"]["metrics"])), highlight=False, soft_wrap=True)
    if meta["scores"]:
        emit_table(pd.DataFrame(meta["scores"]), title=say("cli.predict.scores"))


@predict.command("score")
@click.option("-m", "--model", "model_path", type=click.Path(dir_okay=False, path_type=Path),
              default=DEFAULT_MODEL_PATH, show_default=True, help="Model file written by `predict train`.")
@click.option("--at", "now", type=TIME, default="now", show_default=True, help="Score the fleet as of this time.")
@click.option("--equipment", "equipment_ids", multiple=True, help="Only these equipment (default: all).")
@json_option
@pass_app
@handle_errors
def score(app: AppContext, model_path: Path, now: datetime, equipment_ids: tuple[str, ...], as_json: bool) -> None:
    """Risk of failing within the model's horizon (highest first), or remaining life in hours
    (shortest first) for a ``--target rul`` model, per operational equipment."""
    from ..predictive import load_model, score_fleet

    model = load_model(model_path)
    frame = score_fleet(app.store, model, now, list(equipment_ids) or None)
    meta = model.metadata
    is_rul = meta.get("target") == "rul"
    shown = frame[["equipment_id", "time", "rul_hours"] if is_rul else ["equipment_id", "time", "risk", "warning"]]
    if as_json:
        emit_json(shown)
        return
    title = (say("cli.predict.rul_fleet", model=meta["model"], time=now) if is_rul
             else say("cli.predict.risk", hours=meta["horizon_hours"], model=meta["model"], time=now))
    emit_table(shown, title=title)


def table_options(func):
    """The options that say how to read a run-to-failure table."""
    func = click.option("--columns", help="Comma-separated column names, for a file without a header row.")(func)
    func = click.option("--no-header", is_flag=True,
                        help="The file has no header row (columns are c1, c2, ... unless --columns names them).")(func)
    func = click.option("--time", "time_col", required=True, help="The time or cycle column.")(func)
    func = click.option("--unit", "unit_col", required=True, help="The unit (machine, engine) column.")(func)
    return func


def _read(path: Path, unit_col: str, time_col: str, no_header: bool, columns: str | None):
    from ..predictive import read_run_table

    names = [c.strip() for c in columns.split(",")] if columns else None
    return read_run_table(path, unit_col, time_col, header=not no_header and not names, columns=names)


@predict.group("rul")
def rul() -> None:
    """Remaining useful life from run-to-failure tables (a unit's last row is its failure)."""


@rul.command("train")
@click.argument("table", type=click.Path(dir_okay=False, path_type=Path))
@table_options
@click.option("--cap", type=click.FloatRange(min=0, min_open=True), default=125.0, show_default=True,
              help="Remaining life is learned and predicted up to this cap (the time column's unit).")
@click.option("--cv", "folds", type=click.IntRange(min=0), default=5, show_default=True,
              help="Folds of the cross-validation by unit (0: none).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the folds, cuts and model.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_RUL_PATH,
              show_default=True, help="Model file (joblib); its metadata goes beside it as .json.")
@json_option
@handle_errors
def rul_train(table: Path, unit_col: str, time_col: str, no_header: bool, columns: str | None, cap: float,
              folds: int, seed: int, output: Path, as_json: bool) -> None:
    """Cross-validate by unit (model beside the constant baseline), then fit on every unit and save."""
    import pandas as pd

    from ..predictive import RunSpec, save_model, train_rul

    frame = _read(table, unit_col, time_col, no_header, columns)
    model = train_rul(frame, RunSpec(unit_col, time_col, cap=cap), folds=folds or None, random_state=seed)
    path = save_model(model, output)
    meta = model.metadata
    if as_json:
        emit_json({"path": str(path), **meta})
        return
    if meta["scores"]:
        emit_table(pd.DataFrame(meta["scores"]), title=say("cli.predict.rul_cv", folds=folds, cap=cap))
    console.print(say("cli.predict.rul_saved", path=path, units=meta["units"], rows=meta["rows"],
                      sensors=len(meta["sensors"])), highlight=False, soft_wrap=True)


@rul.command("score")
@click.argument("model_path", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("table", type=click.Path(dir_okay=False, path_type=Path))
@table_options
@json_option
@handle_errors
def rul_score(model_path: Path, table: Path, unit_col: str, time_col: str, no_header: bool, columns: str | None,
              as_json: bool) -> None:
    """Remaining life of each unit from its last row (the time column's unit), shortest first."""
    from ..predictive import load_model, score_rul

    model = load_model(model_path)
    frame = _read(table, unit_col, time_col, no_header, columns)
    out = score_rul(model, frame, unit=unit_col, time=time_col)
    if as_json:
        emit_json(out)
        return
    emit_table(out, title=say("cli.predict.rul_units", cap=model.metadata["cap"]))
