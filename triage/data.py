"""Turn what the user hands us into batches: ``(X, y)`` arrays/tensors, or any map-style
dataset or sequence whose items are anything, batched by a collate function."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset, default_collate

from triage.errors import TaskError, first_line

Batch = Any  # an (x, y) pair of tensors, a dict, or whatever the collate function returns
Collate = Callable[[list[Any]], Any]


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

    def like(self, dtype: torch.dtype) -> TensorData:
        """Floating features and targets in ``dtype`` (the model's), others as they are:
        NumPy's float64 arrays train a float32 model, and a float64 model keeps float64."""

        def cast(t: torch.Tensor) -> torch.Tensor:
            return t.to(dtype) if t.is_floating_point() and t.dtype != dtype else t

        return TensorData(cast(self.X), cast(self.y))


@dataclasses.dataclass
class ItemData:
    """A map-style dataset or sequence of items of any kind, batched by ``collate`` through a
    ``DataLoader`` (``options`` are passed on to it: ``num_workers``, ``pin_memory``, ...)."""

    items: Any
    collate: Collate = default_collate
    options: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.items)

    def subset(self, index: torch.Tensor) -> ItemData:
        return dataclasses.replace(self, items=Subset(self.items, index.tolist()))

    def loader(self, batch_size: int, generator: torch.Generator | None) -> DataLoader:
        # An unshuffled loader gets a generator too: iterating one draws its workers' base
        # seed, from the caller's global RNG when it has none.
        return DataLoader(self.items, batch_size=batch_size, shuffle=generator is not None,
                          generator=generator or torch.Generator().manual_seed(0),
                          collate_fn=self.collate, **self.options)


Data = TensorData | ItemData


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
    return tensor


def as_data(value: Any, what: str, collate: Collate | None = None,
            options: dict[str, Any] | None = None) -> Data:
    """Validate and convert ``value`` into batchable data: an ``(X, y)`` pair of arrays,
    tensors or DataFrames, or a map-style dataset or sequence of items (batched by
    ``collate``, torch's default collate when None; ``options`` go to the DataLoader).

    Raises:
        TaskError: empty data, mismatched lengths, non-finite values, items the collate
            function cannot batch, or something that is not data.
    """
    if is_pair(value):
        X, y = pair_tensors(value, what)
        for role, tensor in (("X", X), ("y", y)):
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                bad = int((~torch.isfinite(tensor)).sum())
                raise TaskError(f"{what} {role} contains {bad} NaN/inf values; impute or drop "
                                "them before training")
        return TensorData(X, y)
    if hasattr(value, "shape"):
        raise TaskError(f"{what} data is one array ({type(value).__name__}), not an (X, y) pair; "
                        "pass the features and the targets together: train=(X, y)")
    if not is_items(value):
        raise TaskError(f"{what} data must be an (X, y) pair or a dataset/sequence of items, "
                        f"got {type(value).__name__}; pass train=(X, y) or train=my_dataset")
    return _check_items(ItemData(value, collate or default_collate, dict(options or {})), what)


def is_items(value: Any) -> bool:
    """A map-style dataset or sequence of items (a torch Dataset, a list, a Hugging Face
    ``datasets.Dataset``): anything with a length that is indexed by position."""
    return isinstance(value, (Dataset, list)) or (
        hasattr(value, "__getitem__") and hasattr(value, "__len__")
        and not isinstance(value, (str, bytes, Mapping, tuple)) and not hasattr(value, "shape"))


def is_pair(value: Any) -> bool:
    """An ``(X, y)`` pair: two arrays, tensors or DataFrames (or a tuple of two lists)."""
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        return False
    if all(hasattr(part, "shape") for part in value):
        return True
    return isinstance(value, tuple) and all(isinstance(part, list) for part in value)


def pair_tensors(value: Any, what: str) -> Batch:
    """An ``(X, y)`` pair as tensors with one target per sample (NaN/inf values kept).

    Raises:
        TaskError: not a pair, scalars, mismatched lengths or no samples.
    """
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise TaskError(
            f"{what} data must be an (X, y) pair or a dataset/sequence of items, got "
            f"{type(value).__name__}; "
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


def _check_items(data: ItemData, what: str) -> ItemData:
    """The data has items, its first items batch together, and their tensors are finite."""
    try:
        n = len(data)
    except TypeError:
        raise TaskError(f"{what} dataset has no length; give a map-style dataset") from None
    if n == 0:
        raise TaskError(f"{what} data is empty; give at least one sample")
    count = min(n, 8)
    items = []
    for i in range(count):
        try:
            items.append(data.items[i])
        except Exception as exc:
            raise TaskError(f"{what} item {i} cannot be read: {type(exc).__name__}: "
                            f"{first_line(exc)}") from exc
    try:
        batch = data.collate(items)
    except Exception as exc:
        raise TaskError(
            f"{what} items cannot be batched by the collate function: {type(exc).__name__}: "
            f"{first_line(exc)} (item 0 is a {type(items[0]).__name__}); give collate= a "
            "function from a list of items to a batch (a padding collator for text)"
        ) from exc
    for path, tensor in _leaves(batch):
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise TaskError(f"{what} items 0..{count - 1} have NaN/inf in {path or 'the batch'}; "
                            "clean the data first")
    return data


def _leaves(batch: Any, path: str = "") -> Iterator[tuple[str, torch.Tensor]]:
    """Every tensor inside a batch, with where it sits (``[0]``, ``['input_ids']``, ...)."""
    if torch.is_tensor(batch):
        yield path, batch
    elif isinstance(batch, Mapping):
        for key, value in batch.items():
            yield from _leaves(value, f"{path}[{key!r}]")
    elif isinstance(batch, (tuple, list)):
        for i, value in enumerate(batch):
            yield from _leaves(value, f"{path}[{i}]")
    elif dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        for f in dataclasses.fields(batch):
            yield from _leaves(getattr(batch, f.name), f"{path}.{f.name}")


def batch_size(batch: Any) -> int:
    """How many samples a batch holds: the first dimension of its first tensor."""
    for _, tensor in _leaves(batch):
        if tensor.ndim:
            return len(tensor)
    raise TaskError("a batch holds no tensor with a sample dimension; make the collate "
                    "function return tensors")


def split_batch(batch: Batch, parts: int) -> list[Batch]:
    """A batch cut into ``parts`` consecutive micro-batches along its sample dimension (fewer
    when it holds fewer samples): what each of ``parts`` data-parallel workers would see.

    Raises:
        TaskError: a container it cannot rebuild (make the collate function return tensors,
            tuples, lists, dicts or dataclasses).
    """
    n = batch_size(batch)
    bounds = [n * k // parts for k in range(parts + 1)]
    return [_cut(batch, lo, hi) for lo, hi in itertools.pairwise(bounds) if hi > lo]


def _cut(batch: Batch, lo: int, hi: int) -> Batch:
    if torch.is_tensor(batch):
        return batch[lo:hi] if batch.ndim else batch
    if type(batch) is tuple or type(batch) is list:
        return type(batch)(_cut(value, lo, hi) for value in batch)
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # a named tuple
        return type(batch)(*(_cut(value, lo, hi) for value in batch))
    if isinstance(batch, Mapping):
        cut = {key: _cut(value, lo, hi) for key, value in batch.items()}
        return cut if type(batch) is dict else type(batch)(cut)  # e.g. BatchEncoding(data)
    if dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        return dataclasses.replace(batch, **{f.name: _cut(getattr(batch, f.name), lo, hi)
                                             for f in dataclasses.fields(batch) if f.init})
    if callable(getattr(batch, "to", None)):  # holds tensors we cannot see into
        raise TaskError(f"a batch of type {type(batch).__name__} cannot be cut into per-worker "
                        "micro-batches; make the collate function return tensors, tuples, "
                        "lists, dicts or dataclasses")
    return batch  # a plain value (a string, a number): the same for every worker


def holdout(data: Data, fraction: float, generator: torch.Generator) -> tuple[Data, Data]:
    """Split ``data`` into (train, val) with ``fraction`` of the samples, at least one, held out."""
    n = len(data)
    if n < 2:
        raise TaskError(f"train data has {n} sample; give at least 2 or pass val= explicitly")
    n_val = min(n - 1, max(1, round(n * fraction)))
    perm = torch.randperm(n, generator=generator)
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    return data.subset(train_idx), data.subset(val_idx)


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
    for batch in data.loader(batch_size, generator):
        yield to_device(batch, device)


def to_device(batch: Batch, device: torch.device) -> Batch:
    """The batch with every tensor inside it on ``device`` (copied asynchronously where the
    device allows): tensors in dicts, lists, tuples, named tuples and dataclasses, and objects
    with their own ``.to(device)`` (Hugging Face's ``BatchEncoding``)."""
    if torch.is_tensor(batch):
        return batch.to(device, non_blocking=True)
    if type(batch) is tuple or type(batch) is list:
        return type(batch)(to_device(value, device) for value in batch)
    if type(batch) is dict:
        return {key: to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # a named tuple
        return type(batch)(*(to_device(value, device) for value in batch))
    if dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        return dataclasses.replace(batch, **{f.name: to_device(getattr(batch, f.name), device)
                                             for f in dataclasses.fields(batch) if f.init})
    if callable(getattr(batch, "to", None)):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return {key: to_device(value, device) for key, value in batch.items()}
    return batch


def first_batch(data: Data, size: int) -> Batch:
    """The first ``size`` samples, unshuffled, on the CPU."""
    if isinstance(data, TensorData):
        return data.X[:size], data.y[:size]
    return next(iter(data.loader(size, None)))
