"""from_lightning with real Lightning classes (a LightningModule and a LightningDataModule)."""

import warnings
from pathlib import Path

import pytest
import torch
import yaml

import triage
from triage.errors import TaskError
from triage.loading import import_file

L = pytest.importorskip("lightning", reason="pip install 'triage[lightning]'")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lightning" / "classifier.py"
CPU = triage.ProbeSettings(lr=0.05, steps=30, device="cpu")


def _example():
    return import_file(str(EXAMPLE))


def test_training_and_validation_steps_drive_the_probe_without_a_trainer():
    task = _example().task()
    assert task.name == "DigitsClassifier" and "Adam (lr 0.02)" in task.notes[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # self.log without a Trainer must not warn
        result = triage.run_probes(task, [CPU])[0]
    assert result.ok and result.val_loss is not None
    assert 0 <= result.val_accuracy <= 1  # the logged val_acc
    assert result.losses[-1] < result.losses[0]


def test_a_module_without_validation_step_is_validated_on_its_training_loss():
    module = _example()

    class NoValidation(module.DigitsClassifier):
        validation_step = L.LightningModule.validation_step

    task = triage.from_lightning(NoValidation, datamodule=module.DigitsData())
    assert task.evaluate is None
    assert triage.run_probes(task, [CPU])[0].val_loss is not None


def test_an_instance_no_data_and_a_datamodule_without_training_data_are_refused():
    module = _example()
    with pytest.raises(TaskError, match="not from_lightning\\(MyModule\\(\\)\\)"):
        triage.from_lightning(module.DigitsClassifier())
    with pytest.raises(TaskError, match="needs data"):
        triage.from_lightning(module.DigitsClassifier)

    class Empty(L.LightningDataModule):
        pass

    with pytest.raises(TaskError, match="no training data"):
        triage.from_lightning(module.DigitsClassifier, datamodule=Empty())


def test_fresh_modules_and_same_seed_same_result():
    task = _example().task()
    assert task.model() is not task.model()
    a, b = (triage.run_probes(task, [CPU.with_(seed=1)])[0] for _ in range(2))
    assert a.losses == b.losses


def test_lr_find_sweep_and_doctor_from_the_command_line(run, tmp_path):
    spec = f"{EXAMPLE}:task"
    out = run("lr-find", spec, "--max-steps", "400", "--device", "cpu", "--no-plot")
    assert out.exit_code == 0, out.output
    assert "configure_optimizers() uses Adam" in out.output
    assert "--optimizer Adam keeps it" in " ".join(out.output.split())
    config = yaml.safe_load((tmp_path / "triage.yaml").read_text())
    assert config["task"] == "DigitsClassifier" and config["optimizer"]["lr"] > 0
    out = run("sweep", spec, "--trials", "4", "--storage", ":memory:", "--device", "cpu",
              "--no-plot")
    assert out.exit_code == 0, out.output
    out = run("doctor", spec, "--device", "cpu", "--lr", "0.05")
    assert out.exit_code in (0, 1), out.output
    assert "Traceback" not in out.output and torch.is_grad_enabled()
