"""Checks and the evidence they read.

A check is a small class with one required method, ``check(evidence) -> list[Finding]``. Checks
run in stages (data, then the model at init, then training probes); the evidence of a stage is
filled in before its checks run, and a later stage never runs when an earlier one found that
the program cannot run at all.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import ClassVar

from triage.doctor.budget import Budget
from triage.doctor.findings import Finding
from triage.doctor.forward import ForwardInfo
from triage.doctor.inputs import Splits
from triage.doctor.probes import Run
from triage.losses import LossKind
from triage.probe import ProbeSettings
from triage.task import PreparedTask, Task

STAGES = ("data", "model", "train")  # in the order they run


@dataclass
class Evidence:
    """Everything doctor measured, stage by stage.

    Attributes:
        task: the user's task.
        settings: the user's current settings (LR, updater, batch size, init, seed, device).
        splits: the data as given, and finite copies for the probes.
        targets: ``index``, ``onehot``, ``binary`` or ``continuous``.
        loss: the known loss the task uses (see ``triage.losses.identify``), or None.
        forward: the forward pass at init (model stage).
        prepared: the finite data, loss and accuracy the probes train on.
        runs: probes by role: ``configured``, ``tiny``, and ``out_of_memory`` (the configured
            run that did not fit, when the batch had to be shrunk).
        shrink: the batch size halved until it fits (only after running out of memory).
        lowered: the LR divided by 3 until stable (only after early divergence).
        overfit: the overfit-10 runs (Adam at two LRs, then batch size 1).
        faster: the configured probe's first steps again at 3x and 10x the LR, then 100x when
            10x ended lower than 3x (only when its loss is still falling at the end, or the
            user's whole training is shorter than the probe).
        budget: the time budget the probes were sized by (what was shortened).
    """

    task: Task
    settings: ProbeSettings
    splits: Splits | None  # None: the items are not (x, y) tensors (only training checks run)
    targets: str
    loss: LossKind | None = None
    forward: ForwardInfo | None = None
    prepared: PreparedTask | None = None
    runs: dict[str, Run] = field(default_factory=dict)
    lowered: list[Run] = field(default_factory=list)
    shrink: list[Run] = field(default_factory=list)
    overfit: list[Run] = field(default_factory=list)
    faster: list[Run] = field(default_factory=list)
    budget: Budget = field(default_factory=Budget)

    @property
    def regression(self) -> bool:
        return self.targets == "continuous" and not (self.loss and self.loss.classification)

    def trained(self) -> Run | None:
        """The configured-LR probe when it ran without divergence or error."""
        run = self.runs.get("configured")
        return run if run is not None and run.result is not None and run.result.ok else None


class Check(abc.ABC):
    """One diagnosis. Subclasses set ``stage`` (one of ``STAGES``) and implement ``check``."""

    stage: ClassVar[str]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        stage = getattr(cls, "stage", None)
        if stage not in STAGES:
            raise TypeError(f"{cls.__name__}.stage must be one of {', '.join(STAGES)}, got "
                            f"{stage!r}")

    @abc.abstractmethod
    def check(self, evidence: Evidence) -> list[Finding]:
        """Read the evidence; return the findings (none when all is well)."""
        raise NotImplementedError
