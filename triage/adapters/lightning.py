"""``from_lightning``: a LightningModule (and its LightningDataModule) as a Task.

The module's ``training_step`` is the step and its ``validation_step`` the evaluation, called
without a Trainer: ``self.log`` and ``self.log_dict`` record into the fresh model instead of
warning, and a loss the validation step returns or logs is the validation value. triage owns
the optimizer while probing; ``notes`` says which one ``configure_optimizers`` would have used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from triage.adapters import require
from triage.errors import TaskError, first_line
from triage.task import Task

LOGGED = "_triage_logged"  # the values a probe's model logged in its last step


def from_lightning(
    module: Callable[[], Any],
    datamodule: Any = None,
    train: Any = None,
    val: Any = None,
    epochs: int | None = None,
    name: str | None = None,
) -> Task:
    """A Task for a LightningModule.

    Args:
        module: the LightningModule class, or a zero-argument factory of one.
        datamodule: a LightningDataModule whose ``train_dataloader`` (and ``val_dataloader``,
            if it has one) supply the data; triage re-batches their datasets, keeping their
            collate function, at the batch sizes it probes.
        train, val: the data instead of a datamodule (any form a Task takes).
        epochs: your full training budget (default: the Task's).
        name: shown in reports (default: the module's class name).

    Raises:
        TaskError: lightning is missing, ``module`` is an instance, or there is no data.
    """
    lightning = require("lightning", "lightning", "from_lightning")
    if isinstance(module, lightning.LightningModule) or not callable(module):
        raise TaskError("from_lightning takes the LightningModule class or a zero-argument "
                        "factory, so that every probe trains a fresh one: "
                        "from_lightning(MyModule), not from_lightning(MyModule())")
    collate = None
    if datamodule is not None:
        train, val, collate = _from_datamodule(datamodule)
    if train is None:
        raise TaskError("from_lightning needs data: a datamodule, or train= (and val=)")
    probe = _build(module)
    extra: dict[str, Any] = {} if epochs is None else {"epochs": epochs}
    overrides_validation = (type(probe).validation_step
                            is not lightning.LightningModule.validation_step)
    return Task(model=lambda: _build(module), train=train, val=val, collate=collate,
                step=training_step, evaluate=validation_step if overrides_validation else None,
                name=name or type(probe).__name__, notes=(_optimizer_note(probe),), **extra)


def training_step(model: Any, batch: Any) -> Any:
    """The module's own ``training_step`` on one batch."""
    getattr(model, LOGGED).clear()
    return model.training_step(batch, 0)


def validation_step(model: Any, batch: Any) -> dict[str, Any]:
    """The module's ``validation_step``: the loss it returns, or the one it logs (a name with
    ``loss`` in it), and a logged accuracy (a name with ``acc``); else the training step's
    loss."""
    logged = getattr(model, LOGGED)
    logged.clear()
    result = model.validation_step(batch, 0)
    if torch.is_tensor(result):
        logged.setdefault("loss", result)
    elif isinstance(result, Mapping):
        logged.update(result)
    loss = next((v for k, v in logged.items() if "loss" in k), None)
    metrics = {"loss": loss if loss is not None else training_step(model, batch)}
    accuracy = next((v for k, v in logged.items() if "acc" in k), None)
    if accuracy is not None:
        metrics["accuracy"] = accuracy
    return metrics


def _build(module: Callable[[], Any]) -> Any:
    """A fresh module whose ``log``/``log_dict`` record values instead of needing a Trainer."""
    model = module()
    logged: dict[str, Any] = {}

    def log(name: str, value: Any, *args: Any, **kwargs: Any) -> None:
        logged[name] = value

    def log_dict(values: Mapping[str, Any], *args: Any, **kwargs: Any) -> None:
        logged.update(values)

    object.__setattr__(model, LOGGED, logged)
    object.__setattr__(model, "log", log)
    object.__setattr__(model, "log_dict", log_dict)
    return model


def _from_datamodule(datamodule: Any) -> tuple[Any, Any, Any]:
    """(train dataset, val dataset or None, the train loader's collate function)."""
    try:
        datamodule.prepare_data()
        datamodule.setup("fit")
        loader = datamodule.train_dataloader()
    except Exception as exc:
        raise TaskError(f"the datamodule gave no training data ({type(exc).__name__}: "
                        f"{first_line(exc)}); define train_dataloader()") from exc
    dataset = getattr(loader, "dataset", None)
    if dataset is None:
        raise TaskError("the datamodule's train_dataloader() is not a DataLoader over a "
                        "dataset; return DataLoader(dataset, ...)")
    val = None
    try:
        val_loader = datamodule.val_dataloader()
        val = getattr(val_loader, "dataset", None)
    except Exception:
        val = None  # no validation data: a seeded hold-out of the training set
    return dataset, val, getattr(loader, "collate_fn", None)


def _optimizer_note(model: Any) -> str:
    """Which optimizer the module's ``configure_optimizers`` would use, for the output."""
    try:
        found = model.configure_optimizers()
    except Exception as exc:
        return (f"configure_optimizers() raised {type(exc).__name__} outside a Trainer; "
                "triage's recommendation replaces its optimizer")
    if isinstance(found, Mapping):
        found = found.get("optimizer", found)
    if isinstance(found, (list, tuple)) and found:
        found = found[0][0] if isinstance(found[0], (list, tuple)) else found[0]
    if isinstance(found, torch.optim.Optimizer):
        lr = found.param_groups[0].get("lr")
        name = type(found).__name__
        kept = (f"; --optimizer {name} keeps it" if name in dir(torch.optim) else "")
        return (f"the module's configure_optimizers() uses {name} (lr {lr:g}); triage probes "
                f"with its own optimizer, and its recommendation replaces it{kept}")
    return "triage probes with its own optimizer; its recommendation replaces the module's"
