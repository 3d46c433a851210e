import math

import numpy as np
import optuna
import pytest

from triage.lr_finder import LRFindSettings, lr_find
from triage.storage import make_storage
from triage.sweeper import LRPrior, SweepSettings, sweep
from triage.sweeper.boundaries import Boundaries, Measured, combo_key, neighbour_guess
from triage.sweeper.space_file import parse_space

import tasks

PLAIN_SGD = {"optimizer": "sgd", "nesterov": False, "momentum": 0.0, "batch_size": 32,
             "init": "default"}


def _boundaries(task, window=5):
    study, probes = optuna.create_study(), optuna.create_study()
    return Boundaries(study, probes, task.prepare(0), window, seed=0, device="cpu",
                      precision="32"), probes


def test_a_boundary_is_measured_once_and_brackets_the_true_one():
    # loss = (10 w)^2: plain SGD diverges exactly above lr = 1/100
    boundaries, probes = _boundaries(tasks.quadratic(10.0))
    found = boundaries.get(PLAIN_SGD)
    assert found.max_finite_lr <= 0.01 < found.divergence_lr
    assert found.divergence_lr / found.max_finite_lr <= 2  # lr-find's precision
    ran = len(probes.trials)
    assert boundaries.get(PLAIN_SGD) == found and len(probes.trials) == ran  # kept, not re-run
    assert boundaries.trained == sum(t.user_attrs["probe"]["steps"] for t in probes.trials)


def test_a_neighbours_boundary_starts_the_search_close_by():
    boundaries, probes = _boundaries(tasks.quadratic(10.0))
    boundaries.get(PLAIN_SGD)
    blind = len(probes.trials)
    found = boundaries.get({**PLAIN_SGD, "init": "xavier"})  # init does not move it here
    assert len(probes.trials) - blind < blind and found.max_finite_lr <= 0.01


def test_neighbour_guesses_follow_batch_size_and_updater():
    known = {combo_key(PLAIN_SGD): Measured(0.4, 0.8)}
    assert neighbour_guess({**PLAIN_SGD, "batch_size": 128}, known) == pytest.approx(0.8)
    adam = {**PLAIN_SGD, "optimizer": "adam"}
    assert neighbour_guess(adam, known) == pytest.approx(0.04)  # adaptive: ~10x lower
    assert neighbour_guess(PLAIN_SGD, {}) is None
    assert neighbour_guess(PLAIN_SGD, {combo_key(adam): Measured(None, None)}) is None


def test_every_trials_lr_is_its_boundary_divided_by_its_backoff():
    space = parse_space({"version": 1, "params": {
        "optimizer": "sgd", "momentum": 0.0, "backoff": {"low": 1.5, "high": 100, "log": True},
        "batch_size": {"choices": [16, 32]}}}, "q")
    summary = sweep(tasks.quadratic(10.0), space, SweepSettings(budget=None, trials=6),
                    storage=None)
    rows = summary.table
    assert np.allclose(rows["lr"], rows["boundary"] / rows["backoff"])
    assert (rows["lr"] < rows["boundary"]).all() and (rows["outcome"] == "complete").all()
    assert rows.groupby("batch_size")["boundary"].nunique().eq(1).all()  # one per combination


def test_a_combination_that_diverges_everywhere_is_infeasible():
    space = parse_space({"version": 1, "params": {"backoff": {"low": 2, "high": 10}}}, "nan")
    summary = sweep(tasks.always_nan(), space, SweepSettings(budget=None, trials=2),
                    storage=None)
    assert (summary.table["outcome"] == "infeasible").all() and summary.best is None
    assert summary.table["reason"].str.contains("at every LR down to").all()
    assert summary.table["value"].map(math.isfinite).all()


def test_lr_finds_boundary_serves_its_combination_without_a_probe():
    task = tasks.blobs()
    config = lr_find(task, LRFindSettings(device="cpu", max_steps=600))
    space = parse_space({"version": 1, "params": {
        "optimizer": "sgd_nesterov", "backoff": {"low": 1.5, "high": 100, "log": True}}}, "p")
    summary = sweep(tasks.blobs(), space, SweepSettings(budget=None, trials=3),
                    prior=LRPrior.of(config), storage=None)
    assert (summary.table["boundary"] == config.lr_find.max_finite_lr).all()
    assert summary.spent["boundaries"] == 0 and (summary.table["boundary_steps"] == 0).all()
    assert summary.table.loc[0, "lr"] == pytest.approx(config.optimizer.lr)  # its own first


def test_a_crash_mid_measurement_resumes_without_training_a_probe_twice(tmp_path,
                                                                       interrupt_probe):
    """A worker killed while measuring a boundary (here: interrupted inside its fourth probe)
    leaves the probes it finished in the study; the rerun reads them back."""
    from triage.lr_finder import trials as probe_trials

    storage = f"journal:///{tmp_path}/s.log"
    space = parse_space({"version": 1, "params": {
        "optimizer": "sgd", "momentum": 0.0, "backoff": {"low": 2, "high": 10}}}, "crash")
    calls = interrupt_probe(probe_trials, 4)
    settings = SweepSettings(budget=None, trials=2, pruner="none")
    with pytest.raises(KeyboardInterrupt):
        sweep(tasks.quadratic(10.0), space, settings, storage=storage, study_name="c")
    first = list(calls)
    summary = sweep(tasks.quadratic(10.0), space, settings, storage=storage, study_name="c")
    assert calls[len(first):len(first) + 1] == [first[-1]]  # the unfinished probe, then on
    assert len(set(calls)) == len(calls) - 1  # no finished probe ran twice
    probes = optuna.load_study(study_name="c:boundaries", storage=make_storage(storage))
    done = [t for t in probes.trials if "probe" in t.user_attrs]  # (not the interrupted one)
    assert len({t.user_attrs["settings"]["lr"] for t in done}) == len(done)
    assert summary.spent["boundaries"] == sum(t.user_attrs["probe"]["steps"] for t in done)
    assert summary.counts == {"complete": 2, "failed": 1}  # the interrupted one, retried
