"""ProbeResult: the evidence one probe leaves behind."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from statistics import median
from typing import Any

from triage.probe.settings import ProbeSettings

FLAT = 0.01  # Debugging: a net "that never reduces the training loss after the initial
# fidgeting" is not learning: its loss falls by less than 1% (working nets: tens of percent)
JUDGED_STEPS = 20  # fewer finite losses than this cannot tell learning from noise


def loss_drop(losses: list[float]) -> tuple[float, float, float]:
    """(mean of the first 10%, mean of the last 10% (at least 10 steps each), relative drop)."""
    k = max(10, len(losses) // 10)
    start, end = sum(losses[:k]) / k, sum(losses[-k:]) / k
    return start, end, (start - end) / (abs(start) + 1e-12)


@dataclass
class ProbeResult:
    """What a probe measured.

    Attributes:
        settings: the hyperparameters it ran with.
        steps: optimizer steps actually taken (a diverged probe stops early).
        losses: training loss per step (NaN where it was not finite).
        diverged: the loss or gradients went non-finite, or the loss exploded.
        divergence_step: the step (0-based) where divergence was detected.
        divergence_reason: human-readable cause.
        oom: the device ran out of memory.
        val_loss, val_accuracy: measured at the end (accuracy for classification only).
        grad_norm: summary of the sampled global gradient norm (first, median, max, last).
        update_ratio: per parameter tensor, median ||update|| / ||weight|| over sampled steps.
        dead_relu_fraction: share of ReLU units that output zero for a whole batch at the end.
        wall_time: seconds.
        epoch_val_losses: validation loss after each complete epoch (only with callbacks).
        stopped_early: a callback stopped the probe before its planned steps.
        noise_scale: with several workers, the gradient noise scale B_simple in samples
            (``monitor.NoiseScale``) over the sampled steps: about the critical batch.
    """

    settings: ProbeSettings
    steps: int
    losses: list[float]
    diverged: bool = False
    divergence_step: int | None = None
    divergence_reason: str | None = None
    oom: bool = False
    val_loss: float | None = None
    val_accuracy: float | None = None
    grad_norm: dict[str, float] = field(default_factory=dict)
    update_ratio: dict[str, float] = field(default_factory=dict)
    dead_relu_fraction: float | None = None
    wall_time: float = 0.0
    epoch_val_losses: list[float | None] = field(default_factory=list)
    stopped_early: bool = False
    noise_scale: float | None = None

    @property
    def ok(self) -> bool:
        """Finished without divergence or running out of memory."""
        return not (self.diverged or self.oom)

    @property
    def not_learning(self) -> bool:
        """Finished without diverging, yet its training loss fell by less than ``FLAT``
        (stuck at chance, say); False when too few steps ran to tell."""
        finite = [v for v in self.losses if math.isfinite(v)]
        return self.ok and len(finite) >= JUDGED_STEPS and loss_drop(finite)[2] < FLAT

    @property
    def final_loss(self) -> float:
        """Mean training loss over the last 10% of steps (at least 5)."""
        tail = self.losses[-max(5, len(self.losses) // 10) :]
        return sum(tail) / len(tail) if tail else math.nan

    @property
    def objective(self) -> float:
        """What a study minimises: validation loss when measured, else the final train loss."""
        return self.val_loss if self.val_loss is not None else self.final_loss

    @property
    def median_update_ratio(self) -> float | None:
        return median(self.update_ratio.values()) if self.update_ratio else None

    def evidence(self, *, digits: int | None = None, trace: bool = False,
                 timing: bool = False) -> dict[str, Any]:
        """The summary a config or a trial keeps: per-run and per-epoch numbers, JSON-safe
        (non-finite numbers become None).

        Args:
            digits: round numbers to this many significant digits (None: as measured).
            trace: include the per-step training losses (``losses``).
            timing: include the wall time (which differs from run to run).
        """

        def num(value: float | None) -> float | None:
            value = finite_or_none(value)
            return value if value is None or digits is None else float(f"{value:.{digits}g}")

        data: dict[str, Any] = {
            "lr": num(self.settings.lr), "steps": self.steps,
            "epochs": len(self.epoch_val_losses), "diverged": self.diverged, "oom": self.oom,
            "not_learning": self.not_learning,
            "divergence_step": self.divergence_step,
            "divergence_reason": self.divergence_reason,
            "final_loss": num(self.final_loss) if self.ok and self.losses else None,
            "val_loss": num(self.val_loss), "val_accuracy": num(self.val_accuracy),
            "epoch_val_losses": [num(v) for v in self.epoch_val_losses],
            "grad_norm_median": num(self.grad_norm.get("median")),
            "update_ratio_median": num(self.median_update_ratio),
            "dead_relu_fraction": num(self.dead_relu_fraction),
            "noise_scale": num(self.noise_scale),
        }
        if trace:
            data["losses"] = [num(v) for v in self.losses]
        if timing:
            data["wall_time"] = round(self.wall_time, 3)
        return data

    def to_dict(self) -> dict[str, Any]:
        """Everything, for storing and reading back (``from_dict``); JSON-safe: non-finite
        numbers become None."""
        data = asdict(self)
        data["settings"] = self.settings.to_dict()
        data["losses"] = [finite_or_none(v) for v in self.losses]
        for key in ("val_loss", "val_accuracy"):
            data[key] = finite_or_none(data[key])
        data["grad_norm"] = {k: finite_or_none(v) for k, v in self.grad_norm.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProbeResult:
        data = dict(data)
        data["settings"] = ProbeSettings.from_dict(data["settings"])
        data["losses"] = [math.nan if v is None else v for v in data["losses"]]
        return cls(**data)


def finite_or_none(value: float | None) -> float | None:
    """The value as a float when finite, else None (JSON- and storage-safe)."""
    return value if value is not None and math.isfinite(value) else None
