"""doctor --verify: a fix that helps keeps its place and its config change; one that does not
is demoted, says so and leaves the config."""

from triage.doctor import Check, Finding, Severity, doctor
from triage.probe import ProbeSettings

import tasks
from faults import seen_zoo as zoo


class TinyLRAdvice(Check, register=False):  # only run where handed to doctor
    """A planted bad fix: 'lower the LR a million times' on a program that trains fine."""

    stage = "train"

    def check(self, evidence):
        return [Finding("train.update_ratio", Severity.WARNING, "planted", {}, "lr 1e-9",
                        changes={"lr": 1e-9})]


def test_a_fix_that_helps_is_kept_with_its_before_and_after():
    case = zoo.FAULTS["lr_too_high"]  # lr=5 diverges; doctor's fix lowers it
    diagnosis = doctor(case.task(), case.settings(), verify=True)
    diverges = next(f for f in diagnosis.findings if f.code == "train.diverges_early")
    assert diverges.severity == Severity.ERROR and diverges.verified["helped"] is True
    assert diverges.verified["before"]["diverged"] and not diverges.verified["after"]["diverged"]
    assert diagnosis.config.optimizer.lr == diverges.changes["lr"] < 5.0
    assert "verified" in diverges.to_dict()


def test_a_fix_that_does_not_help_is_demoted_and_left_out_of_the_config():
    settings = ProbeSettings(lr=0.05, device="cpu")
    diagnosis = doctor(tasks.blobs(), settings, checks=(TinyLRAdvice(),), verify=True)
    planted = next(f for f in diagnosis.findings if f.message.startswith("planted"))
    assert planted.verified["helped"] is False and planted.severity == Severity.INFO
    assert "demoted: its fix did not help" in planted.message
    assert planted.changes == {} and diagnosis.config.optimizer.lr == 0.05
    assert "validation loss" in planted.verified["summary"]


def test_without_verify_nothing_is_tried():
    diagnosis = doctor(tasks.blobs(), ProbeSettings(lr=0.05, device="cpu"),
                       checks=(TinyLRAdvice(),))
    planted = next(f for f in diagnosis.findings if f.message == "planted")
    assert planted.verified is None and planted.severity == Severity.WARNING
    assert diagnosis.config.optimizer.lr == 1e-9
