"""Tables: triage's network (lr-find, then the full budget) against scikit-learn's defaults.

Each table is written out as a CSV (scikit-learn's bundled ones with string class labels) and
brought with ``triage.from_table``; every model sees the same split and the same prepared
features (``Task.train`` / ``Task.val``). Rows: validation accuracy (classification) or R^2
(regression) and wall time for

- triage: ``lr_find`` (defaults, seed 0), then ``train`` with its config (the final epoch);
- ``HistGradientBoosting{Classifier,Regressor}()`` and ``MLP{Classifier,Regressor}()`` with
  scikit-learn's defaults (``random_state=0``).

Regression R^2 is on the standardised target (the same for every model). The real tables
(Titanic, UCI Adult) are read from shared/data/deepfd when it is there (``--deepfd``).

    python benchmarks/tables.py [--deepfd ../shared/data/deepfd] [--threads 2]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn import datasets
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor

from triage import LRFindSettings, from_table, lr_find
from triage.storage import quiet_optuna
from triage.trainer import TrainSettings, train

ADULT = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
         "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
         "hours_per_week", "native_country", "income"]


def bundled(folder: Path) -> list[tuple[str, Path, str]]:
    """scikit-learn's tables as CSVs, class labels as strings."""
    out = []
    for name, loader in (("iris", datasets.load_iris), ("wine", datasets.load_wine),
                         ("breast_cancer", datasets.load_breast_cancer),
                         ("diabetes", datasets.load_diabetes)):
        bunch = loader(as_frame=True)
        frame = bunch.frame.copy()
        if hasattr(bunch, "target_names") and name != "diabetes":
            frame["target"] = np.asarray(bunch.target_names)[bunch.target]
        path = folder / f"{name}.csv"
        frame.to_csv(path, index=False)
        out.append((name, path, "target"))
    return out


def real(folder: Path, deepfd: Path | None) -> list[tuple[str, Path, str]]:
    if deepfd is None or not (deepfd / "so31627380_titanic_train.csv").is_file():
        return []
    adult = pd.read_csv(deepfd / "so47724077_adult.data", names=ADULT, skipinitialspace=True)
    adult.to_csv(folder / "adult.csv", index=False)
    return [("titanic", deepfd / "so31627380_titanic_train.csv", "Survived"),
            ("adult", folder / "adult.csv", "income")]


def score_triage(task) -> tuple[float, float]:
    """lr-find, then ``triage train`` with its config; the final epoch is scored (picking the
    best epoch would select on the validation rows the other models never see)."""
    started = time.perf_counter()
    config = lr_find(task, LRFindSettings(device="cpu"))
    final = train(task, config, TrainSettings(device="cpu")).metrics()["final"]
    seconds = time.perf_counter() - started
    if task.data["kind"] == "regression":
        return 1 - final["val_loss"] / float(np.var(task.val[1])), seconds
    return final["val_accuracy"], seconds


def score_sklearn(model, task) -> tuple[float, float]:
    (X, y), (Xv, yv) = task.train, task.val
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the MLP's convergence warning at its defaults
        model.fit(X, np.asarray(y).reshape(-1) if np.asarray(y).ndim > 1 else y)
    return model.score(Xv, np.asarray(yv).reshape(-1)), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "deepfd"
    parser.add_argument("--deepfd", type=Path, default=default)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    quiet_optuna()
    print(f"tables  {date.today()}  {platform.machine()}  torch {torch.__version__}  "
          f"{args.threads} thread(s)\n")
    print("| table | rows | kind | metric | triage | HistGradientBoosting | sklearn MLP | "
          "triage s | HGB s | MLP s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, path, target in bundled(folder) + real(folder, args.deepfd):
            task = from_table(path, target)
            regression = task.data["kind"] == "regression"
            hgb = (HistGradientBoostingRegressor if regression else
                   HistGradientBoostingClassifier)(random_state=0)
            mlp = (MLPRegressor if regression else MLPClassifier)(random_state=0)
            ours, ours_s = score_triage(task)
            hgb_score, hgb_s = score_sklearn(hgb, task)
            mlp_score, mlp_s = score_sklearn(mlp, task)
            rows = len(task.train[0]) + len(task.val[0])
            print(f"| {name} | {rows} | {task.data['kind']} | "
                  f"{'R^2' if regression else 'accuracy'} | {ours:.3f} | {hgb_score:.3f} | "
                  f"{mlp_score:.3f} | {ours_s:.1f} | {hgb_s:.1f} | {mlp_s:.1f} |", flush=True)


if __name__ == "__main__":
    main()
