import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from triage import load_config

TASKS = Path(__file__).parent / "tasks.py"


def test_sweep_writes_config_table_plot_and_resumes(run, tmp_path):
    result = run("sweep", f"{TASKS}:blobs", "--budget", "60", "--trials", "4", "--table",
                 "trials.csv")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "triage-studies.log").exists()  # the default, persistent storage
    config = load_config(tmp_path / "triage-sweep.yaml")
    table = pd.read_csv(tmp_path / "trials.csv")
    assert (table["stage"] == "search").sum() == 4
    finals = table[table["stage"].str.startswith("final")]
    assert len(finals) and (finals["epochs"] == 3).all()  # the full budget, never pruned
    assert sum(config.sweep["trials"].values()) == len(table)
    assert {"outcome", "value", "lr", "batch_size", "init", "backoff", "boundary"} <= set(table)
    assert config.sweep["steps"]["total"] <= 60 * 9 and config.sweep["budget"]["trainings"] == 60
    assert (tmp_path / "triage-sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert "best" in result.output and "#3" in result.output and "budget: 60" in result.output
    again = run("sweep", f"{TASKS}:blobs", "--budget", "60", "--trials", "6", "--table",
                "more.parquet")
    assert again.exit_code == 0, again.output
    assert "#3 " not in again.output  # only the two new search trials (and their finals) ran
    more = pd.read_parquet(tmp_path / "more.parquet")
    assert (more["stage"] == "search").sum() == 6 and more["trial"].is_unique


def test_report_on_a_storage_without_sweeps_says_so(run, tmp_path):
    import optuna

    optuna.create_study(storage=f"sqlite:///{tmp_path}/other.db", study_name="x")
    result = run("report", "--storage", "sqlite:///other.db")
    assert result.exit_code == 2 and "holds 0 sweep studies" in result.output


def test_report_rebuilds_from_storage_alone(run, tmp_path):
    assert run("sweep", f"{TASKS}:blobs", "--trials", "3", "--no-plot").exit_code == 0
    swept = yaml.safe_load((tmp_path / "triage-sweep.yaml").read_text())
    result = run("report", "--storage", "triage-studies.log", "--out", "again.yaml",
                 "--table", "t.csv")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load((tmp_path / "again.yaml").read_text()) == swept
    assert (tmp_path / "again.png").exists() and (tmp_path / "t.csv").exists()


def test_from_starts_at_lr_finds_configuration_and_counts_its_steps(run, tmp_path):
    run("lr-find", f"{TASKS}:blobs", "--max-steps", "600", "--no-plot")
    found = load_config(tmp_path / "triage.yaml")
    result = run("sweep", f"{TASKS}:blobs", "--budget", "80", "--trials", "6", "--from",
                 "triage.yaml", "--no-plot", "--json", "--table", "t.csv")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["sweep"]["lr_center"], doc["sweep"]["lr_updater"]) == (found.optimizer.lr,
                                                                        "sgd_nesterov")
    assert doc["sweep"]["steps"]["lr_find"] == found.lr_find.steps_used  # counted
    table = pd.read_csv(tmp_path / "t.csv")
    first = table.iloc[0]  # lr-find's own configuration, at its boundary: nothing re-measured
    assert (first["optimizer"], first["batch_size"], first["init"]) == ("sgd", 32, "default")
    assert first["lr"] == pytest.approx(found.optimizer.lr)
    assert first["boundary"] == found.lr_find.max_finite_lr and first["boundary_steps"] == 0
    search = table[table["stage"] == "search"].dropna(subset=["boundary"])
    assert (search["lr"] <= search["boundary"] * (1 + 1e-9)).all()  # never above a boundary


@pytest.mark.parametrize(("args", "message"), [
    (["sweep", "--space", "nope"], "search space 'nope' not found"),
    (["sweep", "--trials", "0"], "trials must be a positive integer"),
    (["sweep", "--budget", "0"], "budget must be a number of full trainings >= 1, got 0"),
    (["sweep", "--budget", "-1"], "budget must be a number of full trainings >= 1, got -1"),
    (["sweep", "--budget", "abc"], "Invalid value for '--budget': 'abc' is not a valid"),
    (["sweep", "--budget", "1.5"], "is too small: the search and the final stage need at "
                                   "least 2 more; use --budget 2 or more"),
    (["sweep", "--sampler", "cmaes"], "unknown sampler 'cmaes'"),
    (["sweep", "--pruner", "asha"], "unknown pruner 'asha'"),
    (["sweep", "--from", "missing.yaml"], "config file 'missing.yaml' does not exist"),
    (["sweep", "--table", "t.xlsx"], "use a .csv or .parquet file name"),
    (["sweep", "--storage", "ftp://x"], "unknown storage scheme 'ftp'"),
    (["sweep", "--storage", "redis://127.0.0.1:1"], "cannot open storage 'redis://127.0.0.1:1'"),
    (["sweep", "--storage", "postgresql://postgres@127.0.0.1:1/test"], "cannot open storage"),
    (["report", "--storage", "missing.log"], "storage 'missing.log' does not exist"),
    (["report", "--storage", "sqlite:///missing.db"], "'sqlite:///missing.db' does not exist"),
    (["report", "--storage", "nowhere/x.log"], "storage 'nowhere/x.log' does not exist"),
])
def test_bad_input_is_one_line_and_exit_2(run, tmp_path, args, message):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "triage-sweep.yaml").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # reading or refusing writes nothing


def test_bad_space_file_names_file_key_and_value(run, tmp_path):
    (tmp_path / "s.yaml").write_text("version: 1\nparams:\n  lr: {low: 0, high: 1, log: true}\n")
    result = run("sweep", f"{TASKS}:blobs", "--space", "s.yaml")
    assert result.exit_code == 2
    assert "s.yaml: params.lr: a log range must stay above zero, got low=0" in result.output


@pytest.mark.parametrize(("option", "value", "words"), [
    ("--precision", "bf16", "created with precision='32', not 'bf16'"),
    ("--pruner", "median", "created with pruner='hyperband', not 'median'"),
    ("--seed", "1", "created with seed=0, not 1"),
])
def test_rerunning_with_a_setting_that_changes_results_is_refused(run, tmp_path, option, value,
                                                                   words):
    assert run("sweep", f"{TASKS}:blobs", "--trials", "1", "--no-plot").exit_code == 0
    result = run("sweep", f"{TASKS}:blobs", "--trials", "1", option, value, "--no-plot")
    assert result.exit_code == 2 and words in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_joining_a_study_of_another_space_is_refused(run, tmp_path):
    assert run("sweep", f"{TASKS}:blobs", "--trials", "1", "--no-plot").exit_code == 0
    result = run("sweep", f"{TASKS}:blobs", "--trials", "1", "--space", "cnn",
                 "--study", "triage-sweep-blobs-default")
    assert result.exit_code == 2
    assert "created with space='default', not 'cnn'" in result.output


def test_no_feasible_trial_exits_1_with_the_reason_in_the_table(run, tmp_path):
    (tmp_path / "hot.yaml").write_text("version: 1\nparams:\n  lr: {low: 0.5, high: 1.0}\n"
                                       "  optimizer: {choices: [sgd]}\n")
    result = run("sweep", f"{TASKS}:quadratic", "--space", "hot.yaml", "--trials", "2",
                 "--table", "t.csv", "--no-plot")
    assert result.exit_code == 1
    assert "no trial finished with a finite validation loss" in result.output
    assert set(pd.read_csv(tmp_path / "t.csv")["outcome"]) == {"infeasible"}
    assert not (tmp_path / "triage-sweep.yaml").exists()
