"""train.lr_too_low's pieces: a fall beyond noise, and the extrapolated steps to a loss."""

import math

import numpy as np
import pytest

from triage.doctor.probes import faster
from triage.doctor.train_update_checks import smoothed, steps_to_reach, still_falling
from triage.probe import ProbeSettings

import tasks

RNG = np.random.default_rng(0)
NOISE = RNG.normal(0, 0.05, 300).tolist()


@pytest.mark.parametrize("curve, falling", [
    ([2.0 - 0.002 * t + n for t, n in enumerate(NOISE)], True),  # slow, steady fall
    ([0.3 + n for n in NOISE], False),  # converged: quarters differ by noise only
    ([2.0 + 0.001 * t + n for t, n in enumerate(NOISE)], False),  # rising
    ([1.0] * 12, False),  # too short to judge
])
def test_still_falling_means_a_fall_noise_does_not_explain(curve, falling):
    assert still_falling(curve) is falling


def test_steps_to_reach_inverts_a_log_linear_curve():
    curve = [3.0 - 0.5 * math.log(t + 1) for t in range(300)]
    assert steps_to_reach(curve, 3.0 - 0.5 * math.log(1001)) == pytest.approx(1001, rel=1e-6)
    assert steps_to_reach([1.0 + 0.001 * t for t in range(300)], 0.5) is None  # not falling


def test_smoothed_is_the_mean_of_the_steps_before():
    assert smoothed([1.0] * 20 + [3.0] * 10, 30) == 3.0
    assert smoothed([math.nan] * 10, 10) != smoothed([math.nan] * 10, 10)  # NaN: nothing finite


@pytest.mark.parametrize("lr, factors", [
    (1e-4, [3, 10, 100]),  # far too low: 10x still beats 3x, so 100x is tried
    (0.5, [3, 10]),  # 10x does not stay stable: the ladder stops
])
def test_faster_probes_climb_to_100x_only_while_10x_beats_3x(lr, factors):
    prepared = tasks.blobs().prepare(0)
    base = ProbeSettings(lr=lr, momentum=0.0, nesterov=False, device="cpu", evaluate=False)
    runs = faster(prepared, base, 60)
    assert [round(r.result.settings.lr / lr) for r in runs] == factors


def test_exploding_gradients_with_no_gradient_to_clip_at_advise_the_lr_only():
    """A run that diverges late after steps without any gradient (a saturated unit): the
    90th-percentile norm is 0, and a clip of 0 is no setting (it was a crash)."""
    from types import SimpleNamespace

    from triage.doctor.train_update_checks import ExplodingGradients

    norms = [0.0] * 40 + [5.0, 80.0]
    result = SimpleNamespace(losses=[1.0] * 41 + [math.inf], diverged=True,
                             divergence_step=130)
    run = SimpleNamespace(result=result, early=False, instruments=SimpleNamespace(norms=norms))
    ev = SimpleNamespace(runs={"configured": run}, forward=None)
    (finding,) = ExplodingGradients().check(ev)
    assert finding.changes == {} and finding.fix == "lower the learning rate"
