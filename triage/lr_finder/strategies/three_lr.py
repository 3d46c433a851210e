"""The three-LR probe: 1e-1, 1e-3 and 1e-6, the experienced practitioner's first look."""

from __future__ import annotations

from triage.errors import SettingsError
from triage.lr_finder.strategies.base import Context, Strategy
from triage.probe import ProbeResult, ProbeSettings

THREE_LRS = (1e-1, 1e-3, 1e-6)


class ThreeLR(Strategy[list[ProbeResult]]):
    """Probe each LR for ``steps`` steps (the documents' 'first 100 iterations').

    Args:
        steps: probe length.
        lrs: the LRs, all asked for at once.
        spare: LRs (probes of the same length) the next search will probably ask for, started
            alongside when the runner has room (see ``Context.width``).
    """

    name = "three_lr"
    label = "three-LR"

    def __init__(self, steps: int = 100, lrs: tuple[float, ...] = THREE_LRS,
                 spare: tuple[float, ...] = ()) -> None:
        if steps < 1:
            raise SettingsError(f"steps must be >= 1, got {steps}")
        self.steps, self.lrs, self.spare = steps, lrs, spare

    def run(self, context: Context) -> list[ProbeResult]:
        def at(lr: float) -> ProbeSettings:
            return context.settings(lr, steps=self.steps, evaluate=False)

        return context.probe([at(lr) for lr in self.lrs], self.name,
                             [at(lr) for lr in self.spare])
