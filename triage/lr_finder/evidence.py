"""What lr-find measured, as a config, the report and JSON read it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from triage.errors import ConfigError


@dataclass(frozen=True)
class LRFindEvidence:
    """The evidence behind lr-find's recommendation (a config's ``lr_find`` section).

    Attributes:
        max_stable_lr: the highest LR that survived the divergence window and learned.
        max_finite_lr: the highest LR that survived it (learning or not).
        divergence_lr: the lowest LR that diverged above those (None: none up to the ceiling).
        divergence_window_steps: the window's length in steps.
        backoff: how far below the boundary the recommendation sits.
        rule: why the back-off won, in words.
        steps_used: training steps all probes took.
        max_steps: the step budget.
        full_budget_steps: the task's whole training in steps.
        seed: the probes' seed.
        study: the Optuna study holding the probes.
        storage: its storage, credentials redacted (None: in memory).
        probes: every probe in order: its ``phase`` (a strategy's ``name``) and its
            evidence (``ProbeResult.evidence``, numbers to 4 significant digits).
        chosen: the index in ``probes`` of the probe trained at the recommended LR (None
            when the budget left no room to validate it).
        world_size: the data-parallel workers the LR is for (each with the config's
            ``batch_size``).
        one_worker_lr: with several workers, the same search's LR for one worker (the base
            of the linear and square-root rules, ``rules``).
        one_worker_steps: the steps that search took.
        fused_fallback: why fused probes fell back to one at a time, if they did.
        warmup: with several workers whose LR sits above the one-worker boundary, Goyal's
            gradual warmup as tried (``triage.lr_finder.warmup``): its epochs, the chosen
            LR's validation loss without it, each candidate, and whether it was kept.
    """

    max_stable_lr: float | None = None
    max_finite_lr: float | None = None
    divergence_lr: float | None = None
    divergence_window_steps: int | None = None
    backoff: float | None = None
    rule: str = ""
    steps_used: int = 0
    max_steps: int = 0
    full_budget_steps: int | None = None
    seed: int = 0
    study: str | None = None
    storage: str | None = None
    probes: list[dict[str, Any]] = field(default_factory=list)
    chosen: int | None = None
    world_size: int = 1
    one_worker_lr: float | None = None
    one_worker_steps: int = 0
    fused_fallback: str | None = None
    warmup: dict[str, Any] | None = None

    @property
    def chosen_probe(self) -> dict[str, Any] | None:
        """The probe at the recommended LR, if one was trained."""
        return None if self.chosen is None else self.probes[self.chosen]

    def rules(self) -> dict[str, float]:
        """What the scaling rules make of the one-worker LR for ``world_size`` workers: the
        linear rule (Goyal et al. 2017, SGD) and the square-root rule (Malladi et al. 2022,
        Adam); empty for one worker."""
        if self.one_worker_lr is None or self.world_size == 1:
            return {}
        return {"linear": self.one_worker_lr * self.world_size,
                "square-root": self.one_worker_lr * math.sqrt(self.world_size)}

    @property
    def critical_batch(self) -> float | None:
        """The gradient noise scale measured at the recommended LR (several workers only): the
        effective batch past which more samples a step stop cutting the steps much
        (McCandlish et al. 2018). An early-training estimate: it grows as the loss falls."""
        chosen = self.chosen_probe
        return None if chosen is None else chosen.get("noise_scale")

    def rule_that_held(self, lr: float) -> str | None:
        """The rule whose LR is nearest the measured ``lr`` and within 2x of it (lr-find's own
        resolution: the boundary is bracketed to 2x); None when neither is."""
        distances = {name: abs(math.log(value / lr)) for name, value in self.rules().items()}
        if not distances:
            return None
        nearest = min(distances, key=distances.__getitem__)
        return nearest if distances[nearest] <= math.log(2.0) else None

    def to_dict(self) -> dict[str, Any]:
        """The YAML/JSON form (``fused_fallback`` and ``warmup`` only when there was one)."""
        data = asdict(self)
        for key in ("fused_fallback", "warmup"):
            if data[key] is None:
                del data[key]
        return data

    @classmethod
    def from_dict(cls, data: Any, source: str = "config") -> LRFindEvidence:
        """Read a config's ``lr_find`` section.

        Raises:
            ConfigError: not a mapping, or a key this version does not know.
        """
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: lr_find must be a mapping, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown key lr_find.{unknown[0]}; known keys: "
                              f"{', '.join(sorted(known))}")
        return cls(**data)
