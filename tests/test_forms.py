"""Programs of other shapes than (x, y) -> model(x) -> loss(out, y): dict batches whose model
output carries the loss, custom steps, item datasets with a collate, float64 models."""

import dataclasses
import json

import numpy as np
import pytest
import torch
import yaml
from torch import nn
from torch.utils.data import Dataset

from triage import LRFindSettings, ProbeSettings, Task, lr_find, run_probes
from triage.errors import TaskError

import tasks

FORMS = ["dict_blobs", "vae", "double_regression", "step_regression"]
CPU = ProbeSettings(lr=0.01, steps=20, device="cpu")


@pytest.mark.parametrize("name", FORMS)
def test_probes_train_every_form_and_measure_validation(name):
    task = getattr(tasks, name)()
    result = run_probes(task, [CPU])[0]
    assert result.ok and result.steps == 20 and result.val_loss is not None
    assert result.losses[-1] < result.losses[0] * 1.5
    if name == "dict_blobs":
        assert result.val_accuracy is None  # no known targets: no accuracy is invented


def test_a_float64_model_keeps_float64_data_and_float32_models_get_float32():
    assert tasks.double_regression().prepare().train.X.dtype == torch.float64
    X, y = tasks._blobs()
    float32 = Task(model=lambda: nn.Linear(4, 3), train=(X.astype(np.float64), y)).prepare()
    assert float32.train.X.dtype == torch.float32


def test_same_seed_same_result_for_a_custom_step():
    a, b = (run_probes(tasks.vae(), [CPU.with_(seed=3)])[0] for _ in range(2))
    assert a.losses == b.losses


def test_evaluate_gives_the_validation_value():
    calls = []

    def evaluate(model, batch):
        calls.append(torch.is_grad_enabled() or model.training)
        return {"loss": torch.tensor(0.25), "accuracy": 0.5}

    task = tasks.dict_blobs()
    task.evaluate = evaluate
    result = run_probes(task, [CPU])[0]
    assert result.val_loss == pytest.approx(0.25) and result.val_accuracy == pytest.approx(0.5)
    assert calls and not any(calls)  # under eval() and no_grad()


class Pairs(Dataset):
    """(dict of tensors, label) items: a common second attempt with a transformer."""

    def __init__(self):
        X, self.y = tasks._blobs(40)
        self.X = torch.from_numpy(X)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"features": self.X[i]}, int(self.y[i])


class TakesADict(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, inputs):
        return self.linear(inputs["features"])


def test_dict_and_label_items_train_with_the_loss():
    result = run_probes(Task(model=TakesADict, train=Pairs()), [CPU])[0]
    assert result.ok and result.val_accuracy is not None


@pytest.mark.parametrize(("changes", "message"), [
    ({"step": lambda model, batch: "done"}, r"the step \(str\) carries no loss"),
    ({"step": lambda model, batch: model(batch)[0].sum(dim=1)}, "must return a scalar"),
    ({"step": lambda model, batch: model(batch)[0].sum().detach()}, "has no gradient"),
    ({"step": lambda model, batch: 1 / 0}, "the step raised ZeroDivisionError"),
    ({"evaluate": lambda model, batch: {"acc": 1.0}}, "without loss"),
    ({"collate": lambda items: 1 / 0}, r"cannot be batched .*item 0 is a Tensor"),
    ({"loader": {"batch_size": 4}}, "sets 'batch_size'"),
    ({"step": "vae_step"}, "must be a function"),
])
def test_bad_programs_get_one_line(changes, message):
    with pytest.raises(TaskError, match=message) as info:
        dataclasses.replace(tasks.vae(), **changes).prepare()
    assert "\n" not in str(info.value)


def test_a_dict_batch_without_a_loss_in_the_output_says_what_to_do():
    items = tasks.dict_blobs().train
    task = Task(model=lambda: nn.Linear(4, 3), train=[{"input": i["features"]} for i in items])
    with pytest.raises(TaskError, match=r"model\(\*\*batch\)|carries no loss"):
        task.prepare()


@pytest.mark.parametrize("name", FORMS)
def test_lr_find_and_sweep_run_end_to_end(name, run, tmp_path):
    spec = f"{tasks.__file__}:{name}"
    out = run("lr-find", spec, "--device", "cpu", "--max-steps", "600", "--no-plot")
    assert out.exit_code == 0, out.output
    config = yaml.safe_load((tmp_path / "triage.yaml").read_text())
    assert config["optimizer"]["lr"] > 0 and config["lr_find"]["steps_used"] <= 600
    out = run("sweep", spec, "--trials", "4", "--budget", "80", "--storage", ":memory:",
              "--device", "cpu", "--no-plot", "--from", "triage.yaml")
    assert out.exit_code == 0, out.output
    assert yaml.safe_load((tmp_path / "triage-sweep.yaml").read_text())["sweep"]["trials"]


def test_the_users_own_updater_end_to_end(run, tmp_path):
    spec = f"{tasks.__file__}:lbfgs_regression"  # LBFGS, on the full batch as its authors do
    out = run("lr-find", spec, "--batch-size", "96", "--device", "cpu", "--max-steps", "600",
              "--no-plot")
    assert out.exit_code == 0, out.output
    (tmp_path / "space.yaml").write_text(yaml.safe_dump({"version": 1, "params": {
        "optimizer": {"choices": ["task", "adam"]}, "batch_size": 96,
        "lr": {"low": 1e-3, "high": 1.0, "log": True, "around_lr_find": 3}}}))
    out = run("sweep", spec, "--space", "space.yaml", "--trials", "4", "--budget", "200",
              "--storage", ":memory:", "--device", "cpu", "--no-plot", "--from", "triage.yaml")
    assert out.exit_code == 0, out.output
    assert yaml.safe_load((tmp_path / "triage-sweep.yaml").read_text())["sweep"]["trials"]
    out = run("doctor", spec, "--batch-size", "96", "--device", "cpu")
    assert out.exit_code == 0, out.output


def test_lr_find_is_reproducible_on_a_custom_step():
    settings = LRFindSettings(device="cpu", max_steps=600)
    assert lr_find(tasks.vae(), settings) == lr_find(tasks.vae(), settings)


@pytest.mark.parametrize("name", FORMS)
def test_doctor_runs_on_every_form(name, run):
    out = run("doctor", f"{tasks.__file__}:{name}", "--device", "cpu", "--json")
    assert out.exit_code == 0, out.output
    codes = {f["code"]: f["severity"] for f in json.loads(out.stdout)["findings"]}
    if name.endswith("regression"):  # (x, y) tensors: the data and model stages are checked
        assert "data.not_checked" not in codes and "model.not_checked" not in codes
        # ... and with the user's own step, the overfit test is said to be skipped
        assert codes.get("train.overfit_not_checked") == (
            "info" if name == "step_regression" else None)
    else:  # the data and model-at-init stages are skipped once each, with the reason
        assert codes["data.not_checked"] == codes["model.not_checked"] == "info"


@pytest.mark.parametrize("name", ["dict_blobs", "vae"])
def test_doctor_finds_training_faults_in_programs_it_cannot_read(name):
    from triage import diagnose

    diagnosis = diagnose(getattr(tasks, name)(), ProbeSettings(lr=500.0, device="cpu"))
    assert "train.diverges_early" in {f.code for f in diagnosis.errors}
    assert diagnosis.config.optimizer.lr < 500.0  # the first stable lr/3^k


@pytest.mark.parametrize("name", FORMS)
def test_lr_find_on_every_form_resumes_from_storage_and_leaves_the_rng_alone(name, tmp_path):
    import random

    from triage import SweepSettings, diagnose, load_space, sweep

    storage, settings = str(tmp_path / "studies.log"), LRFindSettings(device="cpu", max_steps=600)
    torch.manual_seed(5)
    np.random.seed(5)
    random.seed(5)
    states = torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()
    first = lr_find(getattr(tasks, name)(), settings, storage=storage)
    diagnose(getattr(tasks, name)(), ProbeSettings(lr=0.01, device="cpu"))
    sweep(getattr(tasks, name)(), load_space("default"), SweepSettings(budget=None, trials=2),
          storage=None)
    assert torch.equal(torch.get_rng_state(), states[0])
    assert (np.random.get_state()[1] == states[1]).all() and random.getstate() == states[2]
    reused = []
    again = lr_find(getattr(tasks, name)(), settings, storage=storage,
                    on_probe=lambda phase, result, stored: reused.append(stored))
    assert again == first and reused and all(reused)


def _oom_above_32(model, batch):
    if len(batch) > 32:  # what a GPU says when the batch does not fit
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    return tasks.vae_step(model, batch)


def test_a_sweep_on_a_custom_step_marks_divergence_and_out_of_memory_infeasible():
    from triage import SweepSettings, sweep
    from triage.sweeper.space_file import parse_space

    space = parse_space({"version": 1, "params": {
        "lr": {"low": 1e-3, "high": 1e4, "log": True}, "batch_size": {"choices": [16, 64]}},
        "start": [{"batch_size": 64, "lr": 1e-3}, {"batch_size": 16, "lr": 1e4},
                  {"batch_size": 16, "lr": 1e-3}]})
    task = dataclasses.replace(tasks.vae(), step=_oom_above_32)
    summary = sweep(task, space, SweepSettings(budget=None, trials=3, seed=0), storage=None)
    reasons = summary.table["reason"].tolist()
    assert summary.table["outcome"].tolist() == ["infeasible", "infeasible", "complete"]
    assert reasons[0] == "out of memory" and reasons[1].startswith("diverged at step")
    assert summary.best is not None and summary.best.batch_size == 16
