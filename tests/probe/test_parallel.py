import pytest

from triage.errors import SettingsError
from triage.probe.parallel import SMALL_MODEL, check_parallel, count_parameters, plan

import tasks


@pytest.mark.parametrize(("parallel", "device", "parameters", "cores", "workers"), [
    ("auto", "cpu", 10**4, 2, 2),
    ("auto", "cpu", 10**4, 4, 3),
    ("auto", "cpu", 10**4, 1, 1),          # nothing to share
    ("auto", "cpu", SMALL_MODEL - 1, 16, 3),  # a small model: one thread loses little
    ("auto", "cpu", SMALL_MODEL, 2, 1),    # a larger one uses the cores in one probe
    (1, "cpu", 100, 16, 1),
    ("1", "cpu", 100, 2, 1),
    (4, "cpu", 100, 2, 4),
])
def test_plan(parallel, device, parameters, cores, workers):
    assert plan(parallel, device, parameters, cores).workers == workers


@pytest.mark.parametrize("parallel", ["auto", 1, 2])
@pytest.mark.parametrize("cores", [1, 2, 16])
def test_a_small_model_trains_with_one_thread_at_every_width(parallel, cores):
    # the same arithmetic one at a time as in the one-thread workers: the same recommendation
    assert plan(parallel, "cpu", SMALL_MODEL - 1, cores).threads == 1
    assert plan(parallel, "cpu", SMALL_MODEL, cores).threads is None  # torch's threads


def test_a_gpu_keeps_torchs_threads(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert plan(1, "cuda", 100, 2).threads is None


def test_auto_on_a_gpu_fuses_eight(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert plan("auto", "auto", 100, 16).workers == 8
    assert plan("auto", "cuda:0", 100, 16).fused
    assert "fused into one model" in plan("auto", "cuda:0", 100, 16).describe()


def test_describes_its_choice():
    assert "2 probes at once" in plan("auto", "cpu", 100, 2).describe()
    assert "one at a time, one CPU thread (--parallel 1; 100 parameters train" in plan(
        1, "cpu", 100, 2).describe()
    assert "one at a time (--parallel 1)" in plan(1, "cpu", SMALL_MODEL, 2).describe()


@pytest.mark.parametrize("value", ["0", 0, -2, "x", "2.5", True, None])
def test_bad_values_name_the_option(value):
    with pytest.raises(SettingsError, match=r"--parallel must be auto or a positive integer"):
        check_parallel(value)


def test_on_a_gpu_probes_are_fused(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert plan(4, "cuda", 100, 8) == plan(4, "cuda", 10**7, 8)
    assert plan(4, "cuda", 100, 8).fused and plan(4, "cuda", 100, 8).workers == 4
    assert plan("auto", "auto", 10**7, 2).fused


def test_counts_parameters_without_touching_the_callers_random_state():
    import torch

    torch.manual_seed(5)
    before = torch.rand(1)
    torch.manual_seed(5)
    assert count_parameters(tasks.blobs()) == 4 * 16 + 16 + 16 * 3 + 3
    assert torch.rand(1) == before
