import pytest
from optuna.trial import TrialState, create_trial

from triage.report import lr_find_summary, probe_line, trial_line


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


@pytest.mark.parametrize(("losses", "diverged", "expected"), [
    ([2.3] * 30, False, "not learning[/]  train loss 2.3"),
    ([2.3 - 0.05 * i for i in range(30)], False, "stable[/]  train loss"),
    ([2.3, 40.0], True, "diverged[/] at step 1"),
])
def test_a_probe_line_says_whether_it_learned(losses, diverged, expected):
    from triage import ProbeResult, ProbeSettings

    result = ProbeResult(ProbeSettings(lr=0.5), steps=len(losses), losses=losses,
                         diverged=diverged, divergence_step=1 if diverged else None)
    assert expected in probe_line("nan_boundary", result, reused=False)


def test_the_summary_says_when_the_boundary_is_a_probe_that_stopped_learning():
    from rich.console import Console

    from triage.lr_finder import LRFindSettings, lr_find

    import tasks

    config = lr_find(tasks.quadratic(10.0), LRFindSettings(momentum=0.0, nesterov=False,
                                                            device="cpu"))
    console = Console(width=200, record=True)
    console.print(lr_find_summary(config))
    text = console.export_text()
    assert "(learns, no divergence within 100 steps)" in text
    assert config.lr_find["upper"] == "not learning"  # lr 0.01 oscillates, its loss flat
    assert "0.01 (stable, but its loss did not fall)" in text
