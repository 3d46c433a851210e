"""PriorBand's sampling (Mallik et al., NeurIPS 2023) on Optuna: priors that cost little when
they are wrong.

Every trial draws all its settings from one of three sources:

- the **prior**: lr-find's configuration (updater, batch size, init, back-off) and the
  documents' defaults, each setting perturbed around its prior value (a categorical keeps it
  with probability 1/2; a number moves by a normal step of a sixth of its (log) range); a
  setting without a prior value is drawn uniformly;
- the **incumbent**: the best trial at the furthest report three or more trials made, each
  setting perturbed the same way (so a neighbour never repeats the incumbent's numbers);
- the **model**: Optuna's sampler (TPE), which draws uniformly until it has seen enough trials,
  so that a wrong prior and a misleading incumbent never take the whole budget.

Until there is an incumbent, prior and model share the trials; then each source gets a third.
Which source a trial uses, and its draws, depend on the seed and the trial's place only
(``worker.slot``: a resumed sweep draws as an uninterrupted one).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState

from triage.sweeper.budget import FINAL
from triage.sweeper.worker import slot

PRIOR, INCUMBENT, MODEL = "prior", "incumbent", "model"
SPREAD = 1 / 6  # a perturbation's standard deviation, as a share of the (log) range
KEEP = 0.5  # a categorical keeps its centre value with this probability
MIN_AT_RUNG = 3


class PriorBandSampler(optuna.samplers.BaseSampler):
    """Draw each trial from the prior, the incumbent or ``model`` (see the module).

    Args:
        model: the model-based sampler (TPE), also used for relative sampling when it is the
            trial's source.
        prior: setting name -> prior value (trial parameter names: ``optimizer``,
            ``backoff``, ``batch_size``, ``weight_decay_on``, ...).
        seed: with the trial number, decides each trial's source and draws.
    """

    def __init__(self, model: optuna.samplers.BaseSampler, prior: dict[str, Any],
                 seed: int = 0) -> None:
        self.model, self.prior, self.seed = model, dict(prior), seed
        self.sources: dict[int, str] = {}
        self._draws = np.random.default_rng(seed)
        self._incumbent: dict[str, Any] = {}

    def reseed_rng(self) -> None:
        self.model.reseed_rng()

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        trials = study.get_trials(deepcopy=False)
        self._draws = np.random.default_rng([self.seed, slot(trials, trial.number)])
        self._incumbent = incumbent(trials)
        weights = {PRIOR: 1.0, MODEL: 1.0, INCUMBENT: 1.0 if self._incumbent else 0.0}
        names = list(weights)
        p = np.array([weights[n] for n in names]) / sum(weights.values())
        self.sources[trial.number] = names[int(self._draws.choice(len(names), p=p))]
        self.model.before_trial(study, trial)

    def infer_relative_search_space(self, study: optuna.Study,
                                    trial: FrozenTrial) -> dict[str, BaseDistribution]:
        if self.sources.get(trial.number) != MODEL:
            return {}
        return self.model.infer_relative_search_space(study, trial)

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if not search_space:
            return {}
        return self.model.sample_relative(study, trial, search_space)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        source = self.sources.get(trial.number, MODEL)
        if source == MODEL:
            return self.model.sample_independent(study, trial, param_name, param_distribution)
        if source == PRIOR:
            return around(param_distribution, self.prior.get(param_name), self._draws)
        return around(param_distribution, self._incumbent.get(param_name), self._draws)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        self.model.after_trial(study, trial, state, values)


def incumbent(trials: list[FrozenTrial]) -> dict[str, Any]:
    """The parameters of the best search trial at the furthest report (in ninths of the
    budget) that at least ``MIN_AT_RUNG`` feasible search trials made; empty when none did."""
    search = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
              and t.user_attrs.get("stage") != FINAL and "infeasible" not in t.user_attrs
              and t.intermediate_values]
    reached: dict[int, list[FrozenTrial]] = {}
    for trial in search:
        for step in trial.intermediate_values:
            reached.setdefault(step, []).append(trial)
    steps = [s for s, at in reached.items() if len(at) >= MIN_AT_RUNG]
    if not steps:
        return {}
    step = max(steps)
    best = min(reached[step], key=lambda t: (t.intermediate_values[step], t.number))
    return dict(best.params)


def around(dist: BaseDistribution, centre: Any, rng: np.random.Generator) -> Any:
    """A draw from ``dist`` near ``centre`` (uniform when there is none, or it is outside)."""
    if isinstance(dist, CategoricalDistribution):
        choices = list(dist.choices)
        if centre in choices and rng.random() < KEEP:
            return centre
        return choices[int(rng.integers(len(choices)))]
    assert isinstance(dist, (FloatDistribution, IntDistribution))
    log = dist.log
    low, high = (math.log(dist.low), math.log(dist.high)) if log else (dist.low, dist.high)
    if centre is None or not dist.low <= centre <= dist.high:
        x = rng.uniform(low, high)
    else:
        x = float(np.clip((math.log(centre) if log else centre)
                          + rng.normal(0, SPREAD * (high - low)), low, high))
    value = math.exp(x) if log else x
    if isinstance(dist, IntDistribution):
        step = dist.step or 1
        return int(min(dist.high, max(dist.low, dist.low + round((value - dist.low) / step)
                                      * step)))
    if dist.step is not None:
        value = dist.low + round((value - dist.low) / dist.step) * dist.step
    return float(min(dist.high, max(dist.low, value)))


def holds(dist: BaseDistribution, value: Any) -> bool:
    """Whether ``value`` is one ``dist`` can take."""
    if value is None:
        return False
    if isinstance(dist, CategoricalDistribution):
        return value in dist.choices
    return dist.low <= value <= dist.high  # type: ignore[attr-defined]
