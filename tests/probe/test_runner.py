import random

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from triage import ProbeSettings, Task, run_probes
from triage.builders import StepSchedule
from triage.errors import ProbeError, SettingsError, TaskError
from triage.probe import ProbeResult, run_probe
from triage.probe.device import resolve_device

import tasks


def test_each_probe_builds_a_fresh_model():
    built = []

    def factory():
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        built.append(model)
        return model

    X, y = tasks._blobs(60)
    task = Task(model=factory, train=(X, y), val=(X, y))
    run_probes(task, [ProbeSettings(lr=0.1, steps=5), ProbeSettings(lr=0.1, steps=5)])
    assert len({id(m) for m in built}) == len(built) == 4  # two fit checks + one per probe


def test_a_factory_returning_the_same_module_is_refused():
    X, y = tasks._blobs(60)
    net = nn.Linear(4, 3)
    with pytest.raises(TaskError, match="same module"):
        run_probes(Task(model=lambda: net, train=(X, y)), [ProbeSettings(lr=0.1, steps=2)])


def test_callers_random_state_is_left_alone(blobs):
    torch.manual_seed(123)
    np.random.seed(7)
    random.seed(5)
    expected = (torch.rand(3), np.random.rand(), random.random())
    torch.manual_seed(123)
    np.random.seed(7)
    random.seed(5)
    run_probes(blobs, [ProbeSettings(lr=0.1, steps=10, seed=99)])
    assert torch.equal(torch.rand(3), expected[0])
    assert np.random.rand() == expected[1]
    assert random.random() == expected[2]


def test_same_seed_same_result_and_other_seed_differs(blobs):
    a, b, c = run_probes(blobs, [ProbeSettings(lr=0.05, steps=30, seed=s) for s in (1, 1, 2)])
    assert a.losses == b.losses and a.val_loss == b.val_loss
    assert a.losses != c.losses


def test_evidence_is_collected(blobs):
    result = run_probes(blobs, [ProbeSettings(lr=0.1, steps=40)])[0]
    assert result.ok and result.steps == 40 and len(result.losses) == 40
    assert result.final_loss < result.losses[0]
    assert result.val_loss is not None and 0 <= result.val_accuracy <= 1
    assert set(result.grad_norm) == {"first", "median", "max", "last"}
    assert set(result.update_ratio) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert 0 < result.median_update_ratio < 1
    assert 0 <= result.dead_relu_fraction <= 1
    assert result.wall_time > 0
    assert ProbeResult.from_dict(result.to_dict()) == result
    summary = result.evidence(digits=3, trace=True)
    assert summary["lr"] == 0.1 and summary["steps"] == 40 and not summary["diverged"]
    assert summary["val_loss"] == float(f"{result.val_loss:.3g}")
    assert len(summary["losses"]) == 40 and "wall_time" not in summary
    assert result.evidence(timing=True)["wall_time"] == round(result.wall_time, 3)


def test_evidence_of_a_diverged_probe_is_json_safe():
    import json

    result = run_probes(tasks.quadratic(10.0), [ProbeSettings(lr=1.0, steps=30, momentum=0.0,
                                                              nesterov=False)])[0]
    summary = result.evidence(trace=True)
    assert summary["diverged"] and summary["final_loss"] is None
    json.dumps(summary, allow_nan=False)


def test_epochs_and_steps(blobs):
    by_epochs = run_probes(blobs, [ProbeSettings(lr=0.1, epochs=2, batch_size=32)])[0]
    assert by_epochs.steps == 2 * 3  # 96 samples / 32
    by_budget = run_probes(blobs, [ProbeSettings(lr=0.1, batch_size=50)])[0]
    assert by_budget.steps == blobs.epochs * 2


@pytest.mark.parametrize("lr", [1e3, 1e6])
def test_divergence_detected_with_step(lr):
    result = run_probes(tasks.quadratic(), [ProbeSettings(lr=lr, steps=100, momentum=0.0,
                                                           nesterov=False)])[0]
    assert result.diverged and not result.ok
    assert result.divergence_step is not None and result.divergence_step < 20
    assert result.steps < 100  # stops early
    assert result.val_loss is None


def test_explosion_without_nan_counts_as_divergence():
    # lr just above 1/scale^2: the loss grows geometrically but stays finite for a while.
    result = run_probes(tasks.quadratic(), [ProbeSettings(lr=0.012, steps=100, momentum=0.0,
                                                           nesterov=False)])[0]
    assert result.diverged and "exploded" in result.divergence_reason


def test_stable_just_below_the_limit():
    result = run_probes(tasks.quadratic(), [ProbeSettings(lr=0.0095, steps=100, momentum=0.0,
                                                           nesterov=False)])[0]
    assert result.ok and result.final_loss < result.losses[0]


def test_non_finite_from_the_model_is_divergence():
    result = run_probes(tasks.always_nan(), [ProbeSettings(lr=1e-6, steps=20)])[0]
    assert result.diverged and result.divergence_reason == "non-finite loss"
    assert result.divergence_step == 0


def test_grad_clipping_caps_updates():
    clipped = run_probes(tasks.quadratic(), [ProbeSettings(lr=0.012, steps=100, momentum=0.0,
                                                            nesterov=False,
                                                            grad_clip_norm=0.01)])[0]
    assert clipped.ok  # with a tiny clip the too-high LR no longer explodes


def test_schedule_is_applied_per_epoch(linreg):
    base = ProbeSettings(lr=0.05, epochs=6, batch_size=16)
    plain, decayed = run_probes(linreg, [base, base.with_(
        schedule=StepSchedule(after_epochs=2, every_epochs=1, factor=10.0))])
    assert plain.losses[:8] == decayed.losses[:8]  # first two epochs identical (4 steps each)
    assert plain.losses[12:] != decayed.losses[12:]


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop", "adagrad"])
@pytest.mark.parametrize("init", ["default", "xavier", "he", "lecun"])
def test_every_optimizer_and_init_trains(blobs, optimizer, init):
    lr = 0.05 if optimizer in ("sgd", "adagrad") else 0.01
    result = run_probes(blobs, [ProbeSettings(lr=lr, optimizer=optimizer, init=init, steps=30)])[0]
    assert result.ok and result.final_loss < result.losses[0]


def test_dataset_input_matches_tensor_input():
    X, y = tasks._blobs(64)
    model = lambda: nn.Linear(4, 3)  # noqa: E731
    a = Task(model=model, train=(X, y), val=(X, y))
    b = Task(model=model, train=TensorDataset(torch.from_numpy(X), torch.from_numpy(y)),
             val=(X, y))
    ra, rb = (run_probes(t, [ProbeSettings(lr=0.1, steps=6, batch_size=64)])[0] for t in (a, b))
    assert ra.losses == pytest.approx(rb.losses)


def test_dead_relu_fraction_sees_dead_units():
    class Dead(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.Linear(4, 8)
            self.act = nn.ReLU()
            self.out = nn.Linear(8, 3)
            with torch.no_grad():
                self.hidden.bias[:6] = -1e4  # 6 of 8 units can never fire

        def forward(self, x):
            return self.out(self.act(self.hidden(x)))

    X, y = tasks._blobs(60)
    result = run_probes(Task(model=Dead, train=(X, y), val=(X, y)),
                        [ProbeSettings(lr=1e-4, steps=3)])[0]
    assert result.dead_relu_fraction == pytest.approx(6 / 8)


def test_out_of_memory_is_recorded_not_raised(blobs, monkeypatch):
    calls = {"n": 0}

    class Hungry(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 3)

        def forward(self, x):
            calls["n"] += 1
            if calls["n"] > 3:  # the fit check and the first steps pass, then memory runs out
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return self.linear(x)

    task = Task(model=Hungry, train=blobs.train, val=blobs.val)
    result = run_probes(task, [ProbeSettings(lr=0.1, steps=10)])[0]
    assert result.oom and not result.ok and result.steps == 2
    assert result.divergence_reason == "out of memory"


def test_other_training_errors_become_probe_errors(blobs):
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 3)
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            if self.training and self.calls > 1:
                raise ValueError("bad shape")
            return self.linear(x)

    with pytest.raises(ProbeError, match="training raised ValueError"):
        run_probes(Task(model=Broken, train=blobs.train, val=blobs.val),
                   [ProbeSettings(lr=0.1, steps=3)])


def test_cuda_device_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(SettingsError, match="CUDA is not available"):
        resolve_device("cuda")


def test_cuda_index_out_of_range(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("auto") == torch.device("cuda")
    with pytest.raises(SettingsError, match="does not exist"):
        resolve_device("cuda:3")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"lr": 0}, "lr must be"), ({"lr": -0.1}, "lr must be"), ({"batch_size": 0}, "batch_size"),
    ({"batch_size": -4}, "batch_size"), ({"optimizer": "sgdd"}, "unknown optimizer"),
    ({"init": "glorot"}, "unknown init"), ({"device": "tpu"}, "unknown device"),
    ({"steps": 0}, "steps must be"), ({"grad_clip_norm": 0}, "grad_clip_norm"),
    ({"seed": -1}, "seed must be a non-negative integer"),
])
def test_settings_validation(kwargs, message):
    with pytest.raises(SettingsError, match=message):
        ProbeSettings(**{"lr": 0.1, **kwargs})


def test_run_probe_accepts_prepared_task(blobs):
    assert run_probe(blobs.prepare(), ProbeSettings(lr=0.1, steps=2)).steps == 2


@pytest.mark.parametrize("where", ["placement", "evaluation"])
def test_out_of_memory_outside_the_loop_is_recorded_too(blobs, monkeypatch, where):
    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory")

    target = "torch.nn.Module.to" if where == "placement" else "triage.probe.runner.evaluate"
    monkeypatch.setattr(target, oom)
    result = run_probes(blobs, [ProbeSettings(lr=0.1, steps=4)])[0]
    assert result.oom and result.val_loss is None
    assert result.steps == (0 if where == "placement" else 4)


def test_data_too_big_for_the_device_stays_on_the_host(blobs, monkeypatch):
    from triage.data import TensorData

    def oom(self, device):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(TensorData, "to", oom)
    result = run_probes(blobs, [ProbeSettings(lr=0.1, steps=4)])[0]
    assert result.ok and result.steps == 4


@pytest.mark.parametrize("optimizer", ["LBFGS", "task"])
def test_an_updater_with_a_closure_trains_and_is_instrumented(optimizer):
    task = tasks.lbfgs_regression()
    ok, blown = run_probes(task, [ProbeSettings(lr=lr, steps=20, device="cpu",
                                                optimizer=optimizer, batch_size=96)
                                  for lr in (0.5, 1e4)])
    assert ok.ok and ok.losses[-1] < 0.1 * ok.losses[0]
    assert ok.update_ratio and ok.grad_norm and len(ok.losses) == ok.steps == 20
    assert blown.diverged


def test_the_tasks_own_updater_is_used_and_checked():
    calls = []

    def factory(params, lr):
        calls.append(lr)
        return torch.optim.Adadelta(params, lr=lr)

    X, y = tasks._blobs(60)
    task = Task(model=lambda: nn.Linear(4, 3), train=(X, y), val=(X, y), optimizer=factory)
    (result,) = run_probes(task, [ProbeSettings(lr=0.7, steps=3, optimizer="task")])
    assert result.ok and calls == [0.7]
    with pytest.raises(SettingsError, match=r"returned NoneType, not a torch\.optim\.Optimizer"):
        run_probes(Task(model=lambda: nn.Linear(4, 3), train=(X, y),
                        optimizer=lambda params, lr: None),
                   [ProbeSettings(lr=0.7, steps=3, optimizer="task")])
    with pytest.raises(TaskError, match=r"Task\.optimizer: unknown optimizer 'adamx'"):
        Task(model=lambda: nn.Linear(4, 3), train=(X, y), optimizer="adamx")
    with pytest.raises(TaskError, match=r"Task\.optimizer must be a torch.optim class name or a "
                                        "factory"):
        Task(model=lambda: nn.Linear(4, 3), train=(X, y), optimizer=3)
    assert Task(model=lambda: nn.Linear(4, 3), train=(X, y), optimizer="nadam").updater == "NAdam"


@pytest.mark.parametrize("rule, out, y, right", [
    ("binary", [[1.0, -1.0, 2.0], [-1.0, -1.0, -1.0]], [[1, 0, 0], [0, 0, 0]], 2 / 3 + 1),
    ("binary", [[1.0], [-1.0]], [[1.0], [1.0]], 1.0),
    ("binary_prob", [[0.9, 0.2]], [[1, 1]], 0.5),
    ("multiclass", [[[2.0, 0.0, 0.0], [0.0, 1.0, 1.0]]], [[0, 1, 0]], 2 / 3),  # (N, C, T)
    ("multiclass", [[0.1, 0.9], [0.8, 0.2]], [1, 1], 1.0),
])
def test_accuracy_of_several_labels_per_sample_stays_within_one(rule, out, y, right):
    from triage.probe.runner import _correct

    target = torch.tensor(y) if rule == "multiclass" else torch.tensor(y, dtype=torch.float32)
    got = _correct(rule, torch.tensor(out), target)
    assert float(got) == pytest.approx(right)
