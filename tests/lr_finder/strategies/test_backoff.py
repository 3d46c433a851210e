import math

import numpy as np
import pytest
from torch import nn

from triage import ProbeResult, ProbeSettings, Task
from triage.lr_finder.strategies import BackOff, Boundary, Context

X = np.random.default_rng(0).normal(size=(320, 2)).astype(np.float32)
Y = (X[:, :1] > 0).astype(np.float32)


def _context(best_lr, boundary=0.3, max_steps=2000, candidate_diverges_above=None):
    """A context whose runner fakes evidence: val loss is a parabola in log10(lr)."""
    prepared = Task(model=lambda: nn.Linear(2, 1), train=(X, Y), val=(X, Y),
                    loss="bce_with_logits", epochs=100).prepare()
    limit = candidate_diverges_above or boundary

    def runner(settings, phase):
        out = []
        for s in settings:
            if s.lr > limit:
                out.append(ProbeResult(settings=s, steps=5, losses=[1.0, 5.0, math.nan] + [1] * 2,
                                       diverged=True, divergence_step=2))
            else:
                val = (math.log10(s.lr) - math.log10(best_lr)) ** 2 + 0.1
                out.append(ProbeResult(settings=s, steps=s.steps, losses=[1.0] * s.steps,
                                       val_loss=val if s.evaluate else None))
        return out

    return Context(prepared, ProbeSettings(lr=1e-3), runner, max_steps)


@pytest.mark.parametrize("best_lr", [0.1, 0.033, 0.01, 1e-3, 3e-4])
def test_finds_the_best_rung(best_lr):
    choice = BackOff(Boundary(0.3, 0.6, 100)).run(_context(best_lr))
    assert abs(math.log(choice.lr / best_lr)) <= math.log(3) / 2 + 1e-9
    assert choice.backoff == pytest.approx(0.3 / choice.lr)


def test_documents_range_named_in_the_rule():
    assert "inside the documents' 3-10x range" in BackOff(Boundary(0.3, 0.6, 100)).run(
        _context(0.1)).rule
    assert "beyond the documents' 3-10x range" in BackOff(Boundary(0.3, 0.6, 100)).run(
        _context(1e-3)).rule


def test_never_exceeds_the_step_budget():
    context = _context(1e-5, max_steps=1000)
    BackOff(Boundary(0.3, 0.6, 100)).run(context)
    assert context.steps_used <= 1000


def test_no_budget_falls_back_to_the_documents_rule():
    context = _context(1e-3, max_steps=50)
    choice = BackOff(Boundary(0.3, 0.6, 100)).run(context)
    assert choice.lr == pytest.approx(0.1) and not context.history
    assert "no room" in choice.rule


def test_candidates_that_diverge_in_longer_runs_are_skipped():
    context = _context(0.1, candidate_diverges_above=0.05)
    choice = BackOff(Boundary(0.3, 0.6, 100)).run(context)
    assert choice.lr <= 0.05
    assert any(c.val_loss is None for c in choice.candidates)


def test_all_candidates_diverging_says_so():
    choice = BackOff(Boundary(0.3, 0.6, 100)).run(_context(0.1, candidate_diverges_above=1e-12))
    assert "every candidate diverged" in choice.rule


def test_the_choice_is_exactly_an_lr_that_was_probed():
    context = _context(0.01, boundary=1.0)
    choice = BackOff(Boundary(1.0, 1.778, 100)).run(context)
    assert choice.lr in [probe.result.settings.lr for probe in context.history]
