"""The Task: what the user brings (a model factory, data, a loss), and its validation."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from triage import losses
from triage.data import Data, TensorData, as_data, first_batch, holdout
from triage.errors import TaskError, first_line
from triage.losses import LossFn
from triage.rng import seeded
from triage.step import LossStep, Step, failure

VAL_FRACTION = 0.2


@dataclass
class Task:
    """A training problem: a model factory, data and a loss.

    Args:
        model: zero-argument callable returning a fresh ``nn.Module`` each call.
        train: a torch ``Dataset`` of ``(x, y)`` pairs, or an ``(X, y)`` pair of arrays/tensors.
        val: the same forms, or None for a seeded 20% hold-out of ``train``.
        loss: one of ``cross_entropy``, ``mse``, ``bce_with_logits``, ``nll``, or any
            ``callable(output, target) -> scalar tensor``.
        name: shown in reports and written into configs.
        epochs: the user's full training budget, in epochs.
    """

    model: Callable[[], nn.Module]
    train: Any
    val: Any = None
    loss: str | LossFn = "cross_entropy"
    name: str = "task"
    epochs: int = 10
    _prepared: dict[int, PreparedTask] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not callable(self.model) or isinstance(self.model, nn.Module):
            raise TaskError(
                f"Task.model must be a zero-argument factory returning a fresh nn.Module, got "
                f"{type(self.model).__name__}; wrap it: model=lambda: MyNet()"
            )
        if isinstance(self.loss, str) and self.loss not in losses.NAMES:
            raise TaskError(
                f"unknown loss {self.loss!r}; use one of {', '.join(losses.NAMES)} or a callable"
            )
        if not (isinstance(self.loss, str) or callable(self.loss)):
            raise TaskError(f"Task.loss must be a name or a callable, got {self.loss!r}")
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1:
            raise TaskError(f"Task.epochs must be a positive integer, got {self.epochs!r}")

    @property
    def loss_fn(self) -> LossFn:
        """The loss as a callable (a built-in name resolved)."""
        if isinstance(self.loss, str):
            return losses.KINDS[self.loss].fn  # type: ignore[return-value]
        return self.loss

    @property
    def loss_kind(self) -> losses.LossKind | None:
        """The loss's entry in the loss table, when it is known by name or identity."""
        return losses.known(self.loss)

    @property
    def step(self) -> Step:
        """How one batch trains: the seam every loop calls (see ``triage.step``)."""
        return LossStep(self.loss_fn)

    @property
    def loss_name(self) -> str:
        if isinstance(self.loss, str):
            return self.loss
        return getattr(self.loss, "__name__", type(self.loss).__name__)

    def prepare(self, seed: int = 0) -> PreparedTask:
        """Validated data, loss function and a checked model; cached per hold-out seed."""
        if seed not in self._prepared:
            self._prepared[seed] = _prepare(self, seed)
        return self._prepared[seed]


@dataclass
class PreparedTask:
    """A Task whose data is converted and split, and whose model is known to fit the loss."""

    task: Task
    train: Data
    val: Data
    step: Step
    accuracy: str | None  # "multiclass", "binary" (logits), "binary_prob" or None

    @property
    def n_train(self) -> int:
        return len(self.train)  # type: ignore[arg-type]

    def steps_per_epoch(self, batch_size: int) -> int:
        return -(-self.n_train // batch_size)

    def budget_steps(self, batch_size: int, epochs: int | None = None) -> int:
        """Optimizer steps in ``epochs`` epochs (default: the task's full budget)."""
        return (epochs or self.task.epochs) * self.steps_per_epoch(batch_size)


def build_model(task: Task) -> nn.Module:
    """Call the task's factory, turning any failure into a one-line TaskError."""
    try:
        model = task.model()
    except Exception as exc:
        raise TaskError(
            f"the model factory raised {type(exc).__name__}: {first_line(exc)}; fix the factory "
            "so that calling it with no arguments returns a fresh nn.Module"
        ) from exc
    if not isinstance(model, nn.Module):
        raise TaskError(
            f"the model factory returned {type(model).__name__}, not an nn.Module; return the "
            "network itself"
        )
    return model


def fresh_model(task: Task) -> nn.Module:
    """A model from the factory, after checking that each call builds a new one (a factory
    returning one shared module would let probes train the user's model)."""
    model = build_model(task)
    if build_model(task) is model:
        raise TaskError(
            "the model factory returned the same module twice; it must build a fresh one "
            "per call (model=lambda: Net(), not model=lambda: net), or probes would train "
            "your model"
        )
    return model


def _prepare(task: Task, seed: int) -> PreparedTask:
    train = as_data(task.train, "train")
    with seeded(seed) as generator:
        if task.val is None:
            train, val = holdout(train, VAL_FRACTION, generator)
        else:
            val = as_data(task.val, "val")
        model = fresh_model(task)
    kind = task.loss_kind
    prepared = PreparedTask(task, train, val, task.step, kind.accuracy if kind else None)
    _check_fit(prepared, model)
    return prepared


def _check_fit(prepared: PreparedTask, model: nn.Module) -> None:
    """Run one small batch through the step so that wiring errors surface before probes."""
    xb, yb = batch = first_batch(prepared.train, 8)
    name = prepared.task.loss_name
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # mse's broadcasting warning: judged below
            value, out = prepared.step(model, batch)
    except Exception as exc:
        where = failure(exc)
        if where is not None and where.part == "model":
            raise TaskError(
                f"the model failed on a batch of inputs {tuple(xb.shape)} {xb.dtype}: "
                f"{first_line(exc)}; make the model accept the data's X"
            ) from exc
        if where is not None:
            _check_output(prepared, where.output, yb, loss_ran=False)
        raise TaskError(
            f"the model's output does not fit loss {name!r} with targets "
            f"{tuple(yb.shape)} {yb.dtype}: {first_line(exc)}; change the model's last layer, "
            "the targets or the loss"
        ) from exc
    _check_output(prepared, out, yb, loss_ran=True)
    if not torch.is_tensor(value) or value.numel() != 1:
        raise TaskError(f"loss {name!r} must return a scalar; it returned shape "
                        f"{tuple(getattr(value, 'shape', ()))}")


def _check_output(prepared: PreparedTask, out: Any, yb: torch.Tensor, loss_ran: bool) -> None:
    """The output is one tensor with a score for every class (classification), and of the
    targets' shape where an elementwise loss took it (it broadcast silently)."""
    name = prepared.task.loss_name
    if not torch.is_tensor(out):
        raise TaskError(f"the model returned {type(out).__name__}; return one output tensor")
    kind = prepared.task.loss_kind
    if loss_ran and kind is not None and kind.elementwise and out.shape != yb.shape:
        raise TaskError(
            f"the model's output {tuple(out.shape)} does not match targets {tuple(yb.shape)} "
            f"for loss {name!r} (it would broadcast silently); reshape y or the output to match"
        )
    if isinstance(prepared.train, TensorData) and prepared.accuracy == "multiclass":
        classes = int(prepared.train.y.max()) + 1 if prepared.train.y.numel() else 0
        if out.ndim == 2 and classes > out.shape[1]:
            raise TaskError(
                f"targets go up to class {classes - 1} but the model outputs {out.shape[1]} "
                "scores; give the last layer one output per class"
            )
