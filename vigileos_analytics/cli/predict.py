"""``vigileos predict train`` and ``vigileos predict score``: thin over
:mod:`vigileos_analytics.predictive`."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import click

from ..predictive import CLASSIFIERS
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


@click.group("predict")
def predict() -> None:
    """Predictive maintenance: train a failure model, score the fleet with it."""


@predict.command("train")
@period_options("now-60d")
@click.option("--horizon", type=DURATION, default="24h", show_default=True,
              help="Predict failures within this time after each snapshot.")
@click.option("--model", "model_name", type=click.Choice(CLASSIFIERS), default="gradient_boosting",
              show_default=True, help="Which model to fit.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_MODEL_PATH,
              show_default=True, help="Model file (joblib); its metadata goes beside it as .json.")
@click.option("--no-evaluate", is_flag=True, help="Skip the held-out comparison with the baselines.")
@json_option
@pass_app
@handle_errors
def train(app: AppContext, start: datetime, end: datetime, horizon: timedelta, model_name: str, output: Path,
          no_evaluate: bool, as_json: bool) -> None:
    """Fit a model on the period's snapshots and save it with its metadata."""
    # imported here, not at the top: scikit-learn and pandas cost seconds at startup
    import pandas as pd

    from ..predictive import save_model, train_model

    model = train_model(app.store, start, end, horizon=horizon, model=model_name, evaluate=not no_evaluate)
    path = save_model(model, output)
    if as_json:
        emit_json({"path": str(path), **model.metadata})
        return
    meta = model.metadata
    console.print(f"Saved {meta['model']} to {path} ({meta['rows']} snapshots, {meta['failures']} failures, "
                  f"{meta['equipment']} equipment, horizon {meta['horizon_hours']:g} h).")
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
    """Risk of failing within the model's horizon, per operational equipment (highest first)."""
    from ..predictive import load_model, score_fleet

    model = load_model(model_path)
    frame = score_fleet(app.store, model, now, list(equipment_ids) or None)
    shown = frame[["equipment_id", "time", "risk", "warning"]]
    if as_json:
        emit_json(shown)
        return
    meta = model.metadata
    emit_table(shown, title=say("cli.predict.risk", hours=meta["horizon_hours"], model=meta["model"], time=now))
