"""``doctor``: cheap checks first (data, then the model at init), then short probes; findings
ranked by severity, and the fixes that are settings gathered into a recommended config."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from triage.config import Config
from triage.data import is_items
from triage.doctor import probes
from triage.doctor.base import Check, Evidence, all_checks
from triage.doctor.budget import DEFAULT_SECONDS, Budget
from triage.doctor.causes import rank
from triage.doctor.data_checks import FixedByPreprocessing, batch_clamp
from triage.doctor.findings import Finding, Severity
from triage.doctor.forward import inspect
from triage.doctor.inputs import splits, target_kind
from triage.doctor.rewrites import standardise_targets
from triage.doctor.settings import DoctorSettings
from triage.doctor.train_checks import nan_at_any_lr
from triage.doctor.train_update_checks import still_falling
from triage.doctor.verify import tryable
from triage.doctor.verify import verify as check_fixes
from triage.errors import TaskError, first_line
from triage.losses import identify
from triage.probe import ProbeSettings
from triage.rng import seeded
from triage.task import PreparedTask, Task, build_model, floating_dtype

FORWARD_BATCH = 256
TIMING_STEPS = 3  # measured before the probes are sized by the budget
Stage = Callable[[str], None]


@dataclass
class Diagnosis:
    """What doctor found.

    Attributes:
        findings: ranked, most severe first.
        config: the user's settings with every setting-shaped fix applied.
        evidence: everything measured (for reports and tests).
        seconds: wall time.
    """

    findings: list[Finding]
    config: Config
    evidence: Evidence
    seconds: float

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == Severity.ERROR]

    @property
    def shortened(self) -> dict[str, tuple[int, int]]:
        """Probes cut short to fit the time budget: name -> (steps wanted, steps run)."""
        return self.evidence.budget.shortened

    def to_dict(self) -> dict[str, Any]:
        return {"findings": [f.to_dict() for f in self.findings],
                "budget_seconds": self.evidence.budget.seconds,
                "shortened": {name: {"wanted": a, "ran": b}
                              for name, (a, b) in self.shortened.items()}}


def doctor(task: Task, settings: DoctorSettings | ProbeSettings | None = None, *,
           checks: tuple[Check, ...] | None = None, on_stage: Stage | None = None,
           raw: Task | None = None, budget: float | None = DEFAULT_SECONDS,
           verify: bool = True) -> Diagnosis:
    """Diagnose ``task`` trained with ``settings`` (the user's current LR, updater, batch
    size, init, seed and device).

    Args:
        task: the user's program.
        settings: how they train and how doctor runs (``DoctorSettings``, default: the
            Task's own updater at its customary LR, 60 s), or exactly the settings of one run
            (a ``ProbeSettings``: ``lr`` is the LR they train with; ``budget`` and ``verify``
            then come from the keywords).
        checks: the checks to run (default: every check defined, ``base.all_checks()``).
        on_stage: called with a short description as each stage starts.
        raw: the same data before its preprocessing (a table's raw numeric columns): the data
            findings it has and ``task`` does not are reported as fixed by preprocessing.
        budget: with a ``ProbeSettings``, seconds the diagnosis should take (None: no limit):
            probes are sized by the measured step time to fit, and ``Diagnosis.shortened``
            names those cut short.
        verify: with a ``ProbeSettings``, try each warning's and error's fix that a probe
            can apply (settings, inputs or targets standardised; ``triage.doctor.verify``)
            within the budget: findings whose fix does not help are demoted to info and their
            changes left out of ``Diagnosis.config``; causes are ranked by what their fix
            repaired. False: the findings as the checks state them.

    Raises:
        TaskError: the data cannot be read as samples at all (a finding needs data to be about).
        SettingsError: ``budget`` is not positive; no LR given and the updater has no default.
    """
    if not isinstance(settings, ProbeSettings):
        chosen = settings or DoctorSettings()
        settings, budget, verify = chosen.probe_settings(task), chosen.budget, chosen.verify
    started = time.perf_counter()
    clock = Budget(budget, started)
    stage = on_stage or (lambda _text: None)
    checks = checks or all_checks()
    stage("reading the data")
    try:
        ev = _read_data(task, settings)
    except TaskError as exc:
        if not is_items(task.train) and not is_items(task.val):
            raise
        return _training_only(task, settings, checks, stage, first_line(exc), clock, verify)
    ev.budget = clock
    data = ev.splits
    assert data is not None
    findings = _run(checks, "data", ev)
    step = task.train_step()
    train = data.clean_train
    if len(train) >= 1:
        stage("one batch through the model at init")
        X, y = train.X[:FORWARD_BATCH], train.y[:FORWARD_BATCH]
        ev.forward = inspect(task, settings, X, y, step)
        if ev.forward.output is not None and task.step is None:  # a custom step has no
            ev.loss = identify(task.loss, ev.forward.output, y)  # loss of its own to judge
        findings += _run(checks, "model", ev)
    if ev.forward is not None and ev.forward.error is None and len(train) >= 2:
        ev.prepared = PreparedTask(task, train, data.clean_val, step,
                                   ev.loss.accuracy if ev.loss else None)
        findings += _train_stage(ev, checks, stage)
    if raw is not None:
        stage("the data before preprocessing")
        findings += _fixed(data_findings(raw, settings, checks), findings)
    return _diagnosis(ev, findings, stage, verify)


def data_findings(task: Task, settings: ProbeSettings,
                  checks: tuple[Check, ...] | None = None) -> list[Finding]:
    """The data stage alone: what the data checks find in ``task``'s (x, y) data."""
    return _run(checks or all_checks(), "data", _read_data(task, settings))


def _read_data(task: Task, settings: ProbeSettings) -> Evidence:
    """The evidence the data stage reads: the task's (x, y) splits in the model's dtype.

    Raises:
        TaskError: the data cannot be read as (x, y) samples (or the factory fails).
    """
    with seeded(settings.seed):
        dtype = floating_dtype(build_model(task))
    data = splits(task, settings.seed, dtype)
    return Evidence(task, settings, data, target_kind(data.train.y))


def _fixed(before: list[Finding], after: list[Finding]) -> list[Finding]:
    """One note naming the data problems of the raw columns that preprocessing removed."""
    now = {f.code for f in after}
    gone = {f.code: f.message for f in before
            if f.severity != Severity.INFO and f.code not in now}
    return [FixedByPreprocessing.finding(gone)] if gone else []


def _training_only(task: Task, settings: ProbeSettings, checks: tuple[Check, ...],
                   stage: Stage, reason: str, budget: Budget, verify: bool) -> Diagnosis:
    """Items doctor cannot read as (x, y) tensors (dict batches, single tensors, custom
    steps): the data and model-at-init checks need inputs and targets, so each stage is
    reported once as skipped, with the reason; the training checks run on the program's own
    step, through the same probes."""
    ev = Evidence(task, settings, None, "unknown", budget=budget)
    skipped = [Finding(f"{part}.not_checked", Severity.INFO,
                       f"{part} checks skipped: they read (x, y) tensors and this program's "
                       "items are not (its step and training probes are checked)",
                       {"checks": [type(c).__name__ for c in checks if c.stage == part]
                        + ([] if part == "data" else ["CannotOverfit", "BatchingBug"]),
                        "reason": reason},
                       "nothing to fix; give (x, y) items to have them checked")
               for part in ("data", "model")]
    stage("training probes on the program's own step")
    ev.prepared = task.prepare(settings.seed)  # a broken step is one line (exit 2)
    return _diagnosis(ev, skipped + _train_stage(ev, checks, stage), stage, verify)


def _train_stage(ev: Evidence, checks: tuple[Check, ...], stage: Stage) -> list[Finding]:
    """The short probes and the training checks on ``ev.prepared`` (a batch larger than the
    training set is clamped to it, with a note)."""
    assert ev.prepared is not None
    n, workers = ev.prepared.n_train, ev.settings.world_size
    clamped = []
    if ev.settings.effective_batch_size > n:
        clamped.append(batch_clamp(ev.settings.batch_size, n, workers))
        ev.settings = ev.settings.with_(**clamped[-1].changes)  # the largest batch that fits
    _probe(ev, stage)
    return clamped + _run(checks, "train", ev)


def _diagnosis(ev: Evidence, findings: list[Finding], stage: Stage, verify: bool) -> Diagnosis:
    ranked = rank(findings)
    if verify and any(tryable(ev, f) for f in ranked):
        stage("trying each fix: a cause is what its fix repairs")
        check_fixes(ev, ranked)
        ranked = rank(ranked)  # demoted findings move, measured ones are ordered
    return Diagnosis(ranked, _config(ev, ranked), ev, time.perf_counter() - ev.budget.started)


def _run(checks: tuple[Check, ...], stage: str, ev: Evidence) -> list[Finding]:
    return [f for check in checks if check.stage == stage for f in check.check(ev)]


def _probe(ev: Evidence, stage: Stage) -> None:
    prepared, settings, budget = ev.prepared, ev.settings, ev.budget
    assert prepared is not None
    base = settings.with_(steps=probes.PROBE_STEPS, evaluate=False, grad_clip_norm=None)
    stage(f"training at your lr={settings.lr:g}")
    _time_steps(ev, base)
    budget.plan(probes.PROBE_STEPS * (2 + len(probes.FASTER)) + probes.EARLY)
    configured = probes.probe("configured", prepared, base, budget)
    if configured.result is not None and configured.result.oom:
        stage("halving the batch size until it fits")
        ev.runs["out_of_memory"] = configured
        ev.shrink = probes.shrink_batch(prepared, base)
        fits = probes.fitting_batch(ev.shrink)
        if fits is None:
            return
        base = base.with_(batch_size=fits)
        configured = probes.probe("configured", prepared, base, budget)
    ev.runs["configured"] = configured
    stage(f"training at a tiny lr={probes.TINY_LR:g}")
    ev.runs["tiny"] = probes.probe("tiny", prepared, base.with_(lr=probes.TINY_LR,
                                                                steps=probes.EARLY), budget)
    if configured.early and not nan_at_any_lr(ev):
        stage("lowering the LR by factors of 3")
        ev.lowered = probes.lower_lr(prepared, base, budget)
    trained, full = ev.trained(), prepared.budget_steps(base.batch_size)
    # Judged where the user's training ends, when that comes before the probe's end: then the
    # few steps the user has are compared on validation loss, which noisy batches do not blur
    # (the user's LR evaluated there only when a faster LR has something to compare).
    horizon = 0 if trained is None else min(trained.result.steps, full)  # type: ignore[union-attr]
    short = trained is not None and horizon < trained.result.steps  # type: ignore[union-attr]
    if trained is not None and (short or still_falling(trained.result.losses[:horizon])):  # type: ignore[union-attr]
        stage(f"training {horizon} steps at 3x and 10x your lr (100x if 10x does better)")
        ev.faster = probes.faster(prepared, base.with_(evaluate=short), horizon)
        if short and any(r.ok for r in ev.faster):
            ev.runs["at_budget"] = probes.probe(
                "at your budget", prepared, base.with_(steps=horizon, evaluate=True))
    if trained is not None and probes.flat(trained) and \
            trained.result.steps < full:  # type: ignore[union-attr]
        stage("training on: your loss is flat so far")  # a slow start, or no learning at all
        ev.runs["longer"] = probes.probe("configured, longer", prepared,
                                         base.with_(steps=min(probes.LONGER, full)), budget,
                                         by_examples=False)
    # Memorised means "loss down to a tenth", which holds for a loss of the model's output and
    # the targets, not for a step's own loss (a VAE's KL term does not vanish).
    # Regression targets standardised: Adam moves an output about lr a step, so targets of
    # scale 30 are out of reach in 300 steps however the net is wired (the data checks and
    # the tried fixes judge the scale).
    if not nan_at_any_lr(ev) and ev.task.step is None and ev.splits is not None:
        stage(f"memorising {probes.OVERFIT_N} examples")
        scaled = standardise_targets(prepared, ev.loss) if ev.regression else None
        ev.overfit = probes.overfit(prepared if scaled is None else scaled.prepared, base,
                                    budget)


def _time_steps(ev: Evidence, base: ProbeSettings) -> None:
    """Measure the seconds a step takes at the user's batch size: the difference of a 1-step
    and a ``TIMING_STEPS + 1``-step probe, so model building cancels out, after a 1-step
    warm-up that pays the first call's one-off costs (imports, allocator)."""
    assert ev.prepared is not None
    if ev.budget.seconds is None:
        return
    runs = [probes.probe("timing", ev.prepared, base.with_(steps=n, evaluate=False))
            for n in (1, 1, TIMING_STEPS + 1)]
    results = [r.result for r in runs]
    if any(r is None or r.oom or r.diverged for r in results):
        return
    _, one, more = results
    seconds = more.wall_time - one.wall_time  # type: ignore[union-attr]
    if seconds > 0:
        ev.budget.measured(base.batch_size, more.steps - one.steps,  # type: ignore[union-attr]
                           seconds)


def _config(ev: Evidence, findings: list[Finding]) -> Config:
    """The user's settings with the fixes applied; the most severe finding wins a setting."""
    changes: dict[str, Any] = {}  # settings-field name -> value
    for finding in findings:
        for key, value in finding.changes.items():
            changes.setdefault(key, value)
    return Config.from_settings(
        ev.settings.with_(**changes), task=ev.task.name,
        data=dict(ev.task.data) if ev.task.data else None,
        doctor={"changed": changes,  # settings applied above; code changes are in the fixes
                "findings": [{"code": f.code, "severity": str(f.severity), "fix": f.fix}
                             for f in findings]},
    )
