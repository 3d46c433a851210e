import multiprocessing
import os

import pytest
import torch
from torch import nn

from triage import ProbeSettings, Task
from triage.errors import SettingsError, TriageError
from triage.probe import run_probe
from triage.probe.pool import ProbePool

import tasks

CPU = ProbeSettings(lr=0.05, steps=30, device="cpu")


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_results_equal_an_in_process_probe_with_the_same_threads(one_thread):
    prepared = tasks.blobs().prepare()
    settings = [CPU.with_(lr=lr) for lr in (0.3, 0.03, 0.003)]
    with ProbePool(prepared, workers=2) as pool:
        tickets = [pool.submit(s) for s in settings]
        assert pool.busy == 3
        results = [pool.result(t) for t in reversed(tickets)][::-1]
        assert pool.busy == 0
    for s, result in zip(settings, results, strict=True):
        alone = run_probe(prepared, s)
        assert result.settings == s
        assert result.losses == alone.losses
        assert result.steps == alone.steps == 30


def test_workers_inherit_a_task_that_cannot_be_pickled():
    scale = 0.5  # a closure over a local: spawn would have to pickle it

    def loss(out, y):
        return scale * nn.functional.cross_entropy(out, y)

    task = Task(model=lambda: nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)),
                train=tasks.blobs().train, loss=loss)
    with ProbePool(task.prepare(), workers=1) as pool:
        assert pool.result(pool.submit(CPU)).steps == 30


def _raises() -> nn.Module:
    raise ValueError("no model here")


def _dies() -> nn.Module:
    if multiprocessing.parent_process() is not None:
        os._exit(3)  # the worker process dies without a word
    return nn.Linear(4, 3)


@pytest.mark.parametrize(("factory", "message"), [
    (_raises, "ValueError"),
    (_dies, r"died \(exit code 3\)"),
])
def test_a_failing_worker_comes_back_as_one_error(factory, message):
    task = Task(model=factory, train=tasks.blobs().train, loss="cross_entropy")
    prepared = task.prepare() if factory is not _raises else _prepared_without_check(task)
    with ProbePool(prepared, workers=1) as pool:
        with pytest.raises(TriageError, match=message):
            pool.result(pool.submit(CPU))
        # the pool goes on: a new worker replaces one that died
        assert pool.busy == 0


def _prepared_without_check(task):
    good = Task(model=lambda: nn.Linear(4, 3), train=task.train, loss="cross_entropy").prepare()
    good.task = task  # validation built the model; the probe's model factory now raises
    return good


def test_closing_stops_every_worker_even_mid_probe():
    prepared = tasks.blobs().prepare()
    pool = ProbePool(prepared, workers=2)
    pool.submit(CPU.with_(steps=100_000))
    pool.submit(CPU.with_(steps=100_000))
    pool.close()
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("triage-probe")]


def test_refuses_a_gpu_device(monkeypatch):
    monkeypatch.setattr("triage.probe.pool.resolve_device", lambda name: torch.device(name))
    with ProbePool(tasks.blobs().prepare(), workers=2) as pool, \
            pytest.raises(SettingsError, match="run on the CPU"):
        pool.submit(CPU.with_(device="cuda"))
