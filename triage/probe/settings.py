"""ProbeSettings: the hyperparameters of one short, instrumented training run."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from triage.builders import StepSchedule
from triage.optimizers import OptimizerFactory
from triage.training import Training, check_run
from triage.validate import check_positive, check_positive_int

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True, kw_only=True)
class ProbeSettings(Training):
    """One probe: the training settings (``Training``, validated there) at a learning rate,
    and how the run goes. Keyword arguments only.

    Args:
        lr: learning rate (> 0).
        steps: stop after this many optimizer steps; None runs ``epochs``.
        epochs: epochs to run when ``steps`` is None; None means the task's budget.
        seed: seeds the model's initialisation and the data order.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (it must run ``precision``).
        evaluate: compute validation loss (and accuracy) at the end.
        **training: see ``Training``.
    """

    lr: float
    steps: int | None = None
    epochs: int | None = None
    seed: int = 0
    device: str = "auto"
    evaluate: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive("lr", self.lr)
        for name in ("steps", "epochs"):
            if getattr(self, name) is not None:
                check_positive_int(name, getattr(self, name))
        check_run(self.seed, self.device, self.precision)

    def make_optimizer(self, params: Any, factory: OptimizerFactory | None = None
                       ) -> torch.optim.Optimizer:
        """The optimizer over ``params`` (``factory``: the Task's, for ``task``)."""
        return self.optimizer_at(self.lr).make(params, factory)

    def with_(self, **changes: Any) -> ProbeSettings:
        """A copy with some fields changed (validated again)."""
        return super().with_(**changes)  # type: ignore[no-any-return]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["schedule"] = asdict(self.schedule) if self.schedule else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProbeSettings:
        data = dict(data)
        if data.get("schedule"):
            data["schedule"] = StepSchedule(**data["schedule"])
        return cls(**data)
