"""What a flat loss and a failed overfit test are blamed on: the units (dead, or gradients
vanishing toward the input) before the wiring or the learning rate."""

from types import SimpleNamespace

import pytest

from triage.doctor import train_checks
from triage.doctor.train_checks import SLOWER_FIRST, CannotOverfit


def _evidence(monkeypatch, *, gradients, dead=None, squashing=()):
    monkeypatch.setattr(train_checks, "gradient_ratio", lambda ev: gradients)
    monkeypatch.setattr(train_checks, "dead_fraction", lambda ev: dead)
    monkeypatch.setattr(train_checks, "saturating", lambda ev: list(squashing))
    failed = SimpleNamespace(name="overfit 10", memorised=False, error=None,
                             result=SimpleNamespace(oom=False, losses=[2.3], val_loss=2.2,
                                                    val_accuracy=0.1, diverged=False))
    return SimpleNamespace(task=SimpleNamespace(step=None), splits=object(),
                           overfit=[failed, failed])


@pytest.mark.parametrize(("gradients", "dead", "squashing", "family"), [
    (0.005, None, ("Tanh",), "activation"),  # a first layer 200x slower, tanh layers
    (SLOWER_FIRST / 2, None, (), "init"),
    (SLOWER_FIRST * 2, None, (), "learning_rate"),  # clean programs measure >= 0.086
    (None, None, (), "learning_rate"),
    (0.5, 0.9, (), "activation"),  # dead ReLUs
])
def test_a_flat_loss_is_blamed_on_the_units_when_they_do_not_learn(
        monkeypatch, gradients, dead, squashing, family):
    ev = _evidence(monkeypatch, gradients=gradients, dead=dead, squashing=squashing)
    ev.overfit = []
    assert train_checks._why_flat(ev, 1e-3)[0] == family


@pytest.mark.parametrize(("gradients", "family", "words"), [
    (0.004, "init", "vanishing gradients"),
    (0.3, "loss", "paired and hooked up right"),  # the units learn: the wiring is blamed
])
def test_a_failed_overfit_test_names_vanishing_gradients_before_the_wiring(
        monkeypatch, gradients, family, words):
    ev = _evidence(monkeypatch, gradients=gradients)
    [finding] = CannotOverfit().check(ev)
    assert finding.family == family
    assert words in finding.message + finding.fix
