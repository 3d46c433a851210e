import pytest
from optuna.trial import TrialState, create_trial

from triage.report import trial_line


@pytest.mark.parametrize("attrs, expected", [
    ({"error": "training raised ValueError: boom"}, "failed[/]: training raised ValueError"),
    ({}, "failed[/]: heartbeat went stale; retried unless --max-retry is spent"),
])
def test_a_failed_trial_line_says_why(attrs, expected):
    trial = create_trial(state=TrialState.FAIL, user_attrs=attrs)
    assert expected in trial_line(trial)


def test_a_complete_trial_line_shows_loss_and_accuracy():
    trial = create_trial(value=0.25, user_attrs={"result": {"val_accuracy": 0.5, "steps": 7}})
    line = trial_line(trial)
    assert "val loss 0.25" in line and "acc 50.0%" in line and "(7 steps)" in line
