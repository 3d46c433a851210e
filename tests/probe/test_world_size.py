"""Data-parallel workers on one device: one micro-batch per worker accumulated a step."""

import dataclasses
import math
from typing import NamedTuple

import pytest
import torch
from torch import nn

from triage import Config, LRFindSettings, ProbeSettings, Task, lr_find
from triage.data import split_batch
from triage.errors import ConfigError, SettingsError, TaskError
from triage.probe import run_probe
from triage.sweeper import LRPrior

import tasks

CPU = ProbeSettings(lr=0.1, steps=12, device="cpu")
TASKS = tasks.__file__


class Pair(NamedTuple):
    x: torch.Tensor
    y: torch.Tensor


@dataclasses.dataclass
class Sample:
    x: torch.Tensor
    label: str


@pytest.mark.parametrize(("n", "parts", "sizes"), [(8, 4, [2, 2, 2, 2]), (10, 4, [2, 3, 2, 3]),
                                                   (3, 4, [1, 1, 1]), (5, 1, [5])])
def test_a_batch_is_cut_into_consecutive_micro_batches_of_every_form(n, parts, sizes):
    x, y = torch.arange(n * 2.0).reshape(n, 2), torch.arange(n)
    for batch in [(x, y), [x, y], {"x": x, "y": y}, Pair(x, y), Sample(x, "same"), x]:
        cut = split_batch(batch, parts)
        assert [len(c[0] if isinstance(c, (tuple, list)) else c["x"] if isinstance(c, dict)
                    else c.x if isinstance(c, Sample) else c) for c in cut] == sizes
        assert type(cut[0]) is type(batch)
    joined = torch.cat([c[0] for c in split_batch((x, y), parts)])
    assert torch.equal(joined, x)  # in order: worker r takes the r-th share
    assert split_batch(Sample(x, "same"), parts)[0].label == "same"


def test_a_batch_it_cannot_see_into_is_refused_in_one_line():
    class Opaque:
        def to(self, device):
            return self

    with pytest.raises(TaskError, match="cannot be cut into per-worker micro-batches"):
        split_batch((torch.zeros(4, 1), Opaque()), 2)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_accumulated_workers_train_as_one_batch_of_their_sum_would(optimizer):
    """Without BatchNorm, 4 workers of 8 take the same steps as one worker of 32."""
    prepared = tasks.blobs().prepare()
    workers = run_probe(prepared, CPU.with_(optimizer=optimizer, batch_size=8, world_size=4))
    one = run_probe(prepared, CPU.with_(optimizer=optimizer, batch_size=32))
    assert workers.steps == one.steps == 12
    assert workers.losses == pytest.approx(one.losses, rel=1e-5)
    assert workers.val_loss == pytest.approx(one.val_loss, rel=1e-5)


def test_batch_norm_statistics_are_each_workers_own():
    task = Task(model=lambda: nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(),
                                            nn.Linear(16, 3)),
                train=tasks.blobs().train, val=tasks.blobs().val, loss="cross_entropy")
    prepared = task.prepare()
    workers = run_probe(prepared, CPU.with_(batch_size=8, world_size=4))
    one = run_probe(prepared, CPU.with_(batch_size=32))
    assert workers.losses[0] != pytest.approx(one.losses[0], rel=1e-6)  # per-worker statistics
    assert all(math.isfinite(v) for v in workers.losses)


def test_epochs_count_steps_of_the_effective_batch():
    prepared = tasks.blobs().prepare()  # 96 training samples
    result = run_probe(prepared, CPU.with_(steps=None, epochs=2, batch_size=8, world_size=4))
    assert result.steps == 2 * prepared.steps_per_epoch(32) == 6


@pytest.fixture(scope="module")
def planned():
    return lr_find(tasks.blobs(), LRFindSettings(batch_size=8, world_size=4, device="cpu"))


def test_lr_find_measures_for_the_job_and_compares_the_scaling_rules(planned):
    assert planned.batch_size == 8 and planned.world_size == 4
    assert planned.to_dict()["effective_batch_size"] == 32
    ev = planned.lr_find
    alone = lr_find(tasks.blobs(), LRFindSettings(batch_size=8, device="cpu"))
    assert ev.world_size == 4 and ev.one_worker_lr == alone.optimizer.lr  # the same search
    assert ev.rules() == pytest.approx({"linear": 4 * alone.optimizer.lr,
                                        "square-root": 2 * alone.optimizer.lr})
    assert ev.one_worker_steps == alone.lr_find.steps_used
    assert Config.from_dict(planned.to_dict()) == planned


@pytest.mark.parametrize(("measured", "held"), [(4.0, "linear"), (2.2, "square-root"),
                                                (0.9, None), (20.0, None)])
def test_the_rule_that_held_is_the_nearest_within_2x(planned, measured, held):
    ev = dataclasses.replace(planned.lr_find, one_worker_lr=1.0)
    assert ev.rule_that_held(measured) == held


def test_a_config_whose_effective_batch_disagrees_is_refused(planned):
    data = {**planned.to_dict(), "effective_batch_size": 64}
    with pytest.raises(ConfigError, match="effective_batch_size 64 is not batch_size x "
                                          "world_size = 32"):
        Config.from_dict(data)


def test_a_sweep_starts_only_from_a_config_for_its_own_workers(planned):
    with pytest.raises(SettingsError, match=r"the config is for 4 data-parallel worker\(s\), "
                                            "and this sweep's trials train 1"):
        LRPrior.of(planned)
    assert LRPrior.of(planned, 4).lr == planned.optimizer.lr


@pytest.mark.parametrize(("args", "message"), [
    (["--world-size", "0"], "world_size must be a positive integer, got 0"),
    (["--world-size", "4", "--batch-size", "32"], "batch size 32 x 4 workers = 128 is larger "
                                                  "than the 96 training samples"),
])
def test_bad_world_sizes_are_one_line_and_exit_2(run, tmp_path, args, message):
    result = run("lr-find", f"{TASKS}:blobs", *args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error:") and message in lines[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written


def test_the_command_says_what_it_measured_for(run, tmp_path):
    result = run("lr-find", f"{TASKS}:blobs", "--batch-size", "8", "--world-size", "4",
                 "--device", "cpu", "--no-plot")
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.replace("│", " ").split())
    assert "for 4 workers of batch 8 (effective batch 32)" in out
    assert "then one worker of batch 8" in out
    assert "4 x batch 8 (effective batch 32" in out and "one worker:" in out


def test_train_runs_a_data_parallel_config_as_it_was_measured(planned):
    from triage.trainer import TrainSettings, train

    config = dataclasses.replace(planned, task="blobs")
    result = train(tasks.blobs(), config, TrainSettings(epochs=2, device="cpu"))
    assert len(result.curve) == 2 and all(e.val_loss is not None for e in result.curve)


def test_the_noise_scale_estimator_recovers_a_known_one():
    from triage.probe.monitor import NoiseScale

    norm, trace = 2.0, 300.0  # |G|^2 and tr(Sigma): B_simple = 150
    scale = NoiseScale(small=8, big=32)
    for _ in range(3):  # E|G_b|^2 = |G|^2 + tr(Sigma) / b
        scale.add(norm + trace / 8, norm + trace / 32)
    assert scale.value() == pytest.approx(150.0)
    assert NoiseScale(8, 32).value() is None


def test_the_critical_batch_is_measured_at_the_recommended_lr(planned):
    ev = planned.lr_find
    assert ev.critical_batch is not None and ev.critical_batch > 0
    assert ev.chosen_probe["noise_scale"] == ev.critical_batch
    one = run_probe(tasks.blobs().prepare(), CPU.with_(batch_size=32))
    assert one.noise_scale is None  # one worker: no second batch size to compare with
