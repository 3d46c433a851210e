import optuna
import pytest
from optuna.trial import TrialState

from triage.sweeper.pruning import SnapshotPruner


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
