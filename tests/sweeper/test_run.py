import math

import optuna
import pytest
import torch
import yaml
from optuna.trial import TrialState

from triage.errors import SettingsError, StorageError
from triage.probe import ProbeResult
from triage.probe.device import worker_device
from triage.storage import make_storage
from triage.storage.studies import join_study
from triage.sweeper import LRPrior, SweepSettings, objective, sweep
from triage.sweeper.objective import probe_settings, reseed
from triage.sweeper.space_file import load_space, parse_space
from triage.sweeper.summary import load_summary, trials_table

import tasks


def _space(start=None, **params):
    doc = {"version": 1, "params": {"lr": {"low": 1e-3, "high": 0.3, "log": True}, **params}}
    if start:
        doc["start"] = start
    return parse_space(doc, "test")


def _same(a, b):
    return a.table.drop(columns=["worker", "wall_time"]).equals(
        b.table.drop(columns=["worker", "wall_time"]))


def test_same_seed_same_sweep_and_a_feasible_best(blobs):
    settings = SweepSettings(budget=None, trials=6, seed=3)
    first = sweep(blobs, load_space("default"), settings, storage=None)
    second = sweep(tasks.blobs(), load_space("default"), settings, storage=None)
    assert _same(first, second)
    assert first.best is not None and first.best.task == "blobs"
    best = first.table.loc[first.table["outcome"] == "complete", "value"].min()
    assert first.best.sweep["val_loss"] == pytest.approx(best)
    assert first.best.schedule is not None and first.best.schedule.factor == 1.5
    assert first.best.schedule.after_epochs > first.best.schedule.every_epochs
    other = sweep(tasks.blobs(), load_space("default"),
                  SweepSettings(budget=None, trials=6, seed=4), storage=None)
    assert not _same(other, first)


def test_divergence_is_infeasible_with_a_finite_penalty_never_nan():
    summary = sweep(tasks.quadratic(10.0), _space(lr={"low": 0.1, "high": 1.0, "log": True}),
                    SweepSettings(budget=None, trials=3, sampler="random"), storage=None)
    assert set(summary.table["outcome"]) == {"infeasible"}
    assert summary.table["value"].map(math.isfinite).all()
    assert summary.table["reason"].str.startswith("diverged at step").all()
    assert summary.best is None


def test_infeasible_trials_are_constraint_violations_the_sampler_sees(tmp_path):
    storage = f"journal:///{tmp_path}/s.log"
    sweep(tasks.quadratic(10.0), _space(lr={"low": 1e-3, "high": 1.0, "log": True}),
          SweepSettings(budget=None, trials=8, sampler="random"), storage=storage, study_name="q")
    study = optuna.load_study(study_name="q", storage=make_storage(storage))
    for trial in study.trials:
        bad = "infeasible" in trial.user_attrs
        assert trial.constraints == {"feasible": 1.0 if bad else -1.0}
    assert study.best_trial.user_attrs.get("infeasible") is None  # Optuna skips infeasible


def test_out_of_memory_marks_larger_batches_infeasible_without_training(blobs, monkeypatch):
    trained = []

    def fake_probe(prepared, settings, callbacks=()):
        trained.append(settings.batch_size)
        return ProbeResult(settings=settings, steps=0, losses=[], oom=True,
                           divergence_reason="out of memory")

    monkeypatch.setattr(objective, "run_probe", fake_probe)
    space = _space(start={"batch_size": 32}, batch_size={"choices": [32, 64, 128]})
    summary = sweep(blobs, space, SweepSettings(budget=None, trials=6, sampler="tpe"), storage=None)
    assert trained == [32]  # only the first ran; every later batch size is >= 32
    reasons = summary.table["reason"].tolist()
    assert reasons[0] == "out of memory"
    assert all(r == "out of memory: trial 0 ran out at batch size 32" for r in reasons[1:])
    assert (summary.table["outcome"] == "infeasible").all()


def test_a_smaller_batch_is_still_tried_after_an_out_of_memory(blobs, monkeypatch):
    real = objective.run_probe
    trained = []

    def oom_above_32(prepared, settings, callbacks=()):
        trained.append(settings.batch_size)
        if settings.batch_size > 32:
            return ProbeResult(settings=settings, steps=0, losses=[], oom=True)
        return real(prepared, settings, callbacks)

    monkeypatch.setattr(objective, "run_probe", oom_above_32)
    space = _space(start={"batch_size": 64}, batch_size={"choices": [16, 32, 64]})
    summary = sweep(blobs, space, SweepSettings(budget=None, trials=8, sampler="random"),
                    storage=None)
    assert trained.count(64) == 1  # tried once (the start point), then known to be too big
    feasible = summary.table[summary.table["outcome"] == "complete"]
    assert len(feasible) and (feasible["batch_size"] <= 32).all()
    assert summary.best.batch_size <= 32


@pytest.mark.parametrize(("pruner", "pruned"), [("median", True), ("none", False)])
def test_pruning_stops_bad_trials_early(pruner, pruned):
    task = tasks.blobs()
    task.epochs = 6
    summary = sweep(task, _space(lr={"low": 1e-5, "high": 0.3, "log": True}),
                    SweepSettings(budget=None, trials=14, sampler="random", pruner=pruner),
                    storage=None)
    rows = summary.table[summary.table["outcome"] == "pruned"]
    assert bool(len(rows)) is pruned
    assert (rows["epochs"] < 6).all()
    full = summary.table[summary.table["outcome"] == "complete"]
    assert (full["epochs"] == 6).all()
    assert summary.steps == summary.table["steps"].sum()


def test_grid_runs_every_point_once_and_stops(blobs):
    space = _space(lr=0.05, batch_size={"choices": [16, 32]},
                   init={"choices": ["xavier", "he"]})
    summary = sweep(blobs, space, SweepSettings(budget=None, trials=10, sampler="grid"),
                    storage=None)
    assert len(summary.table) == 4
    assert set(zip(summary.table["batch_size"], summary.table["init"], strict=True)) == {
        (16, "xavier"), (16, "he"), (32, "xavier"), (32, "he")}


def test_a_trial_beyond_the_target_is_given_back(blobs, monkeypatch):
    """Two workers that both see room for the study's last trial each create one (their counts
    were read before either created it): the later trial is given back, not run."""
    from triage.sweeper import worker

    real, stale = worker.tally, []

    def raced(trials):  # the first look after the target is reached still sees room
        finished, waiting, running = real(trials)
        if finished == 2 and not stale:
            stale.append(True)
            return 1, waiting, running
        return finished, waiting, running

    monkeypatch.setattr(worker, "tally", raced)
    summary = sweep(blobs, _space(),
                    SweepSettings(budget=None, trials=2, sampler="random", pruner="none"),
                    storage=None)
    assert stale and summary.counts == {"complete": 2} and len(summary.table) == 2
    assert worker.surplus([], 0, 1) is False


def test_dropout_is_tuned_only_where_the_model_has_it(blobs):
    space = _space(dropout={"low": 0.0, "high": 0.5})
    plain = sweep(blobs, space, SweepSettings(budget=None, trials=2), storage=None)
    assert plain.table["dropout"].isna().all() and plain.best.dropout is None
    tuned = sweep(tasks.dropout_blobs(), space, SweepSettings(budget=None, trials=2), storage=None)
    assert tuned.table["dropout"].between(0, 0.5).all()
    assert tuned.best.dropout is not None


def test_a_training_error_fails_its_trial_and_the_sweep_goes_on(blobs, monkeypatch):
    real = objective.run_probe

    def breaks_at_16(prepared, settings, callbacks=()):
        if settings.batch_size == 16:
            from triage.errors import ProbeError
            raise ProbeError("training raised ValueError at lr=0.1: boom; check the model")
        return real(prepared, settings, callbacks)

    monkeypatch.setattr(objective, "run_probe", breaks_at_16)
    space = _space(batch_size={"choices": [16, 32]})
    summary = sweep(blobs, space, SweepSettings(budget=None, trials=6, sampler="random", seed=1),
                    storage=None)
    failed = summary.table[summary.table["outcome"] == "failed"]
    assert len(failed) and failed["reason"].str.contains("boom").all()
    assert len(summary.table) == 6 and summary.best.batch_size == 32


def test_an_interrupted_trial_is_queued_again_and_a_rerun_completes(tmp_path, interrupt_probe):
    storage = f"{tmp_path}/s.log"
    calls = interrupt_probe(objective, 3)
    settings = SweepSettings(budget=None, trials=5, sampler="random", pruner="none")
    space = _space(batch_size={"choices": [16, 32]})
    with pytest.raises(KeyboardInterrupt):
        sweep(tasks.blobs(), space, settings, storage=storage)
    study = optuna.load_study(study_name="triage-sweep-blobs-test",
                              storage=make_storage(storage))
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE] * 2 + [TrialState.FAIL, TrialState.WAITING]
    assert study.trials[3].params == study.trials[2].params
    summary = sweep(tasks.blobs(), space, settings, storage=storage)
    assert summary.counts == {"complete": 5, "failed": 1}
    assert calls[3].lr == calls[2].lr  # the rerun took the interrupted configuration first
    assert len(summary.table) == 6 and summary.table.iloc[3]["retry_of"] == 2


@pytest.mark.parametrize("pruner", ["none", "median"])  # finishes / reports after it is failed
def test_a_trial_failed_elsewhere_as_stale_is_reported_and_the_worker_goes_on(pruner,
                                                                              monkeypatch):
    real, calls, seen = objective.run_probe, [], []

    def stalls_on_the_second(prepared, settings, callbacks=()):
        calls.append(settings)
        if len(calls) == 2:  # meanwhile another worker found its heartbeat stale
            study = callbacks[0].trial.study
            running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))[0]
            study._storage.set_trial_state_values(running._trial_id, TrialState.FAIL)
            optuna.storages.RetryHeartbeatStaleTrialCallback()(study, running)
        return real(prepared, settings, callbacks)

    monkeypatch.setattr(objective, "run_probe", stalls_on_the_second)
    settings = SweepSettings(budget=None, trials=4, sampler="random", pruner=pruner)
    summary = sweep(tasks.blobs(), _space(), settings, storage=None, on_trial=seen.append)
    assert summary.counts == {"complete": 4, "failed": 1}
    assert [t.state for t in seen].count(TrialState.FAIL) == 1 and len(seen) == 5
    assert summary.table.iloc[2]["retry_of"] == 1
    assert calls[2].lr == calls[1].lr  # the retry ran the stalled trial's configuration


def test_an_objective_error_still_propagates(monkeypatch):
    def broken(prepared, settings, callbacks=()):
        raise RuntimeError("a bug in the objective")

    monkeypatch.setattr(objective, "run_probe", broken)
    with pytest.raises(RuntimeError, match="a bug in the objective"):
        sweep(tasks.blobs(), _space(), SweepSettings(budget=None, trials=2), storage=None)


def test_settings_are_validated_before_any_work():
    with pytest.raises(SettingsError, match="unknown sampler 'cmaes'"):
        SweepSettings(budget=None, trials=5, sampler="cmaes")
    with pytest.raises(SettingsError, match="trials must be a positive integer"):
        SweepSettings(budget=None, trials=0)
    with pytest.raises(SettingsError, match="timeout must be > 0"):
        SweepSettings(budget=None, trials=3, timeout=-1)
    with pytest.raises(SettingsError, match="max_retry must be a non-negative integer"):
        SweepSettings(budget=None, trials=3, max_retry=-1)
    with pytest.raises(SettingsError, match="unknown device"):
        SweepSettings(budget=None, trials=3, device="tpu")


def test_probe_settings_follow_the_documents():
    settings = probe_settings({"optimizer": "sgd_nesterov", "lr": 0.1, "schedule_every": 2,
                               "schedule_after": 5, "weight_decay": 0.0}, 0, "cpu")
    assert (settings.optimizer, settings.nesterov, settings.momentum) == ("sgd", True, 0.9)
    assert (settings.schedule.after_epochs, settings.schedule.every_epochs,
            settings.schedule.factor) == (5, 2, 1.5)
    rms = probe_settings({"optimizer": "rmsprop", "lr": 0.01}, 0, "cpu")
    assert (rms.momentum, rms.nesterov, rms.schedule) == (0.0, False, None)


def test_trial_randomness_depends_on_seed_and_trial_number_only():
    def draws(seed, number):
        sampler = optuna.samplers.TPESampler(seed=99)
        reseed(sampler, seed, number)
        return sampler._rng.rng.rand(), sampler._random_sampler._rng.rng.rand()

    assert draws(0, 5) == draws(0, 5)
    assert draws(0, 5) != draws(0, 6) and draws(0, 5) != draws(1, 5)


@pytest.mark.parametrize(("env", "count", "expected"), [
    ({}, 4, "cuda:0"),
    ({"SLURM_LOCALID": "5"}, 4, "cuda:1"),
    ({"SLURM_LOCALID": "1", "CUDA_VISIBLE_DEVICES": "3"}, 1, "cuda:0"),
    ({"SLURM_LOCALID": "1"}, 1, "cuda:0"),
])
def test_worker_device_follows_the_scheduler(monkeypatch, env, count, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    assert worker_device("auto", env) == expected
    assert worker_device("cuda:2", env) == "cuda:2"


def test_worker_device_without_cuda_is_the_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert worker_device("auto", {"SLURM_LOCALID": "2"}) == "cpu"


def _join(storage, identity, name="s"):
    return join_study(storage, name, identity, optuna.samplers.RandomSampler(),
                      optuna.pruners.NopPruner(), wait=0.5)


def test_joining_checks_that_the_study_is_this_sweep(tmp_path):
    storage = make_storage(f"{tmp_path}/j.log")
    identity = {"command": "sweep", "task": "blobs", "space": "default", "sampler": "tpe",
                "lr_center": None, "space_doc": {"version": 1}}
    _join(storage, identity)
    assert _join(storage, dict(identity)).user_attrs["triage"] == identity
    with pytest.raises(StorageError, match="created with task='blobs', not 'digits'"):
        _join(storage, {**identity, "task": "digits"})
    with pytest.raises(StorageError, match="different version of space 'default'"):
        _join(storage, {**identity, "space_doc": {"version": 1, "x": 1}})
    optuna.create_study(storage=storage, study_name="other").optimize(lambda t: 0.0, 1)
    with pytest.raises(StorageError, match="was not created by 'triage sweep'"):
        _join(storage, identity, "other")
    optuna.create_study(storage=storage, study_name="max", direction="maximize")
    with pytest.raises(StorageError, match="maximises"):
        _join(storage, identity, "max")


def test_report_rebuilds_the_summary_from_storage(tmp_path, blobs):
    storage = f"journal:///{tmp_path}/r.log"
    ran = sweep(blobs, load_space("default"), SweepSettings(budget=None, trials=3), storage=storage)
    again = load_summary(storage)
    assert again.best.to_dict() == ran.best.to_dict()
    assert again.table.drop(columns="wall_time").equals(ran.table.drop(columns="wall_time"))
    with pytest.raises(StorageError, match="no study 'nope'"):
        load_summary(storage, "nope")
    sweep(blobs, load_space("cnn"), SweepSettings(budget=None, trials=1), storage=storage)
    with pytest.raises(StorageError, match="holds 2 sweep studies"):
        load_summary(storage)


def test_edges_flag_a_best_value_at_the_end_of_its_range(tmp_path):
    from triage.sweeper.summary import edge_warnings

    space = _space(weight_decay={"low": 1e-6, "high": 1e-3, "log": True},
                   batch_size={"choices": [16, 32, 64]}, dropout={"low": 0.0, "high": 0.5})
    trial = optuna.trial.create_trial(
        value=1.0, params={"lr": 0.29, "weight_decay": 1e-5, "batch_size": 16, "dropout": 0.0},
        distributions={"lr": optuna.distributions.FloatDistribution(1e-3, 0.3, log=True),
                       "weight_decay": optuna.distributions.FloatDistribution(1e-6, 1e-3,
                                                                              log=True),
                       "batch_size": optuna.distributions.CategoricalDistribution([16, 32, 64]),
                       "dropout": optuna.distributions.FloatDistribution(0.0, 0.5)})
    warnings = edge_warnings(space, trial, None)
    assert len(warnings) == 2  # not weight decay (inside), not dropout 0 (a hard floor)
    assert warnings[0].startswith("lr = 0.29 sits at the upper edge of its range [0.001, 0.3]")
    assert warnings[1].startswith("batch_size = 16 is the smallest of the choices")


def test_best_config_round_trips_through_yaml(tmp_path, blobs):
    summary = sweep(blobs, load_space("default"), SweepSettings(budget=None, trials=2),
                    storage=None)
    path = tmp_path / "best.yaml"
    summary.best.save(path)
    doc = yaml.safe_load(path.read_text())
    assert doc["sweep"]["best_trial"] in (0, 1) and doc["schedule"]["type"] == "step"
    assert trials_table(optuna.create_study()).empty


def test_hyperband_and_timeout_are_honoured():
    task = tasks.blobs()
    task.epochs = 6
    summary = sweep(task, _space(lr={"low": 1e-5, "high": 0.3, "log": True}),
                    SweepSettings(budget=None, trials=10, sampler="random", pruner="hyperband"),
                    storage=None)
    assert len(summary.table) == 10 and summary.counts.get("pruned", 0) >= 1
    short = sweep(tasks.slow_blobs(), _space(),
                  SweepSettings(budget=None, trials=50, timeout=0.5),
                  storage=None)
    assert 1 <= len(short.table) < 50  # stops starting trials after the timeout


def test_a_prior_for_an_updater_the_space_does_not_run_is_refused(blobs):
    with pytest.raises(SettingsError, match="updater 'adamw', which space 'default' does not"):
        sweep(blobs, load_space("default"), SweepSettings(budget=None, trials=1),
              prior=LRPrior(0.01, "adamw"), storage=None)


def test_schedules_and_their_edge_warnings_follow_the_budget(blobs):
    summary = sweep(blobs, load_space("default"), SweepSettings(budget=None, trials=6, seed=1),
                    storage=None)  # blobs trains for 3 epochs: k can only be 2
    ran = summary.table.dropna(subset=["schedule_after"])
    assert len(ran) and (ran["schedule_after"] <= 2).all()
    assert not any(e.startswith(("schedule_after", "schedule_every")) for e in summary.edges)


def test_a_space_can_search_the_tasks_own_updater_and_any_torch_one():
    space = _space(optimizer={"choices": ["task", "NAdam"]}, batch_size=96,
                   lr={"low": 1e-3, "high": 1.0, "log": True},
                   start=[{"optimizer": "task", "lr": 0.8}, {"optimizer": "NAdam", "lr": 2e-3}])
    summary = sweep(tasks.lbfgs_regression(), space, SweepSettings(budget=None, trials=4, seed=2),
                    storage=None)
    assert set(summary.table["optimizer"]) == {"task", "NAdam"}
    assert len(summary.table) == 4 and summary.best is not None
    assert summary.best.optimizer.name in ("task", "NAdam")
    assert space.updaters() == ("task", "NAdam")


def test_a_trial_about_to_be_given_back_is_not_in_the_summary(blobs, tmp_path):
    from triage.sweeper.summary import summarize

    storage = f"journal:///{tmp_path}/s.log"
    done = sweep(blobs, _space(), SweepSettings(budget=None, trials=2), storage=storage,
                 study_name="s")
    study = optuna.load_study(study_name="s", storage=make_storage(storage))
    study.ask()  # a third trial, running: a worker with target 2 is about to give it back
    assert summarize(study).counts.get("running") == 1  # what `triage report` shows
    assert summarize(study, target=2).counts == done.counts  # every finishing worker: the same
