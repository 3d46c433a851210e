"""DoctorSettings: checked before a task loads; resolved against the task it diagnoses."""

import pytest

from triage import DoctorSettings, ProbeSettings
from triage.doctor import doctor
from triage.errors import SettingsError

import tasks


@pytest.mark.parametrize(("changes", "message"), [
    ({"lr": -1.0}, "lr must be a finite number > 0, got -1.0"),
    ({"optimizer": "lion"}, "unknown optimizer 'lion'"),
    ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
    ({"momentum": 0.0}, "Nesterov SGD needs momentum > 0"),
    ({"precision": "64"}, "unknown precision '64'"),
    ({"device": "tpu"}, "unknown device 'tpu'"),
    ({"budget": 0}, "budget must be seconds > 0 (None: no limit), got 0"),
    ({"budget": float("nan")}, "budget must be seconds > 0"),
])
def test_bad_settings_are_refused_in_one_line(changes, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        DoctorSettings(**changes)


def test_the_updater_and_lr_default_to_the_tasks_own():
    plain = DoctorSettings(device="cpu").probe_settings(tasks.blobs())
    assert (plain.optimizer, plain.lr) == ("sgd", 0.01)  # the customary SGD LR
    own = DoctorSettings(device="cpu").probe_settings(tasks.lbfgs_regression())
    assert own.optimizer == "task" and own.lr == 0.8  # the factory's default lr
    given = DoctorSettings(lr=0.3, optimizer="adam", device="cpu").probe_settings(tasks.blobs())
    assert (given.optimizer, given.lr, given.seed) == ("adam", 0.3, 0)
    with pytest.raises(SettingsError, match="no default lr; give the LR you train with"):
        DoctorSettings(device="cpu").probe_settings(tasks.own_updater_without_lr())


def test_doctor_settings_and_the_probe_settings_they_stand_for_diagnose_alike():
    task = tasks.blobs()
    settings = DoctorSettings(lr=5.0, device="cpu", budget=None)
    by_doctor = doctor(task, settings)
    by_probe = doctor(task, ProbeSettings(lr=5.0, device="cpu"), budget=None)
    assert [f.code for f in by_doctor.findings] == [f.code for f in by_probe.findings]
    assert "train.diverges_early" in [f.code for f in by_doctor.findings]
