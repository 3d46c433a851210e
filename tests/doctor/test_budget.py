"""Doctor's time budget: probes sized by measured step time, examples seen, and a floor."""

import time

import pytest

from triage.doctor import doctor
from triage.doctor.budget import EXAMPLES, MIN_STEPS, Budget
from triage.errors import SettingsError
from triage.probe import ProbeSettings

import tasks

pytestmark = pytest.mark.real_budget


def test_without_a_measurement_or_a_limit_probes_keep_their_length():
    assert Budget(seconds=None).steps("configured", 300, 32) == 300
    assert Budget(seconds=60).steps("configured", 300, 32) == 300  # nothing measured yet


def test_a_slow_step_shortens_every_probe_to_fit_but_never_below_the_floor():
    budget = Budget(seconds=10)
    budget.measured(32, steps=10, seconds=10.0)  # 1 s a step: 300 steps cannot fit in 10 s
    budget.plan(600)
    assert budget.steps("configured", 300, 32) == MIN_STEPS
    assert budget.shortened == {"configured": (300, MIN_STEPS)}


def test_a_fast_step_leaves_probes_whole():
    budget = Budget(seconds=60)
    budget.measured(32, steps=100, seconds=0.1)
    budget.plan(1300)
    assert budget.steps("configured", 300, 32) == 300 and budget.shortened == {}


def test_large_batches_see_as_many_examples_not_as_many_steps():
    budget = Budget(seconds=None)
    assert budget.steps("configured", 300, 1000) == max(2 * MIN_STEPS, -(-EXAMPLES // 1000))
    assert budget.shortened["configured"][0] == 300


def test_an_unmeasured_batch_size_is_estimated_from_the_nearest_measured_one():
    budget = Budget(seconds=5)
    budget.measured(64, steps=10, seconds=1.0)  # 0.1 s a step at 64
    budget.plan(300)
    assert budget.steps("overfit", 300, 8) < 300  # at least a quarter of 0.1 s a step


def test_a_budget_must_be_positive():
    with pytest.raises(SettingsError, match="budget must be > 0 seconds, got -1"):
        Budget(seconds=-1)


def test_doctor_shortens_probes_of_a_slow_program_and_says_so():
    started = time.perf_counter()
    diagnosis = doctor(tasks.slow_blobs(), ProbeSettings(lr=0.05, device="cpu"), budget=4.0)
    assert "configured" in diagnosis.shortened  # 50 ms a step: 300 steps would take 15 s
    wanted, ran = diagnosis.shortened["configured"]
    assert wanted == 300 and MIN_STEPS <= ran < wanted
    assert diagnosis.evidence.runs["configured"].result.steps == ran
    assert diagnosis.to_dict()["shortened"]["configured"] == {"wanted": 300, "ran": ran}
    assert time.perf_counter() - started < 120  # a hang guard, not a timing assertion


def test_no_budget_runs_every_probe_whole():
    diagnosis = doctor(tasks.blobs(), ProbeSettings(lr=0.05, device="cpu"), budget=None)
    assert diagnosis.shortened == {}
    assert diagnosis.evidence.runs["configured"].result.steps == 300
