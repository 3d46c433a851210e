import optuna
import pytest
import yaml

from triage.sweeper.space import LRPrior, SpaceError
from triage.sweeper.space_file import load_space, parse_space

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.mark.parametrize("name", ["default", "cnn", "rnn"])
def test_bundled_spaces_load_and_sample(name):
    space = load_space(name)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    for _ in range(25):
        trial = study.ask()
        values = space.suggest(trial)
        assert values["schedule_after"] > values["schedule_every"] >= 1
        assert values["batch_size"] in (16, 32, 64, 128)
        assert values["weight_decay"] == 0.0 or 1e-6 <= values["weight_decay"] <= 1e-3
        assert values["lr"] is None and 1.5 <= values["backoff"] <= 1000  # below the boundary
        study.tell(trial, values["backoff"])


def test_documents_ranges_in_the_default_space():
    space = load_space("default")
    assert set(space.params["optimizer"].distribution.choices) == {
        "sgd_nesterov", "rmsprop", "adagrad", "adam"}
    assert set(space.params["init"].distribution.choices) == {"default", "xavier", "he",
                                                              "lecun"}
    assert space.relative and space.lr_bounds() == (0.0, float("inf"))
    assert space.start[0] == {"optimizer": "sgd_nesterov", "batch_size": 32,  # the default,
                              "backoff": 10.0}                            # 10x below
    assert [p["optimizer"] for p in space.start] == ["sgd_nesterov", "adam"]
    assert all(p["batch_size"] == 32 for p in space.start)  # the documents' starting size
    assert "grad_clip_norm" in load_space("rnn").params


def test_a_backoff_space_starts_from_lr_finds_configuration():
    space = load_space("default")
    prior = LRPrior(0.02, "sgd_nesterov", boundary=0.5, batch_size=64, init="he")
    assert prior.backoff == 25.0
    assert space.start_points(prior)[0] == {"optimizer": "sgd_nesterov", "batch_size": 64,
                                            "init": "he", "backoff": 25.0}
    ladder = [p["backoff"] for p in space.start_points(prior)[:3]]
    assert ladder == [25.0, 250.0, 1000.0]  # 10x and 100x further, inside the range
    assert space.prior_values(prior) == {**space.start_points(prior)[0],
                                         "weight_decay_on": False}
    odd = LRPrior(0.02, "adamw", boundary=10.0, batch_size=48, init="default")
    assert space.start_points(odd)[0] == {"init": "default", "backoff": 500.0}  # what it holds
    assert space.start_points(LRPrior(0.02, "adam"))[0]["optimizer"] == "sgd_nesterov"
    assert space.grid(has_dropout=False, schedule=False)[0].keys() == {
        "optimizer", "backoff", "batch_size", "init", "weight_decay_on"}


@pytest.mark.parametrize(("params", "message"), [
    ({"backoff": {"low": 0.5, "high": 10, "log": True}}, "must be >= 1 (no trial above"),
    ({"backoff": 10, "lr": 0.1}, "lr is fixed at 0.1, which leaves backoff nothing"),
    ({"backoff": 10, "lr": {"low": 1e-4, "high": 1, "log": True, "around_lr_find": 3}},
     "lr.around_lr_find does not apply when params.backoff sets the LR"),
])
def test_invalid_backoffs_name_the_key(params, message):
    with pytest.raises(SpaceError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_space({"version": 1, "params": params})
    with pytest.raises(SpaceError, match="give backoff, not lr"):
        parse_space({"version": 1, "params": {"backoff": {"low": 2, "high": 20}, "lr": {
            "low": 1e-4, "high": 1.0}}, "start": {"lr": 0.01}})


def test_lr_is_centred_on_an_lr_find_result_for_its_updater_only():
    space = parse_space(_absolute())
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    prior = LRPrior(0.02, "sgd_nesterov")
    draws = [space.suggest(study.ask(), prior) for _ in range(400)]
    sgd = [d["lr"] for d in draws if d["optimizer"] == "sgd_nesterov"]
    other = [d["lr"] for d in draws if d["optimizer"] != "sgd_nesterov"]
    assert 0.002 <= min(sgd) < 0.004 and 0.1 < max(sgd) <= 0.2
    assert min(other) < 2e-4 and max(other) > 0.05  # adaptive updaters keep their own ranges
    assert {n for t in study.trials for n in t.params if n.startswith("lr")} == {
        "lr_sgd_nesterov", "lr_adam", "lr_rmsprop", "lr_adagrad"}
    anywhere = [space.suggest(study.ask(), LRPrior(0.02))["lr"] for _ in range(100)]
    assert min(anywhere) >= 0.002 and max(anywhere) <= 0.2  # a prior without updater: all


def test_fixed_values_and_k_greater_than_n_when_ranges_overlap():
    space = parse_space({"version": 1, "params": {
        "lr": 0.1, "schedule_every": {"low": 1, "high": 6}, "schedule_after": {"low": 2,
                                                                                "high": 4}}})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(50):
        values = space.suggest(study.ask())
        assert values["lr"] == 0.1
        assert 1 <= values["schedule_every"] < values["schedule_after"] <= 4


def test_grid_enumerates_choices_levels_and_valid_schedules():
    space = parse_space({"version": 1, "params": {
        "lr": {"low": 1e-4, "high": 1e-2, "log": True, "around_lr_find": 10},
        "batch_size": {"choices": [16, 32]},
        "weight_decay": {"low": 1e-6, "high": 1e-4, "log": True, "or_zero": True},
        "dropout": {"low": 0.0, "high": 0.5},
        "schedule_every": {"low": 1, "high": 3}, "schedule_after": {"low": 2, "high": 4}}})
    grid = space.grid()
    assert sorted({p["lr"] for p in grid}) == pytest.approx([1e-4, 1e-3, 1e-2])
    assert {p.get("weight_decay") for p in grid} == {None, 1e-6, 1e-5, 1e-4}
    assert all(p["weight_decay_on"] == ("weight_decay" in p) for p in grid)
    assert {p["dropout"] for p in grid} == {0.0, 0.25, 0.5}
    # n=3 leaves k one value (4): the trial then does not sample it, so it is not a parameter
    schedules = {(p["schedule_every"], p.get("schedule_after", 4)) for p in grid}
    assert schedules == {(1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4)}  # always k > n
    assert len(grid) == 3 * 2 * 4 * 3 * 6
    assert len({tuple(sorted(p.items())) for p in grid}) == len(grid)  # no duplicates
    centred = space.grid(LRPrior(0.05), has_dropout=False)
    assert sorted({p["lr"] for p in centred}) == pytest.approx([0.005, 0.05, 0.5])
    assert all("dropout" not in p for p in centred)


@pytest.mark.parametrize("relative", [False, True])
def test_grid_points_replay_through_suggest(relative):
    if relative:  # the bundled space: back-offs are an axis of their own, the LR is not one
        space = load_space("default")
        grid = space.grid(has_dropout=False)
        assert sorted({p["backoff"] for p in grid}) == pytest.approx([1.5, 38.73, 1000],
                                                                   rel=1e-3)
        assert not any(name.startswith("lr") for p in grid for name in p)
        study = optuna.create_study()
        study.enqueue_trial(grid[5])
        values = space.suggest(study.ask(), has_dropout=False)
        assert all(values[k] == v for k, v in grid[5].items() if not k.endswith("_on"))
        return
    space = parse_space(_absolute())
    prior = LRPrior(0.01, "adam")
    grid = space.grid(prior)
    adam = {p["lr_adam"] for p in grid if p["optimizer"] == "adam"}
    assert sorted(adam) == pytest.approx([0.001, 0.01, 0.1])
    assert len({p["lr_rmsprop"] for p in grid if p["optimizer"] == "rmsprop"}) == 3
    for point in grid[::997]:
        study = optuna.create_study()
        study.enqueue_trial(point)
        values = space.suggest(study.ask(), prior)
        for name, value in point.items():
            if not name.endswith("_on"):
                assert values["lr" if name.startswith("lr_") else name] == value


def test_a_grid_too_large_is_refused():
    space = parse_space(_space(lr={"low": 1e-5, "high": 1.0, "log": True},
                               momentum={"low": 0.0, "high": 0.99},
                               dropout={"low": 0.0, "high": 0.5}))
    with pytest.raises(SpaceError, match="grid has 125000 points"):
        space.grid(levels=50)


def test_start_params_map_onto_trial_parameters():
    space = parse_space({"version": 1, "params": {
        "lr": {"low": 1e-4, "high": 1.0, "log": True, "around_lr_find": 10},
        "optimizer": {"choices": ["adam", "sgd_nesterov"]},
        "weight_decay": {"low": 1e-6, "high": 1e-3, "log": True, "or_zero": True}},
        "start": {"optimizer": "adam", "weight_decay": 0}})
    assert space.start_points() == [{"optimizer": "adam", "weight_decay_on": False}]
    assert space.start_points(LRPrior(0.03, "adam"))[0]["lr_adam"] == 0.03
    with_sgd = space.start_points(LRPrior(0.03, "sgd_nesterov"))  # its updater comes first
    assert with_sgd[0] == {"optimizer": "sgd_nesterov", "lr_sgd_nesterov": 0.03}
    assert "lr_adam" not in with_sgd[1]
    several = parse_space({"version": 1, "params": {
        "lr": {"low": 1e-4, "high": 1.0, "log": True, "by_updater": {
            "adam": {"low": 1e-4, "high": 1e-2}}},
        "optimizer": {"choices": ["adam", "sgd_nesterov"]}},
        "start": [{"optimizer": "adam", "lr": 1e-3}, {"optimizer": "sgd_nesterov"}]})
    assert several.start_points() == [{"optimizer": "adam", "lr_adam": 1e-3},
                                      {"optimizer": "sgd_nesterov"}]
    with pytest.raises(SpaceError, match=r"start\[0\]\.lr: 0.5 lies outside"):
        parse_space({**several.raw, "start": [{"optimizer": "adam", "lr": 0.5}, {}]})


def _space(**params):
    return {"version": 1, "params": {"lr": 0.1, **params}}


@pytest.mark.parametrize(("doc", "message"), [
    ({"params": {"lr": 0.1}}, "version must be 1"),
    ({"version": 1}, "params must be a non-empty mapping"),
    ({"version": 1, "params": {"lr": 0.1}, "sampler": "tpe"}, "unknown key 'sampler'"),
    (_space(learning_rate={"low": 1, "high": 2}), "params.learning_rate: unknown hyperparameter"),
    (_space(lr={"low": 0.1, "high": 0.01}), "params.lr: low must be < high, got low=0.1"),
    (_space(lr={"low": 0.0, "high": 1.0, "log": True}), "params.lr: a log range must stay above"),
    (_space(weight_decay={"low": 0, "high": 1e-3, "log": True}), "use or_zero: true"),
    (_space(lr={"low": 1e-4}), "needs low and high"),
    (_space(lr={"low": 1e-4, "high": 1, "scale": 2}), "unknown key 'scale'"),
    (_space(lr={"low": "a", "high": 1}), "low must be a number, got 'a'"),
    (_space(lr={"low": 1e-4, "high": 1, "around_lr_find": 1}), "around_lr_find must be a factor"),
    (_space(optimizer={"choices": []}), "choices must be a non-empty list"),
    (_space(optimizer={"choices": ["sgd", "lion"]}), "unknown updater 'lion'; use sgd"),
    (_space(optimizer={"choices": ["sgd", "lbfgs"]}), "write updater 'lbfgs' as 'LBFGS'"),
    (_space(lr={"low": 1e-3, "high": 1.0, "log": True, "by_updater": {"lamb": {
        "low": 1e-3, "high": 1.0}}}), "by_updater.lamb: unknown updater 'lamb'"),
    (_space(optimizer={"low": 1, "high": 2}), "give choices"),
    (_space(init="orthogonal"), "unknown value 'orthogonal'"),
    (_space(batch_size={"choices": [32, 0]}), "must be a positive integer"),
    (_space(batch_size={"low": 16.5, "high": 64}), "16.5 must be a positive integer"),
    (_space(dropout={"low": 0.0, "high": 1.0}), "dropout must be in [0, 1)"),
    (_space(schedule_every={"low": 1, "high": 3}), "needs params.schedule_after too"),
    (_space(schedule_every={"low": 3, "high": 4}, schedule_after={"low": 2, "high": 3}),
     "must allow k > n"),
    (_space(schedule_every={"choices": [1, 2]}, schedule_after=4), "not choices"),
    ({"version": 1, "params": {"batch_size": {"choices": [16, 32]}}}, "params.lr is missing"),
    ({"version": 1, "params": {"lr": 0.1, "batch_size": {"choices": [16, 32]}},
      "start": {"batch_size": 48}},
     "start.batch_size: 48 lies outside"),
    ({"version": 1, "params": {"lr": 0.1}, "start": {"lr": 0.1}}, "not a searched"),
])
def test_invalid_spaces_name_file_key_and_value(tmp_path, doc, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(SpaceError) as info:
        load_space(path)
    text = str(info.value)
    assert message in text and str(path) in text and "\n" not in text


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(SpaceError, match=r"not found; .* bundled spaces \(cnn, default, rnn\)"):
        load_space("nonexistent")
    (tmp_path / "x.yaml").write_text("params: [1,")
    with pytest.raises(SpaceError, match="not valid YAML"):
        load_space(tmp_path / "x.yaml")


@pytest.mark.parametrize("epochs", [3, 5, 12])
def test_the_schedule_stays_inside_the_budget(epochs):
    space = load_space("default")  # k in [2, 8], n in [1, 4]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        values = space.suggest(study.ask(), epochs=epochs)
        assert 1 <= values["schedule_every"] < values["schedule_after"] <= min(8, epochs - 1)
    grid = space.grid(has_dropout=False, epochs=epochs)
    assert all(p.get("schedule_after", 2) <= epochs - 1 for p in grid)


def test_no_room_for_a_schedule_means_a_constant_lr():
    space = load_space("default")
    study = optuna.create_study()
    values = space.suggest(study.ask(), epochs=2)  # k > n >= 1 needs k >= 2, below 2 epochs
    assert values["schedule_every"] is None and values["schedule_after"] is None
    assert space.schedule_bounds(2) is None and space.schedule_bounds(3) == (1, 1, 2, 2)
    assert space.updaters() == ("sgd_nesterov", "rmsprop", "adagrad", "adam")
    unscheduled = space.suggest(study.ask(), epochs=10, schedule=False)  # the final stage's
    assert unscheduled["schedule_every"] is None and "schedule_every" not in study.trials[-1].params


def _absolute():
    """The default space as it was before the LR became a back-off: its LR sampled per
    updater around each one's customary value."""
    doc = load_space("default").raw
    params = {k: v for k, v in doc["params"].items() if k != "backoff"}
    params["lr"] = {"low": 1e-5, "high": 1.0, "log": True, "around_lr_find": 10, "by_updater": {
        "adam": {"low": 1e-4, "high": 1e-2}, "rmsprop": {"low": 1e-4, "high": 1e-2},
        "adagrad": {"low": 1e-3, "high": 1e-1}}}
    return {"version": 1, "params": params}
