"""Tables as tasks: ``from_table("data.csv", target="label")`` is a Task with a stated network.

- The target decides the problem: a non-numeric column, or integers with few distinct values
  (at most ``MAX_CLASSES``), is a classification (binary: BCE with logits on one output;
  more classes: cross-entropy), anything else a regression (MSE on the standardised target).
  ``kind=`` overrides the guess. Rows without a target are left out.
- The features are prepared by ``triage.tables.prep`` (fitted on the training rows only),
  or handed over raw (numeric columns only) with ``preprocess=False``.
- The hold-out (20%) is seeded, and stratified for classification.
- The network is an MLP with two hidden ReLU layers of ``mlp_width(inputs, outputs)`` units:
  Heaton's rule of thumb, "2/3 the size of the input layer, plus the size of the output layer"
  (Introduction to Neural Networks for Java, 2nd ed., 2008), kept within 16..256.

What was decided is in ``Task.notes`` (shown by every command) and ``Task.data`` (written into
configs as their ``data:`` section).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from triage.errors import TaskError
from triage.tables.prep import Preprocessing
from triage.tables.read import SUFFIXES, is_table, read_table
from triage.task import MAX_CLASSES, VAL_FRACTION, Task

__all__ = ["KINDS", "SUFFIXES", "from_table", "is_table", "mlp_width", "read_table"]

KINDS = ("classification", "regression")
EPOCHS = 20


def mlp_width(inputs: int, outputs: int) -> int:
    """Hidden units per layer: 2/3 of the inputs plus the outputs, within 16..256."""
    return int(min(256, max(16, round(2 * inputs / 3) + outputs)))


def mlp(inputs: int, width: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, width), nn.ReLU(), nn.Linear(width, width),
                         nn.ReLU(), nn.Linear(width, outputs))


def infer_kind(values: pd.Series) -> str:
    """``classification`` for text, booleans or few distinct integers; else ``regression``."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "classification"
    numbers = values.astype("float64")
    integral = bool((numbers == numbers.round()).all())
    return "classification" if integral and numbers.nunique() <= MAX_CLASSES else "regression"


def from_table(
    table: str | os.PathLike[str] | pd.DataFrame,
    target: str | None,
    *,
    kind: str | None = None,
    preprocess: bool = True,
    seed: int = 0,
    epochs: int = EPOCHS,
    name: str | None = None,
    preprocessing: dict[str, Any] | None = None,
) -> Task:
    """A Task that trains an MLP on a table's ``target`` from its other columns.

    Args:
        table: a CSV/TSV/Parquet path (``.csv.gz`` too) or a DataFrame.
        target: the column to predict.
        kind: ``classification`` or ``regression`` (default: guessed from the target).
        preprocess: prepare the features (see ``triage.tables.prep``); False hands the raw
            numeric columns over.
        seed: seeds the hold-out split.
        epochs: the training budget.
        name: the task's name (default: the file's stem).
        preprocessing: a config's recorded preprocessing (its ``data.preprocessing``) to apply
            as it is instead of fitting one (how ``triage train`` re-applies it).

    Raises:
        TaskError: an unreadable table, a missing or unknown target, one class, no feature.
    """
    frame = table if isinstance(table, pd.DataFrame) else read_table(table)
    source = "table" if isinstance(table, pd.DataFrame) else str(table)
    columns = ", ".join(map(str, frame.columns))
    if target is None:
        raise TaskError(f"a table needs --target: the column to predict (one of {columns})")
    if target not in frame.columns:
        raise TaskError(f"--target {target!r} is not a column of {source}; its columns: "
                        f"{columns}")
    if kind is not None and kind not in KINDS:
        raise TaskError(f"unknown --kind {kind!r}; use classification or regression")
    notes = []
    labelled = frame[frame[target].notna()]
    if labelled.empty:
        raise TaskError(f"--target {target!r} has no values in {source} ({len(frame)} rows, "
                        "all empty); fill the column or choose another --target")
    if len(labelled) < len(frame):
        notes.append(f"left out {len(frame) - len(labelled)} row(s) without a {target}")
    values, features = labelled[target], labelled.drop(columns=[target])
    kind = kind or infer_kind(values)
    y, spec = _targets(values, kind, target)
    train_idx, val_idx = _split(len(labelled), y if kind == "classification" else None, seed)
    if preprocess and preprocessing is not None:
        prep = Preprocessing.from_dict(preprocessing)
        X = prep.transform(features)
        notes.append(f"applied the config's preprocessing ({len(prep.names)} inputs)")
    elif preprocess:
        prep = Preprocessing.fit(features.iloc[train_idx])
        X = prep.transform(features)
        notes += prep.describe()
    else:
        prep = None
        numeric = features.select_dtypes("number")
        if numeric.shape[1] == 0:
            raise TaskError(f"{source} has no numeric feature column to hand over raw; drop "
                            "--no-preprocess")
        skipped = sorted(set(map(str, features.columns)) - set(map(str, numeric.columns)))
        if skipped:
            notes.append(f"--no-preprocess: non-numeric column(s) left out: {', '.join(skipped)}")
        X = numeric.to_numpy(dtype=np.float32)
    if kind == "regression" and preprocess:
        mean, std = float(y[train_idx].mean()), float(y[train_idx].std()) or 1.0
        y = ((y - mean) / std).astype(np.float32)
        spec["scaling"] = {"mean": mean, "std": std}
        notes.append(f"standardised the target {target} (mean {mean:.4g}, std {std:.4g})")
    outputs = 1 if kind == "regression" or len(spec.get("classes", [])) == 2 else \
        len(spec["classes"])
    inputs, width = X.shape[1], mlp_width(X.shape[1], outputs)
    loss = "mse" if kind == "regression" else "bce_with_logits" if outputs == 1 else \
        "cross_entropy"
    notes.insert(0, f"{kind} of {target} from {inputs} input(s): an MLP of two hidden "
                    f"layers of {width} ReLU units (2/3 of the inputs plus the outputs), "
                    f"loss {loss}; {len(val_idx)} of {len(labelled)} rows held out"
                    + (", stratified" if kind == "classification" else ""))
    data = {"table": Path(source).name, "target": target, "kind": kind, **spec,
            "preprocessing": prep.to_dict() if prep else None,
            "network": {"inputs": inputs, "hidden": [width, width], "outputs": outputs},
            "split": {"val_fraction": VAL_FRACTION, "seed": seed}}
    return Task(model=lambda: mlp(inputs, width, outputs),
                train=(X[train_idx], y[train_idx]), val=(X[val_idx], y[val_idx]), loss=loss,
                name=name or Path(source).name.split(".")[0], epochs=epochs,
                notes=tuple(notes), data=data)


def _targets(values: pd.Series, kind: str, target: str) -> tuple[np.ndarray, dict[str, Any]]:
    if kind == "regression":
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.isna().any():
            raise TaskError(f"target {target!r} is not numeric; use --kind classification")
        return numbers.to_numpy(dtype=np.float32)[:, None], {}
    labels = values.astype("string")
    classes = sorted(labels.unique())
    if len(classes) < 2:
        raise TaskError(f"target {target!r} has one class ({classes[0]!r}); a classifier needs "
                        "two or more")
    codes = labels.map({c: i for i, c in enumerate(classes)}).to_numpy(dtype=np.int64)
    if len(classes) == 2:
        return codes.astype(np.float32)[:, None], {"classes": classes}
    return codes, {"classes": classes}


def _split(rows: int, labels: np.ndarray | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    index = np.arange(rows)
    stratify = None
    if labels is not None:
        flat = labels.reshape(-1)
        if np.unique(flat, return_counts=True)[1].min() >= 2:
            stratify = flat
    train, val = train_test_split(index, test_size=VAL_FRACTION, random_state=seed,
                                  stratify=stratify)
    return np.sort(train), np.sort(val)
