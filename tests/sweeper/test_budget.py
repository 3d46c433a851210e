import math

import optuna
import pytest
from optuna.trial import TrialState, create_trial

from triage.errors import SettingsError
from triage.sweeper import SweepSettings, load_space, objective, sweep
from triage.sweeper.budget import Budget, check_budget, in_flight, spent

import tasks


@pytest.mark.parametrize("bad", [0, -1, 0.5, math.nan, math.inf, True, "abc", None])
def test_a_budget_is_at_least_one_training(bad):
    with pytest.raises(SettingsError, match="budget must be a number of full trainings >= 1"):
        check_budget(bad)


def test_the_budget_in_steps_and_its_final_share():
    budget = Budget(20, 450, before=900)
    assert (budget.total, budget.final_runs, budget.search_limit) == (9000, 7, 9000 - 7 * 450)
    assert Budget(3, 100).final_runs == 1 and Budget(100, 10).final_runs == 7
    budget.check()
    with pytest.raises(SettingsError, match=r"lr-find spent 900 steps \(2.0 trainings\) of it, "
                                            r"and .* need at least 2 more; use --budget 4"):
        Budget(3, 450, before=900).check()
    with pytest.raises(SettingsError, match="use --budget 2 or more"):
        Budget(1.5, 450).check()


def _trial(steps, stage=None):
    attrs = {"result": {"steps": steps}} | ({"stage": stage} if stage else {})
    return create_trial(value=1.0, user_attrs=attrs)


def test_spent_counts_every_part_and_running_trials_are_estimated():
    trials = [_trial(100), _trial(300), _trial(450, "final")]
    used = spent(trials, boundary_steps=70, before=900)
    assert used.as_dict() == {"lr_find": 900, "boundaries": 70, "search": 400, "final": 450,
                              "total": 1820}
    running = create_trial(state=TrialState.RUNNING)
    assert in_flight(trials) == 200  # the next trial, as the search's trials took on average
    assert in_flight([*trials, running, running]) == 600
    assert in_flight([]) == 0


def test_a_sweep_spends_its_budget_and_says_on_what():
    training = tasks.blobs().prepare(0).budget_steps(32)  # 9 steps
    small = sweep(tasks.blobs(), load_space("default"), SweepSettings(budget=40, seed=1),
                  storage=None)
    parts = small.spent
    assert parts["total"] == sum(v for k, v in parts.items() if k != "total")
    assert parts["boundaries"] > 0 and parts["search"] > 0 and parts["final"] > 0
    # a trial starts only while the search's share is left: the last one may run past it
    assert parts["total"] <= 40 * training + 2 * training
    assert small.budget == {"trainings": 40, "training_steps": training,
                            "spent_trainings": round(parts["total"] / training, 2)}
    large = sweep(tasks.blobs(), load_space("default"), SweepSettings(budget=120, seed=1),
                  storage=None)
    search = lambda s: (s.table["stage"] == "search").sum()  # noqa: E731
    assert search(large) > search(small)  # trials are an outcome of the budget
    capped = sweep(tasks.blobs(), load_space("default"),
                   SweepSettings(budget=120, trials=3, seed=1), storage=None)
    assert search(capped) == 3 and capped.spent["total"] < large.spent["total"]


def test_without_a_budget_there_is_no_final_stage_and_the_schedule_is_searched():
    summary = sweep(tasks.blobs(), load_space("default"),
                    SweepSettings(budget=None, trials=4, seed=2), storage=None)
    assert set(summary.table["stage"]) == {"search"} and summary.budget is None
    assert summary.table["schedule_after"].notna().any()
    assert summary.rule == "the best trial of the search (the budget left no final-stage run " \
                           "to confirm it)"


def test_the_final_stage_is_queued_once_and_runs_at_the_full_budget(tmp_path):
    storage = f"journal:///{tmp_path}/s.log"
    summary = sweep(tasks.blobs(), load_space("default"), SweepSettings(budget=60, seed=0),
                    storage=storage)
    finals = summary.table[summary.table["stage"].str.startswith("final")]
    assert len(finals) and (finals["epochs"] == 3).all() and finals["seed"].is_unique
    again = sweep(tasks.blobs(), load_space("default"), SweepSettings(budget=60, seed=0),
                  storage=storage)  # nothing left to do: the study is read back
    assert again.table.drop(columns="wall_time").equals(
        summary.table.drop(columns="wall_time"))
    assert again.best.to_dict() == summary.best.to_dict()


def _recommendation(summary):
    doc = summary.best.to_dict()
    return {k: doc[k] for k in ("optimizer", "batch_size", "init", "schedule", "dropout")}, {
        k: doc["sweep"][k] for k in ("score", "val_loss", "best_trial", "rule")}


def test_a_resumed_sweep_recommends_what_an_uninterrupted_one_does(tmp_path, interrupt_probe):
    settings = SweepSettings(budget=60, seed=3)
    whole = sweep(tasks.blobs(), load_space("default"), settings,
                  storage=f"journal:///{tmp_path}/whole.log")
    calls = interrupt_probe(objective, 4)
    storage = f"journal:///{tmp_path}/resumed.log"
    with pytest.raises(KeyboardInterrupt):
        sweep(tasks.blobs(), load_space("default"), settings, storage=storage)
    resumed = sweep(tasks.blobs(), load_space("default"), settings, storage=storage)
    assert calls[4] == calls[3]  # the interrupted trial first, on its own seed
    config, evidence = _recommendation(resumed)
    assert (config, {**evidence, "best_trial": None}) == (
        _recommendation(whole)[0], {**_recommendation(whole)[1], "best_trial": None})
    assert resumed.spent == whole.spent  # the interrupted run's steps are not counted


def test_the_first_design_runs_unpruned_and_lr_finds_ladder_comes_first(tmp_path):
    from triage.lr_finder import LRFindSettings, lr_find
    from triage.storage import make_storage
    from triage.sweeper import LRPrior

    task = tasks.blobs()
    task.epochs = 9
    prior = LRPrior.of(lr_find(task, LRFindSettings(device="cpu", max_steps=600)))
    storage = f"journal:///{tmp_path}/s.log"
    summary = sweep(task, load_space("default"), SweepSettings(budget=40, seed=0),
                    prior=prior, storage=storage)
    trials = optuna.load_study(study_name=summary.study, storage=make_storage(storage)).trials
    ladder = trials[:3]  # lr-find's configuration at 1x, 10x and 100x its back-off
    assert [t.params["backoff"] / ladder[0].params["backoff"] for t in ladder] == pytest.approx(
        [1, 10, 100])
    assert ladder[0].params["backoff"] == pytest.approx(prior.backoff)
    starts = [t for t in trials if t.user_attrs.get("origin") == "start"]
    assert all(t.state == TrialState.COMPLETE and max(t.intermediate_values) == 9
               for t in starts)  # unpruned, to the full budget
    won = min(ladder, key=lambda t: t.value).params["backoff"]
    adam = [t for t in starts if t.params["optimizer"] == "adam"]
    assert len(starts) == 4 and adam[0].params["backoff"] == pytest.approx(won)  # followed
    assert any(t.state == TrialState.PRUNED for t in trials)  # the rest: as Hyperband decides
