import math

import numpy as np
import optuna
import pytest
from optuna.distributions import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import create_trial

from triage.sweeper.importance import FIXED, fix_unimportant, measure
from triage.sweeper.priorband import (
    INCUMBENT,
    MODEL,
    PRIOR,
    PriorBandSampler,
    around,
    holds,
    incumbent,
)
from triage.sweeper.sampling import FixingSampler

BACKOFF = FloatDistribution(1.5, 1000, log=True)
BATCH = CategoricalDistribution([16, 32, 64, 128])


@pytest.mark.parametrize("dist", [BACKOFF, BATCH, IntDistribution(1, 8),
                                  FloatDistribution(0.0, 0.5, step=0.1)])
def test_draws_stay_in_the_distribution_and_near_their_centre(dist):
    rng = np.random.default_rng(0)
    centre = {BACKOFF: 30.0, BATCH: 32}.get(dist, 3 if isinstance(dist, IntDistribution) else 0.2)
    near = [around(dist, centre, rng) for _ in range(300)]
    anywhere = [around(dist, None, rng) for _ in range(300)]
    for value in near + anywhere:
        assert holds(dist, value)
        if getattr(dist, "step", None):
            assert round(value / dist.step, 9) == round(value / dist.step)
    if dist is BACKOFF:  # a sixth of the log range: mostly within 3x, uniform spreads wide
        within = lambda xs: np.mean([abs(math.log(x / 30)) < math.log(3) for x in xs])  # noqa: E731
        assert within(near) > 0.6 > within(anywhere)
    if dist is BATCH:
        assert 0.55 < near.count(32) / 300 < 0.75  # kept half the time, else uniform


def _pruned(number, params, values):
    trial = create_trial(state=optuna.trial.TrialState.PRUNED, params=params,
                         distributions={k: {"backoff": BACKOFF, "batch_size": BATCH}[k]
                                        for k in params},
                         intermediate_values=values)
    trial.number = number
    return trial


def test_the_incumbent_is_the_best_at_the_furthest_report_enough_trials_made():
    trials = [_pruned(0, {"backoff": 10.0}, {1: 0.9, 3: 0.5}),
              _pruned(1, {"backoff": 20.0}, {1: 0.8, 3: 0.6}),
              _pruned(2, {"backoff": 40.0}, {1: 0.7}),
              _pruned(3, {"backoff": 80.0}, {1: 0.95, 3: 0.4})]
    assert incumbent(trials) == {"backoff": 80.0}  # at 3/9: three trials, 80 best there
    assert incumbent(trials[:2]) == {}  # fewer than three anywhere


def _sweep(seed, trials=12):
    sampler = PriorBandSampler(optuna.samplers.TPESampler(seed=seed),
                               {"backoff": 30.0, "batch_size": 32}, seed)
    study = optuna.create_study(sampler=sampler)
    for _ in range(trials):
        trial = study.ask()
        backoff = trial.suggest_float("backoff", 1.5, 1000, log=True)
        trial.suggest_categorical("batch_size", [16, 32, 64, 128])
        for step in (1, 3):
            trial.report(abs(math.log(backoff / 50)), step)
        study.tell(trial, abs(math.log(backoff / 50)))
    return sampler, study


def test_sources_and_draws_depend_on_the_seed_and_place_only():
    sampler, study = _sweep(0)
    again, repeat = _sweep(0)
    assert sampler.sources == again.sources
    assert [t.params for t in study.trials] == [t.params for t in repeat.trials]
    assert set(sampler.sources.values()) == {PRIOR, MODEL, INCUMBENT}
    assert INCUMBENT not in [sampler.sources[n] for n in range(3)]  # no incumbent yet
    other, _ = _sweep(1)
    assert other.sources != sampler.sources


def test_settings_that_did_not_matter_are_fixed_once_and_the_sampler_keeps_them():
    rng = np.random.default_rng(0)
    study = optuna.create_study(sampler=FixingSampler(optuna.samplers.RandomSampler(seed=0)))
    for _ in range(14):
        trial = study.ask()
        backoff = trial.suggest_float("backoff", 1.5, 1000, log=True)
        trial.suggest_categorical("batch_size", [16, 32, 64, 128])
        value = abs(math.log(backoff / 50)) + rng.normal(0, 1e-3)
        trial.report(value, 3)
        study.tell(trial, value)
    found = measure(study.trials, min_step=3)
    assert found.trials == 14 and found.at == 3
    assert max(found.shares, key=found.shares.get) == "backoff"
    fix_unimportant(study, study.trials)
    decided = study.user_attrs[FIXED]
    assert set(decided) == {"batch_size"} and "of the importance" in decided["batch_size"]["why"]
    value = decided["batch_size"]["value"]
    for _ in range(5):
        assert study.ask({"batch_size": BATCH}).params["batch_size"] == value
    study.set_user_attr(FIXED, {})
    fix_unimportant(study, study.trials)  # decided once: a later look changes nothing
    assert study.user_attrs[FIXED] == {}
