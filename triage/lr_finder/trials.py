"""lr-find's probes as trials of one Optuna study, so that an interrupted run resumes.

Every probe is one trial: its settings and evidence live in the trial's user attributes, and
completed probes are read back instead of being trained again. With a ``Pool`` the
runner trains several probes at once, spare ones included (see ``Context.width``); every
trial is still asked and told here, in this process.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import optuna
from optuna.trial import TrialState

from triage.probe import ProbeResult, ProbeSettings, run_probe
from triage.probe.pool import Pool
from triage.task import PreparedTask


def _key(settings: ProbeSettings) -> str:
    return json.dumps(settings.to_dict(), sort_keys=True)


class StudyProbeRunner:
    """Runs probes as trials of one study, reusing any already recorded there.

    Diverged and out-of-memory probes are recorded as FAIL with their evidence attached, so a
    sampler never sees a NaN objective; training errors are recorded as FAIL and re-raised.

    Args:
        study: where the probes are recorded.
        prepared: the task.
        on_result: called with (phase, result, read back from storage) for each probe asked
            for, in order (never for a spare probe nobody asked for).
        pool: trains probes at once (worker processes, or fused copies on a GPU); None
            trains them one after another in this process.
    """

    def __init__(
        self,
        study: optuna.Study,
        prepared: PreparedTask,
        on_result: Callable[[str, ProbeResult, bool], None] | None = None,
        pool: Pool | None = None,
    ) -> None:
        self.study = study
        self.prepared = prepared
        self.on_result = on_result
        self.pool = pool
        self._done: dict[str, ProbeResult] = {}
        self._stored: set[str] = set()  # read back from the study, not trained by this run
        self._running: dict[str, tuple[optuna.trial.Trial, int]] = {}  # key -> (trial, ticket)
        for trial in study.get_trials(deepcopy=False):
            finished = trial.state in (TrialState.COMPLETE, TrialState.FAIL)
            if finished and "probe" in trial.user_attrs:
                result = ProbeResult.from_dict(trial.user_attrs["probe"])
                self._done[_key(result.settings)] = result
                self._stored.add(_key(result.settings))

    @property
    def width(self) -> int:
        """Probes trained at once."""
        return 1 if self.pool is None else self.pool.size

    def __call__(self, settings: Sequence[ProbeSettings], phase: str,
                 spare: Sequence[ProbeSettings] = ()) -> list[ProbeResult]:
        if self.pool is None:
            return [self._one(item, phase) for item in settings]
        for item in settings:
            self._start(item, phase)
        for item in spare:  # fill the last round of workers, no more
            if self.pool.busy % self.pool.size == 0:
                break
            self._start(item, phase)
        return [self._one(item, phase) for item in settings]

    def close(self) -> None:
        """Record probes still running (spare ones, or all after an error) as failed."""
        for trial, _ in self._running.values():
            self.study.tell(trial, state=TrialState.FAIL)
        self._running.clear()

    def _one(self, settings: ProbeSettings, phase: str) -> ProbeResult:
        key = _key(settings)
        if key in self._running:
            self._finish(key)
        elif key not in self._done:
            trial = self._ask(settings, phase)
            try:
                result = run_probe(self.prepared, settings)
            except BaseException:
                self.study.tell(trial, state=TrialState.FAIL)
                raise
            self._tell(trial, result, key)
        result = self._done[key]
        if self.on_result is not None:
            self.on_result(phase, result, key in self._stored)
        return result

    def _start(self, settings: ProbeSettings, phase: str) -> None:
        """Start a probe in the pool unless it ran or is running."""
        key = _key(settings)
        if key not in self._done and key not in self._running:
            assert self.pool is not None
            self._running[key] = (self._ask(settings, phase), self.pool.submit(settings))

    def _finish(self, key: str) -> None:
        assert self.pool is not None
        trial, ticket = self._running[key]
        try:
            result = self.pool.result(ticket)
        except BaseException:
            self.close()
            raise
        del self._running[key]
        self._tell(trial, result, key)

    def _ask(self, settings: ProbeSettings, phase: str) -> optuna.trial.Trial:
        trial = self.study.ask()
        trial.suggest_float("lr", settings.lr, settings.lr, log=True)
        trial.set_user_attr("phase", phase)
        trial.set_user_attr("settings", settings.to_dict())
        return trial

    def _tell(self, trial: optuna.trial.Trial, result: ProbeResult, key: str) -> None:
        attrs: dict[str, Any] = {"probe": result.to_dict(), "diverged": result.diverged,
                                 "oom": result.oom}
        for name, value in attrs.items():
            trial.set_user_attr(name, value)
        if result.ok:
            self.study.tell(trial, result.objective)
        else:
            self.study.tell(trial, state=TrialState.FAIL)
        self._done[key] = result
