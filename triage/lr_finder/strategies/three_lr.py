"""The three-LR probe: 1e-1, 1e-3 and 1e-6, the experienced practitioner's first look."""

from __future__ import annotations

from triage.errors import SettingsError
from triage.lr_finder.strategies.base import Context, Strategy
from triage.probe import ProbeResult

THREE_LRS = (1e-1, 1e-3, 1e-6)


class ThreeLR(Strategy[list[ProbeResult]]):
    """Probe each LR for ``steps`` steps (the documents' 'first 100 iterations')."""

    name = "three_lr"

    def __init__(self, steps: int = 100, lrs: tuple[float, ...] = THREE_LRS) -> None:
        if steps < 1:
            raise SettingsError(f"steps must be >= 1, got {steps}")
        self.steps = steps
        self.lrs = lrs

    def run(self, context: Context) -> list[ProbeResult]:
        settings = [context.base.with_(lr=lr, steps=self.steps, evaluate=False) for lr in self.lrs]
        return context.probe(settings, self.name)
