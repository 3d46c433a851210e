"""Commands under real torchrun: 2 processes, gloo on the CPU, a loopback rendezvous
(``--standalone``). The command lines are docs/clusters.md's, verbatim (tested there too)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner

from triage.cli import cli
from triage.cli_options import workers
from triage.errors import SettingsError
from triage.probe import group
from triage.probe.parallel import plan

TASK = f"{Path(__file__).parent / 'tasks.py'}:blobs"
TORCHRUN = "torchrun --standalone --nproc-per-node 2"
LR_FIND = f"{TORCHRUN} -m triage lr-find TASK --batch-size 8 --storage lr.journal"
TRAIN = f"{TORCHRUN} -m triage train TASK --config triage.yaml"
DOCTOR = f"{TORCHRUN} -m triage doctor TASK --batch-size 8"
SWEEP = f"{TORCHRUN} -m triage sweep TASK --budget 12 --storage sweep.journal"
COMMANDS = (LR_FIND, TRAIN, DOCTOR, SWEEP)
DOCS = Path(__file__).parent.parent / "docs" / "clusters.md"
LIMIT = 600  # seconds: a hung job fails the test instead of the whole run


@dataclass
class Job:
    """A finished torchrun job: torchrun's exit code and each rank's own output."""

    returncode: int
    out: list[str]  # stdout per local rank
    err: list[str]  # stderr per local rank
    torchrun: str  # torchrun's own stderr


def torchrun(command: str, cwd: Path, *extra: str, task: str = TASK,
             env: dict[str, str] | None = None) -> Job:
    """Run ``command`` (a docs line, TASK filled in) with each rank's output kept apart."""
    args = shlex.split(command.replace("TASK", task)) + list(extra)
    launcher = Path(sys.executable).parent / "torchrun"
    head = [str(launcher)] if launcher.exists() else [sys.executable, "-m",
                                                      "torch.distributed.run"]
    logs = cwd / "logs"
    args = [*head, "--log-dir", str(logs), "--redirects", "3", *args[1:]]
    environment = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", **(env or {})}
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=environment,
                          timeout=LIMIT)
    ranks = sorted(logs.glob("*/attempt_0/*"), key=lambda p: int(p.name))
    assert [p.name for p in ranks] == ["0", "1"], done.stderr
    return Job(done.returncode, [(p / "stdout.log").read_text() for p in ranks],
               [(p / "stderr.log").read_text() for p in ranks], done.stderr)


def written(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != "logs")


def config_of(path: Path) -> dict:
    doc = yaml.safe_load(path.read_text())
    doc["lr_find"].pop("storage")
    return doc


@pytest.fixture(scope="module")
def planned(tmp_path_factory) -> tuple[Path, Job]:
    """One DDP lr-find of blobs, shared by the tests that read it."""
    folder = tmp_path_factory.mktemp("ddp")
    return folder, torchrun(LR_FIND, folder, "--device", "cpu")


def test_a_ddp_lr_find_recommends_what_world_size_2_plans_in_one_process(planned, tmp_path,
                                                                        monkeypatch):
    folder, job = planned
    assert job.returncode == 0, job.err[0] + job.torchrun
    assert "DDP job across its 2 processes" in " ".join(job.err[0].split())
    monkeypatch.chdir(tmp_path)
    alone = CliRunner().invoke(cli, ["lr-find", TASK, "--batch-size", "8", "--world-size", "2",
                                     "--device", "cpu", "--out", "one.yaml", "--no-plot"])
    assert alone.exit_code == 0, alone.output
    ddp, one = config_of(folder / "triage.yaml"), config_of(tmp_path / "one.yaml")
    assert ddp["world_size"] == 2 and ddp["effective_batch_size"] == 16
    assert ddp == one  # the same probes, step for step: the same recommendation


def test_only_rank_0_prints_and_writes(planned):
    folder, job = planned
    assert written(folder) == ["lr.journal", "triage.png", "triage.yaml"]
    assert "recommended LR" in job.out[0]
    assert job.out[1] == job.err[1] == ""


def test_a_rank_killed_mid_probe_ends_the_job_in_one_line_and_the_study_resumes(tmp_path):
    killed = f"{TASK.rsplit(':', 1)[0]}:blobs_killed_rank"
    job = torchrun(LR_FIND, tmp_path, "--device", "cpu", task=killed,
                   env={"TRIAGE_TEST_KILL_AT": "60"})  # rank 1's 60th forward: a third probe
    assert job.returncode != 0
    errors = [line for line in job.err[0].splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0] == job.err[0].strip().splitlines()[-1], job.err[0]
    assert errors[0].startswith("error: a rank of this 2-process torchrun job stopped")
    assert "rerun the same command" in errors[0] and "Traceback" not in job.err[0]
    assert "exitcode  : 3" in job.torchrun  # rank 0's own exit code: a lost rank
    assert written(tmp_path) == ["lr.journal"] and job.err[1] == ""
    (tmp_path / "logs").rename(tmp_path / "logs-killed")
    again = torchrun(LR_FIND, tmp_path, "--device", "cpu", task=killed)
    assert again.returncode == 0, again.err[0]
    assert again.err[0].count("(from storage)") == 2  # the probes finished before the kill
    assert "triage.yaml" in written(tmp_path)


def test_a_probe_failing_on_rank_0_ends_the_job_in_one_line(tmp_path):
    """The other ranks wait inside a collective rank 0 never joins: the job cannot go on to
    another probe or trial, so it stops (not recorded as one failed trial)."""
    failing = f"{TASK.rsplit(':', 1)[0]}:blobs_killed_rank"
    job = torchrun(SWEEP, tmp_path, "--device", "cpu", task=failing,
                   env={"TRIAGE_TEST_RAISE_AT": "30"})
    lines = job.err[0].strip().splitlines()
    assert job.returncode != 0 and lines[-1].startswith(
        "error: a probe across the 2 ranks failed at lr="), job.err[0]
    assert "ValueError: a bug in rank 0's forward" in lines[-1]
    assert sum("error" in line.lower() for line in lines) == 1
    assert "exitcode  : 2" in job.torchrun and job.err[1] == ""


def test_train_under_torchrun_trains_the_config_data_parallel_into_one_model(planned,
                                                                              tmp_path):
    folder, _ = planned
    (tmp_path / "triage.yaml").write_text((folder / "triage.yaml").read_text())
    job = torchrun(TRAIN, tmp_path, "--device", "cpu")
    assert job.returncode == 0, job.err[0] + job.torchrun
    assert sorted(p.name for p in (tmp_path / "triage-train").iterdir()) == [
        "curves.png", "metrics.json", "model.pt"]
    alone = CliRunner().invoke(cli, ["train", TASK, "--config", str(tmp_path / "triage.yaml"),
                                     "--device", "cpu", "--out-dir", str(tmp_path / "one")])
    assert alone.exit_code == 0, alone.output
    ddp = yaml.safe_load((tmp_path / "triage-train" / "metrics.json").read_text())
    one = yaml.safe_load((tmp_path / "one" / "metrics.json").read_text())
    assert ddp["epochs"] == one["epochs"]
    weights = torch.load(tmp_path / "triage-train" / "model.pt")
    assert all(torch.allclose(w, o) for w, o in zip(
        weights.values(), torch.load(tmp_path / "one" / "model.pt").values(), strict=True))
    assert job.out[1] == job.err[1] == ""


def test_doctor_under_torchrun_diagnoses_on_rank_0(tmp_path):
    job = torchrun(DOCTOR, tmp_path, "--device", "cpu", "--json")
    assert job.returncode == 0, job.err[0] + job.torchrun
    assert "findings" in yaml.safe_load(job.out[0])
    assert job.out[1] == job.err[1] == "" and written(tmp_path) == []


def test_a_sweep_under_torchrun_finds_what_world_size_2_finds_in_one_process(tmp_path,
                                                                            monkeypatch):
    (tmp_path / "ddp").mkdir()
    job = torchrun(SWEEP, tmp_path / "ddp", "--device", "cpu")
    assert job.returncode == 0, job.err[0] + job.torchrun
    assert written(tmp_path / "ddp") == ["sweep.journal", "triage-sweep.png",
                                         "triage-sweep.yaml"]
    assert job.out[1] == job.err[1] == ""
    (tmp_path / "one").mkdir()
    monkeypatch.chdir(tmp_path / "one")
    alone = CliRunner().invoke(cli, ["sweep", TASK, "--budget", "12", "--storage",
                                     "sweep.journal", "--world-size", "2", "--device", "cpu"])
    assert alone.exit_code == 0, alone.output
    ddp = yaml.safe_load((tmp_path / "ddp" / "triage-sweep.yaml").read_text())
    assert ddp["world_size"] == 2 and ddp["sweep"]["trials"]["complete"] >= 3
    assert ddp == yaml.safe_load((tmp_path / "one" / "triage-sweep.yaml").read_text())


def test_the_docs_show_the_commands_run_here():
    text = " ".join(DOCS.read_text().split())
    for command in COMMANDS:
        assert command in text, command


@pytest.mark.parametrize(("command", "extra", "says"), [
    (LR_FIND, ("--world-size", "3"), "error: --world-size 3 disagrees with the 2 processes"),
    (LR_FIND.replace("-m triage lr-find", "-m triage --dist-backend nccl lr-find"), (),
     "error: --dist-backend nccl runs on CUDA GPUs"),
    (LR_FIND, ("--batch-size", "64"), "error: batch size 64 x 2 workers = 128 is larger"),
    (SWEEP, ("--workers", "2"), "error: Invalid value for --workers: forked workers cannot "
                                "join torchrun's ranks"),
])
def test_bad_input_under_torchrun_is_one_line_from_rank_0_and_nothing_written(
        tmp_path, command, extra, says):
    if "nccl" in command and torch.cuda.is_available():
        pytest.skip("this machine has CUDA GPUs: NCCL is a fine backend here")
    job = torchrun(command, tmp_path, "--device", "cpu", *extra)
    assert job.returncode != 0
    lines = job.err[0].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(says), job.err[0]
    assert "exitcode  : 2" in job.torchrun
    assert job.err[1] == job.out[1] == "" and written(tmp_path) == []


def test_train_refuses_a_config_for_another_number_of_workers(planned, tmp_path):
    folder, _ = planned
    doc = yaml.safe_load((folder / "triage.yaml").read_text())
    doc["world_size"], doc["effective_batch_size"] = 1, doc["batch_size"]
    (tmp_path / "triage.yaml").write_text(yaml.safe_dump(doc))
    job = torchrun(TRAIN, tmp_path, "--device", "cpu")
    lines = job.err[0].strip().splitlines()
    assert len(lines) == 1 and "the config is for 1 worker(s) of batch 8, and torchrun " \
        "started 2" in lines[0]
    assert written(tmp_path) == ["triage.yaml"]


@pytest.mark.parametrize(("ranks", "given", "expected"), [
    ("1", None, 1), ("1", 4, 4), ("2", None, 2), ("2", 2, 2), ("", None, 1)])
def test_the_workers_a_command_plans_for_follow_torchrun(monkeypatch, ranks, given, expected):
    monkeypatch.setenv("WORLD_SIZE", ranks)
    assert workers(given) == expected


def test_under_torchrun_probes_run_one_at_a_time_each_across_the_ranks(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(SettingsError, match="disagrees with the 2 processes torchrun started"):
        workers(3)
    chosen = plan("auto", "cpu", 1000, cores=8)
    assert chosen.workers == 1 and "DDP job across its 2 processes" in chosen.reason


def test_a_backend_is_checked_before_the_group_starts():
    with pytest.raises(SettingsError, match="must be one of auto, gloo, nccl, got 'mpi'"):
        group.check_backend("mpi")
    if not torch.cuda.is_available():
        with pytest.raises(SettingsError, match="nccl runs on CUDA GPUs"):
            group.check_backend("nccl")
    assert group.check_backend("gloo") == "gloo" and group.current() is None
