"""Build torch objects from hyperparameters: the step-decay schedule, weight init, dropout.

Shared by the probe engine and by ``Config``, so a recommendation is applied exactly as it was
measured. Optimizers are built by ``triage.optimizers``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from triage.choices import INITS
from triage.errors import SettingsError
from triage.validate import check_choice, check_dropout

__all__ = ["StepSchedule", "apply_dropout", "apply_init", "has_dropout", "make_scheduler"]


@dataclass(frozen=True)
class StepSchedule:
    """After ``after_epochs`` epochs, divide the LR by ``factor`` every ``every_epochs`` epochs.

    The source documents' schedule: k > n, factor 1.5.
    """

    after_epochs: int
    every_epochs: int
    factor: float = 1.5

    def __post_init__(self) -> None:
        if self.every_epochs < 1 or self.after_epochs <= self.every_epochs:
            raise SettingsError(
                f"step schedule needs after_epochs > every_epochs >= 1, got after_epochs="
                f"{self.after_epochs}, every_epochs={self.every_epochs}"
            )
        if not self.factor > 1:
            raise SettingsError(f"step schedule factor must be > 1, got {self.factor!r}")

    def multiplier(self, epoch: int) -> float:
        """LR multiplier once ``epoch`` epochs have been completed."""
        if epoch < self.after_epochs:
            return 1.0
        return self.factor ** -(1 + (epoch - self.after_epochs) // self.every_epochs)


def make_scheduler(
    optimizer: torch.optim.Optimizer, schedule: StepSchedule | None
) -> torch.optim.lr_scheduler.LambdaLR | None:
    """A per-epoch scheduler for ``schedule`` (call ``.step()`` after each epoch), or None."""
    if schedule is None:
        return None
    return torch.optim.lr_scheduler.LambdaLR(optimizer, schedule.multiplier)


def make_step_scheduler(
    optimizer: torch.optim.Optimizer, schedule: StepSchedule | None, steps_per_epoch: int,
    warmup_steps: int, start: float,
) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-step scheduler (call ``.step()`` after every optimizer step): Goyal et al.'s
    gradual warmup, the LR rising linearly from ``start`` x lr at the first step to lr after
    ``warmup_steps``, times ``schedule``'s multiplier for the epochs completed."""

    def multiplier(step: int) -> float:
        ramp = start + (1.0 - start) * min(1.0, step / warmup_steps)
        return ramp * (schedule.multiplier(step // steps_per_epoch) if schedule else 1.0)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, multiplier)


_WEIGHTED = (nn.Linear, nn.modules.conv._ConvNd, nn.Bilinear)


def apply_init(model: nn.Module, init: str) -> nn.Module:
    """Re-initialise weights in place (xavier, he or lecun; zero biases); ``default`` keeps them.

    Covers linear, convolutional and recurrent layers; normalisation and embedding layers keep
    their own initialisation. Returns the model.
    """
    check_choice("init", init, INITS)
    if init == "default":
        return model
    for module in model.modules():
        if isinstance(module, _WEIGHTED):
            weights = [module.weight]
            biases = [module.bias] if module.bias is not None else []
        elif isinstance(module, nn.RNNBase):
            weights = [p for n, p in module.named_parameters() if n.startswith("weight")]
            biases = [p for n, p in module.named_parameters() if n.startswith("bias")]
        else:
            continue
        with torch.no_grad():
            for weight in weights:
                _init_weight(weight, init)
            for bias in biases:
                bias.zero_()
    return model


def _init_weight(weight: torch.Tensor, init: str) -> None:
    if init == "xavier":
        nn.init.xavier_uniform_(weight)
    elif init == "he":
        nn.init.kaiming_normal_(weight, nonlinearity="relu")
    else:  # lecun: N(0, 1/fan_in)
        nn.init.kaiming_normal_(weight, nonlinearity="linear")


_DROPOUT = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)


def has_dropout(model: nn.Module) -> bool:
    """Whether the model has dropout layers whose rate a sweep can tune."""
    return any(isinstance(m, _DROPOUT) for m in model.modules())


def apply_dropout(model: nn.Module, rate: float | None) -> nn.Module:
    """Set every dropout layer's rate (in place); None keeps the model's own. Returns the model."""
    check_dropout(rate)
    if rate is None:
        return model
    for module in model.modules():
        if isinstance(module, _DROPOUT):
            module.p = float(rate)
    return model
