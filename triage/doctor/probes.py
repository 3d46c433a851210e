"""Doctor's short probes: the configured LR, a tiny LR, the LR lowered by factors of 3, and the
overfit-10-examples test (with batch size 1 when it fails). Each trains a fresh model through
the probe engine; an instrument callback records gradient norms per step and per layer."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import torch
from torch import nn

from triage.doctor.budget import Budget
from triage.errors import ProbeError
from triage.probe import ProbeCallback, ProbeResult, ProbeSettings, run_probe
from triage.probe.monitor import global_grad_norm, reference_steps
from triage.probe.result import FLAT, JUDGED_STEPS, loss_drop
from triage.task import PreparedTask

EARLY = 100  # the documents: NaNs within the first 100 iterations mean the LR is too high
PROBE_STEPS = 300  # long enough to see a loss move ("a few hundred iterations")
LONGER = 10 * PROBE_STEPS  # a flat loss is watched for up to this many of the user's steps
TINY_LR = 1e-7
LOWER_BY = 3.0  # "reduce the learning rate by a factor of 3 until you no longer get NaNs"
MAX_TRIES = 8  # LR divisions, or batch halvings
OVERFIT_N = 10  # "reduce the size of the training set to 10 instances"
OVERFIT_STEPS = 300  # "... overfit to 10 instances within just a few hundred iterations"
# Adam, LRs decades apart (the documents try 1e-3 and 1e-1): the overfit test asks about
# wiring, not the user's LR (a 2-4-1 sigmoid net needs ~1e-1 to memorise XOR in 300 steps)
OVERFIT_LRS = (1e-3, 1e-2, 1e-1)
BATCH_ONE = "batch size 1"
FASTER = (3.0, 10.0, 100.0)  # lr_too_low's probes: 3x and 10x the user's LR, then 100x
# while the LR is far too low (the documents try LRs orders of magnitude apart)


class Instruments(ProbeCallback):
    """Global gradient norm every step; per weighted layer every ``every`` steps. Norms stay
    on the device while training (no host sync per step) and are read back once."""

    def __init__(self, every: int = 10) -> None:
        self.every = every
        self._norms: list[torch.Tensor] = []
        self._layers: dict[str, list[torch.Tensor]] = {}

    def on_backward(self, step: int, model: nn.Module) -> None:
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        if not grads:
            return
        self._norms.append(global_grad_norm(grads).detach())
        if step % self.every:
            return
        for name, p in model.named_parameters():
            if "weight" in name and p.ndim >= 2 and p.grad is not None:
                self._layers.setdefault(name, []).append(p.grad.detach().norm())

    @cached_property
    def norms(self) -> list[float]:
        """The global gradient norm of every step."""
        return torch.stack(self._norms).float().tolist() if self._norms else []

    @cached_property
    def layers(self) -> dict[str, list[float]]:
        """Per weight tensor (in parameter order), its gradient norm at sampled steps."""
        return {name: torch.stack(values).float().tolist()
                for name, values in self._layers.items()}


@dataclass
class Run:
    """One probe's result with its instruments (None: the probe itself raised)."""

    name: str
    result: ProbeResult | None
    instruments: Instruments = field(default_factory=Instruments)
    error: str | None = None
    memorised: bool | None = None  # overfit runs only

    @property
    def ok(self) -> bool:
        """It ran and trained cleanly (no error, divergence or running out of memory)."""
        return self.result is not None and self.result.ok

    @property
    def non_finite(self) -> bool:
        return self.result is not None and self.result.diverged and \
            "non-finite" in (self.result.divergence_reason or "")

    @property
    def early(self) -> bool:
        r = self.result
        return r is not None and r.diverged and (r.divergence_step or 0) < EARLY


def probe(name: str, prepared: PreparedTask, settings: ProbeSettings,
          budget: Budget | None = None, explosions: bool = True,
          by_examples: bool = True) -> Run:
    """Run one instrumented probe; an exception in the user's code becomes ``Run.error``.
    With a ``budget``, the probe's steps are sized by it (``Budget.steps``) and its speed is
    recorded there; without ``explosions`` only a non-finite loss stops it (``run_probe``)."""
    instruments = Instruments()
    if budget is not None and settings.steps is not None:
        settings = settings.with_(steps=budget.steps(name, settings.steps, settings.batch_size,
                                                     by_examples))
    try:
        result = run_probe(prepared, settings, [instruments], explosions=explosions)
    except ProbeError as exc:
        return Run(name, None, instruments, error=str(exc))
    if budget is not None:
        budget.measured(settings.batch_size, result.steps, result.wall_time)
    return Run(name, result, instruments)


def flat(run: Run) -> bool:
    """It ran cleanly and its loss fell by less than ``FLAT`` (mean of the last tenth of its
    finite losses against the first)."""
    losses = [v for v in run.result.losses if math.isfinite(v)] if run.ok else []  # type: ignore[union-attr]
    return len(losses) >= JUDGED_STEPS and loss_drop(losses)[2] < FLAT


def start_loss(result: ProbeResult) -> float:
    """The loss training started from: the mean over the divergence watch's reference steps
    (``monitor.reference_steps``; NaN without losses)."""
    first = result.losses[:reference_steps(result.settings.effective_batch_size)]
    return sum(first) / len(first) if first else math.nan


def faster(prepared: PreparedTask, settings: ProbeSettings, steps: int) -> list[Run]:
    """The first ``steps`` steps again at 3x and 10x the LR (same seed, same batches),
    evaluated on the validation split when ``settings.evaluate`` is set; then at 100x only
    when 10x stayed stable and ended lower than 3x (the LR is still far too low)."""
    runs: list[Run] = []
    for factor in FASTER:
        if len(runs) >= 2 and not _lower(runs[-1], runs[-2]):
            break
        runs.append(probe(f"lr x{factor:g}", prepared,
                          settings.with_(lr=settings.lr * factor, steps=steps)))
    return runs


def _lower(run: Run, than: Run) -> bool:
    """Both ran cleanly and ``run``'s last training losses are below ``than``'s."""
    return run.ok and than.ok and \
        loss_drop(run.result.losses)[1] < loss_drop(than.result.losses)[1]  # type: ignore[union-attr]


def lower_lr(prepared: PreparedTask, settings: ProbeSettings,
             budget: Budget | None = None) -> list[Run]:
    """Divide the LR by 3 until the first ``EARLY`` iterations stay finite and bounded."""
    runs = []
    lr = settings.lr
    for _ in range(MAX_TRIES):
        lr /= LOWER_BY
        run = probe(f"lr={lr:.3g}", prepared, settings.with_(lr=lr, steps=EARLY, evaluate=False),
                    budget)
        runs.append(run)
        if run.result is None or run.result.ok:
            break
    return runs


def shrink_batch(prepared: PreparedTask, settings: ProbeSettings) -> list[Run]:
    """Halve the batch size until ``EARLY`` steps fit in device memory."""
    runs = []
    size = settings.batch_size
    while size > 1 and len(runs) < MAX_TRIES:
        size //= 2
        run = probe(f"batch={size}", prepared, settings.with_(batch_size=size, steps=EARLY))
        runs.append(run)
        if run.result is None or not run.result.oom:
            break
    return runs


def fitting_batch(runs: list[Run]) -> int | None:
    """The batch size of the first run that did not run out of memory."""
    return next((r.result.settings.batch_size for r in runs
                 if r.result is not None and not r.result.oom), None)


def overfit(prepared: PreparedTask, settings: ProbeSettings,
            budget: Budget | None = None) -> list[Run]:
    """Memorise ``OVERFIT_N`` training examples with Adam, in one batch (or in the user's
    batch size when smaller, as memory may demand); on failure, again with batch size 1 (the
    documents' check for batch computation errors)."""
    small = _first(prepared, OVERFIT_N)
    n = len(small.train)  # type: ignore[arg-type]
    base = settings.with_(optimizer="adam", momentum=0.0, nesterov=False, weight_decay=0.0,
                          batch_size=min(n, settings.batch_size), world_size=1,
                          steps=OVERFIT_STEPS,
                          schedule=None, dropout=None, grad_clip_norm=None, evaluate=True)
    runs = []
    for lr in OVERFIT_LRS:
        run = probe(f"overfit {n} (adam {lr:g})", small, base.with_(lr=lr), budget)
        run.memorised = _memorised(run, small)
        runs.append(run)
        if run.memorised:
            return runs
    run = probe(f"overfit {n}, {BATCH_ONE}", small,
                base.with_(lr=OVERFIT_LRS[0], batch_size=1, steps=OVERFIT_STEPS * 2), budget)
    run.memorised = _memorised(run, small)
    runs.append(run)
    return runs


def batch_one(runs: list[Run]) -> Run | None:
    """The overfit test's run with batch size 1 (only after the batched runs failed)."""
    return next((r for r in runs if r.name.endswith(BATCH_ONE)), None)


def _first(prepared: PreparedTask, n: int) -> PreparedTask:
    train = prepared.train
    small = train.subset(torch.arange(min(n, len(train))))
    return PreparedTask(prepared.task, small, small, prepared.step, prepared.accuracy)


def _memorised(run: Run, small: PreparedTask) -> bool:
    """All examples predicted right (classification), else loss down to a tenth of its start."""
    r = run.result
    if r is None or not r.ok or r.val_loss is None:
        return False
    if small.accuracy is not None and r.val_accuracy is not None:
        return r.val_accuracy >= 1.0
    start = r.losses[0] if r.losses else math.nan
    return math.isfinite(start) and r.val_loss <= 0.1 * abs(start) + 1e-6
