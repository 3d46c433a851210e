"""The data as doctor sees it: tensors taken leniently (NaN and constant columns included, since
reporting them is doctor's job), a finite copy to train probes on, and what the targets are."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from triage.data import TensorData, holdout, is_items, is_pair, pair_tensors
from triage.errors import TaskError
from triage.task import VAL_FRACTION, Task

MAX_SAMPLES = 4096  # a Dataset is read up to this many items: enough for every statistic here


@dataclass
class DataView:
    """One split's features and targets, as given (non-finite values kept)."""

    X: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.X)

    def finite_rows(self) -> torch.Tensor:
        """Mask of the samples whose floating-point features and targets are all finite."""
        mask = torch.ones(len(self.X), dtype=torch.bool)
        for tensor in (self.X, self.y):
            if tensor.is_floating_point():
                mask &= torch.isfinite(tensor.reshape(len(tensor), -1)).all(dim=1)
        return mask

    def non_finite(self) -> dict[str, int]:
        """Count of NaN/inf values in X and in y."""
        return {role: int((~torch.isfinite(t)).sum()) if t.is_floating_point() else 0
                for role, t in (("X", self.X), ("y", self.y))}


def view(value: Any, what: str) -> DataView:
    """A split as tensors: an ``(X, y)`` pair, or the first ``MAX_SAMPLES`` items of a Dataset.

    Raises:
        TaskError: not data at all (the message says what to pass instead).
    """
    if not is_pair(value) and is_items(value):
        try:
            n = min(len(value), MAX_SAMPLES)  # type: ignore[arg-type]
            items = [value[i] for i in range(n)]
            X = torch.stack([torch.as_tensor(x) for x, _ in items])
            y = torch.stack([torch.as_tensor(t) for _, t in items])
        except Exception as exc:
            raise TaskError(f"{what} items cannot be read as (x, y) tensor pairs ({exc}); "
                            "doctor's checks read (x, y) data: make items (x, y) with tensors "
                            "of one shape") from None
    else:
        X, y = pair_tensors(value, what)
    return DataView(X, y)


@dataclass
class Splits:
    """Train and validation as given, and finite copies for training probes."""

    train: DataView
    val: DataView | None  # None: the task has no validation data of its own
    clean_train: TensorData
    clean_val: TensorData
    dropped: int  # training samples left out of the probes for non-finite values


def splits(task: Task, seed: int, dtype: torch.dtype | None = None) -> Splits:
    """Read the task's data and make finite train/validation sets for the probes, their
    floating tensors in ``dtype`` (the model's) where given."""
    train = view(task.train, "train")
    val = None if task.val is None else view(task.val, "val")
    keep = train.finite_rows()
    clean = TensorData(train.X[keep], train.y[keep])
    if val is None:
        if len(clean) >= 2:
            clean, clean_val = holdout(clean, VAL_FRACTION, torch.Generator().manual_seed(seed))
        else:
            clean_val = clean
    else:
        mask = val.finite_rows()
        clean_val = TensorData(val.X[mask], val.y[mask])
    if dtype is not None:
        clean, clean_val = clean.like(dtype), clean_val.like(dtype)  # type: ignore[union-attr]
    return Splits(train, val, clean, clean_val, int((~keep).sum()))  # type: ignore[arg-type]


def target_kind(y: torch.Tensor) -> str:
    """``index`` (integer class labels), ``onehot`` (rows of 0/1 summing to 1), ``binary``
    (0/1 floats), or ``continuous`` (a regression target)."""
    if not y.is_floating_point():
        return "index"
    finite = y[torch.isfinite(y)] if y.numel() else y
    if finite.numel() == 0:
        return "continuous"
    zero_one = bool(((finite == 0) | (finite == 1)).all())
    if zero_one and y.ndim >= 2 and y.shape[-1] > 1 and bool((y.sum(dim=-1) == 1).all()):
        return "onehot"
    return "binary" if zero_one else "continuous"
