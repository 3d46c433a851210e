import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from triage import load_config

TASKS = Path(__file__).parent / "tasks.py"


def test_sweep_writes_config_table_plot_and_resumes(run, tmp_path):
    result = run("sweep", f"{TASKS}:blobs", "--trials", "4", "--table", "trials.csv")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "triage-studies.log").exists()  # the default, persistent storage
    config = load_config(tmp_path / "triage-sweep.yaml")
    assert config.sweep["trials"] == {"complete": 4} and config.schedule is not None
    table = pd.read_csv(tmp_path / "trials.csv")
    assert len(table) == 4 and {"outcome", "value", "lr", "batch_size", "init"} <= set(table)
    assert (tmp_path / "triage-sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert "best" in result.output and "#3" in result.output
    again = run("sweep", f"{TASKS}:blobs", "--trials", "6", "--table", "more.parquet")
    assert again.exit_code == 0, again.output
    assert "#3" not in again.output and "#5" in again.output  # only the two new trials ran
    assert len(pd.read_parquet(tmp_path / "more.parquet")) == 6


def test_report_rebuilds_from_storage_alone(run, tmp_path):
    assert run("sweep", f"{TASKS}:blobs", "--trials", "3", "--no-plot").exit_code == 0
    swept = yaml.safe_load((tmp_path / "triage-sweep.yaml").read_text())
    result = run("report", "--storage", "triage-studies.log", "--out", "again.yaml",
                 "--table", "t.csv")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load((tmp_path / "again.yaml").read_text()) == swept
    assert (tmp_path / "again.png").exists() and (tmp_path / "t.csv").exists()


def test_from_centres_the_lr_on_an_lr_find_config(run, tmp_path):
    run("lr-find", f"{TASKS}:blobs", "--max-steps", "600", "--no-plot")
    lr = load_config(tmp_path / "triage.yaml").optimizer.lr
    result = run("sweep", f"{TASKS}:blobs", "--trials", "6", "--from", "triage.yaml",
                 "--no-plot", "--json", "--table", "t.csv")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["sweep"]["lr_center"], doc["sweep"]["lr_updater"]) == (lr, "sgd_nesterov")
    table = pd.read_csv(tmp_path / "t.csv")
    assert (table.loc[0, "optimizer"], table.loc[0, "lr"]) == ("sgd", lr)  # the start point
    sgd = table[table["optimizer"] == "sgd"]["lr"]
    assert sgd.between(lr / 10, lr * 10).all()


@pytest.mark.parametrize(("args", "message"), [
    (["sweep", "--space", "nope"], "search space 'nope' not found"),
    (["sweep", "--trials", "0"], "trials must be a positive integer"),
    (["sweep", "--sampler", "cmaes"], "unknown sampler 'cmaes'"),
    (["sweep", "--pruner", "asha"], "unknown pruner 'asha'"),
    (["sweep", "--from", "missing.yaml"], "config file 'missing.yaml' does not exist"),
    (["sweep", "--table", "t.xlsx"], "use a .csv or .parquet file name"),
    (["sweep", "--storage", "ftp://x"], "unknown storage scheme 'ftp'"),
    (["sweep", "--storage", "redis://127.0.0.1:1"], "cannot open storage 'redis://127.0.0.1:1'"),
    (["sweep", "--storage", "postgresql://postgres@127.0.0.1:1/test"], "cannot open storage"),
    (["report", "--storage", "empty.log"], "holds 0 sweep studies"),
    (["report", "--storage", "nowhere/x.log"], "folder 'nowhere' for journal"),
])
def test_bad_input_is_one_line_and_exit_2(run, tmp_path, args, message):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "triage-sweep.yaml").exists()


def test_bad_space_file_names_file_key_and_value(run, tmp_path):
    (tmp_path / "s.yaml").write_text("version: 1\nparams:\n  lr: {low: 0, high: 1, log: true}\n")
    result = run("sweep", f"{TASKS}:blobs", "--space", "s.yaml")
    assert result.exit_code == 2
    assert "s.yaml: params.lr: a log range must stay above zero, got low=0" in result.output


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
