"""The Task: what the user brings (a model factory, data, a loss), and its validation."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from triage import losses
from triage.choices import TASK_OPTIMIZER
from triage.data import Data, TensorData, as_data, first_batch, holdout
from triage.errors import SettingsError, TaskError, first_line
from triage.losses import LossFn
from triage.optimizers import OptimizerFactory, canonical
from triage.rng import seeded
from triage.step import CustomStep, DefaultStep, Step, failure, primary, targets

VAL_FRACTION = 0.2  # the share held out for validation when a task gives no val data
MAX_CLASSES = 20  # integral targets with at most this many values are class labels (a table's
# target kind; doctor's check for a regression loss on labels 0..k-1)


@dataclass
class Task:
    """A training problem: a model factory, data, and how one batch trains.

    Three forms, from the simplest (see docs/bring-your-model.md):

    - ``(X, y)`` data and ``loss=``: batches are ``(x, y)``, the loss is ``loss(model(x), y)``;
      a model returning a tuple or dict gives its first tensor to the loss;
    - a dataset of dict items (Hugging Face style): ``model(**batch)``, whose output carries
      the loss (``output.loss``, with the labels in the batch);
    - ``step=``: your own computation for one batch, for anything else (a VAE, two inputs, ...).

    Args:
        model: zero-argument callable returning a fresh ``nn.Module`` each call.
        train: an ``(X, y)`` pair of arrays/tensors/DataFrames, or any map-style dataset or
            sequence (a torch ``Dataset``, a list, a Hugging Face ``datasets.Dataset``) of items
            of any kind, batched with ``collate``.
        val: the same forms, or None for a seeded 20% hold-out of ``train``.
        loss: one of ``cross_entropy``, ``mse``, ``bce_with_logits``, ``nll``, a ``torch.nn``
            loss, or any ``callable(output, target) -> scalar tensor`` (``(x, y)`` batches).
        name: shown in reports and written into configs.
        epochs: the user's full training budget, in epochs.
        step: ``step(model, batch) -> loss``: a scalar tensor, a dict with ``"loss"``, or an
            object with ``.loss``. Replaces ``loss``.
        evaluate: ``evaluate(model, batch) -> dict`` of validation metrics, run under
            ``eval()`` and ``no_grad()``; its ``"loss"`` (required) is the value every
            strategy minimises, ``"accuracy"`` (optional) is reported. Default: the step's
            loss, and accuracy for a known classification loss.
        collate: batches a list of items (default: torch's ``default_collate``).
        optimizer: your updater, kept while triage finds its LR: a ``torch.optim`` class name
            (``"Adadelta"``, ``"LBFGS"``, ...) or a factory ``(params, lr) -> Optimizer``
            (``lambda params, lr: torch.optim.LBFGS(params, lr=lr, history_size=50)``). The
            commands use it unless ``--optimizer`` names another. Default: SGD with Nesterov.
        loader: more ``DataLoader`` arguments for item datasets (``num_workers``, ...); triage
            sets ``batch_size``, ``shuffle`` and ``collate_fn`` itself.
        notes: lines the commands show the user before they start (adapters say here what
            they changed, such as the optimizer triage replaces).
        data: how the data was prepared, for configs (their ``data:`` section): set by
            ``triage.tables.from_table``.
    """

    model: Callable[[], nn.Module]
    train: Any
    val: Any = None
    loss: str | LossFn = "cross_entropy"
    name: str = "task"
    epochs: int = 10
    step: Callable[[nn.Module, Any], Any] | None = None
    evaluate: Callable[[nn.Module, Any], Mapping[str, Any]] | None = None
    collate: Callable[[list[Any]], Any] | None = None
    loader: Mapping[str, Any] | None = None
    optimizer: str | OptimizerFactory | None = None
    notes: tuple[str, ...] = ()
    data: Mapping[str, Any] | None = None
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
        for name in ("step", "evaluate", "collate"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise TaskError(f"Task.{name} must be a function or None, got "
                                f"{type(value).__name__}")
        if isinstance(self.optimizer, str):
            try:
                self.optimizer = canonical(self.optimizer)
            except SettingsError as exc:
                raise TaskError(f"Task.optimizer: {exc}") from None
        elif self.optimizer is not None and not callable(self.optimizer):
            raise TaskError(f"Task.optimizer must be a torch.optim class name or a factory "
                            f"(params, lr) -> Optimizer, got {type(self.optimizer).__name__}")
        if self.loader is not None:
            if not isinstance(self.loader, Mapping):
                raise TaskError(f"Task.loader must be a dict of DataLoader arguments, got "
                                f"{type(self.loader).__name__}")
            taken = sorted({"batch_size", "shuffle", "collate_fn", "sampler", "batch_sampler",
                            "generator"} & set(self.loader))
            if taken:
                raise TaskError(f"Task.loader sets {taken[0]!r}, which triage sets itself "
                                "(it varies the batch size and seeds the order); leave it out")

    @property
    def loss_fn(self) -> LossFn:
        """The loss as a callable (a built-in name resolved)."""
        if isinstance(self.loss, str):
            return losses.KINDS[self.loss].fn  # type: ignore[return-value]
        return self.loss

    @property
    def loss_kind(self) -> losses.LossKind | None:
        """The loss's entry in the loss table, when it is known by name or identity (never
        with a custom step, which replaces the loss)."""
        return None if self.step is not None else losses.known(self.loss)

    def train_step(self) -> Step:
        """How one batch trains: the seam every loop calls (see ``triage.step``)."""
        return CustomStep(self.step) if self.step is not None else DefaultStep(self.loss_fn)

    @property
    def updater(self) -> str:
        """The optimizer the commands use unless told otherwise: the Task's (``task`` for a
        factory), else ``sgd``."""
        if self.optimizer is None:
            return "sgd"
        return self.optimizer if isinstance(self.optimizer, str) else TASK_OPTIMIZER

    @property
    def optimizer_factory(self) -> OptimizerFactory | None:
        """The Task's own optimizer factory, if it brings one."""
        return None if self.optimizer is None or isinstance(self.optimizer, str) \
            else self.optimizer

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
    seed: int | None = None  # the hold-out seed of ``Task.prepare`` (None: built otherwise)

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


def floating_dtype(model: nn.Module) -> torch.dtype | None:
    """The dtype of the model's first floating parameter (what its inputs must be)."""
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), None)


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
    options = dict(task.loader or {})
    train = as_data(task.train, "train", task.collate, options)
    with seeded(seed) as generator:
        if task.val is None:
            train, val = holdout(train, VAL_FRACTION, generator)
        else:
            val = as_data(task.val, "val", task.collate, options)
        model = fresh_model(task)
        dtype = floating_dtype(model)
        if dtype is not None and isinstance(train, TensorData):
            train = train.like(dtype)
        if dtype is not None and isinstance(val, TensorData):
            val = val.like(dtype)
        batch = first_batch(train, 8)
        kind = task.loss_kind  # accuracy needs the targets: (x, y) batches and a known loss
        accuracy = kind.accuracy if kind and targets(batch) is not None else None
        prepared = PreparedTask(task, train, val, task.train_step(), accuracy, seed)
        _check_fit(prepared, model, batch)  # seeded too: a model may draw (a VAE's noise)
    return prepared


def _check_fit(prepared: PreparedTask, model: nn.Module, batch: Any) -> None:
    """Run one small batch through the step, so that wiring errors surface before probes."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # mse's broadcasting warning: judged below
            value, out = prepared.step(model, batch)
    except TaskError:
        raise
    except Exception as exc:
        raise _step_error(prepared, batch, exc) from exc
    yb = targets(batch)
    if yb is not None and prepared.task.step is None:
        _check_output(prepared, primary(out), yb, loss_ran=True)
    where = "the step" if prepared.task.step is not None else f"loss {prepared.task.loss_name!r}"
    if not torch.is_tensor(value) or value.numel() != 1:
        raise TaskError(f"{where} must return a scalar; it returned shape "
                        f"{tuple(getattr(value, 'shape', ()))}")
    if not value.requires_grad:
        raise TaskError(f"the loss from {where} has no gradient (computed under no_grad, "
                        "detached, or from no trainable parameter); return the loss tensor "
                        "the model's parameters produced")
    if prepared.task.evaluate is not None:
        _check_metrics(prepared, model, batch)


def _step_error(prepared: PreparedTask, batch: Any, exc: Exception) -> TaskError:
    """The one-line error for a step that raised on the first batch."""
    where = failure(exc)
    if where is not None and where.part == "step":
        return TaskError(f"the step raised {type(exc).__name__} on the first batch: "
                         f"{first_line(exc)}; fix step(model, batch)")
    if targets(batch) is None:
        return TaskError(f"the model raised {type(exc).__name__} on a batch of "
                         f"{type(batch).__name__}: {first_line(exc)}; make model(**batch) "
                         "accept the batch or give Task(step=...)")
    xb, yb = batch
    if where is not None and where.part == "model":
        return TaskError(
            f"the model failed on a batch of inputs {tuple(xb.shape)} {xb.dtype}: "
            f"{first_line(exc)}; make the model accept the data's X"
        )
    if where is not None:
        _check_output(prepared, primary(where.output), yb, loss_ran=False)
    return TaskError(
        f"the model's output does not fit loss {prepared.task.loss_name!r} with targets "
        f"{tuple(yb.shape)} {yb.dtype}: {first_line(exc)}; change the model's last layer, "
        "the targets or the loss"
    )


def _check_metrics(prepared: PreparedTask, model: nn.Module, batch: Any) -> None:
    evaluate = prepared.task.evaluate
    assert evaluate is not None
    model.eval()
    try:
        with torch.no_grad():
            metrics = evaluate(model, batch)
    except Exception as exc:
        raise TaskError(f"evaluate raised {type(exc).__name__} on the first batch: "
                        f"{first_line(exc)}; fix evaluate(model, batch)") from exc
    if not isinstance(metrics, Mapping) or "loss" not in metrics:
        raise TaskError(f"evaluate returned {type(metrics).__name__}"
                        f"{' without loss' if isinstance(metrics, Mapping) else ''}; return a "
                        "dict of metrics with 'loss' (the value triage minimises)")
    model.train()


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
