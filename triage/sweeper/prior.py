"""What a sweep knows before its first trial: an lr-find result (``--from``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from triage.choices import updater_name
from triage.errors import SettingsError
from triage.lr_finder.evidence import LRFindEvidence

if TYPE_CHECKING:
    from triage.config import Config


@dataclass(frozen=True)
class LRPrior:
    """An ``lr-find`` result: its learning rate, the updater and settings it was measured with,
    and the evidence behind it.

    In a space with a ``backoff`` range, the first trial runs lr-find's configuration, its
    boundary serves every trial of the same updater, batch size and init without a new
    measurement, and its back-off is where the search looks first. In a space that searches the
    LR itself, ``lr`` with ``around_lr_find: f`` searches ``[lr/f, lr*f]`` for that updater (and
    for all, when ``updater`` is None).

    Attributes:
        lr: the recommended LR.
        updater: ``sgd_nesterov``, ``adam``, ...; None applies the LR to every updater.
        boundary: the highest LR that survived the divergence window (None: not known).
        divergence_lr: the lowest LR that diverged above it.
        window: the divergence window, in steps.
        batch_size, init, momentum: the settings lr-find held fixed.
        steps: training steps lr-find spent (they count against a sweep's budget).
    """

    lr: float
    updater: str | None = None
    boundary: float | None = None
    divergence_lr: float | None = None
    window: int | None = None
    batch_size: int = 32
    init: str = "default"
    momentum: float = 0.9
    steps: int = 0

    @classmethod
    def of(cls, config: Config, world_size: int = 1) -> LRPrior:
        """The prior an lr-find config gives (Nesterov SGD is the updater ``sgd_nesterov``)
        to a sweep whose trials train ``world_size`` workers.

        Raises:
            SettingsError: a config for another number of data-parallel workers.
        """
        if config.world_size != world_size:
            raise SettingsError(
                f"the config is for {config.world_size} data-parallel worker(s), and this "
                f"sweep's trials train {world_size}; start it from an lr-find config for "
                f"{world_size} (lr-find --world-size {world_size}, or under the same torchrun)")
        o = config.optimizer
        ev = config.lr_find or LRFindEvidence()
        return cls(o.lr, updater_name(o.name, o.nesterov), ev.max_finite_lr, ev.divergence_lr,
                   ev.divergence_window_steps, config.batch_size, config.init, o.momentum,
                   ev.steps_used)

    @property
    def backoff(self) -> float | None:
        """How far below its boundary lr-find's LR sits (None: no boundary known)."""
        return None if self.boundary is None else max(1.0, self.boundary / self.lr)

    def applies(self, updater: str | None) -> bool:
        return self.updater is None or updater is None or updater == self.updater
