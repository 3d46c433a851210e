"""doctor tries each fix (``verify``, on by default): a fix that helps keeps its place and its
config change; one that does not is demoted to info, says so and leaves the config."""

import numpy as np
import pytest
import torch
from torch import nn

from triage import Task
from triage.doctor import Check, Finding, Severity, doctor
from triage.doctor.data_checks import InputScale, TargetScale
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
    # both run on through the spike (only a NaN stops them): lr=5 ends near chance
    before, after = diverges.verified["before"], diverges.verified["after"]
    assert not after["diverged"] and after["val_accuracy"] > before["val_accuracy"] + 0.5
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
                       checks=(TinyLRAdvice(),), verify=False)
    planted = next(f for f in diagnosis.findings if f.message == "planted")
    assert planted.verified is None and planted.severity == Severity.WARNING
    assert diagnosis.config.optimizer.lr == 1e-9


def _cube(*, inputs_scaled: bool):
    """A tanh net fitting a zero-mean cubic: raw inputs saturate its units and raw targets
    (RMS ~4e5) are out of reach in a short probe; only scaling both repairs it."""
    rng = np.random.default_rng(0)
    x = rng.uniform(1, 4000, size=(400, 1)).astype(np.float32)
    y = (((x - 2000) / 2000) ** 3 * 1e6).astype(np.float32)
    if inputs_scaled:
        x = (x - x.mean()) / x.std()
    return Task(model=lambda: nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1)),
                train=(x, y), loss="mse", epochs=50)


ADAM = ProbeSettings(lr=1e-3, optimizer="adam", momentum=0.0, nesterov=False, batch_size=320,
                     device="cpu")
DATA = (InputScale(), TargetScale())


def test_data_fixes_that_only_help_together_are_both_kept_as_causes():
    diagnosis = doctor(_cube(inputs_scaled=False), ADAM, checks=DATA)
    found = {f.code: f for f in diagnosis.findings}
    for code in ("data.unnormalized_inputs", "data.unscaled_targets"):
        assert found[code].severity == Severity.ERROR and found[code].verified["helped"]
        assert "inputs standardised" in found[code].verified["rewrite"]
        assert "targets standardised" in found[code].verified["rewrite"]


def test_a_data_fix_is_judged_in_the_users_units_and_kept_when_it_repairs():
    diagnosis = doctor(_cube(inputs_scaled=True), ADAM, checks=DATA)
    targets = next(f for f in diagnosis.findings if f.code == "data.unscaled_targets")
    tried = targets.verified
    assert tried["helped"] and tried["rewrite"].startswith("targets standardised")
    assert tried["after"]["val_loss"] < 0.5 * tried["before"]["val_loss"]  # same units


class PlantedScale(Check, register=False):
    """A planted 'inputs are unnormalised' error on inputs that are already standardised."""

    stage = "data"

    def check(self, evidence):
        return [Finding("data.unnormalized_inputs", Severity.ERROR, "planted", {}, "scale")]


def test_a_data_fix_that_does_not_help_demotes_its_finding_to_info():
    diagnosis = doctor(tasks.blobs(), ProbeSettings(lr=0.05, device="cpu"),
                       checks=(PlantedScale(),))
    planted = next(f for f in diagnosis.findings if f.message.startswith("planted"))
    assert planted.severity == Severity.INFO and planted.verified["helped"] is False
    assert diagnosis.errors == []


def test_fixes_left_when_the_budget_is_spent_are_marked_untried_and_keep_their_severity(
        monkeypatch):
    from triage import report
    from triage.doctor.budget import Budget

    monkeypatch.setattr(Budget, "affords", lambda self, steps, batch_size: False)
    diagnosis = doctor(tasks.blobs(), ProbeSettings(lr=0.05, device="cpu"),
                       checks=(TinyLRAdvice(),))
    planted = next(f for f in diagnosis.findings if f.message == "planted")
    assert planted.verified == {"tried": False, "why": "no time left in the budget"}
    assert planted.severity == Severity.WARNING and diagnosis.config.optimizer.lr == 1e-9
    assert "not tried: no time left" in report._verified(planted)


def _result(val_loss, val_accuracy, losses=(2.3,) * 40, diverged=False):
    from triage.probe import ProbeResult

    return ProbeResult(settings=ProbeSettings(lr=0.1, device="cpu"), steps=len(losses),
                       losses=list(losses), diverged=diverged, val_loss=val_loss,
                       val_accuracy=val_accuracy)


@pytest.mark.parametrize("before, after, helped", [
    ((1.0, 0.5), (0.9, 0.5), True),  # loss 10% lower
    ((1.0, 0.5), (0.99, 0.5), False),  # within the 2% noise
    ((1.0, 0.5), (1.0, 0.6), True),  # accuracy up, loss the same
    ((1.0, 0.67), (0.9, 0.38), None),  # loss down, accuracy down: no verdict
    ((1.1, 0.31), (1.7, 0.36), None),  # loss up, accuracy up: no verdict
    ((1.0, 0.5), (1.5, 0.3), False),
])
def test_a_fix_helps_when_loss_or_accuracy_improve_and_the_other_does_not_worsen(
        before, after, helped):
    from triage.doctor.verify import _compare

    assert _compare(_result(*before), _result(*after), 1.0)[0] is helped


def test_a_run_that_already_classifies_everything_right_gives_no_verdict():
    from triage.doctor.probes import Run
    from triage.doctor.verify import Trial, _record

    f = Finding("model.saturated_units", Severity.WARNING, "saturated", {}, "xavier",
                changes={"init": "xavier"})
    before, after = _result(0.001, 1.0), _result(0.02, 1.0)
    _record(f, before, Trial(Run("fix", after)), (False, "worse", 0.02), 300)
    assert f.severity == Severity.WARNING and f.verified["helped"] is None
    assert "inconclusive" in f.verified["summary"] and f.changes == {"init": "xavier"}


@pytest.mark.parametrize("y, accuracy, expected", [
    (torch.tensor([0, 1, 1, 2]), "multiclass", 0.5),
    (torch.eye(3)[[0, 0, 0, 2]], "multiclass", 0.75),  # one-hot rows
    (torch.tensor([[1.0], [0.0], [1.0]]), "binary", 2 / 3),
    (torch.tensor([[0.3], [1.5], [2.0]]), None, None),  # regression: no chance level
])
def test_chance_is_the_most_common_validation_class(y, accuracy, expected):
    from triage.data import TensorData
    from triage.doctor.verify import chance
    from triage.task import PreparedTask

    data = TensorData(torch.zeros(len(y), 2), y)
    value = chance(PreparedTask(tasks.blobs(), data, data, None, accuracy))
    assert value == (None if expected is None else pytest.approx(expected))


def test_without_a_verdict_an_error_needs_a_run_that_does_not_learn():
    from triage.doctor.probes import Run
    from triage.doctor.verify import Trial, _record

    def diverges():
        return Finding("train.diverges_early", Severity.ERROR, "diverges", {}, "lower lr",
                       changes={"lr": 0.1})
    learns, stuck, fix = _result(0.76, 0.73), _result(1.1, 0.31), _result(0.95, 0.78)
    for before, severity in ((learns, Severity.WARNING), (stuck, Severity.ERROR)):
        f = diverges()
        _record(f, before, Trial(Run("fix", fix)), (None, "disagree", 0.95), 96, 0.33)
        assert f.severity == severity and f.verified["helped"] is None
