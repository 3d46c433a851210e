"""Doctor's judgements on one probe's losses: flat, and where it started."""

import pytest

from triage.doctor.probes import Run, flat, start_loss
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


def test_the_start_is_the_first_32_samples_mean_below_a_batch_of_8():
    assert start_loss(run([1.0, 3.0] + [0.0] * 40, batch_size=16).result) == 1.0
    assert start_loss(run([1.0, 3.0] + [0.0] * 40, batch_size=4).result) == 0.5  # 8 steps


def test_a_probe_that_raised_is_not_flat():
    assert not flat(Run("probe", None, error="boom"))
