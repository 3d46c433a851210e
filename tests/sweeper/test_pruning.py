from collections import Counter

import optuna
import pytest
from optuna.trial import TrialState

from triage.sweeper.pruning import Hyperband, SnapshotPruner
from triage.sweeper.worker import places


def _study_with_curves(pruner):
    study = optuna.create_study(pruner=pruner)
    for value in (1.0, 2.0, 3.0, 4.0, 5.0):
        study.add_trial(optuna.trial.create_trial(
            value=value, intermediate_values={1: value, 2: value, 3: value}))
    return study


@pytest.mark.parametrize("current", [0.5, 2.5, 3.5, 9.0])
def test_same_decisions_as_the_wrapped_median_pruner(current):
    decisions = []
    for pruner in (optuna.pruners.MedianPruner(), SnapshotPruner(optuna.pruners.MedianPruner())):
        study = _study_with_curves(pruner)
        trial = study.ask()
        if isinstance(pruner, SnapshotPruner):
            pruner.refresh(study, study.get_trials(states=(TrialState.COMPLETE,)))
        trial.report(current, 2)
        decisions.append(trial.should_prune())
    assert decisions[0] == decisions[1] == (current > 3.0)


def test_reads_the_study_once_per_trial_not_per_report(monkeypatch):
    pruner = SnapshotPruner(optuna.pruners.MedianPruner())
    study = _study_with_curves(pruner)
    trial = study.ask()
    pruner.refresh(study, study.get_trials(states=(TrialState.COMPLETE,)))
    calls = []
    real = study.get_trials
    monkeypatch.setattr(study, "get_trials", lambda *a, **k: calls.append(1) or real(*a, **k))
    for step in (1, 2, 3):
        trial.report(9.0, step)
        assert trial.should_prune()
    assert calls == []


def test_without_a_snapshot_it_defers_to_the_study():
    pruner = SnapshotPruner(optuna.pruners.MedianPruner())
    study = _study_with_curves(pruner)
    trial = study.ask()
    trial.report(9.0, 2)
    assert trial.should_prune()


def test_hyperband_allocates_trials_to_brackets_as_optuna_does():
    pruner = Hyperband(seed=0)
    assert pruner.shares == [9, 5, 3]  # Optuna's HyperbandPruner(max_resource=9), its docs' n_i
    counts = Counter(pruner.bracket(place) for place in range(1700))
    assert [round(counts[b] / 100) for b in range(3)] == [9, 5, 3]


def _report(study, values):
    trial = study.ask()
    for step, value in values.items():
        trial.report(value, step)
        if trial.should_prune():
            study.tell(trial, state=TrialState.PRUNED)
            return False
    study.tell(trial, values[max(values)])
    return True


def test_hyperband_prunes_within_a_bracket_and_the_sampler_sees_every_trial():
    seen = []

    class Watching(optuna.samplers.RandomSampler):
        def before_trial(self, study, trial):
            seen.append(len(study.get_trials(deepcopy=False)))

    pruner = Hyperband(seed=0)
    study = optuna.create_study(sampler=Watching(seed=0), pruner=pruner)
    aggressive = [p for p in range(40) if pruner.bracket(p) == 0]
    survived = {}
    for place in range(max(aggressive[:4]) + 1):
        worse = place in aggressive[1:4]  # the first of the bracket sets the bar
        survived[place] = _report(study, {1: 5.0 if worse else 1.0, 3: 1.0, 9: 1.0})
    assert not any(survived[p] for p in aggressive[1:4]) and survived[aggressive[0]]
    assert seen == list(range(1, len(seen) + 1))  # every trial (the new one too), never a
    # bracket's subset as with Optuna's HyperbandPruner


def test_a_retry_keeps_its_originals_bracket_and_later_trials_keep_theirs():
    trials = [optuna.trial.create_trial(value=1.0) for _ in range(3)]
    for number, trial in enumerate(trials):
        trial.number = number
    failed = optuna.trial.create_trial(state=TrialState.FAIL)
    failed.number = 3
    retry = optuna.trial.create_trial(value=1.0, system_attrs={"retry_history": [3]})
    retry.number = 5
    later = optuna.trial.create_trial(value=1.0)
    later.number = 4
    final = optuna.trial.create_trial(value=1.0, user_attrs={"stage": "final"})
    final.number = 6
    assert places([*trials, failed, later, retry, final]) == {0: 0, 1: 1, 2: 2, 3: 3, 4: 4,
                                                               5: 3, 6: 5}
