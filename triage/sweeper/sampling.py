"""The sweep's sampler: Optuna's (TPE, random) for every setting but those the evidence fixed.

Like Optuna's ``PartialFixedSampler``, except that the fixed settings are read from the study
(``importance.FIXED``, decided by whichever worker first had the evidence) at the start of each
trial, so every worker, and a rerun, follows the same decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

from triage.sweeper.importance import fixed
from triage.sweeper.priorband import holds


class FixingSampler(optuna.samplers.BaseSampler):
    """``base`` for every parameter, except the fixed ones (study attribute ``fixed``)."""

    def __init__(self, base: optuna.samplers.BaseSampler) -> None:
        self.base = base
        self._fixed: dict[str, Any] = {}

    def reseed_rng(self) -> None:
        self.base.reseed_rng()

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._fixed = fixed(study)
        self.base.before_trial(study, trial)

    def infer_relative_search_space(self, study: optuna.Study,
                                    trial: FrozenTrial) -> dict[str, BaseDistribution]:
        space = self.base.infer_relative_search_space(study, trial)
        return {name: dist for name, dist in space.items() if name not in self._fixed}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return self.base.sample_relative(study, trial, search_space)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        if param_name in self._fixed and holds(param_distribution, self._fixed[param_name]):
            return self._fixed[param_name]
        return self.base.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        self.base.after_trial(study, trial, state, values)
