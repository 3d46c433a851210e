"""lr-find's probes as trials of one Optuna study, so that an interrupted run resumes.

Every probe is one trial: its settings and evidence live in the trial's user attributes, and
completed probes are read back instead of being trained again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import optuna
from optuna.trial import TrialState

from triage.probe import ProbeResult, ProbeSettings, run_probe
from triage.task import PreparedTask


def _key(settings: ProbeSettings) -> str:
    return json.dumps(settings.to_dict(), sort_keys=True)


class StudyProbeRunner:
    """Runs probes as trials of one study, reusing any already recorded there.

    Diverged and out-of-memory probes are recorded as FAIL with their evidence attached, so a
    sampler never sees a NaN objective; training errors are recorded as FAIL and re-raised.
    """

    def __init__(
        self,
        study: optuna.Study,
        prepared: PreparedTask,
        on_result: Callable[[str, ProbeResult, bool], None] | None = None,
    ) -> None:
        self.study = study
        self.prepared = prepared
        self.on_result = on_result
        self._done: dict[str, ProbeResult] = {}
        for trial in study.get_trials(deepcopy=False):
            finished = trial.state in (TrialState.COMPLETE, TrialState.FAIL)
            if finished and "probe" in trial.user_attrs:
                result = ProbeResult.from_dict(trial.user_attrs["probe"])
                self._done[_key(result.settings)] = result

    def __call__(self, settings: Sequence[ProbeSettings], phase: str) -> list[ProbeResult]:
        return [self._one(item, phase) for item in settings]

    def _one(self, settings: ProbeSettings, phase: str) -> ProbeResult:
        key = _key(settings)
        reused = key in self._done
        if not reused:
            self._done[key] = self._train(settings, phase)
        result = self._done[key]
        if self.on_result is not None:
            self.on_result(phase, result, reused)
        return result

    def _train(self, settings: ProbeSettings, phase: str) -> ProbeResult:
        trial = self.study.ask()
        trial.suggest_float("lr", settings.lr, settings.lr, log=True)
        trial.set_user_attr("phase", phase)
        trial.set_user_attr("settings", settings.to_dict())
        try:
            result = run_probe(self.prepared, settings)
        except BaseException:
            self.study.tell(trial, state=TrialState.FAIL)
            raise
        attrs: dict[str, Any] = {"probe": result.to_dict(), "diverged": result.diverged,
                                 "oom": result.oom}
        for name, value in attrs.items():
            trial.set_user_attr(name, value)
        if result.ok:
            self.study.tell(trial, result.objective)
        else:
            self.study.tell(trial, state=TrialState.FAIL)
        return result
