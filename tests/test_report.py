import json

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


@pytest.mark.parametrize(("stable", "finite", "expected", "absent"), [
    (0.316, 0.562, ["0.316 (learns, no divergence within 100 steps)",
                    "no divergence up to  0.562 (but its loss did not fall)"], []),
    (0.316, 0.316, ["0.316 (learns, no divergence within 100 steps)"], ["no divergence up to"]),
    (None, 0.562, ["no probe's loss fell: see 'triage doctor'"], []),
])
def test_the_summary_keeps_max_stable_lr_for_probes_that_learn(stable, finite, expected, absent):
    from rich.console import Console

    from triage import Config
    from triage.config import OptimizerConfig
    from triage.lr_finder.evidence import LRFindEvidence

    config = Config(OptimizerConfig("sgd", 0.0351), task="t", lr_find=LRFindEvidence(
        max_stable_lr=stable, max_finite_lr=finite, divergence_lr=1.0,
        divergence_window_steps=100, backoff=16.0, rule="r", steps_used=1996, max_steps=2000))
    console = Console(width=200, record=True)
    console.print(lr_find_summary(config))
    text = " ".join(console.export_text().replace("│", " ").split())
    for part in expected:
        assert " ".join(part.split()) in text
    for part in absent:
        assert part not in text


def _finding(code: str, severity: str, caused_by: str | None = None):
    from triage.doctor.findings import Finding, Severity

    return Finding(code, Severity[severity.upper()], f"{code} says", {}, "fix it",
                   caused_by=caused_by)


@pytest.mark.parametrize(("findings", "shown"), [
    ([("data.unnormalized_inputs", "error"), ("train.not_learning", "warning",
                                               "data.unnormalized_inputs"),
      ("model.bad_init", "warning"), ("train.dead_units", "warning"),
      ("train.update_ratio", "warning"), ("data.batch_clamped", "info")],
     ["data.unnormalized_inputs", "model.bad_init", "train.dead_units"]),
    ([("data.batch_clamped", "info"), ("model.not_checked", "info")],
     ["data.batch_clamped", "model.not_checked"]),
    ([], []),
])
def test_doctor_says_at_most_three_causes_by_default(findings, shown):
    from triage.report import headline

    assert [f.code for f in headline([_finding(*f) for f in findings])] == shown


def test_the_summary_says_how_many_more_findings_all_shows(tmp_path):
    from click.testing import CliRunner

    from triage.cli import cli

    args = ["doctor", "--lr", "50", "--device", "cpu", "--budget", "0"]
    brief = CliRunner().invoke(cli, args)
    every = CliRunner().invoke(cli, [*args, "--all", "--json"])
    assert brief.exit_code == every.exit_code == 1
    codes = [f["code"] for f in json.loads(every.stdout)["findings"]]
    shown = [code for code in codes if code in brief.stdout]
    assert 1 <= len(shown) <= 3 and shown[0] == codes[0]
    if len(codes) > len(shown):
        assert f"{len(codes) - len(shown)} more finding(s)" in brief.stdout
    assert all(code in every.stderr for code in codes)  # --all with --json: summary on stderr
