"""``lr_find``: the documents' learning-rate procedure, end to end.

1. the three-LR probe (1e-1, 1e-3, 1e-6);
2. the divergence boundary, bracketed and narrowed geometrically;
3. a back-off below it, chosen among candidates by short validation runs.

Gradient clipping stays off throughout. Every probe is a trial of one Optuna study.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from triage.config import Config
from triage.errors import ProbeError, SettingsError
from triage.lr_finder import warmup
from triage.lr_finder.evidence import LRFindEvidence
from triage.lr_finder.plan import Plan, make_plan
from triage.lr_finder.strategies import BackOff, Boundary, Choice, Context, NanBoundary, ThreeLR
from triage.lr_finder.strategies.base import ProbeRunner
from triage.lr_finder.strategies.three_lr import THREE_LRS
from triage.lr_finder.trials import StudyProbeRunner
from triage.probe import ProbeResult, ProbeSettings
from triage.probe.device import torch_threads
from triage.probe.fused import FusedPool
from triage.probe.parallel import check_parallel
from triage.probe.pool import Pool, ProbePool
from triage.storage import redact
from triage.storage.studies import open_study
from triage.task import PreparedTask, Task
from triage.training import Training, check_run, updater_for
from triage.validate import check_positive_int

if TYPE_CHECKING:
    import optuna

OnProbe = Callable[[str, ProbeResult, bool], None]  # (phase, result, read back from storage)


@dataclass(frozen=True)
class LRFindSettings:
    """How lr-find runs, validated at construction (before any task is loaded).

    Args:
        optimizer: the updater whose LR is searched (see ``triage.optimizers``); None: the
            Task's own (``Task(optimizer=...)``) when it brings one, else Nesterov SGD.
        momentum, nesterov, batch_size, init: held fixed while the LR is searched.
        seed: seeds every probe's model and data order (and the hold-out split).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        steps: probe length that defines divergence (the documents' first 100 iterations).
        max_steps: training steps all probes together may use.
        boundary_ratio: narrow the boundary until divergence_lr / max_finite_lr is at most this.
        precision: ``32``, ``bf16`` or ``16-mixed`` (it moves the divergence boundary).
        parallel: ``auto`` or how many probes run at once (see ``triage.probe.parallel``);
            the recommendation does not depend on it.
        world_size: the data-parallel workers the job will run on, each with ``batch_size``
            samples a step: probes train at the effective batch (``world_size`` micro-batches
            accumulated a step, on this device), and the same search for one worker follows,
            so the evidence says whether the linear or the square-root rule would have held.
    """

    optimizer: str | None = None
    momentum: float = 0.9
    nesterov: bool = True
    batch_size: int = 32
    init: str = "default"
    seed: int = 0
    device: str = "auto"
    steps: int = 100
    max_steps: int = 2000
    boundary_ratio: float = 2.0
    precision: str = "32"
    parallel: str | int = "auto"
    world_size: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "parallel", check_parallel(self.parallel))
        check_positive_int("steps", self.steps)
        check_positive_int("max_steps", self.max_steps)
        if self.max_steps < 3 * self.steps:
            raise SettingsError(
                f"max_steps ({self.max_steps}) must allow at least the three-LR probe "
                f"(3 x {self.steps} steps); raise --max-steps or lower --steps")
        if not (isinstance(self.boundary_ratio, (int, float)) and self.boundary_ratio > 1):
            raise SettingsError(f"boundary_ratio must be > 1, got {self.boundary_ratio!r}")
        self.training()
        check_run(self.seed, self.device, self.precision)

    def training(self, task: Task | None = None) -> Training:
        """How every probe on ``task`` trains (the LR is each probe's own): the updater given,
        else the Task's own, else Nesterov SGD."""
        return Training(optimizer=updater_for(self.optimizer, task), momentum=self.momentum,
                        nesterov=self.nesterov,
                        batch_size=self.batch_size, init=self.init, precision=self.precision,
                        world_size=self.world_size)


def lr_find(
    task: Task,
    settings: LRFindSettings | None = None,
    *,
    storage: str | None = None,
    study_name: str | None = None,
    on_probe: OnProbe | None = None,
    on_plan: Callable[[Plan], None] | None = None,
) -> Config:
    """Find a learning rate for ``task`` and return it as a recommended Config.

    Args:
        task: the problem.
        settings: how to search (default ``LRFindSettings()``).
        storage: Optuna storage URL (None: in memory); rerunning resumes from it.
        study_name: study to create or resume (default ``triage-lr-find-<task name>``).
        on_probe: called with (phase, result, reused) after each probe.
        on_plan: called with the plan (the step budget, which may be below
            ``settings.max_steps`` for a small task, and how probes run), once the task is
            validated.

    Raises:
        TriageError: bad settings or task; ``DivergesEverywhere`` when no LR is stable.
    """
    settings = settings or LRFindSettings()
    prepared = task.prepare(settings.seed)
    effective = settings.training(task).effective_batch_size
    if effective > prepared.n_train:
        workers = (f" x {settings.world_size} workers = {effective}"
                   if settings.world_size > 1 else "")
        raise SettingsError(f"batch size {settings.batch_size}{workers} is larger than the "
                            f"{prepared.n_train} training samples; use a smaller --batch-size"
                            + (" or --world-size" if workers else ""))
    name = study_name or f"triage-lr-find-{task.name}"
    study = open_study(storage, name)  # a bad storage fails before the plan is announced
    search = functools.partial(_search, task, prepared, study, name, storage, on_probe, on_plan)
    config, chosen = search(settings, "")
    if settings.world_size > 1:  # the same search for one worker: which scaling rule held
        alone, _ = search(dataclasses.replace(settings, world_size=1),
                          f"then one worker of batch {settings.batch_size}, to compare with "
                          "the linear and square-root rules")
        assert config.lr_find is not None and alone.lr_find is not None
        config.lr_find = dataclasses.replace(config.lr_find, one_worker_lr=alone.optimizer.lr,
                                             one_worker_steps=alone.lr_find.steps_used)
        runner = StudyProbeRunner(study, prepared, on_probe)
        config = warmup.offer(config, alone.lr_find.max_finite_lr, chosen,
                              _stop_on_oom(runner), task.epochs)
    return config


def _search(task: Task, prepared: PreparedTask, study: optuna.Study, name: str,
            storage: str | None, on_probe: OnProbe | None,
            on_plan: Callable[[Plan], None] | None, settings: LRFindSettings,
            purpose: str) -> tuple[Config, ProbeSettings | None]:
    """The procedure once, for ``settings``' workers: three LRs, the boundary, the back-off;
    returns the config and the settings its LR was validated with (None: not validated)."""
    base, run = settings.training(task), {"seed": settings.seed, "device": settings.device}
    the_plan = make_plan(prepared, base.at(THREE_LRS[0], **run), settings.max_steps,
                         settings.steps, settings.parallel, purpose)
    if on_plan is not None:
        on_plan(the_plan)
    max_steps, steps, parallelism = the_plan.max_steps, the_plan.steps, the_plan.parallelism
    with contextlib.ExitStack() as stack:
        pool: Pool | None = None
        if parallelism.workers > 1:
            kind = FusedPool if parallelism.fused else ProbePool
            pool = stack.enter_context(kind(prepared, parallelism.workers))
        stack.enter_context(torch_threads(parallelism.threads))
        runner = StudyProbeRunner(study, prepared, on_probe, pool)
        stack.callback(runner.close)  # spare probes still running are recorded as failed
        context = Context(prepared, base, _stop_on_oom(runner), max_steps, width=runner.width,
                          run=run)
        boundary_search = NanBoundary(steps, settings.boundary_ratio)
        spare = boundary_search.guesses({lr: False for lr in THREE_LRS},
                                        max_steps - len(THREE_LRS) * steps, max_steps,
                                        context.width)
        ThreeLR(steps, spare=tuple(spare)).run(context)
        boundary = boundary_search.run(context)
        choice = BackOff(boundary).run(context)
    evidence = _evidence(context, boundary, choice, storage, name, settings, the_plan)
    if isinstance(pool, FusedPool) and pool.fell_back:
        evidence = dataclasses.replace(evidence, fused_fallback=pool.fell_back)
    validated = (None if evidence.chosen is None  # the probe the evidence names as chosen
                 else context.history[evidence.chosen].result.settings)
    return Config.from_settings(
        context.settings(choice.lr), task=task.name,  # exactly the LR measured
        data=dict(task.data) if task.data else None, lr_find=evidence), validated


def _stop_on_oom(runner: ProbeRunner) -> ProbeRunner:
    """Running out of memory says nothing about the LR: stop with advice instead."""

    def run(settings: Sequence[ProbeSettings], phase: str,
            spare: Sequence[ProbeSettings] = ()) -> list[ProbeResult]:
        results = runner(settings, phase, spare)
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
              study: str, settings: LRFindSettings, the_plan: Plan) -> LRFindEvidence:
    chosen = [i for i, probe in enumerate(context.history)  # the LR exactly as it was probed
              if probe.phase == BackOff.name and probe.result.settings.lr == choice.lr]
    return LRFindEvidence(
        max_stable_lr=_round(boundary.max_stable_lr),
        max_finite_lr=_round(boundary.max_finite_lr),
        divergence_lr=_round(boundary.divergence_lr),
        divergence_window_steps=boundary.steps,
        backoff=_round(choice.backoff, 3),
        rule=choice.rule,
        steps_used=context.steps_used,
        max_steps=the_plan.max_steps,
        full_budget_steps=the_plan.full_budget,
        seed=settings.seed,
        world_size=settings.world_size,
        study=study,
        storage=redact(storage),
        probes=[{"phase": probe.phase, **probe.result.evidence(digits=4, trace=True)}
                for probe in context.history],
        chosen=chosen[0] if chosen else None,
    )
