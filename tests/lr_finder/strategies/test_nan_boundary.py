import pytest

from triage import ProbeSettings, run_probes
from triage.lr_finder.strategies import Context, DivergesEverywhere, NanBoundary, ThreeLR

import tasks

PLAIN_SGD = ProbeSettings(lr=1e-3, momentum=0.0, nesterov=False, device="cpu")


def _context(task, max_steps=3000):
    prepared = task.prepare()
    return Context(prepared, PLAIN_SGD,
                   lambda settings, phase: run_probes(prepared, settings), max_steps)


@pytest.mark.parametrize("precision", [2.0, 1.2])
def test_brackets_the_known_divergence_lr(precision):
    # loss = (10 w)^2: plain SGD diverges exactly above lr = 1 / 10^2 = 0.01.
    context = _context(tasks.quadratic(10.0))
    ThreeLR().run(context)
    boundary = NanBoundary(precision=precision).run(context)
    assert boundary.max_finite_lr <= 0.01 < boundary.divergence_lr
    assert boundary.ratio <= precision
    probed = [p.result.settings.lr for p in context.history]
    assert probed[:3] == [1e-1, 1e-3, 1e-6]
    assert all(p.result.settings.steps == 100 for p in context.history)


def test_extends_upward_when_nothing_diverges():
    context = _context(tasks.quadratic(1.0))  # diverges above lr = 1
    ThreeLR().run(context)
    boundary = NanBoundary().run(context)
    assert boundary.max_finite_lr <= 1.0 < boundary.divergence_lr <= 2.0
    assert 10.0 in [p.result.settings.lr for p in context.history]


def test_extends_downward_when_everything_diverges():
    context = _context(tasks.quadratic(1e4))  # diverges above lr = 1e-8
    ThreeLR().run(context)
    boundary = NanBoundary().run(context)
    assert boundary.max_finite_lr <= 1e-8 < boundary.divergence_lr
    assert boundary.ratio <= 2.0


def test_diverging_at_every_lr_is_not_blamed_on_the_lr():
    context = _context(tasks.always_nan())
    ThreeLR().run(context)
    with pytest.raises(DivergesEverywhere, match="not the learning rate"):
        NanBoundary().run(context)


def test_the_max_stable_lr_is_the_highest_that_learns_and_the_anchor_where_divergence_starts():
    context = _context(tasks.quadratic(10.0))
    ThreeLR(lrs=(1e-3, 0.01, 0.02)).run(context)  # 0.01 oscillates: finite, its loss flat
    flat = context.history[1].result
    assert flat.ok and flat.not_learning and not context.history[0].result.not_learning
    boundary = NanBoundary(precision=100).run(context)
    assert (boundary.max_finite_lr, boundary.divergence_lr) == (0.01, 0.02)
    assert boundary.max_stable_lr == 1e-3


def test_with_no_probe_that_learns_there_is_no_max_stable_lr():
    context = _context(tasks.quadratic(10.0))
    ThreeLR(lrs=(0.01, 0.02)).run(context)  # flat at 0.01, diverges at 0.02
    boundary = NanBoundary(precision=100).run(context)
    assert (boundary.max_finite_lr, boundary.divergence_lr) == (0.01, 0.02)
    assert boundary.max_stable_lr is None


def test_narrowing_leaves_the_reserve():
    context = _context(tasks.quadratic(10.0), max_steps=600)
    ThreeLR().run(context)
    NanBoundary(precision=1.01, reserve=0.4).run(context)
    assert context.steps_left >= 0.4 * 600 - 100
