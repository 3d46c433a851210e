"""Goyal's gradual warmup for a data-parallel job: offered where it can pay, then validated.

Goyal et al. (2017) trained 256 workers at the linear rule's LR (k x the one-worker LR for k
workers) by raising the LR step by step from the one-worker value over the first 5 of 90
epochs: a large LR fails early, while the weights change fastest. lr-find measures the job's
own LR at the effective batch; when that LR sits above the one-worker divergence boundary, the
job trains where one worker would diverge, and a warmup may let it train better there, or at
the linear rule's LR above it. So warmed-up candidates are validated exactly as the back-off
candidates were (the chosen candidate's steps, seed and validation), and a warmup is kept only
when one validates better than the chosen LR without it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

from triage.config import Config
from triage.probe import ProbeResult, ProbeSettings

NAME = "warmup"
LABEL = "warmup"
GOYAL_EPOCHS, GOYAL_OF = 5, 90  # Goyal et al.: 5 warmup epochs of 90
DISTINCT = 1.2  # the linear rule's LR is a candidate of its own when this far above


def warmup_epochs(task_epochs: int) -> int:
    """Goyal's share of the training (5 of 90 epochs), at least one epoch."""
    return max(1, round(task_epochs * GOYAL_EPOCHS / GOYAL_OF))


def candidates(config: Config, one_worker_boundary: float | None) -> list[float]:
    """The LRs to try with a warmup (empty: not offered): the job's LR, and the linear rule's
    when distinctly above it, where the job's LR sits above the one-worker boundary."""
    ev = config.lr_find
    lr = config.optimizer.lr
    if (ev is None or ev.chosen is None or config.world_size == 1
            or one_worker_boundary is None or lr <= one_worker_boundary):
        return []
    linear = ev.rules().get("linear")
    return [lr] + ([linear] if linear is not None and linear > lr * DISTINCT else [])


def offer(config: Config, one_worker_boundary: float | None, chosen: ProbeSettings | None,
          run: Callable[[Sequence[ProbeSettings], str], list[ProbeResult]],
          task_epochs: int) -> Config:
    """``config`` with a warmup (and its LR) when a warmed-up candidate validates better than
    the chosen LR without one; its evidence records what was tried either way.

    Args:
        config: lr-find's config for several workers.
        one_worker_boundary: the highest LR one worker survived (``max_finite_lr``).
        chosen: the settings of the probe the recommendation was validated with.
        run: trains probes (as trials of lr-find's study).
        task_epochs: the task's full training, in epochs.
    """
    lrs = candidates(config, one_worker_boundary)
    ev = config.lr_find
    if not lrs or chosen is None or ev is None or ev.chosen_probe is None:
        return config
    epochs = warmup_epochs(task_epochs)
    results = run([chosen.with_(lr=lr, warmup_epochs=epochs) for lr in lrs], NAME)
    without = ev.chosen_probe.get("val_loss")
    tried = [{"lr": float(f"{r.settings.lr:.4g}"),
              "val_loss": None if r.objective is None or not r.ok else float(f"{r.objective:.4g}"),
              "steps": r.steps} for r in results]
    scored = [(r.objective, r) for r in results if r.ok and r.objective is not None
              and math.isfinite(r.objective)]
    best = min(scored, key=lambda pair: pair[0], default=None)
    better = best is not None and (without is None or best[0] < without)
    record = {"epochs": epochs, "start": f"lr / {config.world_size}", "without": without,
              "candidates": tried, "kept": better}
    if not better or best is None:
        config.lr_find = dataclasses.replace(ev, warmup=record)
        return config
    lr = best[1].settings.lr
    rule = (f"{ev.rule}; then Goyal's gradual warmup over {epochs} epoch(s) from lr / "
            f"{config.world_size} validated better at lr={lr:.3g} ({best[0]:.4g} against "
            f"{without if without is not None else 'no finite loss'} without)")
    backoff = None if ev.max_finite_lr is None else float(f"{ev.max_finite_lr / lr:.3g}")
    config.lr_find = dataclasses.replace(ev, warmup=record, rule=rule, backoff=backoff)
    config.optimizer = dataclasses.replace(config.optimizer, lr=lr)
    config.warmup_epochs = epochs
    return config
