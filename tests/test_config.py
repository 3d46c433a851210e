import pytest
import torch
import yaml
from torch import nn

from triage import Config, load_config
from triage.builders import StepSchedule
from triage.config import OptimizerConfig
from triage.errors import ConfigError, OutputError
from triage.lr_finder.evidence import LRFindEvidence


def _config(**changes):
    args = {"optimizer": OptimizerConfig("sgd", 0.03, 0.9, True, 1e-4), "batch_size": 64,
            "init": "he", "schedule": StepSchedule(4, 2, 1.5), "grad_clip_norm": 1.0,
            "dropout": 0.25, "task": "t", "sweep": {"study": "s", "best_trial": 3},
            "lr_find": LRFindEvidence(max_stable_lr=0.3, probes=[{"lr": 0.1}], chosen=0)}
    return Config(**{**args, **changes})


def test_round_trip(tmp_path):
    path = tmp_path / "c.yaml"
    config = _config()
    config.save(path)
    assert load_config(path) == config
    assert yaml.safe_load(path.read_text())["schedule"] == {
        "type": "step", "after_epochs": 4, "every_epochs": 2, "factor": 1.5}


def test_helpers_apply_the_recommendation():
    config = _config()
    model = config.apply_init(nn.Linear(100, 10))
    assert torch.count_nonzero(model.bias) == 0
    optimizer = config.make_optimizer(model.parameters())
    assert isinstance(optimizer, torch.optim.SGD)
    group = optimizer.param_groups[0]
    assert (group["lr"], group["momentum"], group["nesterov"], group["weight_decay"]) == (
        0.03, 0.9, True, 1e-4)
    scheduler = config.make_scheduler(optimizer)
    for _ in range(4):
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.02)
    assert _config(schedule=None).make_scheduler(optimizer) is None
    net = config.apply_dropout(nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5), nn.Dropout2d()))
    assert [m.p for m in net if isinstance(m, nn.modules.dropout._DropoutNd)] == [0.25, 0.25]
    kept = _config(dropout=None).apply_dropout(nn.Dropout(0.5))
    assert kept.p == 0.5


@pytest.mark.parametrize(("change", "message"), [
    ({"version": 2}, "unsupported version 2"),
    ({"extra": 1}, "unknown key 'extra'"),
    ({"optimizer": {"name": "sgd"}}, "optimizer must be a mapping with name and lr"),
    ({"optimizer": {"name": "sgd", "lr": -1}}, "optimizer.lr must be > 0"),
    ({"optimizer": {"name": "lamb", "lr": 0.1}}, "unknown optimizer 'lamb'"),
    ({"optimizer": {"name": "sgd", "lr": 0.1, "betas": 1}}, "betas"),
    ({"batch_size": 0}, "batch_size must be a positive integer"),
    ({"init": "orthogonal"}, "unknown init 'orthogonal'"),
    ({"grad_clip_norm": -1}, "grad_clip_norm must be a finite number > 0, got -1"),
    ({"grad_clip_norm": True}, "grad_clip_norm must be a finite number > 0, got True"),
    ({"precision": "64"}, "unknown precision '64'"),
    ({"optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.0, "nesterov": True}},
     "Nesterov SGD needs momentum > 0"),  # the rule a probe follows, checked in one place
    ({"dropout": 1.0}, "dropout must be null or in \\[0, 1\\), got 1.0"),
    ({"schedule": {"type": "cosine"}}, "schedule must be null or have type: step"),
    ({"lr_find": {"max_stable_lr": 0.1, "bogus": 1}}, "unknown key lr_find.bogus"),
    ({"lr_find": [0.1]}, "lr_find must be a mapping, got list"),
    ({"schedule": {"type": "step", "after_epochs": 1, "every_epochs": 2}}, "after_epochs"),
])
def test_invalid_documents(tmp_path, change, message):
    data = {**_config().to_dict(), **change}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "x.yaml").write_text("a: [1,")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "x.yaml")


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "c.yaml"
    _config().save(path)
    before = path.read_text()

    def broken(self, *a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("pathlib.Path.write_text", broken)
    with pytest.raises(OutputError, match="No space left"):
        _config(batch_size=8).save(path)
    monkeypatch.undo()
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


@pytest.mark.parametrize("target", ["missing_dir/c.yaml", "."])
def test_unwritable_targets(tmp_path, target):
    with pytest.raises(OutputError):
        _config().save(tmp_path / target)


def test_from_settings_trains_as_the_settings_do():
    from triage import ProbeSettings

    settings = ProbeSettings(lr=0.02, optimizer="rmsprop", momentum=0.5, weight_decay=1e-4,
                             batch_size=64, init="he", schedule=StepSchedule(3, 1),
                             dropout=0.2, grad_clip_norm=1.0)
    config = Config.from_settings(settings, task="t", sweep={"best_trial": 0})
    assert config.optimizer == OptimizerConfig("rmsprop", 0.02, 0.5, False, 1e-4)
    assert Config.from_settings(settings.with_(optimizer="NAdam")).optimizer == OptimizerConfig(
        "NAdam", 0.02, 0.0, False, 1e-4)  # momentum is recorded only where triage applies it
    assert (config.batch_size, config.init, config.schedule, config.dropout,
            config.grad_clip_norm) == (64, "he", StepSchedule(3, 1), 0.2, 1.0)
    assert config.task == "t" and config.sweep == {"best_trial": 0}
    assert Config.from_settings(settings, batch_size=16).batch_size == 16
