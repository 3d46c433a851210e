import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from triage.cli import cli

TASKS = str(Path(__file__).parent / "tasks.py")


def test_default_task_exits_0_with_a_summary(run):
    result = run("doctor", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "digits_mlp" in result.stderr and "triage doctor: 0 error(s)" in result.stdout


def test_an_error_finding_exits_1_and_json_is_alone_on_stdout(tmp_path):
    out = tmp_path / "fixed.yaml"
    result = CliRunner().invoke(cli, ["doctor", f"{TASKS}:blobs", "--lr", "50", "--json",
                                      "--out", str(out)])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    codes = [f["code"] for f in doc["findings"]]
    assert codes[0] == "train.diverges_early"
    assert {"code", "severity", "message", "evidence", "fix"} <= set(doc["findings"][0])
    assert "triage doctor: 1 error(s)" in result.stderr
    config = yaml.safe_load(out.read_text())
    assert config["optimizer"]["lr"] == doc["findings"][0]["changes"]["lr"] < 50
    assert config["doctor"]["changed"] == {"lr": config["optimizer"]["lr"]}


def test_settings_reach_the_probes(tmp_path):
    result = CliRunner().invoke(cli, ["doctor", f"{TASKS}:blobs", "--optimizer", "adam",
                                      "--batch-size", "16", "--json", "--out",
                                      str(tmp_path / "c.yaml")])
    assert result.exit_code == 0, result.output
    config = yaml.safe_load((tmp_path / "c.yaml").read_text())
    assert config["optimizer"]["name"] == "adam"  # the LR is the user's unless a fix moved it
    assert config["optimizer"]["lr"] == config["doctor"]["changed"].get("lr", 1e-3)
    assert config["batch_size"] == 16


@pytest.mark.parametrize(("args", "name", "lr"), [
    ([f"{TASKS}:lbfgs_regression", "--batch-size", "96"], "task", 0.8),  # the factory's lr
    ([f"{TASKS}:blobs", "--optimizer", "adadelta"], "Adadelta", 1.0),  # torch's default lr
])
def test_doctor_runs_the_users_own_updater_at_its_customary_lr(tmp_path, args, name, lr):
    result = CliRunner().invoke(cli, ["doctor", *args, "--json", "--out",
                                      str(tmp_path / "c.yaml")])
    assert result.exit_code in (0, 1), result.output
    config = yaml.safe_load((tmp_path / "c.yaml").read_text())
    assert config["optimizer"]["name"] == name
    assert config["optimizer"]["lr"] == config["doctor"]["changed"].get("lr", lr)


@pytest.mark.parametrize("args, message", [
    (["--lr", "-1"], "lr must be a finite number > 0"),
    (["--optimizer", "lion"], "unknown optimizer 'lion'"),
    ([f"{TASKS}:own_updater_without_lr"], "the Task's optimizer factory has no default lr; "
                                          "give the LR you train with (--lr)"),
    (["--init", "orthogonal"], "unknown init"),
    (["--batch-size", "0"], "batch_size must be a positive integer"),
    (["nope.py:task"], "does not exist"),
    ([f"{TASKS}:not_a_task"], "not a triage.Task"),
    (["--out", "/no/such/dir/c.yaml"], "/no/such/dir"),
    (["--budget", "-1"], "Invalid value for --budget: must be seconds >= 0 (0: no limit), got "
                         "-1.0"),
])
def test_bad_input_is_one_line_and_exit_2(run, args, message):
    result = run("doctor", *args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error:") and message in lines[-1]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("flag", [[], ["--verify"]])
def test_verify_and_cause_first_reach_the_json(tmp_path, flag):
    """lr=5 diverges on the digits MLP: the LR fix is tried (by default) and helps; --out
    keeps it."""
    out = tmp_path / "c.yaml"
    result = CliRunner().invoke(cli, ["doctor", "--lr", "5", *flag, "--json", "--out",
                                      str(out), "--budget", "0"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    diverges = next(f for f in doc["findings"] if f["code"] == "train.diverges_early")
    assert diverges["verified"]["helped"] is True and diverges["caused_by"] is None
    assert doc["budget_seconds"] is None and doc["shortened"] == {}
    config = yaml.safe_load(out.read_text())
    assert config["optimizer"]["lr"] == diverges["changes"]["lr"]
    assert "verified:" in result.stderr  # the human summary goes to stderr with --json


def test_no_verify_states_the_checks_findings_as_they_are():
    result = CliRunner().invoke(cli, ["doctor", "--lr", "5", "--no-verify", "--json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert all(f["verified"] is None for f in doc["findings"])
    assert "verified:" not in result.stderr  # shown under a tried fix (see above)
