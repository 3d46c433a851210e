"""Tables as tasks: reading, the target's kind, preprocessing fitted on training rows, errors,
and every command on a table."""

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from triage import ProbeSettings, run_probes
from triage.errors import TaskError
from triage.tables import from_table, infer_kind, mlp_width
from triage.tables.prep import RARE_LEVEL, Preprocessing

ADULT = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
         "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
         "hours_per_week", "native_country", "income"]


def _frame(rows=240, seed=0):
    """A classification table with the usual mess: text target, categories, missing values,
    an ID column, a constant column."""
    rng = np.random.default_rng(seed)
    size = rng.normal(size=rows) * 10 + 50
    colour = rng.choice(["red", "green", "blue"], size=rows)
    label = np.where(size + np.where(colour == "red", 8, 0) > 52, "big", "small")
    size[rng.choice(rows, 12, replace=False)] = np.nan
    return pd.DataFrame({"id": np.arange(rows), "size": size, "colour": colour,
                         "rare": ["x"] * (rows - 3) + ["y", "z", "w"], "constant": 1,
                         "label": label})


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "shapes.csv"
    _frame().to_csv(path, index=False)
    return path


def test_a_table_becomes_a_task_and_says_what_it_decided(table):
    task = from_table(table, "label")
    assert task.loss == "bce_with_logits" and task.name == "shapes"
    data = task.data
    assert data["kind"] == "classification" and data["classes"] == ["big", "small"]
    assert data["preprocessing"]["dropped"] == {"id": "a distinct value in every row (an ID)",
                                                "constant": "constant"}
    notes = "\n".join(task.notes)
    assert "missing values imputed" in notes and "one-hot encoded colour: 3 level(s)" in notes
    assert "two hidden layers" in notes and "stratified" in notes
    prep = Preprocessing.from_dict(data["preprocessing"])
    assert prep.names == ["size", "size__missing", "colour=blue", "colour=green", "colour=red",
                          "rare=x", f"rare={RARE_LEVEL}"]
    X, _ = task.train
    assert X.shape[1] == len(prep.names) == data["network"]["inputs"]
    assert abs(X[:, 0].mean()) < 1e-5 and abs(X[:, 0].std() - 1) < 0.05  # fitted on train rows


def test_the_hold_out_is_seeded_and_stratified(table):
    a, b, c = from_table(table, "label"), from_table(table, "label"), from_table(table, "label",
                                                                                 seed=1)
    assert np.array_equal(a.val[0], b.val[0]) and not np.array_equal(a.val[0], c.val[0])
    train_share, val_share = a.train[1].mean(), a.val[1].mean()
    assert abs(train_share - val_share) < 0.03


@pytest.mark.parametrize(("values", "kind"), [
    (["a", "b"], "classification"), ([0, 1, 2, 1], "classification"), ([True, False],
                                                                       "classification"),
    ([0.5, 1.25, 3.0], "regression"), (list(range(100)), "regression"),
])
def test_the_kind_follows_the_target(values, kind):
    assert infer_kind(pd.Series(values)) == kind


def test_regression_standardises_the_target_and_trains(tmp_path):
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    frame["y"] = 1000 + 300 * frame["a"] - 100 * frame["b"]
    frame.to_parquet(tmp_path / "r.parquet")
    task = from_table(tmp_path / "r.parquet", "y")
    assert task.loss == "mse" and task.data["scaling"]["std"] > 100
    assert abs(float(task.train[1].mean())) < 1e-4
    untrained, trained = run_probes(task, [ProbeSettings(lr=1e-9, steps=1, device="cpu"),
                                           ProbeSettings(lr=0.01, steps=300, device="cpu")])
    assert trained.val_loss < 0.1 * untrained.val_loss


def test_no_preprocess_hands_the_raw_numeric_columns_over(table):
    task = from_table(table, "label", preprocess=False)
    assert task.data["preprocessing"] is None and task.train[0].shape[1] == 3  # id, size, const
    assert "non-numeric column(s) left out: colour, rare" in "\n".join(task.notes)


def test_mlp_width_follows_the_stated_rule():
    assert (mlp_width(3, 1), mlp_width(30, 1), mlp_width(90, 10), mlp_width(2000, 5)) == (
        16, 21, 70, 256)


@pytest.mark.parametrize(("make", "target", "message"), [
    (lambda p: None, "label", "does not exist"),
    (lambda p: p.write_bytes(b"\x00\x01garbage"), "label", "cannot read table"),
    (lambda p: _frame().to_csv(p, index=False), None, "a table needs --target"),
    (lambda p: _frame().to_csv(p, index=False), "nope", "'nope' is not a column"),
    (lambda p: _frame().assign(label="one").to_csv(p, index=False), "label", "has one class"),
    (lambda p: _frame().assign(label=None).to_csv(p, index=False), "label",
     "'label' has no values in .* all empty"),  # was an IndexError traceback
    (lambda p: _frame()[["id", "constant", "label"]].to_csv(p, index=False), "label",
     "no usable feature column"),
])
def test_bad_tables_are_one_line(tmp_path, make, target, message):
    path = tmp_path / ("t.parquet" if "cannot read" in message else "t.csv")
    make(path)
    with pytest.raises(TaskError, match=message) as info:
        from_table(path, target)
    assert "\n" not in str(info.value)


def test_every_command_runs_on_a_table(run, tmp_path, table):
    out = run("lr-find", str(table), "--target", "label", "--device", "cpu", "--max-steps",
              "600", "--no-plot")
    assert out.exit_code == 0, out.output
    assert "note: classification of label from 7 input(s)" in out.stderr
    config = yaml.safe_load((tmp_path / "triage.yaml").read_text())
    assert config["data"]["target"] == "label" and config["data"]["network"]["inputs"] == 7
    out = run("doctor", str(table), "--target", "label", "--device", "cpu", "--json")
    assert out.exit_code in (0, 1), out.output
    assert json.loads(out.stdout)["findings"] is not None
    out = run("sweep", str(table), "--target", "label", "--trials", "4", "--storage",
              ":memory:", "--device", "cpu", "--no-plot", "--from", "triage.yaml")
    assert out.exit_code == 0, out.output
    swept = yaml.safe_load((tmp_path / "triage-sweep.yaml").read_text())
    assert swept["data"] == config["data"]  # the preprocessing travels with every config


@pytest.mark.parametrize(("args", "message"), [
    (["{table}"], "a table needs --target: the column to predict (one of id, size"),
    (["{table}", "--target", "colour2"], "'colour2' is not a column"),
    (["{table}", "--target", "label", "--kind", "ordinal"], "Invalid value for '--kind'"),
    (["missing.csv", "--target", "label"], "does not exist"),
    (["--target", "label"], "apply to a table TASK"),
])
def test_bad_table_input_is_one_line_exit_2_and_writes_nothing(run, tmp_path, table, args,
                                                               message):
    out = run("lr-find", *[a.format(table=table) for a in args])
    assert out.exit_code == 2
    assert message in out.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "triage.yaml").exists()


def _deepfd() -> Path:
    """The real tables (not shipped with triage): $TRIAGE_DEEPFD, else shared/data/deepfd in the
    folder beside the checkout (../shared, found from this file, not from a machine's path)."""
    checkout = Path(__file__).resolve().parents[2]
    for place in (os.environ.get("TRIAGE_DEEPFD"), checkout.parent / "shared" / "data" / "deepfd"):
        if place and Path(place, "so31627380_titanic_train.csv").is_file():
            return Path(place)
    if os.environ.get("CI") == "true":
        pytest.fail("the real tables (shared/data/deepfd) are missing on the CI machine")
    pytest.skip("shared/data/deepfd is not beside this checkout (set TRIAGE_DEEPFD)")


@pytest.mark.parametrize("name", ["titanic", "adult"])
def test_lr_find_then_a_full_budget_run_on_real_tables(name, tmp_path):
    from triage import LRFindSettings, lr_find

    folder = _deepfd()
    if name == "titanic":
        path, target = folder / "so31627380_titanic_train.csv", "Survived"
    else:
        frame = pd.read_csv(folder / "so47724077_adult.data", names=ADULT,
                            skipinitialspace=True).sample(3000, random_state=0)
        path, target = tmp_path / "adult.csv", "income"
        frame.to_csv(path, index=False)
    from triage.trainer import TrainSettings, train

    task = from_table(path, target, epochs=5)
    config = lr_find(task, LRFindSettings(device="cpu", max_steps=600))
    (untrained,) = run_probes(task, [ProbeSettings(lr=1e-9, steps=1, device="cpu")])
    trained = train(task, config, TrainSettings(device="cpu")).metrics()
    again = train(from_table(path, target, epochs=5), config, TrainSettings(device="cpu"))
    best = trained["best"]
    assert best["val_accuracy"] > 0.75 > untrained.val_accuracy - 0.1
    assert best["val_loss"] < 0.8 * untrained.val_loss
    assert {**again.metrics(), "wall_time": 0} == {**trained, "wall_time": 0}


def test_doctor_on_a_table_says_what_preprocessing_fixed(run, table):
    out = run("doctor", str(table), "--target", "label", "--device", "cpu", "--json")
    findings = {f["code"]: f for f in json.loads(out.stdout)["findings"]}
    fixed = findings["data.fixed_by_preprocessing"]
    assert fixed["severity"] == "info"
    assert {"data.non_finite", "data.unnormalized_inputs"} <= set(fixed["evidence"]["fixed"])
    assert "data.non_finite" not in findings
    out = run("doctor", str(table), "--target", "label", "--device", "cpu", "--json",
              "--no-preprocess")  # the raw view: the same problems, as findings of their own
    raw = {f["code"] for f in json.loads(out.stdout)["findings"]}
    assert "data.non_finite" in raw and "data.fixed_by_preprocessing" not in raw


def test_the_commands_end_to_end_on_a_real_table(run, tmp_path):
    titanic = str(_deepfd() / "so31627380_titanic_train.csv")
    out = run("lr-find", titanic, "--target", "Survived", "--device", "cpu", "--no-plot")
    assert out.exit_code == 0, out.output
    runs = []
    for folder in ("a", "b"):
        out = run("train", titanic, "--target", "Survived", "--config", "triage.yaml",
                  "--device", "cpu", "--json", "--out-dir", folder)
        assert out.exit_code == 0, out.output
        runs.append({**json.loads(out.stdout), "wall_time": 0})
    assert runs[0] == runs[1] and runs[0]["final"]["val_accuracy"] > 0.75
