"""The one probe loop, driven by a scripted stepper: lanes stop on their own, epochs end."""

import math

import pytest
import torch
from torch import nn

from triage import ProbeSettings
from triage.probe import loop
from triage.probe.monitor import GradientMonitor

import tasks

CPU = torch.device("cpu")


class Scripted(loop.Stepper):
    """Each lane's loss at each step from a table; gradients as the table says."""

    def __init__(self, lanes, table, grads=None, scaled=False):
        self.rows = {id(lane): row for lane, row in zip(lanes, table, strict=True)}
        self.grads = grads or {}
        self.scaled = scaled
        self.calls: list[int] = []

    def step(self, batch, lanes, step):
        self.calls.append(len(lanes))
        for lane in lanes:
            grad = self.grads.get(step, 1.0)
            for _, p in lane.monitor.named:
                p.grad = torch.full_like(p, grad)
            lane.update(lane.observe(step, None))
        return [torch.tensor(self.rows[id(lane)][step]) for lane in lanes]


def _lanes(n, lr=0.0):
    lanes = []
    for _ in range(n):
        model = nn.Linear(2, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        monitor = GradientMonitor(model, every=1)
        lanes.append(loop.Lane(optimizer, monitor, loop.new_watch(CPU, 32)))
    return lanes


def _run(lanes, stepper, steps=None, epochs=None, on_epoch_end=None):
    prepared = tasks.blobs().prepare()  # 96 training samples: 3 steps of 32 an epoch
    settings = ProbeSettings(lr=0.1, steps=steps, epochs=epochs, device="cpu")
    return loop.train(prepared, settings, lanes, stepper, CPU, torch.Generator().manual_seed(0),
                      on_epoch_end)


def test_a_lane_that_diverges_stops_alone_and_the_others_run_to_the_end():
    lanes = _lanes(3)
    table = [[1.0] * 10, [1.0, 1.0, math.nan] + [1.0] * 7, [1.0, 50.0] + [1.0] * 8]
    stepper = Scripted(lanes, table)
    assert _run(lanes, stepper, steps=10) == 10
    assert [lane.steps for lane in lanes] == [10, 3, 2]
    assert [lane.watch.reason is not None for lane in lanes] == [False, True, True]
    assert stepper.calls == [3, 3, 2] + [1] * 7  # a stopped lane is no longer stepped


def test_epochs_end_after_complete_epochs_and_can_stop_the_run():
    lanes = _lanes(1)
    ended = []

    def on_epoch_end(epoch):
        ended.append(epoch)
        return epoch == 2

    per_epoch = tasks.blobs().prepare().steps_per_epoch(32)
    assert _run(lanes, Scripted(lanes, [[1.0] * 100]), epochs=5,
                on_epoch_end=on_epoch_end) == 2 * per_epoch
    assert ended == [1, 2] and lanes[0].steps == 2 * per_epoch


@pytest.mark.parametrize(("scaled", "fails"), [(False, True), (True, False)])
def test_a_last_sampled_gradient_that_is_not_finite_fails_the_lane_unless_scaled(scaled, fails):
    lanes = _lanes(1)
    _run(lanes, Scripted(lanes, [[1.0] * 4], grads={3: math.inf}, scaled=scaled), steps=4)
    assert (lanes[0].watch.reason == "non-finite gradient") is fails
    assert lanes[0].watch.step == (3 if fails else None)


@pytest.mark.parametrize("batch_size, reference_steps", [(1, 32), (5, 7), (8, 1), (256, 1)])
def test_the_starting_loss_covers_32_samples_below_a_batch_of_8(batch_size, reference_steps):
    assert loop.new_watch(CPU, batch_size).reference_steps == reference_steps


def test_one_sample_twenty_times_the_first_is_not_an_explosion_at_batch_size_1():
    # per-sample losses of a line fitted on raw x in 0..199: sample losses differ by 20x
    losses = [653.0, 13400.0] + [400.0, 9000.0, 50.0, 12000.0] * 20
    one, whole = loop.new_watch(CPU, 1), loop.new_watch(CPU, 64)
    assert not any(one.add(torch.tensor(v)) for v in losses)
    assert any(whole.add(torch.tensor(v)) for v in losses)  # one sample of 64 is the start


def test_a_loss_that_grows_after_the_reference_is_an_explosion_at_batch_size_1():
    watch = loop.new_watch(CPU, 1)
    results = [watch.add(torch.tensor(v)) for v in [1.0] * 32 + [10.0 ** k for k in range(1, 6)]]
    assert results[-1] and watch.step is not None and watch.step >= 32
    assert "4x the start, 1)" in watch.reason


def test_without_explosions_only_a_non_finite_loss_stops_a_probe():
    spike = [2.0] + [40.0] * 20 + [1.0] * 20
    watch = loop.new_watch(CPU, 32, explosions=False)
    assert not any(watch.add(torch.tensor(v)) for v in spike)
    assert watch.add(torch.tensor(math.nan)) and watch.reason == "non-finite loss"
    usual = loop.new_watch(CPU, 32)
    assert any(usual.add(torch.tensor(v)) for v in spike)


def test_a_two_step_probe_at_batch_16_still_sees_its_second_step_explode():
    watch = loop.new_watch(CPU, 16)
    assert not watch.add(torch.tensor(0.006)) and watch.add(torch.tensor(2.02))
