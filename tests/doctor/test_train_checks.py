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
                           overfit=[failed, failed], prepared=None)


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


def test_a_model_too_small_to_interpolate_10_examples_is_not_said_to_be_miswired():
    """A line through noisy points: 2 parameters cannot memorise 10 targets, wired right."""
    import numpy as np
    from torch import nn

    from triage import Task, diagnose
    from triage.probe import ProbeSettings

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 1)).astype(np.float32)
    y = (0.3 * x + rng.normal(size=(200, 1))).astype(np.float32)  # mostly noise
    task = Task(model=lambda: nn.Linear(1, 1), train=(x[:160], y[:160]),
                val=(x[160:], y[160:]), loss="mse", name="line", epochs=5)
    codes = {f.code: f for f in diagnose(task, ProbeSettings(lr=0.05, device="cpu"),
                                         budget=None).findings}
    assert "train.cannot_overfit_small" not in codes
    note = codes["train.overfit_not_checked"]
    assert note.evidence == {"parameters": 2, "target_values": 10}


def test_constant_weights_in_the_only_layer_break_no_symmetry():
    """A logistic regression from zeros (the TensorFlow tutorials) is fine; zeros in a hidden
    layer are not."""
    from torch import nn

    from triage import Task, diagnose
    from triage.probe import ProbeSettings

    def logistic() -> nn.Module:
        layer = nn.Linear(4, 3)
        nn.init.zeros_(layer.weight)
        return layer

    def hidden_zeros() -> nn.Module:
        net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
        nn.init.zeros_(net[0].weight)
        return net

    import tasks

    blobs = tasks.blobs()
    for model, flagged in ((logistic, False), (hidden_zeros, True)):
        task = Task(model=model, train=blobs.train, val=blobs.val, loss="cross_entropy")
        codes = [f.code for f in diagnose(task, ProbeSettings(lr=0.1, device="cpu"),
                                          budget=None).findings]
        assert ("model.bad_init" in codes) is flagged, codes


def _flat_run(steps, later=None):
    """Evidence whose configured probe is flat for ``steps`` steps, with a ``longer`` probe
    whose losses are ``later`` (when given)."""
    from triage.doctor.probes import Run
    from triage.probe import ProbeResult, ProbeSettings

    settings = ProbeSettings(lr=0.01, batch_size=64, device="cpu")

    def run(losses):
        return Run("configured", ProbeResult(settings=settings, steps=len(losses),
                                             losses=losses))
    runs = {"configured": run([2.3] * steps)}
    if later is not None:
        runs["longer"] = run(later)
    return SimpleNamespace(runs=runs, trained=lambda: runs["configured"], settings=settings,
                           prepared=SimpleNamespace(budget_steps=lambda batch: 1380))


@pytest.mark.parametrize("steps, severity", [(100, "warning"), (150, "error")])
def test_a_flat_loss_blamed_on_the_lr_over_a_sliver_of_the_run_is_a_warning(
        monkeypatch, steps, severity):
    monkeypatch.setattr(train_checks, "_why_flat", lambda ev, ratio: ("learning_rate", "lr"))
    (finding,) = train_checks.NotLearning().check(_flat_run(steps))
    assert str(finding.severity) == severity
    assert ("of your 1380 steps" in finding.message) is (severity == "warning")


def test_a_flat_start_that_falls_when_trained_on_is_a_slow_start_not_a_failure(monkeypatch):
    monkeypatch.setattr(train_checks, "_why_flat", lambda ev, ratio: ("learning_rate", "lr"))
    later = [2.3] * 300 + [2.3 - 0.001 * i for i in range(1080)]
    (finding,) = train_checks.NotLearning().check(_flat_run(150, later))
    assert str(finding.severity) == "info" and finding.message.startswith("a slow start")
    (finding,) = train_checks.NotLearning().check(_flat_run(150, [2.3] * 1380))
    assert str(finding.severity) == "error"  # flat all the way: not learning
