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


def test_auto_on_a_gpu_runs_one_at_a_time(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert plan("auto", "auto", 100, 16).workers == 1
    assert plan("auto", "cuda:0", 100, 16).workers == 1


def test_describes_its_choice():
    assert "2 probes at once" in plan("auto", "cpu", 100, 2).describe()
    assert "one at a time (--parallel 1)" in plan(1, "cpu", 100, 2).describe()


@pytest.mark.parametrize("value", ["0", 0, -2, "x", "2.5", True, None])
def test_bad_values_name_the_option(value):
    with pytest.raises(SettingsError, match=r"--parallel must be auto or a positive integer"):
        check_parallel(value)


def test_processes_cannot_use_cuda():
    with pytest.raises(SettingsError, match="cannot use CUDA"):
        plan(2, "cuda", 100, 8)


def test_counts_parameters_without_touching_the_callers_random_state():
    import torch

    torch.manual_seed(5)
    before = torch.rand(1)
    torch.manual_seed(5)
    assert count_parameters(tasks.blobs()) == 4 * 16 + 16 + 16 * 3 + 3
    assert torch.rand(1) == before
