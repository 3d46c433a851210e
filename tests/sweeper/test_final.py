import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from triage.probe import ProbeSettings
from triage.sweeper import final, load_space

SETTINGS = ProbeSettings(lr=0.1, batch_size=32, device="cpu")
SPACE = load_space("default")


def _search(value, lr, seed, number, state=TrialState.COMPLETE, **attrs):
    trial = create_trial(value=value if state == TrialState.COMPLETE else None, state=state,
                         params={"backoff": 10.0},
                         distributions={"backoff": FloatDistribution(1.5, 1000, log=True)},
                         user_attrs={"settings": SETTINGS.with_(lr=lr, seed=seed).to_dict(),
                                     **attrs})
    trial.number = number
    return trial


def _final(run, value, number):
    trial = create_trial(value=value, user_attrs={"stage": "final", "variant": run.variant,
                                                  "of": run.of, "settings": run.settings},
                         system_attrs={"fixed_params": {"final": run.key}})
    trial.number = number
    return trial


def _study():
    return [_search(0.50, 0.10, 0, 0), _search(0.30, 0.05, 1, 1), _search(0.40, 0.02, 2, 2),
            _search(0.35, 0.01, 3, 3), _search(0.9, 0.3, 4, 4, infeasible="diverged")]


def test_the_plan_confirms_the_two_best_then_judges_the_schedule():
    runs = final.plan(_study(), SPACE, epochs=10, seed=0, steps_left=10**6, cost=lambda s: 1)
    assert [(r.variant, r.of) for r in runs] == [
        ("confirm", 1), ("confirm", 3), ("confirm", 1), ("confirm", 3),
        ("schedule", 1), ("schedule", 1), ("schedule", 1),
        ("confirm", 2), ("confirm", 2), ("confirm", 0), ("confirm", 0)]  # steps still left
    assert len({r.key for r in runs}) == len(runs)  # each run queued once
    schedule = next(r for r in runs if r.variant == "schedule").settings["schedule"]
    assert (schedule["after_epochs"], schedule["every_epochs"], schedule["factor"]) == (5, 1, 1.5)
    seeds = {r.settings["seed"] for r in runs if r.of == 1}
    assert 1 in seeds and len(seeds) == 3  # the parent's seed and two more, shared with it
    assert all(r.settings["seed"] != 1 for r in runs if r.variant == "confirm")


@pytest.mark.parametrize(("steps", "count", "schedule"), [
    (2, 2, False), (4, 4, False), (6, 6, False), (7, 7, True), (11, 11, True),
    (20, 11, True), (0, 0, False)])
def test_the_plan_spends_the_steps_left_and_judges_a_schedule_on_every_seed_or_not(
        steps, count, schedule):
    runs = final.plan(_study(), SPACE, 10, 0, steps_left=steps, cost=lambda s: 1)
    assert len(runs) == count  # after the two finalists: the next ones, while steps last
    assert sum(r.variant == "schedule" for r in runs) == (3 if schedule else 0)
    assert len({r.key for r in runs}) == len(runs)


def test_no_feasible_trial_no_plan_and_no_schedule_without_room():
    assert final.plan(_study()[-1:], SPACE, 10, 0, 100, lambda s: 1) == []
    runs = final.plan(_study(), SPACE, epochs=2, seed=0, steps_left=100, cost=lambda s: 1)
    assert {r.variant for r in runs} == {"confirm"}  # 2 epochs: no k > n >= 1 fits


def test_the_mean_over_seeds_decides_and_a_schedule_must_win_on_all_of_them():
    trials = _study()
    runs = final.plan(trials, SPACE, 10, 0, 7, lambda s: 1)
    values = [0.50, 0.33, 0.45, 0.45, 0.2, 0.2, 0.2]  # in the plan's order
    done = [*trials, *(_final(run, v, 10 + i)
                       for i, (run, v) in enumerate(zip(runs, values, strict=True)))]
    verdict = final.choose(done)
    assert verdict.trial.user_attrs["variant"] == "schedule"  # (0.2, 0.2, 0.2) beats all
    assert verdict.score == pytest.approx(0.2) and "step schedule" in verdict.rule
    without = [t for t in done if t.user_attrs.get("variant") != "schedule"]
    verdict = final.choose(without)  # trial 1: (0.30, 0.50, 0.45); 3: (0.35, 0.33, 0.45)
    assert verdict.trial.number == 3 and verdict.score == pytest.approx((0.35 + 0.33 + 0.45) / 3)
    assert "over 3 seeds" in verdict.rule and "second in the search" in verdict.rule
    one = [t for t in done if t.user_attrs.get("variant") == "schedule"][:2] + trials
    assert final.choose(one).trial.number == 1  # a schedule on two of three seeds: not judged


def test_a_final_run_queued_by_two_workers_is_run_once():
    run = final.plan(_study(), SPACE, 10, 0, 10, lambda s: 1)[0]
    twice = [*_study(), _final(run, 0.3, 7), _final(run, 0.3, 8)]
    assert not final.queued_twice(twice, 7) and final.queued_twice(twice, 8)
    study = optuna.create_study()
    final.enqueue(study, [run, run])
    assert len(study.trials) == 1
