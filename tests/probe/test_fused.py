import math

import pytest
from torch import nn

from triage import ProbeSettings, Task
from triage.probe import run_probe
from triage.probe.fused import FusedPool, fusable, run_fused

import tasks

CPU = ProbeSettings(lr=0.1, steps=40, device="cpu")
LRS = (5.0, 0.3, 0.03, 1e-4)  # the first diverges


def _close(a, b):
    finite = [(x, y) for x, y in zip(a, b, strict=True) if math.isfinite(x) and math.isfinite(y)]
    return all(abs(x - y) <= 1e-4 * (1 + abs(y)) for x, y in finite)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_each_copy_trains_as_its_own_probe_would(optimizer):
    prepared = tasks.blobs().prepare()
    settings = [CPU.with_(lr=lr, optimizer=optimizer) for lr in LRS]
    fused = run_fused(prepared, settings)
    for result in fused:
        alone = run_probe(prepared, result.settings)
        assert result.steps == alone.steps and result.diverged == alone.diverged
        assert result.divergence_step == alone.divergence_step
        assert _close(result.losses, alone.losses)
        if alone.val_loss is not None:
            assert result.val_loss == pytest.approx(alone.val_loss, rel=1e-4)


def test_batch_norm_copies_keep_their_own_running_statistics():
    task = Task(model=lambda: nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(),
                                            nn.Linear(16, 3)),
                train=tasks.blobs().train, val=tasks.blobs().val, loss="cross_entropy")
    prepared = task.prepare()
    settings = [CPU.with_(lr=lr) for lr in LRS]
    assert fusable(prepared, settings) is None
    for result in run_fused(prepared, settings):
        alone = run_probe(prepared, result.settings)
        assert _close(result.losses, alone.losses) and result.diverged == alone.diverged
        if alone.val_loss is not None:  # evaluated with each copy's own running statistics
            assert result.val_loss == pytest.approx(alone.val_loss, rel=1e-4)


def test_a_diverged_copy_never_reaches_the_others():
    prepared = tasks.blobs().prepare()
    together = run_fused(prepared, [CPU.with_(lr=lr) for lr in LRS])
    apart = run_fused(prepared, [CPU.with_(lr=lr) for lr in LRS[1:]])
    assert together[0].diverged and together[0].steps < 40
    for with_nan, without in zip(together[1:], apart, strict=True):
        assert with_nan.losses == without.losses


@pytest.mark.parametrize(("model", "change", "reason"), [
    (lambda: nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 3)), {},
     "Dropout draws random masks"),
    (lambda: nn.Linear(4, 3), {"optimizer": "LBFGS"}, "steps with a closure"),
    (lambda: nn.Linear(4, 3), {"steps": None, "epochs": 1}, "epoch-based"),
    (lambda: nn.Linear(4, 3), {"grad_clip_norm": 1.0}, "clipped"),
])
def test_says_what_cannot_be_fused(model, change, reason):
    prepared = Task(model=model, train=tasks.blobs().train, loss="cross_entropy").prepare()
    assert reason in fusable(prepared, [CPU.with_(**change)])


def test_probes_that_differ_beyond_the_lr_are_not_fused():
    assert "more than the learning rate" in fusable(tasks.blobs().prepare(),
                                                    [CPU, CPU.with_(batch_size=16)])
    assert fusable(tasks.blobs().prepare(), [CPU, CPU.with_(lr=0.5)]) is None


def test_the_pool_fuses_what_waits_and_falls_back_once_for_a_model_vmap_cannot_run():
    prepared = tasks.blobs().prepare()
    with FusedPool(prepared, size=3) as pool:
        tickets = [pool.submit(CPU.with_(lr=lr)) for lr in LRS]
        assert pool.busy == 4
        first = pool.result(tickets[2])
        assert pool.busy == 1  # three fused together, the fourth still waits
        assert first.settings.lr == LRS[2] and pool.fell_back is None

    class Branchy(nn.Module):  # control flow on a weight's value: vmap refuses it
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 3), nn.Linear(4, 3)

        def forward(self, x):
            return self.a(x) if self.a.weight.sum().item() > 0 else self.b(x)

    branchy = Task(model=Branchy, train=tasks.blobs().train, loss="cross_entropy").prepare()
    with FusedPool(branchy, size=2) as pool:
        tickets = [pool.submit(CPU.with_(lr=lr)) for lr in (0.1, 0.01)]
        results = [pool.result(t) for t in tickets]
        assert pool.fell_back  # says why, once
        assert [r.losses for r in results] == [run_probe(branchy, r.settings).losses
                                               for r in results]


def test_lr_find_with_fused_probes_recommends_what_it_does_one_at_a_time(monkeypatch):
    from triage import LRFindSettings, lr_find
    from triage.probe.parallel import Parallelism

    settings = LRFindSettings(device="cpu", seed=2, max_steps=900)
    alone = lr_find(tasks.blobs(), LRFindSettings(device="cpu", seed=2, max_steps=900,
                                                  parallel=1))
    monkeypatch.setattr("triage.lr_finder.plan.plan",
                        lambda *a, **k: Parallelism(8, "test", fused=True))
    fused = lr_find(tasks.blobs(), settings)
    assert fused.optimizer.lr == alone.optimizer.lr
    assert [p["lr"] for p in fused.lr_find.probes] == [p["lr"] for p in alone.lr_find.probes]
    assert fused.lr_find.fused_fallback is None
