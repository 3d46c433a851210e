"""``lr_find``: the documents' learning-rate procedure, end to end.

1. the three-LR probe (1e-1, 1e-3, 1e-6);
2. the divergence boundary, bracketed and narrowed geometrically;
3. a back-off below it, chosen among candidates by short validation runs.

Gradient clipping stays off throughout. Every probe is a trial of one Optuna study.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from triage.builders import check_positive_int
from triage.config import Config, OptimizerConfig
from triage.errors import ProbeError, SettingsError
from triage.probe import ProbeResult, ProbeSettings
from triage.strategies import BackOff, Boundary, Choice, Context, NanBoundary, ThreeLR
from triage.strategies.base import ProbeRunner
from triage.study import StudyProbeRunner, open_study, redact
from triage.task import Task

ProbeCallback = Callable[[str, ProbeResult, bool], None]


def lr_find(
    task: Task,
    *,
    optimizer: str = "sgd",
    momentum: float = 0.9,
    nesterov: bool = True,
    batch_size: int = 32,
    init: str = "default",
    seed: int = 0,
    device: str = "auto",
    steps: int = 100,
    max_steps: int = 2000,
    precision: float = 2.0,
    storage: str | None = None,
    study_name: str | None = None,
    on_probe: ProbeCallback | None = None,
) -> Config:
    """Find a learning rate for ``task`` and return it as a recommended Config.

    Args:
        task: the problem.
        optimizer, momentum, nesterov, batch_size, init: held fixed while the LR is searched.
        seed: seeds every probe's model and data order (and the hold-out split).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        steps: probe length that defines divergence (the documents' first 100 iterations).
        max_steps: training steps all probes together may use.
        precision: narrow the boundary until divergence_lr / max_stable_lr is at most this.
        storage: Optuna storage URL (None: in memory); rerunning resumes from it.
        study_name: study to create or resume (default ``triage-lr-find-<task name>``).
        on_probe: called with (phase, result, reused) after each probe.

    Raises:
        TriageError: bad settings or task; ``DivergesEverywhere`` when no LR is stable.
    """
    base = base_settings(optimizer=optimizer, momentum=momentum, nesterov=nesterov,
                         batch_size=batch_size, init=init, seed=seed, device=device, steps=steps,
                         max_steps=max_steps)
    prepared = task.prepare(seed)
    if batch_size > prepared.n_train:
        raise SettingsError(f"batch size {batch_size} is larger than the {prepared.n_train} "
                            "training samples; use a smaller --batch-size")
    name = study_name or f"triage-lr-find-{task.name}"
    study = open_study(storage, name)
    context = Context(prepared, base, _stop_on_oom(StudyProbeRunner(study, prepared, on_probe)),
                      max_steps)
    ThreeLR(steps).run(context)
    boundary = NanBoundary(steps, precision).run(context)
    choice = BackOff(boundary).run(context)
    return Config(
        optimizer=OptimizerConfig(optimizer, _round(choice.lr), momentum, nesterov, 0.0),
        batch_size=batch_size, init=init, schedule=None, grad_clip_norm=None, task=task.name,
        lr_find=_evidence(context, boundary, choice, storage, name, max_steps, seed),
    )


def base_settings(*, steps: int, max_steps: int, **fixed: Any) -> ProbeSettings:
    """Validate lr-find's arguments without a task, and return the settings every probe shares.

    ``fixed`` holds the hyperparameters kept fixed while the LR is searched (optimizer,
    momentum, nesterov, batch_size, init, seed, device).
    """
    check_positive_int("steps", steps)
    check_positive_int("max_steps", max_steps)
    if max_steps < 3 * steps:
        raise SettingsError(f"max_steps ({max_steps}) must allow at least the three-LR probe "
                            f"(3 x {steps} steps); raise --max-steps or lower --steps")
    return ProbeSettings(lr=1e-3, **fixed)


def _stop_on_oom(runner: ProbeRunner) -> ProbeRunner:
    """Running out of memory says nothing about the LR: stop with advice instead."""

    def run(settings: Sequence[ProbeSettings], phase: str) -> list[ProbeResult]:
        results = runner(settings, phase)
        for result in results:
            if result.oom:
                s = result.settings
                raise ProbeError(
                    f"a probe ran out of memory on device {s.device!r} at batch size "
                    f"{s.batch_size}; lower --batch-size or choose another --device"
                )
        return results

    return run


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else float(f"{value:.{digits}g}")


def _evidence(context: Context, boundary: Boundary, choice: Choice, storage: str | None,
              study: str, max_steps: int, seed: int) -> dict[str, Any]:
    probes = []
    for probe in context.history:
        r = probe.result
        probes.append({
            "phase": probe.phase, "lr": _round(r.settings.lr), "steps": r.steps,
            "diverged": not r.ok, "divergence_step": r.divergence_step,
            "divergence_reason": r.divergence_reason,
            "final_loss": _round(r.final_loss) if r.ok else None,
            "val_loss": _round(r.val_loss), "val_accuracy": _round(r.val_accuracy),
            "grad_norm_median": _round(r.grad_norm.get("median")),
            "update_ratio_median": _round(r.median_update_ratio),
            "dead_relu_fraction": _round(r.dead_relu_fraction),
            "losses": [_round(v) if v == v else None for v in r.losses],
        })
    return {
        "max_stable_lr": _round(boundary.max_stable_lr),
        "divergence_lr": _round(boundary.divergence_lr),
        "divergence_window_steps": boundary.steps,
        "backoff": _round(choice.backoff, 3),
        "rule": choice.rule,
        "steps_used": context.steps_used,
        "max_steps": max_steps,
        "seed": seed,
        "study": study,
        "storage": redact(storage),
        "probes": probes,
    }
