"""Doctor's judgements on one probe's losses: flat, and a spike it came back from."""

import pytest

from triage.doctor.probes import Run, flat, recovered, start_loss
from triage.probe import ProbeResult, ProbeSettings


def run(losses, batch_size=32, diverged=False):
    result = ProbeResult(settings=ProbeSettings(lr=0.1, batch_size=batch_size, device="cpu"),
                         steps=len(losses), losses=losses, diverged=diverged)
    return Run("probe", result)


@pytest.mark.parametrize("losses, expected", [
    ([2.3] * 150, True),
    ([2.3] * 100 + [2.0] * 50, False),
    ([2.3] * 10, False),  # too few steps to tell
])
def test_flat(losses, expected):
    assert flat(run(losses)) is expected


def test_the_start_is_the_first_32_samples_mean():
    assert start_loss(run([1.0, 3.0] + [0.0] * 40, batch_size=16).result) == 2.0
    assert start_loss(run([1.0, 3.0] + [0.0] * 40, batch_size=64).result) == 1.0


@pytest.mark.parametrize("losses, diverged, expected", [
    ([2.9, 8.6, 45.0, 30.0, 11.0] + [0.3] * 50, False, True),  # spikes 16x, then learns
    ([2.3, 9.0, 30.0] + [30.0] * 50, False, False),  # stays up: a divergence
    ([2.3, 9.0], True, False),  # went non-finite
])
def test_a_spike_is_recovered_from_when_training_ends_below_its_start(losses, diverged, expected):
    assert recovered(run(losses, batch_size=100, diverged=diverged)) is expected


def test_a_probe_that_raised_neither_recovered_nor_is_flat():
    failed = Run("probe", None, error="boom")
    assert not recovered(failed) and not flat(failed)
