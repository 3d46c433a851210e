"""``train``: the full budget with a config, exactly as it was measured, through the probe engine.

Every epoch is validated; the weights of the epoch with the best validation loss are kept, and
with ``patience`` training stops once that many epochs in a row brought no better one (the
documents' early stopping). ``on_epoch`` sees each finished epoch (the CLI draws progress and
saves a checkpoint there, so that an interrupted run keeps its last finished epoch).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from triage.config import Config
from triage.errors import ConfigError
from triage.probe import ProbeCallback, run_probe
from triage.task import Task
from triage.training import check_run
from triage.validate import check_positive_int


@dataclass(frozen=True)
class TrainSettings:
    """How ``train`` runs (the hyperparameters come from the config).

    Args:
        epochs: epochs to train (None: the task's budget).
        patience: stop after this many epochs without a better validation loss (None: never).
        seed: seeds the model's initialisation and the data order.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    """

    epochs: int | None = None
    patience: int | None = None
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        for name in ("epochs", "patience"):
            if getattr(self, name) is not None:
                check_positive_int(name, getattr(self, name))
        check_run(self.seed, self.device)


@dataclass
class Epoch:
    """One finished epoch: its mean training loss and the validation metrics after it."""

    epoch: int
    train_loss: float | None
    val_loss: float | None
    val_accuracy: float | None


@dataclass
class TrainResult:
    """What ``train`` produced: the curve, the best epoch's weights, and how the run ended."""

    curve: list[Epoch]
    best_epoch: int | None
    state_dict: dict[str, Any] = field(repr=False)
    steps: int = 0
    wall_time: float = 0.0
    stopped_early: bool = False
    diverged: str | None = None  # why, when training diverged

    def metrics(self) -> dict[str, Any]:
        """The metrics document (``metrics.json``)."""
        best = self.curve[self.best_epoch - 1] if self.best_epoch else None
        final = self.curve[-1] if self.curve else None
        return {"epochs": [vars(e) for e in self.curve],
                "final": vars(final) if final else None, "best": vars(best) if best else None,
                "stopped_early": self.stopped_early, "diverged": self.diverged,
                "steps": self.steps, "wall_time": round(self.wall_time, 3)}


OnEpoch = Callable[[Epoch, dict[str, Any]], None]  # (the epoch, its weights)


def train(task: Task, config: Config, settings: TrainSettings | None = None,
          on_epoch: OnEpoch | None = None) -> TrainResult:
    """Train ``task`` for its full budget with ``config`` and return the curve and weights.

    Raises:
        ConfigError: the config was made for another task (name, or a table's input width).
        TriageError: bad settings or task.
    """
    settings = settings or TrainSettings()
    check_config(task, config)
    probe = config.probe_settings(seed=settings.seed, device=settings.device,
                                  epochs=settings.epochs or task.epochs)
    keeper = _Keeper(settings.patience, on_epoch)
    started = time.perf_counter()
    result = run_probe(task.prepare(settings.seed), probe, [keeper])
    if keeper.best is None and keeper.model is not None:  # no finite validation loss
        keeper.best = _weights(keeper.model)
    return TrainResult(keeper.curve, keeper.best_epoch, keeper.best or {}, result.steps,
                       time.perf_counter() - started, result.stopped_early,
                       result.divergence_reason if result.diverged else None)


def check_config(task: Task, config: Config) -> None:
    """The config was made for this task (its name, and a table's input width)."""
    if config.task is not None and config.task != task.name:
        raise ConfigError(f"the config was made for task {config.task!r}, not {task.name!r}; "
                          "give the TASK it was measured on, or run lr-find on this one")
    made = (config.data or {}).get("network", {}).get("inputs")
    have = (task.data or {}).get("network", {}).get("inputs")
    if made is not None and have is not None and made != have:
        raise ConfigError(f"the config's network takes {made} inputs but this table gives "
                          f"{have}; the table's columns changed since the config was made")


class _Keeper(ProbeCallback):
    """Records the curve, keeps the best epoch's weights, stops after ``patience``."""

    def __init__(self, patience: int | None, on_epoch: OnEpoch | None) -> None:
        self.patience, self.on_epoch = patience, on_epoch
        self.curve: list[Epoch] = []
        self.model: Any = None
        self.best: dict[str, Any] | None = None
        self.best_epoch: int | None = None

    def on_backward(self, step: int, model: Any) -> None:
        self.model = model

    def on_epoch_metrics(self, epoch: int, metrics: dict[str, float | None], model: Any) -> None:
        weights = _weights(model)
        record = Epoch(epoch, metrics["train_loss"], metrics["val_loss"],
                       metrics["val_accuracy"])
        self.curve.append(record)
        best = self.curve[self.best_epoch - 1].val_loss if self.best_epoch else None
        if record.val_loss is not None and (best is None or record.val_loss < best):
            self.best, self.best_epoch = weights, epoch
        if self.on_epoch is not None:
            self.on_epoch(record, weights)

    def on_epoch_end(self, epoch: int, val_loss: float | None) -> bool:
        return (self.patience is not None and self.best_epoch is not None
                and epoch - self.best_epoch >= self.patience)


def _weights(model: Any) -> dict[str, Any]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
