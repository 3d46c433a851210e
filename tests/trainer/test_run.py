"""triage train: the full budget with a config, through the engine; files, early stopping,
reproducibility, a Ctrl-C checkpoint, and bad input."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from triage import Config, LRFindSettings, lr_find
from triage.config import OptimizerConfig
from triage.errors import ConfigError
from triage.trainer import TrainSettings, train

import tasks

CPU = TrainSettings(device="cpu")


@pytest.fixture(scope="module")
def config():
    return lr_find(tasks.blobs(), LRFindSettings(device="cpu", max_steps=600))


def test_train_keeps_the_best_epochs_weights_and_reproduces(config):
    task = tasks.blobs()
    result = train(task, config, TrainSettings(device="cpu", epochs=6))
    doc = result.metrics()
    assert [e["epoch"] for e in doc["epochs"]] == list(range(1, 7))
    best = min(doc["epochs"], key=lambda e: e["val_loss"])
    assert doc["best"] == best and result.best_epoch == best["epoch"]
    model = task.model()
    model.load_state_dict(result.state_dict)
    X, y = (torch.as_tensor(v) for v in task.val)
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(model(X), y).item()
    assert loss == pytest.approx(best["val_loss"], rel=1e-5)
    again = train(tasks.blobs(), config, TrainSettings(device="cpu", epochs=6)).metrics()
    assert {**again, "wall_time": 0} == {**doc, "wall_time": 0}


def test_patience_stops_early(config):
    result = train(tasks.blobs(), config, TrainSettings(device="cpu", epochs=40, patience=2))
    assert result.stopped_early and len(result.curve) < 40
    assert len(result.curve) - result.best_epoch == 2


def test_a_config_for_another_task_is_refused(config):
    other = Config(OptimizerConfig("sgd", 0.1), task="something_else")
    with pytest.raises(ConfigError, match="made for task 'something_else', not 'blobs'"):
        train(tasks.blobs(), other, CPU)
    with pytest.raises(ConfigError, match="network takes 9 inputs but this table gives"):
        task = tasks.blobs()
        task.data = {"network": {"inputs": 4}}
        train(task, Config(OptimizerConfig("sgd", 0.1), data={"network": {"inputs": 9}}), CPU)


def _table(path, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(300, 3))
    label = np.where(x[:, 0] - x[:, 1] > 0, "yes", "no")
    pd.DataFrame({"a": x[:, 0] * 100, "b": x[:, 1], "c": x[:, 2], "label": label}).to_csv(
        path, index=False)


def test_lr_find_then_train_on_a_table_end_to_end(run, tmp_path):
    _table(tmp_path / "t.csv")
    out = run("lr-find", "t.csv", "--target", "label", "--device", "cpu", "--max-steps", "600",
              "--no-plot")
    assert out.exit_code == 0, out.output
    assert "train with it: triage train t.csv --config triage.yaml" in out.output
    out = run("train", "t.csv", "--config", "triage.yaml", "--device", "cpu", "--json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc == json.loads((tmp_path / "triage-train" / "metrics.json").read_text())
    from triage import ProbeSettings, from_table, run_probes

    (untrained,) = run_probes(from_table(tmp_path / "t.csv", "label"),
                              [ProbeSettings(lr=1e-9, steps=1, device="cpu")])
    assert doc["best"]["val_accuracy"] > 0.9 and untrained.val_accuracy < 0.75
    assert doc["best"]["val_loss"] < 0.5 * untrained.val_loss  # far better than untrained
    assert (tmp_path / "triage-train" / "model.pt").is_file()
    assert (tmp_path / "triage-train" / "curves.png").is_file()
    assert not (tmp_path / "triage-train" / "checkpoint.pt").exists()
    out = run("train", "t.csv", "--config", "triage.yaml", "--device", "cpu", "--json",
              "--out-dir", "again")
    again = json.loads(out.stdout)
    assert {**again, "wall_time": 0} == {**doc, "wall_time": 0}  # same seed, same metrics


def test_ctrl_c_leaves_the_last_finished_epoch(run, tmp_path, monkeypatch):
    from triage.trainer import run as trainer

    _table(tmp_path / "t.csv")
    assert run("lr-find", "t.csv", "--target", "label", "--device", "cpu", "--max-steps", "600",
               "--no-plot").exit_code == 0
    real = trainer._Keeper.on_epoch_metrics

    def interrupt_after_two(self, epoch, metrics, model):
        real(self, epoch, metrics, model)
        if epoch == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(trainer._Keeper, "on_epoch_metrics", interrupt_after_two)
    out = run("train", "t.csv", "--config", "triage.yaml", "--device", "cpu")
    assert out.exit_code == 130
    assert "checkpoint.pt holds epoch 2's weights" in out.stderr
    assert (tmp_path / "triage-train" / "checkpoint.pt").is_file()
    assert not (tmp_path / "triage-train" / "model.pt").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--config", "missing.yaml"], "does not exist"),
    (["--config", "triage.yaml", "--epochs", "0"], "epochs must be a positive integer"),
    (["--config", "triage.yaml", "--out-dir", "afile/sub"], "--out-dir"),
    (["--config", "other.yaml"], "made for task 'other'"),
])
def test_bad_input_is_one_line_exit_2(run, tmp_path, args, message):
    Config(OptimizerConfig("sgd", 0.1), task="blobs").save(tmp_path / "triage.yaml")
    Config(OptimizerConfig("sgd", 0.1), task="other").save(tmp_path / "other.yaml")
    (tmp_path / "afile").write_text("not a folder")
    out = run("train", f"{tasks.__file__}:blobs", *args, "--device", "cpu")
    assert out.exit_code == 2, out.output
    assert message in out.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "triage-train").exists()  # nothing written, not even the folder
