"""DoctorSettings: what you train with, and how long doctor may take; validated at once."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from triage.doctor.budget import DEFAULT_SECONDS
from triage.errors import SettingsError
from triage.training import Training, check_run, updater_for
from triage.validate import check_positive

if TYPE_CHECKING:
    from triage.probe import ProbeSettings
    from triage.task import Task


@dataclass(frozen=True)
class DoctorSettings:
    """How doctor runs: your training settings (the ones it diagnoses) and its budget.

    Args:
        lr: the learning rate you train with; None: your updater's customary one (triage's
            table for its five, a torch class's default ``lr``, your factory's default).
        optimizer: your updater; None: the Task's own when it brings one, else Nesterov SGD.
        momentum, nesterov, weight_decay, batch_size, init, precision: see ``Training``.
        seed: seeds every probe's model and data order, and the hold-out split.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        budget: seconds the diagnosis should take (probes are sized by the measured step
            time); None: no limit.
        verify: try each fix a probe can apply (``triage.doctor.verify``) and demote to info
            the findings whose fix does not help; False: the checks' findings as stated.
        world_size: data-parallel workers, each with ``batch_size`` (under torchrun, its
            processes: the probes on the whole training set are DDP jobs across them).
    """

    lr: float | None = None
    optimizer: str | None = None
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 0.0
    batch_size: int = 32
    init: str = "default"
    precision: str = "32"
    seed: int = 0
    device: str = "auto"
    budget: float | None = DEFAULT_SECONDS
    verify: bool = True
    world_size: int = 1

    def __post_init__(self) -> None:
        self.training()
        check_run(self.seed, self.device, self.precision)
        if self.lr is not None:
            check_positive("lr", self.lr)
        if self.budget is not None and not (
                isinstance(self.budget, (int, float)) and not isinstance(self.budget, bool)
                and math.isfinite(self.budget) and self.budget > 0):
            raise SettingsError(f"budget must be seconds > 0 (None: no limit), got "
                                f"{self.budget!r}")

    def training(self, task: Task | None = None) -> Training:
        """Your training settings on ``task`` (its own updater when none is named)."""
        return Training(optimizer=updater_for(self.optimizer, task), momentum=self.momentum,
                        nesterov=self.nesterov,
                        weight_decay=self.weight_decay, batch_size=self.batch_size,
                        init=self.init, precision=self.precision, world_size=self.world_size)

    def probe_settings(self, task: Task) -> ProbeSettings:
        """The settings doctor diagnoses on ``task``: yours, at your LR.

        Raises:
            SettingsError: no LR given and the updater has no default one.
        """
        from triage.optimizers import customary_lr

        training = self.training(task)
        lr = self.lr
        if lr is None:
            lr = customary_lr(training.optimizer, task.optimizer_factory)
            if lr is None:
                raise SettingsError("the Task's optimizer factory has no default lr; give the "
                                    "LR you train with (--lr)")
        return training.at(lr, seed=self.seed, device=self.device)
