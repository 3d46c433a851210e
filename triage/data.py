"""Turn what the user hands us into batches: (X, y) arrays/tensors or any torch Dataset."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from triage.errors import TaskError

Batch = tuple[torch.Tensor, torch.Tensor]


class TensorData:
    """Features and targets held as two tensors; batched by indexing, with no DataLoader cost."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor) -> None:
        self.X = X
        self.y = y

    def __len__(self) -> int:
        return len(self.X)

    def subset(self, index: torch.Tensor) -> TensorData:
        return TensorData(self.X[index], self.y[index])

    def to(self, device: torch.device) -> TensorData:
        if self.X.device == device:
            return self
        return TensorData(self.X.to(device), self.y.to(device))


Data = TensorData | Dataset


def _to_tensor(values: Any, what: str, role: str) -> torch.Tensor:
    if hasattr(values, "to_numpy"):  # pandas
        values = values.to_numpy()
    try:
        if not torch.is_tensor(values):
            values = np.asarray(values)
            if not values.flags.writeable:
                values = values.copy()
        tensor = torch.as_tensor(values)
    except (TypeError, ValueError) as exc:
        raise TaskError(
            f"{what} {role} cannot be turned into a tensor ({exc}); pass numbers as a NumPy "
            "array or tensor"
        ) from None
    if tensor.is_floating_point() and tensor.dtype == torch.float64:
        tensor = tensor.float()
    return tensor


def as_data(value: Any, what: str) -> Data:
    """Validate and convert ``value`` (a Dataset or an ``(X, y)`` pair) into batchable data.

    Raises:
        TaskError: empty data, mismatched lengths, non-finite values or an unknown form.
    """
    if isinstance(value, Dataset):
        return _check_dataset(value, what)
    X, y = pair_tensors(value, what)
    for role, tensor in (("X", X), ("y", y)):
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            bad = int((~torch.isfinite(tensor)).sum())
            raise TaskError(
                f"{what} {role} contains {bad} NaN/inf values; impute or drop them before training"
            )
    return TensorData(X, y)


def pair_tensors(value: Any, what: str) -> Batch:
    """An ``(X, y)`` pair as tensors with one target per sample (NaN/inf values kept).

    Raises:
        TaskError: not a pair, scalars, mismatched lengths or no samples.
    """
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise TaskError(
            f"{what} data must be a torch Dataset or an (X, y) pair, got {type(value).__name__}; "
            "pass train=(X, y)"
        )
    X = _to_tensor(value[0], what, "X")
    y = _to_tensor(value[1], what, "y")
    if X.ndim == 0 or y.ndim == 0:
        raise TaskError(f"{what} X and y must have a sample dimension; got scalars")
    if len(X) != len(y):
        raise TaskError(
            f"{what} X has {len(X)} samples but y has {len(y)}; give one target per sample"
        )
    if len(X) == 0:
        raise TaskError(f"{what} data is empty; give at least one sample")
    return X, y


def _check_dataset(dataset: Dataset, what: str) -> Dataset:
    try:
        n = len(dataset)  # type: ignore[arg-type]
    except TypeError:
        raise TaskError(f"{what} Dataset has no length; give a map-style Dataset") from None
    if n == 0:
        raise TaskError(f"{what} data is empty; give at least one sample")
    for i in range(min(n, 8)):
        item = dataset[i]
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise TaskError(f"{what} Dataset items must be (x, y) pairs; item {i} is not")
        for role, value in zip(("x", "y"), item, strict=True):
            t = torch.as_tensor(value)
            if t.is_floating_point() and not torch.isfinite(t).all():
                raise TaskError(
                    f"{what} Dataset item {i} has NaN/inf in {role}; clean the data first"
                )
    return dataset


def holdout(data: Data, fraction: float, generator: torch.Generator) -> tuple[Data, Data]:
    """Split ``data`` into (train, val) with ``fraction`` of the samples, at least one, held out."""
    n = len(data)  # type: ignore[arg-type]
    if n < 2:
        raise TaskError(f"train data has {n} sample; give at least 2 or pass val= explicitly")
    n_val = min(n - 1, max(1, round(n * fraction)))
    perm = torch.randperm(n, generator=generator)
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    if isinstance(data, TensorData):
        return data.subset(train_idx), data.subset(val_idx)
    return Subset(data, train_idx.tolist()), Subset(data, val_idx.tolist())


def batches(
    data: Data,
    batch_size: int,
    device: torch.device,
    generator: torch.Generator | None = None,
) -> Iterator[Batch]:
    """One epoch of batches on ``device``, shuffled with ``generator`` (in order when None)."""
    if isinstance(data, TensorData):
        n = len(data)
        order = torch.randperm(n, generator=generator) if generator is not None else None
        if order is not None and data.X.device != order.device:
            order = order.to(data.X.device)
        for start in range(0, n, batch_size):
            if order is None:
                batch = data.X[start : start + batch_size], data.y[start : start + batch_size]
            else:
                index = order[start : start + batch_size]
                batch = data.X[index], data.y[index]
            yield to_device(batch, device)
        return
    loader = DataLoader(
        data, batch_size=batch_size, shuffle=generator is not None, generator=generator
    )
    for batch in loader:
        yield to_device(batch, device)


def to_device(batch: Batch, device: torch.device) -> Batch:
    """The batch's tensors on ``device`` (copied asynchronously where the device allows)."""
    xb, yb = batch
    return xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)


def first_batch(data: Data, size: int) -> Batch:
    """The first ``size`` samples, unshuffled, on the CPU."""
    if isinstance(data, TensorData):
        return data.X[:size], data.y[:size]
    return next(iter(DataLoader(data, batch_size=size)))
