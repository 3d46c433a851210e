"""doctor's contracts: bad programs become findings (never crashes), data other commands refuse
is reported, the user's model and random state are left alone, results repeat with a seed."""

import random

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from triage import Task
from triage.doctor import Severity, doctor
from triage.doctor.probes import OVERFIT_N
from triage.errors import TaskError
from triage.probe import ProbeResult, ProbeSettings

import tasks

SETTINGS = ProbeSettings(lr=0.05, device="cpu")


def codes(task, settings=SETTINGS):
    return [f.code for f in doctor(task, settings).findings]


class Raises(nn.Module):
    def forward(self, x):
        raise ValueError("shapes do not line up")


class ReturnsTuple(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, x):
        return self.linear(x), x


class ReturnsNothing(nn.Module):
    def forward(self, x):
        return None


def _blobs_with(**changes):
    task = tasks.blobs()
    for key, value in changes.items():
        setattr(task, key, value)
    return task


@pytest.mark.parametrize("model, words", [
    (Raises, "shapes do not line up"),
    (ReturnsTuple, None),  # its first tensor goes to the loss
    (ReturnsNothing, "returned NoneType"),
    (lambda: nn.Linear(4, 7), None),  # fine for cross-entropy: 7 >= 3 classes
    (lambda: nn.Linear(4, 2), "Target 2 is out of bounds"),  # too few classes
])
def test_a_model_that_fails_is_a_finding_and_no_probe_runs(model, words):
    diagnosis = doctor(_blobs_with(model=model), SETTINGS)
    found = [f for f in diagnosis.findings if f.code == "model.forward_error"]
    if words is None:
        assert not found
        return
    assert found and words in found[0].message
    assert diagnosis.evidence.runs == {} and diagnosis.errors


def test_output_shape_broadcast_is_an_error():
    task = tasks.linear_regression()
    X, y = task.train
    task.train = (X, y[:, 0])  # targets (N,) against outputs (N, 1)
    found = [f for f in doctor(task, SETTINGS).findings if f.code == "model.output_shape"]
    assert found and found[0].evidence["output_shape"] == [1]


def test_nan_data_is_reported_not_refused_and_probes_use_the_finite_rows():
    task = tasks.blobs()
    X, y = task.train
    X = X.copy()
    X[:5, 0] = np.nan
    task.train = (X, y)
    with pytest.raises(TaskError):
        task.prepare(0)  # what lr-find and sweep do
    diagnosis = doctor(task, SETTINGS)
    finding = next(f for f in diagnosis.findings if f.code == "data.non_finite")
    assert finding.evidence["counts"] == {"train.X": 5}
    assert finding.evidence["train_rows_dropped_for_probes"] == 5
    assert diagnosis.evidence.runs["configured"].result.ok  # trained on the rest


def test_a_dataset_and_one_hot_targets_work():
    task = tasks.blobs()
    X, y = task.train
    onehot = torch.eye(3)[torch.as_tensor(y)]
    task.train = TensorDataset(torch.as_tensor(X), onehot)
    Xv, yv = task.val
    task.val = (Xv, np.eye(3, dtype=np.float32)[yv])
    diagnosis = doctor(task, SETTINGS)
    assert diagnosis.evidence.targets == "onehot"
    assert diagnosis.evidence.loss.name == "cross_entropy"
    assert diagnosis.errors == []
    assert diagnosis.evidence.overfit[-1].memorised


def test_batch_larger_than_the_data_is_clamped_with_a_note():
    task = _blobs_with(train=(tasks._blobs(8)[0], tasks._blobs(8)[1]))
    diagnosis = doctor(task, SETTINGS.with_(batch_size=64))
    note = next(f for f in diagnosis.findings if f.code == "data.batch_clamped")
    assert str(note.severity) == "info" and note.changes == {"batch_size": 8}
    assert diagnosis.evidence.runs["configured"].result.settings.batch_size == 8
    assert len(diagnosis.evidence.overfit[0].result.losses) > 0
    assert diagnosis.config.batch_size == 8


def test_nan_at_any_lr_points_at_the_layer_not_the_lr():
    diagnosis = doctor(tasks.always_nan(), SETTINGS)
    found = {f.code: f for f in diagnosis.findings}
    assert "train.nan_at_any_lr" in found and "train.diverges_early" not in found
    assert found["train.nan_at_any_lr"].family == "activation"  # the output itself is NaN
    assert diagnosis.evidence.lowered == [] and diagnosis.evidence.overfit == []


def test_divergence_backs_off_by_three_and_writes_the_lr_into_the_config():
    diagnosis = doctor(tasks.blobs(), SETTINGS.with_(lr=50.0))
    finding = next(f for f in diagnosis.findings if f.code == "train.diverges_early")
    lrs = [run.result.settings.lr for run in diagnosis.evidence.lowered]
    assert lrs == pytest.approx([50.0 / 3 ** (i + 1) for i in range(len(lrs))])
    assert diagnosis.evidence.lowered[-1].result.ok
    assert diagnosis.config.optimizer.lr == pytest.approx(lrs[-1], rel=1e-2)
    assert finding.changes["lr"] == diagnosis.config.optimizer.lr
    assert diagnosis.config.doctor["changed"] == {"lr": finding.changes["lr"]}


def test_overfit_uses_ten_examples():
    diagnosis = doctor(tasks.blobs(), SETTINGS)
    run = diagnosis.evidence.overfit[0]
    assert run.result.settings.batch_size == OVERFIT_N  # the user's 32 exceeds the ten
    assert any(r.memorised for r in diagnosis.evidence.overfit)


def test_user_model_and_random_state_are_left_alone():
    shared = nn.Linear(4, 3)
    with pytest.raises(TaskError, match="same module twice"):
        doctor(_blobs_with(model=lambda: shared), SETTINGS)
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    before = (random.random(), np.random.rand(), torch.rand(1))
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    doctor(tasks.blobs(), SETTINGS)
    assert (random.random(), np.random.rand(), torch.rand(1)) == before


def test_same_seed_same_diagnosis():
    first, second = (doctor(tasks.blobs(), SETTINGS.with_(lr=3.0)) for _ in range(2))
    assert first.to_dict() == second.to_dict()
    assert first.evidence.runs["configured"].result.losses == \
        second.evidence.runs["configured"].result.losses


def test_factory_that_raises_is_a_clear_error():
    with pytest.raises(TaskError, match="factory raised"):
        doctor(_blobs_with(model=tasks.raises), SETTINGS)


def test_not_data_is_a_clear_error():
    with pytest.raises(TaskError, match="must be an \\(X, y\\) pair"):
        doctor(Task(model=lambda: nn.Linear(4, 3), train=42), SETTINGS)


def _oom_above(limit, monkeypatch):
    """Simulate a device that runs out of memory for batches larger than ``limit``."""
    from triage.doctor import probes

    real = probes.run_probe

    def run_probe(prepared, settings, callbacks=(), **options):
        if settings.batch_size > limit:
            raise_oom = ProbeResult(settings=settings, steps=0, losses=[], oom=True,
                                    divergence_reason="out of memory")
            return raise_oom
        return real(prepared, settings, callbacks, **options)

    monkeypatch.setattr(probes, "run_probe", run_probe)


def test_out_of_memory_halves_the_batch_and_the_other_checks_still_run(monkeypatch):
    _oom_above(8, monkeypatch)
    diagnosis = doctor(tasks.blobs(), SETTINGS.with_(batch_size=32))
    finding = next(f for f in diagnosis.findings if f.code == "train.out_of_memory")
    assert finding.changes == {"batch_size": 8} and finding.evidence["tried"] == [16, 8]
    assert diagnosis.config.batch_size == 8
    assert diagnosis.evidence.runs["configured"].result.settings.batch_size == 8
    assert any(r.memorised for r in diagnosis.evidence.overfit)  # ten examples fit
    assert "train.cannot_overfit_small" not in [f.code for f in diagnosis.findings]


def test_out_of_memory_at_every_batch_size_blames_the_model(monkeypatch):
    _oom_above(0, monkeypatch)
    diagnosis = doctor(tasks.blobs(), SETTINGS.with_(batch_size=4))
    finding = next(f for f in diagnosis.findings if f.code == "train.out_of_memory")
    assert finding.family == "model" and finding.evidence["tried"] == [2, 1]
    assert "configured" not in diagnosis.evidence.runs


def test_real_oom_exception_inside_training_is_caught(monkeypatch):
    """The probe engine turns a CUDA OOM raised mid-training into an oom result."""
    from triage.probe import loop

    real = loop.batches

    def batches(data, batch_size, device, generator=None):
        if batch_size > 8:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(data, batch_size, device, generator)

    monkeypatch.setattr(loop, "batches", batches)  # the training loop's data
    diagnosis = doctor(tasks.blobs(), SETTINGS.with_(batch_size=32))
    finding = next(f for f in diagnosis.findings if f.code == "train.out_of_memory")
    assert finding.changes == {"batch_size": 8}


def test_a_training_step_that_raises_is_a_finding_not_a_crash():
    def frozen():
        net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
        for p in net.parameters():
            p.requires_grad_(False)
        return net

    diagnosis = doctor(_blobs_with(model=frozen), SETTINGS)
    found = {f.code: f for f in diagnosis.findings}
    assert "a training step fails" in found["model.forward_error"].message
    assert "does not require grad" in found["model.forward_error"].message
    assert "train.cannot_overfit_small" not in found  # inconclusive, not a wiring verdict


def test_a_first_step_that_shrinks_the_loss_as_steeply_is_not_a_gradient_spike():
    from triage.doctor.train_update_checks import spike_ratio

    norms = [1000.0] + [1.0] * 30
    assert spike_ratio(norms) == pytest.approx(1000)  # a burst, with no loss to explain it
    assert spike_ratio(norms, [2.5] + [2.4] * 30) == pytest.approx(1000 / (2.5 / 2.4))
    assert spike_ratio(norms, [1000.0] + [1.0] * 30) == pytest.approx(1)  # convergence


def test_lbfgs_on_the_full_batch_is_a_clean_program():
    diagnosis = doctor(tasks.lbfgs_regression(), ProbeSettings(
        lr=0.8, optimizer="task", batch_size=96, device="cpu"))
    assert all(f.severity == Severity.INFO for f in diagnosis.findings), diagnosis.findings
